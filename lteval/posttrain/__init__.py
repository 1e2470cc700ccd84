"""Post-training stages on a finished run: cRT, τ-normalisation, LWS, TTA, Normal gating, calibration,
ensembles.

Import-light: ``lteval.posttrain`` itself does not import torch. Modules:

* ``crt``         — cRT, τ-normalisation, LWS on a frozen backbone (:class:`~lteval.posttrain.crt.StageHead`)
* ``tta``         — test-time augmentation transforms and merges
* ``ensemble``    — merging the predictions of several run directories (no torch)
* ``gate``        — Normal gating ``p_c (1 − α p_Normal)``, α fitted on ``calib`` (no torch)
* ``calib_stage`` — calibration + thresholds fitted on the run's ``calib`` split only (no torch)
* ``pipeline``    — ``name+crt+tta+calib``: reuse a finished base run, add the missing stages
"""

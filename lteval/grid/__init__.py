"""Baseline grids on a cluster through submitit (``lteval baseline grid --launcher submitit``).

- :mod:`lteval.grid.jobs`: one grid member as a checkpointable submitit job (base run, or the
  post-training chains of one base run) and the JSON record it keeps under
  ``<out>/.lteval-grid/jobs/``;
- :mod:`lteval.grid.submit`: the executor (SLURM, or submitit's local executor where SLURM is
  missing), the job array and the dependent post-training jobs;
- :mod:`lteval.grid.status`: done / running / failed / pending of every member, read from the run
  directories and the job records (no scheduler needed).

Needs the ``lteval[cluster]`` extra (submitit) to submit; the status needs nothing beyond the core.
"""

"""Baseline grids through submitit, without SLURM: submitit's local executor runs two tiny members
as parallel jobs, one is preempted (SIGUSR2, as SLURM signals it) mid-training, checkpointed,
requeued and resumed from last.pt, and both end with the bytes of a plain local run; their
post-training chains run as jobs after their base jobs; ``--status`` reads it all back. The SLURM
path is checked with a stand-in ``sbatch`` (the job array, the dependencies, the options); the
missing extra gives one line and exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lteval.grid.jobs import read_record, record_key, write_record

HAVE_SUBMITIT = __import__("importlib").util.find_spec("submitit") is not None
needs_submitit = pytest.mark.skipif(not HAVE_SUBMITIT, reason="submitit is not installed (pip install "
                                                              "'lteval[cluster]'; CI gets it from the dev extra)")

# 2 epochs x 8 steps of 8 images at 32 px; a checkpoint every 2 steps, so that a preemption lands
# between two checkpoints (checkpoint_every_steps is not part of the config hash)
OVER = dict(synth_n_train=240, synth_n_dev=60, synth_n_test=60, synth_size=32, image_size=32,
            images_per_epoch=64, batch_size=8, epochs=2, eval_batch_size=64, warmup_epochs=0.5,
            checkpoint_every_steps=2)
NAMES = ["resnet50_bce", "resnet50_focal"]
SETS = [x for k, v in OVER.items() for x in ("--set", f"{k}={v}")]


def _env(home: Path) -> dict:
    e = dict(os.environ, LTEVAL_HOME=str(home), LTEVAL_NO_PROGRESS="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    e.pop("LTEVAL_FAULT_KILL_AFTER_STEP", None)
    return e


def _outputs(d: Path):
    """Predictions, logits and scores (bytes) and the epoch history without wall-clock figures."""
    files = {str(p.relative_to(d)): p.read_bytes() for sub in ("predictions", "logits", "scores")
             for p in sorted((d / sub).iterdir())}
    hist = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    for h in hist:
        h.pop("images_per_s")
        h.pop("epoch_time_s")
    return files, hist


def _lteval(args, env, timeout=300):
    return subprocess.run([sys.executable, "-m", "lteval", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


# ----------------------------------------------------------------------------- no submitit needed

def test_missing_cluster_extra_is_one_line_and_exit_2(monkeypatch, tmp_path):
    import importlib.util

    from lteval.cli import app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "submitit" else real(name, *a))
    r = CliRunner().invoke(app, ["baseline", "grid", "--backbones", "resnet50", "--losses", "bce",
                                 "--launcher", "submitit", "-o", str(tmp_path / "runs")])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "pip install 'lteval[cluster]'" in lines[0] and "submitit" in lines[0], r.output
    assert not (tmp_path / "runs").exists()  # nothing left behind
    r = CliRunner().invoke(app, ["baseline", "grid", "--launcher", "slurm"])
    assert r.exit_code == 2 and "use local or submitit" in r.output


def test_status_reads_run_directories_and_job_records(tmp_path, monkeypatch):
    """Every state from hand-written records: no training, no scheduler."""
    from lteval.cli import app
    from lteval.grid.jobs import resolve

    out = tmp_path / "runs"
    names = ["resnet50_bce", "resnet50_focal", "resnet50_asl", "resnet50_ldam", "resnet50_cb_focal"]
    rn = {n: resolve(n, "smoke", OVER).run_name() for n in names}
    # done: a DONE marker (its post chain 'calib' not submitted)
    (out / rn["resnet50_bce"]).mkdir(parents=True)
    (out / rn["resnet50_bce"] / "DONE").write_text("{}")
    # running: this process, epoch 1 of 2 written
    d = out / rn["resnet50_focal"]
    (d / "checkpoints").mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"epochs": 2}))
    (d / "metrics.jsonl").write_text(json.dumps({"epoch": 1}) + "\n")
    write_record(out, rn["resnet50_focal"], {"state": "running", "host": os.uname().nodename, "pid": os.getpid(),
                                             "job_id": "77_1", "attempt": 2, "heartbeat": "2000-01-01T00:00:00Z"})
    # failed: the error and the log of the job
    write_record(out, rn["resnet50_asl"], {"state": "failed", "job_id": "77_2", "error": "CUDA out of memory",
                                           "stderr": "/logs/77_2_0_log.err", "traceback": "Traceback\n  boom"})
    # killed: 'running' but its process is gone and its heartbeat old
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_record(out, rn["resnet50_ldam"], {"state": "running", "host": os.uname().nodename, "pid": dead.pid,
                                            "job_id": "77_3", "heartbeat": "2000-01-01T00:00:00Z"})
    # pending: submitted (job id from submissions.jsonl)
    write_record(out, rn["resnet50_cb_focal"], {"state": "submitted", "submitted": "2026-01-01T00:00:00Z"})
    (out / ".lteval-grid" / "submissions.jsonl").write_text(
        json.dumps({"key": rn["resnet50_cb_focal"], "job_id": "77_4"}) + "\n" + "not json\n")

    from lteval.grid.status import grid_status, summary_line
    rows = grid_status(names, ["", "calib"], preset="smoke", out=out, overrides=OVER)
    got = {r.member: r for r in rows}
    assert [r.state for r in rows if "+" not in r.member] == ["done", "running", "failed", "failed", "pending"]
    assert got["resnet50_focal"].detail.startswith("job 77_1 on ") and "attempt 2" in got["resnet50_focal"].detail
    assert "epoch 1/2 done" in got["resnet50_focal"].detail
    assert got["resnet50_asl"].error == "CUDA out of memory" and got["resnet50_asl"].log == "/logs/77_2_0_log.err"
    assert "stopped without a result" in got["resnet50_ldam"].error
    assert "job 77_4 submitted" in got["resnet50_cb_focal"].detail
    assert got["resnet50_bce+calib"].state == "pending" and got["resnet50_bce+calib"].detail == "not submitted"
    assert "waits for its base run (failed)" in got["resnet50_asl+calib"].detail
    assert summary_line(rows) == "1 done, 1 running, 2 failed, 6 pending (10 in all)"

    monkeypatch.setenv("COLUMNS", "200")
    args = ["baseline", "grid", "--backbones", "resnet50", "--losses", "bce,focal,asl", "--status", "-o", str(out),
            *SETS]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1, r.output  # a member failed
    assert "1 done, 1 running, 1 failed, 0 pending (3 in all)" in r.output
    assert "resnet50_asl: CUDA out of memory" in r.output and "log: /logs/77_2_0_log.err" in r.output
    r = CliRunner().invoke(app, args[:-len(SETS)] + SETS + ["--json"])
    d = json.loads(r.output[:r.output.rindex("}") + 1])
    assert [m["state"] for m in d["members"]] == ["failed", "done", "running"]  # grid order: sorted names


# ----------------------------------------------------------------------------- the local executor

def _reference(root: Path, env: dict) -> dict[str, Path]:
    """The two members trained by a plain local run (one process, as `lteval baseline run`)."""
    code = textwrap.dedent(f"""
        import torch
        torch.set_num_threads(1)
        from lteval.train.baselines import run_baseline
        for n in {NAMES!r}:
            print(run_baseline(n, out={str(root / 'ref')!r}, overrides={OVER!r}, progress=False))
    """)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return dict(zip(NAMES, (Path(p) for p in r.stdout.split())))


def _preempt_when_checkpointed(out: Path, run_name: str, fired: dict, stop: threading.Event) -> None:
    """SIGUSR2 (SLURM's preemption signal as submitit asks for it) to the job training ``run_name``,
    as soon as its first checkpoint is on disk and before it finished."""
    last = out / run_name / "checkpoints" / "last.pt"
    while not stop.is_set():
        rec = read_record(out, run_name) or {}
        if rec.get("state") == "running" and last.is_file() and not (out / run_name / "DONE").exists():
            ck_mtime = last.stat().st_mtime
            os.kill(int(rec["pid"]), signal.SIGUSR2)
            fired.update(pid=rec["pid"], at=time.time(), ck_mtime=ck_mtime)
            return
        time.sleep(0.02)


@pytest.fixture(scope="module")
def grid_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    env = _env(root / "home")
    t0 = time.time()
    ref = _reference(root, env)
    t_ref = time.time() - t0
    out = root / "runs"
    from lteval.grid.jobs import resolve
    victim = resolve(NAMES[0], "smoke", OVER).run_name()
    fired, stop = {}, threading.Event()
    th = threading.Thread(target=_preempt_when_checkpointed, args=(out, victim, fired, stop), daemon=True)
    th.start()
    t0 = time.time()
    r = _lteval(["baseline", "grid", "--backbones", "resnet50", "--losses", "bce,focal", "--post", "calib",
                 "--launcher", "submitit", "--cluster", "local", "--array-parallelism", "2", "-o", str(out),
                 *SETS], env)
    t_grid = time.time() - t0
    stop.set()
    th.join()
    print(f"\nreference (2 runs, one process): {t_ref:.1f}s; grid (2 jobs in parallel + preemption + "
          f"2 post jobs): {t_grid:.1f}s")
    return dict(root=root, env=env, out=out, ref=ref, r=r, fired=fired, victim=victim)


@needs_submitit
def test_parallel_jobs_one_preempted_equal_a_local_run(grid_runs):
    g = grid_runs
    assert g["r"].returncode == 0, g["r"].stdout + g["r"].stderr
    assert g["fired"], "the preemption signal was never sent (no checkpoint seen while training)"
    out = g["out"]
    for n in NAMES:
        ref = g["ref"][n]
        run = out / ref.name  # same config hash → same run directory name
        assert (run / "DONE").is_file()
        assert _outputs(run) == _outputs(ref), n
    # the victim was checkpointed, requeued by submitit and resumed: a second attempt, same job
    rec = read_record(out, g["victim"])
    assert rec["state"] == "done" and rec["attempt"] == 2, rec
    assert rec["requeued"] and rec["started"] >= rec["requeued"]
    log = Path(rec["stdout"]).read_text() + Path(rec["stderr"]).read_text()
    assert "Requeued job" in log and "Calling checkpoint method" in log, log[-3000:]
    other = read_record(out, record_key(g["ref"][NAMES[1]].name, "base"))
    assert other["state"] == "done" and other["attempt"] == 1
    # the two base jobs ran at the same time (array parallelism 2)
    assert other["started"] <= rec["finished"] and rec["started"] <= other["finished"]


@needs_submitit
def test_post_chains_ran_as_jobs_after_their_base_job(grid_runs):
    g = grid_runs
    assert g["r"].returncode == 0, g["r"].stderr
    out = g["out"]
    for n in NAMES:
        run_name = g["ref"][n].name
        base, post = read_record(out, record_key(run_name, "base")), read_record(out, record_key(run_name, "post"))
        assert post["state"] == "done" and post["combos"] == ["calib"]
        assert post["started"] >= base["finished"]
        assert post["job_id"] != base["job_id"]
        assert (out / run_name / "post" / "calib" / "DONE").is_file()
    subs = [json.loads(ln) for ln in (out / ".lteval-grid" / "submissions.jsonl").read_text().splitlines()]
    assert sorted(s["kind"] for s in subs) == ["base", "base", "post", "post"]
    assert "resnet50_bce+post(calib)" in g["r"].stdout and " ok " in g["r"].stdout


@needs_submitit
def test_status_after_the_grid_and_a_second_submission_reuses_everything(grid_runs):
    g = grid_runs
    assert g["r"].returncode == 0, g["r"].stderr
    base = ["baseline", "grid", "--backbones", "resnet50", "--losses", "bce,focal", "--post", "calib",
            "-o", str(g["out"]), *SETS]
    st = _lteval(base + ["--status", "--json"], g["env"])
    assert st.returncode == 0, st.stderr
    d = json.loads(st.stdout)
    assert d["summary"] == "4 done, 0 running, 0 failed, 0 pending (4 in all)"
    again = _lteval(base + ["--launcher", "submitit", "--cluster", "local"], g["env"], timeout=120)
    assert again.returncode == 0 and "finished earlier" in again.stdout, again.stdout + again.stderr
    assert len((g["out"] / ".lteval-grid" / "submissions.jsonl").read_text().splitlines()) == 4  # nothing new


@needs_submitit
def test_a_failing_member_is_reported_with_its_error_and_the_other_finishes(tmp_path):
    """A member whose job raises: the grid exits 1 naming the error; --status shows it with the log."""
    env = _env(tmp_path / "home")
    out = tmp_path / "runs"
    sets = SETS + ["--set", "tta.merge=mean"]
    # calib.method=magic passes nothing: it is checked before submission (a usage error, exit 2)
    bad = _lteval(["baseline", "grid", "--backbones", "resnet50", "--losses", "bce", "--post", "calib",
                   "--set", "calib.method=magic", "--launcher", "submitit", "--cluster", "local", "-o", str(out),
                   *SETS], env)
    assert bad.returncode == 2 and "magic" in bad.stderr and not (out / ".lteval-grid").exists(), bad.stderr
    # a data root that does not exist fails inside the job
    r = _lteval(["baseline", "grid", "--backbones", "resnet50", "--losses", "bce", "--data", str(tmp_path / "nope"),
                 "--launcher", "submitit", "--cluster", "local", "-o", str(out), *sets], env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "failed" in r.stdout
    st = _lteval(["baseline", "grid", "--backbones", "resnet50", "--losses", "bce", "--data", str(tmp_path / "nope"),
                  "--status", "-o", str(out), *sets], env)
    assert st.returncode == 1 and "0 done, 0 running, 1 failed, 0 pending" in st.stdout, st.stdout + st.stderr
    assert "nope" in st.stderr and "log: " in st.stderr


# ----------------------------------------------------------------------------- the SLURM path

FAKE_SBATCH = """#!/bin/sh
n=$(ls "$FAKE_SLURM_DIR" | wc -l)
id=$((1000 + n))
cp "$1" "$FAKE_SLURM_DIR/$id.sh"
echo "Submitted batch job $id"
"""


@needs_submitit
def test_slurm_submission_is_one_array_and_dependent_post_jobs(tmp_path, monkeypatch):
    """A stand-in sbatch records the scripts: nothing runs, no SLURM needed."""
    from lteval.grid.status import grid_status
    from lteval.grid.submit import ClusterOptions, plan_grid, submit_grid

    bin_dir, scripts = tmp_path / "bin", tmp_path / "scripts"
    bin_dir.mkdir()
    scripts.mkdir()
    for tool, text in (("sbatch", FAKE_SBATCH), ("srun", "#!/bin/sh\nexit 1\n")):
        (bin_dir / tool).write_text(text)
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(scripts))
    out = tmp_path / "runs"
    over = dict(OVER, **{"crt.epochs": "2"})
    plan = plan_grid(NAMES, ["", "crt", "crt+tta"], preset="smoke", out=out, overrides=over)
    monkeypatch.setattr("lteval.grid.submit.prepare_data", lambda cfg, progress=True: None)  # nothing to train
    rows = submit_grid(plan, ClusterOptions(partition="gpu", gpus_per_job=2, timeout_min=90, array_parallelism=1,
                                            sbatch={"account": "abc", "exclusive": True}), wait=False)
    assert [s for _, s, _ in rows] == ["submitted", "submitted"]
    assert rows[0][2] == "job 1000_0, 1001" and rows[1][2] == "job 1000_1, 1002"
    array, post0, post1 = (scripts / "1000.sh").read_text(), (scripts / "1001.sh").read_text(), \
        (scripts / "1002.sh").read_text()
    for line in ("--array=0-1%1", "--partition=gpu", "--gpus-per-node=2", "--ntasks-per-node=2", "--time=90",
                 "--account=abc", "--exclusive", "--signal=USR2@90", "--job-name=lteval-grid-base"):
        assert f"#SBATCH {line}\n" in array, (line, array)
    assert "dependency" not in array
    for post, dep in ((post0, "1000_0"), (post1, "1000_1")):
        for line in (f"--dependency=afterok:{dep}", "--kill-on-invalid-dep=yes", "--ntasks-per-node=1",
                     "--gpus-per-node=1", "--partition=gpu", "--account=abc"):
            assert f"#SBATCH {line}\n" in post, (line, post)
        assert "--array" not in post
    # the post job carries both chains, in order (they share post/crt)
    assert plan[0].post.combos == ("crt", "crt+tta") and plan[0].post.overrides["crt.epochs"] == "2"
    rows = grid_status(NAMES, ["", "crt"], preset="smoke", out=out, overrides=over)
    assert [(r.state, r.detail.split(" submitted")[0]) for r in rows] == [
        ("pending", "job 1000_0"), ("pending", "job 1001"), ("pending", "job 1000_1"), ("pending", "job 1002")]
    # submitting again while the jobs wait in the queue submits nothing twice
    (bin_dir / "squeue").write_text("#!/bin/sh\n[ \"$5\" = 1001 ] && echo 1001\nexit 0\n")
    (bin_dir / "squeue").chmod(0o755)
    again = submit_grid(plan_grid(NAMES, ["", "crt", "crt+tta"], preset="smoke", out=out, overrides=over),
                        ClusterOptions(), wait=False)
    assert [s for _, s, _ in again] == ["running", "submitted"], again
    assert "already running: job 1001" in again[0][2]  # member 1's post job still waits in the queue
    assert again[1][2] == "job 1003, 1004"  # member 2: out of the queue, submitted again (one job: no array)


# ----------------------------------------------------------------------------- several GPUs per job

@needs_submitit
@pytest.mark.slow
def test_gpus_per_job_runs_one_process_each_like_torchrun(tmp_path):
    """--gpus-per-job 2: two tasks in the job, torch's env:// variables from submitit, gloo on CPU;
    the same result as one process with twice the batch (as tests/test_ddp.py checks for --nproc)."""
    import numpy as np
    import pandas as pd

    over = dict(synth_n_train=240, synth_n_dev=60, synth_n_test=60, synth_size=32, image_size=32,
                images_per_epoch=64, epochs=2, eval_batch_size=64, warmup_epochs=0.5)
    env = _env(tmp_path / "home")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    sets = [x for k, v in dict(over, batch_size=8).items() for x in ("--set", f"{k}={v}")]
    r = _lteval(["baseline", "grid", "--backbones", "convnext_tiny", "--losses", "bce", "--launcher", "submitit",
                 "--cluster", "local", "--gpus-per-job", "2", "-o", str(tmp_path / "ddp"), *sets], env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    (ddp,) = [d for d in (tmp_path / "ddp").iterdir() if not d.name.startswith(".")]
    assert json.loads((ddp / "DONE").read_text())["world_size"] == 2
    assert [json.loads(ln)["step"] for ln in (ddp / "metrics.jsonl").read_text().splitlines()] == [4, 8]
    one = _lteval(["baseline", "run", "convnext_tiny_bce", "-o", str(tmp_path / "one"), "--no-progress",
                   *[x for k, v in dict(over, batch_size=16).items() for x in ("--set", f"{k}={v}")]], env)
    assert one.returncode == 0, one.stderr
    (single,) = (tmp_path / "one").iterdir()
    for split in ("val", "dev"):
        a, b = (pd.read_csv(d / "logits" / f"{split}.csv").iloc[:, 1:].to_numpy(np.float64) for d in (ddp, single))
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)

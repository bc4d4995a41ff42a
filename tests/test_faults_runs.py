"""Hardening (issue 12), runs: nothing a run wrote is lost to a kill (real processes killed with SIGKILL),
simultaneous runs get their own directories, parallel search workers stop at the target, and one seed trains
on the same numbers (a tiny Strategy-2 run on a real Chromium page).  Checkpoints, configs and bad input:
test_faults.py.
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from fault_helpers import ROOT, TINY, cli
from zoo.config import compose


# ---------------------------------------------------------------- a stopped process
STOPPED_CHILD = """
import asyncio, sys
from zoo.web.browser import LoopThread

async def work():  # two seconds of the loop's own time, in steps
    for _ in range(40):
        await asyncio.sleep(0.05)
    return "finished"

print("ready", flush=True)
print(LoopThread().run(work(), timeout=3.0), flush=True)
"""


def test_a_browser_call_outlives_a_stop_of_its_process_but_not_its_timeout():
    """A run paused with SIGSTOP (to lend the cores to CI for a while) and continued finds its browser call still
    waited on: the 4 s stopped do not count against the call's 3 s, so the call's 2 s of work finish.  A call that
    never finishes still times out after its timeout."""
    from zoo.web.browser import LoopThread

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", STOPPED_CHILD], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        child.send_signal(signal.SIGSTOP)
        time.sleep(4.0)  # longer than the timeout: without the stop counted out, the wait raises on SIGCONT
        child.send_signal(signal.SIGCONT)
        out, _ = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0 and out.strip() == "finished", out

    loop = LoopThread()
    never = loop.submit(asyncio.Event().wait())
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="did not finish within 1s"):
        loop.wait(never, timeout=0.8)
    assert 0.7 < time.monotonic() - start < 5.0


# ---------------------------------------------------------------- run directories
def claim(run_root: str, go: threading.Event | None = None) -> str:
    from zoo.train.runs import new_run_dir

    if go is not None:
        go.wait()
    return str(new_run_dir(OmegaConf.create({"run_root": run_root, "strategy": "compressive_rl", "name": "same"})))


def _claim_in_process(run_root: str, barrier, out) -> None:
    barrier.wait()
    try:
        out.put(claim(run_root))
    except BaseException as err:  # noqa: BLE001 - reported to the parent
        out.put(f"ERROR {type(err).__name__}: {err}")


def test_simultaneous_runs_with_one_name_get_distinct_dirs(tmp_path, monkeypatch):
    from zoo.train.runs import RUN_DIR_ENV, RUN_DIR_PID_ENV

    monkeypatch.delenv(RUN_DIR_ENV, raising=False)  # no inherited rank dir in the children
    monkeypatch.delenv(RUN_DIR_PID_ENV, raising=False)
    ctx = multiprocessing.get_context("fork")
    n_proc = 8
    barrier, out = ctx.Barrier(n_proc), ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(str(tmp_path / "p"), barrier, out)) for _ in range(n_proc)]
    for p in procs:
        p.start()
    got = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert not [g for g in got if g.startswith("ERROR")], got
    assert len(set(got)) == n_proc and all(Path(g, "checkpoints").is_dir() for g in got)

    go = threading.Event()
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(claim(str(tmp_path / "t"), go))) for _ in range(24)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    assert len(results) == 24 and len(set(results)) == 24
    assert sorted(Path(r).name for r in results) == sorted(["same"] + [f"same-{i}" for i in range(2, 25)])


# ---------------------------------------------------------------- kills and resumes: nothing lost
class ToyRun:
    """A real Lightning fit through ``zoo.train.trainer.make_trainer`` (CSV curve in csv/ppo/, checkpoints
    every 2 steps in checkpoints/ppo/), 0.1 s a step so a test can kill it mid-run."""

    @staticmethod
    def fit(run_dir: Path, max_steps: int, resume: str = "-") -> None:
        import lightning as L

        from zoo.train.runs import resume_checkpoint
        from zoo.train.trainer import make_trainer

        cfg = OmegaConf.create({"trainer": {
            "accelerator": "cpu", "devices": 1, "num_nodes": 1, "strategy": "auto", "precision": "32-true",
            "max_steps": max_steps, "max_time_min": None, "checkpoint_every": 2, "log_every_n_steps": 1,
            "activation_checkpointing": False, "sharded_checkpoint": False, "gradient_clip_val": 0.0,
            "progress": False}})

        class Toy(L.LightningModule):
            def __init__(self) -> None:
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(2))

            def training_step(self, batch, batch_idx):
                time.sleep(0.1)
                loss = ((self.w - batch.mean()) ** 2).sum()
                self.log("train/loss", loss, on_step=True)
                return loss

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)

            def train_dataloader(self):
                return torch.utils.data.DataLoader(torch.ones(100_000, 1), batch_size=1)

        ckpt = resume_checkpoint(resume, run_dir, "ppo") if resume != "-" else None
        make_trainer(cfg, run_dir, stage="ppo").fit(Toy(), ckpt_path=str(ckpt) if ckpt else None, weights_only=True)


def toy_fit(run_dir: Path, max_steps: int, resume: str = "-") -> subprocess.Popen:
    """``ToyRun.fit`` in its own process (this file run as a script)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ZOO_RUN_DIR", None)
    return subprocess.Popen([sys.executable, __file__, "toy", str(run_dir), str(max_steps), resume], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def kill_after_step(proc: subprocess.Popen, live_csv: Path, step: int, timeout: float = 240) -> None:
    """SIGKILL once the live metrics file holds ``step`` (and a checkpoint was written after it started)."""
    from zoo.train.metrics import _rows

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        steps = [int(r["step"]) for r in _rows(live_csv) if r.get("step")] if live_csv.is_file() else []
        if steps and max(steps) >= step:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"never reached step {step}")


def test_two_kills_across_resumes_lose_no_learning_curve_rows(tmp_path):
    """kill -9, resume, kill -9 the resumed run, resume again: every step's row is still there
    (csv/ppo/ keeps one segment file per resume; read_stage_metrics joins them)."""
    from zoo.train.metrics import read_stage_metrics

    run_dir = tmp_path / "run"
    stage_dir = run_dir / "csv" / "ppo"
    kill_after_step(toy_fit(run_dir, 24), stage_dir / "metrics.csv", 7)
    kill_after_step(toy_fit(run_dir, 24, str(run_dir)), stage_dir / "metrics.csv", 15)
    proc = toy_fit(run_dir, 24, str(run_dir))
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out[-3000:]
    assert len(list(stage_dir.glob("segment-*.csv"))) == 2
    steps = [int(r["step"]) for r in read_stage_metrics(stage_dir)]
    assert steps == list(range(24)), steps


def test_corrupt_last_checkpoint_falls_back_and_a_step_checkpoint_is_accepted(tmp_path, capsys):
    """A toy run's checkpoints/ppo/: last.ckpt corrupted -> the newest loadable one, and it says which;
    resume=<run>/checkpoints/ppo/stepNNNNNN.ckpt finds the run and resumes from that very file."""
    from zoo.train.runs import find_resume_dir, resume_checkpoint

    run_dir = tmp_path / "run"
    ToyRun.fit(run_dir, 6)
    ckpt_dir = run_dir / "checkpoints" / "ppo"
    step = ckpt_dir / "step000006.ckpt"
    assert step.is_file() and (ckpt_dir / "last.ckpt").is_file()
    (ckpt_dir / "last.ckpt").write_bytes((ckpt_dir / "last.ckpt").read_bytes()[:100])  # a kill mid-copy
    said: list[str] = []
    assert resume_checkpoint(str(run_dir), run_dir, "ppo", explain=said.append) == step
    assert len(said) == 1 and "not a valid checkpoint" in said[0] and f"resuming from {step}" in said[0]
    (run_dir / "config.yaml").write_text("strategy: compressive_rl\n")
    assert find_resume_dir(str(step)) == run_dir
    assert resume_checkpoint(str(step), run_dir, "ppo") == step
    # the resumed toy run continues from step 6 to 8
    ToyRun.fit(run_dir, 8, str(step))
    from zoo.core.checkpoints import read_checkpoint_meta

    assert read_checkpoint_meta(ckpt_dir / "last.ckpt")["global_step"] == 8
    # every checkpoint unreadable: one line naming why
    for p in ckpt_dir.glob("*.ckpt"):
        p.write_bytes(b"junk")
    from zoo.core.errors import ZooError

    with pytest.raises(ZooError, match=r"cannot resume .*: no loadable checkpoint in .*\(not a valid checkpoint"):
        resume_checkpoint(str(run_dir), run_dir, "ppo")


# ---------------------------------------------------------------- parallel search workers
def test_a_trial_behind_the_target_gives_up():
    """The storage numbers trials in creation order; a trial with ``trials`` finished-or-running trials
    numbered before it is surplus."""
    import optuna

    from zoo.search import trials_ahead

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    t0, t1, t2 = study.ask(), study.ask(), study.ask()
    study.tell(t0, 0.5)
    assert [trials_ahead(study, t.number) for t in (t0, t1, t2)] == [0, 1, 2]
    study.tell(t1, state=optuna.trial.TrialState.FAIL)  # a failed trial frees its place
    assert trials_ahead(study, t2.number) == 1


def test_parallel_workers_finish_exactly_the_target(tmp_path):
    helper = ROOT / "tests" / "search_helpers.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, str(helper), "slow", f"out={tmp_path / 'out'}",
                               f"run_root={tmp_path / 'runs'}", "trials=3", f"seed={seed}"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for seed in (0, 100)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[-2000:] for o in outputs]
    import optuna

    from zoo.search import open_storage

    study = optuna.load_study(study_name="compressive_rl-compressive_rl", storage=open_storage(None, tmp_path / "out"))
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 3, [(t.number, t.state.name, t.user_attrs.get("pid")) for t in study.trials]
    summary = json.loads((tmp_path / "out/compressive_rl-compressive_rl/study.json").read_text())
    assert [t["state"] for t in summary["trials"]].count("COMPLETE") == 3
    assert all(t["state"] != "FAIL" for t in summary["trials"])  # a surplus trial is not reported as a failure


# ---------------------------------------------------------------- reproducible training (real browser)
LOSS_COLUMNS = ("train/policy_loss", "train/value_loss", "train/entropy", "train/approx_kl", "train/mean_step_reward")


@pytest.fixture(scope="module")
def trained_pair(tmp_path_factory):
    """Two tiny Strategy-2 runs with one seed (3 PPO updates on click-button, one env)."""
    from zoo.fitting import fit_run

    root = tmp_path_factory.mktemp("pair")
    return [fit_run(TINY + [f"run_root={root}", "seed=7", f"name=r{i}"]).run_dir for i in range(2)]


def pair_rows(trained_pair) -> list[list[dict[str, str]]]:
    from zoo.train.metrics import read_stage_metrics

    rows = [read_stage_metrics(d / "csv" / "ppo") for d in trained_pair]
    assert [int(r["step"]) for r in rows[0]] == [0, 1, 2] == [int(r["step"]) for r in rows[1]]
    return rows


@pytest.mark.browser
def test_same_seed_trains_on_the_same_rewards(trained_pair):
    """The training reward no longer depends on the clock (ppo.train_reward=raw): two runs with one seed
    learn from the same numbers, and their first update logs the same losses.  The decayed reward stays
    a metric (train/episode_return), and it does depend on the clock."""
    rows = pair_rows(trained_pair)
    assert [r["train/mean_step_reward"] for r in rows[0]] == [r["train/mean_step_reward"] for r in rows[1]]
    assert [r[c] for c in LOSS_COLUMNS for r in rows[0][:1]] == [r[c] for c in LOSS_COLUMNS for r in rows[1][:1]]
    assert all(rows[0][0][c] != "" for c in LOSS_COLUMNS + ("train/episode_return",))


@pytest.mark.browser
def test_same_seed_logs_the_same_losses_every_update(trained_pair):
    """Not only the first update: with the rewards off the clock nothing else in a CPU run depends on
    timing, so every update's losses agree to the last digit."""
    rows = pair_rows(trained_pair)
    assert [[r[c] for c in LOSS_COLUMNS] for r in rows[0]] == [[r[c] for c in LOSS_COLUMNS] for r in rows[1]]


@pytest.mark.browser
def test_training_env_runs_without_the_page_clock_and_scoring_with_it():
    """The page's own time limit (core.EPISODE_MAX_TIME) is what made same-seed runs differ: a rollout's
    episodes wait through the PPO update, and on a loaded machine the 10 s ran out.  Training envs
    (ppo.page_clock=false) start episodes with it off; an env with the clock on puts the page's value back."""
    from strategies.compressive_rl.fit import make_env
    from zoo.config import compose
    from zoo.web.vector import VecWebEnv

    def page_limit(env) -> int:
        env.reset(seeds=[3])
        return env._call(env.slots[0].page.evaluate("core.EPISODE_MAX_TIME"), timeout=30)

    cfg = compose(TINY)
    assert cfg.ppo.page_clock is False
    with make_env(cfg, ["click-button"]) as env:
        assert page_limit(env) == 86_400_000
        env.slots[0].page_clock = True  # the same loaded page, now as a scoring env would start it
        assert page_limit(env) == 10_000
    with VecWebEnv(["click-button"], num_envs=1) as env:  # scoring and benches: the page's own limit
        assert page_limit(env) == 10_000


@pytest.mark.browser
def test_resume_with_corrupt_last_ckpt_through_the_cli(trained_pair, capsys):
    run_dir = trained_pair[0]
    ckpt_dir = run_dir / "checkpoints" / "ppo"
    (ckpt_dir / "last.ckpt").write_bytes(b"\x00" * 64)
    rc, err = cli(capsys, "fit", f"resume={run_dir}", "trainer.max_steps=4")
    assert rc == 0, err
    assert f"resuming from {ckpt_dir / 'step000003.ckpt'}" in err and "not a valid checkpoint" in err
    from zoo.core.checkpoints import read_checkpoint_meta
    from zoo.train.metrics import read_stage_metrics

    assert read_checkpoint_meta(ckpt_dir / "last.ckpt")["global_step"] == 4
    assert [int(r["step"]) for r in read_stage_metrics(run_dir / "csv" / "ppo")] == [0, 1, 2, 3]


if __name__ == "__main__" and sys.argv[1:2] == ["toy"]:  # toy_fit's child process
    ToyRun.fit(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4])

"""Hardening (issue 12): checkpoints are data, nothing a run wrote is lost to a kill, and every bad input is
one line with exit 2 before anything is written.

Most tests call the real CLI entry point (``zoo.cli.main``) in this process: one import of torch and
Lightning for all of them.  The kill tests run real processes and kill them with SIGKILL; the browser
tests train a tiny Strategy-2 run on a real Chromium page.
"""
from __future__ import annotations

import ast
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

from zoo.config import compose
from zoo.train.runs import save_config

ROOT = Path(__file__).resolve().parents[1]
TINY = ["strategy=2", "model.dim=32", "model.n_layers=2", "model.n_heads=2", "model.vocab_size=300",
        "model.max_elements=24", "env.num_envs=1", "env.tasks=[click-button]", "env.max_episode_steps=4",
        "ppo.rollout_steps=4", "ppo.update_epochs=2", "ppo.minibatches=1", "trainer.max_steps=3",
        "trainer.checkpoint_every=1", "trainer.progress=false", "eval.episodes=1", "ppo.tokenizer_steps=2"]


def cli(capsys, *args: str) -> tuple[int, str]:
    """Run ``zoo ARGS`` through the real entry point; (exit code, stderr)."""
    from zoo.cli import main

    capsys.readouterr()
    rc = main(list(args))
    return rc, capsys.readouterr().err


def one_line(err: str, command: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"zoo {command}: error: "), lines[0]
    assert "Traceback" not in err
    return lines[0]


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


class RunsCode:
    """A pickle that runs a shell command when loaded: what a crafted checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def tiny_run_dir(tmp_path: Path, *extra: str) -> Path:
    """A Strategy-2 run directory as ``zoo fit`` leaves it (config.yaml, checkpoints/ppo/), no training."""
    cfg = compose(TINY + [f"run_root={tmp_path / 'runs'}", "name=r", *extra])
    run_dir = tmp_path / "runs" / "compressive_rl" / "r"
    (run_dir / "checkpoints" / "ppo").mkdir(parents=True)
    save_config(cfg, run_dir)
    return run_dir


def fake_strategy2_checkpoint(path: Path, **extra) -> Path:
    """The fields of a Strategy-2 checkpoint (a tiny config, no weights), plus ``extra``."""
    cfg = OmegaConf.to_container(compose(TINY), resolve=True)
    torch.save({"state_dict": {}, "global_step": 1, "hyper_parameters": {"strategy": 2, "cfg": cfg}, **extra}, path)
    return path


# ---------------------------------------------------------------- checkpoints are data
def test_every_checkpoint_load_is_weights_only():
    """torch.load only in zoo/core/checkpoints.py, always weights_only=True; every Lightning resume
    (``trainer.fit(ckpt_path=...)``) and ``load_from_checkpoint`` passes weights_only=True; no bare pickle.load."""
    offenders, loads = [], []
    for folder in ("zoo", "strategies", "components"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            where = f"{path.relative_to(ROOT)}"
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
                kwargs = {k.arg: k.value for k in node.keywords}
                safe = isinstance(kwargs.get("weights_only"), ast.Constant) and kwargs["weights_only"].value is True
                if owner == "torch" and name == "load":
                    loads.append(where)
                    if not safe or where != "zoo/core/checkpoints.py":
                        offenders.append(f"{where}:{node.lineno} torch.load")
                if ("ckpt_path" in kwargs or name == "load_from_checkpoint") and not safe:
                    offenders.append(f"{where}:{node.lineno} {name}(ckpt_path=...) without weights_only=True")
                if owner == "pickle" and name in ("load", "loads"):
                    offenders.append(f"{where}:{node.lineno} pickle.{name}")
    assert loads, "the scan found no torch.load at all: it looks in the wrong place"
    assert not offenders, offenders


def test_crafted_checkpoint_is_refused_by_bench(tmp_path, capsys):
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"strategy": 2}, "payload": RunsCode(marker)}, evil)
    rc, err = cli(capsys, "bench", "agent=checkpoint", f"checkpoint={evil}", f"out={tmp_path / 'out'}", "progress=false")
    line = one_line(err, "bench")
    assert rc == 2 and not marker.exists()
    assert f"not a valid checkpoint: {evil} (refused to load: " in line and "posix.system" in line
    assert not (tmp_path / "out").exists()


def test_crafted_last_ckpt_is_refused_on_resume(tmp_path, capsys):
    marker = tmp_path / "ran"
    run_dir = tiny_run_dir(tmp_path)
    config_before = (run_dir / "config.yaml").read_text()
    torch.save({"state_dict": {}, "global_step": 1, "payload": RunsCode(marker)}, run_dir / "checkpoints/ppo/last.ckpt")
    before = files_under(tmp_path)
    rc, err = cli(capsys, "fit", f"resume={run_dir}")
    line = one_line(err, "fit")
    assert rc == 2 and not marker.exists()
    assert "no loadable checkpoint" in line and "refused to load" in line and "posix.system" in line
    assert files_under(tmp_path) == before and (run_dir / "config.yaml").read_text() == config_before
    # the file named directly: the same refusal
    rc, err = cli(capsys, "fit", f"resume={run_dir / 'checkpoints/ppo/last.ckpt'}")
    assert rc == 2 and "refused to load" in one_line(err, "fit") and not marker.exists()


def test_crafted_sharded_checkpoint_index_is_refused(tmp_path):
    """A sharded checkpoint's ``.metadata`` is a pickle torch.distributed.checkpoint loads with pickle.load:
    checked against the types it may hold first.  A real one still loads."""
    import pickle

    import torch.distributed.checkpoint as dcp

    from zoo.core.checkpoints import InvalidCheckpoint, load_checkpoint

    good = tmp_path / "good"
    with pytest.warns(UserWarning):  # "torch.distributed is disabled ... assuming a single process"
        dcp.save({"model": {"w": torch.arange(6.0).view(2, 3)}, "global_step": 4}, checkpoint_id=str(good), no_dist=True)
    loaded = load_checkpoint(good)
    assert torch.equal(loaded["state_dict"]["w"], torch.arange(6.0).view(2, 3))

    marker = tmp_path / "ran"
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / ".metadata").write_bytes(pickle.dumps(RunsCode(marker)))
    with pytest.raises(InvalidCheckpoint, match=r"not a valid checkpoint: .*evil .*unsupported global posix.system"):
        load_checkpoint(evil)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty", "not a dict"])
def test_file_that_is_not_a_checkpoint_is_one_line(tmp_path, capsys, kind):
    real = tmp_path / "real.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(64)}, "global_step": 1}, real)
    path = tmp_path / f"{kind.replace(' ', '_')}.ckpt"
    if kind == "garbage":
        path.write_bytes(b"\x80\x04garbage, not a checkpoint" * 10)
    elif kind == "truncated":
        path.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        torch.save([1, 2, 3], path)
    rc, err = cli(capsys, "bench", "agent=checkpoint", f"checkpoint={path}", f"out={tmp_path / 'out'}")
    assert rc == 2 and f"not a valid checkpoint: {path} (" in one_line(err, "bench")


# ---------------------------------------------------------------- configs are data
def test_interpolation_in_an_override_is_refused(tmp_path, capsys):
    home = os.environ.get("HOME", "/root")
    for args in (["config", "ppo.lr=${oc.env:HOME}"], ["config", "env.tasks=[click-button, '${oc.env:HOME}']"],
                 ["fit", f"run_root={tmp_path / 'runs'}", "name=${oc.env:HOME}"],
                 ["bench", "out=${oc.env:HOME}"], ["search", "study=${oc.env:HOME}"]):
        rc, err = cli(capsys, *args)
        line = one_line(err, args[0])
        assert rc == 2 and "interpolation not allowed" in line, args
        assert home not in line.replace("${oc.env:HOME}", "")
    assert not (tmp_path / "runs").exists()


def test_interpolation_in_a_config_file_is_refused(tmp_path, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text("ppo:\n  lr: 0.001\nenv:\n  suite: ${oc.env:HOME}\n")
    for command in ("config", "fit"):
        rc, err = cli(capsys, command, f"config={path}", f"run_root={tmp_path / 'runs'}")
        line = one_line(err, command)
        assert rc == 2 and "interpolation not allowed in 'env.suite'" in line
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- bad input: one line, exit 2, nothing created
BAD_FIT = [
    ("ppo.lr=-1", "'ppo.lr': -1.0 (must be > 0)"),
    ("trainer.max_steps=-2", "'trainer.max_steps': -2 (must be >= 1)"),
    ("trainer.max_steps=0", "'trainer.max_steps': 0 (must be >= 1)"),
    ("eval.episodes=-3", "'eval.episodes': -3 (must be >= 1)"),
    ("env.num_envs=0", "'env.num_envs': 0 (must be >= 1)"),
    ("ppo.rollout_steps=0", "'ppo.rollout_steps': 0 (must be >= 1)"),
    ("env.step_timeout_s=-1", "'env.step_timeout_s': -1.0 (must be > 0)"),
    ("trainer.checkpoint_every=0", "'trainer.checkpoint_every': 0 (must be >= 1)"),
    ("trainer.precision=xx", "unknown value for 'trainer.precision' 'xx'"),
    ("trainer.devices=abc", "bad value for 'trainer.devices': 'abc'"),
    ("trainer.max_steps=[1,2", "bad value for 'trainer.max_steps': '[1,2' is not valid YAML"),
    ("ppo.train_reward=clock", "unknown value for 'ppo.train_reward' 'clock'"),
    ("ppo.step_penalty=-0.1", "'ppo.step_penalty': -0.1 (must be >= 0)"),
]


@pytest.mark.parametrize("override,needle", BAD_FIT, ids=[o for o, _ in BAD_FIT])
def test_bad_fit_value_is_one_line_and_creates_nothing(tmp_path, capsys, override, needle):
    rc, err = cli(capsys, "fit", "strategy=2", f"run_root={tmp_path / 'runs'}", override)
    assert rc == 2 and needle in one_line(err, "fit")
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("override,needle", [("num_envs=0", "'num_envs': 0 (must be >= 1)"),
                                             ("episodes=0", "'episodes': 0 (must be >= 1)"),
                                             ("step_timeout_s=0", "'step_timeout_s': 0.0 (must be > 0)")])
def test_bad_bench_value_is_one_line(tmp_path, capsys, override, needle):
    rc, err = cli(capsys, "bench", "agent=random", f"out={tmp_path / 'out'}", override)
    assert rc == 2 and needle in one_line(err, "bench")
    assert files_under(tmp_path) == []


def test_invalid_saved_config_on_resume_is_one_line(tmp_path, capsys):
    run_dir = tiny_run_dir(tmp_path)
    (run_dir / "config.yaml").write_text("trainer: {max_steps: [1, 2\n")
    before = files_under(tmp_path)
    rc, err = cli(capsys, "fit", f"resume={run_dir}")
    assert rc == 2 and f"cannot parse saved run config {run_dir / 'config.yaml'}" in one_line(err, "fit")
    (run_dir / "config.yaml").write_text("trainer:\n  max_steps: -4\n")  # valid YAML, no strategy
    rc, err = cli(capsys, "fit", f"resume={run_dir}")
    assert rc == 2 and "names no strategy" in one_line(err, "fit")
    (run_dir / "config.yaml").write_text("strategy: compressive_rl\ntrainer:\n  max_steps: -4\n")  # a bad value
    rc, err = cli(capsys, "fit", f"resume={run_dir}")
    assert rc == 2 and "'trainer.max_steps': -4" in one_line(err, "fit")
    (run_dir / "config.yaml").write_text("strategy: compressive_rl\ntrainer:\n  max_stepz: 4\n")  # an unknown key
    rc, err = cli(capsys, "fit", f"resume={run_dir}")
    assert rc == 2 and "unknown config key 'trainer.max_stepz'" in one_line(err, "fit")
    assert files_under(tmp_path) == before


def test_checkpoint_without_tokenizer_is_one_line(tmp_path, capsys):
    ckpt = fake_strategy2_checkpoint(tmp_path / "no_tok.ckpt")
    rc, err = cli(capsys, "bench", "agent=checkpoint", f"checkpoint={ckpt}", f"out={tmp_path / 'out'}")
    assert rc == 2 and str(ckpt) in one_line(err, "bench")

    run_dir = tiny_run_dir(tmp_path)
    fake_strategy2_checkpoint(run_dir / "checkpoints/ppo/last.ckpt")
    from zoo.fitting import fit_run
    from zoo.core.errors import ZooError

    with pytest.raises(ZooError, match="holds no tokenizer_json"):  # before the browser starts
        fit_run([f"resume={run_dir}"])


def test_report_skips_results_of_another_schema(tmp_path):
    from zoo.report.gather import gather

    run_dir = tiny_run_dir(tmp_path)
    (run_dir / "results.json").write_text(json.dumps({"schema": "someone-else/7", "tasks": [1, 2], "variants": "x"}))
    g = gather(tmp_path / "runs", tmp_path / "bench", tmp_path / "search")
    assert [r.scored for r in g.runs] == [None]
    assert any("someone-else/7" in p and "skipped" in p for p in g.problems), g.problems
    (run_dir / "results.json").write_text(json.dumps([1, 2, 3]))
    g = gather(tmp_path / "runs", tmp_path / "bench", tmp_path / "search")
    assert [r.scored for r in g.runs] == [None] and any("results.json" in p for p in g.problems)


def test_report_cli_notes_the_skipped_results(tmp_path, capsys):
    run_dir = tiny_run_dir(tmp_path)
    (run_dir / "results.json").write_text(json.dumps({"schema": "someone-else/7", "overall": "x"}))
    rc, err = cli(capsys, "report", f"runs={tmp_path / 'runs'}", f"bench={tmp_path / 'b'}", f"search={tmp_path / 's'}",
                  f"out={tmp_path / 'reports'}")
    assert rc == 0, err
    assert "someone-else/7" in "".join(p.read_text() for p in (tmp_path / "reports").rglob("*.md"))


def test_corrupt_journal_storage_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.log"
    bad.write_text('{"op_code": 0, "worker_id": "w"\nnot json\n')
    rc, err = cli(capsys, "search", f"storage={bad}", "trials=1", f"out={tmp_path / 'out'}", f"run_root={tmp_path / 'runs'}")
    assert rc == 2 and f"cannot open storage '{bad}': not a readable Optuna journal" in one_line(err, "search")
    assert not (tmp_path / "runs").exists()


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

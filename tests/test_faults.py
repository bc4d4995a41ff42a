"""Hardening (issue 12): checkpoints are data, configs cannot read the environment, and every bad input is
one line with exit 2 before anything is written.  Kills, resumes, run directories, parallel search workers and
reproducible training: test_faults_runs.py.

Most tests call the real CLI entry point (``zoo.cli.main``) in this process: one import of torch and
Lightning for all of them.
"""
from __future__ import annotations

import ast
import json
import os

import pytest
import torch

from fault_helpers import ROOT, RunsCode, cli, fake_strategy2_checkpoint, files_under, one_line, tiny_run_dir

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

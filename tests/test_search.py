"""``zoo search``: search-space checks, study resume, pruning, parallel workers, best config.

Most tests swap the training for a cheap objective (tests/search_helpers.py) so the study
machinery runs in seconds; test_search_real.py runs real ``zoo fit`` trials.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from omegaconf import OmegaConf

from zoo.config import compose, parse_tool_config
from zoo.core.errors import ZooError
from zoo.schema.tools import StudyConfig
from zoo.search import open_storage, run_study
from zoo.search_space import load_space

sys.path.insert(0, str(Path(__file__).parent))
from search_helpers import lightning_objective, quadratic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HELPER = Path(__file__).parent / "search_helpers.py"


def study_cfg(tmp_path: Path, *extra: str):
    return parse_tool_config(StudyConfig, [f"out={tmp_path / 'out'}", f"run_root={tmp_path / 'runs'}", *extra])


def write_space(tmp_path: Path, text: str) -> str:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return str(path)


def load_study(tmp_path: Path, name: str = "compressive_rl-compressive_rl"):
    return optuna.load_study(study_name=name, storage=open_storage(None, tmp_path / "out"))


# ---------------------------------------------------------------- search spaces
BAD_SPACES = {
    "unknown key": ("params: {ppo.lrr: {type: float, low: 0.1, high: 1}}", "unknown config key 'ppo.lrr' (did you mean"),
    "unknown type": ("params: {ppo.lr: {type: gaussian, low: 0.1, high: 1}}", "unknown type 'gaussian'"),
    "inverted bounds": ("params: {ppo.lr: {type: float, low: 1, high: 0.1}}", "low (1) must be below high (0.1)"),
    "missing bound": ("params: {ppo.lr: {type: float, low: 0.1}}", "needs 'high'"),
    "log of zero": ("params: {ppo.lr: {type: float, low: 0, high: 1, log: true}}", "log scale needs low > 0"),
    "unknown group choice": ("params: {model.attention: {type: categorical, choices: [xl, flash]}}", "unknown choice 'flash'"),
    "empty choices": ("params: {model.n_layers: {type: categorical, choices: []}}", "non-empty 'choices'"),
    "no params": ("fixed: {trainer.max_steps: 3}", "'params' must map"),
    "unknown field": ("params: {ppo.lr: {type: float, low: 0.1, high: 1, logg: true}}", "unknown field 'logg'"),
    "when on later param": (
        "params:\n  model.attention.mem_len: {type: int, low: 8, high: 16, when: {model.attention: xl}}\n"
        "  model.attention: [xl, dense]",
        "not a parameter listed before it",
    ),
    "fixed of wrong type": ("fixed: {trainer.max_steps: many}\nparams: {ppo.lr: [0.1, 0.2]}", "trainer.max_steps"),
    "wrong strategy": ("strategy: 1\nparams: {ppo.lr: [0.1]}", "it is for strategy=1"),
    "top-level typo": ("parms: {ppo.lr: [0.1]}", "unknown top-level key 'parms' (did you mean 'params'?)"),
    "bad metric mode": ("metric_mode: up\nparams: {ppo.lr: [0.1]}", "unknown metric_mode 'up'"),
    "not yaml": ("params: {ppo.lr: [0.1", "cannot parse search space"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPACES))
def test_bad_search_space_is_one_clear_line(tmp_path, case):
    text, expected = BAD_SPACES[case]
    with pytest.raises(ZooError) as err:
        load_space(write_space(tmp_path, text), strategy=2)
    msg = str(err.value)
    assert expected in msg and "\n" not in msg and "space.yaml" in msg


def test_unknown_space_name_lists_the_shipped_spaces():
    with pytest.raises(ZooError, match=r"unknown search space 'strategy3'.*valid choices: compressive_rl, foundation"):
        load_space("strategy3", strategy=2)


@pytest.mark.parametrize("strategy", [1, 2])
def test_shipped_spaces_load_and_compose(strategy):
    space = load_space(f"configs/search/{ {1: 'foundation', 2: 'compressive_rl'}[strategy]}.yaml", strategy)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(8):  # every sampled combination composes into a valid run config
        values = space.sample(study.ask())
        cfg = compose([f"strategy={strategy}", *space.overrides(values)], validate_choices=False)
        for key, value in values.items():
            got = OmegaConf.select(cfg, key)
            assert (got.name if key == "model.attention" else got) == value


def test_conditional_parameters_follow_their_parent(tmp_path):
    space = load_space("configs/search/compressive_rl.yaml", 2)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(20):
        values = space.sample(study.ask())
        attention = values["model.attention"]
        seen.add(attention)
        assert ("model.attention.mem_len" in values) == (attention == "xl")
        assert ("model.attention.delta_rule" in values) == (attention == "infini")
    assert seen == {"xl", "infini", "dense"}


def test_cli_reports_bad_space_in_one_line(tmp_path, capsys):
    from zoo.cli import main

    space = write_space(tmp_path, "params: {ppo.lr: {type: float, low: 2, high: 1}}")
    assert main(["search", f"space={space}", f"out={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("zoo search: error: bad search space") and "\n" not in err


def test_bad_storage_and_objective_names(tmp_path):
    with pytest.raises(ZooError, match="bad storage 'optuna.txt'"):
        run_study(study_cfg(tmp_path, "storage=optuna.txt"), objective=quadratic)
    with pytest.raises(ZooError, match=r"unknown objective 'succes' \(did you mean 'success'\?\)"):
        run_study(study_cfg(tmp_path, "objective=succes"), objective=quadratic)


# ---------------------------------------------------------------- studies
def test_study_writes_best_config_that_zoo_fit_accepts(tmp_path):
    summary = run_study(study_cfg(tmp_path, "trials=5"), objective=quadratic)
    assert [t["state"] for t in summary["trials"]] == ["COMPLETE"] * 5
    best = summary["best"]
    assert best["values"][0] == max(t["values"][0] for t in summary["trials"])
    on_disk = json.loads((tmp_path / "out/compressive_rl-compressive_rl/study.json").read_text())
    assert on_disk["schema"] == "actionzoo.study/1" and len(on_disk["trials"]) == 5 and on_disk["importance"]
    best_yaml = Path(summary["best_config"])
    cfg = compose([f"config={best_yaml}"])  # what `zoo fit config=best.yaml` composes
    for key, value in best["params"].items():
        got = OmegaConf.select(cfg, key)
        assert (got.name if key == "model.attention" else got) == value
    assert cfg.trainer.max_steps == 30  # the space's fixed overrides are part of the config
    assert cfg.run_root == "runs" and cfg.name is None  # where the trial ran is not


def test_rerun_continues_the_same_study(tmp_path):
    first = run_study(study_cfg(tmp_path, "trials=3"), objective=quadratic)
    again = run_study(study_cfg(tmp_path, "trials=3"), objective=quadratic)  # already complete: no new trial
    assert len(again["trials"]) == 3
    more = run_study(study_cfg(tmp_path, "trials=5"), objective=quadratic)
    assert [t["number"] for t in more["trials"]] == [0, 1, 2, 3, 4]
    assert more["trials"][:3] == first["trials"][:3]  # earlier trials untouched
    assert len({json.dumps(t["params"], sort_keys=True) for t in more["trials"]}) == 5  # no replayed samples


def test_journal_storage_and_two_objectives(tmp_path):
    journal = tmp_path / "study.log"
    cfg = study_cfg(tmp_path, "trials=4", f"storage={journal}", "objective=success+params", "study=pareto")
    summary = run_study(cfg, objective=quadratic)
    assert journal.is_file() and summary["directions"] == ["maximize", "minimize"]
    complete = [t for t in summary["trials"] if t["state"] == "COMPLETE"]
    assert len(complete) == 4 and all(len(t["values"]) == 2 for t in complete)
    top = max(t["values"][0] for t in complete)
    assert summary["best"]["values"][0] == top  # the Pareto pick favours success
    with pytest.raises(ZooError, match="created with objective directions"):
        run_study(study_cfg(tmp_path, f"storage={journal}", "study=pareto", "trials=5"), objective=quadratic)


def test_success_and_time_objective(tmp_path):
    summary = run_study(study_cfg(tmp_path, "trials=4", "objective=success+time", "study=fast"), objective=quadratic)
    assert summary["directions"] == ["maximize", "minimize"]
    complete = [t for t in summary["trials"] if t["state"] == "COMPLETE"]
    assert len(complete) == 4
    for t in complete:  # the second value is the trial's measured time (quadratic: 0.01 s per layer)
        assert t["values"][1] == pytest.approx(0.01 * t["params"]["model.n_layers"])
    front = [t for t in complete if not any(o["values"][0] >= t["values"][0] and o["values"][1] <= t["values"][1]
                                            and o["values"] != t["values"] for o in complete)]
    assert summary["best"]["values"] in [t["values"] for t in front]  # the pick is Pareto-optimal
    assert summary["best"]["values"][0] == max(t["values"][0] for t in front)  # ... favouring success
    assert compose([f"config={summary['best_config']}"]).strategy == "compressive_rl"  # and gives a config zoo fit accepts


def test_pruning_through_lightning_metric(tmp_path):
    space = write_space(tmp_path, (
        "metric: train/success_rate\n"
        "fixed: {trainer.max_steps: 8, trainer.progress: false, trainer.log_every_n_steps: 1}\n"
        "params: {ppo.lr: {type: float, low: 1.0e-5, high: 1.0e-2, log: true}}\n"
    ))
    summary = run_study(study_cfg(tmp_path, "trials=6", f"space={space}", "study=prune"), objective=lightning_objective)
    states = [t["state"] for t in summary["trials"]]
    assert states.count("COMPLETE") >= 2 and "PRUNED" in states
    for t in summary["trials"]:
        assert t["intermediate"], "the Lightning callback reported the logged metric"
        if t["state"] == "PRUNED":
            assert len(t["intermediate"]) < 8  # stopped before max_steps


# ---------------------------------------------------------------- processes
def worker(tmp_path: Path, kind: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, str(HELPER), kind, f"out={tmp_path / 'out'}", f"run_root={tmp_path / 'runs'}", *extra]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_complete(tmp_path: Path, n: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    path = tmp_path / "out/compressive_rl-compressive_rl/study.json"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        if path.is_file():
            trials = json.loads(path.read_text())["trials"]
            if sum(t["state"] == "COMPLETE" for t in trials) >= n:
                return
        time.sleep(0.2)
    raise AssertionError("the worker did not finish trials in time")


def test_study_resumes_after_the_worker_is_killed(tmp_path):
    proc = worker(tmp_path, "slow", "trials=4")
    try:
        wait_for_complete(tmp_path, 2, proc)
        time.sleep(0.5)  # now inside the third trial's objective
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    study = load_study(tmp_path)
    before = {t.number: t.values for t in study.trials if t.state.name == "COMPLETE"}
    assert len(before) >= 2 and any(t.state.name == "RUNNING" for t in study.trials)

    summary = run_study(study_cfg(tmp_path, "trials=4"), objective=quadratic)
    after = {t["number"]: t for t in summary["trials"]}
    for number, values in before.items():  # no completed trial lost or changed
        assert after[number]["state"] == "COMPLETE" and after[number]["values"] == values
    killed = [t for t in summary["trials"] if t["error"] == "worker process was killed"]
    assert len(killed) == 1 and killed[0]["state"] == "FAIL"
    # the killed trial's parameters were queued again and trained to completion
    retry = [t for t in load_study(tmp_path).trials if t.user_attrs.get("retry_of") == killed[0]["number"]]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE" and retry[0].params == killed[0]["params"]
    assert sum(t["state"] == "COMPLETE" for t in summary["trials"]) == 4
    assert not any(t["state"] == "RUNNING" for t in summary["trials"])


def test_parallel_workers_share_one_storage(tmp_path):
    procs = [worker(tmp_path, "slow", "trials=4", f"seed={seed}") for seed in (0, 100)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[-2000:] for o in outputs]
    study = load_study(tmp_path)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) >= 4
    assert len({t.user_attrs["pid"] for t in complete}) == 2  # both workers ran trials
    assert len({t.number for t in study.trials}) == len(study.trials)

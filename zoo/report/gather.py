"""Find and read everything a report compares.

- runs:   ``<runs>/<strategy>/<name>/`` with ``config.yaml``, ``results.json`` (benchmark scoring,
          schema ``actionzoo.bench/2``) and ``csv/<stage>/metrics.csv`` (CSVLogger learning curves, read by curves.py)
- bench:  ``<bench>/*.json`` harness results of baseline agents (same schema), ``attention.json``
          (attention time/memory sweep) and ``env_throughput.json`` (harness steps per second)
- search: ``<search>/<study>/study.json`` written by ``zoo search``

Missing or unreadable inputs are skipped and listed in ``Gathered.problems``; the report
omits what they would have fed and says so.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from zoo.config import load_plugins
from zoo.core.checkpoints import load_checkpoint
from zoo.report.curves import learning_curve, number, strategy_label, strategy_name
from zoo.train.runs import last_checkpoint

BENCH_SCHEMA = "actionzoo.bench/2"
BENCH_SCHEMA_V1 = "actionzoo.bench/1"  # counted raw reward > 0 as success; re-scored from its episodes
BENCH_SCHEMAS = (BENCH_SCHEMA,)  # what a zoo compare output must be (they are all written by this version)
STUDY_SCHEMA = "actionzoo.study/1"
SPECIAL_BENCH_FILES = ("attention.json", "env_throughput.json")


@dataclass
class TaskScore:
    successes: float
    episodes: int
    mean_reward: float | None = None

    @property
    def rate(self) -> float:
        return self.successes / self.episodes if self.episodes else float("nan")


@dataclass
class Scored:
    """Anything with benchmark results: a trained run or a baseline agent."""

    label: str
    results: dict
    tasks: dict[str, TaskScore]

    @property
    def episodes(self) -> int:
        return sum(t.episodes for t in self.tasks.values())

    @property
    def successes(self) -> float:
        return sum(t.successes for t in self.tasks.values())

    @property
    def rate(self) -> float:
        overall = self.results.get("overall") or {}
        rate = number(overall.get("success_rate"))
        if rate is not None:
            return rate
        return self.successes / self.episodes if self.episodes else float("nan")


@dataclass
class Variant:
    """One scored setting of a run's checkpoint (Strategy 1: policy alone, policy + search).
    simulator_assisted: its decisions used a simulator a deployed agent would not have (not
    comparable with agents that act on their observations alone)."""

    label: str
    scored: Scored
    simulator_assisted: bool
    description: str = ""


@dataclass
class Run:
    path: Path
    strategy: str  # the registered strategy name (zoo list strategy)
    attention: str
    config: Any
    scored: Scored | None = None  # its comparable score: never a simulator-assisted variant
    variants: list[Variant] = field(default_factory=list)
    curve: list[dict[str, Any]] = field(default_factory=list)  # step, success, metric, env_steps?, wall_s?
    params: int | None = None
    # zoo compare runs: zero-shot score on the held-out split, few-shot scores by demonstrations per task,
    # and budget.json (what the run was given and used)
    heldout: Scored | None = None
    fewshot: dict[int, Scored] = field(default_factory=dict)
    budget: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return f"{self.strategy}/{self.path.name}"

    @property
    def label(self) -> str:
        """How the strategy registered itself for reports (``Strategy 1``), or its name if unknown here."""
        return strategy_label(self.strategy)

    @property
    def variant(self) -> str:
        return f"{self.label} · {self.attention}"

    def last(self, key: str) -> float | None:
        vals = [p[key] for p in self.curve if p.get(key) is not None]
        return vals[-1] if vals else None


@dataclass
class Gathered:
    runs: list[Run] = field(default_factory=list)
    baselines: list[Scored] = field(default_factory=list)
    studies: list[dict] = field(default_factory=list)
    attention: Any = None
    throughput: Any = None
    problems: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- results JSON
def _score_from_episodes(episodes: list[dict]) -> dict[str, TaskScore]:
    by_task: dict[str, list[dict]] = {}
    for ep in episodes:
        by_task.setdefault(str(ep.get("task", "?")), []).append(ep)
    out = {}
    for task, eps in by_task.items():
        rewards = [r for r in (number(e.get("reward")) for e in eps) if r is not None]
        out[task] = TaskScore(sum(bool(e.get("success")) for e in eps), len(eps),
                              sum(rewards) / len(rewards) if rewards else None)
    return out


def task_scores(results: dict) -> dict[str, TaskScore]:
    """Per-task successes / episodes from a results dict (task records or raw episode records)."""
    tasks = results.get("tasks")
    records: list[tuple[str, dict]] = []
    if isinstance(tasks, dict):
        records = [(str(k), v) for k, v in tasks.items() if isinstance(v, dict)]
    elif isinstance(tasks, list):
        records = [(str(v.get("task", v.get("name", "?"))), v) for v in tasks if isinstance(v, dict)]
    out: dict[str, TaskScore] = {}
    for task, rec in records:
        eps = rec.get("episodes")
        if isinstance(eps, list):
            out[task] = _score_from_episodes([{**e, "task": task} for e in eps])[task]
            continue
        n = int(eps) if isinstance(eps, (int, float)) else int(rec.get("n", 0) or 0)
        rate = number(rec.get("success_rate"))
        succ = number(rec.get("successes"))
        if succ is None and rate is not None:
            succ = round(rate * n)
        if n > 0 and succ is not None:
            out[task] = TaskScore(succ, n, number(rec.get("mean_reward")))
    if not out and isinstance(results.get("episodes"), list):
        out = _score_from_episodes(results["episodes"])
    return out


def agent_label(results: dict, fallback: str) -> str:
    """``oracle`` / ``random`` / ``checkpoint:...``, with the suite when one is named (a baseline is
    scored per suite)."""
    agent = results.get("agent")
    if isinstance(agent, dict):
        agent = agent.get("name") or agent.get("kind")
    label = str(agent or fallback)
    suite = results.get("suite")
    return f"{label} ({suite})" if suite and suite != "custom" else label


# Strategy 1's search before the honest-scoring fix: it replayed the test episode's seed in a second
# browser and read the page's reward at its leaves (results.json of such runs has no "headline")
LEGACY_SIMULATED = {"policy+mcts": "MCTS on a replay of the test episode (its seed, its reward): simulator-assisted"}


def read_variants(name: str, results: dict) -> list[Variant]:
    """The scored variants inside a results dict (``results["variants"]``), each marked whether it
    was simulator-assisted (its own ``variant`` entry, or the legacy label)."""
    out = []
    for label, res in (results.get("variants") or {}).items():
        if isinstance(res, dict) and res.get("schema") == BENCH_SCHEMA_V1:  # scored like the top level
            res = rescore_v1(res)
        if not isinstance(res, dict):
            continue
        spec = res.get("variant") if isinstance(res.get("variant"), dict) else {}
        legacy = "headline" not in results and label in LEGACY_SIMULATED
        assisted = bool(spec.get("simulator_assisted", legacy))
        description = str(spec.get("description") or LEGACY_SIMULATED.get(label, ""))
        out.append(Variant(str(label), Scored(f"{name} [{label}]", res, task_scores(res)), assisted, description))
    return out


def comparable_scored(name: str, results: dict, variants: list[Variant]) -> Scored:
    """The run's score for comparisons: its top-level results, unless those are simulator-assisted;
    then its first variant that is not."""
    by_label = {v.label: v for v in variants}
    # legacy Strategy-1 results put their policy+mcts variant at the top level
    top = results.get("headline") or next((label for label in LEGACY_SIMULATED if label in by_label), None)
    if top in by_label and by_label[top].simulator_assisted:
        honest = [v for v in variants if not v.simulator_assisted]
        if honest:
            return Scored(name, honest[0].scored.results, honest[0].scored.tasks)
    return Scored(name, results, task_scores(results))


def rescore_v1(results: dict) -> dict | None:
    """A ``actionzoo.bench/1`` result (success = raw reward > 0) re-scored from its episode records
    with full credit as success (raw reward 1); None when it has no episode records."""
    episodes = results.get("episodes")
    if not isinstance(episodes, list) or not episodes:
        return None
    eps = [{**e, "success": (number(e.get("raw_reward")) or 0.0) >= 1.0 - 1e-9} for e in episodes if isinstance(e, dict)]
    return {k: v for k, v in results.items() if k not in ("tasks", "overall")} | {"episodes": eps}


def read_json(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        problems.append(f"{path}: unreadable ({str(err).splitlines()[0]})")
        return None


# ---------------------------------------------------------------- everything
def load_run(run_dir: Path, problems: list[str]) -> Run | None:
    try:
        config = OmegaConf.load(run_dir / "config.yaml")
    except Exception as err:  # noqa: BLE001 - a broken run must not break the report
        problems.append(f"{run_dir}: config.yaml unreadable ({str(err).splitlines()[0]})")
        return None
    strategy = strategy_name(config.get("strategy"))
    attention = str(OmegaConf.select(config, "model.attention.name", default="?"))
    run = Run(path=run_dir, strategy=strategy, attention=attention, config=config)
    res_path = run_dir / "results.json"
    if res_path.is_file():
        results = read_json(res_path, problems)
        schema = results.get("schema") if isinstance(results, dict) else None
        if schema == BENCH_SCHEMA_V1:
            results = rescore_v1(results)
            if results is None:
                problems.append(f"{res_path}: schema {BENCH_SCHEMA_V1} holds no episode records to re-score; skipped")
        elif results is not None and schema != BENCH_SCHEMA:  # another program's file, or a future schema
            problems.append(f"{res_path}: schema {schema!r} is not {BENCH_SCHEMA}; skipped")
            results = None
        if isinstance(results, dict):
            run.variants = read_variants(run.name, results)
            run.scored = comparable_scored(run.name, results, run.variants)
            agent = results.get("agent") if isinstance(results.get("agent"), dict) else {}
            run.params = agent.get("params") if isinstance(agent.get("params"), int) else None
    read_compare_outputs(run, problems)
    try:
        run.curve = learning_curve(run_dir, config)
    except (OSError, csv.Error) as err:
        problems.append(f"{run_dir}: metrics unreadable ({err})")
    if run.params is None:
        run.params = checkpoint_params(run_dir)
    return run


def _scored_file(name: str, path: Path, problems: list[str]) -> Scored | None:
    results = read_json(path, problems) if path.is_file() else None
    if not isinstance(results, dict) or results.get("schema") not in BENCH_SCHEMAS:
        return None
    return comparable_scored(name, results, read_variants(name, results))


def read_compare_outputs(run: Run, problems: list[str]) -> None:
    """What ``zoo compare`` adds to a run dir: ``heldout/``, ``fewshot-k<k>/`` results and ``budget.json``."""
    run.heldout = _scored_file(f"{run.name} [held-out]", run.path / "heldout" / "results.json", problems)
    for d in sorted(run.path.glob("fewshot-k*")):
        k = d.name[len("fewshot-k"):]
        scored = _scored_file(f"{run.name} [few-shot k={k}]", d / "results.json", problems) if k.isdigit() else None
        if scored is not None:
            run.fewshot[int(k)] = scored
    if (run.path / "budget.json").is_file():
        budget = read_json(run.path / "budget.json", problems)
        run.budget = budget if isinstance(budget, dict) else None
        if run.params is None and run.budget and isinstance(run.budget.get("params"), int):
            run.params = run.budget["params"]  # committed matrix results carry no checkpoints


def checkpoint_params(run_dir: Path) -> int | None:
    ckpt = last_checkpoint(run_dir)
    if ckpt is None:
        return None
    try:
        state = load_checkpoint(ckpt).get("state_dict", {})
    except Exception:  # noqa: BLE001 - an unreadable checkpoint just leaves the count out
        return None
    return int(sum(v.numel() for v in state.values() if hasattr(v, "numel") and v.is_floating_point()))


def run_dirs(runs: Path) -> list[Path]:
    """``<runs>/<strategy>/<name>/``, and, where ``runs`` is a folder of ``zoo compare`` matrices
    (``reports/compare``), the run directories of each matrix (``<runs>/<matrix>/<strategy>/<name>/``)."""
    roots = [runs, *(d for d in sorted(runs.glob("*/")) if next(d.glob("*/*/budget.json"), None) is not None)]
    return [d for root in roots for d in sorted(root.glob("*/*/")) if (d / "config.yaml").is_file()]


def gather(runs: str | Path, bench: str | Path, search: str | Path) -> Gathered:
    load_plugins()  # strategy labels and curve columns come from the strategy registry
    g = Gathered()
    runs, bench, search = Path(runs), Path(bench), Path(search)
    for run_dir in run_dirs(runs):
        run = load_run(run_dir, g.problems)
        if run is not None:
            g.runs.append(run)
    if bench.is_dir():
        for path in sorted(bench.glob("*.json")):
            if path.name in SPECIAL_BENCH_FILES:
                continue
            data = read_json(path, g.problems)
            if isinstance(data, dict) and data.get("schema") == BENCH_SCHEMA:
                g.baselines.append(Scored(agent_label(data, path.stem), data, task_scores(data)))
            elif isinstance(data, dict) and data.get("schema") == BENCH_SCHEMA_V1:
                rescored = rescore_v1(data)
                if rescored is None:
                    g.problems.append(f"{path}: schema {BENCH_SCHEMA_V1} counted partial credit as success and "
                                      "holds no episode records to re-score; rerun `zoo bench`")
                else:
                    g.baselines.append(Scored(agent_label(data, path.stem), rescored, task_scores(rescored)))
        for name, attr in (("attention.json", "attention"), ("env_throughput.json", "throughput")):
            if (bench / name).is_file():
                setattr(g, attr, read_json(bench / name, g.problems))
    for path in sorted(search.glob("*/study.json")) if search.is_dir() else []:
        data = read_json(path, g.problems)
        if isinstance(data, dict) and data.get("schema") == STUDY_SCHEMA:
            data["_dir"] = str(path.parent)
            g.studies.append(data)
    return g

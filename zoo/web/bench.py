"""Scoring agents on the shared benchmark, and timing the harness itself.

    zoo bench agent=oracle suite=miniwob-core episodes=10      -> reports/bench/oracle-miniwob-core.json
    zoo bench checkpoint=runs/strategy2/x/checkpoints/last.ckpt suite=multipage
    zoo bench env contexts=[1,2,4,8] steps=200 repeats=3        -> reports/bench/env_throughput.{json,md}

(also ``python -m zoo.web.bench [env] key=value ...`` without the CLI).  Every task is scored on
the same evaluation seeds ``eval_seed(seed + k)``, disjoint from all training seeds.  Episodes
lost to a browser crash or hang are retried (``retries``) and otherwise scored as failures
with their reason; every failed attempt's error stays in the episode's record
(``attempt_errors``).  Each finished episode is appended to ``<results>.episodes.jsonl`` as it
happens, so an interrupted run loses nothing already recorded, and ``resume=true`` continues it:
the episodes in that file are kept and only the missing (task, seed) pairs are played.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core.errors import ZooError, unknown
from zoo.core.io import atomic_write_text
from zoo.web.agents import OracleAgent, RandomAgent
from zoo.web.jobs import JobQueue, episode_key
from zoo.web.tasks import get_task
from zoo.web.tasks.oracle import ORACLES
from zoo.web.results import build_results, results_table, write_results
from zoo.web.seeds import eval_seed
from zoo.web.suites import resolve_tasks
from zoo.web.trace import Describe, Tracer
from zoo.web.throughput import main as run_throughput
from zoo.web.vector import VecWebEnv

AGENTS = ("random", "oracle", "checkpoint")
DEFAULT_OUT = Path("reports") / "bench"


def evaluate(agent: Any, tasks: list[str], episodes: int, seed: int = 0, num_envs: int = 4,
             max_episode_steps: int = 8, retries: int = 2, step_timeout_s: float = 10.0, headless: bool = True,
             screenshot: bool | None = None, progress: bool = True, log_path: str | os.PathLike | None = None,
             suite: str = "custom", agent_name: str | None = None, browsers: int = 0,
             resume: bool = False, trace: bool | Describe = False, agent_id: str | None = None,
             settle_ms: float = 0.0) -> dict[str, Any]:
    """Run ``episodes`` evaluation episodes of every task and return the results dict (schema in
    zoo/web/results.py).  The envs pull (task, seed) jobs from one fair queue (zoo/web/jobs.py), so
    all envs stay busy, each preferring a job whose page it holds.  ``resume``: keep the episodes
    ``log_path`` already holds (an interrupted run of the same plan) and play only the others.  ``agent_id``
    (e.g. a hash of the weights, zoo/train/scoring.py): written on every logged episode, and on resume an episode
    another agent played (the run was trained further since) is played again, not kept.
    ``trace``: each episode's record also holds its instruction and one line per action (zoo/web/trace.py), or
    with a function ``(action, observation, earlier instructions) -> value``, that value per step."""
    if episodes < 1:
        raise ZooError(f"bad value for episodes: {episodes} (must be >= 1)")
    specs = [get_task(t) for t in tasks]
    plan = [(spec.name, eval_seed(seed + k)) for k in range(episodes) for spec in specs]
    records = recorded_episodes(log_path, set(plan), agent_id) if resume and log_path else []
    done = {(r["task"], r["seed"]) for r in records}
    jobs = JobQueue((job for job in plan if job not in done), window=len(specs))
    kept = len(records)
    total = kept + jobs.total
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        if resume:  # the kept records only: a line torn by the kill is dropped
            atomic_write_text(Path(log_path), "".join(json.dumps(r) + "\n" for r in records))
    log = open(log_path, "a" if resume else "w") if log_path else None  # noqa: SIM115 - closed in finally
    name = agent_name or getattr(agent, "name", type(agent).__name__)
    shots = bool(getattr(agent, "screenshot", False)) if screenshot is None else screenshot

    def next_job(i: int) -> tuple[str, int] | None:
        return jobs.take(i, env.loaded_tasks(i))

    announce = getattr(agent, "start_episode", None)

    def started(state: Any, fresh: np.ndarray) -> None:  # per-episode generators of random agents
        if announce is not None:
            for i in np.flatnonzero(fresh):
                if not env.idle[i] and int(i) in jobs.current:
                    announce(state, int(i), episode_key(*jobs.current[int(i)]))

    n = max(1, min(num_envs, jobs.total))  # the episodes left to play: an env with no job at reset has no observation
    t0 = time.monotonic()
    interrupted = False
    env: Any = None
    env = VecWebEnv(tasks, num_envs=n, max_episode_steps=max_episode_steps, screenshot=shots,
                    screenshot_size=int(getattr(agent, "screenshot_size", 64)), step_timeout_s=step_timeout_s,
                    headless=headless, job_source=next_job, browsers=browsers, settle_ms=settle_ms)
    bar = _progress(progress)
    try:
        with bar:
            task_id = bar.add_task(f"{name}", total=total, completed=len(records))
            obs = env.reset()
            state = agent.reset(n)
            fresh = np.ones(n, bool)
            tracer = (Tracer(n, trace) if callable(trace) else Tracer(n)) if trace else None
            while len(records) < total:
                started(state, fresh)
                actions, state = agent.act(obs, state, fresh)
                if tracer is not None:
                    tracer.step(obs, actions, fresh, env.idle)
                obs, _, terminated, truncated, infos = env.step(actions)
                fresh = terminated | truncated
                requeued = False
                for i, info in enumerate(infos):
                    ep = info.get("episode")
                    if ep is None:
                        continue
                    job = (ep["task"], ep["seed"])
                    steps = tracer.finish(i) if tracer is not None else None
                    if ep.get("error") and jobs.attempts.get(job, 1) <= retries:
                        jobs.retry(job, ep["error"])  # lost to a crash or hang: run the same seed again
                        requeued = True
                        continue
                    if steps is not None:
                        ep = {**ep, "trace": steps}
                    if agent_id is not None:
                        ep = {**ep, "agent_id": agent_id}
                    records.append(jobs.finish(ep))
                    if log:
                        log.write(json.dumps(ep) + "\n")
                        log.flush()
                    wins = sum(r["success"] for r in records)
                    bar.update(task_id, completed=len(records), description=f"{name}: {wins}/{len(records)} solved")
                if requeued:
                    for i in env.wake_idle():
                        fresh[i] = True
                    obs = env.observations
                if all(env.idle) and len(records) < total and not jobs:
                    raise ZooError("evaluation stalled: every env is idle but episodes are missing")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        wall = time.monotonic() - t0
        env_info = {"browser": env.host.version, "executable": env.host.executable, "restarts": env.restarts,
                    "browsers": len(env.hosts), "page_loads": env.page_loads}
        steps = env.env_steps
        env.close()
        if log:
            log.close()
    config = {"episodes": episodes, "seed": seed, "num_envs": n, "max_episode_steps": max_episode_steps,
              "retries": retries, "step_timeout_s": step_timeout_s, "screenshot": shots, "resumed_episodes": kept,
              "agent_id": agent_id}
    timing = {"wall_s": round(wall, 3), "env_steps": steps, "env_steps_per_s": round(steps / wall, 2) if wall else None}
    return build_results(records, [s.name for s in specs], agent=name, suite=suite, config=config, timing=timing,
                         env=env_info, interrupted=interrupted)


def recorded_episodes(log_path: str | os.PathLike, plan: set[tuple[str, int]],
                      agent_id: str | None = None) -> list[dict[str, Any]]:
    """The finished episodes an interrupted run left in its episode log (none if there is no log); a torn
    last line is skipped.  An episode outside this run's plan means the log is another run's: one line.  With
    ``agent_id``, an episode logged under another id (or none) is left out, to be played again, and said so."""
    path = Path(log_path)
    if not path.is_file():
        return []
    out: list[dict[str, Any]] = []
    stale = 0
    for n, line in enumerate(path.read_text().splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the line a kill cut short
        job = (record.get("task"), record.get("seed"))
        if job not in plan:
            raise ZooError(f"cannot resume from {path}: line {n} is episode {job[0]} seed {job[1]}, which this run "
                           "does not plan (another suite, seed or episodes?); resume with the same settings or "
                           "choose another out=")
        if agent_id is not None and record.get("agent_id") != agent_id:
            stale += 1
            continue
        out.append(record)
    if stale:
        print(f"resume {path}: {stale} logged episode(s) were played by other weights than this agent's "
              f"(trained further since?): playing them again", file=sys.stderr)
    return out


def _progress(enabled: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    disable=not enabled, transient=False)


# ---------------------------------------------------------------- zoo bench [harness]
def make_agent(cfg: Any, load_agent: Any = None) -> tuple[Any, str]:
    """(agent, label) from a BenchConfig: agent=random|oracle, or checkpoint=PATH, loaded by ``load_agent(path)``
    (the app hands in the strategy registry's loader: the benchmark knows no strategy)."""
    kind = "checkpoint" if cfg.checkpoint else str(cfg.agent)
    if kind not in AGENTS:
        raise unknown("agent", kind, AGENTS)
    if kind == "random":
        return RandomAgent(seed=int(cfg.seed)), "random"
    if kind == "oracle":
        return OracleAgent(), "oracle"
    if not cfg.checkpoint:
        raise ZooError("agent=checkpoint needs checkpoint=PATH (a run dir's checkpoints/last.ckpt)")
    path = Path(str(cfg.checkpoint))
    if not path.exists():
        raise ZooError(f"checkpoint not found: {path}")
    if load_agent is None:
        raise ZooError("agent=checkpoint needs a checkpoint loader (zoo bench hands in the strategy registry's)")
    agent = load_agent(str(path))
    return agent, getattr(agent, "name", None) or f"checkpoint-{path.parent.parent.name or path.stem}"


def results_path(cfg: Any, label: str, suite: str) -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{label}-{suite}")
    if cfg.out:
        out = Path(str(cfg.out))
        return out if out.suffix == ".json" else out / f"{stem}.json"
    return DEFAULT_OUT / f"{stem}.json"


def main(cfg: Any, load_agent: Any = None) -> dict[str, Any]:
    """``zoo bench agent=random|oracle|checkpoint=PATH suite=... episodes=N``: score, print, write JSON."""
    from rich.console import Console

    tasks = resolve_tasks(str(cfg.suite), list(cfg.tasks or []))
    suite = "custom" if cfg.tasks else str(cfg.suite)
    agent, label = make_agent(cfg, load_agent)
    missing: list[str] = []
    if label == "oracle":
        missing = [t for t in tasks if t not in ORACLES]
        if missing and cfg.tasks:  # named explicitly: say so; a suite's tasks without one are listed and skipped
            raise ZooError(f"no oracle for task(s) {', '.join(missing)}; the oracle covers: {', '.join(sorted(ORACLES))}")
        if missing:
            Console(stderr=True).print(f"no oracle for {len(missing)} task(s) of {suite} (zoo/web/README.md says why), "
                                       f"not scored: {', '.join(missing)}")
            tasks = [t for t in tasks if t not in missing]
        agent = OracleAgent(tasks)  # screenshots only if one of these tasks' oracles reads pixels
    path = results_path(cfg, label, suite)
    results = evaluate(agent, tasks, int(cfg.episodes), seed=int(cfg.seed), num_envs=int(cfg.num_envs),
                       max_episode_steps=int(cfg.max_episode_steps), retries=int(cfg.retries),
                       step_timeout_s=float(cfg.step_timeout_s), headless=bool(cfg.headless),
                       screenshot=True if cfg.screenshot else None, progress=bool(cfg.progress),
                       log_path=path.with_suffix(".episodes.jsonl"), suite=suite, agent_name=label,
                       browsers=int(cfg.browsers), resume=bool(cfg.get("resume", False)),
                       trace=bool(cfg.get("trace", False)), settle_ms=float(cfg.get("settle_ms", 0.0)))
    if missing:
        results["tasks_without_oracle"] = missing
    write_results(path, results)
    console = Console() if Console().is_terminal else Console(width=100)  # logs: no truncated columns
    console.print(results_table(results))
    console.print(f"results: {path}" + ("  (interrupted: partial results)" if results["interrupted"] else ""))
    results["path"] = str(path)
    return results


# ---------------------------------------------------------------- zoo bench env
def throughput_main(cfg: Any) -> dict[str, Any]:
    """``zoo bench env``: the harness against the raw Playwright loop and miniwob's Selenium env,
    interleaved (zoo/web/throughput.py); writes reports/bench/env_throughput.{json,md}."""
    return run_throughput(cfg)

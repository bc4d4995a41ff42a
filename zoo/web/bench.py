"""Scoring agents on the shared benchmark, and timing the harness itself.

    zoo bench agent=oracle suite=miniwob-core episodes=10      -> reports/bench/oracle-miniwob-core.json
    zoo bench checkpoint=runs/strategy2/x/checkpoints/last.ckpt suite=multipage
    zoo bench env contexts=[1,2,4] steps=100                    -> reports/bench/env_throughput.{json,md}

(also ``python -m zoo.web.bench [env] key=value ...`` without the CLI).  Every task is scored on
the same evaluation seeds ``eval_seed(seed + k)``, disjoint from all training seeds.  Episodes
lost to a browser crash or hang are retried (``retries``) and otherwise scored as failures
with their reason; each finished episode is appended to ``<results>.episodes.jsonl`` as it
happens, so an interrupted run loses nothing already recorded.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core.errors import ZooError, unknown
from zoo.web.agents import OracleAgent, RandomAgent
from zoo.web.tasks.oracle import ORACLES
from zoo.web.results import build_results, results_table, write_results
from zoo.web.seeds import eval_seed

AGENTS = ("random", "oracle", "checkpoint")
DEFAULT_OUT = Path("reports") / "bench"


def evaluate(agent: Any, tasks: list[str], episodes: int, seed: int = 0, num_envs: int = 4,
             max_episode_steps: int = 8, retries: int = 2, step_timeout_s: float = 10.0, headless: bool = True,
             screenshot: bool | None = None, progress: bool = True, log_path: str | os.PathLike | None = None,
             suite: str = "custom", agent_name: str | None = None) -> dict[str, Any]:
    """Run ``episodes`` evaluation episodes of every task and return the results dict (schema in
    zoo/web/results.py).  The envs pull (task, seed) jobs from one queue, so all envs stay busy."""
    from zoo.web.tasks import get_task
    from zoo.web.vector import VecWebEnv

    if episodes < 1:
        raise ZooError(f"bad value for episodes: {episodes} (must be >= 1)")
    specs = [get_task(t) for t in tasks]
    jobs = deque((spec.name, eval_seed(seed + k)) for k in range(episodes) for spec in specs)
    total = len(jobs)
    attempts: dict[tuple[str, int], int] = {}
    records: list[dict[str, Any]] = []
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w") if log_path else None  # noqa: SIM115 - closed in finally
    name = agent_name or getattr(agent, "name", type(agent).__name__)
    shots = bool(getattr(agent, "screenshot", False)) if screenshot is None else screenshot

    def next_job(i: int) -> tuple[str, int] | None:
        if not jobs:
            return None
        job = jobs.popleft()
        attempts[job] = attempts.get(job, 0) + 1
        return job

    n = max(1, min(num_envs, total))
    t0 = time.monotonic()
    interrupted = False
    env = VecWebEnv(tasks, num_envs=n, max_episode_steps=max_episode_steps, screenshot=shots,
                    screenshot_size=int(getattr(agent, "screenshot_size", 64)), step_timeout_s=step_timeout_s,
                    headless=headless, job_source=next_job)
    bar = _progress(progress)
    try:
        with bar:
            task_id = bar.add_task(f"{name}", total=total)
            obs = env.reset()
            state = agent.reset(n)
            fresh = np.ones(n, bool)
            while len(records) < total:
                actions, state = agent.act(obs, state, fresh)
                obs, _, terminated, truncated, infos = env.step(actions)
                fresh = terminated | truncated
                requeued = False
                for info in infos:
                    ep = info.get("episode")
                    if ep is None:
                        continue
                    job = (ep["task"], ep["seed"])
                    if ep.get("error") and attempts.get(job, 1) <= retries:
                        jobs.append(job)  # lost to a crash or hang: run the same seed again
                        requeued = True
                        continue
                    ep["attempt"] = attempts.get(job, 1)
                    records.append(ep)
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
        env_info = {"browser": env.host.version, "executable": env.host.executable, "restarts": env.host.restarts}
        steps = env.env_steps
        env.close()
        if log:
            log.close()
    config = {"episodes": episodes, "seed": seed, "num_envs": n, "max_episode_steps": max_episode_steps,
              "retries": retries, "step_timeout_s": step_timeout_s, "screenshot": shots}
    timing = {"wall_s": round(wall, 3), "env_steps": steps, "env_steps_per_s": round(steps / wall, 2) if wall else None}
    return build_results(records, [s.name for s in specs], agent=name, suite=suite, config=config, timing=timing,
                         env=env_info, interrupted=interrupted)


def _progress(enabled: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    disable=not enabled, transient=False)


# ---------------------------------------------------------------- zoo bench [harness]
def make_agent(cfg: Any) -> tuple[Any, str]:
    """(agent, label) from a BenchConfig: agent=random|oracle, or checkpoint=PATH."""
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
    import strategies

    loader = getattr(strategies, "load_agent", None)
    if loader is None:
        raise ZooError("checkpoint agents need strategies.load_agent(path), which is not available yet")
    agent = loader(str(path))
    return agent, getattr(agent, "name", None) or f"checkpoint-{path.parent.parent.name or path.stem}"


def results_path(cfg: Any, label: str, suite: str) -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{label}-{suite}")
    if cfg.out:
        out = Path(str(cfg.out))
        return out if out.suffix == ".json" else out / f"{stem}.json"
    return DEFAULT_OUT / f"{stem}.json"


def main(cfg: Any) -> dict[str, Any]:
    """``zoo bench agent=random|oracle|checkpoint=PATH suite=... episodes=N``: score, print, write JSON."""
    from rich.console import Console

    from zoo.suites import resolve_tasks

    tasks = resolve_tasks(str(cfg.suite), list(cfg.tasks or []))
    suite = "custom" if cfg.tasks else str(cfg.suite)
    agent, label = make_agent(cfg)
    if label == "oracle":
        missing = [t for t in tasks if t not in ORACLES]
        if missing:
            raise ZooError(f"no oracle for task(s) {', '.join(missing)}; the oracle covers: {', '.join(sorted(ORACLES))}")
    path = results_path(cfg, label, suite)
    results = evaluate(agent, tasks, int(cfg.episodes), seed=int(cfg.seed), num_envs=int(cfg.num_envs),
                       max_episode_steps=int(cfg.max_episode_steps), retries=int(cfg.retries),
                       step_timeout_s=float(cfg.step_timeout_s), headless=bool(cfg.headless),
                       screenshot=True if cfg.screenshot else None, progress=bool(cfg.progress),
                       log_path=path.with_suffix(".episodes.jsonl"), suite=suite, agent_name=label)
    write_results(path, results)
    console = Console() if Console().is_terminal else Console(width=100)  # logs: no truncated columns
    console.print(results_table(results))
    console.print(f"results: {path}" + ("  (interrupted: partial results)" if results["interrupted"] else ""))
    results["path"] = str(path)
    return results


# ---------------------------------------------------------------- zoo bench env
def throughput_main(cfg: Any) -> dict[str, Any]:
    """``zoo bench env contexts=[1,2,4] steps=N``: env steps per second of a random agent on the
    suite's tasks with 1, 2, 4 concurrent browser contexts, every setting fed the same job sequence.  Writes reports/bench/env_throughput.{json,md}."""
    from rich.console import Console
    from rich.table import Table

    from zoo.suites import resolve_tasks
    from zoo.web.browser import BrowserHost

    tasks = resolve_tasks(str(cfg.suite), list(cfg.tasks or []))
    counts = [int(c) for c in cfg.contexts]
    if not counts or min(counts) < 1:
        raise ZooError(f"bad value for contexts: {list(cfg.contexts)} (context counts must be >= 1)")
    rows = []
    load_start = round(os.getloadavg()[0], 2)
    keep = BrowserHost.acquire_shared(bool(cfg.headless))  # one Chromium for every setting
    try:
        for contexts in counts:
            rows.append(_time_contexts(cfg, tasks, contexts))
    finally:
        keep.release()
    out_dir = Path(str(cfg.out)) if cfg.out else DEFAULT_OUT
    report = {"schema": "actionzoo.env-throughput/1", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "suite": "custom" if cfg.tasks else str(cfg.suite), "tasks": tasks, "agent": "random",
              "steps_per_setting": int(cfg.steps), "screenshot": bool(cfg.screenshot),
              "machine": {"cpus": os.cpu_count(), "load_avg_1m_start": load_start,
                          "load_avg_1m_end": round(os.getloadavg()[0], 2)}, "results": rows}
    write_results(out_dir / "env_throughput.json", report)
    (out_dir / "env_throughput.md").write_text(_throughput_markdown(report))
    table = Table(title=f"env throughput ({report['suite']}, random agent, {cfg.steps} vector steps)")
    for col in ("contexts", "env steps/s", "ms / vector step", "episodes"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["contexts"]), f"{r['env_steps_per_s']:.1f}", f"{r['ms_per_vector_step']:.1f}", str(r["episodes"]))
    Console().print(table)
    report["path"] = str(out_dir / "env_throughput.json")
    return report


class _SharedJobs:
    """One fixed (task, seed) sequence for every timing setting: task ``k % len(tasks)`` with
    training seed ``seed + k // len(tasks)``, handed out in order to whichever context is free
    (as ``evaluate`` does), so 1, 2 and 4 contexts all run the same round-robin mix of the suite."""

    def __init__(self, tasks: list[str], seed: int):
        self.tasks, self.seed, self.k = list(tasks), int(seed), 0
        self.started: dict[str, int] = dict.fromkeys(self.tasks, 0)
        self.current: dict[int, tuple[str, int]] = {}  # context -> its episode's (task, seed); observations carry no seed

    def __call__(self, i: int) -> tuple[str, int]:
        from zoo.web.seeds import train_seed

        task = self.tasks[self.k % len(self.tasks)]
        seed = train_seed(self.seed + self.k // len(self.tasks))
        self.k += 1
        self.started[task] += 1
        self.current[i] = (task, seed)
        return task, seed


class _EpisodeSeededRandom:
    """The random agent with its generator re-seeded from (task, seed) at every episode start, so
    one episode gets the same actions whichever context runs it and however many run at once."""

    name = "random"

    def __init__(self, seed: int, jobs: _SharedJobs):
        self.seed, self.jobs = int(seed), jobs

    def reset(self, n_envs: int) -> list[RandomAgent | None]:
        return [None] * n_envs

    def act(self, observations: Any, state: list[Any], done_mask: np.ndarray) -> tuple[list[Any], list[Any]]:
        import zlib

        actions = []
        for i, obs in enumerate(observations):
            if done_mask[i] or state[i] is None:
                task, seed = self.jobs.current[i]
                state[i] = RandomAgent(seed=zlib.crc32(f"{self.seed}/{task}/{seed}".encode()))
            actions.append(state[i]._one(obs))
        return actions, state


def _time_contexts(cfg: Any, tasks: list[str], contexts: int) -> dict[str, Any]:
    """Env steps per second of a random agent on ``contexts`` concurrent contexts (resets included),
    all contexts fed from one shared job sequence that is the same for every setting."""
    from zoo.web.vector import VecWebEnv

    jobs = _SharedJobs(tasks, int(cfg.seed))
    agent = _EpisodeSeededRandom(int(cfg.seed), jobs)
    with VecWebEnv(tasks, num_envs=contexts, max_episode_steps=int(cfg.max_episode_steps), screenshot=bool(cfg.screenshot),
                   step_timeout_s=float(cfg.step_timeout_s), headless=bool(cfg.headless), share_browser=True,
                   job_source=jobs) as env:
        obs = env.reset()
        state = agent.reset(contexts)
        fresh = np.ones(contexts, bool)
        for _ in range(3):  # warm-up: first page loads of every context
            actions, state = agent.act(obs, state, fresh)
            obs, _, te, tr, _ = env.step(actions)
            fresh = te | tr
        steps0, episodes, t0 = env.env_steps, 0, time.perf_counter()
        started0 = dict(jobs.started)
        for _ in range(int(cfg.steps)):
            actions, state = agent.act(obs, state, fresh)
            obs, _, te, tr, _ = env.step(actions)
            fresh = te | tr
            episodes += int(fresh.sum())
        wall = time.perf_counter() - t0
        n = env.env_steps - steps0
        mix = {t: jobs.started[t] - started0[t] for t in tasks}
        return {"contexts": contexts, "env_steps": n, "episodes": episodes, "wall_s": round(wall, 3),
                "env_steps_per_s": round(n / wall, 2), "ms_per_vector_step": round(1000 * wall / int(cfg.steps), 2),
                "episodes_started": mix, "tasks_covered": sum(v > 0 for v in mix.values()),
                "browser": env.host.version}


def _throughput_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Env throughput ({report['created']})", "",
             f"Random agent on `{report['suite']}` ({len(report['tasks'])} tasks), {report['steps_per_setting']} vector "
             f"steps per setting (episode resets included), screenshots {'on' if report['screenshot'] else 'off'}, one "
             "Chromium with one context per env. Every setting draws its episodes from the same shared job sequence "
             "(the suite's tasks round-robin, fixed training seeds, handed to whichever context is free) and the random "
             "agent is re-seeded per (task, seed), so each setting runs the same task mix with the same actions; "
             "`tasks covered` counts the suite's tasks started during the timed steps. Round-robin means almost "
             "every new episode moves its context to another task's page (a page load), which dominates these "
             "figures; an env that keeps one task resets in place and steps several times faster (a training run "
             "logs its own rate as train/env_steps_per_s). Machine: "
             f"{report['machine']['cpus']} CPUs, 1-min load average "
             f"{report['machine']['load_avg_1m_start']} at the start and {report['machine']['load_avg_1m_end']} at the end "
             "(the load counts the benchmark's own Chromium processes as well as anything else running).", "",
             "| contexts | env steps/s | ms per vector step | episodes finished | tasks covered |",
             "|---:|---:|---:|---:|---:|"]
    for r in report["results"]:
        lines.append(f"| {r['contexts']} | {r['env_steps_per_s']:.1f} | {r['ms_per_vector_step']:.1f} | {r['episodes']} "
                     f"| {r['tasks_covered']}/{len(report['tasks'])} |")
    m = report["machine"]
    if m["cpus"] and min(m["load_avg_1m_start"], m["load_avg_1m_end"]) > m["cpus"]:
        lines += ["", f"The load average stayed above the {m['cpus']} CPUs throughout: the CPUs were saturated (by "
                  "the browsers' renderer processes themselves, or by other jobs), so more contexts could not add "
                  "throughput on this machine; each context's renderer needs a core of its own to scale."]
    return "\n".join(lines) + "\n"


def _cli(argv: list[str]) -> None:
    from zoo.config import parse_tool_config
    from zoo.schema.tools import BenchConfig

    args = list(argv)
    which = args.pop(0) if args and "=" not in args[0] else "harness"
    if which not in ("harness", "env"):
        raise unknown("bench target", which, ("harness", "env"))
    cfg = parse_tool_config(BenchConfig, args)
    (throughput_main if which == "env" else main)(cfg)


if __name__ == "__main__":
    try:
        _cli(sys.argv[1:])
    except ZooError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)

"""``zoo bench env``: how fast the harness steps, against the ceilings, in one interleaved run.

    zoo bench env                                   -> reports/bench/env_throughput.{json,md}
    zoo bench env contexts=[1,2,4,8] steps=200 repeats=3 single_task=click-button suite=miniwob-core

Settings, every one timed ``repeats`` times with the repetitions interleaved (setting A, B, C, ...,
then ..., C, B, A, then A, B, C again), so a change in machine load hits all settings alike and no
setting always follows the same (loaded) one:

- ``harness/single``: VecWebEnv, every context on ``single_task``; ``harness/mixed``: the suite's
  tasks from one fair round-robin job queue (zoo/web/jobs.py); both with one browser and, above one
  context, with one browser per context (``browsers``).  Random agent with a generator per episode.
  Every context has loaded its tasks' pages before the clock starts (``VecWebEnv.preload``; the
  time that took is reported as ms per page load), so these are steady-state rates.
- ``async/single``, ``async/mixed`` (above one context): the harness with one browser per context
  and no lock step: every env is its own group (``VecWebEnv.step_async``), so no context waits for
  another's answer; each env goes through the suite on its own task rotation.
- ``raw+obs`` (at every context count): the fair ceiling (the issue-13 goal's reference): no harness, one asyncio loop driving
  the pages directly, on the harness's own browser and context set-up with its page helper
  (js/observe.js); one ``page.evaluate`` of ``__zoo.step`` per step (act, tick, observe, as the harness
  does), an episode start in one evaluate; the harness's random policy applied to the raw rows, so
  it plays episodes of the same length and does the same page work (zoo/web/raw_loop.py).
- ``raw`` / ``raw+dom``: the older, lighter loops: one ``page.evaluate`` per step that clicks a random
  element of the task area by JS (any element, not only actionable ones, so its episodes run about
  twice as long) and returns the episode status (and, for ``raw+dom``,
  ``JSON.stringify(core.getDOMInfo())``); reset ``Math.seedrandom(s); core.startEpisodeReal()`` in
  place.  ``raw+dom/mixed``: the same over the mixed suite, one preloaded page per task in every
  context, the tasks in turn: what the pages themselves cost.  ``raw+obs/mixed``: ``raw+obs`` over the
  mixed suite the same way: what the harness's page work costs on those pages (the mixed goal's ceiling).
- ``selenium``: miniwob's own gymnasium env (Selenium + chromedriver, one instance), random
  element clicks, when ``/usr/bin/chromedriver`` (or ``$MINIWOB_CHROMEDRIVER``) exists.

Rates are env steps per second with episode resets included (``max_episode_steps`` cut-off).
Each timing also records the CPU time its own process tree spent (Python, Playwright drivers,
browsers, renderers; read from /proc) per env step and as cores used: other users' load does not
enter it, so it shows the harness's own cost on a machine too busy for steady wall-clock rates.  The
CPU time is also split by process kind (python, driver, browser, renderer, other; zoo/web/proc_cpu.py;
/proc counts in 10 ms ticks, so a 200-step timing resolves 0.05 ms per step).
The report carries the command line and ``uptime`` before and after every repetition.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from zoo.core.errors import ZooError
from zoo.web.agents import RandomAgent
from zoo.web.jobs import JobQueue, episode_key
from zoo.web.proc_cpu import cpu_fields, cpu_used, cpu_used_by_kind, stat_cpu, tree_cpu_s  # noqa: F401 - re-exported
from zoo.web.raw_loop import time_raw
from zoo.web.results import write_results
from zoo.web.seeds import train_seed
from zoo.web.suites import resolve_tasks
from zoo.web.throughput_report import markdown, summarise
from zoo.web.vector import VecWebEnv

SCHEMA = "actionzoo.env-throughput/2"
CHROMEDRIVER = "/usr/bin/chromedriver"
RAW_MODES = {"raw": "bare", "raw+dom": "dom", "raw+dom/mixed": "dom", "raw+obs": "observe",  # row -> raw_loop mode
             "raw+obs/mixed": "observe"}


def _jobs(tasks: list[str], seed: int, rounds: int = 2000) -> Any:
    return JobQueue(((t, train_seed(seed + k)) for k in range(rounds) for t in tasks), window=len(tasks))


def _measure(env: Any, env_steps: int, begin: Callable[[], tuple[Callable[[], int], Callable[[], None]]]
             ) -> dict[str, Any]:
    """The timing both harness rows share: load every context's pages, ``begin()`` the episodes (it
    returns ``step``, one round that returns the episodes it ended, and ``drain``, which settles
    what is still in flight), two warm-up rounds, then rounds until ``env_steps`` more env steps."""
    t0 = time.perf_counter()
    env.preload()
    preload_s = time.perf_counter() - t0
    loads0 = env.page_loads
    step, drain = begin()
    for _ in range(2):
        step()
    steps0, loads1, episodes = env.env_steps, env.page_loads, 0
    cpu0, t0 = tree_cpu_s(), time.perf_counter()
    while env.env_steps - steps0 < env_steps:
        episodes += step()
    wall = time.perf_counter() - t0
    cpu = cpu_used_by_kind(cpu0, tree_cpu_s())
    n = env.env_steps - steps0
    drain()  # steps still in flight after the clock stopped are not counted
    return {"env_steps": n, "wall_s": round(wall, 3), "env_steps_per_s": round(n / wall, 2), "episodes": episodes,
            "page_loads_timed": env.page_loads - loads1, "restarts": env.restarts,
            "ms_per_page_load": round(1000 * preload_s / max(1, loads0), 1), **cpu_fields(cpu, n, wall)}


def time_harness(tasks: list[str], contexts: int, browsers: int, env_steps: int, *, seed: int = 0,
                 max_episode_steps: int = 8, step_timeout_s: float = 10.0, headless: bool = True,
                 screenshot: bool = False) -> dict[str, Any]:
    """Steady-state env steps/s of a random agent on ``contexts`` contexts over ``browsers`` browsers."""
    jobs = _jobs(tasks, seed)
    agent = RandomAgent(seed=seed)
    env: Any = None
    env = VecWebEnv(tasks, num_envs=contexts, browsers=browsers, max_episode_steps=max_episode_steps,
                    screenshot=screenshot, step_timeout_s=step_timeout_s, headless=headless,
                    pages_per_context=max(16, len(tasks)), job_source=lambda i: jobs.take(i, env.loaded_tasks(i)))

    def begin() -> tuple[Callable[[], int], Callable[[], None]]:
        obs = env.reset()
        state = agent.reset(contexts)
        fresh = np.ones(contexts, bool)

        def vector_step() -> int:
            nonlocal obs, state, fresh
            for i in np.flatnonzero(fresh):
                agent.start_episode(state, int(i), episode_key(*jobs.current[int(i)]))
            actions, state = agent.act(obs, state, fresh)
            obs, _, te, tr, _ = env.step(actions)
            fresh = te | tr
            return int(fresh.sum())

        return vector_step, lambda: None

    with env:
        result = _measure(env, env_steps, begin)
    started = {t: 0 for t in tasks}
    for _, (t, _) in jobs.handed:
        started[t] += 1
    return {**result, "tasks_started": sum(v > 0 for v in started.values())}


def time_harness_async(tasks: list[str], contexts: int, env_steps: int, *, seed: int = 0, max_episode_steps: int = 8,
                       step_timeout_s: float = 10.0, headless: bool = True, screenshot: bool = False) -> dict[str, Any]:
    """Like ``time_harness`` with one browser per context, but no context waits for another: each
    env is its own group (``VecWebEnv.step_async``), taken in turn while every other env's step stays
    in flight, as the raw loop's contexts run.  Each env goes through the tasks on its own rotation
    (no shared job queue: its order would depend on which env answered first)."""
    agent = RandomAgent(seed=seed)
    env = VecWebEnv(tasks, num_envs=contexts, browsers=contexts, max_episode_steps=max_episode_steps,
                    screenshot=screenshot, step_timeout_s=step_timeout_s, headless=headless,
                    pages_per_context=max(16, len(tasks)))

    def begin() -> tuple[Callable[[], int], Callable[[], None]]:
        obs = env.reset([train_seed(seed + i) for i in range(contexts)])
        states = [agent.reset(1) for _ in range(contexts)]
        begun = [0] * contexts  # episodes begun per env: its random stream's key

        def send(i: int, fresh: bool) -> Any:
            if fresh:
                agent.start_episode(states[i], 0, i * 1_000_000 + begun[i])
                begun[i] += 1
            (action,), states[i] = agent.act([obs[i]], states[i], np.array([fresh]))
            return env.step_async([action], envs=[i])

        pending = [send(i, True) for i in range(contexts)]

        def round_robin() -> int:
            ended = 0
            for i in range(contexts):
                (o,), _, te, tr, _ = env.step_wait(pending[i])
                obs[i], done = o, bool(te[0] or tr[0])
                pending[i] = send(i, done)
                ended += int(done)
            return ended

        def drain() -> None:
            for p in pending:
                env.step_wait(p)

        return round_robin, drain

    with env:
        return _measure(env, env_steps, begin)


def chromedriver() -> str | None:
    path = os.environ.get("MINIWOB_CHROMEDRIVER") or CHROMEDRIVER
    return path if Path(path).exists() else None


def time_selenium(task: str, env_steps: int, *, seed: int = 0, max_episode_steps: int = 8) -> dict[str, Any]:
    """miniwob's reference gymnasium env (Selenium): random element clicks, episode resets included."""
    os.environ.setdefault("MINIWOB_CHROME_BINARY", "/usr/bin/chromium")
    os.environ.setdefault("MINIWOB_CHROMEDRIVER", chromedriver() or CHROMEDRIVER)
    import gymnasium
    import miniwob
    from miniwob.action import ActionTypes

    gymnasium.register_envs(miniwob)
    env = gymnasium.make(f"miniwob/{task}-v1")
    try:
        rng = np.random.default_rng(seed)
        s = seed
        obs, _ = env.reset(seed=s)
        n, done, cpu0, t0 = 0, 0, tree_cpu_s(), time.perf_counter()
        while n < env_steps:
            refs = [e["ref"] for e in obs["dom_elements"]]
            action = env.unwrapped.create_action(ActionTypes.CLICK_ELEMENT, ref=int(rng.choice(refs)))
            obs, _, term, trunc, _ = env.step(action)
            n, done = n + 1, done + 1
            if term or trunc or done >= max_episode_steps:
                s, done = s + 1, 0
                obs, _ = env.reset(seed=s)
        wall = time.perf_counter() - t0
        cpu = cpu_used_by_kind(cpu0, tree_cpu_s())
        return {"env_steps": n, "wall_s": round(wall, 3), "env_steps_per_s": round(n / wall, 2), **cpu_fields(cpu, n, wall)}
    finally:
        env.close()


def settings(single: str, mixed: list[str], counts: list[int], selenium: bool) -> list[dict[str, Any]]:
    """Every timed setting, in the order each repetition runs them."""
    out: list[dict[str, Any]] = []
    for c in counts:
        for browsers in sorted({1, c}):
            out.append({"name": "harness/single", "contexts": c, "browsers": browsers, "tasks": [single]})
            out.append({"name": "harness/mixed", "contexts": c, "browsers": browsers, "tasks": list(mixed)})
        if c > 1:  # one context has nothing to wait for: the same as harness/*
            out.append({"name": "async/single", "contexts": c, "browsers": c, "tasks": [single]})
            out.append({"name": "async/mixed", "contexts": c, "browsers": c, "tasks": list(mixed)})
        out.append({"name": "raw+obs", "contexts": c, "browsers": 1, "tasks": [single]})
        out.append({"name": "raw+obs/mixed", "contexts": c, "browsers": 1, "tasks": list(mixed)})
        out.append({"name": "raw+dom", "contexts": c, "browsers": 1, "tasks": [single]})
        out.append({"name": "raw+dom/mixed", "contexts": c, "browsers": 1, "tasks": list(mixed)})
    out.append({"name": "raw", "contexts": 1, "browsers": 1, "tasks": [single]})
    if selenium:
        out.append({"name": "selenium", "contexts": 1, "browsers": 1, "tasks": [single]})
    return out


def order_for(plan: list[dict[str, Any]], rep: int) -> list[dict[str, Any]]:
    """Repetition ``rep``'s order: the plan forwards on even repetitions, backwards on odd ones, so no setting
    always runs right after the most loaded ones (the previous repetition's 8 contexts) and the position in a
    repetition does not favour one side of a ratio."""
    return list(plan) if rep % 2 == 0 else list(reversed(plan))


def run_setting(s: dict[str, Any], cfg: Any, rep: int) -> dict[str, Any]:
    steps = max(int(cfg.steps), 40 * s["contexts"])
    seed = int(cfg.seed) + 1000 * rep
    common = dict(seed=seed, max_episode_steps=int(cfg.max_episode_steps))
    if s["name"].startswith("async"):
        return time_harness_async(s["tasks"], s["contexts"], steps, step_timeout_s=float(cfg.step_timeout_s),
                                  headless=bool(cfg.headless), screenshot=bool(cfg.screenshot), **common)
    if s["name"].startswith("harness"):
        return time_harness(s["tasks"], s["contexts"], s["browsers"], steps, step_timeout_s=float(cfg.step_timeout_s),
                            headless=bool(cfg.headless), screenshot=bool(cfg.screenshot), **common)
    if s["name"] == "selenium":
        return time_selenium(s["tasks"][0], min(steps, 120), **common)
    return time_raw(s["tasks"], s["contexts"], steps, RAW_MODES[s["name"]], headless=bool(cfg.headless), **common)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _uptime() -> str:
    """``uptime``'s line (load averages over 1, 5 and 15 minutes) for the report."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def command(cfg: Any) -> str:
    """The ``zoo bench env`` command line that reproduces this run's settings."""
    parts = ["zoo bench env", f"contexts=[{','.join(str(int(c)) for c in cfg.contexts)}]", f"steps={int(cfg.steps)}",
             f"repeats={int(getattr(cfg, 'repeats', 3))}", f"max_episode_steps={int(cfg.max_episode_steps)}"]
    parts += [f"tasks=[{','.join(cfg.tasks)}]"] if cfg.tasks else [f"suite={cfg.suite}"]
    if getattr(cfg, "single_task", None):
        parts.append(f"single_task={cfg.single_task}")
    parts += [f"seed={int(cfg.seed)}"] if int(cfg.seed) else []
    parts += ["screenshot=true"] if bool(cfg.screenshot) else []
    parts += ["selenium=false"] if not bool(getattr(cfg, "selenium", True)) else []
    parts += [f"out={cfg.out}"] if cfg.out else []
    return " ".join(parts)


def main(cfg: Any) -> dict[str, Any]:
    """Time every setting ``repeats`` times, interleaved; write the JSON and markdown reports."""
    from rich.console import Console

    mixed = resolve_tasks(str(cfg.suite), list(cfg.tasks or []))
    counts = [int(c) for c in cfg.contexts]
    if not counts or min(counts) < 1:
        raise ZooError(f"bad value for contexts: {list(cfg.contexts)} (context counts must be >= 1)")
    repeats = int(getattr(cfg, "repeats", 3))
    if repeats < 1:
        raise ZooError(f"bad value for repeats: {repeats} (must be >= 1)")
    single = str(getattr(cfg, "single_task", None) or mixed[0])
    use_selenium = bool(getattr(cfg, "selenium", True)) and chromedriver() is not None
    plan = settings(single, mixed, counts, use_selenium)
    console = Console()
    loads, uptime = [_load()], [_uptime()]
    runs: list[dict[str, Any]] = []
    out_dir = Path(str(cfg.out)) if cfg.out else Path("reports") / "bench"
    report: dict[str, Any] = {}
    for rep in range(repeats):
        for s in order_for(plan, rep):
            r = {**{k: v for k, v in s.items() if k != "tasks"}, "repeat": rep, "load_avg_1m_before": _load()}
            try:
                r.update(run_setting(s, cfg, rep))
            except Exception as err:  # noqa: BLE001 - one failed setting is reported, the rest still run
                r["error"] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            runs.append(r)
            rate = r.get("env_steps_per_s")
            console.print(f"[{rep + 1}/{repeats}] {s['name']:15s} contexts={s['contexts']} browsers={s['browsers']}: "
                          + (f"{rate:.1f} env steps/s" if rate is not None else r["error"]))
        loads.append(_load())
        uptime.append(_uptime())
        # written after every repetition: an interrupted run keeps the repetitions it finished
        report = {"schema": SCHEMA, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "suite": "custom" if cfg.tasks else str(cfg.suite), "mixed_tasks": mixed, "single_task": single,
                  "contexts": counts, "repeats": rep + 1, "repeats_planned": repeats, "steps": int(cfg.steps),
                  "max_episode_steps": int(cfg.max_episode_steps), "screenshot": bool(cfg.screenshot),
                  "selenium": use_selenium, "command": command(cfg),
                  "machine": {"cpus": os.cpu_count(), "load_avg_1m": list(loads),
                              "load_avg_1m_median": statistics.median(loads), "uptime": list(uptime)},
                  "runs": list(runs)}
        report.update(summarise(report))
        write_results(out_dir / "env_throughput.json", report)
        (out_dir / "env_throughput.md").write_text(markdown(report))
    report["path"] = str(out_dir / "env_throughput.json")
    console.print(f"report: {out_dir / 'env_throughput.md'}")
    return report

"""``zoo bench env``: how fast the harness steps, against the ceilings, in one interleaved run.

    zoo bench env                                   -> reports/bench/env_throughput.{json,md}
    zoo bench env contexts=[1,2,4,8] steps=200 repeats=3 single_task=click-button suite=miniwob-core

Settings, every one timed ``repeats`` times with the repetitions interleaved (setting A, B, C, ...,
then A, B, C again), so a change in machine load hits all settings alike:

- ``harness/single``: VecWebEnv, every context on ``single_task``; ``harness/mixed``: the suite's
  tasks from one fair round-robin job queue (zoo/web/jobs.py); both with one browser and, above one
  context, with one browser per context (``browsers``).  Random agent with a generator per episode.
  Every context has loaded its tasks' pages before the clock starts (``VecWebEnv.preload``; the
  time that took is reported as ms per page load), so these are steady-state rates.
- ``raw`` / ``raw+dom``: the ceiling: one page per context in one browser, one ``page.evaluate`` per
  step that clicks a random element of the task area by JS and returns the episode status (and,
  for ``raw+dom``, ``JSON.stringify(core.getDOMInfo())``); reset ``Math.seedrandom(s);
  core.startEpisodeReal()`` in place.  ``raw+dom/mixed``: the same over the mixed suite, one
  preloaded page per task in every context, the tasks in turn: what the pages themselves cost.
- ``selenium``: miniwob's own gymnasium env (Selenium + chromedriver, one instance), random
  element clicks, when ``/usr/bin/chromedriver`` (or ``$MINIWOB_CHROMEDRIVER``) exists.

Rates are env steps per second with episode resets included (``max_episode_steps`` cut-off).
Each timing also records the CPU time its own process tree spent (Python, Playwright drivers,
browsers, renderers; read from /proc) per env step and as cores used: other users' load does not
enter it, so it shows the harness's own cost on a machine too busy for steady wall-clock rates.
The report carries the command line and ``uptime`` before and after every repetition.
"""
from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core.errors import ZooError
from zoo.web.agents import RandomAgent
from zoo.web.browser import CHROMIUM_ARGS, DEFAULT_CHROMIUM, LoopThread, VIEWPORT
from zoo.web.jobs import JobQueue, episode_key
from zoo.web.results import write_results
from zoo.web.seeds import train_seed
from zoo.web.site import Site
from zoo.web.suites import resolve_tasks
from zoo.web.tasks import get_task
from zoo.web.throughput_report import markdown, summarise
from zoo.web.vector import VecWebEnv

SCHEMA = "actionzoo.env-throughput/2"
CHROMEDRIVER = "/usr/bin/chromedriver"
RAW_RESET_JS = "(s) => { Math.seedrandom(s); core.startEpisodeReal(); return WOB_TASK_READY !== false; }"
RAW_STEP_JS = """([u, dom]) => {
  const els = Array.from(document.querySelectorAll('#area *'));
  if (els.length) els[Math.floor(u * els.length)].click();
  const out = {done: !!WOB_DONE_GLOBAL, reward: WOB_RAW_REWARD_GLOBAL};
  if (dom) out.dom = core.getDOMInfo();
  return JSON.stringify(out);
}"""


def stat_cpu(stat: str, ticks: float) -> tuple[int, float]:
    """(parent pid, CPU seconds user + system) from a ``/proc/<pid>/stat`` line (the name may hold spaces
    and parentheses: the fields start after its last ')')."""
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def tree_cpu_s(root: int | None = None) -> dict[int, float]:
    """CPU seconds so far of ``root`` (default: this process: the harness, its loop thread and the
    Playwright driver it talks to) and every process below it (drivers, browsers, renderers), by pid.
    Other users' processes are not below it, so a loaded machine does not inflate it.  {} without /proc."""
    root = os.getpid() if root is None else root
    ticks = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    try:
        pids = [int(d) for d in os.listdir("/proc") if d.isdigit()]
    except OSError:
        return {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent[pid], cpu[pid] = stat_cpu(f.read(), ticks)
        except (OSError, ValueError, IndexError):
            continue
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in cpu:
            out[pid] = cpu[pid]
        todo += children.get(pid, [])
    return out


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two ``tree_cpu_s`` readings (a process started in between counts from 0;
    one that ended in between is lost)."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def _cpu_fields(cpu_s: float, steps: int, wall: float) -> dict[str, Any]:
    return {"cpu_ms_per_step": round(1000 * cpu_s / max(1, steps), 3), "cpu_cores_used": round(cpu_s / wall, 3)}


def _jobs(tasks: list[str], seed: int, rounds: int = 2000) -> Any:
    return JobQueue(((t, train_seed(seed + k)) for k in range(rounds) for t in tasks), window=len(tasks))


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
    with env:
        t0 = time.perf_counter()
        env.preload()
        preload_s = time.perf_counter() - t0
        loads0 = env.page_loads
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

        for _ in range(2):
            vector_step()
        steps0, loads1, episodes = env.env_steps, env.page_loads, 0
        cpu0, t0 = tree_cpu_s(), time.perf_counter()
        while env.env_steps - steps0 < env_steps:
            episodes += vector_step()
        wall = time.perf_counter() - t0
        cpu = cpu_used(cpu0, tree_cpu_s())
        n = env.env_steps - steps0
        started = {t: 0 for t in tasks}
        for _, (t, _) in jobs.handed:
            started[t] += 1
        return {"env_steps": n, "wall_s": round(wall, 3), "env_steps_per_s": round(n / wall, 2), "episodes": episodes,
                "page_loads_timed": env.page_loads - loads1, "restarts": env.restarts,
                "ms_per_page_load": round(1000 * preload_s / max(1, loads0), 1),
                "tasks_started": sum(v > 0 for v in started.values()), **_cpu_fields(cpu, n, wall)}


async def _raw(tasks: list[str], contexts: int, env_steps: int, dom: bool, seed: int, max_episode_steps: int,
               headless: bool) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    urls = [get_task(t).url for t in tasks]
    exe = os.environ.get("ZOO_CHROMIUM") or (DEFAULT_CHROMIUM if Path(DEFAULT_CHROMIUM).exists() else None)
    pw = await async_playwright().start()
    browser = await pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=headless)
    try:
        site = Site()
        async def open_context() -> list[Any]:  # one page per task
            ctx = await browser.new_context(viewport=VIEWPORT)
            await site.attach(ctx)
            mine = []
            for url in urls:
                page = await ctx.new_page()
                await page.goto(url, wait_until="load")
                mine.append(page)
            return mine

        pages = await asyncio.gather(*(open_context() for _ in range(contexts)))
        per = max(1, env_steps // contexts)

        async def loop(k: int, mine: list[Any], steps: int) -> tuple[int, int]:
            import json

            rng = np.random.default_rng([seed, k])
            s, done, count, turn, ended = seed * 1000 + k * 100000, 0, 0, k, 0
            page = mine[turn % len(mine)]
            await page.evaluate(RAW_RESET_JS, s)
            for _ in range(steps):
                out = json.loads(await page.evaluate(RAW_STEP_JS, [float(rng.random()), dom]))
                count += 1
                done += 1
                if out["done"] or done >= max_episode_steps:
                    s, done, turn, ended = s + 1, 0, turn + 1, ended + 1
                    page = mine[turn % len(mine)]
                    await page.evaluate(RAW_RESET_JS, s)
            return count, ended

        await asyncio.gather(*(loop(k, p, 3) for k, p in enumerate(pages)))  # warm-up
        cpu0, t0 = tree_cpu_s(), time.perf_counter()
        counts = await asyncio.gather(*(loop(k, p, per) for k, p in enumerate(pages)))
        wall = time.perf_counter() - t0
        cpu = cpu_used(cpu0, tree_cpu_s())
        n = sum(c for c, _ in counts)
        return {"env_steps": n, "wall_s": round(wall, 3), "env_steps_per_s": round(n / wall, 2),
                "episodes": sum(e for _, e in counts), **_cpu_fields(cpu, n, wall)}
    finally:
        await browser.close()
        await pw.stop()


def time_raw(tasks: list[str], contexts: int, env_steps: int, dom: bool, *, seed: int = 0, max_episode_steps: int = 8,
             headless: bool = True) -> dict[str, Any]:
    """The raw Playwright loop's env steps/s (the ceiling the harness is compared with)."""
    return LoopThread.shared().run(_raw(tasks, contexts, env_steps, dom, seed, max_episode_steps, headless), timeout=600)


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
        cpu = cpu_used(cpu0, tree_cpu_s())
        return {"env_steps": n, "wall_s": round(wall, 3), "env_steps_per_s": round(n / wall, 2), **_cpu_fields(cpu, n, wall)}
    finally:
        env.close()


def settings(single: str, mixed: list[str], counts: list[int], selenium: bool) -> list[dict[str, Any]]:
    """Every timed setting, in the order each repetition runs them."""
    out: list[dict[str, Any]] = []
    for c in counts:
        for browsers in sorted({1, c}):
            out.append({"name": "harness/single", "contexts": c, "browsers": browsers, "tasks": [single]})
            out.append({"name": "harness/mixed", "contexts": c, "browsers": browsers, "tasks": list(mixed)})
        out.append({"name": "raw+dom", "contexts": c, "browsers": 1, "tasks": [single]})
        out.append({"name": "raw+dom/mixed", "contexts": c, "browsers": 1, "tasks": list(mixed)})
    out.append({"name": "raw", "contexts": 1, "browsers": 1, "tasks": [single]})
    if selenium:
        out.append({"name": "selenium", "contexts": 1, "browsers": 1, "tasks": [single]})
    return out


def run_setting(s: dict[str, Any], cfg: Any, rep: int) -> dict[str, Any]:
    steps = max(int(cfg.steps), 40 * s["contexts"])
    seed = int(cfg.seed) + 1000 * rep
    common = dict(seed=seed, max_episode_steps=int(cfg.max_episode_steps))
    if s["name"].startswith("harness"):
        return time_harness(s["tasks"], s["contexts"], s["browsers"], steps, step_timeout_s=float(cfg.step_timeout_s),
                            headless=bool(cfg.headless), screenshot=bool(cfg.screenshot), **common)
    if s["name"] == "selenium":
        return time_selenium(s["tasks"][0], min(steps, 120), **common)
    return time_raw(s["tasks"], s["contexts"], steps, s["name"].startswith("raw+dom"), headless=bool(cfg.headless), **common)


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
        for s in plan:
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

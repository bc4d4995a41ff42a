"""The raw Playwright loops ``zoo bench env`` compares the harness with (no VecWebEnv, no Slot, no
Observation objects, no loop thread hand-over: one asyncio loop driving the pages directly).

Every loop keeps one page per task in each of its contexts (one browser), resets an episode in
place and counts env steps with episode resets included (``max_episode_steps`` cut-off):

- ``bare`` (row ``raw``): one ``page.evaluate`` per step that clicks a uniformly drawn element of
  ``#area`` by JS (``el.click()``, no pointer events, no tick) and returns the episode status.
- ``dom`` (row ``raw+dom``): the same, and the evaluate also returns
  ``JSON.stringify(core.getDOMInfo())`` (miniwob's own DOM dump), parsed in Python.
- ``observe`` (row ``raw+obs``, the fair ceiling): the harness's own page work without the harness.
  Its browser and contexts are set up as the harness's (zoo.web.browser.BrowserHost: the same flags
  and the page helper js/observe.js as an init script); an episode starts
  with one evaluate (seed, start, one zero-delay tick, ``__zoo.observe``) and every element step is
  one evaluate of ``__zoo.step`` (act as the harness acts, tick, observe; a JSON string parsed in
  Python); a key press is ``keyboard.press`` then one observe, as in the harness.  The policy is the
  harness's random agent (zoo.web.agents.RandomAgent) over the observation's rows: the same noop
  and key probabilities and keys, uniform over actionable visible elements, an instruction span
  into text fields, a random option of a select.  So both sides play episodes of the same length
  distribution and differ only in what the harness adds in Python.  It does not wait out navigations
  (the harness does): it is the reference for single-page tasks such as the bench's ``single_task``.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from zoo.web.agents import RandomAgent, random_draw
from zoo.web.browser import CHROMIUM_ARGS, DEFAULT_CHROMIUM, VIEWPORT, BrowserHost, LoopThread
from zoo.web.proc_cpu import cpu_fields, cpu_used_by_kind, tree_cpu_s
from zoo.web.site import Site
from zoo.web.tasks import get_task
from zoo.web.types import is_typable

MODES = ("bare", "dom", "observe")
RAW_RESET_JS = "(s) => { Math.seedrandom(s); core.startEpisodeReal(); return WOB_TASK_READY !== false; }"
RAW_STEP_JS = """([u, dom]) => {
  const els = Array.from(document.querySelectorAll('#area *'));
  if (els.length) els[Math.floor(u * els.length)].click();
  const out = {done: !!WOB_DONE_GLOBAL, reward: WOB_RAW_REWARD_GLOBAL};
  if (dom) out.dom = core.getDOMInfo();
  return JSON.stringify(out);
}"""
# observe mode: the harness's episode start (zoo.web.slot.START_JS without its clock and error handling)
OBS_RESET_JS = """async ([s, m]) => {
  Math.seedrandom(s);
  if (typeof core.setDataMode === 'function') core.setDataMode('train');
  core.startEpisodeReal();
  await new Promise((resolve) => setTimeout(resolve, 0));
  return window.__zoo.status().ready ? JSON.stringify(window.__zoo.observe(m)) : null;
}"""
OBS_READY_JS = "(m) => window.__zoo.status().ready ? JSON.stringify(window.__zoo.observe(m)) : null"
OBS_STEP_JS = "([kind, i, arg, m]) => window.__zoo ? window.__zoo.step(kind, i, arg, m) : null"
OBS_OBSERVE_JS = "(m) => window.__zoo ? JSON.stringify(window.__zoo.observe(m)) : null"
MAX_ELEMENTS = 256
# observation row fields (js/observe.js): [tag, text, attrs, x, y, w, h, parent, depth, visible, category, actionable, options]
TAG, ATTRS, VISIBLE, CATEGORY, ACTIONABLE, OPTIONS = 0, 2, 9, 10, 11, 12


def random_row_action(obs: dict[str, Any], rng: np.random.Generator, p_noop: float, p_key: float) -> tuple[str, int, Any]:
    """(kind, element, argument) as zoo.web.agents.RandomAgent chooses it (``random_draw``), from raw observation
    rows; a copied instruction span is typed (what ``__zoo.step`` takes)."""
    rows = obs["elements"]
    targets = [(k, r[TAG], r[OPTIONS], is_typable(r[CATEGORY], r[TAG], r[ATTRS]))
               for k, r in enumerate(rows) if r[ACTIONABLE] and r[VISIBLE]]
    kind, k, arg = random_draw(rng, obs["instruction"], targets, p_noop, p_key)
    if kind == "copy":
        start, end = arg
        return "type", k, obs["instruction"][start:end]
    return kind, k, arg


async def _bare_episodes(page_of: Any, k: int, steps: int, dom: bool, seed: int, max_episode_steps: int) -> tuple[int, int]:
    rng = np.random.default_rng([seed, k])
    s, done, turn, ended = seed * 1000 + k * 100000, 0, k, 0
    page = page_of(turn)
    await page.evaluate(RAW_RESET_JS, s)
    for _ in range(steps):
        out = json.loads(await page.evaluate(RAW_STEP_JS, [float(rng.random()), dom]))
        done += 1
        if out["done"] or done >= max_episode_steps:
            s, done, turn, ended = s + 1, 0, turn + 1, ended + 1
            page = page_of(turn)
            await page.evaluate(RAW_RESET_JS, s)
    return steps, ended


async def _start(page: Any, seed: int) -> dict[str, Any]:
    """Start an episode in place; its first observation once the task is ready (some build it asynchronously)."""
    out = await page.evaluate(OBS_RESET_JS, [seed, MAX_ELEMENTS])
    for _ in range(100):
        if out is not None:
            return json.loads(out)
        await asyncio.sleep(0.02)
        out = await page.evaluate(OBS_READY_JS, MAX_ELEMENTS)
    raise TimeoutError(f"episode {seed} never became ready (WOB_TASK_READY stayed false)")


async def _observe_episodes(page_of: Any, k: int, steps: int, seed: int, max_episode_steps: int) -> tuple[int, int]:
    agent = RandomAgent()
    rng = np.random.default_rng([seed, k])
    s, done, turn, ended = seed * 1000 + k * 100000, 0, k, 0
    page = page_of(turn)
    obs = await _start(page, s)
    for _ in range(steps):
        kind, i, arg = random_row_action(obs, rng, agent.p_noop, agent.p_key)
        if kind == "press":
            await page.keyboard.press(arg)
            out = await page.evaluate(OBS_OBSERVE_JS, MAX_ELEMENTS)
            obs = json.loads(out) if out is not None else None
        else:
            out = await page.evaluate(OBS_STEP_JS, [kind, i, arg, MAX_ELEMENTS])
            obs = json.loads(out)["obs"] if out is not None else None
        done += 1
        if obs is None or obs["done"] or not obs["has_core"] or done >= max_episode_steps:
            s, done, turn, ended = s + 1, 0, turn + 1, ended + 1
            page = page_of(turn)
            obs = await _start(page, s)
    return steps, ended


async def _raw(tasks: list[str], contexts: int, env_steps: int, mode: str, seed: int, max_episode_steps: int,
               headless: bool) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    urls = [get_task(t).url for t in tasks]
    site = Site()
    if mode == "observe":  # the harness's own browser and context set-up (flags, init script)
        host = BrowserHost(headless=headless, loop=LoopThread.shared())
        await host.start()
        new_context, stop = (lambda: host.new_context(site)), host.stop
    else:
        exe = os.environ.get("ZOO_CHROMIUM") or (DEFAULT_CHROMIUM if Path(DEFAULT_CHROMIUM).exists() else None)
        pw = await async_playwright().start()
        browser = await pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=headless)

        async def new_context() -> Any:
            ctx = await browser.new_context(viewport=VIEWPORT)
            await site.attach(ctx)
            return ctx

        async def stop() -> None:
            await browser.close()
            await pw.stop()
    try:
        async def open_context() -> list[Any]:  # one page per task
            ctx = await new_context()
            mine = []
            for url in urls:
                page = await ctx.new_page()
                await page.goto(url, wait_until="load")
                mine.append(page)
            return mine

        pages = await asyncio.gather(*(open_context() for _ in range(contexts)))
        per = max(1, env_steps // contexts)

        def loop(k: int, mine: list[Any], steps: int) -> Any:
            def page_of(turn: int) -> Any:
                return mine[turn % len(mine)]
            if mode == "observe":
                return _observe_episodes(page_of, k, steps, seed, max_episode_steps)
            return _bare_episodes(page_of, k, steps, mode == "dom", seed, max_episode_steps)

        await asyncio.gather(*(loop(k, p, 3) for k, p in enumerate(pages)))  # warm-up
        cpu0, t0 = tree_cpu_s(), time.perf_counter()
        counts = await asyncio.gather(*(loop(k, p, per) for k, p in enumerate(pages)))
        wall = time.perf_counter() - t0
        cpu = cpu_used_by_kind(cpu0, tree_cpu_s())
        n = sum(c for c, _ in counts)
        return {"env_steps": n, "wall_s": round(wall, 3), "env_steps_per_s": round(n / wall, 2),
                "episodes": sum(e for _, e in counts), **cpu_fields(cpu, n, wall)}
    finally:
        await stop()


def time_raw(tasks: list[str], contexts: int, env_steps: int, mode: str, *, seed: int = 0, max_episode_steps: int = 8,
             headless: bool = True) -> dict[str, Any]:
    """A raw Playwright loop's env steps/s (``mode``: one of MODES; see the module docstring)."""
    if mode not in MODES:
        raise ValueError(f"unknown raw loop mode {mode!r}; modes: {', '.join(MODES)}")
    return LoopThread.shared().run(_raw(tasks, contexts, env_steps, mode, seed, max_episode_steps, headless), timeout=600)

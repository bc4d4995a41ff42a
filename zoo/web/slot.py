"""One browser context running one episode at a time (async; driven by the vector env).

Episode protocol (the same for MiniWoB pages and ours): load the task page, then
``Math.seedrandom(seed); core.setDataMode(mode); core.startEpisodeReal()`` (the order of
miniwob's own env; mode is 'train' for training seeds and 'test' for evaluation seeds, which
the transfer / natural-language pages use to draw from their test distribution); after every
action read ``WOB_DONE_GLOBAL`` and, once done, ``WOB_RAW_REWARD_GLOBAL`` (the task's verdict
in [-1, 1]) and ``WOB_REWARD_GLOBAL`` (the same, decayed with episode time).  Success = full
credit (raw reward == 1), as MiniWoB++'s own binary reward counts it; partial credit is not.

Element actions (click, type, select) and noop take one round trip: one ``evaluate`` of
``window.__zoo.step`` (js/observe.js) acts in the page, lets it run what the action queued and
returns the observation with the episode status and reward.  A click is delivered by the page
helper at a point the page itself reports as landing on the element (hover, press with its
focus change, release, click); ``trusted_clicks=True`` sends browser input events instead (one
more evaluate and three input round trips).  Keys and the mouse actions use browser input
events (zoo/web/browser_input.py), then one observe.  ``wait`` sleeps in this slot's own step
coroutine, then observes: the vector env steps its slots concurrently, so one env's wait does not hold up another's action.  An
action with ``at_ms`` waits in the page until the page's clock reads it, then acts (inside the same
evaluate for the page-side kinds), so real-time tasks are timed by the page's clock, not by round trips.
No Playwright actionability waits anywhere.  A navigation started by
an action is waited for by polling the document until the new one has loaded.

A context keeps one page per task it has served (up to ``max_pages``, least recently used
closed first), so a new episode of a task it has run before resets in place on that task's
page instead of loading it again (a multi-page task still reloads its start page).
"""
from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zoo.core.errors import ZooError
from zoo.web.action_checks import check_at, check_wait
from zoo.web.browser_input import element_args, input_action
from zoo.web.seeds import is_eval_seed
from zoo.web.tasks import ORIGIN, TaskSpec
from zoo.web.types import MAX_WAIT_MS, MOUSE_ACTION_KINDS, Action, Element, Observation

# Images the page shows only through its stylesheets (``content:url(...)``: social-media's reply / retweet / like
# buttons, email-inbox's star and trash icons, tic-tac-toe's marks) are not fetched until an element uses them, so on
# the first episode after a load those elements had no width and were read as invisible: the agent could not click
# what a person sees a moment later.  Loading fetches every image the stylesheets name, once per page; an episode's
# start also waits for its <img> elements (order-food's dishes).  A missing image gives up after IMAGE_WAIT_MS.
IMAGE_WAIT_MS = 2000
PRELOAD_IMAGES_JS = """async (waitMs) => {
  const settle = (img) => new Promise((resolve) => {
    if (img.complete) return resolve();
    img.addEventListener('load', resolve, {once: true});
    img.addEventListener('error', resolve, {once: true});
    setTimeout(resolve, waitMs);
  });
  window.__zooImagesLoaded = () => Promise.all([...document.images].filter((i) => !i.complete).map(settle));
  const urls = new Set();
  for (const sheet of document.styleSheets) {
    let rules = [];
    try { rules = sheet.cssRules; } catch (e) { continue; }
    for (const rule of rules) {
      for (const m of (rule.cssText || '').matchAll(/url\\(["']?([^"')]+)["']?\\)/g)) {
        if (!m[1].startsWith('data:')) urls.add(new URL(m[1], sheet.href || document.baseURI).href);
      }
    }
  }
  window.__zooPreloaded = [...urls].map((u) => { const img = new Image(); img.src = u; return img; });
  await Promise.all(window.__zooPreloaded.map(settle));
  return urls.size;
}"""
# Starts the episode and, once the page has run what the start queued (one zero-delay tick), returns
# the first observation in the same round trip when the task is ready (else the status, to poll).
# With the page clock off, the page's own time limit (core.EPISODE_MAX_TIME) is set to a day for the
# episode (and put back when it is on again), so no wall-clock timer can end it.
START_JS = """async ([seed, mode, m, clock, settle]) => {
  if (typeof core === 'undefined' || typeof core.startEpisodeReal !== 'function') return {error: 'no episode core'};
  if (core.EP_TIMER !== null && core.EP_TIMER !== undefined && !WOB_DONE_GLOBAL) core.endEpisode(0, false, 'reset');
  if (core.__zooMaxTime === undefined) core.__zooMaxTime = core.EPISODE_MAX_TIME;
  core.EPISODE_MAX_TIME = clock ? core.__zooMaxTime : 86400000;
  Math.seedrandom(seed);
  if (typeof core.setDataMode === 'function') core.setDataMode(mode);
  core.startEpisodeReal();
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (window.__zooImagesLoaded) await window.__zooImagesLoaded();
  if (settle > 0) await window.__zoo.still(settle);
  const status = window.__zoo.status();
  return status.ready ? {ready: true, obs: JSON.stringify(window.__zoo.observe(m))} : status;
}"""
# The observation comes back as one JSON string: Playwright's own value serialisation is ~10x
# slower for a tree of a hundred elements.
OBSERVE_JS = "(m) => window.__zoo ? JSON.stringify(window.__zoo.observe(m)) : null"
STATUS_JS = "() => window.__zoo ? window.__zoo.status() : null"  # (ignores an argument)
STEP_JS = "([kind, i, arg, m, at, cap, settle]) => window.__zoo ? window.__zoo.step(kind, i, arg, m, at, cap, settle) : null"
UNTIL_JS = "([at, cap]) => window.__zoo ? window.__zoo.until(at, cap) : null"  # Action.at_ms before a browser-side act
STILL_JS = "(cap) => window.__zoo ? window.__zoo.still(cap) : null"  # Action.settle: until the page is still
PAGE_ACTIONS = ("click", "type", "select", "noop")  # carried out by the page helper inside STEP_JS

NAVIGATION_ERRORS = re.compile(r"context was destroyed|navigat|Cannot find context|frame was detached", re.I)
CANCELLED_NAVIGATION_S = 1.0  # a document flagged as unloading for this long is taken to have stayed
DATA_MODES = ("train", "test")


def full_credit(raw_reward: float) -> bool:
    """An episode's success: the page gave full credit (raw reward 1; partial credit is not success)."""
    return raw_reward >= 1.0 - 1e-9


def data_mode_for(seed: int) -> str:
    """The page data mode of a seed: 'test' for evaluation seeds, 'train' for training seeds."""
    return "test" if is_eval_seed(seed) else "train"


class TaskPageError(ZooError):
    """The task's page itself is broken (missing file, HTTP error, no episode core): not retried."""


@dataclass
class Episode:
    task: TaskSpec
    seed: int
    data_mode: str = "train"
    steps: int = 0
    waits: int = 0  # of those steps, waits: time let pass, not actions (not counted by the step cut-off)
    invalid_actions: int = 0
    t0: float = field(default_factory=time.monotonic)

    def summary(self, raw_reward: float, reward: float, reason: str | None, error: str | None = None) -> dict[str, Any]:
        return {"task": self.task.name, "seed": self.seed, "raw_reward": float(raw_reward), "reward": float(reward),
                "success": full_credit(raw_reward), "data_mode": self.data_mode, "steps": self.steps, "waits": self.waits, "invalid_actions": self.invalid_actions,
                "reason": reason, "error": error, "wall_s": round(time.monotonic() - self.t0, 3)}


@dataclass
class StepOutcome:
    obs: Observation
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]


class Slot:
    """A browser context + page of one env index."""

    def __init__(self, host: Any, site: Any, index: int, *, max_episode_steps: int = 8, screenshot: bool = False,
                 screenshot_size: int = 64, step_timeout_s: float = 10.0, invalid_action_penalty: float = -0.05,
                 max_elements: int = 256, max_pages: int = 16, trusted_clicks: bool = False, page_clock: bool = True,
                 settle_ms: float = 0.0):
        self.host, self.site, self.index = host, site, index
        self.page_clock = page_clock  # False: the page's own episode time limit is off (see START_JS)
        self.max_pages = max(1, int(max_pages))
        self.trusted_clicks = trusted_clicks
        self.max_episode_steps = max_episode_steps
        self.screenshot = screenshot
        self.screenshot_size = screenshot_size
        self.step_timeout_s = step_timeout_s
        # the longest a wait or an action's at_ms may hold a step: never mistaken for a hung page
        self.max_wait_ms = min(MAX_WAIT_MS, self.step_timeout_s * 1000.0 / 2)
        # env.settle_ms: every observation but a wait's is taken once the page is still (at most this long), so
        # what an agent sees after an action does not depend on how fast the machine ran the page meanwhile
        self.settle_ms = min(max(0.0, float(settle_ms)), self.max_wait_ms)
        self.invalid_action_penalty = invalid_action_penalty
        self.max_elements = max_elements
        self.context: Any = None
        self.page: Any = None  # the page of the current (or last) episode's task
        self.pages: OrderedDict[str, Any] = OrderedDict()  # task name -> its page, least recently used first
        self.loads = 0  # task pages loaded (a reset in place loads nothing)
        self.episode: Episode | None = None
        self.last_obs: Observation | None = None

    # ---------------------------------------------------------------- context lifecycle
    async def open(self) -> None:
        self.context = await self.host.new_context(self.site)
        self.pages.clear()
        self.page = None

    async def _new_page(self) -> Any:
        page = await self.context.new_page()
        page.set_default_timeout(self.step_timeout_s * 1000)
        page.on("popup", lambda p: asyncio.ensure_future(p.close()))  # popups are never part of a task
        return page

    async def close(self) -> None:
        # the episode record survives a reopen so the env can still report what was lost
        context, self.context, self.page = self.context, None, None
        self.pages.clear()
        if context is not None:
            await context.close()

    @property
    def loaded_tasks(self) -> set[str]:
        """Tasks whose page this context holds (their next episode resets in place)."""
        return set(self.pages)

    async def _page_for(self, task: TaskSpec) -> bool:
        """Make ``task``'s page current, opening one (and closing the least recently used beyond
        ``max_pages``) if this context has none; True if the page must be (re)loaded."""
        page = self.pages.pop(task.name, None)
        fresh = page is None or page.is_closed()
        if fresh:
            page = await self._new_page()
        self.pages[task.name] = page
        self.page = page
        while len(self.pages) > self.max_pages:
            _, old = self.pages.popitem(last=False)
            await old.close()
        # a fragment link (href="#", e.g. search-engine's results) keeps the document: no reload for it
        return fresh or task.multipage or page.url.split("#")[0] != task.url

    # ---------------------------------------------------------------- episodes
    async def load(self, task: TaskSpec) -> None:
        from playwright.async_api import Error as PlaywrightError

        self.loads += 1
        try:
            response = await self.page.goto(task.url, wait_until="load")
        except PlaywrightError as err:
            if "net::ERR" in str(err):
                raise TaskPageError(f"task '{task.name}': page {task.url} failed to load: {str(err).splitlines()[0]}") from None
            raise
        if response is None or response.status != 200:
            code = response.status if response is not None else "no response"
            raise TaskPageError(f"task '{task.name}': page {task.url} failed to load (HTTP {code})")
        status = await self.page.evaluate(STATUS_JS)
        if not status or not status["has_core"]:
            raise TaskPageError(f"task '{task.name}': page {task.url} loaded but has no episode core (core.startEpisodeReal)")
        await self.page.evaluate(PRELOAD_IMAGES_JS, IMAGE_WAIT_MS)

    async def preload(self, task: TaskSpec) -> None:
        """Load ``task``'s page into this context now (its first episode then resets in place)."""
        if await self._page_for(task):
            await self.load(task)

    async def start(self, task: TaskSpec, seed: int, data_mode: str | None = None) -> Observation:
        """Begin an episode of ``task`` with ``seed`` and return its first observation.  ``data_mode``
        ('train' | 'test') defaults to the seed's range: 'test' for evaluation seeds."""
        mode = data_mode or data_mode_for(seed)
        if mode not in DATA_MODES:
            raise ZooError(f"unknown data mode '{mode}'; valid modes: {', '.join(DATA_MODES)}")
        if await self._page_for(task):
            await self.load(task)
        status = await self.page.evaluate(START_JS, [seed, mode, self.max_elements, self.page_clock, self.settle_ms])
        if status.get("error"):
            raise TaskPageError(f"task '{task.name}': cannot start an episode: {status['error']}")
        first = json.loads(status["obs"]) if status.get("obs") else None
        for _ in range(100):  # some tasks build their problem asynchronously (WOB_TASK_READY)
            if status["ready"]:
                break
            await asyncio.sleep(0.02)
            status = await self.page.evaluate(STATUS_JS)
        else:
            raise TaskPageError(f"task '{task.name}': episode never became ready (WOB_TASK_READY stayed false)")
        self.episode = Episode(task, seed, mode)
        obs, _ = await self.observe(first)
        return obs

    async def step(self, action: Action) -> StepOutcome:
        ep = self.episode
        if ep is None:
            raise RuntimeError(f"env {self.index}: step() before reset()")
        ep.steps += 1
        kind, at_ms = getattr(action, "kind", None), getattr(action, "at_ms", None)
        ep.waits += kind == "wait"
        bad_time = check_at(at_ms, kind, getattr(action, "ms", None))
        settle_ms = 0.0 if kind == "wait" else self.settle_ms  # a wait is a look at a chosen time: never moved
        if bad_time:
            invalid = bad_time
            obs, raw = await self.observe()
        elif kind == "wait" and at_ms is not None:  # wait_until: a look at a set time, in one evaluate
            invalid, obs, raw = await self._page_step(Action.noop().at(at_ms))
        elif kind == "wait" and getattr(action, "until_still", None):  # settle: until the page is still
            invalid = check_wait(action.ms)
            if invalid is None:
                await self._settle(float(action.ms))
            obs, raw = await self.observe()
        elif kind in PAGE_ACTIONS and not (self.trusted_clicks and kind == "click"):
            invalid, obs, raw = await self._page_step(action, settle_ms)
        else:
            if at_ms is not None:
                await self.page.evaluate(UNTIL_JS, [float(at_ms), self.max_wait_ms])
            invalid = await self._act(action)
            if settle_ms:
                await self._settle(settle_ms)
            obs, raw = await self.observe()
        if invalid:
            ep.invalid_actions += 1
        reward, terminated, truncated = 0.0, False, False
        info: dict[str, Any] = {"invalid": invalid, "page": obs.page}
        if not raw["has_core"]:  # the action led off the task's pages (e.g. a blocked link)
            terminated = True
            info["episode"] = ep.summary(-1.0, -1.0, f"left the task pages (now at {obs.page or 'an error page'})")
            reward = -1.0
        elif raw["done"]:
            terminated = True
            reward = float(raw["reward"])
            info["episode"] = ep.summary(raw["raw_reward"], raw["reward"], raw["reason"])
        elif ep.steps - ep.waits >= self.max_episode_steps:  # the cut-off counts actions; a wait is none
            truncated = True
            info["episode"] = ep.summary(0.0, 0.0, "max episode steps")
        if invalid:
            reward += self.invalid_action_penalty
        if terminated or truncated:
            self.episode = None
        return StepOutcome(obs, reward, terminated, truncated, info)

    async def _settle(self, ms: float) -> None:
        """Until the page is still (``Action.settle``: zoo.unsettled in js/observe.js), ``ms`` at most; a
        navigation ends it."""
        from playwright.async_api import Error as PlaywrightError

        try:
            await self.page.evaluate(STILL_JS, min(ms, self.max_wait_ms))
        except PlaywrightError as err:
            if not NAVIGATION_ERRORS.search(str(err)):
                raise

    def _page_args(self, action: Action) -> tuple[Any, Any] | str:
        """(element id, argument) of a page-side action, or the reason it is invalid."""
        kind = action.kind
        if kind == "noop":
            return 0, None
        return element_args(action, self.last_obs.elements if self.last_obs else [])

    async def _page_step(self, action: Action, settle_ms: float = 0.0) -> tuple[str | None, Observation, dict[str, Any]]:
        """Act and observe in one ``evaluate`` (falls back to waiting when the action navigates); with
        ``settle_ms``, observe once the page is still, at most that long."""
        from playwright.async_api import Error as PlaywrightError

        args = self._page_args(action)
        kind, (i, arg) = (action.kind, args) if not isinstance(args, str) else ("noop", (0, None))
        first = None
        act: dict[str, Any] | None = None
        try:
            at = None if action.at_ms is None else float(action.at_ms)
            out = await self.page.evaluate(STEP_JS, [kind, i, arg, self.max_elements, at, self.max_wait_ms,
                                                     settle_ms])
            if out is not None:  # None: a document without our helper (see _settled_observation)
                out = json.loads(out)
                act, first = out["act"], out["obs"]
        except PlaywrightError as err:
            if not NAVIGATION_ERRORS.search(str(err)):
                raise
        invalid = args if isinstance(args, str) else (act or {}).get("error")
        obs, raw = await self.observe(first)
        return invalid, obs, raw

    async def _act(self, action: Action) -> str | None:
        """Carry out an action with browser input (zoo/web/browser_input.py); the reason it is invalid, or None."""
        done = False
        if getattr(action, "kind", None) in MOUSE_ACTION_KINDS and self.page is not None:
            done = bool((await self.page.evaluate(STATUS_JS) or {}).get("done"))
        elements = self.last_obs.elements if self.last_obs else []
        # a wait holds at most half the step timeout, so it is never mistaken for a hung page
        return await input_action(self.page, action, elements, self.step_timeout_s / 2, page_done=done)

    # ---------------------------------------------------------------- observation
    async def observe(self, first: dict[str, Any] | None = None) -> tuple[Observation, dict[str, Any]]:
        """The current observation (``first``: one already read in the same round trip as an action)."""
        raw = await self._settled_observation(first)
        task = self.episode.task.name if self.episode else ""
        elements = [Element(k, r[0], r[1], r[2], (r[3], r[4], r[5], r[6]), r[7], r[8], r[9], r[10], r[11], r[12])
                    for k, r in enumerate(raw["elements"])]
        shot = await self._screenshot(raw["area"]) if self.screenshot and raw["has_core"] else None
        if self.screenshot and shot is None:
            shot = np.zeros((self.screenshot_size, self.screenshot_size, 3), np.uint8)
        url = self.page.url
        page = url[len(ORIGIN):].split("?")[0].split("#")[0] if url.startswith(ORIGIN) else url
        obs = Observation(task, raw["instruction"], elements, shot, page, self.episode.steps if self.episode else 0,
                          float(raw.get("time_ms", 0.0)))
        self.last_obs = obs
        return obs, raw

    async def _settled_observation(self, first: dict[str, Any] | None = None) -> dict[str, Any]:
        """Observe; if the document is unloading or still loading, wait for the next one."""
        from playwright.async_api import Error as PlaywrightError

        deadline = time.monotonic() + self.step_timeout_s
        flagged: tuple[str, float] | None = None  # (doc id, since) of a document seen unloading
        waiting = False  # while waiting, poll the cheap status instead of the whole observation
        while True:
            try:
                if first is not None:
                    raw, first = first, None
                else:
                    raw = await self.page.evaluate(STATUS_JS if waiting else OBSERVE_JS, self.max_elements)
                if isinstance(raw, str):
                    raw = json.loads(raw)
            except PlaywrightError as err:
                if not NAVIGATION_ERRORS.search(str(err)) or time.monotonic() > deadline:
                    raise
                raw = "navigating"
            if raw is None:  # a document without our helper: an error page or a foreign scheme
                return {"has_core": False, "done": False, "raw_reward": -1.0, "reward": -1.0, "reason": None,
                        "instruction": "", "elements": [], "area": [0, 0, 160, 210], "page": self.page.url}
            if isinstance(raw, dict):
                if not raw["leaving"] and raw["ready_state"] == "complete":
                    if waiting:
                        waiting = False
                        continue
                    return raw
                if raw["ready_state"] != "complete" and not raw["leaving"]:  # the next document is loading
                    await self.page.wait_for_load_state("load")
                    continue
                if raw["leaving"]:
                    if flagged is None or flagged[0] != raw["doc"]:
                        flagged = (raw["doc"], time.monotonic())
                    elif time.monotonic() - flagged[1] > CANCELLED_NAVIGATION_S:  # the navigation never happened
                        await self.page.evaluate("() => { window.__zoo.leaving = false; }")
                        waiting = False
                        continue
            if time.monotonic() > deadline:
                raise asyncio.TimeoutError("page did not finish navigating")
            waiting = True
            await asyncio.sleep(0.01)

    async def _screenshot(self, area: list[float]) -> np.ndarray:
        from PIL import Image

        x, y, w, h = area
        clip = {"x": max(0.0, x), "y": max(0.0, y), "width": max(1.0, w), "height": max(1.0, h)}
        png = await self.page.screenshot(clip=clip, type="png")
        img = Image.open(io.BytesIO(png)).convert("RGB")
        if self.screenshot_size and img.size != (self.screenshot_size, self.screenshot_size):
            img = img.resize((self.screenshot_size, self.screenshot_size), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8)

"""``VecWebEnv``: N browser contexts stepped concurrently, spread over ``browsers`` Chromium processes.

Env ``i``'s ``k``-th episode runs ``tasks[(i + k * num_envs) % len(tasks)]``: with at least as many
envs as tasks (a multiple) every env keeps one task, and with fewer envs than tasks the envs
rotate through them, so no task is left untrained.  Its seed stream starts at the seed given to
``reset`` and continues ``seed + k * num_envs`` (kept inside the train or eval range the first
seed came from), so consecutive reset seeds give every env distinct episodes.

Finished envs are reset automatically: the returned observation is the new episode's first
one, ``infos[i]["episode"]`` holds the finished episode's summary and
``infos[i]["final_observation"]`` its last observation.

``step_async`` / ``step_wait`` split a step in two for a group of envs holding whole browsers
(``host_groups``), so several groups' steps can be in flight while the caller computes.

One ``step`` is one hand-over to the browser loop: every env runs its own coroutine that acts and,
if the episode ended, starts the next one right away, so a finished env does not wait for the
slowest env's action before its reset begins.  With a ``job_source`` the next jobs are still
taken in env order within the step (an env asks only after every lower env has answered), so
the jobs handed out never depend on which browser answered first.  A failed env (crash, hang)
is recovered after the others have finished, then started on the job it was given.

Env ``i``'s context lives in browser ``i % browsers``, each browser with its own Playwright
driver, so the browser-side work (input routing, request routing, the driver's protocol
traffic) of many contexts is spread over several processes and cores.  A context keeps the
pages of the tasks it has served (``pages_per_context``), so an episode of a task it has run
before resets in place without a page load (see zoo/web/slot.py); ``loaded_tasks(i)`` lets a
job scheduler prefer such jobs.

``share_browser=True`` puts the env's contexts in one process-wide Chromium shared with other
such envs (e.g. many single-task simulators) instead of launching its own.

Robustness: every browser call runs under ``step_timeout_s``.  A timed-out (hung) or crashed
page gets a fresh context; a dead or unresponsive browser is relaunched (which ends the
episodes of every env in that browser, and only those).  An episode lost that way ends with
``truncated=True`` and an ``"error"`` in its summary; the next episode starts normally.  A task page that cannot load at all raises a
``ZooError`` naming the task.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core.errors import ZooError
from zoo.web.browser import BrowserHost, LoopThread
from zoo.web.seeds import advance, train_seed
from zoo.web.site import Site
from zoo.web.recovery import Job, Recovery, _Failed
from zoo.web.slot import Slot, StepOutcome
from zoo.web.suites import resolve_tasks
from zoo.web.tasks import TaskSpec, get_task, site_roots
from zoo.web.types import Action, Observation

OPEN_TIMEOUT_S, OPEN_TIMEOUT_PER_ENV_S = 60.0, 10.0  # first attempt's limit to start browsers and contexts


@dataclass(frozen=True)
class PendingStep:
    """A step sent by ``VecWebEnv.step_async``: its envs (in the caller's order), those that were
    running an episode, and the browser loop's future."""
    envs: list[int]
    active: list[int]
    future: concurrent.futures.Future


class VecWebEnv(Recovery):
    def __init__(self, tasks: Sequence[str | TaskSpec], num_envs: int = 4, max_episode_steps: int = 8,
                 screenshot: bool = False, screenshot_size: int = 64, step_timeout_s: float = 10.0,
                 invalid_action_penalty: float = -0.05, headless: bool = True, max_elements: int = 256,
                 autoreset: bool = True, job_source: Callable[[int], tuple[str | TaskSpec, int] | None] | None = None,
                 extra_roots: dict[str, Path] | None = None, share_browser: bool = False, browsers: int = 1,
                 pages_per_context: int = 16, trusted_clicks: bool = False, page_clock: bool = True,
                 settle_ms: float = 0.0):
        if not tasks:
            raise ZooError("VecWebEnv needs at least one task")
        if num_envs < 1:
            raise ZooError(f"bad value for num_envs: {num_envs} (must be >= 1)")
        if browsers < 0:
            raise ZooError(f"bad value for browsers: {browsers} (must be >= 1, or 0 for one per env)")
        # one Chromium per env isolates what a browser process shares between its contexts: the
        # clipboard (copy-paste tasks pasted another env's text when two envs shared one browser)
        browsers = num_envs if browsers == 0 else browsers
        if pages_per_context < 1:
            raise ZooError(f"bad value for pages_per_context: {pages_per_context} (must be >= 1)")
        self.specs = [get_task(t) for t in tasks]
        self.num_envs = num_envs
        self.step_timeout_s = step_timeout_s
        self.autoreset = autoreset
        self.job_source = job_source
        self.loop = LoopThread.shared()
        self.shared_browser = share_browser
        if share_browser:
            self.hosts = [BrowserHost.acquire_shared(headless)]
        else:
            self.hosts = [BrowserHost(headless=headless, loop=self.loop) for _ in range(min(browsers, num_envs))]
        self.host = self.hosts[0]
        self.site = Site({**site_roots(), **(extra_roots or {})})
        opts = dict(max_episode_steps=max_episode_steps, screenshot=screenshot, screenshot_size=screenshot_size,
                    step_timeout_s=step_timeout_s, invalid_action_penalty=invalid_action_penalty,
                    max_elements=max_elements, max_pages=pages_per_context, trusted_clicks=trusted_clicks,
                    page_clock=page_clock, settle_ms=settle_ms)
        self.slots = [Slot(self.hosts[i % len(self.hosts)], self.site, i, **opts) for i in range(num_envs)]
        self._base_seed = [train_seed(i) for i in range(num_envs)]
        self._episode_count = [0] * num_envs
        self._obs: list[Observation | None] = [None] * num_envs
        self.idle = [False] * num_envs  # envs whose job_source ran dry
        self.env_steps = 0
        self._in_flight: set[int] = set()  # envs with a step_async not yet collected
        self.closed = False
        self._open_retrying(timeout=OPEN_TIMEOUT_S + OPEN_TIMEOUT_PER_ENV_S * num_envs)

    @classmethod
    def from_config(cls, env_cfg: Any, tasks: Sequence[str] | None = None, **overrides: Any) -> VecWebEnv:
        """Build from an ``EnvConfig`` (DictConfig or dataclass); ``tasks`` default to env.tasks / env.suite."""
        names = list(tasks) if tasks else resolve_tasks(env_cfg.suite, list(env_cfg.tasks or []))
        kw = dict(num_envs=env_cfg.num_envs, max_episode_steps=env_cfg.max_episode_steps, screenshot=env_cfg.screenshot,
                  screenshot_size=env_cfg.screenshot_size, step_timeout_s=env_cfg.step_timeout_s,
                  invalid_action_penalty=env_cfg.invalid_action_penalty, headless=env_cfg.headless,
                  max_elements=getattr(env_cfg, "max_elements", 256), browsers=int(getattr(env_cfg, "browsers", 0)),
                  pages_per_context=int(getattr(env_cfg, "pages_per_context", 16)),
                  settle_ms=float(getattr(env_cfg, "settle_ms", 0.0)))
        kw.update(overrides)
        return cls(names, **kw)

    # ---------------------------------------------------------------- public API
    def task_of(self, i: int, k: int = 0) -> TaskSpec:
        """The task of env ``i``'s ``k``-th episode since the last reset."""
        return self.specs[(i + k * self.num_envs) % len(self.specs)]

    def reset(self, seeds: Sequence[int] | None = None) -> list[Observation]:
        self._check_open()
        if seeds is not None:
            if len(seeds) != self.num_envs:
                raise ZooError(f"reset needs {self.num_envs} seeds (one per env), got {len(seeds)}")
            self._base_seed = [int(s) for s in seeds]
        self._episode_count = [0] * self.num_envs
        self.idle = [False] * self.num_envs
        jobs = {i: self._next_job(i) for i in range(self.num_envs)}
        self.idle = [j is None for j in jobs.values()]
        for slot in self.slots:
            slot.episode = None
        self._start_jobs({i: j for i, j in jobs.items() if j is not None})
        return [o for o in self._obs]  # type: ignore[misc]

    def step(self, actions: Sequence[Action]) -> tuple[list[Observation], np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        return self.step_wait(self.step_async(actions))

    def step_async(self, actions: Sequence[Action], envs: Sequence[int] | None = None) -> PendingStep:
        """Send one step of ``envs`` (default: all, in order; ``actions`` one per env of ``envs``) to the
        browsers and return at once; ``step_wait`` collects it.  Steps of disjoint groups may be in
        flight together, so the caller can compute one group's actions while the other group's pages
        work.  A group must hold every env of its browsers (``host_groups``): a browser relaunched
        after a failure then ends episodes of that group only."""
        self._check_open()
        ids = list(range(self.num_envs)) if envs is None else [int(i) for i in envs]
        if len(actions) != len(ids):
            raise ZooError(f"step needs {len(ids)} actions (one per env), got {len(actions)}")
        if ids != list(range(self.num_envs)):
            self._check_group(ids)
        busy = set(ids) & self._in_flight
        if busy:
            raise ZooError(f"envs {sorted(busy)} have a step in flight already: step_wait for it first")
        self._in_flight |= set(ids)
        active = [i for i in ids if not self.idle[i] and self.slots[i].episode is not None]
        # one round trip for the whole group: every env acts and, if its episode ended, starts its
        # next one at once, without waiting for the others (see _step_env)
        future = self._submit(self._step_all(active, dict(zip(ids, actions))))
        return PendingStep(ids, active, future)

    def step_wait(self, pending: PendingStep) -> tuple[list[Observation], np.ndarray, np.ndarray, np.ndarray,
                                                        list[dict]]:
        """The outcome of a ``step_async``, for its envs in its order (observations, rewards,
        terminated, truncated, infos)."""
        try:
            results = self.loop.wait(pending.future, timeout=self.step_timeout_s * 3 + 30)
        finally:
            self._in_flight -= set(pending.envs)
        active = pending.active
        n = self.num_envs
        rewards = np.zeros(n, np.float32)
        terminated = np.zeros(n, bool)
        truncated = np.zeros(n, bool)
        infos: list[dict[str, Any]] = [{"idle": True} for _ in range(n)]
        self.env_steps += len(active)
        failed: dict[int, str] = {}
        to_start: dict[int, Job] = {}
        for i, (out, job, started) in results.items():
            if isinstance(out, _Failed):
                failed[i] = out.reason  # its info is written after recovery, which may add to the reason
                truncated[i] = True
            else:
                infos[i] = out.info
                rewards[i], terminated[i], truncated[i] = out.reward, out.terminated, out.truncated
                self._obs[i] = out.obs
                if out.terminated or out.truncated:
                    infos[i]["final_observation"] = out.obs
            if (terminated[i] or truncated[i]) and self.autoreset and job is None:
                self.idle[i] = True  # the job source ran dry
            if isinstance(started, _Failed):
                failed[i] = started.reason  # its context is recovered below and the job started again
                to_start[i] = job  # type: ignore[assignment]
            elif started is not None:
                self._obs[i] = started
            elif job is not None:  # picked but not started: its step failed
                to_start[i] = job
        if failed:
            lost = self._recover(failed)
            for i, reason in failed.items():
                if isinstance(results[i][0], _Failed):  # (not an env whose next episode failed to start)
                    infos[i] = {"invalid": None, "error": reason, "episode": self._failed_summary(i, reason),
                                "final_observation": self._obs[i]}
                    self.slots[i].episode = None
            for i in sorted(lost - set(failed) - set(to_start)):
                if i in results and results[i][2] is not None:
                    to_start[i] = results[i][1]  # type: ignore[assignment]  # its new episode was taken away: again
                    continue
                # an episode cut short by a browser restart after another env failed
                reason = "browser restarted after another env failed"
                infos[i] = {"invalid": None, "error": reason, "episode": self._failed_summary(i, reason),
                            "final_observation": self._obs[i]}
                rewards[i], terminated[i], truncated[i] = 0.0, False, True
                self.slots[i].episode = None
                self.idle[i] = False
                job = self._next_job(i) if self.autoreset else None
                if job is None:
                    self.idle[i] = self.autoreset
                else:
                    to_start[i] = job
            if to_start:
                for i in self._start_jobs(to_start):
                    # a browser restart while starting the failed envs also ended this env's episode
                    infos[i].update(error="browser restarted after another env failed", final_observation=self._obs[i],
                                    episode=self._failed_summary(i, "browser restarted after another env failed"))
                    truncated[i] = True
                    self.slots[i].episode = None
                    job = self._next_job(i) if self.autoreset else None
                    if job is None:
                        self.idle[i] = self.autoreset
                    else:
                        self._start_jobs({i: job})
        ids = pending.envs
        return ([self._obs[i] for i in ids], rewards[ids], terminated[ids], truncated[ids],  # type: ignore[misc]
                [infos[i] for i in ids])

    def host_groups(self, groups: int = 2) -> list[list[int]]:
        """The envs split into up to ``groups`` groups of whole browsers (browser ``b`` goes to group
        ``b % groups``): the groups ``step_async`` can keep in flight together.  One group when all
        envs share one browser."""
        browsers = len(self.hosts)  # env i lives in browser i % browsers (one shared browser: 1)
        if browsers < 2 or groups < 2:
            return [list(range(self.num_envs))]
        parts = [[i for i in range(self.num_envs) if (i % browsers) % groups == g] for g in range(groups)]
        return [p for p in parts if p]

    def _check_group(self, ids: list[int]) -> None:
        if self.job_source is not None:
            raise ZooError("stepping a group of envs needs the envs' own task rotation: with a job_source the "
                           "jobs are handed out in env order across all envs (use step)")
        if len(set(ids)) != len(ids) or not all(0 <= i < self.num_envs for i in ids):
            raise ZooError(f"bad env group {ids}: distinct env indices in [0, {self.num_envs}) expected")
        hosts = {id(self.slots[i].host) for i in ids}
        outside = [i for i in range(self.num_envs) if i not in ids and id(self.slots[i].host) in hosts]
        if outside:
            raise ZooError(f"bad env group {ids}: envs {outside} share its browsers; a group holds whole "
                           f"browsers (see host_groups)")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._call(self._close_slots(), timeout=30)
        except Exception:  # noqa: BLE001 - the browser is shut down below either way
            pass
        for host in self.hosts:
            if self.shared_browser:
                host.release()
            else:
                host.close()

    def __enter__(self) -> VecWebEnv:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "closed", True):
            try:
                self.close()
            except Exception:  # noqa: BLE001
                pass

    def reset_one(self, i: int, seed: int, task: str | TaskSpec | None = None) -> Observation:
        """Start env ``i`` on (``task`` or its own task, ``seed``) now, dropping its current episode;
        the same seed and actions replay the same episode (e.g. to re-simulate a search branch)."""
        self._check_open()
        if not 0 <= i < self.num_envs:
            raise ZooError(f"bad env index {i}: this VecWebEnv has {self.num_envs} envs")
        self.slots[i].episode = None
        self.idle[i] = False
        self._start_jobs({i: (get_task(task) if task is not None else self.task_of(i), int(seed))})
        return self._obs[i]  # type: ignore[return-value]

    def wake_idle(self) -> list[int]:
        """Ask ``job_source`` again for every idle env (e.g. after re-queueing a failed job);
        returns the envs that started a new episode (their observation is its first)."""
        self._check_open()
        jobs = {}
        for i in range(self.num_envs):
            if self.idle[i]:
                job = self._next_job(i)
                if job is not None:
                    jobs[i] = job
                    self.idle[i] = False
        if jobs:
            self._start_jobs(jobs)
        return sorted(jobs)

    def preload(self, tasks: Sequence[str | TaskSpec] | None = None) -> None:
        """Load every task's page (default: this env's tasks) into every context now, so that no
        later episode pays a page load (up to ``pages_per_context`` pages per context)."""
        self._check_open()
        specs = [get_task(t) for t in tasks] if tasks is not None else self.specs

        async def one(slot: Slot) -> None:
            for spec in specs:
                await slot.preload(spec)

        async def every() -> None:
            await asyncio.gather(*(one(s) for s in self.slots))

        self._call(every(), timeout=60 + 5 * len(specs) * self.num_envs)

    @property
    def observations(self) -> list[Observation | None]:
        return list(self._obs)

    def browser_pid(self, i: int = 0) -> int | None:
        """PID of env ``i``'s browser process."""
        return self.slots[i].host.pid()

    def browser_pids(self) -> list[int | None]:
        return [h.pid() for h in self.hosts]

    @property
    def restarts(self) -> int:
        """Browser relaunches so far (all browsers)."""
        return sum(h.restarts for h in self.hosts)

    def loaded_tasks(self, i: int) -> set[str]:
        """Tasks whose page env ``i``'s context holds: a job of one of them starts without a page load."""
        return self.slots[i].loaded_tasks

    @property
    def page_loads(self) -> int:
        """Task pages loaded so far by all contexts (resets in place load nothing)."""
        return sum(s.loads for s in self.slots)

    # ---------------------------------------------------------------- internals
    def _check_open(self) -> None:
        if self.closed:
            raise ZooError("this VecWebEnv is closed")

    def _call(self, coro: Any, timeout: float) -> Any:
        return self.loop.wait(self._submit(coro), timeout=timeout)

    def _submit(self, coro: Any) -> concurrent.futures.Future:
        """Every browser round trip starts here (tests count them)."""
        return self.loop.submit(coro)

    async def _open(self) -> None:
        await asyncio.gather(*(h.start() for h in self.hosts))
        await asyncio.gather(*(s.open() for s in self.slots))

    async def _close_slots(self) -> None:
        # bounded: a frozen browser never answers; the host shutdown after this kills it anyway
        limit = max(1.0, self.step_timeout_s)
        await asyncio.gather(*(asyncio.wait_for(s.close(), limit) for s in self.slots if s.context is not None),
                             return_exceptions=True)

    def _next_job(self, i: int) -> Job | None:
        if self.job_source is not None:
            job = self.job_source(i)
            return None if job is None else (get_task(job[0]), int(job[1]))
        k = self._episode_count[i]
        self._episode_count[i] += 1
        return self.task_of(i, k), advance(self._base_seed[i], k, self.num_envs)

    async def _step_all(self, active: list[int], actions: Sequence[Action]) -> dict[int, tuple[Any, Job | None, Any]]:
        """Step every active env concurrently; an env whose episode ends starts its next job at once.

        With a ``job_source`` the next jobs are taken in env order, exactly as a step followed by a
        second round of starts would take them: env ``i`` asks for its job only once every lower
        active env has returned from its step and taken its job (or gone on with its episode), so
        the job order never depends on timing or on how long another env's start takes."""
        if len(active) == 1:  # nothing to order or overlap: no task, no turn futures
            i = active[0]
            return {i: await self._step_env(i, actions[i], {}, None)}
        chained = self.autoreset and self.job_source is not None
        loop = asyncio.get_running_loop()
        turns = {i: loop.create_future() for i in active} if chained else {}
        before = dict(zip(active[1:], active)) if chained else {}
        parts = await asyncio.gather(*(self._step_env(i, actions[i], turns, before.get(i)) for i in active))
        return dict(zip(active, parts))

    async def _step_env(self, i: int, action: Action, turns: dict[int, asyncio.Future],
                        previous: int | None) -> tuple[Any, Job | None, Any]:
        """(step outcome or _Failed, the next job taken or None, the next episode's first observation,
        _Failed if it could not start, or None if none was started)."""
        job: Job | None = None
        try:
            out = await self._guard(i, self.slots[i].step(action), self.step_timeout_s)
            if previous is not None:  # also when this env goes on: a higher env must not overtake a lower one
                await turns[previous]
            if self.autoreset and (isinstance(out, _Failed) or out.terminated or out.truncated):
                job = self._next_job(i)
        finally:
            if i in turns and not turns[i].done():
                turns[i].set_result(None)
        if job is None or isinstance(out, _Failed):  # a failed env's context is recovered first (step())
            return out, job, None
        return out, job, await self._guard(i, self.slots[i].start(*job), self.step_timeout_s * 2)

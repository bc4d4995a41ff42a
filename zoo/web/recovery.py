"""How ``VecWebEnv`` survives its browsers: every browser call under a time limit, failed envs given
a fresh context, a dead or frozen browser relaunched, episodes started again after a failure.

A mixin of ``VecWebEnv`` (zoo/web/vector.py), kept apart so the env's stepping reads on its own; it
uses the env's ``slots``, ``step_timeout_s``, ``_obs`` and ``_call``.
"""
from __future__ import annotations

import asyncio
from typing import Any

from zoo.core.errors import ZooError
from zoo.web.browser import BrowserHost
from zoo.web.slot import Slot, TaskPageError
from zoo.web.tasks import TaskSpec

Job = tuple[TaskSpec, int]
START_ATTEMPTS = 3


class _Failed:
    def __init__(self, reason: str):
        self.reason = reason


class Recovery:
    """Failure handling for VecWebEnv (see the module docstring)."""

    slots: list[Slot]
    step_timeout_s: float
    _obs: list[Any]
    hosts: list[BrowserHost]
    shared_browser: bool
    open_retries: int = 0  # starts that timed out and were tried again (see _open_retrying)

    def _call(self, coro: Any, timeout: float) -> Any:  # provided by VecWebEnv
        raise NotImplementedError

    async def _open(self) -> None:  # provided by VecWebEnv
        raise NotImplementedError

    async def _close_slots(self) -> None:  # provided by VecWebEnv
        raise NotImplementedError

    def _open_retrying(self, timeout: float) -> None:
        """Start the env's browsers and open its contexts, starting afresh when that times out.  On an
        overloaded machine (load ~10 on 2 cores) a Chromium launch once took over 70 s, which ended a
        Strategy 1 RL stage that had searched for 16 minutes without reaching its first checkpoint."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._call(self._open(), timeout=timeout * attempt)
                return
            except TimeoutError:
                if attempt == START_ATTEMPTS:
                    raise
                self.open_retries += 1
                try:  # throw away what half opened: contexts, and the browsers this env owns
                    self._call(self._close_slots(), timeout=30)
                except Exception:  # noqa: BLE001 - the hosts are shut down below either way
                    pass
                if not self.shared_browser:
                    for host in self.hosts:
                        host.close()

    def _failed_summary(self, i: int, reason: str) -> dict[str, Any]:
        ep = self.slots[i].episode
        if ep is None:
            return {"task": "", "seed": -1, "raw_reward": 0.0, "reward": 0.0, "success": False, "steps": 0, "waits": 0,
                    "invalid_actions": 0, "reason": None, "error": reason}
        return ep.summary(0.0, 0.0, None, error=reason)

    async def _guard(self, i: int, coro: Any, limit: float) -> Any:
        """Await one env's browser call under ``limit`` seconds; a failure becomes _Failed."""
        try:
            async with asyncio.timeout(limit):
                return await coro
        except TaskPageError:
            raise
        except TimeoutError:
            return _Failed(f"timeout: no answer from the page within {limit:.1f}s (hung page)")
        except Exception as err:  # noqa: BLE001 - any browser-side failure is recovered from
            alive = self.slots[i].host.alive
            what = "page crashed" if alive else "browser crashed"
            return _Failed(f"{what}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")

    def _guarded(self, coros: dict[int, Any], timeout: float | None = None) -> dict[int, Any]:
        """Run one coroutine per env concurrently, each under the step timeout; failures become _Failed."""
        if not coros:
            return {}
        limit = timeout or self.step_timeout_s

        async def run_all() -> list[Any]:
            return await asyncio.gather(*(self._guard(i, c, limit) for i, c in coros.items()))

        results = self._call(run_all(), timeout=limit * 2 + 30)
        return dict(zip(coros.keys(), results))

    def _recover(self, failed: dict[int, str]) -> set[int]:
        """Give failed envs a fresh context; relaunch a browser if it is gone or does not answer.
        Returns every env whose episode was lost (more than ``failed`` when a browser had to be
        relaunched: the other envs in that browser; envs in the other browsers carry on).  Every
        wait is bounded by about ``step_timeout_s``, so a frozen browser costs the step timeout,
        one ping, a kill and a relaunch (not a chain of long close/open waits)."""
        limit = max(1.0, self.step_timeout_s)
        ping = min(limit, 5.0)

        async def reopen(slot: Slot) -> None:
            try:
                await asyncio.wait_for(slot.close(), ping)
            except Exception:  # noqa: BLE001 - a context of a dead or hung browser may not close
                pass
            await asyncio.wait_for(slot.open(), limit)

        async def recover_host(host: BrowserHost, mine: list[int]) -> set[int]:
            # a timed-out step may be a hung page or a frozen browser: ask the browser itself first
            alive = host.alive
            answering = alive and await host.responsive(ping)
            if answering:
                results = await asyncio.gather(*(reopen(self.slots[i]) for i in mine), return_exceptions=True)
                if not any(isinstance(r, BaseException) for r in results) and host.alive:
                    return set(mine)
            inside = [i for i, s in enumerate(self.slots) if s.host is host]
            lost = set(mine) | {i for i in inside if self.slots[i].episode is not None}
            if alive and not answering:
                for i in mine:  # say why everything in this browser was thrown away
                    failed[i] += "; the browser did not answer and was relaunched"
            await host.restart(graceful=answering)
            for i in inside:
                self.slots[i].context = self.slots[i].page = None
                self.slots[i].pages.clear()
            await asyncio.gather(*(self.slots[i].open() for i in inside))
            return lost

        async def recover() -> set[int]:
            hosts = {id(self.slots[i].host): self.slots[i].host for i in failed}
            parts = await asyncio.gather(*(recover_host(h, [i for i in failed if self.slots[i].host is h])
                                           for h in hosts.values()))
            return set().union(*parts)

        return self._call(recover(), timeout=120)

    def _start_jobs(self, jobs: dict[int, Job]) -> set[int]:
        """Start episodes (concurrently), retrying envs whose browser side failed.  Returns the
        envs outside ``jobs`` whose running episode a browser restart took away (the caller ends them)."""
        pending = dict(jobs)
        taken: set[int] = set()
        for attempt in range(START_ATTEMPTS):
            results = self._guarded({i: self.slots[i].start(task, seed) for i, (task, seed) in pending.items()},
                                    timeout=self.step_timeout_s * 2)
            failed = {i: r.reason for i, r in results.items() if isinstance(r, _Failed)}
            for i, r in results.items():
                if not isinstance(r, _Failed):
                    self._obs[i] = r
            if not failed:
                return taken
            if attempt == START_ATTEMPTS - 1:
                i, reason = next(iter(failed.items()))
                raise ZooError(f"task '{pending[i][0].name}': could not start an episode after {START_ATTEMPTS} attempts: {reason}")
            lost = self._recover(failed)
            retry = {i: pending[i] for i in failed}
            for i in lost - set(failed):
                if i in pending:  # started fine, but the browser restart took it away: start it again
                    retry[i] = pending[i]
                elif i in jobs:
                    retry[i] = jobs[i]
                elif self.slots[i].episode is not None:
                    taken.add(i)
            pending = retry
        return taken

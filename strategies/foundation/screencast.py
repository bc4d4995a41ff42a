"""Screen recording of a browser episode at a fixed frame rate, and the per-step frame sampling
shared by the dataset reader (training) and the acting path (agent, tree search).

``ScreenRecorder`` films one ``WebEnv`` while an episode runs: a task on the env's own asyncio
loop takes a screenshot of the task area at every tick ``start + n / fps`` (skipping a tick that
is already past, e.g. while a slow screenshot or a page load held the browser), concurrently
with the env's own ``reset``/``step`` calls.  The recorder of the dataset merges these frames with
the observation screenshots of each step and stores all of them with their times.

``sample_frames`` is the one rule for what the model sees at a step: the recording watched at
``fps`` up to the step's own observation -- at each tick the latest frame shown by then --, of
which the last ``k`` distinct frames, the step's own frame always last.  At acting time the
recording is the stream of observation screenshots stamped with the time they arrived.
"""
from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import numpy as np

AREA_JS = """() => {
  const w = document.getElementById('wrap');
  const r = w ? w.getBoundingClientRect() : {left: 0, top: 0, width: window.innerWidth, height: window.innerHeight};
  return [r.left, r.top, r.width, r.height];
}"""


def sample_frames(times: Any, own: int, fps: float, k: int) -> list[int]:
    """Indices of the last ``k`` distinct frames seen when the recording (frames at ``times``,
    non-decreasing) is watched at ``fps`` up to frame ``own``; ``own`` is always the last one."""
    ts = np.asarray(times, dtype=np.float64)
    if k <= 1 or own == 0:
        return [int(own)]
    end = ts[own]
    ticks = ts[0] + np.arange(int(np.floor((end - ts[0]) * fps + 1e-9)) + 1) / float(fps)
    shown = np.searchsorted(ts[: own + 1], ticks + 1e-9, side="right") - 1  # latest frame at each tick
    seen = sorted({int(i) for i in shown if 0 <= i < own} | {int(own)})
    return seen[-int(k):]


class ScreenRecorder:
    """Timed screenshots of a ``WebEnv``'s page at ``fps`` (``size`` x ``size`` RGB) between
    ``start()`` and ``stop()``; ``stop`` returns ``(times, frames)`` with times relative to ``t0``."""

    def __init__(self, env: Any, fps: float, size: int):
        self.env, self.fps, self.size = env, float(fps), int(size)
        self.frames: list[tuple[float, np.ndarray]] = []
        self.t0 = 0.0
        self._stop = False
        self._future: Any = None
        self.failed = 0  # ticks without a frame (page navigating, context closing)

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        return self.env.vec.loop.loop

    def start(self, t0: float | None = None) -> None:
        self.t0 = time.monotonic() if t0 is None else float(t0)
        self.frames, self._stop, self.failed = [], False, 0
        self._future = asyncio.run_coroutine_threadsafe(self._film(), self._loop)

    def stop(self) -> tuple[list[float], list[np.ndarray]]:
        self._stop = True
        if self._future is not None:
            try:
                self._future.result(timeout=10.0)
            except Exception:  # noqa: BLE001 - a lost recorder task must not fail the episode
                self._future.cancel()
            self._future = None
        return [t for t, _ in self.frames], [f for _, f in self.frames]

    async def _film(self) -> None:
        period = 1.0 / self.fps
        n = 0
        while not self._stop:
            now = time.monotonic()
            n = max(n, int(np.ceil((now - self.t0) / period - 1e-9)))  # skip ticks already past
            await asyncio.sleep(max(0.0, self.t0 + n * period - now))
            if self._stop:
                break
            taken = time.monotonic() - self.t0
            shot = await self._shot()
            if shot is None:
                self.failed += 1
            else:
                self.frames.append((taken, shot))
            n += 1

    async def _shot(self) -> np.ndarray | None:
        from PIL import Image

        page = getattr(self.env.vec.slots[0], "page", None)
        if page is None:
            return None
        try:
            x, y, w, h = await page.evaluate(AREA_JS)
            png = await page.screenshot(clip={"x": max(0.0, x), "y": max(0.0, y), "width": max(1.0, w),
                                              "height": max(1.0, h)}, type="png", timeout=2000)
        except Exception:  # noqa: BLE001 - navigating, closed: no frame at this tick
            return None
        img = Image.open(io.BytesIO(png)).convert("RGB")
        if img.size != (self.size, self.size):
            img = img.resize((self.size, self.size), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8)

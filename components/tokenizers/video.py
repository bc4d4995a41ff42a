"""Temporal frame sampling for video: a recording -> clips of ``frames_per_clip`` frames at ``fps``.

Screen recordings have irregular frame times (a frame is captured when the page changes or a step
ends), so sampling goes by timestamps: at each sample time t0, t0 + 1/fps, ... we take the latest
frame captured at or before t (the screen shows that frame until the next one). A short last clip
is padded by repeating its final frame. One minute at 3 fps is 180 frames; with 256 tokens per
frame that is the ~46K-token context of the design note.
"""
from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from zoo.core.errors import ZooError


def to_frame_tensor(frame: Any) -> torch.Tensor:
    """A uint8 HxWx3 array (an Observation screenshot) or a (3, H, W) tensor -> float (3, H, W) in [0, 1]."""
    if isinstance(frame, torch.Tensor):
        t = frame
    else:
        t = torch.from_numpy(np.ascontiguousarray(frame))
    if t.dim() == 3 and t.shape[-1] == 3 and t.shape[0] != 3:
        t = t.permute(2, 0, 1)
    return t.float() / 255.0 if t.dtype == torch.uint8 else t.float()


class FrameSampler:
    """``FrameSampler(fps, frames_per_clip)``: pick frame indices at ``fps`` and group them into clips."""

    def __init__(self, fps: float = 3.0, frames_per_clip: int = 4):
        if float(fps) <= 0:
            raise ZooError(f"bad value for 'tokenizer.fps': {fps} (must be > 0)")
        if int(frames_per_clip) <= 0:
            raise ZooError(f"bad value for 'tokenizer.frames_per_clip': {frames_per_clip} (must be > 0)")
        self.fps, self.frames_per_clip = float(fps), int(frames_per_clip)

    def indices(self, timestamps: Sequence[float]) -> list[int]:
        """Frame index shown at each sample time, from the first frame's time to the last one's."""
        ts = [float(t) for t in timestamps]
        if not ts:
            return []
        if any(b < a for a, b in zip(ts, ts[1:])):
            raise ValueError("frame timestamps must be non-decreasing")
        step = 1.0 / self.fps
        n = int(np.floor((ts[-1] - ts[0]) / step + 1e-9)) + 1
        return [bisect.bisect_right(ts, ts[0] + i * step + 1e-9) - 1 for i in range(n)]

    def indices_at_rate(self, n_frames: int, source_fps: float) -> list[int]:
        """Indices for a constant-rate recording of ``n_frames`` at ``source_fps``."""
        return self.indices([i / float(source_fps) for i in range(int(n_frames))])

    def clips(self, indices: Sequence[int]) -> list[list[int]]:
        """Consecutive groups of frames_per_clip indices; the last one padded with its final frame."""
        k = self.frames_per_clip
        out = [list(indices[i : i + k]) for i in range(0, len(indices), k)]
        if out and len(out[-1]) < k:
            out[-1] += [out[-1][-1]] * (k - len(out[-1]))
        return out

    def __call__(self, frames: Sequence[Any], timestamps: Sequence[float] | None = None,
                 source_fps: float | None = None) -> torch.Tensor:
        """Clips (n_clips, frames_per_clip, 3, H, W) float in [0, 1] from a recording."""
        if timestamps is None:
            if source_fps is None:
                raise ValueError("give the frames' timestamps or their source_fps")
            idx = self.indices_at_rate(len(frames), source_fps)
        else:
            if len(timestamps) != len(frames):
                raise ValueError(f"{len(frames)} frames but {len(timestamps)} timestamps")
            idx = self.indices(timestamps)
        clips = self.clips(idx)
        if not clips:
            raise ValueError("no frames to sample")
        return torch.stack([torch.stack([to_frame_tensor(frames[i]) for i in clip]) for clip in clips])

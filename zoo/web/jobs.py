"""The (task, seed) job queue that scoring and timing runs hand out to free browser contexts.

The queue holds a fixed, fair order (every task's k-th seed before any task's (k+1)-th), so the
set of episodes run is the same whatever the number of contexts.  A free context takes the first
job, except that within the next ``window`` jobs (one round of the tasks by default) it prefers
one whose task page it already holds: that episode resets in place instead of loading a page.
Which context runs which job may differ between runs; what each episode does does not (an
agent that draws randomly keys its generator on the episode, see ``episode_key``).

A job lost to a crash or hang goes back to the end of the queue (``retry``) and the error of every
failed attempt is kept, to be written into the episode's final record.
"""
from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from typing import Any

Job = tuple[str, int]


def episode_key(task: str, seed: int, salt: int = 0) -> int:
    """A stable 63-bit key of one episode (the same in every process and Python version), for
    seeding per-episode generators.  It names the episode without being its seed."""
    digest = hashlib.blake2b(f"{salt}/{task}/{int(seed)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def pick(queue: Iterable[Job], loaded: set[str], window: int) -> int:
    """Index of the job a context holding pages ``loaded`` takes: the first of the first ``window``
    jobs whose task is loaded, else 0 (the head)."""
    for k, (task, _) in enumerate(queue):
        if k >= window:
            break
        if task in loaded:
            return k
    return 0


class JobQueue:
    """``take(i, loaded)`` hands env ``i`` its next job (None when empty) and remembers it as env
    ``i``'s current job; ``retry(job, error)`` requeues a lost one."""

    def __init__(self, jobs: Iterable[Job], window: int = 1):
        self.pending: deque[Job] = deque(jobs)
        self.total = len(self.pending)
        self.window = max(1, int(window))
        self.attempts: dict[Job, int] = {}
        self.errors: dict[Job, list[str]] = {}
        self.current: dict[int, Job] = {}
        self.handed: list[tuple[int, Job]] = []  # (env, job) in the order handed out

    def __len__(self) -> int:
        return len(self.pending)

    def take(self, i: int, loaded: set[str] | None = None) -> Job | None:
        if not self.pending:
            return None
        k = pick(self.pending, loaded or set(), self.window)
        job = self.pending[k]
        del self.pending[k]
        self.attempts[job] = self.attempts.get(job, 0) + 1
        self.current[i] = job
        self.handed.append((i, job))
        return job

    def retry(self, job: Job, error: str) -> None:
        self.errors.setdefault(job, []).append(error)
        self.pending.append(job)

    def finish(self, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` (an episode summary) with its attempt number and the errors of its earlier attempts."""
        job = (record["task"], record["seed"])
        record["attempt"] = self.attempts.get(job, 1)
        record["attempt_errors"] = self.errors.pop(job, [])
        return record

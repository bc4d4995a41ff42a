"""Episode seeds.  Training and evaluation seeds live in disjoint ranges so that no
evaluation episode is ever seen in training: train seeds are ``[0, EVAL_BASE)``,
evaluation seeds ``[EVAL_BASE, 2 * EVAL_BASE)``.
"""
from __future__ import annotations

EVAL_BASE = 1_000_000


def train_seed(i: int) -> int:
    """The i-th training seed (wraps around inside the training range)."""
    return int(i) % EVAL_BASE


def eval_seed(i: int) -> int:
    """The i-th evaluation seed (wraps around inside the evaluation range)."""
    return EVAL_BASE + int(i) % EVAL_BASE


def is_eval_seed(seed: int) -> bool:
    return EVAL_BASE <= seed < 2 * EVAL_BASE


def advance(seed: int, k: int, stride: int) -> int:
    """The seed ``k`` episodes after ``seed`` in a stream of stride ``stride``, kept inside the
    range (train or eval) that ``seed`` came from."""
    base = EVAL_BASE if is_eval_seed(seed) else 0
    return base + (seed - base + k * stride) % EVAL_BASE

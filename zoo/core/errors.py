"""The one exception type the CLI turns into a single clear line and exit code 2."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class ZooError(Exception):
    """A user-facing error: the message is one line naming the bad value and the valid choices."""


def did_you_mean(bad: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(bad), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown(kind: str, bad: object, choices: Iterable[object]) -> ZooError:
    """``unknown attention 'flsh' (did you mean 'flash'?); valid choices: dense, sliding, ...``"""
    names = sorted(str(c) for c in choices)
    return ZooError(f"unknown {kind} '{bad}'{did_you_mean(str(bad), names)}; valid choices: {', '.join(names) or '(none)'}")

"""Oracles for the MiniWoB++ reading and game tasks of the app group: scroll-text(-2), tic-tac-toe,
hot-cold and simon-says.  (Email and social media: ``miniwob_apps.py``; forms and calendars: ``miniwob_apps_2.py``.)
"""
from __future__ import annotations

import re
from functools import lru_cache

from zoo.web.tasks.miniwob_apps import wait
from zoo.web.tasks.oracle import by_attr_any, click, has_class, oracle
from zoo.web.types import Action, Observation

# ---------------------------------------------------------------- scroll-text
@oracle("scroll-text")
def _scroll_text(obs: Observation, mem: dict) -> Action:
    """The observation shows only a text box's first 200 characters, so the oracle copies the text's
    last line into the answer field (select it from the end with the keyboard, copy, paste), reads
    the last word there and types it.  The text box itself is left as it was."""
    text = by_attr_any(obs, "id", "text-area")
    answer = by_attr_any(obs, "id", "answer-input")
    if text is None or answer is None:
        return Action.noop()
    copy = mem.setdefault("copy", ["Control+End", "Shift+Home", "Control+c"])
    if copy:
        if not text.attrs.get("focused"):
            return Action.click(text.id)
        return Action.press(copy.pop(0))
    if not mem.get("pasted"):
        if not answer.attrs.get("focused"):
            return Action.click(answer.id)
        mem["pasted"] = True
        return Action.press("Control+v")
    words = re.sub(r"[^a-zA-Z0-9\s]", "", answer.attrs.get("value", "")).split()
    if words and answer.attrs.get("value") != words[-1]:
        return Action.type(answer.id, words[-1])
    return click(by_attr_any(obs, "id", "subbtn"))


@oracle("scroll-text-2")
def _scroll_text_2(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Scroll the textarea to the (top|bottom)", obs.instruction)
    text = by_attr_any(obs, "id", "text-area")
    if m is None or text is None:
        return Action.noop()
    if not mem.get("scrolled"):
        mem["scrolled"] = True
        x, y = text.center
        return Action.scroll(x, y, dy=100000 if m.group(1) == "bottom" else -100000)
    return click(by_attr_any(obs, "id", "subbtn"))


# ---------------------------------------------------------------- tic-tac-toe
LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
SMART = 0.45  # how often the page's opponent plays a winning or blocking move instead of a random one


def _wins(board: tuple[int, ...], who: int) -> bool:
    return any(all(board[i] == who for i in line) for line in LINES)


def _completing(board: tuple[int, ...], who: int) -> list[int]:
    """Free cells that would complete a line of ``who``."""
    return [i for line in LINES for i in line if board[i] == 0 and sum(board[j] == who for j in line) == 2]


@lru_cache(maxsize=None)
def win_chance(board: tuple[int, ...]) -> float:
    """P(X wins) with X to move and playing best, against an opponent that completes its own line or
    blocks X's with probability SMART and otherwise plays a random free cell (X = 1, O = -1)."""
    free = [i for i in range(9) if board[i] == 0]
    return max((_after_x(board, i) for i in free), default=0.0)


def _after_x(board: tuple[int, ...], cell: int) -> float:
    b = board[:cell] + (1,) + board[cell + 1:]
    if _wins(b, 1):
        return 1.0
    free = [i for i in range(9) if b[i] == 0]
    if not free:
        return 0.0
    smart = _completing(b, -1) or _completing(b, 1)

    def value(o: int) -> float:
        after = b[:o] + (-1,) + b[o + 1:]
        return 0.0 if _wins(after, -1) else win_chance(after)

    rand = sum(value(o) for o in free) / len(free)
    if not smart:
        return rand
    return (1 - SMART) * rand + SMART * sum(value(o) for o in set(smart)) / len(set(smart))


def best_move(board: tuple[int, ...]) -> int:
    free = [i for i in range(9) if board[i] == 0]
    return max(free, key=lambda i: (_after_x(board, i), -i))


@oracle("tic-tac-toe")
def _tic_tac_toe(obs: Observation, mem: dict) -> Action:
    cells = [by_attr_any(obs, "id", f"ttt-{i}") for i in range(9)]
    if any(c is None for c in cells):
        return Action.noop()
    board = tuple(1 if has_class(c, "mark-x") else -1 if has_class(c, "mark-o") else 0 for c in cells)
    if 0 not in board:
        return Action.noop()
    return click(cells[best_move(board)])


# ---------------------------------------------------------------- hot-cold
# The hint under the box names how far the pointer is from the hidden spot: HOT < 5 px, WARM < 10,
# COLD < 40, else ICE COLD.  The oracle keeps every spot still consistent with the hints seen so far,
# hovers where the next hint splits those spots most evenly, and clicks once they all lie within 5 px.
BANDS = {"HOT": (0.0, 5.0), "WARM": (5.0, 10.0), "COLD": (10.0, 40.0), "ICE COLD": (40.0, float("inf"))}


def band_of(distance):
    """Band index 0..3 (HOT..ICE COLD) of distances (numpy arrays work)."""
    import numpy as np

    return np.searchsorted(np.array([5.0, 10.0, 40.0]), distance, side="right")


def hot_cold_step(box: tuple[float, float, float, float], hints: list[tuple[int, int, str]]) -> tuple[str, int, int]:
    """("move" | "click", x, y) from the box and the (x, y, hint) readings so far."""
    import numpy as np

    x0, y0, w, h = box
    xs, ys = np.meshgrid(np.arange(int(np.ceil(x0)), int(x0 + w)), np.arange(int(np.ceil(y0)), int(y0 + h)))
    cand = np.stack([xs.ravel(), ys.ravel()], 1).astype(float)
    for px, py, hint in hints:
        d = np.hypot(cand[:, 0] - px, cand[:, 1] - py)
        lo, hi = BANDS[hint]
        cand = cand[(d >= lo) & (d < hi)]
    if len(cand) == 0:
        return "move", int(x0 + w / 2), int(y0 + h / 2)
    centre = np.round(np.median(cand, 0))
    if np.hypot(*(cand - centre).T).max() < 4.9:
        return "click", int(centre[0]), int(centre[1])
    probes = cand[:: max(1, len(cand) // 400)] if len(cand) > 400 else cand
    probes = np.concatenate([probes, np.round(probes.mean(0, keepdims=True))])
    sample = cand[:: max(1, len(cand) // 2000)]
    best, best_cost = probes[0], float("inf")
    for p in probes:  # minimise the expected number of spots left after the hint
        counts = np.bincount(band_of(np.hypot(sample[:, 0] - p[0], sample[:, 1] - p[1])), minlength=4)
        cost = float((counts ** 2).sum())
        if cost < best_cost:
            best, best_cost = p, cost
    return "move", int(best[0]), int(best[1])


@oracle("hot-cold")
def _hot_cold(obs: Observation, mem: dict) -> Action:
    area = by_attr_any(obs, "id", "touch-area")
    if area is None:
        return Action.noop()
    hints = mem.setdefault("hints", [])
    signal = by_attr_any(obs, "id", "signal")
    if "at" in mem and signal is not None and signal.text in BANDS:
        hints.append((*mem.pop("at"), signal.text))
    kind, x, y = hot_cold_step(area.bbox, hints)
    if kind == "click":
        return Action.click_at(x, y)
    mem["at"] = (x, y)
    return Action.move(x, y)


# ---------------------------------------------------------------- simon-says
# The page lights blink k (k = 0, 1, ...) from 0.6 (k + 1) s after the episode starts, for 0.25 s, all timers set
# at the start; 3 to 5 blinks.  The oracle looks in the middle of each blink by the page's own clock (a
# ``wait_until``, counted from the first observation's ``time_ms``, read just after the start), so how long
# a step's round trip takes does not matter.  A dark look when a blink is due means the page's timers run late
# under load, or the sequence is over: look again a little later, a few times, before the next blink could begin.
BEAT_MS, BLINK_MS = 600.0, 250.0
LOOK_AFTER_MS = BLINK_MS / 2
RETRY_MS, RETRIES = 90.0, 3  # the last look comes 125 + 270 ms into a beat, before the next blink (600 ms)
MOST_BLINKS = 5


def simon_look(mem: dict) -> Action:
    """A look when the page's clock reaches the next look's time: the middle of the next blink, later for each
    dark look at it."""
    mem["due"] = mem["t0"] + BEAT_MS * (len(mem["seq"]) + 1) + LOOK_AFTER_MS + RETRY_MS * mem["tries"]
    return Action.wait_until(mem["due"])


@oracle("simon-says")
def _simon_says(obs: Observation, mem: dict) -> Action:
    buttons = [e for e in obs.elements if e.tag == "button" and re.fullmatch(r"button-\d", e.attrs.get("id", ""))]
    if not buttons:
        return Action.noop()
    if "t0" not in mem:  # the episode's first observation, read right after the page started it
        mem.update(t0=obs.time_ms, seq=[], tries=0)
        return simon_look(mem)
    if not mem.get("watched"):
        if obs.time_ms < mem["due"]:  # not the look: the oracle agent made this env wait for the others instead
            return Action.wait_until(mem["due"])
        lit = sorted(b.attrs["id"] for b in buttons if has_class(b, "push"))
        if lit:
            mem["seq"].append(lit[0])
            mem["tries"] = 0
        elif mem["tries"] < RETRIES:
            mem["tries"] += 1
        else:
            mem["watched"] = True  # the sequence is over (or, with fewer than 3 seen, a blink was missed)
        if not mem.get("watched") and len(mem["seq"]) < MOST_BLINKS:
            return simon_look(mem)
        mem["watched"] = True
    seen = mem.get("seq", [])
    pushed = mem.setdefault("pushed", 0)
    mem["pushed"] = pushed + 1
    if pushed >= len(seen):
        # a blink was missed: the episode only ends once as many buttons as blinks are pushed, and
        # the page keeps an unfinished episode's click handler, which would end a later episode
        return click(buttons[0])
    return click(next(b for b in buttons if b.attrs["id"] == seen[pushed]))

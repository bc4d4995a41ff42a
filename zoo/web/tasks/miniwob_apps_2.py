"""Oracles for the MiniWoB++ app-like forms: flight and ticket booking, date pickers, the daily
calendar, food orders and the stock ticker.  The email and social-media apps sit in
``miniwob_apps.py``; the reading and game tasks of the same group in ``miniwob_apps_3.py``.
"""
from __future__ import annotations

import math
import re
import time

from zoo.web.tasks.miniwob_apps import reachable, shown, with_class
from zoo.web.tasks.oracle import by_attr_any, click, has_class, oracle, settle_once
from zoo.web.types import Action, Element, Observation, instruction_spans

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


# ---------------------------------------------------------------- jQuery UI widgets
def autocomplete_pick(obs: Observation, field: Element | None, typed: str, accept) -> Action | None:
    """Fill an autocomplete field: type ``typed``, open the suggestions, click the first one ``accept``
    likes.  None once the field holds an accepted value.  (Whether the suggestions opened by themselves before
    the step after the typing, 0.3 s after it, depends on the machine's speed, and with it whether ArrowDown is
    pressed: waiting for them would be a step the learned agents, which cannot wait, could not imitate, and
    ArrowDown in open suggestions would pick the first one.)"""
    if field is None:
        return Action.noop()
    value = field.attrs.get("value", "")
    if value != typed and accept(value):
        return None
    menu = [e for e in obs.elements if (has_class(e, "ui-menu-item-wrapper") or has_class(e, "ui-menu-item"))
            and e.text and shown(obs, e) and accept(e.text)]
    if value == typed and menu:
        return Action.click(menu[0].id)
    if value == typed and field.attrs.get("focused"):
        return Action.press("ArrowDown")  # opens the suggestions now (typing opens them after a delay)
    return Action.type(field.id, typed)


def first_word(text: str) -> str:
    """The first span a learner could copy out of ``text`` (a city name has no quotes or clock times: its first word)."""
    start, end = instruction_spans(text)[0]
    return text[start:end]


def open_datepicker(field: Element) -> Action:
    """The calendar opens when its field gains focus; a field that already has it opens it on Ctrl+Home."""
    return Action.press("Control+Home") if field.attrs.get("focused") else Action.click(field.id)


def datepicker_pick(obs: Observation, month: int, day: int, year: int) -> Action | None:
    """On an open jQuery UI datepicker, move to the month and click the day; None if it is not open."""
    title = next((e for e in obs.elements if has_class(e, "ui-datepicker-title") and shown(obs, e)), None)
    if title is None:
        return None
    shown_month = next((e.text for e in obs.children(title.id) if has_class(e, "ui-datepicker-month")), "")
    shown_year = next((e.text for e in obs.children(title.id) if has_class(e, "ui-datepicker-year")), "")
    if shown_month not in MONTHS or not shown_year.isdigit():
        return Action.noop()
    delta = (year - int(shown_year)) * 12 + (month - 1 - MONTHS.index(shown_month))
    if delta:
        arrow = "ui-datepicker-next" if delta > 0 else "ui-datepicker-prev"
        return click(next((e for e in obs.elements if has_class(e, arrow) and reachable(e)), None))
    cell = next((e for e in obs.elements if e.tag == "a" and e.text == str(day) and shown(obs, e)
                 and any(a.tag == "table" and has_class(a, "ui-datepicker-calendar") for a in obs.ancestors(e.id))), None)
    return click(cell)


def pick_date(obs: Observation, mem: dict, field: Element, month: int, day: int, year: int) -> Action:
    """Open the field's calendar, let it fade in (one ``Action.settle``: a day clicked while it fades in is
    clicked at an opacity, and seen fading out, that depend on the machine's speed), then move to the month and
    click the day."""
    step = datepicker_pick(obs, month, day, year)
    if step is None:
        mem["calendar_opening"] = True
        return open_datepicker(field)
    if mem.pop("calendar_opening", False):
        return Action.settle()
    return step


# ---------------------------------------------------------------- book-flight
def _minutes(text: str) -> int:
    m = re.match(r"(\d+)h (\d+)m", text)
    return int(m.group(1)) * 60 + int(m.group(2)) if m else 10**9


@oracle("book-flight", "book-flight-nodelay")
def _book_flight(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Book the (cheapest|shortest) one-way flight from: (.+?) to: (.+?) on (\d\d)/(\d\d)/(\d{4})\.",
                  obs.instruction)
    if m is None:
        return Action.noop()
    goal, origin, dest, month, day, year = m.group(1), m.group(2), m.group(3), *map(int, m.group(4, 5, 6))
    flights = [e for e in obs.elements if has_class(e, "flight") and shown(obs, e)]
    if flights:
        def score(f: Element) -> int:
            inside = [e for e in obs.elements if f in obs.ancestors(e.id)]
            if goal == "cheapest":
                return next(int(e.text.split("$")[-1]) for e in inside if has_class(e, "flight-price"))
            return next(_minutes(e.text) for e in inside if has_class(e, "time-duration"))
        best = min(flights, key=score)
        book = next(e for e in obs.elements if has_class(e, "flight-price") and best in obs.ancestors(e.id))
        popups = [e for e in obs.elements if e.attrs.get("id") == "ui-datepicker-div" and shown(obs, e)]
        return settle_once(mem, "popup") if popups else click(book)  # the calendar still fades out over the list
    # the date first, then let its calendar fade out before the other fields are filled
    date = f"{month:02d}/{day:02d}/{year}"
    picker = by_attr_any(obs, "id", "datepicker")
    if picker is not None and picker.attrs.get("value") != date:
        return pick_date(obs, mem, picker, month, day, year)
    if any(e.attrs.get("id") == "ui-datepicker-div" and shown(obs, e) for e in obs.elements):
        return settle_once(mem, "popup")  # the calendar fades out, over the fields the next steps fill
    # type the city's first word (an instruction span a learner can copy: "Kwethluk, AK" is two), then pick
    step = autocomplete_pick(obs, by_attr_any(obs, "id", "flight-from"), first_word(origin), lambda v: origin in v and "(" in v)
    if step is not None:
        return step
    step = autocomplete_pick(obs, by_attr_any(obs, "id", "flight-to"), first_word(dest), lambda v: dest in v and "(" in v)
    if step is not None:
        return step
    return click(by_attr_any(obs, "id", "search"))


# ---------------------------------------------------------------- buy-ticket
@oracle("buy-ticket")
def _buy_ticket(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Buy the ticket with the (cheapest cost|most expensive cost|shortest duration|longest duration)",
                  obs.instruction)
    if m is None:
        return Action.noop()
    goal = m.group(1)
    tickets = []
    for flight in with_class(obs, "flight"):
        inside = [e for e in obs.elements if flight in obs.ancestors(e.id)]
        button = next((e for e in inside if has_class(e, "buy-ticket")), None)
        duration = next((_minutes(e.text) for e in inside if has_class(e, "time-duration")), None)
        if button is not None and duration is not None:
            tickets.append((int(button.text.split("$")[-1]), duration, button))
    if not tickets:
        return Action.noop()
    key = {"cheapest cost": lambda t: t[0], "most expensive cost": lambda t: -t[0],
           "shortest duration": lambda t: t[1], "longest duration": lambda t: -t[1]}[goal]
    return click(min(tickets, key=key)[2])


# ---------------------------------------------------------------- choose-date
@oracle("choose-date", "choose-date-easy", "choose-date-medium", "choose-date-nodelay")
def _choose_date(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Select (\d\d)/(\d\d)/(\d{4}) as the date", obs.instruction)
    field = by_attr_any(obs, "id", "datepicker")
    if m is None or field is None:
        return Action.noop()
    month, day, year = map(int, m.groups())
    if field.attrs.get("value") != m.group(0).split()[1]:
        return pick_date(obs, mem, field, month, day, year)
    if any(e.attrs.get("id") == "ui-datepicker-div" and shown(obs, e) for e in obs.elements):
        return settle_once(mem, "popup")  # the calendar is fading out over the Submit button
    return click(by_attr_any(obs, "id", "subbtn"))


# ---------------------------------------------------------------- daily-calendar
_HALF_HOURS = {"0.5 hours": 1, "30 mins": 1, "1 hour": 2, "60 mins": 2, "1.5 hours": 3, "90 mins": 3}


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[1] < b[1] + b[3] - 1 and b[1] < a[1] + a[3] - 1


@oracle("daily-calendar")
def _daily_calendar(obs: Observation, mem: dict) -> Action:
    m = re.search(r'Create a (.+?) event named "(.+?)", between (\w+) and (\w+)\.', obs.instruction)
    if m is None or m.group(1) not in _HALF_HOURS:
        return Action.noop()
    length, name, start, end = _HALF_HOURS[m.group(1)], m.group(2), m.group(3).lower(), m.group(4).lower()
    dialog = by_attr_any(obs, "id", "create-event")
    if dialog is not None and shown(obs, dialog):
        field = by_attr_any(obs, "id", "event-name")
        if field is not None and field.attrs.get("value") != name:
            return Action.type(field.id, name)
        return click(next((e for e in with_class(obs, "create") if e.tag == "button"), None))
    # the half-hour rows of the window, read off the hour labels
    rows = with_class(obs, "half-hour")
    labels = [e.text.lower() for e in with_class(obs, "hour-label") for _ in (0, 1)]  # one label per two rows
    if start not in labels or end not in labels:
        return Action.noop()
    lo, hi = labels.index(start), labels.index(end)
    events = [e.bbox for e in with_class(obs, "event") if e.attrs.get("id") != "newEvent"]
    starts = [s for s in range(lo, hi - length + 1)
              if not any(_overlaps(r.bbox, ev) for r in rows[s:s + length] for ev in events)] or [lo]
    chosen = rows[starts[0]:starts[0] + length]
    area = by_attr_any(obs, "id", "area")
    ax, ay, aw, ah = area.bbox
    top, bottom = chosen[0].bbox[1], chosen[-1].bbox[1] + chosen[-1].bbox[3]
    if top < ay + 4 or bottom > ay + ah - 8:
        return Action.scroll(ax + aw / 2, ay + ah / 2, dy=top - (ay + 20))
    x = chosen[0].center[0]
    path = [(x, top + 4), (x, top + 9)] + [(x, r.center[1]) for r in chosen[1:]]
    return Action.drag(path)


# ---------------------------------------------------------------- order-food
@oracle("order-food")
def _order_food(obs: Observation, mem: dict) -> Action:
    items = {}  # name -> (food-item element, its types, quantity, its "+" button)
    for item in with_class(obs, "food-item"):
        inside = [e for e in obs.elements if item in obs.ancestors(e.id)]
        name = next((e.text.strip() for e in inside if has_class(e, "item-name")), "")
        types = {e.attrs.get("alt", "") for e in inside if e.tag == "img"}
        qty = next((e.text for e in inside if has_class(e, "quantity")), "")
        add = next((e for e in inside if has_class(e, "add")), None)
        items[name] = (types, int(qty) if qty.isdigit() else 0, add)
    want: dict[str, int] = {}
    m = re.match(r"Order one of each item: (.+)$", obs.instruction.strip())
    if m:
        want = {n.strip(): 1 for n in m.group(1).split(",")}
    m2 = re.match(r"Order (\d+) items that are (\S+)", obs.instruction.strip())
    if m2:
        kind = m2.group(2)
        first = next((n for n, (types, _, _) in items.items() if kind in types), None)
        if first is None:
            return Action.noop()
        want = {first: int(m2.group(1))}
    if not want or any(n not in items for n in want):
        return Action.noop()
    for name, count in want.items():
        if items[name][1] < count:
            return click(items[name][2])
    return click(next((e for e in obs.elements if e.tag == "button" and e.text == "Order!"), None))


# ---------------------------------------------------------------- stock-market
# The ticker shows a new price every 0.1 s (a point on the chart each time), moving by at most $1.50, and meets
# the threshold by about 7.5 s in.  The oracle looks just after a tick by the page's own clock (``wait_until``,
# counted from the first observation's ``time_ms``, read as the episode started), so the click that follows a
# look lands before the next tick in most cases however long the round trip took; far above the threshold it
# skips the ticks that cannot bring the price down to where it buys: $1.50 below the threshold (the next tick cannot
# lift it above), or, late in the episode, anywhere at or below it.
TICK_MS, MAX_MOVE = 100.0, 1.5
LOOK_AFTER_TICK_MS = 12.0
CLICK_LAG_MS = 30.0  # from the decision to the click on the page (the page's clock is the machine's, time.time())
LATE_TICKS, LATE_STEPS, LAST_CHANCE_TICKS = 65, 24, 88


def ticks_until(gap: float, target: float) -> int:
    """Ticks before the price, ``gap`` dollars above the threshold now, can first be ``target`` above it."""
    return max(1, math.ceil((gap - target) / MAX_MOVE))


@oracle("stock-market")
def _stock_market(obs: Observation, mem: dict) -> Action:
    m = re.search(r"less than \$(\d+(?:\.\d+)?)", obs.instruction)
    price = by_attr_any(obs, "id", "stock-price")
    ticks = sum(e.tag == "circle" for e in obs.elements)  # one chart point per price shown
    # the ticker's start: at most the first look's time, and each look at tick k says it began by 0.1 k s before
    # (the first look can come late, when the page was slow to report ready)
    t0 = mem["t0"] = min(mem.get("t0", obs.time_ms), obs.time_ms - TICK_MS * ticks)
    if obs.time_ms < mem.get("due", t0):  # not the look planned: the agent held this env for the others
        return Action.wait_until(mem["due"])
    try:
        gap = float(price.text[1:]) - float(m.group(1)) if ticks else None  # (before the first tick: last episode's)
    except (AttributeError, ValueError):
        gap = None
    mem["acts"] = acts = mem.get("acts", 0) + 1  # (an upper bound on the actions the step cut-off counts)
    late = ticks >= LATE_TICKS or acts >= LATE_STEPS
    target = 0.0 if late else -MAX_MOVE  # where buying is safe: the next tick cannot lift it above the threshold
    # the click lands after the ticks that pass between this tick's start and the click (a decision that came late
    # because the step was held, or a look well into its tick): buy where none of them can lift the price above
    # the threshold
    passed = math.floor((time.time() * 1000.0 + CLICK_LAG_MS - (t0 + TICK_MS * ticks)) / TICK_MS)
    last_chance = ticks >= LAST_CHANCE_TICKS  # the page's 10 s end is near: a stale look is better than none
    if gap is not None and gap <= min(target, -MAX_MOVE * max(0, 0 if last_chance else passed)):
        return click(by_attr_any(obs, "id", "buy"))
    # (every other tick at most until late: looks are actions, and the step cut-off counts them)
    ahead = 1 if gap is None else max(1 if late else 2, ticks_until(gap, target))
    # the next look: just after tick ``ticks + ahead`` (a tick the page drew late is looked at and planned again)
    mem["due"] = t0 + TICK_MS * (ticks + ahead) + LOOK_AFTER_TICK_MS
    return Action.wait_until(mem["due"])

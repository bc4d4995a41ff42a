"""Oracles for the MiniWoB++ app-like tasks: the email inbox family (fixed and natural-language
instructions) and the social-media feeds, plus the helpers the group shares.  Forms and calendars
sit in ``miniwob_apps_2.py``; reading and game tasks in ``miniwob_apps_3.py``.

Natural-language instructions name inbox senders; a person finds those names among the senders the
inbox shows and reads the words around each to tell the email's sender from the forward's recipient.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from zoo.web.tasks.oracle import by_attr_any, click, has_class, oracle, pause, quoted
from zoo.web.types import Action, Element, Observation


# ---------------------------------------------------------------- shared element helpers
WAIT_S = 0.1  # a person's pause while an animation or a delayed widget finishes


def wait(seconds: float = WAIT_S) -> Action:
    """``pause`` with a person's default length."""
    return pause(seconds)


def reachable(e: Element | None) -> bool:
    """Actionable with a box: on screen, or inside a scrollable box (a click scrolls it into view)."""
    return e is not None and e.actionable and e.bbox[2] > 0 and e.bbox[3] > 0


def shown(obs: Observation, e: Element | None) -> bool:
    """Laid out (has a box) and no ancestor is hidden with display:none."""
    if e is None or e.bbox[2] <= 0 or e.bbox[3] <= 0:
        return False
    return not any(a.bbox[2] <= 0 and a.bbox[3] <= 0 for a in obs.ancestors(e.id))


def inside(obs: Observation, e: Element, ancestor_id: str) -> bool:
    return any(a.attrs.get("id") == ancestor_id for a in obs.ancestors(e.id))


def with_class(obs: Observation, cls: str, within: str | None = None) -> list[Element]:
    return [e for e in obs.elements if has_class(e, cls) and (within is None or inside(obs, e, within))]


# ---------------------------------------------------------------- email: reading the instruction
@dataclass(frozen=True)
class EmailGoal:
    action: str  # reply | forward | delete | important
    sender: str  # whose email to act on
    dest: str = ""  # forward: who receives it
    message: str = ""  # reply: the text to send


_DELETE = re.compile(r"delet|trash|\brid\b|remove|throw|don't want|out of my inbox|recycl", re.I)
_IMPORTANT = re.compile(r"import|impor|\bstar\b|\bflag|\bmark\b", re.I)
_FROM_BEFORE = re.compile(r"\b(from|by)\s*$", re.I)
_TO_BEFORE = re.compile(r"\b(to|in)\s*$", re.I)
_SENDER_AFTER = re.compile(r"^('s|s\b|\s+(sent|wrote|email|mail|e-mail|wants his)\b)", re.I)
_DEST_AFTER = re.compile(r"^\s+(wants|must|needs|is waiting|recieve|receive|on the list|to be forwarded)\b", re.I)


def name_spans(text: str, names: list[str], glued: bool = False) -> list[tuple[int, int, str]]:
    """Non-overlapping occurrences of ``names`` in ``text`` (longest name first at a place); ``glued``
    also finds a name run into the word before it."""
    found: list[tuple[int, int, str]] = []
    for name in sorted(set(names), key=len, reverse=True):
        for m in re.finditer(("" if glued else r"(?<![A-Za-z])") + re.escape(name), text):
            if not any(s < m.end() and m.start() < e for s, e, _ in found):
                found.append((m.start(), m.end(), name))
    return sorted(found)


def _role(text: str, start: int, end: int) -> tuple[str, bool]:
    """('sender' | 'dest' | '', strong?) from the words right around a name."""
    before, after = text[:start], text[end:]
    if _FROM_BEFORE.search(before):
        return "sender", True
    if _TO_BEFORE.search(before):
        return "dest", True
    if _SENDER_AFTER.search(after):
        return "sender", False
    if _DEST_AFTER.search(after):
        return "dest", False
    return "", False


def forward_roles(text: str, spans: list[tuple[int, int, str]]) -> tuple[str, str]:
    """(sender, dest) among the names mentioned in a forwarding request."""
    names = list(dict.fromkeys(n for _, _, n in spans))
    if len(names) == 1:
        return names[0], names[0]
    votes: dict[str, list[tuple[str, bool]]] = {n: [] for n in names}
    for s, e, n in spans:
        votes[n].append(_role(text, s, e))
    a, b = names[0], names[1]
    for strong in (True, False):
        for me, other in ((a, b), (b, a)):
            roles = [r for r, st in votes[me] if r and st == strong]
            if roles:
                return (me, other) if roles[0] == "sender" else (other, me)
    return a, b  # "X ... Y": the email named first, the recipient after


def parse_email_goal(instruction: str, senders: list[str]) -> EmailGoal | None:
    """What an email instruction asks, given the sender names the inbox shows."""
    text = " ".join(instruction.split())
    m = re.match(r'Find the email by (.+?) and reply to them with the text "(.*)"\.$', text)
    if m:
        return EmailGoal("reply", m.group(1), message=m.group(2))
    m = re.match(r"Find the email by (.+?) and forward that email to (.+?)\.$", text)
    if m:
        return EmailGoal("forward", m.group(1), dest=m.group(2))
    m = re.match(r"Find the email by (.+?) and click the (trash|star) icon", text)
    if m:
        return EmailGoal("delete" if m.group(2) == "trash" else "important", m.group(1))
    message = next(iter(quoted(text)), None)
    rest = text.replace(f'"{message}"', " " * (len(message) + 2)) if message is not None else text
    spans = name_spans(rest, senders) or name_spans(rest, senders, glued=True)  # "AnswerNAME's email"
    if not spans:
        return None
    first_name = spans[0][2]
    if message is not None:
        return EmailGoal("reply", first_name, message=message)
    if _DELETE.search(rest):
        return EmailGoal("delete", first_name)
    if _IMPORTANT.search(rest) and len({n for _, _, n in spans}) == 1:
        return EmailGoal("important", first_name)
    sender, dest = forward_roles(rest, spans)
    return EmailGoal("forward", sender, dest=dest)


# ---------------------------------------------------------------- email: acting
def _inbox_senders(obs: Observation) -> list[str]:
    return [e.text for e in with_class(obs, "email-sender", "main") if e.text]


def _view(obs: Observation, view_id: str) -> Element | None:
    e = by_attr_any(obs, "id", view_id)
    return e if shown(obs, e) else None


def _icon(obs: Observation, e: Element | None) -> Action:
    """Click an icon once its image has loaded (before that it has no width)."""
    if e is None:
        return Action.noop()
    return Action.click(e.id) if reachable(e) else wait()


@oracle("email-inbox", "email-inbox-delete", "email-inbox-forward", "email-inbox-forward-nl",
        "email-inbox-forward-nl-turk", "email-inbox-important", "email-inbox-nl-turk", "email-inbox-noscroll",
        "email-inbox-reply", "email-inbox-star-reply")
def _email_inbox(obs: Observation, mem: dict) -> Action:
    if "goal" not in mem:
        mem["goal"] = parse_email_goal(obs.instruction, _inbox_senders(obs))
    goal: EmailGoal | None = mem["goal"]
    if goal is None:
        return Action.noop()
    if _view(obs, "forward"):
        field = next((e for e in with_class(obs, "forward-sender", "forward")), None)
        if field is not None and field.attrs.get("value", "") != goal.dest:
            return Action.type(field.id, goal.dest)
        return _icon(obs, by_attr_any(obs, "id", "send-forward"))
    if _view(obs, "reply"):
        field = by_attr_any(obs, "id", "reply-text")
        if field is not None and field.attrs.get("value", "") != goal.message:
            return Action.type(field.id, goal.message)
        return _icon(obs, by_attr_any(obs, "id", "send-reply"))
    if _view(obs, "email"):
        sender = next((e.text for e in with_class(obs, "email-sender", "email")), "")
        if sender != goal.sender:
            return _icon(obs, by_attr_any(obs, "id", "close-email"))
        if goal.action in ("delete", "important"):
            icon = "trash" if goal.action == "delete" else "star"
            return _icon(obs, next(iter(with_class(obs, icon, "email")), None))
        return click(next(iter(with_class(obs, f"email-{goal.action}", "email")), None))
    # the inbox list: act on the sender's row (delete / star from the row, else open the email)
    row = next((e for e in with_class(obs, "email-sender", "main") if e.text == goal.sender), None)
    if row is None:
        return Action.noop()
    if goal.action in ("delete", "important"):
        thread = next(a for a in obs.ancestors(row.id) if has_class(a, "email-thread"))
        icon = "trash" if goal.action == "delete" else "star"
        return _icon(obs, next((e for e in with_class(obs, icon) if thread in obs.ancestors(e.id)), None))
    return Action.click(row.id)


# ---------------------------------------------------------------- social media feeds
def _posts_by(obs: Observation, user: str) -> list[Element]:
    """The .media posts whose username is ``user``."""
    out = []
    for name in with_class(obs, "username"):
        if name.text == user:
            out.extend(a for a in obs.ancestors(name.id) if has_class(a, "media"))
    return out


def _control(obs: Observation, post: Element, cls: str) -> Element | None:
    return next((e for e in obs.elements if has_class(e, cls) and post in obs.ancestors(e.id)), None)


@oracle("social-media")
def _social_media(obs: Observation, mem: dict) -> Action:
    m = re.search(r'For the user (\S+), click on the "(.+?)" button', obs.instruction)
    if m is None:
        return Action.noop()
    user, label = m.groups()
    posts = _posts_by(obs, user)
    if not posts:
        return Action.noop()
    post = posts[0]
    if label in ("Reply", "Retweet", "Like"):
        return _icon(obs, _control(obs, post, label.lower()))
    items = [e for e in obs.elements if e.tag == "li" and post in obs.ancestors(e.id)
             and (e.text == label or e.text.startswith(label + " "))]
    if items and shown(obs, items[0]):
        return Action.click(items[0].id)
    return _icon(obs, _control(obs, post, "more"))


def _toggle_posts(obs: Observation, instruction: str) -> Action:
    m = re.match(r'Click the "(.+?)" button on (?:all posts|(\d+) posts?) by (\S+) and then click Submit', instruction)
    if m is None:
        return Action.noop()
    label, amount, user = m.groups()
    cls = label.lower()
    controls = [_control(obs, p, cls) for p in _posts_by(obs, user)]
    controls = [c for c in controls if c is not None]
    want = len(controls) if amount is None else int(amount)
    active = [c for c in controls if has_class(c, "active")]
    if len(active) < want:
        return _icon(obs, next(c for c in controls if not has_class(c, "active")))
    return click(next((e for e in obs.elements if e.tag == "button" and e.text == "Submit"), None))


@oracle("social-media-all", "social-media-some")
def _social_media_many(obs: Observation, mem: dict) -> Action:
    return _toggle_posts(obs, obs.instruction)

"""Scripted oracle policies: for each covered task, the next action from the observation alone
(instruction + element tree, plus a small per-episode memory for multi-page tasks).

They exist to prove every default-suite task is solvable through our observation and action
space: they only target elements the observation marks actionable and visible, and type text
that appears in the instruction (or was remembered from an earlier page's instruction).
A policy that cannot find what it expects returns a no-op, so a broken task shows up as a
failure, never as a crash.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from zoo.web.types import Action, Element, Observation

Policy = Callable[[Observation, dict], Action]
ORACLES: dict[str, Policy] = {}


def oracle(*names: str) -> Callable[[Policy], Policy]:
    def deco(fn: Policy) -> Policy:
        for name in names:
            ORACLES[name] = fn
        return fn

    return deco


# ---------------------------------------------------------------- helpers
def quoted(text: str) -> list[str]:
    return re.findall(r'"([^"]+)"', text)


def live(obs: Observation) -> list[Element]:
    """Elements an agent can target now: actionable and visible."""
    return [e for e in obs.elements if e.actionable and e.visible]


def first(elements: list[Element]) -> Element | None:
    return elements[0] if elements else None


def by_text(obs: Observation, text: str, tag: str | None = None) -> Element | None:
    return first([e for e in live(obs) if e.text == text and (tag is None or e.tag == tag)])


def by_attr(obs: Observation, key: str, value: str) -> Element | None:
    return first([e for e in live(obs) if e.attrs.get(key) == value])


def by_attr_any(obs: Observation, key: str, value: str) -> Element | None:
    """Like by_attr but for any element (text elements are not actionable)."""
    return first([e for e in obs.elements if e.attrs.get(key) == value])


def has_class(e: Element, cls: str) -> bool:
    return cls in e.attrs.get("class", "").split()


def click(e: Element | None) -> Action:
    return Action.click(e.id) if e is not None else Action.noop()


def fill_then(field: Element | None, value: str, then: Action | None = None) -> Action | None:
    """Type ``value`` into ``field`` unless it already holds it; else None (move on)."""
    if field is None:
        return Action.noop()
    if field.attrs.get("value", "") != value:
        return Action.type(field.id, value)
    return then


def submit_button(obs: Observation, label: str = "Submit") -> Element | None:
    return by_text(obs, label, "button")


# ---------------------------------------------------------------- MiniWoB++ tasks
@oracle("click-test")
def _click_test(obs: Observation, mem: dict) -> Action:
    return click(first([e for e in live(obs) if e.tag == "button"]))


@oracle("click-button")
def _click_button(obs: Observation, mem: dict) -> Action:
    return click(by_text(obs, quoted(obs.instruction)[0], "button"))


@oracle("click-link")
def _click_link(obs: Observation, mem: dict) -> Action:
    return click(by_text(obs, quoted(obs.instruction)[0]))


@oracle("click-tab")
def _click_tab(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Tab #\d+", obs.instruction)
    return click(by_text(obs, m.group(0), "a") if m else None)


@oracle("click-dialog")
def _click_dialog(obs: Observation, mem: dict) -> Action:
    return click(first([e for e in live(obs) if e.tag == "button" and has_class(e, "ui-dialog-titlebar-close")]))


@oracle("focus-text")
def _focus_text(obs: Observation, mem: dict) -> Action:
    return click(first([e for e in live(obs) if e.tag == "input"]))


def _toggle_labels(obs: Observation, wanted: set[str], kind: str) -> Action:
    """Click the checkbox/radio inside each label whose state differs from ``wanted``; then Submit."""
    for label in (e for e in obs.elements if e.tag == "label" and e.visible):
        box = first([c for c in obs.children(label.id) if c.tag == "input" and c.attrs.get("type") == kind])
        if box is not None and box.actionable and (box.attrs.get("checked") == "true") != (label.text in wanted):
            return Action.click(box.id)
    return click(submit_button(obs))


@oracle("click-checkboxes")
def _click_checkboxes(obs: Observation, mem: dict) -> Action:
    m = re.match(r"Select (.*) and click Submit", obs.instruction)
    names = set() if m is None or m.group(1) == "nothing" else set(m.group(1).split(", "))
    return _toggle_labels(obs, names, "checkbox")


@oracle("click-option")
def _click_option(obs: Observation, mem: dict) -> Action:
    m = re.match(r"Select (.*) and click Submit", obs.instruction)
    return _toggle_labels(obs, {m.group(1)} if m else set(), "radio")


@oracle("choose-list")
def _choose_list(obs: Observation, mem: dict) -> Action:
    m = re.match(r"Select (.*) from the list", obs.instruction)
    sel = first([e for e in live(obs) if e.tag == "select"])
    if m is None or sel is None:
        return Action.noop()
    if sel.attrs.get("value") != m.group(1):
        return Action.select(sel.id, m.group(1))
    return click(submit_button(obs))


@oracle("enter-text")
def _enter_text(obs: Observation, mem: dict) -> Action:
    field = first([e for e in live(obs) if e.typable])
    return fill_then(field, quoted(obs.instruction)[0]) or click(submit_button(obs))


@oracle("login-user")
def _login_user(obs: Observation, mem: dict) -> Action:
    user, password = quoted(obs.instruction)[:2]
    return (fill_then(by_attr(obs, "id", "username"), user) or fill_then(by_attr(obs, "id", "password"), password)
            or click(submit_button(obs, "Login")))


@oracle("enter-password")
def _enter_password(obs: Observation, mem: dict) -> Action:
    password = quoted(obs.instruction)[0]
    return (fill_then(by_attr(obs, "id", "password"), password) or fill_then(by_attr(obs, "id", "verify"), password)
            or click(submit_button(obs)))


@oracle("navigate-tree")
def _navigate_tree(obs: Observation, mem: dict) -> Action:
    name = quoted(obs.instruction)[0]
    spans = [e for e in obs.elements if e.tag == "span" and e.text == name]
    shown = [e for e in spans if e.visible and e.actionable]
    if shown:
        return Action.click(shown[0].id)
    if not spans:
        return Action.noop()
    # open the outermost collapsed folder on the way to the hidden target
    for folder_li in reversed(obs.ancestors(spans[0].id)):
        label = first([c for c in obs.children(folder_li.id) if c.tag == "span" and has_class(c, "folder")])
        if folder_li.tag == "li" and has_class(folder_li, "expandable") and label and label.visible:
            return Action.click(label.id)
    return Action.noop()


@oracle("search-engine")
def _search_engine(obs: Observation, mem: dict) -> Action:
    name = quoted(obs.instruction)[0]
    m = re.search(r"(\d+)(?:st|nd|rd|th) search result", obs.instruction)
    field = by_attr(obs, "id", "search-text")
    step = fill_then(field, name)
    if step is not None:
        return step
    titles = [e for e in live(obs) if e.tag == "a" and has_class(e, "search-title")]
    if not titles or m is None:
        return click(by_attr(obs, "id", "search"))
    pos = int(m.group(1)) - 1
    want_page = str(pos // 3 + 1)
    active = first([e for e in obs.elements if e.tag == "li" and has_class(e, "active")])
    active_page = first([c.text for c in obs.children(active.id) if c.tag == "a"]) if active else None
    if active_page != want_page:
        return click(first([e for e in live(obs) if e.tag == "a" and e.text == want_page and has_class(e, "page-link")]))
    return click(titles[pos % 3] if pos % 3 < len(titles) else None)


# ---------------------------------------------------------------- our multi-page tasks
def _page(obs: Observation) -> str:
    return obs.page.rsplit("/", 1)[-1]


@oracle("mp-search-open")
def _mp_search_open(obs: Observation, mem: dict) -> Action:
    target = quoted(obs.instruction)[0]
    page = _page(obs)
    if page == "index.html":
        return fill_then(by_attr(obs, "id", "q"), target) or click(submit_button(obs, "Search"))
    if page == "results.html":
        heading = by_attr_any(obs, "id", "heading")
        if heading is not None and heading.text == f'Results for "{target}"':
            return click(first([e for e in live(obs) if e.tag == "a" and (e.attrs.get("href") or "").startswith("profile")]))
        return click(by_text(obs, "New search", "a"))
    return click(by_text(obs, "Home", "a") or by_text(obs, "New search", "a"))


@oracle("mp-form-wizard")
def _mp_form_wizard(obs: Observation, mem: dict) -> Action:
    m = re.search(r'as "([^"]+)" with email "([^"]+)", choose the (\w+) plan and (do not )?subscribe', obs.instruction)
    if m is None:
        return Action.noop()
    name, email, plan, news = m.group(1), m.group(2), m.group(3), m.group(4) is None
    page = _page(obs)
    if page == "index.html":
        return (fill_then(by_attr(obs, "id", "name"), name) or fill_then(by_attr(obs, "id", "email"), email)
                or click(by_attr(obs, "id", "next")))
    if page == "plan.html":
        sel, box = by_attr(obs, "id", "plan"), by_attr(obs, "id", "news")
        if sel is not None and sel.attrs.get("value") != plan:
            return Action.select(sel.id, plan)
        if box is not None and (box.attrs.get("checked") == "true") != news:
            return Action.click(box.id)
        return click(by_attr(obs, "id", "next"))
    if page == "review.html":
        return click(by_attr(obs, "id", "submit"))
    return click(by_text(obs, "Back to the form", "a"))


@oracle("mp-remember-code")
def _mp_remember_code(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Remember the code (\d+)", obs.instruction)
    if m:
        mem["code"] = m.group(1)  # shown on the first page only: keep it for the settings page
    if _page(obs) == "settings.html":
        if "code" not in mem:
            return Action.noop()
        return fill_then(by_attr(obs, "id", "code"), mem["code"]) or click(by_attr(obs, "id", "save"))
    return click(by_text(obs, "Settings", "a"))


@oracle("mp-recall-word")
def _mp_recall_word(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Remember the word (\w+)", obs.instruction)
    if m:
        mem["word"] = m.group(1)  # the next page lists every word without saying which
    if _page(obs) == "choose.html":
        return click(by_text(obs, mem["word"], "button")) if "word" in mem else Action.noop()
    return click(by_attr(obs, "id", "next"))


@oracle("mp-shop-find")
def _mp_shop_find(obs: Observation, mem: dict) -> Action:
    target = quoted(obs.instruction)[0]
    page = _page(obs)
    visited = mem.setdefault("visited", [])
    if page == "index.html":
        cats = [e for e in live(obs) if e.tag == "a" and (e.attrs.get("href") or "").startswith("category.html")]
        todo = [e for e in cats if e.attrs["href"] not in visited]
        if not todo:
            return Action.noop()
        visited.append(todo[0].attrs["href"])
        return Action.click(todo[0].id)
    if page == "category.html":
        return click(by_text(obs, target, "a") or by_text(obs, "All categories", "a"))
    if page == "item.html":
        name = by_attr_any(obs, "id", "name")
        if name is not None and name.text == target:
            return click(by_attr(obs, "id", "add"))
        return click(by_attr(obs, "id", "back"))
    return click(by_text(obs, "Shop", "a"))


def oracle_action(obs: Observation, mem: dict) -> Action:
    policy = ORACLES.get(obs.task)
    if policy is None:
        return Action.noop()
    try:
        return policy(obs, mem)
    except (IndexError, KeyError, AttributeError):  # the page is not what the script expects
        return Action.noop()

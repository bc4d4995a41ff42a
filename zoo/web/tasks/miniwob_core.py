"""Oracles for the MiniWoB++ tasks of the first suite (click, forms, lists, tree, search)."""
from __future__ import annotations

import re

from zoo.web.tasks.oracle import (by_attr, by_attr_any, by_text, click, fill_then, first, has_class, live, oracle,
                                  quoted, submit_button)
from zoo.web.types import Action, Observation


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

"""Oracles for our own multi-page tasks (pages in ``mp-*/`` beside this file)."""
from __future__ import annotations

import re

from zoo.web.tasks.oracle import (by_attr, by_attr_any, by_text, click, fill_then, first, has_class, live, oracle,
                                  quoted, submit_button)
from zoo.web.types import Action, Observation


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

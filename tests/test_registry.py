"""Registries: every family is filled, lookups fail with the list of valid names."""
from __future__ import annotations

import pytest

from zoo.errors import ZooError
from zoo.registry import Registry, family, load_all

EXPECTED = {"attention": {"dense", "sliding", "xl", "infini", "ring"}, "tokenizer": {"patch", "vq", "clip"},
            "head": {"pointer", "value", "lm", "reward"}}


def test_registry_register_create_and_errors():
    reg = Registry("widget")

    @reg.register("square", doc="squares numbers")
    def square(x: int) -> int:
        return x * x

    assert reg.create("square", x=3) == 9 and reg.names() == ["square"] and "square" in reg
    assert reg.describe() == {"square": "squares numbers"}
    with pytest.raises(ZooError, match=r"unknown widget 'sqare' \(did you mean 'square'\?\); valid choices: square"):
        reg.get("sqare")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("square")(lambda x: x)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_component_families_are_filled(name):
    families = load_all()
    assert name in families, f"family {name} is not registered"
    assert EXPECTED[name] <= set(families[name].names())


def test_task_family_covers_the_default_suites():
    from zoo.suites import suite_names, suite_tasks

    load_all()
    tasks = family("task")
    for suite in suite_names():
        for task in suite_tasks(suite):
            assert task in tasks, f"{suite}: {task} is not a registered task"
    with pytest.raises(ZooError, match="unknown task 'click-buton'.*did you mean 'click-button'"):
        tasks.get("click-buton")

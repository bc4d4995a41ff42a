"""Registries: every family is filled, lookups fail with the list of valid names."""
from __future__ import annotations

import pytest

from zoo.core.errors import ZooError
from zoo.config import load_plugins as load_all
from zoo.core.registry import Registry, family

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
    from zoo.web.suites import suite_names, suite_tasks

    load_all()
    tasks = family("task")
    for suite in suite_names():
        for task in suite_tasks(suite):
            assert task in tasks, f"{suite}: {task} is not a registered task"
    with pytest.raises(ZooError, match="unknown task 'click-buton'.*did you mean 'click-button'"):
        tasks.get("click-buton")


# ------------------------------------------------- weights round trip of every registered component
DIM, HEADS = 32, 4
SMALL_ATTENTION = dict(window=8, mem_len=16, segment_len=16)
SMALL_TOKENIZER = dict(image_size=32, patch_size=8, depth=1, codebook_size=16)


def _builders():
    """(family, name, build(seed) -> module, inputs) for every registered attention, tokenizer and head."""
    import torch

    from components.attention import attention_fields, create_attention, list_attention
    from components.heads import create_head, example_inputs, example_kwargs, list_head
    from components.tokenizers import create_tokenizer, list_tokenizer

    gen = torch.Generator().manual_seed(123)
    cases = []
    for name in list_attention():
        small = {k: v for k, v in SMALL_ATTENTION.items() if k in attention_fields(name)}  # its own fields
        cases.append(("attention", name, lambda n=name, kw=small: create_attention(n, DIM, HEADS, **kw),
                      lambda m: (torch.randn(2, 24, DIM, generator=gen), m.init_state(2))))
    for name in list_tokenizer():
        cases.append(("tokenizer", name, lambda n=name: create_tokenizer(n, DIM, **SMALL_TOKENIZER),
                      lambda m: (torch.rand(2, 3, 32, 32, generator=gen),)))
    for name in list_head():
        cases.append(("head", name, lambda n=name: create_head(n, DIM, **example_kwargs(n)),
                      lambda m: example_inputs(m, DIM, batch=2, n=5, generator=gen)))
    return [pytest.param(*case, id=f"{case[0]}-{case[1]}") for case in cases]


def _flat(out):
    import torch

    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return []  # None (stateless attention)


@pytest.mark.parametrize("family_name, name, build, make_inputs", _builders())
def test_weights_round_trip_reproduces_outputs(family_name, name, build, make_inputs):
    """state_dict -> a fresh instance built under another seed -> load_state_dict (strict) ->
    bit-identical outputs: every parameter and buffer that shapes the output is saved, and no
    module keeps state outside its state_dict. A new component is covered by being registered."""
    import torch

    torch.manual_seed(0)
    original = build().eval()
    torch.manual_seed(1)
    fresh = build().eval()
    saved = original.state_dict()
    assert any(not torch.equal(t, fresh.state_dict()[k]) for k, t in saved.items() if t.is_floating_point()), \
        f"{family_name} {name}: the two seeds built identical weights, the test would prove nothing"
    fresh.load_state_dict(saved)  # strict: same keys, same shapes
    inputs = make_inputs(original)
    with torch.no_grad():
        expected, got = _flat(original(*inputs)), _flat(fresh(*inputs))
    assert len(expected) == len(got) > 0
    for a, b in zip(expected, got):
        torch.testing.assert_close(b, a, rtol=0, atol=0, msg=f"{family_name} {name}: output differs after loading")

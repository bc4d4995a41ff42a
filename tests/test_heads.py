"""Heads: pointer masking, value/reward shapes and ranges, LM logits and weight tying."""
from __future__ import annotations

import pytest
import torch

from components.heads import create_head, example_inputs, example_kwargs, list_head, takes_elements
from zoo.core.errors import ZooError

DIM = 32


def test_contract_heads_are_registered():
    assert {"pointer", "value", "lm", "reward"} <= set(list_head())


def build(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return create_head(name, DIM, **example_kwargs(name))


@pytest.mark.parametrize("name", list_head())
def test_every_head_forward_backward_shapes_and_finite(name):
    """Every registered head: output (B, n[, extra]) for hidden (B, n, D) or n elements, finite
    where it should be, and a backward that reaches every parameter and the inputs with no NaN."""
    head = build(name)
    inputs = [t.requires_grad_() if t.is_floating_point() else t for t in example_inputs(head, DIM, batch=3, n=5)]
    out = head(*inputs)
    assert out.shape[:2] == (3, 5), f"{name}: output {tuple(out.shape)} does not keep (batch, n)"
    assert not torch.isnan(out).any()
    if takes_elements(head):  # masking: -inf exactly on non-actionable elements, finite elsewhere
        mask = inputs[2]
        assert out.dim() == 2 and torch.isneginf(out[~mask]).all() and torch.isfinite(out[mask]).all()
        target = mask.float().argmax(-1)  # an actionable element per row
        loss = torch.nn.functional.cross_entropy(out, target)
    else:
        assert torch.isfinite(out).all()
        loss = (out.float() - 1.0).square().mean()  # not out**2: zero-initialised heads (value) have 0 gradient there
    loss.backward()
    for pname, p in head.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"{name}: no/NaN grad for {pname}"
    assert any(p.grad.abs().sum() > 0 for p in head.parameters()), f"{name}: all parameter gradients are zero"
    for t in inputs:
        if t.requires_grad:
            assert t.grad is not None and torch.isfinite(t.grad).all()
    if takes_elements(head):  # no gradient leaks into the keys of non-actionable elements
        assert inputs[1].grad[~inputs[2]].abs().sum() == 0


@pytest.mark.parametrize("name", list_head())
def test_every_head_is_batch_independent(name):
    """Row b of the output depends only on row b of the inputs (no mixing across the batch)."""
    head = build(name).eval()
    inputs = example_inputs(head, DIM, batch=3, n=5)
    full = head(*inputs)
    torch.testing.assert_close(head(*(t[1:2] for t in inputs)), full[1:2])


def test_pointer_masks_non_actionable_elements():
    torch.manual_seed(0)
    head = create_head("pointer", DIM)
    q, keys = torch.randn(3, DIM), torch.randn(3, 5, DIM)
    mask = torch.tensor([[1, 0, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]], dtype=torch.bool)
    logits = head(q, keys, mask)
    assert logits.shape == (3, 5)
    assert torch.isinf(logits[~mask]).all() and (logits[~mask] < 0).all() and torch.isfinite(logits[mask]).all()
    probs = torch.softmax(logits, -1)
    assert probs[2, 4].item() == pytest.approx(1.0) and (probs[~mask] == 0).all()
    # gradient reaches query and keys of actionable elements only
    keys.requires_grad_(True)
    torch.distributions.Categorical(logits=head(q, keys, mask)).log_prob(torch.tensor([2, 3, 4])).sum().backward()
    assert keys.grad[0, 1].abs().sum() == 0 and keys.grad[0, 2].abs().sum() > 0


def test_pointer_can_learn_to_pick_the_matching_element():
    """A few steps of supervised training teach the pointer to pick the key equal to the query."""
    torch.manual_seed(0)
    head = create_head("pointer", DIM)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(60):
        keys = torch.randn(16, 6, DIM)
        target = torch.randint(0, 6, (16,))
        q = keys[torch.arange(16), target]
        loss = torch.nn.functional.cross_entropy(head(q, keys, torch.ones(16, 6, dtype=torch.bool)), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5


def test_value_and_reward_heads_shapes_and_range():
    v, r = create_head("value", DIM), create_head("reward", DIM)
    h = torch.randn(4, 7, DIM) * 50
    assert v(h).shape == (4, 7) and (v(h) == 0).all()  # value starts at 0
    out = r(h)
    assert out.shape == (4, 7) and out.abs().max() <= 1.0 and out.std() > 0


def test_lm_head_logits_and_tying():
    head = create_head("lm", DIM, vocab=100)
    assert head(torch.randn(2, 5, DIM)).shape == (2, 5, 100)
    emb = torch.nn.Embedding(100, DIM)
    head.tie(emb)
    assert head.out.weight is emb.weight
    with pytest.raises(ZooError, match="needs vocab"):
        create_head("lm", DIM)


def test_unknown_head_lists_choices():
    with pytest.raises(ZooError, match=r"unknown head 'pointr'.*did you mean 'pointer'.*valid choices: lm, pointer"):
        create_head("pointr", DIM)

"""Block and Transformer trunk: every variant plugs in, configs in every form, optimiser groups, FSDP2."""
from __future__ import annotations

import pytest
import torch
from gloo_workers import spawn_gloo
from omegaconf import OmegaConf

from components import Block, Transformer, param_groups
from components.attention import attention_fields, list_attention
from zoo.core.errors import ZooError
from zoo.schema.model import ModelConfig

DIM, HEADS = 32, 4


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("name", list_attention())
def test_block_forward_backward_with_every_variant(name, gated):
    torch.manual_seed(0)
    small = {k: v for k, v in {"window": 4, "mem_len": 8, "segment_len": 8}.items() if k in attention_fields(name)}
    blk = Block(DIM, HEADS, attention={"name": name, **small}, gated_residual=gated)
    x = torch.randn(2, 8, DIM, requires_grad=True)
    y, state = blk(x, blk.init_state(2))
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.sum().backward()
    assert all(p.grad is not None for p in blk.parameters())
    if gated:
        assert blk.gate_attn is not None and blk.gate_mlp is not None


def test_gated_residual_starts_close_to_identity():
    """GTrXL's gate bias keeps the block near the identity at init (the reason it stabilises RL)."""
    torch.manual_seed(0)
    x = torch.randn(4, 8, DIM)
    gated = Block(DIM, HEADS, gated_residual=True)
    plain = Block(DIM, HEADS, gated_residual=False)
    dev_gated = (gated(x)[0] - x).norm() / x.norm()
    dev_plain = (plain(x)[0] - x).norm() / x.norm()
    assert dev_gated < dev_plain


def test_trunk_accepts_dataclass_dictconfig_dict_and_kwargs():
    cfg = ModelConfig(dim=DIM, n_layers=2, n_heads=HEADS, attention={"name": "infini"})
    variants = [
        Transformer(cfg),
        Transformer(OmegaConf.structured(cfg)),
        Transformer({"dim": DIM, "n_layers": 2, "n_heads": HEADS, "attention": {"name": "infini"}}),
        Transformer(dim=DIM, n_layers=2, n_heads=HEADS, attention="infini"),
    ]
    for trunk in variants:
        assert len(trunk.blocks) == 2 and trunk.attention_name == "infini" and trunk.segment_len == 64
        y, states = trunk(torch.randn(1, 70, DIM))
        assert y.shape == (1, 70, DIM) and len(states) == 2
        assert all(not t.requires_grad for s in states for t in s)  # returned states are detached
        assert trunk.has_memory and type(trunk.blocks[0].attn.config).__name__ == "Config"
        assert trunk.blocks[0].attn.config is trunk.blocks[1].attn.config is trunk.config.attention  # typed once
    with pytest.raises(ZooError, match="unknown model field 'dims'"):
        Transformer(dims=3)
    with pytest.raises(ZooError, match="unknown attention 'flash'"):
        Transformer(dim=DIM, n_heads=HEADS, attention="flash")


def test_trunk_config_is_typed_once_and_refuses_another_variants_field():
    from components.trunk import TrunkConfig, trunk_config

    cfg = trunk_config({"dim": DIM, "n_heads": HEADS, "attention": {"name": "sliding", "window": 5}})
    assert isinstance(cfg, TrunkConfig) and cfg.attention.name == "sliding" and cfg.attention.window == 5
    assert Transformer(cfg).config is cfg  # a TrunkConfig goes straight in, no conversion
    with pytest.raises(ZooError, match="unknown attention field 'mem_len' for attention 'sliding'"):
        Transformer(dim=DIM, n_heads=HEADS, attention={"name": "sliding", "mem_len": 4})
    with pytest.raises(ZooError, match="does not divide"):
        Transformer(dim=30, n_heads=4)


@pytest.mark.parametrize("name", ["infini", "xl"])
def test_trunk_detach_false_keeps_the_graph_through_memory_across_calls(name):
    """detach=False: the returned states keep their graph, so a loss in the next call reaches the
    previous call's inputs (what Strategy 2's replay needs); the default returns detached states."""
    torch.manual_seed(0)
    trunk = Transformer(dim=DIM, n_layers=2, n_heads=HEADS, attention={"name": name, "segment_len": 4})
    x1 = torch.randn(2, 4, DIM, requires_grad=True)
    _, kept = trunk(x1, trunk.init_state(2), detach=False)
    y2, _ = trunk(torch.randn(2, 4, DIM), kept)
    y2.square().sum().backward()
    assert x1.grad is not None and x1.grad.abs().sum() > 0
    _, cut = trunk(x1, trunk.init_state(2))
    assert not any(t.requires_grad for s in cut for t in (s if isinstance(s, tuple) else (s,)))


def test_param_groups_give_infini_gates_their_own_rate_and_no_decay():
    trunk = Transformer(dim=DIM, n_layers=2, n_heads=HEADS, attention={"name": "infini", "gate_lr_mult": 20.0})
    groups = {g["name"]: g for g in param_groups(trunk, base_lr=1e-3, weight_decay=0.1)}
    gates = {id(b.attn.gate) for b in trunk.blocks}
    assert {id(p) for p in groups["infini_gate"]["params"]} == gates
    assert groups["infini_gate"]["lr"] == pytest.approx(2e-2) and groups["infini_gate"]["weight_decay"] == 0.0
    assert groups["decay"]["weight_decay"] == 0.1 and all(p.dim() >= 2 for p in groups["decay"]["params"])
    assert groups["no_decay"]["weight_decay"] == 0.0
    listed = [id(p) for g in groups.values() for p in g["params"]]
    assert sorted(listed) == sorted(id(p) for p in trunk.parameters())  # every parameter exactly once
    torch.optim.AdamW(param_groups(trunk, 1e-3, 0.1))  # accepted by a real optimiser


def test_param_groups_without_infini_have_no_gate_group():
    trunk = Transformer(dim=DIM, n_layers=1, n_heads=HEADS, attention="xl")
    groups = trunk.param_groups(1e-3, 0.01)
    assert [g["name"] for g in groups] == ["decay", "no_decay"]
    no_decay = {id(p) for p in groups[1]["params"]}
    assert id(trunk.blocks[0].attn.rel_bias) in no_decay  # a 2-d position table, but never decayed


# ---------------------------------------------------------------- FSDP2 with the Block as wrap unit
def _fsdp_worker(rank: int, world: int) -> None:
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    torch.manual_seed(0)
    trunk = Transformer(dim=DIM, n_layers=2, n_heads=HEADS, attention={"name": "xl", "mem_len": 4, "segment_len": 4})
    for blk in trunk.blocks:
        fully_shard(blk)
    fully_shard(trunk)
    assert all(isinstance(p, DTensor) for p in trunk.parameters())
    opt = torch.optim.AdamW(trunk.parameters(), lr=1e-2)
    torch.manual_seed(rank)
    x = torch.randn(2, 8, DIM)
    losses = []
    for _ in range(3):  # the memory state goes in and out of the sharded blocks
        y, states = trunk(x, trunk.init_state(2))
        loss = (y - 1.0).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert states[0].shape == (2, 4, DIM) and losses[-1] < losses[0]


@pytest.mark.distributed
@pytest.mark.timeout(180)
def test_blocks_shard_with_fsdp2_on_gloo():
    spawn_gloo(_fsdp_worker, 2)


def test_warmup_cosine_on_hand_made_steps():
    """Warm-up of 10 steps to the full rate, then a cosine to a tenth at step ``total`` (110 here), kept after."""
    import math

    from components.optim import warmup_cosine

    assert warmup_cosine(0, 110) == pytest.approx(0.1) and warmup_cosine(9, 110) == pytest.approx(1.0)
    assert warmup_cosine(10, 110) == pytest.approx(1.0)
    assert warmup_cosine(60, 110) == pytest.approx(0.55)  # half way down: 0.1 + 0.9 * 0.5
    assert warmup_cosine(35, 110) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 4)))
    assert warmup_cosine(110, 110) == pytest.approx(0.1) and warmup_cosine(500, 110) == pytest.approx(0.1)
    assert warmup_cosine(3, 5, warmup=0, floor=0.0) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.6)))

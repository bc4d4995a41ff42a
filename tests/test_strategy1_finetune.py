"""Strategy 1's few-shot hook: a tiny SFT-only run on click-button, then adaptation to click-test (a task it
never saw) from k=2 recorded demonstrations, scored on click-test's evaluation seeds."""
from __future__ import annotations

import json

import pytest
import torch

from zoo.config import compose
from zoo.train.plugin import get_strategy
from zoo.train.runs import new_run_dir, save_config

pytestmark = pytest.mark.browser

TINY = ["strategy=1", "model.dim=32", "model.n_heads=2", "model.attention.window=32", "model.use_screen=false",
        "env.num_envs=1", "foundation.data.val_fraction=0.5", "foundation.sft.max_steps=3",
        "foundation.sft.batch_size=2", "foundation.finetune.epochs=4", "foundation.finetune.batch_size=2",
        "foundation.search.simulations=2", "eval.episodes=1", "trainer.progress=false", "trainer.checkpoint_every=2",
        "trainer.log_every_n_steps=1"]


def test_finetune_adapts_a_checkpoint_to_a_new_task_and_scores_it(tmp_path):
    from zoo.core.checkpoints import load_checkpoint
    from zoo.web.results import load_results

    where = [f"run_root={tmp_path / 'runs'}", f"foundation.data.root={tmp_path / 'data'}"]
    cfg = compose([*TINY, *where, "env.tasks=[click-button]", "foundation.data.episodes_per_task=2", "stage=sft"])
    run_dir = new_run_dir(cfg)
    save_config(cfg, run_dir)
    spec = get_strategy("foundation")
    assert spec.finetune is not None
    spec.run_fit(cfg, run_dir)
    init = run_dir / "checkpoints" / "sft" / "final.ckpt"

    few_cfg = compose([*TINY, *where, "env.tasks=[click-test]", "name=fewshot"])
    few_dir = tmp_path / "fewshot-k2"
    results = spec.run_finetune(few_cfg, few_dir, init, ["click-test"], 2)

    info = json.loads((few_dir / "finetune.json").read_text())
    assert info["demos_per_task"] == 2 and info["demos"] == 2 and info["steps"] == 4  # 4 passes over 2, batch 2
    sft = json.loads((few_dir / "sft_summary.json").read_text())  # nothing held out: no validation at all
    assert sft["val_episodes"] == 0 and sft["validation"] == {} and sft["instructions"] == {"episodes": 0}
    adapted = load_checkpoint(few_dir / "checkpoints" / "sft" / "final.ckpt")
    before = load_checkpoint(init)
    # the checkpoint's vocabulary and architecture, its weights as the start, then changed by the SFT steps
    assert adapted["foundation_tokenizer"] == before["foundation_tokenizer"]
    assert adapted["state_dict"].keys() == before["state_dict"].keys()
    assert any(not torch.equal(adapted["state_dict"][k], before["state_dict"][k]) for k in before["state_dict"])
    # scored on the new task's evaluation seeds, in every variant, through the strategy's scoring
    saved = load_results(few_dir / "results.json")
    assert saved["finetune"]["init_checkpoint"] == str(init) and saved["run"]["demos"] == 2
    assert set(saved["variants"]) == {"policy", "policy+search"}
    for variant in saved["variants"].values():
        assert list(variant["tasks"]) == ["click-test"] and variant["tasks"]["click-test"]["episodes"] == 1
        assert variant["seeds"]["first"] >= 1_000_000
    assert results["overall"] == saved["overall"]

    assert saved["headline"] == "policy+search"

    # run again with search off (the matrix's ablation): the adapted checkpoint is reused, not trained again,
    # and the policy alone is the headline
    stamp = (few_dir / "checkpoints" / "sft" / "final.ckpt").stat().st_mtime_ns
    no_search = compose([*TINY, *where, "env.tasks=[click-test]", "name=fewshot", "foundation.search.in_agent=false"])
    again = spec.run_finetune(no_search, few_dir, init, ["click-test"], 2)
    assert (few_dir / "checkpoints" / "sft" / "final.ckpt").stat().st_mtime_ns == stamp
    assert again["headline"] == "policy" and again["overall"] == again["variants"]["policy"]["overall"]


def test_few_shot_adaptation_keeps_the_trained_models_inputs():
    """The keys that shape the model (foundation's MODEL_KEYS) come from the checkpoint's config whatever the
    adapting run's says, so its weights load; a checkpoint saved before a key existed reads the key's default."""
    from omegaconf import OmegaConf

    from strategies.foundation.config import MODEL_KEYS, FoundationRunConfig
    from strategies.foundation.finetune import adaptation_config
    from zoo.core.checkpoints import saved_run_config

    trained = compose(["strategy=1", "foundation.read_context=true", "foundation.read_position=true",
                       "foundation.observation_layers=1", "foundation.span_lexical=true"])
    adapted = adaptation_config(compose(["strategy=1"]), trained, ["t0"], 5)
    assert [adapted.foundation[k] for k in MODEL_KEYS] == [True, False, False, 1, True, False, True]
    saved = OmegaConf.to_container(trained)
    for key in ("read_position", "centre_keys", "span_lexical"):
        del saved["foundation"][key]
    del saved["foundation"]["data"]["record_workers"]
    older = saved_run_config(saved, FoundationRunConfig, "foundation")
    assert (older.foundation.read_position, older.foundation.centre_keys, older.foundation.span_lexical) == (False,) * 3
    assert (older.foundation.read_context, older.foundation.observation_layers) == (True, 1)
    assert older.foundation.data.record_workers == 6 and older.foundation.data.root == trained.foundation.data.root


def test_few_shot_adaptation_takes_as_many_passes_whatever_k_is():
    """foundation.finetune.epochs sets the SFT steps from the demonstrations: 30 passes over 6 tasks x k
    in batches of 8 (k = 1, 5, 20 -> 23, 113, 450 steps); epochs=0 keeps max_steps whatever k is."""
    from strategies.foundation.finetune import adaptation_config
    from strategies.foundation.stages import steps_for_passes, with_stage_steps

    assert [steps_for_passes(30, 6 * k, 8) for k in (1, 5, 20)] == [23, 113, 450]
    assert steps_for_passes(0.1, 1, 8) == 1
    tasks = [f"t{i}" for i in range(6)]
    cfg = compose(["strategy=1"])
    trained = compose(["strategy=1", "model.dim=32"])
    assert cfg.foundation.finetune.epochs == 30 and cfg.foundation.finetune.batch_size == 8
    adapted = adaptation_config(cfg, trained, tasks, 20)
    assert adapted.foundation.sft.epochs == 30 and adapted.foundation.sft.lr == cfg.foundation.finetune.lr
    # the SFT stage turns the passes into steps over the 6 x 20 demonstrations it loads
    assert with_stage_steps(adapted, "sft", 6 * 20).foundation.sft.max_steps == 450
    fixed = adaptation_config(compose(["strategy=1", "foundation.finetune.epochs=0"]), trained, tasks, 20)
    assert with_stage_steps(fixed, "sft", 6 * 20).foundation.sft.max_steps == cfg.foundation.finetune.max_steps == 40
    # ranges are checked at compose time also for a section whose default a lambda builds
    with pytest.raises(Exception, match="foundation.finetune.epochs"):
        compose(["strategy=1", "foundation.finetune.epochs=-1"])
    with pytest.raises(Exception, match="foundation.sft.epochs"):
        compose(["strategy=1", "foundation.sft.epochs=-2"])
    assert compose(["strategy=1"]).foundation.sft.epochs == 0  # max_steps unless a run asks for passes
    with pytest.raises(Exception, match="foundation.finetune.lr"):
        compose(["strategy=1", "foundation.finetune.lr=0"])

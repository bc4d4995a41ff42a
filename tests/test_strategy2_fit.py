"""Strategy 2 end to end on a real browser task: a tiny config trains a few PPO updates, writes
checkpoints, metrics and results.json, resumes from its last checkpoint, and loads back as an agent."""
from __future__ import annotations

import json

import pytest
import torch

from zoo.config import compose
from zoo.train.runs import new_run_dir, save_config

TINY = ["strategy=2", "model.dim=32", "model.n_layers=2", "model.n_heads=2", "model.vocab_size=300",
        "model.max_elements=24", "env.num_envs=2", "env.tasks=[click-button]", "env.max_episode_steps=4",
        "ppo.rollout_steps=4", "ppo.update_epochs=2", "ppo.minibatches=2", "trainer.max_steps=2",
        "trainer.checkpoint_every=1", "trainer.progress=false", "eval.episodes=2"]


def metrics_rows(run_dir):
    """Every logged row across resumes (each resume's earlier rows are kept in a segment file)."""
    from zoo.train.metrics import read_stage_metrics

    return read_stage_metrics(run_dir / "csv" / "ppo")


@pytest.mark.browser
@pytest.mark.parametrize("attention", ["xl"])
def test_tiny_fit_resume_and_load(tmp_path, attention):
    from zoo.train.plugin import load_agent
    from strategies.compressive_rl.fit import fit

    cfg = compose(TINY + [f"run_root={tmp_path}", f"model.attention={attention}"])
    run_dir = new_run_dir(cfg)
    save_config(cfg, run_dir)
    results = fit(cfg, run_dir)

    ckpt = run_dir / "checkpoints" / "ppo" / "last.ckpt"
    assert ckpt.is_file()
    assert torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"] == 2  # global_step == PPO updates
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved["schema"] == results["schema"] and saved["tasks"]["click-button"]["episodes"] == 2
    assert all(e["seed"] >= 1_000_000 for e in saved["episodes"])  # scored on evaluation seeds
    rows = metrics_rows(run_dir)
    assert len(rows) == 2
    for key in ("train/approx_kl", "train/clip_fraction", "train/explained_variance", "train/env_steps_per_s",
                "train/policy_loss", "train/value_loss", "train/entropy"):
        assert all(r[key] != "" for r in rows), key
    assert float(rows[0]["train/env_steps_per_s"]) > 0
    lr = float(cfg.ppo.lr)  # ppo.anneal_lr: linear decay over trainer.max_steps=2 updates
    assert [float(r["train/lr"]) for r in rows] == pytest.approx([lr, lr / 2])

    # resume: same run dir, more updates; continues from the checkpoint's step
    cfg2 = compose(["strategy=2", f"config={run_dir / 'config.yaml'}", f"resume={run_dir}", "trainer.max_steps=3"])
    fit(cfg2, run_dir)
    assert torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"] == 3
    assert [int(r["step"]) for r in metrics_rows(run_dir)] == [0, 1, 2]  # the curve runs on across the resume
    # the schedule resumes at its step, stretched over the new trainer.max_steps=3
    assert float(metrics_rows(run_dir)[-1]["train/lr"]) == pytest.approx(lr / 3)

    # the checkpoint loads back, through the strategy-dispatching loader, as a benchmark agent that
    # acts with the trained weights (the page below has one actionable element, so acting alone
    # would not tell a reload from a fresh model)
    agent = load_agent(ckpt)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    trained = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    reloaded = agent.model.state_dict()
    assert trained and set(trained) == set(reloaded)
    assert all(torch.equal(trained[k], reloaded[k].cpu()) for k in trained)
    from zoo.web.types import Element, Observation

    obs = Observation("click-button", 'Click on the "ok" button.', [
        Element(0, "body", "", {}, (0, 0, 160, 210), -1, 0, True, "style", False),
        Element(1, "button", "ok", {}, (10, 60, 40, 20), 0, 1, True, "action", True)])
    actions, state = agent.act([obs], agent.reset(1), done_mask=[True])
    assert actions[0].kind == "click" and actions[0].element == 1
    actions, _ = agent.act([obs], state, done_mask=[False])
    assert actions[0].element == 1


@pytest.mark.browser
def test_a_run_stopped_before_its_first_checkpoint_resumes_from_the_start(tmp_path, capsys):
    """``zoo compare`` resumes a cell whose directory it finds with ``resume=<run dir>``.  A run stopped while it
    was still cloning left a config and no checkpoint: resuming it trains it from the start in the same directory
    and says so, instead of refusing it (which left that cell unrun)."""
    from strategies.compressive_rl.fit import fit

    cfg = compose(TINY + [f"run_root={tmp_path}", "model.attention=xl", "trainer.max_steps=1"])
    run_dir = new_run_dir(cfg)
    save_config(cfg, run_dir)  # what the stopped attempt had written: its config, no checkpoint
    assert not list((run_dir / "checkpoints").rglob("*.ckpt"))
    resumed = compose(["strategy=2", f"config={run_dir / 'config.yaml'}", f"resume={run_dir}"])
    fit(resumed, run_dir)
    assert "holds no checkpoint yet" in capsys.readouterr().err
    ckpt = run_dir / "checkpoints" / "ppo" / "last.ckpt"
    assert torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"] == 1
    assert json.loads((run_dir / "results.json").read_text())["tasks"]["click-button"]["episodes"] == 2

"""Hand-made pages, a character tokenizer and a tiny real run for Strategy 2's cloning and replay tests
(tests/test_strategy2_bc.py, tests/test_strategy2_replay.py)."""
from __future__ import annotations

import torch

from strategies.compressive_rl.features import Featurizer
from zoo.web.types import Element, Observation

class CharTokenizer:
    """Enough of a tokenizer for the featurizer: one id per character."""

    pad_id = 0

    def encode(self, text: str) -> list[int]:
        return [1 + ord(c) % 90 for c in text]


def el(i, tag, text, cat, actionable, y=0.0, options=(), visible=True, **attrs):
    return Element(i, tag, text, dict(attrs), (5.0, float(y), 50.0, 15.0), 0 if i else -1, 1 if i else 0, visible, cat,
                   actionable, list(options))


def form_page() -> Observation:
    instr = 'Enter "Kasey" into the text field, pick "blue" and press Submit.'
    els = [el(0, "body", "", "style", False), el(1, "div", instr, "text", False),
           el(2, "input", "", "input", True, 40, type="text", value=""),
           el(3, "select", "", "input", True, 60, options=["red", "blue"]),
           el(4, "button", "Submit", "action", True, 80), el(5, "span", "lorem ipsum", "text", False, 100),
           el(6, "button", "Hidden", "action", True, 120, visible=False),
           el(7, "input", "", "input", True, 140, type="checkbox")]
    return Observation("form", instr, els, None, "form", 0)


def featurized(page=None):
    return Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=32)(page or form_page())


TINY = ["strategy=2", "model.dim=32", "model.n_layers=1", "model.n_heads=2", "model.vocab_size=300",
        "model.max_elements=24", "env.num_envs=2", "env.tasks=[click-button,click-link]", "env.max_episode_steps=4",
        "ppo.rollout_steps=2", "ppo.update_epochs=1", "ppo.minibatches=1", "trainer.max_steps=1",
        "trainer.checkpoint_every=1", "trainer.progress=false", "eval.episodes=10", "ppo.tokenizer_steps=2"]


def tiny_run(tmp_path, name, *overrides):
    from strategies.compressive_rl.fit import fit
    from zoo.config import compose
    from zoo.train.runs import new_run_dir, save_config

    cfg = compose(TINY + [f"run_root={tmp_path}", f"name={name}", *overrides])
    run_dir = new_run_dir(cfg)
    save_config(cfg, run_dir)
    return run_dir, fit(cfg, run_dir)


def demonstration_nll(run_dir, per_task: int) -> float:
    """Mean negative log-likelihood of the run's warm-start demonstrations (recorded again, same seeds) under its
    final policy."""
    from strategies.compressive_rl.agent import load_agent
    from strategies.compressive_rl.bc import clone_loss, demonstration_jobs, episode_batch, record_demonstrations
    from zoo.web.vector import VecWebEnv

    agent = load_agent(run_dir / "checkpoints" / "ppo" / "last.ckpt")
    tasks = ["click-button", "click-link"]  # TINY's
    with VecWebEnv(tasks, num_envs=2, max_episode_steps=4) as env:
        demos, _ = record_demonstrations(env, agent.featurizer, demonstration_jobs(tasks, per_task, 0))
    with torch.no_grad():
        loss, _accuracy, n = clone_loss(agent.model, episode_batch(demos, torch.device("cpu")))
    assert n == 2 * per_task
    return float(loss)

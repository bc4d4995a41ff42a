"""Strategy 2: the memory core carries information across steps (no browser).

``RecallEnv`` is a two-page task with the VecWebEnv interface: page 1 shows one of four codes in
the instruction and a "next" button; page 2 shows the four code buttons (always in the same order)
under an instruction without the code. Without memory page 2 is a 1-in-4 guess.
"""
from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from strategies.compressive_rl.features import stack
from strategies.compressive_rl.module import PPOModule
from strategies.compressive_rl.rollout import policy_step, to_tensors
from strategies.compressive_rl.tokenizer import tokenizer_to_json, train_tokenizer
from zoo.config import compose
from zoo.web.types import Element, Observation

CODES = ["alpha", "bravo", "delta", "tango"]


def _el(i, tag, text, y, cat, actionable, **attrs):
    return Element(i, tag, text, dict(attrs), (10.0, float(y), 60.0, 15.0), 0 if i else -1, 1 if i else 0, True, cat, actionable)


def page_one(code: str, step: int = 0) -> Observation:
    instr = f'Remember the code "{code}" and press next.'
    els = [_el(0, "body", "", 0, "style", False), _el(1, "div", instr, 0, "text", False, id="query"),
           _el(2, "button", "next", 60, "action", True)]
    return Observation("recall", instr, els, None, "page1", step)


def page_two(choices: list[str], step: int = 1) -> Observation:
    instr = "Click the code you were given."
    els = [_el(0, "body", "", 0, "style", False), _el(1, "div", instr, 0, "text", False, id="query")]
    els += [_el(2 + i, "button", c, 60 + 20 * i, "action", True) for i, c in enumerate(choices)]
    return Observation("recall", instr, els, None, "page2", step)


class RecallEnv:
    """VecWebEnv-shaped: reset(seeds) / step(actions) with auto-reset and infos["episode"]."""

    def __init__(self, num_envs: int):
        self.n = num_envs
        self.rng = np.random.default_rng(0)

    def _new(self, i):
        code = str(self.rng.choice(CODES))
        self.code[i], self.choices[i], self.page[i] = code, list(CODES), 1
        return page_one(code)

    def reset(self, seeds):
        self.rng = np.random.default_rng(seeds[0])
        self.code, self.choices, self.page = [None] * self.n, [None] * self.n, [1] * self.n
        return [self._new(i) for i in range(self.n)]

    def step(self, actions):
        obs, rew = [], np.zeros(self.n, np.float32)
        term = np.zeros(self.n, bool)
        infos = [{} for _ in range(self.n)]
        for i, a in enumerate(actions):
            if self.page[i] == 1:
                self.page[i] = 2
                obs.append(page_two(self.choices[i]))
                continue
            picked = self.choices[i][a.element - 2] if a.kind == "click" and a.element and a.element >= 2 else None
            success = picked == self.code[i]
            rew[i], term[i] = (1.0 if success else -1.0), True
            infos[i]["episode"] = {"task": "recall", "seed": 0, "raw_reward": rew[i], "reward": rew[i],
                                   "success": success, "steps": 2}
            obs.append(self._new(i))
        return obs, rew, term, np.zeros(self.n, bool), infos

    def close(self):
        pass


def tiny_module(attention: str, **ppo) -> PPOModule:
    overrides = ["strategy=2", f"model.attention={attention}", "model.dim=32", "model.n_layers=2", "model.n_heads=2",
                 "model.vocab_size=400", "env.num_envs=8", "model.max_elements=8", "model.max_text_len=8",
                 "ppo.max_instruction_len=16", "ppo.max_spans=4"] + [f"ppo.{k}={v}" for k, v in ppo.items()]
    cfg = compose(overrides, validate_choices=False)
    pages = [page_one(c) for c in CODES] * 3 + [page_two(CODES)] * 3
    tok = train_tokenizer(pages, 400)
    return PPOModule(cfg, tokenizer_to_json(tok))


def page_two_probs(module: PPOModule, code: str, choices: list[str]) -> torch.Tensor:
    """Probability of each page-2 button after seeing page 1 with ``code`` (one env, greedy state)."""
    m, fz = module.model.eval(), module.featurizer
    state = m.init_state(1, torch.device("cpu"))
    b1 = to_tensors(stack([fz(page_one(code)).arrays]), "cpu")
    _, state = policy_step(m, b1, state, torch.tensor([True]))
    b2 = to_tensors(stack([fz(page_two(choices)).arrays]), "cpu")
    with torch.no_grad():
        enc = m.encoder(b2)
        h, _ = m.core.step(enc.summary, state, torch.tensor([False]))
        logits = m.heads.element_logits(h, enc, b2)
    return logits.softmax(-1)[0, 2 : 2 + len(choices)]


@pytest.mark.parametrize("attention", ["xl", "infini"])
def test_state_carries_page_one_into_page_two(attention):
    torch.manual_seed(0)
    module = tiny_module(attention)
    p_a = page_two_probs(module, "alpha", ["alpha", "bravo"])
    p_b = page_two_probs(module, "bravo", ["alpha", "bravo"])
    assert not torch.allclose(p_a, p_b, atol=1e-6), "page 2 must depend on what page 1 showed"


def test_dense_baseline_carries_nothing():
    torch.manual_seed(0)
    module = tiny_module("dense")
    p_a = page_two_probs(module, "alpha", ["alpha", "bravo"])
    p_b = page_two_probs(module, "bravo", ["alpha", "bravo"])
    assert torch.allclose(p_a, p_b)


@pytest.mark.parametrize("attention", ["xl", "infini"])
def test_done_mask_clears_memory(attention):
    torch.manual_seed(0)
    module = tiny_module(attention)
    m, fz = module.model.eval(), module.featurizer
    b1 = to_tensors(stack([fz(page_one("alpha")).arrays]), "cpu")
    b2 = to_tensors(stack([fz(page_two(["alpha", "bravo"])).arrays]), "cpu")
    fresh = m.init_state(1, torch.device("cpu"))
    _, used = policy_step(m, b1, fresh, torch.tensor([True]))
    with torch.no_grad():
        h_reset, _ = m.core.step(m.encoder(b2).summary, used, torch.tensor([True]))
        h_fresh, _ = m.core.step(m.encoder(b2).summary, fresh, torch.tensor([True]))
        h_kept, _ = m.core.step(m.encoder(b2).summary, used, torch.tensor([False]))
    assert torch.allclose(h_reset, h_fresh, atol=1e-6)
    assert not torch.allclose(h_kept, h_fresh, atol=1e-6)


@pytest.mark.parametrize("attention", ["xl", "infini", "dense"])
def test_replay_reproduces_collection_log_probs(attention):
    """The update replays each env's rollout from the stored initial memory: ratio exactly 1 before any step."""
    torch.manual_seed(0)
    module = tiny_module(attention)
    env = RecallEnv(4)
    module.attach_env(env, seeds=[1, 2, 3, 4])
    module.model.eval()
    module.collector.collect(module.model, 3, torch.device("cpu"))  # start mid-episode: non-empty memory
    ro = module.collector.collect(module.model, 6, torch.device("cpu"))
    assert ro.starts[1:].any() and not ro.starts.all()
    batch = {"obs": to_tensors(ro.obs, "cpu"), "starts": torch.as_tensor(ro.starts),
             "actions": torch.as_tensor(ro.actions), "init_state": ro.init_state}
    with torch.no_grad():
        for envs in (torch.tensor([0, 1, 2, 3]), torch.tensor([2, 0])):
            logp, _, values, _ = module.replay(batch, envs)
            assert torch.allclose(logp, torch.as_tensor(ro.logp)[:, envs], atol=1e-5)
            assert torch.allclose(values, torch.as_tensor(ro.values)[:, envs], atol=1e-5)


# the learning rate anneals to 0 over UPDATES, so the budget shapes the run.  Measured (seeds 0-5 of
# seed_everything, 2026-12-05, the code since page 2 also lists page 1's words as typing candidates, which
# changed the heads' initialisation): learned within 120 updates on 6/6 seeds (infini) and 5/6 (xl), after
# 30-80 updates; within 90 only 2/4 and 3/4 (seeds 0-3; 3/4 and 4/4 before that change)
LR, ENT, UPDATES = 1e-3, 0.01, 120


def learned(history: list[float], module: PPOModule) -> bool:
    """Recall learned: a rollout of the last ten updates at >= 90% success and the greedy policy too."""
    return len(history) >= 10 and max(history[-10:]) >= 0.9 and greedy_recall_success(module) >= 0.9


def train_recall(attention: str, updates: int, stop_when_learned: bool = False) -> tuple[list[float], PPOModule]:
    """PPO through a real Lightning Trainer on the recall task; returns the per-update success curve.
    stop_when_learned: end as soon as ``learned`` holds (checked every 10 updates), within ``updates``."""
    L.seed_everything(0, verbose=False)
    module = tiny_module(attention, lr=LR, rollout_steps=4, update_epochs=4, minibatches=2, ent_coef=ENT,
                         norm_adv=False)
    module.attach_env(RecallEnv(16), seeds=list(range(16)))
    history: list[float] = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            history.append(float(trainer.callback_metrics.get("train/success_rate", float("nan"))))
            if stop_when_learned and len(history) % 10 == 0:
                training = pl_module.model.training
                trainer.should_stop = learned(history, pl_module)
                pl_module.model.train(training)  # greedy_recall_success puts it in eval mode

    trainer = L.Trainer(max_steps=updates, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", callbacks=[Record()])
    trainer.fit(module)
    return history, module


def greedy_recall_success(module: PPOModule, trials: int = 40) -> float:
    rng = np.random.default_rng(123)
    wins = 0
    for _ in range(trials):
        code = str(rng.choice(CODES))
        wins += int(page_two_probs(module, code, CODES).argmax().item() == CODES.index(code))
    return wins / trials


@pytest.fixture
def one_thread():
    """One intra-op thread: the learning runs are deterministic and not slowed by oversubscription."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("attention", ["xl", "infini"])
def test_memory_agent_learns_recall(attention, one_thread):
    """With memory the agent learns page 2 from page 1 within UPDATES updates (it stops once it has)."""
    history, module = train_recall(attention, UPDATES, stop_when_learned=True)
    assert len(history) <= UPDATES and learned(history, module), history


def test_dense_baseline_cannot_learn_recall(one_thread):
    """Same budget without memory: page 2 stays a 1-in-4 guess (measured: greedy 0.3)."""
    history, module = train_recall("dense", UPDATES)
    assert max(history) <= 0.6, history
    assert greedy_recall_success(module) <= 0.5

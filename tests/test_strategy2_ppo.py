"""Strategy 2: PPO loss pieces on hand-made tensors (no browser)."""
import math


import pytest
import torch

from strategies.compressive_rl import ppo_math


def test_gae_matches_hand_computation():
    # env 0: one episode ending at t=2 (the bootstrap value must be ignored);
    # env 1: no episode end, so the last value is bootstrapped.
    rewards = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    values = torch.tensor([[0.5, 0.1], [0.6, 0.2], [0.7, 0.3]])
    dones = torch.tensor([[False, False], [False, False], [True, False]])
    last = torch.tensor([9.0, 0.4])
    adv, ret = ppo_math.gae(rewards, values, dones, last, gamma=0.9, lam=0.8)
    a2 = 1.0 - 0.7
    a1 = (0.9 * 0.7 - 0.6) + 0.9 * 0.8 * a2
    a0 = (0.9 * 0.6 - 0.5) + 0.9 * 0.8 * a1
    assert adv[:, 0].tolist() == pytest.approx([a0, a1, a2], abs=1e-6)
    b2 = 0.9 * 0.4 - 0.3
    b1 = (0.9 * 0.3 - 0.2) + 0.72 * b2
    b0 = (0.9 * 0.2 - 0.1) + 0.72 * b1
    assert adv[:, 1].tolist() == pytest.approx([b0, b1, b2], abs=1e-6)
    assert torch.allclose(ret, adv + values)


def test_gae_does_not_leak_across_episode_boundary():
    # a reward in the next episode must not flow back into the finished one
    rewards = torch.tensor([[0.0], [5.0]])
    values = torch.zeros(2, 1)
    dones = torch.tensor([[True], [False]])
    adv, _ = ppo_math.gae(rewards, values, dones, torch.zeros(1), gamma=0.99, lam=0.95)
    assert adv[0, 0].item() == 0.0 and adv[1, 0].item() == 5.0


def test_clipped_policy_loss_values_and_gradients():
    new_logp = torch.log(torch.tensor([1.5, 0.5, 1.0])).requires_grad_(True)
    old_logp = torch.zeros(3)
    adv = torch.tensor([1.0, 1.0, -1.0])
    loss, kl, clip_frac = ppo_math.clipped_policy_loss(new_logp, old_logp, adv, clip=0.2)
    # ratio 1.5 with A>0 is clipped to 1.2; ratio 0.5 with A>0 keeps 0.5 (pessimistic min); ratio 1 unclipped
    assert loss.item() == pytest.approx((-1.2 - 0.5 + 1.0) / 3)
    assert clip_frac.item() == pytest.approx(2 / 3)
    expected_kl = ((0.5 - math.log(1.5)) + (-0.5 - math.log(0.5)) + 0.0) / 3
    assert kl.item() == pytest.approx(expected_kl, rel=1e-5)
    loss.backward()
    g = new_logp.grad
    assert g[0].item() == 0.0  # clipped: no gradient pushes the ratio further up
    assert g[1].item() == pytest.approx(-0.5 / 3)  # d(-A r)/dlogp = -A r / n
    assert g[2].item() == pytest.approx(1.0 / 3)


def test_value_loss_and_clipped_variant():
    v = torch.tensor([1.0, 2.0])
    r = torch.tensor([0.0, 0.0])
    assert ppo_math.value_loss(v, r).item() == pytest.approx(0.5 * (1 + 4) / 2)
    # clipping is pessimistic: old value 0, clip 0.5 -> clipped preds 0.5, errors stay the larger unclipped ones
    assert ppo_math.value_loss(v, r, old_values=torch.zeros(2), clip=0.5).item() == pytest.approx(1.25)
    # a prediction that moved past the clip range towards the target keeps the clipped (larger) error
    assert ppo_math.value_loss(torch.tensor([2.0]), torch.tensor([2.0]), torch.tensor([0.0]), 0.5).item() == pytest.approx(0.5 * 1.5**2)


def test_advantage_normalisation():
    adv = torch.tensor([1.0, 2.0, 3.0, 6.0])
    n = ppo_math.normalize_advantages(adv)
    assert n.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert n.std().item() == pytest.approx(1.0, abs=1e-4)
    assert torch.argsort(n).tolist() == torch.argsort(adv).tolist()
    assert ppo_math.normalize_advantages(torch.tensor([3.0])).item() == 0.0  # one sample: only centred


def test_explained_variance():
    target = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert ppo_math.explained_variance(target, target) == pytest.approx(1.0)
    assert ppo_math.explained_variance(torch.full((4,), 2.5), target) == pytest.approx(0.0)
    assert ppo_math.explained_variance(-target, target) < 0
    assert math.isnan(ppo_math.explained_variance(target, torch.ones(4)))


def test_seed_layout_keeps_ranks_resumes_validation_and_evaluation_apart():
    from omegaconf import OmegaConf

    from strategies.compressive_rl.seeds import (TOKENIZER_SEED_BASE, TRAIN_EPISODE_END, VAL_SEED_BASE,
                                                 episode_block, tokenizer_seeds, training_seed_starts)
    from strategies.compressive_rl.validation import validation_jobs
    from zoo.core.errors import ZooError
    from zoo.web.seeds import EVAL_BASE

    cfg = OmegaConf.create({"seed": 0, "env": {"num_envs": 4}, "ppo": {"rollout_steps": 16}, "trainer": {"max_steps": 80}})
    block = episode_block(cfg)
    assert block == (80 * 16 + 1 + 15) * 4  # one new episode per env step at most, + fresh ones per (re)start

    def used(starts, updates):  # every seed the envs can begin: streams of stride num_envs
        return {s + k * 4 for s in starts for k in range(updates * 16 + 1)}

    ranks = [used(training_seed_starts(cfg, r, 4), 80) for r in range(4)]
    assert all(not (ranks[i] & ranks[j]) for i in range(4) for j in range(i + 1, 4))
    first_half = used(training_seed_starts(cfg, 0, 4), 30)
    resumed = training_seed_starts(cfg, 0, 4, resumed_step=30)
    assert not (first_half & used(resumed, 50)) and max(used(resumed, 50)) < block  # still inside rank 0's block
    everything = set().union(*ranks)
    assert max(everything) < TRAIN_EPISODE_END <= TOKENIZER_SEED_BASE < VAL_SEED_BASE < EVAL_BASE
    assert all(TOKENIZER_SEED_BASE <= s < VAL_SEED_BASE for s in tokenizer_seeds(4))
    assert all(VAL_SEED_BASE <= s < EVAL_BASE for _, s in validation_jobs(["a", "b"], 50))
    # a high seed= wraps to the start of the training range instead of spilling into validation
    high = OmegaConf.merge(cfg, {"seed": 79})
    assert max(used(training_seed_starts(high, 3, 4), 80)) < TRAIN_EPISODE_END
    with pytest.raises(ZooError, match="exceed the 800000 training seeds"):
        training_seed_starts(OmegaConf.merge(cfg, {"trainer": {"max_steps": 100_000}}), 0, 4)


def test_training_rewards_penalise_timeouts_and_neutralise_browser_failures():
    import numpy as np

    from strategies.compressive_rl.rollout import training_rewards

    rew = np.array([1.0, 0.0, 0.0, -0.1, 0.0])  # solved, running, cut off, cut off after an invalid action, crash
    term = np.array([True, False, False, False, False])
    trunc = np.array([False, False, True, True, True])
    infos = [{"episode": {}}, {}, {"episode": {}}, {"invalid": "hidden"}, {"error": "browser crashed", "episode": {}}]
    values = np.array([0.3, 0.2, 0.1, 0.4, 0.55], np.float32)
    out = training_rewards(rew, term, trunc, infos, values, timeout_reward=-1.0)
    assert out.tolist() == pytest.approx([1.0, 0.0, -1.0, -1.1, 0.55])  # the crash: its own value, TD error 0
    assert rew.tolist() == [1.0, 0.0, 0.0, -0.1, 0.0]  # the env's rewards are not modified in place
    assert training_rewards(rew, term, trunc, infos, values, 0.0)[2] == 0.0


@pytest.mark.parametrize("key", ["model.dropout", "model.attention.dropout"])
def test_dropout_is_refused_with_one_line(key):
    from strategies.compressive_rl.fit import check_config
    from zoo.config import compose
    from zoo.core.errors import ZooError

    with pytest.raises(ZooError, match=rf"bad value for '{key}': 0.1 \(strategy 2 needs 0"):
        check_config(compose(["strategy=2", f"{key}=0.1"]))

"""Strategy 2: PPO loss pieces on hand-made tensors (no browser)."""
import math

import zoo  # noqa: F401

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


def test_every_rank_trains_on_its_own_seed_block(monkeypatch):
    from omegaconf import OmegaConf

    from strategies.compressive_rl.fit import RANK_SEED_BLOCK, rank_seed_offset

    cfg = OmegaConf.create({"trainer": {"devices": 2}})
    for var in ("RANK", "LOCAL_RANK", "NODE_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert rank_seed_offset(cfg) == 0
    monkeypatch.setenv("LOCAL_RANK", "1")  # Lightning's launcher: second process on node 0
    assert rank_seed_offset(cfg) == RANK_SEED_BLOCK
    monkeypatch.setenv("NODE_RANK", "1")  # second process on node 1 -> global rank 3
    assert rank_seed_offset(cfg) == 3 * RANK_SEED_BLOCK
    monkeypatch.setenv("RANK", "5")  # torchrun / srun give the global rank directly
    assert rank_seed_offset(cfg) == 5 * RANK_SEED_BLOCK

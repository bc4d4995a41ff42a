"""The PPO loss pieces as plain tensor functions, so each can be tested on hand-made numbers.

Shapes: rollouts are time-major, (T, N) for T steps of N envs.
"""
from __future__ import annotations

import torch
from torch import Tensor


def gae(rewards: Tensor, values: Tensor, dones: Tensor, last_value: Tensor, gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation.

    rewards, values, dones: (T, N); dones[t] is True when the episode ended with step t (its
    reward is the last of that episode, so nothing is bootstrapped past it).  last_value: (N,)
    value of the observation after the final step.  Returns (advantages, returns), both (T, N).
    """
    T = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(T)):
        alive = 1.0 - dones[t].float()
        delta = rewards[t] + gamma * next_value * alive - values[t]
        running = delta + gamma * lam * alive * running
        adv[t] = running
        next_value = values[t]
    return adv, adv + values


def normalize_advantages(adv: Tensor, eps: float = 1e-8) -> Tensor:
    """Zero mean, unit std; a single advantage (std undefined) is only centred."""
    if adv.numel() < 2:
        return adv - adv.mean()
    return (adv - adv.mean()) / (adv.std() + eps)


def clipped_policy_loss(new_logp: Tensor, old_logp: Tensor, adv: Tensor, clip: float) -> tuple[Tensor, Tensor, Tensor]:
    """PPO-clip surrogate (to minimise). Returns (loss, approx_kl, clip_fraction).

    approx_kl is the low-variance estimator E[(r - 1) - log r] (Schulman's k3).
    """
    log_ratio = new_logp - old_logp
    ratio = log_ratio.exp()
    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1.0 - clip, 1.0 + clip)
    loss = torch.max(unclipped, clipped).mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).float().mean()
    return loss, approx_kl, clip_fraction


def value_loss(new_values: Tensor, returns: Tensor, old_values: Tensor | None = None, clip: float | None = None) -> Tensor:
    """0.5 * squared error; with ``clip``, the PPO2 pessimistic clipped-value variant."""
    err = (new_values - returns) ** 2
    if clip is not None and old_values is not None:
        clipped = old_values + (new_values - old_values).clamp(-clip, clip)
        err = torch.max(err, (clipped - returns) ** 2)
    return 0.5 * err.mean()


def explained_variance(pred: Tensor, target: Tensor) -> float:
    """1 - Var(target - pred) / Var(target); nan when the targets do not vary."""
    var = target.var(unbiased=False)
    if var.item() == 0:
        return float("nan")
    return float(1.0 - (target - pred).var(unbiased=False) / var)

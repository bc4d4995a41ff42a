"""Strategy 2 (PPO with compressive memory) hyper-parameters (strategies/compressive_rl/)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PPOConfig:
    """lr: Adam learning rate.  rollout_steps: env steps per env per update.
    gamma / gae_lambda: discount and GAE lambda.  clip_coef: PPO ratio clip.
    ent_coef / vf_coef: entropy bonus and value-loss weights.  update_epochs / minibatches: PPO epochs
    over each rollout and minibatches per epoch.  norm_adv: normalise advantages per minibatch.
    target_kl: stop the epoch loop early past this approx KL (null: never).
    """

    lr: float = 3e-4
    rollout_steps: int = 16
    gamma: float = 0.95
    gae_lambda: float = 0.95
    clip_coef: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    update_epochs: int = 4
    minibatches: int = 2
    norm_adv: bool = True
    target_kl: float | None = None

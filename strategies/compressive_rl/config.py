"""Strategy 2 (PPO with compressive memory) hyper-parameters (strategies/compressive_rl/)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PPOConfig:
    """lr: Adam learning rate.  rollout_steps: env steps per env per update (trainer.max_steps = updates).
    gamma / gae_lambda: discount and GAE lambda.  clip_coef: PPO ratio clip.
    ent_coef / vf_coef: entropy bonus and value-loss weights.  update_epochs / minibatches: PPO epochs
    over each rollout and minibatches (groups of whole envs, replayed in time order) per epoch.
    norm_adv: normalise advantages per minibatch.
    target_kl: stop an update's epoch loop once a minibatch's approx KL exceeds this (null: never).
    anneal_lr: decay the learning rate linearly to 0 over trainer.max_steps updates (logged as train/lr).
    timeout_reward: added to the training reward of an episode cut off at env.max_episode_steps (the
    page pays 0 there but -1 for a wrong answer, so without it never finishing beats trying; Strategy 1's
    demonstrations count a cut-off as -1 too).  Benchmark scores are not affected.

    Agent (observation encoder and action space):
    encoder_layers: bidirectional layers mixing instruction tokens and DOM elements each step.
    max_instruction_len: instruction tokens kept.  max_spans: candidate instruction spans (quoted
    strings, then words) a ``type`` action may copy.  max_options: <select> options kept per page.
    greedy_eval: act by argmax (not sampling) when scoring on the benchmark.
    tokenizer_steps: random-agent env steps per env whose pages train the run's BPE vocabulary.
    bptt: in the update, backpropagate through the carried memory over the whole rollout (truncated
    BPTT; for xl this lifts Transformer-XL's stop-gradient on the memory).  false: memory detached per step.

    Validation (what ``zoo search`` prunes on): every ``val_every`` updates (0: never) play
    ``val_episodes`` greedy episodes of every training task on fixed held-out training-range seeds
    and log ``val/success_rate`` and ``val/episode_return`` (strategies/compressive_rl/validation.py).
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
    anneal_lr: bool = True
    timeout_reward: float = -1.0
    encoder_layers: int = 1
    max_instruction_len: int = 48
    max_spans: int = 16
    max_options: int = 16
    greedy_eval: bool = True
    tokenizer_steps: int = 4
    bptt: bool = True
    val_every: int = 0
    val_episodes: int = 2

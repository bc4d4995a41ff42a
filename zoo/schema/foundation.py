"""Strategy 1 (foundation model -> SFT -> RL with tree search) settings (strategies/foundation/)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DataConfig:
    """Recorded browser episodes (generated locally on first use, never downloaded).
    episodes_per_task: recorded episodes per task.  explore_fraction: share recorded by an exploring agent.
    fps: screen frames recorded per second of episode.  root: dataset directory (versioned inside).
    """

    episodes_per_task: int = 12
    explore_fraction: float = 0.25
    fps: float = 3.0
    root: str = "data/episodes"


@dataclass
class StageConfig:
    lr: float = 1e-3
    max_steps: int = 100
    batch_size: int = 8


@dataclass
class SearchConfig:
    """MCTS/PUCT over the DOM's actionable elements.
    simulations: node expansions per decision (the budget).  c_puct: exploration constant.
    max_depth: actions deep a simulation may go.
    """

    simulations: int = 16
    c_puct: float = 1.5
    max_depth: int = 4


@dataclass
class FoundationConfig:
    data: DataConfig = field(default_factory=DataConfig)
    pretrain: StageConfig = field(default_factory=StageConfig)
    sft: StageConfig = field(default_factory=StageConfig)
    rl: StageConfig = field(default_factory=StageConfig)
    search: SearchConfig = field(default_factory=SearchConfig)

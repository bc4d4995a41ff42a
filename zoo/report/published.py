"""Published reference figures shown beside our numbers, always labelled as published.

Copied from the team's reference sheet (shared/reference.md); each row names its source.
These are other systems on other task sets and budgets: context for our numbers, not a
like-for-like comparison (the report says so next to the table).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    system: str
    benchmark: str
    result: str
    training_data: str
    source: str
    success: float | None = None  # a single mean success rate, where the figure is one


PUBLISHED: tuple[Published, ...] = (
    Published("Human", "MiniWoB++ (59 tasks)", "93.5% mean success", "-",
              'Shaw et al. 2023, "From Pixels to UI Actions"', 0.935),
    Published("Pix2Act (BC + MCTS, pixels only)", "MiniWoB++ (59 tasks)", "96.2%", "1.3M episodes",
              "Shaw et al. 2023", 0.962),
    Published("CC-Net (no DOM)", "MiniWoB++ (59 tasks)", "24.0%", "2.4M demos",
              "as reported by Shaw et al. 2023", 0.240),
    Published("CC-Net (DOM + pixels)", "MiniWoB++ (104 tasks)", "~93% of human level", "2.4M demos + RL",
              "Humphreys et al. 2022"),
    Published("Tree search (best-first, value fn)", "VisualWebArena / WebArena",
              "26.4% (+39.7% rel.) / 19.2% (+28.0% rel.)", "-", "Koh et al. 2024"),
)

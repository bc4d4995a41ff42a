"""The shared web-task benchmark's environment config (zoo/web/)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EnvConfig:
    """suite: named task list in configs/suite/ (``zoo list suite``); tasks: explicit task names, overriding suite.
    num_envs: browser contexts stepped concurrently.
    max_episode_steps: actions before an episode is cut off (counted as a failure).
    screenshot: include an RGB screenshot of the task area in each observation.
    screenshot_size: screenshots are resized to this square size.
    step_timeout_s: a step slower than this counts as a hung page; the browser is restarted.
    invalid_action_penalty: reward of a step whose action could not be carried out.
    """

    suite: str = "miniwob-core"
    tasks: list[str] = field(default_factory=list)
    num_envs: int = 4
    max_episode_steps: int = 8
    screenshot: bool = False
    screenshot_size: int = 64
    step_timeout_s: float = 10.0
    invalid_action_penalty: float = -0.05
    headless: bool = True

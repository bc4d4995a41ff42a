"""``WebEnv``: one task in one browser context, with the gymnasium ``reset``/``step`` API.

    with WebEnv("click-button") as env:
        obs, info = env.reset(seed=3)
        obs, reward, terminated, truncated, info = env.step(Action.click(4))

It is a one-env ``VecWebEnv`` without auto-reset (so crash recovery, timeouts, invalid-action
handling and the reward protocol are the same); observations are ``zoo.web.types.Observation``.
``observation_space`` / ``action_space`` are the structured spaces of ``zoo.web.spaces`` (it
passes ``gymnasium.utils.env_checker.check_env``).  ``reset(seed=s)`` plays episode seed ``s``
and seeds ``np_random``; ``reset()`` draws the next training seed from ``np_random`` (seeded 0
at construction, so unseeded runs are reproducible too).  Note the time-decayed final reward
depends on the episode's wall time, so only the raw reward is exactly reproducible.
Many WebEnvs (e.g. one simulator per task) can share one Chromium with ``share_browser=True``.
``page_clock=False`` starts episodes with the page's own time limit off (training simulators whose
episodes wait on a learner or a tree search; see ``zoo.web.slot.START_JS``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium.utils import seeding

from zoo.core.errors import ZooError
from zoo.web.seeds import EVAL_BASE, train_seed
from zoo.web.spaces import ActionSpace, ObservationSpace
from zoo.web.tasks import TaskSpec, get_task
from zoo.web.types import Action, Observation
from zoo.web.vector import VecWebEnv


class WebEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, task: str | TaskSpec, max_episode_steps: int = 8, screenshot: bool = False,
                 screenshot_size: int = 64, step_timeout_s: float = 10.0, invalid_action_penalty: float = -0.05,
                 headless: bool = True, max_elements: int = 256, extra_roots: dict[str, Path] | None = None,
                 share_browser: bool = False, page_clock: bool = True, settle_ms: float = 0.0):
        self.vec = VecWebEnv([task], num_envs=1, max_episode_steps=max_episode_steps, screenshot=screenshot,
                             screenshot_size=screenshot_size, step_timeout_s=step_timeout_s,
                             invalid_action_penalty=invalid_action_penalty, headless=headless,
                             max_elements=max_elements, autoreset=False, extra_roots=extra_roots,
                             share_browser=share_browser, page_clock=page_clock, settle_ms=settle_ms)
        self.task = self.vec.specs[0].name
        self._episodes = 0
        self._done = True
        self.render_mode = "rgb_array" if screenshot else None  # render() = the last screenshot
        self.observation_space = ObservationSpace(max_elements, screenshot_size if screenshot else None)
        self.action_space = ActionSpace(max_elements)
        self._np_random, self._np_random_seed = seeding.np_random(0)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Observation, dict]:
        """Start an episode; ``options={"task": name}`` switches this env to another task first."""
        if options and options.get("task") is not None:
            spec = get_task(options["task"])
            self.vec.specs = [spec]
            self.task = spec.name
        super().reset(seed=seed)
        if seed is None:
            seed = train_seed(int(self.np_random.integers(EVAL_BASE)))
        self._episodes += 1
        obs = self.vec.reset([int(seed)])[0]
        self._done = False
        return obs, {"task": self.task, "seed": int(seed)}

    def step(self, action: Action) -> tuple[Observation, float, bool, bool, dict]:
        if self._done:
            raise ZooError("the episode is over: call reset() before step()")
        obs, rewards, terminated, truncated, infos = self.vec.step([action])
        self._done = bool(terminated[0] or truncated[0])
        return obs[0], float(rewards[0]), bool(terminated[0]), bool(truncated[0]), infos[0]

    def render(self) -> Any:
        """The last observation's screenshot (an RGB array; None when screenshots are off)."""
        obs = self.vec.observations[0]
        return None if obs is None or obs.screenshot is None else obs.screenshot.copy()

    @property
    def observation(self) -> Observation | None:
        return self.vec.observations[0]

    def browser_pid(self) -> int | None:
        return self.vec.browser_pid()

    def close(self) -> None:
        self.vec.close()

    def __enter__(self) -> WebEnv:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

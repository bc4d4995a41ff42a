"""The shared web-task benchmark's environment config (zoo/web/)."""
from __future__ import annotations

from dataclasses import dataclass, field

from zoo.schema.checks import at_least, between, greater_than


@dataclass
class EnvConfig:
    """suite: named task list in configs/suite/ (``zoo list suite``); tasks: explicit task names, overriding suite.
    num_envs: browser contexts stepped concurrently.
    max_episode_steps: actions before an episode is cut off (counted as a failure).
    screenshot: include an RGB screenshot of the task area in each observation.
    screenshot_size: screenshots are resized to this square size.
    step_timeout_s: a browser call slower than this counts as a hung page: its context is replaced (the whole
    browser if it is dead) and the episode ends with an error.
    invalid_action_penalty: reward added to a step whose action could not be carried out (the episode goes on).
    headless: run Chromium without a window.
    max_elements: DOM elements kept per observation (document order; the rest are dropped).
    browsers: Chromium processes the envs are spread over; 0 (default): one per env, so envs share no
    clipboard (a browser process has one for all its contexts) and more cores give more steps/s.
    pages_per_context: task pages a browser context keeps loaded (least recently used closed first); an
    episode of a kept task resets in place instead of loading its page (a load costs many steps' time:
    ``ms_per_page_load`` in reports/bench/env_throughput.md).  Env i runs tasks i, i + num_envs, ...
    (modulo the suite's length: len(tasks) / gcd(num_envs, len(tasks)) tasks in turn); with fewer kept
    pages than that, every episode of a cycling context reloads its page.  Each kept page costs renderer
    memory.  At most 1024 (more than there are tasks).
    settle_ms: 0 (default): each observation is read as soon as the action has run.  Above 0: after every action
    (not a wait) and at each episode's start, the page is first let run until it is still -- no jQuery effect
    queued, no finite CSS animation running, no autocomplete search pending (``zoo.unsettled``,
    zoo/web/js/observe.js) -- at most this many ms.  What an agent then sees after a click that starts an
    accordion's slide or a typing that opens suggestions 0.3 s later no longer depends on the machine's speed
    (reports/context/README.md, "Recordings and the machine's speed").  At most 5000.
    Episode seeds: zoo.web.seeds (training seeds < 1_000_000 <= evaluation seeds).
    """

    suite: str = "miniwob-core"
    tasks: list[str] = field(default_factory=list)
    num_envs: int = field(default=4, metadata=at_least(1))
    max_episode_steps: int = field(default=8, metadata=at_least(1))
    screenshot: bool = False
    screenshot_size: int = field(default=64, metadata=at_least(8))
    step_timeout_s: float = field(default=10.0, metadata=greater_than(0))
    invalid_action_penalty: float = -0.05
    headless: bool = True
    max_elements: int = field(default=256, metadata=at_least(1))
    browsers: int = field(default=0, metadata=at_least(0))
    pages_per_context: int = field(default=16, metadata=between(1, 1024))
    settle_ms: float = field(default=0.0, metadata=between(0, 5000))

"""Record browser episodes into a versioned on-disk dataset (generated locally, never downloaded).

Layout (one directory per recording config, so a changed config never mixes with old data)::

    <root>/v<VERSION>-<config hash>/
        manifest.json                 schema, version, the recording config, one entry per episode
        <task>/<seed>.json            instruction, per-step DOM (elements), page, time, action, instruction line
        <task>/<seed>.npz             screen recording: frames uint8 (T, H, W, 3), times (T,), step (T,)

The screen recording is a real one: while the episode runs, ``screencast.ScreenRecorder`` takes a
screenshot of the task area at every tick of ``fps``; the recorder also keeps each observation's
own screenshot (every step and the final page).  All frames are stored in time order with their
time since the first observation; ``step`` is the step whose observation a frame is (the final
page: the number of steps), -1 for the frames filmed in between.  Before each action the
recorder watches the page for ``watch_frames`` frame periods (a demonstration's pace), so every
step has video of its own.  ``screencast.sample_frames`` (used by ``data.step_frames`` and by the
acting path) watches the recording at ``fps``.  Episodes are written atomically one by one and
the manifest last, so an interrupted recording resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from strategies.foundation.instructions import action_line, format_instructions
from strategies.foundation.screencast import ScreenRecorder
from zoo.core.errors import ZooError
from zoo.core.io import atomic_write
from zoo.web.agents import OracleAgent
from zoo.web.env import WebEnv
from zoo.web.seeds import train_seed
from zoo.web.types import Action, Element, Observation, instruction_spans, page_texts

# 5: the oracles of the animating tasks (accordions, date pickers) wait with Action.settle, one step whatever the
# machine's speed (4: fixed waits looked at again until the page was still);
# 4: form-sequence's oracle clicks the slider element, then moves it by arrow keys (3: a click at a point on its track);
# 3: an element a user could scroll to counts as visible (2: only on screen); 2: frames filmed at fps between
# the observations (1: one frame per observation)
VERSION = 5
SCHEMA = "actionzoo.episodes/2"


# ---------------------------------------------------------------- (de)serialisation
def element_row(e: Element) -> list[Any]:
    return [e.id, e.tag, e.text, dict(e.attrs), list(e.bbox), e.parent, e.depth, e.visible, e.category,
            e.actionable, list(e.options)]


def row_element(r: list[Any]) -> Element:
    return Element(int(r[0]), r[1], r[2], dict(r[3]), tuple(float(v) for v in r[4]), int(r[5]), int(r[6]),
                   bool(r[7]), r[8], bool(r[9]), list(r[10]))


def action_dict(a: Action) -> dict[str, Any]:
    return {k: v for k, v in asdict(a).items() if v is not None}


def dict_action(d: dict[str, Any]) -> Action:
    return Action(d["kind"], element=d.get("element"), text=d.get("text"), option=d.get("option"), key=d.get("key"))


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: numpy would append .npz to a bare name
        np.savez_compressed(f, **arrays)




# ---------------------------------------------------------------- the recording config
def recording_config(tasks: list[str], data_cfg: Any, env_cfg: Any, seed: int) -> dict[str, Any]:
    if float(data_cfg.fps) <= 0 or int(data_cfg.watch_frames) < 0:
        raise ZooError(f"bad value for 'foundation.data.fps' / 'foundation.data.watch_frames': {data_cfg.fps} / "
                       f"{data_cfg.watch_frames} (fps must be > 0, watch_frames >= 0)")
    settle_ms = float(env_cfg.get("settle_ms", 0.0))
    return {
        "tasks": list(tasks), "episodes_per_task": int(data_cfg.episodes_per_task),
        "explore_fraction": float(data_cfg.explore_fraction), "explore_epsilon": float(data_cfg.explore_epsilon),
        "fps": float(data_cfg.fps), "watch_frames": int(data_cfg.watch_frames), "screenshot_size": int(env_cfg.screenshot_size),
        "max_episode_steps": int(env_cfg.max_episode_steps), "seed": int(seed),
        # only when on, so recordings made before env.settle_ms existed keep their folder
        **({"settle_ms": settle_ms} if settle_ms else {}),
    }


def dataset_dir(root: str | Path, config: dict[str, Any]) -> Path:
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    return Path(root) / f"v{VERSION}-{digest}"


def episode_plan(config: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(task, seed, agent) for every episode: the first ones of each task by the oracle, the rest exploring."""
    n = config["episodes_per_task"]
    n_explore = int(round(n * config["explore_fraction"]))
    plan = []
    for t, task in enumerate(config["tasks"]):
        for i in range(n):
            seed = train_seed(config["seed"] * 100_003 + t * 10_007 + i)
            plan.append((task, seed, "explore" if i >= n - n_explore else "oracle"))
    return plan


# ---------------------------------------------------------------- exploring
def random_action(obs: Observation, rng: np.random.Generator) -> Action | None:
    """A random but well-formed action on a visible actionable element (typing copies an instruction span or a
    short text on the page, the candidates the model chooses from)."""
    targets = [e for e in obs.elements if e.actionable and e.visible]
    if not targets:
        return None
    el = targets[int(rng.integers(len(targets)))]
    if el.options:
        return Action.select(el.id, el.options[int(rng.integers(len(el.options)))])
    if el.typable and rng.random() < 0.5:
        texts = [obs.instruction[s:e] for s, e in instruction_spans(obs.instruction)]
        texts = texts + [t for _, t in page_texts(obs.elements)] or [""]
        return Action.type(el.id, texts[int(rng.integers(len(texts)))])
    return Action.click(el.id)


class Recorder:
    """Plays the planned episodes with the oracle (exploring: epsilon-random actions) and writes them.

    workers: processes recording at once, each with its own browser, one task at a time.  Filming runs
    at the page's own pace (``watch_frames`` periods per step), so a recording mostly waits: several
    tasks filmed side by side take about the time of one on a 2-core machine.  An episode's actions
    and pages depend only on its task and seed, never on which worker played it.  A recording of fewer
    than ``min_parallel`` missing episodes stays in this process (a worker's start costs seconds of
    imports).
    """

    def __init__(self, directory: Path, config: dict[str, Any], headless: bool = True, step_timeout_s: float = 10.0,
                 progress: bool = True, workers: int = 1, min_parallel: int = 24):
        self.dir, self.config = Path(directory), config
        self.headless, self.step_timeout_s, self.progress = headless, step_timeout_s, progress
        self.workers, self.min_parallel = max(1, int(workers)), int(min_parallel)

    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    def complete(self) -> bool:
        return self.manifest_path().is_file()

    def recorded(self, task: str, seed: int) -> bool:
        return (self.dir / task / f"{seed}.json").is_file()

    def record(self) -> Path:
        if self.complete():
            return self.dir
        from rich.progress import Progress

        self.dir.mkdir(parents=True, exist_ok=True)
        plan = episode_plan(self.config)
        missing = [(t, seed) for t, seed, _ in plan if not self.recorded(t, seed)]
        todo = [task for task in self.config["tasks"] if any(t == task for t, _ in missing)]
        with Progress(disable=not self.progress, transient=True) as bar:
            job = bar.add_task(f"recording {len(plan)} episodes", total=len(plan), completed=len(plan) - len(missing))
            if self.workers > 1 and len(todo) > 1 and len(missing) >= self.min_parallel:
                spawn = multiprocessing.get_context("spawn")  # a fork of a process holding browsers is unsafe
                with ProcessPoolExecutor(min(self.workers, len(todo)), mp_context=spawn) as pool:
                    futures = [pool.submit(record_task, self.dir, self.config, task, self.headless,
                                           self.step_timeout_s) for task in todo]
                    for done in as_completed(futures):
                        bar.advance(job, done.result())
            else:
                for task in todo:
                    self.record_task(task, lambda: bar.advance(job))
        entries = []
        for t, seed, agent in plan:
            meta = json.loads((self.dir / t / f"{seed}.json").read_text())
            entries.append({"task": t, "seed": seed, "agent": agent, "success": meta["success"],
                            "steps": len(meta["steps"]), "file": f"{t}/{seed}"})
        manifest = {"schema": SCHEMA, "version": VERSION, "config": self.config, "episodes": entries,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        atomic_write(self.manifest_path(), lambda p: p.write_text(json.dumps(manifest, indent=1)))
        return self.dir

    def record_task(self, task: str, on_episode: Any = None) -> int:
        """Record the task's planned episodes not on disk yet (one browser for all); returns how many."""
        env, count = None, 0
        try:
            for t, seed, agent in episode_plan(self.config):
                if t != task or self.recorded(t, seed):
                    continue
                if env is None:
                    env = WebEnv(t, max_episode_steps=self.config["max_episode_steps"], screenshot=True,
                                 screenshot_size=self.config["screenshot_size"],
                                 step_timeout_s=self.step_timeout_s, headless=self.headless,
                                 settle_ms=float(self.config.get("settle_ms", 0.0)))
                self.record_episode(env, t, seed, agent)
                count += 1
                if on_episode is not None:
                    on_episode()
        finally:
            if env is not None:
                env.close()
        return count

    def record_episode(self, env: Any, task: str, seed: int, agent_kind: str) -> dict[str, Any]:
        rng = np.random.default_rng(seed)
        oracle = OracleAgent()
        state = oracle.reset(1)
        fps, size = float(self.config["fps"]), int(self.config["screenshot_size"])
        watch_s = int(self.config.get("watch_frames", 0)) / fps
        obs, _ = env.reset(seed=seed)
        t0 = time.monotonic()
        screen = ScreenRecorder(env, fps, size)
        screen.start(t0)
        own: list[tuple[float, Any, int]] = []  # (time, screenshot, step) of every observation
        steps: list[dict[str, Any]] = []
        summary: dict[str, Any] = {}
        done, first, truncated = False, True, False
        try:
            while not done:
                now = time.monotonic() - t0
                own.append((now, obs.screenshot, len(steps)))
                time.sleep(max(0.0, now + watch_s - (time.monotonic() - t0)))  # film the page, then act
                actions, state = oracle.act([obs], state, np.array([first]))
                first = False
                action, source = actions[0], "oracle"
                if agent_kind == "explore" and rng.random() < self.config["explore_epsilon"]:
                    action, source = random_action(obs, rng) or action, "random"
                steps.append({"instruction": obs.instruction, "page": obs.page, "time": round(now, 4),
                              "elements": [element_row(e) for e in obs.elements], "action": action_dict(action),
                              "source": source, "line": action_line(action, obs.elements)})
                obs, _reward, terminated, truncated, info = env.step(action)
                done = terminated or truncated
                summary = info.get("episode", {}) if done else summary
            own.append((time.monotonic() - t0, obs.screenshot, len(steps)))  # the page after the last action
        finally:
            film_times, film = screen.stop()
        frames = sorted([(t, f, s) for t, f, s in own] + [(t, f, -1) for t, f in zip(film_times, film)],
                        key=lambda x: (x[0], x[2] < 0))
        raw = float(summary.get("raw_reward", 0.0))
        meta = {
            "task": task, "seed": seed, "agent": agent_kind, "raw_reward": raw,
            "reward": float(summary.get("reward", 0.0)), "success": bool(summary.get("success", raw > 0)),
            "truncated": bool(truncated), "steps": steps,
            "final": {"instruction": obs.instruction, "page": obs.page},
            "instructions": format_instructions([s["line"] for s in steps]),
            "screencast": {"fps": fps, "filmed": len(film), "missed_ticks": screen.failed},
        }
        (self.dir / task).mkdir(parents=True, exist_ok=True)
        video = np.stack([f if f is not None else np.zeros((size, size, 3), np.uint8) for _, f, _ in frames])
        atomic_write(self.dir / task / f"{seed}.npz", lambda p: _save_npz(
            p, frames=video, times=np.asarray([t for t, _, _ in frames], np.float32),
            step=np.asarray([s for _, _, s in frames], np.int64)))
        atomic_write(self.dir / task / f"{seed}.json", lambda p: p.write_text(json.dumps(meta)))
        return meta


def record_task(directory: Path, config: dict[str, Any], task: str, headless: bool, step_timeout_s: float) -> int:
    """One worker's share of ``Recorder.record``: the task's missing episodes (a picklable entry point)."""
    return Recorder(directory, config, headless, step_timeout_s, progress=False).record_task(task)


def ensure_dataset(root: str | Path, config: dict[str, Any], **recorder_kw: Any) -> Path:
    """The dataset directory for ``config``, recorded first if it is not complete."""
    directory = dataset_dir(root, config)
    return Recorder(directory, config, **recorder_kw).record()

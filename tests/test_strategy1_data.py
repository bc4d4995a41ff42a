"""Strategy 1 dataset: recording browser episodes to disk and reading them back; the browser simulator."""
from __future__ import annotations

import json

import numpy as np
import pytest

from strategies.foundation.data import load_recorded, split, step_frames, to_episode
from strategies.foundation.instructions import action_line
from strategies.foundation.recording import (
    VERSION, action_dict, dataset_dir, dict_action, element_row, ensure_dataset, episode_plan, row_element,
)
from zoo.web.types import Action, Element

CONFIG = {"tasks": ["click-button", "enter-text"], "episodes_per_task": 2, "explore_fraction": 0.5,
          "explore_epsilon": 1.0, "fps": 5.0, "watch_frames": 1, "screenshot_size": 32, "max_episode_steps": 4, "seed": 0}


def test_rows_and_actions_round_trip_exactly():
    el = Element(3, "select", "pick", {"id": "s", "value": "b"}, (1.5, 2.0, 30.0, 12.25), 1, 2, True, "input", True,
                 ["a", "b"])
    assert row_element(json.loads(json.dumps(element_row(el)))) == el
    for action in (Action.click(2), Action.type(1, "Bob"), Action.select(3, "b"), Action.press("Enter"), Action.noop()):
        assert dict_action(json.loads(json.dumps(action_dict(action)))) == action


def test_plan_and_directory_are_versioned_by_the_recording_config():
    plan = episode_plan(CONFIG)
    assert [p[2] for p in plan] == ["oracle", "explore", "oracle", "explore"]
    assert len({p[1] for p in plan if p[0] == "click-button"}) == 2
    assert dataset_dir("root", CONFIG) == dataset_dir("root", dict(CONFIG))
    assert dataset_dir("root", CONFIG) != dataset_dir("root", {**CONFIG, "fps": 2.0})
    assert dataset_dir("root", CONFIG) != dataset_dir("root", {**CONFIG, "watch_frames": 2})
    assert dataset_dir("root", CONFIG).name.startswith(f"v{VERSION}-") and VERSION == 5


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    root = tmp_path_factory.mktemp("episodes")
    return ensure_dataset(root, CONFIG, progress=False)


@pytest.mark.browser
def test_workers_record_the_same_episodes_side_by_side(recorded, tmp_path):
    """Two processes, a task each: the same plan, actions, pages and instruction lines as one process
    recording them in turn (only the clock and the filmed in-between frames may differ)."""
    parallel = ensure_dataset(tmp_path, CONFIG, progress=False, workers=2, min_parallel=0)
    assert parallel.name == recorded.name  # the workers are not part of the dataset's identity
    one, two = json.loads((recorded / "manifest.json").read_text()), json.loads((parallel / "manifest.json").read_text())
    assert [(e["task"], e["seed"], e["agent"], e["steps"]) for e in one["episodes"]] == \
           [(e["task"], e["seed"], e["agent"], e["steps"]) for e in two["episodes"]]
    for entry in one["episodes"]:
        a, b = (json.loads((d / f"{entry['file']}.json").read_text()) for d in (recorded, parallel))
        assert a["instructions"] == b["instructions"] and a["success"] == b["success"]
        strip = lambda steps: [{k: v for k, v in st.items() if k != "time"} for st in steps]  # noqa: E731
        assert strip(a["steps"]) == strip(b["steps"])


@pytest.mark.browser
def test_recording_round_trip(recorded):
    manifest = json.loads((recorded / "manifest.json").read_text())
    assert manifest["schema"] == "actionzoo.episodes/2" and manifest["config"] == CONFIG
    recs = load_recorded(recorded)
    assert len(recs) == 4 and {r.meta["agent"] for r in recs} == {"oracle", "explore"}
    fps = CONFIG["fps"]
    for rec in recs:
        steps = rec.meta["steps"]
        # a screen recording: every observation's own frame (each step and the page after the last
        # action) plus the frames filmed at fps in between, all in time order
        assert rec.frames.shape[1:] == (32, 32, 3) and rec.frames.dtype == np.uint8
        assert np.all(np.diff(rec.times) >= 0) and len(rec.times) == len(rec.frames) == len(rec.frame_step)
        own = rec.frame_step[rec.frame_step >= 0]
        assert list(own) == list(range(len(steps) + 1))
        filmed = rec.times[rec.frame_step < 0]
        duration = float(rec.times[-1] - rec.times[0])
        # the page is watched for watch_frames periods before each action: at least one tick per step
        assert duration >= len(steps) * CONFIG["watch_frames"] / fps - 0.05
        # frames sit on distinct ticks of a 1/fps clock; a late wake-up (a loaded machine) can bring one
        # frame closer to the next, so only order and the average spacing are checked
        assert len(filmed) >= len(steps) and np.all(np.diff(filmed) > 0)
        if len(filmed) > 1:
            assert (filmed[-1] - filmed[0]) / (len(filmed) - 1) >= 0.5 / fps
        assert len(filmed) <= duration * fps + 2
        ep = to_episode(rec, fps=fps, frames_per_step=2)
        for t, (raw, step) in enumerate(zip(steps, ep.steps)):
            assert [element_row(e) for e in step.elements] == raw["elements"]
            assert step.action == dict_action(raw["action"])
            assert step.line == action_line(step.action, step.elements) == raw["line"]
            own_frame = rec.frames[int(np.flatnonzero(rec.frame_step == t)[0])]
            assert step.frames[-1].tobytes() == own_frame.tobytes()  # the step's own frame comes last
            if t > 0:  # and before it a frame of the video, filmed while the page was watched
                assert len(step.frames) == 2
        assert rec.meta["instructions"].splitlines()[0].startswith("1. ")
        sign = 1.0 if rec.meta["success"] else -1.0
        assert np.sign(ep.steps[-1].value) == sign or rec.meta["raw_reward"] == 0
    oracle = [r for r in recs if r.meta["agent"] == "oracle"]
    assert all(r.meta["success"] for r in oracle)  # the oracle solves its tasks
    assert all(s["source"] == "oracle" for r in oracle for s in r.meta["steps"])


@pytest.mark.browser
def test_recording_is_not_repeated_and_resumes_missing_episodes(recorded):
    stamp = (recorded / "manifest.json").stat().st_mtime_ns
    assert ensure_dataset(recorded.parent, CONFIG, progress=False) == recorded
    assert (recorded / "manifest.json").stat().st_mtime_ns == stamp
    # an interrupted recording (manifest missing, one episode lost) re-records only what is missing
    victim = sorted((recorded / "enter-text").glob("*.json"))[0]
    kept = sorted((recorded / "click-button").glob("*.json"))[0]
    kept_stamp = kept.stat().st_mtime_ns
    (recorded / "manifest.json").unlink()
    victim.unlink()
    ensure_dataset(recorded.parent, CONFIG, progress=False)
    assert victim.is_file() and kept.stat().st_mtime_ns == kept_stamp
    assert len(load_recorded(recorded)) == 4


@pytest.mark.browser
def test_split_holds_out_oracle_episodes_per_task(recorded):
    recs = load_recorded(recorded)
    train, val = split(recs, val_fraction=1.0)  # one oracle episode per task here: all of them held out
    assert {r.meta["task"] for r in val} == {"click-button", "enter-text"}
    assert all(r.meta["agent"] == "oracle" for r in val) and len(train) + len(val) == 4
    train, val = split(recs, val_fraction=0.0)
    assert not val and len(train) == 4


def test_frames_are_resampled_at_the_recording_fps():
    from strategies.foundation.data import Recorded

    frames = np.arange(4, dtype=np.uint8).reshape(4, 1, 1, 1).repeat(3, axis=3)
    rec = Recorded({"steps": [{}] * 3}, frames, np.array([0.0, 0.1, 0.9, 1.0], np.float32), np.arange(4))
    # at 2 fps the ticks are t=0 and t=0.5, so step 2 (t=0.9) sees frame 0, frame 1 (shown at 0.5) and itself
    assert [int(f[0, 0, 0]) for f in step_frames(rec, 2, fps=2.0, k=3)] == [0, 1, 2]
    assert [int(f[0, 0, 0]) for f in step_frames(rec, 1, fps=2.0, k=3)] == [0, 1]


def test_acting_samples_frames_as_the_dataset_reader_does():
    """history_episode (agent, tree search) picks from its observation stream what step_frames picks
    from a recording holding the same frames at the same times."""
    from strategies.foundation.data import Recorded
    from strategies.foundation.search import history_episode
    from zoo.web.types import Observation

    times = [0.0, 0.2, 0.25, 0.9, 1.6]
    shots = [np.full((2, 2, 3), i, np.uint8) for i in range(len(times))]
    els = [Element(0, "button", "ok", {}, (0, 0, 10, 10), -1, 0, True, "action", True)]
    observations = [Observation("t", "Press ok", els, shot, "p", i) for i, shot in enumerate(shots)]
    rec = Recorded({"steps": [{}] * len(times)}, np.stack(shots), np.asarray(times, np.float32), np.arange(len(times)))
    for k in (1, 2, 3):
        ep = history_episode("t", observations, [Action.click(0)] * (len(times) - 1), k, times, fps=3.0)
        for t, step in enumerate(ep.steps):
            assert [f.tobytes() for f in step.frames] == [f.tobytes() for f in step_frames(rec, t, 3.0, k)]
    # at 3 fps the ticks are 0, 1/3, 2/3, 1, 4/3: frame 1 (t=0.2) is never the latest one at a tick
    assert [int(f[0, 0, 0]) for f in step_frames(rec, 4, 3.0, 3)] == [2, 3, 4]

"""Honest scoring: an agent scored by the benchmark (``evaluate``, which ``zoo bench`` and every
strategy's final scoring call) sees only what a deployed agent would -- no episode seed in its
observations, no second copy of the test page, no page reward before it commits an action.

The browser tests run agents under ``ScoringSpy``, which watches every page the process starts or
steps (``Slot.start`` / ``Slot.step``: the only ways a page episode begins or a reward is read) and
every browser env opened; the last test shows it catches an agent that replays the test episode.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from zoo.web.types import Action, Observation

SEARCH = SimpleNamespace(simulations=4, c_puct=1.5, max_depth=2, top_k=4, gamma=0.95)


def test_observations_carry_no_episode_seed_and_no_reward():
    fields = {f.name for f in dataclasses.fields(Observation)}
    # time_ms: the page's clock when it was read (the machine's wall clock), what a clock on the wall shows
    assert fields == {"task", "instruction", "elements", "screenshot", "page", "step", "time_ms"}


def test_strategy1_headline_is_a_variant_with_test_time_information_only():
    from strategies.foundation.scoring import HEADLINE, VARIANTS

    assert set(VARIANTS) == {"policy", "policy+search"}
    assert not VARIANTS[HEADLINE]["simulator_assisted"] and VARIANTS[HEADLINE]["search"] == "value-judged"
    assert all({"search", "simulator_assisted", "description"} <= set(v) for v in VARIANTS.values())


# ---------------------------------------------------------------- the spy
class ScoringSpy:
    """Records browser envs opened, page episodes started and page steps taken, and whether an
    agent was deciding at the time; ``violations()`` lists what a deployed agent could not do."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        from zoo.web.slot import Slot
        from zoo.web.vector import VecWebEnv

        self.envs: list[VecWebEnv] = []
        self.starts: list[tuple[object, str, int, bool]] = []  # slot, task, seed, agent deciding
        self.steps: list[tuple[object, Action, bool, bool]] = []  # slot, action, deciding, committed
        self.observations: list[Observation] = []
        self.committed: list[Action] = []
        self.deciding = False
        init, start, step = VecWebEnv.__init__, Slot.start, Slot.step
        spy = self

        def spy_init(env, *args, **kwargs):
            spy.envs.append(env)
            init(env, *args, **kwargs)

        async def spy_start(slot, task, seed, *args, **kwargs):
            spy.starts.append((slot, task.name, int(seed), spy.deciding))
            return await start(slot, task, seed, *args, **kwargs)

        async def spy_step(slot, action):
            spy.steps.append((slot, action, spy.deciding, any(action is a for a in spy.committed)))
            return await step(slot, action)

        monkeypatch.setattr(VecWebEnv, "__init__", spy_init)
        monkeypatch.setattr(Slot, "start", spy_start)
        monkeypatch.setattr(Slot, "step", spy_step)

    def wrap(self, agent):
        spy = self

        class Watched:
            name = getattr(agent, "name", "agent")
            screenshot = getattr(agent, "screenshot", False)
            screenshot_size = getattr(agent, "screenshot_size", 64)

            def reset(self, n):
                return agent.reset(n)

            def act(self, observations, state, done_mask):
                spy.observations += list(observations)
                spy.deciding = True
                try:
                    actions, state = agent.act(observations, state, done_mask)
                finally:
                    spy.deciding = False
                spy.committed = list(actions)
                return actions, state

        return Watched()

    def violations(self) -> list[str]:
        out = []
        if len(self.envs) != 1:
            out.append(f"{len(self.envs)} browser envs opened while scoring (the harness's own is the only one)")
        harness = {id(s) for s in self.envs[0].slots} if self.envs else set()
        if any(d for *_, d in self.starts):
            out.append("a page episode was started while the agent was deciding")
        if any(id(slot) not in harness for slot, *_ in self.starts + self.steps):
            out.append("a page outside the harness was started or stepped")
        seen: dict[tuple[str, int], int] = {}
        for _, task, seed, _ in self.starts:
            seen[task, seed] = seen.get((task, seed), 0) + 1
        if any(n > 1 for n in seen.values()):
            out.append("an evaluation episode was started more than once (replayed)")
        if any(deciding for _, _, deciding, _ in self.steps):
            out.append("a page was stepped (its reward read) while the agent was deciding")
        if not all(committed for *_, committed in self.steps):
            out.append("a page was stepped with an action the agent had not committed")
        if any(hasattr(o, "seed") for o in self.observations):
            out.append("the agent's observations carry the episode seed")
        return out


def tiny_strategy1_agent(search: bool):
    """An untrained tiny Strategy-1 model behind the real FoundationAgent (the checks are about
    what the agent is given and does, not about how well it acts)."""
    from omegaconf import OmegaConf

    from components.text import BPETokenizer
    from strategies.foundation.agent import FoundationAgent
    from strategies.foundation.model import FoundationModel
    from strategies.foundation.policy import Policy
    from strategies.foundation.sequence import SequenceBuilder

    torch.manual_seed(0)
    tok = BPETokenizer.train(['Click on the "ok" button.', "1. Press on the button ok."] * 8, vocab_size=300)
    builder = SequenceBuilder(tok, 0)
    model_cfg = {"dim": 32, "n_layers": 1, "n_heads": 2, "mlp_ratio": 2.0, "dropout": 0.0, "gated_residual": False,
                 "attention": {"name": "dense"}, "use_screen": False, "tokenizer": {"name": "patch"}}
    model = FoundationModel(OmegaConf.create(model_cfg), builder.vocab_size, tok.pad_id)
    return FoundationAgent(Policy(model, builder, top_k=SEARCH.top_k), SEARCH if search else None)


@pytest.mark.browser
@pytest.mark.parametrize("search", [False, True], ids=["policy", "policy+search"])
def test_a_strategy1_agent_scored_by_evaluate_never_sees_the_seed_or_a_reward_first(monkeypatch, search):
    from zoo.web.bench import evaluate

    torch.set_num_threads(1)
    agent = tiny_strategy1_agent(search)
    spy = ScoringSpy(monkeypatch)
    res = evaluate(spy.wrap(agent), ["click-button"], 2, num_envs=1, max_episode_steps=3, step_timeout_s=5.0,
                   progress=False)
    assert res["overall"]["episodes"] == 2 and spy.steps and spy.observations
    assert spy.violations() == []
    if search:
        assert agent.stats["searched"] == agent.stats["decisions"] > 0 and agent.stats["expansions"] > 0


class ReplayingAgent:
    """What the guard is for: opens its own browser inside ``act``, plays the first evaluation
    seed's episode there and reads the reward before choosing."""

    name = "peeking"

    def reset(self, n):
        return None

    def act(self, observations, state, done_mask):
        from zoo.web.env import WebEnv
        from zoo.web.seeds import eval_seed

        obs = observations[0]
        target = next(e for e in obs.elements if e.tag == "button")
        with WebEnv(obs.task, max_episode_steps=2, step_timeout_s=5.0) as copy:
            copy.reset(seed=eval_seed(0))
            copy.step(Action.click(target.id))  # the page's verdict on this choice, before acting
        return [Action.click(target.id)], state


@pytest.mark.browser
def test_the_spy_catches_an_agent_that_replays_the_test_episode(monkeypatch):
    from zoo.web.bench import evaluate

    spy = ScoringSpy(monkeypatch)
    evaluate(spy.wrap(ReplayingAgent()), ["click-button"], 1, num_envs=1, max_episode_steps=2, step_timeout_s=5.0,
             progress=False)
    found = spy.violations()
    assert any("browser envs opened" in v for v in found)
    assert any("started while the agent was deciding" in v for v in found)
    assert any("replayed" in v for v in found)
    assert any("stepped (its reward read) while the agent was deciding" in v for v in found)


# ---------------------------------------------------------------- results and report
def bench_result(agent: str, successes: list[bool], variant: dict | None = None) -> dict:
    from zoo.web.results import build_results

    eps = [{"task": "click-button", "seed": 1_000_000 + k, "raw_reward": 1.0 if ok else -1.0,
            "reward": 0.9 if ok else -1.0, "success": ok, "steps": 1} for k, ok in enumerate(successes)]
    res = build_results(eps, ["click-button"], agent=agent, suite="custom", config={"episodes": len(eps)},
                        timing={}, env={})
    if variant is not None:
        res["variant"] = variant
    return res


def write_run(root: Path, name: str, results: dict) -> Path:
    from omegaconf import OmegaConf

    run = root / "strategy1" / name
    run.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"strategy": 1, "model": {"attention": {"name": "sliding"}}}), run / "config.yaml")
    (run / "results.json").write_text(json.dumps(results))
    return run


def test_report_shows_policy_only_beside_search_and_never_compares_a_replaying_search(tmp_path):
    from strategies.foundation.scoring import VARIANTS
    from zoo.report.gather import gather
    from zoo.report.sections import Ctx, strategy1_variants

    policy = bench_result("strategy1 policy", [True, False, False, False], dict(VARIANTS["policy"], label="policy"))
    searched = bench_result("strategy1 policy+search", [True, True, False, False],
                            dict(VARIANTS["policy+search"], label="policy+search"))
    new = dict(searched, headline="policy+search", variants={"policy": policy, "policy+search": searched})
    # a run scored before the fix: its top level is the search that replayed the test episode
    old_policy = bench_result("strategy1 policy", [True, True, False, False])
    old_search = bench_result("strategy1 policy+mcts", [True, True, True, True])
    old = dict(old_search, variants={"policy": old_policy, "policy+mcts": old_search})
    write_run(tmp_path / "runs", "new", new)
    write_run(tmp_path / "runs", "old", old)
    runs = {r.path.name: r for r in gather(tmp_path / "runs", tmp_path / "bench", tmp_path / "search").runs}

    assert runs["new"].scored.rate == 0.5  # the headline: value-judged search
    assert runs["old"].scored.rate == 0.5  # not 1.0: the replaying search is left out of comparisons
    assert [(v.label, v.simulator_assisted) for v in runs["old"].variants] == [("policy", False), ("policy+mcts", True)]

    ctx = Ctx(tmp_path, 0.95)
    table, gain = strategy1_variants(ctx, runs["new"], set())
    assert [row[0] for row in table.rows] == ["policy", "policy+search"]
    assert table.rows[0][2].startswith("25") and table.rows[1][2].startswith("50")
    assert "+25.0 points" in gain.text
    blocks = strategy1_variants(ctx, runs["old"], set())
    assert blocks[0].rows[1][0] == "policy+mcts [simulator-assisted]" and blocks[0].rows[1][4].startswith("no")
    assert not any("points" in getattr(b, "text", "") for b in blocks)  # no gain against a replaying search

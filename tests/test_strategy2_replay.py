"""Strategy 2 from its warm start into PPO: the no-op kind cloned from the oracle's waits (``ppo.noop``) and limited
(``ppo.noop_limit``), and the demonstrations replayed as targets during PPO (``ppo.bc_coef``): the draw, the
settings that need each other, and (browser) a harsh PPO that unlearns the warm start without the replay."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from strategy2_pages import CharTokenizer, demonstration_nll, featurized, form_page, tiny_run

from strategies.compressive_rl.bc import Demonstration, behaviour_clone, demonstration_jobs, oracle_slots
from strategies.compressive_rl.features import Featurizer
from strategies.compressive_rl.policy import PRESS
from strategies.compressive_rl.rollout import to_action
from zoo.web.types import Action


def test_with_noop_waits_and_no_ops_are_cloned_as_the_no_op_kind():
    """``ppo.noop``: the oracle's waits and no-ops map to the no-op kind (acted out as Action.noop), cloned like any
    step; the kind head has five outputs and never samples a press without ``ppo.press_keys``."""
    from strategies.compressive_rl.bc import clone_loss, episode_batch
    from strategies.compressive_rl.features import stack
    from strategies.compressive_rl.model import ActionModel
    from strategies.compressive_rl.policy import NOOP
    from strategies.compressive_rl.rollout import to_tensors
    from zoo.config import compose

    page = form_page()
    plain = featurized(page)
    waiting = Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=32, noop=True)
    f = waiting(page)
    assert oracle_slots(plain, Action.wait(300)) is None and oracle_slots(plain, Action.noop()) is None
    for action in (Action.wait(300), Action.noop()):
        slot, kind, arg = oracle_slots(f, action)
        assert kind == NOOP and f.arrays["el_click"][slot] and str(to_action(f, np.array([slot, kind, arg]))) == str(Action.noop())

    cfg = compose(["strategy=2", "model.dim=32", "model.n_heads=2", "model.n_layers=1", "model.max_elements=12",
                   "model.max_text_len=8", "ppo.max_instruction_len=32", "ppo.noop=true"], validate_choices=False)
    torch.manual_seed(0)
    model = ActionModel(cfg.model, cfg.ppo, 96, 0)
    assert model.heads.kind[-1].out_features == 5
    demos = []
    for name in ("Kasey", "Myron", "Ann", "Bob"):  # wait for the page, type the name, submit
        p = form_page()
        p.instruction = f'Enter "{name}" into the text field and press Submit.'
        first = waiting(p)
        p.step = 1
        second = waiting(p)
        p.step, p.elements[2].attrs["value"] = 2, name
        third = waiting(p)
        demos.append(Demonstration("form", 0, [first.arrays, second.arrays, third.arrays],
                                   [oracle_slots(first, Action.wait(300)), oracle_slots(second, Action.type(2, name)),
                                    oracle_slots(third, Action.click(4))], [True, True, True], True))
    history = behaviour_clone(model, demos, epochs=20, lr=3e-3, seed=0, device=torch.device("cpu"))
    assert history[-1]["accuracy"] == 1.0
    _loss, accuracy, counted = clone_loss(model, episode_batch(demos, torch.device("cpu")))
    assert accuracy == 1.0 and counted == 12
    batch = to_tensors(stack([first.arrays] * 64), "cpu")
    model.heads.kind[-1].bias.data.zero_()
    model.heads.kind[-1].weight.data.zero_()  # uniform over the allowed kinds: every one shows up in 64 draws
    with torch.no_grad():
        enc = model.encoder(batch)
        h, _ = model.core.step(enc.summary, model.init_state(64, torch.device("cpu")), torch.ones(64, dtype=torch.bool))
        sampled = model.heads(h, enc, batch)
        scored = model.heads(h, enc, batch, actions=sampled.slot)
    kinds = set(sampled.slot[:, 1].tolist())
    assert NOOP in kinds and PRESS not in kinds
    assert torch.allclose(sampled.logp, scored.logp, atol=1e-5)


@pytest.mark.browser
def test_with_noop_the_oracles_waits_on_real_pages_are_cloned():
    """choose-date-easy and click-collapsible: the oracle waits for the page's animations; those steps are outside
    the cloning without ``ppo.noop`` and every step is cloned with it."""
    from strategies.compressive_rl.bc import record_demonstrations
    from strategies.compressive_rl.features import make_featurizer
    from zoo.config import compose
    from zoo.web.vector import VecWebEnv

    tasks = ["choose-date-easy", "click-collapsible"]
    skipped = {}
    for noop in (False, True):
        cfg = compose(["strategy=2", f"env.tasks=[{','.join(tasks)}]", "env.num_envs=2", "env.max_episode_steps=12",
                       f"ppo.noop={str(noop).lower()}"], validate_choices=False)
        env = VecWebEnv.from_config(cfg.env, tasks)
        try:
            _demos, stats = record_demonstrations(env, make_featurizer(CharTokenizer(), cfg),
                                                  demonstration_jobs(tasks, 1, 0))
        finally:
            env.close()
        assert stats.episodes == 2 and stats.failed == 0
        skipped[noop] = stats.skipped
    assert skipped[True] == 0 < skipped[False]



def test_replay_draw_is_a_function_of_seed_update_and_step():
    """PPO's demonstration replay (ppo.bc_coef) picks k distinct demonstrations in order, the same ones for the
    same (seed, update, step), so a resumed run draws what the uninterrupted run would have."""
    from strategies.compressive_rl.bc import replay_draw

    draws = {(u, s): replay_draw(50, 4, 7, u, s) for u in range(3) for s in range(8)}
    for picked in draws.values():
        assert len(picked) == 4 == len(set(picked)) and picked == sorted(picked) and all(0 <= i < 50 for i in picked)
    assert draws == {(u, s): replay_draw(50, 4, 7, u, s) for u in range(3) for s in range(8)}
    assert len({tuple(p) for p in draws.values()}) > 20  # steps and updates draw different demonstrations
    assert replay_draw(50, 4, 8, 0, 0) != draws[(0, 0)]
    assert replay_draw(3, 4, 7, 0, 0) == [0, 1, 2]  # fewer demonstrations than asked: all of them


def test_settings_that_need_another_are_refused_with_one_line():
    from strategies.compressive_rl.fit import check_config
    from zoo.config import compose
    from zoo.core.errors import ZooError

    with pytest.raises(ZooError, match=r"bad value for 'ppo.bc_coef': 0.5 \(replays demonstrations during PPO: needs "
                                       r"ppo.bc_demos_per_task > 0"):
        compose(["strategy=2", "ppo.bc_coef=0.5"])
    check_config(compose(["strategy=2", "ppo.bc_coef=0.5", "ppo.bc_demos_per_task=2"]))
    assert compose(["strategy=2"]).ppo.bc_coef == 0  # off by default
    with pytest.raises(ZooError, match=r"bad value for 'ppo.noop_limit': 2 \(limits the no-op kind: needs ppo.noop=true"):
        compose(["strategy=2", "ppo.noop_limit=2"])


@pytest.mark.browser
def test_replaying_demonstrations_during_ppo_keeps_what_the_warm_start_cloned(tmp_path):
    """PPO with a destructive learning rate (0.03, not annealed, 10 updates) after the same warm start: without
    the replay the agent unlearns the demonstrations (their log-likelihood, and its greedy success: measured 0.15,
    0.75, 0.40 on run seeds 0-2), with ``ppo.bc_coef=1`` it keeps them (0.95 on each); every update logs the
    replayed loss.  (At 0.1 the replay's own steps are as destructive: 0.70 against 0.85 on seed 0.)  A resumed run
    records the demonstrations again and goes on replaying them without cloning again."""
    import csv

    from strategies.compressive_rl.fit import fit
    from zoo.config import compose

    harsh = ["ppo.bc_demos_per_task=6", "ppo.bc_epochs=15", "ppo.bc_lr=3e-3", "trainer.max_steps=10", "ppo.lr=0.03",
             "ppo.anneal_lr=false"]
    kept_dir, kept = tiny_run(tmp_path, "replay", *harsh, "ppo.bc_coef=1.0")
    lost_dir, lost = tiny_run(tmp_path, "no-replay", *harsh)
    s_kept, s_lost = kept["overall"]["macro_success_rate"], lost["overall"]["macro_success_rate"]
    nll_kept, nll_lost = (demonstration_nll(d, 6) for d in (kept_dir, lost_dir))
    print(f"after harsh PPO: greedy success replay {s_kept:.2f} vs none {s_lost:.2f}; "
          f"demonstrations' NLL {nll_kept:.3f} vs {nll_lost:.3f}")
    assert s_kept >= 0.9 and s_kept >= s_lost + 0.15
    assert nll_kept < 0.1 < 1.0 < nll_lost  # measured 0.004 against 12.6

    rows = list(csv.DictReader(open(kept_dir / "csv" / "ppo" / "metrics.csv")))
    updates = [r for r in rows if r.get("train/policy_loss")]
    assert len(updates) == 10 and all(r.get("train/bc_loss") and r.get("train/bc_accuracy") for r in updates)

    cfg = compose(["strategy=2", f"config={kept_dir / 'config.yaml'}", f"resume={kept_dir}", "trainer.max_steps=12"])
    fit(cfg, kept_dir)
    rows = list(csv.DictReader(open(kept_dir / "csv" / "ppo" / "metrics.csv")))  # the resumed segment's
    resumed = [r for r in rows if r.get("train/policy_loss")]
    assert [int(r["step"]) for r in resumed] == [10, 11] and all(r.get("train/bc_loss") for r in resumed)
    assert not any(r.get("bc/loss") for r in rows)  # no cloning passes again


def test_noop_limit_makes_an_agent_that_prefers_waiting_act():
    """``ppo.noop_limit``: an agent whose kind head always prefers the no-op (as the greedy agent on an unchanged
    click-collapsible page did) waits at most the limit in a row, then acts, and waits again after acting; a new
    episode starts the count afresh.  Without a limit it waits forever.  The mask is part of the observation's
    arrays (``noop_ok``), so PPO's replay scores actions under the mask they were sampled with, and a
    demonstration's wait past the limit is not cloned."""
    from strategies.compressive_rl.agent import MemoryAgent
    from strategies.compressive_rl.features import EpisodeTracker, featurize_in_episode
    from strategies.compressive_rl.model import ActionModel
    from strategies.compressive_rl.policy import NOOP
    from zoo.config import compose

    def kinds_played(limit: int, steps: int, restart_at: int | None = None) -> list[int]:
        cfg = compose(["strategy=2", "model.dim=32", "model.n_heads=2", "model.n_layers=1", "model.max_elements=12",
                       "model.max_text_len=8", "ppo.max_instruction_len=32", "ppo.noop=true",
                       f"ppo.noop_limit={limit}"], validate_choices=False)
        torch.manual_seed(0)
        model = ActionModel(cfg.model, cfg.ppo, 96, 0)
        model.heads.kind[-1].weight.data.zero_()
        model.heads.kind[-1].bias.data.copy_(torch.tensor([0.0, -1.0, -1.0, -9.0, 5.0]))  # the no-op, then a click
        fz = Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=32, noop=True,
                        noop_limit=limit)
        agent, state, out = MemoryAgent(model, fz, greedy=True), None, []
        for t in range(steps):
            actions, state = agent.act([form_page()], state, done_mask=np.array([t == restart_at]))
            out.append(NOOP if actions[0].kind == "noop" else 0)
        return out

    assert kinds_played(2, 7) == [NOOP, NOOP, 0, NOOP, NOOP, 0, NOOP]
    assert kinds_played(2, 5, restart_at=1) == [NOOP, NOOP, NOOP, 0, NOOP]  # the second episode's count from 0
    assert kinds_played(0, 5) == [NOOP] * 5

    tracker = EpisodeTracker(1)
    fz = Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=32, noop=True, noop_limit=1)
    first = featurize_in_episode(fz, tracker, 0, form_page(), True)
    tracker.acted(0, True)
    second = featurize_in_episode(fz, tracker, 0, form_page(), False)
    assert bool(first.arrays["noop_ok"]) and not bool(second.arrays["noop_ok"])
    assert oracle_slots(first, Action.wait(300))[1] == NOOP and oracle_slots(second, Action.wait(300)) is None
    assert oracle_slots(second, Action.click(4)) is not None
    assert not bool(featurized().arrays["noop_ok"])  # without the kind there is no no-op to allow

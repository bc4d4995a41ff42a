"""Strategy 2's behaviour cloning: the oracle action -> agent action-slot mapping on hand-made pages, the
demonstration seeds (Strategy 1's), cloning on hand-made episodes, and (browser) a BC warm start lifting greedy
success well above the same tiny run without it.  What happens during PPO (the replay, the no-op kind):
tests/test_strategy2_replay.py."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from strategy2_pages import CharTokenizer, el, featurized, form_page, tiny_run

from strategies.compressive_rl.bc import (Demonstration, behaviour_clone, demonstration_jobs, oracle_slots,
                                          placeholder_slots)
from strategies.compressive_rl.features import Featurizer
from strategies.compressive_rl.policy import CLICK, PRESS, SELECT, TYPE
from strategies.compressive_rl.rollout import to_action
from zoo.web.types import NAMED_KEYS, Action, Observation

@pytest.mark.parametrize("action", [Action.click(4), Action.click(2), Action.type(2, "Kasey"), Action.type(2, "into"),
                                    Action.select(3, "blue"), Action.select(3, "red"), Action.click(7)])
def test_expressible_oracle_actions_map_back_exactly(action):
    f = featurized()
    slots = oracle_slots(f, action)
    assert slots is not None
    assert to_action(f, np.array(slots)) == action  # the inverse of to_action


def test_slots_are_the_ones_the_heads_use():
    f = featurized()
    assert oracle_slots(f, Action.click(4)) == (f.el_slots.index(4), CLICK, 0)
    assert oracle_slots(f, Action.type(2, "Kasey")) == (f.el_slots.index(2), TYPE, 0)  # quoted spans come first
    assert oracle_slots(f, Action.select(3, "blue")) == (f.el_slots.index(3), SELECT, 1)


@pytest.mark.parametrize("action", [
    Action.press("Enter"), Action.noop(), Action.click_at(10, 10),
    Action.click(1),  # text, not clickable: the pointer cannot reach it
    Action.click(6),  # invisible: not among the agent's slots
    Action.click(99),  # no such element
    Action.type(2, "Kasey Smith"),  # not a candidate span
    Action.type(4, "Kasey"),  # a button cannot be typed into
    Action.type(7, "Kasey"),  # nor a checkbox
    Action.select(3, "green"),  # not an option
    Action.select(2, "blue"),  # not a select
])
def test_inexpressible_oracle_actions_are_refused(action):
    assert oracle_slots(featurized(), action) is None


def test_named_key_presses_are_expressible_with_press_keys_only():
    """With ``ppo.press_keys`` a press of a named key maps to (the focused element's slot, PRESS, key index) and
    back; an unnamed key (a digit) stays inexpressible, and without the option every press does."""
    page = form_page()
    page.elements[2].attrs["focused"] = "true"
    keyed = Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=32, press_keys=True)(page)
    assert keyed.focus_slot == keyed.el_slots.index(2)
    enter = oracle_slots(keyed, Action.press("Enter"))
    assert enter == (keyed.el_slots.index(2), PRESS, NAMED_KEYS.index("Enter"))
    assert to_action(keyed, np.array(enter)) == Action.press("Enter")
    assert oracle_slots(keyed, Action.press("7")) is None
    assert oracle_slots(featurized(page), Action.press("Enter")) is None  # press_keys off
    page.elements[2].attrs.pop("focused")
    unfocused = Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=32, press_keys=True)(page)
    assert oracle_slots(unfocused, Action.press("Tab"))[0] == placeholder_slots(unfocused)[0]


def test_placeholder_is_a_clickable_slot():
    f = featurized()
    slot, kind, arg = placeholder_slots(f)
    assert f.arrays["el_click"][slot] and kind == CLICK and arg == 0


def test_demonstration_seeds_are_strategy_1s():
    from strategies.foundation.recording import episode_plan

    tasks = ["click-button", "enter-text", "login-user"]
    for seed in (0, 3):
        plan = episode_plan({"tasks": tasks, "episodes_per_task": 5, "explore_fraction": 0.0, "seed": seed})
        assert demonstration_jobs(tasks, 5, seed) == [(t, s) for t, s, _agent in plan]

    # the held-back ones are each task's next demonstrations: what a run with more per task would clone
    from strategies.compressive_rl.bc import validation_jobs

    held = validation_jobs(tasks, 5, 2, 3)
    assert len(held) == 6 and not set(held) & set(demonstration_jobs(tasks, 5, 3))
    assert set(held) == set(demonstration_jobs(tasks, 7, 3)) - set(demonstration_jobs(tasks, 5, 3))


def test_cloning_fits_hand_made_episodes():
    """Two-step episodes (type the quoted name, then click Submit): BC brings the greedy policy to the
    oracle's actions on both steps, the memory carried from the first step to the second; a step outside
    the loss (learn=False) does not count."""
    from omegaconf import OmegaConf

    from strategies.compressive_rl.bc import clone_loss, episode_batch
    from strategies.compressive_rl.model import ActionModel
    from zoo.config import compose

    cfg = compose(["strategy=2", "model.dim=32", "model.n_heads=2", "model.n_layers=1", "model.max_elements=12",
                   "model.max_text_len=8", "ppo.max_instruction_len=32"], validate_choices=False)
    torch.manual_seed(0)
    model = ActionModel(cfg.model, cfg.ppo, 96, 0)
    fz = Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=32)
    demos = []
    for name in ("Kasey", "Myron", "Ann", "Bob"):
        page = form_page()
        page.instruction = f'Enter "{name}" into the text field, pick "blue" and press Submit.'
        first = fz(page)
        page.step, page.elements[2].attrs["value"] = 1, name  # the page after typing
        second = fz(page)
        demos.append(Demonstration("form", 0, [first.arrays, second.arrays],
                                   [oracle_slots(first, Action.type(2, name)), oracle_slots(second, Action.click(4))],
                                   [True, True], True))
    demos.append(Demonstration("form", 1, [first.arrays], [placeholder_slots(first)], [False], True))
    history = behaviour_clone(model, demos, epochs=15, lr=3e-3, seed=0, device=torch.device("cpu"))
    assert history[-1]["accuracy"] == 1.0 and history[-1]["loss"] < history[0]["loss"]
    assert {row["lr"] for row in history} == {3e-3}  # constant by default
    _loss, accuracy, counted = clone_loss(model, episode_batch(demos, torch.device("cpu")))
    assert accuracy == 1.0 and counted == 8
    assert OmegaConf.select(cfg, "ppo.bc_demos_per_task") == 0  # off by default
    assert OmegaConf.select(cfg, "ppo.bc_schedule") == "constant"

    # the cosine schedule: 5 episodes are one batch, so 15 passes are 15 steps, 10 of them warm-up
    torch.manual_seed(0)
    model = ActionModel(cfg.model, cfg.ppo, 96, 0)
    history = behaviour_clone(model, demos, epochs=15, lr=3e-3, seed=0, device=torch.device("cpu"), schedule="cosine")
    assert history[0]["lr"] == pytest.approx(3e-4) and history[9]["lr"] == pytest.approx(3e-3)
    assert history[-1]["lr"] == pytest.approx(3e-3 * (0.1 + 0.45 * (1 + math.cos(math.pi * 4 / 5))))
    assert history[-1]["accuracy"] == 1.0
    with pytest.raises(ValueError, match="bad cloning schedule 'linear'"):
        behaviour_clone(model, demos, epochs=1, lr=3e-3, seed=0, device=torch.device("cpu"), schedule="linear")


TINY_CLONING_MODEL = ["strategy=2", "model.dim=32", "model.n_heads=2", "model.n_layers=1", "model.max_elements=12",
                      "model.max_text_len=8", "ppo.max_instruction_len=32"]


def typed_then_submitted(fz: Featurizer, name: str, seed: int) -> Demonstration:
    """A two-step demonstration on the hand-made form: type the quoted name, then click Submit."""
    page = form_page()
    page.instruction = f'Enter "{name}" into the text field, pick "blue" and press Submit.'
    first = fz(page)
    page.step, page.elements[2].attrs["value"] = 1, name  # the page after typing
    second = fz(page)
    return Demonstration("form", seed, [first.arrays, second.arrays],
                         [oracle_slots(first, Action.type(2, name)), oracle_slots(second, Action.click(4))],
                         [True, True], True)


def test_validation_scores_unseen_episodes_and_changes_no_cloning():
    """Scoring held-back demonstrations after every pass leaves the cloning's numbers and weights exactly as
    without; its figures are the greedy policy's on those episodes, steps and whole episodes counted by hand."""
    from strategies.compressive_rl.bc import clone_scores
    from strategies.compressive_rl.model import ActionModel
    from zoo.config import compose

    cfg = compose(TINY_CLONING_MODEL, validate_choices=False)
    fz = Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=32)
    train = [typed_then_submitted(fz, n, i) for i, n in enumerate(("Kasey", "Myron", "Ann", "Bob"))]
    held = [typed_then_submitted(fz, n, 10 + i) for i, n in enumerate(("Zed", "Lou", "Kim"))]
    held[2].learn = [False, True]  # a step the agent could not express: outside every figure
    runs = []
    for validation in (None, held):
        torch.manual_seed(0)
        model = ActionModel(cfg.model, cfg.ppo, 96, 0)
        history = behaviour_clone(model, train, epochs=6, lr=3e-3, seed=0, device=torch.device("cpu"),
                                  validation=validation)
        runs.append((model, history))
    (plain, plain_rows), (scored, scored_rows) = runs
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), scored.state_dict().values()))
    assert [{k: r[k] for k in ("loss", "accuracy", "lr")} for r in scored_rows] == plain_rows
    assert all("val_accuracy" not in r for r in plain_rows)
    assert scored_rows[-1]["val_episodes"] == 3.0

    # by hand: the greedy action of every counted step of every held-out episode
    from strategies.compressive_rl.bc import clone_terms, episode_batch

    scored.eval()
    with torch.no_grad():
        logp, hits, learn, _aux = clone_terms(scored, episode_batch(held, torch.device("cpu")))
    steps = int(learn.sum())
    assert steps == 5
    expected_whole = sum(all(bool(hits[t, b]) or not bool(learn[t, b]) for t in range(2)) for b in range(3))
    scored.train()
    scores = clone_scores(scored, held, torch.device("cpu"))
    assert scored.training  # scoring puts the mode back as it found it
    assert scores["val_accuracy"] == pytest.approx(int(hits.sum()) / steps)
    assert scores["val_episode_accuracy"] == pytest.approx(expected_whole / 3)
    assert scores["val_loss"] == pytest.approx(-float((logp * learn).sum()) / steps)
    assert scores == pytest.approx({k: scored_rows[-1][k] for k in scores})


def test_weight_decay_shrinks_the_cloned_weights_and_still_fits():
    """``ppo.bc_weight_decay``: AdamW's decoupled decay pulls the weights towards 0 (smaller norm than plain Adam
    from the same start on the same episodes) and the hand-made episodes are still imitated; 0 is plain Adam."""
    from strategies.compressive_rl.model import ActionModel
    from zoo.config import compose

    cfg = compose(TINY_CLONING_MODEL, validate_choices=False)
    assert cfg.ppo.bc_weight_decay == 0.0
    fz = Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=32)
    demos = [typed_then_submitted(fz, n, i) for i, n in enumerate(("Kasey", "Myron", "Ann", "Bob"))]
    norms, rows = [], []
    for decay in (0.0, 0.5):
        torch.manual_seed(0)
        model = ActionModel(cfg.model, cfg.ppo, 96, 0)
        rows.append(behaviour_clone(model, demos, epochs=20, lr=3e-3, seed=0, device=torch.device("cpu"),
                                    weight_decay=decay))
        norms.append(float(sum(p.detach().pow(2).sum() for p in model.parameters())) ** 0.5)
    assert norms[1] < norms[0]
    assert rows[0][-1]["accuracy"] == rows[1][-1]["accuracy"] == 1.0


def test_cloning_learns_a_key_press_with_press_keys():
    """Type the name, then press Enter (instead of clicking Submit): cloned exactly with ``ppo.press_keys``;
    the sampled and scored log-probabilities of a press agree."""
    from strategies.compressive_rl.bc import clone_loss, episode_batch
    from strategies.compressive_rl.model import ActionModel
    from strategies.compressive_rl.rollout import to_tensors
    from strategies.compressive_rl.features import stack
    from zoo.config import compose

    cfg = compose(["strategy=2", "model.dim=32", "model.n_heads=2", "model.n_layers=1", "model.max_elements=12",
                   "model.max_text_len=8", "ppo.max_instruction_len=32", "ppo.press_keys=true"], validate_choices=False)
    torch.manual_seed(0)
    model = ActionModel(cfg.model, cfg.ppo, 96, 0)
    fz = Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=32, press_keys=True)
    demos = []
    for name in ("Kasey", "Myron", "Ann", "Bob"):
        page = form_page()
        page.instruction = f'Enter "{name}" into the text field, pick "blue" and press Enter.'
        first = fz(page)
        page.step, page.elements[2].attrs["value"], page.elements[2].attrs["focused"] = 1, name, "true"
        second = fz(page)
        demos.append(Demonstration("form", 0, [first.arrays, second.arrays],
                                   [oracle_slots(first, Action.type(2, name)), oracle_slots(second, Action.press("Enter"))],
                                   [True, True], True))
    history = behaviour_clone(model, demos, epochs=15, lr=3e-3, seed=0, device=torch.device("cpu"))
    assert history[-1]["accuracy"] == 1.0
    _loss, accuracy, counted = clone_loss(model, episode_batch(demos, torch.device("cpu")))
    assert accuracy == 1.0 and counted == 8
    batch = to_tensors(stack([second.arrays] * 16), "cpu")
    with torch.no_grad():
        enc = model.encoder(batch)
        h, _ = model.core.step(enc.summary, model.init_state(16, torch.device("cpu")), torch.ones(16, dtype=torch.bool))
        sampled = model.heads(h, enc, batch)
        scored = model.heads(h, enc, batch, actions=sampled.slot)
    assert torch.allclose(sampled.logp, scored.logp, atol=1e-5)
    assert model.heads.kind[-1].out_features == 4 and ActionModel(cfg.model, compose(
        ["strategy=2"], validate_choices=False).ppo, 96, 0).heads.kind[-1].out_features == 3  # off: three kinds



@pytest.mark.browser
def test_bc_warm_start_lifts_greedy_success(tmp_path):
    import csv

    from zoo.config import compose

    bc_dir, with_bc = tiny_run(tmp_path, "bc", "ppo.bc_demos_per_task=6", "ppo.bc_epochs=15", "ppo.bc_lr=3e-3",
                               "ppo.bc_val_demos_per_task=2")
    _, without = tiny_run(tmp_path, "scratch")
    s_bc, s_scratch = with_bc["overall"]["macro_success_rate"], without["overall"]["macro_success_rate"]
    print(f"greedy success: BC {s_bc:.2f} vs scratch {s_scratch:.2f}")
    assert s_bc >= 0.8 and s_bc >= s_scratch + 0.3

    rows = list(csv.DictReader(open(bc_dir / "csv" / "ppo" / "metrics.csv")))
    bc_rows = [r for r in rows if r.get("bc/loss")]
    assert len(bc_rows) == 15 and float(bc_rows[-1]["bc/accuracy"]) >= 0.9
    summary = next(r for r in rows if r.get("bc/demos"))
    assert float(summary["bc/demos"]) == 12 and float(summary["bc/skipped_steps"]) == 0
    assert float(summary["bc/val_demos"]) == 4  # two held back per task, scored after every pass
    assert all(0.0 <= float(r["bc/val_accuracy"]) <= 1.0 for r in bc_rows)
    assert float(bc_rows[-1]["bc/val_accuracy"]) >= 0.5 and float(bc_rows[-1]["bc/val_loss"]) < float(bc_rows[0]["bc/val_loss"])
    report = json.loads((bc_dir / "bc_validation.json").read_text())
    assert len(report["passes"]) == 15 and report["summary"]["val_demos"] == 4
    assert len(report["tasks"]) == 2 and all(v["val_episodes"] == 2 for v in report["tasks"].values())
    assert sum(v["val_episode_accuracy"] for v in report["tasks"].values()) / 2 == pytest.approx(
        report["passes"][-1]["val_episode_accuracy"])  # two episodes each: the mean of the tasks' figures
    assert (bc_dir / "checkpoints" / "ppo" / "bc.ckpt").is_file()

    # a resume never repeats the warm start: its state travels in the checkpoint
    from strategies.compressive_rl.fit import fit

    cfg = compose(["strategy=2", f"config={bc_dir / 'config.yaml'}", f"resume={bc_dir}", "trainer.max_steps=2"])
    fit(cfg, bc_dir)
    rows = list(csv.DictReader(open(bc_dir / "csv" / "ppo" / "metrics.csv")))
    assert not any(r.get("bc/loss") for r in rows)  # the resumed segment cloned nothing
    assert json.loads((bc_dir / "results.json").read_text())["run"]["checkpoint"].endswith("last.ckpt")


@pytest.mark.browser
def test_press_keys_lets_the_warm_start_clone_the_oracles_key_presses(tmp_path):
    """use-autocomplete's oracle picks the suggestion with arrow keys and Enter: without ``ppo.press_keys`` those
    steps are skipped by the cloning, with it every step of the real demonstrations is cloned."""
    import csv

    def bc_summary(name, *extra):
        run_dir, _ = tiny_run(tmp_path, name, "env.tasks=[use-autocomplete]", "env.max_episode_steps=8",
                               "ppo.bc_demos_per_task=2", "ppo.bc_epochs=1", "eval.episodes=1", *extra)
        rows = list(csv.DictReader(open(run_dir / "csv" / "ppo" / "metrics.csv")))
        return next(r for r in rows if r.get("bc/demos"))

    keyed, plain = bc_summary("keys", "ppo.press_keys=true"), bc_summary("plain")
    assert float(keyed["bc/demos"]) == float(plain["bc/demos"]) == 2  # both solved
    assert float(keyed["bc/skipped_steps"]) == 0 < float(plain["bc/skipped_steps"])


def code_pages() -> tuple[Observation, Observation]:
    """Two pages of one episode: the first names a code, the second asks for it without naming it."""
    first = Observation("code", "Remember the code XK3P9 and press Next.",
                        [el(0, "body", "", "style", False), el(1, "button", "Next", "action", True, 40)], None, "code", 0)
    second = Observation("code", "Enter the code from the previous page and press Submit.",
                         [el(0, "body", "", "style", False), el(1, "input", "", "input", True, 20, type="text"),
                          el(2, "td", "Total", "text", False, 40), el(3, "button", "Submit", "action", True, 60)],
                         None, "code", 0)
    return first, second


def test_earlier_instructions_spans_are_candidates_between_the_instructions_and_the_pages():
    """As Strategy 1's candidates: this instruction's spans, then earlier instructions' (their own tokens in
    span_ids, flagged), then page texts; the oracle's typing of a remembered code is then expressible."""
    from strategies.compressive_rl.features import EpisodeTracker

    first, second = code_pages()
    fz = Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=64)
    assert oracle_slots(fz(second), Action.type(1, "XK3P9")) is None  # without the episode's history
    seen = EpisodeTracker(1)
    assert seen.earlier(0, first.instruction, True) == ()
    earlier = seen.earlier(0, second.instruction, False)
    assert earlier == (first.instruction,) == seen.earlier(0, second.instruction, False)  # asking twice: same
    f = fz(second, earlier)
    own = len(Featurizer.candidate_spans(second.instruction))
    k = f.spans.index("XK3P9")
    assert own <= k < f.spans.index("Total") == len(f.spans) - 1 and "Remember" in f.spans[own:k]
    a = f.arrays
    assert a["span_num"][k, 4] == 1.0 and a["span_num"][:own, 4].sum() == 0 and a["span_num"][-1:, 4].sum() == 0
    assert (a["span_ids"][k] != 0).sum() == len("xk3p9") and (a["span_ids"][:own] == 0).all()
    assert a["span_w"][k].sum() == 0 and a["span_el"][k] == -1 and a["span_valid"][k]
    assert oracle_slots(f, Action.type(1, "XK3P9")) == (f.el_slots.index(1), TYPE, k)
    assert seen.earlier(0, second.instruction, True) == ()  # a new episode forgets


def test_the_agent_keeps_each_episodes_instructions_and_forgets_them_at_a_new_episode():
    from strategies.compressive_rl.agent import MemoryAgent
    from strategies.compressive_rl.model import ActionModel
    from zoo.config import compose

    cfg = compose(["strategy=2", "model.dim=16", "model.n_heads=2", "model.n_layers=1"], validate_choices=False)
    fz = Featurizer(CharTokenizer(), max_elements=12, max_text_len=8, max_instruction_len=64)
    torch.manual_seed(0)
    agent = MemoryAgent(ActionModel(cfg.model, cfg.ppo, 96, 0), fz)
    calls = []
    agent.featurizer = lambda obs, earlier=(), noops_in_a_row=0: calls.append(earlier) or fz(obs, earlier)
    first, second = code_pages()
    _, state = agent.act([first, second], None)
    _, state = agent.act([second, second], state, np.array([False, False]))
    _, state = agent.act([second, first], state, np.array([True, False]))
    # env 0: first, second, then a new episode; env 1: second twice (not its own earlier page), then first
    assert calls == [(), (), (first.instruction,), (), (), (second.instruction,)]


@pytest.mark.browser
def test_recorded_demonstrations_type_dates_times_and_remembered_codes(tmp_path):
    """Real pages: every step of the oracle's enter-date, enter-time and mp-remember-code episodes is one the
    agent can take (date and time fields take text; the code comes from the first page's instruction)."""
    from strategies.compressive_rl.bc import record_demonstrations
    from strategies.compressive_rl.features import make_featurizer
    from zoo.config import compose
    from zoo.web.vector import VecWebEnv

    tasks = ["enter-date", "enter-time", "mp-remember-code"]
    cfg = compose(["strategy=2", f"env.tasks=[{','.join(tasks)}]", "env.num_envs=2", "env.max_episode_steps=8"],
                  validate_choices=False)
    env = VecWebEnv.from_config(cfg.env, tasks)
    try:
        demos, stats = record_demonstrations(env, make_featurizer(CharTokenizer(), cfg), demonstration_jobs(tasks, 1, 0))
    finally:
        env.close()
    assert stats.episodes == 3 and stats.failed == 0 and stats.skipped == 0
    assert sorted(d.task for d in demos) == sorted(tasks)
    code = next(d for d in demos if d.task == "mp-remember-code")
    typed = [(s, a) for s, a in zip(code.steps, code.actions) if a[1] == TYPE]
    assert len(typed) == 1 and typed[0][0]["span_num"][typed[0][1][2], 4] == 1.0  # from the earlier page



def test_both_strategies_fill_their_element_slots_by_one_rule():
    """A page with more visible elements than slots (a long feed scrolled into reach): Strategy 2's slots are
    exactly Strategy 1's visible ones, the actionable elements first, then texts (zoo.web.types.slot_order)."""
    from strategies.foundation.sequence import choose_slots

    els = [el(0, "body", "", "style", False)]
    for k in range(1, 40):  # per feed item: a name (text), a button, and a bare wrapper
        kind = k % 3
        els.append(el(k, ("span", "button", "div")[kind], ("name", "like", "")[kind], ("text", "action", "style")[kind],
                      kind == 1, y=20 * k))
    els.append(el(40, "button", "Hidden", "action", True, 900, visible=False))
    obs = Observation("feed", "Like the post by name.", els, None, "feed", 0)
    fz = Featurizer(CharTokenizer(), max_elements=16, max_text_len=8, max_instruction_len=32)
    s2 = fz(obs).el_slots
    s1 = choose_slots(els, 16)
    buttons = [e.id for e in els if e.tag == "button" and e.visible]
    assert s2 == s1 and set(buttons) <= set(s2) and 40 not in s2  # 13 buttons, then the first 3 names
    assert [e.id for e in els if e.tag == "span"][:3] == [i for i in s2 if i not in buttons]

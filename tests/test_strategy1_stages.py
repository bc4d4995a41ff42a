"""Strategy 1 end to end on a tiny config: each stage a few steps in the real browser, resuming,
final scoring with and without search, and the RL stage's browser simulator under MCTS."""
from __future__ import annotations

import json
import math
import os

import pytest
import torch

from strategies.foundation.mcts import MCTS
from strategies.foundation.search import BrowserSimulator, ReplayEnv, action_key
from zoo.config import compose
from zoo.core.checkpoints import load_checkpoint
from zoo.train.runs import new_run_dir, save_config

pytestmark = pytest.mark.browser


def tiny(tmp_path, *extra: str):
    return compose([
        "strategy=1", f"run_root={tmp_path / 'runs'}", f"foundation.data.root={tmp_path / 'data'}",
        "env.tasks=[click-button]", "env.num_envs=2", "model.dim=32", "model.n_heads=2",
        "model.attention.window=32", "foundation.data.episodes_per_task=3", "foundation.data.val_fraction=0.5",
        "foundation.pretrain.max_steps=3", "foundation.sft.max_steps=3", "foundation.rl.max_steps=2",
        "foundation.rl.updates_per_round=1", "foundation.rl.episodes_per_round=1", "foundation.search.simulations=3",
        "foundation.pretrain.batch_size=2", "foundation.sft.batch_size=2", "foundation.rl.batch_size=2",
        "eval.episodes=1", "trainer.progress=false", "trainer.checkpoint_every=1",
        "trainer.log_every_n_steps=1", *extra,
    ])


def test_stages_one_at_a_time_then_all_with_resume_and_final_scoring(tmp_path):
    from strategies.foundation import fit, load_agent
    from zoo.web.results import load_results

    cfg = tiny(tmp_path, "stage=pretrain")
    run_dir = new_run_dir(cfg)
    save_config(cfg, run_dir)
    out = fit(cfg, run_dir)
    pre = run_dir / "checkpoints" / "pretrain" / "final.ckpt"
    assert pre.is_file() and out["stages"]["pretrain"]["steps"] == 3
    assert "frame" in (run_dir / "csv" / "pretrain" / "metrics.csv").read_text()  # next-frame loss logged
    assert not (run_dir / "results.json").exists()  # no policy yet: nothing scored

    # resume the run for the remaining stages: pretraining is skipped, sft starts from it, rl from sft;
    # sft counts passes over its training episodes (epochs) instead of the 3 max_steps
    cfg = tiny(tmp_path, "stage=all", f"resume={run_dir}", "foundation.sft.epochs=3")
    stamp = pre.stat().st_mtime_ns
    results = fit(cfg, run_dir)
    assert pre.stat().st_mtime_ns == stamp
    sft = json.loads((run_dir / "sft_summary.json").read_text())
    assert sft["steps"] == sft["max_steps"] == math.ceil(3 * sft["train_episodes"] / 2)
    saved_cfg = load_checkpoint(run_dir / "checkpoints" / "sft" / "final.ckpt")["hyper_parameters"]["cfg"]
    assert saved_cfg["foundation"]["sft"]["max_steps"] == sft["steps"]  # what the lr schedule was built for
    for key in ("exact_match", "token_accuracy", "action_accuracy"):
        assert 0.0 <= sft["instructions"][key] <= 1.0
    rl = json.loads((run_dir / "rl_summary.json").read_text())
    assert rl["steps"] == 2 and len(rl["search_rounds"]) >= 1

    saved = load_results(run_dir / "results.json")
    assert set(saved["variants"]) == {"policy", "policy+search"} and saved["headline"] == "policy+search"
    for label, variant in saved["variants"].items():
        assert variant["tasks"]["click-button"]["episodes"] == 1
        assert variant["seeds"]["first"] >= 1_000_000  # evaluation seeds, never training ones
        assert variant["variant"]["label"] == label and variant["variant"]["simulator_assisted"] is False
    assert saved["overall"] == saved["variants"]["policy+search"]["overall"]  # the headline is the search
    search = saved["variants"]["policy+search"]["search"]
    assert search["searched"] == search["decisions"] > 0 and 0 < search["expansions"] <= search["searched"] * 3
    assert saved["variants"]["policy"]["search"] is None
    assert results["search_gain"].keys() == {"policy", "policy+search"}

    # the search variant's scoring stopped by Ctrl-C (partial result, no results.json): with eval.resume the
    # policy's finished score is kept as it is and the search variant continues from its episode log
    from strategies.foundation import score_checkpoint

    policy_stamp = (run_dir / "results-policy.json").stat().st_mtime_ns
    partial = json.loads((run_dir / "results-policy-search.json").read_text())
    (run_dir / "results-policy-search.json").write_text(json.dumps({**partial, "interrupted": True}))
    (run_dir / "results.json").unlink()
    again = score_checkpoint(tiny(tmp_path, "eval.resume=true"), run_dir, run_dir / "checkpoints" / "rl" / "final.ckpt",
                             ["click-button"])
    assert (run_dir / "results-policy.json").stat().st_mtime_ns == policy_stamp
    assert not again["interrupted"] and again["config"]["resumed_episodes"] == 1
    assert again["episodes"] == partial["episodes"] and load_results(run_dir / "results.json") == again

    # other weights under the same run (the sft stage's, standing for a run trained further since): with
    # eval.resume still set, neither the finished policy score nor a logged episode is kept
    other = score_checkpoint(tiny(tmp_path, "eval.resume=true"), run_dir, run_dir / "checkpoints" / "sft" / "final.ckpt",
                             ["click-button"])
    assert (run_dir / "results-policy.json").stat().st_mtime_ns != policy_stamp
    assert [v["config"]["resumed_episodes"] for v in other["variants"].values()] == [0, 0]
    assert other["variants"]["policy"]["config"]["agent_id"] != again["variants"]["policy"]["config"]["agent_id"]

    agent = load_agent(run_dir / "checkpoints" / "rl" / "final.ckpt", search=False)
    assert agent.screenshot and not agent.uses_search


def test_a_partly_trained_stage_continues_from_its_last_checkpoint(tmp_path):
    from strategies.foundation.stages import run_stages

    cfg = tiny(tmp_path, "stage=pretrain", "foundation.pretrain.max_steps=2")
    run_dir = new_run_dir(cfg)
    run_stages(cfg, run_dir, ["click-button"])
    stage_dir = run_dir / "checkpoints" / "pretrain"
    (stage_dir / "final.ckpt").unlink()  # as if the run had been killed before finishing the stage
    assert (stage_dir / "last.ckpt").is_file()
    out = run_stages(tiny(tmp_path, "stage=pretrain", "foundation.pretrain.max_steps=4"), run_dir, ["click-button"])
    assert out["pretrain"]["steps"] == 4 and (stage_dir / "final.ckpt").is_file()


def test_a_stage_killed_mid_epoch_ends_with_the_weights_of_the_unstopped_run(tmp_path):
    """Batches of one over three training episodes with dropout: killed after step 2 (inside the first epoch),
    resumed to step 4, the stage's final weights equal those of the run that was never stopped (the data order
    and the random generators continue; zoo.train.resumable), also with batches grouped by length, whose
    setting and the episodes' lengths reach the stage's loader."""
    import lightning as L
    from fault_helpers import Killed, KillBeforeStep

    from strategies.foundation.data import EpisodeDataModule
    from strategies.foundation.stages import run_stages

    settings = ("stage=pretrain", "foundation.pretrain.max_steps=4", "foundation.pretrain.batch_size=1",
                "foundation.data.val_fraction=0", "model.dropout=0.1", "foundation.pretrain.length_groups=2")
    straight = new_run_dir(tiny(tmp_path, *settings))
    L.seed_everything(0, verbose=False)  # as zoo fit does before the stages
    run_stages(tiny(tmp_path, *settings), straight, ["click-button"])
    killed = new_run_dir(tiny(tmp_path, *settings))
    L.seed_everything(0, verbose=False)
    with pytest.raises(Killed):
        run_stages(tiny(tmp_path, *settings), killed, ["click-button"], callbacks=[KillBeforeStep(2)])
    assert not (killed / "checkpoints" / "pretrain" / "final.ckpt").exists()
    out = run_stages(tiny(tmp_path, *settings), killed, ["click-button"])
    assert out["pretrain"]["train_episodes"] == 3 and out["pretrain"]["steps"] == 4
    final = [load_checkpoint(d / "checkpoints" / "pretrain" / "final.ckpt")["state_dict"] for d in (straight, killed)]
    assert final[0].keys() == final[1].keys()
    assert all(torch.equal(final[0][k], final[1][k]) for k in final[0])
    dm = EpisodeDataModule(tiny(tmp_path, *settings), straight, "pretrain", ["click-button"])
    dm.setup()
    sampler = dm.train_dataloader().sampler
    assert sampler.length_groups == 2 and sampler.lengths == [len(e.ids) for e in dm.train_examples]
    # zoo bench batches on this run's own episodes: every setting timed beside random batches, both files written
    from strategies.foundation.batch_bench import main as bench_batches
    from zoo.config import parse_tool_config
    from zoo.schema.tools import BenchConfig

    save_config(tiny(tmp_path, *settings), straight)
    out = tmp_path / "bench" / "batches.json"
    res = bench_batches(parse_tool_config(BenchConfig, [f"run={straight}", "stage=pretrain", "length_groups=[0,3]",
                                                        "train_steps=2", "repeats=1", f"out={out}"]))
    assert [r["length_groups"] for r in res["rows"]] == [0, 3] and res["rows"][0]["speed_vs_first"] == 1.0
    assert res["episodes"] == 3 and all(r["real_tokens_per_s"] > 0 and r["timed_steps"] == 2 for r in res["rows"])
    assert json.loads(out.read_text()) == res and "| 3 |" in out.with_suffix(".md").read_text()


def test_a_resumed_rl_stage_keeps_its_search_state_and_never_replays_a_seed(tmp_path):
    import torch

    from strategies.foundation.stages import run_stages

    args = ("stage=rl", "foundation.rl.updates_per_round=1", "foundation.search.simulations=2")
    cfg = tiny(tmp_path, *args, "foundation.rl.max_steps=2")
    run_dir = new_run_dir(cfg)
    run_stages(cfg, run_dir, ["click-button"])
    stage_dir = run_dir / "checkpoints" / "rl"
    (stage_dir / "final.ckpt").unlink()  # as if the run had been killed before finishing the stage
    saved = torch.load(stage_dir / "last.ckpt", map_location="cpu", weights_only=False)["foundation_rl"]
    before = saved["collector"]["rounds"]
    assert before and saved["searched"] and saved["collector"]["next_seed"] > 0

    out = run_stages(tiny(tmp_path, *args, "foundation.rl.max_steps=4"), run_dir, ["click-button"])["rl"]
    rounds = out["search_rounds"]
    assert out["steps"] == 4 and rounds[: len(before)] == before and len(rounds) > len(before)
    assert [r["round"] for r in rounds] == list(range(1, len(rounds) + 1))
    seeds = [seed for r in rounds for seed in r["seeds"]]
    assert len(seeds) == len(set(seeds))  # the resumed stage searched fresh training seeds only
    final = torch.load(stage_dir / "final.ckpt", map_location="cpu", weights_only=False)["foundation_rl"]
    assert len(final["searched"]) >= len(saved["searched"])  # the search buffer was kept, then grew


class UniformEvaluator:
    """Every visible actionable element may be clicked, equally likely; value 0: the browser decides."""

    def evaluate(self, prefix, outcome):
        from zoo.web.types import Action

        targets = [e for e in outcome.observation.elements if e.actionable and e.visible]
        return [Action.click(e.id) for e in targets], [1.0] * len(targets), 0.0


def test_mcts_in_the_real_browser_finds_the_button_without_a_policy():
    """The RL stage's simulator (training seeds only: the page's reward is the training signal)."""
    from zoo.web.env import WebEnv
    from zoo.web.seeds import train_seed

    with WebEnv("click-button", max_episode_steps=3) as env:
        solved = 0
        for k in range(3):
            replay = ReplayEnv(env)
            sim = BrowserSimulator(replay, train_seed(k))
            first = sim.step_to(())
            assert sim.step_to(()) is first  # cached: no second reset
            search = MCTS(sim, UniformEvaluator(), simulations=12, max_depth=2, key=action_key)
            result = search.search(())
            assert result.expansions <= 12 and replay.resets <= 12
            # replaying the chosen action from the seed gives the same verdict as the search saw
            obs, _ = env.reset(seed=train_seed(k))
            assert [e.text for e in obs.elements] == [e.text for e in first.observation.elements]
            _, _, done, _, info = env.step(result.action)
            if search.node((result.action,)).terminal:
                assert done and (info["episode"]["raw_reward"] > 0) == (search.node((result.action,)).value > 0)
            solved += bool(done and info["episode"]["success"])
        assert solved == 3  # with up to ~6 buttons and 12 expansions the search always finds the right one


def test_a_named_step_checkpoint_is_where_its_stage_continues(tmp_path, capsys):
    """resume=<run>/checkpoints/<stage>/stepNNNNNN.ckpt: that stage continues from that very file (not from
    its newer last.ckpt); a checkpoint of a finished stage, or of a stage this run does not train, is one line."""
    from strategies.foundation.stages import run_stages
    from zoo.core.errors import ZooError

    cfg = tiny(tmp_path, "stage=pretrain", "foundation.pretrain.max_steps=2")
    run_dir = new_run_dir(cfg)
    run_stages(cfg, run_dir, ["click-button"])
    stage_dir = run_dir / "checkpoints" / "pretrain"
    step2 = stage_dir / "kept-step000002.ckpt"  # the periodic file is replaced by newer ones: keep a copy
    step2.write_bytes((stage_dir / "step000002.ckpt").read_bytes())
    os.utime(step2, ns=((stage_dir / "step000002.ckpt").stat().st_mtime_ns,) * 2)  # as old as its original
    (stage_dir / "final.ckpt").unlink()
    run_stages(tiny(tmp_path, "stage=pretrain", "foundation.pretrain.max_steps=4"), run_dir, ["click-button"])
    assert (stage_dir / "final.ckpt").is_file() and (stage_dir / "step000004.ckpt").is_file()
    with pytest.raises(ZooError, match=r"stage pretrain finished already .*final\.ckpt"):
        tiny(tmp_path, "stage=pretrain", f"resume={step2}")
    with pytest.raises(ZooError, match=r"is a checkpoint of stage pretrain, but stage=sft trains sft"):
        tiny(tmp_path, "stage=sft", f"resume={step2}")

    (stage_dir / "final.ckpt").unlink()  # as if killed before the stage finished
    capsys.readouterr()
    out = run_stages(tiny(tmp_path, "stage=pretrain", "foundation.pretrain.max_steps=4", f"resume={step2}"),
                     run_dir, ["click-button"])
    assert f"resuming from {step2}".replace(" ", "") in "".join(capsys.readouterr().err.split())  # rich wraps lines
    assert out["pretrain"]["steps"] == 4 and (stage_dir / "final.ckpt").is_file()
    from zoo.train.metrics import _rows

    live = [int(r["step"]) for r in _rows(run_dir / "csv" / "pretrain" / "metrics.csv") if r.get("pretrain/loss")]
    assert live and min(live) == 2  # this segment trained steps 2-3 again, from the step-2 weights

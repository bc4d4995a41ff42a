"""Strategy 2's periodic validation (val/success_rate) and ``zoo search`` pruning on it, no browser.

``RecallVecEnv`` adds to the memory tests' two-page recall env the parts of the VecWebEnv
interface validation uses: ``num_envs``, ``autoreset`` and ``reset_one(i, seed, task)``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import numpy as np
import optuna
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_strategy2_memory import CODES, RecallEnv, page_one, tiny_module  # noqa: E402

from strategies.compressive_rl.fit import validation_options  # noqa: E402
from strategies.compressive_rl.validation import greedy_episodes, summarize  # noqa: E402
from zoo.web.seeds import is_eval_seed  # noqa: E402


class RecallVecEnv(RecallEnv):
    def __init__(self, num_envs: int):
        super().__init__(num_envs)
        self.num_envs, self.autoreset, self.started = num_envs, True, []

    def reset_one(self, i, seed, task=None):
        self.started.append((task, seed))
        self.code[i], self.choices[i], self.page[i] = CODES[seed % len(CODES)], list(CODES), 1
        return page_one(self.code[i])


def test_validation_plays_every_job_on_fixed_held_out_seeds():
    torch.manual_seed(0)
    module = tiny_module("xl", val_every=1, val_episodes=3)
    env = RecallVecEnv(2)
    module.attach_env(env, seeds=[1, 2], tasks=["recall"])
    jobs = module.val_jobs
    assert len(jobs) == 3 and len({s for _, s in jobs}) == 3
    assert all(t == "recall" and not is_eval_seed(s) and s >= 900_000 for t, s in jobs)  # held out, not eval
    first = greedy_episodes(env, module.featurizer, module.model, jobs, torch.device("cpu"))
    again = greedy_episodes(env, module.featurizer, module.model, jobs, torch.device("cpu"))
    assert len(first) == 3 and env.started == jobs + jobs and env.autoreset
    assert [e["success"] for e in first] == [e["success"] for e in again]  # greedy, same seeds: same value
    stats = summarize(first)
    assert stats["success_rate"] == pytest.approx(np.mean([e["success"] for e in first]))
    module.collector.restart()  # training goes on past the seeds it already began
    assert module.collector.seeds == [3, 4] and module.collector.starts.all()


def test_search_prunes_on_the_modules_validation_metric(tmp_path):
    """A real Lightning fit of the PPO module: validation after each update logs val/success_rate,
    which the search's pruning callback reports to the trial (only then), and the trial is pruned."""
    from zoo.config import compose
    from zoo.search import make_pruning_callback
    from zoo.train.trainer import make_trainer

    L.seed_everything(0, verbose=False)
    module = tiny_module("xl", val_every=1, val_episodes=2, rollout_steps=4, update_epochs=1, minibatches=1)
    module.attach_env(RecallVecEnv(2), seeds=[1, 2], tasks=["recall"])
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(upper=-1.0))
    trial = study.ask()  # the pruner stops any trial at its first report (a success rate is > -1)
    cfg = compose(["strategy=2", "trainer.max_steps=3", "trainer.progress=false", "ppo.val_every=1"])
    trainer = make_trainer(cfg, tmp_path, stage="ppo", checkpoint=False,
                           callbacks=[make_pruning_callback(trial, "val/success_rate")], **validation_options(cfg))
    with pytest.raises(optuna.TrialPruned, match=r"val/success_rate=.* at step 1"):
        trainer.fit(module)
    reported = study.trials[0].intermediate_values
    assert list(reported) == [1] and reported[1] in (0.0, 0.5, 1.0)  # reported by the validation after update 1
    assert float(trainer.callback_metrics["train/env_steps"]) == 4 * 2  # cumulative: rollout_steps x envs

"""``zoo fit strategy=2``: PPO on the browser env, checkpoints, then scoring on the shared benchmark.

  1. tasks from ``env.tasks`` / ``env.suite``; a VecWebEnv of ``env.num_envs`` browser contexts.
  2. the run's BPE vocabulary: trained on pages a random agent visits (or taken from the checkpoint
     when resuming).
  3. the Lightning Trainer from zoo.training (CSV metrics in csv/ppo/, checkpoints in
     checkpoints/ppo/); one training step = one PPO update; ``trainer.max_steps`` updates.
  4. the final checkpoint is scored with zoo.web.bench.evaluate on evaluation seeds and the
     results written to ``run_dir/results.json``.
"""
from __future__ import annotations

import csv
import random
import warnings
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from strategies.compressive_rl.seeds import tokenizer_seeds, training_seed_starts
from zoo.core.errors import ZooError


def make_env(cfg: DictConfig, tasks: list[str]) -> Any:
    from zoo.web.vector import VecWebEnv

    return VecWebEnv.from_config(cfg.env, tasks)


def gather_pages(env: Any, seeds: list[int], steps: int, seed: int) -> list[Any]:
    """Observations a random clicker meets in ``steps`` steps per env (texts for the BPE vocabulary)."""
    from zoo.web.types import Action

    rng = random.Random(seed)
    pages = list(env.reset(seeds=seeds))
    for _ in range(steps):
        actions = []
        for o in pages[-len(seeds):]:
            ids = [e.id for e in o.elements if e.actionable and e.visible]
            actions.append(Action.click(rng.choice(ids)) if ids else Action.noop())
        pages += env.step(actions)[0]
    return pages


def build_module(cfg: DictConfig, run_dir: Path, env: Any, seeds: list[int], ckpt: Path | None,
                 tasks: list[str] | None = None) -> Any:
    from strategies.compressive_rl.module import PPOModule
    from strategies.compressive_rl.tokenizer import tokenizer_to_json, train_tokenizer

    if ckpt is not None:
        from zoo.training import read_checkpoint_meta

        tok_json = read_checkpoint_meta(ckpt)["tokenizer_json"]
    else:
        # pages for the vocabulary come from their own seeds, not the first training episodes
        pages = gather_pages(env, tokenizer_seeds(len(seeds)), int(cfg.ppo.tokenizer_steps), int(cfg.seed))
        tok_json = tokenizer_to_json(train_tokenizer(pages, int(cfg.model.vocab_size)))
    (run_dir / "tokenizer.json").write_text(tok_json)
    module = PPOModule(OmegaConf.to_container(cfg, resolve=True), tok_json)
    module.attach_env(env, seeds, tasks)
    return module


def read_metrics(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def merge_metrics(path: Path, earlier: list[dict[str, str]]) -> None:
    """Lightning's CSVLogger deletes an existing metrics.csv when a run resumes; put the rows from
    before the resume back in front of the new ones so the learning curve stays whole."""
    if not earlier:
        return
    new = read_metrics(path)
    first_new = min((int(r["step"]) for r in new if r.get("step")), default=None)
    rows = [r for r in earlier if first_new is None or int(r.get("step") or 0) < first_new] + new
    fields = sorted({k for r in rows for k in r})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def validation_options(cfg: DictConfig) -> dict[str, Any]:
    """Trainer options for the periodic greedy validation (ppo.val_every updates; 0: none)."""
    every = int(cfg.ppo.val_every)
    if every <= 0:
        return {"limit_val_batches": 0, "num_sanity_val_steps": 0}
    return {"val_check_interval": every, "check_val_every_n_epoch": None, "num_sanity_val_steps": 0}


def check_config(cfg: DictConfig) -> None:
    p = cfg.ppo
    for key in ("rollout_steps", "update_epochs", "minibatches", "max_spans", "max_options", "max_instruction_len",
                "val_episodes"):
        if int(p[key]) <= 0:
            raise ZooError(f"bad value for 'ppo.{key}': {p[key]} (must be > 0)")
    if int(p.val_every) < 0:
        raise ZooError(f"bad value for 'ppo.val_every': {p.val_every} (updates between validations; 0: none)")
    if int(cfg.env.num_envs) <= 0:
        raise ZooError(f"bad value for 'env.num_envs': {cfg.env.num_envs} (must be > 0)")
    for key, value in (("model.dropout", cfg.model.dropout), ("model.attention.dropout", cfg.model.attention.dropout)):
        if float(value) != 0.0:  # PPO's ratio compares the replay's log-probs with the collection's
            raise ZooError(f"bad value for '{key}': {value} (strategy 2 needs 0: PPO replays each rollout and "
                           "compares log-probs with the ones the actions were sampled with)")
    if cfg.model.use_screen and not cfg.env.screenshot:
        raise ZooError("model.use_screen=true needs screenshots in the observations: add env.screenshot=true")


def evaluate_checkpoint(cfg: DictConfig, ckpt: Path, tasks: list[str], run_dir: Path) -> dict:
    from strategies.compressive_rl.agent import load_agent
    from zoo.web.bench import evaluate
    from zoo.web.results import write_results

    agent = load_agent(ckpt)
    e = cfg.eval
    eval_tasks = list(e.tasks) if e.tasks else None
    if not eval_tasks:
        from zoo.suites import resolve_tasks

        eval_tasks = resolve_tasks(e.suite, None) if e.suite else tasks
    e_cfg = cfg.env
    suite = e.suite or (cfg.env.suite if not cfg.env.tasks else "custom")
    results = evaluate(agent, eval_tasks, int(e.episodes), seed=int(e.seed), num_envs=int(e_cfg.num_envs),
                       max_episode_steps=int(e_cfg.max_episode_steps), step_timeout_s=float(e_cfg.step_timeout_s),
                       headless=bool(e_cfg.headless), progress=bool(cfg.trainer.progress),
                       log_path=run_dir / "results.episodes.jsonl", suite=suite,
                       agent_name=f"strategy2-{cfg.model.attention.name}")
    results["run"] = {"strategy": 2, "run_dir": str(run_dir), "checkpoint": str(ckpt),
                      "attention": cfg.model.attention.name, "train_tasks": list(tasks)}
    write_results(run_dir / "results.json", results)
    return results


def fit(cfg: DictConfig, run_dir: Path) -> dict:
    from zoo.runs import last_checkpoint
    from zoo.suites import resolve_tasks
    from zoo.training import checkpoint_exists, make_trainer, read_checkpoint_meta

    check_config(cfg)
    run_dir = Path(run_dir)
    tasks = resolve_tasks(cfg.env.suite, list(cfg.env.tasks))
    ckpt = last_checkpoint(run_dir) if cfg.resume else None
    if cfg.resume and ckpt is None:
        raise ZooError(f"cannot resume {run_dir}: no checkpoint in {run_dir / 'checkpoints'}")
    torch.manual_seed(int(cfg.seed))
    # every rank its own block of seeds; a resumed run continues past the seeds it may have used
    from zoo.distributed import global_rank, processes_per_node

    resumed_step = 0 if ckpt is None else int(read_checkpoint_meta(ckpt)["global_step"])
    world = processes_per_node(cfg.trainer.devices) * int(cfg.trainer.num_nodes)
    seeds = training_seed_starts(cfg, global_rank(cfg.trainer.devices), world, resumed_step)
    metrics_csv = run_dir / "csv" / "ppo" / "metrics.csv"
    earlier = read_metrics(metrics_csv) if ckpt else []
    # the checkpoint after the update is exactly what we want to keep; Lightning warns about it anyway
    warnings.filterwarnings("ignore", message=".*ModelCheckpoint with manual optimization.*")
    env = make_env(cfg, tasks)
    try:
        module = build_module(cfg, run_dir, env, seeds, ckpt, tasks)
        trainer = make_trainer(cfg, run_dir, stage="ppo", **validation_options(cfg))
        trainer.fit(module, ckpt_path=str(ckpt) if ckpt else None)
        final = run_dir / "checkpoints" / "ppo" / "last.ckpt"
        saved_step = read_checkpoint_meta(final)["global_step"] if checkpoint_exists(final) else -1
        if saved_step != trainer.global_step:  # the checkpoint cadence missed the final update
            trainer.save_checkpoint(final)
    finally:
        merge_metrics(metrics_csv, earlier)
        env.close()
    if not trainer.is_global_zero:
        return {}
    return evaluate_checkpoint(cfg, final, tasks, run_dir)

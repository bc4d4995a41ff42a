"""Strategy 2's few-shot adaptation (the registered ``finetune`` hook; ``zoo compare``'s ``fewshot: [k, ...]``).

From a checkpoint trained on other tasks: record ``demos_per_task`` oracle demonstrations of each new task on
training seeds (bc.py: the seeds Strategy 1 would record for the same run seed and task list), clone them into
the network (``ppo.bc_epochs`` passes at ``ppo.bc_lr``), save ``run_dir/checkpoints/finetune.ckpt`` (loadable
by ``load_agent`` like any Strategy-2 checkpoint) and score it on the new tasks' evaluation seeds into
``run_dir/results.json`` through ``zoo.train.scoring.score_agent``.  What it used goes to
``run_dir/finetune.json`` (demonstrations, skipped steps, per-epoch loss / accuracy, wall time).
The architecture, vocabulary and featurizer come from the checkpoint; env, eval, seed and BC settings from ``cfg``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from strategies.compressive_rl.agent import MemoryAgent, model_from_checkpoint
from strategies.compressive_rl.bc import behaviour_clone, demonstration_jobs, record_demonstrations
from strategies.compressive_rl.features import make_featurizer
from strategies.compressive_rl.fit import make_env, set_cpu_threads
from zoo.core.checkpoints import load_checkpoint
from zoo.core.io import atomic_write, atomic_write_json
from zoo.train.scoring import score_agent, scoring_tasks

FINETUNE_CHECKPOINT = "finetune.ckpt"


def _device(cfg: Any) -> torch.device:
    wants_gpu = str(cfg.trainer.accelerator) in ("gpu", "cuda", "auto")
    return torch.device("cuda" if wants_gpu and torch.cuda.is_available() else "cpu")


def finetune(cfg: Any, run_dir: Path, init_checkpoint: Path, tasks: list[str], demos_per_task: int) -> dict:
    run_dir = Path(run_dir)
    t0 = time.perf_counter()
    set_cpu_threads(cfg)
    ckpt = load_checkpoint(init_checkpoint)
    torch.manual_seed(int(cfg.seed))  # before the model is built, as the run's RNG stream always began here
    model, tok, trained = model_from_checkpoint(ckpt, init_checkpoint)
    device = _device(cfg)
    model.to(device)
    featurizer = make_featurizer(tok, trained)

    env = make_env(cfg, list(tasks))
    try:
        demos, stats = record_demonstrations(env, featurizer, demonstration_jobs(list(tasks), int(demos_per_task),
                                                                                 int(cfg.seed)))
    finally:
        env.close()
    schedule = str(cfg.ppo.bc_schedule)
    weight_decay = float(cfg.ppo.bc_weight_decay)
    history = behaviour_clone(model, demos, int(cfg.ppo.bc_epochs), float(cfg.ppo.bc_lr), int(cfg.seed), device,
                              schedule=schedule, weight_decay=weight_decay)
    used = {"init_checkpoint": str(init_checkpoint), "tasks": list(tasks), "demos_per_task": int(demos_per_task),
            **stats.as_dict(), "bc_epochs": int(cfg.ppo.bc_epochs), "bc_lr": float(cfg.ppo.bc_lr),
            "bc_schedule": schedule, "bc_weight_decay": weight_decay, "history": history,
            "train_wall_s": round(time.perf_counter() - t0, 2)}

    out = run_dir / "checkpoints" / FINETUNE_CHECKPOINT
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {"hyper_parameters": ckpt["hyper_parameters"], "tokenizer_json": ckpt["tokenizer_json"], "global_step": 0,
             "state_dict": {f"model.{k}": v.detach().cpu() for k, v in model.state_dict().items()},
             "finetune": {k: v for k, v in used.items() if k != "history"}}
    atomic_write(out, lambda p: torch.save(state, p))
    atomic_write_json(run_dir / "finetune.json", used)

    agent = MemoryAgent(model, featurizer, greedy=bool(trained.ppo.greedy_eval), device=str(device))

    return score_agent(cfg, agent, scoring_tasks(cfg, list(tasks)), run_dir,
                       agent_name=f"strategy2-{trained.model.attention.name}", results_name="results",
                       run_info={"checkpoint": str(out), "init_checkpoint": str(init_checkpoint),
                                 "attention": trained.model.attention.name, "fewshot_demos_per_task": int(demos_per_task),
                                 "demos": int(stats.as_dict()["demos"]), "train_tasks": list(tasks)})

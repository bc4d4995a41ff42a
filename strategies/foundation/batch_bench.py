"""zoo bench batches: what batches of like length save in a Strategy-1 training stage, on a run's own episodes.

    zoo bench batches run=<Strategy-1 run dir> stage=sft length_groups=[0,8,32] train_steps=20 repeats=3
        -> reports/bench/batches-<stage>.{json,md}

A batch is padded to its longest episode, so the work of a stage grows with the padded tokens, not the real
ones.  For each ``length_groups`` setting (0: batches at random, as ``zoo fit`` draws them by default) it
reports (1) over a whole epoch's order, exactly: padded tokens over real tokens; (2) timed: real tokens trained
per second over the epoch's first ``train_steps`` batches (forward, backward, AdamW step, from the same
starting weights each time), settings interleaved ``repeats`` times, so each speed is a ratio against random
batches measured beside it.  The run's recorded dataset and tokenizer are read, never written.
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from rich.console import Console
from rich.progress import Progress

from strategies.foundation.batch import collate
from strategies.foundation.config import FoundationRunConfig
from strategies.foundation.data import EpisodeDataModule
from strategies.foundation.losses import compute_losses, weighted_total
from strategies.foundation.module import FoundationModule
from strategies.foundation.recording import dataset_dir
from zoo.core.checkpoints import saved_run_config
from zoo.core.errors import ZooError
from zoo.core.io import atomic_write_text
from zoo.train.resumable import ResumableLoader
from zoo.web.suites import resolve_tasks

SCHEMA = "actionzoo.bench.batches/1"
STAGES = ("pretrain", "sft")


def padded_ratio(batches: list[list[int]], lengths: list[int]) -> float:
    """Tokens the batches compute (each padded to its longest) over the real tokens in them."""
    real = sum(lengths[i] for b in batches for i in b)
    return sum(len(b) * max(lengths[i] for i in b) for b in batches) / max(real, 1)


def _data(cfg: Any) -> tuple[Any, Any]:
    """(the run's config, its data module set up on the recorded episodes): one line for a run that lacks them."""
    if str(cfg.stage) not in STAGES:
        raise ZooError(f"bad value for 'stage': '{cfg.stage}'; valid choices: {', '.join(STAGES)}")
    if cfg.run is None:
        raise ZooError("zoo bench batches needs run=<a Strategy-1 run directory> (its recorded episodes are timed)")
    run = Path(str(cfg.run))
    if not (run / "config.yaml").is_file():
        raise ZooError(f"bad value for 'run': {run} has no config.yaml (give a Strategy-1 run directory)")
    saved = OmegaConf.to_container(OmegaConf.load(run / "config.yaml"))
    if saved.get("strategy") != "foundation":
        raise ZooError(f"bad value for 'run': {run} is a '{saved.get('strategy')}' run, not a Strategy-1 one")
    run_cfg = saved_run_config(saved, FoundationRunConfig, "foundation")
    if not (run / "tokenizer" / "bpe.json").is_file():
        raise ZooError(f"{run} has no tokenizer yet (tokenizer/bpe.json): run a stage of it first")
    dm = EpisodeDataModule(run_cfg, run, str(cfg.stage), resolve_tasks(run_cfg.env.suite, list(run_cfg.env.tasks)))
    if not (dataset_dir(run_cfg.foundation.data.root, dm.config) / "manifest.json").is_file():
        raise ZooError(f"{run}: its recorded dataset is not under {run_cfg.foundation.data.root} "
                       "(run the bench from the directory the run was started in)")
    dm.setup()
    return run_cfg, dm


def main(cfg: Any) -> dict[str, Any]:
    groups = [int(g) for g in cfg.length_groups]
    if not groups or min(groups) < 0:
        raise ZooError(f"bad value for 'length_groups': {list(cfg.length_groups)} (whole numbers >= 0; 0 is random)")
    out = Path(str(cfg.out)) if cfg.out else Path("reports") / "bench" / f"batches-{cfg.stage}.json"
    run_cfg, dm = _data(cfg)
    if int(cfg.threads) > 0:
        torch.set_num_threads(int(cfg.threads))
    stage = str(cfg.stage)
    examples = dm.train_examples
    lengths = [len(e.ids) for e in examples]
    size = int(run_cfg.foundation[stage].batch_size)
    orders = {g: [list(b) for b in ResumableLoader(list(range(len(examples))), size, int(run_cfg.seed),
                                                   collate_fn=list, lengths=lengths, length_groups=g)]
              for g in groups}
    torch.manual_seed(int(run_cfg.seed))
    module = FoundationModule(run_cfg, stage, dm.builder.vocab_size, dm.tokenizer.pad_id, dm.tokenizer.tok.to_str())
    start = copy.deepcopy(module.state_dict())
    steps = int(cfg.train_steps)
    timed: dict[int, list[dict[str, float]]] = {g: [] for g in groups}
    with Progress(transient=True) as progress:
        task = progress.add_task("batches", total=int(cfg.repeats) * len(groups))
        for _ in range(int(cfg.repeats)):
            for g in groups:
                module.load_state_dict(start)
                module.train()
                optimizer = torch.optim.AdamW(module.parameters(), lr=float(run_cfg.foundation[stage].lr))
                batches = orders[g][:steps]
                t0 = time.perf_counter()
                for b in batches:
                    loss = weighted_total(compute_losses(module.model, collate([examples[i] for i in b]),
                                                         module.terms), module.weights)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                seconds = time.perf_counter() - t0
                timed[g].append({"seconds": seconds, "real_tokens": sum(lengths[i] for b in batches for i in b),
                                 "steps": len(batches)})
                progress.advance(task)
    rows = []
    for g in groups:
        seconds = sum(t["seconds"] for t in timed[g])
        real = sum(t["real_tokens"] for t in timed[g])
        rows.append({"length_groups": g, "epoch_padded_over_real": round(padded_ratio(orders[g], lengths), 3),
                     "timed_steps": timed[g][0]["steps"], "real_tokens_per_s": round(real / seconds, 1),
                     "seconds_per_step": round(seconds / sum(t["steps"] for t in timed[g]), 4)})
    base = next((r for r in rows if r["length_groups"] == 0), rows[0])
    for r in rows:
        r["speed_vs_first"] = round(r["real_tokens_per_s"] / base["real_tokens_per_s"], 3)
    results = {"schema": SCHEMA, "run": str(cfg.run), "stage": stage, "episodes": len(examples), "batch_size": size,
               "mean_episode_tokens": round(sum(lengths) / len(lengths), 1), "repeats": int(cfg.repeats),
               "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "rows": rows,
               "command": f"zoo bench batches run={cfg.run} stage={stage} length_groups=[{','.join(map(str, groups))}] "
                          f"train_steps={steps} repeats={cfg.repeats} threads={cfg.threads}"}
    write_report(results, out)
    Console().print(markdown(results))
    return results


def markdown(results: dict[str, Any]) -> str:
    base = next((r for r in results["rows"] if r["length_groups"] == 0), results["rows"][0])
    lines = [f"# Batches of like length: Strategy 1, stage {results['stage']}", "",
             f"`{results['command']}`", "",
             f"{results['episodes']} episodes (mean {results['mean_episode_tokens']} tokens), batches of "
             f"{results['batch_size']}, CPU threads: {results['cpu_threads']}, torch {results['torch']}; speed is real "
             f"tokens trained per second over each order's first {base['timed_steps']} batches, {results['repeats']} "
             "interleaved repetitions, against the first row measured beside it.", "",
             "| length_groups | padded / real tokens (whole epoch) | real tokens/s | s per step | speed vs first row |",
             "|---|---|---|---|---|"]
    for r in results["rows"]:
        name = f"{r['length_groups']}" + (" (random batches)" if r["length_groups"] == 0 else "")
        lines.append(f"| {name} | {r['epoch_padded_over_real']} | {r['real_tokens_per_s']} | {r['seconds_per_step']} "
                     f"| {r['speed_vs_first']}x |")
    return "\n".join(lines) + "\n"


def write_report(results: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(results, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(results))

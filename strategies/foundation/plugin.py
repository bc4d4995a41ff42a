"""Registers Strategy 1 with the zoo (imported by the package; light: no torch)."""
from pathlib import Path
from typing import Any

from components.attention import check_heads
from strategies.foundation.config import FoundationRunConfig
from strategies.foundation.presets import apply_preset
from strategies.foundation.pretrained_text import check_text_init
from zoo.core.errors import ZooError, unknown
from zoo.train.plugin import Strategy, register_strategy

STAGES = ("pretrain", "sft", "rl", "all")


def budget(cfg: Any, demos_per_task: int, env_steps: int) -> list[str]:
    """Equal budgets (zoo compare): exactly ``demos_per_task`` recorded oracle demonstrations per training task
    (no exploring episodes), and RL-stage rounds sized so their tree-search episodes take about ``env_steps``
    browser steps at most (a round plays ``episodes_per_round`` episodes of up to ``env.max_episode_steps``
    steps, each step expanding up to ``search.simulations`` children), and the simulators take at most
    ``env_steps`` (``foundation.rl.max_env_steps``, checked before every simulator step: a round plays an
    episode of every training task, so at 49 tasks one round ran 12k steps past a per-round cap, and a
    per-episode check still let the last search run 674 past it); the steps actually taken are logged
    (rl/env_steps) and reported.  Every demonstration trains (``foundation.data.val_fraction=0``), as every
    one of them trains Strategy 2's behaviour cloning: with the default 0.2 held out for the SFT metrics,
    Strategy 1 learnt from 4 of 5 demonstrations per task (16 of 20) in the runs committed before this was so
    (their ``sft_summary.json`` counts ``train_episodes``); its instruction metrics then have no episodes."""
    f = cfg.foundation
    per_round = int(f.rl.episodes_per_round) * int(cfg.env.max_episode_steps) * (1 + int(f.search.simulations))
    rounds = max(1, int(env_steps) // per_round)
    return [f"foundation.data.episodes_per_task={max(1, int(demos_per_task))}", "foundation.data.explore_fraction=0.0",
            "foundation.data.val_fraction=0.0",
            f"foundation.rl.max_steps={rounds * int(f.rl.updates_per_round)}", f"foundation.rl.max_env_steps={int(env_steps)}"]


def named_stage_checkpoint(resume: Any) -> tuple[str, Path] | None:
    """``resume=<run>/checkpoints/<stage>/<file>.ckpt``: (stage, that file), which the stage then continues
    from as named; None for a run directory (each unfinished stage continues from its newest checkpoint)."""
    if not resume:
        return None
    path = Path(str(resume))
    stage = path.resolve().parent.name
    if path.suffix != ".ckpt" or path.resolve().parent.parent.name != "checkpoints" or stage not in STAGES[:-1]:
        return None
    return stage, path


def check_named_resume(cfg: Any) -> None:
    """A checkpoint named by ``resume=`` must belong to a stage this run trains and that has not finished
    (a finished stage is skipped, so its step checkpoint would silently be ignored)."""
    named = named_stage_checkpoint(cfg.get("resume"))
    if named is None:
        return
    stage, path = named
    wanted = STAGES[:-1] if cfg.stage == "all" else (cfg.stage,)
    if stage not in wanted:
        raise ZooError(f"resume={path} is a checkpoint of stage {stage}, but stage={cfg.stage} trains "
                       f"{', '.join(wanted)}; set stage={stage} or stage=all")
    final = path.resolve().parent / "final.ckpt"
    if final.exists() and path.resolve() != final.resolve():
        raise ZooError(f"resume={path}: stage {stage} finished already ({final}) and would be skipped; "
                       "name the run directory, or a checkpoint of a stage that has not finished")


def check_config(cfg: Any) -> None:
    """Strategy 1's own value checks, run when the config is composed (before any run directory)."""
    if cfg.stage not in STAGES:
        raise unknown("value for 'stage'", cfg.stage, STAGES)
    check_named_resume(cfg)

    if apply_preset(cfg):  # the preset may change dim / n_heads: the one head check again
        check_heads(cfg.model.dim, cfg.model.n_heads)
    check_text_init(str(cfg.foundation.text_init))


STRATEGY = register_strategy(Strategy(
    name="foundation",
    label="Strategy 1",
    aliases=("1",),
    config=FoundationRunConfig,
    fit="strategies.foundation:fit",
    load_agent="strategies.foundation:load_agent",
    score="strategies.foundation:score_checkpoint",
    finetune="strategies.foundation.finetune:finetune",
    budget=budget,
    check=check_config,
    # the RL stage's collection episodes (each round of tree-search episodes), then greedy validation
    success_columns=("rl/success_rate", "rl/search_success", "val/success_rate"),
    env_steps_columns=("rl/env_steps",),
    description="multimodal foundation model -> SFT numbered instructions -> RL with value-judged tree search",
))

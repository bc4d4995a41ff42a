"""The ``zoo`` command line: fit, bench, search, report, config, list.

Every subcommand takes ``key=value`` overrides (OmegaConf dotlist). User errors
(unknown key, bad value, unknown component or task) print one line and exit 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from zoo.config import GROUPS, compose, group_choices, load_plugins, parse_tool_config, to_yaml
from zoo.core.errors import ZooError, unknown
from zoo.fitting import fit_run
from zoo.schema.tools import BenchConfig, CompareConfig, ReportConfig, StudyConfig
from zoo.train.plugin import get_strategy, load_agent
from zoo.web.suites import suite_description, suite_names, suite_tasks

EXIT_USAGE = 2

EPILOG = """examples:
  zoo fit                                   # strategy 2 on the embedded default (CPU, minutes)
  zoo fit strategy=1 stage=sft              # one stage of strategy 1 (foundation)
  zoo fit strategy=2 model.attention=infini trainer.max_steps=200
  zoo fit resume=runs/compressive_rl/NAME   # continue a run from its last checkpoint
  zoo config strategy=2 model.attention=xl  # print the fully composed config
  zoo list attention                        # registered components of a family
  zoo bench agent=oracle suite=miniwob-core episodes=10
  zoo bench env contexts=[1,2,4]            # harness throughput
  zoo bench attention seq_lens=[1024,4096]  # attention time/memory scaling
  zoo bench actions suite=scale-train       # which tasks the agents' action space can express
  zoo search strategy=2 trials=8 space=configs/search/compressive_rl.yaml
  zoo compare config=configs/compare/cpu-small.yaml
  zoo report name=latest
"""


class NotAvailable(Exception):
    pass


def _entry(module: str, attr: str) -> Any:
    """Import a pipeline's entry point; a pipeline that is not built yet says so clearly."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name and (module == err.name or module.startswith(err.name + ".")):
            raise NotAvailable(module) from None
        raise
    if not hasattr(mod, attr):
        raise NotAvailable(f"{module}.{attr}")
    return getattr(mod, attr)


# ---------------------------------------------------------------- subcommands
def cmd_config(args: argparse.Namespace) -> int:
    print(to_yaml(compose(args.overrides)), end="")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    families = dict(load_plugins())
    extra = {"suite": None}
    valid = sorted(set(families) | set(extra))
    if args.family and args.family not in valid:
        raise unknown("family", args.family, valid)
    console = Console()
    wanted = [args.family] if args.family else valid
    for fam in wanted:
        table = Table(title=fam, title_justify="left")
        table.add_column("name", style="bold")
        table.add_column("description")
        if fam == "suite":
            for name in suite_names():
                tasks = suite_tasks(name)
                table.add_row(name, f"{len(tasks)} tasks. {suite_description(name)}\n{', '.join(tasks)}")
        elif fam == "strategy":
            for name in families[fam].names():
                spec = get_strategy(name)
                aliases = f" (alias {', '.join(spec.aliases)})" if spec.aliases else ""
                table.add_row(name + aliases, f"{spec.label}: {spec.description}")
        else:
            for name, doc in families[fam].describe().items():
                table.add_row(name, doc)
        console.print(table)
    if not args.family:
        configs = {k: group_choices(v) for k, v in GROUPS.items()}
        console.print("config groups: " + "; ".join(f"{k}={'|'.join(v)}" for k, v in configs.items()))
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from rich.console import Console

    def announce(cfg: Any, run_dir: Path) -> None:
        Console(stderr=True).print(f"[bold]zoo fit[/] strategy={cfg.strategy} run_dir={run_dir}")

    run = fit_run(list(args.overrides), on_run_dir=announce)
    _print_results(run.results, run.run_dir)
    return 0


def _print_results(results: Any, run_dir: Any) -> None:
    from rich.console import Console

    def mean(v: Any) -> float:
        return float(v["mean"]) if isinstance(v, dict) else float(v)

    console = Console()
    overall = results.get("overall", {}) if isinstance(results, dict) else {}
    if "success_rate" in overall:
        console.print(
            f"[bold green]done[/]: success {mean(overall['success_rate']):.3f}, "
            f"mean reward {mean(overall.get('mean_reward', float('nan'))):.3f} -> {run_dir}/results.json"
        )
    else:
        console.print(f"[bold green]done[/] -> {run_dir}")


def cmd_bench(args: argparse.Namespace) -> int:
    target, overrides = "harness", list(args.overrides)
    if overrides and "=" not in overrides[0]:
        target, overrides = overrides[0], overrides[1:]
    entries = {
        "harness": ("zoo.web.bench", "main"),
        "env": ("zoo.web.bench", "throughput_main"),
        "attention": ("components.bench", "main"),
        "actions": ("zoo.web.expressible", "main"),
        "batches": ("strategies.foundation.batch_bench", "main"),
    }
    if target not in entries:
        raise unknown("bench target", target, entries)
    cfg = parse_tool_config(BenchConfig, overrides)
    if target == "harness":
        load_plugins()  # checkpoint agents come from the strategy registry
        _entry(*entries[target])(cfg, load_agent=load_agent)
    else:
        _entry(*entries[target])(cfg)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    cfg = parse_tool_config(StudyConfig, args.overrides)
    _entry("zoo.search", "main")(cfg)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    cfg = parse_tool_config(CompareConfig, args.overrides)
    _entry("zoo.compare", "main")(cfg)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    cfg = parse_tool_config(ReportConfig, args.overrides)
    _entry("zoo.report", "main")(cfg)
    return 0


COMMANDS = {
    "fit": (cmd_fit, "train a strategy (key=value overrides; see `zoo config`)"),
    "bench": (cmd_bench, "score agents on the web benchmark, or time the harness / attention variants / training batches"),
    "search": (cmd_search, "Optuna hyper-parameter search over a YAML search space"),
    "compare": (cmd_compare, "run a comparison matrix (strategy x variant x seed, train and held-out splits)"),
    "report": (cmd_report, "generate the comparison report (HTML + Markdown) from results JSON"),
    "config": (cmd_config, "print the fully composed config of a run"),
    "list": (cmd_list, "list registered components, tasks, suites and strategies"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="actionzoo: build, train and compare web action models.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="actionzoo 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    for name, (fn, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == "list":
            p.add_argument("family", nargs="?", help="attention | tokenizer | head | task | suite | strategy | ...")
        else:
            p.add_argument("overrides", nargs="*", help="key=value overrides")
        p.set_defaults(fn=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return EXIT_USAGE

    try:
        return int(args.fn(args) or 0)
    except ZooError as err:
        print(f"zoo {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except NotAvailable as err:
        print(f"zoo {args.command}: error: not available yet ({err} is not built)", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"zoo {args.command}: interrupted; everything written so far is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

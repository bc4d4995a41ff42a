"""The per-task Markdown table of the committed baselines (zoo/web/README.md): the oracle's full-credit
rate, partial-credit rate and mean raw reward, the random agent's full-credit rate, and the published
human / CC-Net success where zoo/report/published_miniwob.yaml has it.

    python -m zoo.report.bench_task_table reports/bench/oracle-miniwob-all.json \
        reports/bench/random-miniwob-all.json [--suite miniwob-all] [--threshold 0.95] \
        [--recheck reports/bench/oracle-recheck/*.json]

``--recheck``: later oracle runs of some tasks (after their oracles changed); each task they score replaces
the full run's row (marked ``*``, with the file named under the table) and the overall figures are
recomputed from the rows.

Prints the table and a summary (tasks at or above the threshold, overall figures) to stdout.
Counts are written as measured (successes/episodes); rates are those counts, not rounded twice.
"""
from __future__ import annotations

import argparse
import os
from typing import Any

from zoo.report.published_tasks import PublishedTasks, fmt_published, load
from zoo.web.results import build_results, load_results
from zoo.web.suites import suite_tasks

PUBLISHED_KEYS = ("human", "ccnet")


def count_cell(entry: dict[str, Any] | None, key: str, rate: bool = True) -> str:
    """``k/n (p%)`` (or ``k/n``) for a count field of one task's results entry; ``-`` when the task was not scored."""
    if not entry or not entry.get("episodes"):
        return "-"
    k, n = int(entry[key]), int(entry["episodes"])
    return f"{k}/{n} ({100 * k / n:.1f}%)" if rate else f"{k}/{n}"


def raw_cell(entry: dict[str, Any] | None) -> str:
    if not entry or not entry.get("episodes"):
        return "-"
    return f"{entry['mean_raw_reward']['mean']:.3f}"


def at_least(results: dict[str, Any], threshold: float) -> list[str]:
    """Tasks whose full-credit rate is >= threshold (compared on counts, so 38/40 >= 0.95 exactly)."""
    return [t for t, e in results["tasks"].items()
            if e.get("episodes") and e["successes"] >= threshold * e["episodes"] - 1e-9]


def below(results: dict[str, Any], threshold: float) -> list[str]:
    return [t for t, e in results["tasks"].items() if e.get("episodes") and t not in at_least(results, threshold)]


def task_rows(tasks: list[str], oracle: dict[str, Any], random: dict[str, Any] | None,
              published: PublishedTasks) -> list[list[str]]:
    rows = []
    for t in tasks:
        o = oracle["tasks"].get(t)
        r = random["tasks"].get(t) if random else None
        pub = published.scores.get(t, {})
        rows.append([t, count_cell(o, "successes") if o else "no oracle", count_cell(o, "partial_credits", False),
                     raw_cell(o), count_cell(r, "successes", False)] + [fmt_published(pub.get(k)) for k in PUBLISHED_KEYS])
    return rows


def overall_rows(oracle: dict[str, Any], random: dict[str, Any] | None, threshold: float) -> list[list[str]]:
    def figures(res: dict[str, Any] | None) -> list[str]:
        if res is None:
            return ["-"] * 5
        o = res["overall"]
        scored = [t for t, e in res["tasks"].items() if e.get("episodes")]
        return [f"{len(at_least(res, threshold))}/{len(scored)}",
                f"{o['successes']}/{o['episodes']} ({100 * o['success_rate']['mean']:.1f}%)",
                f"{100 * o['macro_success_rate']:.1f}%",
                f"{o['partial_credits']}/{o['episodes']} ({100 * o['partial_credit_rate']['mean']:.1f}%)",
                f"{o['mean_raw_reward']['mean']:.3f}"]
    labels = [f"tasks with full credit >= {100 * threshold:.0f}%", "full credit, all episodes",
              "full credit, mean of per-task rates", "partial credit, all episodes", "mean raw reward"]
    return [[label, a, b] for label, a, b in zip(labels, figures(oracle), figures(random))]


def merge_rechecks(oracle: dict[str, Any], rechecks: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, str]]:
    """``oracle`` with the episodes of every task a recheck scored replaced by the recheck's (a later file wins),
    summarised again by ``build_results`` (per task and overall); also {task: recheck file}."""
    source = {t: name for name, res in rechecks for t, e in res["tasks"].items() if e.get("episodes")}
    if not source:
        return oracle, source
    episodes = [e for e in oracle["episodes"] if e["task"] not in source]
    episodes += [e for name, res in rechecks for e in res["episodes"] if source.get(e["task"]) == name]
    tasks = list(oracle["tasks"]) + [t for t in source if t not in oracle["tasks"]]
    merged = build_results(episodes, tasks, agent=oracle["agent"], suite=oracle["suite"], config=oracle["config"],
                           timing={}, env={})
    return merged, source


def markdown(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def render(oracle: dict[str, Any], random: dict[str, Any] | None, tasks: list[str], threshold: float = 0.95,
           published: PublishedTasks | None = None, rechecks: list[tuple[str, dict[str, Any]]] = ()) -> str:
    published = published or load()
    oracle, source = merge_rechecks(oracle, list(rechecks))
    labels = [published.system(k).label for k in PUBLISHED_KEYS]
    head = ["task", "oracle full credit", "oracle partial credit", "oracle mean raw", "random full credit"] + \
        [f"{label} [published]" for label in labels]
    summary = markdown(["", "oracle", "random"], overall_rows(oracle, random, threshold))
    low = below(oracle, threshold)
    low_text = ", ".join(f"{t} {count_cell(oracle['tasks'][t], 'successes')}" for t in low) or "none"
    rows = task_rows(tasks, oracle, random, published)
    for row in rows:
        if row[0] in source:
            row[0] += " *"
    files = list(dict.fromkeys(source.values()))
    folders = {os.path.dirname(f) for f in files}
    shown = {f: os.path.basename(f) if len(folders) == 1 else f for f in files}
    groups = [f"{', '.join(t for t in tasks if source.get(t) == f)} ({shown[f]})" for f in files]
    where = f" in `{folders.pop()}/`" if len(folders) == 1 else ""
    notes = f"\n\n\\* rows from a later run of the task{where}, after its oracle changed: {'; '.join(groups)}." if groups else ""
    return (markdown(head, rows) + notes + "\n\n" + summary
            + f"\n\nOracle tasks below {100 * threshold:.0f}% full credit ({len(low)}): {low_text}.\n")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("oracle")
    p.add_argument("random", nargs="?")
    p.add_argument("--suite", default=None, help="row order and task set (default: the oracle file's suite)")
    p.add_argument("--threshold", type=float, default=0.95)
    p.add_argument("--recheck", nargs="*", default=[], help="later oracle runs of some tasks (replace their rows)")
    a = p.parse_args(argv)
    oracle = load_results(a.oracle)
    random = load_results(a.random) if a.random else None
    suite = a.suite or oracle["suite"]
    tasks = suite_tasks(suite) if suite != "custom" else list(oracle["tasks"])
    rechecks = [(path, load_results(path)) for path in a.recheck]
    print(render(oracle, random, tasks, a.threshold, rechecks=rechecks), end="")


if __name__ == "__main__":
    main()

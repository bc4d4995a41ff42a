"""The report's first section: which architecture, for what.  One row per question (the tasks it trained
on, unseen tasks zero-shot, unseen tasks after k demonstrations, the cost), read off the comparison matrix's
headline pair of cells (``comparison.headline``: the pair trained on the most tasks) and written from its
numbers: a winner is named only where the paired seeds and the paired episodes agree (``is_clear``).  Under it,
the pairs scored after the headline pair on as many tasks (``comparison.newer_pairs``: a comparison run again after
a change, on fewer seeds so far), so that the headline cannot hide what changed since."""
from __future__ import annotations

from zoo.core.stats import fmt_count, fmt_seconds
from zoo.report.cells import CellStats, cells_of, split_score
from zoo.report.comparison import (ALPHA, Paired, cell_cost, fewshot_ks, headline, is_clear, newer_pairs,
                                   rate_cell, strategy_pairs, training_tasks)
from zoo.report.document import Note, Section, Table
from zoo.report.gather import Gathered


def _question(split: str, cell: CellStats) -> str:
    scored = split_score(cell.runs[0], split)
    tasks = f" ({len(scored.tasks)} tasks)" if scored is not None else ""
    if split == "train":
        return f"the tasks it trained on{tasks}"
    if split == "heldout":
        return f"unseen tasks, instruction only{tasks}"
    return f"unseen tasks, k={split[len('fewshot-k'):]} demonstrations per task, then a short fine-tune{tasks}"


def random_rate(g: Gathered, tasks: set[str]) -> str:
    """The random agent's success on ``tasks`` (mean of its per-task rates, as each split's rate weighs its
    tasks equally), from the baselines' results (``zoo bench agent=random``; per task the baseline that
    played it most), with how many of the tasks it was scored on."""
    per_task = {}
    for s in g.baselines:
        if s.label.split(" (")[0] != "random":
            continue
        for name, score in s.tasks.items():
            if name in tasks and score.episodes and (name not in per_task or score.episodes > per_task[name].episodes):
                per_task[name] = score
    if not per_task:
        return "-"
    rate = sum(t.rate for t in per_task.values()) / len(per_task)
    return f"{100 * rate:.1f}%" + ("" if len(per_task) == len(tasks) else f" ({len(per_task)} of {len(tasks)} tasks)")


def _oriented(p: Paired, flip: bool) -> tuple[float, float, float, int, int]:
    """(mean, lo, hi, episodes only the first solved, only the second) with the first column's cell first."""
    mean, lo, hi = p.interval
    return (-mean, -hi, -lo, p.b_only, p.a_only) if flip else (mean, lo, hi, p.a_only, p.b_only)


def _answer(p: Paired, flip: bool, name1: str, name2: str) -> str:
    mean = _oriented(p, flip)[0]
    if is_clear(p):
        return f"{name1 if mean > 0 else name2}, clearly"
    if abs(mean) < 1e-9:
        return "neither (the same score)"
    return f"no clear winner ({name1 if mean > 0 else name2} ahead)"


def _strategy_1_first(a: CellStats, b: CellStats) -> tuple[CellStats, CellStats, bool]:
    """(first, second, flip): Strategy 1's cell first (the labels sort that way); flip when that is ``b``."""
    first, second = sorted((a, b), key=lambda c: c.runs[0].label)
    return first, second, first is not a


def _newer_table(groups: list[list[Paired]], splits: list[str], cells: list[CellStats]) -> Table:
    by_label = {c.label: c for c in cells}
    rows = []
    for group in groups:
        first, second, flip = _strategy_1_first(by_label[group[0].a], by_label[group[0].b])
        name1, name2 = first.runs[0].label, second.runs[0].label
        by_split = {p.split: p for p in group}
        row = [f"{first.label} vs {second.label}", str(max(len(p.diffs) for p in group))]
        for split in splits:
            p = by_split.get(split)
            row.append("-" if p is None else
                       f"{100 * _oriented(p, flip)[0]:+.1f}, p = {p.p_episodes:.2g}: {_answer(p, flip, name1, name2)}")
        rows.append(row)
    return Table(["pair (Strategy 1 vs Strategy 2)", "seeds", *(_question(s, by_label[groups[0][0].a]).split(" (")[0]
                                                                for s in splits)], rows,
                 "Pairs scored after the headline pair on as many tasks, on fewer seeds: difference in points "
                 "(Strategy 1 - Strategy 2), McNemar p, answer; newest first")


def _cost(cell: CellStats) -> tuple[str, float | None]:
    params, steps, wall = cell_cost(cell)
    text = (f"{fmt_count(params) if params else '-'} parameters, {fmt_count(steps) if steps else '-'} env steps, "
            f"{fmt_seconds(wall) if wall is not None else '-'} training per run")
    return text, wall


def answer(g: Gathered) -> Section | None:
    """The section, or None without two cells of different strategies to pair."""
    cells = cells_of(g.runs)
    head, rest = headline(strategy_pairs(cells, fewshot_ks(cells)), cells)
    if not head:
        return None
    by_label = {c.label: c for c in cells}
    a, b = by_label[head[0].a], by_label[head[0].b]
    first, second, flip = _strategy_1_first(a, b)  # Strategy 1 in the first column
    name1, name2 = first.runs[0].label, second.runs[0].label
    rows = []
    for p in head:
        mean, lo, hi, only1, only2 = _oriented(p, flip)
        seeds = f"[{100 * lo:+.1f}, {100 * hi:+.1f}]" if len(p.diffs) > 1 else "one seed"
        verdict = _answer(p, flip, name1, name2)
        scored = split_score(first.runs[0], p.split)
        tasks = set(scored.tasks) if scored is not None else set()
        rows.append([_question(p.split, first), rate_cell(first.rates(p.split)), rate_cell(second.rates(p.split)),
                     random_rate(g, tasks), f"{100 * mean:+.1f} {seeds}", f"{p.p_episodes:.2g} ({only1} / {only2})",
                     verdict])
    cost1, wall1 = _cost(first)
    cost2, wall2 = _cost(second)
    cheaper = "-"
    if wall1 and wall2:
        fast, slow = (name1, wall2 / wall1) if wall1 < wall2 else (name2, wall1 / wall2)
        cheaper = f"{fast}: {slow:.1f}x less training time"
    rows.append(["the cost (mean per run)", cost1, cost2, "", "", "", cheaper])
    seeds = max(len(p.diffs) for p in head)
    table = Table(["question", f"{name1} ({first.label})", f"{name2} ({second.label})", "random agent",
                   f"difference, points ({name1} - {name2}), 95% CI over seeds",
                   f"McNemar p (episodes only {name1} / only {name2} solved)", "answer"], rows,
                  "Which architecture, for what: success (full credit), mean over training seeds with its 95% interval")
    note = Note(f"Read off the comparison matrix's headline pair ({first.label} vs {second.label}: the pair "
                f"trained on the most tasks, {training_tasks(first)}, over {seeds} seed{'s' if seeds != 1 else ''}, "
                f"at equal demonstrations and env steps). A winner is named only where the seeds' interval "
                f"excludes 0 and McNemar's p on the paired episodes is below {ALPHA}. The random agent: "
                "`zoo bench agent=random` on the same tasks (its own evaluation seeds). Every other pair, the "
                "ablations and the verdict paragraph: the comparison section.")
    blocks = [table, note]
    newer = newer_pairs(head, rest, cells)
    if newer:
        blocks.append(_newer_table(newer, [p.split for p in head], cells))
        blocks.append(Note("A pair scored after the headline pair on as many tasks is a comparison run again after a "
                           "change (the matrix's `description` in its matrix.json says which); it is not the "
                           "headline only because it has fewer seeds so far. The first row is the newest, so the "
                           "nearest to the code as it is now."))
    return Section("answer", "In one minute: which architecture, for what", blocks)

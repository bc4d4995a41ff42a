"""The comparison-matrix section of ``zoo report`` (runs made by ``zoo compare``): trained / held-out /
few-shot success per cell with confidence intervals, paired differences between cells of different
strategies, and a verdict paragraph written from those numbers (never by hand).

Pairing: cells of different strategies at the same budget (demonstrations per task, env steps), within one
matrix or across two one-strategy matrices (the halves of one comparison), are paired by training seed (the
seed-level difference, its Student-t interval and an exact sign-flip test), and episode by episode, since
every run is scored on the same evaluation seeds of each task (an exact McNemar test on the episodes one
cell solved and the other did not).
Ablations: cells of one strategy in one matrix at the same budget are paired the same way, each with the
matrix's unchanged cell (the one labelled with the strategy's name), in a table and paragraph of their own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from zoo.core.stats import fmt_count, fmt_rate, fmt_seconds, mcnemar_exact_p, mean_t_interval, sign_flip_p
from zoo.report.cells import (SPLIT_TITLE, SPLITS, CellStats, budget_key, cells_of, matrix_of, partner_of,  # noqa: F401
                              scored_at, seed_of, series_of, split_score, split_title, suites_of)
from zoo.report.demos_curve import demos_curve_blocks
from zoo.report.document import Note, Section, Table
from zoo.report.gather import Gathered, Scored

ALPHA = 0.05


def episode_outcomes(s: Scored) -> dict[tuple[str, Any], bool]:
    """(task, evaluation seed) -> success, from the results' episode records."""
    out = {}
    for ep in s.results.get("episodes") or []:
        if isinstance(ep, dict) and "seed" in ep:
            out[(str(ep.get("task")), ep.get("seed"))] = bool(ep.get("success"))
    return out


@dataclass
class Paired:
    a: str
    b: str
    split: str
    diffs: list[float]  # per seed: a's rate - b's rate
    a_only: int  # episodes only a solved (same task, same evaluation seed, same training seed)
    b_only: int

    @property
    def interval(self) -> tuple[float, float, float]:
        return mean_t_interval(self.diffs)

    @property
    def p_seeds(self) -> float:
        return sign_flip_p(self.diffs)

    @property
    def p_episodes(self) -> float:
        return mcnemar_exact_p(self.a_only, self.b_only)


def paired(a: CellStats, b: CellStats, split: str) -> Paired | None:
    by_seed_b = {seed_of(r): r for r in b.runs}
    diffs, a_only, b_only = [], 0, 0
    for ra in a.runs:
        rb = by_seed_b.get(seed_of(ra))
        sa, sb = (split_score(ra, split), split_score(rb, split)) if rb is not None else (None, None)
        if sa is None or sb is None or not sa.episodes or not sb.episodes:
            continue
        diffs.append(sa.rate - sb.rate)
        ea, eb = episode_outcomes(sa), episode_outcomes(sb)
        for key in ea.keys() & eb.keys():
            a_only += ea[key] and not eb[key]
            b_only += eb[key] and not ea[key]
    return Paired(a.label, b.label, split, diffs, a_only, b_only) if diffs else None


def rate_cell(rates: list[float]) -> str:
    if not rates:
        return "-"
    mean, lo, hi = mean_t_interval(rates)
    if len(rates) < 2:
        return f"{100 * mean:.1f}% (1 seed)"
    return f"{fmt_rate(mean, max(0.0, lo), min(1.0, hi))} ({len(rates)} seeds)"


def _pts(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:+.1f}"


def _seed_interval(p: Paired) -> str:
    """[lo, hi] of the paired seed differences, or why there is none (one seed has no spread)."""
    _, lo, hi = p.interval
    return f"[{_pts(lo)}, {_pts(hi)}]" if len(p.diffs) > 1 and math.isfinite(lo) and math.isfinite(hi) else "- (one seed)"


def _over_seeds(p: Paired) -> str:
    if len(p.diffs) < 2:
        return "one seed, so no interval over seeds"
    return f"paired over {len(p.diffs)} seeds, 95% CI of {p.a} - {p.b}: {_seed_interval(p)}"


def comparable(a: CellStats, b: CellStats, cells: list[CellStats]) -> bool:
    """Cells of one matrix, or of two matrices that each hold one strategy (the halves of one comparison, e.g.
    cpu-scale.yaml and cpu-scale-xl.yaml) unless either names another partner (``pairs_with``).  A matrix with
    both strategies is compared within itself, and with a one-strategy matrix that names it (one strategy's cell
    run again after a change, beside the other strategy's cell it is to be judged against)."""
    ma, mb = matrix_of(a.runs[0]), matrix_of(b.runs[0])
    if ma == mb:
        return True
    kinds = {m: {c.strategy for c in cells if matrix_of(c.runs[0]) == m} for m in (ma, mb)}
    pa, pb = partner_of(a.runs[0]), partner_of(b.runs[0])
    if (pa == mb and len(kinds[ma]) == 1) or (pb == ma and len(kinds[mb]) == 1):
        return True
    if len(kinds[ma]) != 1 or len(kinds[mb]) != 1:
        return False
    return not pa and not pb


def is_clear(p: Paired) -> bool:
    """Episodes and seeds agree: McNemar below ALPHA and the seed interval excludes 0 (one seed: episodes only)."""
    mean, lo, hi = p.interval
    return not math.isnan(mean) and p.p_episodes < ALPHA and (len(p.diffs) < 2 or lo > 0 or hi < 0)


def pair_sentences(pairs: list[Paired]) -> list[str]:
    """One sentence per pair: who is ahead where, by how much, and whether seeds and episodes agree."""
    lines = []
    for p in pairs:
        mean = p.interval[0]
        where = split_title(p.split)
        if math.isnan(mean):
            continue
        leader, trailer, gap = (p.a, p.b, mean) if mean >= 0 else (p.b, p.a, -mean)
        sure = is_clear(p)
        if gap < 1e-9:
            seeds = "one seed" if len(p.diffs) == 1 else f"{len(p.diffs)} paired seeds"
            lines.append(f"On the {where}, {p.a} and {p.b} scored the same ({seeds}).")
        elif sure:
            lines.append(f"On the {where}, {leader} beats {trailer} by {100 * gap:.1f} points "
                         f"({_over_seeds(p)}; "
                         f"episodes solved by only one: {p.a_only} vs {p.b_only}, McNemar p = {p.p_episodes:.2g}).")
        else:
            lines.append(f"On the {where}, {leader} is ahead of {trailer} by {100 * gap:.1f} points, but that is not "
                         f"a clear difference ({_over_seeds(p)}; McNemar p = {p.p_episodes:.2g} on "
                         f"{p.a_only + p.b_only} discordant episodes).")
    return lines


def training_tasks(c: CellStats) -> int:
    """How many tasks a cell's training split scores (its first run's benchmark results)."""
    scored = c.runs[0].scored
    return len(scored.tasks) if scored is not None else 0


def scored_last(*cells: CellStats) -> str:
    """When the cells' latest training-split score was made (the results' ISO ``created`` stamp; "" if none)."""
    return scored_at([r for c in cells for r in c.runs])


def recency(a: CellStats, b: CellStats) -> tuple[str, str]:
    """How new a pair of cells is: (the older cell's latest score, the newer cell's). A new run of one cell beside
    an old run of the other is new only as far as the old cell is."""
    older, newer = sorted((scored_last(a), scored_last(b)))
    return older, newer


def headline(pairs: list[Paired], cells: list[CellStats]) -> tuple[list[Paired], list[Paired]]:
    """(the headline pair's comparisons, the others).  The headline pair of cells is the one trained on the
    most tasks (then on the most seeds; between pairs equal in both, the newest by ``recency``: a re-run of the
    comparison after a change); with one pair of cells it is that pair and nothing is left over."""
    by_label = {c.label: c for c in cells}
    groups: dict[tuple[str, str], list[Paired]] = {}
    for p in pairs:
        groups.setdefault((p.a, p.b), []).append(p)
    if not groups:
        return [], []
    (a, b), head = max(groups.items(), key=lambda kv: (training_tasks(by_label[kv[0][0]]),
                                                       max(len(p.diffs) for p in kv[1]),
                                                       recency(by_label[kv[0][0]], by_label[kv[0][1]])))
    return head, [p for p in pairs if (p.a, p.b) != (a, b)]


def newer_pairs(head: list[Paired], rest: list[Paired], cells: list[CellStats]) -> list[list[Paired]]:
    """The pairs of cells trained on as many tasks as the headline pair and scored after it (a re-run after a
    change, so far on fewer seeds: else it would be the headline), newest first (``recency``).  Without them a
    reader of the headline alone would miss what changed since."""
    by_label = {c.label: c for c in cells}
    tasks = training_tasks(by_label[head[0].a])
    since = scored_last(by_label[head[0].a], by_label[head[0].b])
    groups: dict[tuple[str, str], list[Paired]] = {}
    for p in rest:
        if training_tasks(by_label[p.a]) == tasks and scored_last(by_label[p.a], by_label[p.b]) > since:
            groups.setdefault((p.a, p.b), []).append(p)
    return sorted(groups.values(), reverse=True, key=lambda ps: recency(by_label[ps[0].a], by_label[ps[0].b]))


def verdict(pairs: list[Paired], cells: list[CellStats]) -> str:
    """One paragraph from the numbers: who wins where, by how much, how sure.  With several compared pairs
    of cells it leads with the pair trained on the most tasks (every split of it, clear or not: that is the
    question at the largest scale measured; between pairs equal in tasks and seeds, the one scored last, a
    re-run of the comparison after a change), then the clear differences elsewhere; the cost is given for the
    cells it names."""
    if not pairs:
        return ("No two cells of different strategies share a budget (demonstrations, env steps) and a training "
                "seed, so no paired verdict can be drawn.")
    lines: list[str] = []
    head, rest = headline(pairs, cells)
    several = bool(rest)
    newer: list[Paired] = []
    if several:
        a = head[0].a
        lines.append(f"Headline, the pair trained on the most tasks ({a} vs {head[0].b}, "
                     f"{training_tasks(next(c for c in cells if c.label == a))} training tasks):")
        lines += pair_sentences(head)
        newer = [p for group in newer_pairs(head, rest, cells) for p in group]
        if newer:
            lines.append("Scored after it on as many tasks, so far on fewer seeds (newest first):")
            lines += pair_sentences(newer)
            shown = {(p.a, p.b) for p in newer}
            rest = [p for p in rest if (p.a, p.b) not in shown]
        lines.append("Elsewhere:")
    else:
        rest = pairs
    clear = [p for p in rest if is_clear(p)]
    none_clear = "paired difference is clear (episodes and seeds agreeing) on any split."
    lines += pair_sentences(clear) or [("no " if several else "No ") + none_clear]
    if len(rest) > len(clear) and clear:
        lines.append(f"The other {len(rest) - len(clear)} paired comparisons in the table show no clear difference.")
    named = {x for p in (pairs if not several else [*head, *newer, *clear]) for x in (p.a, p.b)}
    cost = []
    for c in cells:
        if c.label not in named:
            continue
        params, steps, wall = cell_cost(c)
        cost.append(f"{c.label}: {fmt_count(params) if params else '-'} parameters, "
                    f"{fmt_count(steps) if steps else '-'} training env steps, "
                    f"{fmt_seconds(wall) if wall is not None else '-'} training time per run")
    return " ".join(lines) + " Cost: " + "; ".join(cost) + "."


def cell_cost(c: CellStats) -> tuple[int | None, float | None, float | None]:
    """(parameters, env steps used, training seconds) of a cell, the last two as means over its runs."""
    params = next((r.params for r in c.runs if r.params), None)
    walls = [w for w in (r.last("wall_s") for r in c.runs) if w is not None]
    steps = [r.budget["env_steps_used"] for r in c.runs if r.budget and r.budget.get("env_steps_used")]
    return (params, sum(steps) / len(steps) if steps else None, sum(walls) / len(walls) if walls else None)


def ablation_pairs(cells: list[CellStats], splits: list[str]) -> list[Paired]:
    """Cells of one strategy in one matrix at the same budget: each ablation against its matrix's reference
    cell, the one named after the strategy's cell without a change (a label equal to the strategy, e.g.
    ``foundation``); a matrix without such a cell pairs all its same-strategy cells."""
    groups: dict[tuple, list[CellStats]] = {}
    for c in cells:
        groups.setdefault((matrix_of(c.runs[0]), c.strategy, budget_key(c.runs[0])), []).append(c)
    out = []
    for (_, strategy, _), members in sorted(groups.items(), key=lambda kv: str(kv[0])):
        refs = [c for c in members if c.label.rsplit("/", 1)[-1] == strategy]
        combos = ([(c, refs[0]) for c in members if c is not refs[0]] if refs else
                  [(a, b) for i, a in enumerate(members) for b in members[i + 1:]])
        for a, b in combos:
            out += [p for p in (paired(a, b, split) for split in splits) if p is not None]
    return out


def _pairs_table(pairs: list[Paired], title: str) -> Table:
    rows = []
    for p in pairs:
        mean = p.interval[0]
        rows.append([f"{p.a} - {p.b}", split_title(p.split), str(len(p.diffs)), _pts(mean), _seed_interval(p),
                     f"{p.p_seeds:.2g}", f"{p.a_only} / {p.b_only}", f"{p.p_episodes:.2g}"])
    return Table(["pair", "split", "seeds", "difference (points)", "95% CI (t, seeds)", "sign-flip p (seeds)",
                  "episodes only A / only B", "McNemar p (episodes)"], rows, title)


def fewshot_ks(cells: list[CellStats]) -> list[int]:
    return sorted({k for c in cells for r in c.runs for k in r.fewshot})


def strategy_pairs(cells: list[CellStats], ks: list[int]) -> list[Paired]:
    """Every split of every pair of cells of different strategies at equal budgets within one comparison."""
    pairs = []
    splits = [*SPLITS, *(f"fewshot-k{k}" for k in ks)]
    for i, a in enumerate(cells):
        for b in cells[i + 1:]:
            if a.strategy == b.strategy or budget_key(a.runs[0]) != budget_key(b.runs[0]) or not comparable(a, b, cells):
                continue
            pairs += [p for p in (paired(a, b, split) for split in splits) if p is not None]
    return pairs


def comparison(ctx: Any, g: Gathered) -> Section:
    sec = Section("comparison", "Comparison matrix (zoo compare)")
    cells = cells_of(g.runs)
    if not cells:
        sec.blocks.append(Note("No `zoo compare` runs here (runs with budget.json): run "
                               "`zoo compare config=configs/compare/<name>.yaml`, then `zoo report runs=runs/compare/<name>`.",
                               missing=True))
        return sec
    budgets = [r.budget for c in cells for r in c.runs if r.budget]
    first = budgets[0]
    ks = fewshot_ks(cells)
    one_suite = len({suites_of(r) for c in cells for r in c.runs}) == 1
    headers = (["cell", "strategy", f"trained ({first.get('train_suite')})", f"held-out ({first.get('heldout_suite')})"]
               if one_suite else ["cell", "strategy", "suites (training / held-out)", "trained", "held-out"])
    headers += [f"few-shot k={k}" for k in ks] + ["parameters", "demos / task", "env steps used", "training time"]
    rows = []
    for c in cells:
        r0 = c.runs[0]
        steps = [r.budget.get("env_steps_used") for r in c.runs if r.budget.get("env_steps_used")]
        walls = [r.last("wall_s") for r in c.runs if r.last("wall_s") is not None]
        suites = [] if one_suite else [" / ".join(suites_of(r0))]
        rows.append([c.label, r0.label, *suites, rate_cell(c.rates("train")), rate_cell(c.rates("heldout")),
                     *[rate_cell(c.fewshot_rates(k)) for k in ks], fmt_count(r0.params),
                     str(r0.budget.get("demos_per_task", "-")),
                     fmt_count(sum(steps) / len(steps)) if steps else "-",
                     fmt_seconds(sum(walls) / len(walls)) if walls else "-"])
    sec.blocks.append(Table(headers, rows, "Success (full credit) per cell: mean over training seeds with its 95% "
                                           "Student-t interval; every run scored on the same evaluation episodes"))
    pairs = strategy_pairs(cells, ks)
    if pairs:
        sec.blocks.append(_pairs_table(pairs, "Paired differences between cells of different strategies"))
    sec.blocks.append(Note("Verdict (generated from the tables above): " + verdict(pairs, cells)))
    ablations = ablation_pairs(cells, [*SPLITS, *(f"fewshot-k{k}" for k in ks)])
    if ablations:
        sec.blocks.append(_pairs_table(ablations, "Ablations: cells of one strategy in one matrix at the same budget, "
                                                  "each against the matrix's unchanged cell"))
        sec.blocks.append(Note("Ablations (generated from the table above): " + " ".join(pair_sentences(ablations))))
    sec.blocks += demos_curve_blocks(ctx, cells, ks)
    return sec

"""The report's sections, each built from gathered inputs (tables, figures, notes).

A section whose input is missing still appears, holding one note that says which file was
not found and which command writes it, so a reader knows the gap is not a zero.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

from zoo.report import plots, published_tasks
from zoo.report.cells import demos_of
from zoo.report.document import Image, Note, Section, Table
from zoo.report.curves import strategy_label
from zoo.report.gather import Gathered, Run, Scored
from zoo.report.published import PUBLISHED
from zoo.core.stats import fmt_count, fmt_rate, fmt_seconds, wilson
from zoo.web.suites import suite_names, suite_tasks

MAX_CURVES = 10


class Ctx:
    """Where figures go and how confident the intervals are."""

    def __init__(self, out_dir: Path, confidence: float):
        self.out_dir = out_dir
        self.confidence = confidence

    def image(self, made: Path | None, caption: str) -> list[Image]:
        return [Image(made.name, caption)] if made else []

    def ci(self, s: Scored) -> tuple[float, float]:
        return wilson(s.successes, s.episodes, self.confidence)

    def rate_cell(self, s: Scored | None) -> str:
        if s is None or not s.episodes:
            return "-" if s is None else fmt_rate(s.rate)
        return fmt_rate(s.rate, *self.ci(s)) + f" (n={s.episodes})"


def best_by(runs: list[Run], key: Any) -> dict[Any, Run]:
    """The best-scoring run of each group (unscored runs only when a group has nothing else)."""
    out: dict[Any, Run] = {}
    for r in runs:
        k = key(r)
        score = r.scored.rate if r.scored and not math.isnan(r.scored.rate) else -1.0
        cur = out.get(k)
        cur_score = cur.scored.rate if cur and cur.scored and not math.isnan(cur.scored.rate) else -1.0
        if cur is None or score > cur_score:
            out[k] = r
    return out


@functools.lru_cache(maxsize=1)
def _suites_by_task_set() -> dict[frozenset[str], str]:
    """Each suite's task set -> its name, read once (every section labels every run)."""
    out: dict[frozenset[str], str] = {}
    for name in suite_names():
        out.setdefault(frozenset(suite_tasks(name)), name)  # first by name, as the loop it replaces
    return out


def scored_on(r: Run) -> str:
    """The task set a run was scored on: the suite with exactly those tasks, else a count."""
    tasks = frozenset(r.scored.tasks) if r.scored else frozenset()
    if not tasks:
        return "-"
    return _suites_by_task_set().get(tasks, f"{len(tasks)} tasks")


def restricted(s: Scored, tasks: set[str]) -> Scored:
    """The same results counted over ``tasks`` only (like-for-like comparisons across task sets)."""
    return Scored(s.label, {}, {t: v for t, v in s.tasks.items() if t in tasks})


def comparable_pair(runs: list[Run]) -> tuple[dict[str, Run], set[str]]:
    """The best run of two strategies, chosen so the two share as many scored tasks as possible (then by
    success on the shared tasks), and the shared task set; with one strategy, its best run.  Keys are
    the registered strategy names."""
    by_strategy: dict[str, list[Run]] = {}
    for r in runs:
        if r.scored:
            by_strategy.setdefault(r.strategy, []).append(r)
    if len(by_strategy) < 2:
        return best_by(runs, lambda r: r.strategy), set()
    pairs = []
    names = sorted(by_strategy, key=strategy_label)
    for i, sa in enumerate(names):
        for sb in names[i + 1:]:
            for a in by_strategy[sa]:
                for b in by_strategy[sb]:
                    scores = [x.scored for x in (a, b) if x.scored]
                    shared = set(scores[0].tasks) & set(scores[1].tasks)
                    rates = [restricted(s, shared).rate if shared else s.rate for s in scores]
                    pairs.append((len(shared), sum(0.0 if math.isnan(v) else v for v in rates), a, b, shared))
    _, _, a, b, shared = max(pairs, key=lambda p: (p[0], p[1]))
    return {a.strategy: a, b.strategy: b}, shared


def _bar_entry(ctx: Ctx, label: str, s: Scored, color: str, hatch: str | None = None) -> dict:
    lo, hi = ctx.ci(s) if s.episodes else (None, None)
    return {"label": label, "rate": s.rate, "lo": lo, "hi": hi, "color": color, "hatch": hatch}


def _runs_missing() -> Note:
    return Note("No trained runs found: train with `zoo fit strategy=NAME` (`zoo list strategy`; "
                "runs/<strategy>/<name>/results.json).", missing=True)


# ---------------------------------------------------------------- sections
def overview(ctx: Ctx, g: Gathered, inputs: dict[str, str]) -> Section:
    scored = [r for r in g.runs if r.scored]
    rows = [
        ["trained runs", f"{len(g.runs)} ({len(scored)} scored on the benchmark)", inputs["runs"]],
        ["baseline agents", ", ".join(b.label for b in g.baselines) or "none", inputs["bench"]],
        ["Optuna studies", ", ".join(str(s.get("study")) for s in g.studies) or "none", inputs["search"]],
        ["attention benchmark", "found" if g.attention is not None else "missing", f"{inputs['bench']}/attention.json"],
        ["harness throughput", "found" if g.throughput is not None else "missing",
         f"{inputs['bench']}/env_throughput.json"],
    ]
    blocks: list[Any] = [Table(["input", "found", "where"], rows, "What this report was built from")]
    blocks.append(Note(f"Success rates are benchmark successes over evaluation episodes (full credit: page raw "
                       f"reward 1, as MiniWoB++ counts it; partial credit is not success), "
                       f"with {int(ctx.confidence * 100)}% Wilson score intervals in brackets; n = episodes."))
    blocks += [Note(f"Skipped: {p}", missing=True) for p in g.problems]
    return Section("overview", "Overview", blocks)


def strategies(ctx: Ctx, g: Gathered) -> Section:
    sec = Section("strategies", "Strategies compared")
    best, shared = comparable_pair([r for r in g.runs if r.scored])
    if not best:
        sec.blocks.append(_runs_missing())
        return sec
    rows, bars = [], []
    for n in sorted(best, key=strategy_label):
        r = best[n]
        assert r.scored is not None
        on_shared = restricted(r.scored, shared) if shared else None
        rows.append([r.label, r.name, r.attention, scored_on(r), ctx.rate_cell(r.scored),
                     ctx.rate_cell(on_shared) if on_shared else "-", fmt_count(r.params),
                     "-" if demos_of(r) is None else str(demos_of(r)), fmt_count(r.last("env_steps")),
                     fmt_seconds(r.last("wall_s"))])
        bars.append(_bar_entry(ctx, f"{r.label} ({r.attention})", on_shared or r.scored,
                               plots.COLORS.get(n, plots.PALETTE[5])))
    for b in g.baselines:
        b_shared = restricted(b, shared) if shared else b
        if b_shared.episodes:
            bars.append(_bar_entry(ctx, f"baseline: {b.label}", b_shared, plots.PALETTE[5], hatch="//"))
    shared_head = f"success on the {len(shared)} shared tasks" if shared else "success on shared tasks"
    sec.blocks.append(Table(["strategy", "run", "attention", "scored on", "success", shared_head, "parameters",
                             "demos / task", "env steps", "training time"], rows,
                            "One run of each strategy: the pair scored on the most tasks in common, then the best "
                            "(budgets may differ: the comparison section pairs only equal ones)"))
    what = (f"the {len(shared)} tasks both runs were scored on ({', '.join(sorted(shared))})" if shared
            else "each run's own tasks")
    sec.blocks += ctx.image(plots.success_bars(bars, ctx.out_dir / "strategies.png", "Benchmark success"),
                            f"Benchmark success on {what}, beside the baseline agents on the same tasks "
                            "(whiskers: confidence interval).")
    s1 = best.get("foundation")
    if s1 is not None and s1.variants:
        sec.blocks += strategy1_variants(ctx, s1, shared)
    if len(best) < 2:
        sec.blocks.append(Note(f"Only {strategy_label(next(iter(best)))} has a scored run; train another to compare.",
                               missing=True))
    elif not shared:
        sec.blocks.append(Note("The two strategies' runs share no scored task: their overall rates are not "
                               "comparable; score both on one suite (`zoo bench checkpoint=... suite=...`).",
                               missing=True))
    return sec


def strategy1_variants(ctx: Ctx, r: Run, shared: set[str]) -> list[Any]:
    """Strategy 1's variants at one checkpoint side by side: the policy alone next to the search
    (the search gain); a simulator-assisted variant is marked and left out of the comparison."""
    rows = []
    for v in r.variants:
        on_shared = restricted(v.scored, shared) if shared else None
        rows.append([v.label + (" [simulator-assisted]" if v.simulator_assisted else ""), v.description or "-",
                     ctx.rate_cell(v.scored), ctx.rate_cell(on_shared) if on_shared else "-",
                     "no (sees the test page's verdict before acting)" if v.simulator_assisted else "yes"])
    blocks: list[Any] = [Table(["variant", "what decides", "success", "success on shared tasks", "comparable"], rows,
                               f"Strategy 1 ({r.name}) at one checkpoint: the policy alone beside the search")]
    by_label = {v.label: v for v in r.variants if not v.simulator_assisted}
    if "policy" in by_label and len(by_label) > 1:
        base = by_label["policy"].scored.rate
        gains = [f"{label}: {100 * (v.scored.rate - base):+.1f} points" for label, v in by_label.items()
                 if label != "policy" and not (math.isnan(v.scored.rate) or math.isnan(base))]
        if gains:
            blocks.append(Note("Search gain over the policy alone (same checkpoint, same evaluation seeds): "
                               + "; ".join(gains) + "."))
    if any(v.simulator_assisted for v in r.variants):
        blocks.append(Note("Simulator-assisted variants replayed the test episode (its seed) in a second browser and "
                           "read the page's reward before acting; the comparison above uses the run's variant "
                           "that did not.", missing=True))
    return blocks


def per_task(ctx: Ctx, g: Gathered) -> Section:
    sec = Section("tasks", "Per-task success")
    best = best_by([r for r in g.runs if r.scored], lambda r: (r.strategy, r.attention, scored_on(r)))
    entries: list[tuple[str, Scored]] = [(f"{r.variant} ({on})", r.scored)  # type: ignore[misc]
                                         for (_, _, on), r in sorted(best.items())]
    entries += [(f"baseline: {b.label}", b) for b in g.baselines]
    if not entries:
        sec.blocks.append(_runs_missing())
        return sec
    tasks = sorted({t for _, s in entries for t in s.tasks})
    pub_heads, pub_cells, pub_rows = published_tasks.table_parts(
        tasks, [{t: v.rate for t, v in s.tasks.items() if v.episodes} for _, s in entries])
    rows = []
    for t in tasks:
        row = [t]
        for _, s in entries:
            ts = s.tasks.get(t)
            row.append("-" if ts is None else fmt_rate(ts.rate, *wilson(ts.successes, ts.episodes, ctx.confidence))
                       + f" (n={ts.episodes})")
        rows.append(row + pub_cells[t])
    rows.append(["all tasks"] + [ctx.rate_cell(s) for _, s in entries] + ["-"] * len(pub_heads))
    rows += pub_rows
    sec.blocks.append(Table(["task"] + [label for label, _ in entries] + pub_heads, rows,
                            "Success per task: best run of each strategy, attention variant and task set (in brackets), "
                            "and baselines, beside published per-task success ([published]; '-': not evaluated or "
                            "not transcribed)"))
    data = published_tasks.load()
    sec.blocks.append(Note(f"Published per-task figures: {data.source} A mean over a published set is computed only "
                           "over exactly that set (our suite of the same name); an entry not scored on every task "
                           "of it shows how many it was scored on instead."))
    return sec


def attention_variants(ctx: Ctx, g: Gathered) -> Section:
    sec = Section("variants", "Attention variants")
    groups: dict[tuple[int, str, str], list[Run]] = {}
    for r in g.runs:
        if r.scored:
            groups.setdefault((r.strategy, r.attention, scored_on(r)), []).append(r)
    if not groups:
        sec.blocks.append(_runs_missing())
        return sec
    rows, bars = [], []
    for (n, att, on), runs in sorted(groups.items()):
        rates = [r.scored.rate for r in runs if r.scored]
        top = max(runs, key=lambda r: r.scored.rate if r.scored else -1)
        rows.append([strategy_label(n), att, on, str(len(runs)), fmt_rate(sum(rates) / len(rates)),
                     ctx.rate_cell(top.scored), fmt_count(top.params), fmt_seconds(top.last("wall_s"))])
        assert top.scored is not None
        bars.append(_bar_entry(ctx, f"{strategy_label(n)} · {att} ({on})", top.scored, plots.COLORS.get(n, plots.PALETTE[5])))
    sec.blocks.append(Table(["strategy", "attention", "scored on", "runs", "mean success", "best run success",
                             "parameters (best)", "training time (best)"], rows,
                            "Runs grouped by strategy, attention variant and the task set they were scored on"))
    sec.blocks += ctx.image(plots.success_bars(bars, ctx.out_dir / "variants.png", "Best run per attention variant"),
                            "Best run of each strategy / attention variant / task set (whiskers: confidence interval); "
                            "compare bars of the same task set only.")
    return sec


def published(ctx: Ctx, g: Gathered) -> Section:
    sec = Section("published", "Published reference figures")
    rows = [[f"{p.system} [published]", p.benchmark, p.result, p.training_data, p.source] for p in PUBLISHED]
    best, _ = comparable_pair([r for r in g.runs if r.scored])
    for n, r in sorted(best.items()):
        assert r.scored is not None
        rows.append([f"ours: Strategy {n} ({r.attention})", f"our benchmark: {scored_on(r)} ({len(r.scored.tasks)} tasks)",
                     ctx.rate_cell(r.scored), f"{fmt_count(r.last('env_steps'))} env steps", r.name])
    sec.blocks.append(Table(["system", "benchmark", "result", "training data", "source"], rows,
                            "Published results (labelled [published], numbers as reported by their source) "
                            "beside ours"))
    sec.blocks.append(Note("Published figures come from other systems, task sets and training budgets "
                           "(millions of demonstrations); they give context, not a like-for-like comparison."))
    return sec


def curves(ctx: Ctx, g: Gathered) -> Section:
    sec = Section("curves", "Learning curves")
    runs = [r for r in g.runs if r.curve]
    if not runs:
        sec.blocks.append(Note("No learning curves: no run logged a success rate in csv/<stage>/metrics.csv.",
                               missing=True))
        return sec
    runs = sorted(runs, key=lambda r: r.scored.rate if r.scored else -1, reverse=True)[:MAX_CURVES]
    sources = ("Success is the run's own training signal, drawn as an exponential moving average (weight 0.3) of "
               "its logged values: Strategy 2 logs "
               "train/success_rate over its PPO rollout episodes; Strategy 1 logs rl/search_success, the success "
               "of each round of MCTS collection episodes in its RL stage, after its pretraining and SFT steps.")
    sec.blocks += ctx.image(plots.learning_curves(runs, "env_steps", "environment steps",
                                                  ctx.out_dir / "curve_env_steps.png"),
                            "Training success rate against cumulative environment steps (Strategy 2: train/env_steps, "
                            "or updates x ppo.rollout_steps x env.num_envs for runs from before it; Strategy 1: "
                            "rl/env_steps, the browser steps of its tree search, not counting the steps that recorded "
                            "its demonstration dataset). " + sources)
    sec.blocks += ctx.image(plots.learning_curves(runs, "wall_s", "training wall time (s)",
                                                  ctx.out_dir / "curve_wall_time.png"),
                            "Training success rate against training wall time. " + sources)
    if not sec.blocks:
        sec.blocks.append(Note("Some runs logged neither env steps nor wall time; their curves are left out.",
                               missing=True))
    no_env = [r.name for r in runs if r.last("env_steps") is None]
    if no_env:
        sec.blocks.append(Note("Not on the env-steps plot (their training does not count browser steps; "
                               "env steps show as '-'): " + ", ".join(no_env) + "."))
    return sec


def runs_table(ctx: Ctx, g: Gathered) -> Section:
    sec = Section("runs", "All runs and parameter counts")
    if not g.runs:
        sec.blocks.append(_runs_missing())
        return sec
    rows = [[r.name, r.label, r.attention, scored_on(r), ctx.rate_cell(r.scored), fmt_count(r.params),
             fmt_count(r.last("env_steps")), fmt_seconds(r.last("wall_s")), str(len(r.curve))] for r in g.runs]
    sec.blocks.append(Table(["run", "strategy", "attention", "scored on", "success", "parameters", "env steps",
                             "training time", "curve points"], rows, "Every run found"))
    sec.blocks += ctx.image(plots.parameter_counts(g.runs, ctx.out_dir / "parameters.png"),
                            "Parameter count of each run's trained model (log scale).")
    return sec


def search(ctx: Ctx, g: Gathered) -> Section:
    sec = Section("search", "Hyper-parameter searches (Optuna)")
    if not g.studies:
        sec.blocks.append(Note("No Optuna studies: run `zoo search strategy=NAME trials=N` "
                               "(writes reports/search/<study>/study.json).", missing=True))
        return sec
    for st in g.studies:
        trials = st.get("trials") or []
        states = {s: sum(t["state"] == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")}
        best = st.get("best") or {}
        labels = st.get("directions_labels") or ["success"]
        best_vals = ", ".join(f"{k}={v:.4g}" for k, v in zip(labels, best.get("values") or []))
        rows = [["study", str(st.get("study"))], ["strategy", str(st.get("strategy"))],
                ["objective", f"{st.get('objective')} ({', '.join(st.get('directions', []))})"],
                ["trials", ", ".join(f"{v} {k.lower()}" for k, v in states.items() if v) or "0"],
                ["pruned on", str(st.get("metric"))],
                ["best trial", f"#{best.get('number')}: {best_vals}" if best else "-"]]
        rows += [[f"best {k}", f"{v:.4g}" if isinstance(v, float) else str(v)]
                 for k, v in (best.get("params") or {}).items()]
        sec.blocks.append(Table(["", "value"], rows, f"Study {st.get('study')}"))
        slug = "".join(c if c.isalnum() else "_" for c in str(st.get("study")))
        sec.blocks += ctx.image(plots.study_history(st, ctx.out_dir / f"study_{slug}_history.png"),
                                f"Study {st.get('study')}: benchmark success of each trial and the best so far.")
        imp = ctx.image(plots.study_importance(st, ctx.out_dir / f"study_{slug}_importance.png"),
                        f"Study {st.get('study')}: importance of each searched parameter for success.")
        sec.blocks += imp or [Note(f"Study {st.get('study')}: no parameter importance yet "
                                   "(needs two or more completed trials with different parameters).", missing=True)]
    return sec

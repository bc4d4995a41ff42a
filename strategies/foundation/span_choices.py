"""Which typing candidate a trained Strategy 1 model picks for each field, teacher-forced on recorded episodes.

A run's SFT logs one span accuracy (a mean of batch means); this lists every type / select step of the given
episodes with the field's own text and the texts around it (its row header), the demonstrated text and the one the
model's span pointer ranks first, the step's earlier actions as demonstrated.  It is how multi-orderings' failure was
found to be the value, not the field (``reports/probes/strategy1-span-lexical``).

    python -m strategies.foundation.span_choices RUN_DIR [val|train]

reads RUN_DIR's SFT checkpoint and the recorded dataset its config names (run it from the directory the run
was started in), split as the run split it.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from strategies.foundation.batch import collate
from strategies.foundation.data import EpisodeDataModule
from strategies.foundation.loading import load_module
from strategies.foundation.sequence import Episode, SequenceBuilder
from zoo.core.errors import ZooError
from zoo.web.context import context_texts
from zoo.web.suites import resolve_tasks

SPLITS = ("val", "train")


def span_choices(model: Any, builder: SequenceBuilder, episodes: list[Episode]) -> list[dict[str, Any]]:
    """One row per demonstrated type / select step whose text is a candidate: task, step, the field's words
    (own text | texts around it), the demonstrated candidate and the model's first choice."""
    rows = []
    model.eval()
    for ep in episodes:
        ex = builder.build(ep)
        batch = collate([ex])
        with torch.no_grad():
            h, _ = model(batch)
            heads = model.act_heads(h, batch)
            for r, act in enumerate(ex.acts):
                if act["span"] < 0 or act["slot"] < 0:
                    continue
                index = torch.tensor([r])
                logits = model.span_logits(h, batch, index, heads["q"][index], torch.tensor([act["slot"]]))[0]
                step, eid = ep.steps[r], ex.slots[r][act["slot"]]
                el = next(e for e in step.elements if e.id == eid)
                rows.append({"task": ep.task, "step": r, "field": (el.text or "").strip(),
                             "around": context_texts(step.elements).get(eid, ""),
                             "target": ex.spans[r][act["span"]], "chosen": ex.spans[r][int(logits.argmax())]})
    return rows


def main(argv: list[str]) -> int:
    if not argv or (len(argv) > 1 and argv[1] not in SPLITS):
        raise ZooError(f"usage: python -m strategies.foundation.span_choices RUN_DIR [{'|'.join(SPLITS)}]")
    run, which = Path(argv[0]), (argv[1] if len(argv) > 1 else "val")
    module, _, _ = load_module(run / "checkpoints" / "sft" / "final.ckpt")
    cfg = module.cfg
    dm = EpisodeDataModule(cfg, run, "sft", resolve_tasks(cfg.env.suite, list(cfg.env.tasks)))
    dm.setup()  # the run's recorded dataset and tokenizer, split as the run split them
    rows = span_choices(module.model, dm.builder, dm.val_episodes if which == "val" else dm.train_episodes)
    right, seen = Counter(), Counter()
    for row in rows:
        key = (row["task"], row["around"] or row["field"])
        seen[key] += 1
        right[key] += row["chosen"] == row["target"]
        if row["chosen"] != row["target"]:
            print(f"{row['task']} step {row['step']} {key[1]!r}: demonstrated {row['target']!r}, chosen {row['chosen']!r}")
    for key in sorted(seen):
        print(f"{key[0]} {key[1]!r}: {right[key]} of {seen[key]}")
    print(f"{which}: {sum(right.values())} of {len(rows)} chosen as demonstrated")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ZooError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)

"""Child process of ``zoo bench attention``: times one attention variant over growing lengths.

Run as ``python -m components.bench_worker`` with a JSON job on the first stdin line; prints
``READY`` once imports are done, then answers each further stdin line (a sequence length) with
one JSON line. The parent decides which lengths to run and kills the child past the timeout. A separate process per variant keeps a
timeout or an out-of-memory kill from taking the benchmark down, and keeps memory readings clean.

Per point: one cold forward+backward (whose peak memory is recorded: on CUDA the allocator's
peak, on CPU the rise of the process's peak resident set, reset through /proc/self/clear_refs),
then up to ``MAX_WARM_RUNS`` warm repeats while they fit in ``repeat_budget_s`` (the job's, at most
half the per-point cap so the repeats never cause a timeout). The time reported is the median of
the warm runs (the cold one when it was too slow to repeat), with their min and max: one median
of a few runs is far less sensitive to a burst of other load than a single run. Besides wall time
the row holds the process CPU time of the step (less disturbed by other jobs on a shared machine)
and the 1-minute load average when the point started, so a noisy row can be recognised.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
from typing import Any

from components.attention import create_attention

MAX_WARM_RUNS = 3
REPEAT_BUDGET_S = 6.0  # default wall budget for the warm repeats of one point


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
        return True
    except OSError:
        return False


def run_segments(attn, x, segment_len: int | None):
    """The variant as the trunk runs it: recurrent variants go segment by segment carrying the state."""
    import torch

    if not segment_len or x.shape[1] <= segment_len:
        return attn(x, attn.init_state(x.shape[0], x.device))[0]
    state, outs = attn.init_state(x.shape[0], x.device), []
    for piece in x.split(segment_len, dim=1):
        y, state = attn(piece, state)
        outs.append(y)
    return torch.cat(outs, dim=1)


def measure(job: dict[str, Any], seq_len: int) -> dict[str, Any]:
    import torch

    device = torch.device(job["device"])
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    attn = create_attention(job["variant"], job["dim"], job["n_heads"], **job["attention"]).to(device)
    seg = attn.segment_len if attn.segmented else None
    x = torch.randn(1, seq_len, job["dim"], device=device, requires_grad=True)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    def step() -> tuple[float, float, float]:
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        y = run_segments(attn, x, seg)
        sync()
        t1 = time.perf_counter()
        y.float().square().mean().backward()
        sync()
        x.grad = None
        attn.zero_grad(set_to_none=True)
        return (t1 - t0) * 1e3, (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3

    load1 = os.getloadavg()[0]  # other work on the machine when the point starts
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    else:
        tracked = _reset_peak_rss()
        base = _rss_kb("VmRSS")
    first = step()
    if cuda:
        peak_mb = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    else:
        peak_mb = (_rss_kb("VmHWM") - base) / 1024 if tracked else float("nan")
    budget = float(job.get("repeat_budget_s", REPEAT_BUDGET_S))
    warm: list[tuple[float, float, float]] = []
    spent = 0.0
    # a warm run costs about as much as the cold one: repeat only while the next one fits the budget
    while len(warm) < MAX_WARM_RUNS and spent + (warm[-1] if warm else first)[1] / 1e3 <= budget:
        warm.append(step())
        spent += warm[-1][1] / 1e3
    runs = warm or [first]
    walls = [r[1] for r in runs]
    return {
        "variant": job["variant"],
        "seq_len": seq_len,
        "status": "ok",
        "fwd_ms": round(statistics.median(r[0] for r in runs), 2),
        "fwd_bwd_ms": round(statistics.median(walls), 2),
        "fwd_bwd_min_ms": round(min(walls), 2),
        "fwd_bwd_max_ms": round(max(walls), 2),
        "cpu_ms": round(statistics.median(r[2] for r in runs), 2),  # process CPU time: robust to other load
        "peak_mb": round(max(peak_mb, 0.0), 1),
        "runs": len(runs),
        "cold": not warm,
        "load1": round(load1, 2),
    }


def main() -> None:
    job = json.loads(sys.stdin.readline())
    import torch

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    print("READY", flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        seq_len = int(line)
        try:
            row = measure(job, int(seq_len))
        except torch.OutOfMemoryError as err:
            row = {"variant": job["variant"], "seq_len": seq_len, "status": "oom", "note": str(err).splitlines()[0][:120]}
        except RuntimeError as err:
            status = "oom" if "out of memory" in str(err).lower() else "error"
            row = {"variant": job["variant"], "seq_len": seq_len, "status": status, "note": str(err).splitlines()[0][:160]}
        print(json.dumps(row), flush=True)
        if row["status"] != "ok":
            return


if __name__ == "__main__":
    main()

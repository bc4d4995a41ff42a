"""The attention benchmark: outputs, timeouts and skipping of lengths that cannot finish."""
from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from components import bench
from components.bench import main, predicted_seconds, skip_reason
from zoo.core.errors import ZooError
from zoo.schema.tools import BenchConfig


def cfg(**kw):
    return OmegaConf.merge(OmegaConf.structured(BenchConfig), kw)


def test_prediction_extrapolates_the_measured_growth():
    rows = [{"status": "ok", "seq_len": 1000, "fwd_bwd_ms": 1000.0}, {"status": "ok", "seq_len": 2000, "fwd_bwd_ms": 4000.0}]
    assert predicted_seconds(rows, 4000) == pytest.approx(16.0)  # quadratic growth continues
    assert predicted_seconds(rows[:1], 4000) is None
    assert predicted_seconds(rows[:1], 4000, exponent=1.0) == pytest.approx(4.0)  # a declared cost class


def test_skip_reason_uses_the_cost_class_and_both_caps():
    rows = [{"status": "ok", "seq_len": 16384, "fwd_bwd_ms": 10_000.0, "peak_mb": 800.0}]
    # dense does T^2 work: 4x the time per doubling; 40 s > a 30 s cap
    dense = skip_reason("dense", rows, 32768, timeout=30.0, mem_cap=8192.0)
    assert dense["est_s"] == pytest.approx(40.0) and "time cap 30 s" in dense["note"]
    # windowed/recurrent variants grow linearly: 20 s fits, 64K's 3200 MB does not fit a 2 GB cap
    assert skip_reason("sliding", rows, 32768, timeout=30.0, mem_cap=8192.0) is None
    mem = skip_reason("sliding", rows, 65536, timeout=60.0, mem_cap=2048.0)
    assert mem["est_mb"] == pytest.approx(3200.0) and "memory cap 2048 MB" in mem["note"]
    assert skip_reason("dense", [], 1024, timeout=1.0, mem_cap=1.0) is None  # nothing measured: run it


@pytest.mark.timeout(120)
def test_bench_writes_outputs_and_records_timeouts_and_skips(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "COST", {})  # no cost class and one point: no estimate, so 400K really runs
    res = main(cfg(variants=["dense"], seq_lens=[32, 400_000, 800_000], dim=32, n_heads=4, timeout_s=2,
                   out=str(tmp_path)))
    by_len = {r["seq_len"]: r for r in res["rows"]}
    assert by_len[32]["status"] == "ok" and by_len[32]["fwd_bwd_ms"] > 0 and by_len[32]["peak_mb"] >= 0
    assert by_len[32]["fwd_bwd_min_ms"] <= by_len[32]["fwd_bwd_ms"] <= by_len[32]["fwd_bwd_max_ms"]
    assert by_len[32]["runs"] >= 1 and "load1" in by_len[32]
    assert by_len[400_000]["status"] in ("timeout", "oom")  # too long for a few seconds on CPU
    assert by_len[800_000]["status"] == "skipped" and "at T=400000" in by_len[800_000]["note"]
    for ext in ("json", "md", "png"):
        assert (tmp_path / f"attention.{ext}").stat().st_size > 0
    saved = json.loads((tmp_path / "attention.json").read_text())
    assert saved["schema"] == "actionzoo.bench.attention/1" and len(saved["rows"]) == 3
    assert len(saved["load_avg_start"]) == 3 and saved["mem_cap_mb"] > 0
    assert saved["command"].endswith("seq_lens=[32,400000,800000] variants=[dense]")  # reruns what ran
    md = (tmp_path / "attention.md").read_text()
    assert "| 32 |" in md and "Machine load" in md


class FakeWorker:
    """Stands in for the child process: T^2 milliseconds / T/1000 MB, a timeout past 10K tokens."""

    asked: list[int] = []

    def __init__(self, job):
        self.variant = job["variant"]

    def point(self, seq_len, timeout):
        FakeWorker.asked.append(seq_len)
        if seq_len > 10_000:
            return {"variant": self.variant, "seq_len": seq_len, "status": "timeout", "note": f"> {timeout:g} s"}
        return {"variant": self.variant, "seq_len": seq_len, "status": "ok", "fwd_bwd_ms": seq_len**2 / 1e3,
                "peak_mb": seq_len / 1e3}

    def close(self):
        pass


class NoProgress:
    def update(self, *a, **k):
        pass

    def advance(self, *a, **k):
        pass


def test_sweep_skips_estimated_points_without_running_them_and_stops_after_a_timeout(monkeypatch):
    monkeypatch.setattr(bench, "Worker", FakeWorker)
    FakeWorker.asked = []
    lens = [1000, 2000, 4000, 8000]
    # dense: 4000 takes 16 s by T^2 growth from 2000's 4 s: past the 10 s cap, skipped (and 8000 too)
    rows = bench.sweep_variant("dense", cfg(timeout_s=10), lens, NoProgress(), None, mem_cap=1e9)
    assert [r["status"] for r in rows] == ["ok", "ok", "skipped", "skipped"] and FakeWorker.asked == [1000, 2000]
    assert rows[2]["est_s"] == pytest.approx(16.0) and "time cap 10 s" in rows[2]["note"]
    # linear estimates (xl) let 4000 and 8000 run; past 10K the worker times out and the rest is skipped
    FakeWorker.asked = []
    rows = bench.sweep_variant("xl", cfg(timeout_s=1e6), lens + [16000, 32000], NoProgress(), None, mem_cap=1e9)
    assert [r["status"] for r in rows[-3:]] == ["ok", "timeout", "skipped"] and 32000 not in FakeWorker.asked
    assert "after timeout at T=16000" in rows[-1]["note"]
    # the memory cap: 8000 needs ~8 MB by linear growth
    rows = bench.sweep_variant("xl", cfg(timeout_s=1e6), lens, NoProgress(), None, mem_cap=5.0)
    assert rows[-1]["status"] == "skipped" and "memory cap 5 MB" in rows[-1]["note"]


def test_bench_rejects_bad_input_in_one_line():
    with pytest.raises(ZooError, match="unknown attention 'slidng'"):
        main(cfg(variants=["slidng"]))
    with pytest.raises(ZooError, match="device"):
        main(cfg(variants=["dense"], device="tpu"))


def test_committed_report_covers_1k_to_64k():
    """reports/bench/attention.json (the committed run) reaches 64K tokens, ~1 minute of video at
    3 fps: windowed/recurrent variants have measured rows at 32K and 64K, and every (variant,
    length) has a row, any not measured with its reason."""
    saved = json.loads((bench.ROOT / "reports" / "bench" / "attention.json").read_text())
    rows = {(r["variant"], r["seq_len"]): r for r in saved["rows"]}
    lens = sorted({n for _, n in rows})
    assert lens[0] <= 1024 and lens[-1] >= 65536
    variants = {v for v, _ in rows}
    assert {"dense", "sliding", "xl", "infini", "ring"} <= variants and len(rows) == len(variants) * len(lens)
    for v in ("sliding", "xl", "infini"):
        for n in (32768, 65536):
            assert rows[(v, n)]["status"] == "ok" and rows[(v, n)]["fwd_bwd_ms"] > 0, (v, n)
    assert all(r["status"] == "ok" or r.get("note") for r in rows.values())

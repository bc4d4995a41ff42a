"""The attention benchmark: outputs, timeouts and skipping of lengths that cannot finish."""
from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from components.bench import main, predicted_seconds
from zoo.errors import ZooError
from zoo.schema.tools import BenchConfig


def cfg(**kw):
    return OmegaConf.merge(OmegaConf.structured(BenchConfig), kw)


def test_prediction_extrapolates_the_measured_growth():
    rows = [{"status": "ok", "seq_len": 1000, "fwd_bwd_ms": 1000.0}, {"status": "ok", "seq_len": 2000, "fwd_bwd_ms": 4000.0}]
    assert predicted_seconds(rows, 4000) == pytest.approx(16.0)  # quadratic growth continues
    assert predicted_seconds(rows[:1], 4000) is None


@pytest.mark.timeout(120)
def test_bench_writes_outputs_and_records_timeouts_and_skips(tmp_path):
    res = main(cfg(variants=["dense"], seq_lens=[32, 400_000, 800_000], dim=32, n_heads=4, timeout_s=2,
                   out=str(tmp_path)))
    by_len = {r["seq_len"]: r for r in res["rows"]}
    assert by_len[32]["status"] == "ok" and by_len[32]["fwd_bwd_ms"] > 0 and by_len[32]["peak_mb"] >= 0
    assert by_len[400_000]["status"] in ("timeout", "oom")  # too long for a few seconds on CPU
    assert by_len[800_000]["status"] == "skipped"
    for ext in ("json", "md", "png"):
        assert (tmp_path / f"attention.{ext}").stat().st_size > 0
    saved = json.loads((tmp_path / "attention.json").read_text())
    assert saved["schema"] == "actionzoo.bench.attention/1" and len(saved["rows"]) == 3
    assert "| 32 |" in (tmp_path / "attention.md").read_text()


def test_bench_rejects_bad_input_in_one_line():
    with pytest.raises(ZooError, match="unknown attention 'slidng'"):
        main(cfg(variants=["slidng"]))
    with pytest.raises(ZooError, match="device"):
        main(cfg(variants=["dense"], device="tpu"))

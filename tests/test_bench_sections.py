"""The benchmark's issue-12 sections turn their measurements into rows with the right verdicts. The measurements are
stubbed: timing belongs to `python -m bench`, not to the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.__main__ as bench_main
from bench.__main__ import Bench, Row
from bench.weights import FORMATS


@pytest.fixture
def quick_bench(tmp_path):
    bench = Bench(runs=2, scratch=tmp_path)
    bench._warm = tmp_path  # no model is built: nothing here runs a child
    return bench


def by_label(rows: list[Row]) -> dict[str, Row]:
    assert all(isinstance(row, Row) for row in rows)
    return {row.label: row for row in rows}


def training_figures(total_steps: int, step_s: float, evaluation_s: float, finished: bool = True) -> dict:
    return {
        "overfit": {"batch": [2, 8], "step_seconds_median": 0.9, "eval_loss": {"0": 11.04, "25": 0.004},
                    "peak_rss_mb": 2500.0},
        "text_run": {
            "settings": {"batch_size": 2, "context_length": 64, "epochs": 4, "eval_iter": 4},
            "plan": {"total_steps": total_steps}, "finished": finished,
            "set_up_seconds": 2.0, "seconds": total_steps * step_s + evaluation_s * total_steps / 10,
            "step_seconds_median": step_s, "evaluation_seconds_median": evaluation_s,
            "first_evaluation": [10.98, 10.99], "last_evaluation": [200, 0.57, 6.37], "peak_rss_mb": 3000.0,
        },
    }


@pytest.mark.parametrize(("step_s", "verdict"), [(0.5, "ok"), (2.0, "MISSED")])
def test_the_text_runs_whole_time_is_held_to_four_minutes(monkeypatch, quick_bench, step_s, verdict):
    monkeypatch.setattr(bench_main, "measure_training", lambda env: training_figures(200, step_s, 1.0))
    rows = by_label(bench_main.bench_training(quick_bench))
    whole = rows["text run: whole, 4 epochs = 200 steps"]
    assert (whole.target, whole.verdict) == ("≤ 240 s", verdict)
    assert rows["overfit (2, 8): step, median of 25"].value == "0.90 s"
    assert rows["overfit: eval loss, step 0 → 25"].value == "11.04 → 0.004"
    assert rows["text run: train / val loss, step 200"].value == "0.57 / 6.37"


def test_a_text_run_that_did_not_finish_is_no_verdict_of_speed(monkeypatch, quick_bench):
    monkeypatch.setattr(bench_main, "measure_training", lambda env: training_figures(200, 0.1, 0.1, finished=False))
    assert by_label(bench_main.bench_training(quick_bench))["text run: whole, 4 epochs = 200 steps"].verdict == \
        "failed: did not finish"


@pytest.mark.parametrize(("cached", "uncached", "verdicts"), [
    (40.0, 10.0, ["ok", "ok"]),  # 4×
    (30.0, 5.0, ["MISSED", "ok"]),  # too slow, though 6×
    (40.0, 20.0, ["ok", "MISSED"]),  # fast, but only 2× faster than without
])
def test_generation_is_held_to_35_tokens_a_second_and_three_times_faster(monkeypatch, quick_bench, cached, uncached,
                                                                         verdicts):
    def measured(*, runs, env):
        assert runs == 2
        return {"new_tokens": 200, "with_cache_tokens_per_second": cached, "without_cache_tokens_per_second": uncached,
                "speedup": cached / uncached, "same_tokens": True}

    monkeypatch.setattr(bench_main, "measure_generation", measured)
    rows = by_label(bench_main.bench_generation(quick_bench))
    assert [rows["generate 200 tokens, KV cache"].verdict, rows["generate: KV cache speed-up"].verdict] == verdicts


def test_the_weights_rows_name_every_format_and_the_files_are_deleted(monkeypatch, quick_bench):
    written = {}

    def write(folder: Path, env: dict) -> dict[str, Path]:
        for name in FORMATS:
            written[name] = folder / name
            written[name].write_bytes(b"weights")
        return written

    def measure(files, env, runs):
        return {name: {"file_mb": 500.0, "seconds": 0.25, "peak_mb_loaded": 320.0, "peak_mb_forward": 780.0}
                for name in files}

    monkeypatch.setattr(bench_main, "write_weight_files", write)
    monkeypatch.setattr(bench_main, "measure_weights", measure)
    rows = by_label(bench_main.bench_weights(quick_bench))
    for name in FORMATS:
        assert rows[f"load {name} (500 MB)"].value == "0.25 s"
        assert rows[f"peak RSS, {name}, + forward"].value == "780 MB"
    assert not any(path.exists() for path in written.values())


def test_the_worst_stall_of_the_launches_is_held_to_50_ms(monkeypatch, quick_bench):
    launches = iter([15.0, 70.0])

    def measured(env):
        stall = next(launches)
        lab = {"stall_ms": stall, "first_progress_s": 1.5, "steps": 25, "problem": None}
        return {"text_run": dict(lab, stall_ms=10.0), "overfit": lab}

    monkeypatch.setattr(bench_main, "measure_training_stalls", measured)
    rows = by_label(bench_main.bench_ui_training(quick_bench))
    assert rows["app: longest stall, text run (20 s) (worst)"].verdict == "ok"
    overfit = rows["app: longest stall, overfitting (worst)"]
    assert (overfit.value, overfit.verdict) == ("70 ms", "MISSED")


def test_the_new_sections_can_be_run_alone():
    names = [name for name, _ in bench_main.SECTIONS]
    assert {"training", "generation", "weights", "ui-training"} <= set(names)
    assert len(names) == len(set(names))

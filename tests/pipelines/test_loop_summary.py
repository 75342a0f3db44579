"""The loop's ``summary.html``: rewritten with ``loop.csv`` each time the state is saved,
the iterations' table, each training run and links to every audit."""

from __future__ import annotations

from pathlib import Path

import summary_fixtures as sf

from weldsynth.pipelines.loop import LoopState


def test_saving_the_loop_state_writes_the_summary_beside_loop_csv(tmp_path: Path) -> None:
    out, data = tmp_path / "loop", tmp_path / "data"
    sf.train_run(out / "iter0" / "train", data, "7")
    state = LoopState(topology="7", test_set={})
    state.rows.append(
        {"iteration": 0, "samples": 8, "moved": 0, "dropped": 0, "val_error": 0.25,
         "test_error": float("nan"), "seconds": 1.0, "note": ""}
    )  # fmt: skip
    state.save(out)
    first = (out / "summary.html").read_text(encoding="utf-8")
    assert (out / "loop.csv").is_file()
    assert "not finished" in first and "25.00 %" in first and ">-</td>" in first
    assert first.count("<img") == 1 + 1 + 2  # loss, confusion, two misclassified
    sf.train_run(out / "iter1" / "train", data, "7", epochs=4)
    (out / "iter1" / "audit").mkdir(parents=True)
    (out / "iter1" / "audit" / "report.html").write_text("<p>report</p>")
    state.rows.append({**state.rows[0], "iteration": 1, "moved": 2, "test_error": 0.125})
    state.finished = "1 iteration(s) done"
    state.save(out)
    again = (out / "summary.html").read_text(encoding="utf-8")
    assert "finished: 1 iteration(s) done" in again and "12.50 %" in again
    assert again.count("<img") == 2 * (1 + 1 + 2)
    assert 'href="iter1/audit/report.html"' in again and 'href="loop.csv"' in again
    assert 'href="iter1/train/report.json"' in again

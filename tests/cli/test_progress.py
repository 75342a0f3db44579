"""Progress of long steps (weldsynth.cli.progress): bars on a terminal, lines in a log."""

from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import train_fixtures as fx
from click.testing import CliRunner
from rich.console import Console

from weldsynth.audit.folds import FoldTally
from weldsynth.cli.main import cli
from weldsynth.cli.progress import (
    EVERY_ENV,
    PlainProgress,
    Reporter,
    duration,
    progress_every,
)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _console() -> Console:
    return Console(file=io.StringIO(), width=200, color_system=None)


def _lines(console: Console) -> list[str]:
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def test_plain_lines_come_every_n_seconds_per_stage_and_at_the_end() -> None:
    console, clock = _console(), Clock()
    bars = PlainProgress(console, every=30, clock=clock)
    task = bars.add_task("generate", total=100, unit="weld", scale=1, info="")
    for _ in range(10):  # 10 s: not due yet
        clock.now += 1
        bars.update(task, advance=1)
    assert _lines(console) == []
    clock.now = 30
    bars.update(task, advance=10)  # 20 of 100 in 30 s: due
    assert _lines(console) == ["generate, 20/100 (20%), 0.7 weld/s, 30 s elapsed, eta 2m00s"]
    clock.now = 31
    bars.update(task, advance=1, stage="fold model 2/3")  # a new stage prints at once
    assert len(_lines(console)) == 2 and "fold model 2/3" in _lines(console)[1]
    clock.now = 40
    bars.update(task, completed=100, info="done")
    last = _lines(console)[-1]
    assert last.startswith("generate, fold model 2/3, 100/100 (100%), done")
    assert "eta" not in last and "40 s elapsed" in last
    bars.update(task, completed=100)  # finished: not printed twice
    assert len(_lines(console)) == 3


def test_every_is_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(EVERY_ENV, "5")
    assert progress_every() == 5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv(EVERY_ENV, bad)
        assert progress_every() == 30
    assert duration(42) == "42 s" and duration(187) == "3m07s" and duration(3720) == "1h02m"


def test_quiet_reporter_shows_nothing() -> None:
    console = _console()
    with Reporter(console, quiet=True, live=False) as r:
        r.counter("import", 3)(2, 3)
        r.ticker("generate", 3)(3)
        assert list(r.track("variants")([1, 2])) == [1, 2]
        r.fold_models("audit")(1, 2, SimpleNamespace(where=lambda: "m", epoch=1, epochs=2))
        assert r.epochs(16) is None
    assert _lines(console) == []


def test_fold_models_give_one_line_per_model_in_a_log() -> None:
    console = _console()
    reporter = Reporter(console, live=False, every=1e9)
    tally = FoldTally(seeds=2, folds=3, epochs=2, progress=reporter.fold_models("audit"))
    tally.start()
    for _model in range(6):
        for epoch in (1, 2):
            tally.on_epoch(SimpleNamespace(epoch=epoch))
    lines = _lines(console)
    models = [re.search(r"fold model (\d)/6 \(seed (\d)/2, fold (\d)/3\)", line) for line in lines]
    assert [m.groups() for m in models if m][:6] == [
        ("1", "1", "1"),
        ("2", "1", "2"),
        ("3", "1", "3"),
        ("4", "2", "1"),
        ("5", "2", "2"),
        ("6", "2", "3"),
    ]
    assert lines[-1].startswith("audit, fold model 6/6") and "12/12 (100%)" in lines[-1]


def test_training_bars_on_a_terminal_leave_one_line_per_epoch() -> None:
    console = Console(file=io.StringIO(), width=120, force_terminal=True, color_system=None)
    with Reporter(console) as reporter:
        factory = reporter.epochs(batch_size=16)
        assert factory is not None
        with factory() as bars:
            for epoch in (1, 2):
                task = bars.add_task(f"[7] epoch {epoch}/2 (all)", total=4, info="")
                bars.update(task, advance=3)
                bars.update(task, completed=4, info=f"loss 0.{epoch} err 1.00%")
        assert reporter.bars.tasks == []  # every epoch's bar gave way to its line
    text = console.file.getvalue()  # type: ignore[attr-defined]
    for epoch in (1, 2):
        assert f"[7] epoch {epoch}/2 (all), 4/4 (100%), loss 0.{epoch} err 1.00%" in text


@pytest.fixture
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


FAST = ["--size", "32x96", "--batch-size", "8", "--weights", "none", "--epochs", "2"]


@pytest.mark.usefixtures("_one_thread")
def test_train_in_a_log_prints_a_line_per_epoch(tmp_path: Path) -> None:
    data = fx.image_folder(tmp_path / "d", n_per_class=8)
    res = CliRunner().invoke(cli, ["train", str(data), *FAST, "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    for epoch in (1, 2):
        line = next(x for x in res.output.splitlines() if x.startswith(f"[7] epoch {epoch}/2"))
        assert "(100%)" in line and "img/s" in line and " err " in line
    quiet = CliRunner().invoke(
        cli, ["train", str(data), *FAST, "--out", str(tmp_path / "q"), "--quiet"]
    )
    assert quiet.exit_code == 0 and "epoch 1/2" not in quiet.output


@pytest.mark.slow
@pytest.mark.usefixtures("_one_thread")
def test_audit_in_a_log_names_each_fold_model(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(EVERY_ENV, "0")  # and a line per epoch
    data = fx.image_folder(tmp_path / "d", n_per_class=8)
    res = CliRunner().invoke(
        cli, ["audit", str(data), *FAST, "--seeds", "1", "--no-cam", "--out", str(tmp_path / "a")]
    )
    assert res.exit_code == 0, res.output
    for k in (1, 2, 3):
        assert f"fold model {k}/3 (seed 1/1, fold {k}/3)" in res.output
    assert "6/6 (100%)" in res.output and "eta" in res.output


def test_generate_in_a_log_reports_its_welds(tmp_path: Path) -> None:
    good = tmp_path / "good"
    assert (
        CliRunner().invoke(cli, ["samples", "-t", "3", "-n", "2", "--out", str(good)]).exit_code
        == 0
    )
    res = CliRunner().invoke(cli, ["generate", str(good), "--all", "--out", str(tmp_path / "data")])
    assert res.exit_code == 0, res.output
    assert re.search(r"^generate, 2/2 \(100%\), [\d.]+ weld/s, ", res.stderr, re.M), res.stderr

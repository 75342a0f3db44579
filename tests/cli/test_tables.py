"""Tables fit 80 columns: no cut number, no ambiguous path (weldsynth.cli.tables)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import audit_fixtures as afx
from click.testing import CliRunner
from rich.console import Console
from rich.table import Table

from weldsynth.cli.main import cli
from weldsynth.cli.tables import fit_tables, is_number, shorten_path, unique_suffix
from weldsynth.io.manifest import read_manifest, sha256_file, write_manifest

BOX = "│┃"


def _render(tables: list[Table], width: int = 80) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    for t in tables:
        console.print(t)
    return console.export_text()


def _cells(text: str) -> list[str]:
    """Every cell text of the rendered rows (one per row line and column)."""
    out = []
    for line in text.splitlines():
        if line.count("│") >= 2:
            out += [c.strip() for c in re.split(f"[{BOX}]", line)[1:-1]]
    return out


def _wide_table(paths: list[str]) -> Table:
    table = Table(title="suspects")
    for name in ("rank", "path", "given", "predicted", "p_given", "loss", "suggestion", "why"):
        table.add_column(name)
    for k, p in enumerate(paths, start=1):
        table.add_row(
            str(k), p, "bad", "good", f"{0.01 * k:.3f}", f"{66.5 + k:.2f}", "relabel:good",
            "defect mostly taken for good by the fold models",
        )  # fmt: skip
    return table


def test_paths_keep_the_end_that_tells_them_apart() -> None:
    paths = [f"3/bad-undercut/plant_line_A_station_12_3_000{k}__cut_04.png" for k in range(1, 6)]
    assert unique_suffix(paths) == len("1__cut_04.png")
    assert shorten_path(paths[0], 18) == "…" + paths[0][-17:]
    text = _render(fit_tables(_wide_table(paths), 80))
    assert max(len(line) for line in text.splitlines()) <= 80
    shown = [c for c in _cells(text) if c.endswith(".png")]
    assert len(shown) == 5 and len(set(shown)) == 5
    for cell, path in zip(shown, paths, strict=True):
        assert cell == path or (cell.startswith("…") and path.endswith(cell[1:]))
        assert sum(p.endswith(cell.lstrip("…")) for p in paths) == 1


def test_numbers_are_never_cut_and_low_value_columns_go_first() -> None:
    paths = [f"3/bad/3_00{k:02d}__cut_04.png" for k in range(1, 12)]
    table = _wide_table(paths)
    text = _render(fit_tables(table, 60, drop=("why", "loss", "rank")), 60)
    cells = _cells(text)
    for k in range(1, 12):
        assert f"{0.01 * k:.3f}" in cells
    assert "why" not in text and "loss" not in text  # dropped, lowest value first
    assert "suggestion" in text
    assert max(len(line) for line in text.splitlines()) <= 60


def test_a_table_too_wide_for_any_drop_wraps_its_columns_with_the_key_repeated() -> None:
    table = Table(title="images per topology and defect")
    names = ["topology"] + [f"bad {d}" for d in ("porosity", "undercut", "crack", "spatter")]
    names += [f"bad {d}" for d in ("burn_through", "lack_of_fusion", "excess_material")]
    for name in names:
        table.add_column(name, justify="right")
    for topo in ("2", "3", "10"):
        table.add_row(topo, *(str(123456 + i) for i in range(len(names) - 1)))
    parts = fit_tables(table, 80)
    text = _render(parts)
    assert len(parts) >= 2 and "(continued, 2/" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    cells = _cells(text)
    for i in range(len(names) - 1):
        assert cells.count(str(123456 + i)) == 3  # every number whole, once per topology
    assert cells.count("10") == len(parts)  # the key column is repeated in every part


def test_number_cells_are_told_from_text() -> None:
    for text in ("12", "0.125", "3.50%", "-", "12/36", "1:1", "±0.3", "1e-05", ""):
        assert is_number(text), text
    for text in ("relabel:good", "3/bad/x.png", "66.5 s", "line"):
        assert not is_number(text), text


def _long_paths(root: Path, truth: dict[str, str]) -> dict[str, str]:
    """Rename every image to a long name that differs from the others only near its end."""
    renamed, records = {}, []
    for r in read_manifest(root):
        folder = Path(r.path).parent
        new = f"{folder}/plant_line_A_station_12_weld_{Path(r.path).stem}__cut_04.png"
        (root / r.path).rename(root / new)
        renamed[new] = truth[r.path]
        records.append(r.with_(path=new, sha256=sha256_file(root / new)))
    write_manifest(root, records)
    return renamed


def test_audit_suspects_table_at_80_columns(tmp_path: Path) -> None:
    root, _flipped, truth = afx.flipped_set(tmp_path / "data")
    truth = _long_paths(root, truth)
    probs = afx.write_probs(tmp_path / "p.csv", truth)
    out = tmp_path / "audit"
    res = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["audit", str(root), "--probs", str(probs), "--out", str(out), "--no-cam"]
    )
    assert res.exit_code == 0, res.output
    table = res.output[res.output.index("top suspects") : res.output.rindex("└")]
    assert max(len(line) for line in table.splitlines()) <= 80
    cells = _cells(table)
    with (out / "suspects.csv").open() as fh:
        rows = list(csv.DictReader(fh))[:10]
    every = [r["path"] for r in rows]
    shown = [c for c in cells if c.endswith(".png")]
    assert len(shown) == len(rows)
    for row, cell in zip(rows, shown, strict=True):
        assert f"{float(row['p_given']):.3f}" in cells  # whole, never "0.0…"
        assert row["rank"] in cells
        matches = [p for p in every if p.endswith(cell.lstrip("…"))]
        assert matches == [row["path"]], cell  # the shortened path names one sample


def _table_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line[:1] in "┏┃┡│└" or "━" in line]


def _no_cut_cell(output: str) -> None:
    """Every table line fits 80 columns and a cut (``…``) only opens a path."""
    lines = _table_lines(output)
    assert lines, output
    assert max(len(line) for line in lines) <= 80, output
    for cell in _cells("\n".join(lines)):
        assert "…" not in cell or (cell.startswith("…") and "…" not in cell[1:]), cell


def test_generate_summary_at_80_columns_wraps_defect_columns(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "80"})
    good = tmp_path / "good"
    made = runner.invoke(cli, ["samples", "-t", "3", "-t", "7", "-n", "2", "--out", str(good)])
    assert made.exit_code == 0, made.output
    res = runner.invoke(cli, ["generate", str(good), "--all", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    _no_cut_cell(res.output)
    counts: dict[tuple[str, str], int] = {}
    for r in read_manifest(tmp_path / "d"):
        key = (r.topology, "good" if r.label == "good" else f"bad {r.defect}")
        counts[key] = counts.get(key, 0) + 1
    lines = _table_lines(res.output)
    headers = " ".join(line for line in lines if line.startswith("┃"))
    for (topology, column), n in counts.items():
        assert column.split()[-1] in headers  # every defect column is shown
        rows = [line for line in lines if re.match(rf"│\s*{topology}\s*│", line)]
        assert any(str(n) in _cells(line) for line in rows), (topology, column, n)


def test_norm_tables_at_80_columns_cut_nothing() -> None:
    runner = CliRunner(env={"COLUMNS": "80"})
    listed = runner.invoke(cli, ["norm", "list"])
    assert listed.exit_code == 0, listed.output
    _no_cut_cell(listed.output)
    shown = runner.invoke(cli, ["norm", "show", "iso5817-2014-C", "--t", "3", "--b", "6"])
    assert shown.exit_code == 0, shown.output
    _no_cut_cell(shown.output)
    from weldsynth.synth.norm import ExpressionError, NormSettings

    settings = NormSettings.from_mapping({"preset": "iso5817-2014-C", "t_mm": 3})
    cells = _cells("\n".join(_table_lines(shown.output)))
    symbols = {"t": 3.0, "s": 3.0, "a": None, "b": 6.0}
    for rule in settings.level.norm.rules.values():
        try:
            lim = settings.resolve(rule.id, symbols, rule.unit)
        except ExpressionError:  # a limit needing a thickness not given
            continue
        if lim.value is not None:
            assert f"{lim.value:.3g}" in cells, rule.id

"""``weldsynth norm list|show|check``: the welding norms, their limits in mm, norm files."""

from __future__ import annotations

from pathlib import Path

import click

from weldsynth.cli.tables import print_table

_EPILOG = """\b
Examples:
  weldsynth norm list
  weldsynth norm show iso5817-2014-C --t 3 --b 6
  weldsynth norm check my-norm.yaml
"""


@click.group("norm", epilog=_EPILOG)
def command() -> None:
    """Welding norms as data: presets (ISO 5817 levels B, C, D and the plant norm), the
    limits they resolve to in mm, and checks of your own norm files.

    A recipe picks one with ``norm: {preset: iso5817-2014-C, t_mm: 3}``.

    \b
    Examples:
      weldsynth norm list
      weldsynth norm show iso5817-2014-C --t 3 --b 6
    """


@command.command("list")
def list_command() -> None:
    """The shipped presets: name, title, number of rules, file.

    \b
    Example:
      weldsynth norm list
    """
    from rich.console import Console
    from rich.table import Table

    from weldsynth.synth.norm import load_preset, preset_names

    table = Table(title="welding norm presets")
    for col in ("preset", "norm", "rules", "unverified rows", "file"):
        table.add_column(col)
    for name in preset_names():
        level = load_preset(name)
        unverified = sum(level.limit_of(r).unverified for r in level.norm.rules.values())
        table.add_row(
            name,
            level.title,
            str(len(level.norm.rules)),
            str(unverified),
            Path(level.norm.path).name,
        )
    print_table(Console(), table, drop=("file", "unverified rows"))


@command.command("show")
@click.argument("preset")
@click.option("--t", "t_mm", type=float, default=None, help="Plate thickness t, mm.")
@click.option("--s", "s_mm", type=float, default=None, help="Weld thickness s, mm (default t).")
@click.option("--a", "a_mm", type=float, default=None, help="Fillet throat a, mm.")
@click.option("--b", "b_mm", type=float, default=None, help="Bead (reinforcement) width b, mm.")
@click.option("--guard", type=float, default=None, help="Guard band (default: the norm's).")
def show(
    preset: str,
    t_mm: float | None,
    s_mm: float | None,
    a_mm: float | None,
    b_mm: float | None,
    guard: float | None,
) -> None:
    """The limits of PRESET (a preset name or FILE.yaml[:LEVEL]) resolved in mm: each rule's
    limit, the sizes drawn as acceptable and as rejectable (outside the guard band), and
    its reference. A limit that needs a thickness not given says which.

    \b
    Example:
      weldsynth norm show iso5817-2014-C --t 3 --b 6
    """
    from rich.console import Console
    from rich.table import Table

    from weldsynth.synth.norm import ExpressionError, NormSettings

    given = {"preset": preset, "t_mm": t_mm, "s_mm": s_mm, "a_mm": a_mm}
    if guard is not None:
        given["guard"] = guard
    settings = NormSettings.from_mapping({k: v for k, v in given.items() if v is not None})
    assert settings is not None
    symbols = {"t": t_mm, "s": s_mm if s_mm is not None else t_mm, "a": a_mm, "b": b_mm}
    table = Table(title=f"{settings.level.title}: guard ±{settings.guard:.0%}")
    table.add_column("rule", no_wrap=True)
    for col in ("measured", "limit", "resolved", "good up to", "bad from", "reference"):
        table.add_column(col)
    for rule in settings.level.norm.rules.values():
        spec = settings.level.limit_of(rule)
        text = spec.describe() + (" (unverified)" if spec.unverified else "")
        try:
            lim = settings.resolve(rule.id, symbols, rule.unit)
            cells = (
                ("not permitted", "-", "any")
                if lim.value is None
                else (f"{lim.value:.3g}", f"{lim.accept_max:.3g}", f"{lim.reject_min:.3g}")
            )
        except ExpressionError as exc:
            cells = (str(exc).split(": ")[-1], "", "")
        table.add_row(rule.id, f"{rule.quantity} ({rule.unit})", text, *cells, rule.reference)
    print_table(Console(), table, drop=("reference", "measured"))


@command.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate norm FILES: one line per file, `ok` or the error naming the field, the
    value and what is allowed. Exit status 0 when every file is valid, 1 when any is not.

    \b
    Example:
      weldsynth norm check my-norm.yaml
    """
    from weldsynth.core.errors import WeldsynthError
    from weldsynth.synth.norm import load_norm_file

    failed = 0
    for file in files:
        try:
            norm = load_norm_file(file)
        except WeldsynthError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
            continue
        click.echo(
            f"{file}: ok ({norm.title}; {len(norm.rules)} rules; {', '.join(norm.presets())})"
        )
    if failed:
        raise SystemExit(1)

"""The ``weldsynth`` command line. Each sub-command lives in ``weldsynth/cli/commands/``.

User errors (:class:`weldsynth.core.errors.WeldsynthError`) are printed in one line and exit 2,
without a traceback.
"""

from __future__ import annotations

import sys

import click

from weldsynth import __version__
from weldsynth.cli.commands import COMMANDS
from weldsynth.core.errors import WeldsynthError

EPILOG = """\b
Typical session:
  weldsynth samples --all -n 20 --out good/        # procedural good welds
  weldsynth inspect good/7/7_0000.png --overlay o.png
  weldsynth info good/
  weldsynth demo                                   # the whole pipeline on bundled samples
Run `weldsynth COMMAND --help` for each command's options and examples.
"""


class _Group(click.Group):
    """Click group that turns user errors into one line and exit status 2."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except WeldsynthError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="weldsynth")
def cli() -> None:
    """weldsynth: turn good weld height maps into a labelled, balanced, audited data set.

    A height map is a grayscale PNG (8- or 16-bit) where white is high and 0 means no data.
    """


for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``weldsynth``)."""
    cli.main(args=argv, prog_name="weldsynth", standalone_mode=True)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])

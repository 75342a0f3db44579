"""The ``weldsynth`` command line. Each sub-command lives in ``weldsynth/cli/commands/``.

Every command runs inside one error boundary (:mod:`weldsynth.cli.boundary`): user and file
system errors are one line and exit 2, Ctrl-C exits 130, anything else is one line naming a
crash report and exits 3; ``--debug`` or ``WELDSYNTH_DEBUG=1`` shows the traceback too.
"""

from __future__ import annotations

import sys

import click

from weldsynth import __version__
from weldsynth.cli.boundary import debug_from_env, handle
from weldsynth.cli.commands import COMMANDS

EPILOG = """\b
Typical session:
  weldsynth samples --all -n 20 --out good/        # procedural good welds
  weldsynth inspect good/7/7_0000.png --overlay o.png
  weldsynth info good/
  weldsynth demo                                   # the whole pipeline on bundled samples
Run `weldsynth COMMAND --help` for each command's options and examples.
"""


class _Group(click.Group):
    """Click group whose commands run inside the error boundary (see the module docstring)."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: usage errors exit 2 with their message
        except (Exception, KeyboardInterrupt) as exc:
            debug = bool(ctx.params.get("debug")) or debug_from_env()
            ctx.exit(handle(exc, [ctx.info_name or "weldsynth", *sys.argv[1:]], debug))


@click.group(cls=_Group, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="weldsynth")
@click.option(
    "--debug",
    is_flag=True,
    help="Show the full traceback of an error (also: WELDSYNTH_DEBUG=1).",
)
def cli(debug: bool) -> None:
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

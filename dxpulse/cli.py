"""The `dxpulse` command line: one entry point, one subcommand per job.

The commands live in dxpulse/commands/, a module per command group; this module is the
group and the entry point, which turns known failures into one line and an exit status."""

from __future__ import annotations

import sys

import click
from pydantic import ValidationError

from dxpulse import __version__
from dxpulse.commands.bench import bench
from dxpulse.commands.dashboards import dashboards_group
from dxpulse.commands.migrate import init, migrate
from dxpulse.commands.produce import produce
from dxpulse.commands.reading import calibrate, query, report
from dxpulse.commands.run import run
from dxpulse.commands.schemas import schemas
from dxpulse.commands.worker import worker
from dxpulse.core.errors import DxpulseError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dxpulse")
def cli() -> None:
    """Vietnam's digital economy as live numbers: events -> Kafka -> Faust -> ClickHouse.

    Start with `dxpulse run`: it needs no Kafka or ClickHouse, runs everything on this
    machine and prints a verified summary. Configuration comes from DXPULSE_* environment
    variables (see the README); options given here override them.
    """


for _command in (run, produce, worker, migrate, init, query, report, calibrate, bench, schemas,
                 dashboards_group):  # fmt: skip
    cli.add_command(_command)


def _fail(message: str, code: int) -> None:
    # Plain write: a rich console would wrap long messages onto several lines.
    sys.stderr.write(f"dxpulse: {message}\n")
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: usage errors and known failures are one line and a non-zero exit."""
    try:
        code = cli.main(args=argv, prog_name="dxpulse", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        # A bare `dxpulse` (or command group) is a request for help, not an error.
        sys.stdout.write(exc.ctx.get_help() + "\n")
        sys.exit(0)
    except click.UsageError as exc:
        _fail(f"error: {exc.format_message()}", 2)
    except click.ClickException as exc:
        _fail(f"error: {exc.format_message()}", exc.exit_code)
    except click.Abort:
        _fail("aborted", 130)
    except KeyboardInterrupt:
        sys.exit(130)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        _fail(f"error: bad setting {where}: {first['msg']}", 2)
    except DxpulseError as exc:
        _fail(f"error: {exc}", 1)
    sys.exit(code if isinstance(code, int) else 0)

"""`dxpulse schemas`: the events' JSON Schema files."""

from __future__ import annotations

import click

from dxpulse.commands.common import (
    console,
)
from dxpulse.core.config import EVENT_TYPES
from dxpulse.core.errors import DxpulseError


@click.group(short_help="Export or check the events' JSON Schemas.")
def schemas() -> None:
    """JSON Schema files of the events, for producers in other languages."""


@schemas.command("export")
@click.option("--check", is_flag=True, help="Only verify the committed files are current.")
def schemas_export(check: bool) -> None:
    """Write schemas/json/<event_type>.schema.json from the pydantic models (a developer
    command: it needs a source checkout)."""
    from dxpulse.core.source_tree import checkout_root
    from dxpulse.schemas.export import JSON_DIR, export, render

    checkout_root("schemas export")
    if check:
        stale = [
            t
            for t in EVENT_TYPES
            if not (JSON_DIR / f"{t}.schema.json").exists()
            or (JSON_DIR / f"{t}.schema.json").read_bytes() != render(t) + b"\n"
        ]
        if stale:
            raise DxpulseError(f"out of date: {', '.join(stale)}; run `dxpulse schemas export`")
        console.print("JSON Schemas are current.")
        return
    for path in export():
        console.print(f"wrote {path}")

"""`dxpulse dashboards`: Grafana dashboards and alert rules, as code."""

from __future__ import annotations

import click
from rich.table import Table

from dxpulse.commands.common import (
    console,
    load_settings,
)
from dxpulse.core.errors import DxpulseError


@click.group("dashboards", short_help="Grafana dashboards and alert rules, as code.")
def dashboards_group() -> None:
    """Grafana dashboards and alert rules, as code.

    dxpulse's folder, ClickHouse datasource, dashboards and alert rules are built from one
    bundle in Python (dashboards/). Grafana settings come from DXPULSE_GRAFANA__*
    environment variables (see the README).
    """


@dashboards_group.command("push", short_help="Push them to a running Grafana over its HTTP API.")
@click.option(
    "--url",
    metavar="URL",
    help="Grafana base URL [env DXPULSE_GRAFANA__URL; default: http://localhost:3000].",
)
@click.option("--dry-run", is_flag=True, help="Only read and show what would change.")
def dashboards_push(url: str | None, dry_run: bool) -> None:
    """Create or update dxpulse's folder, datasource, dashboards and alert rules in a
    running Grafana through its HTTP API, in that order.

    Idempotent: each object is read first and written only when it is missing or differs,
    so pushing twice changes nothing the second time. The token is read only from the
    environment, DXPULSE_GRAFANA__TOKEN (a service-account token), never from an option,
    so that it stays out of shell history. The datasource's ClickHouse password, if any,
    comes from DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD.
    """
    from dxpulse.dashboards.build import bundle_for
    from dxpulse.dashboards.push import display_url, push_bundle

    settings = load_settings(grafana__url=url)
    outcomes = push_bundle(bundle_for(settings), settings.grafana, dry_run=dry_run)
    where = display_url(settings.grafana.url)
    table = Table(title=f"Grafana at {where}" + (" (dry run)" if dry_run else ""))
    for column in ("object", "uid", "title", "action"):
        table.add_column(column)
    for o in outcomes:
        action = f"would be {o.action}" if dry_run and o.action != "unchanged" else o.action
        table.add_row(o.kind, o.uid, o.title, action)
    console.print(table)
    n = {a: sum(o.action == a for o in outcomes) for a in ("created", "updated", "unchanged")}
    if dry_run:
        console.print(
            f"Dry run, nothing written: {n['created']} to create, {n['updated']} to update, "
            f"{n['unchanged']} unchanged."
        )
    else:
        console.print(
            f"Pushed to {where}: {n['created']} created, {n['updated']} updated, "
            f"{n['unchanged']} unchanged."
        )


@dashboards_group.command("build", short_help="Regenerate the committed JSON and provisioning.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a generated file is stale.")
def dashboards_build(check: bool) -> None:
    """Build the dashboards, alert rules and provisioning files from dashboards/*.py.

    Writes deploy/grafana/dashboards/*.json, deploy/grafana/provisioning/**/dxpulse.yaml and
    the dashboard tables in README.md. They are built from default settings, never from the
    environment, so every machine generates the same files; `push` uses your settings.
    A developer command: it needs a source checkout.
    """
    from dxpulse.core.source_tree import checkout_root
    from dxpulse.dashboards.build import ROOT, stale_files, write_files

    checkout_root("dashboards build")
    changed = stale_files() if check else write_files()
    names = [str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for p in changed]
    if check and names:
        raise DxpulseError(
            f"{len(names)} generated file(s) out of date ({', '.join(names)}): "
            "run `dxpulse dashboards build` and commit"
        )
    if not names:
        console.print("Generated dashboard files are up to date.")
        return
    table = Table(title="Regenerated")
    table.add_column("file")
    for name in names:
        table.add_row(name)
    console.print(table)

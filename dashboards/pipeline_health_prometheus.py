"""5b. Pipeline health from Prometheus: the workers' own /metrics, as the compose stack's
optional `prometheus` profile scrapes them (deploy/prometheus/prometheus.yml).

A variant of the ClickHouse-based pipeline-health dashboard, not a replacement: that one needs
nothing but the database; this one adds what only the running processes know (consumer lag
between flushes, flush-time and freshness distributions, insert failures while ClickHouse is
down, memory and CPU) and keeps working when ClickHouse itself is the problem. Its datasource
is the provisioned "dxpulse Prometheus" (deploy/grafana/provisioning/datasources/
prometheus.yaml); without the profile its panels say the datasource is unreachable.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, prometheus, timeseries
from grafana_foundation_sdk.models import dashboard as dm

from dxpulse.dashboards.panels import new_dashboard

UID = "dxpulse-pipeline-health-prometheus"
DATASOURCE_UID = "dxpulse-prometheus"
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
JOB = 'job="dxpulse-worker"'  # the scrape job of deploy/prometheus/prometheus.yml
RATE = "[$__rate_interval]"  # Grafana's window: at least four scrape intervals


def _query(expr: str, legend: str, ref_id: str) -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref_id)
        .range()
        .datasource(DATASOURCE)
    )


def _panel(
    title: str, question: str, unit: str, *queries: tuple[str, str], width: int = 12
) -> timeseries.Panel:
    """A time series of PromQL ``(expression, legend)`` pairs, styled like the others."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(question)
        .datasource(DATASOURCE)
        .unit(unit)
        .fill_opacity(10)
        .line_width(1)
        .span(width)
        .height(8)
    )
    for number, (expr, legend) in enumerate(queries):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + number)))
    return panel


def _quantiles(histogram: str) -> tuple[tuple[str, str], ...]:
    """p50 and p99 of a histogram over all workers."""
    return tuple(
        (
            f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket{{{JOB}}}{RATE})))",
            f"p{round(q * 100)}",
        )
        for q in (0.5, 0.99)
    )


def _per_topic(counter: str) -> str:
    return f"sum by (topic) (rate({counter}{{{JOB}}}{RATE}))"


def build(_ctx: object = None) -> dashboard.Dashboard:
    return (
        new_dashboard(
            UID,
            "dxpulse · Pipeline health (Prometheus)",
            "The workers' /metrics: rates by topic, lag, flushes, freshness, outages, memory.",
        )
        .with_panel(
            _panel(
                "Messages consumed by topic",
                "How many messages per second does each topic bring?",
                "ops",
                (_per_topic("dxpulse_messages_consumed_total"), "{{topic}}"),
            )
        )
        .with_panel(
            _panel(
                "Dead letters by reason",
                "Why, and how often, are messages rejected?",
                "ops",
                (
                    f"sum by (reason) (rate(dxpulse_messages_dead_lettered_total{{{JOB}}}{RATE}))",
                    "{{reason}}",
                ),
            )
        )
        .with_panel(
            _panel(
                "Duplicates and late events",
                "How many re-sent and late events arrive?",
                "ops",
                (_per_topic("dxpulse_duplicates_total"), "duplicates {{topic}}"),
                (_per_topic("dxpulse_late_events_total"), "late {{topic}}"),
            )
        )
        .with_panel(
            _panel(
                "Consumer lag by partition",
                "Which partitions fall behind, right now?",
                "short",
                (
                    f"max by (topic, partition) (dxpulse_consumer_lag_messages{{{JOB}}})",
                    "{{topic}}[{{partition}}]",
                ),
            )
        )
        .with_panel(
            _panel(
                "Flush duration",
                "How long does a flush to ClickHouse take?",
                "s",
                *_quantiles("dxpulse_flush_duration_seconds"),
            )
        )
        .with_panel(
            _panel(
                "Rows per flush",
                "How many event rows does a flush insert?",
                "short",
                (
                    f"sum(rate(dxpulse_flush_rows_sum{{{JOB}}}{RATE})) / "
                    f"sum(rate(dxpulse_flush_rows_count{{{JOB}}}{RATE}))",
                    "mean",
                ),
            )
        )
        .with_panel(
            _panel(
                "Freshness",
                "How long from production to queryable, per event?",
                "s",
                *_quantiles("dxpulse_freshness_seconds"),
            )
        )
        .with_panel(
            _panel(
                "ClickHouse outage and insert failures",
                "Is ClickHouse refusing writes?",
                "short",
                (f"max(dxpulse_clickhouse_outage{{{JOB}}})", "outage (1 = on)"),
                (f"sum(increase(dxpulse_insert_failures_total{{{JOB}}}{RATE}))", "failed inserts"),
            )
        )
        .with_panel(
            _panel(
                "Worker memory",
                "How much memory does each worker hold?",
                "bytes",
                (f"process_resident_memory_bytes{{{JOB}}}", "{{instance}}"),
            )
        )
        .with_panel(
            _panel(
                "Worker CPU",
                "How many cores does each worker use?",
                "short",
                (f"rate(process_cpu_seconds_total{{{JOB}}}{RATE})", "{{instance}}"),
            )
        )
    )


def datasource_provisioning() -> dict[str, object]:
    """Grafana's provisioning file for the compose profile's Prometheus (no secret in it)."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "uid": DATASOURCE_UID,
                "name": "dxpulse Prometheus",
                "type": "prometheus",
                "access": "proxy",
                "url": "http://prometheus:9090",
                "isDefault": False,
                "editable": False,
                "jsonData": {"timeInterval": "15s"},  # the scrape interval
            }
        ],
    }

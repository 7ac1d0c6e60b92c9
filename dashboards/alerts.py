"""Alert rules: the four conditions ops must hear about without watching a screen.

Each rule is one ClickHouse query returning a single number, and a threshold on it. They run
in Grafana's backend (unified alerting), so only the backend macros apply (no template
variables, no $__conditionalAll).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dxpulse.dashboards.panels import BuildContext, sql
from dxpulse.dashboards.query import ClickHouseQuery, Format

RULE_GROUP = "dxpulse"
EVALUATE_EVERY = "1m"
EXPRESSION_DATASOURCE = "__expr__"


@dataclass(frozen=True)
class AlertRule:
    uid: str
    title: str
    summary: str
    query: str
    comparison: Literal["gt", "lt"]
    threshold: float
    lookback_s: int
    pending: str  # how long the condition must hold before the alert fires
    severity: Literal["warning", "critical"]
    no_data: Literal["Alerting", "NoData", "OK"] = "Alerting"

    def to_api(self, ctx: BuildContext, folder_uid: str) -> dict[str, Any]:
        """The body of POST /api/v1/provisioning/alert-rules."""
        query = ClickHouseQuery(
            ref_id="A", raw_sql=self.query, query_type="table", format_val=Format.TABLE,
            datasource=ctx.datasource,
        )
        return {
            "uid": self.uid,
            "title": self.title,
            "folderUID": folder_uid,
            "ruleGroup": RULE_GROUP,
            "condition": "B",
            "data": [
                {
                    "refId": "A",
                    "relativeTimeRange": {"from": self.lookback_s, "to": 0},
                    "datasourceUid": ctx.datasource_uid,
                    "model": query.to_json(),
                },
                {
                    "refId": "B",
                    "relativeTimeRange": {"from": 0, "to": 0},
                    "datasourceUid": EXPRESSION_DATASOURCE,
                    "model": {
                        "refId": "B",
                        "type": "threshold",
                        "expression": "A",
                        "datasource": {"type": "__expr__", "uid": EXPRESSION_DATASOURCE},
                        "conditions": [
                            {"evaluator": {"type": self.comparison, "params": [self.threshold]}}
                        ],
                    },
                },
            ],
            "noDataState": self.no_data,
            "execErrState": "Error",
            "for": self.pending,
            "annotations": {"summary": self.summary},
            "labels": {"service": "dxpulse", "severity": self.severity},
            "isPaused": False,
        }


def rules(ctx: BuildContext) -> list[AlertRule]:
    return [
        AlertRule(
            uid="dxpulse-no-events",
            title="No events for 2 minutes",
            summary="The workers wrote no events in the last 2 minutes: producers, Kafka or "
            "the workers are down.",
            query=sql("""
                SELECT sum(events) AS events
                FROM pipeline_flushes
                WHERE $__timeFilter(flushed_at)"""),
            comparison="lt",
            threshold=1,
            lookback_s=120,
            pending="0s",
            severity="critical",
        ),
        AlertRule(
            uid="dxpulse-dead-letter-rate",
            title="Dead-letter rate above 1%",
            summary="More than 1% of messages in the last 5 minutes went to the dead-letter "
            "topic: a producer sends bad events (see the Dead letters by reason panel).",
            query=sql("""
                SELECT sum(dead_lettered) / greatest(sum(messages), 1) AS dead_letter_rate
                FROM pipeline_flushes
                WHERE $__timeFilter(flushed_at)"""),
            comparison="gt",
            threshold=0.01,
            lookback_s=300,
            pending="2m",
            severity="warning",
            no_data="OK",
        ),
        AlertRule(
            uid="dxpulse-freshness",
            title="Data older than 60 seconds",
            summary="The newest event written is more than 60 s old: the workers are behind "
            "or stopped.",
            query=sql("""
                SELECT dateDiff('second', max(max_event_time), now()) AS freshness_s
                FROM pipeline_flushes
                WHERE $__timeFilter(flushed_at)
                  AND events > 0"""),
            comparison="gt",
            threshold=60,
            lookback_s=600,
            pending="1m",
            severity="critical",
        ),
        AlertRule(
            uid="dxpulse-failure-spike",
            title="Transaction failure rate spike",
            summary="The share of failed transactions in the last 5 minutes is more than "
            "twice the rate of the hour before.",
            query=sql(f"""
                SELECT if(base_rate > 0, recent_rate / base_rate, 0) AS failure_ratio
                FROM (
                    SELECT sumIf(failures, window_start >= $__toTime - INTERVAL 5 MINUTE)
                               / greatest(sumIf(events, window_start >= $__toTime - INTERVAL 5 MINUTE), 1)
                               AS recent_rate,
                           sumIf(failures, window_start < $__toTime - INTERVAL 5 MINUTE)
                               / greatest(sumIf(events, window_start < $__toTime - INTERVAL 5 MINUTE), 1)
                               AS base_rate
                    FROM event_aggregates
                    WHERE window_seconds = {ctx.window_seconds}
                      AND $__timeFilter(window_start)
                )"""),  # noqa: E501
            comparison="gt",
            threshold=2,
            lookback_s=65 * 60,
            pending="5m",
            severity="warning",
            no_data="OK",
        ),
    ]

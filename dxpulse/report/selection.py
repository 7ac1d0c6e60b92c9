"""Which dashboard panels the report shows, referenced by dashboard uid and panel title.

To add a panel, append one ``PanelRef`` to SELECTION. A reference that matches no panel
fails the report (and the unit tests) instead of silently dropping a chart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dxpulse.core import extras
from dxpulse.core.errors import DxpulseError

with extras.needed("report", extras.REPORT):
    from dxpulse.dashboards.build import variables

JSON = dict[str, Any]


@dataclass(frozen=True)
class PanelRef:
    dashboard_uid: str
    title: str


SELECTION: tuple[PanelRef, ...] = (
    PanelRef("dxpulse-overview", "Events per second"),
    PanelRef("dxpulse-overview", "Value per second (VND/s)"),
    PanelRef("dxpulse-regions", "Value by region"),
    PanelRef("dxpulse-regions", "Rural vs urban by channel"),
    PanelRef("dxpulse-regions", "Mobile Money rural share vs 72% reference"),
    PanelRef("dxpulse-ecommerce", "Orders by platform"),
    PanelRef("dxpulse-ecommerce", "Cash on delivery vs online payment"),
    PanelRef("dxpulse-mobile-money", "Transaction mix"),
    PanelRef("dxpulse-trends", "Value by event type, hourly"),
    PanelRef("dxpulse-trends", "Mobile Money: rural share of customers and value"),
    PanelRef("dxpulse-trends", "E-commerce: cashless share vs cash on delivery"),
    PanelRef("dxpulse-trends", "Average online-payment ticket"),
    PanelRef("dxpulse-trends", "Value per capita by region"),
    PanelRef("dxpulse-trends", "Top 10 provinces by value per capita"),
    PanelRef("dxpulse-trends", "Bottom 10 provinces by value per capita"),
    PanelRef("dxpulse-trends", "Value per capita by 2025 provincial unit"),
)


class SelectionError(DxpulseError):
    pass


@dataclass(frozen=True)
class SelectedPanel:
    """A referenced panel, found in the built dashboards, with its dashboard's variables."""

    dashboard_uid: str
    dashboard_title: str
    panel: JSON
    variables: tuple[JSON, ...]

    @property
    def title(self) -> str:
        return str(self.panel["title"])

    @property
    def slug(self) -> str:
        return slugify(self.title)


def slugify(text: str) -> str:
    """ASCII, lower case, dashes: a file name and an HTML id ("Value per second (VND/s)" ->
    "value-per-second-vnd-s")."""
    ascii_text = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_text = ascii_text.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "panel"


def resolve(models: Sequence[JSON], refs: Sequence[PanelRef] = SELECTION) -> list[SelectedPanel]:
    """The referenced panels, in order; SelectionError names what does not exist."""
    by_uid = {str(m["uid"]): m for m in models}
    selected = [_find(by_uid, ref) for ref in refs]
    slugs = [s.slug for s in selected]
    duplicates = sorted({s for s in slugs if slugs.count(s) > 1})
    if duplicates:
        raise SelectionError(f"report panels must have distinct titles; repeated: {duplicates}")
    return selected


def _find(by_uid: dict[str, JSON], ref: PanelRef) -> SelectedPanel:
    model = by_uid.get(ref.dashboard_uid)
    if model is None:
        raise SelectionError(
            f"report panel {ref.title!r}: no dashboard {ref.dashboard_uid!r} "
            f"(there are {sorted(by_uid)})"
        )
    panels = list(model.get("panels", []))
    matches = [p for p in panels if p.get("title") == ref.title]
    if len(matches) != 1:
        titles = [p.get("title") for p in panels]
        found = "no" if not matches else f"{len(matches)}"
        raise SelectionError(
            f"report panel {ref.title!r}: {found} such panel in {ref.dashboard_uid} "
            f"(its panels: {titles})"
        )
    return SelectedPanel(
        ref.dashboard_uid, str(model["title"]), matches[0], tuple(variables(model))
    )

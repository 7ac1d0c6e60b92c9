"""Which dashboard panels the report shows, referenced by dashboard uid and panel title.

To add a panel, add one ``PanelRef`` (with its chapter) to CORE_PANELS. A reference that
matches no panel fails the report (and the unit tests) instead of silently dropping a chart.
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


# The report is a story an analyst would send, in this order (after the headline numbers):
# chapter id -> the heading the page shows.
CHAPTERS: dict[str, str] = {
    "regions": "The regional gap",
    "cities": "Hà Nội and TP. Hồ Chí Minh vs the rest",
    "rural-urban": "Rural and urban",
    "mobile-money": "Mobile Money",
    "ecommerce": "E-commerce",
    "trends": "Trends",
}


@dataclass(frozen=True)
class PanelRef:
    dashboard_uid: str
    title: str
    chapter: str = "trends"

    def __post_init__(self) -> None:
        if self.chapter not in CHAPTERS:
            raise ValueError(f"unknown report chapter {self.chapter!r} (one of {list(CHAPTERS)})")


CORE_PANELS: tuple[PanelRef, ...] = (
    PanelRef("dxpulse-regions", "Value by region", "regions"),
    PanelRef("dxpulse-trends", "Value per capita by region", "regions"),
    PanelRef("dxpulse-trends", "Top 10 provinces by value per capita", "regions"),
    PanelRef("dxpulse-trends", "Bottom 10 provinces by value per capita", "regions"),
    PanelRef("dxpulse-trends", "Value per capita by 2025 provincial unit", "regions"),
    PanelRef("dxpulse-regions", "Rural vs urban by channel", "rural-urban"),
    PanelRef("dxpulse-regions", "Mobile Money rural share vs 72% reference", "mobile-money"),
    PanelRef("dxpulse-mobile-money", "Transaction mix", "mobile-money"),
    PanelRef("dxpulse-ecommerce", "Orders by platform", "ecommerce"),
    PanelRef("dxpulse-ecommerce", "Cash on delivery vs online payment", "ecommerce"),
    PanelRef("dxpulse-trends", "Value by event type, hourly", "trends"),
)
# The panels that show the realism of issue 17: the two cities, the rural-urban gaps, growth.
REALISM_PANELS: tuple[PanelRef, ...] = (
    PanelRef("dxpulse-regions", "Hà Nội and TP. Hồ Chí Minh vs the other provinces", "cities"),
    PanelRef("dxpulse-regions", "Average ticket: rural vs urban", "rural-urban"),
    PanelRef("dxpulse-regions", "Channel mix: rural vs urban", "rural-urban"),
    PanelRef("dxpulse-regions", "Mobile Money rural share by region", "mobile-money"),
    PanelRef("dxpulse-ecommerce", "Platform shares", "ecommerce"),
    PanelRef("dxpulse-ecommerce", "Cash on delivery: rural vs urban", "ecommerce"),
    PanelRef("dxpulse-trends", "Monthly growth: count and value", "trends"),
    PanelRef("dxpulse-trends", "Average online-payment ticket by month", "trends"),
)


def in_story_order(refs: Sequence[PanelRef]) -> tuple[PanelRef, ...]:
    """``refs`` by chapter (CHAPTERS' order), keeping their order within a chapter."""
    order = list(CHAPTERS)
    return tuple(sorted(refs, key=lambda ref: order.index(ref.chapter)))


SELECTION: tuple[PanelRef, ...] = in_story_order(CORE_PANELS + REALISM_PANELS)


class SelectionError(DxpulseError):
    pass


@dataclass(frozen=True)
class SelectedPanel:
    """A referenced panel, found in the built dashboards, with its dashboard's variables."""

    dashboard_uid: str
    dashboard_title: str
    panel: JSON
    variables: tuple[JSON, ...]
    chapter: str = "trends"

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
        ref.dashboard_uid, str(model["title"]), matches[0], tuple(variables(model)), ref.chapter
    )

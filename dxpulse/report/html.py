"""The report page: one self-contained HTML file (inline CSS, charts as data: URIs).

Every piece of text from a panel, a query result or the settings goes through ``_e``.
The ``data-*`` attributes let tests (and scripts) read what each section ran.
"""

from __future__ import annotations

import base64
from html import escape

from dxpulse import __version__
from dxpulse.report.charts import Style, style_of
from dxpulse.report.compose import Report, Section
from dxpulse.report.headline import GROWTH_DAYS, Headline
from dxpulse.report.queries import Result
from dxpulse.report.selection import CHAPTERS
from dxpulse.report.timerange import VN_TZ, duration_text
from dxpulse.report.units import format_value, is_number

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1f2328; margin: 0; background: #f6f8fa; }
header, main { max-width: 1040px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 24px; }
header dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; }
header dt { color: #59636e; }
header dd { margin: 0; }
section { background: #fff; border: 1px solid #d1d9e0; border-radius: 8px;
          padding: 12px 20px; margin: 18px 0; }
section h2 { margin: 4px 0; font-size: 1.2em; }
.from { color: #59636e; font-size: 0.9em; }
img { max-width: 100%; height: auto; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.tile { border: 1px solid #d1d9e0; border-radius: 6px; padding: 8px 16px; min-width: 140px; }
.tile .value { font-size: 2em; font-weight: 600; }
.tile .name { color: #59636e; font-size: 0.9em; }
table { border-collapse: collapse; margin: 12px 0; }
th, td { border-bottom: 1px solid #d1d9e0; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.no-data { color: #9a6700; font-weight: 600; }
.note { color: #59636e; font-size: 0.9em; margin: 4px 0 8px; }
h2.chapter { margin: 32px 0 4px; font-size: 1.4em; border-bottom: 2px solid #d1d9e0; }
section h3 { margin: 4px 0; font-size: 1.15em; }
.headline { display: grid; grid-template-columns: repeat(3, 1fr);
            gap: 12px; margin: 12px 0; }
.headline .tile { background: #fff; }
.headline .sub { color: #59636e; font-size: 0.85em; }
pre { background: #f6f8fa; padding: 10px; overflow-x: auto; font-size: 0.85em; }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def page(report: Report) -> str:
    drawn = sum(s.png is not None for s in report.sections)
    empty = sum(s.empty for s in report.sections)
    body = chapters_html(report.sections)
    r = report.time_range
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dxpulse report · {_e(r.label())}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>dxpulse report</h1>
<p>Vietnam's digital economy, drawn from the same SQL as the Grafana dashboards.</p>
<dl>
<dt>Time range</dt><dd>{_e(r.label())}</dd>
<dt>Bucket</dt><dd>{_e(duration_text(r.interval_s))} (time series; at least the panel's own;
 shares coarser, see their notes)</dd>
<dt>Data source</dt><dd>{_e(report.source)}</dd>
<dt>Generated</dt><dd>{_e(f"{report.generated_at.astimezone(VN_TZ):%Y-%m-%d %H:%M:%S}")}
 Vietnam time, dxpulse {_e(__version__)}</dd>
<dt>Panels</dt><dd>{len(report.sections)}; {drawn} with a chart, {empty} without data</dd>
</dl>
{headline_html(report.headline) if report.headline else ""}
</header>
<main data-from="{_e(r.start.isoformat())}" data-to="{_e(r.end.isoformat())}">
{body}
</main>
</body>
</html>
"""


def section_html(section: Section) -> str:
    panel = section.panel
    return f"""<section id="{_e(panel.slug)}" data-panel="{_e(panel.title)}" \
data-dashboard="{_e(panel.dashboard_uid)}" data-kind="{_e(section.kind)}" \
data-rows="{section.rows}" data-interval-s="{section.interval_s}">
<h3>{_e(panel.title)}</h3>
<p>{_e(panel.panel.get("description", ""))}
<span class="from">— from “{_e(panel.dashboard_title)}”</span></p>
{_content(section)}
{f'<p class="note">{_e(section.note)}</p>' if section.note else ""}
<details><summary>SQL ({section.rows} rows)</summary>
<pre><code>{_e(section.sql)}</code></pre>
</details>
</section>"""


def _content(section: Section) -> str:
    if section.empty:
        return '<p class="no-data">No data in this time range.</p>'
    if section.png is not None:
        data = base64.b64encode(section.png).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{_e(section.panel.title)}">'
    style = style_of(section.panel.panel)
    if section.kind == "tile":
        return tiles_html(section.result, style)
    return table_html(section.result, style)


def tiles_html(result: Result, style: Style) -> str:
    """A stat panel: each numeric column of the last row as a big number (Grafana's
    lastNotNull reduction)."""
    last = result.rows[-1]
    tiles = [
        f'<div class="tile"><div class="value">{_e(format_value(v, style.unit_of(c)))}</div>'
        f'<div class="name">{_e(style.label_of(c))}</div></div>'
        for c, v in zip(result.columns, last, strict=True)
        if is_number(v) or v is None
    ]
    return f'<div class="tiles">{"".join(tiles)}</div>'


def table_html(result: Result, style: Style) -> str:
    head = "".join(f"<th>{_e(style.label_of(c))}</th>" for c in result.columns)
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{_e(format_value(v, style.unit_of(c)))}</td>"
            for c, v in zip(result.columns, row, strict=True)
        )
        + "</tr>"
        for row in result.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def chapters_html(sections: tuple[Section, ...]) -> str:
    """The sections, each run of one chapter under that chapter's heading."""
    parts, current = [], None
    for section in sections:
        if section.panel.chapter != current:
            current = section.panel.chapter
            heading = CHAPTERS.get(current, current)
            parts.append(f'<h2 class="chapter" id="chapter-{_e(current)}">{_e(heading)}</h2>')
        parts.append(section_html(section))
    return "\n".join(parts)


def headline_html(headline: Headline) -> str:
    """The numbers an analyst quotes first, each with what it is measured on."""
    tiles = [
        _tile("Events", f"{headline.events:,}", "online payments, e-commerce orders, Mobile Money"),
        _tile("Value", format_value(headline.value_vnd, "currencyVND"),
              f"{headline.value_vnd:,} VND in the range"),
        _tile("Mobile Money customers who are rural", _share(headline.rural_share),
              f"of {headline.mobile_money_customers:,} active customers"),
        _tile(f"{headline.cities()}: share of e-commerce value", _share(headline.cities_share),
              f"of {format_value(headline.ecommerce_gmv_vnd, 'currencyVND')} order value"),
        *_growth_tiles(headline),
    ]  # fmt: skip
    return f'<div class="headline" id="headline">{"".join(tiles)}</div>'


def _growth_tiles(headline: Headline) -> list[str]:
    """Events and value: year on year when the data spans it, else the last 30 days."""
    growth = headline.growth
    if growth is None:
        basis = f"last {GROWTH_DAYS} days vs the {GROWTH_DAYS} before"
        sub = f"Not measured: {headline.growth_note}."
        return [_tile(f"Growth in {what}: {basis}", "–", sub) for what in ("events", "value")]
    return [
        _tile(f"Growth in events: {growth.basis}", _signed(growth.events_change), growth.compared),
        _tile(f"Growth in value: {growth.basis}", _signed(growth.value_change), growth.compared),
    ]


def _tile(name: str, value: str, sub: str) -> str:
    return (
        f'<div class="tile"><div class="name">{_e(name)}</div>'
        f'<div class="value">{_e(value)}</div><div class="sub">{_e(sub)}</div></div>'
    )


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _signed(value: float | None) -> str:
    # A real minus sign: a hyphen before a big number reads as a dash.
    return "–" if value is None else f"{value:+.1%}".replace("-", "−")

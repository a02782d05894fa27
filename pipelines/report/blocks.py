"""The blocks a page is made of: tables of cells, charts, notes, sections and the page itself."""

from __future__ import annotations

import datetime
import decimal
import functools
import json
import re
from dataclasses import dataclass, field

from markupsafe import Markup

CHART_CONFIG = {"displaylogo": False, "displayModeBar": False, "responsive": True}
"""No mode bar: the committee reads the charts; `responsive` lets them follow the width (site.js stacks them)."""


@dataclass
class Cell:
    text: str
    sort: str | float | None = None
    cls: str = ""
    title: str = ""
    href: str | None = None


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    table_id: str = ""
    row_data: list[dict[str, str]] = field(default_factory=list)
    filters: list[dict] = field(default_factory=list)
    kind: str = "table"
    html: Markup | None = field(default=None, repr=False, compare=False)
    """The rendered table, kept by the site: a page set and latest/ show the same table."""


UNICODE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})")


def _unescape(match: re.Match) -> str:
    """A \\uXXXX escape as its character, except ASCII (plotly escapes <, > and / on purpose),
    line separators and surrogates, which stay escaped."""
    code = int(match.group(2), 16)
    if code < 0x80 or code in (0x2028, 0x2029) or 0xD800 <= code <= 0xDFFF:
        return match.group(0)
    return match.group(1) + chr(code)


def plotly_json(value: object) -> str:
    """JSON as plotly.io writes a figure into a page: compact, NaN and Infinity as null, and <, > and /
    escaped so that no text can close the script element."""
    out = json.dumps(value, separators=(",", ":"), default=_jsonable)
    if "NaN" in out or "Infinity" in out:
        out = json.dumps(json.loads(out, parse_constant=lambda _: None), separators=(",", ":"))
    return out.replace("<", "\\u003c").replace(">", "\\u003e").replace("/", "\\u002f")


def _jsonable(value: object) -> object:
    """What the warehouse hands over besides JSON's own types: decimals and dates."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


CHART_HTML = """\
<div style="height:{height}; width:100%;">\
                            <div id="{id}" class="plotly-graph-div" \
style="height:100%; width:100%;"></div>\
            <script>\
                window.PLOTLYENV=window.PLOTLYENV || {{}};\
                                if (document.getElementById("{id}")) {{\
                    Plotly.newPlot(\
                        "{id}",\
                        {data},\
                        {layout},\
                        {config}\
                    )\
                }};\
            </script>\
        </div>"""
"""plotly.io.to_html(fig, include_plotlyjs=False, full_html=False)'s div and script, character for character."""


@dataclass
class Chart:
    chart_id: str
    figure: dict
    """Plotly JSON, {"data": [...], "layout": {...}} (see plot.py); written as is, without validation."""
    kind: str = "chart"

    @functools.cached_property
    def markup(self) -> Markup:
        """The chart's div and script; non-ASCII text kept as UTF-8 rather than \\u escapes (half the bytes)."""
        layout = self.figure.get("layout", {})
        snippet = CHART_HTML.format(
            height=f"{layout.get('height') or 450}px",
            id=self.chart_id,
            data=plotly_json(self.figure.get("data", [])),
            layout=plotly_json(layout),
            config=json.dumps(CHART_CONFIG),
        )
        return Markup(UNICODE_ESCAPE.sub(_unescape, snippet))


@dataclass
class Note:
    html: Markup
    kind: str = "note"


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)
    intro: str = ""


@dataclass
class Page:
    key: str
    title: str
    sections: list[Section]
    kpis: list[dict] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    script: str = ""
    parent: tuple[str, str] | None = None
    """(code, name) of the league a county page belongs to: its page links back to it."""
    pdf: bool = False
    """Whether the latest set prints this page to PDF (the entry page and the league pages)."""

    @property
    def depth(self) -> int:
        """How many folders below its set the page sits (county/150102 is one)."""
        return self.key.count("/")

    @property
    def charts(self) -> list[Chart]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]

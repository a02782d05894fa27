"""The blocks a page is made of: tables of cells, charts, notes, sections and the page itself."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import plotly.io as pio
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


UNICODE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})")


def _unescape(match: re.Match) -> str:
    """A \\uXXXX escape as its character, except ASCII (plotly escapes <, > and / on purpose),
    line separators and surrogates, which stay escaped."""
    code = int(match.group(2), 16)
    if code < 0x80 or code in (0x2028, 0x2029) or 0xD800 <= code <= 0xDFFF:
        return match.group(0)
    return match.group(1) + chr(code)


@dataclass
class Chart:
    chart_id: str
    figure: dict
    """Plotly JSON, {"data": [...], "layout": {...}} (see plot.py); written as is, without validation."""
    kind: str = "chart"

    @functools.cached_property
    def markup(self) -> Markup:
        """The chart's div and script; non-ASCII text kept as UTF-8 rather than \\u escapes (half the bytes)."""
        snippet = pio.to_html(
            self.figure,
            validate=False,
            include_plotlyjs=False,
            full_html=False,
            div_id=self.chart_id,
            config=CHART_CONFIG,
            default_width="100%",
            default_height=f"{self.figure['layout'].get('height') or 450}px",
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

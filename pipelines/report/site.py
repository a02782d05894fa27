"""The committee's report site: static pages built from mart frames, Chinese first with English twins.

`load_report_data` reads the marts once over a read-only connection; everything after it is a
plain function of frames, so the pages are tested without Dagster or a warehouse.
`build_site` writes one page set per wave plus `latest/`, each page in Chinese and under
`en/` in English, with plotly.js shipped once in `assets/`. Only aggregates are embedded.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import jinja2
import plotly
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from markupsafe import Markup
from plotly.subplots import make_subplots

from pipelines.catalogue.metrics import CATEGORY_LABELS, METRIC_BY_NAME, Thresholds
from pipelines.catalogue.questionnaire import item_labels
from pipelines.report.text import (DIRECTION, LANGS, REJECT_KINDS, RULES,
                                   SCHOOL_COUNTS, SEVERITY, SOURCES, label, text)
from pipelines.resources import FatalPipelineError, load_sql
from pipelines.catalogue.rules import WAVE_PATTERN

FONT_STACK = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'
SUPPRESSED = "‡"
MISSING = "—"
CAUTION = "*"
UNRELIABLE = "**"
LATEST = "latest"
WAVE_KEY = re.compile(WAVE_PATTERN)
TEMPLATES = Path(__file__).parent / "templates"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
ITEMS = tuple(f"item_{i:02d}" for i in range(1, 27))
CATEGORIES = tuple(f"hours_cat{i}" for i in CATEGORY_LABELS)
REPORT_METRICS = ("hours_total", "hours_nonteaching", *CATEGORIES, "nonteaching_share", "felt_lighter_share",
                  "felt_heavier_share", "felt_net", "focus_share", *ITEMS, "n_inspections",
                  "school_inspections_per_school", "school_seconded_over_6m")
PAGE_CHARTS = {"index": 3, "trends": 1, "breakdowns": 2, "inspection": 1, "alerts": 0, "quality": 2, "league": 2,
               "policy": 1}
COLOURS = {"measured": "#1f5aa6", "felt": "#c2571a", "baseline": "#8a8f98", "met": "#2e7d32",
           "missed": "#d84315", "red": "#c62828", "region": "#444444"}
CATEGORY_COLOURS = ("#1f5aa6", "#4f9bd9", "#e0a030", "#8e5ea2", "#c2571a")
CHART_CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"scale": 2}}
SITE_TEMPLATE = go.layout.Template(layout={
    "font": {"family": FONT_STACK, "size": 13, "color": "#222"},
    "paper_bgcolor": "white", "plot_bgcolor": "white", "hovermode": "closest",
    "hoverlabel": {"font": {"family": FONT_STACK}, "align": "left"},
    "xaxis": {"gridcolor": "#e6e6e6", "zerolinecolor": "#bbbbbb", "linecolor": "#999", "automargin": True},
    "yaxis": {"gridcolor": "#e6e6e6", "zerolinecolor": "#bbbbbb", "linecolor": "#999", "automargin": True},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
})


@dataclass
class ReportData:
    """Every frame the site needs, read once; only aggregates (see sql/reports)."""

    divisions: pl.DataFrame
    items: pl.DataFrame
    metrics: pl.DataFrame
    inspection: pl.DataFrame
    trends: pl.DataFrame
    alerts: pl.DataFrame
    loads: pl.DataFrame
    completeness: pl.DataFrame
    rejected: pl.DataFrame
    rejected_files: pl.DataFrame
    outliers: pl.DataFrame | None = None
    consistency: pl.DataFrame | None = None
    county_models: pl.DataFrame | None = None
    respondent_quality: pl.DataFrame | None = None
    policy: object | None = None
    """pipelines.report.policy.PolicyData: the policy-cap marts and cases."""
    questions: dict = field(default_factory=item_labels)
    """item_NN -> (zh, en) question text, from the questionnaire.csv the importer read."""
    _cells: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cells = {(r["wave"], r["area_code"], r["metric"]): r for r in self.metrics.iter_rows(named=True)}
        self._models = ({} if self.county_models is None else
                        {(r["wave"], r["area_code"], r["metric"]): r for r in self.county_models.iter_rows(named=True)})
        self._names = {r["code"]: (r["name_zh"], r["name_en"]) for r in self.divisions.iter_rows(named=True)}
        regions = self.divisions.filter(pl.col("level") == "region")["code"].to_list()
        self._region = regions[0] if regions else ""

    @property
    def waves(self) -> list[str]:
        found = set(self.metrics["wave"].to_list()) | set(self.loads["wave"].drop_nulls().to_list())
        return sorted(w for w in found if w and WAVE_KEY.fullmatch(w))

    @property
    def latest_wave(self) -> str | None:
        """The latest wave with accepted teacher responses: a stray row of a later wave is not "latest"."""
        taught = self.loads.filter((pl.col("source") == "teacher_survey") & (pl.col("rows_accepted") > 0))
        waves = sorted(w for w in taught["wave"].drop_nulls().to_list() if w in self.waves)
        return waves[-1] if waves else (self.waves[-1] if self.waves else None)

    @property
    def region(self) -> str:
        return self._region

    @property
    def leagues(self) -> list[str]:
        return sorted(self.divisions.filter(pl.col("level") == "league")["code"].to_list())

    def counties(self, league: str) -> list[str]:
        return sorted(self.divisions.filter((pl.col("level") == "county") & (pl.col("parent_code") == league))
                      ["code"].to_list())

    @property
    def baseline(self) -> str | None:
        bases = self.inspection["baseline_wave"].drop_nulls().unique().to_list()
        return min(bases) if bases else (self.waves[0] if self.waves else None)

    def name(self, code: str, lang: str) -> str:
        """A division's name; the region is '全区' / 'Region', as the committee says it."""
        if code == self.region:
            return text("region", lang)
        pair = self._names.get(code)
        return pair[LANGS.index(lang)] if pair else code

    def cell(self, wave: str, area: str, metric: str) -> dict | None:
        return self._cells.get((wave, area, metric))

    def model(self, wave: str, area: str, metric: str) -> dict | None:
        """The Fay–Herriot figure of a thin county (marts.county_estimates), if any."""
        return self._models.get((wave, area, metric))

    def waves_to(self, wave: str) -> list[str]:
        return [w for w in self.waves if w <= wave]


def _exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether a table exists (information_schema): the quality marts come from another asset group."""
    return conn.sql("select count(*) from information_schema.tables where table_schema = $s and table_name = $t",
                    params={"s": schema, "t": table}).fetchall()[0][0] > 0


def _has_rows(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return _exists(conn, schema, table) and conn.sql(f"select count(*) from {schema}.{table}").fetchall()[0][0] > 0


def load_report_data(conn: duckdb.DuckDBPyConnection, questionnaire: Path | None = None) -> ReportData:
    """The report frames from the marts and reference tables; quality marts only where they exist.

    `questionnaire`: the questionnaire.csv the importer read (the data directory's override, if any).
    """
    from pipelines.report.policy import load_policy_data

    def read(query: str, **params) -> pl.DataFrame:
        return conn.sql(query, params=params).pl()

    loads = read("select * from marts.data_quality order by wave nulls first, source")
    completeness = (read("select wave, area_level, area_code, schools_expected, schools_reporting, completeness, "
                         "schools_on_time, on_time_share from marts.reporting_completeness "
                         "where area_level = 'league' order by wave, area_code")
                    if _has_rows(conn, "marts", "reporting_completeness")
                    else read(load_sql("reports/league_completeness.sql")))
    return ReportData(
        questions=item_labels(questionnaire),
        divisions=read("select code, name_zh, name_en, level, parent_code from ref.divisions order by code"),
        items=read("select item_no, category_no, text_zh, text_en, red_line from ref.burden_items order by item_no"),
        metrics=read(load_sql("reports/area_metrics.sql"), metrics=list(REPORT_METRICS), digits=6),
        inspection=read("select area_level, area_code, wave, baseline_wave, inspections_per_school, "
                        "baseline_per_school, reduction_pct, target_met, n_schools, baseline_n_schools "
                        "from marts.inspection_target order by area_code, wave"),
        trends=read("select area_level, area_code, metric, n_waves, first_wave, last_wave, slope_per_wave, "
                    "p_value, direction from marts.trends"),
        alerts=read("select wave, area_level, area_code, rule, severity, metric, value, threshold, message, "
                    "message_en from marts.alerts order by wave, area_code, rule"),
        loads=loads,
        completeness=completeness,
        rejected=read(load_sql("reports/rejected_reasons.sql")),
        rejected_files=read("select source, file, reason from quarantine.rejected_files order by source, file"),
        outliers=read(load_sql("reports/outliers.sql")) if _exists(conn, "marts", "outliers") else None,
        consistency=(read(load_sql("reports/source_consistency.sql"))
                     if _exists(conn, "marts", "source_consistency") else None),
        county_models=(read(load_sql("reports/county_estimates.sql"), metrics=list(REPORT_METRICS), digits=6)
                       if _exists(conn, "marts", "county_estimates") else None),
        respondent_quality=(read("select wave, flag, rows_flagged, rows_accepted, share_flagged, rows_excluded "
                                 "from marts.respondent_quality order by wave, flag")
                            if _exists(conn, "marts", "respondent_quality") else None),
        policy=load_policy_data(conn),
    )


def metric_label(metric: str, lang: str) -> str:
    m = METRIC_BY_NAME[metric]
    return m.label_zh if lang == "zh" else m.label_en


def metric_unit(metric: str, lang: str) -> str:
    m = METRIC_BY_NAME[metric]
    return m.unit_zh if lang == "zh" else m.unit_en


def metric_title(metric: str, lang: str) -> str:
    """'label（unit）': every axis and column heading names its unit."""
    unit = metric_unit(metric, lang)
    unit = f"{unit}，%" if lang == "zh" and _is_share(metric) else (f"{unit}, %" if _is_share(metric) else unit)
    return f"{metric_label(metric, lang)}（{unit}）" if lang == "zh" else f"{metric_label(metric, lang)} ({unit})"


def _is_share(metric: str) -> bool:
    return METRIC_BY_NAME[metric].kind in ("share", "ratio")


def d3_format(metric: str) -> str:
    """The hover format of a metric's values (shares are stored as fractions)."""
    kind = METRIC_BY_NAME[metric].kind
    if kind in ("share", "ratio"):
        return "+.1%" if metric == "felt_net" else ".1%"
    return {"per_school": ".2f", "total": ".0f"}.get(kind, ".1f")


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return MISSING
    kind = METRIC_BY_NAME[metric].kind
    if kind in ("share", "ratio"):
        return f"{value * 100:+.1f}%" if metric == "felt_net" else f"{value * 100:.1f}%"
    return {"per_school": f"{value:.2f}", "total": f"{value:.0f}"}.get(kind, f"{value:.1f}")


def absent_mark(cell: dict | None, lang: str) -> str:
    """What stands where no estimate is shown: not collected, suppressed (‡) or no data (—)."""
    if cell is None:
        return MISSING
    return text("not_collected", lang) if cell.get("not_collected") else SUPPRESSED


def absent_hover(cell: dict | None, lang: str) -> str:
    if cell is None:
        return text("fn_missing", lang)
    return text("hover_not_collected", lang) if cell.get("not_collected") else text("hover_suppressed", lang)


def format_cell(metric: str, cell: dict | None, lang: str = "zh") -> str:
    """A published cell as 'estimate [low–high]', a suppressed one as ‡, an absent one as —.

    A metric whose question was not in the area's files reads "not collected", never ‡.
    """
    if cell is None:
        return MISSING
    if cell["suppressed"] or cell.get("not_collected"):
        return absent_mark(cell, lang)
    if cell["estimate"] is None:
        return MISSING
    shown = format_value(metric, cell["estimate"])
    if cell["ci_low"] is not None and cell["ci_high"] is not None:
        shown += f" [{format_value(metric, cell['ci_low'])}, {format_value(metric, cell['ci_high'])}]"
    if cell.get("reliability") == "caution":
        shown += CAUTION
    elif cell.get("reliability") == "unreliable":
        shown += UNRELIABLE
    return shown


def format_n(n) -> str:
    return MISSING if n is None else f"{n:,}"


def format_pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return MISSING
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


@dataclass
class Cell:
    text: str
    sort: str | float | None = None
    cls: str = ""
    title: str = ""


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
    figure: go.Figure
    kind: str = "chart"

    @functools.cached_property
    def markup(self) -> Markup:
        """The chart's div and script; non-ASCII text kept as UTF-8 rather than \\u escapes (half the bytes)."""
        snippet = pio.to_html(self.figure, include_plotlyjs=False, full_html=False, div_id=self.chart_id,
                              config=CHART_CONFIG, default_width="100%",
                              default_height=f"{self.figure.layout.height or 450}px")
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

    @property
    def charts(self) -> list[Chart]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]


def metric_cell(metric: str, cell: dict | None, lang: str) -> Cell:
    """A table cell of a metric: sortable by its estimate, ‡ explained in its tooltip."""
    shown = format_cell(metric, cell, lang)
    if cell is not None and (cell["suppressed"] or cell.get("not_collected")):
        return Cell(shown, None, "suppressed", absent_hover(cell, lang))
    return Cell(shown, None if cell is None else cell["estimate"], "num")


def model_cell(metric: str, direct: Cell, model: dict | None, lang: str) -> Cell:
    """A thin county's direct figure kept first, its model-based (模型估计) figure beside it."""
    if model is None:
        return direct
    shown = (f"{direct.text} ｜ {text('model_based', lang)} {format_value(metric, model['estimate'])}"
             f" ±{format_value(metric, 1.96 * model['rmse']).lstrip('+')}")
    return Cell(shown, direct.sort, direct.cls + " model", text("hover_model", lang))


def _source_line(metric: str, wave: str, n, lang: str) -> str:
    if METRIC_BY_NAME[metric].source == "school_report":
        return text("source_school", lang, wave=wave, n=format_n(n))
    return text("source_survey", lang, wave=wave, n=format_n(n))


def _finish(fig: go.Figure, title: str, source: str, height: int, bottom: int = 96, top: int = 70) -> go.Figure:
    """Title, the shared template and the source line under the plot: the same frame on every chart."""
    fig.update_layout(template=SITE_TEMPLATE, height=height, title={"text": title, "x": 0, "xanchor": "left"},
                      margin={"l": 10, "r": 20, "t": top, "b": bottom})
    fig.add_annotation(text=source, xref="paper", yref="paper", x=0, y=0, xanchor="left", yanchor="top",
                       yshift=-(bottom - 24), showarrow=False, font={"size": 11, "color": "#555"},
                       name="source")
    return fig


def _hover(metric: str, lang: str, area: str = "%{y}") -> str:
    """Hover text of an estimate with its interval and n (customdata = [low, high, n])."""
    fmt, unit = d3_format(metric), metric_unit(metric, lang)
    unit = "" if _is_share(metric) else f" {unit}"
    return (f"<b>{area}</b><br>{text('estimate', lang)}: %{{x:{fmt}}}{unit}<br>"
            f"{text('interval', lang)}: %{{customdata[0]:{fmt}}} – %{{customdata[1]:{fmt}}}<br>"
            f"n = %{{customdata[2]:,}}<extra></extra>")


def _axis_format(metric: str) -> dict:
    return {"tickformat": ".0%"} if _is_share(metric) else {}


def _published(cell: dict | None) -> bool:
    return cell is not None and not cell["suppressed"] and cell["estimate"] is not None


def dot_order(data: ReportData, wave: str, metric: str, areas: list[str], lang: str) -> list[str]:
    """Area names bottom to top: suppressed or absent first, then by estimate, so the highest is on top."""
    cells = [(data.name(code, lang), data.cell(wave, code, metric)) for code in areas]
    hidden = [name for name, cell in cells if not _published(cell)]
    shown = sorted(((name, cell) for name, cell in cells if _published(cell)), key=lambda p: p[1]["estimate"])
    return hidden + [name for name, _ in shown]


def _add_dots(fig: go.Figure, data: ReportData, wave: str, metric: str, areas: list[str], parent: str,
              lang: str, colour: str, col: int = 1) -> None:
    """Areas' estimates with 95% whiskers into subplot `col`, ‡ where suppressed, the parent as a dashed line."""
    xref, yref = _axis_ref("x", col), _axis_ref("y", col)
    cells = [(data.name(code, lang), data.cell(wave, code, metric)) for code in areas]
    shown = [(name, c) for name, c in cells if _published(c)]
    fig.add_trace(go.Scatter(
        x=[c["estimate"] for _, c in shown], y=[name for name, _ in shown], mode="markers",
        marker={"size": 9, "color": colour}, name=metric_label(metric, lang), showlegend=False,
        error_x={"type": "data", "symmetric": False, "color": colour, "thickness": 1.5,
                 "array": [(c["ci_high"] - c["estimate"]) if c["ci_high"] is not None else 0 for _, c in shown],
                 "arrayminus": [(c["estimate"] - c["ci_low"]) if c["ci_low"] is not None else 0 for _, c in shown]},
        customdata=[[c["ci_low"], c["ci_high"], c["n"]] for _, c in shown], hovertemplate=_hover(metric, lang),
        xaxis=xref, yaxis=yref))
    for name, cell in cells:
        if not _published(cell):
            fig.add_annotation(x=0.01, xref=f"{xref} domain", y=name, yref=yref, showarrow=False, xanchor="left",
                               text=absent_mark(cell, lang), font={"size": 15, "color": COLOURS["red"]},
                               hovertext=absent_hover(cell, lang))
    parent_cell = data.cell(wave, parent, metric)
    if _published(parent_cell):
        value = parent_cell["estimate"]
        fig.add_shape(type="line", x0=value, x1=value, xref=xref, y0=0, y1=1, yref=f"{yref} domain",
                      line={"dash": "dash", "color": COLOURS["region"], "width": 1})
        fig.add_annotation(x=value, xref=xref, y=1, yref=f"{yref} domain", yanchor="bottom", showarrow=False,
                           text=f"{data.name(parent, lang)} {format_value(metric, value)}",
                           font={"size": 11, "color": COLOURS["region"]})
    fig.update_xaxes(title_text=metric_title(metric, lang), row=1, col=col, **_axis_format(metric))


def area_dot_figure(data: ReportData, wave: str, metric: str, areas: list[str], parent: str, lang: str,
                    title: str) -> go.Figure:
    """One metric across areas (the leagues, say), sorted, with intervals and the parent for reference."""
    fig = make_subplots(rows=1, cols=1)
    _add_dots(fig, data, wave, metric, areas, parent, lang, COLOURS["measured"])
    order = dot_order(data, wave, metric, areas, lang)
    fig.update_yaxes(title_text=text("axis_league" if parent == data.region else "county", lang),
                     type="category", categoryorder="array", categoryarray=order)
    n = (data.cell(wave, parent, metric) or {}).get("n")
    return _finish(fig, title, _source_line(metric, wave, n, lang), height=220 + 30 * len(order))


def county_figure(data: ReportData, wave: str, league: str, lang: str) -> go.Figure:
    """The league's counties on measured hours (left) and felt_net (right), rows in the same order."""
    counties = data.counties(league)
    name = data.name(league, lang)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06)
    _add_dots(fig, data, wave, "hours_nonteaching", counties, league, lang, COLOURS["measured"], col=1)
    _add_dots(fig, data, wave, "felt_net", counties, league, lang, COLOURS["felt"], col=2)
    order = dot_order(data, wave, "hours_nonteaching", counties, lang)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=order)
    fig.update_yaxes(title_text=text("county", lang), row=1, col=1)
    n = (data.cell(wave, league, "hours_nonteaching") or {}).get("n")
    return _finish(fig, text("chart_county", lang, league=name, wave=wave),
                   _source_line("hours_nonteaching", wave, n, lang), height=260 + 30 * len(counties))


def region_compare_figure(data: ReportData, wave: str, baseline: str, lang: str) -> go.Figure:
    """The region in the baseline and the report wave, side by side for the three headline measures."""
    metrics = ("hours_nonteaching", "felt_net", "school_inspections_per_school")
    fig = make_subplots(rows=1, cols=3, subplot_titles=[metric_label(m, lang) for m in metrics],
                        horizontal_spacing=0.1)
    waves = [baseline, wave] if baseline != wave else [wave]
    for col, metric in enumerate(metrics, start=1):
        cells = [data.cell(w, data.region, metric) for w in waves]
        census = METRIC_BY_NAME[metric].source == "school_report"
        for w, cell in zip(waves, cells):
            if not _published(cell):
                fig.add_annotation(x=w, y=0.1, xref=_axis_ref("x", col), yref=f"{_axis_ref('y', col)} domain",
                                   text=absent_mark(cell, lang), showarrow=False,
                                   font={"size": 15, "color": COLOURS["red"]},
                                   hovertext=absent_hover(cell, lang))
                continue
            colour = COLOURS["baseline"] if w == baseline and w != wave else COLOURS["measured"]
            low = cell["ci_low"] if cell["ci_low"] is not None else cell["estimate"]
            high = cell["ci_high"] if cell["ci_high"] is not None else cell["estimate"]
            fmt = d3_format(metric)
            interval = (text("hover_census", lang) if census else
                        f"{text('interval', lang)}: %{{customdata[0]:{fmt}}} – %{{customdata[1]:{fmt}}}")
            fig.add_trace(go.Bar(
                x=[w], y=[cell["estimate"]], marker_color=colour, width=0.5, showlegend=False,
                error_y=None if census else {"type": "data", "symmetric": False, "array": [high - cell["estimate"]],
                                             "arrayminus": [cell["estimate"] - low], "color": "#222"},
                customdata=[[low, high, cell["n"]]], text=[format_value(metric, cell["estimate"])],
                textposition="inside" if census else "none",
                hovertemplate=(f"<b>%{{x}}</b><br>{text('estimate', lang)}: %{{y:{fmt}}}<br>{interval}<br>"
                               f"n = %{{customdata[2]:,}}<extra></extra>")), row=1, col=col)
        if census and baseline != wave and cells[0] and cells[0]["estimate"] is not None:
            target = cells[0]["estimate"] * (1 - Thresholds.inspection_reduction_target)
            fig.add_hline(y=target, line={"dash": "dash", "color": COLOURS["missed"]}, row=1, col=col,
                          annotation_text=text("target_line", lang), annotation_position="top right")
        fig.update_yaxes(title_text=metric_title(metric, lang), row=1, col=col, **_axis_format(metric))
        fig.update_xaxes(title_text=text("axis_wave", lang), type="category", row=1, col=col)
    n_now = (data.cell(wave, data.region, "hours_nonteaching") or {}).get("n")
    n_base = (data.cell(baseline, data.region, "hours_nonteaching") or {}).get("n")
    schools = (data.cell(wave, data.region, "school_inspections_per_school") or {}).get("n")
    source = text("sep", lang).join([text("source_survey", lang, wave=wave, n=format_n(n_now)),
                                     f"{text('baseline', lang)} {baseline}: n = {format_n(n_base)}",
                                     text("source_school", lang, wave=wave, n=format_n(schools))])
    return _finish(fig, text("chart_region_compare", lang, wave=wave, baseline=baseline), source, height=420)


def _axis_ref(axis: str, index: int) -> str:
    return axis if index == 1 else f"{axis}{index}"


def short_label(metric: str, lang: str) -> str:
    """A metric's label without its parenthetical, for small-multiple titles."""
    return re.split(r"（| \(", metric_label(metric, lang))[0]


def trend_figure(data: ReportData, wave: str, areas: list[str], lang: str, title: str,
                 show_direction: bool, per_row: int = 2) -> go.Figure:
    """Small multiples: for each area, measured hours beside felt_net over the waves, with interval bands.

    Each area takes two adjacent panels (`per_row` areas to a row), so the measured burden and the
    felt reduction are always read side by side.
    """
    metrics = (("hours_nonteaching", COLOURS["measured"], "rgba(31,90,166,0.18)"),
               ("felt_net", COLOURS["felt"], "rgba(194,87,26,0.18)"))
    waves = data.waves_to(wave)
    rows = max(1, -(-len(areas) // per_row))
    cols = 2 * per_row
    titles = [""] * (rows * cols)
    for i, code in enumerate(areas):
        for j, (metric, _, _) in enumerate(metrics):
            head = f"<b>{data.name(code, lang)}</b><br>{short_label(metric, lang)}"
            trend = data.trends.filter((pl.col("area_code") == code) & (pl.col("metric") == metric))
            if show_direction and trend.height:
                shown = label(DIRECTION, trend["direction"][0], lang)
                head += f"（{shown}）" if lang == "zh" else f" ({shown})"
            titles[(i // per_row) * cols + (i % per_row) * 2 + j] = head
    row_height = 250
    height = 200 + row_height * rows
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.07 if per_row > 1 else 0.1,
                        vertical_spacing=min(0.3, 95 / height) if rows > 1 else 0.1)
    for i, code in enumerate(areas):
        row = i // per_row + 1
        for j, (metric, colour, fill) in enumerate(metrics):
            col = (i % per_row) * 2 + j + 1
            cells = [data.cell(w, code, metric) for w in waves]
            published = [c if _published(c) else None for c in cells]
            fig.add_trace(go.Scatter(x=waves, y=[c["ci_high"] if c else None for c in published], mode="lines",
                                     line={"width": 0}, hoverinfo="skip", showlegend=False), row=row, col=col)
            fig.add_trace(go.Scatter(x=waves, y=[c["ci_low"] if c else None for c in published], mode="lines",
                                     line={"width": 0}, hoverinfo="skip", fill="tonexty", fillcolor=fill,
                                     showlegend=False), row=row, col=col)
            fmt, unit = d3_format(metric), "" if _is_share(metric) else f" {metric_unit(metric, lang)}"
            fig.add_trace(go.Scatter(
                x=waves, y=[c["estimate"] if c else None for c in published], mode="lines+markers",
                line={"color": colour, "width": 2}, marker={"size": 6}, showlegend=False, name=data.name(code, lang),
                customdata=[[c["ci_low"], c["ci_high"], c["n"]] if c else [None, None, None] for c in published],
                hovertemplate=(f"<b>{data.name(code, lang)}</b> · %{{x}}<br>{short_label(metric, lang)}: "
                               f"%{{y:{fmt}}}{unit}<br>{text('interval', lang)}: %{{customdata[0]:{fmt}}} – "
                               f"%{{customdata[1]:{fmt}}}<br>n = %{{customdata[2]:,}}<extra></extra>")),
                row=row, col=col)
            index = (row - 1) * cols + col
            for w, cell, shown in zip(waves, cells, published):
                if shown is None:
                    fig.add_annotation(x=w, xref=_axis_ref("x", index), y=0.12,
                                       yref=f"{_axis_ref('y', index)} domain", showarrow=False,
                                       text=absent_mark(cell, lang), font={"size": 14, "color": COLOURS["red"]},
                                       hovertext=f"{w}: " + absent_hover(cell, lang))
            unit_title = metric_unit(metric, lang) + (("，%" if lang == "zh" else ", %") if _is_share(metric) else "")
            fig.update_yaxes(title_text=unit_title, title_standoff=4, row=row, col=col, **_axis_format(metric))
            fig.update_xaxes(type="category", categoryorder="array", categoryarray=waves, tickangle=0,
                             tickvals=waves, ticktext=[w[2:] for w in waves], tickfont={"size": 10}, row=row, col=col)
            if row == rows or i + per_row >= len(areas):
                fig.update_xaxes(title_text=text("axis_wave", lang), row=row, col=col)
    fig.update_annotations(font_size=12, selector={"xref": "paper", "yref": "paper"})
    ns = [c["n"] for w in waves if (c := data.cell(w, areas[0], "hours_nonteaching")) and c["n"] is not None]
    source = text("source_survey_waves", lang, first=waves[0] if waves else wave, last=wave, k=len(waves),
                  n_min=format_n(min(ns) if ns else None), n_max=format_n(max(ns) if ns else None))
    return _finish(fig, title, source, height=height, top=120)


def category_figure(data: ReportData, wave: str, areas: list[str], lang: str) -> go.Figure:
    """Non-teaching hours split into the list's five categories, one stacked bar per area."""
    names = [data.name(code, lang) for code in areas]
    fig = go.Figure()
    for (no, labels), metric, colour in zip(CATEGORY_LABELS.items(), CATEGORIES, CATEGORY_COLOURS):
        cells = [data.cell(wave, code, metric) for code in areas]
        published = [c if c and not c["suppressed"] and c["estimate"] is not None else None for c in cells]
        category = labels[LANGS.index(lang)]
        fig.add_trace(go.Bar(
            y=names, x=[c["estimate"] if c else None for c in published], orientation="h", name=category,
            marker_color=colour,
            customdata=[[c["ci_low"], c["ci_high"], c["n"]] if c else [None, None, None] for c in published],
            hovertemplate=_hover(metric, lang).replace("<b>%{y}</b>", f"<b>%{{y}}</b> · {category}")))
    for code, name in zip(areas, names):
        total = data.cell(wave, code, "hours_nonteaching")
        hidden = [c for m in CATEGORIES if not _published(c := data.cell(wave, code, m))]
        if hidden:
            fig.add_annotation(x=0.99, xref="x domain", y=name, yref="y", text=absent_mark(hidden[0], lang),
                               showarrow=False, xanchor="right", font={"size": 15, "color": COLOURS["red"]},
                               hovertext=absent_hover(hidden[0], lang))
        elif total and total["estimate"] is not None:
            fig.add_annotation(x=total["estimate"], y=name, text=format_cell("hours_nonteaching", total),
                               showarrow=False, xanchor="left", xshift=4, font={"size": 11, "color": "#333"})
    fig.update_layout(barmode="stack", legend={"traceorder": "normal"})
    fig.update_xaxes(title_text=metric_title("hours_nonteaching", lang))
    fig.update_yaxes(title_text=text("axis_league", lang), type="category", categoryorder="array",
                     categoryarray=list(reversed(names)))
    n = (data.cell(wave, data.region, "hours_nonteaching") or {}).get("n")
    fig.update_layout(legend={"y": 1.0, "yanchor": "bottom"})
    return _finish(fig, text("chart_categories", lang, wave=wave), _source_line("hours_total", wave, n, lang),
                   height=220 + 34 * len(areas), top=120)


def item_label(item: dict, lang: str, questions: dict) -> str:
    """The y-axis label of a list item: number, red-line tag in red, and the question teachers answered.

    The question text comes from questionnaire.csv, the one source the questionnaire and the
    importer read; the list's own wording stays in the item table.
    """
    head = text("item_no", lang, no=item["item_no"])
    question = questions.get(f"item_{item['item_no']:02d}")
    body = question[0 if lang == "zh" else 1] if question else item["text_zh" if lang == "zh" else "text_en"]
    short = body[:20] + "…" if lang == "zh" and len(body) > 20 else (body[:40] + "…" if len(body) > 40 else body)
    short = short.replace("严禁", "").replace("Strictly prohibited: ", "") if item["red_line"] else short
    if item["red_line"]:
        tag = text("red_line_tag", lang).strip()
        head = f"{head}{tag}" if lang == "zh" else f"{head} {tag}"
        return f'<span style="color:{COLOURS["red"]}"><b>{head}</b></span> {short}'
    return f"{head} {short}"


def item_heatmap_figure(data: ReportData, wave: str, areas: list[str], lang: str) -> go.Figure:
    """League × 26-item shares; red-line items tagged in red, cells at the alert threshold boxed."""
    items = list(data.items.iter_rows(named=True))
    names = [data.name(code, lang) for code in areas]
    labels = [item_label(item, lang, data.questions) for item in items]
    z, texts, custom, marks = [], [], [], []
    for item in items:
        metric = f"item_{item['item_no']:02d}"
        z_row, t_row, c_row = [], [], []
        for code, name in zip(areas, names):
            cell = data.cell(wave, code, metric)
            ok = _published(cell)
            z_row.append(cell["estimate"] if ok else None)
            t_row.append(format_value(metric, cell["estimate"]) if ok else absent_mark(cell, lang))
            c_row.append([cell["ci_low"] if ok else None, cell["ci_high"] if ok else None, cell["n"] if ok else None])
            if not ok:
                marks.append((name, labels[len(z)], absent_mark(cell, lang), absent_hover(cell, lang)))
        z.append(z_row)
        texts.append(t_row)
        custom.append(c_row)
    fig = go.Figure(go.Heatmap(
        z=z, x=names, y=labels, text=texts, texttemplate="%{text}", textfont={"size": 10}, customdata=custom,
        colorscale="YlOrRd", zmin=0, zmax=max(0.3, max((v for r in z for v in r if v is not None), default=0)),
        colorbar={"title": {"text": text("axis_share_colour", lang)}, "tickformat": ".0%"}, xgap=1, ygap=1,
        hovertemplate=(f"<b>%{{x}}</b><br>%{{y}}<br>{text('estimate', lang)}: %{{z:.1%}}<br>"
                       f"{text('interval', lang)}: %{{customdata[0]:.1%}} – %{{customdata[1]:.1%}}<br>"
                       "n = %{customdata[2]:,}<extra></extra>")))
    if marks:
        fig.add_trace(go.Scatter(x=[m[0] for m in marks], y=[m[1] for m in marks], mode="text",
                                 text=[m[2] for m in marks], textfont={"size": 13, "color": COLOURS["red"]},
                                 hovertext=[m[3] for m in marks],
                                 hoverinfo="text", showlegend=False))
    for i, item in enumerate(items):
        if not item["red_line"]:
            continue
        for j, value in enumerate(z[i]):
            if value is not None and value >= Thresholds.red_line_share:
                fig.add_shape(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5,
                              line={"color": COLOURS["red"], "width": 2.5}, xref="x", yref="y")
    fig.update_xaxes(title_text=text("axis_league", lang), side="top", tickangle=-40, type="category")
    fig.update_yaxes(title_text=f"{text('axis_item', lang)}（{text('axis_share_colour', lang)}，%）" if lang == "zh"
                     else f"{text('axis_item', lang)} ({text('axis_share_colour', lang).lower()}, %)",
                     autorange="reversed", type="category")
    n = (data.cell(wave, data.region, "item_01") or {}).get("n")
    return _finish(fig, text("chart_heatmap", lang, wave=wave), _source_line("item_01", wave, n, lang),
                   height=400 + 30 * len(items), top=190)


def inspection_figure(data: ReportData, wave: str, areas: list[str], lang: str) -> go.Figure:
    """Each area's reduction of inspections per school from the baseline, against the 50% line."""
    rows = {r["area_code"]: r for r in data.inspection.filter(pl.col("wave") == wave).iter_rows(named=True)}
    names = [data.name(code, lang) for code in areas]
    fig = go.Figure()
    shown = [(name, rows.get(code)) for code, name in zip(areas, names)]
    present = [(name, r) for name, r in shown if r and r["reduction_pct"] is not None]
    fig.add_trace(go.Bar(
        y=[name for name, _ in present], x=[r["reduction_pct"] for _, r in present], orientation="h",
        marker_color=[COLOURS["met"] if r["target_met"] else COLOURS["missed"] for _, r in present],
        text=[format_pct(r["reduction_pct"]) for _, r in present], textposition="outside", cliponaxis=False,
        customdata=[[r["inspections_per_school"], r["baseline_per_school"], r["n_schools"], r["baseline_n_schools"],
                     text("kpi_met" if r["target_met"] else "kpi_not_met", lang)] for _, r in present],
        hovertemplate=(f"<b>%{{y}}</b><br>{text('reduction', lang)}: %{{x:.1%}} (%{{customdata[4]}})<br>"
                       f"{text('per_school_now', lang)}: %{{customdata[0]:.2f}} (n = %{{customdata[2]}})<br>"
                       f"{text('per_school_base', lang)}: %{{customdata[1]:.2f}} (n = %{{customdata[3]}})<br>"
                       f"{text('hover_census', lang)}<extra></extra>"),
        showlegend=False))
    for name, r in shown:
        if not r or r["reduction_pct"] is None:
            fig.add_annotation(x=0.01, xref="x domain", y=name, yref="y", text=MISSING, showarrow=False,
                               hovertext=text("fn_missing", lang))
    target = Thresholds.inspection_reduction_target
    fig.add_vline(x=target, line={"dash": "dash", "color": COLOURS["red"], "width": 1.5})
    fig.add_annotation(x=target, y=1, yref="paper", yanchor="bottom", text=text("target_line", lang),
                       showarrow=False, font={"color": COLOURS["red"], "size": 11})
    fig.update_xaxes(title_text=text("axis_reduction", lang), tickformat=".0%",
                     range=[min(-0.1, min((r["reduction_pct"] for _, r in present), default=0) - 0.05),
                            max(0.9, max((r["reduction_pct"] for _, r in present), default=0) + 0.15)])
    fig.update_yaxes(title_text=text("axis_league", lang), type="category", categoryorder="array",
                     categoryarray=list(reversed(names)))
    region = rows.get(data.region) or {}
    source = text("source_school_vs", lang, wave=wave, n=format_n(region.get("n_schools")),
                  baseline=region.get("baseline_wave") or data.baseline,
                  n0=format_n(region.get("baseline_n_schools")))
    return _finish(fig, text("chart_inspection", lang, wave=wave), source, height=160 + 34 * len(areas))


def completeness_figure(data: ReportData, wave: str, lang: str) -> go.Figure:
    """School-report completeness per league and wave; the 80% floor of the alert rule drawn in the scale."""
    waves = data.waves_to(wave)
    frame = data.completeness.filter(pl.col("wave").is_in(waves))
    cells = {(r["area_code"], r["wave"]): r for r in frame.iter_rows(named=True)}
    leagues = data.leagues
    names = [data.name(code, lang) for code in leagues]
    z = [[(cells.get((code, w)) or {}).get("completeness") for w in waves] for code in leagues]
    custom = [[[(cells.get((code, w)) or {}).get("schools_reporting"),
                (cells.get((code, w)) or {}).get("schools_expected")] for w in waves] for code in leagues]
    floor = Thresholds.completeness_min
    fig = go.Figure(go.Heatmap(
        z=z, x=waves, y=names, customdata=custom, text=[[format_pct(v) for v in r] for r in z],
        texttemplate="%{text}", zmin=0, zmax=1, xgap=1, ygap=1,
        colorscale=[[0, "#c62828"], [floor - 0.001, "#f4b6a6"], [floor, "#d7ecd9"], [1, "#2e7d32"]],
        colorbar={"title": {"text": text("completeness", lang)}, "tickformat": ".0%"},
        hovertemplate=(f"<b>%{{y}}</b> · %{{x}}<br>{text('completeness', lang)}: %{{z:.1%}}<br>"
                       f"{text('schools_reporting', lang)}: %{{customdata[0]}} / %{{customdata[1]}}<br>"
                       f"{text('hover_census', lang)}<extra></extra>")))
    fig.update_xaxes(title_text=text("axis_wave", lang), type="category")
    fig.update_yaxes(title_text=text("axis_league", lang), autorange="reversed", type="category")
    reporting = frame.filter(pl.col("wave") == wave)["schools_reporting"].sum()
    return _finish(fig, text("chart_completeness", lang),
                   text("source_school", lang, wave=wave, n=format_n(reporting)), height=200 + 30 * len(leagues))


def reject_label(kind: str, column: str | None, lang: str) -> str:
    """'out_of_range:hours_cat1' as words: the kind translated, the column by its metric label if it has one."""
    head = label(REJECT_KINDS, kind, lang)
    if not column:
        return head
    shown = metric_label(column, lang) if column in METRIC_BY_NAME else column
    return f"{head}：{shown}" if lang == "zh" else f"{head}: {shown}"


def rejected_figure(data: ReportData, wave: str, lang: str) -> go.Figure | None:
    """Rejected rows of the wave by reason and source; None when the wave rejected nothing."""
    frame = data.rejected.filter(pl.col("wave") == wave)
    if frame.height == 0:
        return None
    frame = frame.with_columns(pl.struct("kind", "column_name").map_elements(
        lambda s: reject_label(s["kind"], s["column_name"], lang), return_dtype=pl.String).alias("label"))
    order = (frame.group_by("label").agg(pl.col("rows_rejected").sum()).sort("rows_rejected", "label")
             ["label"].to_list())
    fig = go.Figure()
    for source, colour in (("teacher_survey", COLOURS["measured"]), ("school_report", COLOURS["felt"])):
        part = frame.filter(pl.col("source") == source)
        if part.height:
            fig.add_trace(go.Bar(y=part["label"].to_list(), x=part["rows_rejected"].to_list(), orientation="h",
                                 name=label(SOURCES, source, lang), marker_color=colour,
                                 hovertemplate=f"<b>%{{y}}</b><br>{label(SOURCES, source, lang)}: %{{x}}<br>"
                                               f"{text('hover_census', lang)}<extra></extra>"))
    fig.update_layout(barmode="stack")
    most = frame.group_by("label").agg(pl.col("rows_rejected").sum())["rows_rejected"].max()
    fig.update_xaxes(title_text=text("axis_rows", lang), tick0=0, dtick=max(1, -(-most // 8)), rangemode="tozero")
    fig.update_yaxes(title_text=text("reason", lang), type="category", categoryorder="array", categoryarray=order)
    received = data.loads.filter(pl.col("wave") == wave)["rows_received"].sum()
    return _finish(fig, text("chart_rejected", lang, wave=wave),
                   text("source_quality", lang, wave=wave, n=format_n(received)), height=180 + 26 * len(order))


def kpis(data: ReportData, wave: str, baseline: str, lang: str) -> list[dict]:
    """The four headline cards of the overview: value, interval and the baseline beside it."""
    cards = []
    for metric, key in (("hours_nonteaching", "kpi_hours"), ("felt_net", "kpi_felt")):
        now, base = data.cell(wave, data.region, metric), data.cell(baseline, data.region, metric)
        cards.append({"title": text(key, lang), "value": format_cell(metric, now, lang).split(" [")[0],
                      "unit": "" if _is_share(metric) else metric_unit(metric, lang),
                      "detail": (f"{text('interval', lang)} " + format_cell(metric, now, lang).partition(" ")[2]
                                 if now and not now["suppressed"] else ""),
                      "foot": text("kpi_vs_baseline", lang, baseline=baseline, value=format_cell(metric, base, lang)),
                      "n": format_n(now["n"]) if now and not now["suppressed"] else "", "status": ""})
    target = data.inspection.filter((pl.col("wave") == wave) & (pl.col("area_code") == data.region))
    row = target.row(0, named=True) if target.height else {}
    met = row.get("target_met")
    cards.append({"title": text("kpi_inspection", lang), "value": format_pct(row.get("reduction_pct")), "unit": "",
                  "detail": text("kpi_target", lang),
                  "foot": text("kpi_per_school", lang, unit=metric_unit("school_inspections_per_school", lang),
                               now=format_value("school_inspections_per_school", row.get("inspections_per_school")),
                               base=format_value("school_inspections_per_school", row.get("baseline_per_school")),
                               baseline=baseline),
                  "n": format_n(row.get("n_schools")),
                  "status": "" if met is None else ("met" if met else "missed")})
    open_alerts = data.alerts.filter(pl.col("wave") == wave)
    high = open_alerts.filter(pl.col("severity") == "high").height
    cards.append({"title": text("kpi_alerts", lang), "value": str(open_alerts.height), "unit": "",
                  "detail": text("kpi_high", lang, n=high), "foot": "", "n": "",
                  "status": "missed" if high else ""})
    return cards


def county_table(data: ReportData, wave: str, league: str, lang: str) -> Table:
    """One row per county (the league first) with the headline figures, intervals and ‡.

    A suppressed county's n is ‡ too, even in the sort key: with the league's n and the
    published siblings' n it would give back the small count complementary suppression hides.
    """
    metrics = ("hours_nonteaching", "felt_net", "focus_share")
    headers = [text("county", lang), *[metric_title(m, lang) for m in metrics], text("n_resp", lang),
               metric_title("school_inspections_per_school", lang), text("n_schools", lang)]
    rows = []
    for code in [league, *data.counties(league)]:
        survey = data.cell(wave, code, "hours_nonteaching")
        school = data.cell(wave, code, "school_inspections_per_school")
        n = MISSING if survey is None else (SUPPRESSED if survey["suppressed"] else format_n(survey["n"]))
        rows.append([Cell(data.name(code, lang), data.name(code, lang), "name strong" if code == league else "name"),
                     *[model_cell(m, metric_cell(m, data.cell(wave, code, m), lang),
                                  data.model(wave, code, m) if code != league else None, lang) for m in metrics],
                     Cell(n, survey["n"] if survey and n != SUPPRESSED else None,
                          "num suppressed" if n == SUPPRESSED else "num"),
                     metric_cell("school_inspections_per_school", school, lang),
                     Cell(format_n(school["n"]) if school else MISSING, school["n"] if school else None, "num")])
    return Table(headers, rows)


def alerts_table(data: ReportData, wave: str, lang: str, league: str | None = None, table_id: str = "") -> Table:
    """Alerts up to the report wave (one league's, or all), newest first, with filter keys per row."""
    frame = data.alerts.filter(pl.col("wave") <= wave)
    if league:
        frame = frame.filter((pl.col("area_code") == league) & (pl.col("wave") == wave))
    frame = frame.sort(["wave", "severity", "area_code", "rule"], descending=[True, False, False, False])
    headers = [text("wave", lang), text("league", lang), text("rule", lang), text("severity", lang),
               text("value", lang), text("message", lang)]
    rows, keys = [], []
    for r in frame.iter_rows(named=True):
        value = _alert_value(r)
        rows.append([Cell(r["wave"], r["wave"], "nowrap"),
                     Cell(data.name(r["area_code"], lang), r["area_code"], "nowrap"),
                     Cell(label(RULES, r["rule"], lang), r["rule"], "nowrap"),
                     Cell(label(SEVERITY, r["severity"], lang), {"high": 0, "medium": 1}.get(r["severity"], 2),
                          f"sev-{r['severity']}"),
                     Cell(value, r["value"], "num"),
                     Cell(r["message"] if lang == "zh" else r["message_en"], None, "message")])
        keys.append({"rule": r["rule"], "league": r["area_code"], "wave": r["wave"]})
    filters = []
    if table_id:
        filters = [
            {"key": "rule", "label": text("rule", lang), "selected": "",
             "options": [(k, label(RULES, k, lang)) for k in sorted({k["rule"] for k in keys})]},
            {"key": "league", "label": text("league", lang), "selected": "",
             "options": [(k, data.name(k, lang)) for k in sorted({k["league"] for k in keys})]},
            {"key": "wave", "label": text("wave", lang),
             "selected": wave if any(k["wave"] == wave for k in keys) else "",
             "options": [(k, k) for k in sorted({k["wave"] for k in keys}, reverse=True)]},
        ]
    return Table(headers, rows, table_id=table_id, row_data=keys, filters=filters)


def _alert_value(r: dict) -> str:
    metric = r["metric"]
    if r["value"] is None:
        return MISSING
    if r["rule"] in ("inspection_target_missed", "low_completeness"):
        return format_pct(r["value"])
    if r["rule"] in ("not_felt", "paper_reduction"):
        return f"{r['value']:+.3f}"
    return format_value(metric, r["value"]) if metric in METRIC_BY_NAME else f"{r['value']:.3g}"


def inspection_table(data: ReportData, wave: str, areas: list[str], lang: str) -> Table:
    """The tracker: reduction from baseline per area and wave, ✓ where the 50% target is met."""
    waves = data.waves_to(wave)
    rows_by = {(r["area_code"], r["wave"]): r for r in data.inspection.iter_rows(named=True)}
    headers = [text("league", lang), text("per_school_base", lang), *waves, text("target_met", lang)]
    rows = []
    for code in areas:
        base = next((r for w in waves if (r := rows_by.get((code, w)))), None)
        row = [Cell(data.name(code, lang), code, "name strong" if code == data.region else "name"),
               Cell(format_value("school_inspections_per_school", base["baseline_per_school"]) if base else MISSING,
                    base["baseline_per_school"] if base else None, "num")]
        for w in waves:
            r = rows_by.get((code, w))
            if r is None or r["reduction_pct"] is None:
                row.append(Cell(MISSING, None, "num"))
                continue
            mark = "✓ " if r["target_met"] else ""
            row.append(Cell(f"{mark}{format_pct(r['reduction_pct'])}", r["reduction_pct"],
                            "num " + ("met" if r["target_met"] else "missed"),
                            f"{format_value('school_inspections_per_school', r['inspections_per_school'])} "
                            f"{metric_unit('school_inspections_per_school', lang)}, n = {r['n_schools']}"))
        last = rows_by.get((code, wave))
        met = None if last is None else last["target_met"]
        row.append(Cell(MISSING if met is None else text("yes" if met else "no", lang), None,
                        "" if met is None else ("met" if met else "missed")))
        rows.append(row)
    return Table(headers, rows)


def items_table(data: ReportData, wave: str, lang: str) -> Table:
    """The 26 items in full, with category, red-line tag and the region's share with its interval."""
    headers = [text("item", lang), text("category", lang), text("red_line", lang),
               f"{text('region', lang)}：{text('axis_share_colour', lang)}" if lang == "zh"
               else f"{text('region', lang)}: share", ""]
    rows = []
    for item in data.items.iter_rows(named=True):
        metric = f"item_{item['item_no']:02d}"
        category = CATEGORY_LABELS[item["category_no"]][LANGS.index(lang)]
        rows.append([Cell(text("item_no", lang, no=item["item_no"]), item["item_no"], "nowrap"),
                     Cell(category, item["category_no"], "nowrap"),
                     Cell(text("red_line", lang) if item["red_line"] else "", int(bool(item["red_line"])),
                          "red-line" if item["red_line"] else ""),
                     metric_cell(metric, data.cell(wave, data.region, metric), lang),
                     Cell(item["text_zh" if lang == "zh" else "text_en"], None, "message")])
    headers[-1] = text("message", lang)
    return Table(headers, rows)


def loads_table(data: ReportData, wave: str, lang: str) -> Table:
    """Rows received, accepted and rejected per source in the wave, and rows without a valid wave."""
    columns = [c for c in ("rows_received", "rows_accepted", "rows_rejected", "schools_expected",
                           "schools_reporting", "completeness", "on_time_share") if c in data.loads.columns]
    headings = {"completeness": text("coverage", lang)}
    headers = [text("wave", lang), text("source", lang), *[headings.get(c) or text(c, lang) for c in columns]]
    frame = data.loads.filter(pl.col("wave").is_null() | (pl.col("wave") == wave))
    rows = []
    for r in frame.iter_rows(named=True):
        shares = {c: Cell(format_pct(r[c]), r[c], "num") for c in ("completeness", "on_time_share") if c in columns}
        rows.append([Cell(r["wave"] or text("wave_null", lang)), Cell(label(SOURCES, r["source"], lang)),
                     *[shares.get(c) or Cell(format_n(r[c]), r[c], "num") for c in columns]])
    return Table(headers, rows)


def league_completeness_table(data: ReportData, wave: str, lang: str) -> Table:
    """School reports received, and on time, per league in the report wave."""
    headers = [text("league", lang), text("schools_expected", lang), text("schools_reporting", lang),
               text("completeness", lang), text("on_time_share", lang)]
    cells = {r["area_code"]: r for r in data.completeness.filter(pl.col("wave") == wave).iter_rows(named=True)}
    rows = []
    for code in data.leagues:
        r = cells.get(code)
        if r is None:
            rows.append([Cell(data.name(code, lang), code, "name"), *[Cell(MISSING, None, "num")] * 4])
            continue
        low = r["completeness"] < Thresholds.completeness_min
        rows.append([Cell(data.name(code, lang), code, "name"),
                     Cell(format_n(r["schools_expected"]), r["schools_expected"], "num"),
                     Cell(format_n(r["schools_reporting"]), r["schools_reporting"], "num"),
                     Cell(format_pct(r["completeness"]), r["completeness"], "num missed" if low else "num"),
                     Cell(format_pct(r["on_time_share"]), r["on_time_share"], "num")])
    return Table(headers, rows)


def rejected_table(data: ReportData, wave: str, lang: str) -> Table:
    headers = [text("wave", lang), text("source", lang), text("reason", lang), text("rows", lang)]
    frame = data.rejected.filter(pl.col("wave").is_null() | (pl.col("wave") == wave))
    rows = [[Cell(r["wave"] or text("wave_null", lang)), Cell(label(SOURCES, r["source"], lang)),
             Cell(reject_label(r["kind"], r["column_name"], lang), f"{r['kind']}:{r['column_name'] or ''}"),
             Cell(format_n(r["rows_rejected"]), r["rows_rejected"], "num")] for r in frame.iter_rows(named=True)]
    return Table(headers, rows)


def respondent_quality_table(data: ReportData, wave: str, lang: str) -> Table:
    """Accepted rows of the wave carrying each respondent-quality flag; they stay in every estimate."""
    headers = [text("flag", lang), text("rows_flagged", lang), text("share_flagged", lang), text("rows_excluded", lang)]
    frame = data.respondent_quality.filter(pl.col("wave") == wave)
    rows = [[Cell(text(f"flag_{r['flag']}", lang)), Cell(format_n(r["rows_flagged"]), r["rows_flagged"], "num"),
             Cell(format_pct(r["share_flagged"]), r["share_flagged"], "num"),
             Cell(format_n(r["rows_excluded"] or 0), r["rows_excluded"] or 0, "num")]
            for r in frame.iter_rows(named=True)]
    return Table(headers, rows)


def respondent_exclusion_note(data: ReportData, wave: str, lang: str) -> Note:
    """Says how many rows a configured exclusion removed from this wave's estimates, or that none did."""
    frame = data.respondent_quality.filter(pl.col("wave") == wave)
    removed = int(frame["rows_excluded"].fill_null(0).sum()) if frame.height else 0
    kinds = [text(f"flag_{k}", lang) for k, n in zip(frame["flag"], frame["rows_excluded"].fill_null(0)) if n]
    key = "flags_excluded" if removed else "flags_not_excluded"
    return Note(Markup.escape(text(key, lang, n=format_n(removed), kinds=text("sep", lang).join(kinds))))


def rejected_files_table(data: ReportData, lang: str) -> Table:
    headers = [text("source", lang), text("file", lang), text("reason", lang)]
    rows = [[Cell(label(SOURCES, r["source"], lang)), Cell(r["file"], r["file"], "nowrap"), Cell(r["reason"])]
            for r in data.rejected_files.iter_rows(named=True)]
    return Table(headers, rows)


def outliers_table(data: ReportData, wave: str, lang: str) -> Table:
    """Schools with an outlying school-reported count in the wave, per league and count."""
    frame = data.outliers.filter(pl.col("wave") == wave) if data.outliers is not None else None
    metrics = [m for m in SCHOOL_COUNTS if frame is not None and m in frame["metric"].to_list()]
    headers = [text("league", lang), *[label(SCHOOL_COUNTS, m, lang) for m in metrics],
               text("outlier_schools", lang), text("outlier_open", lang)]
    cells = {(r["area_code"], r["metric"]): r for r in frame.iter_rows(named=True)} if frame is not None else {}
    rows = []
    for code in data.leagues:
        total = cells.get((code, None))
        if total is None:
            continue
        rows.append([Cell(data.name(code, lang), code, "name"),
                     *[Cell(format_n((cells.get((code, m)) or {}).get("schools", 0)),
                            (cells.get((code, m)) or {}).get("schools", 0), "num") for m in metrics],
                     Cell(format_n(total["schools"]), total["schools"], "num"),
                     Cell(format_n(total["schools_open"]), total["schools_open"], "num")])
    return Table(headers, rows)


def consistency_table(data: ReportData, wave: str, lang: str) -> Table:
    """School-reported against teacher-reported inspections per league, and the schools flagged."""
    headers = [text("league", lang), metric_title("school_inspections_per_school", lang),
               metric_title("n_inspections", lang), text("ratio", lang), text("flagged", lang),
               text("schools_compared", lang), text("schools_flagged", lang)]
    frame = data.consistency.filter(pl.col("wave") == wave) if data.consistency is not None else pl.DataFrame()
    rows = []
    for r in frame.iter_rows(named=True):
        ratio = MISSING if r["ratio"] is None else f"{r['ratio']:.2f}"
        rows.append([Cell(data.name(r["area_code"], lang), r["area_code"], "name"),
                     Cell(format_value("school_inspections_per_school", r["school_reported_inspections"]),
                          r["school_reported_inspections"], "num"),
                     Cell(format_value("n_inspections", r["teacher_mean_inspections"]) if
                          r["teacher_mean_inspections"] is not None else SUPPRESSED if r["n_respondents"] else MISSING,
                          r["teacher_mean_inspections"], "num"),
                     Cell(ratio, r["ratio"], "num"),
                     Cell(MISSING if r["flagged"] is None else text("yes" if r["flagged"] else "no", lang), None,
                          "missed" if r["flagged"] else ""),
                     Cell(format_n(r["schools_compared"]), r["schools_compared"], "num"),
                     Cell(format_n(r["schools_flagged"]), r["schools_flagged"], "num")])
    return Table(headers, rows)


def _footnotes(lang: str) -> list[str]:
    return [text("fn_suppressed", lang), text("fn_not_collected", lang), text("fn_interval", lang),
            text("fn_caution", lang), text("fn_unreliable", lang), text("fn_model", lang), text("fn_missing", lang)]


def overview_page(data: ReportData, wave: str, lang: str) -> Page:
    baseline = data.baseline or wave
    return Page("index", text("page_overview", lang), [
        Section(text("region", lang), [
            Chart("overview-region", region_compare_figure(data, wave, baseline, lang)),
        ], text("overview_intro", lang, wave=wave, baseline=baseline)),
        Section(text("league", lang), [
            Chart("overview-hours", area_dot_figure(data, wave, "hours_nonteaching", data.leagues, data.region, lang,
                                                    text("chart_league_hours", lang, wave=wave))),
            Chart("overview-felt", area_dot_figure(data, wave, "felt_net", data.leagues, data.region, lang,
                                                   text("chart_league_felt", lang, wave=wave))),
        ]),
    ], kpis=kpis(data, wave, baseline, lang), footnotes=_footnotes(lang))


def trends_page(data: ReportData, wave: str, lang: str) -> Page:
    latest = wave == data.latest_wave
    return Page("trends", text("page_trends", lang), [
        Section("", [
            Chart("trends", trend_figure(data, wave, [data.region, *data.leagues], lang,
                                         text("chart_trends", lang, wave=wave), show_direction=latest)),
        ], text("trends_intro", lang)),
    ], footnotes=_footnotes(lang))


def breakdowns_page(data: ReportData, wave: str, lang: str) -> Page:
    areas = [data.region, *data.leagues]
    return Page("breakdowns", text("page_breakdowns", lang), [
        Section("", [
            Chart("categories", category_figure(data, wave, areas, lang)),
            Chart("items", item_heatmap_figure(data, wave, areas, lang)),
        ], text("breakdowns_intro", lang)),
        Section(text("items_table", lang), [items_table(data, wave, lang)]),
    ], footnotes=_footnotes(lang))


def inspection_page(data: ReportData, wave: str, lang: str) -> Page:
    areas = [data.region, *data.leagues]
    return Page("inspection", text("page_inspection", lang), [
        Section("", [
            Chart("inspection", inspection_figure(data, wave, areas, lang)),
            inspection_table(data, wave, areas, lang),
        ], text("inspection_intro", lang, baseline=data.baseline or wave)),
    ], footnotes=[text("fn_interval", lang), text("fn_missing", lang)])


def alerts_page(data: ReportData, wave: str, lang: str) -> Page:
    table = alerts_table(data, wave, lang, table_id="alerts")
    return Page("alerts", text("page_alerts", lang), [
        Section("", [table], text("alerts_intro", lang)),
    ], footnotes=[text("fn_interval", lang)], script=(TEMPLATES / "alerts.js").read_text(encoding="utf-8"))


def quality_page(data: ReportData, wave: str, lang: str, data_docs: str | None) -> Page:
    rejected = rejected_figure(data, wave, lang)
    missing = Note(Markup.escape(text("quality_extra_missing", lang)))
    docs = (Note(Markup('<a class="docs" href="{}">{}</a>').format(data_docs, text("data_docs", lang)))
            if data_docs else Note(Markup.escape(text("data_docs_missing", lang))))
    return Page("quality", text("page_quality", lang), [
        Section(text("loads_table", lang), [loads_table(data, wave, lang)], text("quality_intro", lang)),
        Section(text("completeness_table", lang), [Chart("completeness", completeness_figure(data, wave, lang)),
                                                   league_completeness_table(data, wave, lang)],
                text("completeness_intro", lang)),
        Section(text("rejected_reasons", lang),
                ([Chart("rejected", rejected)] if rejected is not None else []) + [rejected_table(data, wave, lang)]),
        Section(text("rejected_files", lang), [rejected_files_table(data, lang)]),
        Section(text("respondent_quality", lang),
                [respondent_quality_table(data, wave, lang), respondent_exclusion_note(data, wave, lang)]
                if data.respondent_quality is not None else [missing],
                text("respondent_quality_intro", lang)),
        Section(text("outliers", lang), [outliers_table(data, wave, lang)] if data.outliers is not None
                else [missing], text("outliers_intro", lang)),
        Section(text("source_consistency", lang), [consistency_table(data, wave, lang)]
                if data.consistency is not None else [missing], text("consistency_intro", lang)),
        Section(text("data_docs", lang), [docs]),
    ], footnotes=[text("fn_suppressed", lang), text("fn_missing", lang)])


def league_page(data: ReportData, wave: str, league: str, lang: str) -> Page:
    name = data.name(league, lang)
    latest = wave == data.latest_wave
    compare = county_figure(data, wave, league, lang)
    return Page(f"league-{league}", name, [
        Section("", [Chart(f"league-{league}-counties", compare)], text("league_intro", lang, league=name, wave=wave)),
        Section(text("county_table", lang), [county_table(data, wave, league, lang)]),
        Section(text("page_trends", lang), [
            Chart(f"league-{league}-trend", trend_figure(data, wave, [league], lang,
                                                         text("chart_league_trend", lang, league=name, wave=wave),
                                                         show_direction=latest, per_row=1))]),
        Section(text("league_alerts", lang, wave=wave), [alerts_table(data, wave, lang, league=league)]),
    ], footnotes=_footnotes(lang))


def build_pages(data: ReportData, wave: str, lang: str, data_docs: str | None) -> list[Page]:
    """Every page of one wave's set in one language."""
    from pipelines.report.policy import policy_page

    return [overview_page(data, wave, lang), trends_page(data, wave, lang), breakdowns_page(data, wave, lang),
            inspection_page(data, wave, lang), alerts_page(data, wave, lang),
            quality_page(data, wave, lang, data_docs), policy_page(data, wave, lang),
            *[league_page(data, wave, league, lang) for league in data.leagues]]


@dataclass
class SiteSummary:
    pages: int = 0
    charts: int = 0
    bytes: int = 0
    sets: list[str] = field(default_factory=list)


INDEX_PAGES = ("index", "trends", "breakdowns", "inspection", "alerts", "quality", "policy")
PAGE_TITLE_KEYS = {"index": "page_overview", "trends": "page_trends", "breakdowns": "page_breakdowns",
                   "inspection": "page_inspection", "alerts": "page_alerts", "quality": "page_quality",
                   "policy": "page_policy"}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.globals["text"] = text
    return env


def page_path(set_name: str, key: str, lang: str) -> str:
    """A page's path under reports/: Chinese at <set>/<key>.html, English at <set>/en/<key>.html."""
    return f"{set_name}/{'en/' if lang == 'en' else ''}{key}.html"


def _owned_paths(out_dir: Path) -> list[Path]:
    """What a previous build wrote; Data Docs and anything else in reports/ stay."""
    if not out_dir.is_dir():
        return []
    return [p for p in out_dir.iterdir() if p.name in ("index.html", "en", "assets", LATEST)
            or (p.is_dir() and WAVE_KEY.fullmatch(p.name))]


def _write_set_pages(env: jinja2.Environment, out_dir: Path, pages: list[Page], wave: str, lang: str,
                     set_name: str, sets: list[tuple[str, str]]) -> None:
    """One language of one page set; `sets` feeds the wave switcher, which keeps the page."""
    root = "../" if lang == "zh" else "../../"
    nav = [{"key": p.key, "title": p.title} for p in pages if not p.key.startswith("league-")]
    leagues = [{"key": p.key, "title": p.title} for p in pages if p.key.startswith("league-")]
    template = env.get_template("page.html")
    for page in pages:
        html = template.render(
            page=page, lang=lang, root=root, wave=wave, set_name=set_name, nav=nav, leagues=leagues,
            charts=page.charts, home=f"{root}{'en/' if lang == 'en' else ''}index.html",
            other_href=f"en/{page.key}.html" if lang == "zh" else f"../{page.key}.html",
            sets=[{"name": s, "wave": w, "href": root + page_path(s, page.key, lang)} for s, w in sets])
        target = out_dir / page_path(set_name, page.key, lang)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")


def _write_index(env: jinja2.Environment, data: ReportData, out_dir: Path, lang: str,
                 sets: list[tuple[str, str]], has_docs: bool) -> None:
    """reports/index.html (or en/index.html): every set with its pages and league pages."""
    root = "" if lang == "zh" else "../"
    listed = [{"name": s, "wave": w, "latest": s == LATEST,
               "pages": [{"title": text(PAGE_TITLE_KEYS[k], lang), "href": root + page_path(s, k, lang)}
                         for k in INDEX_PAGES],
               "leagues": [{"title": data.name(c, lang), "href": root + page_path(s, f"league-{c}", lang)}
                           for c in data.leagues]} for s, w in sets]
    html = env.get_template("index.html").render(
        lang=lang, root=root, home="index.html", other_href="en/index.html" if lang == "zh" else "../index.html",
        sets=listed, baseline=data.baseline, has_docs=has_docs)
    target = out_dir / ("en/index.html" if lang == "en" else "index.html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")


def build_site(data: ReportData, out_dir: Path) -> SiteSummary:
    """Write the site under out_dir (reports/): index, assets, latest/ and one set per wave, each in zh and en.

    latest/ holds the same pages as the newest wave's set, so a bookmark to it always shows the newest wave.
    """
    out_dir = Path(out_dir)
    for path in _owned_paths(out_dir):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    (out_dir / "assets").mkdir(parents=True)
    shutil.copyfile(PLOTLY_JS, out_dir / "assets" / "plotly.min.js")
    shutil.copyfile(TEMPLATES / "site.css", out_dir / "assets" / "site.css")
    env = _environment()
    waves = data.waves
    sets = ([(LATEST, data.latest_wave)] if waves else []) + [(w, w) for w in reversed(waves)]
    has_docs = (out_dir / "data_docs" / "index.html").is_file()
    summary = SiteSummary(sets=[s for s, _ in sets])
    for wave in waves:
        for lang in LANGS:
            docs = ("../" if lang == "zh" else "../../") + "data_docs/index.html" if has_docs else None
            pages = build_pages(data, wave, lang, docs)
            for set_name in [s for s, w in sets if w == wave]:
                _write_set_pages(env, out_dir, pages, wave, lang, set_name, sets)
                summary.pages += len(pages)
                summary.charts += sum(len(p.charts) for p in pages)
    for lang in LANGS:
        _write_index(env, data, out_dir, lang, sets, has_docs)
        summary.pages += 1
    summary.bytes = site_size(out_dir)
    return summary


def publish_site(data: ReportData, reports_dir: Path, data_docs_dir: Path | None = None) -> SiteSummary:
    """Build the whole site beside reports/, then swap it in: a failed build leaves the old site whole.

    Data Docs are copied in from `data_docs_dir`, and anything else a user put in reports/ is carried over.
    A storage failure (disk full, read-only) raises FatalPipelineError with one line.
    """
    reports_dir = Path(reports_dir)
    parent = reports_dir.parent
    staging = parent / f".{reports_dir.name}.building-{os.getpid()}"
    previous = parent / f".{reports_dir.name}.previous-{os.getpid()}"
    try:
        for stale in parent.glob(f".{reports_dir.name}.building-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging.mkdir(parents=True)
        if data_docs_dir is not None and (Path(data_docs_dir) / "index.html").is_file():
            shutil.copytree(data_docs_dir, staging / "data_docs")
        owned = set(_owned_paths(reports_dir))
        for extra in (reports_dir.iterdir() if reports_dir.is_dir() else []):
            if extra not in owned and extra.name != "data_docs":
                (shutil.copytree if extra.is_dir() else shutil.copy2)(extra, staging / extra.name)
        summary = build_site(data, staging)
        _swap(staging, reports_dir, previous)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise FatalPipelineError("cannot publish the report site "
                                 f"({os.strerror(exc.errno) if exc.errno else type(exc).__name__}); "
                                 "the previous site is unchanged") from None
    shutil.rmtree(previous, ignore_errors=True)
    return summary


def _swap(staging: Path, reports_dir: Path, previous: Path) -> None:
    """Two renames on one filesystem; if the second fails the first is undone."""
    shutil.rmtree(previous, ignore_errors=True)
    had_site = reports_dir.exists()
    if had_site:
        os.rename(reports_dir, previous)
    try:
        os.rename(staging, reports_dir)
    except OSError:
        if had_site:
            os.rename(previous, reports_dir)
        raise


def site_size(out_dir: Path) -> int:
    """Bytes of everything under reports/ that this site wrote (Data Docs excluded)."""
    return sum(f.stat().st_size for p in _owned_paths(Path(out_dir))
               for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file())

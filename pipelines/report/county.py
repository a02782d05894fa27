"""A page per county (every county of divisions.csv), bookmarkable as <set>/county/<GB/T 2260 code>.html.

Direct figures come first; a thin county's Fay–Herriot figure stands beside them, labelled model-based.
Trends are a table over the waves (no chart: 103 counties × every set would bloat the site). A
suppressed cell stays ‡, and so does a suppressed county's n.
"""

from __future__ import annotations

from pipelines.report.blocks import Cell, Page, Section, Table
from pipelines.report.data import ReportData
from pipelines.report.format import MISSING, SUPPRESSED, format_n, format_value, metric_title
from pipelines.report.policy import county_case_history
from pipelines.report.tables import alerts_table, metric_cell
from pipelines.report.text import DIRECTION, label, text

COUNTY_METRICS = (
    "hours_nonteaching",
    "hours_total",
    "nonteaching_share",
    "felt_net",
    "felt_lighter_share",
    "felt_heavier_share",
    "focus_share",
)
TREND_METRICS = ("hours_nonteaching", "felt_net", "focus_share", "school_inspections_per_school")


def county_key(code: str) -> str:
    """The page key of a county: its path under a set is county/<code>.html."""
    return f"county/{code}"


def _n_cell(cell: dict | None) -> Cell:
    """n of a county cell; ‡ where the cell is suppressed (its n would undo complementary suppression)."""
    if cell is None:
        return Cell(MISSING, None, "num")
    if cell["suppressed"]:
        return Cell(SUPPRESSED, None, "num suppressed")
    return Cell(format_n(cell["n"]), cell["n"], "num")


def figures_table(data: ReportData, wave: str, county: str, lang: str) -> Table:
    """One row per metric: the direct estimate with its interval, n, and the model-based figure if any."""
    headers = [
        text("indicator", lang),
        text("direct_estimate", lang),
        text("n_resp", lang),
        text("model_estimate", lang),
    ]
    rows = []
    for metric in (*COUNTY_METRICS, "school_inspections_per_school"):
        cell = data.cell(wave, county, metric)
        model = data.model(wave, county, metric)
        shown = (
            MISSING
            if model is None
            else f"{format_value(metric, model['estimate'])} ±{format_value(metric, 1.96 * model['rmse']).lstrip('+')}"
        )
        rows.append(
            [
                Cell(metric_title(metric, lang), None, "name"),
                metric_cell(metric, cell, lang),
                _n_cell(cell),
                Cell(
                    shown,
                    None if model is None else model["estimate"],
                    "num model" if model else "num",
                    text("hover_model", lang) if model else "",
                ),
            ]
        )
    return Table(headers, rows)


def trend_table(data: ReportData, wave: str, county: str, lang: str) -> Table:
    """The county's headline figures wave by wave up to the report wave, with the trend's direction last."""
    waves = data.waves_to(wave)
    headers = [text("indicator", lang), *waves, text("direction", lang)]
    trends = {metric: r["direction"] for metric, r in data.area_trends(county).items()}
    rows = []
    for metric in TREND_METRICS:
        direction = trends.get(metric) if wave == data.latest_wave else None
        rows.append(
            [
                Cell(metric_title(metric, lang), None, "name"),
                *[metric_cell(metric, data.cell(w, county, metric), lang) for w in waves],
                Cell(label(DIRECTION, direction, lang) if direction else MISSING, direction),
            ]
        )
    return Table(headers, rows)


def county_page(data: ReportData, wave: str, county: str, lang: str, alerts: Table | None = None) -> Page:
    """`alerts`: the league's alerts table, when the caller built it once for all the league's counties."""
    league = data.parent(county)
    assert league is not None  # every county belongs to a league
    name, league_name = data.name(county, lang), data.name(league, lang)
    alerts = alerts or alerts_table(data, wave, lang, league=league)
    return Page(
        county_key(county),
        name,
        [
            Section(
                text("county_figures", lang, county=name, code=county, wave=wave),
                [figures_table(data, wave, county, lang)],
                text("county_intro", lang, league=league_name),
            ),
            Section(
                text("page_trends", lang), [trend_table(data, wave, county, lang)], text("county_trend_intro", lang)
            ),
            Section(text("county_alerts", lang, league=league_name, wave=wave), [alerts]),
            Section(text("policy_case_history", lang), [county_case_history(data, county, lang)]),
        ],
        footnotes=[
            data.say("fn_suppressed", lang),
            text("fn_interval", lang),
            data.say("fn_caution", lang),
            text("fn_unreliable", lang),
            text("fn_model", lang),
            text("fn_missing", lang),
        ],
        parent=(league, league_name),
    )


def county_pages(data: ReportData, wave: str, lang: str, data_docs: str | None = None) -> list[Page]:
    """Every county of the divisions file, league by league."""
    pages = []
    for league in data.leagues:
        alerts = alerts_table(data, wave, lang, league=league)
        pages += [county_page(data, wave, county, lang, alerts) for county in data.counties(league)]
    return pages

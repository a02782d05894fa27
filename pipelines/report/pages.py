"""One wave's page set: the overview, trends, breakdowns, inspection, alerts, quality and league pages.

`PAGE_BUILDERS` lists the set's pages in order; another module adds a page by appending a
builder `(data, wave, lang, data_docs) -> Page | list[Page]` to it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from pipelines.report.blocks import Chart, Page, Section
from pipelines.report.breakdowns import category_figure, inspection_figure, item_heatmap_figure
from pipelines.report.county import county_pages
from pipelines.report.data import ReportData
from pipelines.report.figures import area_dot_figure, county_figure, region_compare_figure, trend_figure
from pipelines.report.format import MISSING, format_cell, format_n, format_pct, format_value, is_share, metric_unit
from pipelines.report.policy import policy_page
from pipelines.report.quality import quality_page
from pipelines.report.tables import alerts_table, county_table, inspection_table, items_table
from pipelines.report.text import text

TEMPLATES = Path(__file__).parent / "templates"


def kpis(data: ReportData, wave: str, baseline: str, lang: str) -> list[dict]:
    """The four headline cards of the overview: value, interval and the baseline beside it."""
    cards = []
    for metric, key in (("hours_nonteaching", "kpi_hours"), ("felt_net", "kpi_felt")):
        now, base = data.cell(wave, data.region, metric), data.cell(baseline, data.region, metric)
        cards.append(
            {
                "title": text(key, lang),
                "value": format_cell(metric, now, lang).split(" [")[0],
                "unit": "" if is_share(metric) else metric_unit(metric, lang),
                "detail": (
                    f"{text('interval', lang)} " + format_cell(metric, now, lang).partition(" ")[2]
                    if now and not now["suppressed"]
                    else ""
                ),
                "foot": text("kpi_vs_baseline", lang, baseline=baseline, value=format_cell(metric, base, lang)),
                "n": format_n(now["n"]) if now and not now["suppressed"] else "",
                "status": "",
            }
        )
    target = data.inspection.filter((pl.col("wave") == wave) & (pl.col("area_code") == data.region))
    row = target.row(0, named=True) if target.height else {}
    at_baseline = row.get("baseline_wave") == wave
    met = None if at_baseline else row.get("target_met")
    cards.append(
        {
            "title": text("kpi_inspection", lang),
            "value": MISSING if at_baseline else format_pct(row.get("reduction_pct")),
            "unit": "",
            "detail": data.say("kpi_target", lang),
            "foot": text(
                "kpi_per_school",
                lang,
                unit=metric_unit("school_inspections_per_school", lang),
                now=format_value("school_inspections_per_school", row.get("inspections_per_school")),
                base=format_value("school_inspections_per_school", row.get("baseline_per_school")),
                baseline=baseline,
            ),
            "n": format_n(row.get("n_schools")),
            "status": "" if met is None else ("met" if met else "missed"),
        }
    )
    open_alerts = data.alerts.filter(pl.col("wave") == wave)
    high = open_alerts.filter(pl.col("severity") == "high").height
    cards.append(
        {
            "title": text("kpi_alerts", lang),
            "value": str(open_alerts.height),
            "unit": "",
            "detail": text("kpi_high", lang, n=high),
            "foot": "",
            "n": "",
            "status": "missed" if high else "",
        }
    )
    return cards


def footnotes(data: ReportData, lang: str) -> list[str]:
    return [
        data.say("fn_suppressed", lang),
        text("fn_not_collected", lang),
        text("fn_interval", lang),
        data.say("fn_caution", lang),
        text("fn_unreliable", lang),
        text("fn_model", lang),
        text("fn_missing", lang),
    ]


def overview_page(data: ReportData, wave: str, lang: str) -> Page:
    baseline = data.baseline or wave
    return Page(
        "index",
        text("page_overview", lang),
        [
            Section(
                text("region", lang),
                [
                    Chart("overview-region", region_compare_figure(data, wave, baseline, lang)),
                ],
                text("overview_intro", lang, wave=wave, baseline=baseline),
            ),
            Section(
                text("league", lang),
                [
                    Chart(
                        "overview-hours",
                        area_dot_figure(
                            data,
                            wave,
                            "hours_nonteaching",
                            data.leagues,
                            data.region,
                            lang,
                            text("chart_league_hours", lang, wave=wave),
                        ),
                    ),
                    Chart(
                        "overview-felt",
                        area_dot_figure(
                            data,
                            wave,
                            "felt_net",
                            data.leagues,
                            data.region,
                            lang,
                            text("chart_league_felt", lang, wave=wave),
                        ),
                    ),
                ],
            ),
        ],
        kpis=kpis(data, wave, baseline, lang),
        footnotes=footnotes(data, lang),
    )


def trends_page(data: ReportData, wave: str, lang: str) -> Page:
    latest = wave == data.latest_wave
    return Page(
        "trends",
        text("page_trends", lang),
        [
            Section(
                "",
                [
                    Chart(
                        "trends",
                        trend_figure(
                            data,
                            wave,
                            [data.region, *data.leagues],
                            lang,
                            text("chart_trends", lang, wave=wave),
                            show_direction=latest,
                        ),
                    ),
                ],
                data.say("trends_intro", lang),
            ),
        ],
        footnotes=footnotes(data, lang),
    )


def breakdowns_page(data: ReportData, wave: str, lang: str) -> Page:
    areas = [data.region, *data.leagues]
    return Page(
        "breakdowns",
        text("page_breakdowns", lang),
        [
            Section(
                "",
                [
                    Chart("categories", category_figure(data, wave, areas, lang)),
                    Chart("items", item_heatmap_figure(data, wave, areas, lang)),
                ],
                data.say("breakdowns_intro", lang),
            ),
            Section(text("items_table", lang), [items_table(data, wave, lang)]),
        ],
        footnotes=footnotes(data, lang),
    )


def inspection_page(data: ReportData, wave: str, lang: str) -> Page:
    areas = [data.region, *data.leagues]
    return Page(
        "inspection",
        text("page_inspection", lang),
        [
            Section(
                "",
                [
                    Chart("inspection", inspection_figure(data, wave, areas, lang)),
                    inspection_table(data, wave, areas, lang),
                ],
                data.say("inspection_intro", lang, baseline=data.baseline or wave),
            ),
        ],
        footnotes=[text("fn_interval", lang), text("fn_missing", lang)],
    )


def alerts_page(data: ReportData, wave: str, lang: str) -> Page:
    table = alerts_table(data, wave, lang, table_id="alerts")
    return Page(
        "alerts",
        text("page_alerts", lang),
        [
            Section("", [table], text("alerts_intro", lang)),
        ],
        footnotes=[text("fn_interval", lang)],
        script=(TEMPLATES / "alerts.js").read_text(encoding="utf-8"),
    )


def league_page(data: ReportData, wave: str, league: str, lang: str) -> Page:
    name = data.name(league, lang)
    latest = wave == data.latest_wave
    compare = county_figure(data, wave, league, lang)
    return Page(
        f"league-{league}",
        name,
        [
            Section(
                "", [Chart(f"league-{league}-counties", compare)], text("league_intro", lang, league=name, wave=wave)
            ),
            Section(text("county_table", lang), [county_table(data, wave, league, lang)]),
            Section(
                text("page_trends", lang),
                [
                    Chart(
                        f"league-{league}-trend",
                        trend_figure(
                            data,
                            wave,
                            [league],
                            lang,
                            text("chart_league_trend", lang, league=name, wave=wave),
                            show_direction=latest,
                            per_row=1,
                        ),
                    )
                ],
            ),
            Section(text("league_alerts", lang, wave=wave), [alerts_table(data, wave, lang, league=league)]),
        ],
        footnotes=footnotes(data, lang),
        pdf=True,
    )


PageBuilder = Callable[[ReportData, str, str, "str | None"], "Page | list[Page]"]
"""(data, wave, lang, data_docs link or None) -> a page or several."""

PAGE_BUILDERS: list[PageBuilder] = [
    lambda data, wave, lang, docs: overview_page(data, wave, lang),
    lambda data, wave, lang, docs: trends_page(data, wave, lang),
    lambda data, wave, lang, docs: breakdowns_page(data, wave, lang),
    lambda data, wave, lang, docs: inspection_page(data, wave, lang),
    lambda data, wave, lang, docs: alerts_page(data, wave, lang),
    quality_page,
    lambda data, wave, lang, docs: policy_page(data, wave, lang),
    lambda data, wave, lang, docs: [league_page(data, wave, league, lang) for league in data.leagues],
    county_pages,
]


def build_pages(data: ReportData, wave: str, lang: str, data_docs: str | None) -> list[Page]:
    """Every page of one wave's set in one language, in the order of PAGE_BUILDERS."""
    pages: list[Page] = []
    for builder in PAGE_BUILDERS:
        built = builder(data, wave, lang, data_docs)
        pages.extend(built if isinstance(built, list) else [built])
    return pages

"""The entry page (reports/index.html): the region's answer for the latest wave, then links to everything.

Headline: the felt-reduction index with its interval in percentage points, the inspection cut against
the target with its verdict, and the alerts by severity; then the same verdicts per league, and links
to the wave sets, league pages and county pages. With no wave loaded it lists the rejected files and why.
"""

from __future__ import annotations

import polars as pl

from pipelines.report.blocks import Cell, Table
from pipelines.report.data import ReportData
from pipelines.report.format import MISSING, format_cell, format_pct
from pipelines.report.tables import metric_cell
from pipelines.report.text import SEVERITY, label, text

SEVERITIES = ("high", "medium", "low")


def _inspection(data: ReportData, wave: str, area: str) -> dict:
    rows = data.inspection.filter((pl.col("wave") == wave) & (pl.col("area_code") == area))
    return rows.row(0, named=True) if rows.height else {}


def verdict(row: dict, wave: str) -> str | None:
    """'met' / 'missed' for a wave after the baseline, None at the baseline or without data."""
    if not row or row.get("target_met") is None or row.get("baseline_wave") == wave:
        return None
    return "met" if row["target_met"] else "missed"


def alert_counts(data: ReportData, wave: str, area: str | None = None) -> dict[str, int]:
    """Alerts of the wave by severity, for one league or all."""
    frame = data.alerts.filter(pl.col("wave") == wave)
    if area is not None:
        frame = frame.filter(pl.col("area_code") == area)
    return {s: frame.filter(pl.col("severity") == s).height for s in SEVERITIES}


def headline(data: ReportData, wave: str, lang: str) -> list[dict]:
    """Three cards: felt_net (points, interval), inspection cut vs the target (met / not met), alerts by severity."""
    felt = data.cell(wave, data.region, "felt_net")
    shown = format_cell("felt_net", felt, lang)
    value, _, interval = shown.partition(" [")
    base = data.baseline
    row = _inspection(data, wave, data.region)
    status = verdict(row, wave)
    counts = alert_counts(data, wave)
    return [
        {
            "title": text("kpi_felt", lang),
            "value": value,
            "unit": text("points", lang) if interval else "",
            "detail": f"{text('interval', lang)} [{interval}" if interval else "",
            "foot": text(
                "kpi_vs_baseline",
                lang,
                baseline=base,
                value=format_cell("felt_net", data.cell(base, data.region, "felt_net"), lang),
            )
            if base and base != wave
            else "",
            "n": "",
            "status": "",
        },
        {
            "title": text("kpi_inspection", lang),
            "value": MISSING if status is None else format_pct(row.get("reduction_pct")),
            "unit": "",
            "detail": data.say("kpi_target", lang),
            "foot": text("kpi_met" if status == "met" else "kpi_not_met", lang) if status else "",
            "n": "",
            "status": status or "",
        },
        {
            "title": text("kpi_alerts", lang),
            "value": str(sum(counts.values())),
            "unit": "",
            "detail": text("sep", lang).join(f"{label(SEVERITY, s, lang)} {counts[s]}" for s in SEVERITIES),
            "foot": "",
            "n": "",
            "status": "missed" if counts["high"] else "",
        },
    ]


def league_table(data: ReportData, wave: str, lang: str, href) -> Table:
    """One row per league: felt_net with its interval, the inspection cut and verdict, alerts by severity.

    `href(league_code)` gives the league page's link from the entry page.
    """
    headers = [
        text("league", lang),
        f"{text('kpi_felt', lang)}（{text('points', lang)}）"
        if lang == "zh"
        else f"{text('kpi_felt', lang)} ({text('points', lang)})",
        text("reduction", lang),
        data.say("kpi_target", lang),
        *[text("alerts_of", lang, severity=label(SEVERITY, s, lang)) for s in SEVERITIES],
    ]
    rows = []
    for code in [data.region, *data.leagues]:
        row = _inspection(data, wave, code)
        status = verdict(row, wave)
        counts = alert_counts(data, wave, code if code != data.region else None)
        rows.append(
            [
                Cell(
                    data.name(code, lang),
                    code,
                    "name strong" if code == data.region else "name",
                    href=None if code == data.region else href(code),
                ),
                metric_cell("felt_net", data.cell(wave, code, "felt_net"), lang),
                Cell(
                    MISSING if status is None else format_pct(row.get("reduction_pct")),
                    None if status is None else row.get("reduction_pct"),
                    "num",
                ),
                Cell(
                    text("kpi_met" if status == "met" else "kpi_not_met", lang) if status else MISSING,
                    status,
                    status or "",
                ),
                *[Cell(str(counts[s]), counts[s], "num" + (f" sev-{s}" if counts[s] else "")) for s in SEVERITIES],
            ]
        )
    return Table(headers, rows)

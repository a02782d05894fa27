"""The survey tables: counties with intervals and ‡, alerts with filter keys, the inspection tracker, the items."""

from __future__ import annotations

import polars as pl

from pipelines.catalogue.metrics import CATEGORY_LABELS, METRIC_BY_NAME
from pipelines.report.blocks import Cell, Table
from pipelines.report.data import ReportData
from pipelines.report.format import (
    MISSING,
    SUPPRESSED,
    absent_hover,
    format_cell,
    format_n,
    format_pct,
    format_points,
    format_value,
    metric_title,
    metric_unit,
)
from pipelines.report.text import LANGS, RULES, SEVERITY, label, text


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
    shown = (
        f"{direct.text} ｜ {text('model_based', lang)} {format_value(metric, model['estimate'])}"
        f" ±{format_value(metric, 1.96 * model['rmse']).lstrip('+')}"
    )
    return Cell(shown, direct.sort, direct.cls + " model", text("hover_model", lang))


def county_table(data: ReportData, wave: str, league: str, lang: str) -> Table:
    """One row per county (the league first) with the headline figures, intervals and ‡.

    A suppressed county's n is ‡ too, even in the sort key: with the league's n and the
    published siblings' n it would give back the small count complementary suppression hides.
    """
    metrics = ("hours_nonteaching", "felt_net", "focus_share")
    headers = [
        text("county", lang),
        *[metric_title(m, lang) for m in metrics],
        text("n_resp", lang),
        metric_title("school_inspections_per_school", lang),
        text("n_schools", lang),
    ]
    rows = []
    for code in [league, *data.counties(league)]:
        survey = data.cell(wave, code, "hours_nonteaching")
        school = data.cell(wave, code, "school_inspections_per_school")
        n = MISSING if survey is None else (SUPPRESSED if survey["suppressed"] else format_n(survey["n"]))
        rows.append(
            [
                Cell(
                    data.name(code, lang),
                    data.name(code, lang),
                    "name strong" if code == league else "name",
                    href=None if code == league else f"county/{code}.html",
                ),
                *[
                    model_cell(
                        m,
                        metric_cell(m, data.cell(wave, code, m), lang),
                        data.model(wave, code, m) if code != league else None,
                        lang,
                    )
                    for m in metrics
                ],
                Cell(
                    n,
                    survey["n"] if survey and n != SUPPRESSED else None,
                    "num suppressed" if n == SUPPRESSED else "num",
                ),
                metric_cell("school_inspections_per_school", school, lang),
                Cell(format_n(school["n"]) if school else MISSING, school["n"] if school else None, "num"),
            ]
        )
    return Table(headers, rows)


def alerts_table(data: ReportData, wave: str, lang: str, league: str | None = None, table_id: str = "") -> Table:
    """Alerts up to the report wave (one league's, or all), newest first, with filter keys per row."""
    frame = data.alerts.filter(pl.col("wave") <= wave)
    if league:
        frame = frame.filter((pl.col("area_code") == league) & (pl.col("wave") == wave))
    frame = frame.sort(["wave", "severity", "area_code", "rule"], descending=[True, False, False, False])
    headers = [
        text("wave", lang),
        text("league", lang),
        text("rule", lang),
        text("severity", lang),
        text("value", lang),
        text("message", lang),
    ]
    rows, keys = [], []
    for r in frame.iter_rows(named=True):
        value = alert_value(r, lang)
        rows.append(
            [
                Cell(r["wave"], r["wave"], "nowrap"),
                Cell(data.name(r["area_code"], lang), r["area_code"], "nowrap"),
                Cell(label(RULES, r["rule"], lang), r["rule"], "nowrap"),
                Cell(
                    label(SEVERITY, r["severity"], lang),
                    {"high": 0, "medium": 1}.get(r["severity"], 2),
                    f"sev-{r['severity']}",
                ),
                Cell(value, r["value"], "num"),
                Cell(r["message"] if lang == "zh" else r["message_en"], None, "message"),
            ]
        )
        keys.append({"rule": r["rule"], "league": r["area_code"], "wave": r["wave"]})
    filters = []
    if table_id:
        filters = [
            {
                "key": "rule",
                "label": text("rule", lang),
                "selected": "",
                "options": [(k, label(RULES, k, lang)) for k in sorted({k["rule"] for k in keys})],
            },
            {
                "key": "league",
                "label": text("league", lang),
                "selected": "",
                "options": [(k, data.name(k, lang)) for k in sorted({k["league"] for k in keys})],
            },
            {
                "key": "wave",
                "label": text("wave", lang),
                "selected": wave if any(k["wave"] == wave for k in keys) else "",
                "options": [(k, k) for k in sorted({k["wave"] for k in keys}, reverse=True)],
            },
        ]
    return Table(headers, rows, table_id=table_id, row_data=keys, filters=filters)


def alert_value(r: dict, lang: str) -> str:
    """An alert's value in its unit: a share or rate as a percentage, felt_net's slope in points, never a fraction."""
    metric = r["metric"]
    if r["value"] is None:
        return MISSING
    if r["rule"] in ("inspection_target_missed", "low_completeness", "paper_reduction"):
        return format_pct(r["value"])
    if r["rule"] == "not_felt":
        return format_points(r["value"], lang)
    return format_value(metric, r["value"]) if metric in METRIC_BY_NAME else f"{r['value']:.3g}"


def inspection_table(data: ReportData, wave: str, areas: list[str], lang: str) -> Table:
    """The tracker: reduction from baseline per area and wave, ✓ where the 50% target is met."""
    waves = data.waves_to(wave)
    rows_by = {(r["area_code"], r["wave"]): r for r in data.inspection.iter_rows(named=True)}
    headers = [text("league", lang), text("per_school_base", lang), *waves, text("target_met", lang)]
    rows = []
    for code in areas:
        base = next((r for w in waves if (r := rows_by.get((code, w)))), None)
        row = [
            Cell(data.name(code, lang), code, "name strong" if code == data.region else "name"),
            Cell(
                format_value("school_inspections_per_school", base["baseline_per_school"]) if base else MISSING,
                base["baseline_per_school"] if base else None,
                "num",
            ),
        ]
        for w in waves:
            r = rows_by.get((code, w))
            if r is None or r["reduction_pct"] is None or w == r["baseline_wave"]:
                baseline = r is not None and w == r["baseline_wave"]
                row.append(Cell(MISSING, None, "num", text("baseline_no_reduction", lang) if baseline else ""))
                continue
            mark = "✓ " if r["target_met"] else ""
            row.append(
                Cell(
                    f"{mark}{format_pct(r['reduction_pct'])}",
                    r["reduction_pct"],
                    "num " + ("met" if r["target_met"] else "missed"),
                    f"{format_value('school_inspections_per_school', r['inspections_per_school'])} "
                    f"{metric_unit('school_inspections_per_school', lang)}, n = {r['n_schools']}",
                )
            )
        last = rows_by.get((code, wave))
        met = None if last is None else last["target_met"]
        row.append(
            Cell(
                MISSING if met is None else text("yes" if met else "no", lang),
                None,
                "" if met is None else ("met" if met else "missed"),
            )
        )
        rows.append(row)
    return Table(headers, rows)


def items_table(data: ReportData, wave: str, lang: str) -> Table:
    """The 26 items in full, with category, red-line tag and the region's share with its interval."""
    headers = [
        text("item", lang),
        text("category", lang),
        text("red_line", lang),
        f"{text('region', lang)}：{text('axis_share_colour', lang)}"
        if lang == "zh"
        else f"{text('region', lang)}: share",
        "",
    ]
    rows = []
    for item in data.items.iter_rows(named=True):
        metric = f"item_{item['item_no']:02d}"
        category = CATEGORY_LABELS[item["category_no"]][LANGS.index(lang)]
        rows.append(
            [
                Cell(text("item_no", lang, no=item["item_no"]), item["item_no"], "nowrap"),
                Cell(category, item["category_no"], "nowrap"),
                Cell(
                    text("red_line", lang) if item["red_line"] else "",
                    int(bool(item["red_line"])),
                    "red-line" if item["red_line"] else "",
                ),
                metric_cell(metric, data.cell(wave, data.region, metric), lang),
                Cell(item["text_zh" if lang == "zh" else "text_en"], None, "message"),
            ]
        )
    headers[-1] = text("message", lang)
    return Table(headers, rows)

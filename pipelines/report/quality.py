"""The data-quality page: loads, completeness, rejections by reason, unreadable files, flags, outliers."""

from __future__ import annotations

from typing import cast

import polars as pl
from markupsafe import Markup

from pipelines.catalogue.metrics import METRIC_BY_NAME
from pipelines.catalogue.rules import REASON_CODES
from pipelines.report.blocks import Cell, Chart, Note, Page, Section, Table
from pipelines.report.data import ReportData
from pipelines.report.figures import COLOURS, finish
from pipelines.report.format import MISSING, SUPPRESSED, format_n, format_pct, format_value, metric_label, metric_title
from pipelines.report.plot import Figure, add_trace, figure, merge, update_axes
from pipelines.report.text import SCHOOL_COUNTS, SOURCES, label, text


def completeness_figure(data: ReportData, wave: str, lang: str) -> Figure:
    """School-report completeness per league and wave; the 80% floor of the alert rule drawn in the scale."""
    waves = data.waves_to(wave)
    frame = data.completeness.filter(pl.col("wave").is_in(waves))
    cells = {(r["area_code"], r["wave"]): r for r in frame.iter_rows(named=True)}
    leagues = data.leagues
    names = [data.name(code, lang) for code in leagues]
    z = [[(cells.get((code, w)) or {}).get("completeness") for w in waves] for code in leagues]
    custom = [
        [
            [
                (cells.get((code, w)) or {}).get("schools_reporting"),
                (cells.get((code, w)) or {}).get("schools_expected"),
            ]
            for w in waves
        ]
        for code in leagues
    ]
    floor = data.thresholds.completeness_min
    fig = figure(
        {
            "type": "heatmap",
            "z": z,
            "x": waves,
            "y": names,
            "customdata": custom,
            "text": [[format_pct(v) for v in r] for r in z],
            "texttemplate": "%{text}",
            "zmin": 0,
            "zmax": 1,
            "xgap": 1,
            "ygap": 1,
            "colorscale": [[0, "#c62828"], [floor - 0.001, "#f4b6a6"], [floor, "#d7ecd9"], [1, "#2e7d32"]],
            "colorbar": {"title": {"text": text("completeness", lang)}, "tickformat": ".0%"},
            "hovertemplate": (
                f"<b>%{{y}}</b> · %{{x}}<br>{text('completeness', lang)}: %{{z:.1%}}<br>"
                f"{text('schools_reporting', lang)}: %{{customdata[0]}} / %{{customdata[1]}}<br>"
                f"{text('hover_census', lang)}<extra></extra>"
            ),
        }
    )
    update_axes(fig, "x", {"title": {"text": text("axis_wave", lang)}, "type": "category"})
    update_axes(fig, "y", {"title": {"text": text("axis_league", lang)}, "autorange": "reversed", "type": "category"})
    reporting = frame.filter(pl.col("wave") == wave)["schools_reporting"].sum()
    return finish(
        fig,
        text("chart_completeness", lang),
        text("source_school", lang, wave=wave, n=format_n(reporting)),
        height=200 + 30 * len(leagues),
    )


def reject_label(kind: str, column: str | None, lang: str) -> str:
    """'out_of_range:hours_cat1' as words: the kind translated, the column by its metric label if it has one."""
    head = label(REASON_CODES, kind, lang)
    if not column:
        return head
    shown = metric_label(column, lang) if column in METRIC_BY_NAME else column
    return f"{head}：{shown}" if lang == "zh" else f"{head}: {shown}"


def rejected_figure(data: ReportData, wave: str, lang: str) -> Figure | None:
    """Rejected rows of the wave by reason and source; None when the wave rejected nothing."""
    frame = data.rejected.filter(pl.col("wave") == wave)
    if frame.height == 0:
        return None
    frame = frame.with_columns(
        pl.struct("kind", "column_name")
        .map_elements(lambda s: reject_label(s["kind"], s["column_name"], lang), return_dtype=pl.String)
        .alias("label")
    )
    order = frame.group_by("label").agg(pl.col("rows_rejected").sum()).sort("rows_rejected", "label")["label"].to_list()
    fig = figure()
    for source, colour in (("teacher_survey", COLOURS["measured"]), ("school_report", COLOURS["felt"])):
        part = frame.filter(pl.col("source") == source)
        if part.height:
            add_trace(
                fig,
                {
                    "type": "bar",
                    "y": part["label"].to_list(),
                    "x": part["rows_rejected"].to_list(),
                    "orientation": "h",
                    "name": label(SOURCES, source, lang),
                    "marker": {"color": colour},
                    "hovertemplate": f"<b>%{{y}}</b><br>{label(SOURCES, source, lang)}: %{{x}}<br>"
                    f"{text('hover_census', lang)}<extra></extra>",
                },
            )
    merge(fig["layout"], {"barmode": "stack"})
    most = cast(int, frame.group_by("label").agg(pl.col("rows_rejected").sum())["rows_rejected"].max())
    update_axes(
        fig,
        "x",
        {"title": {"text": text("axis_rows", lang)}, "tick0": 0, "dtick": max(1, -(-most // 8)), "rangemode": "tozero"},
    )
    update_axes(
        fig,
        "y",
        {"title": {"text": text("reason", lang)}, "type": "category", "categoryorder": "array", "categoryarray": order},
    )
    received = data.loads.filter(pl.col("wave") == wave)["rows_received"].sum()
    return finish(
        fig,
        text("chart_rejected", lang, wave=wave),
        text("source_quality", lang, wave=wave, n=format_n(received)),
        height=180 + 26 * len(order),
    )


def loads_table(data: ReportData, wave: str, lang: str) -> Table:
    """Rows received, accepted and rejected per source in the wave, and rows without a valid wave."""
    columns = [
        c
        for c in (
            "rows_received",
            "rows_accepted",
            "rows_rejected",
            "schools_expected",
            "schools_reporting",
            "completeness",
            "on_time_share",
        )
        if c in data.loads.columns
    ]
    headings = {"completeness": text("coverage", lang)}
    headers = [text("wave", lang), text("source", lang), *[headings.get(c) or text(c, lang) for c in columns]]
    frame = data.loads.filter(pl.col("wave").is_null() | (pl.col("wave") == wave))
    rows = []
    for r in frame.iter_rows(named=True):
        shares: dict[str, Cell] = {
            c: Cell(format_pct(r[c]), r[c], "num") for c in ("completeness", "on_time_share") if c in columns
        }
        if "completeness" in shares and r["source"] == "teacher_survey":
            shares["completeness"] = Cell(
                format_pct(r["completeness"]), r["completeness"], "num neutral", text("coverage_survey", lang)
            )
        rows.append(
            [
                Cell(r["wave"] or text("wave_null", lang)),
                Cell(label(SOURCES, r["source"], lang)),
                *[shares.get(c) or Cell(format_n(r[c]), r[c], "num") for c in columns],
            ]
        )
    return Table(headers, rows)


def league_completeness_table(data: ReportData, wave: str, lang: str) -> Table:
    """School reports received, and on time, per league in the report wave."""
    headers = [
        text("league", lang),
        text("schools_expected", lang),
        text("schools_reporting", lang),
        text("completeness", lang),
        text("on_time_share", lang),
    ]
    cells = {r["area_code"]: r for r in data.completeness.filter(pl.col("wave") == wave).iter_rows(named=True)}
    rows = []
    for code in data.leagues:
        r = cells.get(code)
        if r is None:
            rows.append([Cell(data.name(code, lang), code, "name"), *[Cell(MISSING, None, "num")] * 4])
            continue
        low = r["completeness"] < data.thresholds.completeness_min
        rows.append(
            [
                Cell(data.name(code, lang), code, "name"),
                Cell(format_n(r["schools_expected"]), r["schools_expected"], "num"),
                Cell(format_n(r["schools_reporting"]), r["schools_reporting"], "num"),
                Cell(format_pct(r["completeness"]), r["completeness"], "num missed" if low else "num"),
                Cell(format_pct(r["on_time_share"]), r["on_time_share"], "num"),
            ]
        )
    return Table(headers, rows)


def rejected_table(data: ReportData, wave: str, lang: str) -> Table:
    headers = [text("wave", lang), text("source", lang), text("reason", lang), text("rows", lang)]
    frame = data.rejected.filter(pl.col("wave").is_null() | (pl.col("wave") == wave))
    rows = [
        [
            Cell(r["wave"] or text("wave_null", lang)),
            Cell(label(SOURCES, r["source"], lang)),
            Cell(reject_label(r["kind"], r["column_name"], lang), f"{r['kind']}:{r['column_name'] or ''}"),
            Cell(format_n(r["rows_rejected"]), r["rows_rejected"], "num"),
        ]
        for r in frame.iter_rows(named=True)
    ]
    return Table(headers, rows)


def respondent_quality_table(data: ReportData, wave: str, lang: str) -> Table:
    """Accepted rows of the wave carrying each respondent-quality flag; they stay in every estimate."""
    headers = [text("flag", lang), text("rows_flagged", lang), text("share_flagged", lang), text("rows_excluded", lang)]
    assert data.respondent_quality is not None  # the caller shows this table only when the mart exists
    frame = data.respondent_quality.filter(pl.col("wave") == wave)
    rows = [
        [
            Cell(text(f"flag_{r['flag']}", lang)),
            Cell(format_n(r["rows_flagged"]), r["rows_flagged"], "num"),
            Cell(format_pct(r["share_flagged"]), r["share_flagged"], "num"),
            Cell(format_n(r["rows_excluded"] or 0), r["rows_excluded"] or 0, "num"),
        ]
        for r in frame.iter_rows(named=True)
    ]
    return Table(headers, rows)


def respondent_exclusion_note(data: ReportData, wave: str, lang: str) -> Note:
    """Says how many rows a configured exclusion removed from this wave's estimates, or that none did."""
    assert data.respondent_quality is not None  # the caller shows this note only when the mart exists
    frame = data.respondent_quality.filter(pl.col("wave") == wave)
    removed = int(frame["rows_excluded"].fill_null(0).sum()) if frame.height else 0
    kinds = [text(f"flag_{k}", lang) for k, n in zip(frame["flag"], frame["rows_excluded"].fill_null(0)) if n]
    key = "flags_excluded" if removed else "flags_not_excluded"
    return Note(Markup.escape(text(key, lang, n=format_n(removed), kinds=text("sep", lang).join(kinds))))


def rejected_files_table(data: ReportData, lang: str) -> Table:
    headers = [text("source", lang), text("file", lang), text("reason", lang)]
    rows = [
        [Cell(label(SOURCES, r["source"], lang)), Cell(r["file"], r["file"], "nowrap"), Cell(r["reason"])]
        for r in data.rejected_files.iter_rows(named=True)
    ]
    return Table(headers, rows)


def outliers_table(data: ReportData, wave: str, lang: str) -> Table:
    """Schools with an outlying school-reported count in the wave, per league and count."""
    frame = data.outliers.filter(pl.col("wave") == wave) if data.outliers is not None else None
    metrics = [m for m in SCHOOL_COUNTS if frame is not None and m in frame["metric"].to_list()]
    headers = [
        text("league", lang),
        *[label(SCHOOL_COUNTS, m, lang) for m in metrics],
        text("outlier_schools", lang),
        text("outlier_open", lang),
    ]
    cells = {(r["area_code"], r["metric"]): r for r in frame.iter_rows(named=True)} if frame is not None else {}
    rows = []
    for code in data.leagues:
        total = cells.get((code, None))
        if total is None:
            continue
        rows.append(
            [
                Cell(data.name(code, lang), code, "name"),
                *[
                    Cell(
                        format_n((cells.get((code, m)) or {}).get("schools", 0)),
                        (cells.get((code, m)) or {}).get("schools", 0),
                        "num",
                    )
                    for m in metrics
                ],
                Cell(format_n(total["schools"]), total["schools"], "num"),
                Cell(format_n(total["schools_open"]), total["schools_open"], "num"),
            ]
        )
    return Table(headers, rows)


def consistency_table(data: ReportData, wave: str, lang: str) -> Table:
    """School-reported against teacher-reported inspections per league, and the schools flagged."""
    headers = [
        text("league", lang),
        metric_title("school_inspections_per_school", lang),
        metric_title("n_inspections", lang),
        text("ratio", lang),
        text("flagged", lang),
        text("schools_compared", lang),
        text("schools_flagged", lang),
    ]
    frame = data.consistency.filter(pl.col("wave") == wave) if data.consistency is not None else pl.DataFrame()
    rows = []
    for r in frame.iter_rows(named=True):
        ratio = MISSING if r["ratio"] is None else f"{r['ratio']:.2f}"
        rows.append(
            [
                Cell(data.name(r["area_code"], lang), r["area_code"], "name"),
                Cell(
                    format_value("school_inspections_per_school", r["school_reported_inspections"]),
                    r["school_reported_inspections"],
                    "num",
                ),
                Cell(
                    format_value("n_inspections", r["teacher_mean_inspections"])
                    if r["teacher_mean_inspections"] is not None
                    else SUPPRESSED
                    if r["n_respondents"]
                    else MISSING,
                    r["teacher_mean_inspections"],
                    "num",
                ),
                Cell(ratio, r["ratio"], "num"),
                Cell(
                    MISSING if r["flagged"] is None else text("yes" if r["flagged"] else "no", lang),
                    None,
                    "missed" if r["flagged"] else "",
                ),
                Cell(format_n(r["schools_compared"]), r["schools_compared"], "num"),
                Cell(format_n(r["schools_flagged"]), r["schools_flagged"], "num"),
            ]
        )
    return Table(headers, rows)


def quality_page(data: ReportData, wave: str, lang: str, data_docs: str | None) -> Page:
    rejected = rejected_figure(data, wave, lang)
    missing = Note(Markup.escape(text("quality_extra_missing", lang)))
    docs = (
        Note(Markup('<a class="docs" href="{}">{}</a>').format(data_docs, text("data_docs", lang)))
        if data_docs
        else Note(Markup.escape(text("data_docs_missing", lang)))
    )
    return Page(
        "quality",
        text("page_quality", lang),
        [
            Section(
                text("loads_table", lang),
                [loads_table(data, wave, lang), Note(Markup.escape(data.say("coverage_note", lang)))],
                text("quality_intro", lang),
            ),
            Section(
                text("completeness_table", lang),
                [
                    Chart("completeness", completeness_figure(data, wave, lang)),
                    league_completeness_table(data, wave, lang),
                ],
                data.say("completeness_intro", lang),
            ),
            Section(
                text("rejected_reasons", lang),
                ([Chart("rejected", rejected)] if rejected is not None else []) + [rejected_table(data, wave, lang)],
            ),
            Section(text("rejected_files", lang), [rejected_files_table(data, lang)]),
            Section(
                text("respondent_quality", lang),
                [respondent_quality_table(data, wave, lang), respondent_exclusion_note(data, wave, lang)]
                if data.respondent_quality is not None
                else [missing],
                text("respondent_quality_intro", lang),
            ),
            Section(
                text("outliers", lang),
                [outliers_table(data, wave, lang)] if data.outliers is not None else [missing],
                data.say("outliers_intro", lang),
            ),
            Section(
                text("source_consistency", lang),
                [consistency_table(data, wave, lang)] if data.consistency is not None else [missing],
                data.say("consistency_intro", lang),
            ),
            Section(text("data_docs", lang), [docs]),
        ],
        footnotes=[data.say("fn_suppressed", lang), text("fn_missing", lang)],
    )

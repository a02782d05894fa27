"""The breakdown charts: hours by category, the 26 list items, and the inspection target per area."""

from __future__ import annotations

import polars as pl

from pipelines.catalogue.metrics import CATEGORY_LABELS
from pipelines.report.data import CATEGORIES, ReportData
from pipelines.report.figures import COLOURS, finish, hover_template, is_published, source_line
from pipelines.report.format import (
    MISSING,
    absent_hover,
    absent_mark,
    format_cell,
    format_n,
    format_pct,
    format_value,
    metric_title,
)
from pipelines.report.plot import Figure, add_annotation, add_shape, add_trace, figure, merge, update_axes
from pipelines.report.text import LANGS, text

CATEGORY_COLOURS = ("#1f5aa6", "#4f9bd9", "#e0a030", "#8e5ea2", "#c2571a")
ITEM_SCALE = [
    [i / 8, colour]
    for i, colour in enumerate(
        (
            "rgb(255,255,204)",
            "rgb(255,237,160)",
            "rgb(254,217,118)",
            "rgb(254,178,76)",
            "rgb(253,141,60)",
            "rgb(252,78,42)",
            "rgb(227,26,28)",
            "rgb(189,0,38)",
            "rgb(128,0,38)",
        )
    )
]
"""Plotly's YlOrRd as plotly.py spells it out (plotly.js has its own "YlOrRd", darker at the low end)."""


def _league_axis(fig: Figure, names: list[str], lang: str) -> None:
    """The y axis of a horizontal bar chart by league: the areas top to bottom in the order given."""
    update_axes(
        fig,
        "y",
        {
            "title": {"text": text("axis_league", lang)},
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(reversed(names)),
        },
    )


def category_figure(data: ReportData, wave: str, areas: list[str], lang: str) -> Figure:
    """Non-teaching hours split into the list's five categories, one stacked bar per area."""
    names = [data.name(code, lang) for code in areas]
    fig = figure()
    for (_no, labels), metric, colour in zip(CATEGORY_LABELS.items(), CATEGORIES, CATEGORY_COLOURS):
        cells = [data.cell(wave, code, metric) for code in areas]
        published = [c if c and not c["suppressed"] and c["estimate"] is not None else None for c in cells]
        category = labels[LANGS.index(lang)]
        add_trace(
            fig,
            {
                "type": "bar",
                "y": names,
                "x": [c["estimate"] if c else None for c in published],
                "orientation": "h",
                "name": category,
                "marker": {"color": colour},
                "customdata": [[c["ci_low"], c["ci_high"], c["n"]] if c else [None, None, None] for c in published],
                "hovertemplate": hover_template(metric, lang).replace("<b>%{y}</b>", f"<b>%{{y}}</b> · {category}"),
            },
        )
    for code, name in zip(areas, names):
        total = data.cell(wave, code, "hours_nonteaching")
        hidden = [c for m in CATEGORIES if not is_published(c := data.cell(wave, code, m))]
        if hidden:
            add_annotation(
                fig,
                x=0.99,
                xref="x domain",
                y=name,
                yref="y",
                text=absent_mark(hidden[0], lang),
                showarrow=False,
                xanchor="right",
                font={"size": 15, "color": COLOURS["red"]},
                hovertext=absent_hover(hidden[0], lang),
            )
        elif total and total["estimate"] is not None:
            add_annotation(
                fig,
                x=total["estimate"],
                y=name,
                text=format_cell("hours_nonteaching", total),
                showarrow=False,
                xanchor="left",
                xshift=4,
                font={"size": 11, "color": "#333"},
            )
    merge(fig["layout"], {"barmode": "stack", "legend": {"traceorder": "normal"}})
    update_axes(fig, "x", {"title": {"text": metric_title("hours_nonteaching", lang)}})
    _league_axis(fig, names, lang)
    n = (data.cell(wave, data.region, "hours_nonteaching") or {}).get("n")
    merge(fig["layout"], {"legend": {"y": 1.0, "yanchor": "bottom"}})
    return finish(
        fig,
        text("chart_categories", lang, wave=wave),
        source_line("hours_total", wave, n, lang),
        height=220 + 34 * len(areas),
        top=120,
    )


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


def item_heatmap_figure(data: ReportData, wave: str, areas: list[str], lang: str) -> Figure:
    """League × 26-item shares; red-line items tagged in red, cells at the alert threshold boxed."""
    items = list(data.items.iter_rows(named=True))
    names = [data.name(code, lang) for code in areas]
    labels = [item_label(item, lang, data.questions) for item in items]
    z: list[list[float | None]] = []
    texts, custom, marks = [], [], []
    for item in items:
        metric = f"item_{item['item_no']:02d}"
        z_row, t_row, c_row = [], [], []
        for code, name in zip(areas, names):
            cell = data.cell(wave, code, metric)
            if is_published(cell):
                z_row.append(cell["estimate"])
                t_row.append(format_value(metric, cell["estimate"]))
                c_row.append([cell["ci_low"], cell["ci_high"], cell["n"]])
            else:
                z_row.append(None)
                t_row.append(absent_mark(cell, lang))
                c_row.append([None, None, None])
                marks.append((name, labels[len(z)], absent_mark(cell, lang), absent_hover(cell, lang)))
        z.append(z_row)
        texts.append(t_row)
        custom.append(c_row)
    fig = figure(
        {
            "type": "heatmap",
            "z": z,
            "x": names,
            "y": labels,
            "text": texts,
            "texttemplate": "%{text}",
            "textfont": {"size": 10},
            "customdata": custom,
            "colorscale": ITEM_SCALE,
            "zmin": 0,
            "zmax": max(0.3, max((v for r in z for v in r if v is not None), default=0)),
            "colorbar": {"title": {"text": text("axis_share_colour", lang)}, "tickformat": ".0%"},
            "xgap": 1,
            "ygap": 1,
            "hovertemplate": (
                f"<b>%{{x}}</b><br>%{{y}}<br>{text('estimate', lang)}: %{{z:.1%}}<br>"
                f"{text('interval', lang)}: %{{customdata[0]:.1%}} – %{{customdata[1]:.1%}}<br>"
                "n = %{customdata[2]:,}<extra></extra>"
            ),
        }
    )
    if marks:
        add_trace(
            fig,
            {
                "type": "scatter",
                "x": [m[0] for m in marks],
                "y": [m[1] for m in marks],
                "mode": "text",
                "text": [m[2] for m in marks],
                "textfont": {"size": 13, "color": COLOURS["red"]},
                "hovertext": [m[3] for m in marks],
                "hoverinfo": "text",
                "showlegend": False,
            },
        )
    for i, item in enumerate(items):
        if not item["red_line"]:
            continue
        for j, value in enumerate(z[i]):
            if value is not None and value >= data.thresholds.red_line_share:
                add_shape(
                    fig,
                    type="rect",
                    x0=j - 0.5,
                    x1=j + 0.5,
                    y0=i - 0.5,
                    y1=i + 0.5,
                    line={"color": COLOURS["red"], "width": 2.5},
                    xref="x",
                    yref="y",
                )
    update_axes(
        fig, "x", {"title": {"text": text("axis_league", lang)}, "side": "top", "tickangle": -40, "type": "category"}
    )
    item_axis = (
        f"{text('axis_item', lang)}（{text('axis_share_colour', lang)}，%）"
        if lang == "zh"
        else f"{text('axis_item', lang)} ({text('axis_share_colour', lang).lower()}, %)"
    )
    update_axes(fig, "y", {"title": {"text": item_axis}, "autorange": "reversed", "type": "category"})
    n = (data.cell(wave, data.region, "item_01") or {}).get("n")
    return finish(
        fig,
        text("chart_heatmap", lang, wave=wave),
        source_line("item_01", wave, n, lang),
        height=400 + 30 * len(items),
        top=190,
    )


def inspection_figure(data: ReportData, wave: str, areas: list[str], lang: str) -> Figure:
    """Each area's reduction of inspections per school from the baseline, against the 50% line."""
    rows = {r["area_code"]: r for r in data.inspection.filter(pl.col("wave") == wave).iter_rows(named=True)}
    names = [data.name(code, lang) for code in areas]
    fig = figure()
    shown = [(name, rows.get(code)) for code, name in zip(areas, names)]
    present = [
        (name, r) for name, r in shown if r and r["reduction_pct"] is not None and r["wave"] != r["baseline_wave"]
    ]
    add_trace(
        fig,
        {
            "type": "bar",
            "y": [name for name, _ in present],
            "x": [r["reduction_pct"] for _, r in present],
            "orientation": "h",
            "marker": {"color": [COLOURS["met"] if r["target_met"] else COLOURS["missed"] for _, r in present]},
            "text": [format_pct(r["reduction_pct"]) for _, r in present],
            "textposition": "outside",
            "cliponaxis": False,
            "customdata": [
                [
                    r["inspections_per_school"],
                    r["baseline_per_school"],
                    r["n_schools"],
                    r["baseline_n_schools"],
                    text("kpi_met" if r["target_met"] else "kpi_not_met", lang),
                ]
                for _, r in present
            ],
            "hovertemplate": (
                f"<b>%{{y}}</b><br>{text('reduction', lang)}: %{{x:.1%}} (%{{customdata[4]}})<br>"
                f"{text('per_school_now', lang)}: %{{customdata[0]:.2f}} (n = %{{customdata[2]}})<br>"
                f"{text('per_school_base', lang)}: %{{customdata[1]:.2f}} (n = %{{customdata[3]}})<br>"
                f"{text('hover_census', lang)}<extra></extra>"
            ),
            "showlegend": False,
        },
    )
    for name, r in shown:
        if (name, r) not in present:
            baseline = r is not None and r["wave"] == r["baseline_wave"]
            add_annotation(
                fig,
                x=0.01,
                xref="x domain",
                y=name,
                yref="y",
                text=MISSING,
                showarrow=False,
                hovertext=text("baseline_no_reduction" if baseline else "fn_missing", lang),
            )
    target = data.thresholds.inspection_reduction_target
    add_shape(
        fig,
        type="line",
        x0=target,
        x1=target,
        xref="x",
        y0=0,
        y1=1,
        yref="y domain",
        line={"dash": "dash", "color": COLOURS["red"], "width": 1.5},
    )
    add_annotation(
        fig,
        x=target,
        y=1,
        yref="paper",
        yanchor="bottom",
        text=data.say("target_line", lang),
        showarrow=False,
        font={"color": COLOURS["red"], "size": 11},
    )
    update_axes(
        fig,
        "x",
        {
            "title": {"text": text("axis_reduction", lang)},
            "tickformat": ".0%",
            "range": [
                min(-0.1, min((r["reduction_pct"] for _, r in present), default=0) - 0.05),
                max(0.9, max((r["reduction_pct"] for _, r in present), default=0) + 0.15),
            ],
        },
    )
    _league_axis(fig, names, lang)
    region = rows.get(data.region) or {}
    source = text(
        "source_school_vs",
        lang,
        wave=wave,
        n=format_n(region.get("n_schools")),
        baseline=region.get("baseline_wave") or data.baseline,
        n0=format_n(region.get("baseline_n_schools")),
    )
    return finish(fig, data.say("chart_inspection", lang, wave=wave), source, height=160 + 34 * len(areas))

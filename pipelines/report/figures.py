"""The survey charts: one frame (title, template, source line under the plot) and one function per chart.

Each chart is plotly JSON built as dicts (plot.py): graph_objects validated every property and took
most of the site's build time; tests check the charts with go.Figure instead.
"""

from __future__ import annotations

import re
from typing import TypeGuard

from pipelines.catalogue.metrics import METRIC_BY_NAME
from pipelines.report.data import ReportData
from pipelines.report.format import (
    absent_hover,
    absent_mark,
    d3_format,
    format_n,
    format_value,
    is_points,
    is_share,
    metric_label,
    metric_title,
    metric_unit,
    plotted,
)
from pipelines.report.plot import (
    Figure,
    add_annotation,
    add_shape,
    add_trace,
    axis_ref,
    merge,
    subplots,
    update_axes,
)
from pipelines.report.text import DIRECTION, label, text

FONT_STACK = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'
COLOURS = {
    "measured": "#1f5aa6",
    "felt": "#c2571a",
    "baseline": "#8a8f98",
    "met": "#2e7d32",
    "missed": "#d84315",
    "red": "#c62828",
    "region": "#444444",
}
SITE_TEMPLATE = {
    "layout": {
        "font": {"family": FONT_STACK, "size": 13, "color": "#222"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hovermode": "closest",
        "hoverlabel": {"font": {"family": FONT_STACK}, "align": "left"},
        "xaxis": {"gridcolor": "#e6e6e6", "zerolinecolor": "#bbbbbb", "linecolor": "#999", "automargin": True},
        "yaxis": {"gridcolor": "#e6e6e6", "zerolinecolor": "#bbbbbb", "linecolor": "#999", "automargin": True},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    }
}


def source_line(metric: str, wave: str, n, lang: str) -> str:
    if METRIC_BY_NAME[metric].source == "school_report":
        return text("source_school", lang, wave=wave, n=format_n(n))
    return text("source_survey", lang, wave=wave, n=format_n(n))


def finish(fig: Figure, title: str, source: str, height: int, bottom: int = 96, top: int = 70) -> Figure:
    """Title, the shared template and the source line under the plot: the same frame on every chart."""
    merge(
        fig["layout"],
        {
            "template": SITE_TEMPLATE,
            "height": height,
            "title": {"text": title, "x": 0, "xanchor": "left"},
            "margin": {"l": 10, "r": 20, "t": top, "b": bottom},
        },
    )
    add_annotation(
        fig,
        text=source,
        xref="paper",
        yref="paper",
        x=0,
        y=0,
        xanchor="left",
        yanchor="top",
        yshift=-(bottom - 24),
        showarrow=False,
        font={"size": 11, "color": "#555"},
        name="source",
    )
    return fig


def hover_template(metric: str, lang: str, area: str = "%{y}") -> str:
    """Hover text of an estimate with its interval and n (customdata = [low, high, n])."""
    fmt, unit = d3_format(metric), metric_unit(metric, lang)
    unit = "" if is_share(metric) else f" {unit}"
    return (
        f"<b>{area}</b><br>{text('estimate', lang)}: %{{x:{fmt}}}{unit}<br>"
        f"{text('interval', lang)}: %{{customdata[0]:{fmt}}} – %{{customdata[1]:{fmt}}}<br>"
        f"n = %{{customdata[2]:,}}<extra></extra>"
    )


def axis_format(metric: str) -> dict:
    return {"tickformat": ".0%"} if is_share(metric) else {}


def drawn(metric: str, cell: dict | None) -> dict | None:
    """A cell as a chart draws it: a difference of shares in points (see format.plotted)."""
    if cell is None or not is_points(metric):
        return cell
    return cell | {k: plotted(metric, cell[k]) for k in ("estimate", "ci_low", "ci_high")}


def is_published(cell: dict | None) -> TypeGuard[dict]:
    return cell is not None and not cell["suppressed"] and cell["estimate"] is not None


def dot_order(data: ReportData, wave: str, metric: str, areas: list[str], lang: str) -> list[str]:
    """Area names bottom to top: suppressed or absent first, then by estimate, so the highest is on top."""
    cells = [(data.name(code, lang), data.cell(wave, code, metric)) for code in areas]
    hidden = [name for name, cell in cells if not is_published(cell)]
    shown = sorted(((name, cell) for name, cell in cells if is_published(cell)), key=lambda p: p[1]["estimate"])
    return hidden + [name for name, _ in shown]


def _add_dots(
    fig: Figure,
    data: ReportData,
    wave: str,
    metric: str,
    areas: list[str],
    parent: str,
    lang: str,
    colour: str,
    col: int = 1,
) -> None:
    """Areas' estimates with 95% whiskers into subplot `col`, ‡ where suppressed, the parent as a dashed line."""
    xref, yref = axis_ref("x", col), axis_ref("y", col)
    cells = [(data.name(code, lang), drawn(metric, data.cell(wave, code, metric))) for code in areas]
    shown = [(name, c) for name, c in cells if is_published(c)]
    add_trace(
        fig,
        {
            "type": "scatter",
            "x": [c["estimate"] for _, c in shown],
            "y": [name for name, _ in shown],
            "mode": "markers",
            "marker": {"size": 9, "color": colour},
            "name": metric_label(metric, lang),
            "showlegend": False,
            "error_x": {
                "type": "data",
                "symmetric": False,
                "color": colour,
                "thickness": 1.5,
                "array": [(c["ci_high"] - c["estimate"]) if c["ci_high"] is not None else 0 for _, c in shown],
                "arrayminus": [(c["estimate"] - c["ci_low"]) if c["ci_low"] is not None else 0 for _, c in shown],
            },
            "customdata": [[c["ci_low"], c["ci_high"], c["n"]] for _, c in shown],
            "hovertemplate": hover_template(metric, lang),
            "xaxis": xref,
            "yaxis": yref,
        },
    )
    for name, cell in cells:
        if not is_published(cell):
            add_annotation(
                fig,
                x=0.01,
                xref=f"{xref} domain",
                y=name,
                yref=yref,
                showarrow=False,
                xanchor="left",
                text=absent_mark(cell, lang),
                font={"size": 15, "color": COLOURS["red"]},
                hovertext=absent_hover(cell, lang),
            )
    parent_cell = data.cell(wave, parent, metric)
    if is_published(parent_cell):
        value = plotted(metric, parent_cell["estimate"])
        add_shape(
            fig,
            type="line",
            x0=value,
            x1=value,
            xref=xref,
            y0=0,
            y1=1,
            yref=f"{yref} domain",
            line={"dash": "dash", "color": COLOURS["region"], "width": 1},
        )
        add_annotation(
            fig,
            x=value,
            xref=xref,
            y=1,
            yref=f"{yref} domain",
            yanchor="bottom",
            showarrow=False,
            text=f"{data.name(parent, lang)} {format_value(metric, parent_cell['estimate'])}",
            font={"size": 11, "color": COLOURS["region"]},
        )
    update_axes(fig, "x", {"title": {"text": metric_title(metric, lang)}, **axis_format(metric)}, col)


def area_dot_figure(
    data: ReportData, wave: str, metric: str, areas: list[str], parent: str, lang: str, title: str
) -> Figure:
    """One metric across areas (the leagues, say), sorted, with intervals and the parent for reference."""
    fig = subplots(1, 1)
    _add_dots(fig, data, wave, metric, areas, parent, lang, COLOURS["measured"])
    order = dot_order(data, wave, metric, areas, lang)
    update_axes(
        fig,
        "y",
        {
            "title": {"text": text("axis_league" if parent == data.region else "county", lang)},
            "type": "category",
            "categoryorder": "array",
            "categoryarray": order,
        },
    )
    n = (data.cell(wave, parent, metric) or {}).get("n")
    return finish(fig, title, source_line(metric, wave, n, lang), height=220 + 30 * len(order))


def county_figure(data: ReportData, wave: str, league: str, lang: str) -> Figure:
    """The league's counties on measured hours (left) and felt_net (right), rows in the same order."""
    counties = data.counties(league)
    name = data.name(league, lang)
    fig = subplots(1, 2, shared_yaxes=True, horizontal_spacing=0.06)
    _add_dots(fig, data, wave, "hours_nonteaching", counties, league, lang, COLOURS["measured"], col=1)
    _add_dots(fig, data, wave, "felt_net", counties, league, lang, COLOURS["felt"], col=2)
    order = dot_order(data, wave, "hours_nonteaching", counties, lang)
    update_axes(fig, "y", {"type": "category", "categoryorder": "array", "categoryarray": order})
    update_axes(fig, "y", {"title": {"text": text("county", lang)}}, 1)
    n = (data.cell(wave, league, "hours_nonteaching") or {}).get("n")
    return finish(
        fig,
        text("chart_county", lang, league=name, wave=wave),
        source_line("hours_nonteaching", wave, n, lang),
        height=260 + 30 * len(counties),
    )


def region_compare_figure(data: ReportData, wave: str, baseline: str, lang: str) -> Figure:
    """The region in the baseline and the report wave, side by side for the three headline measures."""
    metrics = ("hours_nonteaching", "felt_net", "school_inspections_per_school")
    fig = subplots(1, 3, [metric_label(m, lang) for m in metrics], horizontal_spacing=0.1)
    waves = [baseline, wave] if baseline != wave else [wave]
    for col, metric in enumerate(metrics, start=1):
        cells = [drawn(metric, data.cell(w, data.region, metric)) for w in waves]
        census = METRIC_BY_NAME[metric].source == "school_report"
        for w, cell in zip(waves, cells):
            if not is_published(cell):
                add_annotation(
                    fig,
                    x=w,
                    y=0.1,
                    xref=axis_ref("x", col),
                    yref=f"{axis_ref('y', col)} domain",
                    text=absent_mark(cell, lang),
                    showarrow=False,
                    font={"size": 15, "color": COLOURS["red"]},
                    hovertext=absent_hover(cell, lang),
                )
                continue
            colour = COLOURS["baseline"] if w == baseline and w != wave else COLOURS["measured"]
            low = cell["ci_low"] if cell["ci_low"] is not None else cell["estimate"]
            high = cell["ci_high"] if cell["ci_high"] is not None else cell["estimate"]
            fmt = d3_format(metric)
            interval = (
                text("hover_census", lang)
                if census
                else f"{text('interval', lang)}: %{{customdata[0]:{fmt}}} – %{{customdata[1]:{fmt}}}"
            )
            bar = {
                "type": "bar",
                "x": [w],
                "y": [cell["estimate"]],
                "marker": {"color": colour},
                "width": 0.5,
                "showlegend": False,
                "customdata": [[low, high, cell["n"]]],
                "textposition": "inside" if census else "none",
                "hovertemplate": (
                    f"<b>%{{x}}</b><br>{text('estimate', lang)}: %{{y:{fmt}}}<br>{interval}<br>"
                    f"n = %{{customdata[2]:,}}<extra></extra>"
                ),
            }
            if census:
                bar["text"] = [format_value(metric, cell["estimate"])]
            else:
                bar["error_y"] = {
                    "type": "data",
                    "symmetric": False,
                    "array": [high - cell["estimate"]],
                    "arrayminus": [cell["estimate"] - low],
                    "color": "#222",
                }
            add_trace(fig, bar, col)
        if census and baseline != wave and cells[0] and cells[0]["estimate"] is not None:
            target = cells[0]["estimate"] * (1 - data.thresholds.inspection_reduction_target)
            xref, yref = f"{axis_ref('x', col)} domain", axis_ref("y", col)
            add_shape(
                fig,
                type="line",
                x0=0,
                x1=1,
                xref=xref,
                y0=target,
                y1=target,
                yref=yref,
                line={"dash": "dash", "color": COLOURS["missed"]},
            )
            add_annotation(
                fig,
                showarrow=False,
                text=data.say("target_line", lang),
                x=1,
                xanchor="right",
                xref=xref,
                y=target,
                yanchor="bottom",
                yref=yref,
            )
        update_axes(fig, "y", {"title": {"text": metric_title(metric, lang)}, **axis_format(metric)}, col)
        update_axes(fig, "x", {"title": {"text": text("axis_wave", lang)}, "type": "category"}, col)
    n_now = (data.cell(wave, data.region, "hours_nonteaching") or {}).get("n")
    n_base = (data.cell(baseline, data.region, "hours_nonteaching") or {}).get("n")
    schools = (data.cell(wave, data.region, "school_inspections_per_school") or {}).get("n")
    source = text("sep", lang).join(
        [
            text("source_survey", lang, wave=wave, n=format_n(n_now)),
            f"{text('baseline', lang)} {baseline}: n = {format_n(n_base)}",
            text("source_school", lang, wave=wave, n=format_n(schools)),
        ]
    )
    return finish(fig, text("chart_region_compare", lang, wave=wave, baseline=baseline), source, height=420)


def short_label(metric: str, lang: str) -> str:
    """A metric's label without its parenthetical, for small-multiple titles."""
    return re.split(r"（| \(", metric_label(metric, lang))[0]


def _band_edge(waves: list[str], values: list, fill: str | None = None) -> dict:
    """One invisible edge of an interval band; the lower edge fills up to the upper (drawn just before it)."""
    trace: dict = {
        "type": "scatter",
        "x": waves,
        "y": values,
        "mode": "lines",
        "line": {"width": 0},
        "hoverinfo": "skip",
    }
    if fill is not None:
        trace.update(fill="tonexty", fillcolor=fill)
    trace["showlegend"] = False
    return trace


def trend_figure(
    data: ReportData, wave: str, areas: list[str], lang: str, title: str, show_direction: bool, per_row: int = 2
) -> Figure:
    """Small multiples: for each area, measured hours beside felt_net over the waves, with interval bands.

    Each area takes two adjacent panels (`per_row` areas to a row), so the measured burden and the
    felt reduction are always read side by side.
    """
    metrics = (
        ("hours_nonteaching", COLOURS["measured"], "rgba(31,90,166,0.18)"),
        ("felt_net", COLOURS["felt"], "rgba(194,87,26,0.18)"),
    )
    waves = data.waves_to(wave)
    rows = max(1, -(-len(areas) // per_row))
    cols = 2 * per_row
    titles = [""] * (rows * cols)
    for i, code in enumerate(areas):
        for j, (metric, _, _) in enumerate(metrics):
            head = f"<b>{data.name(code, lang)}</b><br>{short_label(metric, lang)}"
            trend = data.trend(code, metric)
            if show_direction and trend is not None:
                direction = label(DIRECTION, trend["direction"], lang)
                head += f"（{direction}）" if lang == "zh" else f" ({direction})"
            titles[(i // per_row) * cols + (i % per_row) * 2 + j] = head
    row_height = 250
    height = 200 + row_height * rows
    fig = subplots(
        rows,
        cols,
        titles,
        horizontal_spacing=0.07 if per_row > 1 else 0.1,
        vertical_spacing=min(0.3, 95 / height) if rows > 1 else 0.1,
    )
    for i, code in enumerate(areas):
        row = i // per_row + 1
        for j, (metric, colour, fill) in enumerate(metrics):
            col = (i % per_row) * 2 + j + 1
            cells = [drawn(metric, data.cell(w, code, metric)) for w in waves]
            published = [c if is_published(c) else None for c in cells]
            index = (row - 1) * cols + col
            add_trace(fig, _band_edge(waves, [c["ci_high"] if c else None for c in published]), index)
            add_trace(fig, _band_edge(waves, [c["ci_low"] if c else None for c in published], fill), index)
            fmt, unit = d3_format(metric), "" if is_share(metric) else f" {metric_unit(metric, lang)}"
            add_trace(
                fig,
                {
                    "type": "scatter",
                    "x": waves,
                    "y": [c["estimate"] if c else None for c in published],
                    "mode": "lines+markers",
                    "line": {"color": colour, "width": 2},
                    "marker": {"size": 6},
                    "showlegend": False,
                    "name": data.name(code, lang),
                    "customdata": [[c["ci_low"], c["ci_high"], c["n"]] if c else [None, None, None] for c in published],
                    "hovertemplate": (
                        f"<b>{data.name(code, lang)}</b> · %{{x}}<br>{short_label(metric, lang)}: "
                        f"%{{y:{fmt}}}{unit}<br>{text('interval', lang)}: %{{customdata[0]:{fmt}}} – "
                        f"%{{customdata[1]:{fmt}}}<br>n = %{{customdata[2]:,}}<extra></extra>"
                    ),
                },
                index,
            )
            for w, cell, shown in zip(waves, cells, published):
                if shown is None:
                    add_annotation(
                        fig,
                        x=w,
                        xref=axis_ref("x", index),
                        y=0.12,
                        yref=f"{axis_ref('y', index)} domain",
                        showarrow=False,
                        text=absent_mark(cell, lang),
                        font={"size": 14, "color": COLOURS["red"]},
                        hovertext=f"{w}: " + absent_hover(cell, lang),
                    )
            unit_title = metric_unit(metric, lang) + (("，%" if lang == "zh" else ", %") if is_share(metric) else "")
            update_axes(fig, "y", {"title": {"text": unit_title, "standoff": 4}, **axis_format(metric)}, index)
            update_axes(
                fig,
                "x",
                {
                    "type": "category",
                    "categoryorder": "array",
                    "categoryarray": waves,
                    "tickangle": 0,
                    "tickvals": waves,
                    "ticktext": [w[2:] for w in waves],
                    "tickfont": {"size": 10},
                },
                index,
            )
            if row == rows or i + per_row >= len(areas):
                update_axes(fig, "x", {"title": {"text": text("axis_wave", lang)}}, index)
    for note in fig["layout"].get("annotations", []):
        if note.get("xref") == "paper" and note.get("yref") == "paper":
            merge(note, {"font": {"size": 12}})
    ns = [c["n"] for w in waves if (c := data.cell(w, areas[0], "hours_nonteaching")) and c["n"] is not None]
    source = text(
        "source_survey_waves",
        lang,
        first=waves[0] if waves else wave,
        last=wave,
        k=len(waves),
        n_min=format_n(min(ns) if ns else None),
        n_max=format_n(max(ns) if ns else None),
    )
    return finish(fig, title, source, height=height, top=120)

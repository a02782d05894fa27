"""Charts as plain plotly JSON: {"data": [traces], "layout": {...}}, the figure plotly.js draws.

Building plotly.graph_objects figures validated every property on every chart and took most of
the site's build time; the charts are the same JSON built as dicts (tests check them with go.Figure).
"""

from __future__ import annotations

import copy

Figure = dict
"""{"data": [trace dicts], "layout": layout dict}, as plotly.js and plotly.io take it."""


def figure(*traces: dict) -> Figure:
    return {"data": list(traces), "layout": {}}


def merge(target: dict, updates: dict) -> dict:
    """Nested update as plotly's update_layout does it: dicts merge key by key, anything else replaces."""
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value
    return target


def axis_ref(axis: str, index: int) -> str:
    return axis if index == 1 else f"{axis}{index}"


def axis_name(axis: str, index: int) -> str:
    """The layout key of a subplot's axis: xaxis, xaxis2, ..."""
    return f"{axis}axis" if index == 1 else f"{axis}axis{index}"


def add_annotation(fig: Figure, **props) -> None:
    fig["layout"].setdefault("annotations", []).append(props)


def add_shape(fig: Figure, **props) -> None:
    fig["layout"].setdefault("shapes", []).append(props)


def add_trace(fig: Figure, trace: dict, index: int | None = None) -> None:
    """A trace, into subplot `index` (1-based, row-major) when given."""
    if index is not None:
        trace = trace | {"xaxis": axis_ref("x", index), "yaxis": axis_ref("y", index)}
    fig["data"].append(trace)


def update_axes(fig: Figure, axis: str, props: dict, index: int | None = None) -> None:
    """Merge `props` into one subplot's `axis` ("x" or "y"), or into every such axis when index is None."""
    layout = fig["layout"]
    if index is not None:
        names = [axis_name(axis, index)]
    else:
        prefix = f"{axis}axis"
        names = [k for k in layout if k == prefix or (k.startswith(prefix) and k[len(prefix) :].isdigit())]
        names = names or [prefix]
    for name in names:
        merge(layout.setdefault(name, {}), copy.deepcopy(props))


def subplots(
    rows: int,
    cols: int,
    titles: list[str] | None = None,
    horizontal_spacing: float | None = None,
    vertical_spacing: float | None = None,
    shared_yaxes: bool = False,
) -> Figure:
    """A regular grid as plotly's make_subplots lays it out (domains, anchors, titles), without building a go.Figure.

    Subplot `index` (1-based, row-major from the top left) owns axes x<index>/y<index>; a test checks
    the layout against make_subplots for the grids the site draws.
    """
    hs = 0.2 / cols if horizontal_spacing is None else horizontal_spacing
    vs = 0.3 / rows if vertical_spacing is None else vertical_spacing
    widths = [(1.0 - hs * (cols - 1)) / cols] * cols
    heights = [(1.0 - vs * (rows - 1)) / rows] * rows
    layout: dict = {}
    domains = []
    for r in range(rows):
        bottom = sum(heights[: rows - 1 - r]) + (rows - 1 - r) * vs
        for c in range(cols):
            left = sum(widths[:c]) + c * hs
            x_domain = [max(0.0, left), min(1.0, left + widths[c])]
            y_domain = [max(0.0, _clamp(bottom)), min(1.0, _clamp(bottom + heights[r]))]
            index = r * cols + c + 1
            layout[axis_name("x", index)] = {"anchor": axis_ref("y", index), "domain": x_domain}
            layout[axis_name("y", index)] = {"anchor": axis_ref("x", index), "domain": y_domain}
            if shared_yaxes and c > 0:
                layout[axis_name("y", index)] |= {"matches": axis_ref("y", r * cols + 1), "showticklabels": False}
            domains.append((x_domain, y_domain))
    notes = [
        {
            "font": {"size": 16},
            "showarrow": False,
            "text": title,
            "x": sum(x_domain) / 2.0,
            "xanchor": "center",
            "xref": "paper",
            "y": y_domain[1],
            "yanchor": "bottom",
            "yref": "paper",
        }
        for title, (x_domain, y_domain) in zip(titles or [], domains)
        if title
    ]
    if notes:
        layout["annotations"] = notes
    return {"data": [], "layout": layout}


def _clamp(y: float) -> float:
    """make_subplots rounds a domain end within 0.01 outside [0, 1] back to the edge."""
    return 0.0 if -0.01 < y < 0.0 else (1.0 if 1.0 < y < 1.01 else y)

"""How a figure reads on a page: metric labels and units, estimates with intervals, ‡ and —.

Shares are stored as fractions; they are shown as percentages, and a difference of shares
(felt_net, a change between waves) in percentage points (百分点), never as a raw fraction.
"""

from __future__ import annotations

from pipelines.catalogue.metrics import METRIC_BY_NAME
from pipelines.report.text import text

SUPPRESSED = "‡"
MISSING = "—"
CAUTION = "*"
UNRELIABLE = "**"
POINTS = frozenset({"felt_net"})
"""Differences of shares: shown in percentage points (百分点), never as a percentage or a raw fraction."""


def metric_label(metric: str, lang: str) -> str:
    m = METRIC_BY_NAME[metric]
    return m.label_zh if lang == "zh" else m.label_en


def metric_unit(metric: str, lang: str) -> str:
    if is_points(metric):
        return text("points", lang)
    m = METRIC_BY_NAME[metric]
    return m.unit_zh if lang == "zh" else m.unit_en


def metric_title(metric: str, lang: str) -> str:
    """'label（unit）': every axis and column heading names its unit."""
    unit = metric_unit(metric, lang)
    unit = f"{unit}，%" if lang == "zh" and is_share(metric) else (f"{unit}, %" if is_share(metric) else unit)
    return f"{metric_label(metric, lang)}（{unit}）" if lang == "zh" else f"{metric_label(metric, lang)} ({unit})"


def is_share(metric: str) -> bool:
    """A share shown as a percentage (a difference of shares is in points instead)."""
    return METRIC_BY_NAME[metric].kind in ("share", "ratio") and not is_points(metric)


def is_points(metric: str) -> bool:
    return metric in POINTS


def plotted(metric: str, value: float | None) -> float | None:
    """The value a chart draws: points metrics ×100 (their axis is in points), the rest as stored."""
    return None if value is None else (value * 100 if is_points(metric) else value)


def d3_format(metric: str) -> str:
    """The hover format of a metric's plotted values (shares are stored as fractions)."""
    if is_points(metric):
        return "+.1f"
    if is_share(metric):
        return ".1%"
    return {"per_school": ".2f", "total": ".0f"}.get(METRIC_BY_NAME[metric].kind, ".1f")


def format_value(metric: str, value: float | None) -> str:
    """A value without its unit (the heading names it): a share as 12.5%, a difference of shares as +3.9."""
    if value is None:
        return MISSING
    if is_points(metric):
        return f"{value * 100:+.1f}"
    if is_share(metric):
        return f"{value * 100:.1f}%"
    return {"per_school": f"{value:.2f}", "total": f"{value:.0f}"}.get(METRIC_BY_NAME[metric].kind, f"{value:.1f}")


def format_points(value: float | None, lang: str) -> str:
    """A difference of shares with its unit: '+3.9个百分点' / '+3.9 percentage points'."""
    return MISSING if value is None else text("points_value", lang, value=f"{value * 100:+.1f}")


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

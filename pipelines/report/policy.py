"""The 政策红线 (policy caps) page, the open cases per league and a county's case history.

Schools are institutions, so they are named; nothing here reads a landing cell, only the
policy marts, the rule table and the analysts' case fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from pipelines.catalogue.policy import STATUS_LABELS
from pipelines.report.blocks import Cell, Chart, Page, Section, Table
from pipelines.report.data import ReportData, _exists
from pipelines.report.figures import finish
from pipelines.report.format import MISSING, format_n, format_pct
from pipelines.report.plot import Figure, add_trace, figure, merge, update_axes
from pipelines.report.text import label, text
from pipelines.resources import load_sql

RULE_COLOURS = ("#1f5aa6", "#c2571a", "#2e7d32", "#8e5ea2", "#e0a030", "#4f9bd9", "#8a8f98")


@dataclass
class PolicyData:
    """The policy frames of the site, read once."""

    rules: pl.DataFrame
    compliance: pl.DataFrame
    breaches: pl.DataFrame
    cases: pl.DataFrame
    checks: pl.DataFrame
    semesters: pl.DataFrame
    """Every semester with a registered event, and its first month."""
    first_months: pl.DataFrame
    """Each school with a registered event, and the month of its first one."""

    def rule_text(self, rule_id: str, lang: str) -> str:
        row = self.rules.filter(pl.col("rule_id") == rule_id)
        return row[f"text_{lang}"][0] if row.height else rule_id

    def rule_source(self, rule_id: str, lang: str) -> str:
        row = self.rules.filter(pl.col("rule_id") == rule_id)
        return row[f"source_{lang}"][0] if row.height else MISSING


def load_policy_data(conn: duckdb.DuckDBPyConnection) -> PolicyData | None:
    """None before the policy marts exist (a warehouse built by an older version)."""
    if not all(
        _exists(conn, s, t)
        for s, t in (
            ("marts", "policy_compliance"),
            ("marts", "policy_breaches"),
            ("quality", "breach_cases"),
            ("ref", "policy_rules"),
        )
    ):
        return None

    def read(query: str, **params) -> pl.DataFrame:
        return conn.sql(query, params=params).pl()

    return PolicyData(
        rules=read(
            "select distinct on (rule_id) rule_id, period, source_zh, source_en, text_zh, text_en "
            "from ref.policy_rules order by rule_id, effective_from desc"
        ),
        compliance=read(
            "select *, meta.period_start(period) as period_start from marts.policy_compliance "
            "order by rule_id, period, area_level, area_code"
        ),
        breaches=read(load_sql("reports/policy_breaches.sql")),
        cases=read(load_sql("quality/breach_cases_list.sql"), status=None, league=None),
        checks=(
            read("select * from marts.event_cross_checks where flagged order by wave, check_name, school_code")
            if _exists(conn, "marts", "event_cross_checks")
            else pl.DataFrame()
        ),
        semesters=read(
            "select distinct meta.semester_key(event_date) as semester, "
            "meta.period_start(meta.semester_key(event_date)) as semester_start "
            "from staging.campus_event_staged order by 1"
        ),
        first_months=read(
            "select school_code, min(strftime(event_date, '%Y-%m')) as first_month "
            "from staging.campus_event_staged group by 1"
        ),
    )


def _policy(data: ReportData) -> PolicyData | None:
    return getattr(data, "policy", None)


def _periods(policy: PolicyData, wave: str) -> list[tuple[str, str]]:
    """(rule_id, period) of every period that began by the wave's month, newest first per rule."""
    frame = policy.compliance.filter(pl.col("period_start") <= wave).select("rule_id", "period", "period_start")
    ordered = frame.unique().sort(["rule_id", "period_start"], descending=[False, True])
    return [(r, p) for r, p, _ in ordered.iter_rows()]


Column = tuple[str, Callable[[Any], Cell]]
"""A table column: its header and how one record fills its cell."""


def _table(table_id: str, columns: list[Column], records: Iterable) -> Table:
    """One row per record, one cell per column: what every policy table shares."""
    return Table(
        [header for header, _ in columns], [[cell(r) for _, cell in columns] for r in records], table_id=table_id
    )


def _headed(lang: str, *columns: Column) -> list[Column]:
    """Columns whose headers are text keys, in the page's language."""
    return [(text(key, lang), cell) for key, cell in columns]


def _rows(policy: PolicyData | None, frame: str, keep: pl.Expr) -> Iterator[dict]:
    """The rows of one of the policy frames that `keep` selects, as dicts; none without policy data."""
    rows = None if policy is None else getattr(policy, frame)
    return iter(()) if rows is None or rows.height == 0 else rows.filter(keep).iter_rows(named=True)


def _school_code(r: dict) -> Cell:
    return Cell(r["school_code"], r["school_code"], "nowrap")


def _school_name(r: dict) -> Cell:
    return Cell(r["school_name"] or MISSING)


def _period(r: dict) -> Cell:
    return Cell(r["period"], r["period"], "nowrap")


def _count(column: str) -> Callable[[dict], Cell]:
    return lambda r: Cell(format_n(r[column]), r[column], "num")


_SCHOOL_COLUMNS: list[Column] = [("policy_school_code", _school_code), ("policy_school_name", _school_name)]
"""A school by code and name, as the breach and case tables open."""


def _county(data: ReportData, lang: str) -> Callable[[dict], Cell]:
    return lambda r: Cell(data.name(r["county_code"], lang))


def _case_columns(policy: PolicyData | None, lang: str) -> list[Column]:
    """Rule, period, observed, limit and status: the columns a breach and a case share."""

    def rule(r: dict) -> Cell:
        assert policy is not None  # there are rows only when there is policy data
        return Cell(policy.rule_text(r["rule_id"], lang))

    return [
        ("policy_rule", rule),
        ("policy_period", _period),
        ("policy_observed", _count("observed")),
        ("policy_limit", _count("limit")),
        ("policy_status", lambda r: Cell(label(STATUS_LABELS, r["status"], lang))),
    ]


def compliance_table(data: ReportData, wave: str, lang: str) -> Table:
    """Per cap and period: schools breaching / observed for the region and each league."""
    policy = _policy(data)
    cells = {(r["rule_id"], r["period"], r["area_code"]): r for r in _rows(policy, "compliance", pl.lit(True))}

    def rule(rule_period: tuple[str, str]) -> Cell:
        assert policy is not None  # there are periods only when there is policy data
        rule_id = rule_period[0]
        return Cell(policy.rule_text(rule_id, lang), rule_id, "name", policy.rule_source(rule_id, lang))

    def share(area: str) -> Callable[[tuple[str, str]], Cell]:
        def fill(rule_period: tuple[str, str]) -> Cell:
            cell = cells.get((*rule_period, area))
            if cell is None:
                return Cell(MISSING, None, "num")
            return Cell(
                f"{cell['schools_breaching']} / {cell['schools_observed']}",
                cell["share_breaching"],
                "num missed" if cell["schools_breaching"] else "num",
                format_pct(cell["share_breaching"]),
            )

        return fill

    columns = _headed(lang, ("policy_rule", rule), ("policy_period", lambda rp: Cell(rp[1], rp[1], "nowrap")))
    columns += [(data.name(area, lang), share(area)) for area in [data.region, *data.leagues]]
    return _table("policy-compliance", columns, [] if policy is None else _periods(policy, wave))


def breaching_table(data: ReportData, wave: str, lang: str) -> Table:
    """The schools breaching a cap in a period that began by the wave (by code and name)."""
    policy = _policy(data)
    columns = _headed(
        lang,
        *_SCHOOL_COLUMNS,
        ("county", _county(data, lang)),
        *_case_columns(policy, lang),
    )
    return _table("policy-breaches", columns, _rows(policy, "breaches", pl.col("period_start") <= wave))


def trend_figure(data: ReportData, wave: str, lang: str) -> Figure:
    """Schools breaching per semester (of the first breaching event) and cap, up to the wave."""
    policy = _policy(data)
    fig = figure()
    frame = pl.DataFrame() if policy is None else policy.breaches.filter(pl.col("semester_start") <= wave)
    semesters = (
        [] if policy is None else policy.semesters.filter(pl.col("semester_start") <= wave)["semester"].to_list()
    )
    for index, rule_id in enumerate(sorted(frame["rule_id"].unique().to_list()) if frame.height else []):
        assert policy is not None  # frame has rows only when there is policy data
        counts = dict(frame.filter(pl.col("rule_id") == rule_id).group_by("semester").len().iter_rows())
        add_trace(
            fig,
            {
                "type": "bar",
                "x": semesters,
                "y": [counts.get(s, 0) for s in semesters],
                "name": policy.rule_text(rule_id, lang),
                "marker": {"color": RULE_COLOURS[index % len(RULE_COLOURS)]},
                "hovertemplate": f"%{{x}}<br>{policy.rule_text(rule_id, lang)}: %{{y}}<extra></extra>",
            },
        )
    merge(fig["layout"], {"barmode": "stack", "legend": {"orientation": "h", "y": -0.35, "yanchor": "top"}})
    update_axes(fig, "x", {"title": {"text": text("policy_trend_axis", lang)}, "type": "category"})
    update_axes(fig, "y", {"title": {"text": text("policy_breaching_schools", lang)}, "rangemode": "tozero"})
    schools = 0 if policy is None else policy.first_months.filter(pl.col("first_month") <= wave).height
    return finish(
        fig,
        text("policy_trend", lang),
        text("policy_trend_source", lang, wave=wave, n=format_n(schools)),
        height=460,
        bottom=210,
    )


def open_cases_table(data: ReportData, lang: str) -> Table:
    """Per league: open, confirmed and all breach cases (quality.breach_cases)."""

    def counts(league: str) -> dict:
        status = [r["status"] for r in _rows(_policy(data), "cases", pl.col("league_code") == league)]
        return {
            "league": league,
            "open": status.count("open"),
            "confirmed": status.count("confirmed"),
            "total": len(status),
        }

    columns = _headed(
        lang,
        ("league", lambda r: Cell(data.name(r["league"], lang), r["league"], "name")),
        ("policy_cases_open", lambda r: Cell(format_n(r["open"]), r["open"], "num missed" if r["open"] else "num")),
        ("policy_cases_confirmed", _count("confirmed")),
        ("policy_cases_total", _count("total")),
    )
    return _table("policy-open-cases", columns, [counts(league) for league in data.leagues])


def _reported(r: dict) -> Cell:
    """A cross-check's reported figure: a share for teachers' campus activities, else per school."""
    if r["reported"] is None:
        shown = MISSING
    elif r["check_name"] == "teacher_campus_activities":
        shown = format_pct(r["reported"])
    else:
        shown = f"{r['reported']:.1f}"
    return Cell(shown, r["reported"], "num")


def cross_check_table(data: ReportData, wave: str, lang: str) -> Table:
    """The wave's flagged cross-checks of the register, school by school."""
    columns = _headed(
        lang,
        ("policy_school_code", _school_code),
        ("county", _county(data, lang)),
        ("policy_check", lambda r: Cell(text(f"check_{r['check_name']}", lang))),
        ("policy_reported", _reported),
        ("policy_events", _count("events")),
    )
    return _table("policy-cross-checks", columns, _rows(_policy(data), "checks", pl.col("wave") == wave))


def _updated(r: dict) -> Cell:
    updated = r["updated_at"].strftime("%Y-%m-%d %H:%M") if r["updated_at"] is not None else MISSING
    return Cell(updated, updated, "nowrap")


def county_case_history(data: ReportData, county_code: str, lang: str) -> Table:
    """Every breach case of the county's schools, open or closed, with its follow-up: for the county page."""
    policy = _policy(data)
    columns = _headed(
        lang,
        *_SCHOOL_COLUMNS,
        *_case_columns(policy, lang),
        ("policy_assignee", lambda r: Cell(r["assignee"] or MISSING)),
        ("policy_note", lambda r: Cell(r["note"] or MISSING)),
        ("policy_updated", _updated),
    )
    return _table(f"cases-{county_code}", columns, _rows(policy, "cases", pl.col("county_code") == county_code))


def policy_page(data: ReportData, wave: str, lang: str) -> Page:
    """The 政策红线 page of one wave's set."""
    policy = _policy(data)
    if policy is None or policy.compliance.height == 0:
        return Page(
            "policy",
            text("page_policy", lang),
            [Section("", [Chart("policy-trend", trend_figure(data, wave, lang))], text("policy_no_events", lang))],
        )
    return Page(
        "policy",
        text("page_policy", lang),
        [
            Section(text("policy_compliance", lang), [compliance_table(data, wave, lang)], text("policy_intro", lang)),
            Section(text("policy_breaching_schools", lang), [breaching_table(data, wave, lang)]),
            Section(text("policy_trend", lang), [Chart("policy-trend", trend_figure(data, wave, lang))]),
            Section(text("policy_open_cases", lang), [open_cases_table(data, lang)]),
            Section(text("policy_cross_checks", lang), [cross_check_table(data, wave, lang)]),
        ],
    )

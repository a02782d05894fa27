"""The 政策红线 (policy caps) page, the open cases per league and a county's case history.

Schools are institutions, so they are named; nothing here reads a landing cell, only the
policy marts, the rule table and the analysts' case fields.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def compliance_table(data: ReportData, wave: str, lang: str) -> Table:
    """Per cap and period: schools breaching / observed for the region and each league."""
    policy = _policy(data)
    areas = [data.region, *data.leagues]
    headers = [text("policy_rule", lang), text("policy_period", lang), *[data.name(a, lang) for a in areas]]
    rows = []
    if policy is not None:
        cells = {(r["rule_id"], r["period"], r["area_code"]): r for r in policy.compliance.iter_rows(named=True)}
        for rule_id, period in _periods(policy, wave):
            row = [
                Cell(policy.rule_text(rule_id, lang), rule_id, "name", policy.rule_source(rule_id, lang)),
                Cell(period, period, "nowrap"),
            ]
            for area in areas:
                cell = cells.get((rule_id, period, area))
                row.append(
                    Cell(MISSING, None, "num")
                    if cell is None
                    else Cell(
                        f"{cell['schools_breaching']} / {cell['schools_observed']}",
                        cell["share_breaching"],
                        "num missed" if cell["schools_breaching"] else "num",
                        format_pct(cell["share_breaching"]),
                    )
                )
            rows.append(row)
    return Table(headers, rows, table_id="policy-compliance")


def breaching_table(data: ReportData, wave: str, lang: str, county: str | None = None) -> Table:
    """The schools breaching a cap in a period that began by the wave (by code and name)."""
    policy = _policy(data)
    headers = [
        text("policy_school_code", lang),
        text("policy_school_name", lang),
        text("county", lang),
        text("policy_rule", lang),
        text("policy_period", lang),
        text("policy_observed", lang),
        text("policy_limit", lang),
        text("policy_status", lang),
    ]
    rows = []
    if policy is not None:
        frame = policy.breaches.filter(pl.col("period_start") <= wave)
        for r in frame.iter_rows(named=True):
            rows.append(
                [
                    Cell(r["school_code"], r["school_code"], "nowrap"),
                    Cell(r["school_name"] or MISSING),
                    Cell(data.name(r["county_code"], lang)),
                    Cell(policy.rule_text(r["rule_id"], lang)),
                    Cell(r["period"], r["period"], "nowrap"),
                    Cell(format_n(r["observed"]), r["observed"], "num"),
                    Cell(format_n(r["limit"]), r["limit"], "num"),
                    Cell(label(STATUS_LABELS, r["status"], lang)),
                ]
            )
    return Table(headers, rows, table_id="policy-breaches")


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
    policy = _policy(data)
    headers = [
        text("league", lang),
        text("policy_cases_open", lang),
        text("policy_cases_confirmed", lang),
        text("policy_cases_total", lang),
    ]
    rows = []
    cases = policy.cases if policy is not None else pl.DataFrame()
    for league in data.leagues:
        mine = cases.filter(pl.col("league_code") == league) if cases.height else cases
        open_n = mine.filter(pl.col("status") == "open").height if mine.height else 0
        confirmed = mine.filter(pl.col("status") == "confirmed").height if mine.height else 0
        rows.append(
            [
                Cell(data.name(league, lang), league, "name"),
                Cell(format_n(open_n), open_n, "num missed" if open_n else "num"),
                Cell(format_n(confirmed), confirmed, "num"),
                Cell(format_n(mine.height), mine.height, "num"),
            ]
        )
    return Table(headers, rows, table_id="policy-open-cases")


def cross_check_table(data: ReportData, wave: str, lang: str) -> Table:
    """The wave's flagged cross-checks of the register, school by school."""
    policy = _policy(data)
    headers = [
        text("policy_school_code", lang),
        text("county", lang),
        text("policy_check", lang),
        text("policy_reported", lang),
        text("policy_events", lang),
    ]
    frame = policy.checks if policy is not None else pl.DataFrame()
    rows = []
    if frame.height:
        for r in frame.filter(pl.col("wave") == wave).iter_rows(named=True):
            reported = (
                MISSING
                if r["reported"] is None
                else (
                    format_pct(r["reported"])
                    if r["check_name"] == "teacher_campus_activities"
                    else f"{r['reported']:.1f}"
                )
            )
            rows.append(
                [
                    Cell(r["school_code"], r["school_code"], "nowrap"),
                    Cell(data.name(r["county_code"], lang)),
                    Cell(text(f"check_{r['check_name']}", lang)),
                    Cell(reported, r["reported"], "num"),
                    Cell(format_n(r["events"]), r["events"], "num"),
                ]
            )
    return Table(headers, rows, table_id="policy-cross-checks")


def county_case_history(data: ReportData, county_code: str, lang: str) -> Table:
    """Every breach case of the county's schools, open or closed, with its follow-up: for the county page."""
    policy = _policy(data)
    headers = [
        text("policy_school_code", lang),
        text("policy_school_name", lang),
        text("policy_rule", lang),
        text("policy_period", lang),
        text("policy_observed", lang),
        text("policy_limit", lang),
        text("policy_status", lang),
        text("policy_assignee", lang),
        text("policy_note", lang),
        text("policy_updated", lang),
    ]
    rows = []
    cases = (
        policy.cases.filter(pl.col("county_code") == county_code)
        if policy is not None and policy.cases.height
        else pl.DataFrame()
    )
    for r in cases.iter_rows(named=True):
        assert policy is not None  # cases has rows only when there is policy data
        updated = r["updated_at"].strftime("%Y-%m-%d %H:%M") if r["updated_at"] is not None else MISSING
        rows.append(
            [
                Cell(r["school_code"], r["school_code"], "nowrap"),
                Cell(r["school_name"] or MISSING),
                Cell(policy.rule_text(r["rule_id"], lang)),
                Cell(r["period"], r["period"], "nowrap"),
                Cell(format_n(r["observed"]), r["observed"], "num"),
                Cell(format_n(r["limit"]), r["limit"], "num"),
                Cell(label(STATUS_LABELS, r["status"], lang)),
                Cell(r["assignee"] or MISSING),
                Cell(r["note"] or MISSING),
                Cell(updated, updated, "nowrap"),
            ]
        )
    return Table(headers, rows, table_id=f"cases-{county_code}")


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

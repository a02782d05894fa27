"""The report's input: every mart frame the site needs, read once over a read-only connection.

Everything after `load_report_data` is a plain function of these frames, so pages are tested
without Dagster or a warehouse. The configured `Thresholds` travel with the frames, so that
every chart, table and sentence draws the line the alerts were judged by.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.catalogue.metrics import CATEGORY_LABELS, Thresholds
from pipelines.catalogue.questionnaire import item_labels
from pipelines.catalogue.rules import DF_CAUTION, N_ITEMS, WAVE_PATTERN
from pipelines.report.text import LANGS, text
from pipelines.resources import load_sql

WAVE_KEY = re.compile(WAVE_PATTERN)
ITEMS = tuple(f"item_{i:02d}" for i in range(1, N_ITEMS + 1))
CATEGORIES = tuple(f"hours_cat{i}" for i in CATEGORY_LABELS)
REPORT_METRICS = (
    "hours_total",
    "hours_nonteaching",
    *CATEGORIES,
    "nonteaching_share",
    "felt_lighter_share",
    "felt_heavier_share",
    "felt_net",
    "focus_share",
    *ITEMS,
    "n_inspections",
    "school_inspections_per_school",
    "school_seconded_over_6m",
)


@dataclass
class ReportData:
    """Every frame the site needs, read once; only aggregates (see sql/reports)."""

    divisions: pl.DataFrame
    items: pl.DataFrame
    metrics: pl.DataFrame
    inspection: pl.DataFrame
    trends: pl.DataFrame
    alerts: pl.DataFrame
    loads: pl.DataFrame
    completeness: pl.DataFrame
    rejected: pl.DataFrame
    rejected_files: pl.DataFrame
    outliers: pl.DataFrame | None = None
    consistency: pl.DataFrame | None = None
    county_models: pl.DataFrame | None = None
    respondent_quality: pl.DataFrame | None = None
    policy: object | None = None
    """pipelines.report.policy.PolicyData: the policy-cap marts and cases."""
    questions: dict = field(default_factory=item_labels)
    """item_NN -> (zh, en) question text, from the questionnaire.csv the importer read."""
    thresholds: Thresholds = field(default_factory=Thresholds)
    """The deployment's thresholds (MonitoringConfig): every line, box and sentence of the site uses these."""
    _cells: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cells = {(r["wave"], r["area_code"], r["metric"]): r for r in self.metrics.iter_rows(named=True)}
        self._models = (
            {}
            if self.county_models is None
            else {(r["wave"], r["area_code"], r["metric"]): r for r in self.county_models.iter_rows(named=True)}
        )
        self._names = {r["code"]: (r["name_zh"], r["name_en"]) for r in self.divisions.iter_rows(named=True)}
        self._parents = {r["code"]: r["parent_code"] for r in self.divisions.iter_rows(named=True)}
        regions = self.divisions.filter(pl.col("level") == "region")["code"].to_list()
        self._region = regions[0] if regions else ""

    @functools.cached_property
    def waves(self) -> list[str]:
        found = set(self.metrics["wave"].to_list()) | set(self.loads["wave"].drop_nulls().to_list())
        return sorted(w for w in found if w and WAVE_KEY.fullmatch(w))

    @functools.cached_property
    def latest_wave(self) -> str | None:
        """The latest wave with accepted teacher responses: a stray row of a later wave is not "latest"."""
        taught = self.loads.filter((pl.col("source") == "teacher_survey") & (pl.col("rows_accepted") > 0))
        waves = sorted(w for w in taught["wave"].drop_nulls().to_list() if w in self.waves)
        return waves[-1] if waves else (self.waves[-1] if self.waves else None)

    @property
    def region(self) -> str:
        return self._region

    @functools.cached_property
    def leagues(self) -> list[str]:
        return sorted(self.divisions.filter(pl.col("level") == "league")["code"].to_list())

    def counties(self, league: str) -> list[str]:
        return list(self._counties.get(league, []))

    @functools.cached_property
    def _counties(self) -> dict[str, list[str]]:
        """League code -> its counties' codes, sorted: asked for on every league and county page."""
        found: dict[str, list[str]] = {}
        for r in self.divisions.filter(pl.col("level") == "county").sort("code").iter_rows(named=True):
            found.setdefault(r["parent_code"], []).append(r["code"])
        return found

    def trend(self, area: str, metric: str) -> dict | None:
        """The area's marts.trends row for a metric (its first, as the charts read it), if any."""
        return self._trends.get((area, metric))

    def area_trends(self, area: str) -> dict[str, dict]:
        """metric -> marts.trends row of one area (the last row per metric, as a dict built from rows would)."""
        return self._area_trends.get(area, {})

    @functools.cached_property
    def _trends(self) -> dict[tuple[str, str], dict]:
        rows: dict[tuple[str, str], dict] = {}
        for r in self.trends.iter_rows(named=True):
            rows.setdefault((r["area_code"], r["metric"]), r)
        return rows

    @functools.cached_property
    def _area_trends(self) -> dict[str, dict[str, dict]]:
        rows: dict[str, dict[str, dict]] = {}
        for r in self.trends.iter_rows(named=True):
            rows.setdefault(r["area_code"], {})[r["metric"]] = r
        return rows

    @functools.cached_property
    def baseline(self) -> str | None:
        bases = self.inspection["baseline_wave"].drop_nulls().unique().to_list()
        return min(bases) if bases else (self.waves[0] if self.waves else None)

    def parent(self, code: str) -> str | None:
        """The parent division's code (a county's league)."""
        return self._parents.get(code)

    def name(self, code: str, lang: str) -> str:
        """A division's name; the region is '全区' / 'Region', as the committee says it."""
        if code == self.region:
            return text("region", lang)
        pair = self._names.get(code)
        return pair[LANGS.index(lang)] if pair else code

    def cell(self, wave: str, area: str, metric: str) -> dict | None:
        return self._cells.get((wave, area, metric))

    def model(self, wave: str, area: str, metric: str) -> dict | None:
        """The Fay–Herriot figure of a thin county (marts.county_estimates), if any."""
        return self._models.get((wave, area, metric))

    @property
    def limits(self) -> dict[str, str]:
        """The configured thresholds as the report's sentences quote them ("10%", "3.5")."""
        t = self.thresholds
        return {
            "min_n": str(t.min_cell_n),
            "rse": _percent(t.rse_caution),
            "df_caution": str(DF_CAUTION),
            "red_line": _percent(t.red_line_share),
            "target": _percent(t.inspection_reduction_target),
            "completeness": _percent(t.completeness_min),
            "significance": f"{t.significance:g}",
            "outlier_score": f"{t.outlier_score:g}",
            "ratio_high": f"{t.consistency_ratio:g}",
            "ratio_low": f"{1 / t.consistency_ratio:.2g}",
        }

    def say(self, key: str, lang: str, **values) -> str:
        """text(key) with the configured thresholds filled in wherever the sentence names one."""
        return text(key, lang, **self.limits, **values)

    def waves_to(self, wave: str) -> list[str]:
        return [w for w in self.waves if w <= wave]


def _percent(share: float) -> str:
    return f"{share * 100:g}%"


def _exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether a table exists (information_schema): the quality marts come from another asset group."""
    return (
        conn.sql(
            "select count(*) from information_schema.tables where table_schema = $s and table_name = $t",
            params={"s": schema, "t": table},
        ).fetchall()[0][0]
        > 0
    )


def _has_rows(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return _exists(conn, schema, table) and conn.sql(f"select count(*) from {schema}.{table}").fetchall()[0][0] > 0


def load_report_data(
    conn: duckdb.DuckDBPyConnection, questionnaire: Path | None = None, thresholds: Thresholds | None = None
) -> ReportData:
    """The report frames from the marts and reference tables; quality marts only where they exist.

    `questionnaire`: the questionnaire.csv the importer read (the data directory's override, if any);
    `thresholds`: the deployment's (MonitoringConfig.thresholds()), the ones the alerts were judged by.
    """
    from pipelines.report.policy import load_policy_data  # policy.py builds on this module's ReportData

    def read(query: str, **params) -> pl.DataFrame:
        return conn.sql(query, params=params).pl()

    loads = read("select * from marts.data_quality order by wave nulls first, source")
    completeness = (
        read(
            "select wave, area_level, area_code, schools_expected, schools_reporting, completeness, "
            "schools_on_time, on_time_share from marts.reporting_completeness "
            "where area_level = 'league' order by wave, area_code"
        )
        if _has_rows(conn, "marts", "reporting_completeness")
        else read(load_sql("reports/league_completeness.sql"))
    )
    return ReportData(
        questions=item_labels(questionnaire),
        thresholds=thresholds or Thresholds(),
        divisions=read("select code, name_zh, name_en, level, parent_code from ref.divisions order by code"),
        items=read("select item_no, category_no, text_zh, text_en, red_line from ref.burden_items order by item_no"),
        metrics=read(load_sql("reports/area_metrics.sql"), metrics=list(REPORT_METRICS), digits=6),
        inspection=read(
            "select area_level, area_code, wave, baseline_wave, inspections_per_school, "
            "baseline_per_school, reduction_pct, target_met, n_schools, baseline_n_schools "
            "from marts.inspection_target order by area_code, wave"
        ),
        trends=read(
            "select area_level, area_code, metric, n_waves, first_wave, last_wave, slope_per_wave, "
            "p_value, direction from marts.trends"
        ),
        alerts=read(
            "select wave, area_level, area_code, rule, severity, metric, value, threshold, message, "
            "message_en from marts.alerts order by wave, area_code, rule"
        ),
        loads=loads,
        completeness=completeness,
        rejected=read(load_sql("reports/rejected_reasons.sql")),
        rejected_files=read("select source, file, reason from quarantine.rejected_files order by source, file"),
        outliers=read(load_sql("reports/outliers.sql")) if _exists(conn, "marts", "outliers") else None,
        consistency=(
            read(load_sql("reports/source_consistency.sql")) if _exists(conn, "marts", "source_consistency") else None
        ),
        county_models=(
            read(load_sql("reports/county_estimates.sql"), metrics=list(REPORT_METRICS), digits=6)
            if _exists(conn, "marts", "county_estimates")
            else None
        ),
        respondent_quality=(
            read(
                "select wave, flag, rows_flagged, rows_accepted, share_flagged, rows_excluded "
                "from marts.respondent_quality order by wave, flag"
            )
            if _exists(conn, "marts", "respondent_quality")
            else None
        ),
        policy=load_policy_data(conn),
    )

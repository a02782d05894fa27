"""Quality: reporting coverage and timeliness, outliers, cross-source consistency, the GX gates
and their Data Docs.

The Great Expectations checks are blocking: a failed expectation stops every downstream
asset of the run, so no mart or report is built on data that broke a rule.
"""

from pathlib import Path

import dagster as dg

from assets.ingest import reference_tables
from assets.marts import area_metrics, data_quality
from assets.staging import school_report_staged, teacher_survey_staged
from pipelines.catalogue.rules import SCHOOL_REPORT, TEACHER_SURVEY
from pipelines.partitions import DUCKDB_POOL, wave_check, waves_partitions
from pipelines.quality import data_docs as docs_site
from pipelines.quality import expectations, staged
from pipelines.resources import JianfuResource, MonitoringConfig, load_sql
from pipelines.warehouse.tables import replace_table, replace_wave


def validation_results_dir(jianfu: JianfuResource) -> Path:
    """Where the checks keep GX's validation results for the Data Docs: the latest per scope."""
    return jianfu.root / "quality" / "validations"


def data_docs_dir(jianfu: JianfuResource) -> Path:
    """Built outside reports/ so that the site can be swapped in whole; the site copies them in."""
    return jianfu.root / "quality" / "data_docs"


@dg.asset(
    key_prefix="marts",
    kinds={"duckdb"},
    group_name="marts",
    pool=DUCKDB_POOL,
    partitions_def=waves_partitions,
    deps=[school_report_staged, reference_tables],
)
def reporting_completeness(
    context: dg.AssetExecutionContext, jianfu: JianfuResource, monitoring: MonitoringConfig
) -> dg.MaterializeResult:
    """marts.reporting_completeness for the wave: school reports received, and on time, per area."""
    params = {"wave": context.partition_key, "due_days": monitoring.report_due_days}
    with jianfu.connect() as conn:
        replace_wave(conn, "marts.reporting_completeness", "marts/reporting_completeness.sql", params)
        region = conn.sql(
            "select schools_expected, schools_reporting, completeness, schools_on_time, on_time_share "
            "from marts.reporting_completeness where wave = $wave and area_level = 'region'",
            params={"wave": params["wave"]},
        ).pl()
    return dg.MaterializeResult(metadata=region.to_dicts()[0] if region.height else {})


@dg.asset(
    key_prefix="marts",
    kinds={"duckdb"},
    group_name="marts",
    pool=DUCKDB_POOL,
    deps=[school_report_staged, reference_tables],
)
def outliers(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.outliers: school-reported counts with an extreme modified z-score, for follow-up."""
    params = {
        "threshold": monitoring.outlier_score,
        "min_history": monitoring.outlier_min_history,
        "min_peers": monitoring.outlier_min_peers,
    }
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.outliers", "marts/outliers.sql", params)
        by_status = dict(
            conn.execute("select follow_up_status, count(*) from marts.outliers group by all order by 1").fetchall()
        )
    return dg.MaterializeResult(metadata={"rows": rows, "by_follow_up_status": dg.MetadataValue.json(by_status)})


@dg.asset(
    key_prefix="marts",
    kinds={"duckdb"},
    group_name="marts",
    pool=DUCKDB_POOL,
    deps=[school_report_staged, teacher_survey_staged, area_metrics],
)
def source_consistency(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """marts.source_consistency: school-reported against teacher-reported inspections."""
    params = {"ratio": monitoring.consistency_ratio, "min_n": monitoring.min_cell_n}
    with jianfu.connect() as conn:
        rows = replace_table(conn, "marts.source_consistency", "marts/source_consistency.sql", params)
        flagged = dict(
            conn.execute(
                "select area_level, count(*) filter (where flagged) "
                "from marts.source_consistency group by all order by 1"
            ).fetchall()
        )
    return dg.MaterializeResult(metadata={"rows": rows, "flagged": dg.MetadataValue.json(flagged)})


def _result(validation: expectations.Validation) -> dg.AssetCheckResult:
    metadata = expectations.check_metadata(validation)
    metadata["failed_expectations"] = dg.MetadataValue.json(metadata["failed_expectations"])
    metadata["failures"] = dg.MetadataValue.md(
        "\n".join(f"- `{line}`" for line in validation.summary_lines()) or "none"
    )
    return dg.AssetCheckResult(passed=validation.success, metadata=metadata)


def _validate(
    jianfu: JianfuResource, suite, sql_file: str, scope: str, params: dict, with_school_codes: bool = False
) -> dg.AssetCheckResult:
    """Run `suite` on `sql_file`'s rows: a staged suite as exact DuckDB counts over every row plus GX
    on a stratified sample, a mart's on all its batches. Its results also go to the Data Docs store."""
    with jianfu.connect(read_only=True) as conn:
        parameters = {}
        if with_school_codes:
            codes = [c for (c,) in conn.execute("select school_code from ref.schools order by 1").fetchall()]
            parameters[expectations.SCHOOL_CODES_PARAMETER] = codes
        results_dir = validation_results_dir(jianfu)
        if staged.is_staged(suite):
            validation = staged.validate_staged(conn, suite, load_sql(sql_file), params, scope, parameters, results_dir)
        else:
            batches = expectations.frame_batches(conn, load_sql(sql_file), params)
            validation = expectations.validate(suite, batches, scope, parameters, results_dir)
    return _result(validation)


def _check_staged(context: dg.AssetCheckExecutionContext, jianfu: JianfuResource, source: str):
    wave = context.partition_key
    return _validate(
        jianfu,
        expectations.staged_suite(source),
        f"quality/{source}_staged_expectations.sql",
        wave,
        {"wave": wave},
        with_school_codes=True,
    )


@wave_check(teacher_survey_staged)
def teacher_survey_staged_expectations(
    context: dg.AssetCheckExecutionContext, jianfu: JianfuResource
) -> dg.AssetCheckResult:
    """The wave's staged teacher rows meet the GX suite generated from the rule table."""
    return _check_staged(context, jianfu, TEACHER_SURVEY)


@wave_check(school_report_staged)
def school_report_staged_expectations(
    context: dg.AssetCheckExecutionContext, jianfu: JianfuResource
) -> dg.AssetCheckResult:
    """The wave's staged school reports meet the GX suite generated from the rule table."""
    return _check_staged(context, jianfu, SCHOOL_REPORT)


@wave_check(area_metrics)
def area_metrics_expectations(
    context: dg.AssetCheckExecutionContext, jianfu: JianfuResource, monitoring: MonitoringConfig
) -> dg.AssetCheckResult:
    """The wave's cells keep their ranges, intervals and disclosure control (GX suite)."""
    wave = context.partition_key
    return _validate(
        jianfu,
        expectations.area_metrics_suite(monitoring.thresholds()),
        "quality/area_metrics_expectations.sql",
        wave,
        {"wave": wave},
    )


@dg.asset_check(asset=data_quality, blocking=True, pool=DUCKDB_POOL)
def data_quality_expectations(jianfu: JianfuResource) -> dg.AssetCheckResult:
    """Every landing row is accounted for, and coverage and timeliness are shares (GX suite)."""
    return _validate(
        jianfu, expectations.data_quality_suite(), "quality/data_quality_expectations.sql", "all waves", {}
    )


@dg.asset(
    key_prefix="reports",
    kinds={"great_expectations"},
    group_name="reports",
    pool=DUCKDB_POOL,
    deps=[data_quality, area_metrics],
)
def data_docs(jianfu: JianfuResource, monitoring: MonitoringConfig) -> dg.MaterializeResult:
    """quality/data_docs/ (published as reports/data_docs/): GX Data Docs of every suite and its latest validations, readable offline.

    Downstream of the gated assets, so it renders after their checks and, like every report,
    is not rebuilt when one of them fails.
    """
    site, results_dir = data_docs_dir(jianfu), validation_results_dir(jianfu)
    with jianfu.connect(read_only=True) as conn:
        waves = [w for (w,) in conn.execute(load_sql("quality/data_docs.sql")).fetchall()]
    docs_site.prune_results(results_dir, waves)
    results = docs_site.build_data_docs(results_dir, site, expectations.all_suites(monitoring.thresholds()))
    failed = [f"{r.suite} {r.run_name} {r.batch}" for r in results if not r.success]
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(site / "index.html")),
            "validations": len(results),
            "failed_validations": dg.MetadataValue.json(failed),
        }
    )

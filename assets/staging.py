"""Staging: each wave validated against the rule table; accepted rows typed, the rest quarantined."""

import dagster as dg
import polars as pl

from assets.ingest import school_report_landing, teacher_survey_landing
from pipelines.catalogue.rules import SCHOOL_REPORT, TEACHER_SURVEY
from pipelines.landing.state import run_month
from pipelines.partitions import DUCKDB_POOL, wave_check, waves_partitions
from pipelines.resources import JianfuResource, load_sql
from pipelines.warehouse.tables import stage_wave


def _stage(context: dg.AssetExecutionContext, jianfu: JianfuResource, source: str) -> dg.MaterializeResult:
    wave = context.partition_key
    with jianfu.connect() as conn:
        result = stage_wave(conn, source, wave, run_month())
    context.log.info(
        f"{source} {wave}: {result.received} received, {result.accepted} accepted, {result.rejected} rejected"
    )
    return dg.MaterializeResult(
        metadata={
            "rows_received": result.received,
            "rows_accepted": result.accepted,
            "rows_rejected": result.rejected,
            "rejections_by_reason": dg.MetadataValue.json(result.reasons),
        }
    )


@dg.asset(group_name="staging", pool=DUCKDB_POOL, partitions_def=waves_partitions, deps=[teacher_survey_landing])
def teacher_survey_staged(context: dg.AssetExecutionContext, jianfu: JianfuResource) -> dg.MaterializeResult:
    """staging.teacher_survey_staged for one wave; its rejected rows in quarantine.rejected_rows."""
    return _stage(context, jianfu, TEACHER_SURVEY)


@dg.asset(group_name="staging", pool=DUCKDB_POOL, partitions_def=waves_partitions, deps=[school_report_landing])
def school_report_staged(context: dg.AssetExecutionContext, jianfu: JianfuResource) -> dg.MaterializeResult:
    """staging.school_report_staged for one wave: the latest valid report per school wins."""
    return _stage(context, jianfu, SCHOOL_REPORT)


def _row_accounting(context: dg.AssetCheckExecutionContext, jianfu: JianfuResource, source: str) -> dg.AssetCheckResult:
    """Every landing row of the wave just staged is either staged or quarantined, exactly once.

    Only this run's wave is judged: another wave's landing rows may have changed and wait for
    their own restaging in the same run.
    """
    with jianfu.connect(read_only=True) as conn:
        rows = conn.sql(load_sql("marts/data_quality.sql")).pl()
    staged = rows.filter((pl.col("source") == source) & (pl.col("wave") == context.partition_key))
    broken = staged.filter(pl.col("rows_received") != pl.col("rows_accepted") + pl.col("rows_rejected"))
    return dg.AssetCheckResult(
        passed=broken.height == 0,
        metadata={"waves_checked": staged.height, "mismatches": dg.MetadataValue.json(broken.to_dicts())},
    )


@wave_check(teacher_survey_staged)
def teacher_survey_rows_accounted(
    context: dg.AssetCheckExecutionContext, jianfu: JianfuResource
) -> dg.AssetCheckResult:
    """received = accepted + rejected for the staged wave of the teacher survey."""
    return _row_accounting(context, jianfu, TEACHER_SURVEY)


@wave_check(school_report_staged)
def school_report_rows_accounted(context: dg.AssetCheckExecutionContext, jianfu: JianfuResource) -> dg.AssetCheckResult:
    """received = accepted + rejected for the staged wave of the school reports."""
    return _row_accounting(context, jianfu, SCHOOL_REPORT)

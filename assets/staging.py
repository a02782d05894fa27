"""Staging: each wave validated against the rule table; accepted rows typed, the rest quarantined."""

import dagster as dg

from assets.checks import offending_rows
from assets.ingest import school_report_landing, teacher_survey_landing
from pipelines.catalogue.rules import SCHOOL_REPORT, TEACHER_SURVEY
from pipelines.landing.state import run_month
from pipelines.partitions import DUCKDB_POOL, wave_check, waves_partitions
from pipelines.resources import JianfuResource
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


@dg.asset(
    key_prefix="staging",
    kinds={"duckdb"},
    group_name="staging",
    pool=DUCKDB_POOL,
    partitions_def=waves_partitions,
    deps=[teacher_survey_landing],
)
def teacher_survey_staged(context: dg.AssetExecutionContext, jianfu: JianfuResource) -> dg.MaterializeResult:
    """staging.teacher_survey_staged for one wave; its rejected rows in quarantine.rejected_rows."""
    return _stage(context, jianfu, TEACHER_SURVEY)


@dg.asset(
    key_prefix="staging",
    kinds={"duckdb"},
    group_name="staging",
    pool=DUCKDB_POOL,
    partitions_def=waves_partitions,
    deps=[school_report_landing],
)
def school_report_staged(context: dg.AssetExecutionContext, jianfu: JianfuResource) -> dg.MaterializeResult:
    """staging.school_report_staged for one wave: the latest valid report per school wins."""
    return _stage(context, jianfu, SCHOOL_REPORT)


def _row_accounting(
    context: dg.AssetCheckExecutionContext, jianfu: JianfuResource, check: dg.AssetChecksDefinition, source: str
) -> dg.AssetCheckResult:
    """Every landing row of the wave just staged is either staged or quarantined, exactly once.

    Only this run's wave is judged: another wave's landing rows may have changed and wait for
    their own restaging in the same run.
    """
    params = {"source": source, "wave": context.partition_key}
    return offending_rows(jianfu, check, params, inputs=("data_quality",))


@wave_check(teacher_survey_staged)
def teacher_survey_rows_accounted(
    context: dg.AssetCheckExecutionContext, jianfu: JianfuResource
) -> dg.AssetCheckResult:
    """received = accepted + rejected for the staged wave of the teacher survey."""
    return _row_accounting(context, jianfu, teacher_survey_rows_accounted, TEACHER_SURVEY)


@wave_check(school_report_staged)
def school_report_rows_accounted(context: dg.AssetCheckExecutionContext, jianfu: JianfuResource) -> dg.AssetCheckResult:
    """received = accepted + rejected for the staged wave of the school reports."""
    return _row_accounting(context, jianfu, school_report_rows_accounted, SCHOOL_REPORT)

"""Respondent quality: speeders, straight-lining and duplicate submissions flagged per wave.

By default flags only count. Kinds listed in `mappings/respondent_flags.yaml` are removed from
the estimates: their rows move from staging to quarantine with reason `excluded_flag:<kind>`,
so received = accepted + rejected still holds, and their staged form is kept aside so that a
later run (or a changed list) can put them back before judging the wave again.
"""

import dagster as dg

from assets.staging import teacher_survey_staged
from pipelines.catalogue.questionnaire import load_questionnaire, questionnaire_path
from pipelines.catalogue.rules import MAX_REASON_LENGTH
from pipelines.partitions import DUCKDB_POOL, waves_partitions
from pipelines.platforms.flags import excluded_kinds, write_flags
from pipelines.resources import FatalPipelineError, JianfuResource, load_sql
from pipelines.warehouse.tables import transaction


def _sync_columns(conn) -> None:
    """quality.excluded_rows keeps every column the staged table has, whatever it gains later."""
    columns = conn.execute(
        "select column_name, data_type from information_schema.columns where table_schema = "
        "'staging' and table_name = 'teacher_survey_staged'"
    ).fetchall()
    for name, kind in columns:
        conn.execute(f'alter table quality.excluded_rows add column if not exists "{name}" {kind}')


def _exclude(conn, wave: str) -> None:
    """quality.excluded_rows (just written for the wave) leave staging for quarantine."""
    conn.execute(load_sql("quality/excluded_rows_quarantine.sql"), {"wave": wave, "max_length": MAX_REASON_LENGTH})
    conn.execute(
        "delete from staging.teacher_survey_staged as s where s.wave = $wave and exists (select 1 "
        "from quality.excluded_rows as kept where kept.wave = s.wave and kept.source_file = s.source_file "
        "and kept.source_row = s.source_row)",
        {"wave": wave},
    )


@dg.asset(
    key_prefix="marts",
    kinds={"duckdb"},
    group_name="marts",
    pool=DUCKDB_POOL,
    partitions_def=waves_partitions,
    deps=[teacher_survey_staged],
)
def respondent_quality(context: dg.AssetExecutionContext, jianfu: JianfuResource) -> dg.MaterializeResult:
    """quality.respondent_flags and marts.respondent_quality for the wave; excluded kinds leave the estimates."""
    wave = context.partition_key
    questions = load_questionnaire(questionnaire_path(jianfu.root))
    try:
        kinds = excluded_kinds(jianfu.mappings_dir)
    except ValueError as exc:
        raise FatalPipelineError(str(exc)) from None
    with jianfu.connect() as conn:
        _sync_columns(conn)
        with transaction(conn):
            conn.execute(load_sql("quality/excluded_rows_restore.sql"), {"wave": wave})
            conn.execute(
                "delete from quarantine.rejected_rows where source = 'teacher_survey' and wave = $wave "
                "and reason like 'excluded_flag:%'",
                {"wave": wave},
            )
            conn.execute("delete from quality.excluded_rows where wave = $wave", {"wave": wave})
            write_flags(conn, wave, questions, kinds)
            if kinds:
                _exclude(conn, wave)
        counts = conn.execute(
            "select flag, rows_flagged, rows_excluded from marts.respondent_quality where wave = $wave order by flag",
            {"wave": wave},
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            **{flag: flagged for flag, flagged, _ in counts},
            "excluded_kinds": ", ".join(kinds) or "none",
            "rows_excluded": sum(excluded for _, _, excluded in counts),
        }
    )

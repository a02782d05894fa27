"""Respondent quality: speeders, straight-lining and duplicate submissions flagged per wave."""

import dagster as dg
import polars as pl

from pipelines.partitions import DUCKDB_POOL, waves_partitions
from pipelines.platforms.flags import flag_counts, respondent_flags
from pipelines.platforms.questionnaire import load_questionnaire, questionnaire_path
from pipelines.resources import JianfuResource
from pipelines.warehouse import transaction

from assets.staging import teacher_survey_staged


@dg.asset(group_name="marts", pool=DUCKDB_POOL, partitions_def=waves_partitions, deps=[teacher_survey_staged])
def respondent_quality(context: dg.AssetExecutionContext, jianfu: JianfuResource) -> dg.MaterializeResult:
    """quality.respondent_flags and marts.respondent_quality for the wave; flagged rows stay accepted."""
    wave = context.partition_key
    questions = load_questionnaire(questionnaire_path(jianfu.root))
    with jianfu.connect() as conn:
        staged = conn.sql("select * from staging.teacher_survey_staged where wave = $wave",
                          params={"wave": wave}).pl()
        flags = respondent_flags(staged, questions).with_columns(pl.lit(wave).alias("wave"))
        counts = pl.DataFrame(flag_counts(flags, staged.height)).with_columns(pl.lit(wave).alias("wave"))
        with transaction(conn):
            conn.execute("delete from quality.respondent_flags where wave = $wave", {"wave": wave})
            conn.execute("delete from marts.respondent_quality where wave = $wave", {"wave": wave})
            if flags.height:
                conn.execute("insert into quality.respondent_flags by name select * from flags")
            conn.execute("insert into marts.respondent_quality by name select * from counts")
    return dg.MaterializeResult(metadata={r["flag"]: r["rows_flagged"] for r in counts.iter_rows(named=True)})

"""Ingest: reference files and landing files into the warehouse, waves registered as partitions."""

import dagster as dg

from pipelines.catalogue.rules import CAMPUS_EVENT, SCHOOL_REPORT, SOURCES, TEACHER_SURVEY
from pipelines.landing import state
from pipelines.landing.scan import scan_landing
from pipelines.landing.state import reader_version, run_month
from pipelines.partitions import DUCKDB_POOL, waves_partitions
from pipelines.resources import REFERENCE_FILES, FatalPipelineError, JianfuResource
from pipelines.warehouse.tables import (
    LANDING_TABLES,
    LandingSync,
    check_columns_match_contract,
    landing_waves,
    load_reference,
    sync_landing,
)


def questionnaire_paths(jianfu: JianfuResource) -> list:
    """The questionnaire the platform importers read, when there is one."""
    try:
        return [jianfu.reference_path("questionnaire.csv")]
    except FatalPipelineError:
        return []


@dg.asset(key_prefix="ref", kinds={"duckdb"}, group_name="ingest", pool=DUCKDB_POOL)
def reference_tables(jianfu: JianfuResource) -> dg.MaterializeResult:
    """ref.* from the reference files (data-dir overrides win) and meta.* from the catalogues."""
    paths = {name: jianfu.reference_path(name) for name in REFERENCE_FILES}
    digest = state.reference_digest(list(paths.values()))
    with jianfu.connect() as conn:
        check_columns_match_contract(conn)
        skipped = state.reference_unchanged(conn, digest)
        counts = {} if skipped else load_reference(conn, paths)
        if not skipped:
            state.record_run(conn, "reference", digest)
    return dg.MaterializeResult(metadata={**counts, "skipped": skipped, "files": {k: str(v) for k, v in paths.items()}})


def _recorded_sync(conn, source: str, names: list[str]) -> LandingSync:
    """What the last pass over an unchanged folder found, read back from the warehouse."""
    sync = LandingSync(unchanged=names)
    sync.bad_files = dict(
        conn.execute(
            "select file, reason from quarantine.rejected_files where source = ? order by 1", [source]
        ).fetchall()
    )
    sync.missing_columns = dict(
        conn.execute(
            "select file, missing_columns from landing.files where source = ? and len(missing_columns) > 0 order by 1",
            [source],
        ).fetchall()
    )
    sync.rows_without_wave = conn.execute(
        f"select count(*) from {LANDING_TABLES[source]} where wave_key is null"
    ).fetchall()[0][0]
    sync.waves = landing_waves(conn, source)
    return sync


def _landing_inputs(jianfu: JianfuResource, source: str) -> tuple:
    """What a landing folder's ingest depends on: the reader's version, the files present and skipped, and
    the month's digest."""
    version = reader_version([jianfu.mappings_dir, *questionnaire_paths(jianfu)])
    present, skipped = scan_landing(jianfu.landing_dir, source)
    return version, present, skipped, state.ingest_digest(run_month())


def ingest_unchanged(jianfu: JianfuResource) -> bool:
    """Whether ingest_job would re-read nothing: the reference files and every landing folder hash as the
    warehouse recorded them (the same tests its assets make). The runner then starts no ingest run."""
    digest = state.reference_digest([jianfu.reference_path(name) for name in REFERENCE_FILES])
    inputs = {source: _landing_inputs(jianfu, source) for source in SOURCES}
    with jianfu.connect() as conn:
        check_columns_match_contract(conn)
        if not state.reference_unchanged(conn, digest):
            return False
        return all(
            state.landing_unchanged(conn, source, present, skipped, version, landing_digest)
            for source, (version, present, skipped, landing_digest) in inputs.items()
        )


def _ingest(context: dg.AssetExecutionContext, jianfu: JianfuResource, source: str) -> dg.MaterializeResult:
    version, present, skipped, digest = _landing_inputs(jianfu, source)
    with jianfu.connect() as conn:
        unchanged = state.landing_unchanged(conn, source, present, skipped, version, digest)
        if unchanged:
            sync = _recorded_sync(conn, source, sorted([f.name for f in present] + [s.name for s in skipped]))
        else:
            sync = sync_landing(
                conn,
                jianfu.landing_dir,
                source,
                jianfu.pseudonym_key(),
                mappings_dir=jianfu.mappings_dir,
                version=version,
                current_wave=run_month(),
            )
            state.record_run(conn, f"landing:{source}", digest)
    if unchanged:
        context.log.info(f"{source}: {len(sync.unchanged)} files unchanged (content hashes): not re-read")
    for name, reason in sync.bad_files.items():
        context.log.warning(f"{source}/{name}: {reason}")
    for name, columns in sync.missing_columns.items():
        context.log.warning(f"{source}/{name}: not collected: {', '.join(columns)}")
    new_waves = [w for w in sync.waves if not context.instance.has_dynamic_partition(waves_partitions.name, w)]
    if new_waves:
        context.instance.add_dynamic_partitions(waves_partitions.name, new_waves)
    return dg.MaterializeResult(
        metadata={
            "files_loaded": len(sync.loaded),
            "files_unchanged": len(sync.unchanged),
            "files_removed": len(sync.removed),
            "bad_files": dg.MetadataValue.json(sync.bad_files),
            "missing_columns": dg.MetadataValue.json(sync.missing_columns),
            "rows_without_wave": sync.rows_without_wave,
            "skipped": unchanged,
            "waves": ", ".join(sync.waves),
        }
    )


@dg.asset(key_prefix="landing", kinds={"duckdb"}, group_name="ingest", pool=DUCKDB_POOL, deps=[reference_tables])
def teacher_survey_landing(context: dg.AssetExecutionContext, jianfu: JianfuResource) -> dg.MaterializeResult:
    """landing.teacher_survey_rows: contract columns only, teacher_id already pseudonymised."""
    return _ingest(context, jianfu, TEACHER_SURVEY)


@dg.asset(key_prefix="landing", kinds={"duckdb"}, group_name="ingest", pool=DUCKDB_POOL, deps=[reference_tables])
def school_report_landing(context: dg.AssetExecutionContext, jianfu: JianfuResource) -> dg.MaterializeResult:
    """landing.school_report_rows: one text row per landing row, with its file and row number."""
    return _ingest(context, jianfu, SCHOOL_REPORT)


@dg.asset(key_prefix="landing", kinds={"duckdb"}, group_name="ingest", pool=DUCKDB_POOL, deps=[reference_tables])
def campus_event_landing(context: dg.AssetExecutionContext, jianfu: JianfuResource) -> dg.MaterializeResult:
    """landing.campus_event_rows: one text row per event, keyed by the month of its date."""
    return _ingest(context, jianfu, CAMPUS_EVENT)

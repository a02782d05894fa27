"""The sensors: landing (runs the waves a new or changed file holds) and run failure (records an alert row)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import dagster as dg

from pipelines.catalogue.rules import MAX_REASON_LENGTH, SOURCES, WAVE_SOURCES
from pipelines.landing.scan import LandingFileError, list_landing_files, waves_in_file
from pipelines.partitions import waves_partitions
from pipelines.resources import FatalPipelineError, JianfuResource, load_sql


def landing_snapshot(jianfu: JianfuResource) -> dict[str, int]:
    """`source/file` -> modification time in ns, for every landing file."""
    snapshot = {}
    for source in SOURCES:
        folder = jianfu.landing_dir / source
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
                snapshot[f"{source}/{path.relative_to(folder).as_posix()}"] = path.stat().st_mtime_ns
    return snapshot


def plan_runs(
    previous: dict[str, int], current: dict[str, int], jianfu: JianfuResource, known_waves: Sequence[str]
) -> tuple[list[str], list[str], str]:
    """(waves to run, waves to register, run-key digest) for what changed since `previous`. A change of
    campus events alone (no wave of their own) runs the latest wave: its run rebuilds the policy marts."""
    changed = sorted(k for k, mtime in current.items() if previous.get(k) != mtime)
    removed = sorted(set(previous) - set(current))
    if not changed and not removed:
        return [], [], ""
    waves: set[str] = set(known_waves) if removed else set()
    files = {f"{f.source}/{f.name}": f for source in SOURCES for f in list_landing_files(jianfu.landing_dir, source)}
    for key in changed:
        try:
            waves |= waves_in_file(files[key], jianfu.mappings_dir)
        except (KeyError, LandingFileError):
            continue
    waveless = [k for k in (*changed, *removed) if k.split("/", 1)[0] not in WAVE_SOURCES]
    if waveless and not waves and known_waves:
        waves = {max(known_waves)}
    digest = hashlib.sha256(json.dumps([changed, removed, [current.get(k) for k in changed]]).encode())
    return sorted(waves), sorted(waves - set(known_waves)), digest.hexdigest()[:16]


def build_landing_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
    def landing_sensor(context: dg.SensorEvaluationContext, jianfu: JianfuResource):
        """Runs every wave touched by a new, changed or removed landing file, once per change."""
        previous = json.loads(context.cursor) if context.cursor else {}
        current = landing_snapshot(jianfu)
        assert waves_partitions.name is not None
        known = context.instance.get_dynamic_partitions(waves_partitions.name)
        waves, new_waves, digest = plan_runs(previous, current, jianfu, known)
        if not digest:
            return dg.SkipReason("no landing file changed")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(partition_key=w, run_key=f"{w}:{digest}") for w in waves],
            dynamic_partitions_requests=[waves_partitions.build_add_request(new_waves)] if new_waves else [],
            cursor=json.dumps(current, sort_keys=True),
        )

    return landing_sensor


@dataclass(frozen=True)
class RunFailure:
    run_id: str
    job_name: str
    partition_key: str | None
    failed_at: datetime
    step: str | None
    message: str


def safe_message(error) -> str:
    """The pipeline's own one-line reason (FatalPipelineError never quotes a cell), else only the error's class.

    Any other exception's text may carry a landing value (a cast error names the value), so it stays in
    the Dagster run log, which the operator reads, and out of the warehouse, which reports read.
    """
    if error is None:
        return "run failed"
    while error.cause is not None:
        error = error.cause
    if error.cls_name == FatalPipelineError.__name__:
        lines = [line.strip() for line in error.message.strip().splitlines() if line.strip()]
        return (lines[0].split(": ", 1)[-1] if lines else "run failed")[:MAX_REASON_LENGTH]
    return f"{error.cls_name or 'error'} (details in the Dagster run log)"


def failure_from_run(instance: dg.DagsterInstance, run_id: str) -> RunFailure:
    """What failed in a run, from its event log: the first failed step and its error, or the run's."""
    run = instance.get_run_by_id(run_id)
    assert run is not None
    records = instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE})
    step_failure = next(
        (r for r in records if r.get_dagster_event().event_type == dg.DagsterEventType.STEP_FAILURE), None
    )
    chosen = step_failure or (records[-1] if records else None)
    data = chosen.get_dagster_event().event_specific_data if chosen else None
    if records:
        when = records[-1].timestamp
    else:  # no failure event (yet): the run's creation time; the run record has it, DagsterRun does not
        record = instance.get_run_record_by_id(run_id)
        assert record is not None
        when = record.create_timestamp.timestamp()
    failed_at = datetime.fromtimestamp(when, tz=UTC).replace(tzinfo=None)
    return RunFailure(
        run_id=run_id,
        job_name=run.job_name,
        partition_key=run.tags.get("dagster/partition"),
        failed_at=failed_at,
        step=step_failure.get_dagster_event().step_key if step_failure else None,
        message=safe_message(getattr(data, "error", None)),
    )


def record_run_failure(jianfu: JianfuResource, failure: RunFailure) -> None:
    """One quality.run_failures row per failed run; recording the same run again changes nothing."""
    with jianfu.connect() as conn:
        conn.execute(load_sql("quality/run_failures.sql"), {**asdict(failure), "max_length": MAX_REASON_LENGTH})


def build_run_failure_sensor() -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="run_failure_alert", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
    )
    def run_failure_alert(context: dg.RunFailureSensorContext, jianfu: JianfuResource):
        """Every failed run of this code location becomes a quality.run_failures row."""
        try:
            record_run_failure(jianfu, failure_from_run(context.instance, context.dagster_run.run_id))
        except FatalPipelineError as exc:
            context.log.warning(f"run failure of {context.dagster_run.run_id} not recorded: {exc}")

    return run_failure_alert

"""The landing sensor remembers files by mtime and asks for one run per touched wave, once."""

import os
from datetime import UTC, datetime

import dagster as dg
from conftest import good_school_row, good_teacher_row, write_table

from pipelines.catalogue.rules import CAMPUS_EVENT, contract_columns
from pipelines.definitions import defs
from pipelines.resources import JianfuResource


def evaluate(data_dir, instance, cursor=None):
    sensor = defs.resolve_sensor_def("landing_sensor")
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"jianfu": JianfuResource(data_dir=str(data_dir))}
    )
    return sensor(context)


def test_sensor_requests_each_new_wave_once_and_registers_it(data_dir):
    instance = dg.DagsterInstance.ephemeral()
    folder = data_dir / "landing" / "teacher_survey"
    write_table(folder / "a.csv", [good_teacher_row(), good_teacher_row(response_id="R2", wave="2024-11")])
    write_table(data_dir / "landing" / "school_report" / "r.parquet", [good_school_row(wave="2025-05")])

    first = evaluate(data_dir, instance)
    assert sorted(r.partition_key for r in first.run_requests) == ["2024-05", "2024-11", "2025-05"]
    assert len({r.run_key for r in first.run_requests}) == 3
    assert list(first.dynamic_partitions_requests[0].partition_keys) == ["2024-05", "2024-11", "2025-05"]

    again = evaluate(data_dir, instance, first.cursor)
    assert isinstance(again, dg.SkipReason) and again.skip_message == "no landing file changed"

    instance.add_dynamic_partitions("waves", ["2024-05", "2024-11", "2025-05"])
    write_table(folder / "b.xlsx", [good_teacher_row(response_id="R3")])
    third = evaluate(data_dir, instance, first.cursor)
    assert [r.partition_key for r in third.run_requests] == ["2024-05"]
    assert third.run_requests[0].run_key != first.run_requests[0].run_key
    assert not third.dynamic_partitions_requests

    stat = (folder / "a.csv").stat()
    os.utime(folder / "a.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    touched = evaluate(data_dir, instance, third.cursor)
    assert sorted(r.partition_key for r in touched.run_requests) == ["2024-05", "2024-11"]


def test_sensor_reruns_every_known_wave_when_a_file_disappears(data_dir):
    instance = dg.DagsterInstance.ephemeral()
    folder = data_dir / "landing" / "teacher_survey"
    write_table(folder / "a.csv", [good_teacher_row()])
    write_table(folder / "b.csv", [good_teacher_row(response_id="R2", wave="2024-11")])
    first = evaluate(data_dir, instance)
    instance.add_dynamic_partitions("waves", ["2024-05", "2024-11"])
    (folder / "b.csv").unlink()
    after = evaluate(data_dir, instance, first.cursor)
    assert sorted(r.partition_key for r in after.run_requests) == ["2024-05", "2024-11"]


def test_a_campus_event_file_alone_reruns_the_latest_wave(data_dir):
    """Campus events have no wave: a new event file runs the latest known wave, whose run rebuilds the policy marts."""
    instance = dg.DagsterInstance.ephemeral()
    write_table(
        data_dir / "landing" / "teacher_survey" / "a.csv",
        [good_teacher_row(), good_teacher_row(response_id="R2", wave="2024-11")],
    )
    first = evaluate(data_dir, instance)
    instance.add_dynamic_partitions("waves", ["2024-05", "2024-11"])
    event = dict.fromkeys(contract_columns(CAMPUS_EVENT), "")
    event.update(
        event_id="E1", school_code="1501020001", event_date="2024-06-01", kind="check", organiser_level="county"
    )
    event.update(in_annual_plan="1", teacher_days="0")
    (data_dir / "landing" / "campus_event").mkdir(parents=True, exist_ok=True)
    write_table(data_dir / "landing" / "campus_event" / "events.csv", [event])
    after = evaluate(data_dir, instance, first.cursor)
    assert [r.partition_key for r in after.run_requests] == ["2024-11"]
    assert not after.dynamic_partitions_requests
    again = evaluate(data_dir, instance, after.cursor)
    assert isinstance(again, dg.SkipReason)


def test_schedule_targets_the_latest_wave(tmp_path):
    schedule = defs.resolve_schedule_def("weekly_refresh")
    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    empty = schedule(dg.build_schedule_context(instance=instance))
    assert isinstance(empty, dg.SkipReason)
    instance.add_dynamic_partitions("waves", ["2024-05", "2026-11", "2025-05"])
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2026, 11, 30, 6))
    result = schedule(context)
    assert result.partition_key == "2026-11" and result.run_key == "2026-11:2026-11-30"


def _failed_run(instance, job, **kwargs):
    result = job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    (event,) = [r.dagster_event for r in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)]
    return run, event


def _fire(instance, run, event, data_dir):
    sensor = defs.resolve_sensor_def("run_failure_alert")
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=event,
        resources={"jianfu": JianfuResource(data_dir=str(data_dir))},
    ).for_run_failure()
    sensor(context)


def test_run_failure_sensor_records_a_failed_run_once(data_dir, tmp_path, monkeypatch):
    from conftest import query

    from pipelines.definitions import build_definitions

    monkeypatch.setenv("JIANFU_ID_KEY", "test-key-not-secret")
    (data_dir / "reference" / "schools.csv").write_text("school_code,county_code\n1,150102\n", encoding="utf-8")
    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    ingest_job = build_definitions(data_dir=str(data_dir)).resolve_job_def("ingest_job")
    run, event = _failed_run(instance, ingest_job)
    assert isinstance(defs.resolve_sensor_def("run_failure_alert"), dg.RunStatusSensorDefinition)

    _fire(instance, run, event, data_dir)
    _fire(instance, run, event, data_dir)
    rows = query(data_dir, "select run_id, job_name, step, message, failed_at is not null from quality.run_failures")
    assert len(rows) == 1
    run_id, job_name, step, message, stamped = rows[0]
    assert (run_id, job_name, stamped) == (run.run_id, "ingest_job", True)
    assert step and "schools.csv lacks columns: school_name" in message and len(message) <= 200


def test_run_failure_sensor_never_stores_the_text_of_an_unexpected_error(data_dir, tmp_path):
    from conftest import EXTRA_COLUMNS, query

    @dg.op
    def cast_cell():
        raise ValueError(f"could not convert {EXTRA_COLUMNS['teacher_name']} {EXTRA_COLUMNS['phone']} to DOUBLE")

    @dg.job
    def leaky_job():
        cast_cell()

    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    run, event = _failed_run(instance, leaky_job)
    _fire(instance, run, event, data_dir)
    ((job_name, step, message),) = query(data_dir, "select job_name, step, message from quality.run_failures")
    assert (job_name, step) == ("leaky_job", "cast_cell")
    assert message == "ValueError (details in the Dagster run log)"


def test_a_run_without_failure_events_is_dated_by_its_creation():
    """failure_from_run on a run whose log holds no failure (the sensor can see one before its events land)."""
    from pipelines.sensors import failure_from_run

    @dg.op
    def fine():
        return 1

    @dg.job
    def quiet():
        fine()

    instance = dg.DagsterInstance.ephemeral()
    result = quiet.execute_in_process(instance=instance)
    record = instance.get_run_record_by_id(result.run_id)
    failure = failure_from_run(instance, result.run_id)
    created = datetime.fromtimestamp(record.create_timestamp.timestamp(), tz=UTC).replace(tzinfo=None)
    assert (failure.job_name, failure.step, failure.failed_at) == ("quiet", None, created)

"""The landing sensor remembers files by mtime and asks for one run per touched wave, once."""

import os
from datetime import datetime

import dagster as dg

from conftest import good_school_row, good_teacher_row, write_table
from pipelines.definitions import defs
from pipelines.resources import JianfuResource


def evaluate(data_dir, instance, cursor=None):
    sensor = defs.resolve_sensor_def("landing_sensor")
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"jianfu": JianfuResource(data_dir=str(data_dir))})
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


def test_schedule_targets_the_latest_wave(tmp_path):
    schedule = defs.resolve_schedule_def("weekly_refresh")
    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    empty = schedule(dg.build_schedule_context(instance=instance))
    assert isinstance(empty, dg.SkipReason)
    instance.add_dynamic_partitions("waves", ["2024-05", "2026-11", "2025-05"])
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2026, 11, 30, 6))
    result = schedule(context)
    assert result.partition_key == "2026-11" and result.run_key == "2026-11:2026-11-30"

"""The code location loads, with every job, schedule, sensor, group, check and pool it promises."""

import dagster as dg
import yaml

from pipelines.definitions import ASSET_MODULES, defs
from pipelines.partitions import DUCKDB_POOL
from pipelines.resources import REPO_ROOT


def test_jobs_schedule_and_sensor_exist():
    assert {j.name for j in defs.jobs} >= {"ingest_job", "wave_job", "monitoring_job", "refresh_job"}
    assert defs.resolve_schedule_def("weekly_refresh").cron_schedule == "0 6 * * 1"
    assert defs.resolve_sensor_def("landing_sensor").minimum_interval_seconds == 60
    failure_sensor = defs.resolve_sensor_def("run_failure_alert")
    assert isinstance(failure_sensor, dg.RunStatusSensorDefinition)
    assert failure_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    dg.Definitions.validate_loadable(defs)


def test_assets_grouped_by_stage_and_named_for_their_tables():
    graph = defs.resolve_asset_graph()
    groups = {key.path[-1]: graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups["reference_tables"] == groups["teacher_survey_landing"] == "ingest"
    assert groups["teacher_survey_staged"] == groups["school_report_staged"] == "staging"
    assert groups["data_quality"] == "marts"
    assert groups["report_site"] == "reports"


def test_every_warehouse_writer_is_in_the_duckdb_pool():
    for assets_def in dg.load_assets_from_modules(ASSET_MODULES):
        assert assets_def.op.pool == DUCKDB_POOL, assets_def.keys


def test_wave_assets_are_partitioned_by_the_dynamic_wave_partitions():
    graph = defs.resolve_asset_graph()
    partitioned = {k.path[-1] for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is not None}
    assert {"teacher_survey_staged", "school_report_staged"} <= partitioned
    assert "data_quality" not in partitioned


def test_instance_config_limits_the_pool_and_stores_under_the_data_dir():
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["storage"]["sqlite"]["base_dir"] == {"env": "JIANFU_DAGSTER_STORAGE"}


def test_plain_dagster_commands_get_a_storage_path_under_data_from_the_env_file():
    settings = dict(
        line.split("=", 1)
        for line in (REPO_ROOT / ".env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert settings == {"JIANFU_DAGSTER_STORAGE": "data/dagster"}

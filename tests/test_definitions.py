"""The code location loads, with every job, schedule, sensor, group, check and pool it promises."""

import json
import os
import re
from pathlib import Path

import dagster as dg
import yaml
from conftest import LONGEST_FIRST

from assets.checks import check_sql_path
from pipelines.definitions import ASSET_MODULES, defs
from pipelines.partitions import DUCKDB_POOL
from pipelines.resources import REPO_ROOT, SQL_DIR

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
LAYERS = {"ref", "landing", "staging", "marts", "quality", "reports"}
"""Key prefixes: the warehouse schema an asset writes, or reports/ for the published files."""


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
    assert {key.path[0] for key in graph.get_all_asset_keys()} == LAYERS
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


def definitions_snapshot() -> dict:
    """Every asset's key, group, kinds, partitioning and deps, every check, every job's selection."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.path):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "partitioned": node.partitions_def is not None,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(c.name for c in node.check_keys),
        }
    checks = {
        f"{c.asset_key.to_user_string()}:{c.name}": {
            "blocking": graph.get(c).blocking,
            "partitioned": graph.get(c).partitions_def is not None,
        }
        for c in sorted(graph.asset_check_keys, key=lambda c: (c.asset_key.path, c.name))
    }
    jobs = {
        job.name: sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys)
        for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name)
        if not job.name.startswith("__")
    }
    return {"assets": assets, "checks": checks, "jobs": jobs}


def test_definitions_match_the_committed_snapshot():
    """An asset renamed, regrouped, rewired or a check dropped shows here; JIANFU_UPDATE_SNAPSHOT=1 rewrites it."""
    current = definitions_snapshot()
    if os.environ.get("JIANFU_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    committed = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert current["assets"].keys() == committed["assets"].keys()
    for key, spec in committed["assets"].items():
        assert current["assets"][key] == spec, key
    assert current == committed
    assert len(current["assets"]) == 24 and len(current["checks"]) == 18


def test_key_prefix_group_table_and_sql_file_agree():
    """marts/x writes marts.x from sql/marts/x.sql, staging/x staging.x from sql/staging/x.sql: one name throughout."""
    ddl = "\n".join(p.read_text(encoding="utf-8") for p in sorted((SQL_DIR / "ddl").glob("*.sql")))
    tables = set(re.findall(r"create table if not exists (\w+\.\w+)", ddl))
    graph = defs.resolve_asset_graph()
    warehouse = [k for k in graph.get_all_asset_keys() if k.path[0] in ("staging", "marts", "quality")]
    assert len(warehouse) == 18
    for key in warehouse:
        layer, name = key.path
        assert f"{layer}.{name}" in tables, key
        assert graph.get(key).kinds == {"duckdb"}, key
        if layer != "quality":
            assert graph.get(key).group_name == layer, key
        if layer != "quality":
            assert (SQL_DIR / layer / f"{name}.sql").is_file(), key
    writers = [k for k in graph.get_all_asset_keys() if k.path[0] in ("ref", "landing")]
    assert all(graph.get(k).kinds == {"duckdb"} and graph.get(k).group_name == "ingest" for k in writers)


def test_every_sql_check_has_its_file_and_every_check_file_its_check():
    """A check is a GX suite (`*_expectations`) or sql/checks/<asset>/<check>.sql returning offending rows."""
    graph = defs.resolve_asset_graph()
    sql_checks = {check_sql_path(k) for k in graph.asset_check_keys if not k.name.endswith("_expectations")}
    files = {p.relative_to(SQL_DIR).as_posix() for p in (SQL_DIR / "checks").rglob("*.sql")}
    assert sql_checks == files
    assert len(files) == 13


TOP_LEVEL_TESTS = {
    "test_deployment.py": "dagster.yaml",
    "test_notebooks.py": "notebooks",
    "test_packaging.py": "pyproject.toml",
}
"""Top-level test files about a file of the repository rather than a module of pipelines/."""


def test_tests_mirror_the_code_layout():
    """tests/<part>/ tests pipelines/<part>/ (or assets/); tests/test_<name>.py tests pipelines/<name>.py."""
    tests = REPO_ROOT / "tests"
    folders = [p for p in tests.iterdir() if p.is_dir() and p.name not in {"r", "snapshots", "__pycache__"}]
    assert {p.name for p in folders} >= {"assets", "landing", "report", "quality"}
    for folder in folders:
        code = REPO_ROOT / folder.name if folder.name == "assets" else REPO_ROOT / "pipelines" / folder.name
        assert (code / "__init__.py").is_file(), f"tests/{folder.name}/ mirrors no package"
        assert list(folder.glob("test_*.py")), f"tests/{folder.name}/ holds no tests"
    for test in tests.glob("test_*.py"):
        module = REPO_ROOT / "pipelines" / test.name.removeprefix("test_")
        target = TOP_LEVEL_TESTS.get(test.name)
        assert module.is_file() or (target and (REPO_ROOT / target).exists()), f"{test.name} mirrors nothing"
    names = [p.name for p in tests.rglob("test_*.py")]
    assert len(names) == len(set(names)), "test file names must be unique (pytest imports them by basename)"
    stale = [module for module in LONGEST_FIRST if not (REPO_ROOT / module).is_file()]
    assert not stale, f"conftest.LONGEST_FIRST names modules that moved: {stale}"

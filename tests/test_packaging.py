"""A non-editable install carries the SQL, the reference files, dagster.yaml and the report templates,
and the code finds them there, far from any checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipelines.paths import REPO_ROOT

TEMPLATES = REPO_ROOT / "pipelines" / "report" / "templates"


def shipped_files() -> set[str]:
    """What an install must hold, as paths inside the package: every SQL and reference file, the templates."""
    shipped = [*(REPO_ROOT / "sql").rglob("*.sql"), *(REPO_ROOT / "data" / "reference").glob("*.csv")]
    shipped.append(REPO_ROOT / "dagster.yaml")
    assert len(shipped) >= 60 and REPO_ROOT / "data" / "reference" / "divisions.csv" in shipped
    templates = {f"pipelines/report/templates/{p.name}" for p in TEMPLATES.iterdir()}
    return {f"pipelines/_project/{p.relative_to(REPO_ROOT).as_posix()}" for p in shipped} | templates


def packages() -> set[str]:
    """Every package directory of the source tree, as a path with __init__.py."""
    return {
        p.relative_to(REPO_ROOT).as_posix()
        for top in ("pipelines", "assets")
        for p in (REPO_ROOT / top).rglob("__init__.py")
        if "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The tree a wheel holds, by setuptools' build_py from pyproject.toml (offline, no `wheel` needed)."""
    out = tmp_path_factory.mktemp("build")
    result = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py", "--build-lib", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    noise = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and "byte-compiling is disabled" not in line and "_BetaConfiguration" not in line
        if "warnings.warn(msg, _BetaConfiguration)" not in line
    ]
    assert noise == [], "setuptools warns while building"
    return out


def test_the_build_holds_every_sql_reference_file_template_and_package(built):
    files = {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()}
    missing = shipped_files() - files
    assert missing == set()
    assert packages() <= files
    assert "pipelines/_project/sql/checks/alerts/alerts_name_a_league.sql" in files
    assert not any(f.startswith(("pipelines/_project/tests", "pipelines/_project/notebooks")) for f in files)


def test_an_installed_copy_finds_its_sql_reference_files_and_instance_config(built, tmp_path):
    """Run from an unrelated directory with only the built tree on the path: nothing may come from the checkout."""
    probe = """
import json, os
from pathlib import Path
from pipelines import paths
from pipelines.catalogue.questionnaire import SHIPPED_QUESTIONNAIRE, load_questionnaire
from pipelines.resources import JianfuResource, load_sql, resolve_data_dir
from pipelines.runner import project_instance
jianfu = JianfuResource(data_dir=str(Path.cwd() / "warehouse"))
(Path.cwd() / "warehouse").mkdir()
with jianfu.connect() as conn:
    schemas = sorted(s for (s,) in conn.execute("select distinct schema_name from information_schema.schemata").fetchall())
with project_instance(Path.cwd() / "warehouse") as instance:
    pools = instance.get_settings("concurrency")
print(json.dumps({
    "in_checkout": paths.IN_CHECKOUT,
    "project": str(paths.PROJECT_DIR),
    "sql": load_sql("marts/area_metrics.sql"),
    "divisions": str(jianfu.reference_path("divisions.csv")),
    "questionnaire": str(SHIPPED_QUESTIONNAIRE),
    "questions": len(load_questionnaire()),
    "data_dir": str(resolve_data_dir()),
    "schemas": schemas,
    "pool_limit": pools["pools"]["default_limit"],
}))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("JIANFU_DATA_DIR", "DAGSTER_HOME", "PYTHONPATH")}
    env["PYTHONPATH"] = str(built)
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    project = built / "pipelines" / "_project"
    assert got["in_checkout"] is False and Path(got["project"]) == project
    assert got["sql"] == (REPO_ROOT / "sql" / "marts" / "area_metrics.sql").read_text(encoding="utf-8")
    assert Path(got["divisions"]) == project / "data" / "reference" / "divisions.csv"
    assert Path(got["questionnaire"]) == project / "data" / "reference" / "questionnaire.csv"
    assert got["questions"] >= 30
    assert Path(got["data_dir"]) == (tmp_path / "data").resolve()
    assert {"landing", "marts", "meta", "quality", "ref", "staging"} <= set(got["schemas"])
    assert got["pool_limit"] == 1


def test_a_real_wheel_holds_the_same_files(built, tmp_path):
    source = tmp_path / "source"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("pipelines", "assets", "sql", "data/reference"):
        shutil.copytree(REPO_ROOT / name, source / name, ignore=skip)
    for name in ("pyproject.toml", "README.md", "dagster.yaml"):
        shutil.copy2(REPO_ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("jianfu-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert shipped_files() <= names and packages() <= names

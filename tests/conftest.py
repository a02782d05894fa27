"""Shared fixtures: tiny hand-made landing sets and in-process pipeline runs on temporary dirs."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import gc
import io
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import duckdb
import openpyxl
import polars as pl
import pytest

from pipelines.catalogue.rules import SCHOOL_REPORT, TEACHER_SURVEY, contract_columns
from pipelines.runner import RunSummary, run_pipeline

SCHOOLS = [
    ("1501020001", "新城区第一小学", "150102", "primary", "urban", 50),
    ("1501020002", "新城区第二中学", "150102", "junior", "urban", 60),
    ("1502030001", "昆都仑区第一小学", "150203", "primary", "urban", 40),
]
POPULATION = [("150102", "primary", 500), ("150102", "junior", 600), ("150203", "primary", 400)]
JIANFU = Path(sys.executable).with_name("jianfu")
os.environ["JIANFU_REPORT_PDFS"] = "0"
"""Printing PDFs costs a chromium on every published site; only the demo build below prints them."""
EXTRA_COLUMNS = {"teacher_name": "张伟", "phone": "13912345678", "remarks": "希望少填表"}
TMPFS_ROOM = 4 * 2**30
"""Free space /dev/shm must have before the session's temporary directories go there."""
TMPFS_BASETEMP = pytest.StashKey[Path]()


LONGEST_FIRST = (
    "tests/report/test_reports.py",
    "tests/landing/test_landing.py",
    "tests/platforms/test_platforms.py",
    "tests/report/test_browser.py",
    "tests/test_runner.py",
    "tests/synthetic/test_generate.py",
    "tests/assets/test_marts.py",
    "tests/test_cli.py",
    "tests/test_deployment.py",
    "tests/estimation/test_uncertainty.py",
    "tests/assets/test_ingest.py",
    "tests/assets/test_quality.py",
    "tests/policy/test_policy.py",
    "tests/quality/test_expectations.py",
    "tests/estimation/test_stats.py",
)
"""The order xdist hands modules to its workers (pytest's --no-loadscope-reorder): the longest first,
so both workers finish together, and the demo build's two readers apart (test_reports builds it while
the other worker runs test_landing), so neither waits. Modules not named follow in their own order."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {module: i for i, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Temporary directories on tmpfs when the machine has room: every run's DuckDB checkpoints and
    Dagster's SQLite commits fsync, which costs a small run ~2 s on disk. A private directory per
    session (mkdtemp), so two sessions never share one; xdist workers inherit it."""
    shm = Path("/dev/shm")
    if config.option.basetemp or os.environ.get("PYTEST_XDIST_WORKER") or not shm.is_dir():
        return
    if shutil.disk_usage(shm).free >= TMPFS_ROOM:
        config.option.basetemp = tempfile.mkdtemp(prefix="jianfu-tests-", dir=shm)
        config.stash[TMPFS_BASETEMP] = Path(config.option.basetemp)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Give the tmpfs back (it is memory) when every test passed; a failed session keeps its files."""
    basetemp = session.config.stash.get(TMPFS_BASETEMP, None)
    if basetemp is not None and exitstatus == 0:
        shutil.rmtree(basetemp, ignore_errors=True)


def good_teacher_row(**overrides) -> dict[str, str]:
    row = dict.fromkeys(contract_columns(TEACHER_SURVEY), "")
    row.update(
        wave="2024-05",
        response_id="R1",
        school_code="1501020001",
        school_level="primary",
        submitted_at="2024-05-10 09:00:00",
        hours_total="50",
        hours_teaching="15",
        hours_teaching_related="20",
        hours_cat1="3",
        hours_cat2="2",
        hours_cat3="1.5",
        hours_cat4="1",
        hours_cat5="0.5",
        n_inspections="4",
        n_forms="10",
        n_app_tasks="3",
        n_nonteaching_meetings="2",
        n_invigilations="1",
        days_seconded="0",
        training_hours_nonteaching="5",
        felt_change="4",
        focus_on_teaching="4",
        teacher_id="T100000001",
    )
    row.update({f"item_{i:02d}": "0" for i in range(1, 27)})
    row.update(EXTRA_COLUMNS)
    row.update(overrides)
    return row


def good_school_row(**overrides) -> dict[str, str]:
    row = dict.fromkeys(contract_columns(SCHOOL_REPORT), "3")
    row.update(wave="2024-05", school_code="1501020001", reported_at="2024-05-20 10:00:00", n_seconded_over_6m="0")
    row.update(overrides)
    return row


def small_landing(data_dir: Path) -> None:
    """Two waves: one bad teacher row (hours_total 200) in a GBK CSV, one school report in XLSX."""
    write_table(
        data_dir / "landing" / "teacher_survey" / "t.csv",
        [
            good_teacher_row(),
            good_teacher_row(response_id="R2", hours_total="200"),
            good_teacher_row(response_id="R3", wave="2024-11", submitted_at="2024-11-02 08:00:00"),
        ],
        "gbk",
    )
    write_table(data_dir / "landing" / "school_report" / "s.xlsx", [good_school_row()])


def write_table(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    """Rows as CSV (any encoding, 'utf-8-sig' for a BOM), XLSX or Parquet, by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0])
    if path.suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path.write_bytes(buffer.getvalue().encode(encoding))
    elif path.suffix == ".xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(columns)
        for row in rows:
            sheet.append([_excel_value(row[c]) for c in columns])
        book.save(path)
    elif path.suffix == ".parquet":
        pl.DataFrame(
            {c: [r[c] or None for r in rows] for c in columns}, schema=dict.fromkeys(columns, pl.String)
        ).write_parquet(path)
    return path


def _excel_value(text: str):
    """Numbers as numbers, as a spreadsheet export would hold them."""
    try:
        number = float(text)
    except ValueError:
        return text or None
    return int(number) if number.is_integer() and "." not in text else number


def new_data_dir(root: Path) -> Path:
    """root/data with a three-school reference override and empty landing folders."""
    reference = root / "data" / "reference"
    reference.mkdir(parents=True)
    with (reference / "schools.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [("school_code", "school_name", "county_code", "school_type", "urban_rural", "n_teachers"), *SCHOOLS]
        )
    with (reference / "teacher_population.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("county_code", "school_level", "n_teachers"), *POPULATION])
    for source in (TEACHER_SURVEY, SCHOOL_REPORT):
        (root / "data" / "landing" / source).mkdir(parents=True)
    return root / "data"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory with a three-school reference override and empty landing folders."""
    return new_data_dir(tmp_path)


@pytest.fixture
def run(monkeypatch):
    """run(data_dir) executes the whole pipeline in-process on an ephemeral Dagster instance."""
    monkeypatch.setenv("JIANFU_ID_KEY", "test-key-not-secret")

    def _run(path: Path, instance: dg.DagsterInstance | None = None, **kwargs):
        return run_pipeline(path, instance=instance or dg.DagsterInstance.ephemeral(), echo=lambda _: None, **kwargs)

    return _run


def query(data_dir: Path, sql: str, params: dict | None = None) -> list[tuple]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        return conn.sql(sql, params=params or {}).fetchall()


CLI_ENV_DROPPED = frozenset({"DAGSTER_HOME", "JIANFU_DATA_DIR"})
"""What the test session may set that a user's shell would not: jianfu() and jianfu_in_process() unset it."""


def jianfu(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The console script as a user runs it, without the test session's Dagster or data settings."""
    base = {k: v for k, v in os.environ.items() if k not in CLI_ENV_DROPPED}
    return subprocess.run(
        [str(JIANFU), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, "JIANFU_ID_KEY": "cli-test-key", **(env or {})},
    )


def jianfu_in_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """jianfu() without a new interpreter: pipelines.cli.main(argv), output captured, exit status as returncode.

    Saves the ~10 s of imports a console-script run pays. The environment, working directory and
    warning filters are restored afterwards (a run sets JIANFU_DAGSTER_STORAGE, for one); use jianfu()
    where being a separate process is the point (the console script itself, concurrent runs, locks).
    """
    from pipelines.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        _cli_environment({"JIANFU_ID_KEY": "cli-test-key", **(env or {})}),
        _as_a_process_warns(),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            returncode = main(list(args))
        except SystemExit as exit_:
            returncode = _exit_status(exit_.code)
    gc.collect()
    return subprocess.CompletedProcess(["jianfu", *args], returncode, stdout.getvalue(), stderr.getvalue())


def _exit_status(code: object) -> int:
    """What the interpreter makes of sys.exit(code): None is 0, a number itself, anything else printed and 1."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


@contextlib.contextmanager
def _cli_environment(settings: dict[str, str]) -> Iterator[None]:
    saved, cwd = dict(os.environ), os.getcwd()
    for name in CLI_ENV_DROPPED:
        os.environ.pop(name, None)
    os.environ.update(settings)
    try:
        yield
    finally:
        os.chdir(cwd)
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        os.environ.update(saved)


@contextlib.contextmanager
def _as_a_process_warns() -> Iterator[None]:
    """Python's default warning filters, printed to (captured) stderr as a fresh interpreter would, not to pytest."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        warnings.showwarning = _print_warning
        yield


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def session_root(base: Path) -> Path:
    """The directory every xdist worker of this session shares: a worker's basetemp is its child."""
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(base: Path, name: str, build: Callable[[Path], None]) -> Path:
    """session_root(base)/name, built by whichever worker comes first; the others wait on a file lock.

    Users only read it (copy it to write): every worker of the session sees the same directory.
    """
    root = session_root(base)
    target, done = root / name, root / f"{name}.built"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)
            build(target)
            done.touch()
    return target


def _build_demo(data_dir: Path) -> None:
    from pipelines.synthetic.generate import generate

    generate(data_dir, teachers=800, waves=3, seed=7)
    os.environ["JIANFU_REPORT_PDFS"] = "1"
    try:
        run_pipeline(data_dir, instance=dg.DagsterInstance.ephemeral(), echo=lambda _: None)
    finally:
        os.environ["JIANFU_REPORT_PDFS"] = "0"


def build_demo(base: Path) -> Path:
    """A small generated data set through the whole pipeline, PDFs printed, once per test session.

    Shared by every module and xdist worker (read-only: copy it to change it).
    """
    return build_once(base, "report-demo", _build_demo)


@pytest.fixture(scope="session")
def demo_set(tmp_path_factory) -> Path:
    """build_demo's data directory."""
    return build_demo(tmp_path_factory.getbasetemp())


def _run_empty_landing(target: Path) -> None:
    """`jianfu run` on target/data's empty landing folders; its output and RunSummary pickled beside it."""
    from pipelines import runner

    summaries: list[RunSummary] = []

    def recorded(*args, **kwargs) -> RunSummary:
        summaries.append(run_pipeline(*args, **kwargs))
        return summaries[-1]

    runner.run_pipeline = recorded
    try:
        result = jianfu_in_process("run", "--data-dir", str(new_data_dir(target)))
    finally:
        runner.run_pipeline = run_pipeline
    (target / "run.pickle").write_bytes(pickle.dumps((result, summaries)))


@pytest.fixture(scope="session")
def empty_landing_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, RunSummary]:
    """One `jianfu run` on empty landing folders per session, read-only: its data dir, output and RunSummary.

    The command's exit status and lines and the site it publishes are asserted by different modules.
    """
    target = build_once(tmp_path_factory.getbasetemp(), "empty-landing-run", _run_empty_landing)
    result, (summary,) = pickle.loads((target / "run.pickle").read_bytes())
    return target / "data", result, summary


def copy_data_dir(source: Path, target: Path, *skip: str) -> Path:
    """A writable copy of a shared data directory, without the named top-level entries."""
    return Path(shutil.copytree(source, target, ignore=lambda d, _names: skip if Path(d) == source else ()))

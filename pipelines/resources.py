"""Dagster resources: where the data lives, the DuckDB warehouse, and monitoring thresholds."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.catalogue.metrics import Thresholds
from pipelines.paths import PROJECT_DIR, REPO_ROOT, SHIPPED_REFERENCE_DIR, SQL_DIR, default_data_dir  # noqa: F401

REFERENCE_FILES = ("divisions.csv", "schools.csv", "teacher_population.csv", "burden_items.csv", "policy_rules.csv")


class FatalPipelineError(Exception):
    """A condition no run can work around (missing reference, unreadable warehouse)."""


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """`explicit`, else $JIANFU_DATA_DIR, else the repository's `data/` (installed: ./data)."""
    chosen = explicit or os.environ.get("JIANFU_DATA_DIR") or default_data_dir()
    return Path(chosen).expanduser().resolve()


def load_sql(relative: str) -> str:
    """The text of sql/<relative>, from the checkout or the installed package."""
    return (SQL_DIR / relative).read_text(encoding="utf-8")


class JianfuResource(dg.ConfigurableResource):
    """The data directory, its warehouse and the pseudonym key.

    `data_dir` empty means $JIANFU_DATA_DIR or the repository's `data/`; `id_key` empty
    means $JIANFU_ID_KEY, else the key file `id_key` in the data directory, created once.
    `lock_timeout` is how long a connection waits for another process holding the warehouse.
    `duckdb_memory_limit` (empty: $JIANFU_DUCKDB_MEMORY_LIMIT, else `default_memory_limit()`: 1 GiB,
    or half the machine if that is less) and `duckdb_temp_dir` (empty: $JIANFU_DUCKDB_TEMP_DIR, else
    `duckdb_tmp/` in the data directory) let a wave larger than memory spill to disk instead of failing;
    `duckdb_threads` (empty: $JIANFU_DUCKDB_THREADS, else DuckDB's one per core) trades speed for
    memory, since each thread holds its own share of a wide aggregate.
    Every step of a run shares one process, so the limit is what DuckDB may hold beside Python, Dagster
    and the expectation batches (~0.5-0.9 GB): 1 GiB keeps a 2-million-row wave under 2 GiB in all.
    """

    data_dir: str = ""
    id_key: str = ""
    lock_timeout: float = 60.0
    duckdb_memory_limit: str = ""
    duckdb_temp_dir: str = ""
    duckdb_threads: str = ""

    @property
    def root(self) -> Path:
        return resolve_data_dir(self.data_dir or None)

    @property
    def landing_dir(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def mappings_dir(self) -> Path:
        return self.root / "mappings"

    @property
    def key_file(self) -> Path:
        return self.root / "id_key"

    def duckdb_settings(self) -> dict[str, str]:
        """memory_limit, temp_directory and (when set) threads for every warehouse connection."""
        limit = self.duckdb_memory_limit or os.environ.get("JIANFU_DUCKDB_MEMORY_LIMIT", "") or default_memory_limit()
        temp = self.duckdb_temp_dir or os.environ.get("JIANFU_DUCKDB_TEMP_DIR", "") or str(self.root / "duckdb_tmp")
        settings = {"memory_limit": limit, "temp_directory": str(Path(temp).expanduser().resolve())}
        threads = (self.duckdb_threads or os.environ.get("JIANFU_DUCKDB_THREADS", "")).strip()
        if threads:
            if not threads.isdigit() or int(threads) < 1:
                raise FatalPipelineError("JIANFU_DUCKDB_THREADS (duckdb_threads) must be a whole number of at least 1")
            settings["threads"] = threads
        return settings

    def reference_path(self, name: str) -> Path:
        """A reference file in the data directory wins over the shipped one."""
        override = self.root / "reference" / name
        if override.is_file():
            return override
        shipped = SHIPPED_REFERENCE_DIR / name
        if shipped.is_file():
            return shipped
        raise FatalPipelineError(f"missing reference file {name} (looked in {override.parent} and {shipped.parent})")

    def pseudonym_key(self) -> bytes:
        key = self.id_key or os.environ.get("JIANFU_ID_KEY", "")
        if key:
            return key.encode("utf-8")
        if not self.key_file.is_file():
            self.key_file.parent.mkdir(parents=True, exist_ok=True)
            self.key_file.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
            self.key_file.chmod(0o600)
        return self.key_file.read_text(encoding="utf-8").strip().encode("utf-8")

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A warehouse connection with every schema in place; closed on exit.

        Waits up to `lock_timeout` seconds while another process holds the file (DuckDB allows
        one writer and no readers beside it), then fails with one line. Inside held() it is a cursor
        on the run's connection, writable even when `read_only` asks otherwise (DuckDB opens a file
        one way per process).
        """
        if not self.root.is_dir():
            raise FatalPipelineError(f"data directory {self.root} does not exist (create it with: jianfu init DIR)")
        held = _HELD.get(self.warehouse_path)
        conn = (
            held.cursor()
            if held is not None
            else open_warehouse(self.warehouse_path, read_only, self.lock_timeout, self.duckdb_settings())
        )
        try:
            if not read_only and held is None:
                ensure_schema(conn)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Keep the warehouse open for a whole run: every connect() inside is a cursor on it, so the ~60
        steps of a run do not each reopen the file, reload its catalogue and checkpoint on close."""
        path = self.warehouse_path
        if path in _HELD:
            yield
            return
        with self.connect() as conn:
            _HELD[path] = conn
            try:
                yield
            finally:
                del _HELD[path]


_HELD: dict[Path, duckdb.DuckDBPyConnection] = {}
"""Warehouses held open by a run in this process (JianfuResource.held), by path."""


@lru_cache(maxsize=1)
def ddl_statements() -> tuple[tuple[str, ...], str]:
    """The DDL files' texts in order and their digest, read once per process."""
    texts = tuple(ddl.read_text(encoding="utf-8") for ddl in sorted((SQL_DIR / "ddl").glob("*.sql")))
    return texts, hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Every schema, table and view of sql/ddl/ in place. Every connection outside a held run checks it:
    the DDL runs only when meta.ddl_version does not hold this code's digest (new warehouse, new code,
    legacy landing tables just dropped)."""
    texts, digest = ddl_statements()
    dropped = migrate_legacy_landing(conn)
    [(has_version,)] = conn.execute(
        "select count(*) from duckdb_tables() "
        "where database_name = current_database() and schema_name = 'meta' and table_name = 'ddl_version'"
    ).fetchall()
    if not dropped and has_version:
        [(current,)] = conn.execute("select max(digest) from meta.ddl_version").fetchall()
        if current == digest:
            return
    for text in texts:
        conn.execute(text)
    conn.execute("create or replace table meta.ddl_version as select $digest::varchar as digest", {"digest": digest})


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower() and ("conflicting" in str(exc).lower() or "could not set" in str(exc).lower())


DEFAULT_MEMORY_LIMIT_MB = 1024
"""DuckDB's share of a run's memory. Every large step spills past it (staging's window, the flags'
hash groups, the estimates' sums), so more buys speed, not the ability to finish: at 2 million rows
the former default (half the machine: 12 GB here) let a run's process reach 4.6 GB; this keeps it under
2 GiB. threads and preserve_insertion_order stay DuckDB's defaults: at 2 million rows neither is needed
(insertion order off did not rescue survey_psu_sums; one thread did). At 13 million rows (190,000
schools) survey_psu_sums runs out of memory on two threads and is summed again on one
(warehouse.tables.replace_wave_in_memory)."""


def default_memory_limit() -> str:
    """DEFAULT_MEMORY_LIMIT_MB, or half the physical memory on a machine with less than twice that."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(256, min(DEFAULT_MEMORY_LIMIT_MB, total // 2 // 2**20))}MiB"


def open_warehouse(
    path: Path, read_only: bool, lock_timeout: float, settings: dict[str, str] | None = None
) -> duckdb.DuckDBPyConnection:
    """duckdb.connect with `settings` (DuckDB config options), retried while another process holds the lock;
    errors as one line."""
    deadline = time.monotonic() + max(0.0, lock_timeout)
    delay = 0.1
    while True:
        try:
            return duckdb.connect(
                str(path),
                read_only=read_only,
                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False, **(settings or {})},
            )
        except duckdb.Error as exc:
            if _is_lock_conflict(exc) and time.monotonic() < deadline:
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 2.0)
                continue
            if _is_lock_conflict(exc):
                raise FatalPipelineError(
                    f"warehouse {path} is held by another process; waited {lock_timeout:g} s (--lock-timeout)"
                ) from None
            raise FatalPipelineError(f"cannot open warehouse {path}: {str(exc).splitlines()[0][:160]}") from None


def migrate_legacy_landing(conn: duckdb.DuckDBPyConnection) -> bool:
    """Landing tables from before wave keys are a cache of the files: drop them so every file is re-read."""
    table_count = conn.execute(
        "select count(*) from information_schema.tables where table_schema = 'landing' "
        "and table_name = 'teacher_survey_rows'"
    ).fetchone()
    assert table_count is not None
    has_table = table_count[0]
    key_count = conn.execute(
        "select count(*) from information_schema.columns where table_schema = 'landing' "
        "and table_name = 'teacher_survey_rows' and column_name = 'wave_key'"
    ).fetchone()
    assert key_count is not None
    has_key = key_count[0]
    if has_table and not has_key:
        for table in (
            "landing.teacher_survey_rows",
            "landing.school_report_rows",
            "landing.files",
            "quarantine.rejected_files",
        ):
            conn.execute(f"drop table if exists {table}")
        return True
    return False


def pdfs_from_env() -> bool:
    """Printing the report PDFs takes chromium about 3 s a page: JIANFU_REPORT_PDFS=0 turns it off."""
    return os.environ.get("JIANFU_REPORT_PDFS", "1").strip().lower() not in {"0", "false", "no", "off"}


class MonitoringConfig(dg.ConfigurableResource):
    """Thresholds, the inspection baseline and whether the site prints PDFs; defaults come from `Thresholds`."""

    baseline_wave: str = ""
    min_cell_n: int = Thresholds.min_cell_n
    rse_caution: float = Thresholds.rse_caution
    z: float = Thresholds.z
    significance: float = Thresholds.significance
    min_waves_for_trend: int = Thresholds.min_waves_for_trend
    red_line_share: float = Thresholds.red_line_share
    completeness_min: float = Thresholds.completeness_min
    inspection_reduction_target: float = Thresholds.inspection_reduction_target
    consistency_ratio: float = Thresholds.consistency_ratio
    paper_reduction_ratio: float = Thresholds.paper_reduction_ratio
    report_due_days: int = Thresholds.report_due_days
    outlier_score: float = Thresholds.outlier_score
    outlier_min_history: int = Thresholds.outlier_min_history
    outlier_min_peers: int = Thresholds.outlier_min_peers
    print_pdfs: bool = True

    def thresholds(self) -> Thresholds:
        return Thresholds(**{k: getattr(self, k) for k in Thresholds.__dataclass_fields__})

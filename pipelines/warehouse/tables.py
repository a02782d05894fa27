"""Plain functions that move data into the warehouse; the assets call them.

Each replacement of a wave or a file happens inside one DuckDB transaction, so a crash
leaves the old rows or the new rows, never a mix (dagster issue 14091).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.catalogue.metrics import metric_column_rows, metric_rows
from pipelines.catalogue.rules import (
    DATE_PATTERN,
    MAX_REASON_LENGTH,
    SOURCES,
    TEXT_MAX_LENGTH,
    UNREADABLE_CELL_VALUES,
    WAVE_PATTERN,
    contract_columns,
    rule_rows,
    wave_column,
)
from pipelines.catalogue.sqlgen import staged_columns
from pipelines.landing.scan import LandingFileError, read_landing, scan_landing
from pipelines.landing.stream import insert_landing
from pipelines.resources import FatalPipelineError, load_sql

LANDING_PREFIX = ["file", "row_number", "landing_file", "row_error", "wave_key"]

LANDING_TABLES = {source: f"landing.{source}_rows" for source in SOURCES}
STAGED_TABLES = {source: f"staging.{source}_staged" for source in SOURCES}

REFERENCE_SCHEMAS: dict[str, dict[str, type[pl.DataType]]] = {
    "divisions.csv": {
        "code": pl.String,
        "name_zh": pl.String,
        "name_en": pl.String,
        "level": pl.String,
        "parent_code": pl.String,
    },
    "schools.csv": {
        "school_code": pl.String,
        "school_name": pl.String,
        "county_code": pl.String,
        "school_type": pl.String,
        "urban_rural": pl.String,
        "n_teachers": pl.Int64,
    },
    "teacher_population.csv": {"county_code": pl.String, "school_level": pl.String, "n_teachers": pl.Int64},
    "burden_items.csv": {
        "item_no": pl.Int64,
        "category_no": pl.Int64,
        "category_zh": pl.String,
        "category_en": pl.String,
        "text_zh": pl.String,
        "text_en": pl.String,
        "red_line": pl.Boolean,
    },
}


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    conn.execute("begin transaction")
    try:
        yield conn
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")


def read_reference(path: Path, name: str) -> pl.DataFrame:
    """A reference CSV typed per the contract; a missing column is fatal."""
    from pipelines.landing.scan import decode_text

    schema = REFERENCE_SCHEMAS[name]
    try:
        frame = pl.read_csv(decode_text(path.read_bytes()).encode("utf-8"), infer_schema=False)
    except (LandingFileError, pl.exceptions.PolarsError) as exc:
        raise FatalPipelineError(f"reference file {path} unreadable: {str(exc).splitlines()[0]}") from None
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise FatalPipelineError(f"reference file {path} lacks columns: {', '.join(missing)}")
    casts = []
    for column, dtype in schema.items():
        text = pl.col(column).str.strip_chars()
        if dtype == pl.Boolean:
            casts.append(text.str.to_lowercase().is_in(["true", "1", "yes"]).alias(column))
        else:
            casts.append(text.cast(dtype, strict=False).alias(column))
    return frame.select(casts)


def _read_any_reference(path: Path, name: str) -> pl.DataFrame:
    """policy_rules.csv is validated against the rule vocabulary; the others are typed per the contract."""
    if name == "policy_rules.csv":
        from pipelines.catalogue.policy import PolicyRuleError, read_policy_rules

        try:
            return read_policy_rules(path)
        except PolicyRuleError as exc:
            raise FatalPipelineError(f"reference file {path}: {exc}") from None
    return read_reference(path, name)


def load_reference(conn: duckdb.DuckDBPyConnection, paths: dict[str, Path]) -> dict[str, int]:
    """Replace ref.* and meta.* from the reference files and the declarative catalogues."""
    frames = {name: _read_any_reference(path, name) for name, path in paths.items()}
    counts = {}
    with transaction(conn):
        for name, frame in frames.items():
            table = "ref." + name.removesuffix(".csv")
            conn.register("reference_frame", frame)
            conn.execute(f"create or replace table {table} as select * from reference_frame")
            conn.unregister("reference_frame")
            counts[table] = frame.height
        conn.execute("delete from meta.column_rules")
        conn.executemany("insert into meta.column_rules values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rule_rows())
        conn.execute("delete from meta.metrics")
        conn.executemany("insert into meta.metrics values (?, ?, ?, ?, ?, ?, ?, ?)", metric_rows())
        conn.execute("delete from meta.metric_columns")
        conn.executemany("insert into meta.metric_columns values (?, ?)", metric_column_rows())
    return counts


def wave_key_sql(source: str) -> str:
    """The SQL expression of a landing row's wave key; binds $pattern, $date_pattern and $current_wave."""
    column = wave_column(source)
    value = column if column == "wave" else f"meta.date_month({column}, $date_pattern)"
    return f"meta.wave_key({value}, $pattern, $current_wave)"


def _key_params(source: str, current_wave: str, **extra) -> dict:
    dated = {} if wave_column(source) == "wave" else {"date_pattern": DATE_PATTERN}
    return {"pattern": WAVE_PATTERN, "current_wave": current_wave, **dated, **extra}


@dataclass
class LandingSync:
    """What one pass over a landing folder did."""

    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    bad_files: dict[str, str] = field(default_factory=dict)
    missing_columns: dict[str, list[str]] = field(default_factory=dict)
    rows_without_wave: int = 0
    waves: list[str] = field(default_factory=list)


def _forget_file(conn: duckdb.DuckDBPyConnection, source: str, name: str) -> None:
    conn.execute(f"delete from {LANDING_TABLES[source]} where landing_file = ?", [name])
    conn.execute("delete from landing.files where source = ? and file = ?", [source, name])
    conn.execute("delete from quarantine.rejected_files where source = ? and file = ?", [source, name])


def _record_rejected(
    conn: duckdb.DuckDBPyConnection, source: str, name: str, digest: str, size: int, reason: str, version: str
) -> None:
    conn.execute("insert into quarantine.rejected_files values (?, ?, ?)", [source, name, reason])
    conn.execute(
        "insert into landing.files by name select ?::varchar as source, ?::varchar as file, "
        "?::varchar as sha256, ?::bigint as size_bytes, 0::bigint as rows_read, "
        "'rejected' as status, ?::varchar as error, ?::varchar as reader_version",
        [source, name, digest, size, reason, version],
    )


def sync_landing(
    conn: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    source: str,
    key: bytes,
    mappings_dir: Path | None = None,
    version: str = "",
    current_wave: str = "9999-12",
) -> LandingSync:
    """Bring landing.<source>_rows in line with the folder, file by file, by content hash.

    A file is re-read when its bytes or `version` (the reader and what it reads besides the
    file) changed. Links that are not followed are recorded as rejected, one row each.
    """
    sync = LandingSync()
    table = LANDING_TABLES[source]
    known = {
        f: (sha, v)
        for f, sha, v in conn.execute(
            "select file, sha256, reader_version from landing.files where source = ?", [source]
        ).fetchall()
    }
    present, skipped = scan_landing(landing_dir, source)
    names = {f.name for f in present} | {s.name for s in skipped}
    for gone in sorted(set(known) - names):
        with transaction(conn):
            _forget_file(conn, source, gone)
        sync.removed.append(gone)
    for entry in skipped:
        digest = "link:" + hashlib.sha256(entry.reason.encode()).hexdigest()
        if known.get(entry.name) == (digest, version):
            sync.unchanged.append(entry.name)
        else:
            with transaction(conn):
                _forget_file(conn, source, entry.name)
                _record_rejected(conn, source, entry.name, digest, 0, entry.reason, version)
        sync.bad_files[entry.name] = entry.reason
    for file in present:
        if known.get(file.name) == (file.sha256, version):
            sync.unchanged.append(file.name)
            continue
        try:
            read, error = read_landing(file, key, mappings_dir), None
        except LandingFileError as exc:
            read, error = None, str(exc)
        with transaction(conn):
            _forget_file(conn, source, file.name)
            if read is None:
                assert error is not None
                _record_rejected(conn, source, file.name, file.sha256, file.size, error, version)
            else:
                insert_landing(
                    conn, table, read.frame, f"{wave_key_sql(source)} as wave_key", _key_params(source, current_wave)
                )
                conn.execute(
                    "insert into landing.files by name select ?::varchar as source, ?::varchar as file, "
                    "?::varchar as sha256, ?::bigint as size_bytes, ?::bigint as rows_read, "
                    "'loaded' as status, ?::varchar[] as missing_columns, ?::bigint as rows_blank, "
                    "?::varchar as reader_version",
                    [
                        source,
                        file.name,
                        file.sha256,
                        file.size,
                        read.frame.height,
                        read.missing_columns,
                        read.blank_rows,
                        version,
                    ],
                )
        if read is None:
            assert error is not None
            sync.bad_files[file.name] = error
        else:
            sync.loaded.append(file.name)
    with transaction(conn):
        conn.execute(
            f"update {table} set wave_key = {wave_key_sql(source)} "
            f"where wave_key is null and {wave_key_sql(source)} is not null",
            _key_params(source, current_wave),
        )
    sync.missing_columns = dict(
        conn.execute(
            "select file, missing_columns from landing.files where source = ? and len(missing_columns) > 0 "
            "order by file",
            [source],
        ).fetchall()
    )
    sync.rows_without_wave = quarantine_rows_without_wave(conn, source, current_wave)
    sync.waves = landing_waves(conn, source)
    purge_vanished_waves(conn, source, sync.waves)
    return sync


def purge_vanished_waves(conn: duckdb.DuckDBPyConnection, source: str, waves: list[str]) -> None:
    """A wave whose landing rows are all gone leaves no staged, quarantined or metric rows behind."""
    with transaction(conn):
        conn.execute(f"delete from {STAGED_TABLES[source]} where not list_contains($waves, wave)", {"waves": waves})
        conn.execute(
            "delete from quarantine.rejected_rows "
            "where source = $source and wave is not null and not list_contains($waves, wave)",
            {"source": source, "waves": waves},
        )
        conn.execute(load_sql("ingest/purge_wave_marts.sql"))


def rule_params(source: str, current_wave: str) -> dict:
    """What sql/staging/column_rules.sql binds besides the rule table."""
    return {
        "source": source,
        "current_wave": current_wave,
        "unreadable": list(UNREADABLE_CELL_VALUES),
        "text_max_length": TEXT_MAX_LENGTH,
    }


def set_staging_rules(conn: duckdb.DuckDBPyConnection, source: str, current_wave: str) -> None:
    """Variable staging_rules, which the generated sql/staging/<source>_typed.sql reads."""
    conn.execute(
        "set variable staging_rules = (" + load_sql("staging/column_rules.sql") + ")",
        rule_params(source, current_wave),
    )


def with_files(query: str, **files: str) -> str:
    """`query` after the named SQL files as CTEs (name = sql/<file>). DuckDB binds the typed rows' ~50
    rule macros in ~0.15 s; a chain of temp views would bind them once per view and once per use."""
    ctes = ",\n".join(f"{name} as (\n{load_sql(path)}\n)" for name, path in files.items())
    return f"with {ctes}\n{query}"


def _select_wave_rows(conn: duckdb.DuckDBPyConnection, source: str, wave: str | None, current_wave: str) -> None:
    conn.execute(f"create or replace temp view landing_rows as select * from {LANDING_TABLES[source]}")
    conn.execute("create or replace temp table wave_rows as " + load_sql("ingest/wave_rows.sql"), {"wave": wave})
    set_staging_rules(conn, source, current_wave)


RAW_JSON = (
    "json_merge_patch(to_json(wave_rows), "
    '\'{"file": null, "row_number": null, "landing_file": null, "row_error": null, "wave_key": null}\')'
)
"""A rejected landing row as quarantine keeps it: its contract columns, as read."""


def landing_waves(conn: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    conn.execute(f"create or replace temp view landing_rows as select * from {LANDING_TABLES[source]}")
    return [w for (w,) in conn.execute(load_sql("ingest/landing_waves.sql")).fetchall()]


def quarantine_rows_without_wave(conn: duckdb.DuckDBPyConnection, source: str, current_wave: str) -> int:
    """Rows whose wave is missing, malformed or in the future belong to no partition: quarantine them here."""
    _select_wave_rows(conn, source, None, current_wave)
    with transaction(conn):
        conn.execute("delete from quarantine.rejected_rows where source = ? and wave is null", [source])
        conn.execute(
            "insert into quarantine.rejected_rows "
            + with_files(
                "select ?, null, wave_rows.file, wave_rows.row_number, meta.bounded_reason(typed_rows.cell_reason, ?), "
                f"{RAW_JSON} from typed_rows join wave_rows using (file, row_number) "
                "where typed_rows.cell_reason is not null",
                typed_rows=f"staging/{source}_typed.sql",
            ),
            [source, MAX_REASON_LENGTH],
        )
    return conn.execute("select count(*) from wave_rows").fetchall()[0][0]


@dataclass(frozen=True)
class StageResult:
    received: int
    accepted: int
    rejected: int
    reasons: dict[str, int]


def stage_wave(conn: duckdb.DuckDBPyConnection, source: str, wave: str, current_wave: str) -> StageResult:
    """Validate one wave of one source and replace its staged and quarantined rows atomically."""
    _select_wave_rows(conn, source, wave, current_wave)
    return _replace_staged(conn, source, wave)


def _replace_staged(conn: duckdb.DuckDBPyConnection, source: str, wave: str | None) -> StageResult:
    """Type temp table wave_rows and judge it with the shared and the source's staging SQL; swap the staged and
    quarantined rows of `wave` (None: of every keyed wave) in one transaction."""
    conn.execute(
        "create or replace temp table validated as "
        + with_files(
            "select * from staged_rows",
            typed_rows=f"staging/{source}_typed.sql",
            judged_rows="staging/judged_rows.sql",
            staged_rows=f"staging/{source}_staged.sql",
        )
    )
    staged = STAGED_TABLES[source]
    with transaction(conn):
        if wave is None:
            conn.execute(f"delete from {staged}")
            conn.execute("delete from quarantine.rejected_rows where source = ? and wave is not null", [source])
        else:
            conn.execute(f"delete from {staged} where wave = ?", [wave])
            conn.execute("delete from quarantine.rejected_rows where source = ? and wave = ?", [source, wave])
        conn.execute(f"insert into {staged} by name select * exclude (reason) from validated where reason is null")
        conn.execute(
            "insert into quarantine.rejected_rows "
            "select ?, validated.wave, validated.source_file, validated.source_row, "
            f"meta.bounded_reason(validated.reason, ?), {RAW_JSON} from validated join wave_rows "
            "on wave_rows.file = validated.source_file and wave_rows.row_number = validated.source_row "
            "where validated.reason is not null",
            [source, MAX_REASON_LENGTH],
        )
    received, accepted = conn.execute(
        "select count(*), count(*) filter (where reason is null) from validated"
    ).fetchall()[0]
    reasons = dict(
        conn.execute(
            "select split_part(reason, '; ', 1), count(*) from validated where reason is not null group by 1 order by 1"
        ).fetchall()
    )
    return StageResult(received, accepted, received - accepted, reasons)


def stage_source(conn: duckdb.DuckDBPyConnection, source: str, current_wave: str) -> StageResult:
    """Validate every keyed row of a dated source at once (a rule such as a unique event_id spans
    months) and replace its staged and keyed quarantined rows atomically."""
    conn.execute(f"create or replace temp view landing_rows as select * from {LANDING_TABLES[source]}")
    conn.execute("create or replace temp table wave_rows as select * from landing_rows where wave_key is not null")
    set_staging_rules(conn, source, current_wave)
    return _replace_staged(conn, source, None)


def replace_table(conn: duckdb.DuckDBPyConnection, table: str, sql_file: str, params: dict | None = None) -> int:
    """Swap a whole mart for the result of its SQL file in one transaction; returns its row count."""
    query = load_sql(sql_file)
    with transaction(conn):
        conn.execute(f"delete from {table}")
        conn.execute(f"insert into {table} by name {query}", params or {})
    return conn.execute(f"select count(*) from {table}").fetchall()[0][0]


def replace_wave(conn: duckdb.DuckDBPyConnection, table: str, sql_file: str, params: dict) -> int:
    """Swap one wave's rows of a mart for its SQL file's result in one transaction."""
    query = load_sql(sql_file)
    with transaction(conn):
        conn.execute(f"delete from {table} where wave = $wave", {"wave": params["wave"]})
        conn.execute(f"insert into {table} by name {query}", params)
    return conn.execute(f"select count(*) from {table} where wave = $wave", {"wave": params["wave"]}).fetchall()[0][0]


def replace_wave_in_memory(
    conn: duckdb.DuckDBPyConnection, table: str, sql_file: str, params: dict, note: Callable[[str], None]
) -> int:
    """replace_wave, tried again on one DuckDB thread when it runs out of memory. Each thread holds its
    own partial groups of a wide aggregate: at 13 million respondents (190,000 schools × ~250 exact sums)
    survey_psu_sums needs more than the 1 GiB default on two threads, and finishes on one."""
    try:
        return replace_wave(conn, table, sql_file, params)
    except duckdb.OutOfMemoryException:
        [(threads,)] = conn.execute("select current_setting('threads')").fetchall()
        if int(threads) <= 1:
            raise
    note(f"{table}: out of DuckDB memory on {threads} threads; computed again on one")
    conn.execute("set threads = 1")
    try:
        return replace_wave(conn, table, sql_file, params)
    finally:
        conn.execute(f"set threads = {int(threads)}")


def _table_columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".")
    return [
        c
        for (c,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, name],
        ).fetchall()
    ]


def add_rule_columns(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """A column the rule table gained after the warehouse was built is appended to its landing and staged
    tables (names only from the rule table), so adding one needs no hand-written migration."""
    added = []
    for source in SOURCES:
        wanted = {
            LANDING_TABLES[source]: [(column, "varchar") for column in contract_columns(source)],
            STAGED_TABLES[source]: staged_columns(source),
        }
        for table, columns in wanted.items():
            present = set(_table_columns(conn, table))
            for name, kind in columns:
                if name not in present:
                    conn.execute(f"alter table {table} add column {name} {kind}")
                    added.append(f"{table}.{name}")
    return added


def check_columns_match_contract(conn: duckdb.DuckDBPyConnection) -> None:
    """The landing tables and the rule table must list the same columns, once the new ones are added;
    a mismatch (a column renamed, removed or inserted mid-table) is a bug."""
    add_rule_columns(conn)
    for source, table in LANDING_TABLES.items():
        if _table_columns(conn, table) != LANDING_PREFIX + contract_columns(source):
            raise FatalPipelineError(f"{table} columns differ from the rule table")

"""Fingerprints of what a run builds from, so a run redoes exactly what its inputs changed.

A landing file is re-read when its bytes or the reader changed; a wave is restaged when the
files that hold its rows, the reference files, the code or the configuration changed; the
cross-wave marts and the site are rebuilt when any wave or the configuration changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb

from pipelines.resources import REPO_ROOT, SQL_DIR, load_sql

READER_SOURCES = ("pipelines/landing/scan.py", "pipelines/catalogue/rules.py", "pipelines/platforms")


def run_month(today: dt.date | None = None) -> str:
    """The wave key of the month the run happens in: later waves are `future_wave`."""
    return (today or dt.date.today()).strftime("%Y-%m")


def _digest_paths(paths: list[Path], extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode("utf-8"))
    for path in sorted(paths):
        digest.update(path.as_posix().encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _files_under(root: Path, pattern: str) -> list[Path]:
    if root.is_file():
        return [root]
    return [p for p in root.rglob(pattern) if p.is_file() and "__pycache__" not in p.parts] if root.is_dir() else []


def reader_version(extra_inputs: list[Path]) -> str:
    """The reader's code plus what it reads besides the file (questionnaire, mappings)."""
    paths = [p for rel in READER_SOURCES for p in _files_under(REPO_ROOT / rel, "*.py")]
    paths += [p for extra in extra_inputs for p in _files_under(extra, "*")]
    return _digest_paths(paths)[:32]


def code_version() -> str:
    """Every SQL file and every Python module of the pipeline."""
    paths = _files_under(SQL_DIR, "*.sql") + _files_under(REPO_ROOT / "pipelines", "*.py")
    paths += _files_under(REPO_ROOT / "assets", "*.py")
    return _digest_paths(paths)[:32]


def context_digest(reference_paths: list[Path], settings: dict) -> str:
    """Code, reference files and settings: what every wave shares."""
    return _digest_paths(list(reference_paths), code_version() + json.dumps(settings, sort_keys=True, default=str))


def wave_digests(conn: duckdb.DuckDBPyConnection, context: str) -> dict[str, str]:
    """wave -> digest of the landing files (name and content hash) that hold its rows, and the context."""
    rows = conn.execute(load_sql("ingest/wave_inputs.sql"), {"context": context}).fetchall()
    return dict(rows)


def stale_waves(conn: duckdb.DuckDBPyConnection, digests: dict[str, str]) -> list[str]:
    built = dict(conn.execute("select wave, inputs_digest from meta.wave_state").fetchall())
    return sorted(w for w, d in digests.items() if built.get(w) != d)


def record_wave(conn: duckdb.DuckDBPyConnection, wave: str, digest: str) -> None:
    conn.execute("insert or replace into meta.wave_state values (?, ?, current_timestamp)", [wave, digest])


def forget_vanished_waves(conn: duckdb.DuckDBPyConnection, waves: list[str]) -> None:
    conn.execute("delete from meta.wave_state where not list_contains($waves, wave)", {"waves": waves})


def run_digest(digests: dict[str, str], context: str) -> str:
    return hashlib.sha256(json.dumps([sorted(digests.items()), context]).encode("utf-8")).hexdigest()


def recorded_run(conn: duckdb.DuckDBPyConnection, scope: str) -> str | None:
    row = conn.execute("select inputs_digest from meta.run_state where scope = ?", [scope]).fetchone()
    return row[0] if row else None


def record_run(conn: duckdb.DuckDBPyConnection, scope: str, digest: str) -> None:
    conn.execute("insert or replace into meta.run_state values (?, ?, current_timestamp)", [scope, digest])


def unwaved_digest(conn: duckdb.DuckDBPyConnection) -> str:
    """What the cross-wave marts read besides the waves: the campus-event files, and the case
    fields an analyst set (so the reports show them), not those the pipeline itself writes."""
    files_row = conn.execute(
        "select string_agg(file || '@' || sha256 || '@' || coalesce(reader_version, ''), '|' "
        "order by file) from landing.files where source = 'campus_event'"
    ).fetchone()
    assert files_row is not None
    files = files_row[0]
    cases_row = conn.execute(
        "select string_agg(concat_ws('@', rule_id, school_code, period, status, assignee, note), "
        "'|' order by rule_id, school_code, period) from quality.breach_cases "
        "where status_by = 'analyst'"
    ).fetchone()
    assert cases_row is not None
    cases = cases_row[0]
    return hashlib.sha256(f"{files or ''}#{cases or ''}".encode()).hexdigest()

"""Fingerprints of what a run builds from, so a run redoes exactly what its inputs changed.

A landing file is re-read when its bytes or the reader changed; a wave is restaged when the
files that hold its rows, the reference files, the code its assets import or the configuration
changed; the cross-wave marts and the site are rebuilt when any wave, the campus events, an
analyst's case fields, their code or the configuration changed. Digests are `part=hash;…`, so
a rebuild says which part changed.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
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


CODE_ROOTS = {
    "ingest": (["assets/ingest.py"], ["ddl", "ingest", "staging"]),
    "wave": (
        ["assets/staging.py", "assets/marts.py", "assets/quality.py", "assets/respondent_quality.py"],
        ["ddl", "ingest", "staging", "marts", "quality"],
    ),
    "site": (["pipelines/definitions.py"], None),
}
"""Per scope: the asset modules whose imports, followed transitively, are its Python code, and the
sql/ folders it runs (None: all). The generator, the benchmark and the command line are in no scope,
so editing them, or any module a scope does not import, restages nothing."""


def _module_path(name: str) -> Path | None:
    base = REPO_ROOT / name.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> frozenset[str]:
    """Modules of this repository that `path` imports (absolute and relative), by dotted name."""
    stat = path.stat()
    return _parsed_imports(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=512)
def _parsed_imports(path: Path, mtime_ns: int, size: int) -> frozenset[str]:
    """Parsed once per file version: a run asks for the code version several times."""
    package = path.relative_to(REPO_ROOT).with_suffix("").as_posix().replace("/", ".")
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    found: set[str] = set()
    for name in names:
        parts = name.split(".")
        if parts[0] in ("pipelines", "assets"):
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return frozenset(found)


def module_closure(roots: list[str]) -> list[Path]:
    """The files of `roots` and of every repository module they import, transitively."""
    seen: set[Path] = set()
    todo = [REPO_ROOT / root for root in roots]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        todo.extend(p for p in map(_module_path, _imports(path)) if p is not None)
    return sorted(seen)


def code_version(scope: str = "site") -> str:
    """The Python modules a scope imports, the SQL it runs and, for the site, its templates."""
    roots, sql_folders = CODE_ROOTS[scope]
    if scope == "site":
        roots = roots + [f"assets/{p.name}" for p in (REPO_ROOT / "assets").glob("*.py")]
    paths = module_closure(roots)
    folders = [SQL_DIR] if sql_folders is None else [SQL_DIR / folder for folder in sql_folders]
    paths += [p for folder in folders for p in _files_under(folder, "*.sql")]
    if scope == "site":
        paths += _files_under(REPO_ROOT / "pipelines" / "report" / "templates", "*")
    return _digest_paths(paths)[:32]


def context_parts(reference_paths: list[Path], settings: dict, scope: str = "wave") -> dict[str, str]:
    """What every wave (or the site) shares, by part, so a rebuild can say which part changed."""
    return {
        "reference": _digest_paths(list(reference_paths))[:32],
        "settings": hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:32],
        "code": code_version(scope),
    }


def context_digest(reference_paths: list[Path], settings: dict, scope: str = "wave") -> str:
    """Code, reference files and settings: what every wave shares, as `part=digest;…`."""
    return ";".join(f"{k}={v}" for k, v in context_parts(reference_paths, settings, scope).items())


def wave_digests(conn: duckdb.DuckDBPyConnection, context: str) -> dict[str, str]:
    """wave -> `files=<digest of the landing files that hold its rows>;<context>`."""
    rows = conn.execute(load_sql("ingest/wave_inputs.sql")).fetchall()
    return {wave: f"files={files[:32]};{context}" for wave, files in rows}


def _parts(digest: str | None) -> dict[str, str]:
    return dict(p.split("=", 1) for p in (digest or "").split(";") if "=" in p)


def changed_parts(old: str | None, new: str) -> list[str]:
    """Which parts of a digest differ: ['never built'] for a wave with no record, ['inputs'] for an old-style one."""
    if old is None:
        return ["never built"]
    before, after = _parts(old), _parts(new)
    if not before:
        return ["inputs"]
    return [part for part in after if before.get(part) != after[part]]


def stale_waves(conn: duckdb.DuckDBPyConnection, digests: dict[str, str]) -> dict[str, list[str]]:
    """wave -> the parts of its inputs that changed since it was built, for the waves to restage."""
    built = dict(conn.execute("select wave, inputs_digest from meta.wave_state").fetchall())
    return {w: changed_parts(built.get(w), d) for w, d in sorted(digests.items()) if built.get(w) != d}


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


def ingest_digest(current_wave: str, extra: str = "") -> str:
    """What an ingest pass depends on besides the files: the month (it decides future waves) and its code."""
    return f"month={current_wave};code={code_version('ingest')}{extra}"


def landing_unchanged(
    conn: duckdb.DuckDBPyConnection, source: str, present: list, skipped: list, version: str, digest: str
) -> bool:
    """True when the warehouse already holds exactly this folder: every file (name, content hash,
    reader version) as landing.files records it, no other, and the same month and code as then."""
    if recorded_run(conn, f"landing:{source}") != digest:
        return False
    recorded = set(
        conn.execute("select file, sha256, reader_version from landing.files where source = ?", [source]).fetchall()
    )
    links = {(s.name, "link:" + hashlib.sha256(s.reason.encode()).hexdigest(), version) for s in skipped}
    return recorded == {(f.name, f.sha256, version) for f in present} | links


def reference_digest(paths: list[Path]) -> str:
    """The reference files' contents and the ingest code: load_reference reruns when either changed."""
    return ingest_digest("", ";files=" + _digest_paths(paths)[:32])


def reference_unchanged(conn: duckdb.DuckDBPyConnection, digest: str) -> bool:
    return recorded_run(conn, "reference") == digest

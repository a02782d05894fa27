"""The whole pipeline on a generated set: exact row fates, accounting, privacy, idempotent re-runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from conftest import query

from pipelines.cli import generate_into
from pipelines.runner import run_pipeline

KEY = "pipeline-test-key"


def _run(data_dir: Path) -> None:
    previous = os.environ.get("JIANFU_ID_KEY")
    os.environ["JIANFU_ID_KEY"] = KEY
    try:
        run_pipeline(data_dir, instance=dg.DagsterInstance.ephemeral(), echo=lambda _: None)
    finally:
        os.environ.pop("JIANFU_ID_KEY") if previous is None else os.environ.update(JIANFU_ID_KEY=previous)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    """Six waves, so every landing format; the module's own, since the last test re-runs it in place."""
    data_dir = tmp_path_factory.mktemp("generated") / "data"
    manifest = generate_into(data_dir, teachers=800, waves=6, seed=7)
    _run(data_dir)
    return data_dir, manifest


def test_every_dirty_row_is_quarantined_with_its_reason_and_nothing_else(generated):
    data_dir, manifest = generated
    rejected = query(
        data_dir, "select source, wave, split_part(file, '#', 1), row_number, reason from quarantine.rejected_rows"
    )
    got = {(s, f, r): (w, reason) for s, w, f, r, reason in rejected if s != "campus_event"}
    events = sorted((f, r, reason) for s, _, f, r, reason in rejected if s == "campus_event")
    assert events == [(d["file"], d["row_number"], d["reason"]) for d in manifest["campus_events"]["dirty_rows"]]
    assert {
        f for (f,) in query(data_dir, "select distinct file from quarantine.rejected_rows where file like '%.xlsx%'")
    } <= {
        f"{name}#{source}"
        for name in manifest["files"]["teacher_survey"] + manifest["files"]["school_report"]
        for source in ("teacher_survey", "school_report")
    }
    expected = {(d["source"], d["file"], d["row_number"]): (d["wave"], d["reason"]) for d in manifest["dirty_rows"]}
    assert got == expected
    assert {r.split(":")[0] for _, r in expected.values()} >= {
        "missing",
        "malformed",
        "not_allowed",
        "out_of_range",
        "unknown_school",
        "duplicate_response_id",
        "superseded",
    }


def test_every_good_row_of_every_format_is_staged(generated):
    data_dir, manifest = generated
    for source in ("teacher_survey", "school_report"):
        dirty = {}
        for d in manifest["dirty_rows"]:
            if d["source"] == source and d["wave"]:
                dirty[d["wave"]] = dirty.get(d["wave"], 0) + 1
        staged = dict(query(data_dir, f"select wave, count(*) from staging.{source}_staged group by 1"))
        expected = {w: c["rows"] - dirty.get(w, 0) for w, c in manifest["counts"][source].items()}
        assert staged == expected
    files = {
        f
        for (f,) in query(
            data_dir, "select distinct split_part(source_file, '#', 1) from staging.teacher_survey_staged"
        )
    }
    assert {Path(f).suffix for f in files} == {".csv", ".xlsx", ".parquet"}
    assert set(manifest["files"]["teacher_survey"]) == files


def test_bad_files_are_named_with_reasons(generated):
    data_dir, manifest = generated
    rejected = dict(query(data_dir, "select file, reason from quarantine.rejected_files"))
    assert set(rejected) == set(manifest["bad_files"])
    assert all(reason and "\n" not in reason for reason in rejected.values())


def test_received_equals_accepted_plus_rejected(generated):
    data_dir, manifest = generated
    rows = query(data_dir, "select source, wave, rows_received, rows_accepted, rows_rejected from marts.data_quality")
    assert all(received == accepted + rejected for _, _, received, accepted, rejected in rows)
    total_landed = (
        sum(c["rows"] for per in manifest["counts"].values() for c in per.values())
        + sum(manifest["rows_without_wave"].values())
        + manifest["campus_events"]["rows"]
    )
    assert sum(r[2] for r in rows) == total_landed


def _raw_identifiers(data_dir: Path, manifest: dict) -> set[str]:
    values: set[str] = set()
    for name in manifest["files"]["teacher_survey"]:
        if not name.endswith(".parquet"):
            continue
        frame = pl.read_parquet(data_dir / "landing" / "teacher_survey" / name)
        for column in ("teacher_id", "teacher_name", "phone", "remarks"):
            values |= {str(v) for v in frame[column].drop_nulls().to_list() if len(str(v)) >= 4}
    return values


def _leaks(texts: pl.Series, forbidden: list[str]) -> list[str]:
    """The forbidden values found as substrings of any text (one Aho-Corasick pass over all of them)."""
    hits = texts.filter(texts.str.contains_any(forbidden))
    return sorted({v for found in hits.str.extract_many(forbidden, overlapping=True) for v in found})


def test_no_raw_identifier_name_phone_or_free_text_anywhere(generated):
    data_dir, manifest = generated
    forbidden = sorted(_raw_identifiers(data_dir, manifest))
    assert len(forbidden) > 500
    assert forbidden[-1] in _leaks(pl.Series([json.dumps({"x": forbidden[-1]}, ensure_ascii=False)]), forbidden)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        tables = conn.sql(
            "select table_schema || '.' || table_name from information_schema.tables where table_catalog = 'warehouse'"
        ).fetchall()
        for (table,) in tables:
            texts = conn.sql(f"select to_json(t)::varchar as text from {table} as t").pl()["text"]
            leaked = _leaks(texts, forbidden)
            assert not leaked, f"{table} holds {leaked[:3]}"
    pages = [p.read_text(encoding="utf-8", errors="ignore") for p in (data_dir / "reports").rglob("*.html")]
    assert pages and not _leaks(pl.Series(pages, dtype=pl.String), forbidden)


def test_rerun_changes_no_table(generated):
    data_dir, _ = generated

    def snapshot():
        tables = query(
            data_dir,
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_catalog = 'warehouse' order by 1",
        )
        return {t: sorted(map(repr, query(data_dir, f"select * from {t}"))) for (t,) in tables}

    before = snapshot()
    _run(data_dir)
    assert snapshot() == before


def test_manifest_is_json_with_planted_signals(generated):
    data_dir, manifest = generated
    assert json.loads((data_dir / "manifest.json").read_text(encoding="utf-8"))["planted"] == manifest["planted"]

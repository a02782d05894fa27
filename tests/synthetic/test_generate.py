"""The synthetic data generator: determinism, the manifest as an answer key, planted signals.

The row checks below re-derive every rejection from the contract's rules on the files as
read back, independently of how the generator planted them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines.synthetic import benchmark, campus_events, stream
from pipelines.synthetic import generate as gen

SEED = 7
WAVE_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
HOURS = [f"hours_{c}" for c in ("total", "teaching", "teaching_related", "cat1", "cat2", "cat3", "cat4", "cat5")]
TEACHER_INTEGERS = gen.TEACHER_COUNT_COLUMNS
TEACHER_REASONS = {
    "missing:wave",
    "missing:response_id",
    "missing:school_code",
    "missing:school_level",
    "missing:submitted_at",
    "malformed:wave",
    "malformed:submitted_at",
    "malformed:hours_teaching",
    "malformed:n_forms",
    "not_allowed:school_level",
    "not_allowed:item_07",
    "out_of_range:hours_cat1",
    "out_of_range:hours_total",
    "out_of_range:n_app_tasks",
    "out_of_range:felt_change",
    "out_of_range:focus_on_teaching",
    "unknown_school",
    "duplicate_response_id",
}
SCHOOL_REASON_KINDS = {"unknown_school", "out_of_range", "missing", "malformed", "superseded"}


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return text if text != "" else None


def decode_csv(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def read_table(path: Path) -> pl.DataFrame:
    """Any landing file as all-text columns, the way a loader has to see it."""
    if path.suffix == ".csv":
        return pl.read_csv(io.StringIO(decode_csv(path.read_bytes())), infer_schema=False)
    if path.suffix == ".xlsx":
        rows = list(openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True))
        width = len(rows[0])
        body = [([_cell_text(v) for v in row] + [None] * width)[:width] for row in rows[1:]]
        return pl.DataFrame(body, schema=dict.fromkeys(rows[0], pl.String), orient="row")
    frame = pl.read_parquet(path)
    return pl.DataFrame(
        {c: [_cell_text(v) for v in frame[c].to_list()] for c in frame.columns},
        schema=dict.fromkeys(frame.columns, pl.String),
    )


def read_source(out: Path, manifest: dict, source: str) -> pl.DataFrame:
    """Every data file of a source, tagged with file and 1-based row number, contract columns only."""
    columns = gen.TEACHER_COLUMNS if source == gen.TEACHER_SURVEY else gen.SCHOOL_COLUMNS
    frames = []
    for name in manifest["files"][source]:
        frame = read_table(out / "landing" / source / name)
        frames.append(
            frame.select(pl.lit(name).alias("file"), pl.int_range(1, frame.height + 1).alias("row_number"), *columns)
        )
    return pl.concat(frames)


def _number(text: str | None) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _timestamp(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return None


def _value_defects(column: str, value: str | None, kind: str, low: float | None, high: float | None) -> list[str]:
    if value is None:
        return []
    number = _number(value)
    if number is None or (kind == "integer" and not number.is_integer()):
        return [f"malformed:{column}"]
    if (low is not None and number < low) or (high is not None and number > high):
        return [f"out_of_range:{column}"]
    return []


def row_defects(row: dict, source: str, school_codes: set[str]) -> list[str]:
    """Every contract rule a single row breaks (section 3 and 4), independent of the generator."""
    found = []
    teacher = source == gen.TEACHER_SURVEY
    stamp = "submitted_at" if teacher else "reported_at"
    required = ["wave", "response_id", "school_code", "school_level"] if teacher else ["wave", "school_code"]
    required.append(stamp)
    found += [f"missing:{c}" for c in required if row[c] is None]
    if row["wave"] is not None and not WAVE_PATTERN.match(row["wave"]):
        found.append("malformed:wave")
    if row[stamp] is not None and _timestamp(row[stamp]) is None:
        found.append(f"malformed:{stamp}")
    if row["school_code"] is not None and row["school_code"] not in school_codes:
        found.append("unknown_school")
    if source == gen.SCHOOL_REPORT:
        for column in gen.SCHOOL_COUNT_COLUMNS:
            found += _value_defects(column, row[column], "integer", 0, None)
        return found
    if row["school_level"] is not None and row["school_level"] not in gen.LEVELS:
        found.append("not_allowed:school_level")
    for column in HOURS:
        found += _value_defects(column, row[column], "number", 0, 112)
    for column in TEACHER_INTEGERS:
        found += _value_defects(column, row[column], "integer", 0, None)
    found += _value_defects("training_hours_nonteaching", row["training_hours_nonteaching"], "number", 0, None)
    found += [f"not_allowed:{c}" for c in gen.ITEM_COLUMNS if row[c] is not None and row[c] not in ("0", "1")]
    for column in ("felt_change", "focus_on_teaching"):
        found += _value_defects(column, row[column], "integer", 1, 5)
    return found


def expected_rejections(rows: pl.DataFrame, source: str, school_codes: set[str]) -> dict[tuple[str, int], list[str]]:
    """(file, row_number) -> reasons: row rules first, then repeats among rows that pass them."""
    reasons = {(r["file"], r["row_number"]): row_defects(r, source, school_codes) for r in rows.iter_rows(named=True)}
    passing = [r for r in rows.iter_rows(named=True) if not reasons[(r["file"], r["row_number"])]]
    if source == gen.TEACHER_SURVEY:
        key, losers, reason = ("wave", "response_id"), slice(1, None), "duplicate_response_id"
        order = lambda r: _timestamp(r["submitted_at"])  # noqa: E731
    else:
        key, losers, reason = ("wave", "school_code"), slice(None, -1), "superseded"
        order = lambda r: _timestamp(r["reported_at"])  # noqa: E731
    groups: dict[tuple, list[dict]] = {}
    for r in passing:
        groups.setdefault(tuple(r[k] for k in key), []).append(r)
    for members in groups.values():
        for r in sorted(members, key=order)[losers]:
            reasons[(r["file"], r["row_number"])].append(reason)
    return reasons


def clean_rows(rows: pl.DataFrame, manifest: dict, source: str) -> pl.DataFrame:
    dirty = pl.DataFrame(
        [(d["file"], d["row_number"]) for d in manifest["dirty_rows"] if d["source"] == source],
        schema={"file": pl.String, "row_number": pl.Int64},
        orient="row",
    )
    return rows.with_columns(pl.col("row_number").cast(pl.Int64)).join(dirty, on=["file", "row_number"], how="anti")


def league_of(out: Path) -> pl.DataFrame:
    schools = pl.read_csv(out / "reference" / "schools.csv", infer_schema=False)
    divisions = pl.read_csv(out / "reference" / "divisions.csv", infer_schema=False)
    return schools.join(
        divisions.select(pl.col("code").alias("county_code"), pl.col("parent_code").alias("league")), on="county_code"
    ).select("school_code", "league")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("small")
    return out, gen.generate(out, teachers=800, waves=3, seed=SEED)


@pytest.fixture(scope="module")
def six_waves(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("six")
    return out, gen.generate(out, teachers=1500, waves=6, seed=SEED)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_wave_labels_step_back_six_months_from_2026_11():
    assert gen.wave_labels(6) == ["2024-05", "2024-11", "2025-05", "2025-11", "2026-05", "2026-11"]
    assert gen.wave_labels(1) == ["2026-11"]


def test_same_seed_gives_identical_files_and_another_seed_differs(small, tmp_path):
    first, manifest = small
    again = gen.generate(tmp_path / "again", teachers=800, waves=3, seed=SEED)
    assert again == manifest
    assert _files(first) == _files(tmp_path / "again")
    other = gen.generate(tmp_path / "other", teachers=800, waves=3, seed=SEED + 1)
    assert other["dirty_rows"] != manifest["dirty_rows"]
    name = "landing/teacher_survey/" + manifest["files"]["teacher_survey"][0]
    assert _files(first)[name] != _files(tmp_path / "other")[name]
    assert _files(first)["reference/schools.csv"] == _files(tmp_path / "other")["reference/schools.csv"]


def test_manifest_is_written_as_returned(small):
    out, manifest = small
    text = (out / "manifest.json").read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(json.dumps(manifest))
    assert "呼和浩特市" in text
    assert manifest["planted"] == json.loads(json.dumps(gen.PLANTED))
    assert manifest["waves"] == ["2025-11", "2026-05", "2026-11"]


@pytest.fixture(scope="module")
def chunked(tmp_path_factory) -> tuple[Path, dict]:
    """Five waves made, spoiled and appended 300 rows at a time: CSV appends, Parquet from parts."""
    out = tmp_path_factory.mktemp("chunked")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stream, "CHUNK_ROWS", 300)
        return out, gen.generate(out, teachers=1000, waves=5, seed=SEED)


@pytest.fixture(scope="module")
def grown(tmp_path_factory) -> tuple[Path, dict, list[str]]:
    """More responses per wave than the shipped register can supply."""
    out, lines = tmp_path_factory.mktemp("grown"), []
    return out, gen.generate(out, teachers=120_000, waves=1, seed=SEED, echo=lines.append), lines


@pytest.mark.parametrize("fixture", ["small", "chunked"])
def test_manifest_counts_match_rows_in_files(request, fixture):
    out, manifest = request.getfixturevalue(fixture)
    for source in (gen.TEACHER_SURVEY, gen.SCHOOL_REPORT):
        rows = read_source(out, manifest, source)
        per_wave = dict(rows.group_by("wave").len().iter_rows())
        for wave, counts in manifest["counts"][source].items():
            assert counts["rows"] == per_wave.get(wave, 0)
            planted = [d for d in manifest["dirty_rows"] if d["source"] == source and d["wave"] == wave]
            assert counts["dirty"] == len(planted)
        attributable = sum(c["rows"] for c in manifest["counts"][source].values())
        assert rows.height == attributable + manifest["rows_without_wave"][source]
    on_disk = {p.name for p in (out / "landing" / "teacher_survey").iterdir()}
    assert on_disk == set(manifest["files"]["teacher_survey"]) | set(manifest["bad_files"])


def test_every_reason_kind_is_planted(small):
    _, manifest = small
    teacher = {d["reason"] for d in manifest["dirty_rows"] if d["source"] == gen.TEACHER_SURVEY}
    school = {d["reason"] for d in manifest["dirty_rows"] if d["source"] == gen.SCHOOL_REPORT}
    assert teacher >= TEACHER_REASONS
    assert {r.split(":")[0] for r in school} == SCHOOL_REASON_KINDS
    assert all(d["wave"] is None for d in manifest["dirty_rows"] if d["reason"] in ("missing:wave", "malformed:wave"))
    waveless = [d for d in manifest["dirty_rows"] if d["wave"] is None]
    assert manifest["rows_without_wave"]["teacher_survey"] == len(waveless)


@pytest.mark.parametrize("fixture", ["small", "chunked"])
@pytest.mark.parametrize("source", [gen.TEACHER_SURVEY, gen.SCHOOL_REPORT])
def test_each_dirty_row_has_exactly_its_defect_and_clean_rows_none(request, fixture, source):
    out, manifest = request.getfixturevalue(fixture)
    codes = set(pl.read_csv(out / "reference" / "schools.csv", infer_schema=False)["school_code"])
    found = expected_rejections(read_source(out, manifest, source), source, codes)
    planted = {(d["file"], d["row_number"]): [d["reason"]] for d in manifest["dirty_rows"] if d["source"] == source}
    assert {k: v for k, v in found.items() if v} == planted


def test_dirty_values_are_the_advertised_ones(small):
    out, manifest = small
    rows = read_source(out, manifest, gen.TEACHER_SURVEY)
    codes = set(pl.read_csv(out / "reference" / "schools.csv", infer_schema=False)["school_code"])
    by_key = {(r["file"], r["row_number"]): r for r in rows.iter_rows(named=True)}
    felt = set()
    for d in (d for d in manifest["dirty_rows"] if d["source"] == gen.TEACHER_SURVEY):
        row = by_key[(d["file"], d["row_number"])]
        if d["reason"] == "out_of_range:hours_total":
            assert not 0 <= float(row["hours_total"]) <= 112
        elif d["reason"] == "out_of_range:felt_change":
            felt.add(row["felt_change"])
        elif d["reason"] == "unknown_school":
            assert row["school_code"] not in codes
        elif d["reason"] == "malformed:wave":
            assert "/" in row["wave"]
        elif d["reason"] == "duplicate_response_id":
            twins = rows.filter((pl.col("wave") == row["wave"]) & (pl.col("response_id") == row["response_id"]))
            assert twins.height == 2
            assert min(_timestamp(t) for t in twins["submitted_at"]) < _timestamp(row["submitted_at"])
    assert felt == {"0", "6"}


def test_formats_and_encodings(six_waves):
    out, manifest = six_waves
    folder = out / "landing" / "teacher_survey"
    names = manifest["files"]["teacher_survey"]
    gbk = (folder / names[2]).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    assert "teacher_name" in gbk.decode("gbk").splitlines()[0]
    assert (folder / names[1]).read_bytes().startswith(b"\xef\xbb\xbf")
    assert names[3].endswith(".xlsx") and names[4].endswith(".parquet")
    gb18030 = (folder / names[5]).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        gb18030.decode("utf-8")
    assert gb18030.decode("gb18030").startswith("wave,")
    header, full = read_table(folder / names[1]).columns, gen.TEACHER_COLUMNS + gen.TEACHER_EXTRA_COLUMNS
    assert header != full and sorted(header) == sorted(full)
    assert pl.read_parquet(folder / names[4]).schema["hours_cat2"] == pl.Float64
    sheet = openpyxl.load_workbook(folder / names[3], read_only=True).worksheets[0]
    first = dict(zip(next(sheet.iter_rows(values_only=True)), next(sheet.iter_rows(min_row=2, values_only=True))))
    assert isinstance(first["n_forms"], int) and isinstance(first["submitted_at"], dt.datetime)
    school_formats = {Path(n).suffix for n in manifest["files"]["school_report"]}
    assert school_formats == {".csv", ".xlsx", ".parquet"}


def test_late_file_holds_two_waves_and_personal_columns_everywhere(six_waves):
    out, manifest = six_waves
    late = read_table(out / "landing" / "teacher_survey" / gen.LATE_FILE)
    assert late["wave"].n_unique() == 2 and 30 <= late.height <= 50
    for name in manifest["files"]["teacher_survey"]:
        frame = read_table(out / "landing" / "teacher_survey" / name)
        assert set(gen.TEACHER_EXTRA_COLUMNS) <= set(frame.columns)
        assert frame["phone"].str.contains(r"^1[358]\d{9}$").all()
        assert frame["teacher_id"].drop_nulls().str.contains(r"^T\d{9}$").all()


def test_bad_files_are_unreadable(small):
    out, manifest = small
    folder = out / "landing" / "teacher_survey"
    assert manifest["bad_files"] == list(gen.BAD_FILES)
    assert (folder / "broken_empty.csv").stat().st_size == 0
    header = read_table(folder / "broken_header.csv").columns
    assert not set(header) & set(gen.TEACHER_COLUMNS + gen.SCHOOL_COLUMNS)
    with pytest.raises(zipfile.BadZipFile):
        openpyxl.load_workbook(folder / "broken_truncated.xlsx")
    with pytest.raises(pl.exceptions.PolarsError):
        pl.read_parquet(folder / "broken_junk.parquet")


def test_one_wave_still_has_every_defect_and_bad_file(tmp_path):
    manifest = gen.generate(tmp_path, teachers=300, waves=1, seed=SEED)
    assert {d["reason"] for d in manifest["dirty_rows"]} >= TEACHER_REASONS
    assert all((tmp_path / "landing" / "teacher_survey" / name).exists() for name in manifest["bad_files"])


def test_clean_rows_are_plausible(small):
    out, manifest = small
    rows = clean_rows(read_source(out, manifest, gen.TEACHER_SURVEY), manifest, gen.TEACHER_SURVEY)
    types = pl.read_csv(out / "reference" / "schools.csv", infer_schema=False).select("school_code", "school_type")
    teaches = {
        "primary": {"primary"},
        "junior": {"junior"},
        "senior": {"senior"},
        "nine_year": {"primary", "junior"},
        "complete": {"junior", "senior"},
    }
    pairs = rows.join(types, on="school_code").select("school_type", "school_level").unique().iter_rows()
    assert all(level in teaches[kind] for kind, level in pairs)
    assert (rows["submitted_at"].str.slice(0, 7) == rows["wave"]).all()
    assert rows["response_id"].str.contains(r"^R\d{13}$").all()
    hours = rows.select(pl.col(gen.HOURS_COLUMNS).cast(pl.Float64))
    assert ((hours * 2) % 1 == 0).to_numpy().all()
    parts = hours.select(pl.sum_horizontal(gen.HOURS_COLUMNS[1:]).alias("parts"), "hours_total")
    other = parts["hours_total"] - parts["parts"]
    assert other.min() >= 3 and other.max() <= 7.5
    assert 45 <= parts["hours_total"].mean() <= 56


def _teacher_frame(out: Path, manifest: dict) -> pl.DataFrame:
    rows = clean_rows(read_source(out, manifest, gen.TEACHER_SURVEY), manifest, gen.TEACHER_SURVEY)
    cats = [pl.col(f"hours_cat{i}").cast(pl.Float64) for i in range(1, 6)]
    return rows.join(league_of(out), on="school_code").with_columns(
        pl.sum_horizontal(cats).alias("hours_nonteaching"),
        pl.col("hours_total").cast(pl.Float64),
        pl.col("felt_change").cast(pl.Int64),
        pl.col("n_inspections").cast(pl.Float64),
        *[pl.col(c).cast(pl.Float64) for c in gen.ITEM_COLUMNS],
    )


def _by_league_wave(frame: pl.DataFrame, expression: pl.Expr) -> dict[tuple[str, str], float]:
    agg = frame.group_by("league", "wave").agg(expression.alias("value"))
    return {(r["league"], r["wave"]): r["value"] for r in agg.iter_rows(named=True)}


def _felt_net() -> pl.Expr:
    return (pl.col("felt_change") >= 4).mean() - (pl.col("felt_change") <= 2).mean()


def test_planted_teacher_signals(six_waves):
    out, manifest = six_waves
    planted, waves = manifest["planted"], manifest["waves"]
    first, last = waves[0], waves[-1]
    teachers = _teacher_frame(out, manifest)
    hours = _by_league_wave(teachers, pl.col("hours_nonteaching").mean())
    felt = _by_league_wave(teachers, _felt_net())
    baotou, chifeng, ordos = (planted[k]["league"] for k in ("felt_decline", "rebound", "not_felt"))
    assert hours[(baotou, last)] <= hours[(baotou, first)] - 4
    assert felt[(baotou, last)] - felt[(baotou, first)] >= 0.10 * (len(waves) - 1)
    assert hours[(ordos, last)] <= hours[(ordos, first)] - 4
    assert felt[(ordos, last)] <= felt[(ordos, first)]
    assert hours[(chifeng, last)] >= hours[(chifeng, waves[-2])] + 3
    assert felt[(chifeng, last)] < felt[(chifeng, waves[-2])]
    item = planted["red_line_hotspot"]["item"]
    shares = _by_league_wave(teachers, pl.col(item).mean())
    hotspot = planted["red_line_hotspot"]["league"]
    assert all(shares[(hotspot, w)] >= 0.15 for w in waves)
    assert all(v <= 0.05 for (league, _), v in shares.items() if league != hotspot)
    inspections = _by_league_wave(teachers, pl.col("n_inspections").mean())
    paper = planted["paper_reduction"]["league"]
    assert abs(1 - inspections[(paper, last)] / inspections[(paper, first)]) < 0.2


def test_unequal_sampling_makes_weights_matter(six_waves):
    out, manifest = six_waves
    teachers = _teacher_frame(out, manifest)
    population = pl.read_csv(out / "reference" / "teacher_population.csv", schema_overrides={"county_code": pl.String})
    divisions = pl.read_csv(out / "reference" / "divisions.csv", infer_schema=False)
    league_population = (
        population.join(
            divisions.select(pl.col("code").alias("county_code"), pl.col("parent_code").alias("league")),
            on="county_code",
        )
        .group_by("league", "school_level")
        .agg(pl.col("n_teachers").sum().alias("N"))
    )
    weighted = teachers.join(league_population, on=["league", "school_level"]).with_columns(
        (pl.col("N") / pl.len().over("wave", "league", "school_level")).alias("w")
    )
    weighted_mean = (weighted["w"] * weighted["hours_total"]).sum() / weighted["w"].sum()
    assert weighted["hours_total"].mean() - weighted_mean > 0.5
    senior_sample = (teachers["school_level"] == "senior").mean()
    senior = population.filter(pl.col("school_level") == "senior")["n_teachers"].sum()
    senior_population = senior / population["n_teachers"].sum()
    assert senior_sample > 1.5 * senior_population


def test_planted_school_signals(six_waves):
    out, manifest = six_waves
    planted, waves = manifest["planted"], manifest["waves"]
    reports = clean_rows(read_source(out, manifest, gen.SCHOOL_REPORT), manifest, gen.SCHOOL_REPORT)
    reports = reports.join(league_of(out), on="school_code").with_columns(
        pl.col("n_inspections").cast(pl.Int64), pl.col("n_seconded_over_6m").cast(pl.Int64)
    )
    per_school = _by_league_wave(reports, pl.col("n_inspections").mean())
    reduction = {
        league: 1 - per_school[(league, waves[-1])] / per_school[(league, waves[0])] for league, _ in per_school
    }
    assert reduction[planted["target_met"]["league"]] > 0.65
    assert reduction[planted["target_missed"]["league"]] < 0.35
    assert reduction[planted["paper_reduction"]["league"]] > 0.5
    special = {planted[k]["league"] for k in ("target_met", "target_missed")}
    assert all(0.5 < r < 0.7 for league, r in reduction.items() if league not in special)
    seconded = _by_league_wave(reports, pl.col("n_seconded_over_6m").sum())
    ulanqab = planted["seconded_over_6m"]["league"]
    assert all(seconded[(ulanqab, w)] > 0 for w in waves[1:]) and seconded[(ulanqab, waves[0])] == 0
    assert all(v == 0 for (league, _), v in seconded.items() if league != ulanqab)
    schools = league_of(out).group_by("league").len()
    reporting = reports.group_by("league", "wave").len().join(schools, on="league", suffix="_all")
    completeness = {(r["league"], r["wave"]): r["len"] / r["len_all"] for r in reporting.iter_rows(named=True)}
    low = waves[planted["low_completeness_wave"]["wave_index"]]
    assert all(0.55 <= v <= 0.75 for (_, w), v in completeness.items() if w == low)
    assert all(v >= 0.96 for (_, w), v in completeness.items() if w != low)


def test_shipped_reference_is_plausible_and_matches_generated(small):
    out, _ = small
    shipped = gen.SHIPPED_REFERENCE_DIR
    for name in ("schools.csv", "teacher_population.csv", "divisions.csv", "burden_items.csv"):
        assert (shipped / name).read_bytes() == (out / "reference" / name).read_bytes()
    codes = {"school_code": pl.String, "county_code": pl.String}
    schools = pl.read_csv(shipped / "schools.csv", schema_overrides=codes)
    divisions = pl.read_csv(shipped / "divisions.csv", infer_schema=False)
    counties = set(divisions.filter(pl.col("level") == "county")["code"])
    assert 200_000 <= schools["n_teachers"].sum() <= 260_000
    assert 2_500 <= schools.height <= 3_500 and schools["school_code"].is_unique().all()
    assert set(schools["county_code"]) == counties
    assert all(
        code.startswith(county) and len(code) == 10
        for code, county in zip(schools["school_code"], schools["county_code"])
    )
    assert set(schools["school_type"]) == {"primary", "junior", "senior", "nine_year", "complete"}
    assert set(schools["urban_rural"]) == {"urban", "town", "rural"}
    assert all(gen._gbk_safe(name) for name in schools["school_name"])
    population = pl.read_csv(shipped / "teacher_population.csv", schema_overrides={"county_code": pl.String})
    rebuilt = gen.build_population(schools)
    assert population.sort("county_code", "school_level").equals(rebuilt.sort("county_code", "school_level"))
    by_county = population.group_by("county_code").agg(pl.col("n_teachers").sum())
    expected = schools.group_by("county_code").agg(pl.col("n_teachers").sum())
    assert by_county.sort("county_code").equals(expected.sort("county_code"))
    assert math.isclose(
        population.filter(pl.col("school_level") == "primary")["n_teachers"].sum() / population["n_teachers"].sum(),
        0.45,
        abs_tol=0.15,
    )


def test_chunked_waves_are_whole_files_with_one_header_and_consecutive_ids(chunked):
    out, manifest = chunked
    folder = out / "landing" / "teacher_survey"
    names = manifest["files"]["teacher_survey"]
    assert len(manifest["dirty_rows"]) >= 5 * 3
    for name, wave in zip(names, manifest["waves"]):
        frame = read_table(folder / name)
        late = read_table(folder / gen.LATE_FILE).filter(pl.col("wave") == wave)
        in_wave = frame.filter(pl.col("wave") == wave).height
        assert in_wave + late.height == manifest["counts"]["teacher_survey"][wave]["rows"] > 900
        assert (frame["wave"] == "wave").sum() == 0
        ids = pl.concat([frame["response_id"], late["response_id"]]).drop_nulls()
        numbers = set(ids.filter(ids.str.starts_with(f"R{wave.replace('-', '')}")).str.slice(7).cast(pl.Int64))
        dirty = sum(d["file"] == name for d in manifest["dirty_rows"])
        assert numbers <= set(range(1, frame.height + late.height + 1))
        assert len(numbers) >= frame.height + late.height - dirty
    parquet = pl.read_parquet(folder / names[4])
    assert parquet.schema["hours_cat2"] == pl.Float64 and parquet.schema["item_03"] == pl.Int64
    assert not list(folder.glob(".*part*"))


def test_campus_events_written_a_few_schools_at_a_time_are_the_same_file(small, tmp_path):
    """Background events are appended in chunks of whole schools: ids, white-list items and bytes
    must not depend on where a chunk ends."""
    out, manifest = small
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(campus_events, "SCHOOLS_PER_CHUNK", 7)
        again = gen.generate(tmp_path, teachers=800, waves=3, seed=SEED)
    assert again["campus_events"] == manifest["campus_events"]
    name = "landing/campus_event/campus_events.csv"
    assert _files(tmp_path)[name] == _files(out)[name]
    schools = pl.read_csv(out / "reference" / "schools.csv", schema_overrides={"school_code": pl.String})
    events = pl.read_csv(out / name, infer_schema=False)
    background = events.filter(pl.col("event_id").str.starts_with("EV"))
    assert events.height == manifest["campus_events"]["accepted"] > 10 * schools.height
    assert background["event_id"].to_list() == [f"EV{i:07d}" for i in range(background.height)]
    assert background["school_code"].is_sorted() and (events["event_id"] == "event_id").sum() == 0
    assert background["school_code"].n_unique() == schools.height
    activities = background.filter(pl.col("kind") == "campus_activity").with_columns(
        pl.col("event_date").str.slice(0, 4).alias("year")
    )
    per_year = activities.group_by("school_code", "year", maintain_order=True)
    assert per_year.first()["whitelist_item"].unique().to_list() == ["白名单事项1"]
    assert (per_year.len()["len"] == per_year.agg(pl.col("whitelist_item").n_unique())["whitelist_item"]).all()


def test_a_small_set_keeps_the_shipped_register_and_says_nothing(tmp_path):
    lines = []
    manifest = gen.generate(tmp_path, teachers=300, waves=1, seed=SEED, echo=lines.append)
    assert lines == []
    assert manifest["register"]["grown"] is False and manifest["register"]["panel"] == "sample"
    shipped = (gen.SHIPPED_REFERENCE_DIR / "schools.csv").read_bytes()
    assert (tmp_path / "reference" / "schools.csv").read_bytes() == shipped


def test_a_large_set_grows_the_register_and_says_so(grown):
    _out, manifest, lines = grown
    register = manifest["register"]
    assert len(lines) == 1 and "grew the school register" in lines[0] and f"{register['schools']:,}" in lines[0]
    assert register["grown"] and register["panel"] == "census" and register["schools"] > register["shipped_schools"]
    rows = manifest["counts"]["teacher_survey"][manifest["waves"][0]]["rows"]
    assert abs(rows / 120_000 - 1) < 0.035


def test_a_grown_register_is_plausible(grown):
    out, _, _ = grown
    codes = {"school_code": pl.String, "county_code": pl.String}
    schools = pl.read_csv(out / "reference" / "schools.csv", schema_overrides=codes)
    shipped = pl.read_csv(gen.SHIPPED_REFERENCE_DIR / "schools.csv", schema_overrides=codes)
    divisions = pl.read_csv(out / "reference" / "divisions.csv", infer_schema=False)
    assert schools.join(shipped, on="school_code", how="semi").sort("school_code").equals(shipped.sort("school_code"))
    assert schools["school_code"].is_unique().all()
    assert set(schools["county_code"]) == set(divisions.filter(pl.col("level") == "county")["code"])
    assert all(
        len(code) == 10 and code.startswith(county) and 1 <= int(code[6:]) <= 8999
        for code, county in zip(schools["school_code"], schools["county_code"])
    )
    assert all(gen._gbk_safe(name) for name in schools["school_name"])
    for column, tolerance in (("school_type", 0.03), ("urban_rural", 0.03)):
        share = dict(schools[column].value_counts(normalize=True).iter_rows())
        for value, expected in shipped[column].value_counts(normalize=True).iter_rows():
            assert abs(share[value] - expected) < tolerance, (column, value)
    population = pl.read_csv(out / "reference" / "teacher_population.csv", schema_overrides={"county_code": pl.String})
    assert population.sort("county_code", "school_level").equals(
        gen.build_population(schools).sort("county_code", "school_level")
    )


def test_a_grown_population_covers_the_respondents(grown):
    out, manifest, _ = grown
    teachers = clean_rows(read_source(out, manifest, gen.TEACHER_SURVEY), manifest, gen.TEACHER_SURVEY)
    codes = {"school_code": pl.String, "county_code": pl.String}
    schools = pl.read_csv(out / "reference" / "schools.csv", schema_overrides=codes)
    schools = schools.select("school_code", "county_code")
    population = pl.read_csv(out / "reference" / "teacher_population.csv", schema_overrides={"county_code": pl.String})
    answered = teachers.join(schools, on="school_code").group_by("county_code", "school_level").len()
    covered = answered.join(population, on=["county_code", "school_level"], how="left")
    assert covered.height > 200 and (covered["n_teachers"] >= covered["len"]).all()
    assert teachers["response_id"].is_unique().all()


def test_benchmark_reports_pipeline_baseline_and_rerun(tmp_path):
    out = tmp_path / "bench.json"
    benchmark.main(["--teachers", "300", "--out", str(out), "--workdir", str(tmp_path), "--timeout", "900"])
    figures = json.loads(out.read_text(encoding="utf-8"))
    keys = {"machine", "teachers_per_wave", "teacher_rows", "generate", "pipeline", "baseline", "ratio", "rerun"}
    assert keys <= set(figures)
    for step in ("generate", "pipeline", "baseline", "rerun", "ingest_only"):
        assert figures[step]["exit_code"] == 0 and figures[step]["wall_s"] > 0 and figures[step]["peak_rss_mb"] > 0
    assert int(figures["ingest_only"]["stdout_tail"][-1]) > figures["teacher_rows"]
    assert (
        figures["rerun"]["stdout_tail"][-1].startswith("done in ")
        and "0 Dagster runs" in figures["rerun"]["stdout_tail"][-1]
    )
    assert figures["ratio"] == round(figures["pipeline"]["wall_s"] / figures["baseline"]["wall_s"], 3)
    assert figures["rerun"]["ratio_to_first"] == round(figures["rerun"]["wall_s"] / figures["pipeline"]["wall_s"], 3)
    assert figures["baseline"]["stdout_tail"] and int(figures["baseline"]["stdout_tail"][0]) >= 12
    assert figures["teacher_rows"] >= 300
    assert figures["report_pdfs"] is False, "PDFs are a fixed chromium cost: measured only with --pdfs"

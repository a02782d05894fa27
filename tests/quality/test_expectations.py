"""The GX suites: generated from the rule table, passing good frames, failing broken ones by name,
batched without losing duplicates, and rendered as Data Docs that open with no network."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from urllib.parse import unquote

import duckdb
import polars as pl
import pytest

from pipelines.catalogue.metrics import Thresholds
from pipelines.catalogue.rules import CAMPUS_EVENT, COLUMN_RULES, SCHOOL_REPORT, SOURCES, TEACHER_SURVEY, rules_for
from pipelines.quality import data_docs, expectations, staged
from pipelines.resources import SQL_DIR, load_sql

SCHOOL_CODES = ["1501020001", "1501020002", "1502030001"]
PSEUDONYM = "a" * 64


def staged_teacher(number: int, **overrides) -> dict:
    row = {
        "wave": "2024-05",
        "response_id": f"R{number}",
        "school_code": "1501020001",
        "school_level": "primary",
        "submitted_at": "2024-05-10 09:00:00",
        "hours_total": 50.0,
        "hours_teaching": 15.0,
        "hours_teaching_related": 20.0,
        **{f"hours_cat{i}": 1.0 for i in range(1, 6)},
        "n_inspections": 4,
        "n_forms": 10,
        "n_app_tasks": 3,
        "n_nonteaching_meetings": 2,
        "n_invigilations": 1,
        "days_seconded": 0,
        "training_hours_nonteaching": 5.0,
        **{f"item_{i:02d}": 0 for i in range(1, 27)},
        "felt_change": 4,
        "focus_on_teaching": 3,
        "teacher_pseudonym": PSEUDONYM,
        "county_code": "150102",
        "league_code": "150100",
        "source_file": "a.csv",
        "source_row": number,
    }
    row.update(overrides)
    return row


def staged_school(code: str, **overrides) -> dict:
    row = {
        "wave": "2024-05",
        "school_code": code,
        "reported_at": "2024-05-20 10:00:00",
        **dict.fromkeys(
            (
                "n_teachers_on_staff",
                "n_inspections",
                "n_inspections_unapproved",
                "n_campus_events",
                "n_campus_events_unlisted",
                "n_forms_requests",
                "n_forms_duplicate",
                "n_teachers_seconded",
                "n_seconded_over_6m",
                "n_nonteaching_meetings",
                "n_social_exams",
            ),
            3,
        ),
        "county_code": code[:6],
        "league_code": code[:4] + "00",
        "source_file": "r.csv",
        "source_row": 1,
    }
    row.update(overrides)
    return row


def staged_event(number: int, **overrides) -> dict:
    row = {
        "wave": "2024-05",
        "event_id": f"E{number}",
        "school_code": "1501020001",
        "event_date": "2024-05-03",
        "kind": "inspection",
        "organiser_level": "county",
        "whitelist_item": None,
        "in_annual_plan": 1,
        "teacher_days": None,
        "county_code": "150102",
        "league_code": "150100",
        "source_file": "e.csv",
        "source_row": number,
    }
    row.update(overrides)
    return row


def good_teacher_rows() -> list[dict]:
    return [
        staged_teacher(1),
        staged_teacher(2, item_05=None, felt_change=None, teacher_pseudonym=None),
        staged_teacher(3, school_code="1502030001", county_code="150203", league_code="150200"),
    ]


def broken_teacher_rows() -> list[dict]:
    """The deliberately broken sample: each row breaks one rule the staging SQL should have enforced."""
    return good_teacher_rows() + [
        staged_teacher(4, hours_total=200.0),
        staged_teacher(1, submitted_at="2024-05-11 09:00:00"),
        staged_teacher(5, school_code="9999999999"),
        staged_teacher(6, item_03=2),
        staged_teacher(7, teacher_pseudonym="T100000001"),
        staged_teacher(8, felt_change=7),
        staged_teacher(9, county_code=None),
    ]


@pytest.fixture
def warehouse() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the project's DDL, so frames get the staged column types."""
    conn = duckdb.connect()
    for ddl in sorted((SQL_DIR / "ddl").glob("*.sql")):
        conn.execute(ddl.read_text(encoding="utf-8"))
    yield conn
    conn.close()


def stage(conn: duckdb.DuckDBPyConnection, source: str, rows: list[dict]) -> None:
    conn.execute(f"delete from staging.{source}_staged")
    conn.register("rows_frame", pl.DataFrame(rows))
    conn.execute(f"insert into staging.{source}_staged by name select * from rows_frame")
    conn.unregister("rows_frame")


def validate_staged(conn, source: str, results_dir=None, sample_rows: int = staged.SAMPLE_ROWS):
    """The staged gate as the checks run it: exact counts over the wave, GX on its sample."""
    return staged.validate_staged(
        conn,
        expectations.staged_suite(source),
        load_sql(f"quality/{source}_staged_expectations.sql"),
        {"wave": "2024-05"},
        "2024-05",
        {expectations.SCHOOL_CODES_PARAMETER: SCHOOL_CODES},
        results_dir,
        sample_rows,
    )


def failures(validation) -> dict[tuple[str, str], int | None]:
    return {(f["expectation"], f["target"]): f["unexpected_count"] for f in validation.failed_expectations}


def configs(suite) -> list[tuple[str, dict]]:
    return [(c.type, c.kwargs) for c in (x.configuration for x in suite.expectations)]


@pytest.mark.parametrize("source", SOURCES)
def test_staged_suite_is_generated_from_every_rule_once(source):
    suite = configs(expectations.staged_suite(source))
    for rule in rules_for(source):
        column = expectations.staged_column(rule)
        about = [(kind, kwargs) for kind, kwargs in suite if kwargs.get("column") == column]
        kinds = [kind for kind, _ in about]
        assert ("expect_column_type_to_be", {"column": column, "type_": expectations.KIND_DTYPES[rule.kind]}) in [
            (k, {key: v for key, v in kw.items() if key in ("column", "type_")}) for k, kw in about
        ]
        assert kinds.count("expect_column_values_to_not_be_null") == int(rule.required)
        ranges = [kw for k, kw in about if k == "expect_column_values_to_be_between"]
        if rule.min_value is None and rule.max_value is None:
            assert ranges == []
        else:
            assert [(r.get("min_value"), r.get("max_value")) for r in ranges] == [(rule.min_value, rule.max_value)]
        sets = [kw["value_set"] for k, kw in about if k == "expect_column_values_to_be_in_set"]
        expected_sets = []
        if rule.allowed:
            expected_sets.append([int(v) for v in rule.allowed] if rule.kind == "integer" else list(rule.allowed))
        if rule.references_school:
            expected_sets.append({"$PARAMETER": expectations.SCHOOL_CODES_PARAMETER})
        assert sets == expected_sets
        assert kinds.count("expect_column_values_to_be_unique") == int(column in expectations.wave_keys(source))
    assert expectations.wave_keys(TEACHER_SURVEY) == ["response_id"]
    assert expectations.wave_keys(SCHOOL_REPORT) == ["school_code"]
    assert expectations.wave_keys(CAMPUS_EVENT) == ["event_id"]
    between = [kw["column"] for k, kw in suite if k == "expect_column_values_to_be_between"]
    assert sorted(between) == sorted(
        expectations.staged_column(r) for r in rules_for(source) if r.min_value is not None or r.max_value is not None
    )


def test_every_rule_of_the_table_has_its_suite():
    names = {expectations.staged_suite(s).name for s in SOURCES}
    assert names == {f"{r.source}_staged" for r in COLUMN_RULES}
    assert [s.name for s in expectations.all_suites(Thresholds())] == [
        "teacher_survey_staged",
        "school_report_staged",
        "campus_event_staged",
        "area_metrics",
        "data_quality",
    ]


def test_good_staged_rows_pass(warehouse):
    stage(warehouse, TEACHER_SURVEY, good_teacher_rows())
    stage(warehouse, SCHOOL_REPORT, [staged_school(c) for c in SCHOOL_CODES])
    stage(
        warehouse,
        CAMPUS_EVENT,
        [
            staged_event(1),
            staged_event(2, kind="secondment", teacher_days=30),
            staged_event(3, kind="campus_activity", whitelist_item="W1"),
        ],
    )
    for source in SOURCES:
        validation = validate_staged(warehouse, source)
        assert validation.success, validation.failed_expectations
        assert validation.batches == 1 and validation.evaluated == len(expectations.staged_suite(source).expectations)


def test_broken_campus_events_fail_each_by_name_and_count(warehouse):
    stage(
        warehouse,
        CAMPUS_EVENT,
        [
            staged_event(1),
            staged_event(1),
            staged_event(2, kind="party"),
            staged_event(3, teacher_days=-4),
            staged_event(4, school_code="9999999999"),
            staged_event(5, in_annual_plan=3),
        ],
    )
    assert failures(validate_staged(warehouse, CAMPUS_EVENT)) == {
        ("expect_column_values_to_be_unique", "event_id"): 2,
        ("expect_column_values_to_be_in_set", "kind"): 1,
        ("expect_column_values_to_be_between", "teacher_days"): 1,
        ("expect_column_values_to_be_in_set", "school_code"): 1,
        ("expect_column_values_to_be_in_set", "in_annual_plan"): 1,
    }


def test_broken_staged_rows_fail_each_by_name_and_count(warehouse):
    stage(warehouse, TEACHER_SURVEY, broken_teacher_rows())
    validation = validate_staged(warehouse, TEACHER_SURVEY)
    assert not validation.success
    assert failures(validation) == {
        ("expect_column_values_to_be_between", "hours_total"): 1,
        ("expect_column_values_to_be_unique", "response_id"): 2,
        ("expect_column_values_to_be_in_set", "school_code"): 1,
        ("expect_column_values_to_be_in_set", "item_03"): 1,
        ("expect_column_values_to_match_regex", "teacher_pseudonym"): 1,
        ("expect_column_values_to_be_between", "felt_change"): 1,
        ("expect_column_values_to_not_be_null", "county_code"): 1,
    }
    hours = next(f for f in validation.failed_expectations if f["target"] == "hours_total")
    assert hours["unexpected_sample"] == [] and hours["meta"] == {"rule": "teacher_survey.hours_total"}
    assert "200" not in json.dumps(hours["unexpected_sample"]), "a landing cell must not be quoted"
    lines = expectations.check_metadata(validation)["failures"].splitlines()
    assert "expect_column_values_to_be_between(hours_total): 1 unexpected" in lines


def test_school_reports_repeating_a_school_fail(warehouse):
    stage(
        warehouse,
        SCHOOL_REPORT,
        [staged_school(c) for c in SCHOOL_CODES]
        + [staged_school("1501020001", reported_at="2024-05-21 10:00:00", n_inspections=-1)],
    )
    assert failures(validate_staged(warehouse, SCHOOL_REPORT)) == {
        ("expect_column_values_to_be_unique", "school_code"): 2,
        ("expect_column_values_to_be_between", "n_inspections"): 1,
    }


def test_a_staged_column_of_the_wrong_type_fails(warehouse):
    stage(warehouse, TEACHER_SURVEY, good_teacher_rows())
    frame = warehouse.sql(
        "select * replace (cast(hours_total as varchar) as hours_total) from staging.teacher_survey_staged"
    ).pl()
    validation = expectations.validate(
        expectations.staged_suite(TEACHER_SURVEY),
        [frame],
        "2024-05",
        {expectations.SCHOOL_CODES_PARAMETER: SCHOOL_CODES},
    )
    assert failures(validation) == {
        ("expect_column_type_to_be", "hours_total"): None,
        ("expect_column_values_to_be_between", "hours_total"): None,
    }
    typed, ranged = validation.failed_expectations
    assert typed["observed_value"] == "str" and ranged["exception"]


def test_a_missing_staged_column_fails_its_type_expectation(warehouse):
    stage(warehouse, SCHOOL_REPORT, [staged_school(c) for c in SCHOOL_CODES])
    frame = warehouse.sql("select * exclude (n_social_exams) from staging.school_report_staged").pl()
    validation = expectations.validate(
        expectations.staged_suite(SCHOOL_REPORT),
        [frame],
        "2024-05",
        {expectations.SCHOOL_CODES_PARAMETER: SCHOOL_CODES},
    )
    assert set(failures(validation)) == {
        ("expect_column_type_to_be", "n_social_exams"),
        ("expect_column_values_to_be_between", "n_social_exams"),
    }


def test_hash_batches_keep_every_duplicate_in_one_batch(warehouse):
    rows = [staged_teacher(n) for n in range(1, 41)] + [
        staged_teacher(n, submitted_at="2024-05-12 08:00:00") for n in (3, 17, 29)
    ]
    stage(warehouse, TEACHER_SURVEY, rows)
    query = (
        "select * exclude (gx_stratum, gx_key) from ("
        + load_sql("quality/teacher_survey_staged_expectations.sql")
        + ") where hash(response_id) % $buckets = $bucket"
    )
    validation = expectations.validate(
        expectations.staged_suite(TEACHER_SURVEY),
        expectations.frame_batches(warehouse, query, {"wave": "2024-05"}, 5),
        "2024-05",
        {expectations.SCHOOL_CODES_PARAMETER: SCHOOL_CODES},
    )
    assert validation.batches == 9 and validation.rows == 43
    assert failures(validation) == {("expect_column_values_to_be_unique", "response_id"): 6}


def cell(
    area: str,
    metric: str,
    estimate: float | None,
    n: int,
    kind: str = "share",
    source: str = "teacher_survey",
    half_width: float = 0.05,
) -> dict:
    return {
        "wave": "2024-05",
        "area_level": "league",
        "area_code": area,
        "metric": metric,
        "estimate": estimate,
        "ci_low": None if estimate is None else estimate - half_width,
        "ci_high": None if estimate is None else estimate + half_width,
        "n": n,
        "suppressed": estimate is None,
        "metric_kind": kind,
        "metric_source": source,
    }


def area_cells() -> list[dict]:
    return [
        cell("150100", "item_01", 0.2, 40),
        cell("150100", "felt_net", -0.8, 40),
        cell("150100", "hours_total", 48.0, 40, kind="mean", half_width=1.0),
        cell(
            "150100", "school_inspections_per_school", 6.0, 3, kind="per_school", source="school_report", half_width=0.0
        ),
        cell("150200", "item_01", None, 4),
    ]


def broken_area_cells() -> list[dict]:
    """One broken invariant per cell: a published n = 3, ci_low above the estimate, felt_net and a share
    out of range, and a suppressed cell that still shows its estimate."""
    cells = area_cells()
    cells[2]["n"] = 3
    cells[0]["ci_low"] = 0.21
    cells[1].update(estimate=-1.2, ci_low=-1.25, ci_high=-1.15)
    cells[4]["estimate"] = 0.5
    return cells + [cell("150100", "item_02", 1.2, 40)]


def test_area_metrics_suite_passes_good_cells_and_names_each_broken_invariant():
    suite = expectations.area_metrics_suite(Thresholds())
    assert expectations.validate(suite, [pl.DataFrame(area_cells())], "2024-05").success
    assert failures(expectations.validate(suite, [pl.DataFrame(broken_area_cells())], "2024-05")) == {
        ("expect_column_values_to_be_between", "n where metric_source == 'teacher_survey' and suppressed == False"): 1,
        ("expect_column_pair_values_a_to_be_greater_than_b", "estimate, ci_low"): 1,
        ("expect_column_values_to_be_between", "estimate where metric == 'felt_net'"): 1,
        ("expect_column_values_to_be_null", "estimate where suppressed == True"): 1,
        ("expect_column_values_to_be_between", "estimate where metric_kind == 'share' and metric != 'felt_net'"): 1,
    }


def quality_rows() -> list[dict]:
    return [
        {
            "wave": "2024-05",
            "source": "school_report",
            "rows_received": 10,
            "rows_accepted": 8,
            "rows_rejected": 2,
            "schools_expected": 10,
            "schools_reporting": 8,
            "completeness": 0.8,
            "schools_on_time": 6,
            "on_time_share": 0.6,
        },
        {
            "wave": None,
            "source": "teacher_survey",
            "rows_received": 2,
            "rows_accepted": 0,
            "rows_rejected": 2,
            "schools_expected": None,
            "schools_reporting": None,
            "completeness": None,
            "schools_on_time": None,
            "on_time_share": None,
        },
    ]


def test_data_quality_suite_catches_unaccounted_rows_and_impossible_shares(warehouse):
    warehouse.register("quality_frame", pl.DataFrame(quality_rows()))
    warehouse.execute("insert into marts.data_quality by name select * from quality_frame")
    query = load_sql("quality/data_quality_expectations.sql")
    suite = expectations.data_quality_suite()
    assert expectations.validate(suite, expectations.frame_batches(warehouse, query, {}), "all waves").success
    warehouse.execute(
        "update marts.data_quality set rows_received = rows_received + 1, completeness = 1.2, "
        "schools_on_time = 9 where source = 'school_report'"
    )
    assert failures(expectations.validate(suite, expectations.frame_batches(warehouse, query, {}), "all waves")) == {
        ("expect_column_pair_values_to_be_equal", "rows_received, rows_accounted"): 1,
        ("expect_column_values_to_be_between", "completeness"): 1,
        ("expect_column_pair_values_a_to_be_greater_than_b", "schools_reporting, schools_on_time"): 1,
    }


REMOTE = re.compile(r'<(?:script|link|img)\b[^>]*\s(?:src|href)="(?:https?:)?//', re.IGNORECASE)


def test_data_docs_work_offline_and_keep_only_the_latest_run(warehouse, tmp_path):
    results, site = tmp_path / "validations", tmp_path / "data_docs"
    stage(warehouse, TEACHER_SURVEY, broken_teacher_rows())
    validate_staged(warehouse, TEACHER_SURVEY, results_dir=results)
    stage(warehouse, TEACHER_SURVEY, good_teacher_rows())
    validate_staged(warehouse, TEACHER_SURVEY, results_dir=results)
    stored = data_docs.build_data_docs(results, site, expectations.all_suites(Thresholds()))
    assert [(r.suite, r.run_name, r.success) for r in stored] == [("teacher_survey_staged", "2024-05", True)]

    pages = list(site.rglob("*.html"))
    assert len(pages) == 1 + len(expectations.all_suites(Thresholds())) + 1
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not REMOTE.search(text), (page, REMOTE.search(text))
        for link in re.findall(r'href="([^"#:]+\.html)"', text):
            assert (page.parent / unquote(link)).resolve().is_file(), (page, link)
    index = (site / "index.html").read_text(encoding="utf-8")
    for suite in ("teacher_survey_staged", "school_report_staged", "area_metrics", "data_quality"):
        assert f'href="expectations/{suite}.html"' in index
    assert "通过 passed" in index and stored[0].page in index
    assert (stored[0].rows, stored[0].sampled) == (3, 3) and "3（抽样 sampled 3）" in index
    result_page = (site / unquote(stored[0].page)).read_text(encoding="utf-8")
    assert "抽样 sampled: 3 of 3 rows (at most 5000, stratified" in result_page
    assert "精确 exact: expect_column_values_to_not_be_null" in result_page and "counted over all 3 rows" in result_page
    suite_page = (site / "expectations" / "teacher_survey_staged.html").read_text(encoding="utf-8")
    assert suite_page.count(expectations.EXACT_NOTE) == sum(
        e.expectation_type in staged.EXACT_TYPES for e in expectations.staged_suite(TEACHER_SURVEY).expectations
    )
    assert suite_page.count(expectations.SAMPLED_NOTE) == len(rules_for(TEACHER_SURVEY))
    assert (site / "static" / "images" / "logo-long.png").is_file()


def test_results_of_vanished_waves_are_pruned(tmp_path):
    for scope in ("teacher_survey_staged/2024-05", "teacher_survey_staged/2025-05", "data_quality/all waves"):
        (tmp_path / scope).mkdir(parents=True)
    assert data_docs.prune_results(tmp_path, ["2024-05"]) == ["teacher_survey_staged/2025-05"]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.glob("*/*")) == [
        "data_quality/all waves",
        "teacher_survey_staged/2024-05",
    ]


def test_to_pandas_keeps_blank_counts_integer_and_flags_boolean():
    frame = expectations.to_pandas(
        pl.DataFrame({"n": [1, None], "flag": [True, None], "x": [1.5, None]}, schema_overrides={"n": pl.Int32})
    )
    assert [str(t) for t in frame.dtypes] == ["Int64", "boolean", "float64"]


def test_sql_files_bind_their_values():
    for path in Path(SQL_DIR / "quality").glob("*.sql"):
        text = path.read_text(encoding="utf-8")
        assert "{" not in text, path


def fill_teacher_wave(conn: duckdb.DuckDBPyConnection, rows: int) -> None:
    """`rows` good staged teacher rows in DuckDB, spread over six strata (two counties × three levels)."""
    stage(conn, TEACHER_SURVEY, [staged_teacher(0)])
    conn.execute(
        "insert into staging.teacher_survey_staged by name "
        "select s.* replace ('R' || i as response_id, i as source_row, "
        "['primary', 'junior', 'senior'][i % 3 + 1] as school_level, "
        "case when i % 5 = 0 then '150203' else '150102' end as county_code) "
        "from staging.teacher_survey_staged as s, (select range as i from range(1, $rows))",
        {"rows": rows},
    )


def sampled_ids(conn: duckdb.DuckDBPyConnection, sample_rows: int = staged.SAMPLE_ROWS) -> list[str]:
    scope = load_sql("quality/teacher_survey_staged_expectations.sql")
    query = f"select response_id from ({staged.sample_query(scope)})"
    params = {"wave": "2024-05", "seed": staged.SAMPLE_SEED, "sample_rows": sample_rows}
    return [r for (r,) in conn.execute(query, params).fetchall()]


def test_one_bad_row_in_a_large_wave_fails_the_gate_though_the_sample_misses_it(warehouse):
    fill_teacher_wave(warehouse, 20_000)
    unsampled = sorted({f"R{i}" for i in range(1, 20_000)} - set(sampled_ids(warehouse)))[0]
    warehouse.execute(
        "update staging.teacher_survey_staged set hours_total = 200 where response_id = $id", {"id": unsampled}
    )
    assert unsampled not in sampled_ids(warehouse)
    validation = validate_staged(warehouse, TEACHER_SURVEY)
    assert not validation.success
    assert validation.rows == 20_000 and validation.sampled == staged.SAMPLE_ROWS
    assert failures(validation) == {("expect_column_values_to_be_between", "hours_total"): 1}
    (failure,) = validation.failed_expectations
    assert failure["meta"] == {"rule": "teacher_survey.hours_total"} and failure["guarantee"] == staged.EXACT
    assert failure["element_count"] == 20_000 and failure["unexpected_sample"] == []
    metadata = expectations.check_metadata(validation)
    assert metadata["rows_validated"] == 20_000 and metadata["rows_sampled"] == staged.SAMPLE_ROWS
    assert metadata["failures"] == "expect_column_values_to_be_between(hours_total): 1 unexpected"


def test_the_sample_is_bounded_stratified_and_the_same_on_a_rerun(warehouse):
    fill_teacher_wave(warehouse, 20_000)
    drawn = sampled_ids(warehouse, 600)
    assert len(drawn) == len(set(drawn)) == 600 and drawn == sampled_ids(warehouse, 600)
    strata = dict(
        warehouse.execute(
            "select county_code || '|' || school_level, count(*) from staging.teacher_survey_staged "
            "where list_contains($ids, response_id) group by 1",
            {"ids": drawn},
        ).fetchall()
    )
    assert len(strata) == 6
    for stratum, n in strata.items():
        share = 0.2 if stratum.startswith("150203") else 0.8
        assert n == pytest.approx(600 * share / 3, abs=2), stratum
    assert len(sampled_ids(warehouse, 50_000)) == 20_000


def test_a_small_stratum_keeps_a_row_in_the_sample(warehouse):
    fill_teacher_wave(warehouse, 2_000)
    warehouse.execute("update staging.teacher_survey_staged set county_code = '150999' where response_id = 'R7'")
    assert "R7" in sampled_ids(warehouse, 10)


def test_duplicates_beyond_the_sample_are_counted_exactly(warehouse):
    rows = [staged_teacher(n) for n in range(1, 41)] + [
        staged_teacher(n, submitted_at="2024-05-12 08:00:00") for n in (3, 17, 29)
    ]
    stage(warehouse, TEACHER_SURVEY, rows)
    validation = validate_staged(warehouse, TEACHER_SURVEY, sample_rows=5)
    assert validation.rows == 43 and validation.sampled == 5 and validation.batches == 1
    assert failures(validation) == {("expect_column_values_to_be_unique", "response_id"): 6}


def test_a_staged_column_missing_from_the_table_fails_its_exact_counts(warehouse):
    stage(warehouse, SCHOOL_REPORT, [staged_school(c) for c in SCHOOL_CODES])
    warehouse.execute("alter table staging.school_report_staged drop column n_social_exams")
    validation = validate_staged(warehouse, SCHOOL_REPORT)
    assert set(failures(validation)) == {
        ("expect_column_type_to_be", "n_social_exams"),
        ("expect_column_values_to_be_between", "n_social_exams"),
    }
    ranged = next(f for f in validation.failed_expectations if f["guarantee"] == staged.EXACT)
    assert ranged["exception"] == "column n_social_exams is missing" and ranged["unexpected_count"] is None


def test_every_staged_expectation_is_marked_exact_or_sampled():
    kinds = set()
    for source in SOURCES:
        suite = expectations.staged_suite(source)
        notes = {(e.expectation_type, e.notes) for e in suite.expectations}
        assert {n for k, n in notes if k == "expect_column_type_to_be"} == {expectations.SAMPLED_NOTE}
        assert {n for k, n in notes if k != "expect_column_type_to_be"} == {expectations.EXACT_NOTE}
        kinds |= {k for k, _ in notes}
        assert suite.meta["sample_rows"] == staged.SAMPLE_ROWS == 5_000
        assert "5000" in expectations.SAMPLED_NOTE
    assert kinds == {"expect_column_type_to_be", *staged.EXACT_TYPES}


@pytest.mark.parametrize(
    "source,rows",
    [
        (TEACHER_SURVEY, broken_teacher_rows),
        (CAMPUS_EVENT, lambda: [staged_event(1), staged_event(1), staged_event(2, kind="party", teacher_days=-1)]),
        (SCHOOL_REPORT, lambda: [staged_school(c) for c in SCHOOL_CODES] + [staged_school("1501020001")]),
    ],
)
def test_exact_counts_agree_with_gx_run_on_every_row(warehouse, source, rows):
    """The SQL written for each expectation counts what GX itself counts on the same rows."""
    stage(warehouse, source, rows())
    scope = load_sql(f"quality/{source}_staged_expectations.sql")
    frame = warehouse.sql(f"select * exclude (gx_stratum, gx_key) from ({scope})", params={"wave": "2024-05"}).pl()
    by_gx = expectations.validate(
        expectations.staged_suite(source), [frame], "2024-05", {expectations.SCHOOL_CODES_PARAMETER: SCHOOL_CODES}
    )
    by_sql = validate_staged(warehouse, source, sample_rows=1)
    assert failures(by_sql) == failures(by_gx) and failures(by_sql)


def test_a_detached_expectation_equals_gx_copy_and_leaves_its_suite_alone():
    suite = expectations.staged_suite(TEACHER_SURVEY)
    before = [e.dict() for e in suite.expectations]
    for expectation in suite.expectations:
        copied = staged.detached(expectation)
        assert copied.dict() == copy.copy(expectation).dict()
        assert copied.id is None and copied is not expectation
        assert copied.meta == expectation.meta and copied.meta is not expectation.meta
    copies = [staged.detached(e) for e in suite.expectations]
    copies[0].meta["rule"] = "changed"
    assert [e.dict() for e in suite.expectations] == before

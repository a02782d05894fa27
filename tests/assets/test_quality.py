"""Quality marts and gates through real Dagster runs: completeness and timeliness, outliers against
numpy, source consistency, and every GX gate failing on a broken warehouse and stopping what
comes after it."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest
from conftest import copy_data_dir, good_school_row, good_teacher_row, query, write_table

from assets.marts import area_metrics
from assets.quality import (
    area_metrics_expectations,
    data_docs,
    data_quality_expectations,
    outliers,
    reporting_completeness,
    school_report_staged_expectations,
    source_consistency,
    teacher_survey_staged_expectations,
)
from assets.reports import report_site
from pipelines.definitions import build_definitions
from pipelines.partitions import waves_partitions
from pipelines.quality import staged
from pipelines.resources import JianfuResource, MonitoringConfig, load_sql
from pipelines.runner import RunSummary, run_pipeline

SCHOOLS = [
    ("1501020001", "150102"),
    ("1501020002", "150102"),
    ("1501020003", "150102"),
    ("1501020004", "150102"),
    ("1501020005", "150102"),
    ("1501020006", "150102"),
    ("1501050001", "150105"),
    ("1501050002", "150105"),
    ("1502030001", "150203"),
    ("1502030002", "150203"),
]
POPULATION = [
    ("150102", "primary", 500),
    ("150102", "junior", 600),
    ("150105", "primary", 300),
    ("150203", "primary", 400),
]
WAVES = ["2023-05", "2023-11", "2024-05", "2024-11"]
COUNTS = ("n_inspections", "n_campus_events", "n_forms_requests", "n_nonteaching_meetings", "n_social_exams")
TIMELINESS_WAVE = "2024-11"
REPORTED_AT = {
    "1501020001": "2024-11-20 10:00:00",
    "1501020002": "2024-12-10 23:59:59",
    "1501020003": "2024-12-11 00:00:01",
    "1501020004": "2024-12-05 08:00:00",
    "1501020005": "2024-11-28 16:00:00",
    "1501050001": "2025-01-15 09:00:00",
    "1502030001": "2024-11-30 12:00:00",
}
GX_CHECKS = {
    "teacher_survey_staged_expectations",
    "school_report_staged_expectations",
    "area_metrics_expectations",
    "data_quality_expectations",
}


def school_counts() -> dict[tuple[str, str], dict[str, int | None]]:
    """Each school's counts per wave: seeded noise around its own level, plus planted outliers."""
    rng = np.random.default_rng(5)
    counts = {}
    for code, _ in SCHOOLS:
        level = rng.integers(3, 9, len(COUNTS))
        for wave in WAVES:
            counts[(wave, code)] = {c: int(v) for c, v in zip(COUNTS, level + rng.integers(-1, 2, len(COUNTS)))}
            counts[(wave, code)]["n_social_exams"] = 0
    for wave, value in zip(WAVES, (4, 5, 6, 30)):
        counts[(wave, "1501020001")]["n_inspections"] = value
    for code, value in zip([c for c, county in SCHOOLS if county == "150102"], (3, 4, 5, 4, 3, 40)):
        counts[("2024-05", code)]["n_campus_events"] = value
    counts[("2024-05", "1501020006")]["n_social_exams"] = 9
    counts[("2023-11", "1501020004")]["n_forms_requests"] = None
    return counts


def school_rows(counts) -> list[dict[str, str]]:
    rows = []
    for (wave, code), values in counts.items():
        if wave == TIMELINESS_WAVE and code not in REPORTED_AT:
            continue
        reported_at = REPORTED_AT[code] if wave == TIMELINESS_WAVE else f"{wave}-15 10:00:00"
        rows.append(
            good_school_row(
                wave=wave,
                school_code=code,
                reported_at=reported_at,
                **{c: "" if v is None else str(v) for c, v in values.items()},
            )
        )
    return rows


def teacher_rows() -> list[dict[str, str]]:
    """Ten teachers each at three schools of wave 2024-11, in both leagues, and three at a fourth one."""
    rows = []
    for code, level, inspections, n in (
        ("1501020001", "primary", 6, 10),
        ("1501020002", "junior", 4, 10),
        ("1502030001", "primary", 5, 10),
        ("1501050001", "primary", 5, 3),
    ):
        rows += [
            good_teacher_row(
                wave=TIMELINESS_WAVE,
                response_id=f"{code}-{k}",
                school_code=code,
                school_level=level,
                submitted_at="2024-11-10 09:00:00",
                n_inspections=str(inspections),
                teacher_id=f"T{code}{k}",
            )
            for k in range(n)
        ]
    return rows


def make_sample(data_dir: Path) -> Path:
    """The good hand-made sample: ten schools in three counties of two leagues, four waves."""
    reference = data_dir / "reference"
    reference.mkdir(parents=True)
    with (reference / "schools.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [
                ("school_code", "school_name", "county_code", "school_type", "urban_rural", "n_teachers"),
                *[(code, f"学校{code}", county, "primary", "urban", 40) for code, county in SCHOOLS],
            ]
        )
    with (reference / "teacher_population.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("county_code", "school_level", "n_teachers"), *POPULATION])
    write_table(data_dir / "landing" / "school_report" / "reports.csv", school_rows(school_counts()))
    write_table(data_dir / "landing" / "teacher_survey" / "survey.csv", teacher_rows())
    return data_dir


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dg.DagsterInstance, RunSummary]:
    """The good sample run once through the whole pipeline; tests that break it work on a copy."""
    data_dir = make_sample(tmp_path_factory.mktemp("quality") / "data")
    instance = dg.DagsterInstance.ephemeral()
    previous = os.environ.get("JIANFU_ID_KEY")
    os.environ["JIANFU_ID_KEY"] = "test-key-not-secret"
    try:
        summary = run_pipeline(data_dir, instance=instance, echo=lambda _: None)
    finally:
        os.environ.pop("JIANFU_ID_KEY") if previous is None else os.environ.update(JIANFU_ID_KEY=previous)
    return data_dir, instance, summary


@pytest.fixture
def sample(built, tmp_path) -> Path:
    """A copy of the built sample's data directory, free to break; without its published site
    (1,200 files that no test of a copy reads: the data docs are built under quality/)."""
    return copy_data_dir(built[0], tmp_path / "data", "reports")


@pytest.fixture
def instance() -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(waves_partitions.name, WAVES)
    return instance


def resources(data_dir: Path, **monitoring) -> dict:
    return {"jianfu": JianfuResource(data_dir=str(data_dir)), "monitoring": MonitoringConfig(**monitoring)}


def gx_evaluations(instance: dg.DagsterInstance, run_ids: list[str]) -> list:
    found = []
    for run_id in run_ids:
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = record.get_dagster_event().event_specific_data
            if evaluation.check_name in GX_CHECKS:
                found.append(evaluation)
    return found


def probe(data_dir: Path, instance: dg.DagsterInstance, check, downstream, wave: str | None = None):
    """Run one GX check and assets downstream of its asset, as a job, without re-running the asset."""
    selection = dg.AssetSelection.checks(check) | dg.AssetSelection.assets(*downstream)
    job = dg.define_asset_job("probe", selection=selection, partitions_def=waves_partitions if wave else None)
    defs = dg.Definitions.merge(build_definitions(data_dir=str(data_dir)), dg.Definitions(jobs=[job]))
    return defs.resolve_job_def("probe").execute_in_process(instance=instance, partition_key=wave, raise_on_error=False)


def only_evaluation(result) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def failed(evaluation) -> dict[tuple[str, str], int | None]:
    return {
        (f["expectation"], f["target"]): f["unexpected_count"] for f in evaluation.metadata["failed_expectations"].value
    }


def materialized(result) -> set[str]:
    return {event.asset_key.path[-1] for event in result.get_asset_materialization_events()}


def execute(warehouse: Path, sql: str, params: dict | None = None) -> None:
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(sql, params or {})


def test_good_sample_passes_every_gx_gate_and_publishes_offline_data_docs(built):
    data_dir, instance, summary = built
    evaluations = gx_evaluations(instance, summary.run_ids)
    assert {(e.check_name, e.partition) for e in evaluations} == (
        {(name, wave) for name in GX_CHECKS - {"data_quality_expectations"} for wave in WAVES}
        | {("data_quality_expectations", None)}
    )
    assert all(e.passed for e in evaluations), [e.metadata["failures"].value for e in evaluations if not e.passed]
    staged = next(
        e
        for e in evaluations
        if e.check_name == "teacher_survey_staged_expectations" and e.partition == TIMELINESS_WAVE
    )
    assert staged.metadata["rows_validated"].value == 33 and staged.metadata["failed_expectation_count"].value == 0

    docs = data_dir / "reports" / "data_docs"
    index = (docs / "index.html").read_text(encoding="utf-8")
    # three suites per wave, plus data_quality and campus_event_staged (campus events are validated across months)
    assert index.count("通过 passed") == 3 * len(WAVES) + 2 and "未通过" not in index.split("<tbody>")[1]
    for page in docs.rglob("*.html"):
        assert not re.search(r'<(?:script|link|img)\b[^>]*\s(?:src|href)="https?://', page.read_text("utf-8")), page


def test_completeness_and_timeliness_per_county_league_and_region(built):
    data_dir = built[0]
    rows = query(
        data_dir,
        "select area_level, area_code, schools_expected, schools_reporting, completeness, "
        "schools_on_time, on_time_share, due_date::varchar from marts.reporting_completeness "
        "where wave = $wave order by area_level, area_code",
        {"wave": TIMELINESS_WAVE},
    )
    assert rows == [
        ("county", "150102", 6, 5, 5 / 6, 4, 4 / 6, "2024-12-10"),
        ("county", "150105", 2, 1, 0.5, 0, 0.0, "2024-12-10"),
        ("county", "150203", 2, 1, 0.5, 1, 0.5, "2024-12-10"),
        ("league", "150100", 8, 6, 0.75, 4, 0.5, "2024-12-10"),
        ("league", "150200", 2, 1, 0.5, 1, 0.5, "2024-12-10"),
        ("region", "150000", 10, 7, 0.7, 5, 0.5, "2024-12-10"),
    ]
    assert query(
        data_dir,
        "select wave, count(*) filter (where schools_on_time = 10) from marts.reporting_completeness "
        "where area_level = 'region' group by 1 order by 1",
    ) == [("2023-05", 1), ("2023-11", 1), ("2024-05", 1), ("2024-11", 0)]
    assert query(
        data_dir,
        "select source, schools_reporting, completeness, schools_on_time, on_time_share "
        "from marts.data_quality where wave = $wave order by source",
        {"wave": TIMELINESS_WAVE},
    ) == [("school_report", 7, 0.7, 5, 0.5), ("teacher_survey", 4, 0.4, None, None)]


def test_a_shorter_due_period_makes_reports_late(sample, instance):
    result = dg.materialize(
        [reporting_completeness],
        instance=instance,
        partition_key=TIMELINESS_WAVE,
        resources=resources(sample, report_due_days=2),
    )
    assert result.success
    assert query(
        sample,
        "select schools_on_time, due_date::varchar from marts.reporting_completeness "
        "where wave = $wave and area_level = 'region'",
        {"wave": TIMELINESS_WAVE},
    ) == [(3, "2024-12-02")]


def numpy_outliers(counts, threshold=3.5) -> dict[tuple, float]:
    """The modified z-scores, computed independently of the SQL from the hand-made reports."""
    reported = {(w, c): v for (w, c), v in counts.items() if w != TIMELINESS_WAVE or c in REPORTED_AT}
    county = dict(SCHOOLS)
    found = {}

    def score(x, reference):
        median = np.median(reference)
        mad = np.median(np.abs(np.asarray(reference) - median))
        return None if mad == 0 else 0.6745 * (x - median) / mad

    for (wave, code), values in reported.items():
        for metric, x in values.items():
            if x is None:
                continue
            history = [v[metric] for (w, c), v in reported.items() if c == code and w < wave and v[metric] is not None]
            peers = [
                v[metric]
                for (w, c), v in reported.items()
                if w == wave and county[c] == county[code] and v[metric] is not None
            ]
            for method, reference, minimum in (("own_history", history, 3), ("county_peers", peers, 5)):
                if len(reference) >= minimum:
                    m = score(x, reference)
                    if m is not None and abs(m) > threshold:
                        found[(wave, code, metric, method)] = m
    return found


def test_outlier_scores_match_numpy_and_follow_up_status_survives_reruns(sample, instance):
    rows = query(
        sample, "select wave, school_code, metric, method, score, follow_up_status, threshold from marts.outliers"
    )
    got = {(w, s, m, method): score for w, s, m, method, score, _, _ in rows}
    expected = numpy_outliers(school_counts())
    assert got.keys() == expected.keys()
    for key, score in expected.items():
        assert got[key] == pytest.approx(score, rel=1e-12), key
    assert got[("2024-11", "1501020001", "n_inspections", "own_history")] == pytest.approx(0.6745 * 25)
    assert got[("2024-05", "1501020006", "n_campus_events", "county_peers")] == pytest.approx(0.6745 * 36)
    assert not any(k[2] == "n_social_exams" for k in got), "MAD = 0 gives no score"
    assert {(status, threshold) for *_, status, threshold in rows} == {("open", 3.5)}

    execute(
        sample / "warehouse.duckdb",
        "insert into quality.outlier_follow_up (wave, school_code, metric, status, "
        "note) values ('2024-11', '1501020001', 'n_inspections', 'confirmed', "
        "'phoned the school: a provincial campaign')",
    )
    assert dg.materialize([outliers], instance=instance, resources=resources(sample)).success
    statuses = {}
    for w, s, m, status, note in query(
        sample, "select wave, school_code, metric, follow_up_status, follow_up_note from marts.outliers"
    ):
        statuses.setdefault((w, s, m), set()).add((status, note))
    assert statuses.pop(("2024-11", "1501020001", "n_inspections")) == {
        ("confirmed", "phoned the school: a provincial campaign")
    }
    assert set().union(*statuses.values()) == {("open", None)}


def test_source_consistency_flags_schools_and_compares_leagues(built):
    data_dir = built[0]
    schools = query(
        data_dir,
        "select area_code, school_reported_inspections, teacher_mean_inspections, ratio, flagged, "
        "n_respondents from marts.source_consistency where area_level = 'school' order by 2",
    )
    reported = {
        code: school_counts()[(TIMELINESS_WAVE, code)]["n_inspections"]
        for code in ("1501020002", "1501050001", "1502030001")
    }
    # County 150105 (3 respondents) is suppressed, so 150102 is suppressed beside it: the means
    # of 150102's two schools would give its figure back, and with Hohhot's the small cell.
    withheld = {
        code
        for (code,) in query(
            data_dir,
            "select area_code from marts.area_metrics where wave = $wave and metric = 'n_inspections' and suppressed",
            {"wave": TIMELINESS_WAVE},
        )
    }
    assert {"150102", "150105"} <= withheld

    def school(code: str, teacher_mean: float, n: int) -> tuple:
        if code[:6] in withheld:
            return (code, float(reported.get(code, 30)), None, None, False, n)
        ratio = reported[code] / teacher_mean
        return (code, float(reported[code]), teacher_mean, ratio, not 0.5 <= ratio <= 2, n)

    assert sorted(schools) == sorted(
        [
            school("1501020001", 6.0, 10),
            school("1501020002", 4.0, 10),
            school("1501050001", 0.0, 3),
            school("1502030001", 5.0, 10),
        ]
    )
    leagues = query(
        data_dir,
        "select wave, area_code, school_reported_inspections, teacher_mean_inspections, ratio, "
        "flagged from marts.source_consistency where area_level = 'league'",
    )
    assert {(w, c) for w, c, *_ in leagues} == {(w, c) for w in WAVES for c in ("150100", "150200")}
    assert all(r[3] is None and not r[5] for r in leagues if r[0] != TIMELINESS_WAVE)
    (league,) = [r[2:] for r in leagues if r[:2] == (TIMELINESS_WAVE, "150100")]
    (school_mean, teacher_mean) = query(
        data_dir,
        "select max(estimate) filter (where metric = 'school_inspections_per_school'), "
        "max(estimate) filter (where metric = 'n_inspections') from marts.area_metrics "
        "where wave = $wave and area_code = '150100'",
        {"wave": TIMELINESS_WAVE},
    )[0]
    assert league[:3] == pytest.approx((school_mean, teacher_mean, school_mean / teacher_mean))
    assert league[3] == (not 0.5 <= school_mean / teacher_mean <= 2.0)


def test_staging_drifting_from_the_rule_table_fails_the_teacher_gate_and_blocks_area_metrics(
    sample, instance, monkeypatch
):
    monkeypatch.setenv("JIANFU_ID_KEY", "test-key-not-secret")
    write_table(
        sample / "landing" / "teacher_survey" / "late.csv",
        [good_teacher_row(wave=TIMELINESS_WAVE, response_id="X1", hours_total="200")],
    )
    defs = build_definitions(data_dir=str(sample))
    assert defs.resolve_job_def("ingest_job").execute_in_process(instance=instance).success
    execute(
        sample / "warehouse.duckdb",
        "update meta.column_rules set max_value = 1000 where source = 'teacher_survey' and column_name = 'hours_total'",
    )
    result = defs.resolve_job_def("wave_job").execute_in_process(
        instance=instance, partition_key=TIMELINESS_WAVE, raise_on_error=False
    )
    assert not result.success
    assert query(sample, "select hours_total from staging.teacher_survey_staged where response_id = 'X1'") == [(200.0,)]
    evaluation = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "teacher_survey_staged_expectations"
    )
    assert not evaluation.passed and evaluation.partition == TIMELINESS_WAVE
    assert failed(evaluation) == {("expect_column_values_to_be_between", "hours_total"): 1}
    assert "expect_column_values_to_be_between(hours_total): 1 unexpected" in evaluation.metadata["failures"].value
    assert "teacher_survey_staged" in materialized(result) and "area_metrics" not in materialized(result)


def test_a_duplicate_response_id_in_staging_fails_the_teacher_gate(sample, instance):
    execute(
        sample / "warehouse.duckdb",
        "insert into staging.teacher_survey_staged select * from "
        "staging.teacher_survey_staged where response_id = '1501020001-0'",
    )
    result = probe(sample, instance, teacher_survey_staged_expectations, [area_metrics], TIMELINESS_WAVE)
    evaluation = only_evaluation(result)
    assert not evaluation.passed
    assert failed(evaluation) == {("expect_column_values_to_be_unique", "response_id"): 2}
    assert materialized(result) == set()


def test_a_school_report_of_an_unknown_school_fails_the_school_gate(sample, instance):
    execute(
        sample / "warehouse.duckdb",
        "insert into staging.school_report_staged select * replace "
        "('9999999999' as school_code) from staging.school_report_staged "
        "where wave = '2024-05' and school_code = '1501020001'",
    )
    result = probe(sample, instance, school_report_staged_expectations, [reporting_completeness], "2024-05")
    evaluation = only_evaluation(result)
    assert failed(evaluation) == {("expect_column_values_to_be_in_set", "school_code"): 1}
    assert evaluation.metadata["failed_expectations"].value[0]["unexpected_sample"] == []  # never a landing value
    assert materialized(result) == set()


def test_one_bad_row_among_twenty_thousand_fails_the_teacher_gate_though_unsampled(sample, instance):
    warehouse = sample / "warehouse.duckdb"
    execute(
        warehouse,
        "insert into staging.teacher_survey_staged by name select s.* replace (response_id || '-copy' || i as "
        "response_id) from staging.teacher_survey_staged as s, (select range as i from range(607)) where wave = $wave",
        {"wave": TIMELINESS_WAVE},
    )
    scope = load_sql("quality/teacher_survey_staged_expectations.sql")
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        sampled = {
            r
            for (r,) in conn.execute(
                f"select response_id from ({staged.sample_query(scope)})",
                {"wave": TIMELINESS_WAVE, "seed": staged.SAMPLE_SEED, "sample_rows": staged.SAMPLE_ROWS},
            ).fetchall()
        }
        (bad,) = conn.execute(
            "select min(response_id) from staging.teacher_survey_staged "
            "where wave = $wave and not list_contains($sampled, response_id)",
            {"wave": TIMELINESS_WAVE, "sampled": sorted(sampled)},
        ).fetchall()[0]
    execute(warehouse, "update staging.teacher_survey_staged set n_forms = -1 where response_id = $id", {"id": bad})
    result = probe(sample, instance, teacher_survey_staged_expectations, [area_metrics], TIMELINESS_WAVE)
    evaluation = only_evaluation(result)
    assert not evaluation.passed and not result.success
    assert evaluation.metadata["rows_validated"].value == 33 * 608 >= 20_000
    assert evaluation.metadata["rows_sampled"].value == staged.SAMPLE_ROWS
    assert failed(evaluation) == {("expect_column_values_to_be_between", "n_forms"): 1}
    (failure,) = evaluation.metadata["failed_expectations"].value
    assert failure["meta"] == {"rule": "teacher_survey.n_forms"} and failure["guarantee"] == "exact"
    assert materialized(result) == set()


@pytest.mark.parametrize(
    "defect,expectation",
    [
        (
            "update marts.area_metrics set n = 3 where wave = $wave and area_code = '150100' and metric = 'hours_total'",
            ("expect_column_values_to_be_between", "n where metric_source == 'teacher_survey' and suppressed == False"),
        ),
        (
            "update marts.area_metrics set ci_low = estimate + 0.5 "
            "where wave = $wave and area_code = '150100' and metric = 'hours_total'",
            ("expect_column_pair_values_a_to_be_greater_than_b", "estimate, ci_low"),
        ),
    ],
)
def test_a_broken_mart_cell_fails_the_area_metrics_gate(sample, instance, defect, expectation):
    assert query(
        sample,
        "select suppressed from marts.area_metrics where wave = $wave and area_code = '150100' "
        "and metric = 'hours_total'",
        {"wave": TIMELINESS_WAVE},
    ) == [(False,)]
    execute(sample / "warehouse.duckdb", defect, {"wave": TIMELINESS_WAVE})
    result = probe(
        sample, instance, area_metrics_expectations, [source_consistency, reporting_completeness], TIMELINESS_WAVE
    )
    evaluation = only_evaluation(result)
    assert failed(evaluation) == {expectation: 1}
    assert materialized(result) == {"reporting_completeness"}


def test_unaccounted_rows_fail_the_data_quality_gate_and_no_report_is_built(sample, instance):
    execute(
        sample / "warehouse.duckdb",
        "update marts.data_quality set rows_received = rows_received + 1 "
        "where wave = '2024-05' and source = 'school_report'",
    )
    result = probe(sample, instance, data_quality_expectations, [data_docs, report_site])
    evaluation = only_evaluation(result)
    assert failed(evaluation) == {("expect_column_pair_values_to_be_equal", "rows_received, rows_accounted"): 1}
    assert materialized(result) == set()
    assert not result.success


@pytest.mark.parametrize(
    "check,downstream,wave",
    [
        (teacher_survey_staged_expectations, [area_metrics], TIMELINESS_WAVE),
        (school_report_staged_expectations, [reporting_completeness], "2024-05"),
        (area_metrics_expectations, [source_consistency, reporting_completeness], TIMELINESS_WAVE),
        (data_quality_expectations, [data_docs], None),
    ],
)
def test_a_passing_gate_lets_the_same_downstream_assets_run(sample, instance, check, downstream, wave):
    result = probe(sample, instance, check, downstream, wave)
    (name,) = [key.name for key in check.check_keys]
    assert result.success and next(e for e in result.get_asset_check_evaluations() if e.check_name == name).passed
    assert materialized(result) == {a.key.path[-1] for a in downstream}

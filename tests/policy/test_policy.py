"""Policy caps (contract section 11): campus events written by hand at, below and above every
cap, across semester and year boundaries; the breach cases and their survival across runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from conftest import (
    SCHOOLS,
    copy_data_dir,
    good_school_row,
    good_teacher_row,
    jianfu,
    jianfu_in_process,
    new_data_dir,
    query,
    write_table,
)

from pipelines.catalogue.policy import PolicyRuleError, read_policy_rules, validated_rules
from pipelines.cli import main
from pipelines.resources import SHIPPED_REFERENCE_DIR
from pipelines.runner import run_pipeline

A, B, C = (code for code, *_ in SCHOOLS)
SECRET = "机密备注-13800138000"


def event(
    event_id: str,
    school: str,
    date: str,
    kind: str,
    organiser: str = "county",
    item: str = "",
    plan: str = "1",
    days: str = "",
) -> dict[str, str]:
    return dict(
        event_id=event_id,
        school_code=school,
        event_date=date,
        kind=kind,
        organiser_level=organiser,
        whitelist_item=item,
        in_annual_plan=plan,
        teacher_days=days,
    )


def hand_events() -> list[dict[str, str]]:
    """Every shipped rule met exactly at its cap somewhere, missed by one somewhere, and the
    effective date (2025-10-14) excluding events that would otherwise breach."""
    rows = [
        # comprehensive_inspection_yearly (<= 1 per calendar year, county or higher)
        event("CI-A0", A, "2025-03-01", "comprehensive_inspection"),  # before the rule: not counted
        event("CI-A1", A, "2025-12-20", "comprehensive_inspection"),  # 2025: 1, at the cap
        event("CI-A2", A, "2026-01-10", "comprehensive_inspection"),  # 2026: 1, across the year boundary
        event("CI-B1", B, "2026-03-01", "comprehensive_inspection", "league"),
        event("CI-B2", B, "2026-09-01", "comprehensive_inspection", "region"),  # B 2026: 2, above
        event("CI-C1", C, "2026-04-01", "comprehensive_inspection", "county"),
        event("CI-C2", C, "2026-05-01", "comprehensive_inspection", "township"),  # out of scope
        # campus_activity_semester (<= 6 per semester) with distinct white-list items per year
        *[
            event(f"CA-A{i}", A, d, "campus_activity", item=w)
            for i, (d, w) in enumerate(
                [
                    ("2025-10-20", "W1"),
                    ("2025-11-05", "W2"),
                    ("2025-11-20", "W3"),
                    ("2025-12-05", "W4"),
                    ("2026-01-10", "W1"),
                    ("2026-01-31", "W2"),  # 2025-2026-1 (Aug-Jan): 6, at the cap
                    ("2026-02-01", "W3"),
                ]
            )
        ],  # 2025-2026-2: across the Jan/Feb boundary
        *[
            event(f"CA-B{i}", B, d, "campus_activity", item=f"W{i}")
            for i, d in enumerate(
                [
                    "2026-02-10",
                    "2026-03-10",
                    "2026-04-10",
                    "2026-05-10",
                    "2026-06-10",
                    "2026-06-30",
                    "2026-07-31",  # 2025-2026-2 (Feb-Jul): 7, one above
                    "2026-08-01",
                ]
            )
        ],  # 2026-2027-1: across the Jul/Aug boundary
        *[
            event(f"CA-C{i}", C, d, "campus_activity", item=w)
            for i, (d, w) in enumerate(
                [
                    ("2026-09-01", "W9"),
                    ("2026-10-01", "W9"),  # whitelist_item_yearly: W9 twice in 2026
                    ("2026-10-15", "W1"),
                    ("2026-11-01", "W2"),
                    ("2026-11-10", "W3"),
                ]
            )
        ],  # 5 in the semester
        event("CA-C5", C, "2025-05-01", "campus_activity", item="W10"),  # before the rule
        event("CA-C6", C, "2025-11-01", "campus_activity", item="W10"),  # W10 2025: 1 counted
        # campus_activity_whitelisted (none without an item)
        event("CA-B9", B, "2026-11-01", "campus_activity", item=""),
        # inspection_in_annual_plan (none outside the plan)
        event("IN-A1", A, "2026-02-15", "inspection", plan="1"),
        event("IN-A2", A, "2026-03-15", "meeting", plan="0"),  # a meeting: not an inspection
        event("IN-C1", C, "2026-06-01", "check", plan="0"),
        # secondment_days (<= 183 days)
        event("SE-A1", A, "2026-03-01", "secondment", days="183"),
        event("SE-B1", B, "2026-04-01", "secondment", days="184"),
        event("SE-C1", C, "2026-05-01", "secondment", days="182"),
    ]
    return rows


EXPECTED = {
    ("comprehensive_inspection_yearly", B, "2026", 2, 1),
    ("campus_activity_semester", B, "2025-2026-2", 7, 6),
    ("whitelist_item_yearly", C, "2026", 2, 1),
    ("campus_activity_whitelisted", B, "2026", 1, 0),
    ("inspection_in_annual_plan", C, "2026", 1, 0),
    ("secondment_days", B, "2026", 184, 183),
}

BAD_ROWS = [
    (event("CI-A1", A, "2026-06-01", "inspection"), "duplicate_event_id"),
    (event("X-1", "9999999999", "2026-06-01", "inspection"), "unknown_school"),
    (event("X-2", A, "2026-06-01", SECRET), "not_allowed:kind"),
    (event("X-3", A, "2026-06-01", "inspection", organiser=SECRET), "not_allowed:organiser_level"),
    (event("X-4", A, "2026-06-01", "inspection", plan="2"), "not_allowed:in_annual_plan"),
    (event("X-5", A, "2026-06-01", "secondment", days="-1"), "out_of_range:teacher_days"),
    (event("X-6", A, "2026-06-01", "secondment", days=SECRET), "malformed:teacher_days"),
    (event("X-7", A, "2026-02-30", "inspection"), "malformed:event_date"),
    (event("X-8", A, SECRET, "inspection"), "malformed:event_date"),
    (event("X-9", A, "", "inspection"), "missing:event_date"),
    (event("X-10", A, "2099-01-01", "inspection"), "future_date"),
    (event("", A, "2026-06-01", "inspection"), "missing:event_id"),
    (event("X-12", A, "2026-06-01", "inspection", plan=""), "missing:in_annual_plan"),
]


def write_events(data_dir: Path, rows: list[dict[str, str]], name: str = "events.csv") -> Path:
    return write_table(data_dir / "landing" / "campus_event" / name, rows)


def write_bad_events(data_dir: Path) -> None:
    """The rows above, then a row with one field too many (its text must not come back)."""
    write_events(data_dir, [row for row, _ in BAD_ROWS], "z_bad.csv")
    path = data_dir / "landing" / "campus_event" / "z_bad.csv"
    path.write_text(
        path.read_text(encoding="utf-8") + f"X-13,{A},2026-06-01,inspection,county,,1,,{SECRET}\n", encoding="utf-8"
    )


def write_surveys(data_dir: Path) -> None:
    """Wave 2026-05: reports that agree (A), disagree (B) with the register; C's teachers report
    campus events held at will that the register lacks."""
    rows = [
        good_school_row(wave="2026-05", school_code=code, reported_at="2026-05-20 10:00:00", n_inspections=n)
        for code, n in ((A, "3"), (B, "3"), (C, "1"))
    ]
    write_table(data_dir / "landing" / "school_report" / "reports.csv", rows)
    teachers = [
        good_teacher_row(
            wave="2026-05",
            response_id=f"R{i}",
            school_code=C,
            school_level="primary",
            submitted_at="2026-05-10 09:00:00",
            teacher_id=f"T{i:04d}",
            item_11="1",
            n_inspections="1",
        )
        for i in range(12)
    ]
    write_table(data_dir / "landing" / "teacher_survey" / "teachers.csv", teachers)


def breaches(data_dir: Path) -> set[tuple]:
    return set(query(data_dir, 'select rule_id, school_code, period, observed, "limit" from marts.policy_breaches'))


def write_policy_set(data_dir: Path) -> Path:
    write_events(data_dir, hand_events())
    write_bad_events(data_dir)
    write_surveys(data_dir)
    return data_dir


@pytest.fixture
def policy_dir(data_dir: Path) -> Path:
    return write_policy_set(data_dir)


@pytest.fixture(scope="module")
def policy_run(tmp_path_factory) -> Path:
    """The hand-written set run once; the tests that only read it share it, the others copy it."""
    data_dir = write_policy_set(new_data_dir(tmp_path_factory.mktemp("policy")))
    previous = os.environ.get("JIANFU_ID_KEY")
    os.environ["JIANFU_ID_KEY"] = "test-key-not-secret"
    try:
        run_pipeline(data_dir, instance=dg.DagsterInstance.ephemeral(), echo=lambda _: None)
    finally:
        os.environ.pop("JIANFU_ID_KEY") if previous is None else os.environ.update(JIANFU_ID_KEY=previous)
    return data_dir


def cases(capsys, *args: str) -> tuple[int, str, str]:
    """`jianfu cases ...` in-process: its exit code, stdout and stderr."""
    capsys.readouterr()
    code = main(["cases", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_shipped_rule_breach_is_found_and_no_other(policy_run):
    policy_dir = policy_run
    assert breaches(policy_dir) == EXPECTED
    region = {
        (r, p): (o, b, n)
        for r, p, o, b, n in query(
            policy_dir,
            "select rule_id, period, schools_observed, schools_breaching, breaches "
            "from marts.policy_compliance where area_level = 'region'",
        )
    }
    assert region[("campus_activity_semester", "2025-2026-2")] == (3, 1, 1)
    assert region[("secondment_days", "2026")] == (3, 1, 1)
    assert region[("comprehensive_inspection_yearly", "2025")] == (2, 0, 0)
    league = query(
        policy_dir,
        "select area_code, schools_observed, schools_breaching, share_breaching "
        "from marts.policy_compliance where area_level = 'league' "
        "and rule_id = 'whitelist_item_yearly' and period = '2026' order by 1",
    )
    assert league == [("150100", 2, 0, 0.0), ("150200", 1, 1, 1.0)]
    alerts = query(
        policy_dir,
        "select area_code, wave, metric, value, message from marts.alerts "
        "where rule = 'policy_cap_breached' order by 3, 1, 2",
    )
    assert {(m, a, w) for a, w, m, _, _ in alerts} == {
        ("campus_activity_semester", "150100", "2026-02"),
        ("campus_activity_whitelisted", "150100", "2026-01"),
        ("comprehensive_inspection_yearly", "150100", "2026-01"),
        ("inspection_in_annual_plan", "150200", "2026-01"),
        ("secondment_days", "150100", "2026-01"),
        ("whitelist_item_yearly", "150200", "2026-01"),
    }
    assert all(v == 1 for *_, v, _ in alerts)
    assert "（2025-2026-2）" in next(m for _, _, r, _, m in alerts if r == "campus_activity_semester")
    messages = query(policy_dir, "select message, message_en from marts.alerts where rule = 'policy_cap_breached'")
    assert all("教师厅〔2025〕2号" in zh or "白名单" in zh for zh, _ in messages)
    cases = query(policy_dir, "select rule_id, school_code, period, status, in_data from quality.breach_cases")
    assert {c[:3] for c in cases} == {e[:3] for e in EXPECTED}
    assert {c[3:] for c in cases} == {("open", True)}


def test_campus_event_rows_are_accounted_and_each_bad_row_has_its_reason(policy_run):
    policy_dir = policy_run
    received = query(policy_dir, "select count(*) from landing.campus_event_rows")[0][0]
    accepted = query(policy_dir, "select count(*) from staging.campus_event_staged")[0][0]
    reasons = query(
        policy_dir,
        "select row_number, reason from quarantine.rejected_rows "
        "where source = 'campus_event' and file = 'z_bad.csv' order by row_number",
    )
    assert received == len(hand_events()) + len(BAD_ROWS) + 1
    assert accepted == len(hand_events())
    assert reasons == [(i, reason) for i, (_, reason) in enumerate(BAD_ROWS, start=1)] + [
        (len(BAD_ROWS) + 1, "malformed_row")
    ]
    loads = query(
        policy_dir,
        "select rows_received, rows_accepted, rows_rejected from marts.data_quality where source = 'campus_event'",
    )
    assert loads == [(received, accepted, received - accepted)]
    every_reason = " ".join(r for (r,) in query(policy_dir, "select reason from quarantine.rejected_rows"))
    assert SECRET not in every_reason and "机密" not in every_reason
    for page in (policy_dir / "reports").rglob("*.html"):
        assert "机密" not in page.read_text(encoding="utf-8"), page


def test_cross_checks_flag_disagreeing_reports_and_paper_compliance(policy_run):
    policy_dir = policy_run
    checks = {
        (s, c): (r, e, f)
        for s, c, r, e, f in query(
            policy_dir,
            "select school_code, check_name, reported, events, flagged from marts.event_cross_checks "
            "where wave = '2026-05'",
        )
    }
    assert checks[(A, "school_report_inspections")] == (3.0, 3, False)
    assert checks[(B, "school_report_inspections")] == (3.0, 1, True)
    assert checks[(C, "school_report_inspections")] == (1.0, 2, False)  # within the tolerance of 1
    assert checks[(C, "teacher_campus_activities")] == (1.0, 0, True)
    assert checks[(C, "teacher_inspections")] == (1.0, 2, False)


def test_a_case_status_survives_two_reruns_and_a_corrected_reexport(policy_run, run, tmp_path, capsys):
    policy_dir = copy_data_dir(policy_run, tmp_path / "data")
    key = ["campus_activity_semester", B, "2025-2026-2"]
    done = cases(
        capsys,
        "set",
        *key,
        "--status",
        "confirmed",
        "--note",
        "已约谈",
        "--assignee",
        "督导室",
        "--data-dir",
        str(policy_dir),
    )
    assert done[0] == 0, done[2]
    run(policy_dir)
    run(policy_dir)
    corrected = [dict(r, teacher_days="150") if r["event_id"] == "SE-B1" else r for r in hand_events()]
    corrected = [r for r in corrected if r["event_id"] != "IN-A2"]
    write_events(policy_dir, corrected)
    run(policy_dir)
    case = query(
        policy_dir,
        "select status, note, assignee, observed, in_data from quality.breach_cases "
        "where rule_id = $r and school_code = $s and period = $p",
        dict(zip("rsp", key)),
    )
    assert case == [("confirmed", "已约谈", "督导室", 7, True)]
    gone = query(
        policy_dir,
        "select status, status_by, in_data, note is not null from quality.breach_cases "
        "where rule_id = 'secondment_days'",
    )
    assert gone == [("resolved", "pipeline", False, True)]
    assert breaches(policy_dir) == {e for e in EXPECTED if e[0] != "secondment_days"}
    assert query(policy_dir, "select count(*) from quality.breach_cases")[0][0] == len(EXPECTED)
    code, listed, _ = cases(capsys, "list", "--status", "confirmed", "--data-dir", str(policy_dir))
    assert code == 0 and "1 cases" in listed and "督导室" in listed
    by_league = cases(capsys, "list", "--league", "150200", "--data-dir", str(policy_dir))[1]
    assert by_league.count("\n") == 2 + 2  # header, two cases of 150200, count line
    assert_reports_show_the_cases(policy_dir)


def assert_reports_show_the_cases(data_dir: Path) -> None:
    """The policy page names the breaching schools and counts open cases per league; the county
    history (for the county pages) carries the analyst's status, assignee and note."""
    import duckdb

    from pipelines.report.policy import county_case_history, open_cases_table
    from pipelines.report.site import load_report_data

    zh = (data_dir / "reports" / "latest" / "policy.html").read_text(encoding="utf-8")
    en = (data_dir / "reports" / "latest" / "en" / "policy.html").read_text(encoding="utf-8")
    assert "政策红线" in zh and "Policy caps" in en
    assert B in zh and "新城区第二中学" in zh and "教师厅〔2025〕2号" in zh
    assert "已核实" in zh and "confirmed" in en
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        data = load_report_data(conn)
    history = county_case_history(data, "150102", "zh")
    rows = {(r[0].text, r[3].text): [c.text for c in r] for r in history.rows}
    assert set(rows) == {(B, p) for r, s, p, *_ in EXPECTED if s == B}
    assert rows[(B, "2025-2026-2")][6:9] == ["已核实", "督导室", "已约谈"]
    assert rows[(B, "2026")][6] in ("待核查", "已解决")
    assert county_case_history(data, "150203", "en").rows[0][0].text == C
    opened = {r[0].sort: (r[1].sort, r[2].sort, r[3].sort) for r in open_cases_table(data, "zh").rows}
    assert opened["150100"] == (2, 1, 4) and opened["150200"] == (2, 0, 2)


@pytest.mark.parametrize(
    "args, words",
    [
        (["no_such_rule", B, "2026", "--status", "open"], "unknown rule"),
        (["secondment_days", "0000000000", "2026", "--status", "open"], "unknown school"),
        (["secondment_days", B, "1999", "--status", "open"], "no case"),
        (["secondment_days", B, "2026", "--status", "closed"], "unknown status"),
    ],
)
def test_cases_set_refuses_unknown_keys_in_one_line(policy_run, capsys, args, words):
    code, _, err = cases(capsys, "set", *args, "--data-dir", str(policy_run))
    assert code == 1
    assert err.count("\n") == 1 and words in err
    assert args[0] not in err or args[0] == "secondment_days"


def test_the_console_script_exits_1_with_the_refusal_line(policy_run):
    done = jianfu("cases", "set", "no_such_rule", B, "2026", "--status", "open", "--data-dir", str(policy_run))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "unknown rule" in done.stderr


def test_an_override_with_a_new_version_excludes_events_from_the_old_one(policy_dir, run):
    """campus_activity_semester ends 2026-06-30; from 2026-07-01 a second version allows 10: B's
    seven activities of Feb–Jul are then six under one version and one under the other."""
    text = (SHIPPED_REFERENCE_DIR / "policy_rules.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    old = next(line for line in lines if line.startswith("campus_activity_semester,"))
    ended = old.replace(",2025-10-14,,any,", ",2025-10-14,2026-06-30,any,")
    newer = old.replace(",2025-10-14,,any,", ",2026-07-01,,any,").replace(",semester,6,", ",semester,10,")
    (policy_dir / "reference" / "policy_rules.csv").write_text(
        "\n".join([*[line for line in lines if line != old], ended, newer]) + "\n", encoding="utf-8"
    )
    run(policy_dir)
    assert breaches(policy_dir) == {e for e in EXPECTED if e[0] != "campus_activity_semester"}


def shipped_rules() -> pl.DataFrame:
    return pl.read_csv(SHIPPED_REFERENCE_DIR / "policy_rules.csv", infer_schema=False)


def test_the_shipped_rules_cite_their_sources_and_cover_the_contract():
    rules = read_policy_rules(SHIPPED_REFERENCE_DIR / "policy_rules.csv")
    assert rules.height == 6 and rules["rule_id"].n_unique() == 6
    assert set(rules["measure"]) == {
        "count",
        "same_whitelist_item",
        "without_whitelist",
        "outside_plan",
        "teacher_days",
    }
    for row in rules.iter_rows(named=True):
        assert "教师厅〔2025〕2号" in row["source_zh"] or "白名单" in row["source_zh"]


@pytest.mark.parametrize(
    "column, value, words",
    [
        ("measure", "median", "unknown measure"),
        ("period", "decade", "unknown period"),
        ("scope", "village", "unknown scope"),
        ("kind_filter", "inspection|party", "kind_filter"),
        ("effective_from", "2025-13-01", "effective_from"),
        ("limit", "many", "limit"),
        ("source_zh", "", "source_zh"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_row(column, value, words):
    frame = shipped_rules().with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    with pytest.raises(PolicyRuleError, match=f"row 3.*{words}"):
        validated_rules(frame)


def test_a_bad_rule_override_stops_the_run_in_one_line(data_dir):
    rules = shipped_rules().with_columns(pl.lit("median").alias("measure"))
    rules.write_csv(data_dir / "reference" / "policy_rules.csv")
    done = jianfu_in_process("run", "--data-dir", str(data_dir))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "row 1" in done.stderr and "unknown measure" in done.stderr


def test_overlapping_versions_are_refused():
    rules = shipped_rules()
    with pytest.raises(PolicyRuleError, match="overlaps"):
        validated_rules(pl.concat([rules, rules.head(1)]))


def test_the_pipeline_finds_exactly_the_generated_breaches(demo_set):
    """The generator's planted breaches of every shipped rule are found, its just-inside events are
    not, and its bad rows are quarantined with the manifest's reasons (on the session's demo set)."""
    data_dir = demo_set
    manifest = json.loads((data_dir / "manifest.json").read_text(encoding="utf-8"))["campus_events"]
    found = {(r, s, p, o) for r, s, p, o, _ in breaches(data_dir)}
    assert found == {(b["rule_id"], b["school_code"], b["period"], b["observed"]) for b in manifest["planted_breaches"]}
    inside = {(c["rule_id"], c["school_code"]) for c in manifest["just_inside"]}
    assert not inside & {(r, s) for r, s, *_ in found}
    rejected = query(
        data_dir,
        "select file, row_number, reason from quarantine.rejected_rows "
        "where source = 'campus_event' order by file, row_number",
    )
    assert rejected == [(d["file"], d["row_number"], d["reason"]) for d in manifest["dirty_rows"]]
    assert query(data_dir, "select count(*) from staging.campus_event_staged")[0][0] == manifest["accepted"]
    flagged = query(
        data_dir,
        "select count(*) filter (where flagged), count(*) from marts.event_cross_checks "
        "where check_name = 'school_report_inspections'",
    )[0]
    assert flagged[1] > 100 and flagged[0] <= len(manifest["planted_breaches"]) + len(manifest["just_inside"])

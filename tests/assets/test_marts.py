"""trends, wave_changes, inspection_target and alerts: values against independent computations,
and alerts that fire exactly where they were planted in small hand-built staged data."""

from __future__ import annotations

import itertools
import math

import dagster as dg
import numpy as np
import polars as pl
import pytest
from scipy.stats import false_discovery_control, norm, theilslopes

from assets.ingest import reference_tables, school_report_landing, teacher_survey_landing
from assets.marts import (
    alerts,
    alerts_name_a_league,
    area_metrics,
    inspection_target,
    inspection_target_one_baseline,
    trends,
    trends_consistent,
    wave_changes,
    wave_changes_consistent,
)
from assets.quality import reporting_completeness
from assets.staging import school_report_staged, teacher_survey_staged
from pipelines.resources import REFERENCE_FILES, JianfuResource, MonitoringConfig
from pipelines.warehouse.tables import load_reference

LEVELS = ("primary", "junior", "senior")


def new_warehouse(root) -> JianfuResource:
    """Shipped divisions and items; 4 schools a county and random teacher counts as reference."""
    divisions = pl.read_csv(JianfuResource().reference_path("divisions.csv"), infer_schema=False)
    counties = divisions.filter(pl.col("level") == "county")["code"].to_list()
    rng = np.random.default_rng(11)
    (root / "reference").mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        [
            {
                "school_code": f"{c}{k:03d}",
                "school_name": f"学校{c}{k:03d}",
                "county_code": c,
                "school_type": "小学",
                "urban_rural": "rural",
                "n_teachers": 30,
            }
            for c in counties
            for k in range(1, 5)
        ]
    ).write_csv(root / "reference" / "schools.csv")
    pl.DataFrame(
        [
            {"county_code": c, "school_level": level, "n_teachers": int(rng.integers(50, 900))}
            for c in counties
            for level in LEVELS
        ]
    ).write_csv(root / "reference" / "teacher_population.csv")
    jianfu = JianfuResource(data_dir=str(root))
    with jianfu.connect() as conn:
        load_reference(conn, {name: jianfu.reference_path(name) for name in REFERENCE_FILES})
    return jianfu


def insert(jianfu: JianfuResource, table: str, frame: pl.DataFrame) -> None:
    with jianfu.connect() as conn:
        conn.register("frame", frame)
        conn.execute(f"insert into {table} by name select * from frame")
        conn.unregister("frame")


def read(jianfu: JianfuResource, query: str) -> pl.DataFrame:
    with jianfu.connect(read_only=True) as conn:
        return conn.sql(query).pl()


def run(jianfu: JianfuResource, assets, monitoring: MonitoringConfig | None = None) -> None:
    result = dg.materialize(
        list(assets),
        instance=dg.DagsterInstance.ephemeral(),
        resources={"jianfu": jianfu, "monitoring": monitoring or MonitoringConfig()},
    )
    assert result.success
    for check in result.get_asset_check_evaluations():
        assert check.passed, (check.check_name, check.metadata)


def mart_rows(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows,
        schema={
            "wave": pl.String,
            "area_level": pl.String,
            "area_code": pl.String,
            "metric": pl.String,
            "estimate": pl.Float64,
            "se": pl.Float64,
            "n": pl.Int64,
        },
    )
    return frame.with_columns(pl.col("estimate").is_null().alias("suppressed"))


def mann_kendall(values: list[float]) -> tuple[int, float, float]:
    """S, its tie-corrected variance and the continuity-corrected two-sided p-value."""
    n = len(values)
    s = sum(int(np.sign(values[j] - values[i])) for i in range(n) for j in range(i + 1, n))
    _, tied = np.unique(values, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in tied)) / 18
    z = (s - np.sign(s)) / math.sqrt(var) if var > 0 else 0.0
    return s, var, 2 * norm.sf(abs(z))


TREND_WAVES = [f"{year}-{month:02d}" for year in (2020, 2021, 2022, 2023) for month in (3, 9)]


@pytest.fixture(scope="module")
def trend_warehouse(tmp_path_factory):
    """Random series with ties and suppressed gaps, plus monotone series of both polarities."""
    jianfu = new_warehouse(tmp_path_factory.mktemp("trends"))
    rng = np.random.default_rng(5)
    rows, series = [], {}
    counties = ["150102", "150103", "150104", "150105", "150121"]
    metrics = ["hours_nonteaching", "felt_net", "item_04", "school_inspections_per_school"]
    for county, metric in itertools.product(counties, metrics):
        values = list(rng.integers(0, 5, len(TREND_WAVES)) / 2.0)
        series[(county, metric)] = values
    for metric, step in [("hours_nonteaching", -0.8), ("felt_net", 0.05), ("item_04", 0.03)]:
        series[("150100", metric)] = [10 + step * k + rng.normal(0, 0.005) for k in range(len(TREND_WAVES))]
    for (county, metric), values in series.items():
        gaps = 0 if county == "150100" else int(rng.integers(0, 6))
        hidden = set(rng.choice(len(TREND_WAVES), size=gaps, replace=False))
        for k, wave in enumerate(TREND_WAVES):
            level = "league" if county == "150100" else "county"
            rows.append(
                {
                    "wave": wave,
                    "area_level": level,
                    "area_code": county,
                    "metric": metric,
                    "estimate": None if k in hidden else values[k],
                    "se": 0.1,
                    "n": 50,
                }
            )
    insert(jianfu, "marts.area_metrics", mart_rows(rows))
    run(jianfu, [trends, trends_consistent])
    return jianfu, pl.DataFrame(rows)


def test_trends_match_independent_mann_kendall_and_sen(trend_warehouse):
    jianfu, rows = trend_warehouse
    got = read(jianfu, "select * from marts.trends")
    polarity = {"felt_net": "higher"}
    index = {wave: k + 1 for k, wave in enumerate(TREND_WAVES)}
    expected_cells, expected_p = 0, {}
    for (_level, code, metric), unsorted in rows.filter(pl.col("estimate").is_not_null()).group_by(
        "area_level", "area_code", "metric"
    ):
        group = unsorted.sort("wave")
        trend = got.filter((pl.col("area_code") == code) & (pl.col("metric") == metric))
        if group.height < 3:
            assert trend.height == 0
            continue
        expected_cells += 1
        values = group["estimate"].to_list()
        s, var, p = mann_kendall(values)
        slope = theilslopes(values, [index[w] for w in group["wave"]]).slope
        row = trend.row(0, named=True)
        assert row["n_waves"] == group.height and row["mk_s"] == s
        assert row["var_s"] == pytest.approx(var, rel=1e-12)
        assert row["p_value"] == pytest.approx(p, rel=1e-9, abs=1e-15)
        assert row["slope_per_wave"] == pytest.approx(slope, rel=1e-12, abs=1e-12)
        assert (row["first_wave"], row["last_wave"]) == (group["wave"][0], group["wave"][-1])
        assert (row["first_estimate"], row["last_estimate"]) == (values[0], values[-1])
        expected_p[(code, metric)] = p
    assert got.height == expected_cells
    keys = list(expected_p)
    q_values = dict(zip(keys, false_discovery_control([expected_p[k] for k in keys], method="bh")))
    for row in got.iter_rows(named=True):
        s, q = row["mk_s"], q_values[(row["area_code"], row["metric"])]
        assert row["q_value"] == pytest.approx(q, rel=1e-9)
        better = (s > 0) == (polarity.get(row["metric"], "lower") == "higher")
        assert row["direction"] == ("no_change" if q >= 0.05 or s == 0 else ("improving" if better else "worsening"))
    assert (got["q_value"] < 0.05).sum() >= 3 and (got["p_value"] < 0.05).sum() > (got["q_value"] < 0.05).sum()


def test_trend_directions_follow_polarity(trend_warehouse):
    jianfu, _ = trend_warehouse
    got = read(jianfu, "select metric, direction, polarity from marts.trends where area_code = '150100'")
    directions = dict(zip(got["metric"], got["direction"]))
    assert directions == {"hours_nonteaching": "improving", "felt_net": "improving", "item_04": "worsening"}
    assert dict(zip(got["metric"], got["polarity"]))["felt_net"] == "higher"


def test_wave_changes(tmp_path):
    jianfu = new_warehouse(tmp_path)
    waves = ["2023-06", "2023-12", "2024-06"]
    cells = {
        ("150100", "hours_nonteaching"): ([10.0, 11.0, 11.1], [0.3, 0.4, 0.4]),
        ("150100", "felt_net"): ([0.1, 0.3, 0.1], [0.05, 0.05, 0.05]),
        ("150200", "hours_nonteaching"): ([10.0, None, 9.0], [0.3, None, 0.3]),
        ("150100", "school_inspections_per_school"): ([8.0, 6.0, 6.0], [None, None, None]),
    }
    rows = [
        {
            "wave": wave,
            "area_level": "league",
            "area_code": code,
            "metric": metric,
            "estimate": values[k],
            "se": errors[k],
            "n": 40,
        }
        for (code, metric), (values, errors) in cells.items()
        for k, wave in enumerate(waves)
    ]
    insert(jianfu, "marts.area_metrics", mart_rows(rows))
    run(jianfu, [wave_changes, wave_changes_consistent])
    got = read(jianfu, "select * from marts.wave_changes")
    changes = {(r["area_code"], r["metric"], r["wave"]): r for r in got.iter_rows(named=True)}
    assert got.height == 6  # 150200 has no pair: its middle wave is suppressed

    rise = changes[("150100", "hours_nonteaching", "2023-12")]
    assert rise["previous_wave"] == "2023-06" and rise["change"] == pytest.approx(1.0)
    # Without the waves' design (staging.survey_design) there is no SE of the change, hence no
    # test: a rise is never called significant on the two estimates alone. The stacked-design
    # SE itself is checked against R in tests/estimation/test_uncertainty.py.
    assert rise["se"] is None and rise["p_value"] is None and rise["ci_low"] is None
    assert rise["significant"] is False and rise["direction"] == "no_change"

    schools = changes[("150100", "school_inspections_per_school", "2023-12")]
    assert schools["change"] == -2.0 and schools["p_value"] is None and schools["direction"] == "improving"
    assert changes[("150100", "school_inspections_per_school", "2024-06")]["direction"] == "no_change"


def inspection_rows() -> pl.DataFrame:
    per_school = {
        ("region", "150000"): [None, 8.0, 6.0, 4.0],
        ("league", "150100"): [None, 0.6, 0.5, 0.1 + 0.2],
        ("league", "150200"): [None, 0.0, 1.0, 0.0],
        ("county", "150102"): [None, 5.0, 6.0, 2.6],
    }
    waves = ["2022-06", "2022-12", "2023-06", "2023-12"]
    return mart_rows(
        [
            {
                "wave": wave,
                "area_level": level,
                "area_code": code,
                "metric": "school_inspections_per_school",
                "estimate": values[k],
                "se": None,
                "n": 0 if values[k] is None else 12,
            }
            for (level, code), values in per_school.items()
            for k, wave in enumerate(waves)
        ]
    )


def test_inspection_target(tmp_path):
    jianfu = new_warehouse(tmp_path)
    insert(jianfu, "marts.area_metrics", inspection_rows())
    run(jianfu, [inspection_target, inspection_target_one_baseline])
    got = read(jianfu, "select * from marts.inspection_target")
    rows = {(r["area_code"], r["wave"]): r for r in got.iter_rows(named=True)}
    assert got.height == 16 and set(got["baseline_wave"]) == {"2022-12"}  # the first wave had no reports
    region = rows[("150000", "2023-12")]
    assert region["baseline_per_school"] == 8.0 and region["reduction_pct"] == pytest.approx(0.5)
    assert region["target_met"] is True and region["n_schools"] == 12
    assert rows[("150000", "2023-06")]["target_met"] is False
    hohhot = rows[("150100", "2023-12")]
    assert 1 - (0.1 + 0.2) / 0.6 < 0.5 and hohhot["target_met"] is True  # exact halving in decimal
    assert rows[("150200", "2023-06")]["reduction_pct"] is None and rows[("150200", "2023-06")]["target_met"] is None
    county = rows[("150102", "2023-06")]
    assert county["reduction_pct"] == pytest.approx(-0.2) and county["target_met"] is False
    assert rows[("150000", "2022-06")]["inspections_per_school"] is None


def test_inspection_target_configured_baseline(tmp_path):
    jianfu = new_warehouse(tmp_path)
    insert(jianfu, "marts.area_metrics", inspection_rows())
    run(jianfu, [inspection_target], MonitoringConfig(baseline_wave="2023-06", inspection_reduction_target=0.3))
    got = read(jianfu, "select * from marts.inspection_target where area_code = '150000' order by wave")
    assert set(got["baseline_wave"]) == {"2023-06"}
    reductions = got["reduction_pct"].to_list()
    assert reductions[0] is None and reductions[1:] == pytest.approx([1 - 8 / 6, 0.0, 1 - 4 / 6])
    assert got["target_met"].to_list() == [None, False, False, True]


ALERT_WAVES = ["2021-06", "2021-12", "2022-06", "2022-12", "2023-06", "2023-12", "2024-06", "2024-12"]
PLANTED = {
    ("red_line_item", "150200", "2022-06"),
    ("burden_rebound", "150300", "2023-06"),
    ("inspection_target_missed", "150400", "2024-12"),
    ("paper_reduction", "150500", "2024-12"),
    ("secondment_over_6m", "150600", "2021-12"),
    ("low_completeness", "150700", "2022-12"),
    ("not_felt", "150800", "2024-12"),
}
SCHOOL_SHIFT = {"001": -0.75, "002": 0.75, "003": -0.5, "004": 0.5}


def school_noise(number: str, wave_index: int) -> float:
    """A school-level wobble that cancels within each stratum: stratum means stay as planted,
    but recurring schools differ between waves, so a change has a sampling error."""
    return 0.2 * (wave_index % 2) * (1 if number in ("001", "003") else -1)


def planted_survey(divisions: pl.DataFrame) -> pl.DataFrame:
    """48 teachers a league and wave in its first county, flat everywhere but the planted leagues."""
    leagues = divisions.filter(pl.col("level") == "league")["code"].to_list()
    first_county = divisions.filter(pl.col("level") == "county").group_by("parent_code").agg(pl.col("code").min())
    county_of = dict(zip(first_county["parent_code"], first_county["code"]))
    rows = []
    for w, wave in enumerate(ALERT_WAVES):
        for league in leagues:
            county = county_of[league]
            hours = {"150300": 14.0 if w >= 4 else 10.0, "150800": 12.0 - w}.get(league, 10.0)
            inspections = 3 if league == "150500" else 8 - w
            for number, shift in SCHOOL_SHIFT.items():
                for k in range(12):
                    row = {
                        "wave": wave,
                        "response_id": f"{wave}-{league}-{number}-{k}",
                        "school_code": f"{county}{number}",
                        "county_code": county,
                        "league_code": league,
                        "school_level": "primary" if number in ("001", "002") else "junior",
                        "hours_total": 45.0 + shift,
                        "hours_cat1": hours + shift + (k % 3) - 1 + school_noise(number, w),
                        "hours_cat2": 0.0,
                        "hours_cat3": 0.0,
                        "hours_cat4": 0.0,
                        "hours_cat5": 0.0,
                        "n_inspections": inspections + (number == "002") + k % 3,
                        "felt_change": k % 5 + 1,
                        "focus_on_teaching": (k + 2) % 5 + 1,
                    }
                    row.update({f"item_{i:02d}": 0 for i in range(1, 27)})
                    if (league, w) == ("150200", 2):
                        row["item_03"] = int(k % 3 == 0)
                    rows.append(row)
    return pl.DataFrame(rows)


def planted_reports(schools: pl.DataFrame, divisions: pl.DataFrame) -> pl.DataFrame:
    """Every school reports every wave, inspections 10 → 5, except the planted leagues."""
    league_of = dict(zip(divisions["code"], divisions["parent_code"]))
    rows = []
    for w, wave in enumerate(ALERT_WAVES):
        for position, (school, county) in enumerate(zip(schools["school_code"], schools["county_code"])):
            league = league_of[county]
            if (league, w) == ("150700", 3) and position % 2:
                continue
            inspections = [10, 10, 9, 9, 8, 8, 8, 8][w] if league == "150400" else 10 - w
            seconded = 2 if (league, w) == ("150600", 1) and school.endswith("001") and county == "150602" else 0
            rows.append(
                {
                    "wave": wave,
                    "school_code": school,
                    "county_code": county,
                    "league_code": league,
                    "n_inspections": inspections,
                    "n_campus_events": 1,
                    "n_forms_requests": 3,
                    "n_seconded_over_6m": seconded,
                }
            )
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def alert_warehouse(tmp_path_factory):
    jianfu = new_warehouse(tmp_path_factory.mktemp("alerts"))
    divisions = read(jianfu, "select * from ref.divisions")
    schools = read(jianfu, "select * from ref.schools order by school_code")
    insert(jianfu, "staging.teacher_survey_staged", planted_survey(divisions))
    insert(jianfu, "staging.school_report_staged", planted_reports(schools, divisions))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("waves", ALERT_WAVES)
    resources = {"jianfu": jianfu, "monitoring": MonitoringConfig()}
    for wave in ALERT_WAVES:
        assert dg.materialize(
            [area_metrics, reporting_completeness], partition_key=wave, instance=instance, resources=resources
        ).success
    run(
        jianfu,
        [
            inspection_target,
            wave_changes,
            trends,
            alerts,
            alerts_name_a_league,
            trends_consistent,
            wave_changes_consistent,
            inspection_target_one_baseline,
        ],
    )
    return jianfu


def test_alerts_fire_exactly_where_planted(alert_warehouse):
    got = read(alert_warehouse, "select * from marts.alerts")
    assert set(zip(got["rule"], got["area_code"], got["wave"])) == PLANTED
    assert got.height == len(PLANTED)
    assert (got["area_level"] == "league").all()
    severity = dict(zip(got["rule"], got["severity"]))
    assert {rule for rule, level in severity.items() if level == "high"} == {
        "red_line_item",
        "secondment_over_6m",
        "not_felt",
    }


def test_alert_values_and_messages(alert_warehouse):
    got = read(alert_warehouse, "select * from marts.alerts")
    alert = {r["rule"]: r for r in got.iter_rows(named=True)}
    red = alert["red_line_item"]
    assert red["metric"] == "item_03" and red["value"] == pytest.approx(1 / 3) and red["threshold"] == 0.05
    assert "包头市" in red["message"] and "清单第3条所列情形发生比例" in red["message"]
    assert "33.3%" in red["message"] and "5.0%" in red["message"] and "Baotou" in red["message_en"]
    rebound = alert["burden_rebound"]
    assert rebound["metric"] == "hours_nonteaching" and rebound["value"] == pytest.approx(14.0)
    assert rebound["threshold"] == pytest.approx(10.0) and "乌海市" in rebound["message"]
    missed = alert["inspection_target_missed"]
    assert missed["value"] == pytest.approx(0.2) and missed["threshold"] == 0.5
    assert "赤峰市" in missed["message"] and "减少20.0%" in missed["message"] and "50%" in missed["message"]
    seconded = alert["secondment_over_6m"]
    assert seconded["value"] == 2.0 and "鄂尔多斯市" in seconded["message"] and "2人" in seconded["message"]
    low = alert["low_completeness"]
    assert low["value"] == pytest.approx(0.5) and low["threshold"] == 0.8
    assert "呼伦贝尔市" in low["message"] and "50.0%" in low["message"] and "80%" in low["message"]
    assert "巴彦淖尔市" in alert["not_felt"]["message"] and alert["not_felt"]["metric"] == "felt_net"
    paper = alert["paper_reduction"]
    assert "通辽市" in paper["message"] and paper["metric"] == "n_inspections"
    assert paper["value"] == 0.0 and paper["threshold"] == pytest.approx(0.1 / 2)
    assert "每轮下降10.0%" in paper["message"] and "1/2" in paper["message"]
    tests = read(
        alert_warehouse,
        "select area_code, p_value from marts.wave_changes where area_level = 'league' "
        "and metric = 'hours_nonteaching' and p_value is not null "
        f"and wave = '{rebound['wave']}' order by area_code",
    )
    q = dict(zip(tests["area_code"], false_discovery_control(tests["p_value"].to_numpy(), method="bh")))
    assert tests.height == 12 and rebound["q_value"] == pytest.approx(q[rebound["area_code"]], rel=1e-12)
    assert rebound["p_value"] <= rebound["q_value"] < 0.05
    trend_q = read(
        alert_warehouse, "select area_code, metric, p_value, q_value from marts.trends where area_level = 'league'"
    )
    hours = trend_q.filter((pl.col("area_code") == "150800") & (pl.col("metric") == "hours_nonteaching")).row(
        0, named=True
    )
    assert (alert["not_felt"]["p_value"], alert["not_felt"]["q_value"]) == (hours["p_value"], hours["q_value"])
    assert red["p_value"] is None and red["q_value"] is None, "a threshold on a point estimate rests on no test"


def trend_row(league: str, metric: str, direction: str, slope: float, first: float) -> dict:
    return {
        "area_level": "league",
        "area_code": league,
        "metric": metric,
        "n_waves": 6,
        "first_wave": "2022-06",
        "last_wave": "2024-12",
        "first_estimate": first,
        "last_estimate": first + 5 * slope,
        "slope_per_wave": slope,
        "p_value": 0.4 if direction == "no_change" else 0.01,
        "direction": direction,
        "mk_s": 13 if slope > 0 else -13,
    }


def test_trend_rules_on_hand_built_trends(tmp_path):
    """paper_reduction needs the sources to disagree by consistency_ratio; not_felt needs felt_net flat."""
    jianfu = new_warehouse(tmp_path)
    school, teacher = "school_inspections_per_school", "n_inspections"
    rows = [
        trend_row("150100", school, "improving", -1.0, 10.0),
        trend_row("150100", teacher, "no_change", -0.3, 5.0),
        trend_row("150200", school, "improving", -1.0, 10.0),
        trend_row("150200", teacher, "no_change", -0.1, 5.0),
        trend_row("150300", school, "improving", -1.0, 10.0),
        trend_row("150300", teacher, "worsening", 0.2, 5.0),
        trend_row("150400", school, "improving", -1.0, 10.0),
        trend_row("150400", teacher, "improving", -0.1, 5.0),
        trend_row("150500", school, "no_change", -0.2, 10.0),
        trend_row("150500", teacher, "no_change", 0.0, 5.0),
        trend_row("150600", "hours_nonteaching", "improving", -1.0, 12.0),
        trend_row("150600", "felt_net", "no_change", 0.01, 0.1),
        trend_row("150700", "hours_nonteaching", "improving", -1.0, 12.0),
        trend_row("150700", "felt_net", "improving", 0.1, 0.1),
        trend_row("150800", "hours_nonteaching", "no_change", -0.1, 12.0),
        trend_row("150800", "felt_net", "worsening", -0.1, 0.1),
    ]
    insert(jianfu, "marts.trends", pl.DataFrame(rows))
    insert(
        jianfu,
        "marts.area_metrics",
        mart_rows(
            [
                {
                    "wave": "2024-12",
                    "area_level": "region",
                    "area_code": "150000",
                    "metric": "hours_total",
                    "estimate": 50.0,
                    "se": 1.0,
                    "n": 99,
                }
            ]
        ),
    )
    run(jianfu, [alerts, alerts_name_a_league])
    got = read(jianfu, "select * from marts.alerts order by area_code")
    assert list(zip(got["rule"], got["area_code"], got["wave"])) == [
        ("paper_reduction", "150200", "2024-12"),
        ("paper_reduction", "150300", "2024-12"),
        ("not_felt", "150600", "2024-12"),
    ]
    assert got["value"].to_list()[:2] == pytest.approx([0.02, -0.04])
    assert got["threshold"].to_list()[:2] == pytest.approx([0.05, 0.05])


def test_planted_signals_reach_the_marts(alert_warehouse):
    """The control league (Hohhot) is flat: no significant change and no trend but inspections."""
    changes = read(
        alert_warehouse,
        "select * from marts.wave_changes where area_code = '150100' and metric in ('hours_nonteaching', 'felt_net')",
    )
    assert changes.height == 14 and not changes["significant"].any()
    trend = read(alert_warehouse, "select metric, direction from marts.trends where area_code = '150100'")
    moving = dict(trend.filter(pl.col("direction") != "no_change").iter_rows())
    assert moving == {"n_inspections": "improving", "school_inspections_per_school": "improving"}
    target = read(
        alert_warehouse, "select * from marts.inspection_target where area_level = 'league' and wave = '2024-12'"
    )
    assert dict(zip(target["area_code"], target["target_met"]))["150100"] is True
    assert target.filter(~pl.col("target_met"))["area_code"].to_list() == ["150400"]


def test_generated_data_raises_exactly_the_planted_league_alerts(tmp_path, monkeypatch):
    """End to end on the synthetic set: every planted alert fires and no other league alert does."""
    from pipelines.synthetic.generate import PLANTED, generate

    monkeypatch.setenv("JIANFU_ID_KEY", "test-key-not-secret")
    manifest = generate(tmp_path, teachers=3000, waves=8, seed=2)
    jianfu = JianfuResource(data_dir=str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()
    resources = {"jianfu": jianfu, "monitoring": MonitoringConfig()}
    assert dg.materialize(
        [reference_tables, teacher_survey_landing, school_report_landing], instance=instance, resources=resources
    ).success
    waves, last = manifest["waves"], manifest["waves"][-1]
    for wave in waves:
        assert dg.materialize(
            [teacher_survey_staged, school_report_staged, area_metrics, reporting_completeness],
            partition_key=wave,
            instance=instance,
            resources=resources,
        ).success
    run(jianfu, [inspection_target, wave_changes, trends, alerts])
    leagues = read(jianfu, "select code from ref.divisions where level = 'league'")
    expected = {("red_line_item", PLANTED["red_line_hotspot"]["league"], w) for w in waves}
    expected |= {
        ("secondment_over_6m", PLANTED["seconded_over_6m"]["league"], w)
        for w in waves[PLANTED["seconded_over_6m"]["from_wave_index"] :]
    }
    expected |= {
        ("low_completeness", league, waves[PLANTED["low_completeness_wave"]["wave_index"]])
        for league in leagues["code"]
    }
    expected |= {
        ("burden_rebound", PLANTED["rebound"]["league"], last),
        ("inspection_target_missed", PLANTED["target_missed"]["league"], last),
        ("not_felt", PLANTED["not_felt"]["league"], last),
        ("paper_reduction", PLANTED["paper_reduction"]["league"], last),
    }
    got = read(jianfu, "select rule, area_code, wave, metric from marts.alerts")
    assert set(zip(got["rule"], got["area_code"], got["wave"])) == expected
    assert got.height == len(expected)
    assert set(got.filter(pl.col("rule") == "red_line_item")["metric"]) == {PLANTED["red_line_hotspot"]["item"]}


def test_school_areas_rolls_every_school_up_to_its_county_league_and_region(tmp_path):
    """ref.school_areas against the reference files read by hand, including a school whose county is unknown."""
    jianfu = new_warehouse(tmp_path)
    insert(
        jianfu,
        "ref.schools",
        pl.DataFrame([{"school_code": "X1", "school_name": "x", "county_code": "999999", "n_teachers": 3}]),
    )
    areas = read(jianfu, "select * from ref.school_areas order by school_code")
    divisions = pl.read_csv(JianfuResource().reference_path("divisions.csv"), infer_schema=False)
    names = {r["code"]: r for r in divisions.iter_rows(named=True)}
    assert areas.height == 4 * divisions.filter(pl.col("level") == "county").height + 1
    for row in areas.iter_rows(named=True):
        if row["school_code"] == "X1":
            assert not row["county_listed"] and row["league_code"] is None and row["region_code"] == "150000"
            continue
        county = names[row["county_code"]]
        league = names[county["parent_code"]]
        assert row["county_listed"] and row["league_code"] == county["parent_code"]
        assert league["level"] == "league" and league["parent_code"] == "150000"
        assert (row["county_name_zh"], row["county_name_en"]) == (county["name_zh"], county["name_en"])
        assert (row["league_name_zh"], row["league_name_en"]) == (league["name_zh"], league["name_en"])
        assert (row["region_code"], row["region_name_en"]) == ("150000", "Inner Mongolia Autonomous Region")
    assert areas["league_code"].drop_nulls().n_unique() == 12


def test_a_failed_sql_check_counts_every_offending_row_and_shows_a_bounded_sample(tmp_path):
    """sql/checks/alerts/alerts_name_a_league.sql: 25 alerts about a county fail it; 20 are shown."""
    jianfu = new_warehouse(tmp_path)
    counties = read(jianfu, "select code from ref.divisions where level = 'county' order by code limit 25")
    insert(
        jianfu,
        "marts.alerts",
        counties.select(
            pl.lit("2025-05").alias("wave"),
            pl.lit("completeness").alias("rule"),
            pl.col("code").alias("area_code"),
            pl.lit("消息").alias("message"),
            pl.lit("message").alias("message_en"),
        ),
    )
    result = alerts_name_a_league(jianfu=jianfu)
    assert not result.passed
    assert result.metadata["violations"].value == 25
    sample = result.metadata["sample"].value
    assert len(sample) == 20 and {r["area_code"] for r in sample} <= set(counties["code"])

"""The metric catalogue and monitoring thresholds: names, polarity, labels and units.

SQL reads it from `meta.metrics`, alerts and trends take their polarity from it and the
reports take their labels from it, so a metric's meaning is stated once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from pipelines.catalogue.rules import FDR_LEVEL, MIN_CELL_N, RSE_CAUTION

LOWER_IS_BETTER = "lower"
HIGHER_IS_BETTER = "higher"


@dataclass(frozen=True)
class Metric:
    name: str
    source: str
    kind: str
    polarity: str
    label_zh: str
    label_en: str
    unit_zh: str
    unit_en: str


def _teacher(name, kind, label_zh, label_en, unit_zh, unit_en, polarity=LOWER_IS_BETTER):
    return Metric(name, "teacher_survey", kind, polarity, label_zh, label_en, unit_zh, unit_en)


def _school(name, kind, label_zh, label_en, unit_zh, unit_en):
    return Metric(name, "school_report", kind, LOWER_IS_BETTER, label_zh, label_en, unit_zh, unit_en)


CATEGORY_LABELS = {
    1: ("督查检查评比考核", "Inspections, checks, appraisals"),
    2: ("社会事务进校园", "Social affairs in schools"),
    3: ("填表统计", "Forms and statistics"),
    4: ("抽调借用", "Secondments"),
    5: ("形式主义、官僚主义", "Formalism and bureaucratism"),
}

HOURS = ("小时/周", "hours/week")
SHARE = ("比例", "share")
COUNT = ("次/期", "per period")


def _catalogue() -> list[Metric]:
    m = [
        _teacher("hours_total", "mean", "周工作时长", "Weekly working hours", *HOURS),
        _teacher("hours_nonteaching", "mean", "周非教学负担时长", "Weekly non-teaching hours", *HOURS),
    ]
    m += [
        _teacher(f"hours_cat{i}", "mean", f"非教学时长：{zh}", f"Non-teaching hours: {en}", *HOURS)
        for i, (zh, en) in CATEGORY_LABELS.items()
    ]
    m += [
        _teacher("nonteaching_share", "ratio", "非教学时长占比", "Non-teaching share of hours", *SHARE),
        _teacher(
            "felt_lighter_share",
            "share",
            "感到负担减轻的比例",
            "Share feeling a lighter burden",
            *SHARE,
            polarity=HIGHER_IS_BETTER,
        ),
        _teacher("felt_heavier_share", "share", "感到负担加重的比例", "Share feeling a heavier burden", *SHARE),
        _teacher(
            "felt_net",
            "share",
            "减负获得感净值（减轻−加重）",
            "Net felt reduction (lighter − heavier)",
            *SHARE,
            polarity=HIGHER_IS_BETTER,
        ),
        _teacher(
            "focus_share",
            "share",
            "能够潜心教学的比例",
            "Share able to focus on teaching",
            *SHARE,
            polarity=HIGHER_IS_BETTER,
        ),
    ]
    m += [
        _teacher(f"item_{i:02d}", "share", f"清单第{i}条所列情形发生比例", f"Share experiencing list item {i}", *SHARE)
        for i in range(1, 27)
    ]
    m += [
        _teacher("n_inspections", "mean", "教师经历的督查检查次数", "Inspections experienced by teachers", *COUNT),
        _teacher("n_forms", "mean", "教师填报表格次数", "Forms filled by teachers", *COUNT),
        _teacher("n_app_tasks", "mean", "APP任务次数", "App tasks", *COUNT),
        _teacher("n_nonteaching_meetings", "mean", "非教学会议次数", "Non-teaching meetings", *COUNT),
        _teacher("n_invigilations", "mean", "社会考试监考次数", "Social-exam invigilations", *COUNT),
        _teacher("days_seconded", "mean", "被抽调借用天数", "Days seconded", "天/期", "days per period"),
        _teacher(
            "training_hours_nonteaching",
            "mean",
            "非教学培训时长",
            "Non-teaching training hours",
            "小时/期",
            "hours per period",
        ),
        _school("school_inspections_per_school", "per_school", "校均督查检查次数", "Inspections per school", *COUNT),
        _school(
            "school_campus_events_per_school", "per_school", "校均进校园活动次数", "Campus events per school", *COUNT
        ),
        _school("school_forms_per_school", "per_school", "校均填表要求次数", "Form requests per school", *COUNT),
        _school(
            "school_seconded_over_6m",
            "total",
            "借用超过半年的教师人数",
            "Teachers seconded over six months",
            "人",
            "teachers",
        ),
    ]
    return m


METRICS: tuple[Metric, ...] = tuple(_catalogue())
METRIC_BY_NAME = {m.name: m for m in METRICS}


def metric_columns(metric: Metric) -> tuple[str, ...]:
    """The landing columns a teacher metric is computed from: without them it is "not collected"."""
    hours = tuple(f"hours_cat{i}" for i in CATEGORY_LABELS)
    derived = {
        "hours_nonteaching": hours,
        "nonteaching_share": (*hours, "hours_total"),
        "felt_lighter_share": ("felt_change",),
        "felt_heavier_share": ("felt_change",),
        "felt_net": ("felt_change",),
        "focus_share": ("focus_on_teaching",),
    }
    return derived.get(metric.name, (metric.name,))


def metric_column_rows() -> list[tuple[str, str]]:
    """Rows of `meta.metric_columns` for the teacher metrics."""
    return [(m.name, c) for m in METRICS if m.source == "teacher_survey" for c in metric_columns(m)]


def metric_rows() -> list[tuple]:
    """Rows of `meta.metrics`."""
    return [tuple(getattr(m, f.name) for f in fields(Metric)) for m in METRICS]


@dataclass(frozen=True)
class Thresholds:
    """Monitoring thresholds MonitoringConfig overrides per deployment; the statistical ones
    take their defaults from `pipelines.catalogue.rules`, where each is written once. `significance` is
    the level tests are judged at (on Benjamini–Hochberg q-values for trends and test-based
    alerts). `z` no longer enters any mart — intervals use t and Korn–Graubard quantiles with
    the domain's degrees of freedom — and stays so that existing deployment configs still load."""

    min_cell_n: int = MIN_CELL_N
    rse_caution: float = RSE_CAUTION
    z: float = 1.96
    significance: float = FDR_LEVEL
    min_waves_for_trend: int = 3
    red_line_share: float = 0.05
    completeness_min: float = 0.80
    inspection_reduction_target: float = 0.50
    consistency_ratio: float = 4.0
    paper_reduction_ratio: float = 2.0
    report_due_days: int = 10
    outlier_score: float = 3.5
    outlier_min_history: int = 3
    outlier_min_peers: int = 5

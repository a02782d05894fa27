"""The one declarative table of landing-column rules (teacher survey, school report, campus events).

Staging SQL reads it from `meta.column_rules`, the Great Expectations suites are built
from it, and the reports describe rejections with it: a rule is written here only.
"""

from __future__ import annotations

from dataclasses import dataclass

TEACHER_SURVEY = "teacher_survey"
SCHOOL_REPORT = "school_report"
CAMPUS_EVENT = "campus_event"
SOURCES = (TEACHER_SURVEY, SCHOOL_REPORT, CAMPUS_EVENT)
WAVE_SOURCES = (TEACHER_SURVEY, SCHOOL_REPORT)
"""Sources whose rows carry a survey wave; their waves are the Dagster partitions. Campus events
are dated: their landing key is the month of event_date and they are staged all at once."""

WAVE_PATTERN = r"[0-9]{4}-(0[1-9]|1[0-2])"
SCHOOL_LEVELS = ("primary", "junior", "senior")
HOURS_MAX = 112.0
N_ITEMS = 26

MAX_REASON_LENGTH = 200
"""Every rejection reason (file or row) is one line of at most this many characters."""
TEXT_MAX_LENGTH = 256
"""A text value longer than this is malformed: no contract text column holds a paragraph."""
UNREADABLE_CELL = "#NO_CACHED_VALUE!"
"""What the XLSX reader puts where a formula has no cached value."""
UNREADABLE_CELL_VALUES = (
    "#NULL!",
    "#DIV/0!",
    "#VALUE!",
    "#REF!",
    "#NAME?",
    "#NUM!",
    "#N/A",
    "#GETTING_DATA",
    UNREADABLE_CELL,
)
"""Spreadsheet error values: malformed in every column, whatever its kind."""
NON_METRIC_OPTIONAL_COLUMNS = ("teacher_id", "seconds_taken")
"""Optional columns whose absence is not a metric "not collected"."""


@dataclass(frozen=True)
class ColumnRule:
    """What a landing column must hold; `kind` is its staged type."""

    source: str
    column: str
    kind: str
    required: bool = False
    min_value: float | None = None
    max_value: float | None = None
    allowed: tuple[str, ...] = ()
    unique_in_wave: bool = False
    pseudonymised: bool = False
    references_school: bool = False
    latest_wins: bool = False


def _teacher_rules() -> list[ColumnRule]:
    s = TEACHER_SURVEY
    rules = [
        ColumnRule(s, "wave", "wave", required=True),
        ColumnRule(s, "response_id", "text", required=True, unique_in_wave=True),
        ColumnRule(s, "school_code", "text", required=True, references_school=True),
        ColumnRule(s, "school_level", "text", required=True, allowed=SCHOOL_LEVELS),
        ColumnRule(s, "submitted_at", "timestamp", required=True),
    ]
    hours = ["hours_total", "hours_teaching", "hours_teaching_related"]
    hours += [f"hours_cat{i}" for i in range(1, 6)]
    rules += [ColumnRule(s, c, "number", min_value=0.0, max_value=HOURS_MAX) for c in hours]
    counts = ["n_inspections", "n_forms", "n_app_tasks", "n_nonteaching_meetings", "n_invigilations", "days_seconded"]
    rules += [ColumnRule(s, c, "integer", min_value=0.0) for c in counts]
    rules.append(ColumnRule(s, "training_hours_nonteaching", "number", min_value=0.0))
    rules += [ColumnRule(s, f"item_{i:02d}", "integer", allowed=("0", "1")) for i in range(1, N_ITEMS + 1)]
    rules += [ColumnRule(s, c, "integer", min_value=1.0, max_value=5.0) for c in ("felt_change", "focus_on_teaching")]
    rules.append(ColumnRule(s, "teacher_id", "text", pseudonymised=True))
    rules.append(ColumnRule(s, "seconds_taken", "integer", min_value=0.0))
    return rules


def _school_rules() -> list[ColumnRule]:
    s = SCHOOL_REPORT
    rules = [
        ColumnRule(s, "wave", "wave", required=True),
        ColumnRule(s, "school_code", "text", required=True, references_school=True, unique_in_wave=True),
        ColumnRule(s, "reported_at", "timestamp", required=True, latest_wins=True),
    ]
    counts = [
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
    ]
    rules += [ColumnRule(s, c, "integer", min_value=0.0) for c in counts]
    return rules


EVENT_KINDS = (
    "comprehensive_inspection",
    "inspection",
    "check",
    "appraisal",
    "assessment",
    "campus_activity",
    "survey_task",
    "meeting",
    "secondment",
)
ORGANISER_LEVELS = ("national", "region", "league", "county", "township", "other")
INSPECTION_KINDS = ("comprehensive_inspection", "inspection", "check", "appraisal", "assessment")
"""Event kinds a school report's n_inspections counts: the cross-check compares the two."""
DATE_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


def _campus_event_rules() -> list[ColumnRule]:
    s = CAMPUS_EVENT
    return [
        ColumnRule(s, "event_id", "text", required=True, unique_in_wave=True),
        ColumnRule(s, "school_code", "text", required=True, references_school=True),
        ColumnRule(s, "event_date", "date", required=True),
        ColumnRule(s, "kind", "text", required=True, allowed=EVENT_KINDS),
        ColumnRule(s, "organiser_level", "text", required=True, allowed=ORGANISER_LEVELS),
        ColumnRule(s, "whitelist_item", "text"),
        ColumnRule(s, "in_annual_plan", "integer", required=True, allowed=("0", "1")),
        ColumnRule(s, "teacher_days", "integer", min_value=0.0),
    ]


COLUMN_RULES: tuple[ColumnRule, ...] = tuple(_teacher_rules() + _school_rules() + _campus_event_rules())


def wave_column(source: str) -> str:
    """The landing column a row's wave key comes from: `wave`, or the month of a campus event's date."""
    return "event_date" if source == CAMPUS_EVENT else "wave"


def rules_for(source: str) -> list[ColumnRule]:
    return [r for r in COLUMN_RULES if r.source == source]


def contract_columns(source: str) -> list[str]:
    """Landing columns kept for `source`, in contract order; everything else is dropped."""
    return [r.column for r in rules_for(source)]


def required_columns(source: str) -> list[str]:
    return [r.column for r in rules_for(source) if r.required]


def rule_rows() -> list[tuple]:
    """Rows of `meta.column_rules`, in the order violations are reported."""
    return [
        (
            r.source,
            r.column,
            position,
            r.kind,
            r.required,
            r.min_value,
            r.max_value,
            list(r.allowed),
            {"wave": WAVE_PATTERN, "date": DATE_PATTERN}.get(r.kind),
            r.unique_in_wave,
            r.references_school,
            r.pseudonymised,
        )
        for position, r in enumerate(COLUMN_RULES)
    ]


REASON_CODES = {
    "missing": ("必填值缺失", "required value missing"),
    "malformed": ("格式错误", "malformed value"),
    "not_allowed": ("取值不在允许范围", "value not allowed"),
    "out_of_range": ("数值超出范围", "value out of range"),
    "unknown_school": ("学校代码不存在", "unknown school"),
    "duplicate_response_id": ("同一轮次答卷编号重复", "response_id repeats within the wave"),
    "superseded": ("被同校同轮次更晚的报告取代", "superseded by a later report"),
    "malformed_row": ("该行字段数与表头不符", "row has a different number of fields than the header"),
    "future_wave": ("轮次晚于本次运行所在月份", "wave is later than the month of the run"),
    "duplicate_event_id": ("活动编号重复（保留最早一行）", "event_id repeats an earlier row"),
    "future_date": ("日期晚于本次运行所在月份", "date is later than the month of the run"),
    "excluded_flag": ("按配置排除的答卷质量标记", "removed from the estimates by a configured respondent-quality flag"),
}

MIN_CELL_N = 10
"""A teacher cell with fewer respondents than this is suppressed (primary suppression)."""
MIN_SUPPRESSED_TOTAL = 10
"""Complementary suppression goes on within a parent until its suppressed members hold this many respondents."""
RSE_CAUTION = 0.30
"""A relative standard error at or above this makes a published estimate 'caution'."""
DF_CAUTION = 8
"""Fewer design degrees of freedom than this make a published estimate 'caution'."""
DF_MIN = 1
"""Fewer design degrees of freedom than this leave a cell without an interval ('unreliable')."""
CONFIDENCE = 0.95
"""The level of every published interval."""
FDR_LEVEL = 0.05
"""Benjamini–Hochberg level: a trend direction or a test-based alert needs q_value below it."""
CANCELLATION = 1e-10
"""A variance sum within this fraction of its terms' size is rounding noise of an exact 0."""


def bounded(reason: str) -> str:
    """A reason as one line of at most MAX_REASON_LENGTH characters."""
    line = " ".join(str(reason).split())
    return line if len(line) <= MAX_REASON_LENGTH else line[: MAX_REASON_LENGTH - 1] + "…"


EVENT_WINDOW_MONTHS = 6
"""The months of campus events a wave's school report and survey speak for (the waves are semi-annual)."""
EVENT_COUNT_TOLERANCE = 1
"""A school report's n_inspections may differ from its registered inspection events by this much unflagged."""
PAPER_MIN_INSPECTIONS = 2.0
"""Teachers' mean n_inspections at or above this, with no inspection event registered: paper compliance."""
PAPER_MIN_ITEM_SHARE = 0.5
"""Share of teachers reporting campus events held at will (item_11) at or above this, with no activity registered."""


STAGED_TYPES = {"wave": "varchar", "text": "varchar", "timestamp": "timestamp", "date": "date", "number": "double"}
"""The staged type of each rule kind but `integer` (see staged_type)."""


def staged_type(rule: ColumnRule) -> str:
    """A column's staged type: an integer code or bounded scale fits `integer`, an unbounded count takes `bigint`."""
    if rule.kind == "integer":
        return "integer" if rule.allowed or rule.max_value is not None else "bigint"
    return STAGED_TYPES[rule.kind]


def staged_column(rule: ColumnRule) -> str:
    """A column's staged name: a pseudonymised `<x>_id` is staged as `<x>_pseudonym`, never under its own name."""
    return rule.column.removesuffix("_id") + "_pseudonym" if rule.pseudonymised else rule.column

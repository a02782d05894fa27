"""Synthetic campus events (contract section 11): a register that agrees with the school reports,
a planted breach of every shipped policy rule, events just inside every cap, and a few bad rows.

The background never breaches a cap: per school at most two campus activities per six-month
window (so at most four in any semester), each with a white-list item not used before in that
calendar year, inspections always in the annual plan and never comprehensive, secondments of
at most 150 days. Its inspection-kind events per school and wave window equal the school's
(latest) reported n_inspections, so the cross-check flags only what the planted events add.
Planted schools get no background campus activities, so their counts are exactly the planted ones.
The background is drawn into compact code arrays and written as text a chunk of schools at a time,
so a register of any size stays in bounded memory.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from pipelines.catalogue.rules import CAMPUS_EVENT, EVENT_WINDOW_MONTHS, contract_columns

BACKGROUND_INSPECTION_KINDS = ("inspection", "check", "appraisal", "assessment")
BACKGROUND_ORGANISERS = ("region", "league", "county", "township")
OTHER_KINDS = ("survey_task", "meeting")
FILE_NAME = "campus_events.csv"
BAD_FILE_NAME = "campus_events_corrections.csv"


def _month_start(wave: str, back: int) -> dt.date:
    year, month = int(wave[:4]), int(wave[5:]) - back
    while month <= 0:
        month, year = month + 12, year - 1
    return dt.date(year, month, 1)


def _window_days(wave: str) -> tuple[int, int]:
    """The wave's window as epoch days [first, last]: the EVENT_WINDOW_MONTHS months ending with its month."""
    first = _month_start(wave, EVENT_WINDOW_MONTHS - 1)
    following = _month_start(wave, -1)
    epoch = dt.date(1970, 1, 1)
    return (first - epoch).days, (following - epoch).days - 1


def _latest_reports(school_frames: list[pl.DataFrame], known: set[str]) -> pl.DataFrame:
    """(wave, school_code, n_inspections) of the report that wins per school and wave."""
    frames = [f.select("wave", "school_code", "reported_at", "n_inspections") for f in school_frames]
    if not frames:
        return pl.DataFrame(schema={"wave": pl.String, "school_code": pl.String, "n_inspections": pl.Int64})
    reports = pl.concat(frames).filter(
        pl.col("school_code").is_in(list(known))
        & pl.col("n_inspections").str.contains(r"^[0-9]+$")
        & pl.col("reported_at").str.to_datetime(strict=False).is_not_null()
    )
    return (
        reports.sort("reported_at")
        .group_by("wave", "school_code")
        .last()
        .select("wave", "school_code", pl.col("n_inspections").cast(pl.Int64))
    )


def _event(
    event_id: str,
    school: str,
    date: str,
    kind: str,
    organiser: str = "county",
    item: str = "",
    plan: int = 1,
    days: str = "",
) -> dict[str, str]:
    return {
        "event_id": event_id,
        "school_code": school,
        "event_date": date,
        "kind": kind,
        "organiser_level": organiser,
        "whitelist_item": item,
        "in_annual_plan": str(plan),
        "teacher_days": days,
    }


def _planted(schools: list[str]) -> tuple[list[dict], list[dict], list[dict]]:
    """(events, breaches expected, just-inside cases) for schools P1..P6, Q1..Q6 and E1."""
    p, q, e = schools[:6], schools[6:12], schools[12]
    events = [
        _event("PL-CI-1", p[0], "2026-03-10", "comprehensive_inspection", "county"),
        _event("PL-CI-2", p[0], "2026-09-10", "comprehensive_inspection", "league"),
        *[
            _event(f"PL-CA-{i}", p[1], d, "campus_activity", item=f"白名单事项P{i}")
            for i, d in enumerate(
                ["2026-02-05", "2026-03-05", "2026-04-05", "2026-05-05", "2026-06-05", "2026-07-05", "2026-07-31"]
            )
        ],
        _event("PL-WL-1", p[2], "2026-03-01", "campus_activity", item="白名单事项A"),
        _event("PL-WL-2", p[2], "2026-10-01", "campus_activity", item="白名单事项A"),
        _event("PL-NW-1", p[3], "2026-04-01", "campus_activity", item=""),
        _event("PL-OP-1", p[4], "2026-05-05", "check", plan=0),
        _event("PL-SE-1", p[5], "2026-03-01", "secondment", days="200"),
        _event("IN-CI-1", q[0], "2025-12-15", "comprehensive_inspection", "county"),
        _event("IN-CI-2", q[0], "2026-01-15", "comprehensive_inspection", "region"),
        *[
            _event(f"IN-CA-{i}", q[1], d, "campus_activity", item=f"白名单事项Q{i}")
            for i, d in enumerate(["2026-08-01", "2026-08-20", "2026-09-10", "2026-09-30", "2026-10-20", "2026-11-10"])
        ],
        _event("IN-WL-1", q[2], "2025-12-15", "campus_activity", item="白名单事项B"),
        _event("IN-WL-2", q[2], "2026-01-15", "campus_activity", item="白名单事项B"),
        _event("IN-CI-3", q[3], "2026-05-01", "comprehensive_inspection", "township"),
        _event("IN-OP-1", q[4], "2026-05-05", "meeting", plan=0),
        _event("IN-SE-1", q[5], "2026-03-01", "secondment", days="183"),
        _event("EX-CI-1", e, "2025-03-01", "comprehensive_inspection", "county"),
        _event("EX-CI-2", e, "2025-06-01", "comprehensive_inspection", "county"),
    ]
    breaches = [
        {"rule_id": "comprehensive_inspection_yearly", "school_code": p[0], "period": "2026", "observed": 2},
        {"rule_id": "campus_activity_semester", "school_code": p[1], "period": "2025-2026-2", "observed": 7},
        {"rule_id": "whitelist_item_yearly", "school_code": p[2], "period": "2026", "observed": 2},
        {"rule_id": "campus_activity_whitelisted", "school_code": p[3], "period": "2026", "observed": 1},
        {"rule_id": "inspection_in_annual_plan", "school_code": p[4], "period": "2026", "observed": 1},
        {"rule_id": "secondment_days", "school_code": p[5], "period": "2026", "observed": 200},
    ]
    inside = [
        {"rule_id": "comprehensive_inspection_yearly", "school_code": q[0], "why": "one in 2025-12, one in 2026-01"},
        {"rule_id": "campus_activity_semester", "school_code": q[1], "why": "six in 2026-2027-1"},
        {"rule_id": "whitelist_item_yearly", "school_code": q[2], "why": "one item in 2025-12 and in 2026-01"},
        {"rule_id": "comprehensive_inspection_yearly", "school_code": q[3], "why": "township organiser: out of scope"},
        {"rule_id": "inspection_in_annual_plan", "school_code": q[4], "why": "a meeting outside the plan"},
        {"rule_id": "secondment_days", "school_code": q[5], "why": "exactly 183 days"},
        {"rule_id": "comprehensive_inspection_yearly", "school_code": e, "why": "two before the rule took effect"},
    ]
    return events, breaches, inside


KIND_NAMES = tuple(sorted({*BACKGROUND_INSPECTION_KINDS, "campus_activity", *OTHER_KINDS, "secondment"}))
"""Kinds coded in their text order, so sorting by code sorts by the text."""
SCHOOLS_PER_CHUNK = 20_000


class _Background:
    """Background events as compact code arrays in generation order (school index, day, kind, organiser, days)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.pending: list[tuple[np.ndarray, ...]] = []

    def add(
        self, school: int, days: np.ndarray, kinds: np.ndarray, organisers: np.ndarray, teacher_days: int = -1
    ) -> None:
        n = days.size
        self.pending.append(
            (
                np.full(n, school, dtype=np.int32),
                days.astype(np.int32),
                kinds.astype(np.int8),
                organisers.astype(np.int8),
                np.full(n, teacher_days, dtype=np.int16),
            )
        )
        if len(self.pending) >= 4096:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.parts.append(tuple(np.concatenate(column) for column in zip(*self.pending)))
            self.pending = []

    def sorted_columns(self) -> tuple[np.ndarray, ...]:
        """The columns ordered by school, date, kind, then generation order (a stable sort)."""
        self._flush()
        columns = tuple(np.concatenate(column) for column in zip(*self.parts))
        self.parts = []
        school, day, kind = columns[:3]
        order = np.lexsort((np.arange(school.size), kind, day, school))
        return tuple(column[order] for column in columns)


def _inspection_counts(reports: pl.DataFrame, codes: list[str], wave: str) -> np.ndarray:
    """The latest reported n_inspections per school (in `codes` order) for one wave, 0 where none."""
    index = pl.DataFrame({"school_code": codes}).with_row_index("i")
    found = index.join(reports.filter(pl.col("wave") == wave), on="school_code")
    counts = np.zeros(len(codes), dtype=np.int64)
    counts[found["i"].to_numpy()] = found["n_inspections"].to_numpy()
    return counts


def _background(
    rng: np.random.Generator, reports: pl.DataFrame, codes: list[str], waves: list[str], planted: set[str]
) -> _Background:
    """Draw every school's background events, wave by wave, into compact arrays."""
    background = _Background()
    kind_code = {kind: KIND_NAMES.index(kind) for kind in KIND_NAMES}
    inspection_codes = np.array([kind_code[k] for k in BACKGROUND_INSPECTION_KINDS])
    other_codes = np.array([kind_code[k] for k in OTHER_KINDS])
    activity = kind_code["campus_activity"]
    for wave in waves:
        first, last = _window_days(wave)
        counts = _inspection_counts(reports, codes, wave).tolist()
        for i, school in enumerate(codes):
            activities = 0 if school in planted else int(rng.integers(0, 3))
            others = int(rng.integers(0, 2))
            kinds = np.concatenate(
                [
                    inspection_codes[rng.integers(0, 4, counts[i])],
                    np.full(activities, activity),
                    other_codes[rng.integers(0, 2, others)],
                ]
            )
            days = np.sort(rng.integers(first, last + 1, kinds.size))
            organisers = rng.integers(0, len(BACKGROUND_ORGANISERS), kinds.size)
            background.add(i, days, kinds, organisers)
        if wave == waves[-1]:
            position = {code: i for i, code in enumerate(codes)}
            for school in rng.choice([c for c in codes if c not in planted], 20, replace=False):
                seconded = int(rng.integers(10, 151))
                county = np.array([BACKGROUND_ORGANISERS.index("county")])
                kind = np.array([kind_code["secondment"]])
                background.add(position[str(school)], np.array([first + 10]), kind, county, seconded)
    return background


def _background_frame(columns: tuple[np.ndarray, ...], codes: pl.Series, first_row: int) -> pl.DataFrame:
    """Rows of whole schools as contract text: white-list items counted per school, year and kind;
    ids count on from `first_row`."""
    school, day, kind, organiser, teacher_days = columns
    frame = pl.DataFrame(
        {
            "school_code": codes.gather(school),
            "event_date": pl.Series(day, dtype=pl.Int32).cast(pl.Date).dt.to_string("%Y-%m-%d"),
            "kind": pl.Series(KIND_NAMES).gather(kind),
            "organiser_level": pl.Series(BACKGROUND_ORGANISERS).gather(organiser),
            "in_annual_plan": pl.Series(["1"]).new_from_index(0, school.size),
            "teacher_days": pl.Series(teacher_days).cast(pl.String).replace("-1", ""),
        }
    )
    year = frame["event_date"].str.slice(0, 4)
    used = frame.with_columns(year.alias("year")).with_columns(
        pl.when(pl.col("kind") == "campus_activity")
        .then(pl.format("白名单事项{}", pl.col("kind").cum_count().over("school_code", "year", "kind")))
        .otherwise(pl.lit(""))
        .alias("whitelist_item")
    )
    numbers = pl.Series(np.arange(first_row, first_row + school.size)).cast(pl.String).str.zfill(7)
    return used.drop("year").with_columns((pl.lit("EV") + numbers).alias("event_id"))


def _write_background(background: _Background, codes: list[str], handle: BinaryIO, columns: list[str]) -> int:
    """Append the sorted background a chunk of whole schools at a time (header first); return the rows."""
    sorted_columns = background.sorted_columns()
    school = sorted_columns[0]
    code_series = pl.Series(codes)
    rows = 0
    for start in range(0, len(codes), SCHOOLS_PER_CHUNK):
        low, high = np.searchsorted(school, [start, start + SCHOOLS_PER_CHUNK])
        part = tuple(column[low:high] for column in sorted_columns)
        frame = _background_frame(part, code_series, rows)
        frame.select(columns).write_csv(handle, include_header=start == 0)
        rows += frame.height
    return rows


def _bad_rows(codes: list[str]) -> tuple[list[dict], list[dict]]:
    """Rows the pipeline must quarantine, with their reasons, in a second file."""
    bad = [
        (_event("EV0000001", codes[0], "2026-06-01", "inspection"), "duplicate_event_id"),
        (_event("BAD-1", "1599999999", "2026-06-01", "inspection"), "unknown_school"),
        (_event("BAD-2", codes[1], "2026-06-01", "娱乐活动"), "not_allowed:kind"),
        (_event("BAD-3", codes[1], "2026-06-31", "inspection"), "malformed:event_date"),
        (_event("BAD-4", codes[1], "2026-06-01", "secondment", days="半年"), "malformed:teacher_days"),
    ]
    rows = [row for row, _ in bad]
    dirty = [{"file": BAD_FILE_NAME, "row_number": i, "reason": reason} for i, (_, reason) in enumerate(bad, start=1)]
    return rows, dirty


def write_campus_events(
    rng: np.random.Generator,
    schools: pl.DataFrame,
    waves: list[str],
    school_frames: list[pl.DataFrame],
    landing_dir: Path,
) -> dict:
    """Write landing/campus_event/ and return the manifest's `campus_events` section."""
    codes = sorted(schools["school_code"].to_list())
    chosen = [str(c) for c in rng.choice(codes, 13, replace=False)]
    planted_events, breaches, inside = _planted(chosen)
    reports = _latest_reports(school_frames, set(codes))
    background = _background(rng, reports, codes, waves, set(chosen))
    bad, dirty = _bad_rows(codes)
    folder = landing_dir / CAMPUS_EVENT
    folder.mkdir(parents=True, exist_ok=True)
    columns = contract_columns(CAMPUS_EVENT)
    with (folder / FILE_NAME).open("wb") as handle:
        accepted = _write_background(background, codes, handle, columns)
        planted = pl.DataFrame(planted_events, schema=dict.fromkeys(columns, pl.String))
        planted.write_csv(handle, include_header=False)
    accepted += planted.height
    pl.DataFrame(bad, schema=dict.fromkeys(columns, pl.String)).write_csv(folder / BAD_FILE_NAME)
    return {
        "files": [FILE_NAME, BAD_FILE_NAME],
        "rows": accepted + len(bad),
        "accepted": accepted,
        "planted_breaches": breaches,
        "just_inside": inside,
        "dirty_rows": dirty,
    }

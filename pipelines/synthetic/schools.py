"""School reports: one per reporting school and wave, counts from persistent school bases thinned by
each league's planted reduction, plus broken reports and superseded drafts with known reasons.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from pipelines.synthetic.defects import SCHOOL_DEFECTS, SUPERSEDED, _epoch_seconds, _set_row
from pipelines.synthetic.design import Design
from pipelines.synthetic.spec import (
    PLANTED,
    SCHOOL_COUNT_COLUMNS,
    SCHOOL_FORMATS,
    SCHOOL_REPORT,
    SUPERSEDED_PER_WAVE,
    Landing,
    Wave,
    _format_timestamps,
)
from pipelines.synthetic.teachers import _rows, _text, _timestamps
from pipelines.synthetic.writers import _file_name, landing_format


def _reporting_schools(rng: np.random.Generator, design: Design, wave: Wave) -> np.ndarray:
    """Schools that file a valid report: about 65% per league in the planted wave, else at least 96%."""
    spec = PLANTED["low_completeness_wave"]
    chosen = []
    for league in range(len(design.leagues)):
        members = np.flatnonzero(design.school_league == league)
        if wave.index == spec["wave_index"]:
            k = round(members.size * rng.uniform(spec["reporting_share"] - 0.03, spec["reporting_share"] + 0.03))
        else:
            floor = math.ceil(members.size * spec["other_waves_min_share"])
            k = max(floor, round(members.size * rng.uniform(spec["other_waves_min_share"] + 0.005, 1.0)))
        chosen.append(rng.choice(members, min(k, members.size), replace=False))
    return np.sort(np.concatenate(chosen))


def _seconded_over_6m(rng: np.random.Generator, design: Design, wave: Wave, schools: np.ndarray) -> np.ndarray:
    """Zero everywhere except a handful of the planted league's schools from the planted wave on."""
    spec = PLANTED["seconded_over_6m"]
    over = np.zeros(schools.size, dtype=np.int64)
    if wave.index >= spec["from_wave_index"]:
        candidates = np.flatnonzero(design.school_league[schools] == design.league_index(spec["league"]))
        picked = rng.choice(candidates, min(spec["schools_per_wave"], candidates.size), replace=False)
        low, high = spec["per_school"]
        over[picked] = rng.integers(low, high + 1, picked.size)
    return over


def _school_values(
    rng: np.random.Generator, design: Design, wave: Wave, schools: np.ndarray, valid: bool
) -> dict[str, np.ndarray]:
    """Report counts from persistent school bases thinned by the league's planted reduction."""
    p, bases, staff = design.progress(wave), design.school_bases, design.schools["n_teachers"].to_numpy()[schools]
    factor = design.school_inspection_factor[design.school_league[schools], wave.index]
    inspections = rng.binomial(bases["inspections"][schools], factor)
    events = rng.binomial(bases["events"][schools], 1 - 0.3 * p)
    forms = rng.binomial(bases["forms"][schools], 1 - 0.4 * p)
    over = _seconded_over_6m(rng, design, wave, schools) if valid else np.zeros(schools.size, dtype=np.int64)
    return {
        "n_teachers_on_staff": staff,
        "n_inspections": inspections,
        "n_inspections_unapproved": rng.binomial(inspections, 0.30 - 0.2 * p),
        "n_campus_events": events,
        "n_campus_events_unlisted": rng.binomial(events, 0.25 - 0.15 * p),
        "n_forms_requests": forms,
        "n_forms_duplicate": rng.binomial(forms, 0.30 - 0.15 * p),
        "n_teachers_seconded": rng.poisson(0.2 + staff / 300) + over,
        "n_seconded_over_6m": over,
        "n_nonteaching_meetings": rng.binomial(bases["meetings"][schools], 1 - 0.35 * p),
        "n_social_exams": rng.poisson(2.0 * (1 - 0.2 * p), schools.size),
    }


def _school_frame(
    rng: np.random.Generator, design: Design, wave: Wave, schools: np.ndarray, valid: bool
) -> pl.DataFrame:
    """Reports as text; valid ones are filed after the month's first days, leaving room for drafts."""
    values = _school_values(rng, design, wave, schools, valid)
    earliest = 0.1 if valid else 0.0
    columns = {
        "wave": pl.Series([wave.label] * schools.size),
        "school_code": design.schools["school_code"].gather(schools),
        "reported_at": _format_timestamps(_timestamps(rng, wave, schools.size, earliest)),
        **{name: _text(values[name]) for name in SCHOOL_COUNT_COLUMNS},
        "school_name": design.schools["school_name"].gather(schools),
    }
    return pl.DataFrame([series.alias(name) for name, series in columns.items()])


def _superseded_drafts(rng: np.random.Generator, valid: pl.DataFrame, wave: Wave) -> pl.DataFrame:
    """Earlier drafts of some valid reports, with slightly different counts."""
    drafts = _rows(valid, np.sort(rng.choice(valid.height, SUPERSEDED_PER_WAVE, replace=False)))
    final = _epoch_seconds(drafts["reported_at"]).astype(np.int64)
    earlier = wave.start + (rng.random(drafts.height) * (final - wave.start - 3600)).astype(np.int64)
    return drafts.with_columns(
        _format_timestamps(earlier).alias("reported_at"),
        (pl.col("n_inspections").cast(pl.Int64) + 1).cast(pl.String),
        (pl.col("n_forms_requests").cast(pl.Int64) + 2).cast(pl.String),
    )


def _school_wave_landing(rng: np.random.Generator, design: Design, wave: Wave) -> Landing:
    """Valid reports, broken reports from schools that did not otherwise report, and drafts."""
    reporting = _reporting_schools(rng, design, wave)
    silent = np.setdiff1d(np.arange(design.schools.height), reporting)
    pool = silent if silent.size >= len(SCHOOL_DEFECTS) else np.arange(design.schools.height)
    valid = _school_frame(rng, design, wave, reporting, valid=True)
    broken_schools = np.sort(rng.choice(pool, len(SCHOOL_DEFECTS), replace=False))
    broken = _school_frame(rng, design, wave, broken_schools, valid=False)
    for row, defect in enumerate(SCHOOL_DEFECTS):
        spoiled = {defect.column: defect.planted_value(wave.label, broken["school_code"][row])}
        if defect.reason == "unknown_school":
            spoiled["school_name"] = None
        broken = _set_row(broken, row, spoiled)
    drafts = _superseded_drafts(rng, valid, wave)
    frame = pl.concat([valid, broken, drafts])
    reasons = [None] * valid.height + [d.reason for d in SCHOOL_DEFECTS] + [SUPERSEDED] * drafts.height
    order = rng.permutation(frame.height)
    fmt = landing_format(SCHOOL_FORMATS[wave.index % len(SCHOOL_FORMATS)], frame.height)
    dirty: list[tuple[int, str | None, str]] = [
        (position + 1, wave.label, reasons[row]) for position, row in enumerate(order.tolist()) if reasons[row]
    ]
    return Landing(SCHOOL_REPORT, _file_name(SCHOOL_REPORT, wave, fmt), fmt, _rows(frame, order), dirty)

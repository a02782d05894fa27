"""Everything fixed for a data set before any wave is drawn: league trends, school effects, the panel.

The monitoring panel is a sample of 8-25 staff per school and level while the register can
supply the requested size that way; beyond that it becomes a census of the panel schools'
staff (`census=True`), over a register grown by `pipelines.synthetic.growth`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.synthetic.register import Reference, school_levels
from pipelines.synthetic.spec import (
    DEFAULT_TREND,
    LEVEL_NONTEACHING,
    LEVELS,
    LIKERT_CUTS,
    N_ITEMS,
    PLANTED,
    REFERENCE_SEED,
    Wave,
    _wave,
    wave_labels,
)


@dataclass(frozen=True)
class Design:
    """Everything fixed for a data set before any wave is drawn; trend arrays are league x wave."""

    schools: pl.DataFrame
    waves: list[Wave]
    teachers: int
    leagues: list[str]
    school_league: np.ndarray
    school_effect: np.ndarray
    panel: dict[str, np.ndarray]
    school_bases: dict[str, np.ndarray]
    nonteaching: np.ndarray
    level_offset: np.ndarray
    felt_latent: np.ndarray
    school_inspection_factor: np.ndarray
    teacher_inspection_factor: np.ndarray
    teacher_inspection_base: np.ndarray
    item_base: np.ndarray
    red_line: np.ndarray

    def progress(self, wave: Wave) -> float:
        """0 at the first wave, 1 at the last: planted reductions are reached linearly."""
        return wave.index / max(len(self.waves) - 1, 1)

    def league_index(self, code: str) -> int:
        return self.leagues.index(code)


Sample = dict[str, np.ndarray]
"""Respondents of one wave: school index, staff slot and level index, aligned arrays."""


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _felt_net(mu: float) -> float:
    """Expected felt_net of a latent N(mu, 1) cut at LIKERT_CUTS."""
    return _normal_cdf(mu - LIKERT_CUTS[2]) - _normal_cdf(LIKERT_CUTS[1] - mu)


def _latent_for_felt_net(target: float) -> float:
    """Invert _felt_net by bisection, so trends can be planted on the felt_net scale."""
    low, high = -4.0, 4.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if _felt_net(mid) < target else (low, mid)
    return (low + high) / 2


def _planted_for(league: str) -> dict:
    """Every planted parameter that applies to one league, merged."""
    merged: dict = {}
    for spec in PLANTED.values():
        if spec.get("league") == league:
            merged.update(spec)
    return merged


def _league_trend(rng: np.random.Generator, league: str, n_waves: int) -> dict[str, np.ndarray | float]:
    """Expected population-weighted league values per wave, planted or default."""
    planted = _planted_for(league)
    spec = {**DEFAULT_TREND, **planted}
    t = np.arange(n_waves, dtype=float)
    progress = t / max(n_waves - 1, 1)
    jitter = 0.0 if "hours_nonteaching_start" in planted else rng.uniform(-0.5, 0.5)
    nonteaching = spec["hours_nonteaching_start"] + jitter + spec["hours_nonteaching_per_wave"] * t
    felt_net = spec["felt_net_start"] + rng.uniform(-0.05, 0.05) + spec["felt_net_per_wave"] * t
    if "last_wave_jump_hours" in spec and n_waves >= 2:
        nonteaching[-1] = nonteaching[-2] + spec["last_wave_jump_hours"]
        felt_net[-1] = felt_net[-2] - spec["last_wave_felt_net_drop"]
    reduction = spec["school_inspections_reduction"]
    school_reduction = rng.uniform(*reduction) if isinstance(reduction, tuple) else reduction
    return {
        "nonteaching": nonteaching,
        "felt_latent": np.array([_latent_for_felt_net(v) for v in felt_net]),
        "school_inspection_factor": 1.0 - school_reduction * progress,
        "teacher_inspection_factor": 1.0 - spec.get("teacher_inspections_reduction", school_reduction) * progress,
        "teacher_inspection_base": rng.uniform(3.8, 5.2),
    }


def _level_offsets(units: pl.DataFrame, leagues: list[str]) -> np.ndarray:
    """Level effects on non-teaching hours, centred so the weighted league mean hits its trend."""
    offsets = np.zeros((len(leagues), len(LEVELS)))
    for i, league in enumerate(leagues):
        by_level = units.filter(pl.col("league") == league).group_by("level_order").agg(pl.col("n_level").sum())
        share = np.zeros(len(LEVELS))
        share[by_level["level_order"].to_numpy()] = by_level["n_level"].to_numpy()
        offsets[i] = LEVEL_NONTEACHING - LEVEL_NONTEACHING @ share / share.sum()
    return offsets


def _item_base(reference_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per-item base rates (fixed across seeds): 5-30% for ordinary items, at most 1% for red lines."""
    items = pl.read_csv(reference_dir / "burden_items.csv", infer_schema=False).sort(pl.col("item_no").cast(pl.Int64))
    red_line = items["red_line"].str.to_lowercase().is_in(["true", "1", "yes", "t"]).to_numpy()
    rng = np.random.default_rng(REFERENCE_SEED + 1)
    ordinary, red = rng.uniform(0.05, 0.30, N_ITEMS), rng.uniform(0.003, 0.010, N_ITEMS)
    return np.where(red_line, red, ordinary), red_line


def _build_design(
    rng: np.random.Generator,
    reference: Reference,
    reference_dir: Path,
    n_waves: int,
    teachers: int,
    census: bool = False,
) -> Design:
    """Draw the per-seed parameters: league trends, school effects and bases, the sample panel."""
    divisions = reference.divisions
    counties = divisions.filter(pl.col("level") == "county")
    league_of_county = dict(zip(counties["code"], counties["parent_code"]))
    leagues = divisions.filter(pl.col("level") == "league")["code"].sort().to_list()
    schools = reference.schools
    units = school_levels(schools).with_columns(pl.col("county_code").replace_strict(league_of_county).alias("league"))
    trends = [_league_trend(rng, league, n_waves) for league in leagues]
    item_base, red_line = _item_base(reference_dir)
    staff = schools["n_teachers"].to_numpy()
    return Design(
        schools=schools,
        waves=[_wave(i, label) for i, label in enumerate(wave_labels(n_waves))],
        teachers=teachers,
        leagues=leagues,
        school_league=np.array([leagues.index(league_of_county[c]) for c in schools["county_code"]]),
        school_effect=rng.normal(0.0, 1.5, schools.height),
        panel=_monitoring_panel(rng, units, leagues, teachers, census),
        school_bases={
            "inspections": rng.gamma(25.0, 11.0 / 25.0, schools.height).round().astype(np.int64),
            "events": rng.poisson(6.0, schools.height) + 1,
            "forms": rng.poisson(24.0 + staff / 20.0),
            "meetings": rng.poisson(7.0, schools.height) + 1,
        },
        nonteaching=np.stack([t["nonteaching"] for t in trends]),
        level_offset=_level_offsets(units, leagues),
        felt_latent=np.stack([t["felt_latent"] for t in trends]),
        school_inspection_factor=np.stack([t["school_inspection_factor"] for t in trends]),
        teacher_inspection_factor=np.stack([t["teacher_inspection_factor"] for t in trends]),
        teacher_inspection_base=np.array([t["teacher_inspection_base"] for t in trends]),
        item_base=item_base,
        red_line=red_line,
    )


def _stratum_targets(units: pl.DataFrame, teachers: int) -> pl.DataFrame:
    """Respondents wanted per (league, level): unequal rates so that weights matter."""
    spec = PLANTED["unequal_sampling"]
    strata = units.group_by("league", "school_level").agg(pl.col("n_level").sum().alias("N"))
    rate = pl.col("school_level").replace_strict(spec["level_rate"], return_dtype=pl.Float64) * pl.when(
        pl.col("league").is_in(spec["oversampled_leagues"])
    ).then(spec["league_rate"]).otherwise(1.0)
    strata = strata.with_columns((pl.col("N") * rate).alias("pull")).sort("league", "school_level")
    return strata.with_columns((pl.col("pull") / pl.col("pull").sum() * teachers).alias("target"))


def _monitoring_panel(
    rng: np.random.Generator, units: pl.DataFrame, leagues: list[str], teachers: int, census: bool = False
) -> dict[str, np.ndarray]:
    """Monitoring schools fixed for the whole series: a random order per stratum, 8-25 staff each
    (every teacher of the level when `census`).

    Keeping the same schools from wave to wave stops the school effect from masking the
    planted trends, as a real monitoring panel of sample schools would.
    """
    targets = _stratum_targets(units, teachers)
    league_index = pl.col("league").replace_strict({code: i for i, code in enumerate(leagues)})
    panel = (
        units.join(targets.select("league", "school_level", "target"), on=["league", "school_level"])
        .sort("school_index", "level_order")
        .with_columns(
            pl.Series("draw", rng.random(units.height)),
            pl.min_horizontal(pl.Series("size", rng.integers(8, 26, units.height)), "n_level").alias("size"),
            pl.lit(census).alias("census"),
            (league_index * len(LEVELS) + pl.col("level_order")).alias("stratum"),
        )
        .with_columns(pl.when("census").then("n_level").otherwise("size").alias("size"))
        .sort("stratum", "draw")
        .with_columns((pl.col("size").cum_sum().over("stratum") - pl.col("size")).alias("before"))
        .filter(pl.col("before") < pl.col("target") * 1.1)
    )
    keep = ("stratum", "school_index", "level_order", "slot_offset", "n_level", "size", "before", "target")
    return {name: panel[name].to_numpy() for name in keep}


def _sample_units(rng: np.random.Generator, design: Design) -> dict[str, np.ndarray]:
    """This wave's respondents per (school, level): the panel units needed to reach a jittered target.

    Each unit answers with `size` consecutive staff slots from a random `start`; rows are only
    made from these arrays chunk by chunk (`expand_units`).
    """
    panel = design.panel
    jitter = rng.uniform(0.97, 1.03, len(design.leagues) * len(LEVELS))
    wanted = np.maximum(1, np.round(panel["target"] * jitter[panel["stratum"]]))
    chosen = panel["before"] < wanted
    trimmed = np.maximum(np.minimum(panel["size"], wanted - panel["before"]), np.minimum(8, panel["size"]))
    n_level = panel["n_level"][chosen]
    return {
        "school": panel["school_index"][chosen],
        "slot_offset": panel["slot_offset"][chosen],
        "level": panel["level_order"][chosen],
        "n_level": n_level,
        "size": trimmed[chosen].astype(np.int64),
        "start": rng.integers(0, n_level),
    }


def unit_chunks(size: np.ndarray, rows: int) -> list[slice]:
    """Consecutive runs of units holding about `rows` respondents each (at least one unit per run)."""
    ends = np.cumsum(size)
    chunks, first = [], 0
    while first < size.size:
        base = ends[first - 1] if first else 0
        last = max(first + 1, int(np.searchsorted(ends, base + rows, side="right")))
        chunks.append(slice(first, last))
        first = last
    return chunks


def expand_units(units: dict[str, np.ndarray], part: slice) -> Sample:
    """Respondents of some units: school index, staff slot and level index, aligned arrays."""
    size, n_level = units["size"][part], units["n_level"][part]
    start = np.repeat(units["start"][part], size)
    within = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
    return {
        "school": np.repeat(units["school"][part], size),
        "slot": np.repeat(units["slot_offset"][part], size) + (start + within) % np.repeat(n_level, size),
        "level": np.repeat(units["level"][part], size),
    }


def _sample_respondents(rng: np.random.Generator, design: Design) -> Sample:
    """This wave's respondents, all at once (small sets and the coverage simulation)."""
    units = _sample_units(rng, design)
    return expand_units(units, slice(0, units["size"].size))

"""A school register large enough for the requested number of responses per wave.

The shipped register (about 3,000 schools, 230,000 teachers) supplies a sample of 8-25 staff
per school and level up to a few thousand responses per wave. Beyond that the panel surveys
every teacher of its schools, and past what the register holds, each league gets new schools
in its own counties, drawn with the shipped mix of urban/town/rural areas, school types and
sizes, with codes that continue the county's sequence (0001-8999; 9xxx stays free for the
planted unknown schools). The teacher population is rebuilt from the grown register, so it
always covers the respondents.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import polars as pl

from pipelines.synthetic.design import _stratum_targets
from pipelines.synthetic.register import (
    NAME_SUFFIX,
    SCHOOL_SIZE,
    SCHOOL_TYPE_MIX,
    SCHOOL_TYPES,
    URBAN_RURAL,
    URBAN_RURAL_BY_COUNTY_KIND,
    Reference,
    _chinese_ordinal,
    _county_kind,
    build_population,
    school_levels,
    staff_size_scale,
)
from pipelines.synthetic.spec import REFERENCE_SEED

SAMPLE_SHORTFALL = 0.01
"""The panel keeps its 8-25-staff sample while the strata it cannot fill lack at most this share of
the requested total (as at the default 6,000, where the smallest senior strata fall a few short)."""
CENSUS_MARGIN = 1.15
"""A grown stratum holds this multiple of its target: room for the ±3% wave jitter and whole schools."""
LAST_SEQUENCE = 8999
MAX_ROUNDS = 30


def _expected_sample(n_level: pl.Expr) -> pl.Expr:
    """E[min(U, n)] for U uniform on 8..25: the mean staff a panel unit contributes."""
    terms = [pl.min_horizontal(pl.lit(u), n_level) for u in range(8, 26)]
    return pl.sum_horizontal(terms) / len(terms)


def _strata(schools: pl.DataFrame, league_of_county: dict[str, str], teachers: int) -> pl.DataFrame:
    """Per (league, level): population N, expected sample capacity, and target respondents."""
    units = school_levels(schools).with_columns(pl.col("county_code").replace_strict(league_of_county).alias("league"))
    capacity = units.group_by("league", "school_level").agg(_expected_sample(pl.col("n_level")).sum().alias("sample"))
    return _stratum_targets(units, teachers).join(capacity, on=["league", "school_level"])


def _new_county_schools(
    rng: np.random.Generator, county: dict, first: int, n: int, ordinals: dict, scale: float
) -> pl.DataFrame:
    """`n` more schools of one county, numbered from `first`, drawn like the shipped ones."""
    kind = _county_kind(county["name_zh"])
    areas = rng.choice(np.array(URBAN_RURAL), size=n, p=URBAN_RURAL_BY_COUNTY_KIND[kind])
    types = np.empty(n, dtype=object)
    for area in URBAN_RURAL:
        mask = areas == area
        types[mask] = rng.choice(np.array(SCHOOL_TYPES), size=int(mask.sum()), p=SCHOOL_TYPE_MIX[area])
    mongolian = (rng.random(n) < 0.15) & county["name_zh"].endswith("旗")
    base = np.array([SCHOOL_SIZE[t][URBAN_RURAL.index(a)] for t, a in zip(types, areas)], dtype=float)
    staff = np.clip(np.round(base * rng.lognormal(0.0, 0.35, n) * scale), 8, 999).astype(np.int64)
    names = []
    for school_type, mongol in zip(types, mongolian.tolist()):
        suffix = NAME_SUFFIX[school_type]
        ordinals[(suffix, mongol)] = ordinals.get((suffix, mongol), 0) + 1
        ordinal = _chinese_ordinal(ordinals[(suffix, mongol)])
        names.append(f"{county['name_zh']}{'蒙古族' if mongol else ''}第{ordinal}{suffix}")
    return pl.DataFrame(
        {
            "school_code": [f"{county['code']}{first + i:04d}" for i in range(n)],
            "school_name": names,
            "county_code": [county["code"]] * n,
            "school_type": types.astype(str),
            "urban_rural": areas.astype(str),
            "n_teachers": staff,
        }
    )


class CountySequences:
    """Per county: schools so far, and the ordinals already used in names, to continue both."""

    def __init__(self, schools: pl.DataFrame, counties: pl.DataFrame):
        self.counties = {row["code"]: row for row in counties.iter_rows(named=True)}
        self.count = dict(schools.group_by("county_code").len().iter_rows())
        self.ordinals: dict[str, dict] = {code: {} for code in self.counties}
        for code, kind, name in schools.select("county_code", "school_type", "school_name").iter_rows():
            key = (NAME_SUFFIX[kind], "蒙古族" in name)
            self.ordinals[code][key] = self.ordinals[code].get(key, 0) + 1

    def free(self, code: str) -> int:
        return LAST_SEQUENCE - self.count.get(code, 0)


def _grow_league(
    rng: np.random.Generator,
    sequences: CountySequences,
    league: str,
    existing: pl.DataFrame,
    wanted: int,
    scale: float,
) -> list[pl.DataFrame]:
    """About `wanted` more teachers in a league, spread over its counties like its schools are;
    fewer where the counties' school codes run out."""
    per_county = existing.group_by("county_code").agg(pl.len().alias("schools"))
    per_county = per_county.sort("county_code")
    mean_staff = float(cast(float, existing["n_teachers"].mean()))
    new_schools = math.ceil(wanted / mean_staff)
    shares = per_county["schools"].to_numpy() / per_county["schools"].sum()
    counts = np.ceil(shares * new_schools).astype(np.int64)
    codes = per_county["county_code"].to_list()
    free = np.array([sequences.free(code) for code in codes])
    overflow = int(np.maximum(counts - free, 0).sum())
    counts = np.minimum(counts, free)
    for county in np.argsort(counts - free, kind="stable"):
        extra = min(int(free[county] - counts[county]), overflow)
        counts[county] += extra
        overflow -= extra
    frames = []
    for code, n in zip(codes, counts.tolist()):
        if n > 0:
            first = sequences.count.get(code, 0) + 1
            frames.append(_new_county_schools(rng, sequences.counties[code], first, n, sequences.ordinals[code], scale))
            sequences.count[code] = first - 1 + n
    return frames


def plan_register(reference: Reference, teachers: int) -> tuple[Reference, bool, dict]:
    """The register and panel kind for `teachers` responses per wave, and what was done (for the manifest).

    Returns (reference, census, note): the shipped reference and census False when its sample
    suffices; else census True over a register grown until every stratum holds CENSUS_MARGIN
    times its target. A stratum's target over its population is the same multiple of the
    total sampling pull in every league, so every league grows by the same factor (keeping
    the league mix) until its counties' codes run out, and the others take the rest.
    """
    divisions = reference.divisions
    counties = divisions.filter(pl.col("level") == "county")
    league_of_county = dict(zip(counties["code"], counties["parent_code"]))
    schools = reference.schools
    strata = _strata(schools, league_of_county, teachers)
    note: dict[str, Any] = {
        "grown": False,
        "panel": "sample",
        "shipped_schools": schools.height,
        "shipped_teachers": int(schools["n_teachers"].sum()),
    }
    shortfall = (strata["target"] - strata["sample"]).clip(lower_bound=0).sum()
    if shortfall <= SAMPLE_SHORTFALL * teachers:
        return reference, False, {**note, "schools": schools.height, "teachers": note["shipped_teachers"]}
    rng = np.random.default_rng(REFERENCE_SEED + 2)
    scale = staff_size_scale(divisions)
    sequences = CountySequences(schools, counties)
    for _ in range(MAX_ROUNDS):
        ratio = float(cast(float, (strata["target"] * CENSUS_MARGIN / strata["N"]).max()))
        if ratio <= 1:
            break
        league_schools = schools.with_columns(pl.col("county_code").replace_strict(league_of_county).alias("league"))
        added = []
        for league, population in strata.group_by("league").agg(pl.col("N").sum()).sort("league").iter_rows():
            wanted = math.ceil((ratio - 1) * population * 1.02) + 1
            existing = league_schools.filter(pl.col("league") == league).drop("league")
            added += _grow_league(rng, sequences, league, existing, wanted, scale)
        if not added:
            raise ValueError(
                f"{teachers:,} responses per wave need more schools than the county school codes "
                f"hold ({LAST_SEQUENCE} per county); ask for fewer"
            )
        schools = pl.concat([schools, *added])
        strata = _strata(schools, league_of_county, teachers)
    else:
        raise ValueError("the school register did not converge; ask for fewer teachers per wave")
    schools = schools.sort("school_code")
    grown = Reference(divisions, schools, build_population(schools))
    return (
        grown,
        True,
        {
            **note,
            "grown": schools.height > note["shipped_schools"],
            "panel": "census",
            "schools": schools.height,
            "teachers": int(schools["n_teachers"].sum()),
        },
    )

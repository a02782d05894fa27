"""The synthetic school register and teacher population, drawn from a fixed seed of their own.

Every generated data set of the default size shares the shipped reference files;
`pipelines.synthetic.growth` extends the register when a requested size needs more teachers.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from pipelines.synthetic.spec import LEVEL_ORDER, LEVELS, REFERENCE_SEED, SHIPPED_REFERENCE_DIR

LEAGUE_SCHOOLS = {
    "150100": 360,
    "150200": 310,
    "150300": 55,
    "150400": 500,
    "150500": 380,
    "150600": 270,
    "150700": 300,
    "150800": 230,
    "150900": 280,
    "152200": 150,
    "152500": 190,
    "152900": 40,
}

SMALL_COUNTIES = frozenset({"150205", "150206", "150603", "150703", "152202", "152501", "152922", "152923"})

TOTAL_TEACHERS = 230_000

URBAN_RURAL = ("urban", "town", "rural")

URBAN_RURAL_BY_COUNTY_KIND = {"district": (0.80, 0.15, 0.05), "city": (0.55, 0.30, 0.15), "banner": (0.10, 0.40, 0.50)}

SCHOOL_TYPES = ("primary", "junior", "senior", "nine_year", "complete")

SCHOOL_TYPE_MIX = {
    "urban": (0.55, 0.18, 0.12, 0.05, 0.10),
    "town": (0.50, 0.22, 0.08, 0.13, 0.07),
    "rural": (0.62, 0.08, 0.00, 0.30, 0.00),
}

SCHOOL_SIZE = {
    "primary": (75, 45, 20),
    "junior": (95, 70, 35),
    "senior": (170, 130, 90),
    "nine_year": (90, 60, 30),
    "complete": (150, 110, 70),
}

NAME_SUFFIX = {"primary": "小学", "junior": "中学", "senior": "中学", "nine_year": "学校", "complete": "中学"}

CHINESE_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class Reference:
    divisions: pl.DataFrame
    schools: pl.DataFrame
    population: pl.DataFrame


def _chinese_ordinal(n: int) -> str:
    if n < 10:
        return CHINESE_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else CHINESE_DIGITS[tens]) + "十" + (CHINESE_DIGITS[ones] if ones else "")
    return str(n)


def _county_kind(name_zh: str) -> str:
    if name_zh.endswith("区"):
        return "district"
    return "city" if name_zh.endswith("市") else "banner"


def _gbk_safe(text: str) -> bool:
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _county_school_counts(rng: np.random.Generator, counties: pl.DataFrame) -> np.ndarray:
    """Each league's schools spread over its counties: districts get more, tiny ones few."""
    kind_weight = {"district": 1.6, "city": 1.3, "banner": 1.0}
    weights = np.array(
        [
            0.3 if code in SMALL_COUNTIES else kind_weight[_county_kind(name)]
            for code, name in zip(counties["code"], counties["name_zh"])
        ]
    ) * rng.lognormal(0.0, 0.3, counties.height)
    counts = np.zeros(counties.height, dtype=np.int64)
    parents = counties["parent_code"].to_numpy()
    for league, total in LEAGUE_SCHOOLS.items():
        mask = parents == league
        if mask.any():
            counts[mask] = np.maximum(3, np.round(total * weights[mask] / weights[mask].sum()))
    return counts


def _county_schools(rng: np.random.Generator, code: str, name: str, n: int) -> list[dict]:
    """One county's schools; the first three make sure every level is taught there."""
    areas = rng.choice(URBAN_RURAL, size=n, p=URBAN_RURAL_BY_COUNTY_KIND[_county_kind(name)])
    if areas[0] == "rural":
        areas[0] = "town"
    types = [str(rng.choice(SCHOOL_TYPES, p=SCHOOL_TYPE_MIX[area])) for area in areas]
    types[:3] = ["senior", "junior", "primary"]
    mongolian = (rng.random(n) < 0.15) & name.endswith("旗")
    mongolian[0] = False
    ordinals: dict[tuple[str, bool], int] = {}
    schools = []
    for i, (kind, area, mongol) in enumerate(zip(types, areas, mongolian.tolist())):
        suffix = NAME_SUFFIX[kind]
        ordinals[(suffix, mongol)] = ordinals.get((suffix, mongol), 0) + 1
        schools.append(
            {
                "school_code": f"{code}{i + 1:04d}",
                "school_name": f"{name}{'蒙古族' if mongol else ''}第{_chinese_ordinal(ordinals[(suffix, mongol)])}{suffix}",
                "county_code": code,
                "school_type": kind,
                "urban_rural": str(area),
                "size": SCHOOL_SIZE[kind][URBAN_RURAL.index(area)] * rng.lognormal(0.0, 0.35),
            }
        )
    return schools


def _drawn_schools(divisions: pl.DataFrame) -> tuple[pl.DataFrame, float]:
    """The register with raw sizes, and the factor that scales them to TOTAL_TEACHERS."""
    rng = np.random.default_rng(REFERENCE_SEED)
    counties = divisions.filter(pl.col("level") == "county").sort("code")
    rows = []
    for code, name, n in zip(counties["code"], counties["name_zh"], _county_school_counts(rng, counties)):
        rows += _county_schools(rng, code, name, int(n))
    schools = pl.DataFrame(rows)
    return schools, TOTAL_TEACHERS / cast(float, schools["size"].sum())


def staff_size_scale(divisions: pl.DataFrame) -> float:
    """Teachers per unit of drawn size in the shipped register: new schools are scaled alike."""
    return _drawn_schools(divisions)[1]


def build_schools(divisions: pl.DataFrame) -> pl.DataFrame:
    """The synthetic school register, drawn from REFERENCE_SEED only."""
    schools, scale = _drawn_schools(divisions)
    schools = schools.with_columns(
        (pl.col("size") * scale).round().cast(pl.Int64).clip(8, 999).alias("n_teachers")
    ).drop("size")
    not_gbk = [n for n in schools["school_name"] if not _gbk_safe(n)]
    if not_gbk:
        raise ValueError(f"school names must be GBK-encodable: {not_gbk[:3]}")
    return schools


def school_levels(schools: pl.DataFrame) -> pl.DataFrame:
    """Teachers per (school, level) with the school's staff-slot range for that level.

    Nine-year schools split 60/40 primary/junior, complete schools 50/50 junior/senior.
    """
    n, kind = pl.col("n_teachers"), pl.col("school_type")
    nine_primary = (n * 0.6).round().cast(pl.Int64)
    complete_junior = (n * 0.5).round().cast(pl.Int64)
    wide = schools.with_row_index("school_index").with_columns(
        pl.when(kind == "primary").then(n).when(kind == "nine_year").then(nine_primary).otherwise(0).alias("primary"),
        pl.when(kind == "junior")
        .then(n)
        .when(kind == "nine_year")
        .then(n - nine_primary)
        .when(kind == "complete")
        .then(complete_junior)
        .otherwise(0)
        .alias("junior"),
        pl.when(kind == "senior")
        .then(n)
        .when(kind == "complete")
        .then(n - complete_junior)
        .otherwise(0)
        .alias("senior"),
    )
    long = wide.unpivot(
        index=["school_index", "school_code", "county_code"],
        on=list(LEVELS),
        variable_name="school_level",
        value_name="n_level",
    )
    return (
        long.with_columns(pl.col("school_level").replace_strict(LEVEL_ORDER).alias("level_order"))
        .sort("school_index", "level_order")
        .with_columns((pl.col("n_level").cum_sum().over("school_index") - pl.col("n_level")).alias("slot_offset"))
        .filter(pl.col("n_level") > 0)
    )


def build_population(schools: pl.DataFrame) -> pl.DataFrame:
    """Headcount per (county, level) summed from the register, so weights and schools agree."""
    return (
        school_levels(schools)
        .group_by("county_code", "school_level", "level_order")
        .agg(pl.col("n_level").sum().alias("n_teachers"))
        .sort("county_code", "level_order")
        .select("county_code", "school_level", "n_teachers")
    )


def build_reference(reference_dir: Path) -> Reference:
    """Divisions as given; schools and population generated from them."""
    divisions = pl.read_csv(reference_dir / "divisions.csv", infer_schema=False)
    schools = build_schools(divisions)
    return Reference(divisions, schools, build_population(schools))


def write_reference(reference: Reference, source_dir: Path, target_dir: Path) -> None:
    """Copy the hand-written reference files and write the generated ones."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in ("divisions.csv", "burden_items.csv"):
        if (source_dir / name).resolve() != (target_dir / name).resolve():
            shutil.copyfile(source_dir / name, target_dir / name)
    (target_dir / "schools.csv").write_bytes(reference.schools.write_csv().encode("utf-8"))
    (target_dir / "teacher_population.csv").write_bytes(reference.population.write_csv().encode("utf-8"))


def write_shipped_reference(reference_dir: Path = SHIPPED_REFERENCE_DIR) -> None:
    """Regenerate data/reference/schools.csv and teacher_population.csv in place."""
    write_reference(build_reference(reference_dir), reference_dir, reference_dir)

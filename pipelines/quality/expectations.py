"""Great Expectations suites built from the rule table and the marts' invariants, run on frames.

Every staged-column expectation is generated from `pipelines.catalogue.rules.COLUMN_RULES`, so a rule
is still written once. GX's SQL datasource returns empty results on DuckDB (GX issues 10738
and 11579), so suites run on pandas frames converted from Polars: the marts' suites on every row,
one bounded batch at a time (batches are hash buckets of the unique key, so uniqueness holds
across them); the staged suites as exact DuckDB counts plus a fixed-size sample (`staged`).
"""

from __future__ import annotations

import math
import shutil
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa

from pipelines.catalogue.metrics import METRICS, Thresholds
from pipelines.catalogue.rules import SOURCES, WAVE_PATTERN, ColumnRule, rules_for

BATCH_ROWS = 200_000
SAMPLE_SIZE = 0
"""Unexpected values quoted per failure: none, since a staged value is a landing cell; no message may quote one."""
PSEUDONYM_PATTERN = r"^[0-9a-f]{64}$"
KIND_DTYPES = {
    "wave": "str",
    "text": "str",
    "timestamp": "datetime64",
    "date": "datetime64",
    "number": "float64",
    "integer": "Int64",
}
STAGED_SAMPLE_ROWS = 5_000
"""Rows GX validates per staged scope (a wave, or all campus events): fixed, whatever the table's size."""
EXACT_TYPES = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_be_unique",
)
"""Staged expectations counted in DuckDB over every row of the scope: every rule the staging enforces."""
EXACT_NOTE = "精确 exact: violations counted by DuckDB over every row of the scope"
SAMPLED_NOTE = f"抽样 sampled: checked by GX on a stratified sample of at most {STAGED_SAMPLE_ROWS} rows per scope"
AREA_LEVELS = ("region", "league", "county")
SCHOOL_CODES_PARAMETER = "school_codes"
DATA_DOCS_SITE = "jianfu"


def _gx():
    """great_expectations, imported on first use: it costs seconds and most runs need it once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.expectations.row_conditions import Column
    return gx, gxe, Column


def staged_column(rule: ColumnRule) -> str:
    """The staged name of a landing column: a pseudonymised one is stored as its pseudonym."""
    return "teacher_pseudonym" if rule.pseudonymised else rule.column


def wave_keys(source: str) -> list[str]:
    """Staged columns unique within a wave: the `unique_in_wave` rules."""
    return [staged_column(r) for r in rules_for(source) if r.unique_in_wave]


def _rule_expectations(rule: ColumnRule, keys: list[str]) -> list:
    _, gxe, _ = _gx()
    column = staged_column(rule)
    meta = {"rule": f"{rule.source}.{rule.column}"}
    found = [gxe.ExpectColumnTypeToBe(column=column, type_=KIND_DTYPES[rule.kind], meta=meta)]
    if rule.required:
        found.append(gxe.ExpectColumnValuesToNotBeNull(column=column, meta=meta))
    if rule.min_value is not None or rule.max_value is not None:
        found.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=rule.min_value, max_value=rule.max_value, meta=meta
            )
        )
    if rule.allowed:
        allowed = [int(v) for v in rule.allowed] if rule.kind == "integer" else list(rule.allowed)
        found.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=allowed, meta=meta))
    if rule.kind == "wave":
        found.append(gxe.ExpectColumnValuesToMatchRegex(column=column, regex=f"^(?:{WAVE_PATTERN})$", meta=meta))
    if rule.pseudonymised:
        found.append(gxe.ExpectColumnValuesToMatchRegex(column=column, regex=PSEUDONYM_PATTERN, meta=meta))
    if rule.references_school:
        found.append(
            gxe.ExpectColumnValuesToBeInSet(column=column, value_set={"$PARAMETER": SCHOOL_CODES_PARAMETER}, meta=meta)
        )
    if column in keys:
        found.append(gxe.ExpectColumnValuesToBeUnique(column=column, meta={**meta, "scope": "within the wave"}))
    return found


def staged_suite(source: str):
    """`<source>_staged`: every rule of the source, plus the location staging adds to a row."""
    gx, gxe, _ = _gx()
    keys = wave_keys(source)
    expectations = [e for rule in rules_for(source) for e in _rule_expectations(rule, keys)]
    expectations += [
        gxe.ExpectColumnValuesToNotBeNull(column=column, meta={"rule": "staging: located"})
        for column in ("county_code", "league_code")
    ]
    for expectation in expectations:
        expectation.notes = EXACT_NOTE if expectation.expectation_type in EXACT_TYPES else SAMPLED_NOTE
    return gx.ExpectationSuite(
        name=f"{source}_staged",
        expectations=expectations,
        meta={
            "source": source,
            "built_from": "pipelines.catalogue.rules.COLUMN_RULES",
            "sample_rows": STAGED_SAMPLE_ROWS,
            "exact_expectations": list(EXACT_TYPES),
        },
        notes=(
            f"精确 exact: {', '.join(EXACT_TYPES)}, counted in DuckDB over every row of the scope. "
            f"抽样 sampled: column types, checked by GX on a stratified sample of at most "
            f"{STAGED_SAMPLE_ROWS} rows per scope (league × county × level or kind, seeded hash)."
        ),
    )


def area_metrics_suite(thresholds: Thresholds):
    """`area_metrics`: ranges, intervals and disclosure control of the published cells."""
    gx, gxe, Column = _gx()
    shares = (Column("metric_kind") == "share") & (Column("metric") != "felt_net")
    published_teacher_cell = (Column("metric_source") == "teacher_survey") & (Column("suppressed") == False)  # noqa: E712
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column=column)
        for column in ("wave", "area_level", "area_code", "metric", "n", "suppressed")
    ]
    expectations += [
        gxe.ExpectColumnValuesToBeInSet(column="area_level", value_set=list(AREA_LEVELS)),
        gxe.ExpectColumnValuesToBeInSet(column="metric", value_set=[m.name for m in METRICS]),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["wave", "area_level", "area_code", "metric"]),
        gxe.ExpectColumnValuesToBeBetween(
            column="estimate",
            min_value=0,
            max_value=1,
            row_condition=shares,
            meta={"invariant": "a share lies in [0, 1]"},
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="estimate",
            min_value=-1,
            max_value=1,
            row_condition=Column("metric") == "felt_net",
            meta={"invariant": "felt_net, lighter minus heavier, lies in [-1, 1]"},
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="estimate",
            column_B="ci_low",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta={"invariant": "ci_low <= estimate"},
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="ci_high",
            column_B="estimate",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta={"invariant": "estimate <= ci_high"},
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="n",
            min_value=thresholds.min_cell_n,
            row_condition=published_teacher_cell,
            meta={"invariant": "no published teacher cell under min_cell_n"},
        ),
        gxe.ExpectColumnValuesToBeNull(
            column="estimate",
            row_condition=Column("suppressed") == True,  # noqa: E712
            meta={"invariant": "a suppressed cell shows no estimate"},
        ),
    ]
    return gx.ExpectationSuite(
        name="area_metrics", expectations=expectations, meta={"min_cell_n": thresholds.min_cell_n}
    )


def data_quality_suite():
    """`data_quality`: row accounting, coverage and timeliness stay within their definitions."""
    gx, gxe, _ = _gx()
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column=column)
        for column in ("source", "rows_received", "rows_accepted", "rows_rejected")
    ]
    expectations += [
        gxe.ExpectColumnValuesToBeInSet(column="source", value_set=list(SOURCES)),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["wave", "source"], ignore_row_if="any_value_is_missing"),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="rows_received",
            column_B="rows_accounted",
            meta={
                "invariant": "rows_received = rows_accepted + rows_rejected",
                "rows_accounted": "rows_accepted + rows_rejected",
            },
        ),
        gxe.ExpectColumnValuesToBeBetween(column="completeness", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="on_time_share", min_value=0, max_value=1),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="schools_expected",
            column_B="schools_reporting",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="schools_reporting",
            column_B="schools_on_time",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
    ]
    return gx.ExpectationSuite(name="data_quality", expectations=expectations)


def all_suites(thresholds: Thresholds) -> list:
    return [*(staged_suite(s) for s in SOURCES), area_metrics_suite(thresholds), data_quality_suite()]


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """Integers of any width as nullable Int64 and booleans as nullable boolean, so a blank
    answer neither turns a count into a float nor a flag into an object column."""

    def nullable(arrow_type: pa.DataType):
        if pa.types.is_integer(arrow_type):
            return pd.Int64Dtype()
        if pa.types.is_boolean(arrow_type):
            return pd.BooleanDtype()
        return None

    return frame.to_pandas(types_mapper=nullable)


def frame_batches(
    conn: duckdb.DuckDBPyConnection, query: str, params: dict, batch_rows: int = BATCH_ROWS
) -> Iterator[pl.DataFrame]:
    """The rows of `query` in hash buckets of at most about `batch_rows` rows each.

    `query` binds $buckets and $bucket and keeps the rows whose key hashes to the bucket, so
    rows that share a key always meet in one batch.
    """
    ((total,),) = conn.execute(f"select count(*) from ({query})", {**params, "buckets": 1, "bucket": 0}).fetchall()
    buckets = max(1, math.ceil(total / batch_rows))
    for bucket in range(buckets):
        yield conn.sql(query, params={**params, "buckets": buckets, "bucket": bucket}).pl()


@dataclass
class Validation:
    """One suite run over all batches of one scope (a wave, or a whole mart)."""

    suite: str
    run_name: str
    success: bool = True
    batches: int = 0
    rows: int = 0
    evaluated: int = 0
    seconds: float = 0.0
    failures: dict[str, dict] = field(default_factory=dict)
    sampled: int | None = None
    """Rows GX saw when it ran on a sample (the staged gates); None when it saw every row."""

    @property
    def failed_expectations(self) -> list[dict]:
        return sorted(self.failures.values(), key=lambda f: (f["expectation"], f["target"]))

    def summary_lines(self) -> list[str]:
        return [
            f"{f['expectation']}({f['target']}): "
            + (
                f"{f['unexpected_count']} unexpected"
                if f["unexpected_count"] is not None
                else f"observed {f['observed_value']}"
            )
            for f in self.failed_expectations
        ]


def _target(kwargs: dict) -> str:
    """What an expectation is about: a column, a pair or a list of columns, and its condition."""
    if "column" in kwargs:
        target = kwargs["column"]
    elif "column_A" in kwargs:
        target = f"{kwargs['column_A']}, {kwargs['column_B']}"
    else:
        target = ", ".join(kwargs.get("column_list", []))
    condition = kwargs.get("row_condition")
    return f"{target} where {_condition_text(condition)}" if condition else target


def _condition_text(condition) -> str:
    """`kind == 'share' and metric != 'felt_net'` from GX's serialised Condition."""
    if hasattr(condition, "dict"):
        condition = condition.dict()
    if not isinstance(condition, dict):
        return str(condition)
    if "conditions" in condition:
        joiner = f" {condition.get('type', 'and')} "
        return joiner.join(_condition_text(c) for c in condition["conditions"])
    if "operator" in condition:
        return f"{condition['column']['name']} {condition['operator']} {condition['parameter']!r}"
    return str(condition)


def _plain(value):
    """A JSON-safe rendering of an unexpected value (numpy scalars, tuples, timestamps)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _exception_message(result) -> str | None:
    info = result.exception_info or {}
    candidates = [info] + [v for v in info.values() if isinstance(v, dict)]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message") or "raised an exception").splitlines()[0]
    return None


def _add_failures(validation: Validation, suite_result) -> None:
    for result in suite_result.results:
        if result.success:
            continue
        config = result.expectation_config
        kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
        target = _target(kwargs)
        entry = validation.failures.setdefault(
            f"{config.type}|{target}",
            {
                "expectation": config.type,
                "target": target,
                "unexpected_count": None,
                "element_count": 0,
                "unexpected_sample": [],
                "observed_value": None,
                "meta": config.meta or {},
                "exception": None,
                "guarantee": (getattr(result, "meta", None) or {}).get("guarantee", "exact"),
            },
        )
        details = result.result or {}
        if details.get("unexpected_count") is not None:
            entry["unexpected_count"] = (entry["unexpected_count"] or 0) + details["unexpected_count"]
            entry["element_count"] += details.get("element_count") or 0
            sample = entry["unexpected_sample"]
            sample += [_plain(v) for v in details.get("partial_unexpected_list") or []][: SAMPLE_SIZE - len(sample)]
        if details.get("observed_value") is not None:
            entry["observed_value"] = _plain(details["observed_value"])
        entry["exception"] = entry["exception"] or _exception_message(result)


def gx_context(results_dir: Path | None = None, site_dir: Path | None = None):
    """An ephemeral GX context: no analytics, no progress bars; validation results kept in
    `results_dir` when given, a Data Docs site written to `site_dir` when given."""
    gx, _, _ = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults()
    stores = dict(defaults.stores)
    if results_dir is not None:
        stores[defaults.validation_results_store_name] = {
            "class_name": "ValidationResultsStore",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(results_dir)},
        }
    sites = {}
    if site_dir is not None:
        sites[DATA_DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        stores=stores,
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gx.get_context(mode="ephemeral", project_config=config)


def validate(
    suite,
    frames: Iterable[pl.DataFrame],
    run_name: str,
    parameters: dict | None = None,
    results_dir: Path | None = None,
) -> Validation:
    """Run `suite` on each frame; the results of `run_name` replace earlier ones in `results_dir`."""
    gx, _, _ = _gx()
    from great_expectations.core.run_identifier import RunIdentifier

    started = time.perf_counter()
    if results_dir is not None:
        shutil.rmtree(results_dir / suite.name / run_name, ignore_errors=True)
    context = gx_context(results_dir)
    suite = context.suites.add(suite)
    datasource = context.data_sources.add_pandas("frames")
    validation = Validation(suite=suite.name, run_name=run_name)
    for number, frame in enumerate(frames, start=1):
        batch = datasource.add_dataframe_asset(f"{suite.name}.part{number}").add_batch_definition_whole_dataframe(
            "whole frame"
        )
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite.name}.part{number}", data=batch, suite=suite)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = definition.run(
                batch_parameters={"dataframe": to_pandas(frame)},
                expectation_parameters=parameters or {},
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
                run_id=RunIdentifier(run_name=run_name, run_time=datetime.now(UTC)),
            )
        validation.batches += 1
        validation.rows += frame.height
        validation.evaluated = max(validation.evaluated, result.statistics["evaluated_expectations"])
        validation.success = validation.success and result.success
        _add_failures(validation, result)
    validation.seconds = time.perf_counter() - started
    return validation


def check_metadata(validation: Validation) -> dict:
    """What a Dagster check shows: every failed expectation with its count of unexpected values."""
    return {
        "suite": validation.suite,
        "scope": validation.run_name,
        "rows_validated": validation.rows,
        "rows_sampled": validation.rows if validation.sampled is None else validation.sampled,
        "batches": validation.batches,
        "evaluated_expectations": validation.evaluated,
        "failed_expectation_count": len(validation.failures),
        "failed_expectations": validation.failed_expectations,
        "failures": "\n".join(validation.summary_lines()) or "none",
        "seconds": round(validation.seconds, 3),
    }

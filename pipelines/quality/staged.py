"""Staged-table gates at a bounded cost: exact DuckDB counts for every rule staging enforces, and
GX on a fixed-size stratified sample for the rest (column types) and for the Data Docs.

GX on whole waves copied the frame once per expectation (about half of a 2 M-row run). Here each
value rule of the suite becomes a violation count over every row of the scope, all in one DuckDB
scan, so one bad row fails the gate whether or not the sample holds it; GX sees at most
`SAMPLE_ROWS` rows, drawn by a seeded hash, so a rerun draws the same rows.
"""

from __future__ import annotations

import copy
import shutil
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.catalogue.rules import SOURCES
from pipelines.quality import expectations as ex

SAMPLE_ROWS = ex.STAGED_SAMPLE_ROWS
SAMPLE_SEED = 11
"""Seeds the hash that ranks rows within a stratum: the same seed draws the same sample."""
EXACT_TYPES = ex.EXACT_TYPES
EXACT = "exact"
SAMPLED = "sampled"
SHORT_SET = 64
"""A value set longer than this (the school codes) is checked by a hash join, a shorter one in the row."""
HELPER_COLUMNS = ("gx_stratum", "gx_key", "gx_draw")
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "UBIGINT")


def is_staged(suite) -> bool:
    """A `<source>_staged` suite, which runs as exact counts plus a sample rather than on every row."""
    return suite.name in {f"{source}_staged" for source in SOURCES}


def guarantee(expectation_type: str) -> str:
    return EXACT if expectation_type in EXACT_TYPES else SAMPLED


def detached(expectation):
    """A copy of `expectation` for another suite. GX's own `copy.copy` deep-copies the suite the
    expectation reports its edits to as well, so copying a suite's expectations one by one cost n²."""
    fields = {name: copy.deepcopy(getattr(expectation, name)) for name in expectation.__fields__ if name != "id"}
    return expectation.copy(update={**fields, "id": None})


def sample_query(scope: str) -> str:
    """At most $sample_rows rows of `scope`, allocated to its strata in proportion to their size
    and at least one row each: rows are ranked within their stratum by a hash of their key and
    $seed, and the lowest rank shares are kept. Only the ranking columns are sorted; the chosen
    rows are then read whole. Bound: the scope's own values, $seed, $sample_rows."""
    drawn = f"select *, hash(gx_key, $seed) as gx_draw from ({scope})"
    ranked = (
        "select source_file, source_row, gx_draw,"
        " row_number() over (partition by gx_stratum order by gx_draw, source_file, source_row) as draw_rank,"
        " count(*) over (partition by gx_stratum) as stratum_rows"
        f" from ({drawn})"
    )
    chosen = (
        f"select source_file, source_row, gx_draw, (draw_rank - 1) / stratum_rows as share from ({ranked})"
        " order by share, gx_draw, source_file, source_row limit $sample_rows"
    )
    return (
        f"select drawn.* exclude ({', '.join(HELPER_COLUMNS)}) from ({drawn}) as drawn inner join ({chosen}) as chosen"
        " on drawn.gx_draw = chosen.gx_draw and drawn.source_file is not distinct from chosen.source_file"
        " and drawn.source_row is not distinct from chosen.source_row"
        " order by chosen.share, chosen.gx_draw, drawn.source_file, drawn.source_row limit $sample_rows"
    )


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


@dataclass
class ExactCount:
    """One expectation counted over the whole scope; `count` is None when it could not be."""

    expectation: str
    target: str
    count: int | None = None
    nonnull: int | None = None
    exception: str | None = None


def _predicates(config, position: int, column_type: str, parameters: dict) -> tuple[str, dict]:
    """The SQL condition that makes a row unexpected, with the values it binds."""
    kind, kwargs, column = config.type, config.kwargs, _quote(config.kwargs["column"])
    if kind == "expect_column_values_to_not_be_null":
        return f"{column} is null", {}
    if kind == "expect_column_values_to_be_between":
        if not column_type.startswith(NUMERIC_TYPES):
            raise ValueError(f"column {kwargs['column']} is not numeric")
        bounds, values = [], {}
        if kwargs.get("min_value") is not None:
            bounds.append(f"{column} < $min_{position}")
            values[f"min_{position}"] = kwargs["min_value"]
        if kwargs.get("max_value") is not None:
            bounds.append(f"{column} > $max_{position}")
            values[f"max_{position}"] = kwargs["max_value"]
        return " or ".join(bounds) or "false", values
    if kind == "expect_column_values_to_be_in_set":
        value_set = kwargs["value_set"]
        if isinstance(value_set, dict):
            value_set = parameters[value_set["$PARAMETER"]]
        if column_type.startswith(NUMERIC_TYPES) and all(isinstance(v, int) for v in value_set):
            return f"not list_contains($set_{position}, {column})", {f"set_{position}": list(value_set)}
        value = column if column_type == "VARCHAR" else f"cast({column} as varchar)"
        if len(value_set) > SHORT_SET:
            condition = f"{column} is not null and {value} not in (select unnest($set_{position}))"
        else:
            condition = f"{column} is not null and not list_contains($set_{position}, {value})"
        return condition, {f"set_{position}": [str(v) for v in value_set]}
    if kind == "expect_column_values_to_match_regex":
        condition = f"{column} is not null and not regexp_matches(cast({column} as varchar), $regex_{position})"
        return condition, {f"regex_{position}": kwargs["regex"]}
    raise ValueError(f"{kind} has no exact count")


def exact_counts(
    conn: duckdb.DuckDBPyConnection, scope: str, params: dict, suite, parameters: dict
) -> tuple[int, list[ExactCount]]:
    """The scope's row count and, for every exact expectation of `suite`, its unexpected rows over
    the whole scope, in one scan (plus one grouping per unique key). Identifiers come from the
    suite, which comes from the rule table; values are bound."""
    empty = conn.execute(f"select * from ({scope}) limit 0", params)
    types = {name: str(kind) for name, kind, *_ in empty.description}
    empty.fetchall()
    counts, filters, uniques, values = [], [], [], dict(params)
    for position, expectation in enumerate(suite.expectations):
        config = expectation.configuration
        if guarantee(config.type) != EXACT:
            continue
        column = config.kwargs["column"]
        entry = ExactCount(config.type, ex._target(config.kwargs))
        counts.append(entry)
        if column not in types:
            entry.exception = f"column {column} is missing"
            continue
        if config.type == "expect_column_values_to_be_unique":
            uniques.append(
                (
                    entry,
                    f"(select coalesce(sum(n), 0) from (select count(*) as n from scope where {_quote(column)} "
                    f"is not null group by {_quote(column)} having count(*) > 1))",
                )
            )
            continue
        try:
            condition, bound = _predicates(config, position, types[column], parameters)
        except ValueError as error:
            entry.exception = str(error)
            continue
        values.update(bound)
        filters.append((entry, f"count(*) filter (where {condition})", f"count({_quote(column)})"))
    selected = ["count(*)"] + [f for _, f, _ in filters] + [n for _, _, n in filters]
    (row,) = conn.execute(_exact_query(scope, selected, [u for _, u in uniques]), values).fetchall()
    rows, row = row[0], row[1:]
    for index, (entry, _, _) in enumerate(filters):
        entry.count, entry.nonnull = row[index], row[len(filters) + index]
        if entry.expectation == "expect_column_values_to_not_be_null":
            entry.nonnull = rows
    for index, (entry, _) in enumerate(uniques):
        entry.count = row[2 * len(filters) + index]
    return rows, counts


def _exact_query(scope: str, selected: list[str], uniques: list[str]) -> str:
    unique_columns = "".join(f", {u} as unique_{i}" for i, u in enumerate(uniques))
    return (
        f"with scope as not materialized ({scope}), totals as (select {', '.join(selected)} from scope) "
        f"select *{unique_columns} from totals"
    )


def _exact_result(expectation, count: ExactCount, rows: int, parameters: dict, batch_id: str | None):
    """A GX result for an expectation counted in DuckDB, so the Data Docs render it beside the
    sampled ones; the school-code set is written out, as GX writes a parameter it evaluated."""
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

    config = expectation.configuration
    value_set = config.kwargs.get("value_set")
    if isinstance(value_set, dict) and "$PARAMETER" in value_set:
        config.kwargs["value_set"] = parameters.get(value_set["$PARAMETER"], value_set)
    if batch_id is not None:
        config.kwargs["batch_id"] = batch_id
    meta = {"guarantee": EXACT, "rows_counted": rows}
    if count.count is None:
        return ExpectationValidationResult(
            success=False,
            expectation_config=config,
            result={},
            meta=meta,
            exception_info={
                "raised_exception": True,
                "exception_message": count.exception,
                "exception_traceback": None,
            },
        )
    nonnull = rows if count.nonnull is None else count.nonnull
    missing = rows - nonnull
    return ExpectationValidationResult(
        success=count.count == 0,
        expectation_config=config,
        result={
            "element_count": rows,
            "unexpected_count": count.count,
            "unexpected_percent": 100 * count.count / nonnull if nonnull else 0.0,
            "partial_unexpected_list": [],
            "missing_count": missing,
            "missing_percent": 100 * missing / rows if rows else None,
            "unexpected_percent_total": 100 * count.count / rows if rows else 0.0,
            "unexpected_percent_nonmissing": 100 * count.count / nonnull if nonnull else 0.0,
        },
        meta=meta,
        exception_info={"raised_exception": False, "exception_message": None, "exception_traceback": None},
    )


def _merge(suite, sampled_result, rows: int, counts: list[ExactCount], parameters: dict) -> None:
    """The sample's results and the exact ones in suite order, with the statistics of them all."""
    sampled = {}
    batch_id = None
    for result in sampled_result.results:
        kwargs = result.expectation_config.kwargs
        batch_id = batch_id or kwargs.get("batch_id")
        result.meta = {**(result.meta or {}), "guarantee": SAMPLED}
        target = ex._target({k: v for k, v in kwargs.items() if k != "batch_id"})
        sampled[(result.expectation_config.type, target)] = result
    exact = {(c.expectation, c.target): c for c in counts}
    merged = []
    for expectation in suite.expectations:
        key = (expectation.expectation_type, ex._target(expectation.configuration.kwargs))
        if key in exact:
            merged.append(_exact_result(expectation, exact[key], rows, parameters, batch_id))
        elif key in sampled:
            merged.append(sampled[key])
    sampled_result.results = merged
    evaluated = len(merged)
    successful = sum(bool(r.success) for r in merged)
    sampled_result.success = successful == evaluated
    sampled_result.statistics.update(
        evaluated_expectations=evaluated,
        successful_expectations=successful,
        unsuccessful_expectations=evaluated - successful,
        success_percent=100 * successful / evaluated if evaluated else None,
    )


def validate_staged(
    conn: duckdb.DuckDBPyConnection,
    suite,
    scope: str,
    params: dict,
    run_name: str,
    parameters: dict | None = None,
    results_dir: Path | None = None,
    sample_rows: int = SAMPLE_ROWS,
) -> ex.Validation:
    """Exact counts over every row of `scope` for the rules staging enforces, GX on its stratified
    sample for the rest; one result of them all goes to the Data Docs store.

    GX's own value expectations would add nothing on the sample (any violation it holds is counted
    already) and cost ~0.1 s each whatever the rows, so GX runs only the sampled ones.
    """
    gx, _, _ = ex._gx()
    from great_expectations.core.run_identifier import RunIdentifier

    started = time.perf_counter()
    parameters = parameters or {}
    rows, counts = exact_counts(conn, scope, params, suite, parameters)
    frame = conn.sql(sample_query(scope), params={**params, "seed": SAMPLE_SEED, "sample_rows": sample_rows}).pl()
    if results_dir is not None:
        shutil.rmtree(results_dir / suite.name / run_name, ignore_errors=True)
    context = ex.gx_context(results_dir)
    sampled_suite = context.suites.add(
        gx.ExpectationSuite(
            name=suite.name,
            expectations=[detached(e) for e in suite.expectations if guarantee(e.expectation_type) == SAMPLED],
            meta=suite.meta,
            notes=suite.notes,
        )
    )
    batch = (
        context.data_sources.add_pandas("frames")
        .add_dataframe_asset(f"{suite.name}.sample")
        .add_batch_definition_whole_dataframe("stratified sample")
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite.name}.sample", data=batch, suite=sampled_suite)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = definition.run(
            batch_parameters={"dataframe": ex.to_pandas(frame)},
            expectation_parameters=parameters,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": ex.SAMPLE_SIZE},
            run_id=RunIdentifier(run_name=run_name, run_time=datetime.now(UTC)),
        )
    _merge(suite, result, rows, counts, parameters)
    result.meta.update(rows_in_scope=rows, rows_sampled=frame.height, sample_rows_max=sample_rows)
    result.meta["batch_parameters"] = {
        "dataframe": f"抽样 sampled: {frame.height} of {rows} rows (at most {sample_rows}, stratified, seed {SAMPLE_SEED})",
        "exact": f"精确 exact: {', '.join(EXACT_TYPES)} counted over all {rows} rows",
    }
    store = context.validation_results_store
    for key in store.list_keys():
        if key.expectation_suite_identifier.name == suite.name and key.run_id.run_name == run_name:
            store.set(key, result)
    validation = ex.Validation(suite=suite.name, run_name=run_name, batches=1, rows=rows, sampled=frame.height)
    validation.evaluated = result.statistics["evaluated_expectations"]
    validation.success = bool(result.success)
    ex._add_failures(validation, result)
    validation.seconds = time.perf_counter() - started
    return validation

"""Asset checks as SQL: `sql/checks/<asset>/<check>.sql` returns the offending rows, so none means passed."""

import dagster as dg

from pipelines.resources import JianfuResource, load_sql

SAMPLE_ROWS = 20
"""Offending rows shown in the check's metadata; `violations` counts them all."""

INPUTS = {"data_quality": "marts/data_quality.sql"}
"""Relations a check may read before their mart is built, computed afresh from the mart's SQL."""


def check_sql_path(key: dg.AssetCheckKey) -> str:
    """The check's SQL file under sql/: checks/<asset>/<check>.sql."""
    return f"checks/{key.asset_key.path[-1]}/{key.name}.sql"


def offending_rows(
    jianfu: JianfuResource, check: dg.AssetChecksDefinition, params: dict | None = None, inputs: tuple[str, ...] = ()
) -> dg.AssetCheckResult:
    """Run `check`'s SQL file with `params` bound; passed when it returns no row."""
    query = load_sql(check_sql_path(check.check_key))
    if inputs:
        ctes = ",\n".join(f"{name} as (\n{load_sql(INPUTS[name])}\n)" for name in inputs)
        query = f"with {ctes}\nselect * from (\n{query}\n)"
    with jianfu.connect(read_only=True) as conn:
        rows = conn.sql(query, params=params or {}).pl()
    return dg.AssetCheckResult(
        passed=rows.height == 0,
        metadata={"violations": rows.height, "sample": dg.MetadataValue.json(rows.head(SAMPLE_ROWS).to_dicts())},
    )

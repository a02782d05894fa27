"""Waves are dynamic partitions: a key `YYYY-MM` is added when a landing file first holds it."""

import warnings

import dagster as dg

WAVES = "waves"
"""The dynamic partitions: one per wave the landing files hold."""
waves_partitions = dg.DynamicPartitionsDefinition(name=WAVES)

DUCKDB_POOL = "duckdb"


def wave_check(asset):
    """A blocking check of one wave partition (Dagster's partitioned checks are in preview).

    Checks read DuckDB, which no process may open while another one writes it: hence the pool.
    """

    def decorate(fn):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.PreviewWarning)
            return dg.asset_check(asset=asset, blocking=True, partitions_def=waves_partitions, pool=DUCKDB_POOL)(fn)

    return decorate

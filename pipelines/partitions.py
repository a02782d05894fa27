"""Waves are dynamic partitions: a key `YYYY-MM` is added when a landing file first holds it."""

import dagster as dg

waves_partitions = dg.DynamicPartitionsDefinition(name="waves")

DUCKDB_POOL = "duckdb"

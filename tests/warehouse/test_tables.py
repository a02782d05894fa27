"""Warehouse table swaps (pipelines/warehouse/tables.py): a wave replaced in one transaction, or not at all."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from helpers import insert_staged, new_warehouse, random_layout, survey_frame

from pipelines.warehouse.tables import replace_wave, replace_wave_in_memory

WAVE = "2024-11"


def test_a_wave_out_of_memory_on_two_threads_is_tried_once_on_one_and_otherwise_left_as_it_was(tmp_path):
    jianfu = new_warehouse(tmp_path)
    rng = np.random.default_rng(11)
    insert_staged(jianfu, "staging.teacher_survey_staged", survey_frame(WAVE, random_layout(rng), rng, 0.05))
    notes: list[str] = []
    with jianfu.connect() as conn:
        replace_wave(conn, "staging.survey_design", "staging/survey_design.sql", {"wave": WAVE})
        rows = replace_wave(conn, "staging.survey_psu_sums", "staging/survey_psu_sums.sql", {"wave": WAVE})
        before = conn.execute("select * from staging.survey_psu_sums order by all").fetchall()
        conn.execute("set threads = 2")
        conn.execute("set memory_limit = '1MB'")
        with pytest.raises(duckdb.OutOfMemoryException):
            replace_wave_in_memory(
                conn, "staging.survey_psu_sums", "staging/survey_psu_sums.sql", {"wave": WAVE}, notes.append
            )
        conn.execute("reset memory_limit")
        assert conn.execute("select current_setting('threads')").fetchone() == (2,)
        after = conn.execute("select * from staging.survey_psu_sums order by all").fetchall()
    assert rows > 0 and after == before
    assert notes == ["staging.survey_psu_sums: out of DuckDB memory on 2 threads; computed again on one"]

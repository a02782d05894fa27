"""Teacher waves generated, spoiled and written a chunk at a time, so memory stays bounded at any size.

Per wave: the panel units answering are drawn once (`_sample_units`); rows are then made for
CHUNK_ROWS respondents at a time, about 1% of each chunk spoiled with a known reason, and the
chunk appended to the wave's file. Late submissions of the last two waves come from each
wave's first chunk and go to one extra file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipelines.synthetic.defects import _dirty_kinds, _plant_teacher_defects, _record
from pipelines.synthetic.design import Design, _sample_units, expand_units, unit_chunks
from pipelines.synthetic.manifest import Tally
from pipelines.synthetic.spec import (
    CHUNK_ROWS,
    LATE_FILE,
    LATE_ROWS_PER_WAVE,
    SHUFFLED_COLUMNS_WAVE_INDEX,
    TEACHER_FORMATS,
    TEACHER_SURVEY,
    Landing,
)
from pipelines.synthetic.teachers import _rows, teacher_frame
from pipelines.synthetic.writers import LandingFile, _file_name, landing_format


class _Collected:
    """Chunks gathered into one in-memory Landing (for 问卷星 exports, which are converted whole)."""

    def __init__(self, name: str, fmt: str):
        self.landing = Landing(TEACHER_SURVEY, name, fmt, pl.DataFrame())
        self.frames: list[pl.DataFrame] = []

    def write(self, frame: pl.DataFrame) -> None:
        self.frames.append(frame)

    def close(self) -> None:
        self.landing.frame = pl.concat(self.frames)


def teacher_waves(
    rng: np.random.Generator, design: Design, folder: Path, tally: Tally | None, chunk_rows: int | None = None
) -> tuple[list[Landing], pl.DataFrame]:
    """Write every wave's teacher file and the late file into `folder` (tallied), or, with `tally`
    None, return them as Landings instead; also return the first rows written (for the bad files)."""
    late_waves = {w.index for w in design.waves[-2:]}
    landings, late_parts, planted_so_far, head = [], [], 0, None
    for wave in design.waves:
        units = _sample_units(rng, design)
        total = int(units["size"].sum())
        fmt = landing_format(TEACHER_FORMATS[wave.index % len(TEACHER_FORMATS)], total)
        name = _file_name(TEACHER_SURVEY, wave, fmt)
        sink = _Collected(name, fmt) if tally is None else LandingFile(folder, TEACHER_SURVEY, name, fmt)
        written, made, columns = 0, 0, None
        for part in unit_chunks(units["size"], chunk_rows or CHUNK_ROWS):
            frame = teacher_frame(rng, design, wave, expand_units(units, part), made, max(7, len(str(total))))
            made += frame.height
            late = np.array([], dtype=np.int64)
            if columns is None and wave.index in late_waves:
                late = rng.choice(frame.height, LATE_ROWS_PER_WAVE, replace=False)
            kinds = _dirty_kinds(frame.height - late.size, len(design.waves), planted_so_far)
            planted_so_far += len(kinds)
            frame, planted = _plant_teacher_defects(rng, frame, wave, kinds, late)
            keep = np.ones(frame.height, dtype=bool)
            keep[late] = False
            position = written + np.cumsum(keep) - 1
            main = frame.filter(pl.Series(keep))
            if columns is None:
                columns = main.columns
                if wave.index == SHUFFLED_COLUMNS_WAVE_INDEX:
                    columns = [main.columns[i] for i in rng.permutation(main.width)]
            main = main.select(columns)
            dirty = [_record(int(position[row]) + 1, wave, defect.reason) for row, defect in planted]
            sink.write(main)
            if tally is None:
                assert isinstance(sink, _Collected)
                sink.landing.dirty += dirty
            else:
                tally.add(TEACHER_SURVEY, name, main["wave"], dirty)
            written += main.height
            late_parts.append(_rows(frame, np.sort(late)))
            head = main.head(40) if head is None else head
        sink.close()
        if tally is None:
            assert isinstance(sink, _Collected)
            landings.append(sink.landing)
    late_frame = pl.concat(late_parts).sort("submitted_at", "response_id")
    late_landing = Landing(TEACHER_SURVEY, LATE_FILE, "csv_utf8", late_frame)
    assert head is not None  # every wave writes at least one chunk, else the concat above fails
    if tally is None:
        return [*landings, late_landing], head
    late_file = LandingFile(folder, TEACHER_SURVEY, LATE_FILE, "csv_utf8")
    late_file.write(late_frame)
    late_file.close()
    tally.add(TEACHER_SURVEY, LATE_FILE, late_frame["wave"], [])
    return [], head

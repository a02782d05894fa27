"""Synthetic, contract-conformant landing and reference data with planted signals.

The data exist to exercise the pipeline end to end: unequal sampling so that survey
weights matter, league-level trends the marts must detect (and leagues that must stay
quiet), dirty rows whose rejection reason is known in advance, and every landing format
and encoding the contract accepts. All draws come from one seeded NumPy generator, so the
same arguments give the same files; the school register comes from a fixed seed of its
own, so every generated data set of the default size shares the shipped reference files,
and a larger one says that it grew the register (pipelines.synthetic.growth).

Any number of responses per wave is written in bounded memory: rows are made, spoiled and
appended CHUNK_ROWS at a time (pipelines.synthetic.stream).

Regenerate the shipped register with `python -m pipelines.synthetic.generate --write-shipped-reference`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipelines.catalogue.rules import CAMPUS_EVENT
from pipelines.synthetic.campus_events import write_campus_events
from pipelines.synthetic.design import Design, _build_design
from pipelines.synthetic.growth import plan_register
from pipelines.synthetic.manifest import Tally
from pipelines.synthetic.register import (
    Reference,
    _gbk_safe,
    build_population,
    build_reference,
    school_levels,
    write_reference,
    write_shipped_reference,
)
from pipelines.synthetic.schools import _school_wave_landing
from pipelines.synthetic.spec import (
    BAD_FILES,
    DEFAULT_SEED,
    HOURS_COLUMNS,
    ITEM_COLUMNS,
    LATE_FILE,
    LEVELS,
    PLANTED,
    SCHOOL_COLUMNS,
    SCHOOL_COUNT_COLUMNS,
    SCHOOL_REPORT,
    SHIPPED_REFERENCE_DIR,
    SOURCES,
    TEACHER_COLUMNS,
    TEACHER_COUNT_COLUMNS,
    TEACHER_EXTRA_COLUMNS,
    TEACHER_SURVEY,
    Landing,
    wave_labels,
)
from pipelines.synthetic.stream import teacher_waves
from pipelines.synthetic.teachers import _teacher_wave_frame
from pipelines.synthetic.writers import _write_bad_files, _write_landing

__all__ = [
    "BAD_FILES",
    "DEFAULT_SEED",
    "HOURS_COLUMNS",
    "ITEM_COLUMNS",
    "LATE_FILE",
    "LEVELS",
    "PLANTED",
    "SCHOOL_COLUMNS",
    "SCHOOL_COUNT_COLUMNS",
    "SCHOOL_REPORT",
    "SHIPPED_REFERENCE_DIR",
    "TEACHER_COLUMNS",
    "TEACHER_COUNT_COLUMNS",
    "TEACHER_EXTRA_COLUMNS",
    "TEACHER_SURVEY",
    "Design",
    "Reference",
    "_build_design",
    "_gbk_safe",
    "_teacher_wave_frame",
    "build_population",
    "build_reference",
    "generate",
    "main",
    "school_levels",
    "wave_labels",
    "write_reference",
]


def _register_line(note: dict, teachers: int) -> str:
    return (
        f"grew the school register from {note['shipped_schools']:,} to {note['schools']:,} schools "
        f"({note['teachers']:,} teachers, every teacher of the panel schools answering) so that "
        f"{teachers:,} responses per wave fit; reference/schools.csv and teacher_population.csv hold it"
    )


def generate(
    out_dir: Path,
    teachers: int = 6000,
    waves: int = 6,
    seed: int = DEFAULT_SEED,
    reference_dir: Path | None = None,
    style: str = "contract",
    echo: Callable[[str], None] = print,
) -> dict:
    """Write reference, landing files and manifest.json under `out_dir`; return the manifest.

    About `teachers` responses per wave (±3% planted jitter); when the shipped register cannot
    supply them, it is grown and `echo` gets one line saying so (also in the manifest's `register`).
    `style="wjx"` writes the teacher files as 问卷星 exports of the questionnaire instead (held in
    memory: meant for demo sizes).
    """
    if waves < 1 or teachers < 1:
        raise ValueError("teachers and waves must be positive")
    if style not in ("contract", "wjx"):
        raise ValueError("style must be contract or wjx")
    out_dir, reference_dir = Path(out_dir), Path(reference_dir) if reference_dir else SHIPPED_REFERENCE_DIR
    reference, census, register = plan_register(build_reference(reference_dir), teachers)
    if register["grown"]:
        echo(_register_line(register, teachers))
    write_reference(reference, reference_dir, out_dir / "reference")
    for source in SOURCES:
        (out_dir / "landing" / source).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    design = _build_design(rng, reference, reference_dir, waves, teachers, census)
    tally = Tally([w.label for w in design.waves])
    teacher_folder = out_dir / "landing" / TEACHER_SURVEY
    landings, head = teacher_waves(rng, design, teacher_folder, None if style == "wjx" else tally)
    landings += [_school_wave_landing(rng, design, wave) for wave in design.waves]
    if style == "wjx":
        from pipelines.platforms.wjx_style import as_wjx_landings

        landings = as_wjx_landings(landings, Landing)
    for landing in landings:
        _write_landing(landing, out_dir / "landing" / landing.source)
        tally.add(landing.source, landing.name, landing.frame["wave"], landing.dirty)
    _write_bad_files(rng, teacher_folder, head)
    manifest = {**tally.manifest(seed, teachers), "style": style, "register": register}
    events = write_campus_events(
        np.random.default_rng([seed, 14]),
        design.schools,
        [w.label for w in design.waves],
        [x.frame for x in landings if x.source == SCHOOL_REPORT],
        out_dir / "landing",
    )
    manifest["campus_events"] = events
    manifest.setdefault("files", {})[CAMPUS_EVENT] = list(events["files"])
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.synthetic.generate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write-shipped-reference",
        action="store_true",
        help="regenerate data/reference/schools.csv and teacher_population.csv",
    )
    parser.add_argument("--out", type=Path, help="write a data set here")
    parser.add_argument("--teachers", type=int, default=6000)
    parser.add_argument("--waves", type=int, default=6)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    if not args.write_shipped_reference and args.out is None:
        parser.error("nothing to do: give --out DIR and/or --write-shipped-reference")
    if args.write_shipped_reference:
        write_shipped_reference()
    if args.out is not None:
        manifest = generate(args.out, args.teachers, args.waves, args.seed)
        print(json.dumps(manifest["counts"], indent=2))


if __name__ == "__main__":
    main()

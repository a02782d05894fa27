"""The `jianfu` command: init, run, demo, generate."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from pipelines.platforms import cli as platforms_cli
from pipelines.policy import cli as policy_cli
from pipelines.resources import SHIPPED_REFERENCE_DIR, FatalPipelineError, JianfuResource, resolve_data_dir
from pipelines.catalogue.rules import SOURCES, bounded


def _run(data_dir: Path, baseline_wave: str = "", lock_timeout: float = 60.0) -> int:
    from pipelines.runner import run_pipeline

    summary = run_pipeline(data_dir, echo=lambda line: print(line, flush=True), baseline_wave=baseline_wave,
                           lock_timeout=lock_timeout)
    print(f"done: {len(summary.waves)} waves, {len(summary.run_ids)} Dagster runs; "
          f"warehouse {data_dir / 'warehouse.duckdb'}")
    return 0


def init_layout(data_dir: Path) -> list[Path]:
    """The empty data directory a bureau drops its exports into; existing files are left alone."""
    created = []
    for sub in [Path("landing") / source for source in SOURCES] + [Path("reference"), Path("mappings")]:
        target = data_dir / sub
        if not target.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            created.append(target)
    return created


def _init(data_dir: Path) -> int:
    created = init_layout(data_dir)
    print(f"{data_dir}: created {', '.join(str(p.relative_to(data_dir)) for p in created)}" if created
          else f"{data_dir}: layout already present, nothing created")
    print(f"put teacher survey exports in {data_dir / 'landing' / 'teacher_survey'}, school reports in "
          f"{data_dir / 'landing' / 'school_report'}, then: jianfu run --data-dir {data_dir}")
    return 0


def _has_landing_files(data_dir: Path) -> bool:
    return any(p.is_file() for source in SOURCES for p in (data_dir / "landing" / source).glob("**/*"))


def generate_into(data_dir: Path, teachers: int, waves: int, seed: int) -> dict:
    """Write a generated set into data_dir without overwriting the shipped reference files."""
    from pipelines.synthetic.generate import generate

    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate(Path(tmp), teachers=teachers, waves=waves, seed=seed)
        data_dir.mkdir(parents=True, exist_ok=True)
        for source in SOURCES:
            target = data_dir / "landing" / source
            target.mkdir(parents=True, exist_ok=True)
            for path in (Path(tmp) / "landing" / source).iterdir():
                shutil.copy2(path, target / path.name)
        if (data_dir / "reference").resolve() != SHIPPED_REFERENCE_DIR.resolve():
            shutil.copytree(Path(tmp) / "reference", data_dir / "reference", dirs_exist_ok=True)
        shutil.copy2(Path(tmp) / "manifest.json", data_dir / "manifest.json")
    return manifest


def _demo(data_dir: Path, teachers: int, waves: int, seed: int) -> int:
    if _has_landing_files(data_dir):
        print(f"landing files found in {data_dir / 'landing'}: using them")
    else:
        generate_into(data_dir, teachers, waves, seed)
        print(f"generated a synthetic sample ({waves} waves, ~{teachers} teachers per wave, seed {seed}) "
              f"into {data_dir / 'landing'}")
    jianfu = JianfuResource(data_dir=str(data_dir))
    if not jianfu.key_file.exists():
        jianfu.pseudonym_key()
        print(f"created the pseudonym key {jianfu.key_file} (outside the warehouse; keep it secret and "
              "stable, or set JIANFU_ID_KEY)")
    status = _run(data_dir)
    if status == 0:
        print(f"reports: {jianfu.reports_dir / 'index.html'}")
    return status


def _generate(out: Path, teachers: int, waves: int, seed: int, style: str = "contract") -> int:
    from pipelines.synthetic.generate import generate

    manifest = generate(out, teachers=teachers, waves=waves, seed=seed, style=style)
    print(f"wrote {len(manifest['waves'])} waves ({', '.join(manifest['waves'])}) to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jianfu", description="Teacher burden-reduction monitoring (减负监测).")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize every asset for every wave in the landing folders")
    run.add_argument("--data-dir", help="data directory (default: $JIANFU_DATA_DIR or data/)")
    run.add_argument("--baseline-wave", default="", help="inspection-target baseline (default: earliest wave)")
    run.add_argument("--lock-timeout", type=float, default=60.0,
                     help="seconds to wait for another run or reader holding the warehouse (default 60)")
    init = commands.add_parser("init", help="create the data directory layout (landing/, reference/, mappings/)")
    init.add_argument("data_dir", nargs="?", help="data directory (default: $JIANFU_DATA_DIR or data/)")
    demo = commands.add_parser("demo", help="generate a sample when there are no landing files, run, show reports")
    demo.add_argument("--data-dir")
    generate = commands.add_parser("generate", help="write a synthetic contract-conformant data set")
    generate.add_argument("--out", required=True)
    generate.add_argument("--style", choices=("contract", "wjx"), default="contract",
                          help="teacher files in contract columns, or as 问卷星 exports of the questionnaire")
    for sub in (demo, generate):
        sub.add_argument("--teachers", type=int, default=6000, help="responses per wave")
        sub.add_argument("--waves", type=int, default=6)
        sub.add_argument("--seed", type=int, default=20201021)
    platforms_cli.register(commands)
    policy_cli.register(commands)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    if hasattr(args, "handler"):
        return args.handler(args)
    if args.command == "generate":
        return _generate(Path(args.out).resolve(), args.teachers, args.waves, args.seed, args.style)
    data_dir = resolve_data_dir(args.data_dir)
    if args.command == "init":
        return _init(data_dir)
    if args.command == "run":
        return _run(data_dir, args.baseline_wave, args.lock_timeout)
    return _demo(data_dir, args.teachers, args.waves, args.seed)


def main(argv: list[str] | None = None) -> int:
    """Every failure ends as one line on stderr and exit 1: a person reads it, not a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except FatalPipelineError as exc:
        print(f"jianfu: {exc}", file=sys.stderr)
    except OSError as exc:
        where = f" ({Path(exc.filename).name})" if exc.filename else ""
        print(f"jianfu: {os.strerror(exc.errno) if exc.errno else type(exc).__name__}{where}", file=sys.stderr)
    except KeyboardInterrupt:
        print("jianfu: interrupted", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        print(f"jianfu: {failure_line(exc)}", file=sys.stderr)
    return 1


def failure_line(exc: BaseException) -> str:
    """The error's type and first message line, bounded; storage errors say so in plain words."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    lowered = first.lower()
    if "disk is full" in lowered or "no space left" in lowered:
        return "no space left on the device holding the data directory; free space and run again"
    if "readonly" in lowered or "read-only" in lowered:
        return "the data directory is read-only; nothing was changed"
    return bounded(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)


if __name__ == "__main__":
    sys.exit(main())

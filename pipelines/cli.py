"""The `jianfu` command: run, demo, generate (CONTRACT.md section 6)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from pipelines.platforms import cli as platforms_cli
from pipelines.resources import SHIPPED_REFERENCE_DIR, FatalPipelineError, JianfuResource, resolve_data_dir
from pipelines.rules import SOURCES


def _run(data_dir: Path, baseline_wave: str = "") -> int:
    from pipelines.runner import run_pipeline

    try:
        summary = run_pipeline(data_dir, echo=lambda line: print(line, flush=True), baseline_wave=baseline_wave)
    except FatalPipelineError as exc:
        print(f"jianfu: {exc}", file=sys.stderr)
        return 1
    print(f"done: {len(summary.waves)} waves, {len(summary.run_ids)} Dagster runs; "
          f"warehouse {data_dir / 'warehouse.duckdb'}")
    return 0


def _has_landing_files(data_dir: Path) -> bool:
    return any(p.is_file() for source in SOURCES for p in (data_dir / "landing" / source).glob("**/*"))


def generate_into(data_dir: Path, teachers: int, waves: int, seed: int) -> dict:
    """Write a generated set into data_dir without overwriting the shipped reference files."""
    from pipelines.generate import generate

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
    from pipelines.generate import generate

    manifest = generate(out, teachers=teachers, waves=waves, seed=seed, style=style)
    print(f"wrote {len(manifest['waves'])} waves ({', '.join(manifest['waves'])}) to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jianfu", description="Teacher burden-reduction monitoring (减负监测).")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize every asset for every wave in the landing folders")
    run.add_argument("--data-dir", help="data directory (default: $JIANFU_DATA_DIR or data/)")
    run.add_argument("--baseline-wave", default="", help="inspection-target baseline (default: earliest wave)")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "handler"):
        return args.handler(args)
    if args.command == "generate":
        return _generate(Path(args.out).resolve(), args.teachers, args.waves, args.seed, args.style)
    data_dir = resolve_data_dir(args.data_dir)
    if args.command == "run":
        return _run(data_dir, args.baseline_wave)
    return _demo(data_dir, args.teachers, args.waves, args.seed)


if __name__ == "__main__":
    sys.exit(main())

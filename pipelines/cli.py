"""The `jianfu` command: every command group registers its sub-commands on one parser.

A new group adds a `register(commands)` function to COMMAND_GROUPS; each sub-command sets
`handler` (a function of the parsed arguments returning the exit code).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pipelines.catalogue.rules import SOURCES, bounded
from pipelines.paths import default_data_dir
from pipelines.platforms import cli as platforms_cli
from pipelines.policy import cli as policy_cli
from pipelines.progress import Progress
from pipelines.resources import SHIPPED_REFERENCE_DIR, FatalPipelineError, JianfuResource, resolve_data_dir

DEMO_DIR = default_data_dir() / "demo"
DATA_DIR_HELP = "data directory (default: $JIANFU_DATA_DIR, else data/ in the repository)"


class Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit 2, for every sub-command (sub-parsers share this class)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows '(default: X)' where a default exists; options without one say what applies in their help."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum`, else a one-line usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:20]!r}") from None
        if value < minimum:
            bound = f"at least {minimum}" if minimum else "0 or more"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


positive_int = whole_number(1)
non_negative_int = whole_number(0)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text[:20]!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text[:20]}")
    return value


def run_command(args: argparse.Namespace) -> int:
    return _run(resolve_data_dir(args.data_dir), args.baseline_wave, args.lock_timeout)


def _run(data_dir: Path, baseline_wave: str = "", lock_timeout: float = 60.0) -> int:
    from pipelines.runner import run_pipeline
    from pipelines.status import record_last_run

    started, wall = time.monotonic(), time.time()
    try:
        with Progress() as progress:
            summary = run_pipeline(
                data_dir, echo=progress.echo, step=progress.step, baseline_wave=baseline_wave, lock_timeout=lock_timeout
            )
    except FatalPipelineError as exc:
        record_last_run(data_dir, wall, "FAILED", str(exc))
        raise
    except BaseException as exc:
        record_last_run(data_dir, wall, "FAILED", failure_line(exc))
        raise
    print(
        f"done in {time.monotonic() - started:.0f} s: {len(summary.waves)} waves, {len(summary.run_ids)} "
        f"Dagster runs; warehouse {data_dir / 'warehouse.duckdb'}",
        flush=True,
    )
    if summary.bad_files and not summary.files_loaded:
        message = (
            f"NO FILE LOADED: all {len(summary.bad_files)} landing files were rejected (reasons above); "
            "the warehouse holds nothing new"
        )
        record_last_run(data_dir, wall, "FAILED", message)
        print(f"jianfu: {message}", file=sys.stderr)
        return 1
    record_last_run(data_dir, wall, "succeeded")
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


def init_command(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data_dir)
    created = init_layout(data_dir)
    print(
        f"{data_dir}: created {', '.join(str(p.relative_to(data_dir)) for p in created)}"
        if created
        else f"{data_dir}: layout already present, nothing created"
    )
    print(
        f"put teacher survey exports in {data_dir / 'landing' / 'teacher_survey'}, school reports in "
        f"{data_dir / 'landing' / 'school_report'}, then: jianfu run --data-dir {data_dir}"
    )
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


def demo_command(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).expanduser().resolve() if args.data_dir else DEMO_DIR
    if _has_landing_files(data_dir):
        print(f"landing files found in {data_dir / 'landing'}: using them")
    else:
        with Progress() as progress:
            progress.step(f"generating a synthetic sample into {data_dir}", 1, 1)
            generate_into(data_dir, args.teachers, args.waves, args.seed)
        print(
            f"generated a synthetic sample ({args.waves} waves, ~{args.teachers} teachers per wave, seed "
            f"{args.seed}) into {data_dir / 'landing'}"
        )
    jianfu = JianfuResource(data_dir=str(data_dir))
    if not jianfu.key_file.exists():
        jianfu.pseudonym_key()
        print(
            f"created the pseudonym key {jianfu.key_file} (outside the warehouse; keep it secret and "
            "stable, or set JIANFU_ID_KEY)"
        )
    status = _run(data_dir)
    if status == 0:
        print(f"reports: {jianfu.reports_dir / 'index.html'}")
    return status


def generate_command(args: argparse.Namespace) -> int:
    from pipelines.synthetic.generate import generate

    out = Path(args.out).expanduser().resolve()
    with Progress() as progress:
        progress.step(f"generating {args.waves} waves of ~{args.teachers} responses into {out}", 1, 1)
        manifest = generate(out, teachers=args.teachers, waves=args.waves, seed=args.seed, style=args.style)
    print(f"wrote {len(manifest['waves'])} waves ({', '.join(manifest['waves'])}) to {out}")
    return 0


def status_command(args: argparse.Namespace) -> int:
    from pipelines.status import status_lines

    for line in status_lines(resolve_data_dir(args.data_dir)):
        print(line)
    return 0


def _sample_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teachers", type=positive_int, default=6000, metavar="N", help="teacher responses per wave")
    parser.add_argument("--waves", type=positive_int, default=6, metavar="K", help="survey waves (rounds)")
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=20201021,
        metavar="S",
        help="random seed: the same seed writes the same files",
    )


def register_pipeline_commands(commands: argparse._SubParsersAction) -> None:
    """init, run, status, demo and generate."""
    init = commands.add_parser("init", help="create the data directory layout (landing/, reference/, mappings/)")
    init.add_argument("data_dir", nargs="?", metavar="DIR", help=DATA_DIR_HELP)
    init.set_defaults(handler=init_command)

    run = commands.add_parser("run", help="materialize every asset for every wave in the landing folders")
    run.add_argument("--data-dir", metavar="DIR", help=DATA_DIR_HELP)
    run.add_argument(
        "--baseline-wave",
        default="",
        metavar="YYYY-MM",
        help="baseline of the inspection target, a wave with school reports (default: the earliest such wave)",
    )
    run.add_argument(
        "--lock-timeout",
        type=seconds,
        default=60.0,
        metavar="SECONDS",
        help="seconds to wait for another run or reader holding the warehouse",
    )
    run.set_defaults(handler=run_command)

    status = commands.add_parser(
        "status", help="waves, rows accepted/rejected, last run and reports, read without writing anything"
    )
    status.add_argument("--data-dir", metavar="DIR", help=DATA_DIR_HELP)
    status.set_defaults(handler=status_command)

    demo = commands.add_parser(
        "demo",
        help="generate a synthetic sample when the directory has no landing files, run, show where the reports are",
    )
    demo.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where the demo lives (default: data/demo/ in the repository, never data/ itself)",
    )
    _sample_options(demo)
    demo.set_defaults(handler=demo_command)

    generate = commands.add_parser("generate", help="write a synthetic contract-conformant data set")
    generate.add_argument("--out", required=True, metavar="DIR", help="folder to write (required)")
    generate.add_argument(
        "--style",
        choices=("contract", "wjx"),
        default="contract",
        help="teacher files in contract columns, or as 问卷星 exports of the questionnaire",
    )
    _sample_options(generate)
    generate.set_defaults(handler=generate_command)


COMMAND_GROUPS: list[Callable[[argparse._SubParsersAction], None]] = [
    register_pipeline_commands,
    platforms_cli.register,
    policy_cli.register,
]


def package_version() -> str:
    try:
        return version("jianfu")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="jianfu", description="Teacher burden-reduction monitoring (减负监测).")
    parser.add_argument(
        "--version", action="version", version=f"jianfu {package_version()}", help="print the version and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMAND_GROUPS:
        register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Every failure ends as one line on stderr and exit 1: a person reads it, not a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except FatalPipelineError as exc:
        print(f"jianfu: {exc}", file=sys.stderr)
    except OSError as exc:
        where = f" ({Path(exc.filename).name})" if exc.filename else ""
        print(f"jianfu: {os.strerror(exc.errno) if exc.errno else type(exc).__name__}{where}", file=sys.stderr)
    except KeyboardInterrupt:
        print("jianfu: interrupted", file=sys.stderr)
    except Exception as exc:
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

"""`jianfu questionnaire` and `jianfu mapping check`: registered on the main parser by `register`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.catalogue.questionnaire import QuestionnaireError, load_questionnaire, questionnaire_path


def _data_dir(explicit: str | None) -> Path:
    from pipelines.resources import resolve_data_dir

    return resolve_data_dir(explicit)


def questionnaire_command(args: argparse.Namespace) -> int:
    from pipelines.platforms.printable import estimate_note, write_questionnaire

    try:
        questions = load_questionnaire(questionnaire_path(_data_dir(args.data_dir)))
    except QuestionnaireError as exc:
        print(f"jianfu: questionnaire.csv: {exc}", file=sys.stderr)
        return 1
    for path in write_questionnaire(questions, Path(args.out)):
        print(f"wrote {path}")
    print(estimate_note(questions, "en"))
    return 0


def mapping_check_command(args: argparse.Namespace) -> int:
    from pipelines.platforms.check import check

    path = Path(args.file)
    if not path.is_file():
        print(f"jianfu: {path}: no such file", file=sys.stderr)
        return 1
    result = check(path, _data_dir(args.data_dir))
    for line in result.lines:
        print(line)
    print(f"{result.errors} error{'s' if result.errors != 1 else ''}; nothing was loaded")
    return 1 if result.errors else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the questionnaire and mapping subcommands; each sets `handler`."""
    questionnaire = commands.add_parser(
        "questionnaire", help="write the printable questionnaire (zh, en HTML) and the 问卷星 text-import file"
    )
    questionnaire.add_argument("--out", required=True, help="folder to write into")
    questionnaire.add_argument(
        "--data-dir",
        help="data directory whose reference/questionnaire.csv wins "
        "(default: $JIANFU_DATA_DIR, else data/ in the repository)",
    )
    questionnaire.set_defaults(handler=questionnaire_command)
    mapping = commands.add_parser("mapping", help="survey-platform exports and mapping files")
    actions = mapping.add_subparsers(dest="mapping_command", required=True)
    check = actions.add_parser(
        "check", help="report how a landing file (or a mapping .yaml) would be read; loads nothing"
    )
    check.add_argument("file", help="a landing file (CSV, XLSX, Parquet) or a mapping .yaml")
    check.add_argument(
        "--data-dir",
        help="data directory whose mappings/ and reference/ apply "
        "(default: $JIANFU_DATA_DIR, else data/ in the repository)",
    )
    check.set_defaults(handler=mapping_check_command)

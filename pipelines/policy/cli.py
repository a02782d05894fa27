"""`jianfu cases list|set`: the follow-up of policy-cap breaches (追责问责), from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines.catalogue.policy import CASE_STATUSES
from pipelines.resources import FatalPipelineError, JianfuResource, resolve_data_dir

LIST_COLUMNS = (
    "rule_id",
    "school_code",
    "school_name",
    "league_code",
    "period",
    "observed",
    "limit",
    "status",
    "assignee",
    "note",
)


def register(commands) -> None:
    cases = commands.add_parser("cases", help="list or update policy-cap breach cases (quality.breach_cases)")
    actions = cases.add_subparsers(dest="cases_action", required=True)
    listing = actions.add_parser("list", help="print the cases, optionally one status or league")
    listing.add_argument("--status", choices=CASE_STATUSES, help="only cases with this status (default: every status)")
    listing.add_argument("--league", help="only this league's cases, by code, e.g. 150100 (default: every league)")
    setting = actions.add_parser("set", help="set a case's status, note and assignee")
    setting.add_argument("rule", help="rule_id, as in policy_rules.csv and `jianfu cases list`")
    setting.add_argument("school", help="school code")
    setting.add_argument("period", help="YYYY for yearly rules, YYYY-YYYY-1 or YYYY-YYYY-2 for semesters")
    setting.add_argument("--status", required=True, help=f"one of {', '.join(CASE_STATUSES)}")
    setting.add_argument("--note", help="follow-up note (default: the case keeps its note)")
    setting.add_argument("--assignee", help="who follows the case up (default: the case keeps its assignee)")
    for sub in (listing, setting):
        sub.add_argument("--data-dir", help="data directory (default: $JIANFU_DATA_DIR or data/)")
        sub.add_argument(
            "--lock-timeout",
            type=float,
            default=60.0,
            help="seconds to wait for a run holding the data directory (default 60)",
        )
    cases.set_defaults(handler=run)


def _warehouse(data_dir: Path, lock_timeout: float) -> JianfuResource:
    jianfu = JianfuResource(data_dir=str(data_dir), lock_timeout=lock_timeout)
    if not data_dir.is_dir():
        raise FatalPipelineError(f"data directory {data_dir} does not exist")
    if not jianfu.warehouse_path.is_file():
        raise FatalPipelineError(f"no warehouse in {data_dir}: run jianfu run first")
    return jianfu


def run(args: argparse.Namespace) -> int:
    from pipelines.policy.cases import list_cases, set_case
    from pipelines.runner import run_lock

    data_dir = resolve_data_dir(args.data_dir)
    jianfu = _warehouse(data_dir, args.lock_timeout)
    with run_lock(data_dir, args.lock_timeout), jianfu.connect() as conn:
        if args.cases_action == "list":
            frame = list_cases(conn, args.status, args.league)
            print("\t".join(LIST_COLUMNS))
            for values in frame.select(LIST_COLUMNS).iter_rows():
                print("\t".join("" if v is None else str(v) for v in values))
            print(f"{frame.height} cases")
            return 0
        row = set_case(conn, args.rule, args.school, args.period, args.status, args.note, args.assignee)
    print(f"case {row['rule_id']} {row['school_code']} {row['period']}: {row['status']}")
    return 0

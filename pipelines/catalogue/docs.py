"""The generated parts of docs/data-contract.md: landing-column tables from the rule table and questionnaire.

`python -m pipelines.catalogue.docs` rewrites what lies between the `<!-- generated:NAME -->` and
`<!-- /generated:NAME -->` markers; `--check` exits 1 when the committed document differs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pipelines.catalogue.questionnaire import SHIPPED_QUESTIONNAIRE, by_column, load_questionnaire
from pipelines.catalogue.rules import COLUMN_RULES, HOURS_MAX, MAX_REASON_LENGTH, REASON_CODES, ColumnRule

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"
MARKER = re.compile(r"(<!-- generated:(?P<name>[a-z_-]+) -->\n).*?(<!-- /generated:(?P=name) -->)", re.S)


def _number(value: float) -> str:
    return f"{value:g}"


def _rule_text(rule: ColumnRule) -> str:
    parts = []
    if rule.allowed:
        parts.append("one of " + ", ".join(f"`{v}`" for v in rule.allowed))
    if rule.min_value is not None and rule.max_value is not None:
        parts.append(f"{_number(rule.min_value)} to {_number(rule.max_value)}")
    elif rule.min_value is not None:
        parts.append(f"at least {_number(rule.min_value)}")
    if rule.kind == "wave":
        parts.append("`YYYY-MM`, not after the month of the run")
    if rule.unique_in_wave:
        parts.append("once per wave")
    if rule.references_school:
        parts.append("listed in `schools.csv`")
    if rule.latest_wins:
        parts.append("the latest report of a school and wave wins; earlier ones are `superseded`")
    if rule.pseudonymised:
        parts.append("stored only as a keyed-hash pseudonym")
    return "; ".join(parts) or "—"


def _question(rule: ColumnRule, questions: dict) -> str:
    question = questions.get(rule.column)
    if question is None:
        return "—"
    options = f" ({' / '.join(question.options_zh)})" if question.options_zh else ""
    return f"Q{question.number} {question.text_zh}{options}<br>{question.text_en}"


def landing_tables() -> str:
    """One table per landing source, in the rule table's order."""
    questions = by_column(load_questionnaire(SHIPPED_QUESTIONNAIRE))
    sources = list(dict.fromkeys(rule.source for rule in COLUMN_RULES))
    blocks = []
    for source in sources:
        rules = [r for r in COLUMN_RULES if r.source == source]
        with_questions = any(r.column in questions for r in rules)
        header = "| column | kind | required | accepted values |" + (" questionnaire |" if with_questions else "")
        lines = [f"#### `landing/{source}/`", "", header, "|---|---|---|---|" + ("---|" if with_questions else "")]
        for rule in rules:
            row = f"| `{rule.column}` | {rule.kind} | {'yes' if rule.required else ''} | {_rule_text(rule)} |"
            lines.append(row + (f" {_question(rule, questions)} |" if with_questions else ""))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def reason_table() -> str:
    lines = ["| reason | 中文 | meaning |", "|---|---|---|"]
    lines += [f"| `{code}` | {zh} | {en} |" for code, (zh, en) in REASON_CODES.items()]
    lines.append("")
    lines.append(
        f"Weekly hours (`hours_*`) are at most {_number(HOURS_MAX)}, the hours in a week; every reason, "
        f"for a row or a file, is one line of at most {MAX_REASON_LENGTH} characters."
    )
    return "\n".join(lines) + "\n"


GENERATORS = {"landing-columns": landing_tables, "reasons": reason_table}


def render(text: str) -> str:
    """The document with every generated block rewritten; unknown block names are an error."""

    def fill(match: re.Match) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise KeyError(f"no generator for block {name}")
        return f"{match.group(1)}{GENERATORS[name]()}{match.group(3)}"

    return MARKER.sub(fill, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.catalogue.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is not what would be written")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check:
        if current != wanted:
            print(f"{DOC} is stale: run python -m pipelines.catalogue.docs", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

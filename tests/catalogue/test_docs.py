"""docs/data-contract.md: its landing-column tables are what the rule table and questionnaire generate."""

from pipelines.catalogue import docs
from pipelines.catalogue.questionnaire import SHIPPED_QUESTIONNAIRE, load_questionnaire
from pipelines.catalogue.rules import COLUMN_RULES, REASON_CODES
from pipelines.resources import REPO_ROOT


def test_the_committed_contract_is_what_the_generator_writes():
    committed = docs.DOC.read_text(encoding="utf-8")
    assert docs.render(committed) == committed, "run: python -m pipelines.catalogue.docs"
    assert docs.main(["--check"]) == 0


def test_the_generated_tables_carry_every_rule_and_question():
    emptied = docs.MARKER.sub(lambda m: m.group(1) + m.group(3), docs.DOC.read_text(encoding="utf-8"))
    assert "| `hours_total` |" not in emptied
    filled = docs.render(emptied)
    for rule in COLUMN_RULES:
        assert f"| `{rule.column}` | {rule.kind} | {'yes' if rule.required else ''} |" in filled, rule.column
    assert "| `hours_cat3` | number |  | 0 to 112 |" in filled
    assert "| `school_level` | text | yes | one of `primary`, `junior`, `senior` |" in filled
    assert "| `item_07` | integer |  | one of `0`, `1` |" in filled
    for question in load_questionnaire(SHIPPED_QUESTIONNAIRE):
        assert f"Q{question.number} {question.text_zh}" in filled
    assert all(f"| `{code}` | {zh} | {en} |" in filled for code, (zh, en) in REASON_CODES.items())


def test_the_readme_links_the_contract_in_the_repository_not_the_shared_folder():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/data-contract.md)" in readme and "(docs/deployment.md)" in readme
    assert "../shared" not in readme and "CONTRACT.md" not in readme

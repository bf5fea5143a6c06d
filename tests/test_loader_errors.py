"""Validation errors name the file, the line and the field, and list every problem at once."""

from pathlib import Path

import pytest

from ivr.knowledge.base import load_knowledge
from ivr.knowledge.loader import KnowledgeError


def _problems(root: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(root)
    return [str(p) for p in info.value.problems]


def _replace_line(path: Path, line_no: int, new: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[line_no - 1] = new + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def test_bad_item_category_and_reading_name_line_and_field(nara_copy):
    _replace_line(nara_copy / "items.csv", 5, "テスト品,てすと,,,存在しない区分,,,inferred")
    problems = _problems(nara_copy)
    assert "items.csv:5: reading: Value error, reading must be katakana (long vowels as ー)" in problems


def test_unknown_category_and_basis(nara_copy):
    _replace_line(nara_copy / "items.csv", 7, "テスト品,テスト,,,存在しない区分,,,nowhere")
    problems = _problems(nara_copy)
    assert any(p.startswith("items.csv:7: category: '存在しない区分'") for p in problems)
    assert any(p.startswith("items.csv:7: basis: 'nowhere'") for p in problems)


def test_duplicate_item_names_point_at_both_lines(nara_copy):
    lines = (nara_copy / "items.csv").read_text(encoding="utf-8").splitlines()
    name = lines[1].split(",")[0]
    (nara_copy / "items.csv").write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    problems = _problems(nara_copy)
    assert f"items.csv:{len(lines) + 1}: name: {name!r} is already on line 2" in problems


def test_faq_topic_errors_point_at_the_yaml_line(nara_copy):
    text = (nara_copy / "faq.yaml").read_text(encoding="utf-8")
    first_action = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.strip().startswith("action:"))
    _replace_line(nara_copy / "faq.yaml", first_action, "    action: dance")
    problems = _problems(nara_copy)
    assert any(p.startswith(f"faq.yaml:{first_action}: action:") for p in problems), problems


def test_area_rule_errors_name_the_category_column(nara_copy):
    text = (nara_copy / "areas.csv").read_text(encoding="utf-8")
    (nara_copy / "areas.csv").write_text(text.replace("青山,アオヤマ,1-9,,B,奈良市収集課,1,月 木",
                                                       "青山,アオヤマ,1-9,,B,奈良市収集課,1,毎週"), encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("青山"))
    assert f"areas.csv:{line}: 燃やせるごみ: unknown token '毎週'" in _problems(nara_copy)


def test_broken_yaml_and_missing_file(nara_copy):
    (nara_copy / "categories.yaml").write_text("categories:\n  - name: [unclosed\n", encoding="utf-8")
    (nara_copy / "items.csv").unlink()
    problems = _problems(nara_copy)
    assert any(p.startswith("categories.yaml:") and "not valid YAML" in p for p in problems)
    assert "items.csv: file is missing" in problems


def test_topic_with_too_few_examples(nara_copy):
    text = (nara_copy / "faq.yaml").read_text(encoding="utf-8")
    import yaml

    data = yaml.safe_load(text)
    data["topics"][0]["examples"] = data["topics"][0]["examples"][:3]
    (nara_copy / "faq.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert any("examples" in p and "at least 8" in p for p in _problems(nara_copy))

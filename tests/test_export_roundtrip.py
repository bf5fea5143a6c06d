"""export-5374 then import-5374 gives back the same areas, rules, collectors and items."""

from ivr.knowledge.base import load_knowledge
from ivr.knowledge.export_5374 import export_5374
from ivr.knowledge.import_5374 import import_5374


def test_round_trip_of_the_nara_base(nara_kb, tmp_path):
    export_5374(nara_kb, tmp_path / "5374")
    header = (tmp_path / "5374" / "area_days.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "地名,センター,燃やせるごみ,燃やせないごみ,プラスチック製容器包装,再生資源ゴミ"
    import_5374(tmp_path / "5374", tmp_path / "back")
    back = load_knowledge(tmp_path / "back")
    by_key = lambda kb: {(a.name, a.collector): a.rules for a in kb.areas}  # noqa: E731
    original = {k: {("再生資源ゴミ" if c == "再生資源" else c): r for c, r in rules.items()}
                for k, rules in by_key(nara_kb).items()}
    assert by_key(back) == original
    assert [i.name for i in back.items] == [i.name for i in nara_kb.items]
    assert {c.name: c.suspensions for c in back.collectors} == {c.name: c.suspensions for c in nara_kb.collectors}

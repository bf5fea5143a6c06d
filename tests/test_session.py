"""Push caller turns through a real call session and assert what comes out."""

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from escalation.staff import OfficeHoursStaffLine, within_office_hours
from escalation.tickets import InMemoryTicketQueue
from ivr.dialogue.session import MAX_SILENCES, CallSession
from ivr.dialogue.turns import Action, CallerTurn

JST = ZoneInfo("Asia/Tokyo")
OPEN = datetime(2026, 11, 27, 10, 0, tzinfo=JST)  # Friday, office open
CLOSED = datetime(2026, 11, 27, 20, 0, tzinfo=JST)  # Friday evening
IN_2016 = datetime(2016, 6, 26, 10, 0, tzinfo=JST)  # Sunday, inside the data's validity


class Call:
    """A call driven synchronously for tests."""

    def __init__(self, brain, now: datetime, caller_number: str = "", staff=None) -> None:
        self.tickets = InMemoryTicketQueue()
        staff = staff or OfficeHoursStaffLine(brain.kb.municipality.business_hours)
        self.session = CallSession(brain, self.tickets, staff, lambda: now, caller_number=caller_number)
        self.greeting = asyncio.run(self.session.start())

    def say(self, text: str):
        return asyncio.run(self.session.handle(CallerTurn.speech(text)))

    def press(self, digits: str):
        return asyncio.run(self.session.handle(CallerTurn.dtmf(digits)))

    def turn(self, turn: CallerTurn):
        return asyncio.run(self.session.handle(turn))


def test_greeting_says_it_is_automated(brain):
    call = Call(brain, OPEN)
    assert "自動音声のアシスタント" in call.greeting.text and "0を押して" in call.greeting.text


def test_item_answer_and_anything_else_loop(brain):
    call = Call(brain, OPEN)
    reply = call.say("あの、冷蔵庫を捨てたいんやけど")
    assert reply.action is Action.answer and "家電リサイクル法" in reply.text
    assert reply.text.endswith("ほかに、ご質問はありますか。")
    assert call.say("いいえ、大丈夫です").action is Action.end


def test_area_is_asked_then_remembered(brain):
    call = Call(brain, IN_2016)
    ask = call.say("明日何ごみの日？")
    assert ask.action is Action.clarify and "町名" in ask.text
    reply = call.say("青山です")
    assert "6月27日 月曜日" in reply.text and "燃やせるごみと再生資源" in reply.text
    nxt = call.say("燃えないごみは次いつ？")
    assert "7月6日 水曜日" in nxt.text and nxt.slots["area"] == "青山１〜９丁目"


def test_split_area_asks_chome_then_side(brain):
    call = Call(brain, IN_2016)
    assert "何丁目" in call.say("大宮町の燃えるごみ").text
    side = call.say("1丁目")
    assert "北側" in side.text and "南側" in side.text and "申し訳" not in side.text
    reply = call.say("北側です")
    assert "毎週月曜日と木曜日" in reply.text


def test_stale_data_is_said(brain):
    reply = Call(brain, OPEN).say("青山の燃えるごみの日は？")
    assert "毎週月曜日と木曜日" in reply.text and "2017年3月までの情報" in reply.text


def test_staff_topic_transfers_in_office_hours(brain):
    reply = Call(brain, OPEN).say("ごみが回収されてへんねん")
    assert reply.action is Action.transfer
    assert [e.kind for e in reply.events] == ["transfer"]


def test_after_hours_ticket_is_committed_before_it_is_told(brain):
    call = Call(brain, CLOSED)
    assert call.say("ごみが回収されてへんねん").action is Action.ticket
    call.say("青山の公園の横の集積所で燃えるごみが残ってます")
    call.say("ゼロキューゼロ イチニーサンヨン ゴーロクナナハチ")
    assert call.tickets.tickets == []
    done = call.say("山田です")
    (ticket,) = call.tickets.tickets
    assert ticket.request.callback_number == "09012345678"
    assert ticket.request.caller_name == "山田です" and "集積所" in ticket.request.summary
    assert f"{ticket.number}番" in done.text and done.events[0].kind == "ticket"


def test_caller_number_is_offered_for_the_callback(brain):
    call = Call(brain, CLOSED, caller_number="0742000000")
    call.say("折り返し電話してほしい")
    assert "今おかけの電話番号" in call.say("大型ごみのことで相談です").text
    call.press("1")
    call.say("佐藤")
    assert call.tickets.tickets[0].request.callback_number == "0742000000"


def test_failed_ticket_store_goes_to_staff(brain):
    call = Call(brain, CLOSED)
    call.tickets.fail_next = True
    call.say("折り返しお願いします")
    call.say("ごみ出しの相談")
    call.press("0742341111")
    reply = call.say("田中")
    assert reply.action is Action.transfer and "記録ができませんでした" in reply.text


def test_hangup_mid_ticket_keeps_what_was_said(brain):
    call = Call(brain, CLOSED)
    call.say("不法投棄されてる")
    call.say("青山の空き地にテレビが捨てられています")
    reply = call.turn(CallerTurn.hangup())
    assert reply.action is Action.end
    (ticket,) = call.tickets.tickets
    assert not ticket.request.complete and "テレビ" in ticket.request.summary


def test_two_failures_offer_staff(brain):
    call = Call(brain, OPEN)
    assert call.say("ふにゃふにゃ").action is Action.clarify
    offer = call.say("もにょもにょ")
    assert "職員におつなぎしましょうか" in offer.text
    assert call.say("はい").action is Action.transfer


def test_repeat_repeats_the_last_answer(brain):
    call = Call(brain, OPEN)
    answer = call.say("乾電池はどう出すの")
    again = call.say("もう一度言ってください")
    assert answer.text in again.text


def test_dtmf_menu(brain):
    call = Call(brain, OPEN)
    assert "捨てたいもの" in call.press("1").text
    assert "家電リサイクル" in call.say("テレビ").text
    assert "0を押して" in Call(brain, OPEN).press("7").text  # not on the menu: the menu again
    assert Call(brain, OPEN).press("0").action is Action.transfer


def test_silence_then_end(brain):
    call = Call(brain, OPEN)
    replies = [call.turn(CallerTurn.silence()) for _ in range(MAX_SILENCES)]
    assert [r.action for r in replies] == [Action.clarify] * (MAX_SILENCES - 1) + [Action.end]


def test_out_of_scope_gives_the_switchboard(brain):
    reply = Call(brain, OPEN).say("住民票を取りたいんですけど")
    assert "0742の34の1111" in reply.text


def test_an_internal_error_ends_in_a_ticket_not_silence(brain, monkeypatch):
    call = Call(brain, CLOSED)

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(brain.nlu, "parse", broken)
    reply = call.say("冷蔵庫")
    assert reply.action is Action.end and call.tickets.tickets and "受付番号" in reply.text
    assert {e.kind for e in reply.events} == {"ticket", "error"}


def test_an_internal_error_in_hours_transfers(brain, monkeypatch):
    call = Call(brain, OPEN)
    monkeypatch.setattr(brain.nlu, "parse", lambda *a, **k: 1 / 0)
    assert call.say("冷蔵庫").action is Action.transfer


def test_office_hours(brain):
    hours = brain.kb.municipality.business_hours
    assert within_office_hours(hours, OPEN)
    assert not within_office_hours(hours, CLOSED)
    assert not within_office_hours(hours, datetime(2026, 11, 23, 10, 0, tzinfo=JST))  # 勤労感謝の日
    assert not within_office_hours(hours, datetime(2026, 12, 29, 10, 0, tzinfo=JST))  # year-end closure


@pytest.mark.parametrize("garbage", ["", "   ", "？？？", "a" * 5000, "\x00\x01"])
def test_garbage_text_gets_a_clear_reply(brain, garbage):
    reply = Call(brain, OPEN).say(garbage)
    assert reply.text and reply.action in (Action.clarify, Action.answer)


def test_call_length_cap_hands_over(brain):
    call = Call(brain, OPEN)
    for _ in range(45):
        reply = call.say("乾電池")
        if reply.action is Action.transfer:
            break
    assert reply.action is Action.transfer and "お時間が長く" in reply.text

"""Transcripts of what a newcomer hit (issue 19, item 8): check-in edits, recaps, goals and /me."""

from __future__ import annotations


def lines(text: str) -> list[str]:
    return text.splitlines()


async def test_checkin_edit_keeps_the_old_answers_until_new_ones_replace_them(chat):
    await chat.say("dave", "/checkin 打了50个电话; 3万; 无", dm=True)
    first = await chat.say("dave", "/checkin edit", dm=True)
    assert lines(first) == [
        "✏️ 修改今天的打卡：逐题回答，原回答在新回答之前一直有效。",
        "【📝 打卡 1/3】",
        "昨天完成了什么？",
        "直接回复文字即可。",
        "当前回答：打了50个电话。发送新的回答，或发送“不变”保留。",
    ]
    # Mid-edit the check-in is still done and its plan still counts.
    recap = lines(await chat.say("boss", "/recap"))
    assert "早会承诺: ¥3万（完成 0%）" in recap
    assert "• dave：¥0（0 单，计划 ¥3万）" in recap
    assert "📝 打卡参与：1/6（17%），未打卡：Boss、alice、bob、carol、erin" in recap

    second = await chat.say("dave", "拜访了2家客户", dm=True)
    assert lines(second) == [
        "【📝 打卡 2/3】",
        "今天的目标成交额是多少？",
        "请回复金额，如 12800、1.28万、1.2w。例如：5万",
        "当前回答：3万。发送新的回答，或发送“不变”保留。",
    ]
    recap = lines(await chat.say("boss", "/recap"))
    assert "• dave：¥0（0 单，计划 ¥3万）" in recap  # the amount is not asked again yet: still the old one
    await chat.say("dave", "5万", dm=True)
    done = await chat.say("dave", "不变", dm=True)  # keeps "无"
    assert lines(done) == [
        "【✅ 打卡已更新！】",
        "昨天完成了什么？: 拜访了2家客户",
        "今天的目标成交额是多少？: 5万",
        "遇到什么困难，需要什么支持？: 无",
        "🌱 坚持打卡的第一天，明天继续！",
        "想修改回答？发送 /打卡 edit。祝今天开单大吉！🧧",
    ]
    recap = lines(await chat.say("boss", "/recap"))
    assert "早会承诺: ¥5万（完成 0%）" in recap
    assert "• dave：¥0（0 单，计划 ¥5万）" in recap
    assert "📝 打卡参与：1/6（17%），未打卡：Boss、alice、bob、carol、erin" in recap


async def test_checkin_edit_in_one_line_replaces_every_answer(chat):
    await chat.say("dave", "/checkin 打了50个电话; 3万; 无")
    reply = await chat.say("dave", "/checkin edit 拜访3家; 4万; 需要报价")
    assert lines(reply) == [
        "【✅ 打卡已更新！】",
        "昨天完成了什么？: 拜访3家",
        "今天的目标成交额是多少？: 4万",
        "遇到什么困难，需要什么支持？: 需要报价",
        "🌱 坚持打卡的第一天，明天继续！",
        "想修改回答？发送 /打卡 edit。祝今天开单大吉！🧧",
    ]
    assert "• dave：¥0（0 单，计划 ¥4万）" in lines(await chat.say("boss", "/recap"))

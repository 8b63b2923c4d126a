"""Usage lines are built from the declared arguments, in the team's language."""

from __future__ import annotations

import pytest

from bot.commands import build_registry
from bot.commands.help import HelpCatalog

USAGE = {
    ("deal", "zh-CN"): "/成交 金额 [@成员] [客户或产品] | /成交 undo [编号]",
    ("deal", "en"): "/deal AMOUNT [@member] [customer or product] | /deal undo [ID]",
    ("kudos", "zh-CN"): "/点赞 @成员 [@成员…] 原因",
    ("kudos", "en"): "/kudos @member [@member…] reason",
    ("leave", "zh-CN"): "/请假 [@成员] [今天|开始..结束] [原因] | /请假 cancel [@成员]",
    ("goal", "en"): (
        "/goal [team|group NAME|@member|me] AMOUNT|clear [deals] today|week|month|quarter | /goal post ID"
    ),
    (
        "rank",
        "zh-CN",
    ): "/排行 [今天|本周|本月|本季度] [个人|小组] [金额|单数|人均] [图表] | /排行 pk [比赛名称]",
    ("recap", "en"): "/recap [today|week|month] | /recap pin NUMBER|@member",
    ("me", "zh-CN"): "/我的",
    ("help", "en"): "/help [COMMAND]",
}


@pytest.mark.parametrize(("command", "locale"), sorted(USAGE))
def test_usage_comes_from_the_declaration(command: str, locale: str) -> None:
    registry = build_registry()
    info = HelpCatalog(registry=registry).get(command, locale)
    assert info is not None
    assert info.usage == USAGE[command, locale]


def test_team_lists_its_forms_after_the_command_once() -> None:
    usage = HelpCatalog().get("team", "en")
    assert usage is not None
    forms = usage.usage.split(" | ")
    assert forms[0] == "/team setup NAME"
    assert "role @member leader|lead|member" in forms
    assert "pk stop COMPETITION" in forms
    assert sum(form.startswith("/team") for form in forms) == 1


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_declared_argument_has_a_label_in_each_language(locale: str) -> None:
    """An argument without a label would show its bare name (`TOPIC`) in the usage line."""
    catalog = HelpCatalog()
    labels = catalog._arguments[locale]["labels"]

    def walk(forms):
        for form in forms:
            yield from walk(form.forms)
            yield from form.args

    for spec in build_registry().specs():
        for arg in walk(spec.forms):
            key = arg.label if arg.label is not None else arg.name
            assert key == "" or key in labels, (spec.name, arg.name)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_form_example_names_a_declared_form(locale: str) -> None:
    """`[team.forms]` keys are the words of a form; a key no form has would never be shown."""
    catalog = HelpCatalog()
    registry = build_registry()

    def paths(forms, prefix=()):
        for form in forms:
            words = (*prefix, form.words[0]) if form.words else prefix
            if words:
                yield " ".join(words)
            yield from paths(form.forms, words)

    for name, entry in catalog._commands[locale].items():
        spec = registry.resolve(name)
        assert spec is not None, name
        assert set(entry.get("forms", {})) <= set(paths(spec.forms)), name

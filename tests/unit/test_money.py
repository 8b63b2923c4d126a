from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.money import (
    CURRENCIES,
    MAX_MINOR,
    InvalidAmount,
    Money,
    format_count,
    format_money,
    format_money_exact,
    parse_amount,
)


def cny(major: str) -> Money:
    return Money.from_major(Decimal(major), "CNY")


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minor", "currency"),
    [
        ("12800", 1_280_000, "CNY"),
        ("12,800", 1_280_000, "CNY"),
        ("12，800", 1_280_000, "CNY"),
        ("¥12800", 1_280_000, "CNY"),
        ("￥12800", 1_280_000, "CNY"),
        ("¥ 12,800", 1_280_000, "CNY"),
        ("1.28万", 1_280_000, "CNY"),
        ("1.2w", 1_200_000, "CNY"),
        ("1.2W", 1_200_000, "CNY"),
        ("12.8k", 1_280_000, "CNY"),
        ("12.8K", 1_280_000, "CNY"),
        ("3千", 300_000, "CNY"),
        ("$1,200.50", 120_050, "USD"),
        ("3元", 300, "CNY"),
        ("5块", 500, "CNY"),
        ("5块钱", 500, "CNY"),
        ("1.5亿", 15_000_000_000, "CNY"),
        ("1.5万元", 1_500_000, "CNY"),
        ("CNY 12800", 1_280_000, "CNY"),
        ("cny12800", 1_280_000, "CNY"),
        ("RMB 100", 10_000, "CNY"),
        ("USD 10", 1_000, "USD"),
        ("10 USD", 1_000, "USD"),
        ("100美元", 10_000, "USD"),
        ("€9.99", 999, "EUR"),
        ("£7", 700, "GBP"),
        ("HK$5", 500, "HKD"),
        ("50港币", 5_000, "HKD"),
        ("JP¥1200", 1_200, "JPY"),
        ("JPY 1,200", 1_200, "JPY"),
        ("１２８００", 1_280_000, "CNY"),
        ("１．２８万", 1_280_000, "CNY"),
        ("￥１２，８００", 1_280_000, "CNY"),
        ("  12800  ", 1_280_000, "CNY"),
        ("+500", 50_000, "CNY"),
        (".5", 50, "CNY"),
        ("0012", 1_200, "CNY"),
        ("12800.10", 1_280_010, "CNY"),
        ("12800.100000", 1_280_010, "CNY"),
    ],
)
def test_parse_accepts_what_people_type(text: str, minor: int, currency: str) -> None:
    assert parse_amount(text, "CNY") == Money(minor, currency)


def test_default_currency_applies_without_a_marker() -> None:
    assert parse_amount("10", "USD") == Money(1_000, "USD")
    assert parse_amount("1200", "JPY") == Money(1_200, "JPY")
    assert parse_amount("1.2万", "JPY") == Money(12_000, "JPY")


def test_symbol_overrides_default_currency() -> None:
    assert parse_amount("$10", "CNY").currency == "USD"
    assert parse_amount("¥10", "USD").currency == "CNY"


def test_wan_is_exact_not_float() -> None:
    m = parse_amount("1.28万", "CNY")
    assert m.major == Decimal("12800.00")
    assert m.minor == 1_280_000
    # the classic float trap: 0.1 + 0.2
    assert parse_amount("0.1", "CNY") + parse_amount("0.2", "CNY") == parse_amount("0.3", "CNY")
    assert parse_amount("1.1万", "CNY").minor == 1_100_000  # 1.1 * 10000 in float is 11000.000000000002


def test_precision_is_judged_after_the_multiplier() -> None:
    assert parse_amount("1.23456万", "CNY") == Money(1_234_560, "CNY")
    assert parse_amount("1.2345k", "CNY") == Money(123_450, "CNY")
    assert parse_amount("1.234567万", "CNY") == Money(1_234_567, "CNY")
    with pytest.raises(InvalidAmount) as err:
        parse_amount("1.2345678万", "CNY")
    assert err.value.code == "too_precise"


@pytest.mark.parametrize(
    ("text", "currency", "code"),
    [
        ("", "CNY", "empty"),
        ("   ", "CNY", "empty"),
        ("\u3000", "CNY", "empty"),
        ("0", "CNY", "not_positive"),
        ("0.00", "CNY", "not_positive"),
        ("0万", "CNY", "not_positive"),
        ("-5", "CNY", "not_positive"),
        ("-¥5", "CNY", "not_positive"),
        ("¥-5", "CNY", "not_positive"),
        ("−5", "CNY", "not_positive"),
        ("-0.001", "CNY", "not_positive"),
        ("0.001", "CNY", "too_precise"),
        ("12.345", "USD", "too_precise"),
        ("1.5", "JPY", "too_precise"),
        ("JPY 1.5", "CNY", "too_precise"),
        ("abc", "CNY", "not_a_number"),
        ("12,80", "CNY", "not_a_number"),
        ("1,2800", "CNY", "not_a_number"),
        ("12..3", "CNY", "not_a_number"),
        ("1e5", "CNY", "not_a_number"),
        ("1万2", "CNY", "not_a_number"),
        ("--5", "CNY", "not_a_number"),
        ("-$-5", "CNY", "not_a_number"),
        ("$", "CNY", "not_a_number"),
        ("万", "CNY", "not_a_number"),
        ("12800 hello", "CNY", "not_a_number"),
        ("nan", "CNY", "not_a_number"),
        ("inf", "CNY", "not_a_number"),
        ("$5元", "CNY", "not_a_number"),  # two different currencies named
        ("XYZ 5", "CNY", "unknown_currency"),
        ("5 ABC", "CNY", "unknown_currency"),
        ("5", "XYZ", "unknown_currency"),
        ("1" * 40, "CNY", "too_large"),
        ("10000000亿", "CNY", "too_large"),
    ],
)
def test_parse_rejects_with_a_code(text: str, currency: str, code: str) -> None:
    with pytest.raises(InvalidAmount) as err:
        parse_amount(text, currency)
    assert err.value.code == code
    assert isinstance(err.value, ValueError)


def test_largest_amount_is_accepted() -> None:
    assert parse_amount(str(MAX_MINOR // 100), "CNY").minor == MAX_MINOR


# --- Money -----------------------------------------------------------------------------------------


def test_money_rejects_floats_and_unknown_currencies() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "CNY")
    with pytest.raises(ValueError):
        Money(1, "XYZ")


def test_major_uses_the_currency_exponent() -> None:
    assert Money(120_050, "USD").major == Decimal("1200.50")
    assert Money(1_200, "JPY").major == Decimal("1200")


def test_from_major_refuses_sub_minor_amounts() -> None:
    assert Money.from_major("12.5", "CNY") == Money(1_250, "CNY")
    with pytest.raises(ValueError):
        Money.from_major("12.505", "CNY")


def test_adding_different_currencies_is_refused() -> None:
    with pytest.raises(ValueError):
        _ = Money(1, "CNY") + Money(1, "USD")


def test_currency_table() -> None:
    assert CURRENCIES["CNY"] == (2, "¥")
    assert CURRENCIES["USD"] == (2, "$")
    assert CURRENCIES["EUR"] == (2, "€")
    assert CURRENCIES["HKD"] == (2, "HK$")
    assert CURRENCIES["JPY"] == (0, "JP¥")
    assert CURRENCIES["GBP"] == (2, "£")


# --- formatting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1_280_000, "USD"), "$12,800"),
        (Money(1_280_000, "CNY"), "¥12,800"),
        (Money(120_050, "USD"), "$1,200.50"),
        (Money(120_005, "USD"), "$1,200.05"),
        (Money(1, "USD"), "$0.01"),
        (Money(15_000_000_000, "CNY"), "¥150,000,000"),
        (Money(1_200, "JPY"), "JP¥1,200"),
        (Money(999, "EUR"), "€9.99"),
        (Money(-50_000, "CNY"), "-¥500"),
    ],
)
def test_format_en(money: Money, text: str) -> None:
    assert format_money(money, "en") == text


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (cny("9999.99"), "¥9,999.99"),
        (cny("800"), "¥800"),
        (cny("10000"), "¥1万"),
        (cny("12800"), "¥1.28万"),
        (cny("12345.60"), "¥1.23万"),
        (cny("12899"), "¥1.28万"),  # truncated, never rounded up
        (cny("99995"), "¥9.99万"),
        (cny("300000"), "¥30万"),
        (cny("99999999.99"), "¥9,999.99万"),
        (cny("100000000"), "¥1亿"),
        (cny("150000000"), "¥1.5亿"),
        (cny("1234567890000"), "¥12,345.67亿"),
        (Money(1_280_000, "USD"), "$1.28万"),
        (Money(-3_000_000, "CNY"), "-¥3万"),
    ],
)
def test_format_zh_compacts_from_wan(money: Money, text: str) -> None:
    assert format_money(money, "zh-CN") == text


def test_format_exact_never_compacts() -> None:
    assert format_money_exact(cny("12800.50"), "zh-CN") == "¥12,800.50"
    assert format_money_exact(cny("150000000"), "zh-CN") == "¥150,000,000"
    assert format_money_exact(cny("12800"), "en") == "¥12,800"
    assert format_money_exact(Money(-5, "USD"), "en") == "-$0.05"


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0"), (999, "999"), (1000, "1,000"), (1234567, "1,234,567"), (-12800, "-12,800")]
)
def test_format_count(n: int, text: str) -> None:
    assert format_count(n, "en") == text
    assert format_count(n, "zh-CN") == text


# --- properties -------------------------------------------------------------------------------------

currencies = st.sampled_from(sorted(CURRENCIES))
locales = st.sampled_from(["en", "zh-CN"])
amounts = st.integers(min_value=1, max_value=MAX_MINOR)


@given(amounts, currencies, locales)
def test_exact_format_round_trips(minor: int, currency: str, locale: str) -> None:
    m = Money(minor, currency)
    assert parse_amount(format_money_exact(m, locale), "CNY") == m


@given(amounts, currencies)
def test_en_format_round_trips(minor: int, currency: str) -> None:
    m = Money(minor, currency)
    assert parse_amount(format_money(m, "en"), "EUR") == m


@given(amounts, currencies)
def test_zh_compact_never_overstates_and_is_close(minor: int, currency: str) -> None:
    m = Money(minor, currency)
    shown = parse_amount(format_money(m, "zh-CN"), "CNY")
    assert shown.currency == currency
    assert shown.minor <= m.minor
    scale = 10 ** CURRENCIES[currency][0]
    # 2 decimals of 万 = 100 major units; 2 decimals of 亿 = 1,000,000 major units
    tolerance = 100 * scale if m.major < 100_000_000 else 1_000_000 * scale
    assert m.minor - shown.minor < tolerance


@given(st.integers(min_value=1, max_value=10**12), st.sampled_from(["", "¥", "CNY ", "RMB"]))
def test_grouped_and_plain_digits_agree(minor: int, prefix: str) -> None:
    plain = f"{minor // 100}.{minor % 100:02d}"
    grouped = f"{minor // 100:,}.{minor % 100:02d}"
    assert parse_amount(prefix + plain, "CNY") == parse_amount(prefix + grouped, "CNY") == Money(minor, "CNY")


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=2))
def test_wan_equals_the_same_amount_written_out(major: Decimal) -> None:
    as_wan = (major / 10_000).normalize()
    assert parse_amount(f"{as_wan:f}万", "CNY") == Money.from_major(major, "CNY")


@pytest.mark.slow
@given(st.text(max_size=20))
def test_parse_never_crashes_with_anything_but_invalid_amount(text: str) -> None:
    try:
        m = parse_amount(text, "CNY")
    except InvalidAmount as err:
        assert err.code in {
            "empty",
            "not_a_number",
            "not_positive",
            "too_precise",
            "unknown_currency",
            "too_large",
        }
    else:
        assert 0 < m.minor <= MAX_MINOR

"""Exact money: parsing what salespeople type and formatting it the way their locale reads best.

Amounts are integer minor units (fen, cents); parsing goes through Decimal so that `1.28万` is exactly
12800.00 and never 12799.999…. Errors carry a *code*, not prose: callers render the message from a
template in the team's locale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext
from types import MappingProxyType

#: currency code -> (minor-unit exponent, display symbol)
CURRENCIES: Mapping[str, tuple[int, str]] = MappingProxyType(
    {
        "CNY": (2, "¥"),
        "USD": (2, "$"),
        "EUR": (2, "€"),
        "HKD": (2, "HK$"),
        "JPY": (0, "JP¥"),
        "GBP": (2, "£"),
    }
)

#: The largest amount accepted, in minor units: far above any real deal, far below a 64-bit column.
MAX_MINOR = 10**15

# Prefixes and suffixes that name a currency; matched case-insensitively.
_SYMBOLS: Mapping[str, str] = MappingProxyType(
    {
        "HK$": "HKD",
        "US$": "USD",
        "JP¥": "JPY",
        "CN¥": "CNY",
        "RMB": "CNY",
        "$": "USD",
        "¥": "CNY",
        "€": "EUR",
        "£": "GBP",
        "元": "CNY",
        "块": "CNY",
        "块钱": "CNY",
        "圆": "CNY",
        "人民币": "CNY",
        "美元": "USD",
        "美金": "USD",
        "欧元": "EUR",
        "港币": "HKD",
        "港元": "HKD",
        "日元": "JPY",
        "英镑": "GBP",
    }
)

_MULTIPLIERS: Mapping[str, int] = MappingProxyType(
    {"k": 10**3, "千": 10**3, "w": 10**4, "万": 10**4, "亿": 10**8}
)

_AMOUNT_RE = re.compile(
    r"""
    ^(?P<sign1>[+-])?\s*
    (?P<prefix>HK\$|US\$|JP¥|CN¥|RMB|[A-Z]{3}|[$¥€£])?\s*
    (?P<sign2>[+-])?\s*
    (?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)
    (?:\.(?P<frac>[0-9]+))?
    \s*(?P<mult>[kKwW千万亿])?
    \s*(?P<suffix>[A-Z]{3}|块钱|人民币|美元|美金|欧元|港币|港元|日元|英镑|元|块|圆)?
    $""",
    re.VERBOSE | re.IGNORECASE,
)

# Full-width forms typed on Chinese keyboards, mapped to their ASCII twins.
_FULL_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {
    0x3000: ord(" "),
    0xFFE5: ord("¥"),
    0xFFE1: ord("£"),
    0x2212: ord("-"),
}

_MAX_DIGITS = 24


class InvalidAmount(ValueError):
    """An amount that cannot be accepted; `code` picks the message template.

    Codes: "empty", "not_a_number", "not_positive", "too_precise", "unknown_currency", "too_large".
    """

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Money:
    """An exact amount: integer minor units of a known currency."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.minor) is not int:
            raise TypeError("Money.minor must be an int (minor units), never a float or Decimal")
        if self.currency not in CURRENCIES:
            raise ValueError(f"unknown currency {self.currency!r}")

    @property
    def exponent(self) -> int:
        return CURRENCIES[self.currency][0]

    @property
    def major(self) -> Decimal:
        """The amount in major units, exact (e.g. Decimal('12800.00') for CNY)."""
        return Decimal(self.minor).scaleb(-self.exponent)

    @classmethod
    def from_major(cls, major: Decimal | int | str, currency: str) -> Money:
        """Build from major units; refuses amounts finer than the currency's minor unit."""
        if currency not in CURRENCIES:
            raise ValueError(f"unknown currency {currency!r}")
        with localcontext() as ctx:
            ctx.prec = 80
            minor = Decimal(major).scaleb(CURRENCIES[currency][0])
            if minor != minor.to_integral_value():
                raise ValueError(f"{major} has more decimals than {currency} allows")
        return cls(int(minor), currency)

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.minor + other.minor, self.currency)


def normalise_width(text: str) -> str:
    """Full-width digits, punctuation and currency signs to ASCII (`１２，８００` -> `12,800`)."""
    return text.translate(_FULL_WIDTH)


def _currency_of(token: str | None) -> str | None:
    if not token:
        return None
    upper = token.upper()
    if upper in _SYMBOLS:
        return _SYMBOLS[upper]
    if token in _SYMBOLS:
        return _SYMBOLS[token]
    if upper in CURRENCIES:
        return upper
    raise InvalidAmount("unknown_currency")


def parse_amount(text: str, default_currency: str) -> Money:
    """Parse what people type (`12800`, `¥12,800`, `1.28万`, `12.8k`, `$1,200.50`, `USD 10`) exactly.

    A symbol or code in the text sets the currency, otherwise `default_currency` applies. Raises
    InvalidAmount with a code; never returns a zero or negative amount.
    """
    if default_currency not in CURRENCIES:
        raise InvalidAmount("unknown_currency")
    cleaned = normalise_width(text).strip()
    if not cleaned:
        raise InvalidAmount("empty")
    match = _AMOUNT_RE.match(cleaned)
    if match is None or (not match["int"] and match["frac"] is None):
        raise InvalidAmount("not_a_number")
    if match["sign1"] and match["sign2"]:
        raise InvalidAmount("not_a_number")

    named = {c for c in (_currency_of(match["prefix"]), _currency_of(match["suffix"])) if c}
    if len(named) > 1:
        raise InvalidAmount("not_a_number")
    currency = named.pop() if named else default_currency
    exponent = CURRENCIES[currency][0]

    int_digits = match["int"].replace(",", "").lstrip("0")
    frac_digits = (match["frac"] or "").rstrip("0")
    if len(int_digits) > _MAX_DIGITS:
        raise InvalidAmount("too_large")
    if len(frac_digits) > _MAX_DIGITS:
        raise InvalidAmount("too_precise")
    negative = "-" in (match["sign1"] or "", match["sign2"] or "")
    multiplier = _MULTIPLIERS[match["mult"].lower()] if match["mult"] else 1

    with localcontext() as ctx:
        ctx.prec = 80  # enough for every digit we let through: the arithmetic below is exact
        value = Decimal(f"{int_digits or '0'}.{frac_digits or '0'}") * multiplier
        if negative or value == 0:
            raise InvalidAmount("not_positive")
        minor = value.scaleb(exponent)
        if minor != minor.to_integral_value():
            raise InvalidAmount("too_precise")
    result = int(minor)
    if result > MAX_MINOR:
        raise InvalidAmount("too_large")
    return Money(result, currency)


def _is_zh(locale: str) -> bool:
    return locale.lower().startswith("zh")


def _plain(minor_abs: int, exponent: int) -> str:
    """Grouped major units; the minor part only when it is not zero (`12,800`, `1,200.50`)."""
    whole, frac = divmod(minor_abs, 10**exponent)
    text = f"{whole:,}"
    if frac:
        text += f".{frac:0{exponent}d}"
    return text


def _compact_zh(minor_abs: int, exponent: int) -> str | None:
    """`1.28万` / `1.5亿` for amounts of at least 1万 major units, else None.

    Truncated (never rounded up) to two decimals of the unit, i.e. to 100 major units for 万 and
    1,000,000 for 亿: a compact figure never claims more than was achieved, so 99,995 shows as
    `9.99万`, not as a goal of `10万` that looks met. Use format_money_exact where every fen matters.
    """
    major = Decimal(minor_abs).scaleb(-exponent)
    for power, unit in ((8, "亿"), (4, "万")):
        if major >= Decimal(10) ** power:
            scaled = major.scaleb(-power).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            return f"{scaled.normalize():,f}{unit}"
    return None


def format_money(m: Money, locale: str) -> str:
    """Display form: `$12,800`, `$1,200.50`; zh-CN reads amounts from 1万 up as `¥1.28万`, `¥1.5亿`."""
    exponent, symbol = CURRENCIES[m.currency]
    sign = "-" if m.minor < 0 else ""
    body = _compact_zh(abs(m.minor), exponent) if _is_zh(locale) else None
    if body is None:
        body = _plain(abs(m.minor), exponent)
    return f"{sign}{symbol}{body}"


def format_money_exact(m: Money, locale: str) -> str:
    """Every minor unit shown, never compacted (`¥12,800.50`): for receipts, corrections and exports."""
    exponent, symbol = CURRENCIES[m.currency]
    sign = "-" if m.minor < 0 else ""
    return f"{sign}{symbol}{_plain(abs(m.minor), exponent)}"


def format_count(n: int, locale: str) -> str:
    """A count with thousands separators (`12,800`); both supported locales group by three with commas."""
    return f"{n:,}"

"""Property tests for micro-unit money (DESIGN §4.1, §4.2)."""

from __future__ import annotations

import ast
import inspect
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from api import money

MAX = money.MAX_AMOUNT
micros_st = st.integers(min_value=-MAX, max_value=MAX)
pct_st = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)


@given(micros_st)
def test_format_then_parse_gives_back_the_same_micros(micros):
    assert money.parse(money.format_amount(micros)) == micros
    assert money.parse(money.to_decimal(micros)) == micros
    assert money.parse(str(money.to_decimal(micros))) == micros


@given(micros_st, st.integers(min_value=0, max_value=6))
def test_format_shows_at_least_the_asked_places_and_never_loses_a_micro(micros, places):
    shown = money.format_amount(micros, places)
    decimals = shown.split(".")[1] if "." in shown else ""
    assert len(decimals) >= places
    assert len(decimals) <= max(places, 6)
    assert Decimal(shown) * money.MICROS == micros


@example(Decimal("12.50"))
@given(st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False))
def test_parse_of_a_six_place_decimal_is_exact(value):
    micros = money.parse(str(value))
    assert Fraction(micros, money.MICROS) == Fraction(value)


def test_examples_read_as_a_person_would():
    assert money.parse("12.50") == 12_500_000
    assert money.parse(" 0.000001 ") == 1
    assert money.parse("-3") == -3_000_000
    assert money.format_amount(12_500_000) == "12.50"
    assert money.format_amount(1) == "0.000001"
    assert money.format_amount(-1_230_000) == "-1.23"


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_parse_refuses_floats(value):
    with pytest.raises(money.MoneyError, match="float"):
        money.parse(value)


@pytest.mark.parametrize("value", [True, False])
def test_parse_refuses_booleans(value):
    with pytest.raises(money.MoneyError):
        money.parse(value)


@given(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.integers(min_value=7, max_value=12),
    st.integers(min_value=1, max_value=9),
)
def test_parse_refuses_more_than_six_decimals(units, places, last_digit):
    value = f"{units}.{'0' * (places - 1)}{last_digit}"
    with pytest.raises(money.MoneyError, match="six decimal places"):
        money.parse(value)


@pytest.mark.parametrize("value", ["", "abc", "1,00", "NaN", "Infinity", "-inf", "1e30", "-1e22"])
def test_parse_refuses_what_is_not_a_finite_amount(value):
    with pytest.raises(money.MoneyError):
        money.parse(value)


def test_parse_of_an_overflowing_exponent_is_a_money_error():
    with pytest.raises(money.MoneyError):
        money.parse("1e999999999")


def test_parse_refuses_a_huge_exponent_by_its_range_not_by_expanding_it():
    # the range is read off the exponent: no 100,000-digit number is ever built
    with pytest.raises(money.MoneyError, match="out of range"):
        money.parse(Decimal("1e100000"))


AMOUNT_ORACLE = re.compile(r"-?[0-9]+(\.[0-9]{1,6})?")


@pytest.mark.parametrize(
    "value",
    [
        "1_0",
        "1_000.00",
        "+5",
        ".5",
        "5.",
        "1e3",
        "1E-2",
        "0x10",
        "1 0",
        "--1",
        "٣",
        "\uff11",
        "- 1",
    ],
)
def test_parse_refuses_every_spelling_decimal_would_read_but_a_person_would_not_type(value):
    with pytest.raises(money.MoneyError, match="not a decimal amount"):
        money.parse(value)


@given(st.text(alphabet="0123456789-+._eE ,x٣", max_size=14))
def test_parse_accepts_exactly_what_the_amount_pattern_accepts(text):
    """Against an oracle: digits, an optional minus, at most six decimals, nothing else."""
    stripped = text.strip()
    if AMOUNT_ORACLE.fullmatch(stripped):
        assert Fraction(money.parse(text), money.MICROS) == Fraction(Decimal(stripped))
    else:
        with pytest.raises(money.MoneyError):
            money.parse(text)


def test_parse_refuses_amounts_out_of_range():
    too_big = money.MAX_AMOUNT // money.MICROS + 1
    with pytest.raises(money.MoneyError, match="out of range"):
        money.parse(str(too_big))
    assert money.parse(str(money.MAX_AMOUNT // money.MICROS)) == money.MAX_AMOUNT


@given(st.integers(min_value=-(10**15), max_value=10**15), st.integers(0, 9))
def test_round_micros_is_half_up_away_from_zero(whole, tenth):
    value = (
        Decimal(whole) + Decimal(tenth) / 10 if whole >= 0 else Decimal(whole) - Decimal(tenth) / 10
    )
    rounded = money.round_micros(value)
    magnitude = abs(whole) + (1 if tenth >= 5 else 0)
    assert rounded == (magnitude if whole >= 0 else -magnitude)


def test_round_micros_examples():
    assert money.round_micros(Decimal("2.5")) == 3
    assert money.round_micros(Decimal("-2.5")) == -3
    assert money.round_micros(Decimal("2.4999999")) == 2
    assert money.round_micros(Decimal("0.5")) == 1


@given(micros_st, pct_st)
def test_percent_of_is_within_half_a_micro_of_the_exact_value(micros, pct):
    exact = Fraction(micros) * Fraction(pct) / 100
    result = money.percent_of(micros, pct)
    assert isinstance(result, int)
    assert abs(Fraction(result) - exact) <= Fraction(1, 2)
    # half-up: an exact half rounds away from zero
    if abs(exact - int(exact)) == Fraction(1, 2):
        assert abs(result) > abs(exact)


def test_percent_of_examples():
    assert money.percent_of(100_000_000, Decimal("10")) == 10_000_000  # 10 % of 100.00
    assert money.percent_of(5, Decimal("10")) == 1  # 0.5 micro rounds up
    assert money.percent_of(-5, Decimal("10")) == -1
    assert money.percent_of(1, Decimal("33.3333")) == 0


def test_money_module_never_uses_floats():
    """No float literal, no ``float`` call and no true division of plain numbers in money.py."""
    tree = ast.parse(inspect.getsource(money))
    floats = [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Constant) and isinstance(node.value, float))
        or (
            isinstance(node, ast.Name)
            and node.id == "float"
            and isinstance(node.ctx, ast.Load)
            and not _inside_isinstance(tree, node)
        )
    ]
    assert not floats, f"float used on lines {floats}"


def _inside_isinstance(tree: ast.AST, name: ast.Name) -> bool:
    """``isinstance(value, (bool, float))`` is how parse refuses floats: allowed."""
    for node in ast.walk(tree):
        is_check = isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance"
        if is_check and any(name is n for n in ast.walk(node)):
            return True
    return False


@given(micros_st, pct_st)
def test_percent_of_is_exact_where_a_float_would_not_be(micros, pct):
    """Large amounts times a four-place percentage: a float path would drift, Decimal does not."""
    exact = Fraction(micros) * Fraction(pct) / 100
    floor = exact.numerator // exact.denominator
    expected = floor + 1 if exact - floor >= Fraction(1, 2) else floor
    if exact < 0:
        neg = -exact
        nfloor = neg.numerator // neg.denominator
        expected = -(nfloor + 1 if neg - nfloor >= Fraction(1, 2) else nfloor)
    assert money.percent_of(micros, pct) == expected


@given(pct_st)
def test_parse_percent_accepts_four_places_between_0_and_100(pct):
    assert money.parse_percent(str(pct)) == pct


@pytest.mark.parametrize("value", ["-0.0001", "100.0001", "12.34567", "x", "NaN"])
def test_parse_percent_refuses_the_rest(value):
    with pytest.raises(money.MoneyError):
        money.parse_percent(value)

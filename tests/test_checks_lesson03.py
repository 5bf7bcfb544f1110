"""Lesson 03's exercises: the reference solutions pass, typical wrong answers fail with a hint.

Exercise 1 asks for a stride in bytes, exercise 2 for a vectorized VWAP (a loop must be
refused even when its values are right), exercise 3 for records turned into columns.
"""

import functools

import numpy as np
import pytest
from numba import njit

from latency_lab import checks
from latency_lab.checks.core import NO_ANSWER

# -- exercise 1: the row stride --------------------------------------------------------------------


@pytest.mark.parametrize("right", [16384, np.int64(16384), np.array(16384), 16384.0])
def test_row_stride_accepts_the_stride_in_any_numeric_form(right):
    assert checks.check_row_stride(right).passed


@pytest.mark.parametrize("wrong", [8, 2048, 16384 * 8, 64])
def test_row_stride_rejects_an_element_a_row_count_or_bits(wrong):
    feedback = checks.check_row_stride(wrong)
    assert not feedback.passed and "Hint" in feedback.message


# -- exercise 2: a vectorized VWAP ---------------------------------------------------------------
def vwap(prices, sizes):  # the reference solution (lessons/solutions/03_...)
    return np.einsum("i,i->", prices, sizes) / sizes.sum()


def vwap_dot(prices, sizes):
    return np.dot(prices, sizes) / np.sum(sizes)


def vwap_average(prices, sizes):
    return np.average(prices, weights=sizes)


def vwap_for(prices, sizes):
    notional = volume = 0.0
    for price, size in zip(prices, sizes, strict=True):
        notional += price * size
        volume += size
    return notional / volume


def vwap_while(prices, sizes):
    i, notional, volume = 0, 0.0, 0.0
    while i < len(prices):
        notional += prices[i] * sizes[i]
        volume += sizes[i]
        i += 1
    return notional / volume


def vwap_comprehension(prices, sizes):
    return np.sum([p * s for p, s in zip(prices, sizes, strict=True)]) / np.sum(sizes)


def vwap_generator(prices, sizes):
    return np.sum(np.fromiter((p * s for p, s in zip(prices, sizes, strict=True)), float)) / (
        np.sum(sizes)
    )


def vwap_builtin_sum(prices, sizes):
    return sum(prices * sizes) / sum(sizes)


def vwap_vectorize(prices, sizes):
    return np.vectorize(lambda p, s: p * s)(prices, sizes).sum() / sizes.sum()


vwap_numba = njit(vwap_while)


def vwap_stub(prices, sizes): ...


def vwap_mean(prices, sizes):
    return prices.mean()


def vwap_notional(prices, sizes):
    return np.dot(prices, sizes)


def vwap_size_count(prices, sizes):
    return np.dot(prices, sizes) / len(sizes)


@pytest.mark.parametrize(
    "right",
    [
        vwap,
        vwap_dot,
        vwap_average,
        lambda p, s: (p * s).sum() / s.sum(),
        lambda p, s: np.array(np.dot(p, s) / s.sum()),
        functools.partial(vwap_dot),
    ],
)
def test_vwap_accepts_whole_array_solutions(right):
    feedback = checks.check_vwap(right)
    assert feedback.passed, feedback.message
    assert "results only" not in feedback.message  # their code was read


@pytest.mark.parametrize(
    "loop, says",
    [
        (vwap_for, "a `for` loop"),
        (vwap_while, "a `while` loop"),
        (vwap_comprehension, "comprehension"),  # 3.12+ inlines it: "a `for` loop or comprehension"
        (vwap_generator, "a generator expression"),
        (vwap_builtin_sum, "built-in sum()"),
        (vwap_vectorize, "np.vectorize"),
        (vwap_numba, "numba compiles it"),
    ],
)
def test_vwap_refuses_element_by_element_loops_even_with_right_values(loop, says):
    feedback = checks.check_vwap(loop)
    assert not feedback.passed
    assert feedback.message.startswith("Right values, but") and says in feedback.message


def test_vwap_names_the_line_of_the_loop():
    feedback = checks.check_vwap(vwap_for)  # `for price, size in ...` is its third line
    assert "a `for` loop or comprehension on line 3" in feedback.message, feedback.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (vwap_mean, "expected"),
        (vwap_notional, "expected"),
        (vwap_size_count, "expected"),
        (lambda p, s: None, "forget `return`"),
    ],
)
def test_vwap_rejects_wrong_values_with_the_formula_as_hint(wrong, says):
    feedback = checks.check_vwap(wrong)
    assert not feedback.passed and says in feedback.message


@pytest.mark.parametrize("stub", [vwap_stub, ..., None])
def test_an_unanswered_vwap_says_no_answer_yet(stub):
    feedback = checks.check_vwap(stub)
    assert not feedback.passed and feedback.message == NO_ANSWER


class Opaque:
    """A callable whose ``__call__`` is not a plain function: its code cannot be read."""

    __call__ = functools.partialmethod(lambda self, p, s, loop: loop(p, s), loop=vwap_for)


def test_a_vwap_without_readable_code_is_judged_on_results_and_told_so():
    feedback = checks.check_vwap(Opaque())
    assert feedback.passed and "judged on its results only" in feedback.message
    wrong = checks.check_vwap(functools.partialmethod(vwap_mean).func)
    assert not wrong.passed


# -- exercise 3: records to columns -------------------------------------------------------------------
def to_columns(ticks):  # the reference solution
    return {name: np.ascontiguousarray(ticks[name]) for name in ticks.dtype.names}


@pytest.mark.parametrize(
    "right",
    [
        to_columns,
        lambda t: {name: t[name].copy() for name in t.dtype.names},
        lambda t: {name: np.array(t[name]) for name in t.dtype.names},
        lambda t: dict(reversed([(n, np.ascontiguousarray(t[n])) for n in t.dtype.names])),
        lambda t: {name: np.array([row[name] for row in t]) for name in t.dtype.names},
    ],
)
def test_to_columns_accepts_any_contiguous_copy_per_field(right):
    feedback = checks.check_to_columns(right)
    assert feedback.passed, feedback.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (lambda t: {name: t[name] for name in t.dtype.names}, "not contiguous"),
        (lambda t: {n: np.ascontiguousarray(t[n], dtype=float) for n in t.dtype.names}, "dtype"),
        (lambda t: {n: t[n].tolist() for n in t.dtype.names}, "numpy array"),
        (lambda t: t, "still an array of structs"),
        (lambda t: tuple(np.ascontiguousarray(t[n]) for n in t.dtype.names), "return a dict"),
        (lambda t: {n: np.ascontiguousarray(t[n]) for n in t.dtype.names[:-1]}, "missing"),
        (lambda t: {"price": t["price"].copy(), "size": t["size"].copy()}, "missing"),
        (lambda t: {n: np.sort(t[n]) for n in t.dtype.names}, "record order"),
        (lambda t: {n: np.ascontiguousarray(t[n][:1]) for n in t.dtype.names}, "shape"),
        (lambda t: None, "forget `return`"),
    ],
)
def test_to_columns_rejects_views_lost_types_and_missing_fields(wrong, says):
    feedback = checks.check_to_columns(wrong)
    assert not feedback.passed and says in feedback.message, feedback.message


def test_to_columns_with_hard_coded_field_names_fails_on_another_layout():
    names = ("ts", "price", "size", "venue", "side", "order_id")
    feedback = checks.check_to_columns(lambda t: {n: np.ascontiguousarray(t[n]) for n in names})
    assert not feedback.passed and "raised ValueError" in feedback.message


@pytest.mark.parametrize("stub", [..., None])
def test_an_unanswered_to_columns_says_no_answer_yet(stub):
    assert checks.check_to_columns(stub).message == NO_ANSWER


def test_to_columns_refuses_a_non_function():
    feedback = checks.check_to_columns({"price": np.ones(3)})
    assert not feedback.passed and "Pass your function itself" in feedback.message

"""Checkers of lesson 03 (memory and data layout): strides, a vectorized VWAP, and records
turned into columns."""

from __future__ import annotations

import builtins
import dis
import functools
import inspect
import types
from collections.abc import Mapping

import numpy as np

from latency_lab import memory
from latency_lab.checks.core import (
    Feedback,
    Rejected,
    call_learner,
    checker,
    describe,
    same_as_reference,
    whole,
)


@checker
def check_row_stride(answer) -> Feedback:
    """Lesson 03: bytes between ``a[i, j]`` and ``a[i + 1, j]`` in a C-ordered (2048, 2048)
    float64 array."""
    expected = np.zeros((2, 2048)).strides[0]
    if whole(answer, "the stride in bytes") == expected:
        return Feedback(True, f"Correct: {expected} bytes — a whole row of 2048 × 8 bytes apart.")
    return Feedback(
        False,
        f"{whole(answer, 'the stride in bytes')} is not it. Hint: in C order a row is "
        "contiguous; what lies between two rows?",
    )


# -- reading a learner's function without running it --------------------------------------------
#: Built-in functions that walk a sequence one Python object at a time.
_ELEMENTWISE_BUILTINS = {"sum": "built-in sum()", "map": "map()", "filter": "filter()"}
#: numpy helpers that call a Python function once per element.
_ELEMENTWISE_NUMPY = {"vectorize": "np.vectorize", "frompyfunc": "np.frompyfunc"}
_COMPREHENSIONS = {"<listcomp>", "<setcomp>", "<dictcomp>"}
_CALL_PREFIXES = tuple({*_ELEMENTWISE_BUILTINS.values(), *_ELEMENTWISE_NUMPY.values()})


def _code_of(func) -> tuple[types.CodeType | None, bool]:
    """The bytecode behind a callable, if Python wrote it, and whether numba compiles it.

    Looks through ``functools.partial``, bound methods, numba dispatchers (their
    ``py_func``) and instances with a Python ``__call__``; None for C functions.
    """
    compiled = False
    for _ in range(8):
        if isinstance(func, functools.partial):
            func = func.func
        elif isinstance(func, types.MethodType):
            func = func.__func__
        elif isinstance(getattr(func, "py_func", None), types.FunctionType):
            func, compiled = func.py_func, True
        else:
            break
    if isinstance(func, types.FunctionType):
        return func.__code__, compiled
    call = inspect.getattr_static(type(func), "__call__", None)
    if isinstance(call, types.FunctionType):
        return call.__code__, compiled
    return None, compiled


def _python_loops(code: types.CodeType, namespace: Mapping, first_line: int) -> list[str]:
    """Where ``code`` (and the code nested in it) iterates element by element in Python,
    as phrases such as "a `for` loop or comprehension on line 3". Reads bytecode only."""
    found = []

    def where(instruction) -> str:
        line = instruction.positions.lineno if instruction.positions else None
        return f" on line {line - first_line + 1}" if line is not None else ""

    def visit(code: types.CodeType) -> None:
        if code.co_name == "<genexpr>" or code.co_name in _COMPREHENSIONS:
            kind = "a generator expression" if code.co_name == "<genexpr>" else "a comprehension"
            line = code.co_firstlineno - first_line + 1
            found.append(f"{kind} on line {line}")
            return
        has_for = False
        backward = None
        for instruction in dis.get_instructions(code):
            name = instruction.opname
            if name == "FOR_ITER" and not has_for:
                has_for = True
                found.append("a `for` loop or comprehension" + where(instruction))
            elif "BACKWARD" in name and backward is None:
                backward = instruction
            elif name in ("LOAD_GLOBAL", "LOAD_NAME") and instruction.argval in (
                _ELEMENTWISE_BUILTINS
            ):
                target = namespace.get(instruction.argval, getattr(builtins, instruction.argval))
                if target is getattr(builtins, instruction.argval):
                    found.append(_ELEMENTWISE_BUILTINS[instruction.argval] + where(instruction))
            elif name in ("LOAD_ATTR", "LOAD_METHOD") and instruction.argval in _ELEMENTWISE_NUMPY:
                found.append(_ELEMENTWISE_NUMPY[instruction.argval] + where(instruction))
        if backward is not None and not has_for:
            found.append("a `while` loop" + where(backward))
        for constant in code.co_consts:
            if isinstance(constant, types.CodeType):
                visit(constant)

    visit(code)
    loops = [f for f in found if not f.startswith(_CALL_PREFIXES)]
    return loops + [f for f in found if f.startswith(_CALL_PREFIXES)]


def _namespace(func) -> Mapping:
    for _ in range(8):
        inner = getattr(func, "func", None) or getattr(func, "__func__", None)
        inner = inner or getattr(func, "py_func", None)
        if inner is None:
            break
        func = inner
    return getattr(func, "__globals__", None) or {}


NOT_INSPECTED = (
    " (Its code could not be read — it is not a Python function — so it was judged on its "
    "results only.)"
)


@checker
def check_vwap(func) -> Feedback:
    """Lesson 03: ``func(prices, sizes)`` must return the volume-weighted average price with
    whole-array operations: no Python loop.

    Judged first on results, on cases the learner has not seen (strided columns of a
    structured array among them); then its bytecode is read (never run) for element-by-
    element iteration: ``for``/``while`` loops, comprehensions, generator expressions,
    built-in ``sum``/``map``/``filter``, ``np.vectorize``/``np.frompyfunc``. A callable
    without Python bytecode (a C function) is judged on results only, and the feedback says
    so.
    """
    rng = np.random.default_rng(5)
    ticks = memory.make_ticks(1_000, seed=5)
    cases = [(100 + rng.random(n), rng.integers(1, 50, n).astype(float)) for n in (1, 7, 10_000)]
    cases.append((ticks["price"], ticks["size"]))  # strided views into an array of structs
    feedback = same_as_reference(
        func,
        cases,
        memory.vwap_vectorized,
        describe_case=lambda prices, sizes: f"{prices.size} ticks",
        hint="Σ price·size / Σ size.",
        success="Correct, including on strided columns of a structured array.",
        rel_tol=1e-9,
    )
    if not feedback.passed:
        return feedback
    code, compiled = _code_of(func)
    if code is None:
        return Feedback(True, feedback.message + NOT_INSPECTED)
    loops = _python_loops(code, _namespace(func), code.co_firstlineno)
    if loops:
        how = (
            "numba compiles it, but it still walks the arrays one element at a time"
            if compiled
            else "the interpreter runs it once per element"
        )
        return Feedback(
            False,
            f"Right values, but your function iterates element by element: {loops[0]} "
            f"({how}). The exercise asks for whole-array numpy operations — for example "
            "a sum of products and a sum, each one call over the whole array.",
        )
    return feedback


# -- records to columns ---------------------------------------------------------------------------
#: A second record layout for :func:`check_to_columns`: quotes, with other fields and widths.
QUOTE_DTYPE = np.dtype(
    [("ts", "i8"), ("bid", "f8"), ("ask", "f8"), ("bid_size", "i4"), ("ask_size", "i4")]
)


def _columns_reference(ticks: np.ndarray) -> dict[str, np.ndarray]:
    return {name: np.ascontiguousarray(ticks[name]) for name in ticks.dtype.names}


def _column_cases() -> list[tuple[str, np.ndarray]]:
    """Record arrays the learner has not seen: several lengths, two layouts, a strided view."""
    rng = np.random.default_rng(31)
    quotes = np.zeros(50, dtype=QUOTE_DTYPE)
    quotes["ts"] = np.cumsum(rng.integers(1, 1_000, 50))
    quotes["bid"] = 100 - rng.random(50)
    quotes["ask"] = 100 + rng.random(50)
    quotes["bid_size"] = rng.integers(1, 500, 50)
    quotes["ask_size"] = rng.integers(1, 500, 50)
    return [
        ("1 tick", memory.make_ticks(1, seed=11)),
        ("257 ticks", memory.make_ticks(257, seed=12)),
        ("50 quotes (other fields)", quotes),
        ("every 3rd of 400 ticks (a strided view)", memory.make_ticks(400, seed=13)[::3]),
    ]


@checker
def check_to_columns(func) -> Feedback:
    """Lesson 03: ``func(ticks)`` turns an array of structs (a structured array) into a
    struct of arrays: a dict mapping every field name to its own contiguous array of that
    field, with the field's dtype.

    Judged on record arrays the learner has not seen (other lengths, another record layout,
    a strided view of records): keys, dtypes, values and contiguity. Any mapping type is
    accepted, with its keys in any order.
    """
    if not callable(func):
        raise Rejected(f"Pass your function itself, not {describe(func)}: e.g. check_...(f).")
    for where, records in _column_cases():
        expected = _columns_reference(records)
        given = records if records.base is not None else records.copy()
        got = call_learner(func, given)
        _judge_columns(got, expected, where)
    return Feedback(
        True,
        "Correct: one contiguous array per field, with the field's dtype — on records of "
        "other lengths and layouts, and on a strided view of records.",
    )


def _judge_columns(got, expected: dict[str, np.ndarray], where: str) -> None:
    """Raise :class:`Rejected` with a hint at the first way ``got`` differs from ``expected``."""
    if got is None:
        raise Rejected(f"For {where} your function returned None: did you forget `return`?")
    if isinstance(got, np.ndarray) and got.dtype.names:
        raise Rejected(
            f"For {where} you returned a structured array: that is still an array of "
            "structs. Return a dict with one array per field name."
        )
    if not isinstance(got, Mapping):
        raise Rejected(
            f"For {where} you returned {describe(got)}; return a dict mapping each field name "
            "(ticks.dtype.names) to that field's array."
        )
    names = list(expected)
    keys = list(got.keys())
    missing = [name for name in names if name not in keys]
    extra = [key for key in keys if key not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected keys {extra[:5]}")
        raise Rejected(
            f"For {where}: {'; '.join(parts)}. The keys are the record's field names, "
            f"here {names} — read them from ticks.dtype.names rather than writing them out."
        )
    for name in names:
        column, want = got[name], expected[name]
        if not isinstance(column, np.ndarray):
            raise Rejected(
                f"For {where}, column {name!r} is {describe(column)}: make each column a "
                "numpy array."
            )
        if column.shape != want.shape:
            raise Rejected(
                f"For {where}, column {name!r} has shape {column.shape}, expected "
                f"{want.shape}: one value per record."
            )
        if column.dtype != want.dtype:
            raise Rejected(
                f"For {where}, column {name!r} has dtype {column.dtype}; keep the field's own "
                f"dtype ({want.dtype}), as the records store it."
            )
        if not np.array_equal(column, want):
            raise Rejected(
                f"For {where}, column {name!r} does not hold the records' {name!r} values in "
                "record order."
            )
        if not column.flags.c_contiguous:
            raise Rejected(
                f"For {where}, column {name!r} is not contiguous (strides {column.strides}, "
                f"itemsize {column.itemsize}): it still steps over whole records. Copy it into "
                "its own contiguous array, e.g. with np.ascontiguousarray."
            )

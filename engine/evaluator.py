"""Restricted evaluator for the expressions and scripts carried by BPMN diagrams.

Why this module exists
----------------------
Gateway conditions, multi-instance collections and script tasks are written
in a small Python-like language.  SpiffWorkflow's default script engine hands
that text to ``eval``/``exec``, so anyone able to deploy a diagram could run
arbitrary code on the server.  Removing builtins is not enough: starting from
any literal, attribute walking (``().__class__.__mro__[1].__subclasses__()``)
reaches every class loaded in the process and from there ``os.system``.  Other
well-known escapes go through ``str.format`` field lookups (``'{0.__class__}'``),
generator frames (``gi_frame.f_globals``), or simply exhaust memory and CPU
(``9**9**9``, ``'a' * 10**10``).

So no user text is ever compiled to code here.  Source is parsed with
:func:`ast.parse`, checked against an allow-list of node types and then
interpreted node by node.  Functions never become values, attributes exist
only as calls to allow-listed methods of exact builtin types, and every
operation that can allocate memory or loop is bounded.

Language
--------
Expressions: literals (no bytes or complex numbers), f-strings without format
specifications and without ``!a``, names not starting with ``_``, arithmetic
(``+ - * / // % **``), comparisons, ``and``/``or``/``not``, conditional
expressions, subscripts and slices, comprehensions and generator expressions,
calls to the functions in ``_FUNCTIONS`` and to the methods in ``_METHODS``.
Scripts add assignment (names, subscripts, unpacking into names), augmented
assignment, ``if``, ``for`` (with ``break``/``continue``/``else``), ``pass``,
expression statements and ``del name`` / ``del container[key]``.  Names of the
allowed functions cannot be assigned or deleted, and calls always reach the
allowed function, never a value from the task data.

Limits (``MAX_*`` below): source length, nesting depth, node evaluations per
call, loop iterations per script, length of any produced str or container,
integer size, range length, a total "work" budget counting the elements that
operations touch, and bounds for ``**`` and ``round``.  Limits exceeded at run
time raise :class:`EvaluationError`; refused constructs raise
:class:`UnsafeExpression`.

Writing back task data
----------------------
:func:`execute` runs on a shallow copy of the task data, so top-level names are
written back only when the whole script succeeds (changes made inside existing
lists or dicts happen in place, as in Python).  Every name the script bound,
and every list or dict it changed, is made JSON-like on the way out: tuples
become lists, sets become sorted lists, dict keys must be str, int, float,
bool or None, and any other value (such as a generator) is refused.
"""

from __future__ import annotations

import ast
import functools
import io
import itertools
import operator
import textwrap
import tokenize
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from datetime import date, datetime, timedelta, timezone
from types import GeneratorType, NoneType
from typing import Any, NamedTuple

__all__ = [
    "EvaluationError",
    "ExpressionError",
    "UnsafeExpression",
    "check",
    "evaluate",
    "execute",
]

MAX_SOURCE_LENGTH = 10_000
MAX_DEPTH = 100
MAX_STEPS = 1_000_000
MAX_LOOP_ITERATIONS = 100_000
MAX_SIZE = 1_000_000
MAX_WORK = 20_000_000
MAX_RANGE = 10_000
MAX_INT_BITS = 4096
MAX_INT_TEXT = 5_000
MAX_POWER_BASE = 10**6
MAX_POWER_EXPONENT = 100
MAX_ROUND_DIGITS = 100
CACHE_SIZE = 2048
# Asia/Taipei has had no daylight saving time since 1979; a fixed offset needs no tz database.
LOCAL_TIMEZONE = timezone(timedelta(hours=8), "Asia/Taipei")

_MODES = ("eval", "exec")


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

def _located(description: str, line: int | None, column: int | None = None) -> str:
    if line is None:
        return description
    if column is None:
        return f"{description} (line {line})"
    return f"{description} (line {line}, column {column})"


class ExpressionError(Exception):
    """Base class; ``message`` is readable English and names the line."""

    def __init__(self, description: str, line: int | None = None, column: int | None = None) -> None:
        self.description = description
        self.line = line
        self.column = column
        self.message = _located(description, line, column)
        super().__init__(self.message)

    def locate(self, line: int | None) -> None:
        """Attach a line number if the error does not have one yet."""
        if self.line is None and line is not None:
            self.line = line
            self.message = _located(self.description, line, self.column)
            self.args = (self.message,)


class UnsafeExpression(ExpressionError):
    """The source uses a refused construct (found at check time or run time)."""


class EvaluationError(ExpressionError):
    """The source is allowed but failed while running, or exceeded a limit."""


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _preview(value: Any) -> str:
    if type(value) in (str, int, float, bool, NoneType):
        return _shorten(repr(value[:200] if type(value) is str else value), 60)
    return f"a {type(value).__name__} value"


def _from_python_error(error: Exception, line: int | None) -> EvaluationError:
    if isinstance(error, RecursionError):
        description = "value is nested too deeply"
    elif isinstance(error, MemoryError):
        description = "out of memory"
    elif isinstance(error, KeyError):
        description = f"key {_preview(error.args[0])} not found" if error.args else "key not found"
    else:
        description = _shorten(str(error) or type(error).__name__)
    return EvaluationError(description, line)


def _too_large(what: str = "result") -> EvaluationError:
    return EvaluationError(f"{what} would have more than {MAX_SIZE} elements or characters")


def _ensure_size(size: int, what: str = "result") -> None:
    if size > MAX_SIZE:
        raise _too_large(what)


# --------------------------------------------------------------------------
# Values and bounded operations
# --------------------------------------------------------------------------

_SIZED_TYPES = frozenset({str, list, tuple, dict, set})
_REPEATABLE_TYPES = frozenset({str, list, tuple})
_INTEGER_TYPES = frozenset({int, bool})
_NUMBER_TYPES = frozenset({int, bool, float})
_JSON_SCALARS = frozenset({str, int, float, bool, NoneType})
_VALUE_TYPES = _JSON_SCALARS | _SIZED_TYPES | {GeneratorType}
_SUBSCRIPTABLE = frozenset({dict, list, tuple, str})


def _size(value: Any) -> int:
    return len(value) if type(value) in _SIZED_TYPES else 0


def _check_value(value: Any) -> Any:
    kind = type(value)
    if kind in _SIZED_TYPES:
        _ensure_size(len(value))
    elif kind is int and value.bit_length() > MAX_INT_BITS:
        raise EvaluationError(f"integer result would exceed {MAX_INT_BITS} bits")
    return value


def _refused_type(kind: type, action: str) -> ExpressionError:
    if kind in _VALUE_TYPES:
        return EvaluationError(f"{kind.__name__} values {action}")
    return UnsafeExpression(f"{kind.__name__} values {action}")


def _add(left: Any, right: Any) -> Any:
    if type(left) in _REPEATABLE_TYPES and type(right) is type(left):
        _ensure_size(len(left) + len(right))
    return left + right


def _multiply(left: Any, right: Any) -> Any:
    left_kind, right_kind = type(left), type(right)
    if left_kind in _INTEGER_TYPES and right_kind in _INTEGER_TYPES:
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise EvaluationError(f"integer result would exceed {MAX_INT_BITS} bits")
    elif left_kind in _REPEATABLE_TYPES or right_kind in _REPEATABLE_TYPES:
        sequence, count = (left, right) if left_kind in _REPEATABLE_TYPES else (right, left)
        if type(count) not in _INTEGER_TYPES:
            raise EvaluationError("a sequence can only be repeated by an integer")
        _ensure_size(len(sequence) * max(count, 0))
    return left * right


def _power(base: Any, exponent: Any) -> Any:
    if type(base) not in _NUMBER_TYPES or type(exponent) not in _NUMBER_TYPES:
        raise EvaluationError("'**' is only allowed between numbers")
    if abs(exponent) > MAX_POWER_EXPONENT:
        raise EvaluationError(f"exponent {_preview(exponent)} is too large (at most {MAX_POWER_EXPONENT})")
    if abs(base) > MAX_POWER_BASE:
        raise EvaluationError(f"base {_preview(base)} is too large for '**' (at most {MAX_POWER_BASE})")
    result = base**exponent
    if type(result) is complex:
        raise EvaluationError("'**' would produce a complex number")
    return result


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        raise UnsafeExpression("'%' string formatting is not allowed")
    return left % right


_BINARY_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: _add,
    ast.Sub: operator.sub,
    ast.Mult: _multiply,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: _modulo,
    ast.Pow: _power,
}

_UNARY_OPERATORS: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}

_COMPARISONS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda left, right: left in right,
    ast.NotIn: lambda left, right: left not in right,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}

_REFUSED_OPERATOR_SYMBOLS = {
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
}


def _repr_length_bound(value: Any, remaining: int, active: set[int]) -> int:
    """Upper bound of len(repr(value)); raises as soon as it passes ``remaining``."""
    kind = type(value)
    if kind in (list, tuple, dict, set):
        if id(value) in active:
            return 5
        total = 5 + 4 * len(value)
        if total > remaining:
            raise _too_large("text")
        active.add(id(value))
        parts = itertools.chain.from_iterable(value.items()) if kind is dict else value
        for part in parts:
            total += _repr_length_bound(part, remaining - total, active)
        active.discard(id(value))
        return total
    length = len(repr(value))
    if length > remaining:
        raise _too_large("text")
    return length


def _text(value: Any, conversion: str = "s") -> str:
    if type(value) is str:
        if conversion == "s":
            return value
        text = repr(value)
        _ensure_size(len(text), "text")
        return text
    _repr_length_bound(value, MAX_SIZE, set())
    return repr(value) if conversion == "r" else str(value)


# --------------------------------------------------------------------------
# Allowed functions and methods
# --------------------------------------------------------------------------

def _range(*arguments: Any) -> list[int]:
    if any(type(argument) not in _INTEGER_TYPES for argument in arguments):
        raise EvaluationError("range() arguments must be integers")
    values = range(*arguments)
    try:
        length = len(values)
    except OverflowError:
        length = MAX_RANGE + 1
    if length > MAX_RANGE:
        raise EvaluationError(f"range() may produce at most {MAX_RANGE} values")
    return list(values)


def _sum(iterable: Any, start: Any = 0) -> Any:
    if type(start) not in _NUMBER_TYPES:
        raise EvaluationError("sum() start value must be a number")
    return sum(iterable, start)


def _round(number: Any, ndigits: Any = None) -> Any:
    if type(number) not in _NUMBER_TYPES:
        raise EvaluationError("round() expects a number")
    if ndigits is None:
        return round(number)
    if type(ndigits) not in _INTEGER_TYPES or abs(ndigits) > MAX_ROUND_DIGITS:
        raise EvaluationError(f"round() ndigits must be an integer between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}")
    return round(number, ndigits)


def _int(value: Any = 0, base: Any = None) -> int:
    if isinstance(value, str) and len(value) > MAX_INT_TEXT:
        raise EvaluationError(f"int() text is too long (at most {MAX_INT_TEXT} characters)")
    return int(value) if base is None else int(value, base)


def _str(value: Any = "") -> str:
    return _text(value, "s")


def _reversed(sequence: Any) -> list[Any]:
    return list(reversed(sequence))


def _enumerate(iterable: Any, start: Any = 0) -> list[tuple[int, Any]]:
    return list(enumerate(iterable, start))


def _zip(*iterables: Any) -> list[tuple[Any, ...]]:
    return list(zip(*iterables))


def _today() -> str:
    return datetime.now(LOCAL_TIMEZONE).date().isoformat()


def _parse_date(value: Any) -> date:
    if isinstance(value, str):
        for parse in (date.fromisoformat, lambda text: datetime.fromisoformat(text).date()):
            try:
                return parse(value)
            except ValueError:
                pass
    raise EvaluationError(f"date_diff_days() expects ISO dates such as '2024-01-31', got {_preview(value)}")


def _date_diff_days(start: Any, end: Any) -> int:
    return (_parse_date(end) - _parse_date(start)).days


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "min": min,
    "max": max,
    "sum": _sum,
    "any": any,
    "all": all,
    "sorted": sorted,
    "reversed": _reversed,
    "abs": abs,
    "round": _round,
    "int": _int,
    "float": float,
    "str": _str,
    "bool": bool,
    "list": list,
    "dict": dict,
    "set": set,
    "tuple": tuple,
    "range": _range,
    "enumerate": _enumerate,
    "zip": _zip,
    "today": _today,
    "date_diff_days": _date_diff_days,
}

_KEYWORDS: dict[str, frozenset[str]] = {
    "sorted": frozenset({"reverse"}),
    "round": frozenset({"ndigits"}),
    "min": frozenset({"default"}),
    "max": frozenset({"default"}),
}


def _str_join(separator: str, iterable: Any) -> str:
    items = list(iterable)
    length = sum(len(item) for item in items if isinstance(item, str))
    _ensure_size(length + len(separator) * max(len(items) - 1, 0))
    return separator.join(items)


def _str_replace(text: str, old: Any, new: Any, count: Any = -1) -> str:
    if not isinstance(old, str) or not isinstance(new, str) or type(count) not in _INTEGER_TYPES:
        raise EvaluationError("replace() expects two strings and an optional integer count")
    occurrences = len(text) + 1 if old == "" else text.count(old)
    if count >= 0:
        occurrences = min(occurrences, count)
    _ensure_size(len(text) + occurrences * (len(new) - len(old)))
    return text.replace(old, new, count)


def _list_append(items: list[Any], item: Any) -> None:
    _ensure_size(len(items) + 1)
    items.append(item)


def _list_extend(items: list[Any], iterable: Any) -> None:
    additions = list(iterable)
    _ensure_size(len(items) + len(additions))
    items.extend(additions)


def _list_insert(items: list[Any], index: Any, item: Any) -> None:
    _ensure_size(len(items) + 1)
    items.insert(index, item)


def _set_add(members: set[Any], item: Any) -> None:
    _ensure_size(len(members) + 1)
    members.add(item)


def _dict_keys(mapping: dict[Any, Any]) -> list[Any]:
    return list(mapping)


def _dict_values(mapping: dict[Any, Any]) -> list[Any]:
    return list(mapping.values())


def _dict_items(mapping: dict[Any, Any]) -> list[tuple[Any, Any]]:
    return list(mapping.items())


_METHODS: dict[type, dict[str, Callable[..., Any]]] = {
    str: {
        "lower": str.lower,
        "upper": str.upper,
        "strip": str.strip,
        "lstrip": str.lstrip,
        "rstrip": str.rstrip,
        "startswith": str.startswith,
        "endswith": str.endswith,
        "split": str.split,
        "join": _str_join,
        "replace": _str_replace,
        "isdigit": str.isdigit,
        "count": str.count,
        "find": str.find,
    },
    dict: {"get": dict.get, "keys": _dict_keys, "values": _dict_values, "items": _dict_items},
    list: {
        "index": list.index,
        "count": list.count,
        "append": _list_append,
        "extend": _list_extend,
        "pop": list.pop,
        "insert": _list_insert,
    },
    set: {"add": _set_add, "union": set.union, "intersection": set.intersection, "difference": set.difference},
}

_METHOD_NAMES = frozenset(itertools.chain.from_iterable(_METHODS.values()))
_MUTATING_METHODS = frozenset({"append", "extend", "insert", "pop", "add"})
_CONSTANT_COST_FUNCTIONS = frozenset({"len", "bool"})
_RECEIVER_FREE_METHODS = frozenset({"append", "extend", "add", "get"})


def _call_cost(name: str, is_method: bool, arguments: list[Any], result: Any) -> int:
    """Approximate element count an allowed call touches, for the work budget."""
    if not is_method:
        return 0 if name in _CONSTANT_COST_FUNCTIONS else sum(map(_size, arguments)) + _size(result)
    receiver, others = arguments[0], arguments[1:]
    if name in _RECEIVER_FREE_METHODS or (name == "pop" and not others):
        return sum(map(_size, others))
    return _size(receiver) + sum(map(_size, others)) + _size(result)


def _comparison_cost(op: type, left: Any, right: Any) -> int:
    if op is ast.In or op is ast.NotIn:
        return _size(right) if type(right) in _REPEATABLE_TYPES else 0
    return min(_size(left), _size(right))


def _method(receiver: Any, name: str) -> Callable[..., Any]:
    function = _METHODS.get(type(receiver), {}).get(name)
    if function is None:
        raise UnsafeExpression(f"method '{name}' is not allowed on {type(receiver).__name__} values")
    return function


# --------------------------------------------------------------------------
# Static check
# --------------------------------------------------------------------------

_EXPRESSION_NODES = frozenset({
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Store, ast.Del,
    ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.IfExp,
    ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Dict, ast.Set,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension,
    ast.Call, ast.keyword, ast.Attribute, ast.JoinedStr, ast.FormattedValue,
    *_COMPARISONS,
})
_SCRIPT_NODES = _EXPRESSION_NODES | {
    ast.Module, ast.Assign, ast.AugAssign, ast.If, ast.For, ast.Break, ast.Continue,
    ast.Pass, ast.Expr, ast.Delete,
}

_REFUSALS: dict[type, str] = {
    ast.Import: "'import' statements are not allowed",
    ast.ImportFrom: "'from ... import' statements are not allowed",
    ast.FunctionDef: "function definitions ('def') are not allowed",
    ast.AsyncFunctionDef: "function definitions ('async def') are not allowed",
    ast.ClassDef: "class definitions are not allowed",
    ast.Lambda: "'lambda' expressions are not allowed",
    ast.While: "'while' loops are not allowed",
    ast.AsyncFor: "'async for' loops are not allowed",
    ast.With: "'with' statements are not allowed",
    ast.AsyncWith: "'async with' statements are not allowed",
    ast.Try: "'try' statements are not allowed",
    ast.TryStar: "'try' statements are not allowed",
    ast.Raise: "'raise' statements are not allowed",
    ast.Assert: "'assert' statements are not allowed",
    ast.Return: "'return' statements are not allowed",
    ast.Yield: "'yield' expressions are not allowed",
    ast.YieldFrom: "'yield' expressions are not allowed",
    ast.Await: "'await' expressions are not allowed",
    ast.Global: "'global' statements are not allowed",
    ast.Nonlocal: "'nonlocal' statements are not allowed",
    ast.NamedExpr: "assignment expressions (':=') are not allowed",
    ast.Starred: "star unpacking ('*') is not allowed",
    ast.Match: "'match' statements are not allowed",
    ast.AnnAssign: "annotated assignments are not allowed",
}

_CONSTANT_TYPES = frozenset({NoneType, bool, int, float, str})


def _refusal(node: ast.AST) -> str:
    return _REFUSALS.get(type(node), f"'{type(node).__name__}' is not allowed")


def _protected_name_message(name: str) -> str:
    return f"'{name}' is a built-in function and cannot be assigned or deleted"


class _Checker(ast.NodeVisitor):
    """Collects (description, line, column) problems for a parsed tree."""

    def __init__(self, mode: str) -> None:
        self.allowed = _EXPRESSION_NODES if mode == "eval" else _SCRIPT_NODES
        self.problems: list[tuple[str, int | None, int | None]] = []
        self.loop_depth = 0

    def refuse(self, node: ast.AST, description: str) -> None:
        self.problems.append((description, getattr(node, "lineno", None), None))

    def generic_visit(self, node: ast.AST) -> None:
        if type(node) not in self.allowed:
            self.refuse(node, _refusal(node))
            return
        super().generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if type(node.value) not in _CONSTANT_TYPES:
            self.refuse(node, f"{type(node.value).__name__} literals are not allowed")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            self.refuse(node, f"name '{node.id}' is not allowed: names may not start with '_'")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in _METHOD_NAMES:
            self.refuse(node, f"attribute '{node.attr}' may only be used to call a method")
        else:
            self.refuse(node, f"attribute '{node.attr}' is not allowed")
        self.visit(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        name, keywords = self._check_callee(node.func)
        for argument in node.args:
            self.visit(argument)
        for keyword in node.keywords:
            if keyword.arg is None:
                self.refuse(keyword.value, "keyword argument unpacking ('**') is not allowed")
            elif keyword.arg not in keywords:
                self.refuse(keyword.value, f"keyword argument '{keyword.arg}' is not allowed for '{name}'")
            self.visit(keyword.value)

    def _check_callee(self, func: ast.expr) -> tuple[str, frozenset[str]]:
        if isinstance(func, ast.Name):
            if func.id not in _FUNCTIONS:
                self.refuse(func, f"call to '{func.id}' is not allowed")
            return func.id, _KEYWORDS.get(func.id, frozenset())
        if isinstance(func, ast.Attribute):
            if func.attr.startswith("_") or func.attr not in _METHOD_NAMES:
                self.refuse(func, f"attribute '{func.attr}' is not allowed")
            self.visit(func.value)
            return func.attr, frozenset()
        self.refuse(func, "only allowed functions and methods may be called")
        self.visit(func)
        return "this call", frozenset()

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._check_operator(node, node.op)
        if isinstance(node.op, ast.Mod) and (
            isinstance(node.left, ast.JoinedStr)
            or (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str))
        ):
            self.refuse(node, "'%' string formatting is not allowed")
        self.visit(node.left)
        self.visit(node.right)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        self._check_operator(node, node.op)
        self.visit(node.operand)

    def _check_operator(self, node: ast.AST, op: ast.AST) -> None:
        if type(op) not in _BINARY_OPERATORS and type(op) not in _UNARY_OPERATORS:
            symbol = _REFUSED_OPERATOR_SYMBOLS.get(type(op), type(op).__name__)
            self.refuse(node, f"operator '{symbol}' is not allowed")

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        if node.conversion not in (-1, ord("s"), ord("r")):
            self.refuse(node, f"f-string conversion '!{chr(node.conversion)}' is not allowed")
        if node.format_spec is not None:
            self.refuse(node, "f-string format specifications are not allowed")
        self.visit(node.value)

    def visit_Dict(self, node: ast.Dict) -> None:
        if any(key is None for key in node.keys):
            self.refuse(node, "dictionary unpacking ('**') is not allowed")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Slice):
            self.refuse(node, "assigning or deleting slices is not allowed")
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        if node.is_async:
            self.refuse(node.target, "'async' comprehensions are not allowed")
        self._check_target(node.target, subscripts=False)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target, subscripts=True)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_operator(node, node.op)
        self._check_target(node.target, subscripts=True)
        self.visit(node.target)
        self.visit(node.value)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._check_target(target, subscripts=True)
            elif not isinstance(target, (ast.Subscript, ast.Attribute)):
                self.refuse(target, "only names and subscripts can be deleted")
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self._check_target(node.target, subscripts=False)
        self.visit(node.target)
        self.visit(node.iter)
        self.loop_depth += 1
        for statement in node.body:
            self.visit(statement)
        self.loop_depth -= 1
        for statement in node.orelse:
            self.visit(statement)

    def visit_Break(self, node: ast.Break) -> None:
        if not self.loop_depth:
            self.refuse(node, "'break' outside a loop")

    def visit_Continue(self, node: ast.Continue) -> None:
        if not self.loop_depth:
            self.refuse(node, "'continue' outside a loop")

    def _check_target(self, target: ast.expr, subscripts: bool) -> None:
        if isinstance(target, ast.Name):
            if target.id in _FUNCTIONS:
                self.refuse(target, _protected_name_message(target.id))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_target(element, subscripts=False)
        elif isinstance(target, ast.Subscript) and not subscripts:
            self.refuse(target, "only plain names can be assigned here")


def _depth_exceeds(tree: ast.AST, limit: int) -> bool:
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return False


def _bracket_depth(source: str) -> int:
    depth = deepest = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type != tokenize.OP:
                continue
            if token.string in ("(", "[", "{"):
                depth += 1
                deepest = max(deepest, depth)
            elif token.string in (")", "]", "}"):
                depth -= 1
    except (tokenize.TokenError, SyntaxError):
        pass
    return deepest


class _Prepared(NamedTuple):
    tree: ast.AST | None
    problems: tuple[tuple[str, int | None, int | None], ...]


def _parse(source: str, mode: str) -> ast.AST:
    text = source.strip() if mode == "eval" else textwrap.dedent(source)
    return ast.parse(text, mode=mode)


def _syntax_problem(error: Exception) -> tuple[str, int | None, int | None]:
    if isinstance(error, SyntaxError):
        return (f"syntax error: {error.msg}", error.lineno, error.offset or None)
    if isinstance(error, (RecursionError, MemoryError)):
        return (f"code is nested too deeply (more than {MAX_DEPTH} levels)", None, None)
    return (f"syntax error: {error}", None, None)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _prepare(source: str, mode: str) -> _Prepared:
    try:
        tree = _parse(source, mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return _Prepared(None, (_syntax_problem(error),))
    if _depth_exceeds(tree, MAX_DEPTH) or _bracket_depth(source) > MAX_DEPTH:
        return _Prepared(None, ((f"code is nested too deeply (more than {MAX_DEPTH} levels)", None, None),))
    checker = _Checker(mode)
    checker.visit(tree)
    return _Prepared(tree, tuple(checker.problems))


def _prepare_source(source: Any, mode: str) -> _Prepared:
    if not isinstance(source, str):
        return _Prepared(None, ((f"source must be a string, not {type(source).__name__}", None, None),))
    if len(source) > MAX_SOURCE_LENGTH:
        return _Prepared(None, ((f"source is too long ({len(source)} characters, at most {MAX_SOURCE_LENGTH})", None, None),))
    return _prepare(str(source), mode)


def _checked_tree(source: Any, mode: str) -> ast.AST:
    prepared = _prepare_source(source, mode)
    if prepared.problems:
        raise UnsafeExpression(*prepared.problems[0])
    return prepared.tree


def _is_constant(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.BinOp):
        return _is_constant(node.left) and _is_constant(node.right)
    if isinstance(node, ast.UnaryOp):
        return _is_constant(node.operand)
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_is_constant(element) for element in node.elts)
    return False


def _constant_problems(node: ast.AST) -> list[tuple[str, int | None, int | None]]:
    """Problems of operator subexpressions built only from literals: they fail on every run."""
    if isinstance(node, (ast.BinOp, ast.UnaryOp)) and _is_constant(node):
        try:
            _Interpreter({}).eval(node)
        except ExpressionError as error:
            return [(error.description, error.line, None)]
        return []
    problems = []
    for child in ast.iter_child_nodes(node):
        problems.extend(_constant_problems(child))
    return problems


# --------------------------------------------------------------------------
# Interpreter
# --------------------------------------------------------------------------

class _Scope:
    """Variables of one comprehension; the outermost scope is the task data."""

    __slots__ = ("variables", "parent")

    def __init__(self, parent: _Scope | None) -> None:
        self.variables: dict[str, Any] = {}
        self.parent = parent


_BREAK = object()
_CONTINUE = object()
_DELETED = object()


class _Interpreter:
    __slots__ = ("names", "steps", "work", "iterations", "bound", "mutated")

    def __init__(self, names: Mapping[str, Any]) -> None:
        self.names = names
        self.steps = 0
        self.work = 0
        self.iterations = 0
        self.bound: dict[str, int] = {}
        self.mutated: dict[int, Any] = {}

    # -- budgets -----------------------------------------------------------

    def _step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise EvaluationError(f"evaluation exceeded {MAX_STEPS} steps")

    def _charge(self, amount: int) -> None:
        self.work += amount
        if self.work > MAX_WORK:
            raise EvaluationError(f"evaluation exceeded its work budget ({MAX_WORK} elements processed)")

    def _count_iteration(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise EvaluationError(f"script exceeded {MAX_LOOP_ITERATIONS} loop iterations")

    # -- expressions -------------------------------------------------------

    def eval(self, node: ast.AST, scope: _Scope | None = None) -> Any:
        handler = _EXPRESSION_HANDLERS.get(type(node))
        if handler is None:
            raise UnsafeExpression(_refusal(node), getattr(node, "lineno", None))
        try:
            self._step()
            return handler(self, node, scope)
        except ExpressionError as error:
            error.locate(node.lineno)
            raise
        except Exception as error:
            raise _from_python_error(error, node.lineno) from error

    def result(self, node: ast.AST) -> Any:
        value = self.eval(node)
        if not isinstance(value, GeneratorType):
            return value
        try:
            return _check_value(list(value))
        except ExpressionError as error:
            error.locate(node.lineno)
            raise
        except Exception as error:
            raise _from_python_error(error, node.lineno) from error

    def _constant(self, node: ast.Constant, scope: _Scope | None) -> Any:
        return node.value

    def _name(self, node: ast.Name, scope: _Scope | None) -> Any:
        name = node.id
        while scope is not None:
            if name in scope.variables:
                return scope.variables[name]
            scope = scope.parent
        try:
            return self.names[name]
        except KeyError:
            raise EvaluationError(f"name '{name}' is not defined") from None

    def _elements(self, nodes: list[ast.expr], scope: _Scope | None) -> list[Any]:
        values = [self.eval(node, scope) for node in nodes]
        self._charge(len(values))
        return values

    def _list(self, node: ast.List, scope: _Scope | None) -> list[Any]:
        return self._elements(node.elts, scope)

    def _tuple(self, node: ast.Tuple, scope: _Scope | None) -> tuple[Any, ...]:
        return tuple(self._elements(node.elts, scope))

    def _set(self, node: ast.Set, scope: _Scope | None) -> set[Any]:
        return set(self._elements(node.elts, scope))

    def _dict(self, node: ast.Dict, scope: _Scope | None) -> dict[Any, Any]:
        result = {}
        for key_node, value_node in zip(node.keys, node.values):
            key = self.eval(key_node, scope)
            result[key] = self.eval(value_node, scope)
        self._charge(len(result))
        return result

    def _binary(self, op: type, left: Any, right: Any) -> Any:
        result = _BINARY_OPERATORS[op](left, right)
        self._charge(max(_size(left), _size(right), _size(result)))
        return _check_value(result)

    def _bin_op(self, node: ast.BinOp, scope: _Scope | None) -> Any:
        left = self.eval(node.left, scope)
        return self._binary(type(node.op), left, self.eval(node.right, scope))

    def _unary_op(self, node: ast.UnaryOp, scope: _Scope | None) -> Any:
        return _UNARY_OPERATORS[type(node.op)](self.eval(node.operand, scope))

    def _bool_op(self, node: ast.BoolOp, scope: _Scope | None) -> Any:
        is_and = type(node.op) is ast.And
        for operand in node.values[:-1]:
            value = self.eval(operand, scope)
            if bool(value) is not is_and:
                return value
        return self.eval(node.values[-1], scope)

    def _compare(self, node: ast.Compare, scope: _Scope | None) -> Any:
        left = self.eval(node.left, scope)
        result = True
        for op, comparator in zip(node.ops, node.comparators):
            right = self.eval(comparator, scope)
            self._charge(_comparison_cost(type(op), left, right))
            result = _COMPARISONS[type(op)](left, right)
            if not result:
                return result
            left = right
        return result

    def _if_exp(self, node: ast.IfExp, scope: _Scope | None) -> Any:
        branch = node.body if self.eval(node.test, scope) else node.orelse
        return self.eval(branch, scope)

    def _index(self, node: ast.expr, scope: _Scope | None) -> Any:
        if type(node) is not ast.Slice:
            return self.eval(node, scope)
        return slice(*(self._slice_bound(part, scope) for part in (node.lower, node.upper, node.step)))

    def _slice_bound(self, node: ast.expr | None, scope: _Scope | None) -> int | None:
        if node is None:
            return None
        value = self.eval(node, scope)
        if value is not None and type(value) not in _INTEGER_TYPES:
            raise EvaluationError("slice indices must be integers or None")
        return value

    def _subscript(self, node: ast.Subscript, scope: _Scope | None) -> Any:
        container = self.eval(node.value, scope)
        if type(container) not in _SUBSCRIPTABLE:
            raise _refused_type(type(container), "cannot be subscripted")
        index = self._index(node.slice, scope)
        result = container[index]
        if type(index) is slice:
            self._charge(_size(result))
        return result

    def _call(self, node: ast.Call, scope: _Scope | None) -> Any:
        func = node.func
        is_method = type(func) is ast.Attribute
        if is_method:
            name = func.attr
            receiver = self.eval(func.value, scope)
            function = _method(receiver, name)
            arguments = [receiver]
            if name in _MUTATING_METHODS:
                self.mutated[id(receiver)] = receiver
        elif type(func) is ast.Name and func.id in _FUNCTIONS:
            name = func.id
            function = _FUNCTIONS[name]
            arguments = []
        else:
            raise UnsafeExpression("only allowed functions and methods may be called")
        arguments.extend(self.eval(argument, scope) for argument in node.args)
        keywords = {keyword.arg: self.eval(keyword.value, scope) for keyword in node.keywords}
        result = function(*arguments, **keywords)
        self._charge(_call_cost(name, is_method, arguments, result))
        return _check_value(result)

    def _joined_str(self, node: ast.JoinedStr, scope: _Scope | None) -> str:
        parts = []
        length = 0
        for part in node.values:
            text = part.value if type(part) is ast.Constant else self._formatted(part, scope)
            length += len(text)
            _ensure_size(length, "text")
            parts.append(text)
        self._charge(length)
        return "".join(parts)

    def _formatted(self, node: ast.FormattedValue, scope: _Scope | None) -> str:
        value = self.eval(node.value, scope)
        return _text(value, "r" if node.conversion == ord("r") else "s")

    # -- comprehensions ----------------------------------------------------

    def _comprehension(self, node: ast.AST, scope: _Scope | None) -> Iterator[_Scope]:
        generators = node.generators
        first = iter(self.eval(generators[0].iter, scope))
        return self._clauses(generators, 0, first, _Scope(scope))

    def _clauses(self, generators: list[ast.comprehension], index: int, items: Iterator[Any],
                 scope: _Scope) -> Iterator[_Scope]:
        clause = generators[index]
        innermost = index == len(generators) - 1
        for item in items:
            self._step()
            self._assign(clause.target, item, scope)
            if not self._passes(clause.ifs, scope):
                continue
            if innermost:
                yield scope
            else:
                following = iter(self.eval(generators[index + 1].iter, scope))
                yield from self._clauses(generators, index + 1, following, scope)

    def _passes(self, conditions: list[ast.expr], scope: _Scope) -> bool:
        for condition in conditions:
            if not self.eval(condition, scope):
                return False
        return True

    def _list_comp(self, node: ast.ListComp, scope: _Scope | None) -> list[Any]:
        result = [self.eval(node.elt, inner) for inner in self._comprehension(node, scope)]
        self._charge(len(result))
        return _check_value(result)

    def _set_comp(self, node: ast.SetComp, scope: _Scope | None) -> set[Any]:
        result = {self.eval(node.elt, inner) for inner in self._comprehension(node, scope)}
        self._charge(len(result))
        return _check_value(result)

    def _dict_comp(self, node: ast.DictComp, scope: _Scope | None) -> dict[Any, Any]:
        result = {}
        for inner in self._comprehension(node, scope):
            key = self.eval(node.key, inner)
            result[key] = self.eval(node.value, inner)
        self._charge(len(result))
        return _check_value(result)

    def _generator_exp(self, node: ast.GeneratorExp, scope: _Scope | None) -> Iterator[Any]:
        return self._generate(node.elt, self._comprehension(node, scope))

    def _generate(self, element: ast.expr, scopes: Iterator[_Scope]) -> Iterator[Any]:
        for inner in scopes:
            yield self.eval(element, inner)

    # -- binding -----------------------------------------------------------

    def _assign(self, target: ast.expr, value: Any, scope: _Scope | None) -> None:
        kind = type(target)
        if kind is ast.Name:
            self._bind(target, value, scope)
        elif kind is ast.Tuple or kind is ast.List:
            for element, item in zip(target.elts, _unpack(value, len(target.elts))):
                self._assign(element, item, scope)
        elif kind is ast.Subscript:
            container = self.eval(target.value, scope)
            self._set_item(container, self._index(target.slice, scope), value)
        else:
            raise UnsafeExpression(_refusal(target), getattr(target, "lineno", None))

    def _bind(self, target: ast.Name, value: Any, scope: _Scope | None) -> None:
        if scope is not None:
            scope.variables[target.id] = value
        else:
            self.names[target.id] = value
            self.bound[target.id] = target.lineno

    def _set_item(self, container: Any, key: Any, value: Any) -> None:
        kind = type(container)
        if kind is dict:
            if key not in container:
                _ensure_size(len(container) + 1)
        elif kind is not list:
            raise _refused_type(kind, "do not support item assignment")
        container[key] = value
        self.mutated[id(container)] = container

    # -- statements --------------------------------------------------------

    def run_block(self, statements: list[ast.stmt]) -> object | None:
        for statement in statements:
            signal = self.run(statement)
            if signal is not None:
                return signal
        return None

    def run(self, statement: ast.stmt) -> object | None:
        handler = _STATEMENT_HANDLERS.get(type(statement))
        if handler is None:
            raise UnsafeExpression(_refusal(statement), statement.lineno)
        try:
            self._step()
            return handler(self, statement)
        except ExpressionError as error:
            error.locate(statement.lineno)
            raise
        except Exception as error:
            raise _from_python_error(error, statement.lineno) from error

    def _expr_statement(self, node: ast.Expr) -> None:
        self.eval(node.value)

    def _pass(self, node: ast.Pass) -> None:
        return None

    def _break(self, node: ast.Break) -> object:
        return _BREAK

    def _continue(self, node: ast.Continue) -> object:
        return _CONTINUE

    def _assign_statement(self, node: ast.Assign) -> None:
        value = self.eval(node.value)
        for target in node.targets:
            self._assign(target, value, None)

    def _augmented_assign(self, node: ast.AugAssign) -> None:
        target = node.target
        if type(target) is ast.Name:
            current = self._name(target, None)
            self._bind(target, self._combine(node.op, current, self.eval(node.value)), None)
            return
        container = self.eval(target.value)
        if type(container) not in _SUBSCRIPTABLE:
            raise _refused_type(type(container), "cannot be subscripted")
        key = self._index(target.slice, None)
        current = container[key]
        self._set_item(container, key, self._combine(node.op, current, self.eval(node.value)))

    def _combine(self, op: ast.operator, current: Any, operand: Any) -> Any:
        if type(op) is ast.Add and type(current) is list:
            before = len(current)
            _list_extend(current, operand)
            self._charge(len(current) - before)
            self.mutated[id(current)] = current
            return current
        return self._binary(type(op), current, operand)

    def _if(self, node: ast.If) -> object | None:
        branch = node.body if self.eval(node.test) else node.orelse
        return self.run_block(branch)

    def _for(self, node: ast.For) -> object | None:
        for item in iter(self.eval(node.iter)):
            self._count_iteration()
            self._assign(node.target, item, None)
            if self.run_block(node.body) is _BREAK:
                return None
        return self.run_block(node.orelse)

    def _delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if type(target) is ast.Name:
                self._delete_name(target)
            else:
                self._delete_item(target)

    def _delete_name(self, target: ast.Name) -> None:
        if target.id not in self.names:
            raise EvaluationError(f"name '{target.id}' is not defined", target.lineno)
        del self.names[target.id]
        self.bound[target.id] = target.lineno

    def _delete_item(self, target: ast.Subscript) -> None:
        container = self.eval(target.value)
        if type(container) not in (dict, list):
            raise _refused_type(type(container), "do not support item deletion")
        del container[self._index(target.slice, None)]
        self.mutated[id(container)] = container

    # -- writing back --------------------------------------------------------

    def updates(self) -> dict[str, Any]:
        """JSON-like values of the names this script bound or deleted."""
        for container in list(self.mutated.values()):
            if type(container) in (list, dict):
                _to_json_like(container, "a changed list or dict", set(), None)
        return {
            name: _to_json_like(self.names[name], f"value of '{name}'", set(), line)
            if name in self.names else _DELETED
            for name, line in self.bound.items()
        }


def _unpack(value: Any, count: int) -> list[Any]:
    items = list(itertools.islice(iter(value), count + 1))
    if len(items) != count:
        found = "more" if len(items) > count else str(len(items))
        raise EvaluationError(f"expected {count} values to unpack, got {found}")
    return items


def _to_json_like(value: Any, label: str, active: set[int], line: int | None) -> Any:
    """Return value as JSON-like data, converting lists and dicts in place."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if id(value) in active:
        raise EvaluationError(f"{label} contains itself and cannot be stored", line)
    active.add(id(value))
    try:
        return _convert_container(value, label, active, line)
    except RecursionError:
        raise EvaluationError(f"{label} is nested too deeply to be stored", line) from None
    finally:
        active.discard(id(value))


def _convert_container(value: Any, label: str, active: set[int], line: int | None) -> Any:
    kind = type(value)
    if kind is list:
        for index, item in enumerate(value):
            converted = _to_json_like(item, label, active, line)
            if converted is not item:
                value[index] = converted
        return value
    if kind is dict:
        for key, item in list(value.items()):
            if type(key) not in _JSON_SCALARS:
                raise EvaluationError(f"{label} has a {type(key).__name__} key; keys must be strings or numbers", line)
            converted = _to_json_like(item, label, active, line)
            if converted is not item:
                value[key] = converted
        return value
    if kind is tuple:
        return [_to_json_like(item, label, active, line) for item in value]
    if kind is set:
        return _sorted_members([_to_json_like(item, label, active, line) for item in value])
    raise EvaluationError(f"{label} cannot be stored in task data ({kind.__name__} values are not allowed)", line)


def _sorted_members(members: list[Any]) -> list[Any]:
    try:
        return sorted(members)
    except TypeError:
        return sorted(members, key=lambda member: (type(member).__name__, repr(member)))


_EXPRESSION_HANDLERS: dict[type, Callable[[_Interpreter, Any, _Scope | None], Any]] = {
    ast.Constant: _Interpreter._constant,
    ast.Name: _Interpreter._name,
    ast.List: _Interpreter._list,
    ast.Tuple: _Interpreter._tuple,
    ast.Set: _Interpreter._set,
    ast.Dict: _Interpreter._dict,
    ast.BinOp: _Interpreter._bin_op,
    ast.UnaryOp: _Interpreter._unary_op,
    ast.BoolOp: _Interpreter._bool_op,
    ast.Compare: _Interpreter._compare,
    ast.IfExp: _Interpreter._if_exp,
    ast.Subscript: _Interpreter._subscript,
    ast.Call: _Interpreter._call,
    ast.JoinedStr: _Interpreter._joined_str,
    ast.ListComp: _Interpreter._list_comp,
    ast.SetComp: _Interpreter._set_comp,
    ast.DictComp: _Interpreter._dict_comp,
    ast.GeneratorExp: _Interpreter._generator_exp,
}

_STATEMENT_HANDLERS: dict[type, Callable[[_Interpreter, Any], object | None]] = {
    ast.Expr: _Interpreter._expr_statement,
    ast.Pass: _Interpreter._pass,
    ast.Break: _Interpreter._break,
    ast.Continue: _Interpreter._continue,
    ast.Assign: _Interpreter._assign_statement,
    ast.AugAssign: _Interpreter._augmented_assign,
    ast.If: _Interpreter._if,
    ast.For: _Interpreter._for,
    ast.Delete: _Interpreter._delete,
}


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------

def check(source: str, mode: str = "eval") -> list[str]:
    """Statically check an expression (mode="eval") or a script (mode="exec").

    Returns the problems found, each a message naming its line; an empty list
    means the source is accepted.  Never raises for bad input: syntax errors
    are returned as problems.  Besides refused constructs, this reports
    operator expressions made only of literals that fail on every run
    (``9**9**9``, ``'a' * 10**10``, ``1/0``).
    """
    if mode not in _MODES:
        return [f"unknown mode {mode!r}: expected 'eval' or 'exec'"]
    prepared = _prepare_source(source, mode)
    problems = prepared.problems or tuple(_constant_problems(prepared.tree))
    return [_located(*problem) for problem in problems]


def evaluate(expression: str, names: Mapping[str, Any]) -> Any:
    """Evaluate an expression against names (the task data).

    A generator expression result is returned as a list.  Raises
    UnsafeExpression for refused constructs and EvaluationError for run-time
    failures, including exceeded limits.
    """
    tree = _checked_tree(expression, "eval")
    return _Interpreter(names).result(tree.body)


def execute(script: str, names: MutableMapping[str, Any]) -> None:
    """Run a script; top-level assignments write into names (the task data).

    Names are written back only if the whole script succeeds, converted to
    JSON-like values (see the module docstring); ``del name`` removes a name.
    """
    tree = _checked_tree(script, "exec")
    interpreter = _Interpreter(dict(names))
    interpreter.run_block(tree.body)
    for name, value in interpreter.updates().items():
        if value is _DELETED:
            names.pop(name, None)
        else:
            names[name] = value

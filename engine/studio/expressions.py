"""Expressions and timer values written for other engines, turned into what this platform runs.

JUEL (``${...}``, Camunda 7) and the simplest FEEL (Camunda 8) become restricted
Python where the meaning is certain; anything else is left for the analyst.
ISO 8601 timer values become the quoted literals the diagrams use.
"""
from __future__ import annotations

import keyword
import re
from datetime import timedelta

from .. import evaluator


# --------------------------------------------------------------------------
# Expressions: JUEL and the simplest FEEL to restricted Python
# --------------------------------------------------------------------------

_JUEL_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>==|!=|<=|>=|&&|\|\||[<>!+\-*/%()\[\].])
    )""", re.VERBOSE)
_JUEL_WORDS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
               "and": "&&", "or": "||", "not": "!", "div": "/", "mod": "%"}
_JUEL_CONSTANTS = {"true": "True", "false": "False", "null": "None"}
_JUEL_RESERVED = frozenset({"empty", "instanceof"})

# Python binding strength of what an emitted piece of text is, to parenthesise only where needed.
_OR, _AND, _NOT, _COMPARE, _ADD, _MULTIPLY, _UNARY, _ATOM = 1, 2, 3, 4, 6, 7, 8, 10
_BINARY_LEVELS = (
    ({"||": "or"}, _OR),
    ({"&&": "and"}, _AND),
    ({"==": "==", "!=": "!="}, _COMPARE),
    ({"<": "<", ">": ">", "<=": "<=", ">=": ">="}, _COMPARE),
    ({"+": "+", "-": "-"}, _ADD),
    ({"*": "*", "/": "/", "%": "%"}, _MULTIPLY),
)


class _Untranslatable(Exception):
    pass


def is_juel(text: str) -> bool:
    """``${...}`` or ``#{...}`` around the whole text."""
    text = text.strip()
    return text[:2] in ("${", "#{") and text.endswith("}")


def juel_to_python(text: str) -> str | None:
    """A JUEL condition as restricted Python, or None when it uses more than the simple subset.

    The subset: comparisons, ``&&``/``||``/``!`` and their word forms, ``empty x``,
    string and number literals, true/false/null, variables, ``a.b`` (becomes
    ``a['b']``), ``a[i]``, arithmetic and parentheses. Method and function calls,
    ternaries and lambdas are not translated.
    """
    if not is_juel(text) or len(text) > evaluator.MAX_SOURCE_LENGTH:
        return None
    try:
        return _JuelParser(_juel_tokens(text.strip()[2:-1])).parse()
    except (_Untranslatable, RecursionError):
        return None


def juel_value(text: str) -> str | None:
    """A Camunda input parameter: JUEL when wrapped in ``${}``, otherwise a string constant."""
    stripped = text.strip()
    if is_juel(stripped):
        return juel_to_python(stripped)
    return "None" if not stripped else repr(stripped)


def feel_value(source: str) -> str | None:
    """The simplest FEEL (``=name``, ``=a.b``, literals) as Python; a value without ``=`` is a string constant."""
    if not source.startswith("="):
        return repr(source)
    body = source[1:].strip()
    if body in ("true", "false", "null"):
        return _JUEL_CONSTANTS[body]
    if re.fullmatch(r"-?\d+(?:\.\d+)?", body):
        return body
    if re.fullmatch(r'"[^"\\]*"', body):
        return repr(body[1:-1])
    parts = body.split(".")
    if all(part.isidentifier() and not keyword.iskeyword(part) for part in parts):
        return parts[0] + "".join(f"[{part!r}]" for part in parts[1:])
    return None


def _juel_tokens(source: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(source.rstrip()):
        match = _JUEL_TOKEN.match(source, position)
        if match is None or match.end() == position:
            raise _Untranslatable(source[position:])
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "name" and value in _JUEL_WORDS:
            kind, value = "op", _JUEL_WORDS[value]
        tokens.append((kind, value))
        position = match.end()
    return tokens


class _JuelParser:
    """Recursive descent over JUEL's precedence levels, emitting (Python text, binding strength)."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def parse(self) -> str:
        if not self.tokens:
            raise _Untranslatable("empty")
        text, _ = self._binary(0)
        if self.position != len(self.tokens):
            raise _Untranslatable(self.tokens[self.position][1])
        return text

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise _Untranslatable("unexpected end")
        self.position += 1
        return token

    def _expect(self, value: str) -> None:
        if self._take() != ("op", value):
            raise _Untranslatable(value)

    def _binary(self, level: int) -> tuple[str, int]:
        if level == len(_BINARY_LEVELS):
            return self._unary()
        operators, strength = _BINARY_LEVELS[level]
        left = self._binary(level + 1)
        while (token := self._peek()) is not None and token[0] == "op" and token[1] in operators:
            self.position += 1
            right = self._binary(level + 1)
            left = (f"{_wrap(left, strength, left_side=True)} {operators[token[1]]} "
                    f"{_wrap(right, strength, left_side=False)}", strength)
        return left

    def _unary(self) -> tuple[str, int]:
        token = self._peek()
        if token in (("op", "!"), ("name", "empty")):
            self.position += 1
            text, strength = self._unary()
            return f"not {text if strength >= _ADD else f'({text})'}", _NOT
        if token == ("op", "-"):
            self.position += 1
            text, strength = self._unary()
            return f"-{text if strength >= _UNARY else f'({text})'}", _UNARY
        return self._postfix()

    def _postfix(self) -> tuple[str, int]:
        text, strength = self._primary()
        while (token := self._peek()) in (("op", "."), ("op", "["), ("op", "(")):
            self.position += 1
            if token == ("op", "("):
                raise _Untranslatable("call")
            if token == ("op", "."):
                kind, name = self._take()
                if kind != "name" or self._peek() == ("op", "("):
                    raise _Untranslatable(name)
                text = f"{_atom(text, strength)}[{name!r}]"
            else:
                index, _ = self._binary(0)
                self._expect("]")
                text = f"{_atom(text, strength)}[{index}]"
            strength = _ATOM
        return text, strength

    def _primary(self) -> tuple[str, int]:
        kind, value = self._take()
        if kind == "string":
            return repr(re.sub(r"\\(.)", r"\1", value[1:-1])), _ATOM
        if kind == "number":
            return value, _ATOM
        if kind == "name" and value in _JUEL_CONSTANTS:
            return _JUEL_CONSTANTS[value], _ATOM
        if kind == "name" and value not in _JUEL_RESERVED and not keyword.iskeyword(value):
            return value, _ATOM
        if (kind, value) == ("op", "("):
            inner = self._binary(0)
            self._expect(")")
            return inner
        raise _Untranslatable(value)


def _wrap(part: tuple[str, int], strength: int, *, left_side: bool) -> str:
    """Parenthesise an operand that would bind differently in Python; comparisons never chain."""
    text, own = part
    weaker = own < strength if left_side else own <= strength
    if weaker or (strength == _COMPARE and own == _COMPARE):
        return f"({text})"
    return text


def _atom(text: str, strength: int) -> str:
    return text if strength >= _ATOM else f"({text})"


# --------------------------------------------------------------------------
# Timers
# --------------------------------------------------------------------------

_DURATION = r"P(?:\d+W|(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?)"
_DATE_TIME = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?"


def iso_literal(kind: str, text: str) -> str | None:
    """A literal ISO 8601 timer value, with Taipei's offset added to dates written without one."""
    text = text.strip()
    if kind == "timeDuration" and re.fullmatch(_DURATION, text):
        return text
    if kind == "timeDate" and re.fullmatch(_DATE_TIME, text):
        return _with_offset(text)
    if kind == "timeCycle":
        match = re.fullmatch(rf"(R\d*)/(?:({_DATE_TIME})/)?({_DURATION})", text)
        if match:
            start = f"{_with_offset(match.group(2))}/" if match.group(2) else ""
            return f"{match.group(1)}/{start}{match.group(3)}"
    return None


def _with_offset(value: str) -> str:
    if "T" not in value:
        value += "T00:00:00"
    if value.endswith("Z") or re.search(r"[+-]\d{2}:\d{2}$", value):
        return value
    offset = evaluator.LOCAL_TIMEZONE.utcoffset(None) or timedelta(0)
    hours, minutes = divmod(int(offset.total_seconds()) // 60, 60)
    return f"{value}{'+' if offset >= timedelta(0) else '-'}{abs(hours):02d}:{minutes:02d}"

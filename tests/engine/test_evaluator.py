"""Behaviour of the restricted evaluator for diagram expressions and scripts."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from engine.evaluator import (
    EvaluationError,
    ExpressionError,
    UnsafeExpression,
    check,
    evaluate,
    execute,
)

TASK_DATA = {
    "decision": "approve",
    "renewal": False,
    "applicant": "王小明",
    "amount": -1500,
    "districts": ["東區", "永康區", "安平區"],
    "vehicles": [
        {"plate": "KLA-0001", "axles": 3},
        {"plate": "KLA-0002", "axles": 2},
    ],
    "segments": [
        {"district": "東區", "districts": ["東區", "永康區"]},
        {"district": "安平區", "districts": ["安平區", "東區"]},
    ],
    "x": {"b": 2},
    "previous": None,
}


def run(source, mode, names=None):
    names = dict(TASK_DATA) if names is None else names
    if mode == "eval":
        return evaluate(source, names)
    return execute(source, names)


# --------------------------------------------------------------------------
# Normal use
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "expression, expected",
    [
        ("decision == 'approve'", True),
        ("decision == 'reject'", False),
        ("len(vehicles) > 0 and not renewal", True),
        ("'永康區' in districts", True),
        ("'北區' not in districts", True),
        ("x.get('a', 1)", 1),
        ("x.get('b', 1)", 2),
        ("previous is None or previous['plate'] == 'x'", True),
        ("[s['district'] for s in segments]", ["東區", "安平區"]),
        ("sorted(set(d for seg in segments for d in seg['districts']))", ["安平區", "東區", "永康區"]),
        ("{v['plate']: v['axles'] for v in vehicles}", {"KLA-0001": 3, "KLA-0002": 2}),
        ("{v['axles'] > 2 for v in vehicles}", {True, False}),
        ("[i for i, v in enumerate(vehicles) if v['axles'] > 2]", [0]),
        ("sum(v['axles'] for v in vehicles)", 5),
        ("any(v['axles'] > 2 for v in vehicles)", True),
        ("all(v['plate'].startswith('KLA') for v in vehicles)", True),
        ("f'{applicant} 申請 {len(vehicles)} 輛'", "王小明 申請 2 輛"),
        ("f'{decision!r}/{amount!s}'", "'approve'/-1500"),
        ("date_diff_days('2024-01-30', '2024-03-01')", 31),
        ("date_diff_days('2024-03-01T08:00:00', '2024-02-28')", -2),
        ("abs(amount) if amount < 0 else amount", 1500),
        ("-amount // 7, -amount % 7, 2 ** 10, 7 / 2", (214, 2, 1024, 3.5)),
        ("'A' < 'B' < 'C'", True),
        ("districts[1:]", ["永康區", "安平區"]),
        ("districts[::-1][0]", "安平區"),
        ("'、'.join(districts)", "東區、永康區、安平區"),
        ("' Ab '.strip().lower().replace('a', 'x')", "xb"),
        ("'a,b,,c'.split(',').count('')", 1),
        ("sorted(districts, reverse=True) == sorted(districts)[::-1]", True),
        ("max([], default=0) + min(3, 1, 2)", 1),
        ("[round(2.5), round(3.14159, ndigits=2)]", [2, 3.14]),
        ("list(range(3)) + list(reversed((1, 2)))", [0, 1, 2, 2, 1]),
        ("dict(zip(['a', 'b'], [1, 2]))", {"a": 1, "b": 2}),
        ("int('42') + float('0.5') + bool([])", 42.5),
        ("str(vehicles[0]['axles']) + str([1, (2,)])", "3[1, (2,)]"),
        ("set([1, 2]).union([3]).intersection({2, 3})", {2, 3}),
        ("sorted(x.keys()) + sorted(x.values())", ["b", 2]),
        ("x.items()", [("b", 2)]),
        ("'12'.isdigit() and 'abc'.find('c') == 2", True),
        ("(v['plate'] for v in vehicles)", ["KLA-0001", "KLA-0002"]),
    ],
)
def test_expressions_evaluate_like_python(expression, expected):
    assert check(expression) == []
    assert evaluate(expression, TASK_DATA) == expected


def test_today_is_the_date_in_taipei():
    before = datetime.now(ZoneInfo("Asia/Taipei")).date().isoformat()
    result = evaluate("today()", {})
    after = datetime.now(ZoneInfo("Asia/Taipei")).date().isoformat()
    assert result in (before, after)


def test_date_diff_days_refuses_non_dates():
    with pytest.raises(EvaluationError, match="ISO dates"):
        evaluate("date_diff_days('yesterday', today())", {})


def test_growing_a_list_in_a_loop_is_not_throttled():
    names = {}
    execute("items = []\nseen = set()\nfor i in range(10000):\n    items.append(i)\n    seen.add(i)\n"
            "    ok = i in seen and len(items) > 0\n", names)
    assert len(names["items"]) == 10000


def test_values_nested_too_deeply_fail_cleanly():
    with pytest.raises(EvaluationError, match="nested too deeply"):
        execute("a = []\nfor i in range(5000):\n    a = [a]\n", {})


def test_comprehension_variables_do_not_leak():
    names = {"items": [1, 2], "item": "outer"}
    assert evaluate("[item * 10 for item in items] + [item]", names) == [10, 20, "outer"]
    assert names == {"items": [1, 2], "item": "outer"}


def test_unknown_name_is_an_evaluation_error():
    with pytest.raises(EvaluationError) as caught:
        evaluate("decision == missing", TASK_DATA)
    assert caught.value.message == "name 'missing' is not defined (line 1)"
    assert caught.value.line == 1


@pytest.mark.parametrize(
    "expression, message",
    [
        ("1 / (len(districts) - 3)", "division by zero"),
        ("x['missing']", "key 'missing' not found"),
        ("districts[10]", "list index out of range"),
        ("amount + 'x'", "unsupported operand"),
    ],
)
def test_python_failures_become_evaluation_errors(expression, message):
    with pytest.raises(EvaluationError, match=message):
        evaluate(expression, TASK_DATA)


def test_script_assigns_variables_visible_to_the_caller():
    names = {"vehicles": TASK_DATA["vehicles"] + [{"plate": "T-1", "axles": 0}], "fee_per_axle": 100}
    execute(
        """
total_axles = 0
heavy = []
for v in vehicles:
    if v['axles'] == 0:
        continue
    elif v['axles'] >= 3:
        heavy.append(v['plate'])
    total_axles += v['axles']
fee = total_axles * fee_per_axle
status = 'review' if heavy else 'auto'
summary = {'count': len(vehicles)}
summary['heavy'] = len(heavy)
first, second = vehicles[0]['plate'], vehicles[1]['plate']
""",
        names,
    )
    assert names["total_axles"] == 5
    assert names["heavy"] == ["KLA-0001"]
    assert names["fee"] == 500
    assert names["status"] == "review"
    assert names["summary"] == {"count": 3, "heavy": 1}
    assert (names["first"], names["second"]) == ("KLA-0001", "KLA-0002")


def test_indented_script_from_a_diagram_runs():
    names = {"reason": "incomplete"}
    execute("\n        outcome = 'not_accepted'\n        outcome_reason = reason\n", names)
    assert names == {"reason": "incomplete", "outcome": "not_accepted", "outcome_reason": "incomplete"}


def test_break_and_for_else():
    names = {"items": [3, 8, 12]}
    execute(
        "found = None\nfor i in items:\n    if i > 5:\n        found = i\n        break\nelse:\n    found = -1\n"
        "for i in items:\n    pass\nelse:\n    done = True\n",
        names,
    )
    assert names["found"] == 8
    assert names["done"] is True


def test_counting_into_a_dict_and_augmented_subscript():
    names = {"segments": TASK_DATA["segments"]}
    execute(
        "counts = {}\nfor seg in segments:\n    for d in seg['districts']:\n"
        "        counts[d] = counts.get(d, 0)\n        counts[d] += 1\n",
        names,
    )
    assert names["counts"] == {"東區": 2, "永康區": 1, "安平區": 1}


def test_list_plus_equals_extends_in_place_like_python():
    names = {"items": [1]}
    execute("alias = items\nitems += (2, 3)", names)
    assert names["alias"] == [1, 2, 3]
    assert names["items"] is names["alias"]


def test_del_removes_names_and_keys():
    names = {"scratch": 1, "summary": {"keep": 1, "tmp": 2}, "items": [1, 2, 3]}
    execute("del scratch\ndel summary['tmp']\ndel items[0]", names)
    assert names == {"summary": {"keep": 1}, "items": [2, 3]}


@pytest.mark.parametrize("script", ["del missing", "del summary['missing']"])
def test_del_of_something_missing_fails(script):
    with pytest.raises(EvaluationError):
        execute(script, {"summary": {}})


def test_written_values_are_made_json_like():
    names = {"data": {"tags": []}}
    execute(
        "pair = (1, 'a')\nunique = {3, 1, 2}\nnested = [(1, {2})]\n"
        "data['tags'].append(('x', 'y'))\nby_id = {1: 'one'}",
        names,
    )
    assert names["pair"] == [1, "a"]
    assert names["unique"] == [1, 2, 3]
    assert names["nested"] == [[1, [2]]]
    assert names["data"] == {"tags": [["x", "y"]]}
    assert names["by_id"] == {1: "one"}


@pytest.mark.parametrize(
    "script, message",
    [
        ("g = (i for i in [1])", "generator values are not allowed"),
        ("d = {(1, 2): 'x'}", "tuple key"),
        ("a = []\na.append(a)", "contains itself"),
    ],
)
def test_values_that_are_not_json_like_are_refused(script, message):
    names = {}
    with pytest.raises(EvaluationError, match=message):
        execute(script, names)
    assert names == {}


def test_failed_script_does_not_write_top_level_names():
    names = {"count": 1}
    with pytest.raises(EvaluationError):
        execute("count = 2\nresult = 1 / 0", names)
    assert names == {"count": 1}


def test_methods_may_mutate_task_data_in_expressions():
    names = {"items": [1]}
    assert evaluate("items.append(2) is None and items.pop() == 2", names) is True
    assert names == {"items": [1]}


# --------------------------------------------------------------------------
# Sandbox escapes
# --------------------------------------------------------------------------

ESCAPES = [
    ("().__class__.__mro__[1].__subclasses__()", "eval"),
    ("__import__('os')", "eval"),
    ("__import__('os').system('id')", "eval"),
    ("getattr(x, '__cl' + 'ass__')", "eval"),
    ("getattr(__builtins__, 'eval')", "eval"),
    ("eval('1')", "eval"),
    ("exec('x=1')", "eval"),
    ("open('/etc/passwd')", "eval"),
    ("globals()", "eval"),
    ("locals()", "eval"),
    ("vars()", "eval"),
    ("(lambda: 1)()", "eval"),
    ("[c for c in ().__class__.__bases__[0].__subclasses__()]", "eval"),
    ("'{0.__class__}'.format(1)", "eval"),
    ("'{.__class__.__base__}'.format('')", "eval"),
    ("applicant.format(x)", "eval"),
    ("'{a}'.format_map(x)", "eval"),
    ("'%s' % x", "eval"),
    ("f'{x!a}'", "eval"),
    ("f'{x:{decision}}'", "eval"),
    ("f'{amount:>1000000000}'", "eval"),
    ("type(1)", "eval"),
    ("x.__dict__", "eval"),
    ("x.func_globals", "eval"),
    ("(1).real.__class__", "eval"),
    ("(x for x in [1]).gi_frame.f_globals", "eval"),
    ("(x for x in [1]).gi_code.co_consts", "eval"),
    ("breakpoint()", "eval"),
    ("compile('1', '', 'eval')", "eval"),
    ("help()", "eval"),
    ("dir()", "eval"),
    ("memoryview(b'')", "eval"),
    ("bytearray(10**10)", "eval"),
    ("isinstance(x, dict)", "eval"),
    ("setattr(x, 'a', 1)", "eval"),
    ("object.__subclasses__()", "eval"),
    ("str.mro()", "eval"),
    ("x.get.__self__", "eval"),
    ("x.get", "eval"),
    ("len.__self__", "eval"),
    ("sorted(districts, key=len)", "eval"),
    ("sorted(districts, key=lambda d: d.__class__)", "eval"),
    ("max(*districts)", "eval"),
    ("dict(**x)", "eval"),
    ("{**x}", "eval"),
    ("[*districts]", "eval"),
    ("(y := 1)", "eval"),
    ("_secret", "eval"),
    ("__builtins__", "eval"),
    ("x._private", "eval"),
    ("[_ for _ in districts]", "eval"),
    ("vehicles[0]['plate'].__len__()", "eval"),
    ("1 | 2", "eval"),
    ("~1", "eval"),
    ("1j * 2", "eval"),
    ("...", "eval"),
    ("(" * 200 + "1" + ")" * 200, "eval"),
    ("[" * 150 + "]" * 150, "eval"),
    ("-" * 150 + "1", "eval"),
    ("-" * 5000 + "1", "eval"),
    ("1 + " * 3000 + "1", "eval"),
    ("import os", "exec"),
    ("import builtins as b", "exec"),
    ("from os import system", "exec"),
    ("def f(): pass", "exec"),
    ("async def f(): pass", "exec"),
    ("class A: pass", "exec"),
    ("while True: pass", "exec"),
    ("try:\n    pass\nexcept Exception:\n    pass", "exec"),
    ("with open('x') as f:\n    pass", "exec"),
    ("raise SystemExit", "exec"),
    ("assert False", "exec"),
    ("return 1", "exec"),
    ("yield 1", "exec"),
    ("global decision", "exec"),
    ("x: int = 1", "exec"),
    ("x.attr = 1", "exec"),
    ("del x.b", "exec"),
    ("del (decision, renewal)", "exec"),
    ("districts[1:] = []", "exec"),
    ("del districts[1:]", "exec"),
    ("first, *rest = districts", "exec"),
    ("for _ in districts:\n    pass", "exec"),
    ("for d['k'] in districts:\n    pass", "exec"),
    ("match decision:\n    case 'a':\n        pass", "exec"),
    ("break", "exec"),
    ("f = lambda: 0", "exec"),
]


@pytest.mark.parametrize("source, mode", ESCAPES)
def test_escape_is_refused_statically_and_at_run_time(source, mode):
    assert check(source, mode) != []
    with pytest.raises(UnsafeExpression):
        run(source, mode)


class DictLike(dict):
    pass


class Opaque:
    pass


@pytest.mark.parametrize(
    "expression, names",
    [
        ("template % x", {"template": "%s", "x": 1}),
        ("n.lower()", {"n": 5}),
        ("items.get(0)", {"items": [1]}),
        ("(v for v in items).count(1)", {"items": [1]}),
        ("record.get('a')", {"record": DictLike(a=1)}),
        ("thing['a']", {"thing": Opaque()}),
    ],
)
def test_refusals_that_depend_on_runtime_types(expression, names):
    assert check(expression) == []
    with pytest.raises(UnsafeExpression):
        evaluate(expression, names)


@pytest.mark.parametrize(
    "source, mode",
    [
        ("x = 9**9**9", "exec"),
        ("'a' * 10**10", "eval"),
        ("[0] * 10**9", "eval"),
        ("1 / 0", "eval"),
    ],
)
def test_check_reports_literal_expressions_that_always_fail(source, mode):
    assert check(source, mode) != []
    with pytest.raises(EvaluationError):
        run(source, mode, {})


BIG = "x" * 200_000

LIMITS = [
    ("x = 9**9**9", "exec", {}),
    ("'a' * 10**10", "eval", {}),
    ("[0] * 10**9", "eval", {}),
    ("list(range(10**9))", "eval", {}),
    ("sum(range(10**12))", "eval", {}),
    ("[[0]*1000 for i in range(10**6)]", "eval", {}),
    ("text * n", "eval", {"text": "ab", "n": 10**10}),
    ("n * items", "eval", {"items": [0], "n": 10**9}),
    ("items + items", "eval", {"items": [0] * 600_000}),
    ("base ** exponent", "eval", {"base": 10, "exponent": 10**6}),
    ("base ** 2", "eval", {"base": 10**7}),
    ("(-8) ** 0.5", "eval", {}),
    ("', '.join([text] * 999999)", "eval", {"text": "abcd"}),
    ("big.replace('', big)", "eval", {"big": BIG}),
    ("str([big] * 20)", "eval", {"big": BIG}),
    ("f'{big}{big}{big}{big}{big}{big}'", "eval", {"big": BIG}),
    ("f'{items!r}'", "eval", {"items": [BIG] * 6}),
    ("round(5, -10**18)", "eval", {}),
    ("int('9' * 6000)", "eval", {}),
    ("sum([[1]] * 3, [])", "eval", {}),
    ("len([1 for a in r for b in r])", "eval", {"r": list(range(10_000))}),
    ("x = 10**100\nfor i in range(20):\n    x = x * x", "exec", {}),
    ("items = [1]\nfor i in items:\n    items.append(i)", "exec", {}),
    ("for i in range(1000):\n    for j in range(1000):\n        pass", "exec", {}),
    ("items = [0]\nfor i in range(30):\n    items.extend(items)", "exec", {}),
    ("for i in range(1000):\n    n = len(big + big)", "exec", {"big": "x" * 500_000}),
    ("total = 0\nfor i in range(10000):\n    total += len(str(big))", "exec", {"big": BIG}),
]


@pytest.mark.parametrize("source, mode, names", LIMITS)
def test_resource_limits_raise_evaluation_error(source, mode, names):
    with pytest.raises(EvaluationError):
        run(source, mode, dict(names))


@pytest.mark.parametrize("expression", ["list(range(10**9))", "text * n", "base ** exponent"])
def test_some_limits_can_only_be_found_at_run_time(expression):
    assert check(expression) == []


def test_limit_errors_are_expression_errors_with_a_message():
    with pytest.raises(ExpressionError) as caught:
        evaluate("range(20000)", {})
    assert caught.value.message == "range() may produce at most 10000 values (line 1)"


# --------------------------------------------------------------------------
# Built-in function names
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "script",
    [
        "len = 5",
        "sorted, other = 1, 2",
        "str += 'a'",
        "for len in [1]:\n    pass",
        "xs = [1 for max in [1]]",
        "del today",
    ],
)
def test_builtin_function_names_cannot_be_rebound(script):
    problems = check(script, "exec")
    assert problems and "built-in function" in problems[0]
    with pytest.raises(UnsafeExpression):
        execute(script, {"str": "", "today": ""})


def test_calls_always_reach_the_builtin_and_functions_are_never_values():
    assert evaluate("len(items)", {"len": 5, "items": [1, 2]}) == 2
    assert evaluate("len", {"len": 5}) == 5
    with pytest.raises(EvaluationError, match="name 'len' is not defined"):
        evaluate("len", {})


# --------------------------------------------------------------------------
# Messages and line numbers
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "source, mode, expected",
    [
        ("getattr(x, 'y')", "eval", ["call to 'getattr' is not allowed (line 1)"]),
        ("x.__class__", "eval", ["attribute '__class__' is not allowed (line 1)"]),
        ("a = 1\nimport os", "exec", ["'import' statements are not allowed (line 2)"]),
        ("a = 1\n\nb = ().__class__", "exec", ["attribute '__class__' is not allowed (line 3)"]),
        ("a = 1\nwhile a:\n    pass", "exec", ["'while' loops are not allowed (line 2)"]),
    ],
)
def test_check_messages_name_the_construct_and_line(source, mode, expected):
    assert check(source, mode) == expected


@pytest.mark.parametrize("source", ["1 +* 2", "a b", "decision ==", "x = 1"])
def test_syntax_errors_are_reported_as_problems(source):
    problems = check(source)
    assert len(problems) == 1
    assert re.fullmatch(r"syntax error: .+ \(line 1(, column \d+)?\)", problems[0])
    with pytest.raises(UnsafeExpression):
        evaluate(source, {})


def test_syntax_error_names_line_and_column():
    assert check("a = 1\nb = = 2", "exec") == ["syntax error: invalid syntax (line 2, column 5)"]


@pytest.mark.parametrize("source, mode", [(None, "eval"), (42, "exec"), ("x", "bogus"), ("a\x00b", "eval")])
def test_check_never_raises_for_bad_input(source, mode):
    assert check(source, mode) != []


@pytest.mark.parametrize(
    "script, line, message",
    [
        ("a = 1\nb = 2\nc = missing + 1", 3, "name 'missing' is not defined (line 3)"),
        ("a = 1\nb = a / 0", 2, "division by zero (line 2)"),
        ("for i in [1, 0]:\n    x = 1\n    y = 1 / i\n", 3, "division by zero (line 3)"),
        ("n = 5\nn.lower()", 2, "method 'lower' is not allowed on int values (line 2)"),
        ("s = 'a'\ns['k'] = 1", 2, "str values do not support item assignment (line 2)"),
    ],
)
def test_runtime_errors_carry_the_script_line(script, line, message):
    with pytest.raises(ExpressionError) as caught:
        execute(script, {})
    assert caught.value.line == line
    assert caught.value.message == message


def test_unsafe_expression_from_check_carries_the_line():
    with pytest.raises(UnsafeExpression) as caught:
        execute("a = 1\nb = 2\nimport os", {})
    assert caught.value.line == 3
    assert str(caught.value) == "'import' statements are not allowed (line 3)"

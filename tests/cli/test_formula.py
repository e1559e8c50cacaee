"""The formula parser of ``chaingrad graph``: Python's precedence, gradients, errors
that point at the culprit, and the safety property (it never runs code)."""

from __future__ import annotations

import math
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograd import Scalar
from autograd.cli.formula import (
    MAX_DEPTH,
    Binary,
    Call,
    FormulaError,
    Name,
    Number,
    Unary,
    evaluate,
    names,
    parse,
    tokenize,
)

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
VALUES = {"x": 1.5, "y": -0.75, "z": 2.0, "w_1": 0.3}


def _sigmoid(v: float) -> float:
    if v >= 0:
        return 1 / (1 + math.exp(-v))
    e = math.exp(v)
    return e / (1 + e)


def _exp(v: float) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


#: The reference: Python itself evaluating the same text on floats, with nothing
#: but the five functions and the names in scope (used in this test only).
PY_FUNCTIONS = {"exp": _exp, "log": math.log, "tanh": math.tanh,
                "relu": lambda v: v if v > 0 else 0.0, "sigmoid": _sigmoid}


def python_value(text: str, values: dict) -> float | None:
    """What Python computes for ``text``, or None where it fails or goes complex."""
    try:
        out = eval(text, {"__builtins__": {}}, {**PY_FUNCTIONS, **values})  # test only
    except (ArithmeticError, ValueError, TypeError):
        return None
    return None if isinstance(out, complex) else float(out)


def value(text: str, values: dict | None = None) -> float:
    return evaluate(parse(text), VALUES if values is None else values, text).data


def same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


# ---------------------------------------------------------------- grammar
@pytest.mark.parametrize("text", [
    "1 + 2*3", "(1 + 2)*3", "10 - 4 - 3", "64/4/2", "2*3**2", "2**3**2", "(2**3)**2",
    "-2**2", "(-2)**2", "2**-1", "-2**-2", "--2", "+-+2", "x - -y", "-x**2", "-x*y",
    "x*w_1 + z", "x/y*z", "x/(y*z)", "z**x**z", "-z**-x",
    "1e-3*x", ".5 + 5.", "2.5E2 - 1E+1", "3 - x/y + z*x**2 - (x - y)/w_1",
    "exp(-y)/2 + log(z)*tanh(x)", "relu(y) + relu(x) + sigmoid(x*y)", "0.5**0.5",
])
def test_value_matches_python_arithmetic(text: str) -> None:
    assert value(text) == pytest.approx(python_value(text, VALUES), rel=1e-15, abs=0)


@pytest.mark.parametrize("text, tree", [
    ("-x**2", Unary("-", Binary("**", Name("x"), Number(2.0)))),
    ("2**3**2", Binary("**", Number(2.0), Binary("**", Number(3.0), Number(2.0)))),
    ("a - b - c", Binary("-", Binary("-", Name("a"), Name("b")), Name("c"))),
    ("a / b * c", Binary("*", Binary("/", Name("a"), Name("b")), Name("c"))),
    ("a + b * c", Binary("+", Name("a"), Binary("*", Name("b"), Name("c")))),
    ("a ** -b", Binary("**", Name("a"), Unary("-", Name("b")))),
    ("tanh(x*w + b)", Call("tanh", Binary("+", Binary("*", Name("x"), Name("w")), Name("b")))),
    ("((x))", Name("x")),
    ("1.5e3", Number(1500.0)),
])
def test_tree_shape(text: str, tree: object) -> None:
    assert parse(text) == tree


def test_tokens_keep_their_columns() -> None:
    tokens = tokenize("exp(x1 ** 2.5e-1)")
    assert [(t.kind, t.text, t.pos) for t in tokens] == [
        ("name", "exp", 0), ("op", "(", 3), ("name", "x1", 4), ("op", "**", 7),
        ("number", "2.5e-1", 10), ("op", ")", 16), ("end", "", 17)]


def test_names_in_order_of_first_appearance() -> None:
    assert names(parse("b*a + exp(a*c) - b**d")) == ["b", "a", "c", "d"]
    assert names(parse("2 + 3")) == []


def test_a_repeated_name_is_one_leaf_and_its_gradients_add_up() -> None:
    x = Scalar(3.0, label="x")
    y = evaluate(parse("x*x + 2*x + log(x)"), {"x": x})
    y.backward()
    assert y.data == pytest.approx(9 + 6 + math.log(3))
    assert x.grad == pytest.approx(2 * 3 + 2 + 1 / 3)


def test_leaves_made_from_numbers_carry_their_names() -> None:
    y = evaluate(parse("x*w"), {"x": 2.0, "w": -1.5})
    assert sorted(leaf.label for leaf in y.grad_fn.inputs) == ["w", "x"]
    assert all(leaf.is_leaf and leaf.requires_grad for leaf in y.grad_fn.inputs)


def test_constants_do_not_require_grad() -> None:
    y = evaluate(parse("2 * 3 - 1"), {})
    assert y.data == 5.0 and not y.requires_grad


# ---------------------------------------------------------------- gradients
FORMULAS = [
    "tanh(x*w + b)",
    "x**2 + 3*x*w - exp(-w)/2",
    "relu(x) + sigmoid(w*b) + log(b)",
    "x**w + w**x - x/w/b",
    "-x**2 * b + (x - b)**3 / (1 + w*w)",
    "sigmoid(tanh(x) * exp(b)) ** 2",
]


def _finite_difference(tree: object, point: dict, name: str, eps: float = 1e-6) -> float:
    up, down = dict(point), dict(point)
    up[name] += eps
    down[name] -= eps
    return (evaluate(tree, up).data - evaluate(tree, down).data) / (2 * eps)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(FORMULAS), st.floats(0.2, 2.0), st.floats(0.2, 2.0),
       st.floats(0.2, 2.0))
def test_gradients_match_finite_differences(text: str, x: float, w: float, b: float) -> None:
    tree, point = parse(text), {"x": x, "w": w, "b": b}
    leaves = {name: Scalar(v, label=name) for name, v in point.items()}
    evaluate(tree, leaves).backward()
    for name in names(tree):
        assert leaves[name].grad == pytest.approx(
            _finite_difference(tree, point, name), rel=1e-5, abs=1e-7), name


NEGATIVE_POINT = {"x": -0.7, "w": 1.3, "b": -1.9}


@pytest.mark.parametrize("text, point", [
    *((text, {"x": 0.7, "w": 1.3, "b": 1.9}) for text in FORMULAS),
    ("tanh(x*w + b)", NEGATIVE_POINT),
    ("relu(x) + relu(-x) * b - relu(w)**2", NEGATIVE_POINT),
    ("-x**2 * b + (x - b)**3 / (1 + w*w)", NEGATIVE_POINT),
    ("sigmoid(x*b) / exp(b) - log(w) * x", NEGATIVE_POINT),
])
def test_gradients_match_torch(text: str, point: dict) -> None:
    torch = pytest.importorskip("torch")
    functions = {"exp": torch.exp, "log": torch.log, "tanh": torch.tanh,
                 "relu": torch.relu, "sigmoid": torch.sigmoid}
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
               for k, v in point.items()}
    expected = eval(text, {"__builtins__": {}}, {**functions, **tensors})  # test only
    expected.backward()
    leaves = {k: Scalar(v, label=k) for k, v in point.items()}
    got = evaluate(parse(text), leaves)
    got.backward()
    assert got.data == pytest.approx(expected.item(), rel=1e-12)
    for name in names(parse(text)):
        assert leaves[name].grad == pytest.approx(tensors[name].grad.item(), rel=1e-10), name


@pytest.mark.parametrize("text, point, value, grads", [
    ("x**0.5", {"x": 0.0}, 0.0, {"x": math.inf}),  # sqrt at 0, as in torch
    ("1/x", {"x": 1e-200}, 1e200, {"x": -math.inf}),  # x*x underflows to 0
    ("x**-30", {"x": 1e-10}, 1e300, {"x": -math.inf}),  # x**-31 overflows
])
def test_slopes_past_float_range_are_infinite_not_errors(text: str, point: dict, value: float,
                                                          grads: dict) -> None:
    leaves = {k: Scalar(v, label=k) for k, v in point.items()}
    y = evaluate(parse(text), leaves)
    y.backward()
    assert y.data == pytest.approx(value, rel=1e-12)
    assert {k: leaf.grad for k, leaf in leaves.items()} == grads


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("text, message, column", [
    ("", "empty formula", 0),
    ("   ", "empty formula", 0),
    ("x $ y", "unexpected character '$'", 2),
    ("x + é", "unexpected character 'é'", 4),
    ("x +", "after '+', got the end of the formula", 3),
    ("* x", "expected a number, a name or '(', got '*'", 0),
    ("x * / y", "after '*', got '/'", 4),
    ("x**", "after '**'", 3),
    ("(x + 1", "'(' is never closed", 0),
    ("exp((x)", "'(' is never closed", 3),
    ("x + 1)", "unmatched ')'", 5),
    ("foo(x)", "unknown function 'foo' (known: exp, log, relu, sigmoid, tanh)", 0),
    ("x + exp", "'exp' is a function: call it as exp(...)", 4),
    ("exp(x, y)", "exp() takes exactly one argument", 5),
    ("tanh()", "tanh() takes exactly one argument", 5),
    ("2x", "expected an operator or the end of the formula, got name 'x'", 1),
    ("x y", "got name 'y'", 2),
    ("(x)(y)", "got '('", 3),
    ("(x y)", "expected an operator or ')', got name 'y'", 3),
    ("(x, y)", "expected an operator or ')', got ','", 2),
    ("1.2.3", "got number '.3'", 3),
])
def test_syntax_errors_point_at_the_culprit(text: str, message: str, column: int) -> None:
    with pytest.raises(FormulaError) as info:
        parse(text)
    err = info.value
    assert message in err.message and err.pos == column
    assert isinstance(err, ValueError)
    if text:  # the formula, indented by 4, and a caret under the culprit
        formula_line, caret_line = str(err).splitlines()[1:3]
        assert formula_line == "    " + text
        assert caret_line.index("^") == 4 + column


def test_caret_stays_under_the_culprit_after_a_tab() -> None:
    with pytest.raises(FormulaError) as info:
        parse("x\t+ $")
    formula_line, caret_line = str(info.value).splitlines()[1:3]
    assert formula_line[caret_line.index("^")] == "$"


@pytest.mark.parametrize("text, values, message, column", [
    ("x*w", {"x": 1.0}, "no value for 'w': pass --w VALUE", 2),
    ("log(x)", {"x": -1.0}, "needs a positive number", 0),
    ("1/(x - x)", {"x": 2.0}, "division by zero", 1),
    ("x**0.5", {"x": -8.0}, "is not a real number", 1),
    ("10**x", {"x": 400.0}, "out of range", 2),
    ("0**x", {"x": -1.0}, "undefined", 1),
])
def test_evaluation_errors_point_at_the_culprit(text: str, values: dict, message: str,
                                                column: int) -> None:
    with pytest.raises(FormulaError) as info:
        evaluate(parse(text), values, text)
    assert message in info.value.message and info.value.pos == column
    assert str(info.value).splitlines()[1].strip() == text


def test_nesting_is_limited_with_a_clear_error() -> None:
    assert value("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH) == VALUES["x"]
    assert value("relu(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH) == VALUES["x"]
    for text in ["(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1),
                 "(" * 100_000,
                 "tanh(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1),
                 "x" + "**x" * (MAX_DEPTH + 1),
                 "x**(" * 60 + "x" + ")" * 60]:
        with pytest.raises(FormulaError, match=f"nests more than {MAX_DEPTH} levels"):
            parse(text)


def test_long_flat_formulas_need_no_recursion() -> None:
    assert value("-" * 20_000 + "x") == VALUES["x"]
    x = Scalar(1.0, label="x")
    y = evaluate(parse("x" + " + x" * 20_000), {"x": x})
    y.backward()
    assert y.data == 20_001 and x.grad == 20_001


# ---------------------------------------------------------------- safety
ATTACKS = [
    "__import__('os').system('x')",
    "__import__(os)",
    "exec(x)",
    "eval(x)",
    "().__class__",
    "x.__class__",
    "open('/etc/passwd').read()",
    "lambda: 1",
    "[x for x in y]",
    "x; y",
    "x if y else z",
    "{x: 1}",
    "x[0]",
    "f'{x}'",
    "x == y",
    "x @ y",
    "~x",
    "x % y",
    "x // y",
    "1_000",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_anything_outside_the_grammar_is_a_formula_error(text: str) -> None:
    with pytest.raises(FormulaError):
        parse(text)


ALPHABET = ("abcxyz_XYZ0123456789 .eE+-*/()**,;:[]{}'\"!@#$%^&|~`<>=?\\\t\n"
            "exp log tanh relu sigmoid __import__ os system")


#: Random text: single characters, and chunks that make getting far into the grammar likely.
RANDOM_TEXT = st.text(alphabet=ALPHABET, max_size=30) | st.lists(
    st.sampled_from([*ALPHABET, "exp(", "log(", "tanh(", "relu(", "sigmoid(", "**",
                     "__import__", "1e5", ".5", "x", "y"]), max_size=25).map("".join)


@FAST
@given(RANDOM_TEXT)
def test_random_text_parses_or_raises_formula_error(text: str) -> None:
    with mock.patch("builtins.eval", side_effect=AssertionError("eval called")), \
         mock.patch("builtins.exec", side_effect=AssertionError("exec called")), \
         mock.patch("builtins.compile", side_effect=AssertionError("compile called")):
        try:
            tree = parse(text)
        except FormulaError:
            return
        try:
            result = evaluate(tree, dict.fromkeys(names(tree), 1.5), text)
        except FormulaError:
            return
    assert isinstance(result, Scalar)


@FAST
@given(st.text(max_size=30))
def test_any_unicode_text_parses_or_raises_formula_error(text: str) -> None:
    try:
        parse(text)
    except FormulaError as err:
        assert err.pos is not None and 0 <= err.pos <= len(text)


# ---------------------------------------------------------------- valid formulas
def _spaced(draw: st.DrawFn, *parts: str) -> str:
    return "".join(part + draw(st.sampled_from(["", "", " "])) for part in parts).strip()


@st.composite
def _numbers(draw: st.DrawFn) -> str:
    # float literals only: Python's reference must never do (possibly huge) int powers
    mantissa = draw(st.sampled_from(["0.0", "0.5", "1.0", "2.", ".25", "3.5", "1.5", "10.0"]))
    return mantissa + draw(st.sampled_from(["", "", "e0", "E-1", "e+1"]))


@st.composite
def _binary(draw: st.DrawFn, operands: st.SearchStrategy[str]) -> str:
    return _spaced(draw, draw(operands), draw(st.sampled_from(["+", "-", "*", "/", "**"])),
                   draw(operands))


@st.composite
def _wrapped(draw: st.DrawFn, operands: st.SearchStrategy[str]) -> str:
    inner = draw(operands)
    kind = draw(st.sampled_from(["-", "+", "()", "exp", "log", "tanh", "relu", "sigmoid"]))
    if kind in "-+":
        return kind + inner
    return f"{'' if kind == '()' else kind}({inner})"


#: Valid formulas, glued together without regard to precedence (``a+b`` times
#: ``c`` gives ``a+b*c``), so Python's own parser decides what they mean.
FORMULA_TEXT = st.recursive(
    _numbers() | st.sampled_from(sorted(VALUES)),
    lambda operands: _binary(operands) | _wrapped(operands),
    max_leaves=10,
)


@FAST
@given(FORMULA_TEXT)
def test_valid_formulas_evaluate_like_python(text: str) -> None:
    expected = python_value(text, VALUES)
    tree = parse(text)
    if expected is None:
        with pytest.raises(FormulaError):
            evaluate(tree, VALUES, text)
    else:
        got = evaluate(tree, VALUES, text).data
        assert same_float(got, expected), (text, got, expected)

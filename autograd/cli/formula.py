"""Formulas of named scalars, such as ``tanh(x*w + b)``, read by a hand-written parser.

The parser accepts this grammar and nothing else (it never calls ``eval``, so a
formula cannot run code); precedence and associativity are Python's::

    sum      :=  product (("+" | "-") product)*
    product  :=  unary (("*" | "/") unary)*
    unary    :=  ("-" | "+")* primary ("**" unary)?      so -x**2 == -(x**2), 2**3**2 == 2**9
    primary  :=  NUMBER | NAME | FUNCTION "(" sum ")" | "(" sum ")"
    FUNCTION :=  exp | log | tanh | relu | sigmoid       the one-argument ops of Scalar

``parse`` turns the text into a tree of ``Number``, ``Name``, ``Unary``,
``Binary`` and ``Call`` nodes; ``evaluate`` turns the tree into a graph of
``Scalar`` ops whose leaves are the named values.

    >>> y = evaluate(parse("x*x + 3*x"), {"x": 2.0})
    >>> y.backward()
    >>> y.data, y.grad_fn is not None
    (10.0, True)
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ..scalar import Scalar

#: The functions a formula may call: Scalar's one-argument ops.
FUNCTIONS = {
    "exp": Scalar.exp,
    "log": Scalar.log,
    "tanh": Scalar.tanh,
    "relu": Scalar.relu,
    "sigmoid": Scalar.sigmoid,
}
BINARY = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
}
UNARY = {"-": operator.neg, "+": lambda x: x}

#: Deepest nesting of parentheses, calls and exponents. Each level costs the
#: parser at most five Python frames, so this stays far below the recursion limit.
MAX_DEPTH = 100


class FormulaError(ValueError):
    """A formula that cannot be read or computed; the message shows where.

    ``message`` is the bare reason, ``pos`` the 0-based column (``None`` when
    unknown); ``str()`` adds the formula with a caret line under the culprit.
    """

    def __init__(self, message: str, source: str = "", pos: int | None = None,
                 length: int = 1) -> None:
        self.message, self.source, self.pos = message, source, pos
        text = message
        if source and pos is not None:
            shown = re.sub(r"\s", " ", source)  # a tab or newline would shift the caret
            text += f"\n    {shown}\n    {' ' * pos}{'^' * max(length, 1)}"
        super().__init__(text)


# ---------------------------------------------------------------- the tree
@dataclass(frozen=True)
class Number:
    value: float
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Name:
    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    func: str
    arg: Node
    pos: int = field(default=0, compare=False)


Node = Number | Name | Unary | Binary | Call


# ---------------------------------------------------------------- tokens
class Token(NamedTuple):
    kind: str  # "number", "name", "op" or "end"
    text: str
    pos: int


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_]\w*)
      | (?P<op>\*\*|[-+*/(),])""",
    re.VERBOSE | re.ASCII,
)


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``, ending with an ``end`` token."""
    tokens, pos = [], 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise FormulaError(f"unexpected character {source[pos]!r}", source, pos)
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the formula"
    if token.kind == "op":
        return repr(token.text)
    return f"{token.kind} {token.text!r}"


# ---------------------------------------------------------------- the parser
def parse(source: str) -> Node:
    """The expression tree of ``source``; raises FormulaError if it is not a formula."""
    return _Parser(source).parse()


class _Parser:
    """Recursive descent: one method per grammar rule, one token of lookahead."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.index = 0
        self.depth = 0

    def parse(self) -> Node:
        if self._peek().kind == "end":
            raise FormulaError("empty formula", self.source, 0)
        tree = self._sum()
        token = self._peek()
        if token.kind != "end":
            if token.text == ")":
                raise self._error("unmatched ')'", token)
            raise self._error(
                f"expected an operator or the end of the formula, got {_describe(token)}", token)
        return tree

    # -- grammar rules
    def _sum(self) -> Node:
        left = self._product()
        while self._peek().text in ("+", "-"):
            op = self._next()
            left = Binary(op.text, left, self._product(), op.pos)
        return left

    def _product(self) -> Node:
        left = self._unary()
        while self._peek().text in ("*", "/"):
            op = self._next()
            left = Binary(op.text, left, self._unary(), op.pos)
        return left

    def _unary(self) -> Node:
        signs = []
        while self._peek().text in ("-", "+"):
            signs.append(self._next())
        tree = self._primary()
        if self._peek().text == "**":
            op = self._next()
            self._descend(op)
            tree = Binary("**", tree, self._unary(), op.pos)  # right-associative
            self.depth -= 1
        for sign in reversed(signs):  # the signs bind looser than **: -x**2 == -(x**2)
            tree = Unary(sign.text, tree, sign.pos)
        return tree

    def _primary(self) -> Node:
        before = self.tokens[self.index - 1] if self.index else None
        token = self._next()
        if token.kind == "number":
            return Number(float(token.text), token.pos)
        if token.kind == "name":
            if self._peek().text != "(":
                if token.text in FUNCTIONS:
                    raise self._error(
                        f"{token.text!r} is a function: call it as {token.text}(...)", token)
                return Name(token.text, token.pos)
            if token.text not in FUNCTIONS:
                raise self._error(f"unknown function {token.text!r} "
                                  f"(known: {', '.join(sorted(FUNCTIONS))})", token)
            arg = self._parenthesized(self._next(), function=token.text)
            return Call(token.text, arg, token.pos)
        if token.text == "(":
            return self._parenthesized(token)
        after = f" after {before.text!r}" if before is not None else ""
        raise self._error(f"expected a number, a name or '('{after}, got {_describe(token)}",
                          token)

    def _parenthesized(self, opening: Token, function: str = "") -> Node:
        """The ``sum`` after ``opening`` (a consumed '('), and its closing ')'."""
        self._descend(opening)
        if function and self._peek().text in (")", ","):
            raise self._error(f"{function}() takes exactly one argument", self._peek())
        inner = self._sum()
        self.depth -= 1
        token = self._next()
        if token.text == ")":
            return inner
        if token.kind == "end":
            raise self._error("'(' is never closed", opening)
        if token.text == "," and function:
            raise self._error(f"{function}() takes exactly one argument", token)
        raise self._error(f"expected an operator or ')', got {_describe(token)}", token)

    # -- helpers
    def _peek(self) -> Token:
        return self.tokens[self.index]

    def _next(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def _descend(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error(f"the formula nests more than {MAX_DEPTH} levels deep", token)

    def _error(self, message: str, token: Token) -> FormulaError:
        return FormulaError(message, self.source, token.pos, len(token.text))


# ---------------------------------------------------------------- evaluation
def _children(node: Node) -> tuple:
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Call):
        return (node.arg,)
    return ()


def postorder(tree: Node) -> Iterator[Node]:
    """The nodes of ``tree``, children before parents, left to right (no recursion:
    ``x+x+...+x`` makes a tree as deep as it is long)."""
    stack = [(tree, False)]
    while stack:
        node, children_done = stack.pop()
        children = _children(node)
        if children_done or not children:
            yield node
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(children))


def names(tree: Node) -> list[str]:
    """The names in ``tree``, each once, in order of first appearance."""
    return list(dict.fromkeys(node.name for node in postorder(tree) if isinstance(node, Name)))


def evaluate(tree: Node, values: Mapping[str, float | Scalar], source: str = "") -> Scalar:
    """The Scalar graph of ``tree``, its names bound to ``values``.

    A number value becomes a leaf ``Scalar(value, label=name)``, one per name,
    so a name used twice gets both gradient contributions; a Scalar value is
    used as is (keep it to read its ``grad`` after backward). Numbers in the
    formula are constants. ``source``, the formula's text, lets errors point
    at the culprit (a missing name, ``log`` of a negative number...).
    """
    leaves = {}
    for node in postorder(tree):
        if isinstance(node, Name) and node.name not in leaves:
            if node.name not in values:
                raise FormulaError(f"no value for {node.name!r}: pass --{node.name} VALUE",
                                   source, node.pos, len(node.name))
            value = values[node.name]
            leaves[node.name] = (value if isinstance(value, Scalar)
                                 else Scalar(value, label=node.name))
    results: list[Scalar] = []
    for node in postorder(tree):
        if isinstance(node, Number):
            results.append(Scalar(node.value, requires_grad=False))
        elif isinstance(node, Name):
            results.append(leaves[node.name])
        else:
            results.append(_apply(node, results, source))
    return results[0]


def _apply(node: Node, results: list[Scalar], source: str) -> Scalar:
    """``node``'s op on the last one or two ``results`` (which it pops)."""
    try:
        if isinstance(node, Binary):
            right, left = results.pop(), results.pop()
            return BINARY[node.op](left, right)
        operand = results.pop()
        if isinstance(node, Unary):
            return UNARY[node.op](operand)
        return FUNCTIONS[node.func](operand)
    except (ArithmeticError, ValueError) as error:  # log(-1), 1/0, 10**400, (-8)**0.5
        length = len(node.func) if isinstance(node, Call) else len(getattr(node, "op", ""))
        raise FormulaError(str(error), source, node.pos, length) from None

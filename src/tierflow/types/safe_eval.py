"""The closed expression language: what an expression may name, checked before anything runs.

Table expressions, iterator cuts and keys, and hit (later evt and DataLoader) configs are
one-line Python expressions. They are never given to Python's ``eval``: :func:`check` parses
one and walks its syntax tree against allow-lists, then :func:`run` evaluates the checked
tree with a small interpreter that can do nothing the lists do not name. An expression may use

- column names and parameters;
- the numpy and awkward functions and constants of :mod:`tierflow.types.allowed_names`, as
  ``np.<name>`` and ``ak.<name>``, with the keywords listed there;
- numexpr's functions by their bare names (``sqrt(a)``);
- a few methods and attributes of numpy arrays (``a.mean()``, ``w.T``);
- numbers, strings, lists and tuples; arithmetic, comparisons, ``& | ~``, ``and or not``,
  ``x if c else y``, subscripts and slices.

Anything else (a submodule such as ``np.f2py``, a file function such as ``np.save``, a name
``__like_this__``, a lambda, a comprehension, a call of anything not listed, an ``out=``) is an
:class:`~tierflow.errors.ExpressionError` naming the expression and the offending name before
any of it is evaluated. Evaluation is bounded too: expressions longer than
:data:`MAX_LENGTH` characters or nested deeper than :data:`MAX_DEPTH` levels, integers of more
than :data:`MAX_INT_BITS` bits, literal exponents above :data:`MAX_EXPONENT`, strings longer
than :data:`MAX_STRING`, numpy object arrays and broadcasts to more elements than the largest
operand has (an outer product) are errors, so no expression can hang (``9**9**9``) or exhaust
memory (``'x' * 10**12``, ``w[:, :1] * a``).

>>> import numpy as np
>>> checked = check("np.sqrt(a) * k + 1")
>>> sorted(checked.names)
['a', 'k']
>>> run(checked, {"a": np.array([4.0, 9.0]), "k": 2}).tolist()
[5.0, 7.0]
>>> check("np.f2py.os.system('ls')")
Traceback (most recent call last):
...
tierflow.errors.ExpressionError: 'np.f2py' in "np.f2py.os.system('ls')" is not an allowed numpy name; ...
>>> check("9**9**9")
Traceback (most recent call last):
...
tierflow.errors.ExpressionError: the exponent 387420489 in '9**9**9' is larger than 1024
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from ..errors import ExpressionError
from .allowed_names import (
    ARRAY_ATTRIBUTES,
    ARRAY_METHODS,
    KEYWORDS,
    LIBRARY,
    MODULE_NAMES,
    NUMEXPR_FUNCTIONS,
    Entry,
)

#: longest expression text, in characters
MAX_LENGTH = 10_000
#: deepest nesting of an expression's syntax tree
MAX_DEPTH = 100
#: largest Python integer an expression may make or hold, in bits (numpy's int64/uint64)
MAX_INT_BITS = 64
#: largest literal exponent of a power
MAX_EXPONENT = 1024
#: longest string or bytes an expression may write or make (``'ab' * 3``), in characters
MAX_STRING = 256

_CONSTANT_TYPES = (int, float, complex, str, bytes, bool, type(None), type(Ellipsis))
_OPERATORS: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.BitAnd: operator.and_,
}
_UNARY: dict[type, Callable] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
    ast.Invert: operator.invert,
    ast.Not: operator.not_,
}
_COMPARE: dict[type, Callable] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
#: syntax an expression may use; everything else (lambda, comprehension, f-string, dict,
#: set, starred, walrus, await, yield, ``@``) is refused
_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.keyword,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.Tuple,
    ast.List,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.And,
    ast.Or,
    *_OPERATORS,
    *_UNARY,
    *_COMPARE,
)


def show(expr: str) -> str:
    """``repr(expr)``, shortened when it is long (for messages).

    >>> show("a" * 300)[:12], len(show("a" * 300)) < 200
    ("'aaaaaaaaaaa", True)
    """
    if len(expr) <= 120:
        return repr(expr)
    return f"{expr[:100]!r}... ({len(expr)} characters)"


def parse(expr: Any) -> ast.Expression:
    """The syntax tree of ``expr``, its length and nesting bounded; raises
    :class:`ExpressionError` (never ``RecursionError`` or ``MemoryError``).

    >>> parse("(" * 50 + "a" + ")" * 50).body.id
    'a'
    >>> parse("-" * 100_000 + "1")
    Traceback (most recent call last):
    ...
    tierflow.errors.ExpressionError: expression '-----'... is 100001 characters long; at most 10000
    """
    if not isinstance(expr, str):
        raise ExpressionError(f"an expression is a string, not {type(expr).__name__}")
    text = expr.strip()
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression {text[:5]!r}... is {len(text)} characters long; at most {MAX_LENGTH}"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"cannot parse expression {show(text)}: {err.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(
            f"expression {show(text)} is nested too deeply; at most {MAX_DEPTH} levels"
        ) from None
    except ValueError as err:  # null bytes
        raise ExpressionError(f"cannot parse expression {show(text)}: {err}") from None
    check_depth(tree, text)
    return tree


def check_depth(tree: ast.AST, text: str, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`ExpressionError` if ``tree`` nests deeper than ``limit`` (walked without
    recursion, so any depth is safe to check)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise ExpressionError(
                f"expression {show(text)} is nested too deeply; at most {limit} levels"
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


@dataclass(frozen=True)
class Checked:
    """An expression that passed :func:`check`: its text and tree, the free names it reads
    (columns, parameters), the bare functions it calls (numexpr's) and whether it names
    ``np``/``ak`` or array methods (then numexpr cannot evaluate it)."""

    text: str
    tree: ast.Expression
    names: frozenset[str]
    functions: frozenset[str]
    uses_library: bool


def check(expr: Any) -> Checked:
    """Parse ``expr`` and check it against the allow-lists; constant parts (``2**10``) are
    evaluated here, so that they are bounded too.

    >>> check("ak.sum(hits, axis=-1) > e").names == {"hits", "e"}
    True
    >>> check("a.tofile('x')")
    Traceback (most recent call last):
    ...
    tierflow.errors.ExpressionError: method 'tofile' in "a.tofile('x')" is not allowed; ...
    """
    if not isinstance(expr, str):
        raise ExpressionError(f"an expression is a string, not {type(expr).__name__}")
    return _check(expr)


@functools.lru_cache(maxsize=1024)
def _check(expr: str) -> Checked:
    tree = parse(expr)
    text = expr.strip()
    checker = _Checker(text)
    checker.visit(tree.body)
    _fold_constants(tree.body, text)
    return Checked(
        text,
        tree,
        frozenset(checker.names),
        frozenset(checker.functions),
        checker.uses_library,
    )


class _Checker:
    def __init__(self, text: str):
        self.text = text
        self.names: set[str] = set()
        self.functions: set[str] = set()
        self.uses_library = False

    def fail(self, message: str) -> ExpressionError:
        return ExpressionError(message.replace("{expr}", show(self.text)))

    def visit(self, node: ast.AST) -> None:
        if not isinstance(node, _NODES):
            raise self.fail(f"{type(node).__name__} syntax is not allowed in {{expr}}")
        if isinstance(node, ast.Name):
            self.name(node)
        elif isinstance(node, ast.Constant):
            self.constant(node)
        elif isinstance(node, ast.Attribute):
            self.attribute(node, called=False)
            return
        elif isinstance(node, ast.Call):
            self.call(node)
            return
        elif isinstance(node, ast.Subscript):
            self.subscript(node)
        elif isinstance(node, ast.List | ast.Tuple):
            for elt in node.elts:
                if isinstance(elt, ast.Constant) and elt.value is None:
                    raise self.fail("a list or tuple in {expr} holds None")
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    def name(self, node: ast.Name) -> None:
        if node.id.startswith("__") and node.id.endswith("__"):
            raise self.fail(f"name {node.id!r} in {{expr}} is not allowed")
        if node.id in MODULE_NAMES:
            raise self.fail(f"{node.id!r} in {{expr}} is used on its own; use {node.id}.<function>")
        self.names.add(node.id)

    def constant(self, node: ast.Constant) -> None:
        value = node.value
        if type(value) not in _CONSTANT_TYPES:
            raise self.fail(f"constant {value!r} in {{expr}} is not allowed")
        if type(value) is int and value.bit_length() > MAX_INT_BITS:
            raise self.fail(
                f"integer constant in {{expr}} has more than {MAX_INT_BITS} bits; write a float"
            )
        if isinstance(value, str | bytes) and len(value) > MAX_STRING:
            raise self.fail(f"a string in {{expr}} is longer than {MAX_STRING} characters")

    def library_entry(self, node: ast.Attribute) -> Entry:
        """The entry of ``np.x``/``ak.x`` (``node.value`` is the module's name)."""
        module = node.value.id  # type: ignore[attr-defined]
        entry = LIBRARY[module].get(node.attr)
        if entry is None:
            lib = "numpy" if module == "np" else "awkward"
            close = difflib.get_close_matches(node.attr, LIBRARY[module], n=3)
            hint = f" (did you mean {', '.join(module + '.' + c for c in close)}?)" if close else ""
            raise self.fail(
                f"{module + '.' + node.attr!r} in {{expr}} is not an allowed {lib} name{hint}; "
                f"see tierflow.types.allowed_names for the allowed ones"
            )
        self.uses_library = True
        return entry

    def attribute(self, node: ast.Attribute, called: bool) -> Entry | None:
        """Check ``x.attr``: the entry of ``np.x``/``ak.x``, ``None`` for an array's attribute."""
        innermost = node
        while isinstance(innermost.value, ast.Attribute):
            innermost = innermost.value
        for link in _links(node):
            if link.attr.startswith("_"):
                raise self.fail(f"private attribute {link.attr!r} in {{expr}} is not allowed")
        if isinstance(innermost.value, ast.Name) and innermost.value.id in MODULE_NAMES:
            entry = self.library_entry(innermost)
            if innermost is not node:
                raise self.fail(
                    f"{ast.unparse(node)!r} in {{expr}} is not allowed: only "
                    f"{innermost.value.id}.<name>, nothing of it"
                )
            return entry
        self.uses_library = True
        self.visit(node.value)  # the receiver first: the innermost offence is named
        if called and node.attr not in ARRAY_METHODS:
            raise self.fail(
                f"method {node.attr!r} in {{expr}} is not allowed; array methods allowed: "
                f"{', '.join(sorted(ARRAY_METHODS))}"
            )
        if not called and node.attr not in ARRAY_ATTRIBUTES:
            raise self.fail(
                f"attribute {node.attr!r} in {{expr}} is not allowed; array attributes allowed: "
                f"{', '.join(sorted(ARRAY_ATTRIBUTES))}"
            )
        return None

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id not in NUMEXPR_FUNCTIONS:
                raise self.fail(
                    f"unknown function(s) [{func.id!r}] in {{expr}}; use np.<function>, "
                    f"ak.<function> or one of {sorted(NUMEXPR_FUNCTIONS)}"
                )
            self.functions.add(func.id)
            positional = None
        elif isinstance(func, ast.Attribute):
            entry = self.attribute(func, called=True)
            if entry is not None and entry.positional is None:
                raise self.fail(f"{ast.unparse(func)!r} in {{expr}} is a constant, not a function")
            positional = ARRAY_METHODS[func.attr] if entry is None else entry.positional
        else:
            raise self.fail(
                f"{ast.unparse(func)!r} in {{expr}} cannot be called; call np.<function>, "
                "ak.<function> or an array method"
            )
        if positional is not None and len(node.args) > positional:
            raise self.fail(
                f"{ast.unparse(func)} takes at most {positional} positional argument(s) in "
                "{expr}; name the others"
            )
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in KEYWORDS:
                raise self.fail(
                    f"keyword {kw.arg or '**'!r} in {{expr}} is not allowed; allowed keywords: "
                    f"{', '.join(sorted(KEYWORDS))}"
                )
        for arg in [*node.args, *(kw.value for kw in node.keywords)]:
            self.visit(arg)

    def subscript(self, node: ast.Subscript) -> None:
        index = node.slice
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        if any(isinstance(p, ast.Constant) and p.value is None for p in parts):
            raise self.fail("None (a new axis) in a subscript of {expr} is not allowed")


def _links(node: ast.Attribute) -> list[ast.Attribute]:
    """The attribute nodes of a chain ``x.a.b.c``, outermost first."""
    links = [node]
    while isinstance(links[-1].value, ast.Attribute):
        links.append(links[-1].value)
    return links


#: node kinds whose constant value :func:`_fold_constants` computes
_FOLDABLE = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript)


def _fold_constants(tree: ast.AST, text: str) -> None:
    """Evaluate (bounded) every largest part of the tree that reads no name, so that numexpr,
    which folds constants with Python, never meets an unbounded one. Exponents that read no
    name and are above :data:`MAX_EXPONENT` are refused."""
    constant: dict[int, bool] = {}

    def mark(node: ast.AST) -> bool:
        children = [mark(child) for child in ast.iter_child_nodes(node)]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and children[-1]:
            exponent = _Interpreter(text, {}).value(node.right)
            if isinstance(exponent, int | float) and abs(exponent) > MAX_EXPONENT:
                raise ExpressionError(
                    f"the exponent {exponent} in {show(text)} is larger than {MAX_EXPONENT}"
                )
        constant[id(node)] = not isinstance(node, ast.Name | ast.Attribute | ast.Call) and all(
            children
        )
        return constant[id(node)]

    def fold(node: ast.AST) -> None:
        if constant[id(node)] and isinstance(node, _FOLDABLE):
            _Interpreter(text, {}).value(node)
            return
        for child in ast.iter_child_nodes(node):
            fold(child)

    mark(tree)
    fold(tree)


# --- evaluation --------------------------------------------------------------------------------
def run(checked: Checked, namespace: Mapping[str, Any]) -> Any:
    """Evaluate a checked expression with ``namespace`` (every name it reads; see
    :func:`check_value` for what values may be)."""
    return _Interpreter(checked.text, namespace).value(checked.tree.body)


def check_value(name: str, value: Any, text: str) -> Any:
    """``value`` as an expression may hold it: lists and tuples become numpy arrays; numbers,
    strings, numpy and awkward arrays are kept; object arrays, integers over
    :data:`MAX_INT_BITS` bits and other objects are an :class:`ExpressionError`."""
    if isinstance(value, list | tuple):
        value = _array(value, f"{name!r}", text)
    if isinstance(value, np.ndarray | np.generic):
        if value.dtype.kind == "O":
            raise ExpressionError(f"{name!r} in {show(text)} is an array of Python objects")
        return value
    if isinstance(value, ak.Array | str | bytes | float | complex | bool | type(None)):
        return value
    if isinstance(value, int):
        return _bounded(value, text)
    raise ExpressionError(
        f"{name!r} in {show(text)} is a {type(value).__name__}; give numbers, strings or arrays"
    )


def check_binop(op: type, a: Any, b: Any, text: str) -> None:
    """Raise :class:`ExpressionError` if ``a <op> b`` (an ``ast`` operator class) would be
    unbounded: an integer power or shift past :data:`MAX_INT_BITS` bits, a sequence repeated
    past :data:`MAX_STRING`, string formatting, numpy object arrays, an outer product.

    >>> check_binop(ast.Pow, 9, 9**9, "9**9**9")
    Traceback (most recent call last):
    ...
    tierflow.errors.ExpressionError: 9**387420489 in '9**9**9' has more than 64 bits
    """
    for v in (a, b):
        if isinstance(v, np.ndarray) and v.dtype.kind == "O":
            raise ExpressionError(f"{show(text)} computes with an array of Python objects")
    ints = type(a) in (int, bool) and type(b) in (int, bool)
    if op is ast.Pow and ints and b > 0 and abs(a) > 1 and b * math.log2(abs(a)) > MAX_INT_BITS:
        raise ExpressionError(f"{a}**{b} in {show(text)} has more than {MAX_INT_BITS} bits")
    if op is ast.LShift and ints and b > MAX_INT_BITS:
        raise ExpressionError(f"{a} << {b} in {show(text)} has more than {MAX_INT_BITS} bits")
    if op is ast.Mult:
        for seq, n in ((a, b), (b, a)):
            if (
                isinstance(seq, str | bytes)
                and isinstance(n, int | np.integer)
                and len(seq) * int(n) > MAX_STRING
            ):
                raise ExpressionError(f"{show(text)} makes a string longer than {MAX_STRING}")
    if op is ast.Mod and isinstance(a, str | bytes):
        raise ExpressionError(f"string formatting in {show(text)} is not allowed")
    check_broadcast((a, b), text)


def check_broadcast(values: Any, text: str) -> None:
    """Raise :class:`ExpressionError` if the numpy arrays among ``values`` broadcast to more
    elements than the largest of them has: an outer product, which per-row expressions never
    need (``w[:, :1] * a`` is n x n for n rows).

    >>> check_broadcast([np.zeros((3, 1)), np.zeros(3)], "w[:, :1] * a")
    Traceback (most recent call last):
    ...
    tierflow.errors.ExpressionError: 'w[:, :1] * a' broadcasts arrays of shapes (3, 1), (3,) to (3, 3)...
    """
    arrays = [v for v in values if isinstance(v, np.ndarray) and v.ndim > 0]
    if len(arrays) < 2:
        return
    try:
        shape = np.broadcast_shapes(*(v.shape for v in arrays))
    except ValueError:
        return  # not broadcastable: numpy says so when it runs
    if math.prod(shape) > max(v.size for v in arrays):
        shapes = ", ".join(str(v.shape) for v in arrays)
        raise ExpressionError(
            f"{show(text)} broadcasts arrays of shapes {shapes} to {shape} (an outer product)"
        )


def _bounded(value: Any, text: str) -> Any:
    """``value``, if it is not an integer or a string past the bounds."""
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        raise ExpressionError(f"an integer in {show(text)} has more than {MAX_INT_BITS} bits")
    if isinstance(value, str | bytes) and len(value) > MAX_STRING:
        raise ExpressionError(f"a string in {show(text)} is longer than {MAX_STRING}")
    return value


def _array(values: list | tuple, what: str, text: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except Exception as err:
        raise ExpressionError(f"{what} in {show(text)} is not an array: {err}") from None
    if array.dtype.kind == "O":
        raise ExpressionError(f"{what} in {show(text)} is not an array of numbers or strings")
    return array


def _refused_dtype(value: Any) -> bool:
    """Whether a call argument names numpy's object dtype (``dtype='O'``) or one whose items
    are larger than :data:`MAX_STRING` characters (``'U100000'``)."""
    if not isinstance(value, str | type | np.dtype):
        return False
    try:
        dtype = np.dtype(value)
    except Exception:
        return False
    return dtype.kind == "O" or dtype.itemsize > 4 * MAX_STRING


class _Interpreter:
    """Evaluates a checked tree: only what :class:`_Checker` let through can happen here, and
    each operation is bounded again at run time (values from parameters are only known now)."""

    def __init__(self, text: str, namespace: Mapping[str, Any]):
        self.text = text
        self.namespace = namespace

    def fail(self, err: Exception) -> ExpressionError:
        return ExpressionError(f"evaluating {show(self.text)} failed: {type(err).__name__}: {err}")

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            try:
                return self.namespace[node.id]
            except KeyError:
                raise ExpressionError(f"unknown name {node.id!r} in {show(self.text)}") from None
        try:
            if isinstance(node, ast.BinOp):
                return self.binop(node)
            if isinstance(node, ast.UnaryOp):
                a = self.operand(self.value(node.operand))
                return _bounded(_UNARY[type(node.op)](a), self.text)
            if isinstance(node, ast.Compare):
                return self.compare(node)
            if isinstance(node, ast.BoolOp):
                return self.boolop(node)
            if isinstance(node, ast.IfExp):
                return self.value(node.body if self.value(node.test) else node.orelse)
            if isinstance(node, ast.Call):
                return self.call(node)
            if isinstance(node, ast.Attribute):
                return self.attribute(node)
            if isinstance(node, ast.Subscript):
                index = self.index(node.slice)
                check_broadcast(index if isinstance(index, tuple) else (), self.text)
                return self.value(node.value)[index]
            if isinstance(node, ast.List):
                return [self.value(e) for e in node.elts]
            if isinstance(node, ast.Tuple):
                return tuple(self.value(e) for e in node.elts)
        except ExpressionError:
            raise
        except Exception as err:
            raise self.fail(err) from err
        raise ExpressionError(f"{type(node).__name__} syntax is not allowed in {show(self.text)}")

    def operand(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return _array(value, "a list", self.text)
        return value

    def binop(self, node: ast.BinOp) -> Any:
        a, b = self.value(node.left), self.value(node.right)
        op = type(node.op)
        a, b = self.operand(a), self.operand(b)
        check_binop(op, a, b, self.text)
        return _bounded(_OPERATORS[op](a, b), self.text)

    def compare(self, node: ast.Compare) -> Any:
        left = self.operand(self.value(node.left))
        result: Any = True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.operand(self.value(right_node))
            check_broadcast((left, right), self.text)
            result = _COMPARE[type(op)](left, right)
            if len(node.ops) > 1 and not result:  # Python's a < b < c
                return result
            left = right
        return result

    def boolop(self, node: ast.BoolOp) -> Any:
        result: Any = None
        for part in node.values:
            result = self.value(part)
            if (not result) if isinstance(node.op, ast.And) else bool(result):
                return result
        return result

    def index(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Slice):
            return slice(
                *(None if p is None else self.value(p) for p in (node.lower, node.upper, node.step))
            )
        if isinstance(node, ast.Tuple):
            return tuple(self.index(e) for e in node.elts)
        return self.operand(self.value(node))

    def attribute(self, node: ast.Attribute) -> Any:
        if isinstance(node.value, ast.Name) and node.value.id in MODULE_NAMES:
            return LIBRARY[node.value.id][node.attr].value
        receiver = self.value(node.value)
        if not isinstance(receiver, np.ndarray | np.generic):
            raise ExpressionError(
                f".{node.attr} in {show(self.text)} applies to numpy arrays, not to a "
                f"{type(receiver).__name__}"
            )
        return getattr(receiver, node.attr)

    def call(self, node: ast.Call) -> Any:
        func = node.func
        if isinstance(func, ast.Name):
            raise ExpressionError(
                f"function(s) [{func.id!r}] in {show(self.text)} work only on flat numeric "
                "columns; use np.<function> or ak.<function>"
            )
        assert isinstance(func, ast.Attribute)  # the checker lets through no other callee
        receiver = None
        if isinstance(func.value, ast.Name) and func.value.id in MODULE_NAMES:
            function = LIBRARY[func.value.id][func.attr].value
        else:
            receiver = self.value(func.value)
            if not isinstance(receiver, np.ndarray | np.generic):
                raise ExpressionError(
                    f".{func.attr}() in {show(self.text)} applies to numpy arrays, not to a "
                    f"{type(receiver).__name__}"
                )
            function = getattr(receiver, func.attr)
        args = [self.argument(a) for a in node.args]
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            assert kw.arg is not None  # the checker refuses **mapping
            kwargs[kw.arg] = self.argument(kw.value)
        check_broadcast([receiver, *args, *kwargs.values()], self.text)
        result = function(*args, **kwargs)
        if isinstance(result, np.ndarray) and result.dtype.kind == "O":
            raise ExpressionError(f"{show(self.text)} made an array of Python objects")
        return _bounded(result, self.text)

    def argument(self, node: ast.AST) -> Any:
        value = self.value(node)
        if isinstance(value, list | tuple):
            _array(value, "a list argument", self.text)  # checked, passed as written
        elif isinstance(value, np.ndarray) and value.dtype.kind == "O":
            raise ExpressionError(f"{show(self.text)} passes an array of Python objects")
        elif _refused_dtype(value):
            raise ExpressionError(f"the dtype {value!r} in {show(self.text)} is not allowed")
        return value

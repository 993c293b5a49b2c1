"""The grammar of the LH5 ``datatype`` attribute.

>>> parse("table{t0,dt,values}")
Datatype(kind='table', element=None, ndim=None, fields=('t0', 'dt', 'values'), inner=None)
>>> parse("array<1>{array<1>{real}}").kind, parse("array<1>{array<1>{real}}").inner.kind
('vector_of_vectors', 'array')
>>> parse("array<1>{enum{a=1,b=2}}").element
'enum{a=1,b=2}'

Strings that do not follow the grammar, or nest vectors more than
:data:`~tierflow.lh5.guards.MAX_NESTING` levels deep, raise
:class:`~tierflow.errors.LH5DecodeError` (a ``ValueError``):

>>> parse("array<1>{" * 40 + "real" + "}" * 40)
Traceback (most recent call last):
...
tierflow.errors.LH5DecodeError: datatype nests more than 32 levels deep
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..errors import LH5DecodeError
from .guards import MAX_NESTING

ELEMENTS = ("real", "bool", "complex", "string", "blob", "symbol", "detectorid")
_HEAD = re.compile(r"^([a-z_]+)(?:<([0-9, ]+)>)?\{(.*)\}$", re.DOTALL)


@dataclass(frozen=True)
class Datatype:
    """A parsed ``datatype``.

    ``kind`` is one of ``scalar``, ``array``, ``fixedsize_array``,
    ``array_of_equalsized_arrays``, ``vector_of_vectors``, ``encoded_vector_of_vectors``,
    ``encoded_array_of_equalsized_arrays``, ``struct`` or ``table``.
    """

    kind: str
    element: str | None = None
    ndim: tuple[int, ...] | None = None
    fields: tuple[str, ...] | None = None
    inner: Datatype | None = None


def split_fields(body: str) -> tuple[str, ...]:
    """Split ``a,b{c,d},e`` at top-level commas.

    >>> split_fields("a, b{c,d},e")
    ('a', 'b{c,d}', 'e')
    """
    fields: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in body:
        if ch in "{<":
            depth += 1
        elif ch in "}>":
            depth -= 1
        if ch == "," and depth == 0:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    last = "".join(current).strip()
    if last:
        fields.append(last)
    return tuple(fields)


def _is_element(text: str) -> bool:
    return text in ELEMENTS or (text.startswith("enum{") and text.endswith("}"))


@lru_cache(maxsize=1024)
def parse(datatype: str) -> Datatype:
    """Parse a datatype string; :class:`~tierflow.errors.LH5DecodeError` (a ``ValueError``)
    if it does not follow the grammar."""
    return _parse(datatype, 0)


def _parse(datatype: str, depth: int) -> Datatype:
    if depth >= MAX_NESTING:
        raise LH5DecodeError(f"datatype nests more than {MAX_NESTING} levels deep")
    text = datatype.strip()
    if _is_element(text):
        return Datatype("scalar", element=text)
    match = _HEAD.match(text)
    if not match:
        raise LH5DecodeError(f"unknown datatype {datatype!r:.200}")
    head, dims, body = match.group(1), match.group(2), match.group(3).strip()
    try:
        ndim = tuple(int(d) for d in dims.split(",")) if dims else None
    except ValueError:
        raise LH5DecodeError(f"bad dimensions <{dims:.50}> in datatype {datatype!r:.200}") from None
    if head in ("struct", "table") and ndim is None:
        return Datatype(head, fields=split_fields(body))
    if head == "enum":
        return Datatype("scalar", element=text)
    if head == "array" and ndim and len(ndim) == 1:
        if _is_element(body):
            return Datatype("array", element=body, ndim=ndim)
        if ndim == (1,):
            inner = _parse(body, depth + 1)
            if inner.kind == "encoded_array":
                return Datatype("encoded_vector_of_vectors", element=inner.element, inner=inner)
            if inner.kind in ("array", "vector_of_vectors") and inner.ndim in ((1,), None):
                return Datatype("vector_of_vectors", element=inner.element, inner=inner)
    if head == "encoded_array" and ndim == (1,) and _is_element(body):
        return Datatype("encoded_array", element=body, ndim=ndim)
    if head == "fixedsize_array" and ndim and _is_element(body):
        return Datatype("fixedsize_array", element=body, ndim=ndim)
    if head == "array_of_equalsized_arrays" and ndim and _is_element(body):
        return Datatype("array_of_equalsized_arrays", element=body, ndim=ndim)
    if head == "array_of_encoded_equalsized_arrays" and ndim and _is_element(body):
        return Datatype("encoded_array_of_equalsized_arrays", element=body, ndim=ndim)
    raise LH5DecodeError(f"unknown datatype {datatype!r:.200}")


def enum_values(element: str) -> dict[int, str]:
    """The value -> name map of an ``enum{a=1,b=2}`` element.

    >>> enum_values("enum{off=0,on=1}")
    {0: 'off', 1: 'on'}
    """
    out = {}
    for item in split_fields(element[len("enum{") : -1]):
        name, _, value = item.partition("=")
        out[int(value)] = name.strip()
    return out

"""Ordering processors by their dependencies.

Every processor needs the names its arguments mention; a name made by another processor is a
dependency, any other name is a leaf (an input column, or a unit such as ``us``). Processors
are ordered depth first from the outputs, so only what the outputs need is run; a cycle is an
error naming the processors in it.

>>> from tierflow.dsp.config import load_config
>>> cfg = load_config({"outputs": ["c"], "processors": {"c": "b * 2", "b": "a + 1", "z": "a"}})
>>> order(cfg.processors, cfg.producers, cfg.outputs)
(['b', 'c'], ['a'])
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Mapping, Sequence

from ..errors import DSPConfigError, DSPCycleError
from .config import BUILTIN_FUNCTIONS, ProcessorSpec, parse_source

__all__ = ["order", "referenced_names", "requirements"]

_MODULES = frozenset({"np", "numpy"})


def referenced_names(arg: object) -> tuple[str, ...]:
    """The names an argument mentions, in order: columns, variables (and units).

    >>> referenced_names("round(tp_0_est + 10*us, wf_pz.grid)")
    ('tp_0_est', 'us', 'wf_pz')
    >>> referenced_names("axis=1"), referenced_names(3.5), referenced_names("np.pi * x")
    ((), (), ('x',))
    """
    if not isinstance(arg, str):
        return ()
    return _names_in(arg)


@functools.lru_cache(maxsize=8192)
def _names_in(arg: str) -> tuple[str, ...]:
    tree = parse_source(arg)
    names: dict[str, None] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)
            and node.id not in BUILTIN_FUNCTIONS
            and node.id not in _MODULES
        ):
            names[node.id] = None
    return tuple(sorted(names, key=lambda n: arg.find(n)))


def requirements(spec: ProcessorSpec) -> tuple[str, ...]:
    """The names ``spec`` needs (its ``prereqs`` if given), without the ones it makes."""
    if spec.prereqs is not None:
        return tuple(n for n in spec.prereqs if n not in spec.outputs)
    texts: list[object] = list(spec.args) + list(spec.init_args or ())
    if spec.expression is not None:
        texts.append(spec.expression)
    if spec.coord_grid is not None:
        texts.append(spec.coord_grid)
    names: dict[str, None] = {}
    for i, text in enumerate(texts):
        try:
            found = referenced_names(text)
        except SyntaxError as err:
            key = f"args[{i}]" if i < len(spec.args) else "function"
            raise DSPConfigError(
                f"cannot parse {text!r}: {err.msg}", processor=spec.label, key=key
            ) from None
        for name in found:
            if name not in spec.outputs:
                names[name] = None
    return tuple(names)


def order(
    specs: Mapping[str, ProcessorSpec],
    producers: Mapping[str, str],
    outputs: Sequence[str],
    needs: Mapping[str, Iterable[str]] | None = None,
) -> tuple[list[str], list[str]]:
    """The keys of the processors ``outputs`` need, each after what it needs, and the leaf
    names (not made by any processor) in the order first met.

    ``needs`` (key -> names) overrides :func:`requirements`.

    >>> from tierflow.dsp.config import load_config
    >>> cfg = load_config({"outputs": ["a"], "processors": {"a": "b + 1", "b": "a * 2"}})
    >>> order(cfg.processors, cfg.producers, cfg.outputs)
    Traceback (most recent call last):
    ...
    tierflow.errors.DSPCycleError: processor 'a' (processors.a.function): circular dependency: a -> b -> a
    """
    done: dict[str, None] = {}
    leaves: dict[str, None] = {}
    needed = {} if needs is None else dict(needs)

    def requires(key: str) -> Iterable[str]:
        if key not in needed:
            needed[key] = requirements(specs[key])
        return needed[key]

    def visit(key: str, stack: list[str]) -> None:
        if key in done:
            return
        if key in stack:
            cycle = [*stack[stack.index(key) :], key]
            names = " -> ".join(specs[k].label for k in cycle)
            spec = specs[key]
            raise DSPCycleError(
                f"circular dependency: {names}",
                processor=spec.label,
                key="args" if spec.expression is None else "function",
            )
        stack.append(key)
        for name in requires(key):
            producer = producers.get(name)
            if producer is None:
                leaves[name] = None
            elif producer != key:
                visit(producer, stack)
        stack.pop()
        done[key] = None

    for name in outputs:
        producer = producers.get(name)
        if producer is None:
            leaves[name] = None
        else:
            visit(producer, [])
    return list(done), list(leaves)

"""Reading configs safely: JSON/YAML files and text to plain data, bounded in every way.

The dsp, hit and pipeline configs (and the dsp database and hit parameters) are read
through :func:`load_plain`, which refuses, with the caller's own error class, before anything
else happens:

- a path that is missing, a directory, a FIFO or a device, or a file over
  :data:`MAX_FILE_BYTES`, or whose bytes are not UTF-8;
- text that is neither JSON nor YAML, or whose top level is not a mapping;
- data nested deeper than :data:`MAX_DEPTH`, or with more than :data:`MAX_NODES` values
  counted as a reader would see them (YAML aliases count once per use: a "billion laughs"
  file of a few lines stops here instead of filling the memory);
- strings that are not valid text (lone surrogates such as ``"\\ud800"``), integers beyond
  64 bits, and mapping keys that are not plain scalars.

Errors name the file (when there is one), the key path (``processors.wf_pz.args[1]``) and
what was expected.

>>> from tierflow.errors import HitConfigError
>>> def error(message, key=None, file=None):
...     return HitConfigError(message, key=key, file=file)
>>> load_plain('{"outputs": ["a"]}', "hit config", error)
({'outputs': ['a']}, None)
>>> load_plain('{"outputs": ["\\\\ud800"]}', "hit config", error)
Traceback (most recent call last):
...
tierflow.errors.HitConfigError: outputs[0]: expected text, not a string with the lone surrogate '\\ud800'
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Mapping
from typing import Any

import yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_INT",
    "MAX_NODES",
    "ErrorFactory",
    "check_plain",
    "is_file_source",
    "key_path",
    "load_plain",
    "parse_config_text",
    "read_config_file",
]

#: the largest config file read (LEGEND's largest parameter files are a few MB)
MAX_FILE_BYTES = 64 * 2**20
#: the deepest nesting of lists and mappings accepted (real configs nest fewer than 10 deep)
MAX_DEPTH = 64
#: the most values (mappings, lists, keys and scalars, aliases counted per use) accepted
MAX_NODES = 2_000_000
#: integers must be smaller in magnitude than this (uint64's range; wider ones fit no column)
MAX_INT = 2**64

#: makes the caller's exception: ``error(message, key=..., file=...)``
ErrorFactory = Callable[..., Exception]


def is_file_source(source: Any) -> bool:
    """Whether ``source`` names a file rather than holding JSON/YAML text: a path object, or
    a one-line string that does not start like JSON or YAML content.

    >>> is_file_source("cfg/dsp.json"), is_file_source('{"a": 1}'), is_file_source("a: 1\\n")
    (True, False, False)
    """
    if isinstance(source, os.PathLike):
        return True
    if not isinstance(source, str):
        return False
    text = source.strip()
    return bool(text) and "\n" not in source and not text.startswith(("{", "["))


def read_config_file(path: str | os.PathLike, what: str, error: ErrorFactory) -> str:
    """The text of the config file ``path``; a missing, special or oversized file, or bytes
    that are not UTF-8, raise ``error`` naming it. A FIFO or a device is refused without
    being opened (opening a FIFO blocks until someone writes to it)."""
    name = os.fspath(path)
    try:
        info = os.stat(name)
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise error(f"cannot read {what} file: {reason}", file=name) from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"the {what} file is a directory, not a JSON or YAML file", file=name)
    if not stat.S_ISREG(info.st_mode):
        raise error(
            f"the {what} file is not a regular file (a FIFO, socket or device); "
            "give a JSON or YAML file",
            file=name,
        )
    if info.st_size > MAX_FILE_BYTES:
        raise error(
            f"the {what} file holds {info.st_size:,} bytes; a config holds at most "
            f"{MAX_FILE_BYTES:,} bytes",
            file=name,
        )
    try:
        with open(name, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise error(f"cannot read {what} file: {err.strerror or err}", file=name) from None
    if len(data) > MAX_FILE_BYTES:
        raise error(
            f"the {what} file holds more than {MAX_FILE_BYTES:,} bytes; a config holds at most "
            f"{MAX_FILE_BYTES:,} bytes",
            file=name,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(
            f"the {what} file is not UTF-8 text (byte {err.start}: {data[err.start : err.start + 1]!r})",
            file=name,
        ) from None


def parse_config_text(text: str, what: str, error: ErrorFactory, file: str | None = None) -> Any:
    """JSON, else YAML ``text`` as plain data (checked by :func:`check_plain`); its top
    level must be a mapping."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise error(
            f"the {what} is nested too deeply (more than {MAX_DEPTH} levels)", file=file
        ) from None
    except ValueError:
        try:
            value = yaml.safe_load(text)
        except RecursionError:
            raise error(
                f"the {what} is nested too deeply (more than {MAX_DEPTH} levels)", file=file
            ) from None
        except yaml.YAMLError as err:
            raise error(
                f"the {what} is neither JSON nor YAML: {_yaml_problem(err)}", file=file
            ) from None
        except (ValueError, TypeError, OverflowError) as err:  # e.g. a !!timestamp 2023-13-45
            raise error(
                f"the {what} has a YAML value that cannot be read: {err}", file=file
            ) from None
    if not isinstance(value, Mapping):
        raise error(f"the {what} holds {_kind(value)}, not a mapping of keys to values", file=file)
    check_plain(value, what, error, file)
    return value


def load_plain(source: Any, what: str, error: ErrorFactory) -> tuple[Any, str | None]:
    """A mapping from ``source`` (a mapping, a JSON/YAML file or JSON/YAML text), checked by
    :func:`check_plain`, and the file's path (``None`` when not from a file)."""
    if isinstance(source, Mapping):
        check_plain(source, what, error)
        return source, None
    if is_file_source(source):
        name = os.fspath(source)
        return parse_config_text(read_config_file(name, what, error), what, error, name), name
    if isinstance(source, str):
        return parse_config_text(source, what, error), None
    raise error(f"a {what} is a mapping, a JSON/YAML file or JSON/YAML text, not {_kind(source)}")


def check_plain(value: Any, what: str, error: ErrorFactory, file: str | None = None) -> None:
    """Raise ``error`` at the first part of ``value`` that no config can hold: nesting deeper
    than :data:`MAX_DEPTH`, more than :data:`MAX_NODES` values, a string that is not valid
    text, an integer beyond 64 bits or a mapping key that is not a plain scalar. Other types
    are left to the caller's own checks.

    >>> from tierflow.errors import DSPConfigError
    >>> check_plain({"a": [[[1]]]}, "config", lambda m, key=None, file=None: DSPConfigError(m, key=key))
    >>> check_plain({"a": [2**70]}, "config", lambda m, key=None, file=None: DSPConfigError(m, key=key))
    Traceback (most recent call last):
    ...
    tierflow.errors.DSPConfigError: a[0]: expected a number of at most 64 bits, not 1180591620717411303424
    """
    nodes = 0
    todo: list[tuple[Any, tuple, int]] = [(value, (), 0)]
    while todo:
        node, path, depth = todo.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise error(
                f"the {what} holds more than {MAX_NODES:,} values (YAML aliases count once per "
                "use); is it a config?",
                key=key_path(path) or None,
                file=file,
            )
        if isinstance(node, str):
            _check_text(node, path, error, file)
        elif isinstance(node, int) and not isinstance(node, bool):
            if abs(node) >= MAX_INT:
                shown = (
                    str(node) if node.bit_length() < 200 else f"a {node.bit_length()}-bit number"
                )
                raise error(
                    f"expected a number of at most 64 bits, not {shown}",
                    key=key_path(path) or None,
                    file=file,
                )
        elif isinstance(node, Mapping | list | tuple):
            if depth >= MAX_DEPTH:
                raise error(
                    f"the {what} is nested more than {MAX_DEPTH} levels deep",
                    key=key_path(path) or None,
                    file=file,
                )
            if isinstance(node, Mapping):
                for key, item in node.items():
                    if isinstance(key, str):
                        _check_text(key, (*path, key), error, file, is_key=True)
                    elif not isinstance(key, int | float | bool | type(None)):
                        raise error(
                            f"expected a string key, not {_kind(key)}",
                            key=key_path(path) or None,
                            file=file,
                        )
                    todo.append((item, (*path, key), depth + 1))
            else:
                todo.extend((item, (*path, i), depth + 1) for i, item in enumerate(node))


def _check_text(
    text: str, path: tuple, error: ErrorFactory, file: str | None, is_key: bool = False
) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        bad = text[err.start]
        raise error(
            f"expected text, not a {'key' if is_key else 'string'} with the lone surrogate {bad!r}",
            key=key_path(path) or None,
            file=file,
        ) from None


def key_path(path: tuple) -> str:
    """The key path of ``path`` as errors print it (long or unprintable keys shortened).

    >>> key_path(("processors", "wf_pz", "args", 1)), key_path(("outputs",) + (0,) * 20)
    ('processors.wf_pz.args[1]', 'outputs[0][0][0][0][0]...')
    """
    if len(path) > 8:  # a deep nest: where it starts is enough
        return key_path(path[:6]) + "..."
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
            continue
        text = str(part)
        if not text:
            text = "''"
        elif not text.isprintable():
            text = ascii(text)[1:-1]
        if len(text) > 40:
            text = text[:37] + "..."
        out += ("." if out else "") + text
    return out


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def _yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML parser's complaint on one line, with where it is and without the quoted source.

    >>> try:
    ...     yaml.safe_load("a: [1, 2\\nb: 3")
    ... except yaml.YAMLError as err:
    ...     print(_yaml_problem(err))
    while parsing a flow sequence (line 1, column 4): expected ',' or ']', but got ':' (line 2, column 2)
    """
    if not isinstance(err, yaml.MarkedYAMLError):
        return _one_line(err)

    def at(text: str | None, mark: Any) -> str:
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return f"{text}{where}" if text else ""

    parts = [at(err.context, err.context_mark), at(err.problem, err.problem_mark)]
    return ": ".join(p for p in parts if p) or _one_line(err)

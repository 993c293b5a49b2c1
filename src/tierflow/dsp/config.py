"""DSP configs in the field's format: loading, checking and normalising them.

A config has ``outputs`` (the columns to write) and ``processors``, a mapping from the names a
processor computes (``"bl_mean, bl_std"``) to either

- a dict: ``function`` (a processor name, ``module.function`` or a call), ``module``, ``args``,
  ``init_args`` (set-up constants of a factory), ``unit`` (one, or one per output),
  ``defaults`` (values of ``db.*`` parameters missing from the database), ``prereqs``,
  ``description``, ``lh5_attrs``, ``signature``/``types`` (for plain numpy functions, also
  accepted under ``kwargs``) and ``coord_grid``;
- a one-line call: ``"bl_subtract(waveform, baseline, wf_blsub)"``;
- a plain expression: ``"trapQftp * 16"``.

:func:`load_config` turns any of dict, JSON/YAML file or JSON/YAML text into a
:class:`ChainConfig` of :class:`ProcessorSpec` s, checking every key; ``db.x.y`` parameters are
resolved later, per channel, by :meth:`ProcessorSpec.database_values`.

>>> cfg = load_config({
...     "outputs": ["QDrift"],
...     "processors": {
...         "wf_blsub": "bl_subtract(waveform, baseline, wf_blsub)",
...         "QDrift": "trapQftp * 16",
...     },
... })
>>> cfg.processors["wf_blsub"].function, cfg.processors["wf_blsub"].args
('bl_subtract', ('waveform', 'baseline', 'wf_blsub'))
>>> cfg.processors["QDrift"].expression
'trapQftp * 16'
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..configfile import check_plain, key_path, parse_config_text, read_config_file
from ..errors import DSPConfigError
from .config_values import (
    as_list,
    check_argument,
    check_database_value,
    check_module,
    check_signature,
    check_types,
    is_column_name,
    optional_text,
    parse_units,
    text_list,
)

__all__ = [
    "BUILTIN_FUNCTIONS",
    "DB_PATTERN",
    "MISSING",
    "ChainConfig",
    "ProcessorSpec",
    "load_config",
    "load_mapping",
]

#: a ``db.a.b`` parameter inside an argument
DB_PATTERN = re.compile(r"(?<![\w.])db(?:\.\w+)+")
#: functions of the expression language (not processors)
BUILTIN_FUNCTIONS = frozenset(
    {"len", "round", "floor", "ceil", "trunc", "astype", "where", "isnan", "isfinite"}
)
#: keys a processor entry may have
PROCESSOR_KEYS = frozenset(
    {
        "function",
        "module",
        "args",
        "kwargs",
        "init_args",
        "unit",
        "defaults",
        "prereqs",
        "description",
        "lh5_attrs",
        "signature",
        "types",
        "coord_grid",
    }
)
#: keys allowed under a processor's ``kwargs``
KWARGS_KEYS = frozenset({"signature", "types", "coord_grid"})
#: top-level keys of a config
CONFIG_KEYS = frozenset({"outputs", "processors", "description"})
#: modules whose processors are looked up in tierflow's own library by name
PROCESSOR_LIBRARIES = ("dspeed.processors", "pygama.dsp.processors", "tierflow.dsp.processors")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: a ``db`` parameter with neither a database entry nor a default
MISSING: Any = _Missing()


@dataclass(frozen=True)
class ProcessorSpec:
    """One processor entry of a config, normalised.

    ``function`` is ``None`` for a plain expression (then ``expression`` holds it).

    >>> spec = ProcessorSpec.parse("wf_pz", {"function": "pole_zero",
    ...     "args": ["wf_blsub", "db.pz.tau", "wf_pz"], "defaults": {"db.pz.tau": "400*us"}})
    >>> spec.db_refs
    ('db.pz.tau',)
    >>> spec.database_values({"pz": {"tau": "500*us"}})
    (('db.pz.tau', '500*us'),)
    >>> spec.database_values(None)
    (('db.pz.tau', '400*us'),)
    """

    key: str
    outputs: tuple[str, ...]
    function: str | None = None
    module: str | None = None
    args: tuple[Any, ...] = ()
    init_args: tuple[Any, ...] | None = None
    expression: str | None = None
    units: tuple[str | None, ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()
    prereqs: tuple[str, ...] | None = None
    description: str | None = None
    lh5_attrs: tuple[tuple[str, Any], ...] = ()
    signature: str | None = None
    types: tuple[str, ...] | None = None
    coord_grid: str | None = None
    db_refs: tuple[str, ...] = field(default=())

    # --- parsing ------------------------------------------------------------------------------
    @classmethod
    def parse(cls, key: str, node: Any) -> ProcessorSpec:
        """Normalise the config entry ``node`` stored under ``key``; every value of a wrong type
        is an error naming the processor and the key."""
        outputs = split_names(key)
        label = outputs[0] if len(outputs) == 1 else key
        if not outputs:
            raise DSPConfigError("a processor entry needs the names it computes as key", key=key)
        for name in outputs:
            if not is_column_name(name):
                raise DSPConfigError(
                    f"{name!r} is not a valid column name (letters, digits and _)",
                    key=f"processors.{key_path((key,))}",
                )
        if isinstance(node, str):
            node = {"function": node}
        if not isinstance(node, Mapping):
            raise DSPConfigError(
                f"expected a dict or a string, not {type(node).__name__}", processor=label
            )
        unknown = [k for k in node if k not in PROCESSOR_KEYS]
        if unknown:
            raise DSPConfigError(
                f"unknown key {unknown[0]!r}; a processor entry may have "
                f"{', '.join(sorted(PROCESSOR_KEYS))}",
                processor=label,
                key=key_path((unknown[0],)),
            )
        options = dict(node)
        kwargs = options.pop("kwargs", None) or {}
        if not isinstance(kwargs, Mapping):
            raise DSPConfigError(
                f"expected a dict, not {type(kwargs).__name__}", processor=label, key="kwargs"
            )
        for name, value in kwargs.items():
            if name not in KWARGS_KEYS:
                raise DSPConfigError(
                    f"unknown argument {name!r}; kwargs may hold {', '.join(sorted(KWARGS_KEYS))}",
                    processor=label,
                    key=f"kwargs.{key_path((name,))}",
                )
            options.setdefault(name, value)
        for name in ("module", "description", "signature", "coord_grid"):
            optional_text(options.get(name), label, name)
        check_signature(options.get("signature"), label)
        check_module(options.get("module"), label)
        fields = _parse_function(label, options)
        for i, arg in enumerate(fields["args"]):
            check_argument(arg, label, f"args[{i}]")
        units = parse_units(label, options.get("unit"), len(outputs))
        defaults = options.get("defaults") or {}
        if not isinstance(defaults, Mapping):
            raise DSPConfigError("expected a dict of db.* values", processor=label, key="defaults")
        for name, value in defaults.items():
            if not isinstance(name, str) or not DB_PATTERN.fullmatch(name):
                raise DSPConfigError(
                    f"default {name!r} is not a db.* parameter", processor=label, key="defaults"
                )
            check_database_value(value, f"defaults.{name}", label)
        prereqs = options.get("prereqs")
        if prereqs is not None:
            prereqs = tuple(
                split_names(prereqs)
                if isinstance(prereqs, str)
                else text_list(prereqs, label, "prereqs")
            )
        types = options.get("types")
        if types is not None:
            types = (types,) if isinstance(types, str) else text_list(types, label, "types")
            check_types(types, label)
        init_args = options.get("init_args")
        if init_args is not None:
            init_args = tuple(as_list(init_args, label, "init_args"))
            for i, arg in enumerate(init_args):
                check_argument(arg, label, f"init_args[{i}]")
        texts = [a for a in (*fields["args"], *(init_args or ())) if isinstance(a, str)]
        if fields["expression"] is not None:
            texts.append(fields["expression"])
        refs = tuple(dict.fromkeys(m for t in texts for m in DB_PATTERN.findall(t)))
        lh5_attrs = options.get("lh5_attrs") or {}
        if not isinstance(lh5_attrs, Mapping):
            raise DSPConfigError("expected a dict", processor=label, key="lh5_attrs")
        for name, value in lh5_attrs.items():
            where = f"lh5_attrs.{key_path((name,))}"
            if not isinstance(name, str) or not name:
                raise DSPConfigError(
                    "an attribute name is a non-empty string", processor=label, key=where
                )
            if not isinstance(value, str | int | float | bool):
                raise DSPConfigError(
                    f"an attribute is a string or a number, not {type(value).__name__}",
                    processor=label,
                    key=where,
                )
        return cls(
            key=key,
            outputs=outputs,
            function=fields["function"],
            module=fields["module"],
            args=tuple(fields["args"]),
            init_args=init_args,
            expression=fields["expression"],
            units=units,
            defaults=tuple((str(k), v) for k, v in defaults.items()),
            prereqs=prereqs,
            description=options.get("description"),
            lh5_attrs=tuple(lh5_attrs.items()),
            signature=options.get("signature"),
            types=tuple(types) if types is not None else None,
            coord_grid=options.get("coord_grid"),
            db_refs=refs,
        )

    @property
    def label(self) -> str:
        """How errors name this processor: its output, or its key when it has several."""
        return self.outputs[0] if len(self.outputs) == 1 else self.key

    # --- database parameters ------------------------------------------------------------------
    def database_values(self, db: Mapping | None) -> tuple[tuple[str, Any], ...]:
        """The value of every ``db.*`` parameter: from ``db`` (the channel's entry), else from
        ``defaults``, else :data:`MISSING`."""
        defaults = dict(self.defaults)
        values = []
        for ref in self.db_refs:
            value = lookup(db, ref)
            if value is MISSING:
                value = defaults.get(ref, MISSING)
            else:
                check_database_value(value, f"database value {ref}", self.label)
            values.append((ref, _freeze(value)))
        return tuple(values)

    def substituted(self, values: Mapping[str, Any], channel: str | None = None) -> ProcessorSpec:
        """This spec with ``db.*`` parameters replaced by ``values``; a missing one is an error
        naming the channel, the processor and the parameter."""
        if not self.db_refs:
            return self
        for ref in self.db_refs:
            if values.get(ref, MISSING) is MISSING:
                where = f"channel {channel!r}" if channel else "the database"
                raise DSPConfigError(
                    f"{ref} is not in {where} and the processor has no default for it "
                    f"(add it to the database or to 'defaults')",
                    processor=self.label,
                    key=self._key_of(ref),
                )

        def sub(arg: Any) -> Any:
            if not isinstance(arg, str):
                return arg
            if DB_PATTERN.fullmatch(arg.strip()):
                return values[arg.strip()]
            return DB_PATTERN.sub(lambda m: f"({values[m.group(0)]})", arg)

        return ProcessorSpec(
            **{
                **self.__dict__,
                "args": tuple(sub(a) for a in self.args),
                "init_args": None
                if self.init_args is None
                else tuple(sub(a) for a in self.init_args),
                "expression": None if self.expression is None else str(sub(self.expression)),
                "db_refs": (),
            }
        )

    def _key_of(self, ref: str) -> str:
        for i, arg in enumerate(self.args):
            if isinstance(arg, str) and ref in arg:
                return f"args[{i}]" if self.expression is None else "function"
        for i, arg in enumerate(self.init_args or ()):
            if isinstance(arg, str) and ref in arg:
                return f"init_args[{i}]"
        return "function"


def lookup(db: Any, ref: str) -> Any:
    """``db["a"]["b"]`` for ``ref = "db.a.b"``, or :data:`MISSING`.

    >>> lookup({"pz": {"tau": 5}}, "db.pz.tau"), lookup({}, "db.pz.tau")
    (5, MISSING)
    """
    node = db
    for part in _ref_parts(ref):
        if not (type(node) is dict or isinstance(node, Mapping)) or part not in node:
            return MISSING
        node = node[part]
    return node


@functools.lru_cache(maxsize=4096)
def _ref_parts(ref: str) -> tuple[str, ...]:
    """The keys of ``db.a.b``: ``("a", "b")``."""
    return tuple(ref.split(".")[1:])


def _freeze(value: Any) -> Any:
    if type(value) in _ATOMS:
        return value
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def value_key(value: Any) -> Any:
    """A cache key for frozen database values that tells equal values of different types apart:
    ``2``, ``2.0`` and ``True`` give different chains (``x * 2`` of an integer column is an
    integer, ``x * 2.0`` a float).

    >>> value_key((("db.gain", 2),)) == value_key((("db.gain", 2.0),))
    False
    """
    if type(value) is tuple:
        return tuple(value_key(v) for v in value)
    return (type(value), value)


#: database values that :func:`_freeze` keeps as they are, told apart by their exact type
_ATOMS = frozenset({str, int, float, bool, type(None)})


def split_names(key: str) -> tuple[str, ...]:
    """The names in a key such as ``"bl_mean , bl_std, bl_slope"``.

    >>> split_names("tp_min, tp_max ,wf_min wf_max")
    ('tp_min', 'tp_max', 'wf_min', 'wf_max')
    """
    return tuple(k for k in re.split(r"[,\s]+", str(key)) if k)


def _shown(text: str, limit: int = 80) -> str:
    """``repr(text)``, shortened to about ``limit`` characters."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 3]) + "..."


@functools.lru_cache(maxsize=4096)
def parse_source(text: str) -> ast.Module:
    """The syntax tree of an argument or expression (cached); raises ``SyntaxError``, also for
    text nested too deeply or too long for Python's parser.

    >>> parse_source("(" * 300 + "a" + ")" * 300)
    Traceback (most recent call last):
    ...
    SyntaxError: too many nested parentheses
    """
    try:
        return ast.parse(text.strip(), mode="exec")
    except (RecursionError, MemoryError, ValueError):
        raise SyntaxError("nested too deeply or too long") from None


def _parse_function(label: str, options: dict) -> dict:
    function = options.get("function")
    module = options.get("module")
    has_args = "args" in options
    if not isinstance(function, str) or not function.strip():
        raise DSPConfigError("needs a 'function' (a string)", processor=label, key="function")
    try:
        body = ast.parse(function.strip(), mode="eval").body
    except SyntaxError as err:
        raise DSPConfigError(
            f"cannot parse {_shown(function)}: {err.msg}", processor=label, key="function"
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise DSPConfigError(
            f"cannot parse {_shown(function)}: nested too deeply or too long",
            processor=label,
            key="function",
        ) from None
    text = function.strip()

    def segment(node: ast.AST) -> str:
        return ast.get_source_segment(text, node) or ""

    def as_expression() -> dict:
        if has_args:
            raise DSPConfigError(
                "an expression cannot also have 'args'", processor=label, key="args"
            )
        if module is not None:
            raise DSPConfigError(
                "an expression cannot also have a 'module'", processor=label, key="module"
            )
        return {"function": None, "module": None, "args": (), "expression": text}

    def as_call(name: str, mod: str | None, call: ast.Call | None) -> dict:
        if mod is not None and module is not None:
            raise DSPConfigError(
                f"module given twice ({mod!r} in 'function' and {module!r})",
                processor=label,
                key="module",
            )
        if call is not None:
            if has_args:
                raise DSPConfigError(
                    "arguments given twice (in the call and in 'args')", processor=label, key="args"
                )
            args = [segment(a) for a in call.args]
            args += [f"{k.arg}={segment(k.value)}" for k in call.keywords]
        else:
            if not has_args:
                raise DSPConfigError(
                    f"processor {name!r} needs 'args' (its inputs, then its outputs)",
                    processor=label,
                    key="args",
                )
            args = as_list(options["args"], label, "args")
        return {"function": name, "module": mod or module, "args": args, "expression": None}

    if isinstance(body, ast.Name):
        if not has_args and module is None:
            return as_expression()  # an alias of another column: "a: b"
        return as_call(body.id, None, None)
    if isinstance(body, ast.Attribute):
        mod = segment(body.value)
        if mod in ("np", "numpy") and not has_args:
            return as_expression()  # a constant such as np.pi
        return as_call(body.attr, mod, None)
    if isinstance(body, ast.Call):
        func = body.func
        if isinstance(func, ast.Name):
            if func.id in BUILTIN_FUNCTIONS and module is None:
                return as_expression()
            return as_call(func.id, None, body)
        if isinstance(func, ast.Attribute):
            return as_call(func.attr, segment(func.value), body)
    return as_expression()


@dataclass(frozen=True, eq=False)
class ChainConfig:
    """A checked config: outputs, processor specs by key, and which key makes each name.

    ``fingerprint`` identifies the config's content (compiled chains are cached by it).

    >>> cfg = load_config({"outputs": ["b"], "processors": {"b": "a + 1"}})
    >>> cfg.outputs, cfg.producers, len(cfg.fingerprint)
    (('b',), {'b': 'b'}, 40)
    """

    outputs: tuple[str, ...]
    processors: dict[str, ProcessorSpec]
    producers: dict[str, str]
    fingerprint: str
    source: str | None = None
    #: the config as given, normalised (plain data)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        """The config as a plain dict (as given, normalised)."""
        return json.loads(json.dumps(self.raw))

    def __repr__(self) -> str:
        return (
            f"ChainConfig({len(self.processors)} processors, outputs={list(self.outputs)}"
            + (f", from {self.source}" if self.source else "")
            + ")"
        )


def load_mapping(source: Any, what: str = "config") -> Any:
    """A dict from a dict, a JSON/YAML file path or JSON/YAML text, checked to be plain data
    of bounded size (see :mod:`tierflow.configfile`); errors name the file.

    >>> load_mapping('{"a": 1}'), load_mapping("a: 2")
    ({'a': 1}, {'a': 2})
    >>> load_mapping("/nowhere/dsp.json")
    Traceback (most recent call last):
    ...
    tierflow.errors.DSPConfigError: /nowhere/dsp.json: cannot read config file: No such file or directory
    """
    if isinstance(source, Mapping):
        check_plain(source, what, config_error)
        return source
    path = source_file(source)
    if path is not None:
        return parse_config_text(
            read_config_file(path, what, config_error), what, config_error, path
        )
    if isinstance(source, str):
        return parse_config_text(source, what, config_error)
    raise DSPConfigError(
        f"a {what} must be a dict, a JSON/YAML file or JSON/YAML text, not {type(source).__name__}"
    )


def source_file(source: Any) -> str | None:
    """The path ``source`` names when it is a file rather than JSON/YAML text: a path object,
    or a one-line string that names a file or ends in ``.json``/``.yaml``/``.yml``.

    >>> source_file("hpge.yaml"), source_file("a: 2"), source_file('{"a": 1}')
    ('hpge.yaml', None, None)
    """
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    if (
        isinstance(source, str)
        and "\n" not in source
        and not source.lstrip().startswith(("{", "["))
        and (source.endswith((".json", ".yaml", ".yml")) or _is_path(source))
    ):
        return source
    return None


def _is_path(text: str) -> bool:
    try:
        return os.path.lexists(text)
    except (ValueError, OSError):  # NUL bytes, names too long
        return False


def config_error(message: str, key: str | None = None, file: str | None = None) -> DSPConfigError:
    """The error of a config (file) that cannot be read (the factory :mod:`tierflow.configfile`
    raises)."""
    return DSPConfigError(message, key=key, file=file)


_CACHE: dict[str, ChainConfig] = {}


def load_config(config: Any, outputs: Sequence[str] | None = None) -> ChainConfig:
    """A :class:`ChainConfig` from a dict, a JSON/YAML file path, JSON/YAML text or a
    :class:`ChainConfig`; ``outputs`` replaces the config's own list.

    The same content gives the same (cached) object, so that chains compiled from it are
    shared.

    >>> a = load_config({"outputs": ["x"], "processors": {"x": "waveform[0]"}})
    >>> a is load_config('{"outputs": ["x"], "processors": {"x": "waveform[0]"}}')
    True
    >>> load_config({"outputs": ["x"], "processors": {"x": {"function": "f", "argz": []}}})
    Traceback (most recent call last):
    ...
    tierflow.errors.DSPConfigError: processor 'x' (processors.x.argz): unknown key 'argz'; ...
    """
    if isinstance(config, ChainConfig):
        if outputs is None:
            return config
        config = config.raw
    source = source_file(config)
    raw = load_mapping(config)
    try:
        text = json.dumps(raw, sort_keys=True, default=repr)
    except (TypeError, ValueError) as err:
        raise DSPConfigError(f"the config is not plain data: {err}", file=source) from None
    if outputs is not None:
        outputs = [outputs] if isinstance(outputs, str) else list(outputs)
        text += json.dumps(outputs, default=repr)
    fingerprint = hashlib.sha1(text.encode()).hexdigest()
    cached = _CACHE.get(fingerprint)
    if cached is not None:
        return cached
    try:
        cfg = _build(raw, outputs, fingerprint, source)
    except DSPConfigError as err:
        if source is None or err.file is not None:
            raise
        raise in_file(err, source) from None
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[fingerprint] = cfg
    return cfg


def in_file(err: DSPConfigError, file: str) -> DSPConfigError:
    """``err`` (or its subclass) again, naming the config file it came from.

    >>> str(in_file(DSPConfigError("bad", key="outputs"), "dsp.json"))
    'dsp.json: outputs: bad'
    """
    return type(err)(err.reason, processor=err.processor, key=err.key, file=file)


def _build(raw: Mapping, outputs: Any, fingerprint: str, source: str | None) -> ChainConfig:
    unknown = [k for k in raw if k not in CONFIG_KEYS]
    if unknown:
        extra = " (input friends are not supported)" if "inputs" in unknown else ""
        raise DSPConfigError(
            f"unknown key {unknown[0]!r}{extra}; a config has {', '.join(sorted(CONFIG_KEYS))}",
            key=key_path((unknown[0],)),
        )
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise DSPConfigError(
            f"expected a string, not {type(description).__name__}", key="description"
        )
    processors_node = raw.get("processors")
    if processors_node is None:
        processors_node = {}
    if not isinstance(processors_node, Mapping):
        raise DSPConfigError(
            f"expected a dict of processors, not {type(processors_node).__name__}",
            key="processors",
        )
    if outputs is None:
        outputs = raw.get("outputs")
        if outputs is None:
            raise DSPConfigError("the config names no outputs", key="outputs")
        if isinstance(outputs, str):
            outputs = split_names(outputs)
    outputs = _as_outputs(outputs)
    processors: dict[str, ProcessorSpec] = {}
    producers: dict[str, str] = {}
    for key, node in processors_node.items():
        if not isinstance(key, str):
            raise DSPConfigError(
                f"a processor's key is the names it computes, not {key!r}",
                key=f"processors.{key_path((key,))}",
            )
        spec = ProcessorSpec.parse(key, node)
        for name in spec.outputs:
            if name in producers:
                raise DSPConfigError(
                    f"{name!r} is computed twice (also by {producers[name]!r})",
                    processor=spec.label,
                )
            producers[name] = spec.key
        processors[spec.key] = spec
    plain = json.loads(json.dumps({**raw, "outputs": list(outputs)}, default=repr))
    return ChainConfig(tuple(outputs), processors, producers, fingerprint, source, plain)


def _as_outputs(outputs: Any) -> list[str]:
    if isinstance(outputs, str) or not isinstance(outputs, Sequence):
        raise DSPConfigError(
            f"expected a list of column names, not {type(outputs).__name__}", key="outputs"
        )
    names: list[str] = []
    for i, name in enumerate(outputs):
        if not isinstance(name, str) or not is_column_name(name.strip()):
            raise DSPConfigError(
                f"expected a column name (letters, digits and _), not {name!r}",
                key=f"outputs[{i}]",
            )
        if name.strip() in names:
            raise DSPConfigError(f"{name.strip()!r} is listed twice", key=f"outputs[{i}]")
        names.append(name.strip())
    return names

"""A routing config's ``proc_spec``: what :func:`~tierflow.daq.build_raw` does to a table's
rows before writing them, with legend-daq2lh5's meaning (its ``buffer_processor``).

Steps, in daq2lh5's order:

- ``window: [column, start, stop, new_name]``: ``new_name`` holds samples ``start:stop`` of
  every waveform of ``column`` (Python slice bounds: negative ones count from the end). For a
  waveform table (``t0``, ``dt``, ``values``) ``t0`` moves by ``start * dt`` (for a negative
  ``start``, by the index it stands for: daq2lh5 moves it backwards); for a column of
  equal-sized arrays only the samples are cut. ``column`` stays unless dropped.
- ``dtype_conv: {path: dtype}``: casts a column (``"waveform/values"`` reaches inside).
- ``drop: [path, ...]``: columns not written.
- ``compression: {path: codec}``: a waveform codec (``"RadwareSigcompress(codec_shift=-32768)"``
  as LEGEND's configs write it, ``"radware_sigcompress"``, ``"ULEB128ZigZagDiff()"``, a
  codec object) or an HDF5 filter (``"gzip"``, ``"lzf"``, a dict of h5py settings).
- ``hdf5_settings: {path: {h5py settings}}``: HDF5 filters of one column.

``dsp_config`` (a DSP chain run by daq2lh5 in the raw tier) is refused: run ``tierflow dsp``
on the raw tier instead. Tables only are processed; one-off objects (headers) are written as
they are. A step naming a column the table lacks is an error, except for the ``"*"``
decoder's ``proc_spec``, which meets every decoder's tables and skips them there (as daq2lh5
skips every such step).

>>> import numpy as np
>>> from tierflow.types import Table, WaveformTable
>>> tb = Table({"energy": np.arange(2), "waveform": WaveformTable(
...     values=np.arange(20, dtype="uint16").reshape(2, 10), t0=100, dt=16)})
>>> out = apply_proc_spec(tb, {"window": ["waveform", 2, -2, "wf_win"], "drop": ["waveform"],
...                            "dtype_conv": {"energy": "uint8"}}, "geds")
>>> list(out), out["wf_win"].t0.nda.tolist(), out["wf_win"].values.nda.shape, out["energy"].dtype
(['energy', 'wf_win'], [132.0, 132.0], (2, 6), dtype('uint8'))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import RoutingError
from ..lh5.codecs import CODECS, WaveformCodec, codec_by_name
from ..lh5.settings import hdf5_filters
from ..types import LGDO, Array, ArrayOfEqualSizedArrays, Table, WaveformTable

#: the steps of a proc_spec
STEPS = ("window", "dsp_config", "dtype_conv", "drop", "compression", "hdf5_settings")
_CODEC_EXPRESSION = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$")


def check_proc_spec(spec: Any, where: str) -> None:
    """Refuse a malformed ``proc_spec`` (of the table ``where``) before anything is decoded."""
    if not isinstance(spec, Mapping):
        raise RoutingError(f"{where}: proc_spec is a mapping of steps, not {spec!r:.60}")
    for step in spec:
        if step == "dsp_config":
            raise RoutingError(
                f"{where}: proc_spec.dsp_config (a DSP chain in the raw tier) is not supported; "
                "run tierflow dsp (build_dsp) on the raw tier instead"
            )
        if step not in STEPS:
            raise RoutingError(
                f"{where}: unknown proc_spec step {step!r}; the steps are "
                f"{', '.join(s for s in STEPS if s != 'dsp_config')}"
            )
    if "window" in spec:
        window = spec["window"]
        if not (
            isinstance(window, list | tuple)
            and len(window) == 4
            and isinstance(window[0], str)
            and isinstance(window[3], str)
            and all(isinstance(x, int) and not isinstance(x, bool) for x in window[1:3])
        ):
            raise RoutingError(
                f"{where}: proc_spec.window is [column, start, stop, new_name] (two ints "
                f"between two names), not {window!r:.80}"
            )
    if "drop" in spec and not (
        isinstance(spec["drop"], list | tuple) and all(isinstance(x, str) for x in spec["drop"])
    ):
        raise RoutingError(f"{where}: proc_spec.drop is a list of column names")
    for step in ("dtype_conv", "compression", "hdf5_settings"):
        if step in spec and not isinstance(spec[step], Mapping):
            raise RoutingError(f"{where}: proc_spec.{step} is a mapping of column paths")
    for path, dtype in spec.get("dtype_conv", {}).items():
        try:
            np.dtype(dtype)
        except TypeError:
            raise RoutingError(
                f"{where}: proc_spec.dtype_conv.{path}: {dtype!r} is not a numpy dtype"
            ) from None
    for path, codec in spec.get("compression", {}).items():
        compression_of(codec, f"{where}: proc_spec.compression.{path}")
    for path, settings in spec.get("hdf5_settings", {}).items():
        if not isinstance(settings, Mapping):
            raise RoutingError(
                f"{where}: proc_spec.hdf5_settings.{path} is a mapping of h5py settings "
                f"(compression, shuffle, ...), not {settings!r:.60}"
            )


def compression_of(spec: Any, where: str) -> WaveformCodec | str | Mapping:
    """The ``compression`` attribute for ``spec``: a waveform codec, or an HDF5 filter as
    :func:`~tierflow.lh5.settings.hdf5_filters` takes it.

    >>> compression_of("RadwareSigcompress(codec_shift=-32768)", "x")
    RadwareSigcompress(codec_shift=-32768)
    >>> compression_of("uleb128_zigzag_diff", "x"), compression_of("lzf", "x")
    (ULEB128ZigZagDiff(), 'lzf')
    """
    if isinstance(spec, WaveformCodec | Mapping):
        return spec
    if not isinstance(spec, str):
        raise RoutingError(f"{where}: {spec!r:.60} is neither a codec nor an HDF5 filter")
    by_class = {cls.__name__: name for name, cls in _codecs().items()}
    match = _CODEC_EXPRESSION.match(spec)
    try:
        if match:
            name, args = match.groups()
            if name not in by_class:
                raise ValueError(
                    f"unknown codec class {name}; known: {', '.join(sorted(by_class))}"
                )
            return codec_by_name(by_class[name], **_codec_args(args))
        if spec in _codecs():
            return codec_by_name(spec)
        hdf5_filters(spec)
    except (ValueError, TypeError) as err:
        raise RoutingError(
            f"{where}: {spec!r} is neither a waveform codec ({', '.join(sorted(by_class))}, "
            f"or by name {', '.join(sorted(_codecs()))}) nor an HDF5 filter ({err})"
        ) from None
    return spec


def _codecs() -> dict[str, type[WaveformCodec]]:
    codec_by_name("uleb128_zigzag_diff")  # loads the built-in codecs into the registry
    return dict(CODECS)


def _codec_args(text: str) -> dict[str, Any]:
    """``codec_shift=-32768, x='a'`` as keyword arguments (numbers as numbers)."""
    args: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{item!r} is not name=value")
        value = value.strip().strip("'\"")
        for kind in (int, float):
            try:
                args[name.strip()] = kind(value)
                break
            except ValueError:
                continue
        else:
            args[name.strip()] = value
    return args


def apply_proc_spec(
    obj: LGDO, spec: Mapping[str, Any] | None, table: str, lenient: bool = False
) -> LGDO:
    """``obj`` (rows for the output table ``table``) processed by ``spec``; ``obj`` must be
    this writer's own (columns are replaced in it, and attributes set)."""
    if not spec or not isinstance(obj, Table):
        return obj
    where = f"table {table}: proc_spec"
    if "window" in spec:
        column, start, stop, new_name = spec["window"]
        source = _find(obj, column, where + ".window", lenient)
        if source is not None:
            obj.add_field(new_name, _windowed(source, int(start), int(stop), where))
    for path, dtype in spec.get("dtype_conv", {}).items():
        found = _find(obj, path, where + ".dtype_conv", lenient)
        if found is None:
            continue
        if not isinstance(found, Array):
            raise RoutingError(f"{where}.dtype_conv.{path}: a {type(found).__name__} has no dtype")
        cast = type(found)(nda=found.nda.astype(np.dtype(dtype)), attrs=found.getattrs())
        _replace(obj, path, cast)
    for path in spec.get("drop", ()):
        if _find(obj, path, where + ".drop", lenient) is not None:
            parent, _, leaf = path.rpartition("/")
            (_find(obj, parent, where, lenient) if parent else obj).remove_column(leaf)
    for step in ("compression", "hdf5_settings"):
        for path, value in spec.get(step, {}).items():
            found = _find(obj, path, f"{where}.{step}", lenient)
            if found is not None:
                found.attrs[step] = (
                    compression_of(value, f"{where}.{step}.{path}")
                    if step == "compression"
                    else dict(value)
                )
    return obj


def _find(table: Table, path: str, where: str, lenient: bool) -> Any:
    """The object at ``path`` in ``table`` (``None`` if absent and ``lenient``)."""
    node: Any = table
    for part in path.split("/"):
        if not isinstance(node, Table) or part not in node:
            if lenient:
                return None
            have = ", ".join(node.keys()) if isinstance(node, Table) else type(node).__name__
            raise RoutingError(f"{where}: no column {path!r} (the table has {have})")
        node = node[part]
    return node


def _replace(table: Table, path: str, obj: LGDO) -> None:
    parent, _, leaf = path.rpartition("/")
    node = table
    for part in filter(None, parent.split("/")):
        node = node[part]
    node.add_field(leaf, obj)


def _windowed(source: LGDO, start: int, stop: int, where: str) -> LGDO:
    """Samples ``start:stop`` of the waveforms of ``source``."""
    if isinstance(source, WaveformTable) and isinstance(source.values, ArrayOfEqualSizedArrays):
        values = source.values
        t0 = source.t0
        first = slice(start, stop).indices(values.nda.shape[1])[0]  # a negative start counts back
        shifted = Array(t0.nda + first * source.dt.nda, attrs=t0.getattrs())
        kept = {k: v for k, v in values.getattrs().items() if k in ("units",)}
        return WaveformTable(
            t0=shifted,
            dt=source.dt,
            values=ArrayOfEqualSizedArrays(nda=values.nda[:, start:stop], attrs=kept),
            attrs=source.getattrs(),
        )
    if isinstance(source, ArrayOfEqualSizedArrays):
        return ArrayOfEqualSizedArrays(nda=source.nda[:, start:stop])
    raise RoutingError(
        f"{where}.window: cannot window a {type(source).__name__}; a waveform table of "
        "equal-sized waveforms or a column of equal-sized arrays can be"
    )

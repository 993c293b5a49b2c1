"""Where :func:`~tierflow.daq.build_raw` writes each decoder's rows: legend-daq2lh5's
``out_spec`` (routing config), parsed, checked against the stream and expanded.

A routing config maps a decoder name (``"FCEventDecoder"``, or ``"*"`` for every decoder not
named) to table name patterns, each with

- ``key_list``: ints, inclusive ``[first, last]`` ranges, ``"*"`` (every key not claimed by
  another table of the decoder) and ``fnmatch`` globs on the keys as text;
- ``out_stream``: ``"file.lh5"`` or ``"file.lh5:/group"``, with ``{placeholders}`` filled from
  ``build_raw``'s keyword arguments (``{filekey}``), ``{key}`` (a table of one key), ``{name}``
  (the table name; for ``"*"`` the decoder name without ``Decoder``) and ``$ENV`` variables;
  no ``out_stream`` means decoded but not written, as in daq2lh5;
- ``out_name`` (optional): the table name instead of the pattern;
- ``proc_spec`` (optional): see :mod:`tierflow.daq.processing`.

A pattern with ``{key}`` (``"ch{key:07d}/raw"``) makes one table per key; ``/`` makes groups.
For ``"*"`` the pattern takes ``{name}``, and a decoder whose keys daq2lh5 groups in several
key lists gets one table per list (``{name}_{key}`` for a list of one key, ``{name}_{index}``
otherwise), as daq2lh5's default routing does.

Unlike daq2lh5, which warns and writes nothing, a config naming a decoder, a key or a glob
that the stream does not have is refused before anything is decoded (a ``[first, last]``
range needs one key of the stream in it, not all: a range spans channels), as are malformed
configs, keys claimed by two tables, two routes writing one table, and ``$VARIABLES`` that
are not set. An empty ``key_list`` is a table that takes no key (nothing is written), as in
daq2lh5 (scripts fill key lists in; a run may lack a kind of channel).

>>> router = Router(
...     {"FCEventDecoder": {"ch{key:03d}/raw": {"key_list": [[1, 2]], "out_stream": "{run}.lh5"}},
...      "*": {"{name}": {"key_list": ["*"], "out_stream": "{run}_aux.lh5"}}},
...     {"FCEventDecoder": [[1, 2, 3]], "FCConfigDecoder": [[]]}, {"run": "r001"})
>>> router.target("FCEventDecoder", 2).path, router.target("FCEventDecoder", 2).file
('ch002/raw', 'r001.lh5')
>>> router.target("FCEventDecoder", 3) is None  # key 3 is not routed
True
>>> router.target("FCConfigDecoder", None).path, router.target("FCConfigDecoder", None).file
('FCConfig', 'r001_aux.lh5')
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..configfile import load_plain
from ..errors import RoutingError
from .processing import check_proc_spec
from .stream import Key

#: file name endings that make a string ``out_spec`` a routing config rather than an output file
CONFIG_EXTENSIONS = (".json", ".yaml", ".yml")
#: the fields of one table's entry in a routing config
ROUTE_FIELDS = ("key_list", "out_stream", "out_name", "proc_spec")
#: an environment variable that ``os.path.expandvars`` left in place (not set)
_UNSET_VARIABLE = re.compile(r"\$(\w+|\{[^}]*\})")


def short_name(decoder: str) -> str:
    """The decoder name without ``Decoder`` (daq2lh5's ``{name}`` and default table name).

    >>> short_name("ORFlashCamADCWaveformDecoder"), short_name("ORRunDecoderForRun")
    ('ORFlashCamADCWaveform', 'ORRunDecoderForRun')
    """
    return decoder.removesuffix("Decoder")


def load_out_spec(out_spec: Any) -> dict | None:
    """The routing config of ``out_spec``: a mapping as it is, a JSON/YAML file read;
    ``None`` for ``None`` or an output file name."""
    if out_spec is None:
        return None
    if isinstance(out_spec, os.PathLike):
        out_spec = os.fspath(out_spec)
    if isinstance(out_spec, str) and not out_spec.lower().endswith(CONFIG_EXTENSIONS):
        if not out_spec.strip():
            raise RoutingError("out_spec is an empty file name")
        return None
    if isinstance(out_spec, Mapping | str):

        def error(message: str, key: str | None = None, file: str | None = None) -> RoutingError:
            where = ": ".join(x for x in (file, key) if x)
            return RoutingError(f"{where}: {message}" if where else message)

        config, _ = load_plain(out_spec, "routing config (out_spec)", error)
        return dict(config)
    raise RoutingError(
        "out_spec is an output file name, a JSON/YAML routing config file or a dict, "
        f"not {type(out_spec).__name__}"
    )


@dataclass
class Target:
    """One output table: ``path`` inside ``file`` (``file`` empty: decoded, not written)."""

    file: str
    path: str
    proc_spec: Mapping[str, Any] | None = None
    lenient: bool = False
    """Steps of ``proc_spec`` naming columns the table lacks are skipped (the ``"*"`` decoder's
    proc_spec meets every decoder's tables, as in daq2lh5), rather than refused."""
    decoder: str = ""


@dataclass
class _Route:
    """One table entry of the config, its key list expanded."""

    decoder: str
    where: str  # for errors: decoder and pattern
    pattern: str
    out_stream: str
    proc_spec: Mapping[str, Any] | None
    keys: list[Key] = field(default_factory=list)
    globs: list[str] = field(default_factory=list)
    wildcard: bool = False
    ranges: list[tuple[int, int]] = field(default_factory=list)
    star_name: str | None = None  # {name} for the "*" decoder's routes
    entry: str = ""  # the config's table name ({name} of out_stream when out_name renames it)


class Router:
    """The routing config ``config`` (``None``: everything into ``default_file``) checked
    against the stream's ``key_lists`` (:meth:`~tierflow.daq.stream.DAQStream.decoder_key_lists`)
    and ready to say where each decoder's key goes (:meth:`target`)."""

    def __init__(
        self,
        config: Mapping[str, Any] | None,
        key_lists: Mapping[str, list[list[Key]]],
        kwargs: Mapping[str, Any] | None = None,
        default_file: str = "",
    ):
        self.kwargs = dict(kwargs or {})
        self.key_lists = {d: [list(k) for k in lists] for d, lists in key_lists.items()}
        self.keys = {d: [k for ks in lists for k in ks] for d, lists in self.key_lists.items()}
        self._routes: dict[str, list[_Route]] = {}
        self._cache: dict[tuple[str, Key | None], Target | None] = {}
        self._owners: dict[tuple[str, str], str] = {}
        self._declared = {d: {str(k) for k in keys} for d, keys in self.keys.items()}
        #: keys met while decoding that the stream did not declare, by decoder
        self.undeclared: dict[str, list[Key | None]] = {}
        if config is None:
            self._add_star("{name}", default_file, None)
        else:
            self._parse(config)
        self._check_all()

    # --- parsing -----------------------------------------------------------------------------
    def _parse(self, config: Mapping[str, Any]) -> None:
        if not isinstance(config, Mapping) or not config:
            raise RoutingError("the routing config is empty: name at least one decoder or '*'")
        known = sorted(self.key_lists)
        for decoder, tables in config.items():
            if not isinstance(decoder, str):
                raise RoutingError(f"decoder names are text, not {decoder!r}")
            if not isinstance(tables, Mapping) or not tables:
                raise RoutingError(
                    f"{decoder}: expected a mapping of table names to "
                    f"{{key_list, out_stream, ...}}, not {_shown(tables)}"
                )
            if decoder != "*" and decoder not in self.key_lists:
                raise RoutingError(
                    f"decoder {decoder!r} is not in this stream; its decoders are: "
                    f"{', '.join(known) or 'none'}"
                )
        for decoder, tables in config.items():
            if decoder == "*":
                continue
            routes = [self._route(decoder, pattern, entry) for pattern, entry in tables.items()]
            self._routes[decoder] = routes
            self._check_keys(decoder, routes)
        if "*" in config:
            tables = config["*"]
            if len(tables) != 1:
                raise RoutingError(
                    f"'*' takes one table pattern (such as '{{name}}'), not {len(tables)}: "
                    f"{', '.join(map(str, tables))}"
                )
            pattern, entry = next(iter(tables.items()))
            star = self._route("*", pattern, entry)
            self._add_star(star.pattern, star.out_stream, star.proc_spec)

    def _route(self, decoder: str, pattern: Any, entry: Any) -> _Route:
        where = f"{decoder}: table {pattern!r}"
        if not isinstance(pattern, str) or not pattern.strip("/ "):
            raise RoutingError(f"{decoder}: table names are non-empty text, not {pattern!r}")
        if not isinstance(entry, Mapping):
            raise RoutingError(
                f"{where}: expected a mapping with key_list and out_stream, not {_shown(entry)}"
            )
        unknown = [k for k in entry if k not in ROUTE_FIELDS]
        if unknown:
            raise RoutingError(
                f"{where}: unknown field {unknown[0]!r}; the fields are {', '.join(ROUTE_FIELDS)}"
            )
        if "key_list" not in entry:
            raise RoutingError(f'{where}: key_list is missing (use ["*"] for every key)')
        for name in ("out_stream", "out_name"):
            if name in entry and not isinstance(entry[name], str):
                raise RoutingError(f"{where}: {name} is text, not {_shown(entry[name])}")
        if "out_name" in entry and not entry["out_name"].strip("/ "):
            raise RoutingError(f"{where}: out_name is empty")
        proc_spec = entry.get("proc_spec")
        if proc_spec is not None:
            check_proc_spec(proc_spec, where)
        route = _Route(
            decoder,
            where,
            entry.get("out_name", pattern),
            entry.get("out_stream", ""),
            proc_spec,
            entry=pattern,
        )
        key_list = entry["key_list"]
        if not isinstance(key_list, list | tuple):
            raise RoutingError(
                f"{where}: key_list is a list of keys, [first, last] ranges, "
                f"'*' and globs, not {_shown(key_list)}"
            )
        for item in key_list:
            if isinstance(item, bool) or item is None:
                raise RoutingError(f"{where}: {item!r} in key_list is not a key")
            if isinstance(item, int):
                route.keys.append(item)
            elif isinstance(item, str) and item == "*":
                if route.wildcard:
                    raise RoutingError(f"{where}: '*' appears twice in key_list")
                route.wildcard = True
            elif isinstance(item, str) and any(c in item for c in "*?["):
                route.globs.append(item)
            elif isinstance(item, str):
                route.keys.append(item)
            elif (
                isinstance(item, list | tuple)
                and len(item) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in item)
            ):
                first, last = item
                if first > last:
                    raise RoutingError(
                        f"{where}: range {list(item)} in key_list is empty ([first, last], "
                        "both included, first <= last)"
                    )
                route.ranges.append((first, last))
            else:
                raise RoutingError(
                    f"{where}: {_shown(item)} in key_list is neither a key, a [first, last] "
                    "range of ints, '*' nor a glob"
                )
        return route

    def _add_star(self, pattern: str, out_stream: str, proc_spec: Any) -> None:
        """Routes for every decoder not named, as daq2lh5's ``"*"`` (and default) routing."""
        for decoder, lists in self.key_lists.items():
            if decoder in self._routes:
                continue
            name = short_name(decoder)
            base = pattern.replace("{name}", name) if "{name}" in pattern else pattern
            common = dict(out_stream=out_stream, proc_spec=proc_spec, star_name=name)
            where = f"'*' ({decoder}): table {pattern!r}"
            if "{key" in base or len(lists) <= 1:
                routes = [_Route(decoder, where, base, wildcard=True, **common)]
            else:
                routes = []
                for i, keys in enumerate(lists):
                    suffix = keys[0] if len(keys) == 1 else i
                    routes.append(_Route(decoder, where, f"{base}_{suffix}", keys=keys, **common))
            self._routes[decoder] = routes

    # --- checks ------------------------------------------------------------------------------
    def _check_keys(self, decoder: str, routes: list[_Route]) -> None:
        have = self.keys[decoder]
        by_text = {str(k): k for k in have}
        shown = _key_summary(have)
        claimed: dict[str, str] = {}
        wildcards = [r for r in routes if r.wildcard]
        if len(wildcards) > 1:
            raise RoutingError(
                f"{decoder}: '*' is in the key_list of {wildcards[0].pattern!r} and "
                f"{wildcards[1].pattern!r}; one table takes the rest"
            )
        for route in routes:
            for key in route.keys:
                if str(key) not in by_text:
                    raise RoutingError(f"{route.where}: key {key!r} is not in this stream; {shown}")
            keys = [by_text[str(k)] for k in route.keys]
            for first, last in route.ranges:
                inside = [k for k in have if isinstance(k, int) and first <= k <= last]
                if not inside:
                    raise RoutingError(
                        f"{route.where}: no key of this stream is in the range "
                        f"[{first}, {last}]; {shown}"
                    )
                keys.extend(inside)
            route.keys = list(dict.fromkeys(keys))
            for key in route.keys:
                other = claimed.setdefault(str(key), route.pattern)
                if other != route.pattern:
                    raise RoutingError(
                        f"{decoder}: key {key!r} is in the key_list of both {other!r} and "
                        f"{route.pattern!r}"
                    )
            route.ranges = []
        for route in routes:
            for glob in route.globs:
                if not any(
                    fnmatch.fnmatchcase(str(k), glob) for k in have if str(k) not in claimed
                ):
                    raise RoutingError(
                        f"{route.where}: the glob {glob!r} matches no key of this stream "
                        f"that another table does not claim; {shown}"
                    )

    def _check_all(self) -> None:
        """Expand every known key now, so that bad patterns, missing placeholders and two
        routes writing one table fail before decoding."""
        for decoder, keys in self.keys.items():
            for key in keys:
                self.target(decoder, key)
            if not keys:  # a decoder without keys (a header): its rows come with key None
                self.target(decoder, None)

    # --- lookup ------------------------------------------------------------------------------
    def target(self, decoder: str, key: Key | None) -> Target | None:
        """The table that ``decoder``'s rows of ``key`` go to (``None``: not routed)."""
        cache_key = (decoder, key)
        if cache_key in self._cache:
            return self._cache[cache_key]
        if self._declared.get(decoder) and str(key) not in self._declared[decoder]:
            self.undeclared.setdefault(decoder, []).append(key)
        route = self._route_of(decoder, key)
        target = None if route is None else self._expand(route, key)
        if target is not None and target.file:
            owner = f"{route.where}" if route is not None else ""
            first = self._owners.setdefault((target.file, target.path), owner)
            if first != owner:
                raise RoutingError(
                    f"{owner} and {first} would both write {target.path} in {target.file}; "
                    "give them different table names or out_streams"
                )
        self._cache[cache_key] = target
        return target

    def _route_of(self, decoder: str, key: Key | None) -> _Route | None:
        routes = self._routes.get(decoder, [])
        text = str(key)
        for route in routes:
            if any(str(k) == text for k in route.keys):
                return route
        for route in routes:
            if any(fnmatch.fnmatchcase(text, g) for g in route.globs):
                return route
        for route in routes:
            if route.wildcard:
                return route
        return None

    def _expand(self, route: _Route, key: Key | None) -> Target:
        path = route.pattern
        per_key = "{key" in path
        if per_key:
            path = _format_key(path, key, route.where)
        path = "/".join(p for p in path.split("/") if p)
        single = per_key or (len(route.keys) == 1 and not route.globs and not route.wildcard)
        values = dict(self.kwargs)
        if single:
            values["key"] = key
        if route.star_name is not None:
            values["name"] = route.star_name
        else:  # the config's table name, as daq2lh5 fills it (before out_name renames it)
            entry = route.entry or route.pattern
            values["name"] = _format_key(entry, key, route.where) if "{key" in entry else entry
        try:
            out_stream = route.out_stream.format(**values)
        except KeyError as err:
            given = ", ".join(sorted(k for k in values if k not in ("key", "name")))
            extra = (
                " ({key} needs a table of one key)"
                if err.args[0] == "key"
                else "; pass it as a keyword argument of build_raw"
            )
            raise RoutingError(
                f"{route.where}: out_stream {route.out_stream!r} uses {{{err.args[0]}}}, "
                f"which is not given{extra} (given: {given or 'nothing'})"
            ) from None
        except (ValueError, IndexError, AttributeError) as err:
            raise RoutingError(
                f"{route.where}: out_stream {route.out_stream!r} cannot be filled in: {err}"
            ) from None
        out_stream = os.path.expandvars(out_stream)
        unset = _UNSET_VARIABLE.search(out_stream)
        if unset:
            raise RoutingError(
                f"{route.where}: out_stream {route.out_stream!r} uses the environment "
                f"variable {unset.group(1).strip('{}')}, which is not set"
            )
        file, _, group = out_stream.partition(":")
        full = "/".join(p for p in (*group.split("/"), *path.split("/")) if p)
        if not full:
            raise RoutingError(f"{route.where}: the table name is empty")
        return Target(file, full, route.proc_spec, route.star_name is not None, route.decoder)

    def targets(self) -> list[Target]:
        """Every target of the keys known so far."""
        return [t for t in self._cache.values() if t is not None]

    def out_files(self) -> list[str]:
        """The output files of the keys known so far, in order of first use."""
        return list(dict.fromkeys(t.file for t in self.targets() if t.file))


def _format_key(pattern: str, key: Key | None, where: str) -> str:
    """``pattern`` with ``{key...}`` filled; a key of the wrong type for the format is tried
    as the other type (``"7"`` for ``{key:03d}``), as daq2lh5 does."""
    tries: list[Any] = [key]
    if isinstance(key, str) and key.lstrip("-").isdigit():
        tries.append(int(key))
    elif isinstance(key, int):
        tries.append(str(key))
    for value in tries:
        try:
            return pattern.format(key=value)
        except (ValueError, TypeError):
            continue
        except (KeyError, IndexError, AttributeError) as err:
            raise RoutingError(
                f"{where}: the table name {pattern!r} uses {err}, not only {{key}}"
            ) from None
    raise RoutingError(f"{where}: key {key!r} does not fit the format of {pattern!r}")


def _key_summary(keys: list[Key], limit: int = 16) -> str:
    if not keys:
        return "this decoder has no keys"
    shown = ", ".join(repr(k) for k in keys[:limit])
    more = f", ... ({len(keys)} keys)" if len(keys) > limit else ""
    return f"its keys are: {shown}{more}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

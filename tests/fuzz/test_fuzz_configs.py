"""Fuzzing the configs: a mutated dsp, hit or pipeline config gives a result or a TierflowError.

The shipped dsp configs (``hpge-simple``, ``hpge-full``), the shipped hit config with
per-channel parameters, and a pipeline config are mutated structurally (keys deleted,
replaced, duplicated and renamed; values swapped for other types, wrapped in lists and
dicts, nested thousands deep; numbers made huge or NaN; strings made empty, non-ASCII or
lone surrogates), given as dicts, JSON or YAML text or files, or garbled files, and run
through loading and ``build_dsp`` / ``build_hit`` (the pipeline: loading and its checks)
on a small simulated run (fixed seed). Each case must end in a result or a
:class:`~tierflow.errors.TierflowError`, never another exception, and a failed case must
leave no output file behind.

By default a bounded run of about 300 cases; ``TIERFLOW_FUZZ_FULL=1`` runs over 2,000.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tierflow.hit
from tierflow import sim
from tierflow.dsp import build_dsp
from tierflow.dsp.configs import config_path
from tierflow.errors import TaskError, TierflowError
from tierflow.hit import build_hit
from tierflow.pipeline import Pipeline, PipelineConfig

FULL = os.environ.get("TIERFLOW_FUZZ_FULL") == "1"
#: cases per target: about 300 in all by default, over 2,000 with TIERFLOW_FUZZ_FULL=1
EXAMPLES = (
    {"dsp": 1000, "hit": 700, "pipeline": 500} if FULL else {"dsp": 120, "hit": 100, "pipeline": 80}
)
HIT_CONFIG = Path(tierflow.hit.__file__).parent / "configs" / "hpge-hit.json"

STRANGE_STRINGS = [
    "",
    " ",
    "\ud800",
    "a\udfffb",
    "µs",
    "énergie",
    "日本",
    "\x00",
    "\n",
    "a" * 300,
    "waveform",
    "waveform[0:10]",
    "db.pz.tau",
    "db.",
    "db..x",
    "1e400",
    "nan",
    "-",
    "*",
    "ch*/raw",
    "[",
    "{",
    "a, b",
    "..",
    "/",
    "np",
    "us",
    "10*us",
    "keV",
    "waveform[0:99999999999999999999]",
    "waveform[-1]",
    "waveform[5:2]",
    "1e400*us",
    "-10*us",
    "0*us",
    "nan*us",
    "1e-9*us",
    "inf",
    "400*keV",
]
STRANGE_NUMBERS = [
    0,
    -1,
    1,
    2**31,
    2**63,
    -(2**63) - 1,
    10**30,
    10**400,
    float("nan"),
    float("inf"),
    -float("inf"),
    1e308,
    5e-324,
    True,
    False,
]

_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(STRANGE_NUMBERS),
    st.floats(),
    st.text(st.characters(exclude_categories=()), max_size=12),
    st.sampled_from(STRANGE_STRINGS),
)
_values = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


class Deep:
    """A placeholder for ``depth`` nested lists (or dicts) around ``1``, serialised by hand:
    the json and yaml writers cannot write what the loaders must refuse."""

    def __init__(self, depth: int, kind: str):
        self.depth, self.kind = depth, kind

    def python(self) -> Any:
        value: Any = 1
        for _ in range(self.depth):
            value = [value] if self.kind == "list" else {"a": value}
        return value

    def text(self) -> str:
        if self.kind == "list":
            return "[" * self.depth + "1" + "]" * self.depth
        return '{"a": ' * self.depth + "1" + "}" * self.depth


def _paths(tree: Any) -> list[tuple]:
    """Every node's path (keys and list indices), the root ``()`` first."""
    out, todo = [], [()]
    while todo:
        path = todo.pop()
        out.append(path)
        node = _get(tree, path)
        if isinstance(node, dict):
            todo += [(*path, k) for k in node]
        elif isinstance(node, list):
            todo += [(*path, i) for i in range(len(node))]
    return sorted(out, key=lambda p: (len(p), repr(p)))


def _get(tree: Any, path: tuple) -> Any:
    for part in path:
        tree = tree[part]
    return tree


def _set(tree: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    _get(tree, path[:-1])[path[-1]] = value
    return tree


def _leaves(tree: Any) -> list:
    """The strings and numbers of a config, plus its keys: plausible replacements."""
    out = []
    for path in _paths(tree):
        node = _get(tree, path)
        if path and isinstance(path[-1], str):
            out.append(path[-1])
        if not isinstance(node, dict | list):
            out.append(node)
    return sorted(set(map(json.dumps, out)))


MUTATIONS = ["delete", "replace", "own", "duplicate", "rename", "wrap", "deep", "swap", "text"]


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` after one to four structural mutations."""
    tree = copy.deepcopy(base)
    own = [json.loads(x) for x in _leaves(base)]
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3, 4]))):
        paths = [p for p in _paths(tree) if not isinstance(_get(tree, p), Deep)]
        if not paths:  # the whole config is a deep nest
            break
        path = draw(st.sampled_from(paths))
        node = _get(tree, path)
        parent = _get(tree, path[:-1]) if path else None
        how = draw(st.sampled_from(MUTATIONS))
        if how == "delete" and path:
            del parent[path[-1]]
        elif how == "replace":
            tree = _set(tree, path, draw(_values))
        elif how == "own":
            tree = _set(tree, path, copy.deepcopy(draw(st.sampled_from(own))))
        elif how == "duplicate" and isinstance(parent, dict):
            key = draw(st.sampled_from([x for x in own if isinstance(x, str)] or ["k"]))
            parent[key] = copy.deepcopy(node)
        elif how == "duplicate" and isinstance(parent, list):
            parent.insert(path[-1], copy.deepcopy(node))
        elif how == "rename" and isinstance(parent, dict):
            key = draw(
                st.text(st.characters(exclude_categories=()), max_size=8)
                | st.sampled_from(STRANGE_STRINGS)
            )
            parent[key] = parent.pop(path[-1])
        elif how == "wrap":
            tree = _set(
                tree, path, [node] if draw(st.booleans()) else {draw(st.text(max_size=4)): node}
            )
        elif how == "deep":
            depth = draw(st.sampled_from([30, 200, 1_000, 5_000, 100_000]))
            tree = _set(tree, path, Deep(depth, draw(st.sampled_from(["list", "dict"]))))
        elif how == "swap":
            if isinstance(node, dict):
                swapped: Any = list(node.values()) if draw(st.booleans()) else list(node.items())
            elif isinstance(node, list):
                swapped = {str(i): v for i, v in enumerate(node)}
            elif isinstance(node, str):
                swapped = [node]
            elif node is None:
                swapped = {}
            else:
                swapped = str(node)
            tree = _set(tree, path, swapped)
        elif how == "text":
            noise = draw(st.text(st.characters(exclude_categories=()), min_size=1, max_size=6))
            if isinstance(node, str):
                at = draw(st.integers(0, len(node)))
                tree = _set(tree, path, node[:at] + noise + node[at:])
            else:
                tree = _set(tree, path, noise)
    return tree


def _python(tree: Any) -> Any:
    if isinstance(tree, Deep):
        return tree.python()
    if isinstance(tree, dict):
        return {k: _python(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_python(v) for v in tree]
    return tree


def _with_placeholders(tree: Any, deep: list[Deep]) -> Any:
    if isinstance(tree, Deep):
        deep.append(tree)
        return f"DEEP{len(deep) - 1}PLACEHOLDER"
    if isinstance(tree, dict):
        return {k: _with_placeholders(v, deep) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_with_placeholders(v, deep) for v in tree]
    return tree


def _text(tree: Any, form: str) -> str:
    """``tree`` as JSON or YAML text (deep nests written by hand)."""
    deep: list[Deep] = []
    plain = _with_placeholders(tree, deep)
    text = json.dumps(plain) if form == "json" else yaml.safe_dump(plain, allow_unicode=False)
    for i, d in enumerate(deep):
        for quoted in (f'"DEEP{i}PLACEHOLDER"', f"'DEEP{i}PLACEHOLDER'", f"DEEP{i}PLACEHOLDER"):
            text = text.replace(quoted, d.text())
    return text


FORMS = ["dict", "json", "yaml", "json_file", "yaml_file", "garbled_file"]


@st.composite
def given_as(draw: st.DrawFn, tree: Any, folder_key: str = "cfg") -> tuple[str, Any]:
    """How a config is handed over: (form, a dict / text / a file name to write)."""
    form = draw(st.sampled_from(FORMS))
    if form == "dict":
        return form, _python(tree)
    try:
        text = _text(tree, "yaml" if "yaml" in form else "json")
    except (ValueError, TypeError, RecursionError, yaml.YAMLError):  # the writer's limits
        return "dict", _python(tree)
    if form in ("json", "yaml"):
        return form, text
    data = text.encode("utf-8", "surrogatepass")
    if form == "garbled_file" and data:
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["truncate", "flip", "insert"]))
        if how == "truncate":
            data = data[:at]
        elif how == "flip":
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        else:
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    suffix = ".yaml" if "yaml" in form else ".json"
    return form, (f"{folder_key}{suffix}", data)


def _materialise(given: tuple[str, Any], folder: Path) -> Any:
    form, value = given
    if form.endswith("_file"):
        name, data = value
        path = folder / name
        path.write_bytes(data)
        return path
    return value


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict[str, Any]:
    """A simulated raw file, its dsp file (hpge-full) and the base configs."""
    root = tmp_path_factory.mktemp("fuzzrun")
    raw = sim.simulate_run(root, n_events=6, channels=2, seed=13, compression=False).raw_files[0]
    dsp = root / "base_dsp.lh5"
    full = json.loads(config_path("hpge-full").read_text())
    full["processors"]["t_sat_hi"] = "wf_max * 0"  # a column the shipped hit config reads
    build_dsp(raw, dsp, {**full, "outputs": [*full["outputs"], "t_sat_hi"]}, progress=False)
    channel = sorted(sim.default_channels(2), key=lambda c: c.rawid)[0]
    pipeline = {
        "raw": str(Path(raw).parent / "*.lh5"),
        "outdir": "OUTDIR",
        "tables": "ch*/raw",
        "dsp": {
            "config": "hpge-simple",
            "database": {f"ch{channel.rawid}": {"pz": {"tau": "400*us"}}},
        },
        "hit": {"config": None, "parameters": None},
        "calibration": {
            "energy": "trapTmax",
            "output": "trapTmax_cal",
            "run_type": "cal",
            "deg": 1,
            "plots": False,
        },
        "processes": None,
        "buffer_len": 3200,
    }
    return {
        "root": root,
        "raw": raw,
        "dsp": dsp,
        "dsp_configs": {
            n: json.loads(config_path(n).read_text()) for n in ("hpge-simple", "hpge-full")
        },
        "database": {f"ch{channel.rawid}": {"pz": {"tau": "480*us"}, "ttrap": {"rise": "8*us"}}},
        "hit_config": json.loads(HIT_CONFIG.read_text()),
        "hit_parameters": {
            f"ch{channel.rawid}": {"cuspEmax_ctc_cal": {"parameters": {"a": 0.1, "b": 0.2}}},
            "*": {"trapTmax_cal": {"parameters": {"b": 0.15}}},
        },
        "pipeline": pipeline,
    }


def _case_folder(run: dict[str, Any]) -> Path:
    folder = run["root"] / f"case-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


def _expect_result_or_tierflow_error(
    work: Any, folder: Path, output: Path, inputs: set[str]
) -> str:
    """Run ``work()``: a TierflowError leaves nothing but the inputs in ``folder``; a result
    writes ``output``. Any other exception fails the test, and so does a
    :class:`~tierflow.errors.TaskError` (the wrapper of an exception a worker raised that is
    not a tierflow error)."""
    try:
        work()
    except TaskError as err:
        raise AssertionError(f"an exception that is not a tierflow error in a task: {err}") from err
    except TierflowError:
        left = set(os.listdir(folder)) - inputs
        assert not left, f"a failed run left {sorted(left)}"
        return "error"
    assert output.exists()
    return "ok"


def dsp_case(run: dict[str, Any], config: tuple, database: tuple) -> str:
    """build_dsp with a mutated config and database."""
    folder = _case_folder(run)
    try:
        cfg = _materialise(config, folder)
        db = _materialise(database, folder)
        out = folder / "out_dsp.lh5"
        return _expect_result_or_tierflow_error(
            lambda: build_dsp(run["raw"], out, cfg, database=db, progress=False),
            folder,
            out,
            set(os.listdir(folder)),
        )
    finally:
        shutil.rmtree(folder)


def hit_case(run: dict[str, Any], config: tuple, parameters: tuple) -> str:
    """build_hit with a mutated config and parameters."""
    folder = _case_folder(run)
    try:
        cfg = _materialise(config, folder)
        pars = _materialise(parameters, folder)
        out = folder / "out_hit.lh5"
        return _expect_result_or_tierflow_error(
            lambda: build_hit(run["dsp"], out, cfg, parameters=pars),
            folder,
            out,
            set(os.listdir(folder)),
        )
    finally:
        shutil.rmtree(folder)


def pipeline_case(run: dict[str, Any], config: tuple) -> str:
    """A mutated pipeline config: loading, its raw files and its cross-checks."""
    folder = _case_folder(run)
    try:
        form, value = config
        outdir = str(folder / "out")
        if form == "dict" and isinstance(value, dict) and value.get("outdir") == "OUTDIR":
            value = {**value, "outdir": outdir}
        elif form in ("json", "yaml"):
            value = value.replace("OUTDIR", outdir)
        cfg_source = _materialise((form, value), folder)
        if form in ("json", "yaml"):  # a pipeline config is a dict or a file
            cfg_source = folder / f"pipeline.{form}"
            cfg_source.write_bytes(value.encode("utf-8", "surrogatepass"))
        inputs = set(os.listdir(folder))

        def work() -> None:
            pipe = Pipeline(PipelineConfig.load(cfg_source))
            pipe.cycles()
            pipe.check()

        try:
            work()
        except TierflowError:
            left = set(os.listdir(folder)) - inputs
            assert not left, f"a failed check left {sorted(left)}"
            return "error"
        return "ok"
    finally:
        shutil.rmtree(folder)


def _settings(target: str) -> settings:
    return settings(
        max_examples=EXAMPLES[target],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def dsp_inputs(run: dict[str, Any]) -> st.SearchStrategy:
    configs = st.sampled_from(sorted(run["dsp_configs"])).flatmap(
        lambda name: mutated(run["dsp_configs"][name])
    )
    database = st.one_of(st.just(run["database"]), mutated(run["database"]))
    return st.tuples(
        configs.flatmap(lambda c: given_as(c, "dsp")),
        database.flatmap(lambda d: given_as(d, "database")),
    )


def hit_inputs(run: dict[str, Any]) -> st.SearchStrategy:
    config = st.one_of(mutated(run["hit_config"]), st.just(run["hit_config"]))
    parameters = st.one_of(st.just(run["hit_parameters"]), mutated(run["hit_parameters"]))
    return st.tuples(
        config.flatmap(lambda c: given_as(c, "hit")),
        parameters.flatmap(lambda p: given_as(p, "parameters")),
    )


def pipeline_inputs(run: dict[str, Any]) -> st.SearchStrategy:
    return mutated(run["pipeline"]).flatmap(lambda c: given_as(c, "pipeline"))


def test_mutated_dsp_configs_give_a_result_or_a_tierflow_error(run):
    @_settings("dsp")
    @given(dsp_inputs(run))
    def check_case(case):
        dsp_case(run, *case)

    check_case()


def test_mutated_hit_configs_give_a_result_or_a_tierflow_error(run):
    @_settings("hit")
    @given(hit_inputs(run))
    def check_case(case):
        hit_case(run, *case)

    check_case()


def test_mutated_pipeline_configs_give_a_result_or_a_tierflow_error(run):
    @_settings("pipeline")
    @given(pipeline_inputs(run))
    def check_case(case):
        pipeline_case(run, case)

    check_case()

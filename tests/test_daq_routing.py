"""The routing config (out_spec) of build_raw: legend-daq2lh5's format, expansion and every
kind of bad input, refused before decoding."""

from __future__ import annotations

import json

import pytest
import yaml

from tierflow.daq.routing import Router, load_out_spec, short_name
from tierflow.errors import RoutingError

KEY_LISTS = {
    "FCEventDecoder": [[1000000, 1000001, 1000002, 1000100]],
    "FCConfigDecoder": [["fcid_0/config"]],
    "FCStatusDecoder": [["fcid_0/status/card1", "fcid_0/status/card2"]],
    "LLAMAEventDecoder": [[0], [4]],
    "ORRunDecoderForRun": [[]],
}


def where(router, decoder, key):
    target = router.target(decoder, key)
    return None if target is None else (target.file, target.path)


def test_default_routing_names_tables_as_daq2lh5():
    router = Router(None, KEY_LISTS, {}, "run.lh5")
    assert where(router, "FCEventDecoder", 1000001) == ("run.lh5", "FCEvent")
    assert where(router, "FCConfigDecoder", "fcid_0/config") == ("run.lh5", "FCConfig")
    assert where(router, "LLAMAEventDecoder", 0) == ("run.lh5", "LLAMAEvent_0")
    assert where(router, "LLAMAEventDecoder", 4) == ("run.lh5", "LLAMAEvent_4")
    assert where(router, "ORRunDecoderForRun", None) == ("run.lh5", "ORRunDecoderForRun")
    assert router.out_files() == ["run.lh5"]


def test_default_routing_numbers_key_lists_of_several_keys():
    router = Router(None, {"ORSIS3316WaveformDecoder": [[1, 2], [3]]}, {}, "o.lh5")
    assert where(router, "ORSIS3316WaveformDecoder", 2) == ("o.lh5", "ORSIS3316Waveform_0")
    assert where(router, "ORSIS3316WaveformDecoder", 3) == ("o.lh5", "ORSIS3316Waveform_3")


def test_output_file_with_group():
    router = Router(None, KEY_LISTS, {}, "run.lh5:/raw")
    assert where(router, "FCEventDecoder", 1000000) == ("run.lh5", "raw/FCEvent")


def test_ranges_keys_and_key_formatting():
    config = {
        "FCEventDecoder": {
            "ch{key:07d}/raw": {"key_list": [[1000000, 1000001]], "out_stream": "geds.lh5"},
            "puls": {"key_list": [1000100], "out_stream": "aux.lh5:/aux"},
        }
    }
    router = Router(config, KEY_LISTS, {})
    assert where(router, "FCEventDecoder", 1000000) == ("geds.lh5", "ch1000000/raw")
    assert where(router, "FCEventDecoder", 1000001) == ("geds.lh5", "ch1000001/raw")
    assert where(router, "FCEventDecoder", 1000100) == ("aux.lh5", "aux/puls")
    assert router.target("FCEventDecoder", 1000002) is None  # in no key_list: not written
    assert router.target("FCConfigDecoder", "fcid_0/config") is None  # decoder not named


def test_range_spans_keys_the_stream_lacks():
    config = {"FCEventDecoder": {"geds": {"key_list": [[999990, 1000001]], "out_stream": "g.lh5"}}}
    router = Router(config, KEY_LISTS, {})
    assert where(router, "FCEventDecoder", 1000000) == ("g.lh5", "geds")
    assert router.target("FCEventDecoder", 1000002) is None


def test_wildcard_takes_the_rest_and_globs_match_string_keys():
    config = {
        "FCEventDecoder": {
            "puls": {"key_list": [1000100], "out_stream": "o.lh5"},
            "ch{key}": {"key_list": ["*"], "out_stream": "o.lh5"},
        },
        "FCStatusDecoder": {"{key}": {"key_list": ["fcid_0/status/card*"], "out_stream": "o.lh5"}},
    }
    router = Router(config, KEY_LISTS, {})
    assert where(router, "FCEventDecoder", 1000100) == ("o.lh5", "puls")
    assert where(router, "FCEventDecoder", 1000002) == ("o.lh5", "ch1000002")
    assert where(router, "FCEventDecoder", 5) == ("o.lh5", "ch5")  # a key found while decoding
    assert where(router, "FCStatusDecoder", "fcid_0/status/card2") == (
        "o.lh5",
        "fcid_0/status/card2",
    )


def test_integer_glob_on_int_keys_formats_as_int():
    config = {"FCEventDecoder": {"ch{key:07d}": {"key_list": ["100000*"], "out_stream": "o.lh5"}}}
    router = Router(config, KEY_LISTS, {})
    assert where(router, "FCEventDecoder", 1000002) == ("o.lh5", "ch1000002")
    assert router.target("FCEventDecoder", 1000100) is None


def test_star_decoder_name_and_out_stream_placeholders(monkeypatch):
    monkeypatch.setenv("TF_DATADIR", "/data/raw")
    config = {
        "FCEventDecoder": {
            "geds": {"key_list": ["*"], "out_stream": "$TF_DATADIR/{filekey}_{name}.lh5:/x"}
        },
        "*": {"{name}": {"key_list": ["*"], "out_stream": "$TF_DATADIR/{filekey}_{name}.lh5"}},
    }
    router = Router(config, KEY_LISTS, {"filekey": "l200-r001"})
    assert where(router, "FCEventDecoder", 1000000) == ("/data/raw/l200-r001_geds.lh5", "x/geds")
    assert where(router, "FCConfigDecoder", "fcid_0/config") == (
        "/data/raw/l200-r001_FCConfig.lh5",
        "FCConfig",
    )
    assert where(router, "LLAMAEventDecoder", 4) == (
        "/data/raw/l200-r001_LLAMAEvent.lh5",
        "LLAMAEvent_4",
    )


def test_key_placeholder_in_out_stream_of_a_table_per_key():
    config = {"FCEventDecoder": {"ch{key}": {"key_list": ["*"], "out_stream": "ch{key}.lh5"}}}
    router = Router(config, KEY_LISTS, {})
    assert where(router, "FCEventDecoder", 1000001) == ("ch1000001.lh5", "ch1000001")


def test_empty_key_list_takes_no_key():
    config = {
        "FCEventDecoder": {
            "spms": {"key_list": [], "out_stream": "s.lh5"},
            "geds": {"key_list": ["*"], "out_stream": "g_{name}.lh5", "out_name": "raw"},
        }
    }
    router = Router(config, KEY_LISTS, {})
    assert where(router, "FCEventDecoder", 1000000) == ("g_geds.lh5", "raw")
    assert router.out_files() == ["g_geds.lh5"]


def test_out_name_overrides_and_empty_out_stream_discards():
    config = {
        "FCEventDecoder": {"a": {"key_list": ["*"], "out_stream": "o.lh5", "out_name": "b/raw"}},
        "FCConfigDecoder": {"cfg": {"key_list": ["*"]}},
    }
    router = Router(config, KEY_LISTS, {})
    assert where(router, "FCEventDecoder", 1000000) == ("o.lh5", "b/raw")
    assert where(router, "FCConfigDecoder", "fcid_0/config") == ("", "cfg")
    assert router.out_files() == ["o.lh5"]


def test_config_from_json_and_yaml_files_and_output_file_names(tmp_path):
    config = {"FCEventDecoder": {"geds": {"key_list": ["*"], "out_stream": "o.lh5"}}}
    (tmp_path / "r.json").write_text(json.dumps(config))
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(config))
    assert load_out_spec(str(tmp_path / "r.json")) == config
    assert load_out_spec(tmp_path / "r.yaml") == config
    assert load_out_spec(config) == config
    assert load_out_spec("out.lh5") is None
    assert load_out_spec(None) is None
    assert short_name("FCEventDecoder") == "FCEvent"


BAD = [
    ({"NoSuchDecoder": {"t": {"key_list": ["*"]}}}, "'NoSuchDecoder' is not in this stream"),
    ({"FCEventDecoder": {"t": {"key_list": [123]}}}, "key 123 is not in this stream"),
    ({"FCEventDecoder": {"t": {"key_list": [[5, 9]]}}}, "no key of this stream is in the range"),
    ({"FCEventDecoder": {"t": {"key_list": [[9, 5]]}}}, "is empty"),
    ({"FCEventDecoder": {"t": {"key_list": [[1, 2, 3]]}}}, "neither a key"),
    ({"FCStatusDecoder": {"t": {"key_list": ["x*"]}}}, "matches no key"),
    ({"FCEventDecoder": {"t": {"out_stream": "o.lh5"}}}, "key_list is missing"),
    ({"FCEventDecoder": {"t": {"key_list": "*"}}}, "is a list of keys"),
    ({"FCEventDecoder": {"t": {"key_list": [True]}}}, "is not a key"),
    ({"FCEventDecoder": {"t": {"key_list": ["*", "*"]}}}, "appears twice"),
    ({"FCEventDecoder": {"t": {"key_list": ["*"], "outstream": "o"}}}, "unknown field 'outstream'"),
    ({"FCEventDecoder": {"t": {"key_list": ["*"], "out_stream": 3}}}, "out_stream is text"),
    ({"FCEventDecoder": {"": {"key_list": ["*"]}}}, "non-empty text"),
    ({"FCEventDecoder": {"t": ["*"]}}, "expected a mapping"),
    ({"FCEventDecoder": []}, "expected a mapping of table names"),
    ({}, "empty"),
    (
        {"FCEventDecoder": {"a": {"key_list": ["*"]}, "b": {"key_list": ["*"]}}},
        "one table takes the rest",
    ),
    (
        {"FCEventDecoder": {"a": {"key_list": [1000000]}, "b": {"key_list": [[1000000, 1000001]]}}},
        "is in the key_list of both",
    ),
    (
        {"FCEventDecoder": {"t": {"key_list": ["*"], "out_stream": "{filekey}.lh5"}}},
        "uses {filekey}, which is not given",
    ),
    (
        {"FCEventDecoder": {"t": {"key_list": ["*"], "out_stream": "$TF_NOT_SET_X/o.lh5"}}},
        "TF_NOT_SET_X, which is not set",
    ),
    (
        {"FCEventDecoder": {"t": {"key_list": ["*"], "out_stream": "{key}.lh5"}}},
        "{key} needs a table of one key",
    ),
    (
        {"FCConfigDecoder": {"ch{key:07d}": {"key_list": ["*"], "out_stream": "o.lh5"}}},
        "does not fit the format",
    ),
    (
        {
            "FCEventDecoder": {"same": {"key_list": ["*"], "out_stream": "o.lh5"}},
            "FCConfigDecoder": {"same": {"key_list": ["*"], "out_stream": "o.lh5"}},
        },
        "would both write same",
    ),
    (
        {"*": {"a": {"key_list": ["*"]}, "b": {"key_list": ["*"]}}},
        "'*' takes one table pattern",
    ),
    (
        {"FCEventDecoder": {"t": {"key_list": ["*"], "proc_spec": {"dsp_config": {}}}}},
        "dsp_config",
    ),
    (
        {"FCEventDecoder": {"t": {"key_list": ["*"], "proc_spec": {"windw": []}}}},
        "unknown proc_spec step 'windw'",
    ),
    (
        {"FCEventDecoder": {"t": {"key_list": ["*"], "proc_spec": {"window": ["wf", 1, 2]}}}},
        "[column, start, stop, new_name]",
    ),
    (
        {"FCEventDecoder": {"t": {"key_list": ["*"], "proc_spec": {"dtype_conv": {"a": "nope"}}}}},
        "not a numpy dtype",
    ),
    (
        {
            "FCEventDecoder": {
                "t": {"key_list": ["*"], "proc_spec": {"compression": {"a": "Zip()"}}}
            }
        },
        "unknown codec class Zip",
    ),
    (
        {
            "FCEventDecoder": {
                "t": {"key_list": ["*"], "proc_spec": {"compression": {"a": "brotli"}}}
            }
        },
        "neither a waveform codec",
    ),
    (
        {"FCEventDecoder": {"t": {"key_list": ["*"], "proc_spec": {"drop": "waveform"}}}},
        "list of column names",
    ),
    (
        {"FCEventDecoder": {"t": {"key_list": ["*"], "proc_spec": {"hdf5_settings": {"a": 1}}}}},
        "mapping of h5py settings",
    ),
]


@pytest.mark.parametrize(("config", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_routing_configs_are_refused_naming_the_fault(config, message, monkeypatch):
    monkeypatch.delenv("TF_NOT_SET_X", raising=False)
    with pytest.raises(RoutingError) as err:
        Router(config, KEY_LISTS, {})
    assert message in str(err.value)


def test_unknown_decoder_error_lists_the_stream_decoders():
    with pytest.raises(RoutingError) as err:
        Router({"FCEvntDecoder": {"t": {"key_list": ["*"]}}}, KEY_LISTS, {})
    assert "FCEventDecoder" in str(err.value) and "LLAMAEventDecoder" in str(err.value)


def test_unknown_key_error_lists_the_keys():
    with pytest.raises(RoutingError) as err:
        Router({"FCEventDecoder": {"t": {"key_list": [7]}}}, KEY_LISTS, {})
    assert "1000000" in str(err.value) and "1000100" in str(err.value)


@pytest.mark.parametrize(
    ("out_spec", "message"),
    [(42, "not int"), ("  ", "empty file name"), ("missing.json", "cannot read")],
)
def test_bad_out_spec_values(out_spec, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RoutingError) as err:
        load_out_spec(out_spec)
    assert message in str(err.value)


def test_config_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(RoutingError) as err:
        load_out_spec(str(path))
    assert str(path) in str(err.value) and "not a mapping" in str(err.value)


ORACLE_CONFIGS = [
    {
        "FCEventDecoder": {
            "ch{key:07d}/raw": {
                "key_list": [[1000000, 1000001], 1000100],
                "out_stream": "$TF_ORACLE_DIR/{filekey}_{name}.lh5:/geds",
            },
            "puls": {"key_list": [1000002], "out_stream": "{filekey}_{key}.lh5", "out_name": "p"},
        }
    },
    {
        "FCEventDecoder": {
            "geds": {"key_list": [[1000000, 1000002]], "out_stream": "{filekey}.lh5"}
        },
        "FCStatusDecoder": {
            "{key}": {"key_list": ["fcid_0/status/card1"], "out_stream": "{filekey}:/st"}
        },
    },
]


@pytest.mark.parametrize("config", ORACLE_CONFIGS)
def test_expansion_matches_legend_daq2lh5(config, monkeypatch):
    """Tables, files and groups of explicit keys as legend-daq2lh5's RawBufferLibrary gives."""
    import copy

    from daq2lh5.raw_buffer import RawBufferLibrary

    monkeypatch.setenv("TF_ORACLE_DIR", "/data/raw")
    theirs = RawBufferLibrary(config=copy.deepcopy(config), kw_dict={"filekey": "r1"})
    router = Router(config, KEY_LISTS, {"filekey": "r1"})
    n = 0
    for decoder, buffers in theirs.items():
        for rb in buffers:
            file, _, group = rb.out_stream.partition(":")
            path = "/".join(p for p in (*group.split("/"), *rb.out_name.split("/")) if p)
            for key in rb.key_list:
                assert where(router, decoder, key) == (file, path)
                n += 1
    assert n >= 4

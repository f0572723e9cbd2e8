"""Specification of our layer-list YAML: round trip, and errors that name the file and field."""

from __future__ import annotations

import pytest

from coexplore.workload import Layer, Workload, WorkloadFileError, dump_yaml, load_yaml, resolve


def test_round_trip_keeps_every_field(tmp_path):
    wl = Workload("net", (Layer("a", c=3, k=8, h=9, w=7, r=3, s=2, stride=2, padding=1),
                          Layer("b", kind="linear", c=10, k=4, n=6),
                          Layer("dw", c=8, k=8, h=5, w=5, r=3, s=3, groups=8)))
    dump_yaml(wl, tmp_path / "net.yaml", comment="source: a test")
    assert load_yaml(tmp_path / "net.yaml") == wl
    assert (tmp_path / "net.yaml").read_text().startswith("# source: a test\n")


def test_missing_fields_take_layer_defaults(tmp_path):
    (tmp_path / "w.yaml").write_text("- {name: fc, kind: linear, c: 4, k: 2}\n")
    wl = load_yaml(tmp_path / "w.yaml")
    assert wl.name == "w" and wl.layers[0] == Layer("fc", kind="linear", c=4, k=2)


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("layers:\n- {name: a, c: 4}\n- {name: b, channels: 4}\n",
                 r"w\.yaml: layers\[1\]: unknown field\(s\) channels; allowed: name, kind, c",
                 id="unknown_field_names_file_layer_and_allowed_fields"),
    pytest.param("layers:\n- {name: a, c: four}\n", r"layers\[0\]\.c: must be an integer",
                 id="non_integer_field_is_named"),
    pytest.param("layers:\n- {name: a, kind: pool}\n", "conv, linear, matmul",
                 id="bad_kind_lists_the_kinds"),
    pytest.param("layers:\n- {name: a, c: 6, k: 4, groups: 4}\n",
                 r"layers\[0\]: .*groups=4 must divide c=6", id="inconsistent_shape_reports_the_layer"),
    pytest.param("layers:\n- {name: a}\n- {name: a}\n", r"layers\[1\]\.name 'a' repeats layers\[0\]",
                 id="repeated_layer_name_points_at_both_entries"),
])
def test_invalid_file_error_names_the_place_and_what_is_allowed(tmp_path, text, message):
    (tmp_path / "w.yaml").write_text(text)
    with pytest.raises(WorkloadFileError, match=message):
        load_yaml(tmp_path / "w.yaml")


def test_resolve_reads_a_yaml_path(tmp_path):
    (tmp_path / "w.yml").write_text("name: mine\nlayers:\n- {name: a, c: 4, k: 4}\n")
    assert resolve(str(tmp_path / "w.yml")).name == "mine"

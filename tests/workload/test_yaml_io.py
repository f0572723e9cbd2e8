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


def test_unknown_field_names_file_layer_and_allowed_fields(tmp_path):
    (tmp_path / "w.yaml").write_text("layers:\n- {name: a, c: 4}\n- {name: b, channels: 4}\n")
    with pytest.raises(WorkloadFileError, match=r"w\.yaml: layers\[1\]: unknown field\(s\) "
                                                r"channels; allowed: name, kind, c"):
        load_yaml(tmp_path / "w.yaml")


def test_non_integer_field_is_named(tmp_path):
    (tmp_path / "w.yaml").write_text("layers:\n- {name: a, c: four}\n")
    with pytest.raises(WorkloadFileError, match=r"layers\[0\]\.c: must be an integer"):
        load_yaml(tmp_path / "w.yaml")


def test_bad_kind_lists_the_kinds(tmp_path):
    (tmp_path / "w.yaml").write_text("layers:\n- {name: a, kind: pool}\n")
    with pytest.raises(WorkloadFileError, match="conv, linear, matmul"):
        load_yaml(tmp_path / "w.yaml")


def test_inconsistent_shape_reports_the_layer(tmp_path):
    (tmp_path / "w.yaml").write_text("layers:\n- {name: a, c: 6, k: 4, groups: 4}\n")
    with pytest.raises(WorkloadFileError, match=r"layers\[0\]: .*groups=4 must divide c=6"):
        load_yaml(tmp_path / "w.yaml")


def test_repeated_layer_name_points_at_both_entries(tmp_path):
    (tmp_path / "w.yaml").write_text("layers:\n- {name: a}\n- {name: a}\n")
    with pytest.raises(WorkloadFileError, match=r"layers\[1\]\.name 'a' repeats layers\[0\]"):
        load_yaml(tmp_path / "w.yaml")


def test_resolve_reads_a_yaml_path(tmp_path):
    (tmp_path / "w.yml").write_text("name: mine\nlayers:\n- {name: a, c: 4, k: 4}\n")
    assert resolve(str(tmp_path / "w.yml")).name == "mine"

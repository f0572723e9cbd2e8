"""Specification of SCALE-Sim topology import/export, including its ceil output rounding."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from coexplore.workload import (
    Layer,
    Workload,
    WorkloadFileError,
    from_scalesim_csv,
    resolve,
    to_scalesim_csv,
    zoo,
)

HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"


def write(tmp_path, *rows: str, header: str = HEADER):
    path = tmp_path / "topo.csv"
    path.write_text(header + "".join(row + "\n" for row in rows))
    return path


def test_export_writes_the_scalesim_header_and_trailing_commas(tmp_path):
    to_scalesim_csv(zoo.get("resnet18"), tmp_path / "r18.csv")
    lines = (tmp_path / "r18.csv").read_text().splitlines()
    assert lines[0] == HEADER.strip()
    assert lines[1] == "conv1, 229, 229, 7, 7, 3, 64, 2,"
    assert len(lines) == 22 and all(line.endswith(",") for line in lines)


def test_zoo_round_trip_keeps_output_sizes_and_macs(tmp_path):
    for name in zoo.names():
        wl = zoo.get(name)
        to_scalesim_csv(wl, tmp_path / f"{name}.csv")
        back = from_scalesim_csv(tmp_path / f"{name}.csv")
        assert back.layer_names == wl.layer_names
        for a, b in zip(wl.layers, back.layers):
            assert (a.p, a.q, a.macs, a.r, a.s, a.stride) == (b.p, b.q, b.macs, b.r, b.s, b.stride)


def test_export_of_an_import_is_identical(tmp_path):
    to_scalesim_csv(zoo.get("resnet50"), tmp_path / "a.csv")
    to_scalesim_csv(from_scalesim_csv(tmp_path / "a.csv"), tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_scalesim_rounding_reproduces_its_ceil_output_size(tmp_path):
    # 230 = 224 + 2 * 3 padding, 7x7 stride 2: SCALE-Sim simulates ceil(225 / 2) = 113 rows
    layer = from_scalesim_csv(write(tmp_path, "conv1, 230, 230, 7, 7, 3, 64, 2,")).layers[0]
    assert (layer.p, layer.q, layer.padding) == (113, 113, 0)


def test_floor_rounding_reads_the_row_as_pytorch_would(tmp_path):
    path = write(tmp_path, "conv1, 230, 230, 7, 7, 3, 64, 2,")
    layer = from_scalesim_csv(path, output_rounding="floor").layers[0]
    assert (layer.p, layer.q, layer.h) == (112, 112, 230)


def test_roundings_agree_when_the_stride_divides(tmp_path):
    path = write(tmp_path, "c, 58, 58, 3, 3, 64, 64, 1,")
    assert from_scalesim_csv(path).layers == from_scalesim_csv(path, output_rounding="floor").layers


def test_grouped_conv_exports_channels_per_group_keeping_macs(tmp_path):
    dw = Layer("dw", c=32, k=32, h=16, w=16, r=3, s=3, padding=1, groups=32)
    to_scalesim_csv(Workload("m", (dw,)), tmp_path / "m.csv")
    back = from_scalesim_csv(tmp_path / "m.csv").layers[0]
    assert back.c == 1 and back.groups == 1 and back.macs == dw.macs


def test_linear_with_batch_exports_batch_as_ifmap_rows(tmp_path):
    fc = Layer("fc", kind="linear", c=512, k=1000, n=4)
    to_scalesim_csv(Workload("m", (fc,)), tmp_path / "m.csv")
    assert (tmp_path / "m.csv").read_text().splitlines()[1] == "fc, 4, 1, 1, 1, 512, 1000, 1,"
    assert from_scalesim_csv(tmp_path / "m.csv").macs == fc.macs


def test_batched_conv_cannot_be_exported(tmp_path):
    conv = Layer("c", c=3, k=8, h=8, w=8, r=3, s=3, n=2)
    with pytest.raises(ValueError, match="no batch dimension"):
        to_scalesim_csv(Workload("m", (conv,)), tmp_path / "m.csv")


def test_names_containing_dp_are_refused_on_export(tmp_path):
    with pytest.raises(ValueError, match="depthwise"):
        to_scalesim_csv(Workload("m", (Layer("convDP1", c=4, k=4),)), tmp_path / "m.csv")


def test_sparsity_column_one_to_one_is_accepted(tmp_path):
    assert len(from_scalesim_csv(write(tmp_path, "a, 8, 8, 3, 3, 4, 4, 1, 1:1,"))) == 1


def test_non_integer_cell_names_file_line_and_column(tmp_path):
    path = write(tmp_path, "a, 8, 8, 3, 3, 4, 4, 1,", "b, 8, 8, 3, x3, 4, 4, 1,")
    with pytest.raises(WorkloadFileError,
                       match=r"topo\.csv: line 3, column 5 \(Filter Width\): 'x3' is not an integer"):
        from_scalesim_csv(path)


def test_wrong_column_count_names_the_line(tmp_path):
    with pytest.raises(WorkloadFileError, match=r"line 2: 6 columns, expected 8"):
        from_scalesim_csv(write(tmp_path, "a, 8, 8, 3, 3, 4,"))


def test_filter_larger_than_ifmap_names_the_column(tmp_path):
    with pytest.raises(WorkloadFileError, match=r"line 2, column 4 \(Filter Height\): filter 5 "
                                                r"larger than the IFMAP 4"):
        from_scalesim_csv(write(tmp_path, "a, 4, 8, 5, 3, 4, 4, 1,"))


def test_zero_value_is_refused(tmp_path):
    with pytest.raises(WorkloadFileError, match=r"column 8 \(Strides\): must be >= 1, got 0"):
        from_scalesim_csv(write(tmp_path, "a, 8, 8, 3, 3, 4, 4, 0,"))


def test_repeated_layer_name_points_at_the_first_line(tmp_path):
    path = write(tmp_path, "a, 8, 8, 3, 3, 4, 4, 1,", "a, 8, 8, 3, 3, 4, 4, 1,")
    with pytest.raises(WorkloadFileError, match=r"line 3, column 1 .*'a' repeats line 2"):
        from_scalesim_csv(path)


def test_header_only_file_is_refused(tmp_path):
    with pytest.raises(WorkloadFileError, match="no layer rows"):
        from_scalesim_csv(write(tmp_path))


def test_resolve_reads_a_csv_path(tmp_path):
    assert resolve(str(write(tmp_path, "a, 8, 8, 3, 3, 4, 4, 1,"))).layer_names == ["a"]


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), r=st.integers(1, 7), stride=st.integers(1, 4),
       padding=st.integers(0, 3), c=st.integers(1, 8), k=st.integers(1, 8))
def test_export_then_scalesim_ceil_equals_our_floor_output(tmp_path_factory, h, r, stride, padding,
                                                          c, k):
    assume(h + 2 * padding >= r)
    layer = Layer("x", c=c, k=k, h=h, w=h, r=r, s=r, stride=stride, padding=padding)
    path = tmp_path_factory.mktemp("p") / "x.csv"
    to_scalesim_csv(Workload("x", (layer,)), path)
    _, height, _, filt, _, _, _, st_ = (cell.strip() for cell in path.read_text().splitlines()[1].split(",")[:8])
    scalesim_p = -(-(int(height) - int(filt) + int(st_)) // int(st_))  # SCALE-Sim's ceil formula
    assert scalesim_p == layer.p


def test_dp_row_imports_as_scalesims_per_channel_depthwise(tmp_path):
    # SCALE-Sim expands a 'DP' row into `Channels` one-channel layers of `Num Filter` filters
    layer = from_scalesim_csv(write(tmp_path, "Conv2DP, 114, 114, 3, 3, 32, 1, 1,")).layers[0]
    assert (layer.c, layer.k, layer.groups) == (32, 32, 32)
    assert layer.macs == 32 * 112 * 112 * 9

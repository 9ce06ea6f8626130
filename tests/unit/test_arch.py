"""Arch presets, YAML files and overrides: validated, with one-line errors naming the field."""

from __future__ import annotations

import re

import pytest
import yaml

from nbperf.arch import load_arch, preset_names, preset_text
from nbperf.errors import ArchError

EXPECTED = {  # DESIGN.md section 6
    "vpu2.0": dict(tiles=4, macs=1280, fp16=0.25, mhz=700, cmx=896 * 1024, ddr=20),
    "npu3720": dict(tiles=2, macs=2048, fp16=0.5, mhz=1300, cmx=1936 * 1024, ddr=27),
    "npu4000": dict(tiles=6, macs=2048, fp16=0.5, mhz=1850, cmx=1440 * 1024, ddr=45),
    "npu4000-4k": dict(tiles=6, macs=4096, fp16=0.5, mhz=1850, cmx=1440 * 1024, ddr=45),
}


def test_presets_are_shipped():
    assert preset_names() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_presets_read_the_same_with_libyaml(name):
    """Presets parse with libyaml where PyYAML has it; user files with the pure-Python parser."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert yaml.load(preset_text(name), Loader=loader) == yaml.safe_load(preset_text(name))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_values_match_public_constants(name):
    arch, want = load_arch(name), EXPECTED[name]
    assert arch.name == name
    assert (arch.tiles, arch.dpu.macs_per_tile) == (want["tiles"], want["macs"])
    assert arch.dpu.fp16_rate == want["fp16"]
    assert arch.dpu.frequency_mhz == want["mhz"] and arch.cmx.bytes_per_tile == want["cmx"]
    assert arch.dma.ddr_bandwidth_gbps == want["ddr"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_number_in_a_preset_has_a_source_or_says_assumed(name):
    for line in preset_text(name).splitlines():
        if re.search(r":\s*-?[\d.]+\s*(#|$)", line) and not line.lstrip().startswith("-"):
            assert "#" in line, f"{name}: no source comment on {line.strip()!r}"


def test_overrides_change_fields():
    arch = load_arch("npu4000", ["dpu.macs_per_tile=4096", "cmx.bytes_per_tile=2097152", "tiles=2"])
    assert (arch.dpu.macs_per_tile, arch.cmx.bytes_per_tile, arch.tiles) == (4096, 2097152, 2)


def test_yaml_file_round_trip(tmp_path):
    data = yaml.safe_load(preset_text("npu3720"))
    data["name"] = "my-part"
    path = tmp_path / "part.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_arch(path).name == "my-part"


@pytest.mark.parametrize("override,message", [
    (["dpu.macs_per_tile=-1"], "dpu.macs_per_tile = -1: Input should be greater than or equal to 16 "
                               "(allowed: integer 16 .. 1048576)"),
    (["dpu.fp16_rate=0"], "dpu.fp16_rate = 0"),
    (["cmx.bytes_per_tile=lots"], "cmx.bytes_per_tile = 'lots': Input should be a valid integer"),
    (["dpu.macs_per_tle=8"], "dpu has no field 'macs_per_tle' (did you mean 'macs_per_tile'?)"),
    (["tiles"], "must look like section.field=value"),
    (["shave.cycles_per_element={elementwise: 1}"], "missing op class"),
])
def test_bad_overrides_name_the_field(override, message):
    with pytest.raises(ArchError) as err:
        load_arch("npu4000", override)
    assert message in err.value.message
    assert "\n" not in err.value.message


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(ArchError, match=r"unknown arch 'npu400' \(did you mean 'npu4000'\?\)"):
        load_arch("npu400")


def test_unknown_and_missing_fields_in_a_file(tmp_path):
    data = yaml.safe_load(preset_text("npu4000"))
    data["dma"]["ddr_bandwith_gbps"] = data["dma"].pop("ddr_bandwidth_gbps")
    del data["barriers"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ArchError) as err:
        load_arch(path)
    assert "missing field 'barriers'" in err.value.message
    assert "unknown field 'dma.ddr_bandwith_gbps' (did you mean 'ddr_bandwidth_gbps'?)" in err.value.message


def test_not_yaml_and_not_a_mapping(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("tiles: [1, 2\n")
    with pytest.raises(ArchError, match="is not valid YAML"):
        load_arch(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ArchError, match="must be a YAML mapping"):
        load_arch(scalar)
    with pytest.raises(ArchError, match="arch file not found"):
        load_arch(tmp_path / "absent.yaml")


def test_the_4k_what_if_differs_from_npu4000_only_in_its_macs():
    base, what_if = load_arch("npu4000").model_dump(), load_arch("npu4000-4k").model_dump()
    for arch in (base, what_if):
        arch.pop("name"), arch.pop("description")
        arch["dpu"].pop("macs_per_tile")
    assert base == what_if


def test_npu4000_dma_constants_come_from_one_vpunn_table():
    """VPUNN prices VPU 4.0 DMAs with its legacy table: 45 GB/s with 956 ns, 32 B per 975 MHz CMX
    cycle; the newer table pairs 136 GB/s with 300 ns (device_HW_characteristics_VPU4.h)."""
    dma = load_arch("npu4000").dma
    assert (dma.ddr_bandwidth_gbps, dma.ddr_latency_ns) == (45, 956)
    assert (dma.engine_width_bytes, dma.frequency_mhz) == (32, 975)


@pytest.mark.parametrize("name", ["npu3720", "npu4000"])
def test_every_cuboid_mode_computes_the_same_4x4x16_grid(name):
    modes = load_arch(name).dpu.mpe_modes
    assert {(m.block_w, m.block_h, m.block_k) for m in modes} == {(4, 4, 16)}
    assert len({tuple(m.read_grid) for m in modes}) == len(modes)  # they differ in CMX reuse only

"""Generate the corpus of hand-written broken inputs in this folder (run once; the outputs are committed).

    python tests/data/broken/make_corpus.py

Every file is tiny. tests/robustness/test_broken_corpus.py runs each through the CLI and checks
its one-line message and exit code; the table there says what each file is for.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml
from onnx import TensorProto, helper

HERE = Path(__file__).resolve().parent
PRESET = HERE.parents[2] / "src" / "nbperf" / "arch" / "presets" / "npu4000.yaml"
F = TensorProto.FLOAT


def weightless(name: str, dims: list[int]) -> TensorProto:
    """An initializer with dims only; its data would be in weights.bin, which does not exist."""
    t = TensorProto(name=name, data_type=F, dims=dims, data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", "0")):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def model(nodes, inputs, outputs, inits=(), value_info=(), extra_opsets=()) -> bytes:
    graph = helper.make_graph(
        nodes, "broken", [helper.make_tensor_value_info(n, F, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, F, s) for n, s in outputs], list(inits),
        value_info=[helper.make_tensor_value_info(n, F, s) for n, s in value_info])
    opsets = [helper.make_opsetid("", 17), *(helper.make_opsetid(d, v) for d, v in extra_opsets)]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="nbperf-broken-corpus")
    m.ir_version = 8  # fixed, so regenerating with a newer onnx gives the same bytes
    return m.SerializeToString()


def conv(**attrs) -> bytes:
    cin, cout = attrs.pop("cin", 3), attrs.pop("cout", 8)
    return model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3], **attrs)],
                 [("x", [1, cin, 16, 16])], [("y", None)], [weightless("w", [cout, cin, 3, 3])])


def models() -> dict[str, bytes]:
    good = conv(pads=[1, 1, 1, 1])
    return {
        "ok_conv.onnx": good,  # a valid model, used with the broken arch files
        "empty.onnx": b"",
        "text.onnx": b"this is not an ONNX model\n",
        "truncated.onnx": good[: len(good) // 2],
        "cyclic.onnx": model(
            [helper.make_node("Relu", ["x"], ["a"], name="entry"),
             helper.make_node("Add", ["a", "c"], ["b"], name="loop_add"),
             helper.make_node("Sigmoid", ["b"], ["c"], name="loop_back"),
             helper.make_node("Relu", ["c"], ["y"], name="exit")],
            [("x", [1, 4])], [("y", None)]),
        "dynamic_dim.onnx": model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                                  [("x", ["batch", 3, 16, 16])], [("y", None)]),
        "negative_pads.onnx": conv(pads=[-1, -1, -1, -1]),
        "zero_channel_conv.onnx": conv(cout=0, pads=[1, 1, 1, 1]),
        "group_zero_conv.onnx": conv(pads=[1, 1, 1, 1], group=0),
        "unknown_domain_op.onnx": model(  # output shape declared: estimated with a warning
            [helper.make_node("FancyNorm", ["x"], ["n"], name="fancy", domain="com.example"),
             helper.make_node("Relu", ["n"], ["y"], name="relu")],
            [("x", [1, 8, 16, 16])], [("y", None)], value_info=[("n", [1, 8, 16, 16])],
            extra_opsets=[("com.example", 1)]),
        "unknown_domain_op_no_shape.onnx": model(  # output shape unknowable: refused
            [helper.make_node("FancyNorm", ["x"], ["n"], name="fancy", domain="com.example"),
             helper.make_node("Relu", ["n"], ["y"], name="relu")],
            [("x", [1, 8, 16, 16])], [("y", None)], extra_opsets=[("com.example", 1)]),
        "external_data_escape.onnx": model(
            [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [("x", [1, 16])], [("y", None)],
            [_escaping("w", [16, 16], "../../etc/passwd")]),
        "huge_tensor.onnx": model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                                  [("x", [1 << 20, 1 << 20, 64])], [("y", None)]),
    }


def _escaping(name: str, dims: list[int], location: str) -> TensorProto:
    t = weightless(name, dims)
    t.external_data[0].value = location
    return t


def arch_files() -> dict[str, str]:
    base = yaml.safe_load(PRESET.read_text(encoding="utf-8"))

    def edited(edit) -> str:
        data = yaml.safe_load(PRESET.read_text(encoding="utf-8"))
        data["shave"].pop("kernels", None)  # optional; the profiled-kernel table would make the file big
        edit(data)
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=200)

    def rename(data, section, old, new):
        data[section][new] = data[section].pop(old)

    assert "cmx" in base
    return {
        "negative_macs.yaml": edited(lambda d: d["dpu"].update(macs_per_tile=-2048)),
        "unknown_key_typo.yaml": edited(lambda d: rename(d, "dpu", "macs_per_tile", "macs_per_tle")),
        "non_numeric.yaml": edited(lambda d: d["dma"].update(ddr_bandwidth_gbps="fast")),
        "missing_section.yaml": edited(lambda d: d.pop("cmx")),
        "infinite_value.yaml": edited(lambda d: d["shave"]["cycles_per_element"].update(softmax=math.inf)),
        "not_a_mapping.yaml": "- just\n- a list\n",
        "bad_syntax.yaml": "name: npu\ntiles: [2\n",
    }


def main() -> None:
    for name, data in models().items():
        (HERE / name).write_bytes(data)
    for name, text in arch_files().items():
        (HERE / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(models()) + len(arch_files())} files to {HERE}")


if __name__ == "__main__":
    main()

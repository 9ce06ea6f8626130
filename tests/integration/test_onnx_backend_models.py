"""Every model the installed onnx wheel ships under onnx/backend/test/data (no download).

Each either estimates with zero unknown ops or is refused with a reason from the documented list
(nbperf.frontend.scope.CATEGORIES); nothing raises anything else. MACs of the classic CNNs
(``light``), the Conv3d models and a ConvTranspose3d built here match an independent count written
from the ONNX operator spec's formulas, over shapes from ONNX's own shape inference.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from tests.spec_macs import spec_macs

import nbperf
from nbperf.errors import ModelError
from nbperf.frontend.scope import CATEGORIES

DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
MODELS = sorted(glob.glob(os.path.join(DATA, "*", "*", "model.onnx"))
                + glob.glob(os.path.join(DATA, "light", "*.onnx")))
LIGHT = [p for p in MODELS if os.sep + "light" + os.sep in p]
CONV3D = [p for p in MODELS if os.path.basename(os.path.dirname(p)).startswith("test_Conv3d")]


def _id(path: str) -> str:
    return os.path.relpath(path, DATA)


@pytest.mark.skipif(not MODELS, reason="the installed onnx wheel ships no backend test models")
@pytest.mark.parametrize("path", MODELS, ids=_id)
def test_every_backend_model_estimates_or_is_refused_with_a_documented_reason(path):
    try:
        result = nbperf.estimate(path, "npu4000")
    except ModelError as e:
        reasons = [why for why in CATEGORIES.values() if why in str(e)]
        assert "is not an inference graph an NPU runs" in str(e) and reasons, str(e)
        return
    assert result.unknown_ops == (), result.unknown_ops
    assert result.latency_ns > 0


@pytest.mark.skipif(not LIGHT + CONV3D, reason="the installed onnx wheel ships no light or Conv3d models")
@pytest.mark.parametrize("path", LIGHT + CONV3D, ids=_id)
def test_macs_of_the_classic_cnns_and_3d_convs_match_the_onnx_spec(path):
    expected = spec_macs(onnx.load(path, load_external_data=False))
    assert expected > 0
    assert nbperf.estimate(path, "npu4000").macs == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize("strides,pads,group", [((1, 1, 1), (0,) * 6, 1), ((2, 2, 2), (1,) * 6, 1),
                                                ((1, 2, 2), (0, 1, 1, 0, 1, 1), 2)])
def test_a_3d_transposed_conv_counts_every_mac(tmp_path, strides, pads, group):
    x, w = (1, 4, 3, 6, 6), (4, 8 // group, 3, 3, 3)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[3, 3, 3], strides=list(strides),
                            pads=list(pads), group=group)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.ones(w, np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "convtranspose3d.onnx"
    onnx.save(model, path)
    assert nbperf.estimate(path, "npu4000").macs == pytest.approx(spec_macs(model), rel=0.01)

"""The ``vpunn`` backend: Intel's VPUNN cost model prices every DPU workload, when it is installed.

VPUNN (intel/npu-nn-cost-model, Apache-2.0) is a C++ library with Python bindings (``import
vpunn``); it has no wheel on the package index, so nbperf cannot depend on it. Build it by hand
(docs/cost-backends.md) and ``--cost vpunn`` uses it: each nbperf workload becomes a
``vpunn.DPUWorkload`` built attribute by attribute from its descriptor (``cost.descriptors``)
and is priced by ``VPUCostModel(model).DPU`` in every MPE mode the arch offers for its precision;
the cheapest valid mode wins, as the compiler asks VPUNN per mode. VPUNN reports a workload it
cannot price with a cycle count at or above 2^32 - 1001 (its error codes, cycles_interface_types.h:
``ERROR_INPUT_TOO_BIG`` and friends, with ``DPUMsg`` saying why); such a workload is priced by the
math model and its reason is kept for the report, never used as a number.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from nbperf.arch.model import ArchSpec
from nbperf.cost.descriptors import DMAWorkload, DPUWorkload, VPUDevice, device_of, to_plain
from nbperf.cost.external import ExternalBackend
from nbperf.cost.workload import DpuWorkload
from nbperf.errors import UsageError

ERROR_FLOOR = 2**32 - 1001  # VPUNN Cycles::ERROR_* values sit above this (cycles_interface_types.h)
MODELS_ENV = "NBPERF_VPUNN_MODELS"  # a folder of VPUNN's models/*.vpunn
DMA_MODEL = {VPUDevice.VPU_2_7: "dma_2_7.vpunn", VPUDevice.VPU_4_0: "dma_4_0.vpunn"}
DEFAULT_MODEL = {VPUDevice.VPU_2_0: "vpu_2_0.vpunn", VPUDevice.VPU_2_7: "vpu_2_7.vpunn",
                 VPUDevice.VPU_4_0: "vpu_4_0.vpunn", VPUDevice.NPU_5_0: "vpu_5_1.vpunn"}
# Cycles::ERROR_* by distance below 2^32 - 1 (cycles_interface_types.h, intel/npu-nn-cost-model@8a2ae92).
ERROR_NAMES = ("ERROR_INPUT_TOO_BIG (does not fit into CMX)", "ERROR_INVALID_INPUT_CONFIGURATION",
               "ERROR_INVALID_INPUT_DEVICE", "ERROR_INVALID_INPUT_OPERATION", "ERROR_INVALID_OUTPUT_RANGE",
               "ERROR_TILE_OUTPUT", "ERROR_TILE_SPLIT_ZERO_CYC_OUTPUT", "ERROR_TILE_SPLIT_EXCEPTION",
               "ERROR_INVALID_LAYER_CONFIGURATION", "ERROR_CUMULATED_CYCLES_TOO_LARGE",
               "ERROR_INVALID_CONVERSION_TO_CYCLES", "ERROR_SHAVE", "ERROR_INFERENCE_NOT_POSSIBLE",
               "ERROR_SHAVE_PARAMS", "ERROR_SHAVE_LAYOUT", "ERROR_SHAVE_INVALID_INPUT",
               "ERROR_L2_INVALID_PARAMETERS")


_DIRECTIONS = {("DRAM", "CMX"): "DDR2CMX", ("CMX", "DRAM"): "CMX2DDR", ("CMX", "CMX"): "CMX2CMX",
               ("DRAM", "DRAM"): "DDR2DDR"}


def error_name(cycles: int) -> str:
    code = 2**32 - 1 - cycles
    return ERROR_NAMES[code] if 0 <= code < len(ERROR_NAMES) else f"error code {cycles}"


def error_reason(cycles: int, message: str) -> str:
    """VPUNN's error code and message as one short line (a layer's cost note)."""
    detail = " ".join(message.split())[:160]
    return f"VPUNN {error_name(cycles)}" + (f": {detail}" if detail else "")


INSTALL_HINT = ("VPUNN's Python module is not installed (it has no wheel): build it from "
                "intel/npu-nn-cost-model as docs/cost-backends.md shows, put its folder on PYTHONPATH, "
                "or use --cost math or --cost table:FILE")


def one_instance(descriptor: DPUWorkload) -> DPUWorkload:
    """The descriptor of one of a workload's batch instances (attention heads, groups): VPUNN's
    networks were trained on batch 1, and nbperf runs the instances one after another, so VPUNN
    prices one and the backend multiplies."""
    if descriptor.outputs[0].shape[3] == 1:
        return descriptor
    (tensor_in,), (tensor_out,) = descriptor.inputs, descriptor.outputs
    return replace(descriptor, inputs=(replace(tensor_in, shape=(*tensor_in.shape[:3], 1)),),
                   outputs=(replace(tensor_out, shape=(*tensor_out.shape[:3], 1)),))


def import_vpunn() -> Any:
    try:
        import vpunn  # type: ignore[import-not-found]
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return vpunn


class VpunnBackend(ExternalBackend):
    """VPUNN's per-workload DPU cycles; the math model where VPUNN reports an error."""

    name = "vpunn"

    def __init__(self, model: str | None = None) -> None:
        super().__init__()
        self.vpunn = import_vpunn()
        self.model_arg = model
        self._models: dict[str, Any] = {}

    def model_path(self, arch: ArchSpec) -> Path:
        """The ``.vpunn`` file for ``arch``: the one named on the command line, else the device's
        default model from the folder ``$NBPERF_VPUNN_MODELS``."""
        if self.model_arg:
            path = Path(self.model_arg)
        else:
            folder = os.environ.get(MODELS_ENV)
            if not folder:
                default = DEFAULT_MODEL[device_of(arch)]
                raise UsageError(f"--cost vpunn needs a model: --cost vpunn:PATH/{default} or ${MODELS_ENV} "
                                 "set to VPUNN's models folder")
            path = Path(folder) / DEFAULT_MODEL[device_of(arch)]
        if not path.is_file():
            raise UsageError(f"VPUNN model {path} not found")
        return path

    @property
    def cache_key(self) -> str:
        return f"vpunn:{self.model_arg or os.environ.get(MODELS_ENV, '')}"

    def _model(self, arch: ArchSpec) -> Any:
        path = str(self.model_path(arch))
        if path not in self._models:
            self._models[path] = self.vpunn.VPUCostModel(path)
        return self._models[path]

    def to_vpunn(self, descriptor: DPUWorkload) -> Any:
        """The ``vpunn.DPUWorkload`` of a descriptor, field by field (halo and layer_info have no
        Python binding; VPUNN's Python module does not expose them)."""
        v = self.vpunn
        plain = to_plain(descriptor)
        w = v.DPUWorkload()
        w.device = getattr(v.VPUDevice, plain["device"])
        w.op = getattr(v.Operation, plain["op"])
        w.inputs = [self._tensor(t) for t in plain["inputs"]]
        w.outputs = [self._tensor(t) for t in plain["outputs"]]
        w.kernels, w.strides, w.padding = plain["kernels"], plain["strides"], plain["padding"]
        w.execution_order = getattr(v.ExecutionMode, plain["execution_order"])
        w.activation_function = getattr(v.ActivationFunction, plain["activation_function"])
        w.act_sparsity, w.weight_sparsity = plain["act_sparsity"], plain["weight_sparsity"]
        w.input_swizzling = [getattr(v.Swizzling, s) for s in plain["input_swizzling"]]
        w.output_swizzling = [getattr(v.Swizzling, s) for s in plain["output_swizzling"]]
        w.output_write_tiles = plain["output_write_tiles"]
        w.offsets = plain["offsets"]
        w.isi_strategy = getattr(v.ISIStrategy, plain["isi_strategy"])
        w.weight_sparsity_enabled = plain["weight_sparsity_enabled"]
        if plain["weight_type"] is not None:
            w.weight_type = getattr(v.DataType, plain["weight_type"])
        return w

    def _tensor(self, plain: dict[str, Any]) -> Any:
        v = self.vpunn
        return v.VPUTensor(*plain["shape"], getattr(v.DataType, plain["dtype"]),
                           getattr(v.Layout, plain["layout"]), plain["sparsity"])

    def cycles(self, descriptor: DPUWorkload, arch: ArchSpec, modes: list[str]) -> tuple[int, str] | str:
        """The cheapest valid cycles over ``modes`` and that mode, or VPUNN's reason for none."""
        from nbperf.cost.descriptors import ExecutionMode
        model, best, reason = self._model(arch), None, ""
        for mode in modes:
            one = replace(descriptor, execution_order=ExecutionMode[mode])
            cycles, message = model.DPUMsg(self.to_vpunn(one))
            if cycles >= ERROR_FLOOR:
                reason = reason or error_reason(cycles, message)
            elif best is None or cycles < best[0]:
                best = (int(cycles), mode)
        return best if best is not None else reason

    def price(self, descriptor: DPUWorkload, arch: ArchSpec) -> tuple[int, str] | str:
        """Whole-workload cycles (every batch instance) in the best of the arch's MPE modes for its
        precision, and that mode; or VPUNN's reason for none."""
        precision = "int8" if descriptor.inputs[0].dtype.name in ("UINT8", "INT8") else "fp16"
        modes = [m.name for m in arch.dpu.mpe_modes if precision in m.precisions]
        if descriptor.op.name == "ELTWISE":
            modes = modes[:1]  # an element-wise op has no MAC grid to choose
        found = self.cycles(one_instance(descriptor), arch, modes)
        return found if isinstance(found, str) else (found[0] * descriptor.outputs[0].shape[3], found[1])

    def lookup_dma(self, descriptor: DMAWorkload, arch: ArchSpec) -> int | str:
        """VPUNN's DMA network for the device (dma_2_7.vpunn: DMANNWorkload_NPU27, dma_4_0.vpunn:
        DMANNWorkload_NPU40_50) on one contiguous transfer, from the folder of the DPU model."""
        device = device_of(arch)
        model = self._dma_model(arch)
        if model is None:
            return f"VPUNN has no DMA model for {device.name} here"
        v, nbytes = self.vpunn, descriptor.input.shape[0]
        direction = getattr(v.MemoryDirection, _DIRECTIONS[(descriptor.input_location.name,
                                                           descriptor.output_location.name)])
        if device is VPUDevice.VPU_2_7:
            work = v.DMANNWorkload_NPU27(v.VPUDevice.VPU_2_7, 0, nbytes, nbytes, nbytes, nbytes, nbytes, 0, 0,
                                         direction)
        else:
            work = v.DMANNWorkload_NPU40_50(getattr(v.VPUDevice, device.name))
            work.src_width = work.dst_width = nbytes
            work.num_dim, work.transfer_direction = 0, direction
            work.num_engine = v.Num_DMA_Engine.Num_Engine_1
        cycles, message = model.computeCyclesMsg(work)
        if cycles >= ERROR_FLOOR:
            return error_reason(cycles, message)
        return int(cycles)

    def _dma_model(self, arch: ArchSpec) -> Any:
        device = device_of(arch)
        name = DMA_MODEL.get(device)
        path = self.model_path(arch).parent / name if name else None
        if path is None or not path.is_file():
            return None
        key = str(path)
        if key not in self._models:
            v = self.vpunn
            kind = v.DMACostModel_NPU27 if device is VPUDevice.VPU_2_7 else v.DMACostModel_NPU40_50
            self._models[key] = kind(key)
        return self._models[key]

    def lookup(self, descriptor: DPUWorkload, workload: DpuWorkload, arch: ArchSpec) -> int | str:
        found = self.price(descriptor, arch)
        return found if isinstance(found, str) else found[0]

"""Upsampling ops as the NPU compiler lowers them on each part (npu_compiler@150e202).

- ``ConvTranspose``: with storage-element (SE) pointer operations on (``compiler.se_pointer_ops``,
  the compiler's enable-se-ptrs-operations: on for NPU 40XX, off for 37XX) and a transposed conv
  the SE path supports (isSupportedSEPTransposedConv, VPU/utils/conv_utils.cpp), the DPU runs a
  stride-1 convolution over a *virtual* zero-inserted and padded input: an SE table points every
  position of it at the real data, a constant sparsity map marks the inserted zeros
  (TransposedConvolutionToNCE, VPU/transforms/passes/lower_ops_to_se_nce.cpp). Otherwise the
  compiler materialises that input with an ``Upsampling`` op (a DMA, VPUIP convert_to_dma.cpp)
  and runs a dense stride-1 convolution over it (ConvertTransposedConv2DToConv2D,
  IE/transforms/passes/convert_transposedconv_to_conv.cpp).
- ``Resize`` / ``Upsample`` with integer H/W scales in nearest or bilinear mode: with SE pointer
  operations on, an NCE interpolate (InterpolateToNCE): a convolution over the virtually
  replicated input with compiler-made weights (one input channel per kernel); else a nearest
  asymmetric one becomes strided concats (DMA copies,
  IE/transforms/passes/convert_nearest_to_broadcast_or_strided_concat.cpp); the rest runs the
  SHAVE interpolate kernel.
- ``DepthToSpace`` in depth-first (ONNX ``CRD``, PyTorch's pixel shuffle) mode, on float data:
  a transposed convolution with kernel and stride the block size and one-hot weights, where the
  part's verifier calls it beneficial (ConvertDepth2SpaceToTransposedConv,
  NPU37XX/dialect/IE/transforms/passes/convert_d2s_to_transpose_conv.cpp, in the 37XX and 40XX
  default pipelines); then lowered as any ConvTranspose. Blocks-first (``DCR``) and int8 ones stay
  DMA copies, as the compiler leaves them (blocks-first is not implemented there, E#110158;
  8-bit upsampling is not supported, E#109658).

Not lowered through SE here, as the compiler's defaults leave them: ``Pad`` and ``Roll`` (SE only
with the experimental option), grouped transposed convs (the group split runs first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from nbperf.frontend.ir import Graph, Node, Tensor
from nbperf.lower.patterns import MAX_POOL_KERNEL, NBPERF_DOMAIN

if TYPE_CHECKING:
    from nbperf.arch.model import ArchSpec

LOWERING_ATTR = "nbperf_lowering"  # how a node was lowered: "se", "upsampled", "strided_concat"
REASON_ATTR = "nbperf_lowering_reason"  # why, in one sentence for the report
USEFUL_MACS_ATTR = "nbperf_useful_macs"  # the published MAC count, when the DPU form differs
SE_GEOMETRY_ATTR = "nbperf_se"  # SeGeometry of an SE op
SE_SPARSE_ATTR = "nbperf_se_sparse"  # its inserted zeros reach the DPU as sparse input
SE_KERNEL_ATTR, SE_STRIDE_ATTR = "nbperf_kernel", "nbperf_stride"  # an NCE interpolate's conv
UPSAMPLING = "Upsampling"  # the compiler's IE.Upsampling: a zero-inserted, padded copy (DMA)
FOR_DPU_OP_ATTR = "nbperf_for_dpu_op"  # a copy that runs in the precision of the DPU op it feeds
SE_POINTER_BYTES = 4  # one 32-bit pointer per storage element (StorageElementTableOp, si32)
CHANNEL_ALIGNMENT = 16  # NCEInvariant::VPU_CHANNEL_ALIGNMENT: channels expanded to 16 first
DIMENSION_LIMIT = 8192  # NCEInvariant::VPU_DIMENSION_LIMIT
MIN_INTERPOLATE_CHANNELS = 8  # isNCEInterpolateSupported: fewer channels run better on SHAVE (E#100988)


@dataclass(frozen=True)
class LoweringOptions:
    """The compiler options lowering depends on (the rest of the arch only prices the result)."""

    se_pointer_ops: bool = False
    se_size_power_of_two: bool = False
    se_sparse_input: bool = True
    d2s_min_channels: int = 0
    d2s_max_block: int = 0
    subpixel: bool = False  # what-if: strided ConvTranspose -> conv + DepthToSpace + crop

    @classmethod
    def of(cls, arch: ArchSpec) -> LoweringOptions:
        c = arch.compiler
        return cls(c.se_pointer_ops, c.se_size_power_of_two, c.se_sparse_input,
                   c.d2s_as_transposed_conv_min_channels, c.d2s_as_transposed_conv_max_block,
                   c.deconv_as_subpixel_conv)


@dataclass(frozen=True)
class SeGeometry:
    """The virtual input an SE op's DPU reads: ``rows`` x ``cols`` positions of ``channels``, of
    which ``real_share`` hold real data (the rest inserted zeros or padding), and the SE table and
    sparsity map bytes the compiler makes for it."""

    channels: int
    rows: int
    cols: int
    real_share: float
    table_bytes: int
    map_bytes: int

    @property
    def zero_share(self) -> float:
        return 1.0 - self.real_share


def se_size(channels: int, power_of_two: bool) -> int:
    """Channels per storage element (VPU::getSESize, VPU/utils/sparsity_utils.cpp): the largest
    multiple of 16 dividing the (16-aligned) channels, a power of two on NPU 37XX."""
    for size in range(channels, CHANNEL_ALIGNMENT - 1, -CHANNEL_ALIGNMENT):
        if channels % size == 0 and (not power_of_two or size & (size - 1) == 0):
            return size
    return CHANNEL_ALIGNMENT


def se_geometry(n: int, channels: int, rows: int, cols: int, real: int, power_of_two: bool) -> SeGeometry:
    """SE table (one pointer per storage element) and sparsity map (one bit per element) of a
    virtual ``rows`` x ``cols`` input whose ``real`` positions hold data."""
    aligned = math.ceil(channels / CHANNEL_ALIGNMENT) * CHANNEL_ALIGNMENT
    depth = aligned // se_size(aligned, power_of_two)
    positions = n * rows * cols
    return SeGeometry(aligned, rows, cols, real / max(1, rows * cols), positions * depth * SE_POINTER_BYTES,
                      math.ceil(positions * aligned / 8))


def lower_upsampling(graph: Graph, options: LoweringOptions, force_precision: str | None) -> Graph:
    """``graph`` with DepthToSpace, ConvTranspose and Resize nodes marked (or rewritten) the way
    the compiler lowers them under ``options``."""
    b = _Rewriter(graph)
    for node in graph.nodes:
        if node.op_type == "DepthToSpace" and node.domain in ("", "ai.onnx"):
            _depth_to_space(b, node, options, force_precision)
        elif node.op_type == "ConvTranspose" and node.domain in ("", "ai.onnx"):
            _conv_transpose(b, node, options, force_precision)
        elif node.op_type in ("Resize", "Upsample") and node.domain in ("", "ai.onnx"):
            _resize(b, node, options)
        else:
            b.nodes.append(node)
    if not b.changed:
        return graph
    return replace(graph, nodes=tuple(b.nodes), tensors=b.tensors)


class _Rewriter:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.tensors = dict(graph.tensors)
        self.nodes: list[Node] = []
        self.changed = False

    def shape(self, name: str) -> tuple[int, ...]:
        return self.tensors[name].shape

    def emit(self, node: Node, **attrs: Any) -> None:
        self.nodes.append(replace(node, attrs={**node.attrs, **attrs}))
        self.changed = True

    def se_tensor(self, node: Node, geometry: SeGeometry) -> str:
        """The SE table and sparsity map, one compiler-made buffer in DDR (int32 words)."""
        name = f"{node.name}/se_table"
        words = math.ceil((geometry.table_bytes + geometry.map_bytes) / 4)
        self.tensors[name] = Tensor(name, (words,), "int32")
        return name


def int_list_attr(node: Node, attr: str, default: list[int]) -> list[int]:
    """An integer-list attribute of ``node``, or ``default`` when absent or empty."""
    value = node.attrs.get(attr)
    return [int(v) for v in value] if value else default


def _conv_transpose(b: _Rewriter, node: Node, options: LoweringOptions, force_precision: str | None) -> None:
    x, w = node.inputs[0], node.inputs[1] if len(node.inputs) > 1 else ""
    if len(b.shape(x)) != 4 or not w or len(b.shape(w)) != 4:
        b.nodes.append(node)  # 1-D and unrolled 3-D forms: the dense conv rule as before
        return
    n, c, h, width = b.shape(x)
    kh, kw = b.shape(w)[2:]
    sh, sw = [*int_list_attr(node, "strides", [1, 1]), 1, 1][:2]
    top, left, bottom, right = [*int_list_attr(node, "pads", [0, 0, 0, 0]), 0, 0, 0, 0][:4]
    out_pad_h, out_pad_w = [*int_list_attr(node, "output_padding", [0, 0]), 0, 0][:2]
    group = int(node.attrs.get("group", 1))
    dilated = any(d != 1 for d in int_list_attr(node, "dilations", [1, 1]))
    # The compiler's padding of the zero-inserted input (createUpsampling, TransposedConvolutionToNCE).
    pads = (kh - 1 - top, kw - 1 - left, kh - 1 - bottom + out_pad_h, kw - 1 - right + out_pad_w)
    auto_pad = str(node.attrs.get("auto_pad", "NOTSET")).upper() not in ("NOTSET", "VALID")
    if dilated or min(pads) < 0 or "output_shape" in node.attrs or auto_pad:
        b.nodes.append(node)  # forms neither rewrite takes as they stand: the dense conv rule
        return
    const_w = b.tensors[w].is_constant
    macs = node.attrs.get(USEFUL_MACS_ATTR, n * c * h * width * (b.shape(w)[1]) * kh * kw)
    if options.subpixel and group == 1 and sh == sw > 1 and const_w:
        _subpixel(b, node, options, sh, macs, (top, left), force_precision)
        return
    rows = h + (sh - 1) * (h - 1) + pads[0] + pads[2]
    cols = width + (sw - 1) * (width - 1) + pads[1] + pads[3]
    supported = group == 1 and const_w and max(kh, kw) <= MAX_POOL_KERNEL
    if options.se_pointer_ops and supported:
        geometry = se_geometry(n, c, rows, cols, h * width, options.se_size_power_of_two)
        table = b.se_tensor(node, geometry)
        skipped = "marked in its sparsity map" if options.se_sparse_input else "computed as data (what-if)"
        reason = (f"SE pointers: a stride-1 conv over a virtual {rows}x{cols} zero-inserted input read "
                  f"through an SE table, {100 * geometry.zero_share:.0f}% of it inserted zeros or padding "
                  f"{skipped}")
        b.emit(replace(node, inputs=(*node.inputs, table)), **{
            LOWERING_ATTR: "se", SE_GEOMETRY_ATTR: geometry, SE_SPARSE_ATTR: options.se_sparse_input,
            REASON_ATTR: reason, USEFUL_MACS_ATTR: macs})
        return
    # Materialised: an Upsampling DMA writes the zero-inserted, padded input; a dense conv reads it.
    up = f"{node.name}/upsampled"
    b.tensors[up] = replace(b.tensors[x], name=up, shape=(n, c, rows, cols), value=None)
    why = "SE pointer operations are off on this part" if not options.se_pointer_ops else \
        "the SE path does not take it (grouped, non-constant weights or a kernel over 11)"
    b.nodes.append(Node(f"{node.name}/upsampling", UPSAMPLING, (x,), (up,),
                        {REASON_ATTR: f"the zero-inserted, padded input of {node.name} ({why})",
                         "strides": [sh, sw], "pads": list(pads),
                         # it copies the transposed conv's input, which is quantized where that is
                         FOR_DPU_OP_ATTR: node.op_type}, domain=NBPERF_DOMAIN))
    reason = f"a dense stride-1 conv over the materialised {rows}x{cols} zero-inserted input ({why})"
    b.emit(replace(node, inputs=(up, *node.inputs[1:])), **{
        LOWERING_ATTR: "upsampled", REASON_ATTR: reason, USEFUL_MACS_ATTR: macs})


def _subpixel(b: _Rewriter, node: Node, options: LoweringOptions, s: int, macs: int, begin: tuple[int, int],
              force_precision: str | None) -> None:
    """What-if: the sub-pixel form of a stride-``s`` transposed conv (``macs``: its useful MACs).
    Each of the s x s output phases is a stride-1 conv of kernel ceil(k / s) over the input padded
    by that kernel less one; the phases are the conv's s^2 x K output channels, which a
    depth-first DepthToSpace interleaves, and a crop removes the transposed conv's padding. No MAC
    runs on an inserted zero; the kernels' padding to a multiple of s adds zero weights."""
    x, w = node.inputs[0], node.inputs[1]
    n, c, h, width = b.shape(x)
    kh, kw = b.shape(w)[2:]
    k = b.shape(w)[1]
    ch, cw = -(-kh // s), -(-kw // s)
    rows, cols = h + ch - 1, width + cw - 1
    zeros = b.tensors[w].zero_fraction
    weights = f"{node.name}/subpixel_weights"
    b.tensors[weights] = Tensor(weights, (k * s * s, c, ch, cw), b.tensors[w].dtype, is_constant=True,
                                zero_fraction=None if zeros is None else
                                1 - (1 - zeros) * kh * kw / (s * s * ch * cw))
    inputs = [x, weights]
    if len(node.inputs) > 2 and node.inputs[2]:  # the bias, once per output phase
        bias = f"{node.name}/subpixel_bias"
        b.tensors[bias] = Tensor(bias, (k * s * s,), b.tensors[node.inputs[2]].dtype, is_constant=True)
        inputs.append(bias)
    phases, shuffled = f"{node.name}/phases", f"{node.name}/shuffled"
    b.tensors[phases] = replace(b.tensors[x], name=phases, shape=(n, k * s * s, rows, cols), value=None)
    b.tensors[shuffled] = replace(b.tensors[x], name=shuffled, shape=(n, k, s * rows, s * cols), value=None)
    reason = (f"what-if sub-pixel form: a {ch}x{cw} conv to {k * s * s} channels ({s}x{s} phases), "
              "no inserted zeros")
    b.emit(Node(node.name, "Conv", tuple(inputs), (phases,),
                {"kernel_shape": [ch, cw], "pads": [ch - 1, cw - 1, ch - 1, cw - 1],
                 USEFUL_MACS_ATTR: macs}, domain=node.domain), **{REASON_ATTR: reason})
    d2s = Node(f"{node.name}/depth_to_space", "DepthToSpace", (phases,), (shuffled,),
               {"blocksize": s, "mode": "CRD"}, domain=node.domain)
    _depth_to_space(b, d2s, options, force_precision)
    # The transposed conv's own padding: its output starts ``pad`` rows into the full result.
    b.emit(Node(f"{node.name}/crop", "Slice", (shuffled,), node.outputs,
                {REASON_ATTR: f"the crop of the sub-pixel result to {b.shape(node.outputs[0])[2:]} "
                 f"(from row {begin[0]}, column {begin[1]})"}, domain=node.domain))


def _depth_to_space(b: _Rewriter, node: Node, options: LoweringOptions, force_precision: str | None) -> None:
    """A DepthToSpace as the compiler's transposed conv (lowered as such, never as the sub-pixel
    what-if), or left to DMA with the reason."""
    converted, why = _d2s_as_transposed_conv(b, node, options, force_precision)
    if converted is None:
        b.emit(node, **{REASON_ATTR: f"DMA copies: {why}"})
    else:
        _conv_transpose(b, converted, replace(options, subpixel=False), force_precision)


def _d2s_as_transposed_conv(b: _Rewriter, node: Node, options: LoweringOptions,
                            force_precision: str | None) -> tuple[Node | None, str]:
    """A depth-first DepthToSpace as the transposed conv the compiler makes of it, or None and
    why it stays a DMA."""
    block = int(node.attrs.get("blocksize", 0))
    x, out = node.inputs[0], node.outputs[0]
    if not options.d2s_min_channels:
        return None, "this part's compiler has no DepthToSpace-to-transposed-conv rewrite"
    if block < 1 or len(b.shape(x)) != 4:
        return None, "not a 4-D DepthToSpace"
    if str(node.attrs.get("mode", "DCR")).upper() != "CRD":
        return None, "blocks-first (DCR) mode, which the compiler's rewrite does not take"
    if x in b.graph.quantized or b.tensors[x].dtype in {"int8", "uint8"} or force_precision == "int8":
        return None, "8-bit data, which the compiler's rewrite does not take"
    out_channels = b.shape(out)[1]
    if out_channels < options.d2s_min_channels:
        return None, f"{out_channels} output channels, under the {options.d2s_min_channels} the rewrite needs"
    if (options.d2s_max_block and block > options.d2s_max_block) or block > MAX_POOL_KERNEL:
        return None, f"block {block}, over what the rewrite takes on this part"
    c = b.shape(x)[1]
    weights = f"{node.name}/d2s_weights"
    # One-hot: each output channel's kernel holds one 1 per position, of c x block^2 weights.
    b.tensors[weights] = Tensor(weights, (c, out_channels, block, block), "float32", is_constant=True,
                                zero_fraction=1 - 1 / c)
    return Node(node.name, "ConvTranspose", (x, weights), node.outputs,
                {"kernel_shape": [block, block], "strides": [block, block], "pads": [0, 0, 0, 0],
                 USEFUL_MACS_ATTR: 0, "nbperf_from": "DepthToSpace"}, domain=node.domain), ""


# ONNX Resize / OpenVINO Interpolate modes the NCE interpolate takes (isNCEInterpolateSupported).
_NEAREST, _LINEAR = {"nearest"}, {"linear", "linear_onnx", "bilinear"}


def _resize(b: _Rewriter, node: Node, options: LoweringOptions) -> None:
    x, out = node.inputs[0], node.outputs[0]
    shape_in, shape_out = b.shape(x), b.shape(out)
    mode = str(node.attrs.get("mode", "nearest")).lower()
    default_coord = "asymmetric" if node.op_type == "Upsample" else "half_pixel"
    coord = str(node.attrs.get("coordinate_transformation_mode", default_coord)).lower()
    if len(shape_in) != 4 or shape_in[:2] != shape_out[:2] or mode not in _NEAREST | _LINEAR \
            or int(node.attrs.get("antialias", 0)):
        b.nodes.append(node)
        return
    scales = _integer_scales(shape_in[2:], shape_out[2:], coord)
    if options.se_pointer_ops and scales and _nce_interpolate_ok(mode, coord, scales, shape_in, shape_out):
        kernel, stride, pads_begin, pads_end, factors = _interpolate_form(mode, coord, scales)
        if max(kernel) <= MAX_POOL_KERNEL:
            n, c, h, w = shape_in
            rows = factors[0] * h + pads_begin[0] + pads_end[0]
            cols = factors[1] * w + pads_begin[1] + pads_end[1]
            geometry = se_geometry(n, c, rows, cols, rows * cols, options.se_size_power_of_two)
            table = b.se_tensor(node, geometry)
            reason = (f"SE pointers: an NCE interpolate, a {kernel[0]}x{kernel[1]} stride-{stride[0]} conv "
                      f"over the {rows}x{cols} virtually replicated input with one input channel per "
                      "kernel")
            b.emit(replace(node, inputs=(x, table)), **{
                LOWERING_ATTR: "se", SE_GEOMETRY_ATTR: geometry, REASON_ATTR: reason,
                SE_KERNEL_ATTR: kernel, SE_STRIDE_ATTR: stride})
            return
    exact = all(o % i == 0 for i, o in zip(shape_in[2:], shape_out[2:], strict=True))
    if mode in _NEAREST and coord == "asymmetric" and exact:
        b.emit(node, **{LOWERING_ATTR: "strided_concat",
                        REASON_ATTR: "nearest, asymmetric, integer scales: strided-concat DMA copies"})
        return
    why = "SE pointer operations are off on this part" if not options.se_pointer_ops else \
        "the NCE interpolate does not take it (scales, mode, channels or size)"
    b.emit(node, **{REASON_ATTR: f"SHAVE interpolate kernel: {why}"})


def _integer_scales(size_in: tuple[int, ...], size_out: tuple[int, ...],
                    coord: str) -> tuple[int, int] | None:
    """Integer H and W scales as getNCEInterpolateScales computes them, or None."""
    scales = []
    for i, o in zip(size_in, size_out, strict=True):
        if coord == "align_corners" and i != o:
            i, o = max(1, i - 1), max(1, o - 1)
        if o % i or o < i:
            return None
        scales.append(o // i)
    return scales[0], scales[1]


def _nce_interpolate_ok(mode: str, coord: str, scales: tuple[int, int], shape_in: tuple[int, ...],
                        shape_out: tuple[int, ...]) -> bool:
    """isNCEInterpolateSupported (VPU/IR/ops/nce_interpolate.cpp): dimensions within 8K, at
    least 8 channels, nearest not align-corners, bilinear not tf-half-pixel-for-nn."""
    if max(*shape_in, *shape_out) > DIMENSION_LIMIT or shape_in[1] < MIN_INTERPOLATE_CHANNELS:
        return False
    if mode in _NEAREST:
        return coord != "align_corners"
    return coord in {"half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners"} and min(scales) >= 1


def _interpolate_form(mode: str, coord: str, scales: tuple[int, int]
                      ) -> tuple[list[int], list[int], list[int], list[int], list[int]]:
    """(kernel, strides, pads begin, pads end, factors) per axis of an NCE interpolate
    (getNCEInterpolateKernelSize / Strides / PadsBegin / PadsEnd / Factors,
    VPU/utils/nce_interpolate_utils.cpp)."""
    form: list[tuple[int, int, int, int, int]] = []
    for s in scales:
        if mode in _NEAREST:
            form.append((1, 1, 0, 0, s))
        elif coord in ("half_pixel", "pytorch_half_pixel"):
            factor = s + s * (s % 2 == 0)
            pad = (s - 1) >> (s % 2)
            form.append((factor, 1 if s % 2 else 2, pad, pad, factor))
        elif coord == "asymmetric":
            form.append((s, 1, 0, s - 1, s))
        else:  # align_corners
            form.append((s, 1, 0, 0, s))
    kernel, stride, begin, end, factors = (list(v) for v in zip(*form, strict=True))
    return kernel, stride, begin, end, factors


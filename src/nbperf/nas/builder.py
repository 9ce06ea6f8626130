"""Build parameterised CNNs with onnx.helper for neural-architecture search (NAS) with nbperf.

``NetBuilder`` tracks the shape of every tensor it creates, so a layer needs only its output
size (``conv(x, 64, 3, stride=2)`` reads the input channels itself) and each method returns the
name of the tensor it made, ready for the next call::

    from nbperf.nas import NetBuilder
    b = NetBuilder("tiny", input_shape=(1, 3, 224, 224))
    x = b.conv(b.input, 32, 3, stride=2, act="relu")
    y = b.conv(x, 32, 3, act="relu")
    x = b.add(x, b.conv(y, 32, 3))                  # residual
    x = b.upsample(x, 2, mode="bilinear")
    model = b.build()                               # onnx.ModelProto, opset 17

Weights are zero-filled by default (``weights="zeros"``): the model is self-contained, passes
``onnx.checker.check_model`` and runs in onnxruntime, and the values do not matter to nbperf,
which only reads shapes. ``weights="external"`` declares every weight with its dims and an
external-data location (``weights.bin``) that never exists, as ``benchmarks/model_builders.py``
does: no weight bytes at all, the fastest choice for large models in a NAS loop, but
``onnx.checker`` refuses such an in-memory model because the file is missing. Small constants
the graph needs to be read (Resize scales, Clip bounds) always carry their real values.

Ready-made families: ``midas_like`` (a MiDaS-like encoder-decoder depth network) and
``resnet_like`` (a classifier with the same encoder).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
Activation = Literal["relu", "relu6", "sigmoid", "hardswish", "silu"] | None
Padding = Literal["same", "valid"] | int
Weights = Literal["zeros", "external"]

__all__ = ["OPSET", "NetBuilder", "midas_like", "parameter_count", "resnet_like"]


class NetBuilder:
    """An ONNX graph under construction with one NCHW (or any-rank) input.

    ``name``: the graph name (nbperf reports it); ``input_shape``: the static input shape, e.g.
    ``(1, 3, 384, 384)``; ``dtype``: the element type of the input, activations and weights
    (``np.float32`` or ``np.float16``); ``weights``: ``"zeros"`` (zero-filled initializers, the
    model passes onnx.checker) or ``"external"`` (weightless, dims only; see the module docstring);
    ``input_name``: the name of the graph input (``builder.input``).

    Every layer method takes the input tensor name(s) and an optional node ``name`` (default: the
    op type and a counter) and returns the output tensor's name, which is the node's name.
    """

    def __init__(self, name: str, input_shape: Sequence[int] = (1, 3, 224, 224),
                 dtype: type[np.floating] | np.dtype = np.float32, *, weights: Weights = "zeros",
                 input_name: str = "input") -> None:
        if weights not in ("zeros", "external"):
            raise ValueError(f"weights must be 'zeros' or 'external', not {weights!r}")
        self.name = name
        self.dtype = np.dtype(dtype)
        self.elem = helper.np_dtype_to_tensor_dtype(self.dtype)
        self.weights = weights
        self.input = input_name
        self._input_shape = tuple(int(d) for d in input_shape)
        self._shapes: dict[str, tuple[int, ...]] = {input_name: self._input_shape}
        self._nodes: list[onnx.NodeProto] = []
        self._inits: list[TensorProto] = []
        self._consts: dict[tuple[str, bytes], str] = {}  # value -> initializer, so constants are shared
        self._count: dict[str, int] = {}
        self._last = input_name

    # -- shapes and bookkeeping ------------------------------------------------------------

    def shape(self, tensor: str) -> tuple[int, ...]:
        """The static shape of ``tensor``."""
        return self._shapes[tensor]

    def channels(self, tensor: str) -> int:
        """Dimension 1 (channels of an NCHW tensor)."""
        return self._shapes[tensor][1]

    def _name(self, op_type: str, name: str | None) -> str:
        if name is None:
            n = self._count.get(op_type, 0)
            self._count[op_type] = n + 1
            name = f"{op_type.lower()}_{n}"
        if name in self._shapes:
            raise ValueError(f"tensor name {name!r} is already used in {self.name}")
        return name

    def _op(self, op_type: str, inputs: Sequence[str], name: str, shape: Sequence[int],
            **attrs: object) -> str:
        self._nodes.append(helper.make_node(op_type, list(inputs), [name], name=name, **attrs))
        self._shapes[name] = tuple(int(d) for d in shape)
        self._last = name
        return name

    def weight(self, name: str, dims: Sequence[int]) -> str:
        """A weight initializer of ``dims``: zero-filled or weightless, as the builder was told."""
        dims = [int(d) for d in dims]
        if self.weights == "zeros":
            # np.zeros is lazily zeroed memory; tobytes() inside from_array copies it once into the proto
            self._inits.append(numpy_helper.from_array(np.zeros(dims, self.dtype), name))
        else:
            t = TensorProto(name=name, data_type=self.elem, dims=dims, data_location=TensorProto.EXTERNAL)
            length = self.dtype.itemsize * math.prod(dims)
            for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", str(length))):
                entry = t.external_data.add()
                entry.key, entry.value = key, value
            self._inits.append(t)
        return name

    def const(self, value: np.ndarray, name: str | None = None) -> str:
        """A small constant with its real value (shared between nodes that use the same value)."""
        value = np.asarray(value)
        key = (value.dtype.str + str(value.shape), value.tobytes())
        if key in self._consts:
            return self._consts[key]
        name = self._name("const", name)
        self._inits.append(numpy_helper.from_array(value, name))
        self._shapes[name] = value.shape
        self._consts[key] = name
        return name

    # -- convolution and normalisation ------------------------------------------------------

    def conv(self, x: str, out_channels: int, kernel: int | tuple[int, int] = 3, stride: int = 1, *,
             groups: int = 1, depthwise: bool = False, dilation: int = 1, padding: Padding = "same",
             bias: bool | None = None, bn: bool = False, act: Activation = None, name: str | None = None
             ) -> str:
        """A 2-D convolution (Conv), optionally followed by BatchNormalization and an activation.

        ``kernel``: size (square, or (kh, kw)); ``stride``, ``dilation``: both spatial axes;
        ``groups``: grouped convolution, ``depthwise=True`` sets groups to the input channels (then
        ``out_channels`` must be a multiple of them); ``padding``: ``"same"`` (output = ceil(input /
        stride), extra padding at the end as ONNX SAME_UPPER), ``"valid"`` or a pad on every side;
        ``bias``: default True without ``bn`` (a BatchNormalization folded into the conv, as an
        exported inference model has it) and False with it; ``bn``: keep an explicit
        BatchNormalization node; ``act``: an activation after it (see ``activation``).
        """
        n, cin, h, w = self._shapes[x]
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        if depthwise:
            groups = cin
        if cin % groups or out_channels % groups:
            raise ValueError(f"conv on {x}: {cin} in / {out_channels} out channels do not split into "
                             f"{groups} groups")
        name = self._name("Conv", name)
        pads = []
        out = []
        for size, k in ((h, kh), (w, kw)):
            span = dilation * (k - 1) + 1
            if padding == "same":
                total = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
                begin, end = total // 2, total - total // 2
            elif padding == "valid":
                begin = end = 0
            else:
                begin = end = int(padding)
            pads.append((begin, end))
            out.append((size + begin + end - span) // stride + 1)
        if min(out) < 1:
            raise ValueError(f"conv {name}: a {kh}x{kw} kernel does not fit a {h}x{w} input")
        inputs = [x, self.weight(f"{name}.w", [out_channels, cin // groups, kh, kw])]
        if bias is None:
            bias = not bn  # a BatchNormalization after the conv carries the bias
        if bias:
            inputs.append(self.weight(f"{name}.b", [out_channels]))
        y = self._op("Conv", inputs, name, (n, out_channels, *out), kernel_shape=[kh, kw],
                     strides=[stride, stride], dilations=[dilation, dilation], group=groups,
                     pads=[pads[0][0], pads[1][0], pads[0][1], pads[1][1]])
        if bn:
            y = self.batchnorm(y, name=f"{name}/bn")
        return self.activation(y, act, name=f"{name}/{act}") if act else y

    def conv_transpose(self, x: str, out_channels: int, kernel: int | tuple[int, int] = 2, stride: int = 2, *,
                       padding: int = 0, output_padding: int = 0, bias: bool = True, name: str | None = None
                       ) -> str:
        """A 2-D transposed convolution (ONNX ConvTranspose, PyTorch's ConvTranspose2d).

        ``kernel``: size (square, or (kh, kw)); ``stride``: both spatial axes; ``padding``: removed
        from both sides of each axis of the full output; ``output_padding``: added at the end of
        each axis (fewer than ``stride``, as ONNX and PyTorch require). Output size, per axis:
        ``(size - 1) * stride - 2 * padding + kernel + output_padding`` (FSRCNN's x2 deconvolution:
        9x9, stride 2, padding 4, output_padding 1 gives exactly twice the input). Weights
        [in_channels, out_channels, kh, kw] as ONNX lays them out; ``bias``: a bias per output
        channel. No groups or dilation.
        """
        n, cin, h, w = self._shapes[x]
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        if stride < 1 or padding < 0 or not 0 <= output_padding < stride:
            raise ValueError(f"conv_transpose on {x}: needs stride >= 1, padding >= 0 and "
                             f"0 <= output_padding < stride, not {stride}, {padding}, {output_padding}")
        name = self._name("ConvTranspose", name)
        out = [(size - 1) * stride - 2 * padding + k + output_padding for size, k in ((h, kh), (w, kw))]
        if min(out) < 1:
            raise ValueError(f"conv_transpose {name}: padding {padding} leaves no output of a {h}x{w} input")
        inputs = [x, self.weight(f"{name}.w", [cin, out_channels, kh, kw])]
        if bias:
            inputs.append(self.weight(f"{name}.b", [out_channels]))
        return self._op("ConvTranspose", inputs, name, (n, out_channels, *out), kernel_shape=[kh, kw],
                        strides=[stride, stride], dilations=[1, 1], group=1, pads=[padding] * 4,
                        output_padding=[output_padding, output_padding])

    def batchnorm(self, x: str, eps: float = 1e-5, name: str | None = None) -> str:
        """BatchNormalization over dimension 1 (inference form: scale, bias, mean, variance)."""
        name = self._name("BatchNormalization", name)
        c = self.channels(x)
        params = [self.weight(f"{name}.{p}", [c]) for p in ("scale", "bias", "mean", "var")]
        return self._op("BatchNormalization", [x, *params], name, self._shapes[x], epsilon=eps)

    # -- activations ------------------------------------------------------------------------

    def activation(self, x: str, kind: Activation, name: str | None = None) -> str:
        """``kind``: relu, relu6 (Clip 0..6), sigmoid, hardswish or silu (x * sigmoid(x)); None: x."""
        if kind is None:
            return x
        try:
            method = {"relu": self.relu, "relu6": self.relu6, "sigmoid": self.sigmoid,
                      "hardswish": self.hardswish, "silu": self.silu}[kind]
        except KeyError:
            raise ValueError(f"unknown activation {kind!r}") from None
        return method(x, name=name)

    def relu(self, x: str, name: str | None = None) -> str:
        return self._op("Relu", [x], self._name("Relu", name), self._shapes[x])

    def relu6(self, x: str, name: str | None = None) -> str:
        """Clip to [0, 6] (what ONNX exporters write for ReLU6; nbperf fuses it into the DPU op)."""
        lo, hi = self.const(np.array(0.0, self.dtype)), self.const(np.array(6.0, self.dtype))
        return self._op("Clip", [x, lo, hi], self._name("Clip", name), self._shapes[x])

    def prelu(self, x: str, slope: float = 0.25, *, per_channel: bool = True, name: str | None = None) -> str:
        """PRelu: x where x >= 0, slope * x elsewhere, with learned slopes (PyTorch's PReLU, whose
        slopes start at 0.25). ``per_channel``: one slope per channel, a [C, 1, 1] initializer, as
        ``nn.PReLU(num_parameters=C)`` exports it; else one slope for every element, a [1] one. The
        slopes are small constants and carry their value whatever ``weights`` says. nbperf fuses a
        one-slope PRelu into the DPU op before it (as a LeakyReLU); a per-channel one runs on its own."""
        c = self.channels(x)
        shape = (c, 1, 1) if per_channel else (1,)
        slopes = self.const(np.full(shape, slope, self.dtype))
        return self._op("PRelu", [x, slopes], self._name("PRelu", name), self._shapes[x])

    def sigmoid(self, x: str, name: str | None = None) -> str:
        return self._op("Sigmoid", [x], self._name("Sigmoid", name), self._shapes[x])

    def hardswish(self, x: str, name: str | None = None) -> str:
        return self._op("HardSwish", [x], self._name("HardSwish", name), self._shapes[x])

    def silu(self, x: str, name: str | None = None) -> str:
        """x * sigmoid(x) (Swish), as two ONNX nodes: opset 17 has no SiLU op."""
        name = self._name("Silu", name)
        gate = self.sigmoid(x, name=f"{name}/sigmoid")
        return self._op("Mul", [x, gate], name, self._shapes[x])

    # -- element-wise and joining -----------------------------------------------------------

    def add(self, a: str, b: str, name: str | None = None) -> str:
        """Element-wise a + b of two same-shaped tensors (a residual connection)."""
        return self._op("Add", [a, b], self._name("Add", name), self._same(a, b, "add"))

    def mul(self, a: str, b: str, name: str | None = None) -> str:
        """Element-wise a * b; ``b`` may broadcast (e.g. [N, C, 1, 1] attention weights)."""
        shape = np.broadcast_shapes(self._shapes[a], self._shapes[b])
        return self._op("Mul", [a, b], self._name("Mul", name), shape)

    def concat(self, xs: Sequence[str], axis: int = 1, name: str | None = None) -> str:
        shapes = [self._shapes[x] for x in xs]
        axis = axis % len(shapes[0])
        def others(s: tuple[int, ...]) -> tuple[int, ...]:
            return s[:axis] + s[axis + 1:]

        if any(len(s) != len(shapes[0]) or others(s) != others(shapes[0]) for s in shapes):
            raise ValueError(f"concat of {list(xs)}: shapes {shapes} differ outside axis {axis}")
        shape = list(shapes[0])
        shape[axis] = sum(s[axis] for s in shapes)
        return self._op("Concat", list(xs), self._name("Concat", name), shape, axis=axis)

    def _same(self, a: str, b: str, what: str) -> tuple[int, ...]:
        if self._shapes[a] != self._shapes[b]:
            raise ValueError(f"{what} of {a} {self._shapes[a]} and {b} {self._shapes[b]}: shapes differ")
        return self._shapes[a]

    # -- pooling, resizing ------------------------------------------------------------------

    def max_pool(self, x: str, kernel: int = 3, stride: int = 2, padding: Padding = "same",
                 name: str | None = None) -> str:
        return self._pool("MaxPool", x, kernel, stride, padding, name)

    def avg_pool(self, x: str, kernel: int = 3, stride: int = 2, padding: Padding = "same",
                 name: str | None = None) -> str:
        """AveragePool; padded elements are not counted (count_include_pad=0)."""
        return self._pool("AveragePool", x, kernel, stride, padding, name)

    def _pool(self, op: str, x: str, kernel: int, stride: int, padding: Padding, name: str | None) -> str:
        n, c, h, w = self._shapes[x]
        pads, out = [], []
        for size in (h, w):
            if padding == "same":
                total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
                begin, end = total // 2, total - total // 2
            else:
                begin = end = 0 if padding == "valid" else int(padding)
            pads.append((begin, end))
            out.append((size + begin + end - kernel) // stride + 1)
        return self._op(op, [x], self._name(op, name), (n, c, *out), kernel_shape=[kernel, kernel],
                        strides=[stride, stride], pads=[pads[0][0], pads[1][0], pads[0][1], pads[1][1]])

    def global_avg_pool(self, x: str, name: str | None = None) -> str:
        """GlobalAveragePool: [N, C, H, W] -> [N, C, 1, 1]."""
        n, c = self._shapes[x][:2]
        return self._op("GlobalAveragePool", [x], self._name("GlobalAveragePool", name), (n, c, 1, 1))

    def upsample(self, x: str, scale: float = 2, mode: Literal["nearest", "bilinear"] = "nearest", *,
                 align_corners: bool = False, name: str | None = None) -> str:
        """Resize both spatial axes by ``scale`` (output = floor(size * scale)).

        ``nearest`` is PyTorch's nearest (asymmetric, floor); ``bilinear`` is linear interpolation,
        with ``align_corners`` as in ``torch.nn.functional.interpolate`` (MiDaS uses True).
        """
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"upsample mode must be 'nearest' or 'bilinear', not {mode!r}")
        n, c, h, w = self._shapes[x]
        scales = self.const(np.array([1.0, 1.0, scale, scale], np.float32))
        if mode == "nearest":
            attrs: dict[str, object] = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                                        "nearest_mode": "floor"}
        else:
            attrs = {"mode": "linear",
                     "coordinate_transformation_mode": "align_corners" if align_corners else "half_pixel"}
        shape = (n, c, math.floor(h * scale), math.floor(w * scale))
        return self._op("Resize", [x, "", scales], self._name("Resize", name), shape, **attrs)

    def depth_to_space(self, x: str, block: int = 2, mode: Literal["DCR", "CRD"] = "DCR",
                       name: str | None = None) -> str:
        """DepthToSpace (pixel shuffle): [N, C*b*b, H, W] -> [N, C, H*b, W*b]; PyTorch's
        PixelShuffle exports as mode CRD."""
        n, c, h, w = self._shapes[x]
        if c % (block * block):
            raise ValueError(f"depth_to_space of {x}: {c} channels are not a multiple of {block}^2")
        return self._op("DepthToSpace", [x], self._name("DepthToSpace", name),
                        (n, c // (block * block), h * block, w * block), blocksize=block, mode=mode)

    # -- dense layers -----------------------------------------------------------------------

    def flatten(self, x: str, name: str | None = None) -> str:
        """Flatten to [N, rest] (axis 1)."""
        shape = self._shapes[x]
        return self._op("Flatten", [x], self._name("Flatten", name), (shape[0], math.prod(shape[1:])), axis=1)

    def matmul(self, x: str, out_features: int, *, bias: bool = False, name: str | None = None) -> str:
        """x [..., K] @ W [K, out_features] (a MatMul; ``bias`` adds a broadcast Add)."""
        name = self._name("MatMul", name)
        shape = self._shapes[x]
        y = self._op("MatMul", [x, self.weight(f"{name}.w", [shape[-1], out_features])], name,
                     (*shape[:-1], out_features))
        if bias:
            y = self._op("Add", [y, self.weight(f"{name}.b", [out_features])], f"{name}/bias",
                         self._shapes[y])
        return y

    def gemm(self, x: str, out_features: int, *, bias: bool = True, name: str | None = None) -> str:
        """A fully connected layer on a 2-D [N, K] input: Gemm with W [out_features, K] (transB, as
        PyTorch's Linear exports)."""
        n, k = self._shapes[x]
        name = self._name("Gemm", name)
        inputs = [x, self.weight(f"{name}.w", [out_features, k])]
        if bias:
            inputs.append(self.weight(f"{name}.b", [out_features]))
        return self._op("Gemm", inputs, name, (n, out_features), transB=1)

    # -- the model --------------------------------------------------------------------------

    def build(self, outputs: Sequence[str] | None = None, producer: str = "nbperf.nas") -> onnx.ModelProto:
        """The ONNX model (opset 17) with ``outputs`` as graph outputs (default: the last tensor made)."""
        outs = list(outputs) if outputs is not None else [self._last]
        graph = helper.make_graph(
            self._nodes, self.name,
            [helper.make_tensor_value_info(self.input, self.elem, self._input_shape)],
            [helper.make_tensor_value_info(o, self.elem, self._shapes[o]) for o in outs],
            self._inits,
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                 producer_name=producer)


def parameter_count(model: onnx.ModelProto) -> int:
    """Elements of the floating-point initializers with at least one dimension (weights, biases,
    BatchNormalization statistics; scalar constants such as Clip bounds are not counted).
    Resize scales are float too, but are 4 elements per Resize: negligible."""
    floats = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16}
    return sum(math.prod(t.dims) for t in model.graph.initializer
               if t.data_type in floats and len(t.dims) >= 1)


# ---------------------------------------------------------------------------------------------
# Ready-made families


Block = Literal["basic", "mbconv"]


def _stage_depths(depth: int | Sequence[int]) -> tuple[int, int, int, int]:
    depths = (depth,) * 4 if isinstance(depth, int) else tuple(depth)
    if len(depths) != 4 or min(depths) < 1:
        raise ValueError(f"depth must be a positive int or four positive ints, not {depth!r}")
    return depths  # type: ignore[return-value]


def _resolution(resolution: int | tuple[int, int], multiple: int) -> tuple[int, int]:
    h, w = (resolution, resolution) if isinstance(resolution, int) else resolution
    if h % multiple or w % multiple or h <= 0 or w <= 0:
        raise ValueError(f"resolution {h}x{w} must be a positive multiple of {multiple}")
    return h, w


def _encoder(b: NetBuilder, width: int, depths: Sequence[int], block: Block, act: Activation,
             expand: int) -> list[str]:
    """A 4-stage CNN encoder; returns the stage outputs at 1/4, 1/8, 1/16 and 1/32 of the input.

    Stem: 3x3 stride-2 conv and a 3x3 stride-2 max pool (ResNet style, but a 3x3 conv keeps small
    inputs cheap). Stage i has ``width * 2**i`` channels and ``depths[i]`` blocks; stages 2-4
    start with a stride-2 block."""
    x = b.conv(b.input, width, 3, stride=2, act=act, name="stem/conv")
    x = b.max_pool(x, 3, 2, name="stem/pool")
    features = []
    for s, blocks in enumerate(depths):
        cout = width * 2 ** s
        for i in range(blocks):
            stride = 2 if s > 0 and i == 0 else 1
            p = f"enc{s + 1}/block{i}"
            x = _basic_block(b, x, cout, stride, act, p) if block == "basic" else \
                _mbconv_block(b, x, cout, stride, act, expand, p)
        features.append(x)
    return features


def _basic_block(b: NetBuilder, x: str, cout: int, stride: int, act: Activation, p: str) -> str:
    """ResNet basic block: two 3x3 convs and a shortcut (a 1x1 conv when the shape changes)."""
    h = b.conv(x, cout, 3, stride, act=act, name=f"{p}/conv1")
    h = b.conv(h, cout, 3, name=f"{p}/conv2")
    shortcut = x if stride == 1 and b.channels(x) == cout else b.conv(x, cout, 1, stride, name=f"{p}/down")
    return b.activation(b.add(h, shortcut, name=f"{p}/add"), act, name=f"{p}/out")


def _mbconv_block(b: NetBuilder, x: str, cout: int, stride: int, act: Activation, expand: int, p: str) -> str:
    """EfficientNet/MobileNetV2 inverted residual: 1x1 expand, 3x3 depthwise, 1x1 linear project,
    residual when the shape is kept (no squeeze-excitation, as in EfficientNet-Lite)."""
    hidden = b.channels(x) * expand
    h = b.conv(x, hidden, 1, act=act, name=f"{p}/expand")
    h = b.conv(h, hidden, 3, stride, depthwise=True, act=act, name=f"{p}/dw")
    h = b.conv(h, cout, 1, name=f"{p}/project")
    return b.add(h, x, name=f"{p}/add") if stride == 1 and b.channels(x) == cout else h


def _residual_conv_unit(b: NetBuilder, x: str, p: str) -> str:
    """MiDaS's ResidualConvUnit (conv3x3-ReLU-conv3x3 + x), with the ReLU after the conv, where
    the NPU fuses it."""
    c = b.channels(x)
    h = b.conv(x, c, 3, act="relu", name=f"{p}/conv1")
    return b.add(b.conv(h, c, 3, name=f"{p}/conv2"), x, name=f"{p}/add")


def midas_like(width: int = 64, depth: int | Sequence[int] = 2, decoder_features: int = 64,
               resolution: int | tuple[int, int] = 384, *, block: Block = "basic", expand: int = 4,
               act: Activation = "relu", dtype: type[np.floating] = np.float32, weights: Weights = "zeros",
               ) -> onnx.ModelProto:
    """A MiDaS-like monocular depth network: CNN encoder, reassemble + fusion decoder, depth head.

    ``width``: channels of the first encoder stage; stage i (1..4) has ``width * 2**(i-1)``
    (64 gives ResNet-18/34's 64-128-256-512). ``depth``: blocks per encoder stage, one int for all
    four stages or four ints ((2, 2, 2, 2) is ResNet-18's layout, (3, 4, 6, 3) ResNet-34's).
    ``decoder_features``: channels of every decoder (fusion) block and, halved, of the head.
    ``resolution``: input height and width (an int for a square input, or (h, w)), a multiple
    of 32 since the deepest stage is at 1/32. ``block``: ``"basic"`` (ResNet basic blocks) or
    ``"mbconv"`` (EfficientNet-Lite inverted residuals expanding by ``expand``). ``act``: the
    encoder activation (the decoder uses ReLU, as MiDaS does). ``dtype``, ``weights``: see
    ``NetBuilder``.

    Layout (as MiDaS v2.1 / MiDaS-small): reassemble, a 3x3 conv of every encoder output (1/4
    ... 1/32) to ``decoder_features`` channels; fusion, from the deepest scale up: add the
    upsampled coarser path to a residual conv unit of the skip, another residual conv unit,
    bilinear upsample x2 (align_corners) and a 1x1 conv; head: 3x3 conv to half the features,
    upsample x2, 3x3 conv to 32 + ReLU, 1x1 conv to 1 + ReLU. Input ``input`` (1, 3, H, W),
    output ``depth`` (1, 1, H, W).
    """
    h, w = _resolution(resolution, 32)
    depths = _stage_depths(depth)
    b = NetBuilder(f"midas_like_w{width}_d{'-'.join(map(str, depths))}_f{decoder_features}_{h}x{w}",
                   (1, 3, h, w), dtype, weights=weights)
    skips = _encoder(b, width, depths, block, act, expand)
    reassembled = [b.conv(s, decoder_features, 3, bias=False, name=f"reassemble{i + 1}")
                   for i, s in enumerate(skips)]
    path: str | None = None
    for i in reversed(range(4)):
        p = f"fusion{i + 1}"
        skip = reassembled[i]
        # the deepest block has no coarser path: MiDaS feeds its skip through the second unit only
        x = skip if path is None else b.add(path, _residual_conv_unit(b, skip, f"{p}/rcu1"), name=f"{p}/add")
        x = _residual_conv_unit(b, x, f"{p}/rcu2")
        x = b.upsample(x, 2, "bilinear", align_corners=True, name=f"{p}/up")
        path = b.conv(x, decoder_features, 1, name=f"{p}/out")
    assert path is not None
    x = b.conv(path, max(decoder_features // 2, 1), 3, name="head/conv1")
    x = b.upsample(x, 2, "bilinear", align_corners=True, name="head/up")
    x = b.conv(x, 32, 3, act="relu", name="head/conv2")
    x = b.conv(x, 1, 1, name="head/conv3")
    out = b.relu(x, name="depth")  # depth (inverse depth in MiDaS) is non-negative
    return b.build([out])


def resnet_like(width: int = 64, depth: int | Sequence[int] = 2, resolution: int | tuple[int, int] = 224,
                classes: int = 1000, *, block: Block = "basic", expand: int = 4, act: Activation = "relu",
                dtype: type[np.floating] = np.float32, weights: Weights = "zeros") -> onnx.ModelProto:
    """An image classifier on the same encoder as ``midas_like``: global average pool and a
    fully connected layer to ``classes`` logits. Parameters as in ``midas_like``; output
    ``logits`` (1, classes)."""
    h, w = _resolution(resolution, 32)
    depths = _stage_depths(depth)
    b = NetBuilder(f"resnet_like_w{width}_d{'-'.join(map(str, depths))}_{h}x{w}", (1, 3, h, w), dtype,
                   weights=weights)
    x = _encoder(b, width, depths, block, act, expand)[-1]
    x = b.flatten(b.global_avg_pool(x, name="pool"), name="flatten")
    return b.build([b.gemm(x, classes, name="logits")])

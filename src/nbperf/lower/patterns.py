"""Graph rewrites that run before per-op lowering, in the order ``lower()`` lists them.

Each rewrite replaces a matched group of ONNX nodes by one node and records the members in the
node's ``fused`` attribute, so the report can say where every ONNX node went.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from nbperf.frontend.ir import Graph, Node

FUSED_ATTR = "nbperf_fused"  # names of the ONNX nodes merged into a node
EFFECTIVE_PERM_ATTR = "nbperf_effective_perm"  # the permutation a Transpose's data really undergoes
NBPERF_DOMAIN = "nbperf"
ROW_ELEMENTS_ATTR = "nbperf_row_elements"  # a fused normalization: elements of one normalized row

# Ops the DPU runs, whose PPE can absorb a following activation, bias or scale.
DPU_PRODUCERS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "MaxPool", "AveragePool",
                           "GlobalAveragePool", "Add", "Sub", "Mul"})
PPE_ACTIVATIONS = frozenset({"Relu", "Clip", "LeakyRelu", "PRelu"})
PPE_CONST_ARITH = frozenset({"Add", "Sub", "Mul", "Div"})
B_RESHAPES = frozenset({"Reshape", "Squeeze", "Unsqueeze"})  # views a MatMul B's transpose passes
ODU_PERMUTE_ATTR = "nbperf_odu_permute"  # a Transpose its producer's ODU writes: a view
CONV3D_PLANES_ATTR = "nbperf_conv3d_planes"  # a 3-D conv unrolled: its 2-D convs (one per depth tap)
CONV3D_ADDS_ATTR = "nbperf_conv3d_adds"  # the element-wise Adds that sum an unrolled 3-D conv's taps
CONV3D_OUT_ATTR = "nbperf_conv3d_out"  # an unrolled 3-D conv's own output shape (N, K, D, H, W)
# Ops whose output the ODU can write in another order (npu_compiler NPU37XX/dialect/VPU/IR/
# layer_permute_ie.cpp registerLayerWithPermuteInterfaceForIE, @150e202).
ODU_PERMUTE_PRODUCERS = frozenset({"Conv", "ConvTranspose", "MaxPool", "AveragePool", "Add"})


def _std(node: Node | None) -> bool:
    """Only standard ONNX ops take part in patterns: a custom op may merely share a name."""
    return node is not None and node.domain in ("", "ai.onnx")


def _fused(node: Node) -> tuple[str, ...]:
    return tuple(node.attrs.get(FUSED_ATTR, ()))


def _merge(anchor: Node, members: Iterable[Node], **changes: object) -> Node:
    names = list(_fused(anchor))
    for m in members:
        names.append(m.name)
        names.extend(_fused(m))
    attrs = {**anchor.attrs, FUSED_ATTR: tuple(names)}
    return replace(anchor, attrs=attrs, **changes)


def _rebuild(graph: Graph, replaced: dict[str, Node], removed: set[str]) -> Graph:
    """New graph with nodes swapped (by name) and removed; order is kept."""
    nodes = tuple(replaced.get(n.name, n) for n in graph.nodes if n.name not in removed)
    return replace(graph, nodes=nodes)


def _is_const(graph: Graph, tensor: str) -> bool:
    t = graph.tensors.get(tensor)
    return t is not None and t.is_constant


def _const_scalar(graph: Graph, tensor: str) -> float | None:
    t = graph.tensors.get(tensor)
    if t is None or not t.is_constant or t.value is None or t.value.size != 1:
        return None
    return float(t.value.reshape(-1)[0])


def _sole_consumer(graph: Graph, consumers: dict[str, list[Node]], tensor: str) -> Node | None:
    users = consumers.get(tensor, [])
    if len(users) != 1 or tensor in graph.outputs:
        return None
    return users[0]


def fuse_gelu(graph: Graph) -> Graph:
    """Erf-based GELU: ``x * 0.5 * (1 + erf(x / sqrt(2)))`` in any operand order -> one Gelu node."""
    producers, consumers = graph.producers(), graph.consumers()
    replaced: dict[str, Node] = {}
    removed: set[str] = set()
    for erf in graph.nodes:
        if erf.op_type != "Erf" or erf.name in removed or not _std(erf):
            continue
        scale = producers.get(erf.inputs[0])
        if not _std(scale) or scale.op_type not in {"Div", "Mul"} or not _is_const(graph, scale.inputs[1]):
            continue
        x = scale.inputs[0]
        members, tail = [scale, erf], erf
        while True:
            nxt = _sole_consumer(graph, consumers, tail.outputs[0])
            if not _std(nxt) or nxt.op_type not in {"Add", "Mul"} or len(members) >= 6:
                break
            others = [i for i in nxt.inputs if i != tail.outputs[0]]
            if not all(o == x or _is_const(graph, o) for o in others):
                break
            members.append(nxt)
            tail = nxt
        if not any(m.op_type == "Mul" and x in m.inputs for m in members):
            continue  # erf without the x * ... product is not a GELU
        gelu = Node(name=f"{erf.name}/gelu", op_type="Gelu", inputs=(x,), outputs=tail.outputs,
                    attrs={FUSED_ATTR: tuple(m.name for m in members)}, domain=NBPERF_DOMAIN)
        replaced[tail.name] = gelu
        removed.update(m.name for m in members if m is not tail)
    return _rebuild(graph, replaced, removed)


def fuse_swish(graph: Graph) -> Graph:
    """``x * sigmoid(x)`` (either operand order; in a QDQ model once its Q/DQ pairs are folded) ->
    one Swish node, as the compiler's SwishFusion pass rewrites the Multiply (npu_compiler
    src/vpux_compiler/src/dialect/IE/transforms/passes/swish_fusion.cpp@150e202, run by
    arch37xx::buildLowPrecisionPipeline on NPU37XX and NPU40XX). Like that pass, the Sigmoid stays
    when something else reads it too."""
    consumers = graph.consumers()
    replaced: dict[str, Node] = {}
    removed: set[str] = set()
    for sigmoid in graph.nodes:
        if sigmoid.op_type != "Sigmoid" or not _std(sigmoid):
            continue
        x, s = sigmoid.inputs[0], sigmoid.outputs[0]
        users = consumers.get(s, [])
        muls = [m for m in users if _std(m) and m.op_type == "Mul" and sorted(m.inputs) == sorted((x, s))]
        gone = len(muls) == len(users) and s not in graph.outputs  # the Sigmoid has no other reader
        for mul in muls:
            members = (sigmoid.name, mul.name) if gone else (mul.name,)
            replaced[mul.name] = Node(name=f"{mul.name}/swish", op_type="Swish", inputs=(x,),
                                      outputs=mul.outputs, attrs={FUSED_ATTR: members}, domain=NBPERF_DOMAIN)
        if muls and gone:
            removed.add(sigmoid.name)
    return _rebuild(graph, replaced, removed)


def compose_matmul_transposes(graph: Graph) -> Graph:
    """The compiler brings every MatMul to the transpose_b form by transposing B's last two axes
    (npu_compiler dialect/IE/IR/ops/matmul.cpp TransposeInputs, @150e202; its software MatMul
    path lists no shapes, so every MatMul takes the DPU path), moves permutes past element-wise
    ops (MovePermutePostEltwise) and composes consecutive transposes into one (transpose.cpp
    FuseTransposes / CollapseMutualTransposes). So a Transpose read only as MatMul B, directly or
    through scaling by a constant or reshapes that keep the last two axes, moves its data by its
    perm with the last two axes swapped: a K^T feeding Q x K^T keeps its head dim innermost, a
    last-two-axes swap moves nothing. A B with no such Transpose behind it gets the compiler's
    own: an inserted Transpose whose data moves by the last-two-axes swap."""
    consumers = graph.consumers()
    replaced: dict[str, Node] = {}
    composed_outputs: set[str] = set()
    for node in graph.nodes:
        if node.op_type != "Transpose" or not _std(node):
            continue
        rank = len(graph.tensors[node.inputs[0]].shape)
        if rank >= 2 and _read_as_matmul_b(graph, consumers, node.outputs[0]):
            perm = [int(p) for p in node.attrs.get("perm", range(rank - 1, -1, -1))]
            composed = [*perm[:-2], perm[-1], perm[-2]]
            replaced[node.name] = replace(node, attrs={**node.attrs, EFFECTIVE_PERM_ATTR: composed})
            composed_outputs.add(node.outputs[0])
    graph = _rebuild(graph, replaced, set())
    return _insert_b_transposes(graph, composed_outputs)


def _insert_b_transposes(graph: Graph, composed_outputs: set[str]) -> Graph:
    """Before each MatMul whose activation B reaches it without a composed Transpose, the
    compiler's inserted one: an identity Transpose (shapes unchanged for the lowering) whose
    effective permutation swaps the last two axes, priced as the data movement it is."""
    producers = graph.producers()
    nodes: list[Node] = []
    tensors = dict(graph.tensors)
    inserted: dict[str, str] = {}
    for node in graph.nodes:
        if _std(node) and node.op_type == "MatMul" and len(node.inputs) == 2:
            b = node.inputs[1]
            shape = graph.tensors[b].shape
            if len(shape) >= 2 and not graph.tensors[b].is_constant and node.inputs[0] != b \
                    and not _behind_composed_transpose(graph, producers, b, composed_outputs):
                if b not in inserted:
                    out = f"{b}/transpose_b"
                    rank = len(shape)
                    tensors[out] = replace(graph.tensors[b], name=out)
                    nodes.append(Node(name=f"{node.name}/transpose_b", op_type="Transpose", inputs=(b,),
                                      outputs=(out,), attrs={"perm": list(range(rank)), EFFECTIVE_PERM_ATTR:
                                                             [*range(rank - 2), rank - 1, rank - 2]}))
                    inserted[b] = out
                node = replace(node, inputs=(node.inputs[0], inserted[b]))
        nodes.append(node)
    if not inserted:
        return graph
    return replace(graph, nodes=tuple(nodes), tensors=tensors)


def _behind_composed_transpose(graph: Graph, producers: dict[str, Node], tensor: str,
                               composed_outputs: set[str]) -> bool:
    """``tensor`` is a composed Transpose's output, or reaches one back through the scalings and
    reshapes ``_read_as_matmul_b`` passes."""
    for _ in range(6):
        if tensor in composed_outputs:
            return True
        node = producers.get(tensor)
        if node is None or not _std(node) or not node.inputs:
            return False
        if node.op_type in B_RESHAPES:
            tensor = node.inputs[0]
        elif node.op_type in PPE_CONST_ARITH:
            tensor = next((i for i in node.inputs if not _is_const(graph, i)), "")
        else:
            return False
    return False


def _read_as_matmul_b(graph: Graph, consumers: dict[str, list[Node]], tensor: str) -> bool:
    """Every reader of ``tensor`` is a MatMul taking it as B, after at most a chain of sole
    consumers that scale it by a constant (which a permute commutes with) or reshape it keeping
    its last two axes (which a last-two-axes swap commutes with)."""
    for _ in range(6):
        users = consumers.get(tensor, [])
        if not users or tensor in graph.outputs:
            return False
        if all(_std(u) and u.op_type == "MatMul" and u.inputs[1] == tensor and u.inputs[0] != tensor
               for u in users):
            return True
        step = users[0]
        if len(users) != 1 or not _std(step):
            return False
        if step.op_type in B_RESHAPES:
            if graph.tensors[step.outputs[0]].shape[-2:] != graph.tensors[tensor].shape[-2:]:
                return False
        elif step.op_type not in PPE_CONST_ARITH \
                or _const_scalar(graph, next((i for i in step.inputs if i != tensor), "")) is None:
            return False
        tensor = step.outputs[0]
    return False


def fuse_layernorm(graph: Graph) -> Graph:
    """Decomposed layer norm ``(x - mean) / sqrt(var + eps) * g + b`` -> one LayerNormalization node."""
    producers, consumers = graph.producers(), graph.consumers()
    replaced: dict[str, Node] = {}
    removed: set[str] = set()
    for mean in graph.nodes:
        if mean.op_type != "ReduceMean" or mean.name in removed or not _std(mean):
            continue
        x = mean.inputs[0]
        sub = _sole_consumer(graph, consumers, mean.outputs[0])
        if sub is None or sub.op_type != "Sub" or sub.inputs != (x, mean.outputs[0]):
            continue
        chain = _follow_variance(graph, consumers, producers, sub)
        if chain is None:
            continue
        members, tail = chain
        for op in ("Mul", "Add"):  # optional gamma, beta
            nxt = _sole_consumer(graph, consumers, tail.outputs[0])
            if nxt is not None and nxt.op_type == op and any(_is_const(graph, i) for i in nxt.inputs):
                members.append(nxt)
                tail = nxt
        # One row is what one mean spans: the input's elements over the mean's.
        row = graph.tensor(x).elements // max(1, graph.tensor(mean.outputs[0]).elements)
        ln = Node(name=f"{mean.name}/layernorm", op_type="LayerNormalization", inputs=(x,),
                  outputs=tail.outputs, attrs={FUSED_ATTR: tuple(m.name for m in [mean, *members]),
                                               ROW_ELEMENTS_ATTR: row},
                  domain=NBPERF_DOMAIN)
        replaced[tail.name] = ln
        removed.update(m.name for m in [mean, *members] if m is not tail)
    return _rebuild(graph, replaced, removed)


def fuse_transposes(graph: Graph) -> Graph:
    """A Transpose of a Transpose that nothing else reads is one Transpose (npu_compiler
    dialect/IE/IR/ops/transpose.cpp, FuseTransposes): the chains OpenVINO's attention fusion
    leaves around a key cost one permute, as in the ONNX model they came from."""
    producers, consumers = graph.producers(), graph.consumers()
    replaced: dict[str, Node] = {}
    removed: set[str] = set()
    for node in graph.nodes:
        first = producers.get(node.inputs[0]) if node.op_type == "Transpose" and node.inputs else None
        first = replaced.get(first.name, first) if first is not None else None
        if first is None or first.op_type != "Transpose" or not (_std(node) and _std(first)) \
                or len(consumers.get(node.inputs[0], ())) != 1 or node.inputs[0] in graph.outputs:
            continue
        rank = len(graph.tensors[first.inputs[0]].shape)
        outer = [int(p) for p in first.attrs.get("perm") or range(rank - 1, -1, -1)]
        inner = [int(p) for p in node.attrs.get("perm") or range(rank - 1, -1, -1)]
        replaced[node.name] = replace(node, inputs=first.inputs,
                                      attrs={**node.attrs, "perm": [outer[i] for i in inner],
                                             FUSED_ATTR: (*_fused(first), first.name, *_fused(node))})
        removed.add(first.name)
    return _rebuild(graph, replaced, removed)


def fuse_norm_scale_bias(graph: Graph) -> Graph:
    """A normalization followed by a constant scale (Mul) and shift (Add), as OpenVINO writes a
    layer norm, runs as one kernel: the compiler folds them into the MVN (npu_compiler
    IE/transforms/passes/fuse_mvn6_scale_bias.cpp)."""
    consumers = graph.consumers()
    replaced: dict[str, Node] = {}
    removed: set[str] = set()
    for norm in graph.nodes:
        if norm.op_type != "MeanVarianceNormalization" or not _std(norm):
            continue
        members: list[Node] = []
        tail = norm
        for op in ("Mul", "Add"):
            nxt = _sole_consumer(graph, consumers, tail.outputs[0])
            if nxt is None or nxt.op_type != op or not any(_is_const(graph, i) for i in nxt.inputs):
                break
            members.append(nxt)
            tail = nxt
        if not members:
            continue
        fused = (*_fused(norm), *(m.name for m in members))
        replaced[tail.name] = replace(norm, outputs=tail.outputs, attrs={**norm.attrs, FUSED_ATTR: fused})
        removed.update(m.name for m in [norm, *members] if m is not tail)
    return _rebuild(graph, replaced, removed)


def _follow_variance(graph: Graph, consumers: dict[str, list[Node]], producers: dict[str, Node],
                     sub: Node) -> tuple[list[Node], Node] | None:
    """From ``d = x - mean``: Pow(d,2) -> ReduceMean -> Add(eps) -> Sqrt -> Div(d, .) ."""
    d = sub.outputs[0]
    users = consumers.get(d, [])
    sq = next((u for u in users if (u.op_type == "Pow" and _const_scalar(graph, u.inputs[1]) == 2.0)
               or (u.op_type == "Mul" and u.inputs == (d, d))), None)
    div = next((u for u in users if u.op_type == "Div" and u.inputs[0] == d), None)
    if sq is None or div is None or len(users) != 2:
        return None
    var = _sole_consumer(graph, consumers, sq.outputs[0])
    eps = var and _sole_consumer(graph, consumers, var.outputs[0])
    sqrt = eps and _sole_consumer(graph, consumers, eps.outputs[0])
    if not (var and var.op_type == "ReduceMean" and eps and eps.op_type == "Add"
            and sqrt and sqrt.op_type == "Sqrt" and producers.get(div.inputs[1]) is sqrt):
        return None
    return [sub, sq, var, eps, sqrt, div], div


def fuse_ppe(graph: Graph) -> Graph:
    """Fold bias, scale and one ReLU-family activation into the DPU op that produces their input.

    The PPE applies them on the way out of the MAC array at no extra cost. Only a sole consumer of
    a DPU op's output is fused, and only constant operands (bias, scale). Activations follow the
    compiler's post-op rules (npu_compiler NPU37XX/dialect/VPU/IR/layer_post_ops.cpp
    isSupportedHWPostOp, shared by NPU40XX; IE/transforms/passes/fuse_activation_ops.cpp, @150e202):
    ReLU, LeakyReLU and a PReLU with one slope (it becomes a LeakyReLU, IE/IR/ops/prelu.cpp), not
    after a MaxPool; Clamp with a zero minimum, or any Clamp on quantized data; one per producer.
    """
    consumers = graph.consumers()
    absorbed: dict[str, Node] = {}  # DPU producer name -> producer with fused members
    removed: set[str] = set()
    for node in graph.nodes:
        if node.op_type not in DPU_PRODUCERS or node.name in removed or not _std(node):
            continue
        if node.op_type in {"Add", "Sub", "Mul"} and not _is_dpu_eltwise(graph, node):
            continue
        current = absorbed.get(node.name, node)
        activated = False
        while True:
            nxt = _sole_consumer(graph, consumers, current.outputs[0])
            if not _std(nxt) or not _is_ppe_member(graph, nxt, current.outputs[0], node):
                break
            if nxt.op_type in PPE_ACTIVATIONS:
                if activated:
                    break  # the PPE takes one post-op
                activated = True
            current = _merge(current, [nxt], outputs=nxt.outputs)
            removed.add(nxt.name)
        if current is not node:
            absorbed[node.name] = current
    return _rebuild(graph, absorbed, removed)


def _is_ppe_member(graph: Graph, node: Node, source: str, producer: Node) -> bool:
    others = [i for i in node.inputs[1:] if i]
    if node.op_type in PPE_ACTIVATIONS:
        if node.inputs[0] != source or not all(_is_const(graph, i) for i in others):
            return False
        if node.op_type == "PRelu":
            slope = graph.tensors[node.inputs[1]]
            return slope.elements == 1 and producer.op_type != "MaxPool"
        if node.op_type == "Clip":
            low = _const_scalar(graph, node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] \
                else node.attrs.get("min")  # opset < 11 keeps the bounds as attributes
            return low == 0.0 or source in graph.quantized
        return producer.op_type != "MaxPool"
    if node.op_type in PPE_CONST_ARITH:
        operands = [i for i in node.inputs if i != source]
        if len(operands) != 1 or not _is_const(graph, operands[0]):
            return False
        if node.op_type in {"Sub", "Div"} and node.inputs[0] != source:
            return False  # const - x and const / x are not a PPE scale/bias
        const = graph.tensors[operands[0]]
        out = graph.tensors[node.outputs[0]]
        channels = out.shape[1] if len(out.shape) == 4 else (out.shape[-1] if out.shape else 1)
        return const.elements in {1, channels}  # scalar or per-channel only
    if node.op_type == "BatchNormalization":
        return all(_is_const(graph, i) for i in node.inputs[1:])
    return False


def _is_dpu_eltwise(graph: Graph, node: Node) -> bool:
    """Add/Sub/Mul of two activations with the same shape: a DPU element-wise task."""
    if len(node.inputs) != 2 or any(_is_const(graph, i) for i in node.inputs):
        return False
    a, b = (graph.tensors[i].shape for i in node.inputs)
    return a == b


def fold_odu_permutes(graph: Graph) -> Graph:
    """A Transpose right after a DPU op that has no other reader is written by that op's ODU in
    the permuted order and costs nothing (FuseMemPermute, npu_compiler dialect/IE/transforms/
    passes/fuse_mem_permute.cpp, with layer_permute_ie.cpp isSupportedPermutation): the producer
    is a convolution, pooling or element-wise Add, batch 1, and the permutation keeps the batch
    axis first and reorders at most the three others (the ODU's six orders of C, H, W). The
    Transpose stays as a view; the producer lists it among what it fused."""
    producers, consumers = graph.producers(), graph.consumers()
    replaced: dict[str, Node] = {}
    for node in graph.nodes:
        if node.op_type != "Transpose" or not _std(node) or not node.inputs:
            continue
        shape = graph.tensors[node.inputs[0]].shape
        perm = node.attrs.get(EFFECTIVE_PERM_ATTR, node.attrs.get("perm"))
        producer = producers.get(node.inputs[0])
        if producer is None or not _std(producer) or producer.op_type not in ODU_PERMUTE_PRODUCERS \
                or producer.name in replaced or len(consumers.get(node.inputs[0], [])) != 1 \
                or node.inputs[0] in graph.outputs or not 3 <= len(shape) <= 4 or shape[0] != 1 \
                or perm is None or int(perm[0]) != 0:
            continue
        if producer.op_type == "Add" and not _is_dpu_eltwise(graph, producer):
            continue
        replaced[producer.name] = _merge(producer, [node])
        replaced[node.name] = replace(node, attrs={**node.attrs, ODU_PERMUTE_ATTR: producer.name})
    return _rebuild(graph, replaced, set())


def unroll_conv3d(graph: Graph) -> Graph:
    """The NPU has no 3-D convolution: the compiler unrolls one into 2-D convolutions, one per
    output depth plane and kernel depth tap that reads real (not padding) input, and sums each
    plane's taps with element-wise Adds (npu_compiler dialect/IE/transforms/passes/
    unroll_conv3d_to_conv2d.cpp, ConvGeneralRewriter, @150e202). A 3-D transposed conv becomes
    one 2-D transposed conv per input depth plane and kernel depth tap, each tap landing on output
    plane ``input plane x stride + tap``, the taps of a plane summed by Adds (same file,
    TransposedConvGeneralRewriter). Here the conv keeps its node, marked with its 2-D conv count
    and writing every tap's plane; a DPU Add node after it sums them (none when no plane has two
    taps)."""
    nodes: list[Node] = []
    tensors = dict(graph.tensors)
    changed = False
    for node in graph.nodes:
        geometry = _conv3d_taps(graph, node)
        if geometry is None:
            nodes.append(node)
            continue
        planes, adds, plane_shape = geometry
        changed = True
        out_shape = graph.tensors[node.outputs[0]].shape
        marked = {**node.attrs, CONV3D_PLANES_ATTR: planes, CONV3D_OUT_ATTR: out_shape}
        if not adds:
            nodes.append(replace(node, attrs=marked))
            continue
        y = node.outputs[0]
        taps = f"{y}/depth_taps"
        tensors[taps] = replace(graph.tensors[y], name=taps, shape=(planes, *plane_shape))
        nodes.append(replace(node, outputs=(taps,), attrs=marked))
        nodes.append(Node(name=f"{node.name}/depth_sum", op_type="Add", inputs=(taps,), outputs=(y,),
                          attrs={CONV3D_ADDS_ATTR: adds}, domain=NBPERF_DOMAIN))
    return replace(graph, nodes=tuple(nodes), tensors=tensors) if changed else graph


def _conv3d_taps(graph: Graph, node: Node) -> tuple[int, int, tuple[int, int, int]] | None:
    """(2-D convs, Adds, (K, Ho, Wo) of one plane) of a 3-D Conv or ConvTranspose, or None for
    any other node."""
    if node.op_type not in ("Conv", "ConvTranspose") or not _std(node) or len(node.inputs) < 2 \
            or len(node.outputs) != 1:
        return None
    x, w, y = (graph.tensors[t].shape for t in (node.inputs[0], node.inputs[1], node.outputs[0]))
    if len(x) != 5 or len(w) != 5 or len(y) != 5:
        return None
    n, _, depth = x[:3]
    _, k, out_depth, ho, wo = y
    kd = w[2]
    stride = int(node.attrs.get("strides", [1, 1, 1])[0])
    dilation = int(node.attrs.get("dilations", [1, 1, 1])[0])
    pads = node.attrs.get("pads", [0] * 6)
    begin = int(pads[0])
    if node.op_type == "ConvTranspose":
        # Input plane a, tap t lands on output plane a x stride + t - begin (the compiler's index
        # ignores a depth dilation); every (plane, tap) pair is one 2-D transposed conv.
        landed = [a * stride + t - begin for a in range(depth) for t in range(kd)]
        per_plane = [sum(1 for p in landed if p == od) for od in range(out_depth)]
        return n * depth * kd, n * sum(max(0, c - 1) for c in per_plane), (k, ho, wo)
    if node.attrs.get("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        total = max(0, (out_depth - 1) * stride + (kd - 1) * dilation + 1 - depth)
        begin = total // 2 if node.attrs["auto_pad"] == "SAME_UPPER" else total - total // 2
    taps = [sum(1 for t in range(kd) if 0 <= od * stride - begin + t * dilation < depth)
            for od in range(out_depth)]
    return n * max(1, sum(taps)), n * sum(max(0, t - 1) for t in taps), (k, ho, wo)


MAX_POOL_KERNEL = 11  # npu_compiler NPU37XX/dialect/VPU/impl/max_kernel_size_constant.hpp (37XX and 40XX)


def split_large_pools(graph: Graph) -> Graph:
    """A global pooling, or a pooling whose kernel equals its stride, with a window over the NCE's
    largest kernel (11) becomes a chain of pools of at most 11 x 11, each striding by its kernel
    (npu_compiler IE/transforms/passes/handle_large_kernels.cpp, GeneralPoolingBaseRewriter): the
    first pool of a 240 x 240 plane, 10 x 10, reads its rows without overlap and tiles like any
    other op, where one 240 x 240 window needs the whole plane in CMX."""
    nodes: list[Node] = []
    tensors = dict(graph.tensors)
    changed = False
    for node in graph.nodes:
        steps = _pool_steps(graph, node)
        if not steps:
            nodes.append(node)
            continue
        changed = True
        op_type = "MaxPool" if node.op_type in ("MaxPool", "GlobalMaxPool") else "AveragePool"
        n, c, h, w = graph.tensors[node.inputs[0]].shape
        source = node.inputs[0]
        for k, (fh, fw) in enumerate(steps):
            out_h, out_w = -(-h // fh), -(-w // fw)
            last = k == len(steps) - 1
            name = node.name if last else f"{node.name}/part{k}"
            out = node.outputs[0] if last else name
            if not last:
                tensors[out] = replace(graph.tensors[node.outputs[0]], name=out, shape=(n, c, out_h, out_w))
            attrs = {"kernel_shape": [fh, fw], "strides": [fh, fw],
                     "pads": [0, 0, out_h * fh - h, out_w * fw - w]}
            if last and _fused(node):
                attrs[FUSED_ATTR] = _fused(node)
            nodes.append(Node(name, op_type, (source,), (out,), attrs))
            source, h, w = out, out_h, out_w
    return replace(graph, nodes=tuple(nodes), tensors=tensors) if changed else graph


def _pool_steps(graph: Graph, node: Node) -> list[tuple[int, int]]:
    """The (kernel height, kernel width) of each pool a large pooling splits into, or []."""
    if not _std(node) or not node.inputs or len(graph.tensors[node.inputs[0]].shape) != 4:
        return []
    _, _, h, w = graph.tensors[node.inputs[0]].shape
    if node.op_type in ("GlobalAveragePool", "GlobalMaxPool"):
        kernel = [h, w]
    elif node.op_type in ("AveragePool", "MaxPool"):
        kernel = [int(k) for k in node.attrs.get("kernel_shape", [])]
        strides = [int(s) for s in node.attrs.get("strides", [1] * len(kernel))]
        padded = any(int(p) for p in node.attrs.get("pads", []))
        dilated = any(int(d) > 1 for d in node.attrs.get("dilations", []))
        if len(kernel) != 2 or kernel != strides or padded or dilated or len(node.outputs) != 1:
            return []
    else:
        return []
    if max(kernel) <= MAX_POOL_KERNEL:
        return []
    per_axis = [_factors(k) for k in kernel]
    depth = max(len(f) for f in per_axis)
    padded = [f + [1] * (depth - len(f)) for f in per_axis]
    return list(zip(*padded, strict=True))


def _factors(extent: int) -> list[int]:
    """Kernels of at most 11 whose chain covers ``extent``: the largest divisor at each step, or 11
    with padding where the extent has none (a prime over 11)."""
    factors = []
    while extent > MAX_POOL_KERNEL:
        f = next((d for d in range(MAX_POOL_KERNEL, 1, -1) if extent % d == 0), MAX_POOL_KERNEL)
        factors.append(f)
        extent = -(-extent // f)
    return [*factors, extent] if extent > 1 or not factors else factors

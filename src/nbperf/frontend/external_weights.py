"""The share of zeros of a weight stored as ONNX external data, read where its file exists.

nbperf never loads external data into the graph (a large model's weights stay on disk), but a
pruned model's sparsity lives in them. A weight whose file is beside the model is read once, in
chunks through a memory map, only to count its zeros; a missing or short file counts as no
weights (the weightless case), never as an error. ``read_model`` has already refused locations
outside the model's folder.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

CHUNK_ELEMENTS = 1 << 24  # zeros are counted this many values at a time (bounded memory)
# Weights past this size (a 1 GB fp32 tensor) are not read at all, inline or external (assumed
# bound: memory and time over a sparsity figure).
MEASURE_ZEROS_ELEMENTS = 1 << 28


def external_zero_fraction(tensor: TensorProto, model_path: str,
                           max_elements: int = MEASURE_ZEROS_ELEMENTS) -> float | None:
    """Zeros over values of ``tensor``'s external data (None: no file, not numeric, too large, or
    all zeros, which is a placeholder rather than a layer pruned to nothing)."""
    entries = {e.key: e.value for e in tensor.external_data}
    folder = Path(model_path).parent
    location = entries.get("location")
    elements = math.prod(int(d) for d in tensor.dims)
    if not location or not folder.is_dir() or elements == 0 or elements > max_elements:
        return None
    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type))
    except (KeyError, TypeError, ValueError):
        return None
    if dtype.kind not in "biuf" or tensor.data_type == TensorProto.BFLOAT16:
        return None
    path = folder / location
    try:
        offset = int(entries.get("offset", 0))
        if not path.is_file() or path.stat().st_size < offset + elements * dtype.itemsize:
            return None
        values = np.memmap(path, dtype=dtype.newbyteorder("<"), mode="r", offset=offset, shape=(elements,))
    except (OSError, ValueError):
        return None
    zeros = sum(int(np.count_nonzero(values[i:i + CHUNK_ELEMENTS] == 0))
                for i in range(0, elements, CHUNK_ELEMENTS))
    return None if zeros == elements else zeros / elements

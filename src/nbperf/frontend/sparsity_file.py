"""The per-layer sparsity file (``--sparsity FILE.yaml``): zero shares by layer and by tensor.

    weights:        # share of zero weights, by layer (ONNX node) name, for a file without weights
      conv1: 0.5
      layer4.0.conv2: 0.75
    activations:    # share of zeros, by tensor or node name (the compiler's runtime statistics)
      relu_1: 0.45

Either section may be left out. Every share is in [0, 1).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from nbperf.errors import UsageError

SECTIONS = ("weights", "activations")


def read_sparsity_file(path: str | Path) -> dict[str, dict[str, float]]:
    """The file's sections, each a name -> share mapping (absent sections are left out)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"sparsity file not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read sparsity file {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not data:
        raise UsageError(f"sparsity file {path}: expected a mapping with 'weights' and/or 'activations'")
    unknown = sorted(set(map(str, data)) - set(SECTIONS))
    if unknown:
        raise UsageError(f"sparsity file {path}: unknown section {unknown[0]!r}; "
                         f"allowed: {', '.join(SECTIONS)}")
    sections: dict[str, dict[str, float]] = {}
    for section, shares in data.items():
        if not isinstance(shares, dict) or not shares:
            raise UsageError(f"sparsity file {path}: '{section}' must map names to shares")
        for name, share in shares.items():
            if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
                raise UsageError(f"sparsity file {path}: {section}.{name} must be a share in [0, 1), "
                                 f"got {share!r}")
        sections[section] = {str(name): float(share) for name, share in shares.items()}
    return sections

"""Architecture descriptions: the pydantic model, shipped presets and the loader."""

from nbperf.arch.loader import load_arch, preset_names, preset_text
from nbperf.arch.model import PRECISION_BYTES, ArchSpec, Precision

__all__ = ["PRECISION_BYTES", "ArchSpec", "Precision", "load_arch", "preset_names", "preset_text"]

"""Architecture descriptions: the pydantic model, shipped presets and the loader."""

from nbperf.arch.loader import load_arch, preset_names, preset_text
from nbperf.arch.model import ArchSpec, Precision

__all__ = ["ArchSpec", "Precision", "load_arch", "preset_names", "preset_text"]

"""Shared fixtures: where the repo's example models and ../shared/models live."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples" / "models"
SHARED_MODELS = REPO_ROOT.parent / "shared" / "models"


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch):
    """CLI tables fit COLUMNS when it is set; pytest-xdist workers inherit one (80), so tests see
    the piped default unless they set their own."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """../shared/models beside the checkout; the test is skipped when it is absent."""
    if not SHARED_MODELS.is_dir() or not any(SHARED_MODELS.glob("*.onnx")):
        pytest.skip(f"shared models not found at {SHARED_MODELS} (they live beside the repo checkout)")
    return SHARED_MODELS


def load_study(file_name: str) -> ModuleType:
    """A study script of ``studies/`` as a module (they are scripts, not a package)."""
    path = REPO_ROOT / "studies" / file_name
    if str(path.parent) not in sys.path:  # as when run as a script: its helpers beside it import
        sys.path.append(str(path.parent))
    name = f"study_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module

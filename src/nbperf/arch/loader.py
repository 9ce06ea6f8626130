"""Load an architecture: preset name or YAML path -> overrides -> validated ``ArchSpec``.

Schema -> validator -> object, with every problem reported in one line that names the YAML path
of the bad value and what is allowed.
"""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from nbperf.arch.model import ArchSpec
from nbperf.errors import ArchError

_PRESET_PACKAGE = "nbperf.arch.presets"


def preset_names() -> list[str]:
    """Names of the presets shipped with nbperf, sorted."""
    files = resources.files(_PRESET_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    """The YAML text of a shipped preset, comments (sources) included."""
    if name not in preset_names():
        raise ArchError(f"unknown arch {name!r}{_suggest(name, preset_names())}; "
                        f"presets: {', '.join(preset_names())}, or a path to a .yaml file")
    return resources.files(_PRESET_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def load_arch(arch: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ArchSpec:
    """Load a preset by name (``npu4000``) or a YAML file by path, then apply ``key.path=value`` overrides."""
    text, origin = _read(arch)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", exc)
        raise ArchError(f"arch file {origin} is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ArchError(f"arch file {origin} must be a YAML mapping of fields, got {type(data).__name__}")
    for item in overrides:
        _apply_override(data, item)
    return validate_arch(data, origin)


def validate_arch(data: dict[str, Any], origin: str = "<dict>") -> ArchSpec:
    """Validate a plain dict as an ``ArchSpec``; all problems in one line."""
    try:
        return ArchSpec.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(err, data) for err in exc.errors()]
        raise ArchError(f"invalid arch {origin}: " + "; ".join(problems)) from None


def _read(arch: str | Path) -> tuple[str, str]:
    path = Path(arch)
    looks_like_path = path.suffix in {".yaml", ".yml"} or path.parent != Path(".")
    if not looks_like_path:
        return preset_text(str(arch)), str(arch)
    if not path.is_file():
        raise ArchError(f"arch file not found: {path}")
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ArchError(f"cannot read arch file {path}: {exc}") from None


def _apply_override(data: dict[str, Any], item: str) -> None:
    """Apply ``dpu.macs_per_tile=4096``; the value is parsed as YAML (numbers, lists, strings)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ArchError(f"override {item!r} must look like section.field=value, e.g. dpu.macs_per_tile=4096")
    parts = key.strip().split(".")
    node: Any = data
    model: type[BaseModel] | None = ArchSpec
    for depth, part in enumerate(parts):
        if model is not None:
            fields = list(model.model_fields)
        else:
            fields = list(node) if isinstance(node, dict) else []
        if part not in fields:
            where = ".".join(parts[:depth]) or "the arch"
            raise ArchError(f"override {key!r}: {where} has no field {part!r}{_suggest(part, fields)}")
        if depth == len(parts) - 1:
            break
        node = node.setdefault(part, {})
        annotation = model.model_fields[part].annotation if model is not None else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if not isinstance(node, dict):
            raise ArchError(f"override {key!r}: {'.'.join(parts[: depth + 1])} is not a section")
    try:
        node[parts[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError:
        node[parts[-1]] = raw


def _describe(err: dict[str, Any], data: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_fields(err["loc"][:-1])
        return f"unknown field {loc!r}{_suggest(str(err['loc'][-1]), known)}"
    if kind == "missing":
        return f"missing field {loc!r}"
    value = _lookup(data, err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    allowed = _allowed_range(err["loc"])
    text = f"{loc} = {value!r}: {msg}" if value is not _MISSING else f"{loc}: {msg}"
    return f"{text} (allowed: {allowed})" if allowed else text


_MISSING = object()


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return data


def _field_info(loc: tuple[Any, ...]) -> Any:
    """The pydantic FieldInfo at ``loc`` (a path of field names), or None."""
    model: Any = ArchSpec
    field = None
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or not isinstance(part, str):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = field.annotation
    return field


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    model = _field_info(loc).annotation if loc else ArchSpec
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _allowed_range(loc: tuple[Any, ...]) -> str:
    """'16 .. 1048576' style bounds from the field's constraints, '' when it has none."""
    field = _field_info(loc)
    if field is None:
        return ""
    low = high = None
    for meta in field.metadata:
        for attr, is_low in (("ge", True), ("gt", True), ("le", False), ("lt", False)):
            bound = getattr(meta, attr, None)
            if bound is not None:
                text = f"{'>' if attr == 'gt' else '<' if attr == 'lt' else ''}{bound}"
                if is_low:
                    low = text
                else:
                    high = text
    if low is None and high is None:
        return ""
    kind = "integer" if field.annotation is int else "number"
    return f"{kind} {low or '-inf'} .. {high or 'inf'}"


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""

"""Load an architecture: preset name or YAML path -> overrides -> validated ``ArchSpec``.

Schema -> validator -> object, with every problem reported in one line that names the YAML path
of the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import functools
import math
import reprlib
import typing
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from nbperf.arch.model import ArchSpec
from nbperf.errors import ArchError

_PRESET_PACKAGE = "nbperf.arch.presets"
MAX_ARCH_FILE_BYTES = 1 << 20  # a full preset is about 4 KB
_MAX_PROBLEMS = 5  # problems listed in one error line; the rest are counted
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = 4
_REPR.maxlevel = 2


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
    """Load a preset by name (``npu4000``) or a YAML file by path, then apply ``key.path=value`` overrides.

    Presets are parsed once per process and each (preset, overrides) point validated once: a sweep
    or a NAS loop asks for the same few points thousands of times (``ArchSpec`` is frozen, so the
    cached object is safe to share)."""
    if not _looks_like_path(arch):
        return _preset_point(str(arch), tuple(overrides))
    return _build(_file_data(Path(arch)), str(arch), overrides)


_MAX_BASE_DEPTH = 8  # overlays on overlays: deeper is a loop or a mistake


def _file_data(path: Path, depth: int = 0) -> dict[str, Any]:
    """An arch file's fields. A file with ``base:`` (a preset name, or a YAML path relative to the
    file) is an overlay: its fields replace the base's, section by section, so a calibration
    overlay written by ``nbperf calibrate`` holds only what it changes."""
    text, origin = _read(path)
    data = _parse(text, origin)
    if "base" not in data:
        return data
    base = data.pop("base")
    if not isinstance(base, str) or not base:
        raise ArchError(f"arch file {origin}: base must be a preset name or a YAML path, got {base!r}")
    if depth >= _MAX_BASE_DEPTH:
        raise ArchError(f"arch file {origin}: more than {_MAX_BASE_DEPTH} levels of base (a loop?)")
    if _looks_like_path(base):
        resolved = Path(base) if Path(base).is_absolute() else path.parent / base
        base_data = _file_data(resolved, depth + 1)
    else:
        base_data = copy.deepcopy(_preset_data(base))
    return _merged(base_data, data)


def _merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay``'s fields over ``base``'s; mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


@functools.lru_cache(maxsize=1024)
def _preset_point(name: str, overrides: tuple[str, ...]) -> ArchSpec:
    return _build(copy.deepcopy(_preset_data(name)), name, overrides)


@functools.cache
def _preset_data(name: str) -> dict[str, Any]:
    # The shipped presets parse with libyaml's safe loader where PyYAML has it (a tenth of the
    # pure-Python parser's 11 ms, a CLI run's share); user files keep the pure-Python parser and its
    # error messages.
    return _parse(preset_text(name), name, libyaml=yaml.__with_libyaml__)


def _build(data: dict[str, Any], origin: str, overrides: list[str] | tuple[str, ...]) -> ArchSpec:
    for item in overrides:
        _apply_override(data, item)
    return validate_arch(data, origin)


def _parse(text: str, origin: str, libyaml: bool = False) -> dict[str, Any]:
    """The YAML mapping of an arch description, or one clear error."""
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader) if libyaml else yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise ArchError(f"arch file {origin} is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ArchError(f"arch file {origin} is nested too deeply to be an arch description") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a scalar that does not convert: 2020-13-45
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ArchError(f"arch file {origin} is not valid YAML: {reason}") from None
    if not isinstance(data, dict):
        raise ArchError(f"arch file {origin} must be a YAML mapping of fields, got {type(data).__name__}")
    return data


def validate_arch(data: dict[str, Any], origin: str = "<dict>") -> ArchSpec:
    """Validate a plain dict as an ``ArchSpec``; all problems in one line."""
    if not isinstance(data, dict):
        raise ArchError(f"invalid arch {origin}: must be a mapping of fields, got {type(data).__name__}")
    try:
        spec = ArchSpec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [_describe(err, data) for err in errors[:_MAX_PROBLEMS]]
        if len(errors) > _MAX_PROBLEMS:
            problems.append(f"and {len(errors) - _MAX_PROBLEMS} more problems")
        raise ArchError(f"invalid arch {origin}: " + "; ".join(problems)) from None
    # pydantic lets .inf / .nan (or '1e999') through float fields without bounds, such as the SHAVE
    # cycles per element; every cost computed from them would be infinite or NaN.
    bad = _non_finite(spec.model_dump())
    if bad is not None:
        loc, value = bad
        raise ArchError(f"invalid arch {origin}: {loc} = {value!r}: must be a finite number")
    return spec


def _non_finite(data: Any) -> tuple[str, float] | None:
    """The first NaN or infinite number in ``data`` (a plain tree of dicts and lists), with its path."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        loc, node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return loc or "the arch", node
        if isinstance(node, dict | list | tuple):
            items = node.items() if isinstance(node, dict) else enumerate(node)
            children = [(f"{loc}.{k}" if loc else str(k), v) for k, v in items]
            stack.extend(reversed(children))
    return None


def _looks_like_path(arch: str | Path) -> bool:
    path = Path(arch)
    return path.suffix in {".yaml", ".yml"} or path.parent != Path(".")


def _read(arch: str | Path) -> tuple[str, str]:
    path = Path(arch)
    if not path.is_file():
        raise ArchError(f"arch file not found: {path}")
    try:
        size = path.stat().st_size
        if size > MAX_ARCH_FILE_BYTES:
            raise ArchError(f"arch file {path} is {size} bytes; an arch description is a few KB "
                            f"(at most {MAX_ARCH_FILE_BYTES} bytes)")
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
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
        node[parts[-1]] = raw  # validation then names the field and says what it needs


def _describe(err: Any, data: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "the arch"
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_fields(err["loc"][:-1])
        return f"unknown field {loc!r}{_suggest(str(err['loc'][-1]), known)}"
    if kind == "missing":
        return f"missing field {loc!r}"
    value = _lookup(data, err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    allowed = _allowed_range(err["loc"])
    if value is _MISSING or isinstance(value, dict):  # a section: its fields are not the point
        text = f"{loc}: {msg}"
    else:
        text = f"{loc} = {_REPR.repr(value)}: {msg}"
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


def _model_at(loc: tuple[Any, ...]) -> Any:
    """The pydantic model (or other annotation) at ``loc``; list indices step into item types."""
    model: Any = ArchSpec
    for part in loc:
        if isinstance(part, int):  # an item of a tuple[X, ...] or list[X] field
            args = [a for a in typing.get_args(model) if a is not Ellipsis]
            model = args[0] if len(args) == 1 else None
        elif isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            model = model.model_fields[part].annotation
        else:
            return None
    return model


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    model = _model_at(loc)
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

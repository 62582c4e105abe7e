"""Reads policy YAML files, merges overlays, validates, and caches the shipped policy.

This is the only module of the package that touches files.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from policies.conditions import CONDITIONS, parameter_problem
from policies.errors import PolicyFileError, UnknownConditionError
from policies.model import CaseType, Policy

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_PATH = DATA_DIR / "networks.yaml"


def load_policy(path: Path | str | None = None, overlays: Sequence[str | Path] = ()) -> Policy:
    """Load and validate a policy file and its overlays; the shipped data when path is None.

    An overlay given as a bare name ("devnet") is `policies/data/<name>.yaml`. Overlays are
    merged onto the base in order, by network id, field by field; each one appends
    `+<name>` to the version so a case decided under an overlay says so.
    Raises PolicyFileError (a PolicyError) with a one-line message naming file and field.
    """
    if path is None:
        return _load_shipped(tuple(str(o) for o in overlays))
    return _load(Path(path), tuple(_overlay_path(o) for o in overlays))


@functools.cache
def _load_shipped(overlays: tuple[str, ...]) -> Policy:
    # The API asks for the policy on every request; the shipped files do not change.
    return _load(DEFAULT_PATH, tuple(_overlay_path(o) for o in overlays))


def _overlay_path(overlay: str | Path) -> Path:
    if isinstance(overlay, Path) or "/" in overlay or overlay.endswith((".yaml", ".yml")):
        return Path(overlay)
    return DATA_DIR / f"{overlay}.yaml"


def _display(path: Path) -> str:
    # Shipped files are named as in the repository; others as the caller gave them.
    try:
        return str(path.resolve().relative_to(DATA_DIR.parent.parent))
    except ValueError:
        return str(path)


def devnet_overlays(overlays: Sequence[str | Path]) -> dict[int, tuple[str, ...]]:
    """Which overlays (by position, from 0) mark which networks as devnets.

    Each overlay is read and merged exactly as `load_policy` does, so a copy of the devnet
    overlay under any name, or a mark spelled `devnet: yes`, is found by what it does.
    Raises PolicyFileError, its source `overlay <position from 1>`, when an overlay cannot
    be read or validated (settings errors name no configured value).
    """
    layers = _layers(DEFAULT_PATH, tuple(_overlay_path(o) for o in overlays))
    before = _devnets(next(layers))
    marks: dict[int, tuple[str, ...]] = {}
    done = 0
    try:
        for done, policy in enumerate(layers, start=1):
            after = _devnets(policy)
            if after - before:
                marks[done - 1] = tuple(sorted(after - before))
            before = after
    except PolicyFileError as error:
        raise PolicyFileError(f"overlay {done + 1}", error.problem) from None
    return marks


def _devnets(policy: Policy) -> set[str]:
    return {network.id for network in policy.networks.values() if network.devnet}


def _load(path: Path, overlays: tuple[Path, ...]) -> Policy:
    *_, policy = _layers(path, overlays)
    return policy


def _layers(path: Path, overlays: tuple[Path, ...]) -> Iterator[Policy]:
    """The base policy, then the policy after each overlay in turn."""
    data = _read(path)
    policy = _validate(data, _display(path))
    yield policy
    for overlay_path in overlays:
        source = _display(overlay_path)
        overlay = _read(overlay_path)
        data = _merge_overlay(data, overlay, source, policy)
        data["version"] = f"{data.get('version')}+{overlay_path.stem}"
        policy = _validate(data, source)
        yield policy


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses repeated keys (plain YAML keeps the last one silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _read(path: Path) -> dict[str, Any]:
    source = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyFileError(source, f"cannot read: {error.strerror or error}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise PolicyFileError(source, _yaml_message(error)) from None
    if not isinstance(data, dict):
        raise PolicyFileError(source, f"the top level must be a mapping, not {type(data).__name__}")
    return data


def _yaml_message(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        problem = error.problem or "invalid YAML"
        return f"line {mark.line + 1} column {mark.column + 1}: {problem}"
    return " ".join(str(error).split())


def _merge_overlay(
    base: dict[str, Any], overlay: dict[str, Any], source: str, policy: Policy
) -> dict[str, Any]:
    networks = overlay.get("networks", {})
    if isinstance(networks, dict):
        for network_id in networks:
            if network_id not in policy.networks:
                known = ", ".join(sorted(policy.networks))
                raise PolicyFileError(
                    source, f"networks.{network_id}: not in the base catalogue; known: {known}"
                )
    merged = _deep_merge(base, overlay)
    assert isinstance(merged, dict)
    return merged


def _deep_merge(base: Any, overlay: Any) -> Any:
    # Mappings merge key by key; anything else (lists included) is replaced by the overlay.
    if isinstance(base, Mapping) and isinstance(overlay, Mapping):
        result = dict(base)
        for key, value in overlay.items():
            result[key] = _deep_merge(base[key], value) if key in base else value
        return result
    return overlay


def _validate(data: dict[str, Any], source: str) -> Policy:
    try:
        policy = Policy.model_validate(data)
    except ValidationError as error:
        raise PolicyFileError(source, _validation_message(error)) from None
    for network in policy.networks.values():
        for case_type in CaseType:
            refs = network.case_policy(case_type).conditions
            for index, ref in enumerate(refs):
                problem = parameter_problem(ref)
                if problem is not None:
                    place = f"networks.{network.id}.{case_type}.conditions[{index}]"
                    error_type = (
                        UnknownConditionError if ref.id not in CONDITIONS else PolicyFileError
                    )
                    raise error_type(source, f"{place}: {problem}")
    return policy


def _validation_message(error: ValidationError) -> str:
    errors = error.errors(include_url=False)
    first = _one_error(errors[0])
    more = len(errors) - 1
    return f"{first} (and {more} more)" if more else first


def _one_error(detail: ErrorDetails) -> str:
    place = ""
    for part in detail["loc"]:
        if isinstance(part, int):
            place += f"[{part}]"
        else:
            place += f".{part}" if place else str(part)
    message = detail["msg"].removeprefix("Value error, ")
    message = " ".join(message.split())
    return f"{place}: {message}" if place else message

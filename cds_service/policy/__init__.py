"""The clinical policy: thresholds, intervals, value sets and per-rule switches.

The default (`default.json`, the original protocol) ships with the package; a site points
`B12CDS_POLICY` at its own file. Either is validated against `policy.schema.json` once,
at start-up, and a bad file stops the service with a message naming the field.
Everything downstream reads the frozen `Policy`, never the JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator

HERE = Path(__file__).parent
DEFAULT_POLICY_PATH = HERE / "default.json"
SCHEMA_PATH = HERE / "policy.schema.json"


class PolicyError(ValueError):
    """The policy file is missing, not JSON, or breaks the schema (message names the field)."""


@dataclass(frozen=True, slots=True)
class RuleSwitch:
    enabled: bool
    indicator: str | None


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    monitoring_profile: str
    metformin_profile: str
    thresholds: Mapping[str, float]
    intervals: Mapping[str, int]
    options: Mapping[str, bool]
    value_sets: Mapping[str, frozenset[str]]  # name -> {"system|code"}
    causes: Mapping[str, str]  # "system|code" -> cause, for irreversible malabsorption
    displays: Mapping[str, str]  # "system|code" -> display, for evidence wording
    rules: Mapping[str, RuleSwitch]
    suppression: Mapping[str, Any]
    local_protocol: Mapping[str, str]  # {"label", "url"}: how cards cite the site protocol
    # a conclusion from the absence of records in a search that was cut: "downgrade" (an
    # unconfirmed info card naming the cut search) or "silent" (no card)
    absence_conclusions: str = "downgrade"

    def threshold(self, name: str) -> float:
        return self.thresholds[name]

    def days(self, name: str) -> int:
        return self.intervals[name]

    def in_set(self, name: str, system: str | None, code: str | None) -> bool:
        return bool(system and code) and f"{system}|{code}" in self.value_sets[name]

    def rule_enabled(self, rule_id: str) -> bool:
        switch = self.rules.get(rule_id)
        return switch.enabled if switch is not None else True

    def indicator_for(self, rule_id: str, default: str) -> str:
        switch = self.rules.get(rule_id)
        return switch.indicator if switch is not None and switch.indicator else default


def _schema_message(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"policy field {where}: {error.message}"


def policy_from_dict(data: Mapping[str, Any]) -> Policy:
    """Validate and freeze a policy document."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        raise PolicyError(_schema_message(errors[0]))
    options = dict(data["options"])
    sets: dict[str, frozenset[str]] = {}
    causes: dict[str, str] = {}
    displays: dict[str, str] = {}
    for name, body in data["value_sets"].items():
        keys = set()
        for coding in body["codes"]:
            key = f"{coding['system']}|{coding['code']}"
            keys.add(key)
            if "display" in coding:
                displays.setdefault(key, coding["display"])
            if "cause" in coding:
                causes[key] = coding["cause"]
        sets[name] = frozenset(keys)
    if options.get("atrophic_gastritis_is_irreversible"):
        extra = sets["VS_ATROPHIC_GASTRITIS_OPT_IN"]
        sets["VS_MALABSORPTION_IRREVERSIBLE"] |= extra
        causes.update(dict.fromkeys(extra, "autoimmune"))
    thresholds = data["thresholds"]
    if thresholds["b12_deficient_pmol_l"] >= thresholds["b12_adequate_pmol_l"]:
        raise PolicyError(
            "policy field thresholds/b12_deficient_pmol_l: must be below b12_adequate_pmol_l"
        )
    return Policy(
        name=data["name"],
        monitoring_profile=data["monitoring_profile"],
        metformin_profile=data["metformin_profile"],
        thresholds=MappingProxyType(dict(thresholds)),
        intervals=MappingProxyType(dict(data["intervals_days"])),
        options=MappingProxyType(options),
        value_sets=MappingProxyType(sets),
        causes=MappingProxyType(causes),
        displays=MappingProxyType(displays),
        rules=MappingProxyType(
            {
                k: RuleSwitch(bool(v["enabled"]), v.get("indicator"))
                for k, v in data["rules"].items()
            }
        ),
        suppression=MappingProxyType(dict(data["suppression"])),
        local_protocol=MappingProxyType(dict(data["local_protocol"])),
        absence_conclusions=data.get("incomplete_data", {}).get("absence_conclusions", "downgrade"),
    )


BUILT_IN = {"seed": DEFAULT_POLICY_PATH, "uk-guideline": HERE / "uk-guideline.json"}
_MAX_EXTENDS = 4  # a chain longer than this is a loop or a mistake


def _read(source: Path) -> dict[str, Any]:
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file not found: {source}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"policy file unreadable: {source}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise PolicyError(f"policy file is not JSON: {source}: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError("policy field (top level): must be a JSON object")
    return data


def _merged(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """`overlay` over `base`: objects merge key by key, anything else (lists too) replaces."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(source: Path, depth: int = 0) -> dict[str, Any]:
    """The document at `source` with its `extends` chain applied (a built-in name or a path,
    relative to the extending file), so a site file need only say what it changes."""
    data = _read(source)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent.strip():
        raise PolicyError("policy field extends: must be a built-in policy name or a file path")
    if depth >= _MAX_EXTENDS:
        raise PolicyError(f"policy field extends: more than {_MAX_EXTENDS} levels (a loop?)")
    base = BUILT_IN.get(parent) or (source.parent / parent)
    if parent not in BUILT_IN and not base.is_file():
        raise PolicyError(
            f"policy field extends: {parent!r} is neither a built-in policy "
            f"({', '.join(BUILT_IN)}) nor a file next to {source.name}"
        )
    return _merged(_resolve(base, depth + 1), data)


def load_policy(path: str | Path | None = None) -> Policy:
    """Load the site policy from `path` (or a built-in name: seed, uk-guideline), else the default.

    A file may start from another with `"extends": "seed"` (or a path) and hold only its changes.
    """
    source = BUILT_IN.get(str(path), Path(path)) if path else DEFAULT_POLICY_PATH
    document = _resolve(source)
    try:
        return policy_from_dict(document)
    except PolicyError as exc:
        if "is a required property" in str(exc) and "extends" not in _read(source):
            raise PolicyError(
                f"{exc} (a file holding only some fields must start with "
                f'"extends": "seed" or another policy)'
            ) from exc
        raise

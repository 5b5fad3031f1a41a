"""The clinical policy: thresholds, intervals, value sets and per-rule switches.

The default (`default.json`, the original protocol) ships with the package; a site points
`B12CDS_POLICY` at its own file. Either is validated against `policy.schema.json` once,
at start-up, and a bad file stops the service with a message naming the field.
Everything downstream reads the frozen `Policy`, never the JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator

HERE = Path(__file__).parent
DEFAULT_POLICY_PATH = HERE / "default.json"
SCHEMA_PATH = HERE / "policy.schema.json"

# Supplement-strength folic acid (0.4/0.8 mg): in the set unless a site opts out.
_SUPPLEMENT_FOLIC_ACID = frozenset(
    "http://www.nlm.nih.gov/research/umls/rxnorm|" + c
    for c in ("198640", "252463", "198641", "285122")
)


class PolicyError(ValueError):
    """The policy file is missing, not JSON, or breaks the schema (message names the field)."""


@dataclass(frozen=True, slots=True)
class TextMatch:
    """Words that name an agent (any of `include`, none of `exclude`), matched in the
    lower-cased text. Each list is one compiled alternation of the literal words: the same
    answer as testing them one by one, at a fraction of the cost (it runs for every
    medication name on every call)."""

    include: tuple[str, ...]
    exclude: tuple[str, ...]
    _include: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _exclude: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_include", _alternation(self.include))
        object.__setattr__(self, "_exclude", _alternation(self.exclude))

    def matches(self, text: str) -> bool:
        if self._include is None:
            return False
        low = text.lower()
        return self._include.search(low) is not None and (
            self._exclude is None or self._exclude.search(low) is None
        )


def _alternation(words: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(re.escape(w) for w in words)) if words else None


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
    text_match: Mapping[str, TextMatch]
    rules: Mapping[str, RuleSwitch]
    suppression: Mapping[str, Any]
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
    if not options.get("folic_acid_include_supplement_strengths", True):
        sets["VS_FOLIC_ACID"] -= _SUPPLEMENT_FOLIC_ACID
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
        text_match=MappingProxyType(
            {
                k: TextMatch(tuple(v["include"]), tuple(v["exclude"]))
                for k, v in data["text_match"].items()
            }
        ),
        rules=MappingProxyType(
            {
                k: RuleSwitch(bool(v["enabled"]), v.get("indicator"))
                for k, v in data["rules"].items()
            }
        ),
        suppression=MappingProxyType(dict(data["suppression"])),
        absence_conclusions=data.get("incomplete_data", {}).get("absence_conclusions", "downgrade"),
    )


BUILT_IN = {"seed": DEFAULT_POLICY_PATH, "uk-guideline": HERE / "uk-guideline.json"}


def load_policy(path: str | Path | None = None) -> Policy:
    """Load the site policy from `path` (or a built-in name: seed, uk-guideline), else the default."""
    source = BUILT_IN.get(str(path), Path(path)) if path else DEFAULT_POLICY_PATH
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
    return policy_from_dict(data)

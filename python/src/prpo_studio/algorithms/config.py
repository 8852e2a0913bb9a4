"""Algorithm configuration (src/core/algorithms/config.ts): the presets of ALGORITHMS.md §6 with every constant
of §1–§5 as a flat, overridable key. `resolve_config` merges a preset's defaults with user overrides and checks
each key, so a bad value is reported by name — with the TypeScript code's exact message — before any work.

Keys are the contract's camelCase names (`topK`, `massConserving`, as in run.json and the `advantages` JSON);
the resolved `AlgorithmConfig` has them as snake_case attributes (`config.top_k`; `lambda` is `lambda_`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .jsfmt import js_json, js_keys, js_number

ALGORITHM_NAMES: tuple[str, ...] = ("grpo", "dapo", "vppo", "pgpo", "prpo")


@dataclass
class AlgorithmConfig:
    preset: str
    #: The registered estimator that reshapes advantages; defaults to the preset's own.
    estimator: str
    # §1 outcome advantage
    #: False gives Dr.GRPO's A_i = R_i − mean.
    normalize_by_std: bool
    # dependency scores
    #: "k3" scores from the views' log-probs; "exact" reads per-token full-vocabulary KLs from `dependency`.
    kl: str
    # §2 VPPO
    #: TGF: fraction k of tokens kept (k_i = ceil(k · L_i)).
    top_k: float
    #: TAS: β_min, the smallest trajectory weight.
    beta_min: float
    # §3 PGPO and §4 PRPO-R
    #: Threshold τ of PGPO's gate and of PRPO-R's PAR.
    tau: float
    #: Boost β: PGPO 2.0, PRPO-R 1.0.
    beta: float
    # §4 PRPO-R
    #: "soft", "gate" or "multimask".
    rvd: str
    #: `soft`: λ, how strongly instability U damps grounding G.
    lambda_: float
    #: Floor G₀ (nats) of ĝ = minmax_f(log1p G). 0: plain minmax.
    grounding_floor: float
    #: Floor U₀ (nats) of û = minmax_f(log1p U). 0: plain minmax.
    instability_floor: float
    #: `gate`: tokens with U above this quantile of U (per response) get RVD = 0.
    quantile: float
    #: `multimask`: κ in mean_M S − κ · std_M S.
    kappa: float
    #: `multimask`: M, the number of perturbed masks the trainer scores.
    masks: int
    #: Rescale PAR's weights to sum to L_i (as PGPO does).
    mass_conserving: bool
    #: When set, {"quantile": q}: τ is the q-quantile of RVD per response ("dynamic" threshold).
    threshold: dict[str, float] | None
    # §5 loss
    clip_low: float
    clip_high: float
    #: Dual-clip constant C (> 1), applied to tokens with Ã < 0.
    dual_clip: float
    #: c_nll of the sampled-token NLL term c_nll · mean(−logp_new) (ALGORITHMS.md §5 `sampledNllCoef`; the first
    #: version's key `entropyCoef` is still read).
    sampled_nll_coef: float
    #: c_H of the full-vocabulary entropy bonus − c_H · mean H (ALGORITHMS.md §5 `entropyBonus`).
    entropy_bonus: float
    #: Coefficient of the k3 KL to the reference policy.
    kl_coef: float
    #: DAPO dynamic sampling: keep groups whose mean accuracy lies strictly in (accuracy_low, accuracy_high).
    dynamic_sampling: bool
    max_resample_tries: int
    accuracy_low: float
    accuracy_high: float

    def to_json(self) -> dict[str, Any]:
        """The camelCase record the TypeScript code resolves to (run.json's `config`, the CLI's echo)."""
        out: dict[str, Any] = {"preset": self.preset, "estimator": self.estimator}
        for key, spec in CONFIG_KEYS.items():
            if key == "estimator":
                continue
            v = getattr(self, spec.field)
            out[key] = dict(v) if isinstance(v, dict) else v
        return out


class ConfigError(ValueError):
    """A configuration key that names what was wrong, e.g. `config.tau: expected a number in [0, 1), got "x"`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class KeySpec:
    #: The AlgorithmConfig attribute.
    field: str
    #: What a valid value looks like, for the error message.
    expected: str
    ok: Callable[[Any], bool]
    #: The default, which may depend on the preset and on the resolved estimator.
    default: Callable[[str, str], Any]
    doc: str


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return _is_num(v) and float(v).is_integer()


def _in_range(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> Callable[[Any], bool]:
    return lambda v: _is_num(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _non_negative(v: Any) -> bool:
    return _is_num(v) and v >= 0


def _constant(x: Any) -> Callable[[str, str], Any]:
    return lambda _preset, _estimator: x


def _is_estimator(v: Any) -> bool:
    from .registry import estimator_names

    return isinstance(v, str) and v in estimator_names()


def _is_threshold(v: Any) -> bool:
    return v is None or (isinstance(v, dict) and list(v.keys()) == ["quantile"] and _in_range(0, 1)(v["quantile"]))


#: Every key a configuration may set (in the TypeScript order), its check, default and one line of documentation.
CONFIG_KEYS: dict[str, KeySpec] = {
    "estimator": KeySpec("estimator", "the name of a registered estimator", _is_estimator, lambda preset, _e: preset,
                         "advantage estimator from the registry (default: the preset's own)"),
    "normalizeByStd": KeySpec("normalize_by_std", "true or false", _is_bool, _constant(True),
                              "§1: divide by the group std (false: Dr.GRPO)"),
    "kl": KeySpec("kl", '"k3" or "exact"', lambda v: v in ("k3", "exact") and isinstance(v, str), _constant("k3"),
                  "dependency scores from k3 of log-probs, or exact full-vocabulary KLs supplied per token"),
    "topK": KeySpec("top_k", "a number in (0, 1]", _in_range(0, 1, True), _constant(0.4), "§2 VPPO TGF: fraction of tokens kept"),
    "betaMin": KeySpec("beta_min", "a number in [0, 1]", _in_range(0, 1), _constant(0.9), "§2 VPPO TAS: β_min"),
    "tau": KeySpec("tau", "a number in [0, 1)", _in_range(0, 1, False, True), _constant(0.4), "§3/§4 threshold τ"),
    "beta": KeySpec("beta", "a number ≥ 0", _non_negative, lambda _p, estimator: 2.0 if estimator == "pgpo" else 1.0,
                    "§3/§4 boost β (PGPO 2.0, PRPO-R 1.0)"),
    "rvd": KeySpec("rvd", '"soft", "gate" or "multimask"', lambda v: isinstance(v, str) and v in ("soft", "gate", "multimask"),
                   _constant("soft"), "§4 how RVD is computed"),
    "lambda": KeySpec("lambda_", "a number ≥ 0", _non_negative, _constant(1.0), "§4 soft RVD: λ"),
    "groundingFloor": KeySpec("grounding_floor", "a number ≥ 0 (nats)", _non_negative, _constant(0.01),
                              "§4 soft/gate RVD: grounding floor G₀ of ĝ = minmax_f(log1p G) (0: plain minmax)"),
    "instabilityFloor": KeySpec("instability_floor", "a number ≥ 0 (nats)", _non_negative, _constant(0.05),
                                "§4 soft RVD: instability floor U₀ of û = minmax_f(log1p U) (0: plain minmax)"),
    "quantile": KeySpec("quantile", "a number in [0, 1]", _in_range(0, 1), _constant(0.8), "§4 gate RVD: quantile q of U"),
    "kappa": KeySpec("kappa", "a number ≥ 0", _non_negative, _constant(1.0), "§4 multimask RVD: κ"),
    "masks": KeySpec("masks", "an integer ≥ 2", lambda v: _is_int(v) and v >= 2, _constant(4),
                     "§4 multimask RVD: M perturbed masks to score"),
    "massConserving": KeySpec("mass_conserving", "true or false", _is_bool, _constant(False), "§4 PAR: rescale weights to sum to L"),
    "threshold": KeySpec("threshold", 'null or {"quantile": a number in [0, 1]}', _is_threshold, _constant(None),
                         "§4 PAR: per-response τ as a quantile of RVD"),
    "clipLow": KeySpec("clip_low", "a number in [0, 1)", _in_range(0, 1, False, True), _constant(0.2), "§5 ε_low"),
    "clipHigh": KeySpec("clip_high", "a number ≥ 0", _non_negative, lambda p, _e: 0.2 if p == "grpo" else 0.28, "§5 ε_high"),
    "dualClip": KeySpec("dual_clip", "a number > 1", lambda v: _is_num(v) and v > 1, _constant(3.0), "§5 dual-clip C"),
    "sampledNllCoef": KeySpec("sampled_nll_coef", "a number ≥ 0", _non_negative, lambda p, _e: 0.06 if p == "vppo" else 0.0,
                              "§5 sampled-NLL term c·mean(−logp) (VPPO-RL entropy_penalty; old name entropyCoef)"),
    "entropyBonus": KeySpec("entropy_bonus", "a number ≥ 0", _non_negative, _constant(0.0), "§5 full-vocabulary entropy bonus −c_H·mean H"),
    "klCoef": KeySpec("kl_coef", "a number ≥ 0", _non_negative, _constant(0.0), "§5 k3 KL to the reference policy"),
    "dynamicSampling": KeySpec("dynamic_sampling", "true or false", _is_bool, lambda p, _e: p != "grpo", "§5 DAPO dynamic sampling"),
    "maxResampleTries": KeySpec("max_resample_tries", "an integer ≥ 0", lambda v: _is_int(v) and v >= 0, _constant(3),
                                "§5 regeneration attempts before training on what is there"),
    "accuracyLow": KeySpec("accuracy_low", "a number in [0, 1]", _in_range(0, 1), _constant(0.01),
                           "§5 dynamic sampling lower bound (exclusive)"),
    "accuracyHigh": KeySpec("accuracy_high", "a number in [0, 1]", _in_range(0, 1), _constant(0.99),
                            "§5 dynamic sampling upper bound (exclusive)"),
}

_INTEGER_KEYS = ("masks", "maxResampleTries")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: A key that is absent (JavaScript's `undefined`), as opposed to JSON null (None).
MISSING: Any = _Missing()


def show(v: Any) -> str:
    """A value in a configuration message, as the TypeScript `show` writes it (JSON.stringify)."""
    if v is MISSING:
        return "undefined"
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isfinite(v):
        return js_number(v)
    try:
        return js_json(v)
    except TypeError:
        return str(v)


def is_algorithm_name(name: Any) -> bool:
    return isinstance(name, str) and name in ALGORITHM_NAMES


#: Keys of the first version that are still read, and their current names (ALGORITHMS.md §5).
CONFIG_KEY_ALIASES: dict[str, str] = {"entropyCoef": "sampledNllCoef"}


def with_current_names(overrides: Mapping[str, Any]) -> Mapping[str, Any]:
    """`overrides` with the old key names read as the current ones (as the TypeScript side); an old and a new name
    that disagree is an error naming both."""
    if not any(k in CONFIG_KEY_ALIASES for k in overrides):
        return overrides
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        current = CONFIG_KEY_ALIASES.get(key)
        if current is None:
            out.setdefault(key, value)
            continue
        given = overrides.get(current)
        if given is not None and value is not None and given != value:
            raise ConfigError(f"config.{current}", f"config.{current}: {show(given)} and its old name {key} {show(value)} disagree (give one of them)")
        out[current] = given if given is not None else value
    return out


def resolve_config(preset: Any, overrides: Mapping[str, Any] | None = None) -> AlgorithmConfig:
    """The full configuration of a preset with `overrides` (camelCase keys) applied. Raises ConfigError naming
    the first bad key: an unknown preset or key, a value of the wrong type or out of range. `overrides` may be a
    resolved configuration (`AlgorithmConfig.to_json()`, as stored in run.json): its `preset` must then match."""
    if not is_algorithm_name(preset):
        raise ConfigError("algorithm", f"algorithm: expected one of {', '.join(ALGORITHM_NAMES)}, got {show(preset)}")
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise ConfigError("config", f"config: expected an object, got {show(overrides)}")
    overrides = with_current_names(overrides)
    for key in js_keys(dict(overrides)):
        value = overrides[key]
        if key == "preset":
            if value != preset or not isinstance(value, str):
                raise ConfigError("config.preset", f"config.preset: expected {show(preset)}, got {show(value)}")
            continue
        spec = CONFIG_KEYS.get(key)
        if spec is None:
            raise ConfigError(f"config.{key}", f"config.{key}: unknown key (known: {', '.join(CONFIG_KEYS)})")
        if not spec.ok(value):
            raise ConfigError(f"config.{key}", f"config.{key}: expected {spec.expected}, got {show(value)}")
    estimator = overrides.get("estimator", preset)
    values: dict[str, Any] = {"preset": preset, "estimator": estimator}
    for key, spec in CONFIG_KEYS.items():
        if key == "estimator":
            continue
        v = overrides[key] if key in overrides else spec.default(preset, estimator)
        if key in _INTEGER_KEYS:
            v = int(v)
        elif key == "threshold" and v is not None:
            v = {"quantile": v["quantile"]}
        values[spec.field] = v
    config = AlgorithmConfig(**values)
    if not config.accuracy_low < config.accuracy_high:
        raise ConfigError(
            "config.accuracyLow",
            f"config.accuracyLow: expected less than accuracyHigh ({js_number(config.accuracy_high)}), got {js_number(config.accuracy_low)}",
        )
    return config

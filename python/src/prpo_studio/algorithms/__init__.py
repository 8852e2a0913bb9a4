"""Perception-aware credit assignment for multimodal RLVR on torch tensors: shared/ALGORITHMS.md §1–§6, mirroring
`src/core/algorithms` function for function (snake_case names), checked against the TypeScript code by the shared
vectors in `test/vectors/` to 1e-6.

The API the trainer uses (stable; everything below is also importable from its module):

    from prpo_studio.algorithms import resolve_config, views_for, compute_advantages, policy_loss, loss_options

    config = resolve_config("prpo", {"tau": 0.3})    # camelCase keys as in run.json; ConfigError names a bad key
    config.to_json()                                  # the resolved camelCase record (run.json's `config`)
    views_for(config)        # ViewRequirements(views=("image", "blind", "mild"), perturbed_samples=0): what to score
    results = compute_advantages(config, rollouts)    # list[RolloutAdvantage]; InputError names rollout and field
    results[i].token_advantages                       # float64 [L_i]: Ã_{i,t}; also .advantage (A_i), .scores,
                                                      # .weights, .mask, .alpha, .tau; .to_json() is the CLI's object
    out = policy_loss(logp_new, logp_old, token_adv, mask, config,        # [B, T] tensors, mask 1 on valid tokens
                      logp_ref=None, entropy=None, num_tokens=None)       # -> PolicyLossResult(loss, pg_loss, …)
    out.loss.backward()
    filter_groups_for_dynamic_sampling(rollouts, accuracy_low=config.accuracy_low, accuracy_high=config.accuracy_high)

A rollout is a dict `{"id", "group", "reward", "logp": {"image": row, "blind"?, "perturbed"? (row or M rows),
"mild"?}, "dependency"?: {view: row}}`; a row is a list of numbers or a 1-D tensor (one entry per valid response
token). With `kl: "exact"` the estimators read per-token full-vocabulary KLs from `dependency` (see `exact_kl`).

The loss reads §5's `sampledNllCoef` or its first-version name `entropyCoef`, and `entropyBonus`, through
`loss_options(mapping_or_config, **overrides)`; `resolve_config` keeps exactly the TypeScript keys (this round
`entropyCoef`), so the `advantages` JSON contract stays identical in both languages.

User estimators: `register_estimator("mine", FunctionEstimator(description, views_fn, reshape_fn))`, then
`resolve_config("dapo", {"estimator": "mine"})` (verl's `register_adv_est`, in our own registry).

Numerics follow the TypeScript code: float64 throughout, the same formulas in the same order where a comparison
depends on them (VPPO's ceil(k·L) of the real product and ties to the earlier token; PAR's `RVD ≤ τ` keeps w = 1
exactly).
"""

from .advantages import compute_advantages, views_for
from .config import (
    ALGORITHM_NAMES,
    CONFIG_KEYS,
    AlgorithmConfig,
    ConfigError,
    is_algorithm_name,
    resolve_config,
)
from .dependency import dependency_row, perturbed_dependency_rows
from .kl import K3_LOG_RATIO_CLAMP, K3_MAX, exact_kl, exact_kl_rows, k3, k3_row, log_softmax, token_entropy
from .loss import (
    DynamicSamplingResult,
    PolicyLossOptions,
    PolicyLossResult,
    default_accuracy,
    filter_groups_for_dynamic_sampling,
    loss_options,
    policy_loss,
)
from .controls import hash_string, mulberry32, oracle_estimator, random_estimator, random_set_like
from .outcome import GRPO_EPS, constant_token_advantages, outcome_advantages, outcome_estimator
from .pgpo import GATE_EPS, MASS_EPS, conserve_mass, minmax_log1p, pgpo_estimator, pgpo_gate, pgpo_reshape, scale_advantage
from .prpo import par_weights, prpo_estimator, prpo_reshape, rvd_gate, rvd_multimask, rvd_soft
from .registry import estimator_names, get_estimator, register_estimator, unregister_estimator
from .stats import MINMAX_EPS, as_row, auroc, clamp, mean, minmax, minmax_floor, quantile, std, to_numbers
from .types import Estimator, FunctionEstimator, RolloutAdvantage, RolloutInput, Row, ViewRequirements
from .validate import InputError, check_rollouts, is_row, perturbed_rows, rollout_name
from .vppo import TAS_MU_EPS, TAS_SPREAD_EPS, tas_weights, tgf_count, tgf_mask, vppo_estimator, vppo_reshape

__all__ = [name for name in dir() if not name.startswith("_")]

"""The `verl.plugins` entry point (python/pyproject.toml): attaches prpo_studio to verl when verl is imported.

verl imports every `verl.plugins` entry point at the end of `import verl` (verl/__init__.py) and logs a failure
only at DEBUG level, so a plugin that cannot attach would vanish silently and the run would then stop at
"Unknown trainer 'prpo_sync'" or "Unknown advantage estimator". This module therefore checks each hook and,
when one is missing, logs the reason at ERROR and raises `PluginAttachError` (which also stops an import
through `VERL_USE_EXTERNAL_MODULES=prpo_studio.verl.plugin`, where verl does not swallow errors).
"""

from __future__ import annotations

import logging

logger = logging.getLogger("prpo_studio.verl")

SUPPORTED_VERL = ((0, 9), (0, 10))  # [0.9, 0.10)


class PluginAttachError(RuntimeError):
    """prpo_studio could not attach to this verl; the message says which hook is missing."""


def _version_tuple(version: str) -> tuple[int, int]:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (0, 0)


def attach() -> dict:
    """Register the estimators and the trainer and patch the FSDP engine; return what was attached."""
    import verl

    low, high = SUPPORTED_VERL
    found = _version_tuple(getattr(verl, "__version__", "0.0"))
    if not low <= found < high:
        raise PluginAttachError(
            f"verl {getattr(verl, '__version__', '?')} is installed; prpo_studio.verl is written for verl 0.9.x "
            "(its trainer and engine hooks moved between versions)"
        )

    step = "the advantage-estimator registry (verl.trainer.ppo.core_algos.register_adv_est)"
    try:
        from verl.trainer.ppo import core_algos

        from .estimators import ESTIMATORS

        for name, fn in ESTIMATORS.items():
            current = core_algos.ADV_ESTIMATOR_REGISTRY.get(name)
            if current is not fn:
                core_algos.register_adv_est(name)(fn)
            if core_algos.get_adv_estimator_fn(name) is not fn:
                raise PluginAttachError(f"get_adv_estimator_fn({name!r}) does not return prpo_studio's estimator")

        step = "the worker-side view swap (FSDPEngineWithLMHead.prepare_model_inputs)"
        from .worker import patch_fsdp_engine

        engine = patch_fsdp_engine()

        step = "the trainer registry (verl.trainer.ppo.v1.register_trainer / get_trainer_cls)"
        from verl.trainer.ppo.v1 import get_trainer_cls

        from .estimators import TRAINER_MODE
        from .trainer import PRPOTrainerSync

        if get_trainer_cls(TRAINER_MODE) is not PRPOTrainerSync:
            raise PluginAttachError(f"get_trainer_cls({TRAINER_MODE!r}) does not return prpo_studio's trainer")
    except PluginAttachError:
        raise
    except Exception as e:
        raise PluginAttachError(f"cannot attach to {step}: {type(e).__name__}: {e}") from e
    return {
        "verl": verl.__version__,
        "estimators": sorted(ESTIMATORS),
        "trainer": TRAINER_MODE,
        "engine": f"{engine.__module__}.{engine.__qualname__}",
    }


try:
    ATTACHED = attach()
except Exception as _error:
    logger.error(
        "prpo_studio could not attach to verl, so adv_estimator=prpo|pgpo|vppo and trainer_mode=prpo_sync are "
        "unavailable: %s",
        _error,
        exc_info=True,
    )
    if isinstance(_error, PluginAttachError):
        raise
    raise PluginAttachError(str(_error)) from _error

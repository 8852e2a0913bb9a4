"""Worker side: swap a micro-batch's images for a probe view inside verl's FSDP engine.

The trainer asks for a view by putting `VIEW_KEY` (a `ViewSpec` as JSON) in the batch's `extra_info`;
verl turns `extra_info` entries into non-tensor entries of the worker's TensorDict
(`verl/utils/transferqueue_utils.py`, `_async_meta_to_realdata`), and they reach every micro-batch
(`prepare_micro_batches` splits the TensorDict, non-tensor data included). The patched
`FSDPEngineWithLMHead.prepare_model_inputs` builds the model inputs as verl does, then replaces
`pixel_values` with the view. Everything else (token ids, M-RoPE positions, `image_grid_thw`) is left alone,
so the log-probs that come back are the same response scored under the view.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from .views import ViewError, ViewSpec, make_view, rollout_seed

# The non-tensor key that carries the view request (also the `extra_info` key on the trainer side).
VIEW_KEY = "prpo_studio_view"
# Marks the patched method, so attaching twice (two imports of the plugin) is harmless.
_PATCH_MARK = "_prpo_studio_view_patch"


def _unwrap(value: Any) -> Any:
    data = getattr(value, "data", value)  # tensordict's NonTensorData wraps the value in `.data`
    return data


def requested_view(micro_batch: Any) -> ViewSpec | None:
    """The view a micro-batch asks for, or None for the plain image forward."""
    raw = _unwrap(micro_batch.get(VIEW_KEY, None))
    if raw is None:
        return None
    return ViewSpec.from_json(raw)


def _rollout_token_ids(micro_batch: Any) -> list[torch.Tensor]:
    input_ids = micro_batch["input_ids"]
    if getattr(input_ids, "is_nested", False):
        return list(input_ids.unbind(0))
    return list(input_ids)


def viewed_pixel_values(micro_batch: Any, spec: ViewSpec) -> torch.Tensor | None:
    """The micro-batch's `pixel_values` under `spec`, concatenated in verl's order (rollouts in order,
    rollouts without images skipped, as `verl.utils.model.extract_multi_modal_inputs` does).
    None when no rollout in the micro-batch has an image."""
    per_rollout = micro_batch.get("multi_modal_inputs", None)
    if per_rollout is None:
        return None
    items = [_unwrap(item) for item in per_rollout]
    token_ids = _rollout_token_ids(micro_batch)
    if len(items) != len(token_ids):
        raise ViewError(f"view {spec.view}: {len(items)} multi_modal_inputs for {len(token_ids)} rollouts")
    parts = []
    for i, (inputs, ids) in enumerate(zip(items, token_ids)):
        if not inputs or inputs.get("pixel_values") is None:
            continue
        if inputs.get("image_grid_thw") is None:
            raise ViewError(f"view {spec.view}: rollout {i} of the micro-batch has pixel_values but no image_grid_thw")
        parts.append(make_view(inputs["pixel_values"], inputs["image_grid_thw"], spec, rollout_seed(spec, ids)))
    return torch.cat(parts, dim=0) if parts else None


def apply_view(model_inputs: dict, micro_batch: Any) -> dict:
    """Replace `pixel_values` in verl's model inputs when the micro-batch asks for a view."""
    spec = requested_view(micro_batch)
    if spec is None:
        return model_inputs
    viewed = viewed_pixel_values(micro_batch, spec)
    original = model_inputs.get("pixel_values")
    if viewed is None or original is None:
        if viewed is not None or original is not None:
            raise ViewError(f"view {spec.view}: the engine's inputs and the rollouts disagree on whether there are images")
        return model_inputs
    if viewed.shape != original.shape:
        raise ViewError(
            f"view {spec.view}: viewed pixel_values {tuple(viewed.shape)} != the engine's {tuple(original.shape)}; "
            "the engine concatenates images differently from verl 0.9.1's extract_multi_modal_inputs"
        )
    return {**model_inputs, "pixel_values": viewed.to(device=original.device, dtype=original.dtype)}


def patch_fsdp_engine() -> type:
    """Wrap `FSDPEngineWithLMHead.prepare_model_inputs` (verl/workers/engine/fsdp/transformer_impl.py) once.

    Returns the patched class. Raises when verl no longer has the class or the method (a verl upgrade moved
    them): the caller reports that loudly.
    """
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

    original = FSDPEngineWithLMHead.__dict__.get("prepare_model_inputs")
    if original is None:
        raise AttributeError("verl.workers.engine.fsdp.transformer_impl.FSDPEngineWithLMHead has no prepare_model_inputs")
    if getattr(original, _PATCH_MARK, False):
        return FSDPEngineWithLMHead

    @functools.wraps(original)
    def prepare_model_inputs(self, micro_batch):
        model_inputs, output_args = original(self, micro_batch)
        return apply_view(model_inputs, micro_batch), output_args

    setattr(prepare_model_inputs, _PATCH_MARK, True)
    FSDPEngineWithLMHead.prepare_model_inputs = prepare_model_inputs
    return FSDPEngineWithLMHead

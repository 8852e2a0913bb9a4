"""The worker-side view swap inside verl 0.9.1's real `FSDPEngineWithLMHead.prepare_model_inputs`, on a
micro-batch TensorDict shaped as verl's workers receive it (nested token ids, per-rollout multi_modal_inputs,
the request as a non-tensor entry), and the log-probs of a tiny random Qwen2-VL under the swapped inputs."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("verl", reason="verl 0.9.1 is installed in .toolchain/python by the project's set-up")

import prpo_studio.verl.plugin  # noqa: E402,F401  (patches the engine, as verl's entry point does)
from prpo_studio.verl.views import ViewSpec, make_view, rollout_seed  # noqa: E402
from prpo_studio.verl.worker import VIEW_KEY, ViewError  # noqa: E402

FEATURES = 3 * 2 * 14 * 14
IMAGE_TOKEN, VISION_START, VISION_END = 4, 3, 6


def engine():
    """The real engine class, without FSDP/process-group set-up (prepare_model_inputs reads only these)."""
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

    e = FSDPEngineWithLMHead.__new__(FSDPEngineWithLMHead)
    e.pad_to_length = False
    e.use_ulysses_sp = False
    return e


def rollout(grid: tuple[int, int, int] | None, text: list[int], seed: int) -> tuple[torch.Tensor, dict]:
    g = torch.Generator().manual_seed(seed)
    if grid is None:
        return torch.tensor(text), {}
    t, h, w = grid
    tokens = t * h * w // 4  # merge_size 2
    ids = torch.tensor([1, VISION_START] + [IMAGE_TOKEN] * tokens + [VISION_END] + text)
    mm = {"pixel_values": torch.randn(t * h * w, FEATURES, generator=g), "image_grid_thw": torch.tensor([list(grid)])}
    return ids, mm


def micro_batch(rollouts, view: ViewSpec | None = None):
    from verl.utils import tensordict_utils as tu

    ids = [r[0] for r in rollouts]
    nested = torch.nested.as_nested_tensor(ids, layout=torch.jagged)
    positions = torch.nested.as_nested_tensor([torch.arange(len(i)) for i in ids], layout=torch.jagged)
    extra = {"temperature": 1.0, "use_remove_padding": True}
    if view is not None:
        extra[VIEW_KEY] = view.to_json()
    return tu.get_tensordict(
        {"input_ids": nested, "position_ids": positions, "multi_modal_inputs": [r[1] for r in rollouts]}, extra
    )


ROLLOUTS = [
    rollout((1, 4, 4), [10, 11, 12], 0),
    rollout(None, [13, 14], 1),  # a text-only rollout: nothing to swap
    rollout((1, 4, 6), [15, 16, 17, 18], 2),
]


def test_without_a_request_the_inputs_are_verls_own():
    e = engine()
    patched, _ = e.prepare_model_inputs(micro_batch(ROLLOUTS))
    original, _ = type(e).prepare_model_inputs.__wrapped__(e, micro_batch(ROLLOUTS))
    assert patched.keys() == original.keys()
    for k in original:
        if isinstance(original[k], torch.Tensor):
            assert torch.equal(patched[k], original[k]), k
    assert torch.equal(patched["pixel_values"], torch.cat([ROLLOUTS[0][1]["pixel_values"], ROLLOUTS[2][1]["pixel_values"]]))


@pytest.mark.parametrize("view", ["blind", "perturbed", "mild"])
def test_a_requested_view_swaps_only_the_pixels_rollout_by_rollout(view):
    from verl.utils import tensordict_utils as tu

    spec = ViewSpec(view=view, seed=7)
    e = engine()
    plain, _ = e.prepare_model_inputs(micro_batch(ROLLOUTS))
    viewed, _ = e.prepare_model_inputs(micro_batch(ROLLOUTS, spec))
    expected = torch.cat(
        [make_view(r[1]["pixel_values"], r[1]["image_grid_thw"], spec, rollout_seed(spec, r[0])) for r in (ROLLOUTS[0], ROLLOUTS[2])]
    )
    assert torch.equal(viewed["pixel_values"], expected)
    assert not torch.equal(viewed["pixel_values"], plain["pixel_values"])
    for k in ("input_ids", "position_ids", "image_grid_thw"):
        assert torch.equal(viewed[k], plain[k]), k

    # The request reaches every micro-batch verl cuts, and a rollout's view does not depend on the cut.
    chunks = tu.chunk_tensordict(micro_batch(ROLLOUTS, spec), 3)
    parts = [e.prepare_model_inputs(c)[0].get("pixel_values") for c in chunks]
    assert torch.equal(torch.cat([p for p in parts if p is not None]), expected)


def test_inputs_that_disagree_with_the_engine_fail_with_the_reason():
    bad = [(ROLLOUTS[0][0], {**ROLLOUTS[0][1], "image_grid_thw": torch.tensor([[1, 4, 2]])})]
    with pytest.raises(ViewError, match="describes 8 patch rows, pixel_values has 16"):
        engine().prepare_model_inputs(micro_batch(bad, ViewSpec(view="blind")))


def tiny_qwen2_vl():
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    torch.manual_seed(0)
    config = Qwen2VLConfig(
        hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=512, vocab_size=99, bos_token_id=0, eos_token_id=1, pad_token_id=2,
        vision_start_token_id=VISION_START, vision_end_token_id=VISION_END, image_token_id=IMAGE_TOKEN, video_token_id=5,
        rope_scaling={"type": "mrope", "mrope_section": [2, 1, 1]},
        vision_config={"depth": 2, "embed_dim": 32, "hidden_size": 32, "hidden_act": "quick_gelu", "mlp_ratio": 4,
                       "num_heads": 4, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
    )
    return Qwen2VLForConditionalGeneration(config).eval()


def response_logp(model, inputs: dict, ids: torch.Tensor, response: int) -> torch.Tensor:
    # verl packs the rollout as (1, total) ids; the model computes its own M-RoPE positions here (transformers 5
    # wants the image-token types for that).
    with torch.no_grad():
        out = model(input_ids=inputs["input_ids"], pixel_values=inputs["pixel_values"],
                    image_grid_thw=inputs["image_grid_thw"], mm_token_type_ids=(inputs["input_ids"] == IMAGE_TOKEN).long(),
                    use_cache=False)
    logp = torch.log_softmax(out.logits[0, :-1].float(), -1).gather(-1, ids[1:, None])[:, 0]
    return logp[-response:]


def test_the_blind_view_changes_the_response_log_probs_of_a_real_qwen2_vl():
    model = tiny_qwen2_vl()
    ids, mm = ROLLOUTS[0]
    e = engine()
    image = e.prepare_model_inputs(micro_batch([ROLLOUTS[0]]))[0]
    again = e.prepare_model_inputs(micro_batch([ROLLOUTS[0]]))[0]
    blind = e.prepare_model_inputs(micro_batch([ROLLOUTS[0]], ViewSpec(view="blind")))[0]
    lp_image = response_logp(model, image, ids, 3)
    torch.testing.assert_close(response_logp(model, again, ids, 3), lp_image)
    lp_blind = response_logp(model, blind, ids, 3)
    assert (lp_blind - lp_image).abs().max() > 1e-4

"""The prpo_sync trainer's step on CPU: verl 0.9.1's own `_compute_old_log_prob` / `_compute_advantage` code with
our overrides, a batch of four Qwen2-VL-shaped rollouts, the real patched engine and a tiny random Qwen2-VL as the
worker, and the studio's run directory at the end.

Two stand-ins, because the real ones need Ray actors and GPUs: `MemoryTQ` keeps TransferQueue's KV interface
(`kv_batch_get`/`kv_batch_put`, nested tensors per field) in a dict, and `LocalActor` does what verl's worker does
for `compute_log_prob` — turns the batch's `extra_info` into non-tensor entries (as
`verl/utils/transferqueue_utils.py` does), runs `FSDPEngineWithLMHead.prepare_model_inputs` and a forward, and
writes `log_probs` back. Everything else is verl's code and ours."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("verl", reason="verl 0.9.1 is installed in .toolchain/python by the project's set-up")
pytest.importorskip("transfer_queue", reason="verl 0.9's V1 trainer imports TransferQueue (verl's verl-core extra)")

from omegaconf import OmegaConf  # noqa: E402
from tensordict import TensorDict  # noqa: E402
from tensordict.tensorclass import NonTensorData, NonTensorStack  # noqa: E402
from transfer_queue import KVBatchMeta  # noqa: E402

import prpo_studio.verl.plugin  # noqa: E402,F401
from prpo_studio.verl import trainer as trainer_module  # noqa: E402
from prpo_studio.verl.trainer import PluginConfigError, PRPOTrainerSync  # noqa: E402
from prpo_studio.verl.worker import VIEW_KEY  # noqa: E402

from test_verl_worker import IMAGE_TOKEN, engine, rollout, tiny_qwen2_vl  # noqa: E402


class MemoryTQ:
    def __init__(self):
        self.rows: dict[str, dict] = {}
        self.tags: dict[str, dict] = {}

    def kv_batch_put(self, keys, partition_id, fields=None, tags=None):
        for i, key in enumerate(keys):
            row = self.rows.setdefault(key, {})
            if tags is not None:
                self.tags[key] = dict(tags[i])
            for name, value in (fields.items() if fields is not None else []):
                if isinstance(value, NonTensorStack):
                    row[name] = value.tolist()[i]
                elif getattr(value, "is_nested", False):
                    row[name] = value.unbind(0)[i].clone()
                else:
                    row[name] = value[i].clone()
        names = sorted({n for k in keys for n in self.rows[k]})
        return KVBatchMeta(keys=list(keys), tags=[self.tags.get(k, {}) for k in keys], partition_id=partition_id, fields=names)

    def kv_batch_get(self, keys, partition_id, select_fields=None):
        names = select_fields or sorted({n for k in keys for n in self.rows[k]})
        out = {}
        for name in names:
            values = [self.rows[k].get(name) for k in keys]
            if any(v is None for v in values):
                continue  # like TransferQueue, verl asks for optional fields (values, ref_log_prob, ...)
            if isinstance(values[0], torch.Tensor) and values[0].dim() >= 1:
                out[name] = torch.nested.as_nested_tensor(values, layout=torch.jagged)
            elif isinstance(values[0], torch.Tensor):
                out[name] = torch.stack(values)
            else:
                out[name] = NonTensorStack.from_list([NonTensorData(v) for v in values])
        return TensorDict(out, batch_size=len(keys))


class LocalActor:
    """verl's `ActorRolloutRefWorker.compute_log_prob`, one rollout per micro-batch, on a tiny Qwen2-VL."""

    def __init__(self, tq: MemoryTQ, model):
        self.tq, self.model, self.calls = tq, model, []

    def compute_log_prob(self, meta: KVBatchMeta):
        from verl.utils import tensordict_utils as tu

        data = self.tq.kv_batch_get(meta.keys, meta.partition_id)
        for key, value in meta.extra_info.items():
            tu.assign_non_tensor_data(data, key, value)
        self.calls.append(dict(meta.extra_info))
        e = engine()
        log_probs, entropy = [], []
        for micro in tu.chunk_tensordict(data, len(meta.keys)):
            inputs, _ = e.prepare_model_inputs(micro)
            ids = inputs["input_ids"]
            with torch.no_grad():
                out = self.model(input_ids=ids, pixel_values=inputs.get("pixel_values"), image_grid_thw=inputs.get("image_grid_thw"),
                                 mm_token_type_ids=(ids == IMAGE_TOKEN).long(), use_cache=False)
            logp_all = torch.log_softmax(out.logits[0].float(), -1)
            nxt = torch.roll(ids[0], -1)
            lp = logp_all.gather(-1, nxt[:, None])[:, 0]
            lp[-1] = 0.0  # verl's rolled labels wrap around; the last position is never a response token
            log_probs.append(lp)
            entropy.append(-(logp_all.exp() * logp_all).sum(-1))
        fields = {"log_probs": torch.nested.as_nested_tensor(log_probs, layout=torch.jagged)}
        if meta.extra_info.get("calculate_entropy"):
            fields["entropy"] = torch.nested.as_nested_tensor(entropy, layout=torch.jagged)
        return self.tq.kv_batch_put(meta.keys, meta.partition_id, TensorDict(fields, batch_size=len(meta.keys)))


class Tokenizer:
    def decode(self, ids, skip_special_tokens=False):
        return "".join(f"<{i}>" if i < 10 else chr(ord("a") + i - 10) for i in ids if not (skip_special_tokens and i < 10))


def config(**algorithm):
    return OmegaConf.create(
        {
            "algorithm": {"adv_estimator": "prpo", "use_kl_in_reward": False, "gamma": 1.0, "lam": 1.0,
                          "norm_adv_by_std_in_grpo": True, **algorithm},
            "data": {"train_batch_size": 2, "train_files": ["/data/geo3k/train.parquet"]},
            "actor_rollout_ref": {
                "model": {"path": "/models/Qwen2.5-VL-3B-Instruct"},
                "rollout": {"temperature": 1.0, "n": 2, "calculate_log_probs": False},
                "actor": {"loss_agg_mode": "token-mean", "loss_scale_factor": None, "strategy": "fsdp2"},
            },
            "trainer": {"experiment_name": "cpu test", "default_local_dir": "/checkpoints/cpu-test",
                        "prpo_studio": {"rollouts_per_step": -1, "seed": 4}},
        }
    )


def make_batch(tq: MemoryTQ) -> KVBatchMeta:
    """Two prompts (groups) x two rollouts, each with a 4x4-patch image (4 visual tokens) and a short response."""
    specs = [("q0", [10, 11], [12, 13, 14], 1.0, 0), ("q0", [10, 11], [15, 16], 0.0, 0),
             ("q1", [17], [18, 19, 20, 21], 0.0, 1), ("q1", [17], [22, 23, 24], 1.0, 1)]
    keys, rows = [], []
    for j, (uid, prompt_text, response, reward, image_seed) in enumerate(specs):
        ids, mm = rollout((1, 4, 4), prompt_text, image_seed)
        prompt = ids.clone()
        full = torch.cat([prompt, torch.tensor(response)])
        scores = torch.zeros(len(response))
        scores[-1] = reward
        keys.append(f"{uid}_{j % 2}_0")
        rows.append({"input_ids": full, "position_ids": torch.arange(len(full)), "prompts": prompt,
                     "responses": torch.tensor(response), "response_mask": torch.ones(len(response), dtype=torch.int64),
                     "rm_scores": scores, "uid": uid, "multi_modal_inputs": mm})
    fields = {}
    for name in rows[0]:
        values = [r[name] for r in rows]
        if isinstance(values[0], torch.Tensor):
            fields[name] = torch.nested.as_nested_tensor(values, layout=torch.jagged)
        else:
            fields[name] = NonTensorStack.from_list([NonTensorData(v) for v in values])
    meta = tq.kv_batch_put(keys, "train", TensorDict(fields, batch_size=len(keys)), tags=[{"is_padding": False}] * len(keys))
    meta.extra_info["temperature"] = 1.0
    return meta


@pytest.fixture()
def step(monkeypatch):
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
    from verl.trainer.ppo.v1 import trainer_base

    tq = MemoryTQ()
    monkeypatch.setattr(trainer_base, "tq", tq)
    monkeypatch.setattr(trainer_module, "tq", tq)
    t = PRPOTrainerSync.__new__(PRPOTrainerSync)  # verl's __init__ builds Ray worker groups
    t.config = config()
    t.init_prpo(t.config)
    t.actor_rollout_wg = LocalActor(tq, tiny_qwen2_vl())
    t.processor = type("Processor", (), {"image_processor": Qwen2VLImageProcessor()})()
    t.tokenizer = Tokenizer()
    t.global_steps = 3
    t.total_training_steps = 1
    return t, tq, make_batch(tq)


def test_one_step_scores_the_views_reshapes_and_records(step, tmp_path):
    from prpo_studio.algorithms.advantages import compute_advantages
    from prpo_studio.algorithms.config import resolve_config
    from prpo_studio.run import RunWriter

    t, tq, batch = step
    assert t.trainer_mode == "sync" and (t.prpo_views, t.prpo_masks) == (["blind", "mild"], 0)
    metrics: dict = {}
    batch = t._compute_old_log_prob(batch, metrics)

    # verl's image pass, then one pass per view, each named in extra_info and none leaking into the next call
    calls = t.actor_rollout_wg.calls
    assert [json.loads(c[VIEW_KEY])["view"] if VIEW_KEY in c else None for c in calls] == [None, "blind", "mild"]
    assert VIEW_KEY not in batch.extra_info
    assert "actor/entropy" in metrics
    rows = [tq.rows[k] for k in batch.keys]
    for r in rows:
        n = len(r["responses"])
        assert r["old_log_probs"].shape == r["prpo_logp_blind"].shape == r["prpo_logp_mild"].shape == (n,)
        assert not torch.equal(r["prpo_logp_blind"], r["old_log_probs"])

    batch = t._compute_advantage(batch, metrics)
    rollouts = [
        {"id": k, "group": r["uid"], "reward": float(r["rm_scores"].sum()),
         "logp": {"image": r["old_log_probs"].double(), "blind": r["prpo_logp_blind"].double(), "mild": r["prpo_logp_mild"].double()}}
        for k, r in zip(batch.keys, rows)
    ]
    direct = compute_advantages(resolve_config("prpo", {"normalizeByStd": True}), rollouts)
    for r, d in zip(rows, direct):
        torch.testing.assert_close(r["advantages"].double(), d.token_advantages, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(r["returns"], r["advantages"])
    assert {"prpo_studio/weight_mean", "prpo_studio/boosted_fraction", "prpo_studio/rvd_mean"} <= metrics.keys()

    t.prpo_run = RunWriter.create(tmp_path, t.run_manifest("prpo") | {"steps": 1})
    results, t.prpo_results = t.prpo_results, {}
    t.write_step(batch, {**metrics, "critic/score/mean": 0.5, "timing_s/step": 2.0, "note": "text"}, 3, results)
    run = t.prpo_run.dir
    manifest = json.loads((run / "run.json").read_text())
    assert (manifest["source"], manifest["algorithm"], manifest["config"]["tau"]) == ("verl", "prpo", 0.4)
    assert manifest["config"]["verl"]["views"] == ["blind", "mild"]
    records = [json.loads(line) for line in (run / "rollouts" / "step-000003.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == sorted(batch.keys)
    first = records[0]
    assert first["tokens"] == ["c", "d", "e"] and first["response"] == "cde" and first["tokenIds"] == [12, 13, 14] and first["group"] == "q0"
    assert set(first["logp"]) == {"image", "blind", "mild"} and set(first["scores"]) == {"G", "U", "rvd"}
    assert first["tokenAdvantages"] == pytest.approx(direct[0].token_advantages.tolist(), abs=1e-6)
    assert first["advantage"] == pytest.approx(direct[0].advantage)
    (row,) = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert row["step"] == 3 and row["reward"] == 0.5 and row["timeStepMs"] == 2000.0 and "note" not in row


def test_the_view_passes_use_the_views_pixels_on_the_worker(step, monkeypatch):
    """With the engine patch undone the views come back identical to the image pass, and the trainer stops."""
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

    t, _, batch = step
    monkeypatch.setattr(FSDPEngineWithLMHead, "prepare_model_inputs", FSDPEngineWithLMHead.prepare_model_inputs.__wrapped__)
    with pytest.raises(RuntimeError, match="the blind view gave exactly the image log-probs"):
        t._compute_old_log_prob(batch, {})


def test_configurations_the_views_cannot_serve_are_refused_at_start():
    t = PRPOTrainerSync.__new__(PRPOTrainerSync)
    megatron = config()
    megatron.actor_rollout_ref.actor.strategy = "megatron"
    with pytest.raises(PluginConfigError, match="strategy=megatron"):
        t.init_prpo(megatron)
    with pytest.raises(PluginConfigError, match="bypass_mode=True"):
        t.init_prpo(config(rollout_correction={"bypass_mode": True}))
    grpo = config(adv_estimator="grpo")
    t.init_prpo(grpo)
    assert t.prpo_preset is None and t.prpo_views == []


def example_overrides() -> list[str]:
    """The hydra overrides of examples/verl/run_qwen2_5_vl_3b_prpo.sh, shell variables filled in."""
    import re
    import shlex
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "examples" / "verl" / "run_qwen2_5_vl_3b_prpo.sh").read_text()
    command = script[script.index("verl.trainer.main_ppo") :].split("\n")[1:]
    values = {"RUNS_ROOT": "/runs", "DATA_DIR": "/data", "MODEL_PATH": "/models/qwen"}
    out = []
    for line in command:
        line = line.strip().rstrip("\\").strip().replace('"$@"', "")
        line = re.sub(r"\$\{?([A-Za-z_]+)\}?", lambda m: values.get(m.group(1), "8"), line)
        out += shlex.split(line)  # the shell's quoting: '["console","file"]' stays one value
    return out


def test_the_example_command_composes_with_verls_config_and_selects_our_parts():
    import os

    import verl
    from hydra import compose, initialize_config_dir
    from verl.trainer.ppo.v1 import get_trainer_cls

    from prpo_studio.verl.estimators import needed_views, studio_config

    overrides = example_overrides()
    assert "algorithm.adv_estimator=prpo" in overrides and "trainer.v1.trainer_mode=prpo_sync" in overrides
    with initialize_config_dir(config_dir=os.path.join(os.path.dirname(verl.__file__), "trainer", "config"), version_base=None):
        cfg = compose(config_name="ppo_trainer", overrides=overrides)
    assert get_trainer_cls(cfg.trainer.v1.trainer_mode) is PRPOTrainerSync
    studio = studio_config(cfg.algorithm.adv_estimator, cfg.algorithm)
    assert (studio.preset, studio.rvd, studio.tau, studio.lambda_) == ("prpo", "soft", 0.4, 1.0)
    assert needed_views(studio) == (["blind", "mild"], 0)
    assert cfg.trainer.prpo_studio.runs_root == "/runs" and cfg.actor_rollout_ref.actor.strategy == "fsdp2"
    t = PRPOTrainerSync.__new__(PRPOTrainerSync)
    t.init_prpo(cfg)  # the start-up checks accept it
    assert t.prpo_runs_root == "/runs" and t.prpo_rollouts_per_step == 64

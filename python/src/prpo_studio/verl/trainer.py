"""The `prpo_sync` trainer: verl 0.9's synchronous V1 trainer plus the probe views, our advantages and the
studio's run directory. Selected with `trainer.use_v1=true trainer.v1.trainer_mode=prpo_sync`.

Per step (verl/trainer/ppo/v1/trainer_base.py, `_step_once`), on top of `PPOTrainerSync`:
- `_compute_old_log_prob`: after verl's own pass (the `image` view, stored as `old_log_probs`), one more
  `compute_log_prob` per probe view with the view named in `extra_info` (the worker swaps the images, see
  worker.py); each view's log-probs go back to TransferQueue as `prpo_logp_<view>`.
- `_compute_advantage`: verl's own, with those log-probs fed to our registered estimator (estimators.py), so
  KL-in-reward, rollout correction and the write-back stay verl's.
- `_compute_metrics`: verl's, then the step's metrics and rollouts (per-token fields) into the run directory.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
import transfer_queue as tq
from tensordict import TensorDict

from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.workers.utils.padding import response_from_nested

from . import estimators, records
from .views import ViewSpec
from .worker import VIEW_KEY

logger = logging.getLogger(__name__)

# Engines whose `prepare_model_inputs` the worker patch covers (worker.py).
PATCHED_STRATEGIES = ("fsdp", "fsdp2")
RUNS_ROOT_ENV = "PRPO_STUDIO_RUNS_DIR"


class PluginConfigError(ValueError):
    """The verl config cannot run the prpo_studio trainer; the message names the key."""


def view_field(view: str, sample: int, masks: int) -> str:
    """The TransferQueue field holding a view's log-probs."""
    return f"prpo_logp_{view}" if view != "perturbed" or masks <= 1 else f"prpo_logp_perturbed_{sample}"


def view_plan(views: list[str], masks: int) -> list[tuple[str, str, int]]:
    """(field, view, mask number) for every extra forward pass of a step, in order."""
    plan = []
    for view in views:
        count = max(masks, 1) if view == "perturbed" else 1
        plan += [(view_field(view, j, masks), view, j) for j in range(count)]
    return plan


def fed_logp(data: Any, views: list[str], masks: int) -> dict[str, Any]:
    """The estimator's `logp` rows from a padded TensorDict of `old_log_probs` and the view fields."""
    logp: dict[str, Any] = {"image": data["old_log_probs"]}
    for view in views:
        if view == "perturbed" and masks > 1:
            logp[view] = [data[view_field(view, j, masks)] for j in range(masks)]
        else:
            logp[view] = data[view_field(view, 0, masks)]
    return logp


def image_settings(processor: Any) -> dict:
    """Mean, std and merge size of the model's image processor (the views are made in its output space)."""
    image_processor = getattr(processor, "image_processor", None)
    if image_processor is None:
        raise PluginConfigError(
            "the probe views need a vision-language model with an image processor; "
            "actor_rollout_ref.model.path loads no processor (is it a text-only model?)"
        )
    mean, std = getattr(image_processor, "image_mean", None), getattr(image_processor, "image_std", None)
    if mean is None or std is None:
        raise PluginConfigError(f"{type(image_processor).__name__} has no image_mean/image_std: cannot make pixel-space views")
    return {
        "mean": tuple(float(v) for v in mean),
        "std": tuple(float(v) for v in std),
        "merge_size": int(getattr(image_processor, "merge_size", 1) or 1),
    }


def studio_algorithm(adv_estimator: str, algorithm_config: Any) -> str | None:
    """The run manifest's `algorithm` for verl's estimator, or None when the run format has no name for it."""
    if adv_estimator in estimators.PRESETS:
        return adv_estimator
    if adv_estimator in ("grpo", "grpo_vectorized"):
        filter_groups = algorithm_config.get("filter_groups", None) if algorithm_config is not None else None
        return "dapo" if filter_groups is not None and filter_groups.get("enable", False) else "grpo"
    return None


@register_trainer(estimators.TRAINER_MODE)
class PRPOTrainerSync(PPOTrainerSync):
    """verl's sync trainer with the probe views, our estimators and the studio run directory."""

    # verl branches on `self.trainer_mode == "sync"` (replay buffer, refill, checkpoint resume) and reads
    # `trainer.v1.<mode>` settings; this trainer is the sync one under another registry name.
    @property
    def trainer_mode(self) -> str:
        return "sync"

    @trainer_mode.setter
    def trainer_mode(self, configured: str) -> None:
        self.configured_trainer_mode = configured

    def __init__(self, config):
        self.init_prpo(config)  # first: a setting the views cannot serve fails before verl builds anything
        super().__init__(config)

    def init_prpo(self, config) -> None:
        """Our part of the set-up (separate from verl's, which needs Ray and GPUs)."""
        algorithm = config.algorithm
        self.prpo_preset = algorithm.adv_estimator if algorithm.adv_estimator in estimators.PRESETS else None
        self.prpo_views: list[str] = []
        self.prpo_masks = 0
        if self.prpo_preset:
            cfg = estimators.studio_config(self.prpo_preset, algorithm)
            self.prpo_views, self.prpo_masks = estimators.needed_views(cfg)
            correction = config.algorithm.get("rollout_correction", None)
            if self.prpo_views and correction is not None and correction.get("bypass_mode", False):
                # Bypass mode takes old_log_probs from the rollout engine, the views would come from the FSDP
                # engine: the dependency scores would measure the engines' mismatch, not the image.
                raise PluginConfigError(
                    "algorithm.rollout_correction.bypass_mode=True: the probe views need the old log-probs "
                    "recomputed by the actor (bypass_mode=False)"
                )
            strategy = config.actor_rollout_ref.actor.get("strategy", "fsdp")
            if self.prpo_views and strategy not in PATCHED_STRATEGIES:
                raise PluginConfigError(
                    f"actor_rollout_ref.actor.strategy={strategy}: the probe views are made inside verl's FSDP "
                    f"engine only ({', '.join(PATCHED_STRATEGIES)})"
                )
        studio = config.trainer.get("prpo_studio", None) or {}
        self.prpo_seed = int(studio.get("seed", 0))
        self.prpo_rollouts_per_step = int(studio.get("rollouts_per_step", 64))
        self.prpo_runs_root = studio.get("runs_root", None) or os.environ.get(RUNS_ROOT_ENV) or None
        self.prpo_run_id = studio.get("run_id", None) or records.run_id_for(config.trainer.experiment_name)
        self.prpo_image_settings: dict | None = None
        self.prpo_results: dict[str, Any] = {}
        self.prpo_run = None

    # ------------------------------------------------------------------ views

    def view_specs(self, step: int) -> list[tuple[str, ViewSpec]]:
        if self.prpo_image_settings is None:
            self.prpo_image_settings = image_settings(self.processor)
        studio = self.config.trainer.get("prpo_studio", None) or {}
        extra = {k: float(studio[k]) for k in ("perturb_prob", "mild_sigma") if k in studio}
        return [
            (f, ViewSpec(view=v, seed=self.prpo_seed * 1_000_003 + step, sample=j, **self.prpo_image_settings, **extra))
            for f, v, j in view_plan(self.prpo_views, self.prpo_masks)
        ]

    def _compute_old_log_prob(self, batch, metrics: dict):
        batch = super()._compute_old_log_prob(batch, metrics)
        if not self.prpo_views:
            return batch
        keys, partition = batch.keys, batch.partition_id
        image = tq.kv_batch_get(keys=keys, partition_id=partition, select_fields=["old_log_probs"])["old_log_probs"]
        for field, spec in self.view_specs(self.global_steps):
            batch.extra_info.update(
                {
                    "calculate_entropy": False,
                    "compute_loss": False,
                    "temperature": self.config.actor_rollout_ref.rollout.temperature,
                    VIEW_KEY: spec.to_json(),
                }
            )
            try:
                output = self.actor_rollout_wg.compute_log_prob(batch)
            finally:
                # Later passes (ref log-probs, the actor update) must see the real images.
                batch.extra_info.pop(VIEW_KEY, None)
            assert len(output) == len(batch)
            data = tq.kv_batch_get(keys=keys, partition_id=partition, select_fields=["log_probs", "response_mask"])
            logp = response_from_nested(data["log_probs"], data["response_mask"])
            check_view_applied(spec.view, image, logp)
            batch = tq.kv_batch_put(
                keys=keys, partition_id=partition, fields=TensorDict({field: logp}, batch_size=len(keys))
            )
        return batch

    # ------------------------------------------------------------- advantages

    def _compute_advantage(self, batch, metrics: dict):
        if not self.prpo_preset:
            return super()._compute_advantage(batch, metrics)
        keys = list(batch.keys)
        fields = ["old_log_probs", *[f for f, _, _ in view_plan(self.prpo_views, self.prpo_masks)]]
        data = tq.kv_batch_get(keys=keys, partition_id=batch.partition_id, select_fields=fields).to_padded_tensor()
        fed = estimators.FedViews(logp=fed_logp(data, self.prpo_views, self.prpo_masks), ids=keys)
        with estimators.feeding_views(fed):
            batch = super()._compute_advantage(batch, metrics)
        metrics.update(dependency_metrics(fed.results))
        self.prpo_results.update({k: r for k, r in zip(keys, fed.results) if r is not None})
        return batch

    # -------------------------------------------------------- run directory

    def fit(self, agent_loop_manager):
        self.prpo_run = self.open_run()
        try:
            super().fit(agent_loop_manager)
        except BaseException as e:
            if self.prpo_run is not None:
                self.prpo_run.append_event({"type": "failed", "step": int(self.global_steps), "reason": f"{type(e).__name__}: {e}"[:2000]})
            raise
        if self.prpo_run is not None:
            self.prpo_run.append_event({"type": "completed", "step": int(self.global_steps)})

    def open_run(self):
        """Create (or, on a resumed verl run, reopen) the run directory; None when none is configured."""
        if not self.prpo_runs_root:
            logger.warning(
                "prpo_studio: no run directory is written (set +trainer.prpo_studio.runs_root=DIR or $%s)", RUNS_ROOT_ENV
            )
            return None
        from ..run import RunWriter

        algorithm = studio_algorithm(self.config.algorithm.adv_estimator, self.config.algorithm)
        if algorithm is None:
            logger.warning(
                "prpo_studio: no run directory for adv_estimator=%s (the run format knows grpo, dapo, vppo, pgpo, prpo)",
                self.config.algorithm.adv_estimator,
            )
            return None
        run_dir = os.path.join(self.prpo_runs_root, self.prpo_run_id)
        if os.path.exists(os.path.join(run_dir, "run.json")):
            writer = RunWriter.open(run_dir)
            writer.append_event({"type": "resumed", "step": int(self.global_steps)})
            return writer
        writer = RunWriter.create(self.prpo_runs_root, self.run_manifest(algorithm))
        writer.append_event({"type": "started", "step": int(self.global_steps)})
        return writer

    def run_manifest(self, algorithm: str) -> dict:
        c = self.config
        studio_cfg = estimators.studio_config(self.prpo_preset, c.algorithm) if self.prpo_preset else None
        return run_manifest(
            run_id=self.prpo_run_id,
            experiment=c.trainer.experiment_name,
            algorithm=algorithm,
            studio_config=studio_cfg,
            model_path=str(c.actor_rollout_ref.model.path),
            train_files=c.data.get("train_files", None),
            seed=int(c.actor_rollout_ref.actor.get("data_loader_seed", 0) or 0),
            steps=int(self.total_training_steps),
            verl={
                "adv_estimator": str(c.algorithm.adv_estimator),
                "rollout_n": int(c.actor_rollout_ref.rollout.n),
                "train_batch_size": int(c.data.train_batch_size),
                "views": self.prpo_views,
                "checkpoints": str(c.trainer.default_local_dir),
            },
        )

    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        results, self.prpo_results = self.prpo_results, {}
        if self.prpo_run is not None:
            self.write_step(batch, metrics, global_steps, results)

    def write_step(self, batch, metrics: dict, step: int, results: dict[str, Any]) -> None:
        keys = list(batch.keys)
        real = [i for i, tag in enumerate(batch.tags) if not tag.get("is_padding", False)]
        groups = [keys[i].rsplit("_", 2)[0] for i in real]
        chosen = [keys[real[j]] for j in records.select_groups([keys[i] for i in real], groups, self.prpo_rollouts_per_step)]
        rows = []
        if chosen:
            view_fields = [f for f, _, _ in view_plan(self.prpo_views, self.prpo_masks)]
            fields = ["prompts", "responses", "response_mask", "rm_scores", "advantages", "old_log_probs", *view_fields]
            data = tq.kv_batch_get(keys=chosen, partition_id=batch.partition_id, select_fields=fields)
            answers = self.ground_truths(chosen, batch.partition_id)
            rows = step_records(
                step=step,
                keys=chosen,
                data=data,
                views=self.prpo_views,
                masks=self.prpo_masks,
                results=results,
                answers=answers,
                decode=lambda ids, **kw: self.tokenizer.decode(ids, **kw),
            )
        self.prpo_run.append_rollouts(step, rows)
        self.prpo_run.append_metrics(records.metrics_row(step, metrics))

    def ground_truths(self, keys: list[str], partition: str) -> list[str | None]:
        try:
            data = tq.kv_batch_get(keys=keys, partition_id=partition, select_fields=["reward_model"])
            items = data["reward_model"].tolist()
        except Exception:  # the dataset may have no reward_model column: the record simply has no answer
            return [None] * len(keys)
        return [(item or {}).get("ground_truth") if isinstance(item, dict) else None for item in items]


def check_view_applied(view: str, image: torch.Tensor, logp: torch.Tensor) -> None:
    """A view whose log-probs equal the image's to the bit was not applied: fail instead of training on it."""
    same = all(torch.equal(a, b) for a, b in zip(image.unbind(0), logp.unbind(0)))
    if same:
        raise RuntimeError(
            f"prpo_studio: the {view} view gave exactly the image log-probs for the whole batch: the workers did "
            "not swap the images. Is prpo_studio installed where the workers run (its verl.plugins entry point, or "
            "VERL_USE_EXTERNAL_MODULES=prpo_studio.verl.plugin in the Ray runtime_env), and does the batch have images?"
        )


def dependency_metrics(results: list[Any]) -> dict[str, float]:
    """Step metrics of the reshaping (verl's logger and metrics.jsonl): how sparse the boosted tokens are."""
    def values(x: Any) -> list[float]:
        return [] if x is None else (x.tolist() if isinstance(x, torch.Tensor) else list(x))

    weights, masks, rvd = [], [], []
    for r in results:
        if r is None:
            continue
        weights += values(records._field(r, "weights", None))
        masks += values(records._field(r, "mask", None))
        rvd += values((records._field(r, "scores", None) or {}).get("rvd"))
    out: dict[str, float] = {}
    if weights:
        w = torch.tensor(weights, dtype=torch.float64)
        out["prpo_studio/weight_mean"] = float(w.mean())
        out["prpo_studio/boosted_fraction"] = float((w > 1.0 + 1e-9).double().mean())
    if masks:
        out["prpo_studio/kept_fraction"] = float(torch.tensor(masks, dtype=torch.float64).mean())
    if rvd:
        out["prpo_studio/rvd_mean"] = float(torch.tensor(rvd, dtype=torch.float64).mean())
    return out


def run_manifest(*, run_id, experiment, algorithm, studio_config, model_path, train_files, seed, steps, verl) -> dict:
    """run.json for a verl run (source `verl`)."""
    config: dict[str, Any] = {"preset": algorithm, "backend": "verl", "verl": verl}
    if studio_config is not None:
        config.update(_as_dict(studio_config))
    files = [train_files] if train_files is None or isinstance(train_files, str) else list(train_files)
    files = [str(f) for f in files if f is not None]
    return {
        "id": run_id,
        "name": str(experiment),
        "source": "verl",
        "algorithm": algorithm,
        "config": config,
        "model": {"name": os.path.basename(model_path.rstrip("/")) or model_path, "config": {"path": model_path}},
        "task": {"name": os.path.basename(files[0]) if files else "verl", "config": {"train_files": files}},
        "seed": seed,
        "steps": steps,
    }


def _as_dict(config: Any) -> dict:
    return config.to_json() if hasattr(config, "to_json") else dict(config)


def step_records(*, step, keys, data, views, masks, results, answers, decode) -> list[dict]:
    """The rollouts/step-NNNNNN.jsonl records of one step from TransferQueue's nested tensors."""
    prompts = data["prompts"].unbind(0)
    responses = data["responses"].unbind(0)
    response_mask = data["response_mask"].unbind(0)
    rewards = data["rm_scores"].unbind(0)
    advantages = data["advantages"].unbind(0)
    logp_fields = {"image": data["old_log_probs"].unbind(0)}
    for view in views:
        if view == "perturbed" and masks > 1:
            logp_fields[view] = [data[view_field(view, j, masks)].unbind(0) for j in range(masks)]
        else:
            logp_fields[view] = data[view_field(view, 0, masks)].unbind(0)
    out = []
    for i, key in enumerate(keys):
        logp = {v: ([rows[i] for rows in t] if isinstance(t, list) else t[i]) for v, t in logp_fields.items()}
        out.append(
            records.rollout_record(
                step=step,
                key=key,
                group=key.rsplit("_", 2)[0],
                prompt=decode(prompts[i].tolist(), skip_special_tokens=True),
                response_ids=responses[i].tolist(),
                response_mask=response_mask[i],
                reward=float(rewards[i].sum()),
                logp=logp,
                token_advantages=advantages[i],
                result=results.get(key),
                decode_token=lambda t: decode([t]),
                answer=answers[i],
            )
        )
    return out

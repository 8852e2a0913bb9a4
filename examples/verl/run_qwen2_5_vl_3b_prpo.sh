#!/usr/bin/env bash
# PRPO-R (prpo_studio's reconstruction of PRPO, ALGORITHMS.md §4) on Qwen2.5-VL-3B with verl 0.9.x, one node.
#
#   pip install "prpo-studio[verl]"        # or: pip install -e python  (from this repository)
#   bash examples/verl/run_qwen2_5_vl_3b_prpo.sh [more hydra overrides]
#
# What prpo_studio adds to verl's stock GRPO command (docs/verl.md):
#   algorithm.adv_estimator=prpo               our estimator, registered by the plugin (verl.plugins entry point)
#   trainer.v1.trainer_mode=prpo_sync          our trainer: scores the blind and mild views after the old log-probs
#   +algorithm.prpo_studio.<key>=...           estimator settings with the studio's names (tau, beta, lambda, ...)
#   +trainer.prpo_studio.runs_root=DIR         the studio's run directory (open it in VS Code: PRPO Studio)
# and the DAPO loss of ALGORITHMS.md §5 (clip 0.2/0.28, dual clip 3, token-mean, dynamic sampling, no KL).
#
# Data: verl's Geo3K recipe (python examples/data_preprocess/geo3k.py in a verl checkout), or any parquet with an
# `images` column and a rule-based reward.

set -xeuo pipefail

MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-VL-3B-Instruct}
DATA_DIR=${DATA_DIR:-$HOME/data/geo3k}
NGPUS_PER_NODE=${NGPUS_PER_NODE:-8}
RUNS_ROOT=${RUNS_ROOT:-$HOME/prpo-studio-runs}

train_batch_size=${TRAIN_BATCH_SIZE:-128}
ppo_mini_batch_size=${PPO_MINI_BATCH_SIZE:-32}
rollout_n=${ROLLOUT_N:-8}
max_prompt_length=${MAX_PROMPT_LENGTH:-1024}
max_response_length=${MAX_RESPONSE_LENGTH:-2048}
max_token_len_per_gpu=${MAX_TOKEN_LEN_PER_GPU:-16384}

project_name=${PROJECT_NAME:-prpo_studio_geo3k}
experiment_name=${EXPERIMENT_NAME:-qwen2_5_vl_3b_prpo_r}

# The plugin must be importable in every Ray worker: installed in the same environment, it is found through its
# entry point. If the workers use another environment, name it explicitly:
#   export VERL_USE_EXTERNAL_MODULES=prpo_studio.verl.plugin
python3 -m verl.trainer.main_ppo \
    algorithm.adv_estimator=prpo \
    algorithm.use_kl_in_reward=False \
    algorithm.norm_adv_by_std_in_grpo=True \
    algorithm.filter_groups.enable=True \
    algorithm.filter_groups.metric=reward \
    +algorithm.prpo_studio.rvd=soft \
    +algorithm.prpo_studio.tau=0.4 \
    +algorithm.prpo_studio.beta=1.0 \
    +algorithm.prpo_studio.lambda=1.0 \
    trainer.use_v1=True \
    trainer.v1.trainer_mode=prpo_sync \
    +trainer.prpo_studio.runs_root="$RUNS_ROOT" \
    +trainer.prpo_studio.rollouts_per_step=64 \
    data.train_files="$DATA_DIR/train.parquet" \
    data.val_files="$DATA_DIR/test.parquet" \
    data.image_key=images \
    data.train_batch_size=${train_batch_size} \
    data.max_prompt_length=${max_prompt_length} \
    data.max_response_length=${max_response_length} \
    data.filter_overlong_prompts=True \
    data.truncation=error \
    actor_rollout_ref.model.path="$MODEL_PATH" \
    actor_rollout_ref.model.use_remove_padding=True \
    actor_rollout_ref.model.enable_gradient_checkpointing=True \
    actor_rollout_ref.actor.strategy=fsdp2 \
    actor_rollout_ref.actor.optim.lr=1e-6 \
    actor_rollout_ref.actor.ppo_mini_batch_size=${ppo_mini_batch_size} \
    actor_rollout_ref.actor.use_dynamic_bsz=True \
    actor_rollout_ref.actor.ppo_max_token_len_per_gpu=${max_token_len_per_gpu} \
    actor_rollout_ref.actor.clip_ratio_low=0.2 \
    actor_rollout_ref.actor.clip_ratio_high=0.28 \
    actor_rollout_ref.actor.clip_ratio_c=3.0 \
    actor_rollout_ref.actor.loss_agg_mode=token-mean \
    actor_rollout_ref.actor.use_kl_loss=False \
    actor_rollout_ref.actor.entropy_coeff=0 \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.mode=async \
    +actor_rollout_ref.rollout.engine_kwargs.vllm.mm_processor_cache_gb=0 \
    actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
    actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
    actor_rollout_ref.rollout.n=${rollout_n} \
    actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=True \
    actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=${max_token_len_per_gpu} \
    trainer.balance_batch=True \
    trainer.logger='["console","file"]' \
    trainer.project_name=${project_name} \
    trainer.experiment_name=${experiment_name} \
    trainer.n_gpus_per_node=${NGPUS_PER_NODE} \
    trainer.nnodes=1 \
    trainer.save_freq=20 \
    trainer.test_freq=5 \
    trainer.total_epochs=15 "$@"

"""Run directories with hostile text, written the way the studio's Python side writes them (issue #14).

Three runs under argv[1], each through the package's own writer (prpo_studio.run.RunWriter):
  pytorch  the PyTorch backend's run.json (prpo_studio.trainer.core.Trainer.start) and rollout records
           (Trainer._record), a local run that failed
  cluster  the same trainer as a Ray job runs it on a cluster node, still running: its events stamped with
           that node's name
  verl     the verl plugin's run.json (prpo_studio.verl.trainer.run_manifest), metrics (records.metrics_row) and
           rollout records (records.rollout_record, tokens decoded by a tokenizer stand-in)
The text (run names, prompts, answers, tokens, a failure reason) comes as JSON on stdin:
{"name", "text", "tokens"}. Prints {"pytorch": dir, "cluster": dir, "verl": dir}; with --only-pytorch after the
folder, writes and prints the first only. Not a test file itself.
"""

import json
import socket
import sys

import torch

from prpo_studio.run import RunWriter
from prpo_studio.verl import records

root = sys.argv[1]
given = json.load(sys.stdin)
name, text, tokens = given["name"], given["text"], given["tokens"]
n = len(tokens)


def pytorch_manifest(run_name: str) -> dict:
    # As Trainer.start writes it.
    return {
        "name": run_name,
        "source": "prpo-studio",
        "algorithm": "prpo",
        "config": {"preset": "prpo", "groupSize": 2, "checkpointEvery": 1},
        "model": {"name": text, "config": {"path": f"/models/{text}", "ref": text, "family": "qwen2-vl", "backend": "pytorch", "dtype": "fp32"}},
        "task": {"name": text, "config": {"data": f"/data/{text}", "examples": 6}},
        "seed": 3,
        "steps": 4,
    }


def pytorch_record(step: int, i: int) -> dict:
    # As Trainer._record writes it: tokens are the tokenizer's pieces of the sampled ids.
    return {
        "id": f"step-{step:06d}-{i:03d}{text}", "step": step, "group": f"g0{text}", "prompt": text, "answer": text,
        "response": "".join(tokens), "reward": 1.0, "correct": True, "advantage": 0.5, "tokens": tokens,
        "tokenIds": list(range(100, 100 + n)), "logp": {"image": [-0.5] * n, "perturbed": [-1.5] * n},
        "tokenAdvantages": [0.5] * n, "scores": {"S": [0.25] * n}, "perceptual": [i % 2 for i in range(n)],
    }


def write_pytorch(run_name: str, failure: str | None) -> str:
    w = RunWriter.create(root, pytorch_manifest(run_name))
    w.append_event({"type": "started", "step": 0})
    w.append_metrics({"step": 1, "reward": 1.0, "accuracy": 1.0, "loss": 0.25})
    w.append_rollouts(1, [pytorch_record(1, 0), pytorch_record(1, 1)])
    if failure is not None:
        w.append_event({"type": "failed", "step": 1, "reason": failure})
    return str(w.dir)


out = {"pytorch": write_pytorch(f"PyTorch {name}", text)}
if sys.argv[2:] == ["--only-pytorch"]:
    print(json.dumps(out))
    sys.exit(0)

# A Ray job's trainer, still running on a cluster node: its events name that host (so it reads as running).
real_hostname = socket.gethostname
socket.gethostname = lambda: f"gpu-node-7{text}"
try:
    out["cluster"] = write_pytorch(f"Cluster {name}", None)
finally:
    socket.gethostname = real_hostname

import prpo_studio.verl.plugin  # noqa: E402,F401  (verl's plugin entry point; imports the trainer)
from prpo_studio.verl.trainer import run_manifest  # noqa: E402

manifest = run_manifest(
    run_id=records.run_id_for(f"verl {name}"), experiment=f"verl {name}", algorithm="prpo", studio_config=None,
    model_path=f"/models/{text}", train_files=f"/data/{text}.parquet", seed=1, steps=4, verl={"experiment_name": text},
)
w = RunWriter.create(root, manifest)
w.append_event({"type": "started", "step": 0})
w.append_metrics(records.metrics_row(1, {"critic/score/mean": 1.0, "actor/pg_loss": torch.tensor(0.25), "note": text}))
ids = list(range(200, 200 + n))
record = records.rollout_record(
    step=1, key=f"uid{text}", group=f"g{text}", prompt=text, response_ids=ids, response_mask=torch.ones(n),
    reward=1.0, logp={"image": torch.full((n,), -0.5)}, token_advantages=torch.full((n,), 0.5), result=None,
    decode_token=lambda t: tokens[t - 200], answer=text,
)
w.append_rollouts(1, [record])
w.append_event({"type": "completed", "step": 1})
out["verl"] = str(w.dir)
print(json.dumps(out))

"""Hugging Face VLMs for the trainer: loading (local folder or a Hub id already in the local cache — never a
download), LoRA through peft or full fine-tuning, and the three model passes the trainer needs — sampling
with `generate` (KV cache), teacher-forced per-token log-probs of a sampled response under a view of the
prompt, and the trainable state as safetensors bytes.

Families: Qwen2-VL, Qwen2.5-VL, Idefics3/SmolVLM — anything AutoModelForImageTextToText + AutoProcessor load
and whose chat template takes `{"type": "image"}` content."""

from __future__ import annotations

import os

# Never reach the network: a model is a folder or already in the cache. Set before transformers is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import contextlib
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

DEFAULT_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


class ModelError(Exception):
    """A model that cannot be used; the message names the folder or id and what to do."""


def resolve_model(model: str) -> str:
    """A folder with config.json, or a Hub id found in the local cache → the folder to load from."""
    p = Path(model).expanduser()
    if p.exists():
        if not p.is_dir():
            raise ModelError(f"model {model}: is a file; pass the model's folder (with config.json and *.safetensors)")
        if not (p / "config.json").is_file():
            raise ModelError(
                f"model folder {p.resolve()} has no config.json: it is not a Hugging Face model folder. Pass the folder a "
                "`save_pretrained` wrote (config.json, *.safetensors, the processor files), or make a tiny one with "
                "`python -m prpo_studio tiny-model --family qwen2-vl --out DIR`."
            )
        if not any(p.glob("*.safetensors")) and not any(p.glob("*.bin")):
            raise ModelError(f"model folder {p.resolve()} has config.json but no weights (*.safetensors): the download is incomplete.")
        return str(p.resolve())
    if model.count("/") == 1 and not model.startswith((".", "/", "~")):
        try:
            from huggingface_hub import snapshot_download

            return snapshot_download(model, local_files_only=True)
        except Exception:  # noqa: BLE001 — any failure means "not in the cache"
            pass
        raise ModelError(
            f"model {model!r} is not in the local Hugging Face cache, and nothing is downloaded at run time. Get it first "
            f"with `huggingface-cli download {model}` (or `hf download {model}`), or pass a folder."
        )
    raise ModelError(f"model folder {p.resolve()} does not exist (nor is {model!r} a Hub id like 'Qwen/Qwen2-VL-2B-Instruct').")


@dataclass
class ModelSettings:
    device: str = "auto"  # auto | cuda | cpu
    dtype: str = "auto"  # auto | bf16 | fp32
    lora_rank: int = 16
    lora_alpha: float = 32
    lora_target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_LORA_TARGETS))
    full_finetune: bool = False


def pick_device(requested: str, warn) -> torch.device:
    if requested not in ("auto", "cuda", "cpu"):
        raise ModelError(f"device {requested!r}: expected auto, cuda or cpu")
    if requested == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if requested == "cuda":
        warn("CUDA was asked for but no GPU is visible to PyTorch (torch.cuda.is_available() is False); training on the CPU instead, which is far slower.")
    return torch.device("cpu")


class Policy:
    """The model being trained, its processor, and the passes over it."""

    def __init__(self, model_ref: str, settings: ModelSettings, warn=lambda m: None) -> None:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.path = resolve_model(model_ref)
        self.device = pick_device(settings.device, warn)
        dtype = settings.dtype if settings.dtype != "auto" else ("bf16" if self.device.type == "cuda" else "fp32")
        if dtype not in ("bf16", "fp32"):
            raise ModelError(f"dtype {settings.dtype!r}: expected auto, bf16 or fp32")
        self.dtype = dtype
        # bf16: LoRA keeps bf16 base weights (adapters in fp32); full fine-tuning keeps fp32 weights. Both run
        # the forward under bf16 autocast on the GPU.
        load_dtype = torch.bfloat16 if dtype == "bf16" and not settings.full_finetune else torch.float32
        try:
            self.processor = AutoProcessor.from_pretrained(self.path, local_files_only=True)
            model = AutoModelForImageTextToText.from_pretrained(self.path, dtype=load_dtype, local_files_only=True)
        except ImportError as e:
            raise ModelError(f"model folder {self.path}: its processor needs a package that is missing ({e}). Install it with: "
                             "python -m pip install torchvision (transformers 5's image processors need it)") from None
        except (OSError, ValueError, KeyError) as e:
            raise ModelError(f"model folder {self.path}: cannot be loaded as an image-text-to-text model with its processor ({e})") from None
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        if getattr(self.tokenizer, "chat_template", None) is None and getattr(self.processor, "chat_template", None) is None:
            raise ModelError(f"model folder {self.path}: its processor has no chat template, so prompts cannot be formatted")
        model.to(self.device)
        if self.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ and sum(p.numel() for p in model.parameters()) < 20_000_000:
            # A tiny model's passes are dominated by per-op overhead: extra threads only contend (measured 20-35×
            # slower with 2 threads on a loaded 2-core machine). OMP_NUM_THREADS overrides this.
            torch.set_num_threads(1)
        model.eval()  # no dropout: RL log-probs must be those the sampler used
        self.settings = settings
        self.lora = not settings.full_finetune
        if self.lora:
            from peft import LoraConfig, get_peft_model

            for p in model.parameters():
                p.requires_grad_(False)
            cfg = LoraConfig(r=settings.lora_rank, lora_alpha=settings.lora_alpha, target_modules=list(settings.lora_target_modules), lora_dropout=0.0, bias="none")
            try:
                model = get_peft_model(model, cfg)
            except ValueError as e:
                raise ModelError(f"LoRA on {self.path}: {e} (set config.loraTargetModules to module names of this model)") from None
            model.eval()
        self.model = model
        self.config = json.loads((Path(self.path) / "config.json").read_text())
        self.family = self.config.get("model_type", "unknown")
        gc = getattr(self._base(), "generation_config", None)
        eos = getattr(gc, "eos_token_id", None) if gc is not None else None
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            eos_ids.add(self.tokenizer.eos_token_id)
        self.eos_ids = sorted(eos_ids)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        self.suppress_ids = self._vision_token_ids()
        self._keep_logits = "logits_to_keep" in inspect.signature(self._base().forward).parameters

    # ---- helpers -----------------------------------------------------------------------------------------
    def _vision_token_ids(self) -> list[int]:
        """Ids of the image/video placeholder tokens. Sampling never emits them: a response holding one would
        no longer match the image features when it is scored (a random or badly tuned model can draw them)."""
        ids: set[int] = set()
        cfgs = [self.config, self.config.get("text_config") or {}]
        for c in cfgs:
            for k, v in c.items():
                if k.endswith("token_id") and any(w in k for w in ("image", "video", "vision")) and isinstance(v, int):
                    ids.add(v)
        for attr in ("image_token", "video_token", "fake_image_token", "global_image_tag", "global_image_token"):
            tok = getattr(self.processor, attr, None)
            if isinstance(tok, str):
                i = self.tokenizer.convert_tokens_to_ids(tok)
                if isinstance(i, int) and i != self.tokenizer.unk_token_id:
                    ids.add(i)
        vocab = self.tokenizer.get_vocab()
        ids.update(i for t, i in vocab.items() if t.startswith("<row_") and t.endswith(">"))
        return sorted(i for i in ids if i not in self.eos_ids)

    def _base(self):
        return self.model.get_base_model() if self.lora else self.model

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def autocast(self):
        if self.device.type == "cuda" and self.dtype == "bf16":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def reference(self):
        """The reference policy for the KL term: the base model with the adapters disabled (no second copy)."""
        if not self.lora:
            raise ModelError("klCoef > 0 needs a reference policy: with fullFinetune there is none (it would take a second copy of the model); use LoRA")
        return self.model.disable_adapter()

    def prompt_text(self, prompt: str, with_image: bool) -> str:
        content = ([{"type": "image"}] if with_image else []) + [{"type": "text", "text": prompt}]
        return self.processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False)

    def encode(self, prompts: list[str], images: list[Image.Image] | None) -> dict[str, torch.Tensor]:
        """Processor inputs for a batch of prompts (all the same text in the trainer's use) and one image
        each, or none (the text-only view)."""
        texts = [self.prompt_text(p, images is not None) for p in prompts]
        if images is None:
            enc = self.processor(text=texts, return_tensors="pt", padding=True)
        else:
            enc = self.processor(text=texts, images=[[im] for im in images], return_tensors="pt", padding=True)
        return {k: v.to(self.device) for k, v in enc.items() if isinstance(v, torch.Tensor)}

    # ---- sampling ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, prompt: str, image: Image.Image, n: int, max_new_tokens: int, temperature: float, top_p: float) -> list[list[int]]:
        """n sampled responses (token ids, up to and including the first end-of-sequence token)."""
        enc = self.encode([prompt] * n, [image] * n)
        P = enc["input_ids"].shape[1]
        with self.autocast():
            out = self.model.generate(
                **enc, do_sample=True, temperature=temperature, top_p=top_p, top_k=0, max_new_tokens=max_new_tokens,
                eos_token_id=self.eos_ids, pad_token_id=self.pad_id, use_cache=True, suppress_tokens=self.suppress_ids or None,
            )
        responses = []
        for row in out[:, P:].tolist():
            resp = []
            for t in row:
                resp.append(t)
                if t in self.eos_ids:
                    break
            responses.append(resp)
        return responses

    # ---- teacher forcing ---------------------------------------------------------------------------------
    def score(self, enc: dict[str, torch.Tensor], responses: list[list[int]], temperature: float, entropy: bool = False):
        """Per-token log-probs (and optionally full-vocabulary entropies) of `responses` after the prompt rows
        of `enc`, under the current graph mode (call inside torch.no_grad() for probes). Logits are divided by
        the sampling temperature, so the old and new log-probs are those of the sampling distribution.
        Returns (logp [B, L], mask [B, L], entropy [B, L] or None)."""
        B, P = enc["input_ids"].shape
        L = max(len(r) for r in responses)
        resp = torch.full((B, L), self.pad_id, dtype=torch.long, device=self.device)
        mask = torch.zeros((B, L), dtype=torch.float32, device=self.device)
        for i, r in enumerate(responses):
            resp[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1.0
        inputs = dict(enc)
        inputs["input_ids"] = torch.cat([enc["input_ids"], resp], dim=1)
        inputs["attention_mask"] = torch.cat([enc["attention_mask"], mask.long()], dim=1)
        if "mm_token_type_ids" in inputs:
            inputs["mm_token_type_ids"] = torch.cat([enc["mm_token_type_ids"], torch.zeros_like(resp)], dim=1)
        if self._keep_logits:
            inputs["logits_to_keep"] = L + 1
        with self.autocast():
            logits = self.model(**inputs, use_cache=False).logits
        logits = logits[:, -(L + 1) : -1].float() / temperature
        logp_all = torch.log_softmax(logits, dim=-1)
        logp = logp_all.gather(-1, resp.unsqueeze(-1)).squeeze(-1) * mask
        ent = None
        if entropy:
            ent = -(logp_all.exp() * logp_all).sum(-1) * mask
        return logp, mask, ent

    # ---- text --------------------------------------------------------------------------------------------
    def pieces(self, ids: list[int]) -> list[str]:
        """Token texts (special tokens included) that concatenate to the decoded response: each is what the
        token adds to the text decoded so far (incremental detokenization, as vLLM's: the decoded window starts
        one emitted token back, so the leading space stays with its word); a token that begins a multi-byte
        character adds "" and the one that completes it carries the character. Linear in the length."""
        out: list[str] = []
        prefix, read = 0, 0
        for t in range(len(ids)):
            before = self._decode(ids[prefix:read])
            after = self._decode(ids[prefix : t + 1])
            if len(after) > len(before) and not after.endswith("\ufffd"):
                out.append(after[len(before) :])
                prefix, read = read, t + 1
            else:
                out.append("")
        if ids and read < len(ids):  # an unfinished byte sequence at the end: its replacement characters
            out[-1] += self._decode(ids[prefix:])[len(self._decode(ids[prefix:read])) :]
        return out

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def answer_text(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    # ---- state -------------------------------------------------------------------------------------------
    def trainable_state(self) -> dict[str, torch.Tensor]:
        if self.lora:
            from peft import get_peft_model_state_dict

            sd = get_peft_model_state_dict(self.model)
        else:
            sd = self.model.state_dict()
        # Cloned: tied weights share storage, which safetensors refuses.
        return {k: v.detach().to("cpu").clone().contiguous() for k, v in sd.items()}

    def load_trainable_state(self, sd: dict[str, torch.Tensor]) -> None:
        if self.lora:
            from peft import set_peft_model_state_dict

            res = set_peft_model_state_dict(self.model, sd)
            unexpected = getattr(res, "unexpected_keys", [])
            if unexpected:
                raise ModelError(f"checkpoint weights do not fit this model's adapters (unexpected: {unexpected[:3]}…)")
        else:
            missing, unexpected = self.model.load_state_dict(sd, strict=False)
            if unexpected:
                raise ModelError(f"checkpoint weights do not fit this model (unexpected: {unexpected[:3]}…)")

    def describe(self) -> dict[str, Any]:
        n_train = sum(p.numel() for p in self.trainable_parameters())
        n_all = sum(p.numel() for p in self.model.parameters())
        return {"path": self.path, "family": self.family, "device": self.device.type, "dtype": self.dtype,
                "lora": self.lora, "trainableParameters": n_train, "parameters": n_all}

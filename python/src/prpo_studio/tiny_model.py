"""`python -m prpo_studio tiny-model --family qwen2-vl|qwen2.5-vl|smolvlm --out DIR`: a tiny random-weight
model of a real family — the family's config classes at toy sizes, a small byte-level BPE tokenizer trained
here on the shapes task's words plus the family's special and image tokens, and the family's own image
processor with small pixel limits — written with `save_pretrained` so that AutoProcessor and
AutoModelForImageTextToText load it back from the folder. For tests, the benchmark and a first run without
downloaded weights (it answers at random: it has learned nothing)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

FAMILIES = ("qwen2-vl", "qwen2.5-vl", "smolvlm")

QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
SMOL_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>", "<global-img>"] + [
    f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)
]

# The chat templates: the families' layout, cut to what the trainer uses (one user turn: image, then text).
QWEN_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SMOL_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}:"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<image>{% elif c['type'] == 'text' %} {{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)

CORPUS_WORDS = (
    "see answer how many ? red green blue yellow circle square triangle cross shape shapes color at row col more or same "
    "is there a yes no none empty 0 1 2 3 4 5 6 7 8 9 user assistant system User Assistant You are a helpful"
)


def build_tokenizer(family: str):
    """A byte-level BPE (every text encodes; no unknown token) with the family's special tokens added."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    special = QWEN_SPECIAL if family.startswith("qwen") else SMOL_SPECIAL
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    corpus = [CORPUS_WORDS, " ".join(f"see {w} answer {w}" for w in CORPUS_WORDS.split())] * 4
    tok.train_from_iterator(corpus, trainer)
    kwargs: dict = {"tokenizer_object": tok}
    if family.startswith("qwen"):
        kwargs.update(eos_token="<|im_end|>", pad_token="<|endoftext|>")
    else:
        kwargs.update(bos_token="<|im_start|>", eos_token="<end_of_utterance>", pad_token="<|endoftext|>")
    fast = PreTrainedTokenizerFast(**kwargs)
    fast.chat_template = QWEN_TEMPLATE if family.startswith("qwen") else SMOL_TEMPLATE
    return fast


def _ids(tok, *tokens: str) -> list[int]:
    return [tok.convert_tokens_to_ids(t) for t in tokens]


def build(family: str, out: str, seed: int = 0, size: str = "tiny") -> str:
    """Writes the model and processor to `out`. size "2b" (qwen2-vl only, for gpucheck): the Qwen2-VL-2B
    architecture with random weights, bf16, and the small tokenizer."""
    import torch
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(seed)
    config, processor, tok = make_config(family, size)
    if size == "2b":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
        with torch.device(dev):
            model = AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    else:
        model = AutoModelForImageTextToText.from_config(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.do_sample = True
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    (path / "prpo-studio-tiny.json").write_text(json.dumps({"family": family, "size": size, "seed": seed, "note": "random weights, for tests"}) + "\n")
    return str(path)


def make_config(family: str, size: str = "tiny"):
    """(model config, processor, tokenizer) of a family at toy size (or the Qwen2-VL-2B architecture)."""
    if size not in ("tiny", "2b") or (size == "2b" and family != "qwen2-vl"):
        raise ValueError(f"size {size!r}: 'tiny', or '2b' with family qwen2-vl")
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r} (one of {', '.join(FAMILIES)})")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tok = build_tokenizer(family)
    vocab = ((len(tok) + 63) // 64) * 64
    text = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=1024, pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id,
                tie_word_embeddings=True)
    if family in ("qwen2-vl", "qwen2.5-vl"):
        image_id, video_id, vstart, vend = _ids(tok, "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
        rope = {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0}
        if family == "qwen2-vl":
            from transformers import Qwen2VLConfig as Config
            from transformers import Qwen2VLImageProcessor as ImageProcessor
            from transformers import Qwen2VLProcessor as Processor

            vision = {"depth": 2, "embed_dim": 32, "hidden_size": 64, "hidden_act": "quick_gelu", "mlp_ratio": 2, "num_heads": 4,
                      "patch_size": 8, "spatial_merge_size": 2, "temporal_patch_size": 2, "in_channels": 3}
        else:
            from transformers import Qwen2_5_VLConfig as Config
            from transformers import Qwen2VLImageProcessor as ImageProcessor
            from transformers import Qwen2_5_VLProcessor as Processor

            vision = {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "out_hidden_size": 64, "hidden_act": "silu",
                      "num_heads": 4, "patch_size": 8, "spatial_merge_size": 2, "temporal_patch_size": 2, "in_channels": 3,
                      "window_size": 32, "fullatt_block_indexes": [1]}
        pixels = {"min_pixels": 16 * 16, "max_pixels": 64 * 64}
        patch = 8
        if size == "2b":
            from .gpucheck import QWEN2_VL_2B as big

            text.update(big["text"])
            rope, vision, pixels, patch = big["rope"], big["vision"], big["pixels"], 14
        config = Config(text_config={**text, "rope_parameters": rope},
                        vision_config=vision, image_token_id=image_id, video_token_id=video_id,
                        vision_start_token_id=vstart, vision_end_token_id=vend, tie_word_embeddings=True)
        image_processor = ImageProcessor(patch_size=patch, merge_size=2, temporal_patch_size=2, **pixels,
                                         size={"shortest_edge": pixels["min_pixels"], "longest_edge": pixels["max_pixels"]})
        processor = _make_processor(Processor, image_processor, tok)
    else:
        # SmolVLM (v1, e.g. HuggingFaceTB/SmolVLM-Instruct) is the Idefics3 architecture and processor; its
        # processor needs no video processor (SmolVLM2's does, and that one needs torchvision).
        from transformers import Idefics3Config as Config
        from transformers import Idefics3ImageProcessorPil as ImageProcessor
        from transformers import Idefics3Processor as Processor

        image_id, = _ids(tok, "<image>")
        config = Config(
            vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64},
            text_config={**text, "model_type": "llama", "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}},
            image_token_id=image_id, scale_factor=2, tie_word_embeddings=True, pad_token_id=tok.pad_token_id,
        )
        image_processor = ImageProcessor(do_image_splitting=False, size={"longest_edge": 32}, max_image_size={"longest_edge": 32})
        processor = _make_processor(Processor, image_processor, tok, image_seq_len=4)
    return config, processor, tok


def _make_processor(cls, image_processor, tok, **kw):
    import inspect

    if "video_processor" in inspect.signature(cls.__init__).parameters:
        # The Qwen processors hold a video processor too (unused here); the family's own, at the same patch sizes.
        from transformers import Qwen2VLVideoProcessor

        kw["video_processor"] = Qwen2VLVideoProcessor(patch_size=image_processor.patch_size, merge_size=image_processor.merge_size,
                                                      temporal_patch_size=image_processor.temporal_patch_size)
    return cls(image_processor=image_processor, tokenizer=tok, chat_template=tok.chat_template, **kw)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m prpo_studio tiny-model", description=__doc__.split("\n\n")[0])
    p.add_argument("--family", required=True, choices=FAMILIES)
    p.add_argument("--out", required=True, help="folder to write (created)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    print(build(a.family, a.out, a.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())

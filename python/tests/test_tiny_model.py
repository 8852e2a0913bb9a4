"""tiny-model: a random-weight model of a real family that loads back through the Auto classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prpo_studio.tiny_model import main
from vlm_helpers import FAMILIES, shapes_data, tiny_models  # noqa: F401 — fixtures


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_model_loads_back_and_generates(family: str, tiny_models: dict, shapes_data: str) -> None:  # noqa: F811
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    folder = Path(tiny_models[family])
    assert (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))
    processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    model = AutoModelForImageTextToText.from_pretrained(folder, local_files_only=True)
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    line = json.loads((Path(shapes_data) / "data.jsonl").read_text().splitlines()[0])
    image = Image.open(Path(shapes_data) / line["image"]).convert("RGB")
    text = processor.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": line["prompt"]}]}],
                                         add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text], images=[[image]], return_tensors="pt")
    torch.manual_seed(0)
    out = model.generate(**enc, do_sample=True, max_new_tokens=4)
    assert out.shape[1] > enc["input_ids"].shape[1]
    # The prompt's words are tokens of the small tokenizer (not byte soup): "how many" is at most 3 tokens.
    assert len(processor.tokenizer(" how many")["input_ids"]) <= 3


def test_cli_writes_a_folder(tmp_path: Path, capsys) -> None:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    assert main(["--family", "qwen2.5-vl", "--out", str(tmp_path / "m")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model_type"] == "qwen2_5_vl"
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "m", local_files_only=True)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert type(AutoProcessor.from_pretrained(tmp_path / "m", local_files_only=True)).__name__ == "Qwen2_5_VLProcessor"


def test_the_2b_architecture_has_the_real_size() -> None:
    """gpucheck's real-size model: the Qwen2-VL-2B layers (counted on the meta device, no memory used)."""
    from transformers import AutoModelForImageTextToText

    from prpo_studio.tiny_model import make_config

    config, _, tok = make_config("qwen2-vl", "2b")
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config)
    n = sum(p.numel() for p in model.parameters())
    # 2.21B with the real 151,936-token vocabulary; the small tokenizer's embedding is ~0.7M instead of 233M.
    assert 1.9e9 < n < 2.1e9, n


def test_gpucheck_cpu_smoke(tmp_path: Path, capsys) -> None:
    from prpo_studio.gpucheck import main as gpucheck

    assert gpucheck(["--cpu-smoke", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    tiny = result["tiny"]
    assert tiny["rollouts"] >= 4 and tiny["timeSampleMs"] > 0 and tiny["timeProbeMs"] > 0 and tiny["timeUpdateMs"] > 0
    assert 0 < tiny["probeShare"] < 1 and "real" not in result


@pytest.mark.parametrize("family", FAMILIES)
def test_token_texts_concatenate_to_the_response(family: str, tiny_models: dict) -> None:  # noqa: F811
    from prpo_studio.models import ModelSettings, Policy

    p = Policy(tiny_models[family], ModelSettings(device="cpu"))
    for text in ["see 2 red answer 2", " how many blue ? see 1 answer 1", "héllo wörld 日本 ✓ answer 3", "The answer is: 7.\nDone"]:
        ids = p.tokenizer(text, add_special_tokens=False)["input_ids"] + [p.eos_ids[0]]
        pieces = p.pieces(ids)
        assert len(pieces) == len(ids) and "".join(pieces) == p.tokenizer.decode(ids, skip_special_tokens=False)
    assert p.pieces(p.tokenizer(" see 2", add_special_tokens=False)["input_ids"])[-1] == " 2"  # the space stays with its word

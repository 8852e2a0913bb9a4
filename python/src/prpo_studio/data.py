"""The dataset folder a user points the trainer at:

    DIR/data.jsonl     one example per line: {"id", "image": "relative/path.png", "prompt", "answer"}
                       optional: "perceptual": ["red", "3", …] — words whose tokens depend on the image
                       (a response token whose text, stripped, is in the list is labelled 1)
    DIR/<images>       the PNG/JPEG files the lines name (paths relative to DIR, never outside it)

Every line is checked when the folder is opened; a bad one is an error naming `data.jsonl:LINE` and the field.
`write_shapes_dataset` writes a small version of the built-in shapes task (the tests and the smoke check
use it; the TypeScript CLI's `export-task shapes` writes the same layout)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class DataError(ValueError):
    pass


@dataclass
class Example:
    id: str
    image: str  # absolute path
    image_rel: str
    prompt: str
    answer: str
    perceptual: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"id": self.id, "image": self.image_rel, "prompt": self.prompt, "answer": self.answer, **self.extra}


class Dataset:
    def __init__(self, folder: str) -> None:
        self.folder = Path(folder).resolve()
        path = self.folder / "data.jsonl"
        if not path.is_file():
            raise DataError(f"{self.folder}: no data.jsonl (a dataset folder holds data.jsonl and its images; see docs/pytorch-backend.md)")
        self.examples: list[Example] = []
        seen: set[str] = set()
        for n, text in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not text.strip():
                continue
            where = f"{path}:{n}"
            try:
                o = json.loads(text)
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: not valid JSON ({e.msg})") from None
            if not isinstance(o, dict):
                raise DataError(f"{where}: expected a JSON object")
            for k in ("id", "image", "prompt", "answer"):
                if not isinstance(o.get(k), str) or not o[k]:
                    if k == "answer" and isinstance(o.get(k), (int, float)) and not isinstance(o.get(k), bool):
                        o[k] = str(o[k])
                        continue
                    raise DataError(f"{where}: field {k!r} must be a non-empty string, got {o.get(k)!r}")
            if o["id"] in seen:
                raise DataError(f"{where}: id {o['id']!r} appears twice")
            seen.add(o["id"])
            img = (self.folder / o["image"]).resolve()
            if self.folder not in img.parents:
                raise DataError(f"{where}: image {o['image']!r} is outside the dataset folder")
            if not img.is_file():
                raise DataError(f"{where}: image {o['image']!r} does not exist ({img})")
            perc = o.get("perceptual", [])
            if not isinstance(perc, list) or not all(isinstance(w, str) for w in perc):
                raise DataError(f"{where}: field 'perceptual' must be a list of words, got {perc!r}")
            extra = {k: v for k, v in o.items() if k not in ("id", "image", "prompt", "answer", "perceptual")}
            self.examples.append(Example(o["id"], str(img), o["image"], o["prompt"], o["answer"], list(perc), extra))
        if not self.examples:
            raise DataError(f"{path}: no examples")

    def __len__(self) -> int:
        return len(self.examples)

    def load_image(self, ex: Example):
        from PIL import Image

        with Image.open(ex.image) as im:
            return im.convert("RGB")


# ---- a small built-in shapes task, for tests, the smoke check and newcomers --------------------------------

COLORS = {"red": (230, 40, 40), "green": (40, 180, 60), "blue": (40, 80, 230), "yellow": (230, 210, 40)}
SHAPE_WORDS = ["see", "answer", "how", "many", "?", "red", "green", "blue", "yellow", "square", "0", "1", "2", "3", "4"]


def write_shapes_dataset(out: str, n: int = 8, size: int = 56, seed: int = 0) -> str:
    """n examples: a grey image with 0–3 coloured squares; "how many COLOR ?" → "see … answer N"."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    folder = Path(out)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    cell = size // 2
    for i in range(n):
        im = Image.new("RGB", (size, size), (128, 128, 128))
        d = ImageDraw.Draw(im)
        cells = rng.sample(range(4), rng.randint(0, 3))
        colors = [rng.choice(list(COLORS)) for _ in cells]
        for c, col in zip(cells, colors):
            x, y = (c % 2) * cell, (c // 2) * cell
            m = max(1, cell // 8)
            d.rectangle([x + m, y + m, x + cell - 1 - m, y + cell - 1 - m], fill=COLORS[col])
        asked = rng.choice(list(COLORS))
        answer = str(colors.count(asked))
        name = f"images/shapes-{i:04d}.png"
        im.save(folder / name)
        lines.append({"id": f"shapes-{i:04d}", "image": name, "prompt": f"how many {asked} ?", "answer": answer,
                      "perceptual": [answer] + sorted(set(colors))})
    (folder / "data.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), "utf-8")
    return str(folder)

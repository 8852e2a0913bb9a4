"""The dataset folder and the rewards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prpo_studio.data import DataError, Dataset, write_shapes_dataset
from prpo_studio.rewards import exact_match, final_answer, load_reward


@pytest.mark.parametrize("response,expected", [
    ("see 2 red answer 2", "2"), ("see red square answer red.", "red"), ("The answer is: 7.", "7"),
    ("so \\boxed{42} and answer 3", "42"), ("just 5", "5"), ("", ""), ("answer", ""),
])
def test_final_answer(response: str, expected: str) -> None:
    assert final_answer(response) == expected


def test_exact_match_and_user_reward(tmp_path: Path) -> None:
    assert exact_match("see 1 red answer 1", "1").reward == 1.0
    assert exact_match("see 1 red answer 2", "1").correct is False
    (tmp_path / "my_reward.py").write_text("def score(r, a, ex):\n    return (0.5, True)\n")
    fn = load_reward("my_reward:score", str(tmp_path))
    assert fn("x", "y", {}).reward == 0.5 and fn("x", "y", {}).correct
    with pytest.raises(ValueError, match="cannot import it"):
        load_reward("nope_mod:fn", str(tmp_path))
    with pytest.raises(ValueError, match="expected 'module:function'"):
        load_reward("nocolon", None)


def test_dataset_reads_and_names_bad_lines(tmp_path: Path) -> None:
    folder = write_shapes_dataset(str(tmp_path / "d"), n=3, size=16)
    ds = Dataset(folder)
    assert len(ds) == 3 and ds.load_image(ds.examples[0]).size == (16, 16)
    lines = (Path(folder) / "data.jsonl").read_text().splitlines()
    bad = json.loads(lines[1])
    bad["prompt"] = 3
    (Path(folder) / "data.jsonl").write_text("\n".join([lines[0], json.dumps(bad)]) + "\n")
    with pytest.raises(DataError, match=r"data.jsonl:2: field 'prompt' must be a non-empty string"):
        Dataset(folder)
    (Path(folder) / "data.jsonl").write_text(json.dumps({**json.loads(lines[0]), "image": "../x.png"}) + "\n")
    with pytest.raises(DataError, match="outside the dataset folder"):
        Dataset(folder)
    with pytest.raises(DataError, match="no data.jsonl"):
        Dataset(str(tmp_path))

"""Shared pytest fixtures for the prpo_studio tests (each test file may add its own; keep this one small)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (where package.json, test/vectors/ and docs/ are)."""
    return REPO_ROOT

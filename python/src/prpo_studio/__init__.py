"""PRPO Studio's PyTorch backend.

Trains Hugging Face vision-language models with the perception-aware estimators of ALGORITHMS.md
(GRPO, DAPO, VPPO, PGPO, PRPO-R) and writes the studio's run directory (docs/run-format.md), so the
VS Code extension shows its runs exactly as it shows the built-in backend's.
"""

__version__ = "0.1.0"

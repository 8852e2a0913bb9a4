"""prpo_studio for verl 0.9.x: our estimators in verl's registry, the `prpo_sync` trainer (probe views,
reshaped advantages, the studio's run directory) and the worker-side view swap.

verl imports `prpo_studio.verl.plugin` in every process through its `verl.plugins` entry point; importing
this package alone imports nothing from verl. See docs/verl.md.
"""

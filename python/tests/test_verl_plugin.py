"""The plugin in the real verl 0.9.1 install: loaded through its `verl.plugins` entry point (as every Ray process
loads it), registered in verl's estimator and trainer registries, and loud when it cannot attach even though
verl swallows plugin import errors."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("verl", reason="verl 0.9.1 is installed in .toolchain/python by the project's set-up")

SRC = Path(__file__).resolve().parents[1] / "src"
INSTALL_HINT = ".toolchain/python/bin/pip install -e python --no-deps"


def start_python(code: str, env: dict) -> subprocess.Popen:
    """A fresh interpreter importing verl. PYTHONPATH is this tree's src (the venv's editable install may point at
    another checkout) plus what `env` adds; no VERL_* variable leaks in from the test's environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VERL_")}
    paths = [env.pop("PYTHONPATH")] if "PYTHONPATH" in env else []
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**base, **env, "PYTHONPATH": os.pathsep.join([*paths, str(SRC)])},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(SRC.parents[1]),
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


ENTRY_POINT_ONLY = """
import verl
from verl.trainer.ppo.core_algos import get_adv_estimator_fn
from verl.trainer.ppo.v1 import get_trainer_cls
import prpo_studio.verl.plugin as plugin
print("estimators", [get_adv_estimator_fn(n).__module__ for n in ("prpo", "pgpo", "vppo")])
print("trainer", get_trainer_cls("prpo_sync").__name__)
print("attached", plugin.ATTACHED)
"""

BREAK_TRAINER_REGISTRY = """
# Stands in for a verl release that moved the trainer registry.
import verl.trainer.ppo.v1 as v1
del v1.get_trainer_cls
"""


@pytest.fixture(scope="module")
def fresh_processes(tmp_path_factory):
    """Two interpreters started together (each import of verl takes seconds): the plugin found by its entry point
    alone; and a broken verl, where verl swallows the plugin's error and an explicit import raises it."""
    tmp = tmp_path_factory.mktemp("verl-plugin")
    (tmp / "break_verl.py").write_text(BREAK_TRAINER_REGISTRY)
    procs = {
        # No VERL_USE_EXTERNAL_MODULES: only verl's entry-point discovery can attach us.
        "entry_point": start_python(ENTRY_POINT_ONLY, {"VERL_USE_EXTERNAL_PLUGINS": "prpo_studio"}),
        # verl imports VERL_USE_EXTERNAL_MODULES before it discovers entry points (verl/__init__.py); then the
        # same plugin imported by name, as VERL_USE_EXTERNAL_MODULES=prpo_studio.verl.plugin would.
        "broken": start_python(
            """
            import verl
            print("verl imported")
            try:
                import prpo_studio.verl.plugin
            except Exception as e:
                print("explicit import raised", type(e).__name__, e)
            """,
            {"VERL_USE_EXTERNAL_MODULES": "break_verl", "VERL_USE_EXTERNAL_PLUGINS": "prpo_studio", "PYTHONPATH": str(tmp)},
        ),
    }
    return {name: finish(p) for name, p in procs.items()}


def installed_entry_point():
    points = [ep for ep in importlib.metadata.entry_points(group="verl.plugins") if ep.name == "prpo_studio"]
    if not points:
        pytest.fail(
            f"prpo-studio is not installed in {sys.executable}, so verl cannot find its verl.plugins entry point; "
            f"install it with `{INSTALL_HINT}` (the project's set-up does this)"
        )
    return points[0]


def test_the_entry_point_names_the_plugin_module():
    ep = installed_entry_point()
    assert ep.value == "prpo_studio.verl.plugin"
    dist = importlib.metadata.distribution("prpo-studio")
    assert any(e.group == "verl.plugins" and e.name == "prpo_studio" for e in dist.entry_points)


def test_import_verl_loads_the_plugin_through_its_entry_point(fresh_processes):
    installed_entry_point()
    out = fresh_processes["entry_point"]
    assert out.returncode == 0, out.stderr[-3000:]
    assert "estimators ['prpo_studio.verl.estimators', 'prpo_studio.verl.estimators', 'prpo_studio.verl.estimators']" in out.stdout
    assert "trainer PRPOTrainerSync" in out.stdout


def test_registry_lookups_return_our_functions_and_trainer():
    import verl
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn
    from verl.trainer.ppo.v1 import PPOTrainerSync, get_trainer_cls
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

    import prpo_studio.verl.plugin as plugin
    from prpo_studio.verl.estimators import ESTIMATORS
    from prpo_studio.verl.trainer import PRPOTrainerSync

    assert verl.__version__.startswith("0.9.")
    for name in ("prpo", "pgpo", "vppo"):
        assert get_adv_estimator_fn(name) is ESTIMATORS[name]
    assert get_trainer_cls("prpo_sync") is PRPOTrainerSync
    assert issubclass(PRPOTrainerSync, PPOTrainerSync)
    assert get_trainer_cls("sync") is PPOTrainerSync  # verl's own stays as it was
    assert getattr(FSDPEngineWithLMHead.prepare_model_inputs, "_prpo_studio_view_patch", False)
    assert plugin.ATTACHED["trainer"] == "prpo_sync" and plugin.ATTACHED["estimators"] == ["pgpo", "prpo", "vppo"]


def test_attaching_twice_changes_nothing():
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

    import prpo_studio.verl.plugin as plugin

    before = (get_adv_estimator_fn("prpo"), FSDPEngineWithLMHead.prepare_model_inputs)
    assert plugin.attach() == plugin.ATTACHED
    assert (get_adv_estimator_fn("prpo"), FSDPEngineWithLMHead.prepare_model_inputs) == before


def test_a_missing_hook_is_logged_at_error_although_verl_swallows_plugin_errors(fresh_processes):
    installed_entry_point()
    out = fresh_processes["broken"]
    assert out.returncode == 0 and "verl imported" in out.stdout  # verl went on ...
    assert "prpo_studio could not attach to verl" in out.stderr  # ... but the reason is on stderr, at ERROR
    assert "ERROR" in out.stderr
    assert "cannot attach to the trainer registry" in out.stderr and "get_trainer_cls" in out.stderr


def test_a_missing_hook_stops_an_explicit_import(fresh_processes):
    out = fresh_processes["broken"]
    assert "explicit import raised PluginAttachError cannot attach to the trainer registry" in out.stdout

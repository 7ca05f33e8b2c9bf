"""Run a collection module's ``main()`` in-process and return its result dict.

``run_module`` uses ``ansible.module_utils.testing.patch_module_args`` (ansible-core 2.19
changed argument handling; never set private module globals). With ``lab=``, the transport
is the in-process EngineTransport on that lab host; without it, the module connects for real
with whatever connection options ``args`` carry (e.g. to a live hvsim listener).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import typing as t
from unittest import mock

from ansible.module_utils import _internal as ansible_internal
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from .engine_transport import EngineTransport

MODULES = "ansible_collections.hyperv.checkpoints.plugins.modules."
MODULE_BASE = "ansible_collections.hyperv.checkpoints.plugins.module_utils._module"

# Connection options that satisfy the argspec when the engine transport replaces the network.
ENGINE_CONNECTION = {
    "hyperv_host": "engine.invalid",
    "hyperv_username": "hvsim\\tester",
    "hyperv_password": "not-used-by-the-engine-transport",
}


def _reset_module_globals() -> None:
    """Forget warnings and deprecations an earlier in-process run left in AnsibleModule's globals."""
    for attr in ("_global_warnings", "_global_deprecations"):
        store = getattr(ansible_warnings, attr, None)
        if hasattr(store, "clear"):
            store.clear()


class ModuleResult(dict):
    """The module's JSON result; ``failed`` and ``changed`` default to False."""

    @property
    def failed(self) -> bool:
        return bool(self.get("failed"))

    @property
    def changed(self) -> bool:
        return bool(self.get("changed"))


def run_module(
    module: str,
    args: t.Dict[str, t.Any],
    *,
    lab: t.Any = None,
    host: t.Optional[str] = None,
    check_mode: bool = False,
    diff: bool = False,
    transports: t.Optional[t.List[EngineTransport]] = None,
) -> ModuleResult:
    """Run ``plugins/modules/<module>.py`` main() and return its result.

    ``transports`` (a list) receives every EngineTransport the module created, so a test can
    assert that each was closed and which pipelines ran.
    """
    mod = importlib.import_module(MODULES + module)
    full_args = dict(args)
    if lab is not None:
        for key, value in ENGINE_CONNECTION.items():
            full_args.setdefault(key, value)
    full_args["_ansible_check_mode"] = check_mode
    full_args["_ansible_diff"] = diff
    stdout = io.StringIO()
    patches = contextlib.ExitStack()
    _reset_module_globals()
    with patches:
        # Once any test imported controller code, is_controller is True and warn() would go to the
        # controller's Display instead of the module result; a module process never has that.
        patches.enter_context(mock.patch.object(ansible_internal, "is_controller", False))
        if lab is not None:
            lab_host = host or next(iter(lab.hosts))

            def factory(options: t.Any, max_parallel: int = 1) -> EngineTransport:
                transport = EngineTransport(options, lab, lab_host)
                if transports is not None:
                    transports.append(transport)
                return transport

            patches.enter_context(mock.patch(MODULE_BASE + ".create_transport", side_effect=factory))
        patches.enter_context(patch_module_args(full_args))
        patches.enter_context(contextlib.redirect_stdout(stdout))
        try:
            mod.main()
        except SystemExit:
            pass
    text = stdout.getvalue().strip()
    if not text:
        raise AssertionError("module %s printed no result" % module)
    return ModuleResult(json.loads(text.splitlines()[-1]))

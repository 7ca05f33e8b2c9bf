"""main() harness: patch_module_args + a patched transport factory (community.hashi_vault style)."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
from unittest import mock

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

MODULES = "ansible_collections.hyperv.checkpoints.plugins.modules."
MODULE_BASE = "ansible_collections.hyperv.checkpoints.plugins.module_utils._module"

CONNECTION = {"hyperv_host": "hv01.example.com", "hyperv_username": "EXAMPLE\\ansible",
              "hyperv_password": "Very-S3cret-Passw0rd", "hyperv_auth": "ntlm"}


@pytest.fixture
def run_main():
    """run_main(module, args, transport=None, check_mode=False) -> (result dict, created transports)."""

    def run(module, args, transport=None, check_mode=False):
        created = []

        def factory(options, max_parallel=1):
            created.append((options, transport))
            return transport

        full = dict(CONNECTION)
        full.update(args)
        full["_ansible_check_mode"] = check_mode
        stdout = io.StringIO()
        warnings = []
        original_warn = AnsibleModule.warn

        def record_warn(self, warning, *args, **kwargs):
            warnings.append(warning)
            return original_warn(self, warning, *args, **kwargs)

        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch(MODULE_BASE + ".create_transport", side_effect=factory))
            # warnings go to Display instead of the result once controller code was imported in
            # this process (other suites), so record them at the source
            stack.enter_context(mock.patch.object(AnsibleModule, "warn", record_warn))
            stack.enter_context(patch_module_args(full))
            stack.enter_context(contextlib.redirect_stdout(stdout))
            with pytest.raises(SystemExit):
                importlib.import_module(MODULES + module).main()
        result = json.loads(stdout.getvalue().strip().splitlines()[-1])
        result["recorded_warnings"] = warnings
        return result, created

    return run

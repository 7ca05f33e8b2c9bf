"""Helpers for the integration tests of the info modules against live hvsim listeners (real WS-Man, both transports).

Modules run in-process (``main()`` under ``patch_module_args``), connecting for real to the
simulator on 127.0.0.1; test_playbook.py also runs them through ansible-playbook.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import typing as t
from unittest import mock

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

MODULES = "ansible_collections.hyperv.checkpoints.plugins.modules."
TRANSPORTS = ["psrp", "winrm"]


def connection(sim, host="HV01", scheme="https", auth="ntlm", transport="psrp", **extra) -> t.Dict[str, t.Any]:
    args = {
        "hyperv_host": sim.host,
        "hyperv_port": sim.port(host, scheme),
        "hyperv_scheme": scheme,
        "hyperv_auth": auth,
        "hyperv_username": sim.username,
        "hyperv_password": sim.password,
        "hyperv_transport": transport,
    }
    if scheme == "https":
        args["hyperv_ca_path"] = sim.ca_path
    args.update(extra)
    return args


def run_module(module: str, args: t.Dict[str, t.Any], check_mode: bool = False) -> t.Dict[str, t.Any]:
    """Run plugins/modules/<module>.py main() for real and return its JSON result."""
    full = dict(args)
    full["_ansible_check_mode"] = check_mode
    stdout = io.StringIO()
    warnings = []
    original_warn = AnsibleModule.warn

    def record_warn(self, warning, *args, **kwargs):
        warnings.append(warning)
        return original_warn(self, warning, *args, **kwargs)

    # warnings go to Display instead of the result once controller code was imported in this
    # process (other suites), so record them at the source
    with patch_module_args(full), contextlib.redirect_stdout(stdout), \
            mock.patch.object(AnsibleModule, "warn", record_warn):
        with pytest.raises(SystemExit):
            importlib.import_module(MODULES + module).main()
    result = json.loads(stdout.getvalue().strip().splitlines()[-1])
    result["recorded_warnings"] = warnings
    return result


def strip_volatile(value):
    """Drop values that legitimately change between two runs a moment apart (ages, invocation)."""
    if isinstance(value, dict):
        return {k: strip_volatile(v) for k, v in value.items() if k not in ("age_seconds", "invocation", "warnings", "recorded_warnings")}
    if isinstance(value, list):
        return [strip_volatile(v) for v in value]
    return value


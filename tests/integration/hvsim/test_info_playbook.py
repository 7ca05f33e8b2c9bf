"""vm_info and checkpoint_info once each through real ansible-playbook (plumbing, module_defaults group, no_log)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

REPO = pathlib.Path(__file__).resolve().parents[3]
DEV_COLLECTIONS = REPO / "build" / "dev_collections"


def run_playbook(tmp_path, playbook, extra_vars, verbosity="-v"):
    (tmp_path / "play.yml").write_text(yaml.safe_dump(playbook, sort_keys=False))
    (tmp_path / "vars.json").write_text(json.dumps(extra_vars))
    (tmp_path / "inventory.ini").write_text(
        "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(DEV_COLLECTIONS),
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_STDOUT_CALLBACK="default",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        PATH=str(pathlib.Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
    )
    ansible_playbook = pathlib.Path(sys.executable).parent / "ansible-playbook"
    return subprocess.run(
        [str(ansible_playbook), verbosity, "-i", str(tmp_path / "inventory.ini"), "-e", "@" + str(tmp_path / "vars.json"),
         str(tmp_path / "play.yml")],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=500,
    )


@pytest.mark.skipif(not (DEV_COLLECTIONS / "ansible_collections" / "hyperv" / "checkpoints").exists(),
                    reason="build/dev_collections symlink missing (tests/conftest.py creates it)")
@pytest.mark.parametrize("transport", ["psrp", "winrm"])
def test_info_modules_through_ansible_playbook(sim, tmp_path, transport):
    extra_vars = {
        "hv_port": sim.port("HV01", "https"),
        "hv_user": sim.username,
        "hv_password": sim.password,
        "hv_ca": sim.ca_path,
        "hv_transport": transport,
    }
    playbook = [{
        "name": "info modules against hvsim",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {
            "group/hyperv.checkpoints.hyperv": {
                "hyperv_host": "127.0.0.1",
                "hyperv_port": "{{ hv_port }}",
                "hyperv_auth": "ntlm",
                "hyperv_username": "{{ hv_user }}",
                "hyperv_password": "{{ hv_password }}",
                "hyperv_ca_path": "{{ hv_ca }}",
                "hyperv_transport": "{{ hv_transport }}",
            }
        },
        "tasks": [
            {"name": "vm_info", "hyperv.checkpoints.vm_info": {"name": "web01"}, "register": "vm"},
            {"name": "checkpoint_info in check mode", "hyperv.checkpoints.checkpoint_info": {"vm_name": "web01"},
             "check_mode": True, "register": "tree"},
            {"name": "results", "ansible.builtin.assert": {"that": [
                "vm is not changed",
                "vm.vms | length == 1",
                "vm.vms[0].id == '6f0c2d9e-0002-4c00-8a00-000000000002'",
                "vm.vms[0].checkpoint_count == 2",
                "tree is not changed",
                "tree.vms[0].now_parent_name == 'after-patch'",
                "tree.checkpoints | map(attribute='name') | list == ['before-patch', 'after-patch']",
            ]}},
        ],
    }]
    proc = run_playbook(tmp_path, playbook, extra_vars, verbosity="-vvvv")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "failed=0" in output
    # test matrix A26: the password never appears, even at -vvvv
    assert sim.password not in output

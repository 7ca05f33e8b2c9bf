"""Role/playbook scenario tests: ansible-playbook against an in-process hvsim (demo lab, time_scale 0).

The inventory is extensions/molecule/_shared/inventory.yml (the demo lab's VMs as inventory hosts); it reads the
endpoint from $HVSIM_STATE_DIR/endpoint.json. State is verified on the simulator's model, never from the roles'
own output.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import typing as t

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
INVENTORY = REPO / "extensions" / "molecule" / "_shared" / "inventory" / "hosts.yml"
FILES = pathlib.Path(__file__).resolve().parent / "files"
ANSIBLE_PLAYBOOK = pathlib.Path(sys.executable).parent / "ansible-playbook"


class Lab:
    """A running demo lab plus helpers to run playbooks against it and read its real state."""

    def __init__(self, handle: t.Any, tmp: pathlib.Path) -> None:
        self.handle = handle
        self.model = handle.lab
        self.tmp = tmp
        state_dir = pathlib.Path(handle.state_dir)
        (state_dir / "endpoint.json").write_text(json.dumps(handle.endpoints()), encoding="utf-8")
        self.state_dir = state_dir

    def vm(self, name: str, host: str) -> t.Any:
        hits = [v for v in self.model.vms.values() if v.name == name and v.host == host]
        assert len(hits) == 1, (name, host, hits)
        return hits[0]

    def snapshot(self, name: str, host: str) -> t.Dict[str, t.Any]:
        """The VM's real state: power state, "Now" position, checkpoints (id, name, parent), settings."""
        vm = self.vm(name, host)
        snaps = self.model.snapshots_of(vm.id)
        return {
            "state": vm.state,
            "now_parent": vm.parent_snapshot_id,
            "checkpoints": sorted((s.id, s.name) for s in snaps),
            "checkpoint_type": vm.checkpoint_type,
            "memory_startup": vm.memory_startup,
        }

    def checkpoint_names(self, name: str, host: str) -> t.List[str]:
        return [s.name for s in self.model.snapshots_of(self.vm(name, host).id)]

    def run(self, playbook: str, limit: t.Optional[str] = None, extra: t.Optional[t.Dict[str, t.Any]] = None,
            timeout: int = 300, inventories: t.Sequence[pathlib.Path] = (INVENTORY,),
            env_extra: t.Optional[t.Dict[str, str]] = None, args: t.Sequence[str] = ()) -> subprocess.CompletedProcess:
        extra = dict(extra or {})
        extra.setdefault("hvsim_control_token", self.handle.control_token)
        vars_file = self.tmp / "extra-vars.json"
        vars_file.write_text(json.dumps(extra), encoding="utf-8")
        cmd = [str(ANSIBLE_PLAYBOOK)]
        for inventory in inventories:
            cmd += ["-i", str(inventory)]
        cmd += [playbook, "-e", "@" + str(vars_file), *args]
        if limit:
            cmd += ["--limit", limit]
        env = dict(os.environ)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / "build" / "dev_collections"),
            "HVSIM_STATE_DIR": str(self.state_dir),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-tmp"),
            "PATH": str(ANSIBLE_PLAYBOOK.parent) + os.pathsep + env.get("PATH", ""),
        })
        env.update(env_extra or {})
        proc = subprocess.run(cmd, cwd=str(REPO), env=env, capture_output=True, text=True, timeout=timeout)
        (self.tmp / "last-run.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
        return proc


    def plugin_inventory(self, host_vars: t.Optional[t.Dict[str, t.Dict[str, t.Any]]] = None,
                         ) -> t.Tuple[t.List[pathlib.Path], t.Dict[str, str]]:
        """The lab through the hyperv.checkpoints.hyperv inventory plugin (VMs named <vm>@<host>), plus the
        static vars that run the guests' own tasks on the controller; and the HYPERV_* environment the plugin and
        the modules take their credentials from."""
        hosts = [{"name": h, "address": self.handle.host, "port": self.handle.port(h, "https")}
                 for h in self.handle.hosts]
        source = self.tmp / "lab.hyperv.yml"
        source.write_text(json.dumps({"plugin": "hyperv.checkpoints.hyperv", "hosts": hosts, "query_retries": 0}),
                          encoding="utf-8")
        local = self.tmp / "guests.yml"
        local.write_text(json.dumps({"all": {"vars": {
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "hosts": dict(host_vars or {})}}), encoding="utf-8")
        env = {"HYPERV_USERNAME": self.handle.username, "HYPERV_PASSWORD": self.handle.password,
               "HYPERV_AUTH": "ntlm", "HYPERV_CA_PATH": str(self.handle.ca_path)}
        return [source, local], env


@pytest.fixture
def lab(hvsim_factory: t.Callable[..., t.Any], tmp_path: pathlib.Path) -> Lab:
    return Lab(hvsim_factory("demo"), tmp_path)


@pytest.fixture
def lab_factory(hvsim_factory: t.Callable[..., t.Any], tmp_path: pathlib.Path) -> t.Callable[[], Lab]:
    """Fresh demo labs, each with its own work directory (to run one playbook two ways side by side)."""
    made: t.List[Lab] = []

    def make() -> Lab:
        tmp = tmp_path / ("lab%d" % len(made))
        tmp.mkdir()
        made.append(Lab(hvsim_factory("demo"), tmp))
        return made[-1]

    return make


"""ansible-inventory against the 3-host demo lab of hvsim (HV01, HV02, HV03) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import typing as t

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
ANSIBLE_INVENTORY = str(pathlib.Path(sys.executable).parent / "ansible-inventory")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/inventory" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.simulator)


def unwrap(value: t.Any) -> t.Any:
    """ansible-core 2.19 marks untrusted strings as {"__ansible_unsafe": ...} in --list output."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class InventoryRun:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = None
        if proc.returncode == 0:
            # with -v the JSON document follows the verbose lines; it starts at a line "{"
            start = proc.stdout.find("\n{\n") + 1 if not proc.stdout.startswith("{") else 0
            self.data = unwrap(json.loads(proc.stdout[start:]))

    @property
    def hostvars(self) -> t.Dict[str, t.Any]:
        return self.data["_meta"]["hostvars"]

    def group(self, name: str) -> t.List[str]:
        return list(self.data.get(name, {}).get("hosts", []))


@pytest.fixture
def dead_port():
    return free_port()


@pytest.fixture
def lab(hvsim):
    return hvsim


@pytest.fixture
def inventory(lab, tmp_path):
    """``inventory(extra_config, extra_hosts=[...], args=[...], env={...})`` -> InventoryRun."""

    def run(config: t.Optional[t.Dict[str, t.Any]] = None, extra_hosts=(), args=(), env=None, password=True):
        hosts = [{"name": h, "address": lab.host, "port": lab.port(h, "https")} for h in ("HV01", "HV02", "HV03")]
        cfg = {
            "plugin": "hyperv.checkpoints.hyperv",
            "hosts": hosts + list(extra_hosts),
            "hyperv_auth": "ntlm",
            "hyperv_ca_path": lab.ca_path,
            "query_retries": 0,
        }
        cfg.update(config or {})
        path = tmp_path / "lab.hyperv.yml"
        path.write_text(yaml.safe_dump(cfg))
        environ = dict(os.environ)
        for key in list(environ):
            if key.startswith(("HYPERV_", "ANSIBLE_")):
                del environ[key]
        environ.update({
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / "build" / "dev_collections"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
            "HYPERV_USERNAME": lab.username,
        })
        if password:
            environ["HYPERV_PASSWORD"] = lab.password
        environ.update(env or {})
        proc = subprocess.run([ANSIBLE_INVENTORY, "-i", str(path), "--list", *args], env=environ,
                              capture_output=True, text=True, timeout=110, cwd=str(tmp_path), check=False)
        return InventoryRun(proc)

    return run

"""``make demo``: start hvsim with the demo lab, run the showcase playbook, stop hvsim.

Usage: ``python tools/demo.py [--playbook PATH] [--lab NAME] [--keep-state] [ansible-playbook args...]``

1. Start, from a fresh lab unless ``--keep-state``, ``python -m hvsim serve --lab demo --state-dir .hvsim-state/demo`` (PYTHONPATH=tests)
   in the background, in its own process group, logging to ``.hvsim-state/demo/hvsim.log``.
2. Wait until it has written ``endpoint.json`` (its URLs, credentials and CA path) and its
   port accepts connections.
3. Run ``ansible-playbook playbooks/showcase.yml`` with the connection details in the
   modules' environment fallbacks (``HYPERV_HOST``, ``HYPERV_PORT``, ``HYPERV_SCHEME``,
   ``HYPERV_USERNAME``, ``HYPERV_PASSWORD``, ``HYPERV_CA_PATH``, ``HYPERV_AUTH``) and the
   whole endpoint description as the extra variable ``hvsim_endpoint``.
4. Always stop the simulator (also on failure, Ctrl-C or SIGTERM).

The exit status is the playbook's (or non-zero when the simulator did not come up).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
COLLECTIONS = REPO_ROOT / "build" / "collections"
START_TIMEOUT = 60.0
DEMO_TIME_SCALE = "0.02"
STOP_TIMEOUT = 10.0


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def start_simulator(lab: str, state_dir: pathlib.Path, log_path: pathlib.Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT / "tests"), env.get("PYTHONPATH")]))
    # Every simulated duration (checkpoint, merge, export, shutdown) runs at this fraction of the
    # cost model's real-world time, so the whole story takes minutes, not an hour.
    time_scale = os.environ.get("HVSIM_TIME_SCALE", DEMO_TIME_SCALE)
    cmd = [sys.executable, "-m", "hvsim", "serve", "--lab", lab, "--state-dir", str(state_dir),
           "--time-scale", time_scale]
    print("demo: starting " + " ".join(cmd), flush=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop_simulator(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    print("demo: stopping the simulator", flush=True)
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def connection_env(endpoint: dict) -> dict[str, str]:
    """Map hvsim's endpoint.json onto the modules' HYPERV_* environment fallbacks.

    endpoint.json (tests/hvsim/server/core.py ``endpoints()``) looks like::

        {"address": "127.0.0.1", "username": ..., "password": ..., "ca_path": ...,
         "hosts": {"hv01": {"https_url": ..., "https_port": 1234, "http_url": ..., ...}, ...}}

    The variables point at the first host (by name), over HTTPS when it listens on HTTPS.
    """
    hosts = endpoint.get("hosts") or {}
    if not hosts:
        raise RuntimeError("endpoint.json lists no host")
    listener = hosts[sorted(hosts)[0]]
    scheme = "https" if "https_port" in listener else "http"
    values = {
        "HYPERV_HOST": endpoint.get("address"),
        "HYPERV_PORT": listener.get(f"{scheme}_port"),
        "HYPERV_SCHEME": scheme,
        "HYPERV_USERNAME": endpoint.get("username"),
        "HYPERV_PASSWORD": endpoint.get("password"),
        "HYPERV_CA_PATH": endpoint.get("ca_path") if scheme == "https" else None,
        "HYPERV_AUTH": endpoint.get("auth"),
    }
    return {name: str(value) for name, value in values.items() if value not in (None, "")}


def wait_until_ready(proc: subprocess.Popen, endpoint_path: pathlib.Path, log_path: pathlib.Path) -> dict:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the simulator exited with status {proc.returncode}; see {log_path}")
        if endpoint_path.exists():
            try:
                endpoint = json.loads(endpoint_path.read_text(encoding="utf-8"))
            except ValueError:
                endpoint = None  # still being written
            if endpoint is not None:
                env = connection_env(endpoint)
                host, port = env["HYPERV_HOST"], env["HYPERV_PORT"]
                try:
                    with socket.create_connection((host, int(port)), timeout=1):
                        return endpoint
                except OSError:
                    pass
        time.sleep(0.2)
    raise RuntimeError(f"the simulator did not become ready within {START_TIMEOUT:.0f}s; see {log_path}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lab", default="demo")
    parser.add_argument("--playbook", default="playbooks/showcase.yml")
    parser.add_argument("--keep-state", action="store_true",
                        help="continue from the lab state of the previous run instead of a fresh lab")
    args, playbook_args = parser.parse_known_args(argv)

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    state_dir = REPO_ROOT / ".hvsim-state" / args.lab
    if not args.keep_state:
        shutil.rmtree(state_dir, ignore_errors=True)  # hvsim prefers a saved lab state to the lab file
    state_dir.mkdir(parents=True, exist_ok=True)
    endpoint_path = state_dir / "endpoint.json"
    endpoint_path.unlink(missing_ok=True)  # never read a stale one from an earlier run
    log_path = state_dir / "hvsim.log"

    proc = start_simulator(args.lab, state_dir, log_path)
    try:
        try:
            endpoint = wait_until_ready(proc, endpoint_path, log_path)
        except RuntimeError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            sys.stderr.write(log_path.read_text(encoding="utf-8", errors="replace")[-4000:])
            return 1
        conn = connection_env(endpoint)
        shown = {k: ("********" if k == "HYPERV_PASSWORD" else v) for k, v in conn.items()}
        print("demo: simulator ready: " + json.dumps(shown), flush=True)

        extra_vars = state_dir / "extra-vars.json"
        extra_vars.write_text(json.dumps({"hvsim_endpoint": endpoint}), encoding="utf-8")
        extra_vars.chmod(0o600)

        env = dict(os.environ)
        env.update(conn)
        env["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS)  # the installed copy
        env.setdefault("ANSIBLE_LOCALHOST_WARNING", "false")
        env.setdefault("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false")
        playbook = pathlib.Path(sys.executable).parent / "ansible-playbook"
        cmd = [str(playbook), args.playbook, "-e", f"@{extra_vars}", *playbook_args]
        print("demo: " + " ".join(cmd), flush=True)
        rc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=False).returncode
        print(f"demo: ansible-playbook exited {rc}", flush=True)
        return rc
    finally:
        stop_simulator(proc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

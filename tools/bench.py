"""``make bench``: the fleet benchmark of hyperv.checkpoints (a benchmark, never a timed test).

Starts hvsim (``python -m hvsim serve``) with the generated ``fleet`` lab at time_scale 1 and
a WS-Man reply latency standing in for the network round trip, then measures in one run, side
by side, two jobs:

1. ``checkpoint``: checkpoint every VM;
2. ``remove``: remove those checkpoints and wait for the merges,

on each path:

* ``per-VM``: the usual pattern, ``ansible-playbook`` with one inventory host per VM and one
  ``hyperv.checkpoints.checkpoint`` task delegated to localhost per VM (``forks``, ``throttle``);
* ``batched``: one session per Hyper-V host and the VMs of the host as parallel pipelines on its
  one runspace pool. While the ``checkpoint`` module has no VM-list option this path is a
  **direct Python driver over the collection's client** (``HyperVClient(transport, parallel=N)``),
  not a module, and the table says so;
* ``floor``: computed from the cost model: the most Hyper-V work on any one host divided by the
  host's concurrency, plus one session (measured: open a pool, one pipeline, close).

Columns: VMs and hosts, wall seconds, ratio to the floor, WS-Man requests (SOAP messages) per
VM from ``/hvsim/stats``, most concurrent shells on one host, controller CPU seconds per VM
(user + system of the controller-side processes: the ansible-playbook process tree, or this
process for the driver; the simulator runs in its own process and is not counted).

The table is printed and written to docs/performance.md (``--out``).

Usage::

    .venv/bin/python tools/bench.py                 # default size: 3 hosts x 6 VMs (a few minutes on 2 cores)
    .venv/bin/python tools/bench.py --full          # 20 hosts x 50 VMs (the issue's acceptance size)
    .venv/bin/python tools/bench.py --hosts 2 --vms 5 --rtt 0.02 --out /tmp/perf.md
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import datetime
import json
import os
import pathlib
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
DEV_COLLECTIONS = REPO / "build" / "dev_collections"
PY = sys.executable
ANSIBLE_PLAYBOOK = str(pathlib.Path(PY).parent / "ansible-playbook")

sys.path.insert(0, str(TESTS))
from hvsim._paths import ensure_collection_importable  # noqa: E402

ensure_collection_importable()

from hvsim.lab import generate_fleet  # noqa: E402
from hvsim.model import Lab, ManualClock  # noqa: E402
from hvsim.model.errors import ModelError  # noqa: E402

from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import (  # noqa: E402
    GET_SNAPSHOT,
    GET_VM,
    HyperVClient,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._connection import build_connection_options  # noqa: E402
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import VM, Checkpoint  # noqa: E402
from ansible_collections.hyperv.checkpoints.plugins.module_utils._psrp import PSRPTransport  # noqa: E402
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import command  # noqa: E402

AUTOSAVE_INTERVAL = 30  # seconds between hvsim state saves (docs/hvsim.md)
SHELL_LIMIT = 30  # WinRM MaxShellsPerUser on current Windows; hvsim's default quota


# ---------------------------------------------------------------------------- simulator
class Sim:
    """hvsim in its own process (its CPU is not the controller's)."""

    def __init__(self, hosts: int, vms: int, rtt: float, state_dir: str):
        self.state_dir = state_dir
        cmd = [PY, "-m", "hvsim", "serve", "--lab", "fleet", "--lab-param", "hosts=%d" % hosts,
               "--lab-param", "vms=%d" % vms, "--time-scale", "1", "--https", "--state-dir", state_dir,
               # the saved state is not needed here: a write per mutation would time the disk, not Hyper-V
               "--lab-param", "autosave_interval=%d" % AUTOSAVE_INTERVAL]
        if rtt > 0:
            cmd += ["--fault", "latency:seconds=%s" % rtt]
        env = dict(os.environ, PYTHONPATH=str(TESTS))
        os.makedirs(state_dir, exist_ok=True)
        self.log = open(os.path.join(state_dir, "hvsim.log"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=self.log, stderr=subprocess.STDOUT)
        path = os.path.join(state_dir, "endpoint.json")
        deadline = time.monotonic() + 300
        while not os.path.exists(path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench: hvsim did not start (see %s)" % self.log.name)
            time.sleep(0.2)
        with open(path, encoding="utf-8") as fh:
            self.ep = json.load(fh)
        first = next(iter(self.ep["hosts"].values()))
        self.control = "https://127.0.0.1:%d" % first["https_port"]

    def port(self, host: str) -> int:
        return self.ep["hosts"][host]["https_port"]

    def cpu(self) -> t.Optional[float]:
        """User + system CPU seconds of the hvsim process so far (Linux /proc; None elsewhere)."""
        try:
            with open("/proc/%d/stat" % self.proc.pid, encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))
        except (OSError, ValueError, IndexError):
            return None

    def _call(self, method: str, path: str) -> t.Any:
        import ssl

        ctx = ssl.create_default_context(cafile=self.ep["ca_path"])
        req = urllib.request.Request(self.control + path, method=method, data=b"" if method == "POST" else None,
                                     headers={"X-Hvsim-Token": self.ep["control_token"]})
        with urllib.request.urlopen(req, context=ctx, timeout=120) as resp:  # nosec - 127.0.0.1 only
            return json.loads(resp.read().decode())

    def stats(self) -> t.Dict[str, t.Any]:
        return self._call("GET", "/hvsim/stats")

    def reset_stats(self) -> None:
        self._call("POST", "/hvsim/reset-stats")

    def state(self) -> t.Dict[str, t.Any]:
        return self._call("GET", "/hvsim/state")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------------------- floor (cost model)
def floor_checkpoint(state: t.Dict[str, t.Any], name: str) -> t.Tuple[float, t.Dict[str, float]]:
    """Most Hyper-V checkpoint work on one host / its concurrency (seconds before the session)."""
    lab = Lab.from_dump(state, clock=ManualClock(), time_scale=1.0)
    per_host: t.Dict[str, float] = {}
    with lab.locked():
        for vm in lab.vms.values():
            try:
                # the work of one checkpoint: its standalone duration (docs/hvsim.md section 4)
                plan = lab._plan_checkpoint(vm, name, False)  # pylint: disable=protected-access
            except ModelError:
                plan = {"duration": 0.0}  # refused at once (e.g. ProductionOnly, cannot quiesce)
            per_host[vm.host] = per_host.get(vm.host, 0.0) + plan["duration"]
    work = {h: per_host.get(h, 0.0) / max(1, lab.hosts[h].concurrency) for h in lab.hosts}
    return max(work.values()), work


def floor_merge(state: t.Dict[str, t.Any], name: str) -> t.Tuple[float, t.Dict[str, float]]:
    """Most merge work on one host / its concurrency: bytes merged / host throughput per merge."""
    lab = Lab.from_dump(state, clock=ManualClock(), time_scale=1.0)
    for vm in list(lab.vms.values()):
        ids = [s.id for s in lab.snapshots_of(vm.id) if s.name == name]
        if ids:
            try:
                lab.remove_snapshots(vm.host, ids)
            except ModelError:
                pass
    work: t.Dict[str, float] = {h: 0.0 for h in lab.hosts}
    for job in lab.merges:
        work[job.host] += job.bytes_total / lab.hosts[job.host].throughput
    work = {h: w / max(1, lab.hosts[h].concurrency) for h, w in work.items()}
    return max(work.values()), work


# ---------------------------------------------------------------------------- measuring
def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def soap_requests(stats: t.Dict[str, t.Any]) -> int:
    return sum(stats.get("requests_by_action", {}).values())


class Result(t.NamedTuple):
    job: str
    path: str
    vms: int
    hosts: int
    wall: float
    floor: float
    requests: int
    http_requests: int
    max_shells: int
    cpu: float
    ok: int
    failed: int
    note: str = ""


# ---------------------------------------------------------------------------- path (b): batched driver
def conn_options(sim: Sim, host: str):
    opts, _ = build_connection_options({
        "hyperv_host": "127.0.0.1", "hyperv_port": sim.port(host), "hyperv_scheme": "https",
        "hyperv_auth": "ntlm", "hyperv_username": sim.ep["username"], "hyperv_password": sim.ep["password"],
        "hyperv_ca_path": sim.ep["ca_path"], "hyperv_operation_timeout": 20, "hyperv_read_timeout": 120,
    })
    return opts


def all_checkpoints_pipeline():
    return [command(GET_VM), command(GET_SNAPSHOT)]


def batched_host(sim: Sim, host: str, job: str, name: str, parallel: int, poll: float) -> t.Tuple[int, int]:
    """One session on ``host``: one read of every checkpoint, then one pipeline per VM, ``parallel`` at once."""
    transport = PSRPTransport(conn_options(sim, host), max_runspaces=parallel)
    client = HyperVClient(transport, parallel=parallel)
    ok = failed = 0
    try:
        transport.open()
        vms_res, cps_res = client.run([HyperVClient.list_vms_pipeline(), all_checkpoints_pipeline()])
        vms = [VM.from_plain(o) for o in vms_res["output"]]
        cps = [Checkpoint.from_plain(o) for o in cps_res["output"]]
        named = {}
        for cp in cps:
            if cp.name == name:
                named.setdefault(cp.vm_id, []).append(cp.id)
        if job == "checkpoint":
            todo = [vm.id for vm in vms if vm.id not in named]  # idempotent: a VM with the name is done
            ok += len(vms) - len(todo)
            results = client.run([client.create_checkpoint_pipeline(v, name) for v in todo])
            for res in results:
                if res["errors"] or res["state"] == "Failed" or not res["output"]:
                    failed += 1
                else:
                    ok += 1
            return ok, failed
        targets = [cid for ids in named.values() for cid in ids]
        results = client.run([client.remove_checkpoint_pipeline(cid) for cid in targets])
        for res in results:
            if res["errors"] or res["state"] == "Failed":
                failed += 1
            else:
                ok += 1
        waiting = set(named)
        while waiting:  # one Get-VM for the whole host per poll, not one per VM
            listing = [VM.from_plain(o) for o in client.run_one(HyperVClient.list_vms_pipeline())["output"]]
            waiting = set(vm.id for vm in listing if vm.id in waiting and vm.merging)
            if waiting:
                time.sleep(poll)
        return ok, failed
    finally:
        transport.close()


def run_batched(sim: Sim, hosts: t.List[str], job: str, name: str, parallel: int, poll: float) -> t.Tuple[float, float, int, int]:
    cpu0, t0 = cpu_self(), time.monotonic()
    ok = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        for o, f in pool.map(lambda h: batched_host(sim, h, job, name, parallel, poll), hosts):
            ok, failed = ok + o, failed + f
    return time.monotonic() - t0, cpu_self() - cpu0, ok, failed


def one_session(sim: Sim, host: str) -> float:
    """Wall seconds of one session: open a pool, run Get-VM, close (the floor's '+ one session')."""
    t0 = time.monotonic()
    transport = PSRPTransport(conn_options(sim, host), max_runspaces=1)
    try:
        transport.open()
        HyperVClient(transport).run_one(HyperVClient.list_vms_pipeline())
    finally:
        transport.close()
    return time.monotonic() - t0


# ---------------------------------------------------------------------------- path (a): per-VM playbook
PLAYBOOK = """\
- name: "bench: {job} one task per VM"
  hosts: bench_vms
  gather_facts: false
  order: {order}
  tasks:
    - name: "{job}"
      hyperv.checkpoints.checkpoint:
        hyperv_host: 127.0.0.1
        hyperv_port: "{{{{ bench_port }}}}"
        hyperv_scheme: https
        hyperv_auth: ntlm
        hyperv_ca_path: "{ca}"
        hyperv_read_timeout: 120
        vm_id: "{{{{ hyperv_vm_id }}}}"
        name: "{name}"
        state: {state}
{extra}      delegate_to: localhost
      throttle: {throttle}
      ignore_errors: true
"""

BATCH_PLAYBOOK = """\
- name: "bench: {job} one task per Hyper-V host"
  hosts: bench_hosts
  gather_facts: false
  tasks:
    - name: "{job}"
      hyperv.checkpoints.checkpoint:
        hyperv_host: 127.0.0.1
        hyperv_port: "{{{{ bench_port }}}}"
        hyperv_scheme: https
        hyperv_auth: ntlm
        hyperv_ca_path: "{ca}"
        hyperv_read_timeout: 120
        vm_ids: "{{{{ hyperv_vm_ids }}}}"
        name: "{name}"
        state: {state}
        parallel: {parallel}
        batch_failure: collect
{extra}      delegate_to: localhost
      throttle: {throttle}
      ignore_errors: true
"""

RECAP_RE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)\s+"
                      r"rescued=(\d+)\s+ignored=(\d+)", re.M)


#: ansible.cfg ``internal_poll_interval`` of both playbooks, as docs/fleet.md recommends for fleet jobs:
#: at ansible-core's 0.001 s, ansible-playbook wakes 1000 times a second while its workers run
INTERNAL_POLL_INTERVAL = 0.05


def write_per_vm_files(work: pathlib.Path, sim: Sim, spec: t.Dict[str, t.Any], forks: int) -> None:
    hosts = {}
    for vm in spec["vms"]:
        hosts["%s@%s" % (vm["name"], vm["host"])] = {"hyperv_vm_id": vm["id"], "bench_port": sim.port(vm["host"])}
    per_host: t.Dict[str, t.Dict[str, t.Any]] = {}
    for vm in spec["vms"]:
        entry = per_host.setdefault(vm["host"], {"bench_port": sim.port(vm["host"]), "hyperv_vm_ids": []})
        entry["hyperv_vm_ids"].append(vm["id"])
    inventory = {"all": {"children": {"bench_vms": {"hosts": hosts}, "bench_hosts": {"hosts": per_host}},
                         "vars": {"ansible_python_interpreter": PY}},
                 }
    (work / "inventory.json").write_text(json.dumps(inventory))
    (work / "ansible.cfg").write_text(
        "[defaults]\nforks = %d\nhost_key_checking = false\nretry_files_enabled = false\n"
        "display_ok_hosts = false\ndisplay_skipped_hosts = false\ndeprecation_warnings = false\n"
        "interpreter_python = %s\ninternal_poll_interval = %s\n" % (forks, PY, INTERNAL_POLL_INTERVAL)
    )


def run_playbook(work: pathlib.Path, sim: Sim, job: str, name: str, throttle: int,
                 parallel: t.Optional[int] = None, forks: t.Optional[int] = None,
                 order: str = "inventory") -> t.Tuple[float, float, int, int]:
    """per-VM playbook (``parallel`` None) or one batched task per Hyper-V host."""
    state = "present" if job == "checkpoint" else "absent"
    extra = "" if job == "checkpoint" else "        wait_for_merge: true\n"
    book = work / ("%s-%s.yml" % (job, name))
    template = PLAYBOOK if parallel is None else BATCH_PLAYBOOK
    book.write_text(template.format(job=job, ca=sim.ep["ca_path"], name=name, state=state, extra=extra,
                                    throttle=throttle, parallel=parallel, order=order))
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(work / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(DEV_COLLECTIONS),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "HYPERV_USERNAME": sim.ep["username"],
        "HYPERV_PASSWORD": sim.ep["password"],
    })
    cpu0, t0 = cpu_children(), time.monotonic()
    cmd = [ANSIBLE_PLAYBOOK, "-i", str(work / "inventory.json"), str(book)]
    if forks:
        cmd += ["--forks", str(forks)]
    proc = subprocess.run(cmd, env=env, cwd=str(work),
                          capture_output=True, text=True, check=False)
    wall, cpu = time.monotonic() - t0, cpu_children() - cpu0
    (work / ("%s-%s.log" % (job, name))).write_text(proc.stdout + proc.stderr)
    if not RECAP_RE.search(proc.stdout):
        raise SystemExit("bench: ansible-playbook gave no recap (rc %s), see %s" % (proc.returncode, work))
    return wall, cpu, -1, -1


def outcome(state: t.Dict[str, t.Any], name: str, job: str, before: t.Optional[t.Set[str]] = None) -> t.Tuple[int, int, t.Set[str]]:
    """(ok, failed, VM Ids holding a checkpoint ``name``) read from the lab state (not from the path's output)."""
    holders = set(s["vm_id"] for s in state["snapshots"].values() if s["name"] == name) \
        if isinstance(state["snapshots"], dict) else set(s["vm_id"] for s in state["snapshots"] if s["name"] == name)
    total = len(state["vms"])
    if job == "checkpoint":
        return len(holders), total - len(holders), holders
    had = before or set()
    return len(had - holders), len(had & holders), holders


# ---------------------------------------------------------------------------- table
HEADER = ("| Job | Path | VMs | Hosts | Wall s | Floor s | Ratio to floor | WS-Man req/VM | Max shells/host "
          "| Controller CPU s/VM | OK / failed |")
RULE = "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"


def row(r: Result) -> str:
    if r.path.startswith("floor"):
        return "| %s | %s | %d | %d | %.1f | %.1f | 1.00 | - | - | - | - |" % (
            r.job, r.path, r.vms, r.hosts, r.floor, r.floor)
    ratio = "%.2f" % (r.wall / r.floor) if r.floor > 0 else "-"
    return "| %s | %s | %d | %d | %.1f | %.1f | %s | %.1f | %d | %.3f | %d / %d |" % (
        r.job, r.path, r.vms, r.hosts, r.wall, r.floor, ratio, r.requests / max(1, r.vms), r.max_shells,
        r.cpu / max(1, r.vms), r.ok, r.failed)


def markdown(results: t.List[Result], meta: t.Dict[str, t.Any]) -> str:
    lines = ["## %d hosts x %d VMs" % (meta["hosts"], meta["vms"]), "",
             "Measured %s on %s (%s CPUs, shared with other jobs), Python %s, ansible-core %s, at commit %s." % (
                 meta["when"], meta["machine"], meta["cpus"], meta["python"], meta["ansible"], meta["commit"]),
             "", "### Set-up", ""]
    lines += ["* Lab: hvsim `fleet`, %d hosts x %d VMs (seed 1), `time_scale` 1." % (meta["hosts"], meta["vms"]),
              "* Cost model (docs/hvsim.md section 4): standard checkpoint 2 s + saved memory / host throughput, "
              "production checkpoint 6 s, merge = bytes / host throughput; a host runs `concurrency` of these at "
              "once, each at full speed, the others wait for a slot (one queue, arrival order). "
              "Hosts: throughput 400 MiB/s, concurrency 2.",
              "* Network RTT: every WS-Man reply is delayed %.0f ms (hvsim `latency` setting). Runspace start-up and "
              "per-pipeline overhead are not separate knobs in hvsim; they are what the protocol exchange costs at that "
              "RTT (one session measured: %.2f s)." % (meta["rtt"] * 1000, meta["session"]),
              "* per-VM: `ansible-playbook`, one inventory host per VM, `hyperv.checkpoints.checkpoint` delegated to "
              "localhost, forks %d, `throttle: %d` (at most %d sessions on one host, below the %d-shell quota); "
              "remove with `wait_for_merge: true` (module default poll interval 2 s); play `order: %s` (`inventory`: "
              "the VMs grouped host by host, as an inventory grouped by Hyper-V host lists them, so the forks mostly "
              "work on one host at a time; `shuffle` spreads them over the hosts)."
              % (meta["forks"], meta["throttle"], meta["throttle"], SHELL_LIMIT, meta["order"]),
              "* batched: %s" % meta["batched_label"],
              "* floor: the most Hyper-V work on one host divided by its concurrency (standalone checkpoint durations "
              "from the cost model, or merged bytes / throughput), plus one session; computed for each run from the "
              "lab state just before it (`Floor s`).",
              "* WS-Man req/VM: SOAP messages received by hvsim (`requests_by_action`) per VM. Controller CPU: user + "
              "system seconds of the controller side (the ansible-playbook process tree; for the driver, the bench "
              "process); the simulator runs in its own process.",
              "", "### Results", "", HEADER, RULE]
    lines += [row(r) for r in results]
    lines += ["", "### Reading the table", ""] + meta["notes"] + [""]
    return "\n".join(lines)


TITLE = """# Fleet performance

Written by `make bench` (`tools/bench.py`); do not edit by hand (notes marked "added by hand"
say what a run could not). Each size has its own section (`make bench` gives the default size,
`tools/bench.py --full` 20 hosts x 50 VMs, `--hosts 20 --vms 10` the middle one); a run replaces
the section of its size. See docs/fleet.md for fleet usage.
"""


def write_section(path: pathlib.Path, key: str, body: str) -> None:
    """Replace (or add) the section of this lab size in ``path``, keeping the other sizes."""
    begin, end = "<!-- bench:%s -->" % key, "<!-- /bench:%s -->" % key
    block = "%s\n%s\n%s" % (begin, body.strip(), end)
    old = path.read_text(encoding="utf-8") if path.exists() else TITLE
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new, encoding="utf-8")


# ---------------------------------------------------------------------------- main
def git_describe() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=str(REPO), capture_output=True, text=True, check=False).stdout.strip()

    dirty = git("status", "--porcelain", "--", "tests/hvsim", "plugins")
    return "%s%s" % (git("rev-parse", "--short", "HEAD"), " (with uncommitted changes in plugins/ or tests/hvsim/)"
                     if dirty else "")


def module_default_parallel() -> int:
    from ansible_collections.hyperv.checkpoints.plugins.modules import checkpoint as mod  # noqa: E402

    return int(mod.argument_spec().get("parallel", {}).get("default") or 2)


def module_has_vm_list() -> bool:
    from ansible_collections.hyperv.checkpoints.plugins.modules import checkpoint as mod  # noqa: E402

    spec = mod.argument_spec() if hasattr(mod, "argument_spec") else {}
    return any(k in spec for k in ("vms", "vm_ids", "vm_names"))


def main(argv: t.Optional[t.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="20 hosts x 50 VMs")
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--vms", type=int, default=6, help="VMs per host")
    parser.add_argument("--rtt", type=float, default=0.01, help="seconds added to every WS-Man reply")
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--throttle", type=int, default=10, help="per-VM task throttle (<= the shell quota)")
    parser.add_argument("--parallel", type=int, action="append", default=None,
                        help="batched pipelines per host (repeatable; default: the module's default)")
    parser.add_argument("--per-vm-order", choices=["inventory", "shuffle"], default="inventory",
                        help="play `order` of the per-VM playbook")
    parser.add_argument("--poll", type=float, default=1.0, help="batched merge poll interval")
    parser.add_argument("--skip-per-vm", action="store_true")
    parser.add_argument("--driver", action="store_true",
                        help="also run the batched path as a direct driver over the client (no module)")
    parser.add_argument("--out", default=str(REPO / "docs" / "performance.md"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.full:
        args.hosts, args.vms = 20, 50
    if args.throttle > SHELL_LIMIT - 1:
        parser.error("--throttle must stay below the %d-shell quota" % SHELL_LIMIT)
    batch_module = module_has_vm_list()
    parallels = args.parallel or [module_default_parallel() if batch_module else 2]

    work = pathlib.Path(tempfile.mkdtemp(prefix="hvbench-"))
    spec = generate_fleet(args.hosts, args.vms)
    host_names = [h["name"] for h in spec["hosts"]]
    n_vms = len(spec["vms"])
    print("bench: fleet lab %d hosts x %d VMs, RTT %.0f ms, work dir %s" % (args.hosts, args.vms, args.rtt * 1000, work),
          flush=True)
    sim = Sim(args.hosts, args.vms, args.rtt, str(work / "hvsim"))
    results: t.List[Result] = []
    notes: t.List[str] = []
    actions = {}
    try:
        session = min(one_session(sim, host_names[0]) for _ in range(3))
        write_per_vm_files(work, sim, spec, args.forks)
        paths: t.List[t.Tuple[str, str, t.Any]] = []
        if not args.skip_per_vm:
            paths.append(("per-VM (ansible-playbook, task per VM)", "pervm", None))
        if batch_module:
            for p in parallels:
                paths.append(("batched (ansible-playbook, task per host), parallel %d" % p, "module", p))
        if args.driver or not batch_module:
            for p in parallels:
                paths.append(("batched client driver (not a module), parallel %d" % p, "driver", p))
        floors: t.Dict[str, t.List[float]] = {"checkpoint": [], "remove": []}
        actions: t.Dict[t.Tuple[str, str], t.Dict[str, int]] = {}
        holders: t.Set[str] = set()
        for label, kind, parallel in paths:
            name = "bench-%s" % (kind if parallel is None else "%s-p%d" % (kind, parallel))
            for job in ("checkpoint", "remove"):
                state = sim.state()
                base, _ = (floor_checkpoint if job == "checkpoint" else floor_merge)(state, name)
                floor = base + session
                floors[job].append(floor)
                sim.reset_stats()
                sim_cpu0 = sim.cpu()
                print("bench: %-32s %-10s ..." % (label, job), end="", flush=True)
                if kind == "driver":
                    wall, cpu, ok, failed = run_batched(sim, host_names, job, name, parallel, args.poll)
                else:
                    # batched: one task per Hyper-V host, each holding one session: forks >= hosts
                    wall, cpu, ok, failed = run_playbook(work, sim, job, name, max(args.throttle, args.hosts)
                                                         if parallel else args.throttle, parallel,
                                                         forks=max(args.forks, args.hosts) if parallel else None,
                                                         order=args.per_vm_order)
                sim_cpu1 = sim.cpu()
                stats = sim.stats()
                ok, failed, holders = outcome(sim.state(), name, job, holders)
                if sim_cpu0 is not None and sim_cpu1 is not None:
                    sim_cpu, cores = sim_cpu1 - sim_cpu0, os.cpu_count() or 1
                    notes.append("* CPU, %s, %s: controller %.1f s, simulator %.1f s; together %.1f CPU seconds, so on "
                                 "%d CPUs at least %.1f s of wall time for the controller and the simulator alone." % (
                                     job, label, cpu, sim_cpu, cpu + sim_cpu, cores, (cpu + sim_cpu) / cores))
                max_shells = max(stats.get("max_concurrent_shells", {}).values() or [0])
                res = Result(job, label, n_vms, args.hosts, wall, floor, soap_requests(stats), stats.get("requests", 0),
                             max_shells, cpu, ok, failed)
                results.append(res)
                (work / ("stats-%s-%s.json" % (job, name))).write_text(json.dumps(stats, indent=1, sort_keys=True))
                actions[(job, label)] = dict(stats.get("requests_by_action", {}))
                print(" %.1f s (floor %.1f s), %d ok, %d failed" % (wall, floor, ok, failed), flush=True)
    finally:
        sim.stop()

    # one floor row per job (the floors of the paths differ only by disk growth between runs)
    ordered: t.List[Result] = []
    for job in ("checkpoint", "remove"):
        rows = [r for r in results if r.job == job]
        ordered += rows
        if rows:
            f = min(floors[job])
            ordered.append(Result(job, "floor (cost model, lowest of the runs)", n_vms, args.hosts, f, f, 0, 0, 0, 0.0,
                                  0, 0))
    by = dict(((r.job, r.path), r) for r in results)
    for job in ("checkpoint", "remove"):
        pv = by.get((job, "per-VM (ansible-playbook, task per VM)"))
        for r in results:
            if r.job == job and r.path.startswith("batched") and pv is not None:
                notes.append("* %s, %s: %.1fx the per-VM wall time, %.1fx fewer WS-Man requests, %.0fx less controller "
                             "CPU per VM." % (job, r.path, r.wall / pv.wall if pv.wall else 0,
                                              pv.requests / max(1, r.requests), pv.cpu / max(r.cpu, 1e-6)))
    for (job, label), acts in sorted(actions.items()):
        notes.append("* WS-Man messages by action, %s, %s: %s." % (
            job, label, ", ".join("%s %.1f/VM" % (a, n / max(1, n_vms)) for a, n in sorted(acts.items()))))
    meta = {
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "ansible": subprocess.run([PY, "-c", "import ansible.release as r; print(r.__version__)"], capture_output=True,
                                  text=True, check=False).stdout.strip(),
        "commit": git_describe(),
        "hosts": args.hosts, "vms": args.vms, "rtt": args.rtt, "session": session, "forks": args.forks,
        "throttle": args.throttle, "notes": notes + NOTES, "order": args.per_vm_order,
        "batched_label": (
            "`ansible-playbook` with one `hyperv.checkpoints.checkpoint` task per Hyper-V host in batch mode "
            "(`vm_ids: \"{{ hyperv_vm_ids }}\"`, `parallel`, `batch_failure: collect`; remove with "
            "`wait_for_merge: true`), delegated to localhost: one session per host; forks and throttle = "
            "max(%d, hosts) so every host runs at once (a task holds one session, the quota is not at risk)."
            % args.forks
            + (" The client driver rows (`--driver`) run the same batch directly over the collection's client, "
               "without a module and without its preflight." if args.driver else "")
            if batch_module else
            "**a direct Python driver over the collection's client, not a module**: the `checkpoint` module has no "
            "VM-list option yet. Per Hyper-V host one session (`PSRPTransport(max_runspaces=N)`, "
            "`HyperVClient(parallel=N)`), one pipeline listing every checkpoint of the host (idempotency), then one "
            "`Get-VM -Id | Checkpoint-VM` (or `Get-VMSnapshot -Id | Remove-VMSnapshot`) pipeline per VM, N at a time; "
            "merges are awaited with one `Get-VM` per host per poll (%.0f s). All hosts at once (threads). No module "
            "preflight (space, DC, VSS), so it does less work per VM than the module." % args.poll),
    }
    text = markdown(ordered, meta)
    print()
    print("\n".join([HEADER, RULE] + [row(r) for r in ordered]))
    if args.out:
        write_section(pathlib.Path(args.out), "%dx%d" % (args.hosts, args.vms), text)
        print("\nbench: wrote %s" % args.out)
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print("bench: work directory kept: %s" % work)
    return 0


NOTES = [
    "* hvsim gives each host `concurrency` slots in which checkpoints and merges run at full speed while the others "
    "wait, so the floor (the most work on one host / its concurrency + one session) is reached by any schedule "
    "that keeps at least `concurrency` operations present on the busiest host.",
    "* The PSRP transport keeps a sliding window of `parallel` pipelines on the one runspace pool "
    "(`_psrp.PSRPTransport._run_streaming`): the next VM's pipeline starts as soon as the oldest has finished, so "
    "the host's queue never runs dry while the controller reads a result.",
    "* WS-Man requests per VM include the session set-up (shell Create, runspace-pool open Receives, Delete) "
    "spread over the host's VMs; every pipeline costs a Command and one Receive when it finishes within the "
    "operation timeout. No Signal is sent to a finished pipeline (MS-PSRP 3.1.1.3.2: the client must not message "
    "a Completed pipeline), so one pipeline per VM costs about 2 messages. The module's batch mode adds its "
    "preflight reads (VMs, checkpoints, volumes, disks, integration services, KVP, VHD chains) and the merge "
    "polls (at half the predicted time left); the after state is read back only for a diff.",
    "* Both playbooks run with `internal_poll_interval = %s` in ansible.cfg (docs/fleet.md, \"Sizing the "
    "controller\"). At ansible-core's default of 0.001 s the `ansible-playbook` process polls its workers 1000 "
    "times a second while a task runs: measured with 20 hosts each running a 40 s `command: sleep 40`, 9.1 CPU "
    "seconds at the default against 6.6 at 0.05 (about 6 %% of a core while waiting)." % INTERNAL_POLL_INTERVAL,
    "* Controller CPU of the ansible-playbook rows includes the fixed start-up of `ansible-playbook` itself "
    "(about 2 CPU seconds), which dominates the batched row at small sizes and is amortised at 50 VMs per host.",
]


if __name__ == "__main__":
    sys.exit(main())

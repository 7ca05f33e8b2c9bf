"""Load, build and persist hvsim labs.

``load_lab("demo")`` reads tests/hvsim/labs/demo.yaml; ``load_lab("fleet", hosts=H, vms_per_host=N)``
builds a generated lab; any other argument is a path to a YAML lab file. With ``state_dir`` the
lab is loaded from its saved state when one exists (a lab survives a restart) and every
mutation is saved atomically (``lab.save()`` saves on demand).

The lab file format is documented in docs/hvsim.md ("Lab format").
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import random
import tempfile
import threading
import typing as t
import uuid

import yaml

from hvsim.model import Lab, ManualClock, RealClock, default_integration  # noqa: F401  (re-export)
from hvsim.model import paths
from hvsim.model.objects import GiB, MiB, Guest, Host, VM, Volume

LABS_DIR = pathlib.Path(__file__).resolve().parent / "labs"
STATE_FILE = "{name}.state.json"

__all__ = ["Lab", "ManualClock", "RealClock", "build_lab", "generate_fleet", "load_lab", "LABS_DIR"]


def _ts(value: t.Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime.datetime):
        d = value
    else:
        d = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.timestamp()


def _state(value: t.Any, default: str = "Off") -> str:
    """YAML 1.1 reads a bare Off/On as a boolean; accept that for state fields."""
    if value is None:
        return default
    if value is False:
        return "Off"
    if value is True:
        return "On"
    return str(value)


def _bytes(spec: t.Mapping[str, t.Any], key: str, default: int) -> int:
    """``<key>`` in bytes, or ``<key>_gib`` / ``<key>_mib``."""
    if key in spec:
        return int(spec[key])
    if f"{key}_gib" in spec:
        return int(float(spec[f"{key}_gib"]) * GiB)
    if f"{key}_mib" in spec:
        return int(float(spec[f"{key}_mib"]) * MiB)
    return default


def _volume(spec: t.Mapping[str, t.Any], lab: Lab) -> Volume:
    root = paths.clean(spec["root"])
    if not paths.is_unc(root) and not root.endswith("\\"):
        root += "\\"
    return Volume(root=root, capacity=_bytes(spec, "capacity", 1024 * GiB), other_used=_bytes(spec, "used", 0),
                  label=str(spec.get("label", "")), file_system=str(spec.get("file_system", "NTFS")),
                  id=str(spec.get("id") or lab.new_guid()), allowed=list(spec.get("allowed", [])),
                  users=list(spec.get("users", ["Everyone"])))


def _kvp_defaults(vm_spec: t.Mapping[str, t.Any], name: str, domain: t.Optional[str]) -> t.Dict[str, str]:
    os_name = vm_spec.get("os", "windows")
    if os_name == "linux":
        # hv_kvp_daemon's intrinsic items: no ProductType (the role stays unknown, notes "Guest role").
        base = {"OSName": "Ubuntu", "OSVersion": "5.15.0-105-generic", "OSMajorVersion": "22",
                "OSMinorVersion": "04", "OSBuildNumber": "5.15.0-105-generic", "ProcessorArchitecture": "x86_64",
                "FullyQualifiedDomainName": name, "IntegrationServicesVersion": "3.1"}
    else:
        base = {"OSName": "Windows Server 2022 Datacenter", "OSVersion": "10.0.20348",
                "OSMajorVersion": "10", "OSMinorVersion": "0", "OSBuildNumber": "20348", "OSPlatformId": "2",
                "ProcessorArchitecture": "9", "ProductType": "3",
                "FullyQualifiedDomainName": f"{name}.{domain}" if domain else name,
                "IntegrationServicesVersion": "10.0.20348"}
    base.update({k: str(v) for k, v in (vm_spec.get("kvp") or {}).items()})
    return base


def build_lab(spec: t.Mapping[str, t.Any], *, clock: t.Any = None, time_scale: float = 0.0) -> Lab:
    """Build a Lab from a parsed lab file (dict)."""
    base_time = _ts(spec.get("base_time"), 1_790_000_000.0)
    # Build on a clock frozen at base_time (file times, default names) so that the same lab file
    # always gives the same digest; the real clock takes over afterwards.
    lab = Lab(str(spec.get("name", "lab")), str(spec.get("seed", spec.get("name", "lab"))),
              clock=ManualClock(base_time), time_scale=0.0)
    lab.switches.update(spec.get("switches") or {})
    lab.costs.update(spec.get("costs") or {})
    if spec.get("credentials"):
        lab.credentials = {"username": str(spec["credentials"]["username"]), "password": str(spec["credentials"]["password"])}
    for h in spec.get("hosts", []):
        host = Host(name=str(h["name"]), cluster=h.get("cluster"), domain=str(h.get("domain", "lab.local")),
                    throughput=int(h.get("throughput", int(float(h.get("throughput_mib", 200)) * MiB))),
                    concurrency=int(h.get("concurrency", 2)),
                    logical_processors=int(h.get("logical_processors", 32)),
                    memory_capacity=_bytes(h, "memory", 512 * GiB),
                    vm_path=paths.clean(h.get("vm_path", "D:\\Hyper-V")),
                    vhd_path=paths.clean(h.get("vhd_path", "D:\\Hyper-V\\Virtual Hard Disks")))
        host.volumes = [_volume(v, lab) for v in h.get("volumes", [{"root": "C:\\", "capacity_gib": 256, "used_gib": 40},
                                                                   {"root": "D:\\", "capacity_gib": 2048, "used_gib": 100}])]
        lab.add_host(host)
    for s in spec.get("shares", []):
        vol = _volume(s, lab)
        lab.shares[paths.key(vol.root)] = vol
    clusters = {c["name"]: c for c in spec.get("guest_clusters", [])}
    member_of = {m: c["name"] for c in clusters.values() for m in c.get("members", [])}
    for i, v in enumerate(spec.get("vms", [])):
        host = lab.hosts[str(v["host"])]
        name = str(v["name"])
        vm_id = str(v.get("id") or lab.new_guid()).lower()
        domain = v.get("domain", host.domain if v.get("os", "windows") == "windows" else None)
        os_name = v.get("os", "windows")
        vss = bool(v.get("vss", os_name == "windows"))
        ic = v.get("integration") or {}
        vm = VM(
            id=vm_id, name=name, host=host.name, state=_state(v.get("state")),
            generation=int(v.get("generation", 2)), version=str(v.get("version", "10.0")),
            memory_startup=_bytes(v, "memory", 4 * GiB), dynamic_memory=bool(v.get("dynamic_memory", False)),
            processor_count=int(v.get("processors", 2)), checkpoint_type=str(v.get("checkpoint_type", "Production")),
            automatic_checkpoints=bool(v.get("automatic_checkpoints", False)),
            path=paths.clean(v["path"]) if v.get("path") else "",
            snapshot_file_location=paths.clean(v["snapshot_file_location"]) if v.get("snapshot_file_location") else "",
            notes=str(v.get("notes", "")), is_clustered=bool(v.get("clustered", False)),
            replication_mode=str(v.get("replication_mode", "None")),
            replication_state=str(v.get("replication_state", "Replicating" if v.get("replication_mode", "None") != "None" else "Disabled")),
            replication_health=str(v.get("replication_health", "Normal" if v.get("replication_mode", "None") != "None" else "NotApplicable")),
            vfc=bool(v.get("vfc", False)),
            integration=default_integration(os_name, vss=vss, names=ic.get("names"), disabled=ic.get("disabled", ())),
            guest=Guest(os=os_name, vss=vss, domain=domain, cluster=v.get("guest_cluster") or member_of.get(name)),
            creation_time=_ts(v.get("created"), base_time - 86400 * 30),
            write_rate=_bytes(v, "write_rate", 2 * MiB),
        )
        vm.guest.kvp = _kvp_defaults(v, name, domain)
        for icname in ic.get("guest_broken", []):
            for svc in vm.integration:
                if svc.name == icname or svc.type_id == icname:
                    svc.guest_ok = False
        if vm.state in ("Running", "Paused"):
            vm.started_at = _ts(v.get("started"), base_time - 3600)
        disks = v.get("disks") or [{"size_gib": 60, "used_gib": 12}]
        lab.add_vm(vm, [{**d, "size": _bytes(d, "size", 60 * GiB), "file_size": _bytes(d, "used", 12 * GiB),
                         **({"path": d["path"]} if d.get("path") else {})} for d in disks])
        counter = [0]

        def seed(nodes: t.Sequence[t.Mapping[str, t.Any]], parent: t.Optional[str]) -> None:
            for node in nodes:
                repeat = int(node.get("repeat", 1))
                par = parent
                for r in range(repeat):
                    counter[0] += 1
                    nm = str(node["name"]).format(i=r + 1, n=counter[0]) if repeat > 1 else str(node["name"])
                    created = _ts(node.get("created"), base_time - 86400 * 20 + 3600 * counter[0]) + r * 3600 * float(node.get("every_hours", 24))
                    snap = lab.seed_snapshot(
                        vm, nm, snapshot_type=str(node.get("type", "Standard")),
                        state=_state(node.get("state"), None) if node.get("state") is not None else None,
                        kind=str(node.get("kind", "production" if vm.checkpoint_type in ("Production", "ProductionOnly") else "standard")),
                        automatic=bool(node.get("automatic", False)), creation_time=created,
                        parent=par if par != vm.parent_snapshot_id else None,
                        disk_bytes=_bytes(node, "disk", 256 * MiB))
                    if node.get("id"):
                        lab.snapshots[str(node["id"]).lower()] = lab.snapshots.pop(snap.id)
                        old = snap.id
                        snap.id = str(node["id"]).lower()
                        if vm.parent_snapshot_id == old:
                            vm.parent_snapshot_id = snap.id
                        for s2 in lab.snapshots.values():
                            if s2.parent_id == old:
                                s2.parent_id = snap.id
                    par = snap.id
                if node.get("children"):
                    seed(node["children"], par)

        seed(v.get("checkpoints") or [], None)
        if v.get("now"):
            target = [s for s in lab.snapshots_of(vm.id) if s.name == v["now"]]
            if len(target) != 1:
                raise ValueError(f"lab {lab.name}: VM {name}: 'now' must name exactly one checkpoint")
            if vm.parent_snapshot_id != target[0].id:
                vm.parent_snapshot_id = target[0].id
                lab._repoint_now(vm, target[0].id)
        if v.get("now_disk"):
            lab._grow(vm, _bytes(v, "now_disk", 0))
    for cname, c in clusters.items():
        members = [v.id for v in lab.vms.values() if v.guest.cluster == cname]
        lab.guest_clusters[cname] = {"id": str(c.get("id") or lab.new_guid()).lower(), "members": sorted(members)}
    for f in spec.get("faults", []) or []:
        params = dict(f)
        kind = params.pop("kind")
        lab.inject_fault(kind, **params)
    lab.clock = clock or RealClock()
    lab.time_scale = float(time_scale)
    lab.last_advance = None
    lab.last_growth = None
    return lab


def generate_fleet(hosts: int = 4, vms: int = 25, seed: int = 1, *, checkpoints_per_vm: int = 3) -> t.Dict[str, t.Any]:
    """A deterministic lab spec of ``hosts`` hosts x ``vms`` VMs per host (benchmarks)."""
    rnd = random.Random(seed)
    spec: t.Dict[str, t.Any] = {"name": f"fleet-{hosts}x{vms}", "seed": f"fleet-{hosts}x{vms}-{seed}",
                                "base_time": "2026-11-01T08:00:00Z", "hosts": [], "vms": []}
    types = ["Production", "Production", "Standard", "ProductionOnly"]
    states = ["Running", "Running", "Running", "Off", "Saved"]
    for h in range(hosts):
        hn = f"HVF{h + 1:03d}"
        spec["hosts"].append({"name": hn, "cluster": f"FLEETCLU{h // 8 + 1:02d}", "domain": "fleet.example",
                              "throughput_mib": 400, "concurrency": 2,
                              "volumes": [{"root": "C:\\", "capacity_gib": 256, "used_gib": 50, "label": "System"},
                                          {"root": "D:\\", "capacity_gib": 8192, "used_gib": 500, "label": "VMs"}]})
        for n in range(vms):
            vn = f"vm-{h + 1:03d}-{n + 1:04d}"
            ck = [{"name": f"fleet-{i + 1}", "disk_mib": rnd.randint(64, 2048)} for i in range(rnd.randint(0, checkpoints_per_vm))]
            nested: t.List[t.Dict[str, t.Any]] = []
            for node in reversed(ck):
                node = dict(node)
                if nested:
                    node["children"] = nested
                nested = [node]
            spec["vms"].append({
                "name": vn, "host": hn, "id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                "state": rnd.choice(states), "checkpoint_type": rnd.choice(types),
                "memory_gib": rnd.choice([2, 4, 8, 16]), "disks": [{"size_gib": rnd.choice([40, 60, 127]), "used_gib": rnd.randint(5, 30)}],
                "checkpoints": nested,
            })
    return spec


def _state_path(state_dir: str, name: str) -> pathlib.Path:
    return pathlib.Path(state_dir) / STATE_FILE.format(name=name)


def _state_json(lab: Lab) -> str:
    return json.dumps(lab.dump(), sort_keys=True, indent=None, separators=(",", ":"))


def _write_text(path: pathlib.Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class _Persister:
    """Atomic JSON writes (temp file + os.replace). With ``interval`` > 0 autosaves are batched:
    at most one write per interval (a timer flushes the last change); ``lab.save()`` writes at once.

    A batched flush takes the snapshot under the lab lock but writes and fsyncs outside it, so
    cmdlets on other hosts do not wait for the disk; snapshots are numbered under the lock and
    an older one never replaces a newer one on disk.
    """

    def __init__(self, path: pathlib.Path, interval: float) -> None:
        self.path = path
        self.interval = interval
        self._timer: t.Optional[threading.Timer] = None
        self._guard = threading.Lock()
        self._write_lock = threading.Lock()
        self._taken = 0  # snapshots numbered in lab-lock order
        self._written = 0

    def snapshot(self, lab: Lab) -> t.Tuple[int, str]:
        with lab.lock:  # re-entrant: mutations persist with the lab lock held
            self._taken += 1
            return self._taken, _state_json(lab)

    def write(self, seq: int, data: str) -> bool:
        """Write snapshot ``seq`` unless a newer one is on disk already; True when written."""
        with self._write_lock:
            if seq <= self._written:
                return False
            _write_text(self.path, data)
            self._written = seq
            return True

    def _flush(self, lab: Lab) -> None:
        with self._guard:
            self._timer = None
        self.write(*self.snapshot(lab))

    def __call__(self, lab: Lab, force: bool = False) -> None:
        if force or self.interval <= 0:
            with self._guard:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            self.write(*self.snapshot(lab))
            return
        with self._guard:
            if self._timer is None:
                self._timer = threading.Timer(self.interval, self._flush, args=(lab,))
                self._timer.daemon = True
                self._timer.start()


def load_lab(name_or_path: str, state_dir: t.Optional[str] = None, time_scale: float = 0.0, clock: t.Any = None,
             autosave_interval: t.Optional[float] = None, **params: t.Any) -> Lab:
    """Load a lab by name (``demo``, ``fleet``, any YAML under tests/hvsim/labs) or YAML path.

    ``fleet`` takes ``hosts``, ``vms_per_host`` (or ``vms``), ``seed`` and ``checkpoints_per_vm``.
    With ``state_dir``: a saved state there wins over the lab file; mutations autosave (at once for
    labs up to 200 VMs, else batched to one write per second; ``autosave_interval`` overrides).
    """
    clock = clock or RealClock()
    if name_or_path == "fleet":
        spec = generate_fleet(int(params.get("hosts", 4)), int(params.get("vms_per_host", params.get("vms", 25))),
                              int(params.get("seed", 1)), checkpoints_per_vm=int(params.get("checkpoints_per_vm", 3)))
    else:
        p = pathlib.Path(name_or_path)
        if not p.suffix and not p.exists():
            p = LABS_DIR / f"{name_or_path}.yaml"
        with open(p, encoding="utf-8") as fh:
            spec = yaml.safe_load(fh)
    lab_name = str(spec.get("name", "lab"))
    lab: t.Optional[Lab] = None
    if state_dir:
        sp = _state_path(state_dir, lab_name)
        if sp.exists():
            with open(sp, encoding="utf-8") as fh:
                lab = Lab.from_dump(json.load(fh), clock=clock, time_scale=time_scale)
    if lab is None:
        lab = build_lab(spec, clock=clock, time_scale=time_scale)
    if state_dir:
        lab.state_path = str(_state_path(state_dir, lab_name))
        if autosave_interval is None:
            autosave_interval = 0.0 if len(lab.vms) <= 200 else 1.0
        lab.persist = _Persister(_state_path(state_dir, lab_name), float(autosave_interval))
        if not os.path.exists(lab.state_path):
            lab.save()
    return lab


def main(argv: t.Optional[t.Sequence[str]] = None) -> int:
    """``python -m hvsim.lab fleet --hosts 4 --vms 25 [--seed 1]``: print a generated lab as YAML."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m hvsim.lab", description=main.__doc__)
    ap.add_argument("kind", choices=["fleet"])
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--vms", type=int, default=25, help="VMs per host")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--checkpoints-per-vm", type=int, default=3)
    args = ap.parse_args(argv)
    spec = generate_fleet(args.hosts, args.vms, args.seed, checkpoints_per_vm=args.checkpoints_per_vm)
    print(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

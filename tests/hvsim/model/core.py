"""The Hyper-V lab model: hosts, VMs, checkpoint trees, disk chains, time and faults.

Pure Python: no I/O (persistence goes through the ``persist`` callable that hvsim.lab injects),
an injectable clock, one re-entrant lock. Every public method takes the lock itself; methods
that model a duration release it while the clock sleeps (``_wait``).

Rules and their sources are listed in docs/hvsim.md; the comments name them briefly.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
import hashlib
import json
import threading
import typing as t
import uuid

from . import messages as M
from . import paths
from .clock import RealClock
from .errors import ModelError
from .objects import (
    GiB,
    IC_TYPES,
    KVP_TYPE,
    MiB,
    SHUTDOWN_TYPE,
    VSS_TYPE,
    Captured,
    Drive,
    Guest,
    Host,
    IntegrationService,
    MergeJob,
    Snapshot,
    VFile,
    VhdMeta,
    VM,
    Volume,
    from_plain,
    to_plain,
)
from .wildcard import has_wildcards, wildcard_match

STATE_FORMAT = 1

# Switches for behaviour that the references mark unverified (or on which sources disagree).
DEFAULT_SWITCHES: t.Dict[str, t.Any] = {
    # behaviour §3 / §16.5 / §17: VM state right after applying a checkpoint that holds memory.
    "apply_saved_checkpoint_state": "Saved",  # Saved | Running | Off
    # notes B Restore-VMSnapshot [R-DEC]: a VM that was Running and is Saved after apply is started.
    "restart_after_apply": True,
    # behaviour §6 / §17: duplicate checkpoint names accepted.
    "allow_duplicate_checkpoint_names": True,
    # behaviour §4 / §17: Remove-VMSnapshot returns before MergingDisks clears.
    "remove_returns_before_merge": True,
    # Tests: keep every merge in MergingDisks until release_merges() (time_scale 0 labs).
    "merge_hold": False,
    # behaviour §6 (PR #1110): cmdlets taking -VMName error when the name matches several VMs.
    "duplicate_vmname_policy": "error",  # error | all
    # behaviour §9 (KB) says checkpoints fail with pass-through disks; the seed article says
    # checkpoint creation ignores them.
    "passthrough_checkpoint": "fail",  # fail | ignore
    # A VHD Set (.vhds) can be checkpointed when the guest cluster meets the three preconditions of
    # behaviour section 9 (cluster service running, no VHDS as a CSV in the guest, shared disks online);
    # "unmet" makes the host refuse as KB error-back-up-vms-in-guest-cluster describes.
    "vhd_set_preconditions": "met",  # met | unmet
    # behaviour §12 / §17: whether checkpoints of Replica VMs can be created.
    "replica_checkpoints_allowed": False,
    # behaviour §13 / §17: export into a folder that already holds an export of the VM.
    "export_existing_folder": "fail",  # fail | overwrite
    # -ComputerName <other lab host> from a listener: a WinRM second hop without delegated
    # credentials is denied (allow: act on that host, as with CredSSP).
    "remote_computer_name": "deny",  # deny | allow
    # File cmdlets from a WinRM session on a UNC path are a second hop (model/files.py):
    # deny = no delegated credentials (NTLM, Kerberos without delegation); allow = CredSSP/delegation.
    "session_unc_access": "deny",  # deny | allow
    "max_checkpoints": 50,  # behaviour §6 (Plan)
    "max_checkpoint_name": 100,  # behaviour §6 (VD)
}

# Cost model (docs/hvsim.md "Cost model"). Seconds before time_scale.
DEFAULT_COSTS: t.Dict[str, float] = {
    "checkpoint_standard": 2.0,
    "checkpoint_production": 6.0,  # VSS quiesce in the guest
    "apply": 3.0,
    "start": 5.0,
    "shutdown": 10.0,
    "turnoff": 1.0,
    "save": 2.0,
    "suspend": 0.5,
    "resume": 0.5,
    "export": 2.0,
    "set": 0.0,
}
AVHDX_INITIAL = 4 * MiB  # a fresh differencing disk
GROWTH_STEP = 1.0  # clock seconds between applications of running guests' disk writes
CONFIG_SIZE = 64 * 1024  # .vmcx

TRANSITIONAL = {"Starting", "Stopping", "Saving", "Pausing", "Resuming", "Reset"}
BLOCKING_BUSY = {"CreatingSnapshot", "ApplyingSnapshot", "DeletingSnapshot"}
CHAIN_BUSY = {"MergingDisks", "ExportingVirtualMachine"}

FAULT_KINDS = (
    "disk_full", "vss_failure", "backup_lock", "slow_merge", "live_migration",
    "broken_chain", "vm_busy",
)


def _fmt_time_name(ts: float) -> str:
    """``M/d/yyyy - h:mm:ss tt`` (en-US), as in the observed default checkpoint name."""
    d = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
    h12 = d.hour % 12 or 12
    return f"{d.month}/{d.day}/{d.year} - {h12}:{d.minute:02d}:{d.second:02d} {'AM' if d.hour < 12 else 'PM'}"


def as_datetime(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(round(ts, 6), tz=datetime.timezone.utc)


class Op(t.NamedTuple):
    name: str
    vm_id: str
    duration: float  # seconds before time_scale; for a bulk operation its work (standalone duration)
    bulk: bool = False  # Checkpoint-VM, Restore-VMSnapshot, Export: takes one of the host's slots


@dataclasses.dataclass(eq=False)
class BulkJob:
    """A synchronous bulk operation in flight (transient: never persisted, not in the digest)."""

    host: str
    vm_id: str
    name: str
    work: float  # work-seconds: the standalone duration (docs/hvsim.md "Cost model")
    done: float
    started: float
    arrival: int = 0  # place in the host's slot queue (Lab.arrivals)


class Lab:
    """One simulated Hyper-V estate shared by every listener (one listener per host)."""

    def __init__(self, name: str = "lab", seed: str = "hvsim", clock: t.Any = None, time_scale: float = 0.0) -> None:
        self.name = name
        self.seed = seed
        self.clock = clock or RealClock()
        self.time_scale = float(time_scale)
        self.lock = threading.RLock()
        self.hosts: t.Dict[str, Host] = {}
        self.vms: t.Dict[str, VM] = {}
        self.snapshots: t.Dict[str, Snapshot] = {}
        self.shares: t.Dict[str, Volume] = {}
        self.merges: t.List[MergeJob] = []
        # Synchronous bulk operations in flight; they share the host slots with the merges.
        self.bulk_ops: t.List[BulkJob] = []
        # Arrival order of the slot queue (transient): bulk jobs carry theirs, merges by job id
        # (merges loaded from a state file have none and come first, in list order).
        self.arrivals = 0
        self.merge_arrival: t.Dict[str, int] = {}
        self.faults: t.List[t.Dict[str, t.Any]] = []
        self.switches: t.Dict[str, t.Any] = dict(DEFAULT_SWITCHES)
        # Guest clusters: name -> {"id": guid, "members": [vm ids]} (behaviour §9: ClusterId/members).
        self.guest_clusters: t.Dict[str, t.Dict[str, t.Any]] = {}
        self.costs: t.Dict[str, float] = dict(DEFAULT_COSTS)
        self.credentials: t.Dict[str, str] = {"username": "hvadmin", "password": "hvsim-Passw0rd!"}
        self.counter = 0
        self.seq = 0
        self.last_advance: t.Optional[float] = None
        self.last_growth: t.Optional[float] = None  # clock time up to which guest writes were applied
        self.state_path: t.Optional[str] = None
        self.persist: t.Optional[t.Callable[["Lab", bool], None]] = None  # (lab, force)
        # Test hooks: called (without the lock) while a timed operation is in flight.
        self.in_flight_hooks: t.List[t.Callable[[Op], None]] = []

    # ------------------------------------------------------------------ basics
    @property
    def host_names(self) -> t.List[str]:
        return list(self.hosts)

    def now(self) -> float:
        return self.clock.now()

    def new_guid(self) -> str:
        """Deterministic GUIDs (seed + counter) so a replayed run gives the same digest."""
        self.counter += 1
        h = hashlib.sha256(f"{self.seed}:{self.counter}".encode()).digest()[:16]
        return str(uuid.UUID(bytes=h, version=4))

    def _content(self, *parts: t.Any) -> str:
        return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()

    @contextlib.contextmanager
    def locked(self) -> t.Iterator["Lab"]:
        with self.lock:
            self._advance()
            yield self

    # ------------------------------------------------------------------ faults
    def inject_fault(self, kind: str, **params: t.Any) -> t.Dict[str, t.Any]:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self.locked():
            fault = {"kind": kind, **params}
            # Values may arrive as strings (CLI / control endpoint specs).
            for key, conv in (("after_calls", int), ("free_bytes", int), ("seconds", float)):
                if fault.get(key) is not None:
                    fault[key] = conv(fault[key])
            for key, unit in (("free_mib", MiB), ("free_gib", GiB)):
                if fault.get(key) is not None:
                    fault["free_bytes"] = int(float(fault.pop(key)) * unit)
            if isinstance(fault.get("hold"), str):
                fault["hold"] = fault["hold"].lower() in ("1", "true", "yes")
            if kind in ("vss_failure", "backup_lock", "slow_merge", "live_migration", "broken_chain", "vm_busy") and params.get("vm"):
                fault["vm_id"] = self._fault_vm_id(params["vm"], params.get("host"))
            if kind == "disk_full":
                fault.setdefault("host", None)  # None: every host (and shares)
                fault.setdefault("volume", None)  # None: every volume
                fault.setdefault("free_bytes", 0)
            if kind == "live_migration":
                fault.setdefault("after_calls", 0)
                fault.setdefault("to_host", None)
            self.faults.append(fault)
            if kind == "live_migration" and fault["after_calls"] <= 0:
                self._migrate(fault)
            if kind == "slow_merge":
                for job in self.merges:
                    self._apply_slow_fault(job)
            return fault

    def clear_faults(self, kind: t.Optional[str] = None) -> None:
        with self.locked():
            self.faults = [f for f in self.faults if kind is not None and f["kind"] != kind]
            for job in self.merges:
                job.held = False
                job.min_end = None
                self._apply_slow_fault(job)

    def _fault_vm_id(self, ref: str, host: t.Optional[str] = None) -> str:
        """A VM by Id, or by exact name (with ``host`` to pick one of several same-named VMs)."""
        if str(ref).lower() in self.vms:
            return str(ref).lower()
        hits = [v.id for v in self.vms.values() if v.name == ref and (host is None or v.host == host)]
        if len(hits) != 1:
            raise ValueError(f"fault target VM {ref!r} matches {len(hits)} VMs; use the VM Id")
        return hits[0]

    def _faults(self, kind: str, vm_id: t.Optional[str] = None) -> t.List[t.Dict[str, t.Any]]:
        out = []
        for f in self.faults:
            if f["kind"] != kind:
                continue
            if vm_id is not None and f.get("vm_id") not in (None, vm_id):
                continue
            out.append(f)
        return out

    def _applies(self, f: t.Dict[str, t.Any], vm: VM) -> bool:
        """A VM fault without ``vm`` applies to every VM (of ``host`` when given)."""
        if f.get("vm_id") is not None:
            return f["vm_id"] == vm.id
        return f.get("host") in (None, vm.host)

    def _vm_fault(self, kind: str, vm: VM) -> t.List[t.Dict[str, t.Any]]:
        return [f for f in self.faults if f["kind"] == kind and self._applies(f, vm)]

    def _migrate(self, fault: t.Dict[str, t.Any]) -> None:
        vm = self.vms.get(fault.get("vm_id") or "")
        fault["done"] = True
        if vm is None:
            return
        target = fault.get("to_host")
        source = self.hosts.get(vm.host)
        if target and target in self.hosts and source is not None:
            # Shared storage: the VM's files are reachable from the new owner (same paths).
            dest = self.hosts[target]
            mine = set(self._chain_files(vm))
            for s in self.snapshots_of(vm.id):
                for p in (s.config_file, s.state_file):
                    if p:
                        mine.add(paths.key(p))
            mine.add(paths.key(paths.join(vm.path, "Virtual Machines", f"{vm.id.upper()}.vmcx")))
            for vol in source.volumes:
                for k in [k for k in vol.files if k in mine]:
                    f = vol.files.pop(k)
                    dvol = self.volume_for(dest, f.path)
                    if dvol is not None:
                        dvol.files[k] = f
            for job in self.merges:
                if job.vm_id == vm.id:
                    job.host = target
            vm.host = target
        else:
            vm.host = ""  # gone from every listener of this lab

    # ------------------------------------------------------------------ time
    def _advance(self) -> None:
        """Bring background work (merges, disk growth, deferred faults) up to clock time."""
        now = self.now()
        last = self.last_advance if self.last_advance is not None else now
        self.last_advance = now
        grown = self.last_growth if self.last_growth is not None else last
        # Guest writes land in steps of at least GROWTH_STEP clock seconds (docs/hvsim.md section 4):
        # applying them at every lock would cost a pass over every running VM per cmdlet, which
        # made a 1000-VM fleet lab the bottleneck.
        if self.time_scale <= 0 or now < grown:
            self.last_growth = now  # nothing grows at time_scale 0; a clock set back starts a new step
        elif now - grown >= GROWTH_STEP:
            self.last_growth = now
            used: t.Dict[int, int] = {}  # volume usage, summed once per pass (not once per disk)
            for vm in self.vms.values():
                if vm.state == "Running" and vm.write_rate:
                    self._grow(vm, int(vm.write_rate * (now - grown)), used)
        else:
            self.last_growth = grown
        self._progress(last, now)

    def note_call(self) -> None:
        """Count one cmdlet invocation (deferred faults such as live_migration after_calls)."""
        with self.lock:
            for f in self.faults:
                if f["kind"] == "live_migration" and not f.get("done"):
                    f["after_calls"] -= 1
                    if f["after_calls"] < 0:
                        self._migrate(f)

    # Host slots (docs/hvsim.md "Cost model"): merges and synchronous bulk operations of a host form
    # one queue in arrival order; the first ``concurrency`` unfinished, un-held ones each progress at
    # full speed (1 work-second per time_scale clock seconds), the others wait for a slot.
    def _speed(self, host: t.Optional[Host]) -> float:
        """Work-seconds per clock second of an operation holding a slot."""
        if self.time_scale <= 0 or host is None:
            return float("inf")
        return 1.0 / self.time_scale

    @staticmethod
    def _work_left(item: t.Union[MergeJob, BulkJob], host: t.Optional[Host]) -> float:
        if isinstance(item, MergeJob):
            left = max(0.0, item.bytes_total - item.bytes_done)
            return left / host.throughput if host is not None else left  # no host: done at once (speed inf)
        return max(0.0, item.work - item.done)

    @staticmethod
    def _credit(item: t.Union[MergeJob, BulkJob], host: t.Optional[Host], work: float) -> None:
        if isinstance(item, MergeJob):
            if host is None or work == float("inf"):
                item.bytes_done = item.bytes_total
            else:
                item.bytes_done = min(float(item.bytes_total), item.bytes_done + work * host.throughput)
        else:
            item.done = min(item.work, item.done + work)

    @staticmethod
    def _complete(item: t.Union[MergeJob, BulkJob]) -> None:
        if isinstance(item, MergeJob):
            item.bytes_done = item.bytes_total
        else:
            item.done = item.work

    def _arrive(self) -> int:
        self.arrivals += 1
        return self.arrivals

    def _slot_queues(self) -> t.Dict[str, t.List[t.Union[MergeJob, BulkJob]]]:
        """Every host's merges and bulk jobs in arrival order (FIFO), hosts in order of first appearance.

        Built in one pass: a queue per host made by scanning every merge cost O(hosts x merges) at
        each lock of a fleet removal. Merges alone are already in arrival order (appended as they
        arrive; restored ones, without an arrival number, come first), so only bulk jobs need sorting in.
        """
        queues: t.Dict[str, t.List[t.Union[MergeJob, BulkJob]]] = {}
        for item in [*self.merges, *self.bulk_ops]:
            queues.setdefault(item.host, []).append(item)
        if self.bulk_ops:
            for items in queues.values():
                items.sort(key=self._arrival)
        return queues

    def _arrival(self, item: t.Union[MergeJob, BulkJob]) -> int:
        return item.arrival if isinstance(item, BulkJob) else self.merge_arrival.get(item.id, 0)

    def _running(self, items: t.Sequence[t.Union[MergeJob, BulkJob]], host: t.Optional[Host]
                 ) -> t.List[t.Union[MergeJob, BulkJob]]:
        """The operations holding a slot: the first ``concurrency`` unfinished, un-held ones."""
        cap = max(1, host.concurrency if host else 1)
        hold = self._hold()
        active: t.List[t.Union[MergeJob, BulkJob]] = []
        for i in items:
            if not (isinstance(i, MergeJob) and (i.held or hold)) and self._work_left(i, host) > 0:
                active.append(i)
                if len(active) == cap:
                    break
        return active

    def _progress(self, t0: float, t1: float) -> None:
        """Advance every host's slot queue from clock time t0 to t1, event by event; finish merges."""
        for host_name, items in self._slot_queues().items():
            host = self.hosts.get(host_name)
            speed = self._speed(host)
            # Work worth a microsecond of clock time counts as done (float clocks near 1.8e9 s
            # resolve about 2.4e-7 s), so a sleep of exactly the remaining time finishes the work.
            dust = 1e-6 * speed
            now = t0
            while True:
                running = self._running(items, host)
                if not running:
                    break
                if speed == float("inf"):
                    for i in running:
                        self._complete(i)
                    continue
                need = min(self._work_left(i, host) for i in running) / speed
                step = need if now + need <= t1 else max(0.0, t1 - now)
                for i in running:
                    self._credit(i, host, step * speed)
                    if self._work_left(i, host) <= dust:
                        self._complete(i)
                if step < need:
                    break
                now += need
            for job in [i for i in items if isinstance(i, MergeJob)]:
                if job.held or self._hold():
                    continue
                if job.bytes_done >= job.bytes_total and (job.min_end is None or job.min_end <= t1):
                    self._finish_merge(job)

    def _until_next_event(self, item: t.Union[MergeJob, BulkJob]) -> t.Optional[float]:
        """Clock seconds until ``item`` finishes (it holds a slot) or a slot of its host frees (it waits)."""
        host = self.hosts.get(item.host)
        speed = self._speed(host)
        if speed == float("inf"):
            return 0.0
        running = self._running(self._slot_queues().get(item.host, []), host)
        if item in running:
            return self._work_left(item, host) / speed
        if running:
            return min(self._work_left(i, host) for i in running) / speed
        return None  # held, or finished and waiting (slow_merge min_end)

    def _hold(self) -> bool:
        return bool(self.switches.get("merge_hold"))

    def release_merges(self) -> None:
        """Test hook: let held merges (switch ``merge_hold``) finish now."""
        with self.lock:
            self.switches["merge_hold"] = False
            self._advance()

    def _wait(self, op: Op) -> None:
        """Let a timed operation's duration pass, without holding the lock.

        A bulk operation (``op.bulk``) is a job in its host's slot queue: it waits for a slot, then
        its work (``op.duration``) passes at full speed (docs/hvsim.md "Cost model").
        """
        if not op.bulk or self.time_scale <= 0:
            for hook in list(self.in_flight_hooks):
                hook(op)
            delay = op.duration * self.time_scale
            if delay > 0:
                self.clock.sleep(delay)
            return
        with self.lock:
            self._advance()  # no credit for the time before it arrived
            vm = self.vms.get(op.vm_id)
            job = BulkJob(vm.host if vm else "", op.vm_id, op.name, max(0.0, op.duration), 0.0, self.now(),
                          self._arrive())
            self.bulk_ops.append(job)
        try:
            for hook in list(self.in_flight_hooks):
                hook(op)
            while True:
                with self.lock:
                    self._advance()
                    if job.done >= job.work:
                        break
                    delay = self._until_next_event(job)
                self.clock.sleep(max(delay or 0.0, 1e-3))
        finally:
            with self.lock:
                if job in self.bulk_ops:
                    self.bulk_ops.remove(job)

    # ------------------------------------------------------------------ files and volumes
    def volume_for(self, host: Host, path: str) -> t.Optional[Volume]:
        if paths.is_unc(path):
            root = paths.share_root(path)
            return self.shares.get(paths.key(root)) if root else None
        best = None
        for vol in host.volumes:
            if paths.under(path, vol.root) and (best is None or len(vol.root) > len(best.root)):
                best = vol
        return best

    def free_bytes(self, vol: Volume, host: t.Optional[Host] = None, used: t.Optional[int] = None) -> int:
        free = vol.capacity - (vol.used() if used is None else used)
        for f in self.faults:
            if f["kind"] != "disk_full":
                continue
            if host is not None and f.get("host") not in (None, host.name):
                continue
            target = f.get("volume")
            if target is None or paths.key(target) == paths.key(vol.root):
                free = min(free, int(f.get("free_bytes", 0)))
        return max(0, free)

    def find_file(self, host: Host, path: str) -> t.Optional[VFile]:
        vol = self.volume_for(host, path)
        return vol.files.get(paths.key(path)) if vol else None

    def _write(self, host: Host, f: VFile) -> None:
        if not f.mtime:
            f.mtime = self.now()
        vol = self.volume_for(host, f.path)
        if vol is None:
            raise ModelError("ObjectNotFound", M.EXPORT_PATH_NOT_FOUND.format("", f.path, ""), f.path)
        vol.files[paths.key(f.path)] = f

    def _delete(self, host: Host, path: t.Optional[str]) -> None:
        if not path:
            return
        vol = self.volume_for(host, path)
        if vol:
            vol.files.pop(paths.key(path), None)

    def _need_space(self, host: Host, needs: t.Dict[str, int], what: str, vm: VM) -> None:
        """Fail with the free-space numbers when a volume cannot take ``needs`` bytes."""
        per_vol: t.Dict[str, t.Tuple[Volume, int]] = {}
        for path, size in needs.items():
            vol = self.volume_for(host, path)
            if vol is None:
                continue
            k = paths.key(vol.root)
            per_vol[k] = (vol, per_vol.get(k, (vol, 0))[1] + size)
        for vol, size in per_vol.values():
            free = self.free_bytes(vol, host)
            if size > free:
                raise ModelError("OperationFailed", M.DISK_FULL.format(what, vm.name, vol.root, free, size, vm.id.upper()), vm.name)

    def _grow(self, vm: VM, nbytes: int, used: t.Optional[t.Dict[int, int]] = None) -> None:
        """The guest writes ``nbytes`` to each current disk, up to its size and the volume's room.

        ``used`` carries volume usage between calls of one clock advance (keyed by ``id(vol)``);
        it is kept exact by adding what this call writes.
        """
        used = {} if used is None else used
        host = self.hosts.get(vm.host)
        if host is None or nbytes <= 0:
            return
        for d in vm.drives:
            if d.path is None:
                continue
            f = self.find_file(host, d.path)
            if f is None or f.vhd is None:
                continue
            vol = self.volume_for(host, d.path)
            room = 0
            if vol is not None:
                if id(vol) not in used:
                    used[id(vol)] = vol.used()
                room = self.free_bytes(vol, host, used=used[id(vol)])
            limit = f.vhd.virtual_size if f.vhd.virtual_size else f.size + nbytes
            add = max(0, min(nbytes, limit - f.size, room))
            if add:
                if vol is not None:
                    used[id(vol)] += add
                f.size += add
                f.content = self._content(f.content, add)

    def simulate_writes(self, vm_ref: str, nbytes: int) -> None:
        """Test hook: the guest writes ``nbytes`` to each of its current disks."""
        with self.locked():
            self._grow(self.vms[self._fault_vm_id(vm_ref)], int(nbytes))

    # ------------------------------------------------------------------ lookups
    def vms_on(self, host: str) -> t.List[VM]:
        return sorted((v for v in self.vms.values() if v.host == host), key=lambda v: (v.name.lower(), v.id))

    def get_vm(self, host: str, vm_id: str) -> VM:
        vm = self.vms.get(str(vm_id).lower())
        if vm is None or vm.host != host:
            raise ModelError("ObjectNotFound", M.VM_NOT_FOUND_ID.format(vm_id), str(vm_id))
        return vm

    def find_vms(self, host: str, patterns: t.Optional[t.Sequence[str]], *, get_vm: bool = False
                 ) -> t.Tuple[t.List[VM], t.List[ModelError]]:
        """Resolve ``-Name``/``-VMName`` patterns (notes A.5: case-insensitive wildcards).

        A literal that matches nothing is an error (InvalidParameter on Get-VM, ObjectNotFound
        elsewhere); a wildcard that matches nothing is silent. A literal name shared by several
        VMs errors on every cmdlet except Get-VM (switch ``duplicate_vmname_policy``).
        """
        candidates = self.vms_on(host)
        if not patterns:
            return candidates, []
        found: t.List[VM] = []
        errors: t.List[ModelError] = []
        seen: t.Set[str] = set()
        for pat in patterns:
            hits = [v for v in candidates if wildcard_match(pat, v.name)]
            if not hits and not has_wildcards(pat):
                errors.append(ModelError("InvalidParameter" if get_vm else "ObjectNotFound", M.VM_NOT_FOUND_NAME.format(pat), pat))
                continue
            if (not get_vm and not has_wildcards(pat) and len(hits) > 1
                    and self.switches.get("duplicate_vmname_policy") == "error"):
                errors.append(ModelError("InvalidParameter", M.VM_NAME_AMBIGUOUS.format(pat), pat))
                continue
            for v in hits:
                if v.id not in seen:
                    seen.add(v.id)
                    found.append(v)
        found.sort(key=lambda v: (v.name.lower(), v.id))
        return found, errors

    def snapshots_of(self, vm_id: str) -> t.List[Snapshot]:
        return sorted((s for s in self.snapshots.values() if s.vm_id == vm_id), key=lambda s: (s.creation_time, s.seq))

    def get_snapshot(self, host: str, snap_id: str) -> Snapshot:
        s = self.snapshots.get(str(snap_id).lower())
        if s is None or self.vms.get(s.vm_id) is None or self.vms[s.vm_id].host != host:
            raise ModelError("ObjectNotFound", M.SNAPSHOT_NOT_FOUND, str(snap_id))
        return s

    def children_of(self, snap_id: str) -> t.List[Snapshot]:
        return sorted((s for s in self.snapshots.values() if s.parent_id == snap_id), key=lambda s: (s.creation_time, s.seq))

    def subtree(self, snap_id: str) -> t.List[Snapshot]:
        out = []
        stack = [snap_id]
        while stack:
            sid = stack.pop()
            out.append(self.snapshots[sid])
            stack.extend(c.id for c in self.children_of(sid))
        return out

    def match_snapshots(self, vm_id: str, name: t.Optional[t.Union[str, t.Sequence[str]]] = None,
                        snapshot_type: t.Optional[t.Sequence[str]] = None) -> t.List[Snapshot]:
        names = [name] if isinstance(name, str) else list(name or [])
        out = []
        for s in self.snapshots_of(vm_id):
            if names and not any(wildcard_match(n, s.name) for n in names):
                continue
            if snapshot_type and s.snapshot_type not in snapshot_type:
                continue
            out.append(s)
        return out

    def operational_status(self, vm: VM) -> t.List[str]:
        statuses = ["Ok"]
        extra = list(vm.busy)
        if any(j.vm_id == vm.id for j in self.merges):
            extra.append("MergingDisks")
        for f in self._vm_fault("backup_lock", vm):
            extra.append("BackingUpVirtualMachine")
        for f in self._vm_fault("vm_busy", vm):
            extra.append(f.get("status", "CreatingSnapshot"))
        seen = []
        for s in extra:
            if s not in seen:
                seen.append(s)
        return statuses + seen[:1] if seen else statuses

    def merge_progress(self, vm_id: str) -> t.Optional[int]:
        jobs = [j for j in self.merges if j.vm_id == vm_id]
        if not jobs:
            return None
        total = sum(j.bytes_total for j in jobs) or 1
        return int(100 * sum(j.bytes_done for j in jobs) / total)

    # ------------------------------------------------------------------ guards
    def _check_not_busy(self, vm: VM, what: str, *, chain: bool = False, error_id: str = "InvalidState",
                        message: str = M.INVALID_STATE_VM, allow_merging: bool = False) -> None:
        """InvalidState for a VM in a transitional state or with a blocking operation in flight.

        notes B Start-VM/Save-VM (InvalidState text), behaviour §5 (busy statuses), §16.8
        (backup lock -> ObjectInUse 0x80070020).
        """
        status = self.operational_status(vm)
        if "BackingUpVirtualMachine" in status:
            raise ModelError("ObjectInUse", M.OBJECT_IN_USE.format(what, vm.name, vm.id.upper()), vm.name)
        blocking = set(BLOCKING_BUSY) | {"32769"}
        if chain:
            blocking |= CHAIN_BUSY
            if allow_merging:
                blocking.discard("MergingDisks")
        if vm.state in TRANSITIONAL or blocking.intersection(status) or "ApplyingSnapshot" in status:
            raise ModelError(error_id, message, vm.name)

    def _still_here(self, vm: VM, host: str) -> None:
        """The VM live-migrated away while the operation was in flight (behaviour §11)."""
        if vm.host != host or vm.id not in self.vms:
            raise ModelError("ObjectNotFound", M.VM_NOT_FOUND_ID.format(vm.id), vm.id)

    def _check_chain(self, vm: VM, what: str) -> None:
        if self._vm_fault("broken_chain", vm):
            disk = next((d.path for d in vm.drives if d.path), vm.name)
            raise ModelError("OperationFailed", M.BROKEN_CHAIN.format(what, vm.name, disk, vm.id.upper()), vm.name)

    # ------------------------------------------------------------------ checkpoint
    def checkpoint(self, host: str, vm_id: str, name: t.Optional[str] = None, *, automatic: bool = False) -> Snapshot:
        """Checkpoint-VM (behaviour §1, §2, §6, §9, §16.3; notes B Checkpoint-VM)."""
        with self.locked():
            vm = self.get_vm(host, vm_id)
            plan = self._plan_checkpoint(vm, name, automatic)
            vm.busy.append("CreatingSnapshot")
            op = Op("Checkpoint-VM", vm.id, plan["duration"], bulk=True)
        try:
            self._wait(op)
        finally:
            with self.locked():
                if "CreatingSnapshot" in vm.busy:
                    vm.busy.remove("CreatingSnapshot")
        with self.locked():
            self._still_here(vm, host)
            snap = self._create_snapshot(vm, plan)
            self._save()
            return snap

    @staticmethod
    def _is_vhd_set(drive: t.Any) -> bool:
        return str(getattr(drive, "path", "") or "").lower().endswith(".vhds")

    def _plan_checkpoint(self, vm: VM, name: t.Optional[str], automatic: bool) -> t.Dict[str, t.Any]:
        host = self.hosts[vm.host]
        self._check_not_busy(vm, "Checkpoint operation", chain=True)
        max_len = int(self.switches["max_checkpoint_name"])
        if name is not None and (not name.strip() or len(name) > max_len):
            raise ModelError("InvalidParameter", M.CHECKPOINT_NAME_INVALID.format(name), name)
        if vm.checkpoint_type == "Disabled":
            raise ModelError("OperationFailed", M.CHECKPOINTS_DISABLED.format(vm.name, vm.id.upper()), vm.name)
        if vm.replication_mode in ("Replica", "TestReplica", "ExtendedReplica") and not self.switches["replica_checkpoints_allowed"]:
            raise ModelError("OperationFailed", M.REPLICA_CHECKPOINT.format(vm.name, vm.id.upper()), vm.name)
        reasons = []
        if any(d.passthrough for d in vm.drives):
            reasons.append("pass-through disks")
        if any(d.shared and not self._is_vhd_set(d) for d in vm.drives):
            reasons.append("shared virtual hard disks")
        if any(d.shared and self._is_vhd_set(d) for d in vm.drives) and self.switches["vhd_set_preconditions"] != "met":
            raise ModelError("OperationFailed", M.VHD_SET_PRECONDITIONS.format(vm.name, vm.id.upper()), vm.name)
        if vm.vfc:
            reasons.append("virtual Fibre Channel adapters")
        if reasons and not (reasons == ["pass-through disks"] and self.switches["passthrough_checkpoint"] == "ignore"):
            raise ModelError("OperationFailed", M.UNSUPPORTED_DISK.format(vm.name, vm.id.upper(), " and ".join(reasons)), vm.name)
        if len(self.snapshots_of(vm.id)) >= int(self.switches["max_checkpoints"]):
            raise ModelError("OperationFailed", M.CHECKPOINT_LIMIT.format(vm.name, vm.id.upper(), self.switches["max_checkpoints"]), vm.name)
        if name is not None and not self.switches["allow_duplicate_checkpoint_names"]:
            if any(s.name == name for s in self.snapshots_of(vm.id)):
                raise ModelError("InvalidParameter", M.CHECKPOINT_NAME_DUPLICATE.format(name, vm.name), name)
        self._check_chain(vm, "Checkpoint operation")

        # Type: behaviour §1 (fallback), §2 (State Saved/Off), notes B Set-VM -CheckpointType.
        kind = "standard"
        if vm.checkpoint_type in ("Production", "ProductionOnly"):
            reason = self._production_blocker(vm)
            if reason is None:
                kind = "production"
            elif vm.checkpoint_type == "ProductionOnly":
                raise ModelError("OperationFailed", M.PRODUCTION_FAILED.format(vm.name, vm.id.upper(), reason), vm.name)
        has_memory = kind == "standard" and vm.state in ("Running", "Paused", "Saved")
        state = "Saved" if has_memory else "Off"

        loc = vm.snapshot_file_location or vm.path
        needs: t.Dict[str, int] = {}
        for d in vm.drives:
            if d.path and not d.passthrough:
                needs[d.path] = needs.get(d.path, 0) + AVHDX_INITIAL
        cfg = paths.join(loc, "Snapshots", "x.vmcx")
        needs[cfg] = needs.get(cfg, 0) + CONFIG_SIZE + (vm.memory_startup if has_memory else 0)
        self._need_space(host, needs, "Checkpoint operation", vm)

        overhead = self.costs["checkpoint_production" if kind == "production" else "checkpoint_standard"]
        duration = overhead + ((vm.memory_startup / host.throughput) if has_memory else 0.0)  # work-seconds
        now = self.now()
        if name is None:
            base = f"{vm.name} - ({_fmt_time_name(now)})"
            name = f"Automatic Checkpoint - {base}" if automatic else base
        return {"kind": kind, "state": state, "name": name, "automatic": automatic, "duration": duration,
                "time": now, "has_memory": has_memory, "location": loc}

    def _production_blocker(self, vm: VM) -> t.Optional[str]:
        """Why the guest cannot take a production checkpoint now (None: it can).

        behaviour §1: needs the "Backup (volume shadow copy)" integration service, on Linux
        hv_vss_daemon; VSS off in the guest breaks it. An Off VM needs no guest.
        """
        if vm.state == "Off":
            return None
        if vm.state != "Running":
            return M.VSS_REASON_NOT_RUNNING
        vss = next((ic for ic in vm.integration if ic.type_id.upper() == VSS_TYPE), None)
        if vss is None or not vss.enabled:
            return M.VSS_REASON_SERVICE_OFF
        if not vss.guest_ok or not vm.guest.vss:
            return M.VSS_REASON_GUEST
        if self._vm_fault("vss_failure", vm):
            return M.VSS_REASON_WRITER
        return None

    def _create_snapshot(self, vm: VM, plan: t.Dict[str, t.Any]) -> Snapshot:
        host = self.hosts[vm.host]
        sid = self.new_guid()
        self.seq += 1
        frozen: t.Dict[str, t.Optional[str]] = {}
        for d in vm.drives:
            # A VHD Set keeps its own snapshot data inside the .vhds set (not modelled): the drive
            # stays on the .vhds and no .avhdx is created for it.
            if d.passthrough or not d.path or self._is_vhd_set(d):
                frozen[d.id] = None
                continue
            parent = self.find_file(host, d.path)
            frozen[d.id] = d.path
            new_path = paths.join(paths.dirname(d.base_path or d.path), f"{paths.stem(d.base_path or d.path)}_{sid.upper()}.avhdx")
            vsize = parent.vhd.virtual_size if parent and parent.vhd else 0
            fmt = parent.vhd.vhd_format if parent and parent.vhd else "VHDX"
            self._write(host, VFile(new_path, AVHDX_INITIAL, self._content("avhdx", new_path), "vhd",
                                    VhdMeta(fmt, "Differencing", vsize, d.path, self.new_guid().upper())))
            d.path = new_path
        loc = plan["location"]
        cfg = paths.join(loc, "Snapshots", f"{sid.upper()}.vmcx")
        self._write(host, VFile(cfg, CONFIG_SIZE, self._content("vmcx", sid), "config"))
        state_file = None
        if plan["has_memory"]:
            state_file = paths.join(loc, "Snapshots", f"{sid.upper()}.vmrs")
            self._write(host, VFile(state_file, vm.memory_startup, self._content("vmrs", sid), "state"))
        snap = Snapshot(
            id=sid, name=plan["name"], vm_id=vm.id, parent_id=vm.parent_snapshot_id,
            creation_time=plan["time"], seq=self.seq, snapshot_type="Standard",
            is_automatic=plan["automatic"], state=plan["state"], kind=plan["kind"], path=loc,
            captured=Captured(vm.state if vm.state in ("Running", "Paused", "Saved") else "Off",
                              vm.memory_startup, vm.processor_count, vm.dynamic_memory, vm.notes),
            disk_files=frozen, config_file=cfg, state_file=state_file,
        )
        self.snapshots[sid] = snap
        vm.parent_snapshot_id = sid
        return snap

    def seed_snapshot(self, vm: VM, name: str, *, snapshot_type: str = "Standard", state: t.Optional[str] = None,
                      kind: str = "standard", automatic: bool = False, creation_time: t.Optional[float] = None,
                      parent: t.Optional[str] = None, disk_bytes: int = 0) -> Snapshot:
        """Lab loading: add a checkpoint as if it had been taken earlier (any SnapshotType)."""
        if parent is not None:
            vm.parent_snapshot_id = parent
            self._repoint_now(vm, parent)
        plan = {"kind": kind, "state": state or ("Saved" if kind == "standard" and vm.state != "Off" else "Off"),
                "name": name, "automatic": automatic, "duration": 0.0,
                "time": creation_time if creation_time is not None else self.now(),
                "location": vm.snapshot_file_location or vm.path}
        plan["has_memory"] = plan["state"] == "Saved"
        snap = self._create_snapshot(vm, plan)
        snap.snapshot_type = snapshot_type
        if disk_bytes:
            self._grow(vm, disk_bytes)
        return snap

    def _repoint_now(self, vm: VM, snap_id: str) -> None:
        """Make the VM's current disks fresh children of the checkpoint's frozen files (apply)."""
        host = self.hosts[vm.host]
        snap = self.snapshots[snap_id]
        for d in vm.drives:
            frozen = snap.disk_files.get(d.id)
            if not frozen:
                continue
            parent = self.find_file(host, frozen)
            new_path = paths.join(paths.dirname(d.base_path or frozen), f"{paths.stem(d.base_path or frozen)}_{self.new_guid().upper()}.avhdx")
            vsize = parent.vhd.virtual_size if parent and parent.vhd else 0
            self._write(host, VFile(new_path, AVHDX_INITIAL, self._content("avhdx", new_path), "vhd",
                                    VhdMeta("VHDX", "Differencing", vsize, frozen, self.new_guid().upper())))
            d.path = new_path
        self._collect(vm, execute=True)

    # ------------------------------------------------------------------ disk chain GC / merge
    def _refs(self, vm: VM) -> t.Set[str]:
        refs = set()
        for d in vm.drives:
            if d.path:
                refs.add(paths.key(d.path))
        for s in self.snapshots_of(vm.id):
            for p in s.disk_files.values():
                if p:
                    refs.add(paths.key(p))
        return refs

    def _chain_files(self, vm: VM) -> t.Dict[str, VFile]:
        """Every disk file of the VM's chains (base + avhdx), keyed by path key."""
        host = self.hosts.get(vm.host)
        out: t.Dict[str, VFile] = {}
        if host is None:
            return out
        bases = {paths.key(d.base_path) for d in vm.drives if d.base_path}
        for vol in host.volumes:
            for k, f in vol.files.items():
                if f.vhd is None:
                    continue
                if k in bases:
                    out[k] = f
        changed = True
        while changed:
            changed = False
            for vol in host.volumes:
                for k, f in vol.files.items():
                    if k not in out and f.vhd and f.vhd.parent_path and paths.key(f.vhd.parent_path) in out:
                        out[k] = f
                        changed = True
        return out

    def _collect(self, vm: VM, *, execute: bool) -> int:
        """Merge plan for the VM's chains; returns the bytes a merge has to move.

        An .avhdx that no checkpoint and no drive references is either deleted (no children,
        e.g. the discarded "Now" disk after apply) or has its single child merged into it
        (the bytes of the child are added to it and the child file disappears; references move
        to the merged file). behaviour §4 / CKPT: "Hyper-V merges the .avhdx and .vhdx files".
        With ``execute`` false only the byte count is computed.
        """
        host = self.hosts.get(vm.host)
        if host is None:
            return 0
        files = self._chain_files(vm) if execute else {k: copy.copy(f) for k, f in self._chain_files(vm).items()}
        refs = self._refs(vm)
        moved = 0
        changed = True
        while changed:
            changed = False
            for k in list(files):
                f = files.get(k)
                if f is None or k in refs:
                    continue
                kids = [ck for ck, cf in files.items() if cf.vhd and cf.vhd.parent_path and paths.key(cf.vhd.parent_path) == k]
                if not kids:
                    if f.vhd and f.vhd.vhd_type == "Differencing":
                        del files[k]
                        if execute:
                            self._delete(host, f.path)
                        changed = True
                    continue
                if len(kids) != 1:
                    continue
                ck = kids[0]
                child = files[ck]
                moved += child.size
                limit = f.vhd.virtual_size if f.vhd and f.vhd.virtual_size else f.size + child.size
                f.size = min(limit, f.size + child.size)
                if execute:
                    f.content = self._content(f.content, child.content)
                for gf in files.values():
                    if gf.vhd and gf.vhd.parent_path and paths.key(gf.vhd.parent_path) == ck:
                        if not execute:
                            gf.vhd = copy.copy(gf.vhd)
                        gf.vhd.parent_path = f.path
                if execute:
                    for d in vm.drives:
                        if d.path and paths.key(d.path) == ck:
                            d.path = f.path
                    for s in self.snapshots_of(vm.id):
                        for did, p in list(s.disk_files.items()):
                            if p and paths.key(p) == ck:
                                s.disk_files[did] = f.path
                    self._delete(host, child.path)
                del files[ck]
                if ck in refs:
                    refs.discard(ck)
                    refs.add(k)
                changed = True
        return moved

    def _start_merge(self, vm: VM) -> t.Optional[MergeJob]:
        nbytes = self._collect(vm, execute=False)
        job = MergeJob(self.new_guid(), vm.host, vm.id, nbytes, 0.0, self.now())
        self._apply_slow_fault(job)
        self.merges.append(job)
        self.merge_arrival[job.id] = self._arrive()
        self._progress(self.now(), self.now())
        return job

    def _apply_slow_fault(self, job: MergeJob) -> None:
        for f in self.faults:
            if f["kind"] != "slow_merge":
                continue
            if f.get("vm_id") not in (None, job.vm_id) or f.get("host") not in (None, job.host):
                continue
            if f.get("hold"):
                job.held = True
            else:
                job.min_end = job.started + float(f.get("seconds", 600))

    def _finish_merge(self, job: MergeJob) -> None:
        if job in self.merges:
            self.merges.remove(job)
        self.merge_arrival.pop(job.id, None)
        vm = self.vms.get(job.vm_id)
        if vm is not None and vm.host in self.hosts:
            self._collect(vm, execute=True)

    # ------------------------------------------------------------------ remove
    def remove_snapshots(self, host: str, snap_ids: t.Sequence[str], include_children: bool = False) -> t.List[Snapshot]:
        """Remove-VMSnapshot: delete = merge (behaviour §4, §16.4; notes B Remove-VMSnapshot)."""
        removed: t.List[Snapshot] = []
        wait_jobs: t.List[MergeJob] = []
        with self.locked():
            snaps = [self.get_snapshot(host, sid) for sid in snap_ids]
            by_vm: t.Dict[str, t.List[Snapshot]] = {}
            for s in snaps:
                by_vm.setdefault(s.vm_id, []).append(s)
            for vm_id, group in by_vm.items():
                vm = self.vms[vm_id]
                # Deleting while a merge runs queues another merge (PSD Remove-VMSnapshot Example 2 pipes
                # every checkpoint into Remove-VMSnapshot, one invocation per checkpoint).
                self._check_not_busy(vm, "Checkpoint deletion", chain=True, allow_merging=True)
                self._check_chain(vm, "Checkpoint deletion")
                targets: t.List[Snapshot] = []
                for s in group:
                    for x in (self.subtree(s.id) if include_children else [s]):
                        if x not in targets:
                            targets.append(x)
                backup = {s.id: copy.deepcopy(s) for s in self.snapshots_of(vm_id)}
                parent_before = vm.parent_snapshot_id
                for s in targets:
                    self._unlink(vm, s)
                nbytes = self._collect(vm, execute=False)
                try:
                    first = next((d.base_path for d in vm.drives if d.base_path), None)
                    if nbytes and first:
                        # The merge writes the child's bytes into the parent before the child goes.
                        self._need_space(self.hosts[vm.host], {first: nbytes}, "Checkpoint merge", vm)
                except ModelError:
                    for sid, s in backup.items():
                        self.snapshots[sid] = s
                    vm.parent_snapshot_id = parent_before
                    raise
                for s in targets:
                    self._delete(self.hosts[vm.host], s.config_file)
                    self._delete(self.hosts[vm.host], s.state_file)
                removed.extend(targets)
                wait_jobs.append(self._start_merge(vm))
            self._save()
        if not self.switches.get("remove_returns_before_merge", True):
            for job in wait_jobs:
                self._wait_merge(job)
        return removed

    def _wait_merge(self, job: MergeJob, step: float = 0.05) -> None:
        while True:
            with self.locked():
                if job not in self.merges:
                    return
                delay = self._until_next_event(job) if self.time_scale > 0 else None
            self.clock.sleep(max(step, delay or 0.0))

    def _unlink(self, vm: VM, s: Snapshot) -> None:
        """Drop one checkpoint from the tree: children and the VM re-parent onto its parent."""
        for c in self.children_of(s.id):
            c.parent_id = s.parent_id
        if vm.parent_snapshot_id == s.id:
            vm.parent_snapshot_id = s.parent_id
        del self.snapshots[s.id]

    # ------------------------------------------------------------------ restore
    def restore(self, host: str, snap_id: str) -> Snapshot:
        """Restore-VMSnapshot (behaviour §3, §16.5; notes B Restore-VMSnapshot)."""
        with self.locked():
            snap = self.get_snapshot(host, snap_id)
            vm = self.vms[snap.vm_id]
            self._check_not_busy(vm, "Apply checkpoint", chain=True)
            self._check_chain(vm, "Apply checkpoint")
            was = vm.state
            if was in ("Running", "Paused"):
                # "If the VM is Running or Paused it is first saved, then the checkpoint is applied."
                vm.state = "Saved"
                vm.started_at = None
            hostobj = self.hosts[vm.host]
            vm.busy.append("32769")  # ApplyingSnapshot (module enum typo: unnamed value)
            duration = self.costs["apply"] + (snap.captured.memory_startup / hostobj.throughput if snap.state == "Saved" else 0.0)
            if was in ("Running", "Paused"):
                duration += self.costs["save"] + vm.memory_startup / hostobj.throughput
            op = Op("Restore-VMSnapshot", vm.id, duration, bulk=True)
        try:
            self._wait(op)
        finally:
            with self.locked():
                if "32769" in vm.busy:
                    vm.busy.remove("32769")
        with self.locked():
            self._still_here(vm, host)
            if snap.id not in self.snapshots:
                raise ModelError("ObjectNotFound", M.SNAPSHOT_NOT_FOUND, snap.name)
            # The current state is discarded (behaviour §3, WMI ApplyVirtualSystemSnapshot).
            vm.memory_startup = snap.captured.memory_startup
            vm.processor_count = snap.captured.processor_count
            vm.dynamic_memory = snap.captured.dynamic_memory
            vm.notes = snap.captured.notes
            vm.parent_snapshot_id = snap.id
            self._repoint_now(vm, snap.id)
            if snap.state == "Saved":
                vm.state = str(self.switches["apply_saved_checkpoint_state"])
            else:
                vm.state = "Off"  # production / offline checkpoint: "the virtual machine is in an off state"
            if was == "Running" and vm.state == "Saved" and self.switches["restart_after_apply"]:
                vm.state = "Running"
            vm.started_at = self.now() if vm.state == "Running" else None
            self._save()
            return snap

    # ------------------------------------------------------------------ rename
    def rename_snapshot(self, host: str, snap_id: str, new_name: str) -> Snapshot:
        """Rename-VMSnapshot (notes B: 100 characters max, not blank)."""
        with self.locked():
            snap = self.get_snapshot(host, snap_id)
            max_len = int(self.switches["max_checkpoint_name"])
            if not new_name.strip() or len(new_name) > max_len:
                raise ModelError("InvalidParameter", M.CHECKPOINT_NAME_INVALID.format(new_name), new_name)
            vm = self.vms[snap.vm_id]
            self._check_not_busy(vm, "Rename checkpoint")
            if not self.switches["allow_duplicate_checkpoint_names"] and any(
                    s.name == new_name and s.id != snap.id for s in self.snapshots_of(vm.id)):
                raise ModelError("InvalidParameter", M.CHECKPOINT_NAME_DUPLICATE.format(new_name, vm.name), new_name)
            snap.name = new_name
            self._save()
            return snap

    # ------------------------------------------------------------------ Set-VM
    def set_vm(self, host: str, vm_id: str, changes: t.Dict[str, t.Any], *, allow_unverified_paths: bool = False) -> VM:
        """Set-VM (behaviour §1, §8; notes B Set-VM). ``changes`` maps model field names."""
        with self.locked():
            vm = self.get_vm(host, vm_id)
            self._check_not_busy(vm, "Modify virtual machine", message=M.INVALID_STATE_OBJECT)
            if "snapshot_file_location" in changes:
                loc = str(changes["snapshot_file_location"])
                if paths.key(loc) != paths.key(vm.snapshot_file_location or ""):
                    if self.snapshots_of(vm.id):
                        raise ModelError("InvalidOperation", M.SNAPSHOT_LOCATION_HAS_CHECKPOINTS.format(vm.name, vm.id.upper()), loc)
                    if paths.is_root(loc):
                        raise ModelError("InvalidParameter", M.SNAPSHOT_LOCATION_ROOT.format(vm.name, loc, vm.id.upper()), loc)
                    if any(j.vm_id == vm.id for j in self.merges):
                        raise ModelError("InvalidState", M.INVALID_STATE_OBJECT, vm.name)
                    if vm.is_clustered and not allow_unverified_paths and not paths.is_unc(loc) and "clusterstorage" not in paths.key(loc):
                        raise ModelError("InvalidParameter", M.CLUSTER_PATH_UNVERIFIED.format(loc), loc)
                changes["snapshot_file_location"] = paths.clean(loc)
            if "smart_paging_path" in changes:
                changes["smart_paging_path"] = paths.clean(str(changes["smart_paging_path"]))
            if changes.get("_dynamic") and changes.get("_static"):
                raise ModelError("InvalidParameter", M.DYNAMIC_STATIC_MEMORY, vm.name)
            if ("memory_minimum" in changes or "memory_maximum" in changes) and not (vm.dynamic_memory or changes.get("_dynamic")):
                raise ModelError("InvalidParameter", M.DYNAMIC_STATIC_MEMORY, vm.name)
            if changes.pop("_dynamic", False):
                vm.dynamic_memory = True
            if changes.pop("_static", False):
                vm.dynamic_memory = False
            if "memory_startup" in changes and vm.state not in ("Off",) and not vm.dynamic_memory:
                raise ModelError("InvalidState", M.INVALID_STATE_OBJECT, vm.name)
            if "processor_count" in changes and vm.state != "Off":
                raise ModelError("InvalidState", M.INVALID_STATE_OBJECT, vm.name)
            for k, v in changes.items():
                if not hasattr(vm, k):
                    raise KeyError(k)
                setattr(vm, k, v)
            self._save()
            return vm

    # ------------------------------------------------------------------ power state
    def _state_op(self, vm: VM, transitional: t.Optional[str], final: str, duration: float, name: str) -> None:
        """Set the transitional state, let the duration pass without the lock, then the final state.

        The caller holds the lock once (``with self.locked()``); it is released while sleeping.
        """
        if transitional:
            vm.state = transitional
        op = Op(name, vm.id, duration)
        self.lock.release()
        try:
            self._wait(op)
        finally:
            self.lock.acquire()
            self._advance()
        if vm.state == transitional or transitional is None:
            vm.state = final
        # else: another thread changed the state meanwhile (e.g. a migration); keep theirs
        vm.started_at = (vm.started_at or self.now()) if final == "Running" else None

    def start_vm(self, host: str, vm_id: str) -> t.Tuple[VM, t.List[str]]:
        """Start-VM (notes B Start-VM [R-DEC]): allowed from Off/Saved/Paused/FastSaved/Hibernated."""
        warnings: t.List[str] = []
        with self.locked():
            vm = self.get_vm(host, vm_id)
            if vm.state == "Running":
                return vm, [M.ALREADY_IN_STATE]
            self._check_not_busy(vm, "Start")
            if vm.state not in ("Off", "Saved", "Paused", "FastSaved", "Hibernated"):
                raise ModelError("InvalidState", M.INVALID_STATE_VM, vm.name)
            if vm.state == "Paused":
                warnings.append(M.START_PAUSED.format(vm.name))
            auto = (vm.state == "Off" and vm.automatic_checkpoints and vm.checkpoint_type != "Disabled"
                    and not self.snapshots_of(vm.id))
        if auto:
            # "Off, with AutomaticCheckpointsEnabled true and no existing checkpoint: Start-VM
            # first takes an automatic checkpoint" (notes B Start-VM [R-DEC]).
            self.checkpoint(host, vm.id, None, automatic=True)
        with self.locked():
            hostobj = self.hosts[vm.host]
            prev = vm.state
            duration = self.costs["resume"] if prev == "Paused" else self.costs["start"] + (
                vm.memory_startup / hostobj.throughput if prev == "Saved" else 0.0)
            self._state_op(vm, "Resuming" if prev == "Paused" else "Starting", "Running", duration, "Start-VM")
            if prev == "Off":
                vm.started_at = self.now()
            self._save()
            return vm, warnings

    def stop_vm(self, host: str, vm_id: str, *, save: bool = False, turn_off: bool = False, force: bool = False
                ) -> t.Tuple[VM, t.List[str]]:
        """Stop-VM (notes B Stop-VM [doc PS] + [R-DEC])."""
        if save and turn_off:
            raise ModelError("InvalidParameter", M.SAVE_TURNOFF_EXCLUSIVE, None)
        if save:
            return self.save_vm(host, vm_id)
        with self.locked():
            vm = self.get_vm(host, vm_id)
            if vm.state == "Off":
                return vm, [M.ALREADY_IN_STATE]
            self._check_not_busy(vm, "Stop")
            if turn_off:
                if vm.state not in ("Running", "Paused", "Saved", "FastSaved"):
                    raise ModelError("InvalidState", M.INVALID_STATE_VM, vm.name)
                self._state_op(vm, "Stopping", "Off", self.costs["turnoff"], "Stop-VM")
            else:
                if vm.state != "Running":
                    raise ModelError("InvalidState", M.INVALID_STATE_VM, vm.name)
                sd = next((ic for ic in vm.integration if ic.type_id.upper() == SHUTDOWN_TYPE), None)
                usable = sd is not None and sd.enabled and sd.guest_ok
                if not usable and not force:
                    raise ModelError("OperationFailed", M.SHUTDOWN_UNAVAILABLE.format(vm.name), vm.name)
                cost = self.costs["shutdown"] if usable else self.costs["turnoff"]
                self._state_op(vm, "Stopping", "Off", cost, "Stop-VM")
            # "After a successful shutdown or turn-off, Stop-VM deletes the VM's parent checkpoint
            # if it is an automatic checkpoint" (notes B Stop-VM [R-DEC]).
            parent = self.snapshots.get(vm.parent_snapshot_id or "")
            if parent is not None and parent.is_automatic:
                self._unlink(vm, parent)
                self._delete(self.hosts[vm.host], parent.config_file)
                self._delete(self.hosts[vm.host], parent.state_file)
                self._start_merge(vm)
            self._save()
            return vm, []

    def save_vm(self, host: str, vm_id: str) -> t.Tuple[VM, t.List[str]]:
        with self.locked():
            vm = self.get_vm(host, vm_id)
            if vm.state == "Saved":
                return vm, [M.ALREADY_IN_STATE]
            self._check_not_busy(vm, "Save")
            if vm.state not in ("Running", "Paused"):
                raise ModelError("InvalidState", M.INVALID_STATE_VM, vm.name)
            hostobj = self.hosts[vm.host]
            self._state_op(vm, "Saving", "Saved", self.costs["save"] + vm.memory_startup / hostobj.throughput, "Save-VM")
            self._save()
            return vm, []

    def suspend_vm(self, host: str, vm_id: str) -> t.Tuple[VM, t.List[str]]:
        with self.locked():
            vm = self.get_vm(host, vm_id)
            if vm.state == "Paused":
                return vm, [M.ALREADY_IN_STATE]
            self._check_not_busy(vm, "Pause")
            if vm.state != "Running":
                raise ModelError("InvalidState", M.INVALID_STATE_VM, vm.name)
            started = vm.started_at
            self._state_op(vm, "Pausing", "Paused", self.costs["suspend"], "Suspend-VM")
            vm.started_at = started
            self._save()
            return vm, []

    def resume_vm(self, host: str, vm_id: str) -> t.Tuple[VM, t.List[str]]:
        with self.locked():
            vm = self.get_vm(host, vm_id)
            if vm.state == "Running":
                return vm, [M.ALREADY_IN_STATE]
            self._check_not_busy(vm, "Resume")
            if vm.state != "Paused":
                raise ModelError("InvalidState", M.INVALID_STATE_VM, vm.name)
            started = vm.started_at
            self._state_op(vm, "Resuming", "Running", self.costs["resume"], "Resume-VM")
            vm.started_at = started or self.now()
            self._save()
            return vm, []

    # ------------------------------------------------------------------ integration services
    def set_integration(self, host: str, vm_id: str, type_ids: t.Sequence[str], enabled: bool) -> t.List[IntegrationService]:
        with self.locked():
            vm = self.get_vm(host, vm_id)
            out = []
            for ic in vm.integration:
                if ic.type_id in type_ids:
                    ic.enabled = enabled
                    out.append(ic)
            self._save()
            return out

    # ------------------------------------------------------------------ export
    def _export_target(self, host: Host, path: str, vm: VM) -> Volume:
        if not paths.is_absolute(path):
            raise ModelError("InvalidParameter", M.EXPORT_PATH_NOT_FOUND.format(vm.name, path, vm.id.upper()), path)
        vol = self.volume_for(host, path)
        if vol is None:
            raise ModelError("ObjectNotFound", M.EXPORT_PATH_NOT_FOUND.format(vm.name, path, vm.id.upper()), path)
        if paths.is_unc(path):
            account = f"{host.domain.split('.')[0].upper()}\\{host.name.upper()}$"
            allowed = {a.lower() for a in vol.allowed}
            if not ({account.lower(), host.name.lower(), f"{host.name.lower()}$", "everyone"} & allowed):
                raise ModelError("AccessDenied", M.EXPORT_ACCESS_DENIED.format(vm.name, paths.join(path, vm.name), account, vm.id.upper()), path)
        return vol

    def _export_files(self, vm: VM, host: Host, snap: t.Optional[Snapshot], capture: str) -> t.List[VFile]:
        """The files an export writes, relative names under ``<Path>\\<VMName>``.

        Layout per notes B Export-VM ("Snapshots, Virtual Hard Disks, and Virtual Machines") and
        Export-VMSnapshot (subdirectory named after the VM; differencing disks merged into a new VHD).
        """
        out: t.List[VFile] = []
        if snap is not None:
            out.append(VFile(f"Virtual Machines\\{snap.id.upper()}.vmcx", CONFIG_SIZE, self._content("vmcx", snap.id), "config"))
            if snap.state == "Saved":
                out.append(VFile(f"Virtual Machines\\{snap.id.upper()}.vmrs", snap.captured.memory_startup, self._content("vmrs", snap.id), "state"))
            for d in vm.drives:
                frozen = snap.disk_files.get(d.id)
                if not frozen:
                    continue
                size, vsize, content = 0, 0, []
                cur = self.find_file(host, frozen)
                while cur is not None:
                    size += cur.size
                    content.append(cur.content)
                    vsize = cur.vhd.virtual_size if cur.vhd else vsize
                    cur = self.find_file(host, cur.vhd.parent_path) if cur.vhd and cur.vhd.parent_path else None
                size = min(size, vsize) if vsize else size
                name = paths.basename(d.base_path or frozen)
                out.append(VFile(f"Virtual Hard Disks\\{name}", size, self._content(*content), "vhd",
                                 VhdMeta("VHDX", "Dynamic", vsize, None, self.new_guid().upper())))
            return out
        out.append(VFile(f"Virtual Machines\\{vm.id.upper()}.vmcx", CONFIG_SIZE, self._content("vmcx", vm.id, vm.parent_snapshot_id), "config"))
        if vm.state == "Saved" or (vm.state in ("Running", "Paused") and capture == "CaptureSavedState"):
            out.append(VFile(f"Virtual Machines\\{vm.id.upper()}.vmrs", vm.memory_startup, self._content("vmrs", vm.id), "state"))
        for s in self.snapshots_of(vm.id):
            out.append(VFile(f"Snapshots\\{s.id.upper()}.vmcx", CONFIG_SIZE, self._content("vmcx", s.id), "config"))
            if s.state == "Saved":
                out.append(VFile(f"Snapshots\\{s.id.upper()}.vmrs", s.captured.memory_startup, self._content("vmrs", s.id), "state"))
        for k, f in sorted(self._chain_files(vm).items()):
            meta = copy.copy(f.vhd) if f.vhd else None
            if meta and meta.parent_path:
                meta.parent_path = "Virtual Hard Disks\\" + paths.basename(meta.parent_path)
            out.append(VFile(f"Virtual Hard Disks\\{paths.basename(f.path)}", f.size, f.content, "vhd", meta))
        return out

    def export(self, host: str, path: str, *, vm_id: t.Optional[str] = None, snap_id: t.Optional[str] = None,
               capture: str = "CaptureSavedState") -> t.Tuple[t.Union[VM, Snapshot], t.List[str]]:
        """Export-VM / Export-VMSnapshot into the simulated file tree (behaviour §13)."""
        with self.locked():
            snap = self.get_snapshot(host, snap_id) if snap_id else None
            vm = self.vms[snap.vm_id] if snap else self.get_vm(host, vm_id or "")
            hostobj = self.hosts[vm.host]
            self._check_not_busy(vm, "Export", chain=True)
            self._check_chain(vm, "Export")
            vol = self._export_target(hostobj, path, vm)
            root = paths.join(path, vm.name)
            existing = [f for k, f in vol.files.items() if paths.under(f.path, root)]
            if existing and self.switches["export_existing_folder"] == "fail":
                raise ModelError("OperationFailed", M.EXPORT_FOLDER_EXISTS.format(vm.name, root, vm.id.upper()), root)
            if snap is None and capture == "CaptureDataConsistentState":
                # notes B Export-VM: "use production-checkpoint technology"; like ProductionOnly it
                # fails when the guest cannot quiesce (no fallback; unverified, docs/hvsim.md section 5).
                reason = self._production_blocker(vm)
                if reason is not None:
                    raise ModelError("OperationFailed", M.PRODUCTION_FAILED.format(vm.name, vm.id.upper(), reason), vm.name)
            files = self._export_files(vm, hostobj, snap, capture)
            total = sum(f.size for f in files)
            duration = self.costs["export"] + total / hostobj.throughput
            vm.busy.append("ExportingVirtualMachine")
            op = Op("Export-VMSnapshot" if snap else "Export-VM", vm.id, duration, bulk=True)
        try:
            self._wait(op)
        finally:
            with self.locked():
                if "ExportingVirtualMachine" in vm.busy:
                    vm.busy.remove("ExportingVirtualMachine")
        with self.locked():
            self._still_here(vm, host)
            for f in files:
                dest = paths.join(root, f.path)
                free = self.free_bytes(vol, hostobj)
                if f.size > free:
                    # Disk full mid-export: the files written so far stay (partial export).
                    self._save()
                    err = ModelError("OperationFailed", M.DISK_FULL.format("Export", vm.name, vol.root, free, f.size, vm.id.upper()), dest)
                    err.partial = True  # state changed although the operation failed
                    raise err
                meta = copy.copy(f.vhd) if f.vhd else None
                if meta and meta.parent_path:
                    meta.parent_path = paths.join(root, meta.parent_path)
                vol.files[paths.key(dest)] = VFile(dest, f.size, f.content, f.kind, meta, None, self.now())
            self._save()
            return (snap if snap else vm), []

    # ------------------------------------------------------------------ persistence
    def dump(self) -> t.Dict[str, t.Any]:
        with self.locked():
            return {
                "format": STATE_FORMAT,
                "name": self.name,
                "seed": self.seed,
                "counter": self.counter,
                "seq": self.seq,
                "switches": dict(self.switches),
                "costs": dict(self.costs),
                "credentials": dict(self.credentials),
                "hosts": [to_plain(h) for h in self.hosts.values()],
                "shares": [to_plain(s) for s in self.shares.values()],
                "vms": [to_plain(v) for v in sorted(self.vms.values(), key=lambda v: v.id)],
                "snapshots": [to_plain(s) for s in sorted(self.snapshots.values(), key=lambda s: s.id)],
                "merges": [to_plain(j) for j in self.merges],
                "faults": copy.deepcopy(self.faults),
                "guest_clusters": copy.deepcopy(self.guest_clusters),
            }

    def digest(self) -> str:
        """sha256 of the canonical dump (everything observable; stable across runs)."""
        data = self.dump()
        return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    @classmethod
    def from_dump(cls, data: t.Mapping[str, t.Any], clock: t.Any = None, time_scale: float = 0.0) -> "Lab":
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"unsupported lab state format {data.get('format')!r}")
        lab = cls(data["name"], data["seed"], clock=clock, time_scale=time_scale)
        lab.counter = int(data["counter"])
        lab.seq = int(data["seq"])
        lab.switches.update(data.get("switches", {}))
        lab.costs.update(data.get("costs", {}))
        lab.credentials = dict(data.get("credentials", lab.credentials))
        for h in data["hosts"]:
            host = from_plain(Host, h)
            lab.hosts[host.name] = host
        for s in data.get("shares", []):
            vol = from_plain(Volume, s)
            lab.shares[paths.key(vol.root)] = vol
        settle = {"Starting": "Running", "Stopping": "Off", "Saving": "Saved", "Pausing": "Paused", "Resuming": "Running"}
        for v in data["vms"]:
            vm = from_plain(VM, v)
            # Operations in flight do not survive a restart of the simulator.
            vm.busy = []
            vm.state = settle.get(vm.state, vm.state)
            lab.vms[vm.id] = vm
        for s in data["snapshots"]:
            snap = from_plain(Snapshot, s)
            lab.snapshots[snap.id] = snap
        lab.merges = [from_plain(MergeJob, j) for j in data.get("merges", [])]
        lab.faults = [dict(f) for f in data.get("faults", [])]
        lab.guest_clusters = copy.deepcopy(data.get("guest_clusters", {}))
        return lab

    def save(self) -> None:
        """Write the state through the injected persistence helper (hvsim.lab)."""
        with self.lock:
            if self.persist is not None:
                self.persist(self, True)

    def _save(self) -> None:
        # Autosave after each mutation when a state dir is configured (the helper may batch writes).
        if self.persist is not None:
            self.persist(self, False)

    # ------------------------------------------------------------------ building (lab files)
    def add_host(self, host: Host) -> Host:
        self.hosts[host.name] = host
        return host

    def add_vm(self, vm: VM, disks: t.Sequence[t.Mapping[str, t.Any]] = ()) -> VM:
        host = self.hosts[vm.host]
        if not vm.path:
            vm.path = host.vm_path
        if not vm.snapshot_file_location:
            vm.snapshot_file_location = vm.path
        if not vm.smart_paging_path:
            vm.smart_paging_path = vm.path
        for i, spec in enumerate(disks):
            did = f"Microsoft:{vm.id.upper()}\\{self.new_guid().upper()}"
            if spec.get("passthrough"):
                vm.drives.append(Drive(did, spec.get("controller_type", "SCSI"), int(spec.get("controller_number", 0)),
                                       int(spec.get("controller_location", i)), None, None, True, int(spec.get("disk_number", 2))))
                continue
            p = spec.get("path") or paths.join(host.vhd_path, f"{vm.name}{'' if i == 0 else '_' + str(i)}.vhdx")
            p = paths.clean(p)
            size = int(spec.get("size", 60 * GiB))
            used = int(spec.get("file_size", min(size, 12 * GiB)))
            fmt = "VHDSet" if p.lower().endswith(".vhds") else ("VHD" if p.lower().endswith(".vhd") else "VHDX")
            self._write(host, VFile(p, used, self._content("base", p), "vhd",
                                    VhdMeta(fmt, spec.get("vhd_type", "Dynamic"), size, None, self.new_guid().upper())))
            vm.drives.append(Drive(did, spec.get("controller_type", "SCSI" if vm.generation == 2 else "IDE"),
                                   int(spec.get("controller_number", 0)), int(spec.get("controller_location", i)),
                                   p, p, False, None, bool(spec.get("shared", False))))
        self._write(host, VFile(paths.join(vm.path, "Virtual Machines", f"{vm.id.upper()}.vmcx"), CONFIG_SIZE,
                                self._content("vmcx", vm.id), "config"))
        self.vms[vm.id] = vm
        return vm


def default_integration(os_name: str = "windows", *, vss: bool = True, names: t.Optional[t.Mapping[str, str]] = None,
                        disabled: t.Sequence[str] = ()) -> t.List[IntegrationService]:
    """The six integration services (IC doc: all on except Guest Service Interface)."""
    out = []
    for name, tid in IC_TYPES.items():
        display = (names or {}).get(name, name)
        enabled = name != "Guest Service Interface" and name not in disabled
        guest_ok = vss if name == "VSS" else True
        out.append(IntegrationService(tid, display, enabled, guest_ok))
    return out


__all__ = [
    "Lab", "Op", "DEFAULT_SWITCHES", "DEFAULT_COSTS", "FAULT_KINDS", "default_integration", "as_datetime",
    "Guest", "KVP_TYPE",
]

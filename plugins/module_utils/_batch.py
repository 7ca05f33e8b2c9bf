# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Batched checkpoint create / remove for many VMs of one Hyper-V host (issue 7).

Phases, all over the one client (one session, one runspace pool):

1. **Read** in one round of concurrent read pipelines: every VM (``Get-VM``), every checkpoint of
   the host (``Get-VM | Get-VMSnapshot``), and what the preflight needs (volumes once, the host's
   hard disk drives, integration services and guest KVP data; for a removal the checkpoint
   disks and one ``Get-VHD -Path <list>``). Names are matched on the controller, exactly.
2. **Wait** for the busy targets together (one ``Get-VM`` per poll), then re-read.
3. **Decide** per VM with the single-VM rules (``_lifecycle.check_*``). Free space is reserved
   per volume across the batch, so two VMs on one volume cannot both count the same free bytes.
4. **Write** through one sliding window of at most ``parallel`` pipelines in flight
   (``client.run(on_result=...)``): each result is settled as it arrives, and with ``fail_fast``
   nothing new starts after the first failure. A dropped connection or a quota fault is never
   answered by re-sending: the writes whose fate is unknown are re-read first (the unsent ones
   simply stay queued); a write found applied is adopted, one found not applied (and the VM
   idle) is retried once with ``collect`` and reported failed with ``fail_fast``.
5. **Merge wait** (removals): one ``Get-VM`` listing per poll for all merging VMs, polled at
   half the predicted time left (``merge_poll_delay``), predicted from the time since the first
   removal was sent: the host merges from then on, while the rest of the window is still sent.

Nothing here exits the module; the module turns ``Entry`` objects into per-VM results.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _lifecycle as lc
from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import (
    HyperVClient,
    match_exact,
    normalize_guid,
    raise_for_result,
    removal_outcome,
    roles_from_kvp_result,
    volume_for_path,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (
    AmbiguousError,
    CommandError,
    ConnectionError as HvConnectionError,
    HyperVError,
    NotFoundError,
    QuotaError,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._host_reads import (
    READ_RETRY_DELAYS,
    all_checkpoint_disks_pipeline,
    all_checkpoints_pipeline,
    all_disks_pipeline,
    all_services_pipeline,
    list_vms,
    list_vms_pipeline,
    run_reads,
    vhds_pipeline,
    vm_statuses,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import (
    VM,
    Checkpoint,
    Disk,
    GuestRole,
    IntegrationService,
    VhdChainLink,
    Volume,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import STATE_FAILED

#: Default ``parallel``: write pipelines in flight on the one runspace pool (a sliding window).
#: hvsim's cost model (docs/hvsim.md section 4) gives a host ``concurrency`` = 2 slots for
#: checkpoints and merges and queues the rest in arrival order. The window collects results oldest
#: first, so it must hold more than the slots: while the controller waits for the oldest pipeline,
#: a younger one may finish and free a slot, and only a queued pipeline keeps that slot busy.
#: Twice the capacity leaves the host idle only when three younger operations all finish before
#: the oldest one. More only queues on the host (and holds a runspace each).
DEFAULT_PARALLEL = 4
#: Upper bound of ``parallel``: one pool never holds more runspaces than this (a real host's
#: MaxConcurrentOperationsPerUser and VMMS are the limits; hvsim does not model them).
MAX_PARALLEL = 16
KVP_PIPELINE = HyperVClient.kvp_pipeline()


@dataclasses.dataclass
class Entry:
    """One VM of the batch and what happened to it."""

    requested: str
    vm_id: str = None
    vm_name: str = None
    vm: object = None
    action: str = "none"
    changed: bool = False
    failed: bool = False
    skipped: bool = False
    msg: str = None
    error: dict = None
    checkpoint: dict = None
    target: object = None
    removed: list = dataclasses.field(default_factory=list)
    achieved_type: str = None
    requested_type: str = None
    fallback: bool = False
    merge_seconds: float = None
    preflight: dict = None
    warnings: list = dataclasses.field(default_factory=list)
    before: list = None
    after: list = None
    vm_after: object = None
    wrote: bool = False
    retried: bool = False
    step: str = None

    def label(self):
        if self.vm_name is not None and self.vm_id:
            return "'%s' (%s)" % (self.vm_name, self.vm_id)
        return "'%s'" % self.vm_name if self.vm_name is not None else str(self.vm_id or self.requested)

    def result(self):
        return {
            "vm_id": self.vm_id,
            "vm_name": self.vm_name,
            "changed": self.changed,
            "action": self.action,
            "failed": self.failed,
            "skipped": self.skipped,
            "msg": self.msg,
            "checkpoint": self.checkpoint,
            "achieved_type": self.achieved_type,
            "requested_type": self.requested_type,
            "fallback": self.fallback,
            "removed": self.removed,
            "merge_seconds": self.merge_seconds,
            "preflight": self.preflight,
            "warnings": list(self.warnings),
            "error": self.error,
        }


class HostView(object):
    """What one read round returned, indexed by VM Id."""

    def __init__(self):
        self.vms = []
        self.raw = {}
        self.checkpoints = {}
        self.disks = {}
        self.services = {}
        self.services_ok = True
        self.roles = {}
        self.volumes = None
        self.cp_disks = {}
        self.vhds = {}
        self.cps_failed = False
        self.cp_errors = {}

    def vm(self, vm_id):
        for vm in self.vms:
            if vm.id == vm_id:
                return vm
        return None


def clamp_parallel(value):
    return max(1, min(MAX_PARALLEL, int(value or 1)))


def _failed(result):
    return bool(result.get("errors")) or result.get("state") == STATE_FAILED


class BatchRunner(object):
    """Create or remove the checkpoint ``name`` on many VMs of one host."""

    def __init__(self, client, params, check_mode, describe, want_diff=False):
        self.client = client
        #: the after state is read back only for the diff: results come from the writes' own output
        self.want_diff = want_diff
        self.params = params
        self.check_mode = check_mode
        self.describe = describe
        self.name = params["name"]
        self.state = params["state"]
        self.parallel = clamp_parallel(params.get("parallel"))
        self.fail_fast = params.get("batch_failure") == "fail_fast"
        self.entries = []
        self.view = None
        self.stopped_by = None
        #: when the first write was sent: the host starts merging from then on, not from the merge wait
        self.writes_started = None
        #: what the batch is doing, for the message when the session itself fails
        self.phase = "read the VMs and their checkpoints"

    # ------------------------------------------------------------------ helpers
    def fail(self, entry, exc, action):
        entry.failed = True
        entry.changed = entry.wrote
        entry.msg, entry.error = self.describe(exc, action, vm=entry.vm_name, vm_id=entry.vm_id,
                                               checkpoint=self.name)

    def run_reads(self, pipelines):
        return run_reads(self.client, pipelines, lc.sleep)

    def live(self):
        return [e for e in self.entries if not e.failed and not e.skipped]

    # ------------------------------------------------------------------ 1. read
    def read(self, details=True):
        """One round of concurrent reads; returns a HostView."""
        view = HostView()
        names = ["vms", "cps"]
        # the raw VM objects also feed the device checks
        pipes = [list_vms_pipeline(lc.RAW_VM_PROPERTIES), all_checkpoints_pipeline()]
        if details:
            names.append("volumes")
            pipes.append(HyperVClient.list_volumes_pipeline())
            names.append("disks")
            pipes.append(all_disks_pipeline())
            if self.state == "present":
                names += ["services", "kvp"]
                pipes += [all_services_pipeline(), KVP_PIPELINE]
            else:
                names.append("cp_disks")
                pipes.append(all_checkpoint_disks_pipeline())
        res = dict(zip(names, self.run_reads(pipes)))
        for obj in raise_for_result(res["vms"], "listing VMs"):
            vm = VM.from_plain(obj)
            view.vms.append(vm)
            view.raw[vm.id] = obj
        if _failed(res["cps"]):
            # a VM moving away mid-listing: read the targets one by one instead (per_vm_listings)
            view.cps_failed = True
            self.per_vm_listings(view)
        else:
            for vm in view.vms:
                view.checkpoints[vm.id] = []
            for obj in res["cps"].get("output") or []:
                cp = Checkpoint.from_plain(obj)
                view.checkpoints.setdefault(cp.vm_id, []).append(cp)
        if not details:
            return view
        view.volumes = [Volume.from_plain(o) for o in raise_for_result(res["volumes"], "listing volumes")]
        for obj in raise_for_result(res["disks"], "listing hard disks"):
            vm_id = Disk.from_plain(obj).vm_id
            view.disks.setdefault(vm_id, []).append(obj)
        if "services" in res:
            if _failed(res["services"]):
                view.services_ok = False
            for obj in res["services"].get("output") or []:
                svc = IntegrationService.from_plain(obj)
                view.services.setdefault(svc.vm_id, []).append(svc)
            view.roles = roles_from_kvp_result(res["kvp"], [vm.id for vm in view.vms])
        if "cp_disks" in res:
            for obj in res["cp_disks"].get("output") or []:
                sid = obj.get("VMSnapshotId")
                if sid:
                    view.cp_disks.setdefault(normalize_guid(str(sid), "VMSnapshotId"), []).append(
                        Disk.from_plain(obj))
        return view

    def per_vm_listings(self, view):
        """Checkpoints of each target VM, one concurrent pipeline per VM (when the host-wide listing failed)."""
        ids = [e.vm_id for e in self.entries
               if e.vm_id and view.vm(e.vm_id) is not None and e.vm_id not in view.checkpoints]
        if not ids:
            return
        results = self.run_reads([HyperVClient.list_checkpoints_pipeline(v) for v in ids])
        for vm_id, r in zip(ids, results):
            try:
                view.checkpoints[vm_id] = [Checkpoint.from_plain(o) for o in raise_for_result(r, "listing checkpoints")]
            except HyperVError as exc:
                view.cp_errors[vm_id] = exc

    # ------------------------------------------------------------------ 0. resolve the VM list
    def resolve(self, vm_names, vm_ids):
        view = self.read(details=True)
        seen = set()
        for name in vm_names:
            entry = Entry(requested=name, vm_name=name)
            try:
                vm = match_exact(view.vms, name, "VM", "on host %s" % self.client.host, "vm_ids")
            except (NotFoundError, AmbiguousError) as exc:
                self.entries.append(entry)
                self.fail(entry, exc, "find the VM")
                continue
            self._add(entry, vm, seen)
        for raw_id in vm_ids:
            vm_id = normalize_guid(raw_id, "vm_ids")
            entry = Entry(requested=raw_id, vm_id=vm_id)
            vm = view.vm(vm_id)
            if vm is None:
                self.entries.append(entry)
                self.fail(entry, NotFoundError("No VM with Id %s on host %s" % (vm_id, self.client.host),
                                               category="ObjectNotFound"), "find the VM")
                continue
            self._add(entry, vm, seen)
        if view.cps_failed:
            self.per_vm_listings(view)
        self.view = view
        return view

    def _add(self, entry, vm, seen):
        if vm.id in seen:
            return
        seen.add(vm.id)
        entry.vm, entry.vm_id, entry.vm_name = vm, vm.id, vm.name
        self.entries.append(entry)

    # ------------------------------------------------------------------ 2. busy targets
    def _wants_action(self, entry, view):
        cps = view.checkpoints.get(entry.vm_id)
        if cps is None:
            return True
        named = [c for c in cps if c.name == self.name]
        if self.state == "present":
            return not named or self.params["allow_duplicate_name"]
        return bool(named)

    def wait_idle(self):
        """Fail the targets a backup / apply / critical state holds; wait for the others together."""
        self.phase = "wait for the busy VMs"
        view = self.view
        waiting = []
        for entry in self.live():
            vm = view.vm(entry.vm_id)
            if not self._wants_action(entry, view):
                continue
            what = "%s checkpoint %s" % ("create" if self.state == "present" else "remove", lc.quote(self.name))
            try:
                blocker = lc.busy_blocker(vm)
                if blocker is not None:
                    lc.wait_until_idle(self.client, vm, 0, 0, action=what)  # raises with the single-VM text
            except HyperVError as exc:
                self.fail(entry, exc, "check the preconditions for checkpoint %s" % lc.quote(self.name))
                continue
            if not lc.is_idle(vm):
                waiting.append(entry)
        if not waiting:
            return
        deadline = lc.monotonic() + max(0.0, float(self.params["wait_timeout"]))
        while waiting:
            if lc.monotonic() >= deadline:
                break
            lc.sleep(self.params["poll_interval"])
            listing = dict((vm.id, vm) for vm in self._list_vms())
            still = []
            for entry in waiting:
                vm = listing.get(entry.vm_id)
                if vm is None or lc.busy_blocker(vm) is not None or lc.is_idle(vm):
                    continue  # decided on the re-read below
                entry.vm = vm
                still.append(entry)
            waiting = still
        for entry in waiting:
            vm = entry.vm
            what = ", ".join(vm.busy_reasons) or ("state %s" % vm.state)
            hint = "Raise wait_timeout, or check the host for a stuck operation (vm_info shows operational_status)."
            if vm.merging:
                hint = ("A disk merge from a removed checkpoint is still running. Raise wait_timeout, or wait for "
                        "the merge (checkpoint_info merge_pending) before the next chain operation.")
            self.fail(entry, lc.OperationTimeoutError(
                "Cannot %s checkpoint %s: the VM is still busy (%s) after waiting %ss" % (
                    "create" if self.state == "present" else "remove", lc.quote(self.name), what,
                    self.params["wait_timeout"]), hint=hint),
                "check the preconditions for checkpoint %s" % lc.quote(self.name))
        self.view = self.read(details=True)
        for entry in self.live():
            vm = self.view.vm(entry.vm_id)
            if vm is None:
                self.fail(entry, NotFoundError("No VM with Id %s on host %s" % (entry.vm_id, self.client.host),
                                               category="ObjectNotFound"), "read the VM")
            else:
                entry.vm = vm

    def _list_vms(self):
        return list_vms(self.client, lc.sleep)

    # ------------------------------------------------------------------ 3. decide
    def decide(self):
        self.phase = "check the preconditions for checkpoint %s" % lc.quote(self.name)
        reserved = {}
        for entry in self.live():
            entry.before = list(self.view.checkpoints.get(entry.vm_id) or [])
            try:
                if self.state == "present":
                    self._decide_create(entry, reserved)
                else:
                    self._decide_remove(entry, reserved)
            except HyperVError as exc:
                self.fail(entry, exc, entry.step or "check the preconditions for checkpoint %s" % lc.quote(self.name))

    def _decide_create(self, entry, reserved):
        vm, cps = entry.vm, entry.before
        name = self.name
        matches = [c for c in cps if c.name == name]
        self._require_listing(entry)
        if matches and not self.params["allow_duplicate_name"]:
            entry.checkpoint = lc.checkpoint_summary(matches[0])
            if len(matches) > 1:
                entry.warnings.append(
                    "%d checkpoints of %s are named %s (Ids: %s); none was created."
                    % (len(matches), lc.vm_label(vm), lc.quote(name), ", ".join(c.id for c in matches)))
            return
        entry.step = "check the preconditions for checkpoint %s" % lc.quote(name)
        entry.action = "create"
        self._check_idle(entry)
        report = {"checks": [], "space": [], "unsupported": [], "guest_role": None, "vss_available": None,
                  "predicted_type": None}
        entry.preflight = report
        raw_vm = self.view.raw.get(vm.id) or {}
        raw_disks = self.view.disks.get(vm.id) or []
        lc.check_type(vm)
        report["checks"].append("type")
        lc.check_count(len(cps))
        report["checks"].append("count")
        reasons = lc.unsupported_devices(raw_vm, raw_disks)
        report["unsupported"] = reasons
        lc.check_devices(reasons)
        report["checks"].append("devices")
        space, problems, claim = reserve_space(self.view.volumes, lc.space_needs(vm, raw_disks), reserved)
        report["space"] = space
        lc.check_create_space(problems)
        report["checks"].append("space")
        role = self.view.roles.get(vm.id) or GuestRole.unknown(vm.id)
        report["guest_role"] = role.role
        lc.check_guest_role(vm, role, self.params["allow_domain_controller"])
        report["checks"].append("guest_role")
        vss = None
        if lc.needs_vss(vm) and self.view.services_ok:
            vss = lc.vss_from_services(self.view.services.get(vm.id) or [])
        report["vss_available"] = vss
        report["predicted_type"] = lc.predict_type(vm, vss)[0]
        lc.check_consistency(vm, role, vss, self.params["require_production"])
        report["checks"].append("consistency")
        commit(reserved, claim)
        entry.action = "create"
        entry.changed = True
        entry.requested_type = lc.HV_TO_TYPE.get(vm.checkpoint_type, vm.checkpoint_type)
        if self.check_mode:
            entry.achieved_type = report["predicted_type"]
            entry.fallback = entry.requested_type == "production" and report["predicted_type"] == "standard"

    def _decide_remove(self, entry, reserved):
        vm, cps = entry.vm, entry.before
        self._require_listing(entry)
        entry.step = "remove checkpoint %s" % lc.quote(self.name)
        cp = lc.find_checkpoint_or_none(self.client, vm, cps, name=self.name)
        if cp is None:
            return
        targets = lc.tree.subtree(cps, cp.id) if self.params["remove_children"] else [cp]
        problems = lc.removable_problems(targets)
        if problems:
            raise lc.PreflightError(
                "Refusing to remove: %s" % "; ".join(problems),
                hint="Recovery, Replica, Planned and Missing checkpoints belong to backup software, Hyper-V Replica "
                     "or Hyper-V itself; remove them with the tool that owns them (for Replica, Complete-VMFailover).",
            )
        self._check_idle(entry)
        entry.target = cp
        entry.checkpoint = lc.checkpoint_summary(cp)
        entry.removed = [lc.checkpoint_summary(c) for c in targets]
        all_disks = dict((c.id, self.view.cp_disks.get(c.id, [])) for c in cps)
        current = [d.get("Path") for d in self.view.disks.get(vm.id) or [] if d.get("Path")]
        paths, frozen = lc.merge_paths(all_disks, current, targets)
        needs = []
        if frozen:
            needs = lc.merge_needs_from(self._vhds(paths), frozen)
        space, problems, claim = reserve_space(self.view.volumes, needs, reserved)
        entry.preflight = {"checks": ["busy", "type", "merge_space"], "space": space}
        lc.check_merge_space(problems)
        commit(reserved, claim)
        entry.action = "remove"
        entry.changed = True

    def _require_listing(self, entry):
        if self.view.checkpoints.get(entry.vm_id) is None:
            raise self.view.cp_errors.get(entry.vm_id) or CommandError(
                "The checkpoints of the VM could not be listed", errors=[],
                hint="Run the task again; if it persists, check the VM with hyperv.checkpoints.checkpoint_info.")

    def _check_idle(self, entry):
        """The VM as last read must be idle (wait_idle waited already); same texts as the single-VM path."""
        vm = entry.vm
        if lc.busy_blocker(vm) is not None or not lc.is_idle(vm):
            lc.wait_until_idle(self.client, vm, 0, 0, action="%s checkpoint %s" % (
                "create" if self.state == "present" else "remove", lc.quote(self.name)))

    def _vhds(self, paths):
        """{path: VhdChainLink or None}; one Get-VHD -Path <list> for the paths not read yet."""
        missing = [p for p in dict.fromkeys(paths) if p.lower() not in self.view.vhds]
        if missing:
            res = self.run_reads([vhds_pipeline(missing)])[0]
            for obj in res.get("output") or []:
                link = VhdChainLink.from_plain(obj)
                if link.path:
                    self.view.vhds[link.path.lower()] = link
            for p in missing:
                self.view.vhds.setdefault(p.lower(), None)
        return dict((p, self.view.vhds.get(p.lower())) for p in paths)

    def prefetch_vhds(self):
        """Read every disk path the removals need in one Get-VHD round (before deciding VM by VM)."""
        if self.state != "absent":
            return
        paths = []
        for entry in self.live():
            cps = self.view.checkpoints.get(entry.vm_id) or []
            if not any(c.name == self.name for c in cps):
                continue
            for c in cps:
                paths.extend(d.path for d in self.view.cp_disks.get(c.id, []) if d.path)
            paths.extend(d.get("Path") for d in self.view.disks.get(entry.vm_id) or [] if d.get("Path"))
        if paths:
            self._vhds(paths)

    # ------------------------------------------------------------------ 4. write
    def write(self):
        todo = [e for e in self.live() if e.action in ("create", "remove")]
        if self.check_mode or not todo:
            return
        self.phase = "%s checkpoint %s" % ("create" if self.state == "present" else "remove", lc.quote(self.name))
        if self.fail_fast:
            first = next((e for e in self.entries if e.failed), None)
            if first is not None:
                self._skip(todo, first)
                return
        self.writes_started = lc.monotonic()
        queue = todo
        while queue:
            queue = self._write_round(queue)

    def _write_round(self, entries):
        """One sliding window over ``entries``; returns the entries to send again (none were applied)."""
        pipelines = [self._pipeline(e) for e in entries]
        first_failure = []
        # removing an unwanted fallback checkpoint waits until the window is done (no nested pipelines)
        fallbacks = []
        settled = set()

        def settle(index, result):
            settled.add(index)
            entry = entries[index]
            self._settle(entry, result, fallbacks)
            if self.fail_fast and (entry.failed or any(f[0] is entry for f in fallbacks)):
                first_failure.append(entry)
                return False
            return True

        try:
            results = self.client.run(pipelines, on_result=settle)
        except (HvConnectionError, QuotaError) as exc:
            self._remove_fallbacks(fallbacks)
            return self._after_session_fault([e for i, e in enumerate(entries) if i not in settled], exc,
                                             [i for i in range(len(entries)) if i not in settled])
        self._remove_fallbacks(fallbacks)
        if first_failure:
            self._skip([e for e, r in zip(entries, results) if r is None], first_failure[0])
        return []

    def _after_session_fault(self, entries, exc, indices):
        """The session failed mid-window: re-read the writes whose fate is unknown, keep the unsent ones.

        ``entries`` are the ones without a result; ``indices`` their places in the window.
        """
        started = getattr(exc, "started", None)
        started = set(indices if started is None else started)
        unknown = [e for i, e in zip(indices, entries) if i in started]
        unsent = [e for i, e in zip(indices, entries) if i not in started]
        retry = self._recover(unknown, exc) if unknown else []
        if self.fail_fast:
            failed = next((e for e in self.entries if e.failed), None)  # settled in the window or just now
            for entry in retry:
                self.fail(entry, HvConnectionError(
                    "The connection dropped during the write and a re-read shows it was not applied",
                    hint="Run the task again; it re-reads the checkpoints before acting."), entry.step)
            if failed is not None or retry:
                self._skip(unsent, failed or retry[0])
                return []
            return unsent
        if isinstance(exc, QuotaError):
            lc.sleep(READ_RETRY_DELAYS[0])  # the host is at its limit: give it a moment before the rest
        return retry + unsent

    def _skip(self, entries, first):
        self.stopped_by = first
        for entry in entries:
            entry.skipped = True
            entry.changed = False
            entry.msg = ("Not attempted: batch_failure=fail_fast and VM %s failed first; nothing was changed on this "
                         "VM" % first.label())

    def _pipeline(self, entry):
        if entry.action == "create":
            entry.step = "create checkpoint %s" % lc.quote(self.name)
            return HyperVClient.create_checkpoint_pipeline(entry.vm_id, self.name)
        entry.step = "remove checkpoint %s" % lc.quote(self.name)
        return HyperVClient.remove_checkpoint_pipeline(entry.target.id, self.params["remove_children"])

    def _settle(self, entry, res, fallbacks):
        if entry.action == "create":
            try:
                output = raise_for_result(res, "creating checkpoint")
                if not output:
                    raise CommandError("Checkpoint-VM returned no checkpoint", errors=[])
            except CommandError as exc:
                self.fail(entry, lc.with_create_hint(exc, entry.vm), entry.step)
                return
            self._created(entry, Checkpoint.from_plain(output[-1]), fallbacks)
            return
        try:
            removed = removal_outcome(res)
        except CommandError as exc:
            self.fail(entry, exc, entry.step)
            return
        if not removed:  # already gone
            entry.changed = False
            entry.removed = []
            entry.wrote = False
            return
        entry.wrote = True

    def _created(self, entry, cp, fallbacks):
        """Record a new checkpoint; an unwanted standard fallback goes to ``fallbacks`` for removal."""
        vm = entry.vm
        entry.wrote = True
        entry.checkpoint = lc.checkpoint_summary(cp)
        achieved = lc.achieved_type(cp, vm.state, vm.checkpoint_type)
        entry.achieved_type = achieved
        entry.fallback = vm.checkpoint_type in ("Production", "ProductionOnly") and achieved == "standard"
        if not entry.fallback:
            return
        role = self.view.roles.get(vm.id) or GuestRole.unknown(vm.id)
        if self.params["require_production"] or role.domain_controller:
            fallbacks.append((entry, cp))
            return
        entry.warnings.append(
            "%s is set to production checkpoints but checkpoint %s is a standard checkpoint with memory: the guest "
            "could not take a production checkpoint. %s" % (lc.vm_label(vm), lc.quote(self.name), lc.VSS_HINT))

    def _remove_fallbacks(self, fallbacks):
        """Remove the standard checkpoints taken where production was required; the VM then fails."""
        for entry, cp in fallbacks:
            entry.step = "remove the unwanted standard checkpoint %s (%s)" % (lc.quote(self.name), cp.id)
            try:
                lc.remove_checkpoint(self.client, cp, False)
                entry.wrote = False
                entry.checkpoint = None
                raise lc.PreflightError(
                    "Hyper-V fell back to a standard checkpoint (it holds memory, State Saved) although a production "
                    "checkpoint was required; the fallback checkpoint %s was removed again" % cp.id, hint=lc.VSS_HINT)
            except HyperVError as exc:
                self.fail(entry, exc, entry.step)
        del fallbacks[:]

    def _recover(self, chunk, exc):
        """After a drop or quota fault during a chunk: re-read, adopt what was applied, retry the rest once."""
        try:
            view = self._reread_after_write([e.vm_id for e in chunk])
        except HyperVError as again:
            for entry in chunk:
                self.fail(entry, HvConnectionError(
                    "%s; re-reading the host afterwards failed too (%s), so the state of this VM is unknown"
                    % (exc, again), hint="Run the task again: it re-reads every VM and never repeats a create blindly."),
                    entry.step)
            return []
        retry = []
        fallbacks = []
        for entry in chunk:
            fresh = view.checkpoints.get(entry.vm_id)
            before_ids = set(c.id for c in entry.before)
            if entry.action == "create":
                new = [c for c in fresh or [] if c.name == self.name and c.id not in before_ids]
                if len(new) == 1:
                    entry.warnings.append(
                        "%s after Checkpoint-VM was sent; re-reading the VM by Id found the new checkpoint %s (%s), so "
                        "it was not created again." % (self._what(exc), lc.quote(self.name), new[0].id))
                    self._created(entry, new[0], fallbacks)
                    continue
                if len(new) > 1:
                    self.fail(entry, HvConnectionError(
                        "%s. Re-reading the VM after the drop found %d new checkpoints named %s (%s)"
                        % (exc, len(new), lc.quote(self.name), ", ".join(c.id for c in new)),
                        hint="Remove the extra one by checkpoint_id."), entry.step)
                    continue
            else:
                still = [c for c in fresh or [] if c.id == entry.target.id]
                if fresh is not None and not still:
                    entry.wrote = True
                    entry.warnings.append(
                        "%s during Remove-VMSnapshot; re-reading by Id shows %s is gone. The disk merge may still be "
                        "running." % (self._what(exc), lc.checkpoint_label(entry.target)))
                    continue
            vm = view.vm(entry.vm_id)
            if fresh is None or vm is None or not lc.is_idle(vm) or entry.retried:
                self.fail(entry, HvConnectionError(
                    "%s. Re-reading the VM afterwards %s, so the write was not repeated"
                    % (exc, "found it busy (%s)" % ", ".join(vm.busy_reasons or [vm.state])
                       if vm is not None and not lc.is_idle(vm) else
                       "still shows it not applied after one retry" if entry.retried else "could not read it"),
                    hint="Run the task again once the VM is idle; it re-reads the checkpoints before acting."),
                    entry.step)
                continue
            entry.retried = True
            entry.warnings.append(
                "%s before the %s was confirmed; a re-read showed it was not applied and the VM idle, so it was "
                "sent once more." % (self._what(exc), "create" if entry.action == "create" else "removal"))
            retry.append(entry)
        self._remove_fallbacks(fallbacks)
        return retry

    def _what(self, exc):
        if isinstance(exc, QuotaError):
            return "Host %s refused an operation with the WinRM quota %s (fault %s)" % (
                self.client.host, exc.quota, exc.fault_code)
        return "The connection to host %s dropped" % self.client.host

    def _reread_after_write(self, vm_ids):
        delays = list(READ_RETRY_DELAYS)
        while True:
            try:
                return self.read(details=False)
            except (HvConnectionError, QuotaError):
                if not delays:
                    raise
                lc.sleep(delays.pop(0))

    # ------------------------------------------------------------------ 5. merges and the after state
    def wait_merges(self):
        merging = [e for e in self.live() if e.action == "remove" and e.wrote]
        if self.check_mode or not merging or not self.params["wait_for_merge"]:
            return
        self.phase = "wait for the disk merges after removing checkpoint %s" % lc.quote(self.name)
        start = lc.monotonic()
        merges_started = start if self.writes_started is None else self.writes_started
        deadline = start + max(0.0, float(self.params["merge_timeout"]))
        pending = dict((e.vm_id, e) for e in merging)
        while pending:
            listing = vm_statuses(self.client, lc.sleep)
            now = lc.monotonic()
            for vm_id in list(pending):
                vm = listing.get(vm_id)
                if vm is None or not vm.merging:
                    pending.pop(vm_id).merge_seconds = round(now - start, 3)
            if not pending:
                break
            if now >= deadline:
                break
            lc.sleep(min(max(0.0, deadline - now),
                         merge_poll_delay(self.params["poll_interval"], now - merges_started, len(merging),
                                          len(pending))))
        for entry in pending.values():
            self.fail(entry, lc.OperationTimeoutError(
                "The disk merge of VM %s (%s) was still running after %ss" % (
                    lc.quote(entry.vm_name), entry.vm_id, self.params["merge_timeout"]),
                hint="The checkpoint itself is removed; the merge continues on the host. Raise merge_timeout, or "
                     "watch checkpoint_info merge_pending before the next checkpoint operation."),
                "wait for the disk merge after removing checkpoint %s" % lc.quote(self.name))

    def finish(self):
        """The after state of every VM (one more read round outside check mode, for the diff only)."""
        self.phase = "read the VMs and their checkpoints after the changes"
        wrote = any(e.wrote or e.failed for e in self.entries) and not self.check_mode
        view = self.view
        if wrote and not self.want_diff:
            return
        if wrote:
            try:
                view = self._reread_after_write([])
            except HyperVError:
                view = self.view
        for entry in self.entries:
            if entry.before is None:
                continue
            vm = view.vm(entry.vm_id) or entry.vm
            after = view.checkpoints.get(entry.vm_id)
            if after is None:
                after = entry.before or []
            if self.check_mode and entry.action == "create" and not entry.failed:
                entry.vm_after = vm
                entry.after = None  # predicted in the diff
            elif self.check_mode and entry.action == "remove" and not entry.failed:
                gone = set(c["id"] for c in entry.removed)
                entry.after = simulate_remove(entry.before or [], gone)
                entry.vm_after = dataclasses.replace(vm, parent_checkpoint_id=now_after(vm, entry.before or [], gone))
            else:
                entry.after = after
                entry.vm_after = vm
            if not entry.failed and entry.action == "create" and not self.check_mode and entry.checkpoint is None:
                entry.changed = False

    def diff(self):
        out = []
        for entry in self.entries:
            if entry.vm is None or entry.before is None:
                continue
            header = "%s (%s)" % (entry.vm_name, entry.vm_id)
            before = lc.tree_view(entry.vm, entry.before)
            if entry.after is None:
                after = lc.tree_view(entry.vm, entry.before)
                if entry.action == "create" and not entry.failed:
                    after["checkpoints"].append({"id": "(new)", "name": self.name,
                                                 "parent_id": entry.vm.parent_checkpoint_id})
                    after["current_checkpoint_id"] = "(new)"
            else:
                after = lc.tree_view(entry.vm_after, entry.after)
            out.append({"before_header": header, "after_header": header, "before": before, "after": after})
        return out


# ---------------------------------------------------------------------------------------------- pure helpers
def merge_poll_delay(poll_interval, elapsed, total, pending):
    """Seconds until the next merge poll of a batch: half the predicted time left, at least ``poll_interval``.

    ``elapsed`` counts from the first removal sent, not from the start of the wait: on a host with
    50 removals the first merges run for seconds before the last removal is sent, and counting
    from the wait made the first polls of a long merge come every ``poll_interval``.

    The host merges at a steady rate while it has more merges than slots, so the merges done so
    far predict when the rest end. Sleeping half of that prediction each time needs only a few
    polls (each a host-wide ``Get-VM``) however long the merges take. The sleep is also capped at half
    the time waited so far: merges that run side by side end together, and one early finish would
    otherwise predict a long tail.
    """
    done = total - pending
    if done <= 0 or elapsed <= 0:
        return poll_interval
    predicted = elapsed * pending / float(done)
    # merges that run side by side finish together, so one early finish must not predict a long tail
    return max(poll_interval, min(predicted / 2.0, elapsed / 2.0))


def reserve_space(volumes, needs, reserved):
    """(report, problems, claim) for ``needs`` with the bytes ``reserved`` by earlier VMs of the batch.

    ``reserved`` is {volume key: bytes}; ``claim`` is what this VM would add (``commit`` it once
    every check of the VM passed).
    """
    per_volume = {}
    order = []
    unknown = []
    for need in needs:
        vol = volume_for_path(volumes or [], need["path"])
        if vol is None:
            unknown.append(need)
            continue
        key = vol.drive_letter or vol.path
        if key not in per_volume:
            per_volume[key] = {"volume": ("%s:\\" % vol.drive_letter) if vol.drive_letter else vol.path,
                               "free_bytes": vol.size_remaining, "needed_bytes": 0, "for": [],
                               "reserved_bytes": reserved.get(key, 0)}
            order.append(key)
        per_volume[key]["needed_bytes"] += need["bytes"]
        per_volume[key]["for"].append(need["what"])
    report, problems, claim = [], [], {}
    for key in order:
        entry = per_volume[key]
        free = entry["free_bytes"]
        entry["ok"] = free is None or free - entry["reserved_bytes"] >= entry["needed_bytes"]
        claim[key] = entry["needed_bytes"]
        report.append(entry)
        if not entry["ok"]:
            extra = ""
            if entry["reserved_bytes"]:
                extra = ", of which %s are already needed by earlier VMs of this batch" % lc.gib(entry["reserved_bytes"])
            problems.append("volume %s has %s free%s but needs about %s (%s)" % (
                entry["volume"], lc.gib(free), extra, lc.gib(entry["needed_bytes"]), "; ".join(entry["for"])))
    for need in unknown:
        report.append({"volume": None, "free_bytes": None, "needed_bytes": need["bytes"], "for": [need["what"]],
                       "ok": None, "path": need["path"], "reserved_bytes": 0})
    return report, problems, claim


def commit(reserved, claim):
    for key, nbytes in claim.items():
        reserved[key] = reserved.get(key, 0) + nbytes


def simulate_remove(checkpoints, gone):
    """The tree after removing the Ids ``gone`` (children re-parented), for check mode."""
    idx = lc.tree.index(checkpoints)
    out = []
    for c in checkpoints:
        if c.id in gone:
            continue
        parent = c.parent_id
        while parent in gone:
            parent = idx[parent].parent_id if parent in idx else None
        out.append(dataclasses.replace(c, parent_id=parent))
    return out


def now_after(vm, checkpoints, gone):
    idx = lc.tree.index(checkpoints)
    parent = vm.parent_checkpoint_id
    while parent in gone:
        parent = idx[parent].parent_id if parent in idx else None
    return parent

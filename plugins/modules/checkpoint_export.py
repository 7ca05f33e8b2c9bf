#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: checkpoint_export
short_description: Export a Hyper-V checkpoint or a VM's current state as a verified, rotated backup
version_added: 0.1.0
description:
  - A checkpoint is not a backup, an export is. This module exports one checkpoint of a VM (C(Export-VMSnapshot)),
    selected by O(name) or O(checkpoint_id), or the VM's current state (C(Export-VM), O(current_state=true)), into
    its own folder O(folder_name) under O(path) on the Hyper-V host. O(path) is a local path or a UNC path.
  - B(Idempotent through a manifest.) The export folder holds C(hyperv-checkpoints-export.csv) with the VM Id, the
    checkpoint Id, the start and end time and every file with its size and SHA-256 hash. A complete export whose
    manifest matches the folder gives C(changed=false). An incomplete or mismatched export is reported with what is
    wrong, and replaced only with O(force=true).
  - B(Never reported complete when it is not.) The manifest is written with status C(in_progress) before the export
    starts and set to C(complete) only after every file has been listed and hashed. An export that fails half way
    (disk full, access denied, VSS failure in the guest) leaves the folder marked C(in_progress) or C(failed).
  - B(Preflight) before anything is written; each failure has its own message. The target volume must have room for
    the estimated export size. A domain controller guest is refused unless O(allow_domain_controller=true), because
    Microsoft's guidance is never to export a VM that runs a domain controller. A busy VM is refused; a running
    merge is waited for (O(merge_timeout)).
  - O(keep) rotates the exports of this VM under O(path), O(verify) re-reads every file and checks its hash against the
    manifest. The result reports the duration and the bytes written.
author:
  - hyperv.checkpoints contributors (!UNKNOWN)
options:
  vm_name:
    description:
      - Exact name of the VM. Fails when no VM or more than one VM has this name; use O(vm_id) then.
    type: str
  vm_id:
    description:
      - Id (GUID) of the VM.
    type: str
  name:
    description:
      - Exact name of the checkpoint to export (case-sensitive, no trimming). Fails when several checkpoints have
        this name; use O(checkpoint_id) then.
    type: str
  checkpoint_id:
    description:
      - Id (GUID) of the checkpoint to export.
    type: str
  current_state:
    description:
      - Export the VM's current state with all its checkpoints (C(Export-VM)) instead of one checkpoint.
    type: bool
    default: false
  path:
    description:
      - Folder on the Hyper-V host (for example V(E:\\Exports)) or UNC path (V(\\\\fs01\\exports)) under which the export
        folder is created. Must be absolute.
      - Hyper-V writes the export as the host's B(computer account) (C(DOMAIN\\HOST$)), not as the connecting user. A
        share must grant that account write access, or the export fails with C(0x80070005) (access denied).
    type: str
    required: true
  folder_name:
    description:
      - Name of the export folder under O(path); the export itself goes into a subfolder named after the VM
        (Hyper-V's layout with C(Virtual Machines), C(Virtual Hard Disks) and C(Snapshots)).
      - Defaults to C(<vm id>_<checkpoint id>) for a checkpoint, so exporting the same checkpoint again is a no-op,
        and to C(<vm id>_current_<YYYY-MM-DD>) (UTC date) for the current state, so the current state is exported
        at most once a day.
    type: str
  capture_live_state:
    description:
      - With O(current_state=true), how the state of a running VM is captured (C(Export-VM -CaptureLiveState)).
        V(saved) includes the memory state, V(data_consistent) uses production-checkpoint technology (VSS in the
        guest), V(crash_consistent) does nothing about the VM state. Not set means Hyper-V's default (saved).
    type: str
    choices: [saved, data_consistent, crash_consistent]
  force:
    description:
      - Replace an existing export folder that is incomplete or does not match its manifest. Its content is deleted
        (C(Remove-Item -Recurse)) before the new export starts.
    type: bool
    default: false
  keep:
    description:
      - After the export, keep only this many complete exports of this VM under O(path) (newest by end time), and
        remove the older ones. The export just made always counts as one of them.
      - Only folders that hold this collection's manifest for this VM are considered; nothing else under O(path) is
        ever removed. Incomplete exports are neither counted nor removed.
    type: int
  verify:
    description:
      - Re-read every file of the export and compare its SHA-256 hash with the manifest, both right after a new
        export and for an existing one. A mismatch fails the task (and an existing export is then only replaced with
        O(force=true)).
      - Without it, an existing export is checked by its file list and sizes only.
    type: bool
    default: false
  allow_domain_controller:
    description:
      - Export a VM whose guest reports itself a domain controller (Key-Value Pair Exchange C(ProductType=2)).
        Microsoft advises against exporting a virtual domain controller (USN rollback when it is imported).
      - With O(current_state=true) a domain controller is then exported with production consistency only;
        O(capture_live_state) defaults to V(data_consistent) and V(saved) is refused.
    type: bool
    default: false
  check_free_space:
    description:
      - Check before exporting that the target volume has room for the estimated export size (the files of the
        exported disk chains, plus the memory state). Only local paths can be checked; for a UNC path a warning says
        that the free space was not checked.
    type: bool
    default: true
  merge_timeout:
    description:
      - Seconds to wait for a merge that is running on the VM before exporting.
    type: int
    default: 600
  poll_interval:
    description:
      - Seconds between two reads of the VM while waiting for a merge.
    type: float
    default: 2.0
notes:
  - B(Host file access.) No Hyper-V cmdlet lists, hashes or writes files, so the module also runs
    C(Microsoft.PowerShell.Management\\Get-ChildItem), C(Set-Content), C(New-Item), C(Remove-Item) and
    C(Microsoft.PowerShell.Utility\\Get-FileHash), C(Import-Csv) on the host, with C(-LiteralPath) (no wildcards;
    C(New-Item) has no C(-LiteralPath) and its C(-Path) does not expand wildcards). A JEA endpoint
    (O(hyperv_configuration_name)) must make them visible, ideally constrained to the export root.
  - B(UNC paths.) The manifest and the hashes are read and written by the connecting user inside the WinRM session;
    without credential delegation (Kerberos constrained delegation or CredSSP) that second hop to a file server is
    refused even when the host's computer account may write there. The export itself is written by the computer
    account.
  - Hashing reads every file once (twice with O(verify=true)); allow time for large disks.
  - The behaviour of C(Export-VMSnapshot) when the target folder already exists is not documented; the module
    therefore always exports into a folder that does not hold an export yet.
seealso:
  - module: hyperv.checkpoints.checkpoint
  - module: hyperv.checkpoints.checkpoint_prune
extends_documentation_fragment:
  - hyperv.checkpoints.connection
  - hyperv.checkpoints._attributes
  - hyperv.checkpoints._attributes.ACTION_GROUP
attributes:
  check_mode:
    support: full
    details:
      - Reads the existing export and its manifest and reports what would be exported, replaced or rotated.
  diff_mode:
    support: full
    details:
      - The diff shows the state of the export folder and the list of this VM's exports before and after.
  idempotent:
    support: full
    details:
      - A complete export with a matching manifest is not exported again. For O(current_state=true) the default
        O(folder_name) changes every day (UTC).
"""

EXAMPLES = r"""
- name: Export the pre-patch checkpoint of web01 and keep the last 3 exports, verified
  hyperv.checkpoints.checkpoint_export:
    hyperv_host: hv01.example.com
    vm_name: web01
    name: ansible-pre-patch
    path: 'E:\Exports'
    keep: 3
    verify: true
  delegate_to: localhost
  register: backup

- name: Show what was written
  ansible.builtin.debug:
    msg: "{{ backup.export_path }}: {{ backup.bytes_written | human_readable }} in {{ backup.duration_seconds }}s"

- name: Nightly export of the current state to a share (the host's computer account needs write access)
  hyperv.checkpoints.checkpoint_export:
    hyperv_host: hv01.example.com
    vm_id: 6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f
    current_state: true
    capture_live_state: data_consistent
    path: '\\fs01\exports\hv01'
    keep: 7
  delegate_to: localhost

- name: Replace an export left incomplete by a full disk
  hyperv.checkpoints.checkpoint_export:
    hyperv_host: hv01.example.com
    vm_name: web01
    checkpoint_id: 3d1c0a52-8f7e-4b6a-9c2d-1e0f3a4b5c6d
    path: 'E:\Exports'
    force: true
  delegate_to: localhost
"""

RETURN = r"""
export_path:
  description: The export folder (O(path) joined with O(folder_name)).
  returned: when the VM and checkpoint were resolved
  type: str
  sample: 'E:\Exports\6f0c2d9e-0002-4c00-8a00-000000000002_3d1c0a52-8f7e-4b6a-9c2d-1e0f3a4b5c6d'
manifest_path:
  description: Path of the manifest file in the export folder.
  returned: when the VM and checkpoint were resolved
  type: str
status:
  description: V(exported) (a new export), V(replaced) (an incomplete or mismatched one was replaced with
    O(force=true)), V(unchanged) (a complete, matching export exists), or in failures V(incomplete) / V(mismatch).
  returned: when the VM and checkpoint were resolved
  type: str
vm_id:
  description: VM Id.
  returned: when the VM was resolved
  type: str
vm_name:
  description: VM name.
  returned: when the VM was resolved
  type: str
checkpoint_id:
  description: Id of the exported checkpoint; V(null) for the current state.
  returned: when the VM was resolved
  type: str
checkpoint_name:
  description: Name of the exported checkpoint; V(null) for the current state.
  returned: when the VM was resolved
  type: str
source:
  description: V(checkpoint) or V(current_state).
  returned: when the VM was resolved
  type: str
files:
  description: The files of the export with C(path) (relative to RV(export_path)), C(size) and C(sha256). Empty in
    check mode for a new export.
  returned: when the VM and checkpoint were resolved
  type: list
  elements: dict
bytes_written:
  description: Bytes written by this run (0 when nothing was exported).
  returned: when the VM and checkpoint were resolved
  type: int
duration_seconds:
  description: Seconds the export cmdlet took (0 when nothing was exported).
  returned: when the VM and checkpoint were resolved
  type: float
estimated_bytes:
  description: The preflight estimate of the export size; V(null) when unknown or not needed.
  returned: when the VM and checkpoint were resolved
  type: int
verified:
  description: V(true) when the hashes were re-read and matched, V(null) when O(verify=false).
  returned: when the VM and checkpoint were resolved
  type: bool
problems:
  description: What is wrong with an existing export (missing files, sizes, hashes, status).
  returned: when the VM and checkpoint were resolved
  type: list
  elements: str
rotated:
  description: Export folders of this VM removed (in check mode, that would be removed) by O(keep), oldest first.
  returned: when the VM and checkpoint were resolved
  type: list
  elements: str
manifest:
  description: The manifest of the export (as written, or as found when unchanged); V(null) in check mode for a new
    export.
  returned: when the VM and checkpoint were resolved
  type: dict
"""

import datetime
import re
import time

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _export as ex
from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import volume_for_path
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import CommandError, HyperVError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._module import (
    HyperVModule,
    validate_checkpoint_name,
    validate_guid,
    validate_vm_name,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._power import blocking_reasons

CAPTURE = {"saved": "CaptureSavedState", "data_consistent": "CaptureDataConsistentState",
           "crash_consistent": "CaptureCrashConsistentState"}
_DENIED_RE = re.compile(r"0x80070005|access is denied|access to the path .* is denied|accessdenied|"
                        r"unauthorizedaccess|permissiondenied", re.IGNORECASE)
_FULL_RE = re.compile(r"0x80070070|not enough (disk )?space|disk is full|free space", re.IGNORECASE)
_VSS_RE = re.compile(r"vss|volume shadow|shadow copy|writer|production checkpoint", re.IGNORECASE)


class ExportRefused(HyperVError):
    kind = "refused"


def argument_spec():
    return dict(
        vm_name=dict(type="str"),
        vm_id=dict(type="str"),
        name=dict(type="str"),
        checkpoint_id=dict(type="str"),
        current_state=dict(type="bool", default=False),
        path=dict(type="str", required=True),
        folder_name=dict(type="str"),
        capture_live_state=dict(type="str", choices=list(CAPTURE)),
        force=dict(type="bool", default=False),
        keep=dict(type="int"),
        verify=dict(type="bool", default=False),
        allow_domain_controller=dict(type="bool", default=False),
        check_free_space=dict(type="bool", default=True),
        merge_timeout=dict(type="int", default=600),
        poll_interval=dict(type="float", default=2.0),
    )


class ExportRun(object):
    """The export of one VM / checkpoint (no exits; raises HyperVError)."""

    def __init__(self, client, params, check_mode, warn, now):
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.warn = warn
        self.now = now
        self.result = {"problems": [], "rotated": [], "files": [], "bytes_written": 0, "duration_seconds": 0.0,
                       "estimated_bytes": None, "verified": None, "manifest": None}

    # -- host file access ------------------------------------------------------------------------------
    def file_error(self, what, result):
        """CommandError for a failed file cmdlet; explains the second hop for a UNC path."""
        text = ex.first_error(result)
        hint = None
        if ex.is_unc(self.params["path"]) and _DENIED_RE.search(text + " " + str(result.get("errors"))):
            hint = ("The module reads and writes the manifest as the WinRM session's user; a session without "
                    "delegated credentials (NTLM, or Kerberos without delegation) cannot reach a file share (the "
                    "second hop is anonymous). Use hyperv_auth=credssp or Kerberos constrained delegation and grant "
                    "that user access to the share, or export to a local path of the host.")
        first = (result.get("errors") or [{}])[0]
        return CommandError("%s: %s" % (what, text), fqid=first.get("fqid"), category=first.get("category"),
                            errors=result.get("errors"), hint=hint)

    def run_checked(self, pipeline, what):
        result = self.client.run_one(pipeline)
        if ex.failed(result):
            raise self.file_error(what, result)
        return result.get("output") or []

    def read_folder(self, folder):
        """(manifest or None, [(rel, size)]) of an export folder; ([], None) when it does not exist."""
        listing, manifest = self.client.run([ex.list_files_pipeline(folder),
                                             ex.read_manifest_pipeline(ex.join(folder, ex.MANIFEST_NAME))])
        if ex.missing(listing):
            return None, []
        if ex.failed(listing):
            raise self.file_error("cannot list %s" % folder, listing)
        files = ex.files_from_listing(folder, listing.get("output") or [])
        data = None
        if not ex.failed(manifest) and manifest.get("output"):
            data = ex.manifest_from_rows(manifest["output"])
        return data, files

    def hash_files(self, folder, files):
        rels = [item[0] for item in files]
        results = self.client.run([ex.hash_pipeline(ex.join(folder, rel)) for rel in rels]) if rels else []
        hashes = {}
        for rel, res in zip(rels, results):
            out = res.get("output") or []
            if ex.failed(res) or not out:
                raise self.file_error("cannot hash %s" % ex.join(folder, rel), res)
            hashes[rel] = str(out[0].get("Hash") or "").lower()
        return hashes

    def write_manifest(self, folder, manifest):
        self.run_checked(ex.write_manifest_pipeline(ex.join(folder, ex.MANIFEST_NAME), ex.dump_manifest(manifest)),
                         "cannot write the export manifest in %s" % folder)

    # -- preflight -------------------------------------------------------------------------------------
    def estimate(self, vm, checkpoint):
        if checkpoint is not None:
            disks = (self.client.list_checkpoint_disks_many([checkpoint.id]).get(checkpoint.id) or [])
            memory = vm.memory_startup if checkpoint.state == "Saved" else 0
        else:
            disks = list(self.client.list_hard_disks(vm.id))
            cps = self.client.list_checkpoints(vm.id)
            per_cp = self.client.list_checkpoint_disks_many([c.id for c in cps]) if cps else {}
            for ds in per_cp.values():
                disks.extend(ds or [])
            capture = CAPTURE.get(self.params["capture_live_state"] or "saved")
            memory = 0
            if vm.state == "Saved" or (vm.state in ("Running", "Paused") and capture == "CaptureSavedState"):
                memory += vm.memory_startup or 0
            memory += sum((vm.memory_startup or 0) for c in cps if c.state == "Saved")
        disks = [d for d in disks if d.path]
        resolved = self.client.resolve_chains(disks)
        return ex.estimate_bytes(resolved, memory)

    def preflight(self, vm, checkpoint, folder, reclaim):
        current = self.client.get_vm(vm.id)
        busy = blocking_reasons(current)
        if busy:
            raise ExportRefused("the VM is busy: %s" % ", ".join(busy),
                                hint="Wait until the operation has finished; nothing was exported.")
        if current.merging:
            if self.check_mode:
                self.warn("VM '%s' is merging disks; the export would wait up to %ss for the merge"
                          % (vm.name, self.params["merge_timeout"]))
            else:
                self.client.wait_for_merge(vm.id, self.params["merge_timeout"], interval=self.params["poll_interval"])
        estimate = self.estimate(vm, checkpoint)
        self.result["estimated_bytes"] = estimate
        if ex.is_unc(folder):
            self.warn("The export to %s is written by the computer account of host %s, which needs write access to "
                      "the share (otherwise it fails with 0x80070005); the free space of a share is not checked."
                      % (folder, self.client.host))
            return
        if not self.params["check_free_space"] or estimate is None:
            return
        volume = volume_for_path(self.client.list_volumes(), folder)
        if volume is None or volume.size_remaining is None:
            self.warn("Could not find the volume of %s; its free space was not checked." % folder)
            return
        free = volume.size_remaining + reclaim
        if free < estimate:
            raise ExportRefused(
                "not enough free space on volume %s for the export: about %d bytes needed, %d bytes free"
                % (volume.drive_letter and volume.drive_letter + ":" or volume.path, estimate, free),
                hint="Free space on the target or choose another path; nothing was exported.")

    # -- the export ------------------------------------------------------------------------------------
    def export(self, vm, checkpoint, folder):
        capture = CAPTURE.get(self.params["capture_live_state"]) if self.params["capture_live_state"] else None
        started = datetime.datetime.now(datetime.timezone.utc).isoformat()
        self.run_checked(ex.make_dir_pipeline(folder), "cannot create the export folder %s" % folder)
        self.write_manifest(folder, ex.build_manifest(ex.STATUS_IN_PROGRESS, vm, self.client.host, checkpoint,
                                                      capture, started=started))
        t0 = time.monotonic()
        try:
            if checkpoint is not None:
                self.client.export_checkpoint(checkpoint.id, folder)
            else:
                self.client.export_vm(vm.id, folder, capture)
        except CommandError as exc:
            self.result["duration_seconds"] = round(time.monotonic() - t0, 3)
            self.result["status"] = "incomplete"
            self.mark_failed(vm, checkpoint, capture, folder, started, str(exc))
            exc.hint = self.export_hint(str(exc), folder)
            raise
        self.result["duration_seconds"] = round(time.monotonic() - t0, 3)
        files = self.read_folder(folder)[1]
        if not files:
            self.result["status"] = "incomplete"
            self.mark_failed(vm, checkpoint, capture, folder, started, "the export wrote no files")
            raise ExportRefused("the export cmdlet returned but wrote no files in %s" % folder,
                                hint="The folder is marked incomplete; check the host's Hyper-V-VMMS event log.")
        hashes = self.hash_files(folder, files)
        finished = datetime.datetime.now(datetime.timezone.utc).isoformat()
        manifest = ex.build_manifest(ex.STATUS_COMPLETE, vm, self.client.host, checkpoint, capture, started,
                                     finished, files, hashes)
        self.write_manifest(folder, manifest)
        self.result["bytes_written"] = manifest["total_bytes"]
        return manifest

    def mark_failed(self, vm, checkpoint, capture, folder, started, error):
        """Best effort: record the failure in the manifest (it already says in_progress)."""
        try:
            files = self.read_folder(folder)[1]
            self.write_manifest(folder, ex.build_manifest(ex.STATUS_FAILED, vm, self.client.host, checkpoint, capture,
                                                          started, None, files, None, error))
            self.result["files"] = [{"path": p, "size": s, "sha256": None} for p, s in files]
        except HyperVError:
            pass  # e.g. the disk is full: the manifest keeps its in_progress status, still not complete

    def export_hint(self, text, folder):
        if _DENIED_RE.search(text):
            return ("Access denied (0x80070005): Hyper-V writes exports as the host's computer account "
                    "(DOMAIN\\%s$), so the target %s must grant that account write access (share and NTFS "
                    "permissions). The folder is marked incomplete; rerun with force=true once fixed."
                    % (str(self.client.host).split(".", 1)[0].upper(), folder))
        if _FULL_RE.search(text):
            return ("The target ran out of space. The partial export in %s is marked incomplete and is never "
                    "reported complete; free space and rerun with force=true to replace it." % folder)
        if _VSS_RE.search(text):
            return ("The guest could not take a consistent (VSS) snapshot: check the Backup (volume shadow copy) "
                    "integration service and 'vssadmin list writers' in the guest (VMMS events 8229/12293), or use "
                    "capture_live_state=crash_consistent or saved, or export a checkpoint. The folder %s is marked "
                    "incomplete; rerun with force=true." % folder)
        return "The folder %s is marked incomplete; rerun with force=true to replace it." % folder

    def rotate(self, vm, folder):
        keep = self.params["keep"]
        if keep is None:
            return []
        root = self.params["path"]
        listing = self.client.run_one(ex.list_dirs_pipeline(root))
        if ex.missing(listing):
            return []
        if ex.failed(listing):
            raise self.file_error("cannot list %s" % root, listing)
        dirs = ex.dirs_from_listing(listing.get("output") or [])
        results = self.client.run([ex.read_manifest_pipeline(ex.join(d, ex.MANIFEST_NAME)) for d in dirs]) if dirs else []
        candidates = []
        for d, res in zip(dirs, results):
            data = None
            if not ex.failed(res) and res.get("output"):
                data = ex.manifest_from_rows(res["output"])
            candidates.append((d, data))
        remove = ex.rotation(candidates, vm.id, keep, folder)
        remove.reverse()  # oldest first
        if not self.check_mode:
            for d in remove:
                self.run_checked(ex.remove_tree_pipeline(d), "cannot remove the old export %s" % d)
        return remove


def main():
    module = HyperVModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("vm_name", "vm_id")],
        mutually_exclusive=[("name", "current_state"), ("checkpoint_id", "current_state")],
    )
    params = module.params
    problems = module.validation_errors(
        [
            (validate_vm_name, params["vm_name"], "vm_name"),
            (validate_guid, params["vm_id"], "vm_id"),
            (validate_checkpoint_name, params["name"], "name"),
            (validate_guid, params["checkpoint_id"], "checkpoint_id"),
        ]
    )
    if (params["name"] is None and params["checkpoint_id"] is None) and not params["current_state"]:
        problems.append("set name or checkpoint_id to export a checkpoint, or current_state=true")
    if not ex.is_absolute(params["path"] or ""):
        problems.append("path must be absolute: a local path such as E:\\Exports or a UNC path such as "
                        "\\\\fs01\\exports (got %r)" % params["path"])
    if params["folder_name"] is not None:
        problem = ex.validate_folder_name(params["folder_name"])
        if problem:
            problems.append(problem)
    if params["keep"] is not None and params["keep"] < 1:
        problems.append("keep must be 1 or more")
    if params["capture_live_state"] and not params["current_state"]:
        problems.append("capture_live_state applies to current_state=true only")
    if params["merge_timeout"] < 0 or params["poll_interval"] < 0:
        problems.append("merge_timeout and poll_interval must be 0 or more")
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False)

    now = datetime.datetime.now(datetime.timezone.utc)
    warnings = []
    target = {"vm": params["vm_name"], "vm_id": params["vm_id"], "checkpoint": params["name"],
              "checkpoint_id": params["checkpoint_id"]}
    target = dict((k, v) for k, v in target.items() if v is not None)
    action = "export"
    out = {"changed": False}
    run = None
    try:
        with module.client() as client:
            run = ExportRun(client, params, module.check_mode, warnings.append, now)
            out = run.result
            out["changed"] = False
            vm = client.find_vm(name=params["vm_name"], vm_id=params["vm_id"])
            checkpoint = None
            if not params["current_state"]:
                checkpoint = client.find_checkpoint(vm, name=params["name"], checkpoint_id=params["checkpoint_id"])
                if checkpoint.snapshot_type != "Standard":
                    raise ExportRefused("checkpoint type %s is not exported by this collection (only Standard "
                                        "checkpoints are; the others belong to backup products, Replica or Hyper-V)"
                                        % checkpoint.snapshot_type)
            target = {"vm": vm.name, "vm_id": vm.id}
            if checkpoint is not None:
                target.update(checkpoint=checkpoint.name, checkpoint_id=checkpoint.id)
            out.update(vm_id=vm.id, vm_name=vm.name, checkpoint_id=checkpoint.id if checkpoint else None,
                       checkpoint_name=checkpoint.name if checkpoint else None,
                       source="checkpoint" if checkpoint else "current_state")

            role = client.guest_role(vm.id)
            if role.domain_controller and not params["allow_domain_controller"]:
                raise ExportRefused(
                    "the guest is a domain controller (ProductType 2); Microsoft advises never to export a VM that "
                    "runs a domain controller",
                    hint="Back the DC up from inside the guest (Windows Server Backup), or set "
                         "allow_domain_controller=true if you accept the USN rollback risk on restore.")
            if role.domain_controller and params["current_state"]:
                # behaviour §10: a DC guest supports production (VSS) consistency only, never a memory state.
                if params["capture_live_state"] == "saved":
                    raise ExportRefused(
                        "capture_live_state=saved would export the memory state of a domain controller; only "
                        "production (VSS) consistency is supported for domain controllers",
                        hint="Use capture_live_state=data_consistent (the default for a domain controller).")
                if params["capture_live_state"] is None:
                    params["capture_live_state"] = "data_consistent"
                    warnings.append("VM '%s' is a domain controller: exporting with capture_live_state=data_consistent "
                                    "(production consistency, no memory state)." % vm.name)
            if role.domain_controller and checkpoint is not None and checkpoint.state == "Saved":
                warnings.append("Checkpoint '%s' of domain controller '%s' holds a memory state (a standard "
                                "checkpoint); only production checkpoints are supported for domain controllers."
                                % (checkpoint.name, vm.name))
            if role.domain_controller is None:
                why = "KVP not readable" if role.source == "unavailable" else "the guest does not report its role"
                warnings.append("Could not tell whether the guest of VM '%s' is a domain controller (%s); exporting "
                                "anyway." % (vm.name, why))

            folder_name = params["folder_name"] or ex.default_folder_name(vm.id, checkpoint.id if checkpoint else None,
                                                                          now)
            folder = ex.join(params["path"], folder_name)
            out.update(export_path=folder, manifest_path=ex.join(folder, ex.MANIFEST_NAME))

            action = "read the existing export of"
            manifest, files = run.read_folder(folder)
            state, found = ex.assess(manifest, files, vm.id, checkpoint.id if checkpoint else None)
            if state == "complete" and params["verify"]:
                hash_problems = ex.verify_hashes(manifest, run.hash_files(folder, files))
                if hash_problems:
                    state, found = "mismatch", hash_problems
                else:
                    out["verified"] = True
            out["problems"] = found
            before = {"export": state, "export_path": folder}
            if state == "complete":
                out["status"] = "unchanged"
                out["manifest"] = manifest
                out["files"] = ex.manifest_files(manifest)
            elif state in ("incomplete", "mismatch") and not params["force"]:
                out["status"] = state
                raise ExportRefused(
                    "the export folder %s already holds an %s export: %s"
                    % (folder, "incomplete" if state == "incomplete" else "export that does not match its manifest",
                       "; ".join(found)),
                    hint="Nothing was changed. Set force=true to delete it and export again.")
            else:
                out["status"] = "exported" if state == "absent" else "replaced"
                reclaim = sum(item[1] or 0 for item in files)
                action = "check before exporting"
                run.preflight(vm, checkpoint, folder, reclaim)
                out["changed"] = True
                if not module.check_mode:
                    if state != "absent":
                        action = "remove the incomplete export of"
                        run.run_checked(ex.remove_tree_pipeline(folder), "cannot remove %s" % folder)
                    action = "export"
                    manifest = run.export(vm, checkpoint, folder)
                    out["manifest"] = manifest
                    out["files"] = ex.manifest_files(manifest)
                    if params["verify"]:
                        action = "verify the export of"
                        files = run.read_folder(folder)[1]
                        hash_problems = ex.verify_hashes(manifest, run.hash_files(folder, files))
                        if hash_problems:
                            out["problems"] = hash_problems
                            out["verified"] = False
                            raise ExportRefused("the export in %s does not match its manifest right after it was "
                                                "written: %s" % (folder, "; ".join(hash_problems)),
                                                hint="Check the target storage.")
                        out["verified"] = True
            action = "rotate the exports of"
            out["rotated"] = run.rotate(vm, folder)
            if out["rotated"]:
                out["changed"] = True
            if module.module._diff:
                out["diff"] = {"before": dict(before, removed_exports=[]),
                               "after": {"export": "complete", "export_path": folder,
                                         "removed_exports": list(out["rotated"])}}
    except HyperVError as exc:
        for text in warnings:
            module.warn(text)
        module.fail_from(exc, action, result=out, **target)
    for text in warnings:
        module.warn(text)
    module.exit_json(**out)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vm_info
short_description: Read Hyper-V virtual machines and their checkpoint-relevant facts
version_added: 0.1.0
description:
  - Returns one, several or all virtual machines of a Hyper-V host, with the facts that matter before taking,
    applying or removing checkpoints.
  - For each VM it reports the state and a busy hint from the operational status, the checkpoint settings,
    the disks with their differencing (AVHDX) chains, the integration services (including whether the
    Backup (VSS) service is enabled and answered by the guest), a domain-controller hint from the guest's
    KVP data, the number of checkpoints and the current checkpoint.
  - VMs are selected by exact name or by Id. Names are compared exactly (case-sensitive, no trimming) and are
    never passed to a wildcard-capable C(-Name) parameter on the host.
  - The module runs on the controller and connects to the host with the C(hyperv_*) options.
author:
  - hyperv.checkpoints contributors (!UNKNOWN)
options:
  name:
    description:
      - Exact name of one VM.
      - Fails when no VM or more than one VM has this name; use O(vm_id) for duplicate names.
    type: str
  vm_id:
    description:
      - Id (GUID) of one VM.
    type: str
  names:
    description:
      - Exact names of several VMs. Each must match exactly one VM.
    type: list
    elements: str
  vm_ids:
    description:
      - Ids (GUIDs) of several VMs.
    type: list
    elements: str
  include:
    description:
      - Which optional facts to gather. Each costs extra calls to the host.
      - V(disks) adds the disks with their VHD chains (C(Get-VMHardDiskDrive), C(Get-VHD)).
      - V(integration_services) adds the integration services and the VSS availability.
      - V(guest_role) adds the guest role from KVP (C(Get-CimInstance) on C(Msvm_KvpExchangeComponent)).
      - V(checkpoints) adds the checkpoint count and the current checkpoint name.
    type: list
    elements: str
    choices: [checkpoints, disks, guest_role, integration_services]
    default: [checkpoints, disks, guest_role, integration_services]
notes:
  - "Failure rule: all or nothing. A VM that is not found, or whose read fails, fails the task with a message that
    names it; no partial list is returned. Reading changes nothing, so the task can simply be run again."
  - When none of O(name), O(vm_id), O(names) and O(vm_ids) is given, every VM on the host is returned.
  - The reads go in one round per kind of fact (VMs by Id, checkpoints, integration services, disks, each level
    of the VHD chains), one pipeline per VM or path, at most O(parallel) at once.
  - The guest role comes from the KVP C(ProductType) item, which exists only while the guest runs the
    Data Exchange integration service. Without it RV(vms[].domain_controller) is V(null) (unknown), never V(false).
seealso:
  - module: hyperv.checkpoints.checkpoint_info
extends_documentation_fragment:
  - hyperv.checkpoints.connection
  - hyperv.checkpoints.batch
  - hyperv.checkpoints._attributes
  - hyperv.checkpoints._attributes.INFO_MODULE
  - hyperv.checkpoints._attributes.ACTION_GROUP
"""

EXAMPLES = r"""
- name: Read one VM
  hyperv.checkpoints.vm_info:
    hyperv_host: hv01.example.com
    hyperv_username: EXAMPLE\ansible
    hyperv_password: "{{ vault_hyperv_password }}"
    name: web01
  delegate_to: localhost
  register: web01

- name: Refuse to continue when the guest is a domain controller
  ansible.builtin.assert:
    that: web01.vms[0].domain_controller is not true

- name: Read every VM, connection settings from module_defaults
  module_defaults:
    group/hyperv.checkpoints.hyperv:
      hyperv_host: hv01.example.com
      hyperv_ca_path: /etc/pki/ca-trust/source/anchors/corp-ca.pem
  block:
    - name: All VMs without disk chains (faster)
      hyperv.checkpoints.vm_info:
        include: [checkpoints, integration_services]
      delegate_to: localhost
      register: all_vms
      throttle: 4

- name: Two VMs by Id
  hyperv.checkpoints.vm_info:
    vm_ids:
      - 6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f
      - 0b7e5a11-2c3d-4e5f-8a9b-1c2d3e4f5a6b
  delegate_to: localhost
"""

RETURN = r"""
vms:
  description: One entry per selected VM, in the order asked for (all VMs in host order when none was selected).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: VM Id (lower-case GUID).
      type: str
      sample: 6f0c2d9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f
    name:
      description: VM name, exactly as Hyper-V reports it.
      type: str
      sample: web01
    host:
      description: Name of the Hyper-V host that owns the VM.
      type: str
    state:
      description: VM state (enum name), for example V(Running), V(Off), V(Saved), V(Paused).
      type: str
      sample: Running
    status:
      description: Status text of the VM.
      type: str
      sample: Operating normally
    operational_status:
      description: Operational status values (enum names; an unnamed value is its number, such as V(32769) for
        applying a checkpoint).
      type: list
      elements: str
      sample: [Ok]
    busy:
      description: V(true) when the operational status shows an operation in progress (checkpoint, merge,
        export, backup, migration, ...). Do not start another checkpoint operation while it is true.
      type: bool
    busy_reasons:
      description: The operations in progress, in words.
      type: list
      elements: str
      sample: [merging disks]
    checkpoint_type:
      description: Configured checkpoint type (V(Disabled), V(Production), V(ProductionOnly), V(Standard)).
      type: str
    automatic_checkpoints:
      description: Whether automatic checkpoints are enabled.
      type: bool
    snapshot_file_location:
      description: Folder for checkpoint configuration and saved-state files.
      type: str
    path:
      description: Folder of the VM configuration.
      type: str
    generation:
      description: VM generation (1 or 2).
      type: int
    version:
      description: Configuration version.
      type: str
    memory_startup:
      description: Startup memory in bytes.
      type: int
    memory_assigned:
      description: Memory currently assigned in bytes.
      type: int
    dynamic_memory:
      description: Whether dynamic memory is enabled.
      type: bool
    processor_count:
      description: Number of virtual processors.
      type: int
    is_clustered:
      description: Whether the VM is a failover cluster resource.
      type: bool
    replication_mode:
      description: Hyper-V Replica mode (V(None), V(Primary), V(Replica), ...).
      type: str
    replication_state:
      description: Hyper-V Replica state.
      type: str
    checkpoint_count:
      description: Number of checkpoints of any type. V(null) when O(include) lacks V(checkpoints).
      type: int
    current_checkpoint_id:
      description: Id of the checkpoint the current state derives from (the parent of "Now"), or V(null).
      type: str
    current_checkpoint_name:
      description: Name of that checkpoint, or V(null).
      type: str
    integration_services:
      description: Integration services, with the kind recognised from the service Id (names are localized).
      type: list
      elements: dict
      returned: when O(include) contains V(integration_services)
    backup_integration_service:
      description: The Backup (volume shadow copy) service, needed for production checkpoints.
      type: dict
      returned: when O(include) contains V(integration_services)
      contains:
        present:
          description: Whether the VM has the service.
          type: bool
        enabled:
          description: Whether it is enabled on the host side.
          type: bool
        guest_responding:
          description: Whether the guest answers it (status OK); V(null) when unknown.
          type: bool
        name:
          description: Display name of the service.
          type: str
    vss_available:
      description: V(true) when Backup (VSS) is enabled and the guest answers, so a production checkpoint can
        be application-consistent; V(null) when unknown.
      type: bool
    guest_role:
      description: Guest role from the KVP C(ProductType) item.
      type: dict
      returned: when O(include) contains V(guest_role)
      contains:
        role:
          description: V(workstation), V(domain_controller), V(server) or V(unknown).
          type: str
        product_type:
          description: The raw C(ProductType) value (1, 2 or 3), or V(null).
          type: int
        domain_controller:
          description: V(true), V(false), or V(null) when unknown.
          type: bool
        source:
          description: V(kvp), or V(unavailable) when the KVP query failed on the host.
          type: str
    domain_controller:
      description: Shortcut for RV(vms[].guest_role.domain_controller); V(null) means unknown.
      type: bool
    disks:
      description: Hard disk drives with their VHD chain, current file first.
      type: list
      elements: dict
      returned: when O(include) contains V(disks)
      contains:
        path:
          description: File the VM writes to (the newest AVHDX when checkpoints exist); V(null) for pass-through.
          type: str
        controller_type:
          description: V(IDE), V(SCSI) or V(PMEM).
          type: str
        controller_number:
          description: Controller number.
          type: int
        controller_location:
          description: Location on the controller.
          type: int
        disk_number:
          description: Physical disk number of a pass-through disk.
          type: int
        passthrough:
          description: Whether this is a pass-through disk (not supported by checkpoints).
          type: bool
        vhd_set:
          description: Whether the file is a VHD Set (C(.vhds)).
          type: bool
        chain_depth:
          description: Number of differencing files in the chain.
          type: int
        avhdx_paths:
          description: The differencing files, newest first.
          type: list
          elements: str
        chain:
          description: Each file of the chain, newest first, ending with the base disk.
          type: list
          elements: dict
          contains:
            path:
              description: File path.
              type: str
            vhd_type:
              description: V(Fixed), V(Dynamic) or V(Differencing).
              type: str
            vhd_format:
              description: V(VHD), V(VHDX) or V(VHDSet).
              type: str
            size:
              description: Virtual size in bytes.
              type: int
            file_size:
              description: Size of the file on disk in bytes.
              type: int
            parent_path:
              description: Parent file of a differencing disk.
              type: str
"""

from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import HyperVError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._module import (
    HyperVModule,
    validate_guid,
    validate_vm_name,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._parallel import parallel_argument, parallel_problem
from ansible_collections.hyperv.checkpoints.plugins.module_utils._reports import vm_report

INCLUDE_CHOICES = ["checkpoints", "disks", "guest_role", "integration_services"]


def argument_spec():
    return dict(
        name=dict(type="str"),
        vm_id=dict(type="str"),
        names=dict(type="list", elements="str"),
        vm_ids=dict(type="list", elements="str"),
        include=dict(type="list", elements="str", choices=INCLUDE_CHOICES, default=list(INCLUDE_CHOICES)),
        parallel=parallel_argument(),
    )


def gather(client, names, vm_ids, include, host):
    """Read the selected VMs and build the report (no exits)."""
    vms = client.select_vms(names, vm_ids)
    ids = [vm.id for vm in vms]
    checkpoints = client.list_checkpoints_many(ids) if "checkpoints" in include and ids else {}
    services = client.list_integration_services_many(ids) if "integration_services" in include and ids else {}
    roles = client.guest_roles(ids) if "guest_role" in include and ids else {}
    disks = {}
    if "disks" in include and ids:
        per_vm = client.list_hard_disks_many(ids)
        owners = [vm_id for vm_id in ids for dummy in per_vm[vm_id]]
        resolved = client.resolve_chains([d for vm_id in ids for d in per_vm[vm_id]])
        for vm_id, disk in zip(owners, resolved):
            disks.setdefault(vm_id, []).append(disk)
        for vm_id in ids:
            disks.setdefault(vm_id, [])
    return [
        vm_report(
            vm,
            host,
            checkpoints=checkpoints.get(vm.id) if "checkpoints" in include else None,
            disks=disks.get(vm.id) if "disks" in include else None,
            services=services.get(vm.id) if "integration_services" in include else None,
            role=roles.get(vm.id) if "guest_role" in include else None,
        )
        for vm in vms
    ]


def main():
    module = HyperVModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    names = ([params["name"]] if params["name"] is not None else []) + list(params["names"] or [])
    vm_ids = ([params["vm_id"]] if params["vm_id"] is not None else []) + list(params["vm_ids"] or [])
    problems = module.validation_errors(
        [
            (validate_vm_name, params["name"], "name"),
            (validate_vm_name, params["names"] or [], "names"),
            (validate_guid, params["vm_id"], "vm_id"),
            (validate_guid, params["vm_ids"] or [], "vm_ids"),
        ]
    )
    problem = parallel_problem(params["parallel"])
    if problem:
        problems.append(problem)
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False)
    module.connection_options()  # refuses insecure combinations and missing libraries before connecting

    target = {}
    if len(names) == 1 and not vm_ids:
        target["vm"] = names[0]
    if len(vm_ids) == 1 and not names:
        target["vm_id"] = vm_ids[0]
    try:
        with module.client(parallel=params["parallel"]) as client:
            vms = gather(client, names, vm_ids, set(params["include"]), module.host)
    except HyperVError as exc:
        module.fail_from(exc, "read VM information", **target)
    except Exception as exc:  # pylint: disable=broad-except
        # an unexpected bug: still fail cleanly, with the traceback in the result
        module.fail_from(exc, "read VM information", **target)
    module.exit_json(changed=False, vms=vms)


if __name__ == "__main__":
    main()

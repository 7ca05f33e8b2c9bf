"""Every message text the model produces, with its source.

[doc]/[R-DEC]/[OBS] texts are quoted from the references; texts marked [constructed] are the
model's own wording in the Hyper-V style (no public source gives the exact text) and are
listed as such in docs/hvsim.md.
"""

from __future__ import annotations

# hyperv-cmdlets-notes.md A.5 [R-DEC]
VM_NOT_FOUND_NAME = 'Hyper-V was unable to find a virtual machine with name "{0}".'
VM_NOT_FOUND_ID = 'Hyper-V was unable to find a virtual machine with id "{0}".'
# hyperv-behaviour.md §6 / Virtualization-Documentation PR #1110 says VMName cmdlets error on
# duplicate names; the text itself is [constructed].
VM_NAME_AMBIGUOUS = (
    'Hyper-V found more than one virtual machine with name "{0}". '
    "Specify the virtual machine by its object or Id."
)
# hyperv-cmdlets-notes.md B Get-VMSnapshot / Restore-VMSnapshot [R-DEC]; behaviour §7
SNAPSHOT_NOT_FOUND = "Unable to find a snapshot matching the given criteria."
SNAPSHOT_AMBIGUOUS = "More than one snapshot was found matching the given criteria."
# hyperv-cmdlets-notes.md B Start-VM / Save-VM [R-DEC]
INVALID_STATE_VM = "The operation cannot be performed while the virtual machine is in its current state."
# hyperv-behaviour.md §7 (canonical/multipass#4204, InvalidState,...SetVM)
INVALID_STATE_OBJECT = "The operation cannot be performed while the object is in its current state."
ALREADY_IN_STATE = "The virtual machine is already in the specified state."
START_PAUSED = (
    'The virtual machine "{0}" was paused. Use the Resume-VM cmdlet to return a paused virtual '
    "machine to a running state."
)
SAVE_TURNOFF_EXCLUSIVE = "The Save and TurnOff parameters are mutually exclusive."
SHUTDOWN_UNAVAILABLE = (
    'Hyper-V can\'t shut down virtual machine "{0}" because the Shutdown integration service is '
    "unavailable. You can turn off the virtual machine by selecting [Y]es, or you can cancel the "
    "operation by selecting [N]o."
)
# hashicorp/vagrant#9977 [OBS], quoted in hyperv-cmdlets-notes.md B Checkpoint-VM
CHECKPOINTS_DISABLED = (
    "Checkpoint operation failed. Checkpoints have been disabled. "
    "Checkpoint operation for '{0}' failed. (Virtual machine ID {1}) "
    "Checkpoints have been disabled for '{0}'. (Virtual machine ID {1})."
)
# [constructed] in the VMMS style; names the integration service (test-matrix A12/B7,
# behaviour §2 "events 8229 and 12293", "vssadmin list writers").
PRODUCTION_FAILED = (
    "Checkpoint operation failed. Production checkpoints cannot be created for '{0}'. "
    "(Virtual machine ID {1}) Could not create a production checkpoint for '{0}': {2} "
    "See the Hyper-V-VMMS Admin event log (events 8229, 12293) and run 'vssadmin list writers' "
    "in the guest. (Virtual machine ID {1})"
)
VSS_REASON_SERVICE_OFF = "the integration service 'Backup (volume shadow copy)' is disabled."
VSS_REASON_GUEST = (
    "the guest did not respond through the integration service 'Backup (volume shadow copy)' "
    "(VSS / hv_vss_daemon not running in the guest)."
)
VSS_REASON_WRITER = (
    "a VSS writer in the guest failed through the integration service "
    "'Backup (volume shadow copy)' (writer state: Failed)."
)
VSS_REASON_NOT_RUNNING = "the virtual machine is not running, so the guest cannot quiesce."
# [constructed]; limit from behaviour §6 (Plan: 50 per VM)
CHECKPOINT_LIMIT = (
    "Checkpoint operation failed. Checkpoint operation for '{0}' failed. (Virtual machine ID {1}) "
    "The maximum number of checkpoints ({2}) for '{0}' has been reached."
)
# [constructed]; rule from behaviour §6 (VD: at most 100 characters, not blank)
CHECKPOINT_NAME_INVALID = (
    "The checkpoint name '{0}' is not valid. A checkpoint name cannot be blank and can contain at "
    "most 100 characters."
)
CHECKPOINT_NAME_DUPLICATE = (  # only with allow_duplicate_checkpoint_names = False [constructed]
    "Checkpoint operation failed. A checkpoint named '{0}' already exists for '{1}'."
)
# [constructed]; rule from behaviour §9 (KB troubleshooting)
# KB error-back-up-vms-in-guest-cluster: 32768/32770/32775 when the VHD Set preconditions fail
# (wording constructed; behaviour section 9).
VHD_SET_PRECONDITIONS = (
    "Checkpoint operation failed. Checkpoint operation for '{0}' failed. (Virtual machine ID {1}) "
    "The guest cluster does not meet the VHD Set requirements (32775): the cluster service must be running, "
    "no VHD Set may be a cluster shared volume in the guest, and all shared disks must be online."
)

UNSUPPORTED_DISK = (
    "Checkpoint operation failed. Checkpoint operation for '{0}' failed. (Virtual machine ID {1}) "
    "Checkpoints are not supported for virtual machines with {2}."
)
REPLICA_CHECKPOINT = (  # [constructed]; behaviour §12 says it is unverified
    "Checkpoint operation failed. The operation is not supported on a Replica virtual machine '{0}'. "
    "(Virtual machine ID {1})"
)
# 0x80070070 is ERROR_DISK_FULL; the wording around it is [constructed].
DISK_FULL = (
    "{0} failed for '{1}'. There is not enough space on the disk. (0x80070070) "
    "Volume '{2}' has {3} bytes free; {4} bytes are required. (Virtual machine ID {5})"
)
# 0x80070020: behaviour §4/§7 (KB troubleshooting) [constructed wording]
OBJECT_IN_USE = (
    "{0} failed for '{1}'. The process cannot access the file because it is being used by "
    "another process. (0x80070020) The virtual machine is being backed up. (Virtual machine ID {2})"
)
# 0x80070032: behaviour §7 [constructed wording]
BROKEN_CHAIN = (
    "{0} failed for '{1}'. The request is not supported. (0x80070032) The differencing disk chain "
    "of '{2}' is broken. (Virtual machine ID {3})"
)
# 0x80070005: behaviour §13, KB error-0x80070005-export-vms.md [constructed wording]
EXPORT_ACCESS_DENIED = (
    "Failed to export virtual machine '{0}'. Failed to create folder '{1}': General access denied "
    "error (0x80070005). The computer account '{2}' of the Hyper-V host needs write permission on "
    "the target. (Virtual machine ID {3})"
)
EXPORT_PATH_NOT_FOUND = (  # [constructed]
    "Failed to export virtual machine '{0}'. The system cannot find the path specified. "
    "(0x80070003) '{1}'. (Virtual machine ID {2})"
)
EXPORT_FOLDER_EXISTS = (  # [constructed]; behaviour §13 says unverified (switch export_existing_folder)
    "Failed to export virtual machine '{0}'. The folder '{1}' already exists. (0x800700B7) "
    "(Virtual machine ID {2})"
)
# hyperv-behaviour.md §8 / KB hyper-v-vm-supported-file-locations.md [constructed wording]
SNAPSHOT_LOCATION_HAS_CHECKPOINTS = (
    "Failed to modify the checkpoint file location of '{0}'. The checkpoint file location can be "
    "changed only if the virtual machine has no checkpoints. (Virtual machine ID {1})"
)
SNAPSHOT_LOCATION_ROOT = (
    "Failed to modify the checkpoint file location of '{0}'. '{1}' is the root of a drive or share; "
    "virtual machine files must be stored in a folder, not in the root. (Virtual machine ID {2})"
)
# hyperv-cmdlets-notes.md B Set-VM [R-DEC]
CLUSTER_PATH_UNVERIFIED = (
    "The cmdlet could not verify that the path '{0}' can be accessed by the cluster. Make sure the "
    "path is on storage that the cluster can access, or run the cmdlet again and use the "
    "-AllowUnverifiedPaths parameter to continue."
)
DYNAMIC_STATIC_MEMORY = (
    "Dynamic and static memory settings cannot be specified together. To set maximum memory, "
    "minimum memory and buffer settings, turn on Dynamic Memory as well."
)
# hyperv-cmdlets-notes.md B Get-VHD [R-DEC]
NOT_A_VHD = "'{0}' is not an existing virtual hard disk file."
# hyperv-cmdlets-notes.md B Get-VMIntegrationService [R-DEC]
IC_NOT_FOUND = "No integration component with the given name could be found."
MIGRATED = 'Hyper-V was unable to find a virtual machine with id "{0}".'

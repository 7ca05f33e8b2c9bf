# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""VM power control: a pure planner and a small executor over HyperVClient.

State tables (hyperv-cmdlets-notes.md section B, Start-VM / Stop-VM / Save-VM, R-DEC):

* Start-VM from Off, Saved, Paused (resumes it), FastSaved, Hibernated.
* Stop-VM (guest shutdown) needs the VM Running and the Shutdown integration service enabled and
  answering; otherwise the cmdlet would ask to turn the VM off (and ``-Force``/``-AsJob`` answer
  yes), so this module never sends ``-Force`` or ``-AsJob`` with a shutdown.
* Stop-VM -TurnOff from Running, Paused, Saved, FastSaved.
* Save-VM from Running and Paused.

Desired states: ``started`` (Running), ``stopped`` (Off through a guest shutdown), ``saved``
(Saved) and ``off`` (Off through a turn-off).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import (
    CommandError,
    HyperVError,
    OperationTimeoutError,
)

TARGET_STATE = {"started": "Running", "stopped": "Off", "saved": "Saved", "off": "Off"}

# VM states that are on their way somewhere (wait, do not act).
TRANSITIONAL_STATES = frozenset(
    ["Starting", "Stopping", "Saving", "Pausing", "Resuming", "Reset", "Snapshotting", "Restoring"]
)
# Busy operational statuses that block a power change (MergingDisks is handled separately:
# it only blocks a turn-off).
BLOCKING_STATUSES = {
    "BackingUpVirtualMachine": "a backup holds the VM",
    "CreatingSnapshot": "a checkpoint is being created",
    "ApplyingSnapshot": "a checkpoint is being applied",
    "32769": "a checkpoint is being applied",
    "DeletingSnapshot": "a checkpoint is being deleted",
    "ExportingVirtualMachine": "the VM is being exported",
    "MigratingVirtualMachine": "the VM is migrating",
}

ACTION_START = "start"
ACTION_SHUTDOWN = "shutdown"
ACTION_TURN_OFF = "turn_off"
ACTION_SAVE = "save"
ACTION_NONE = "none"


class PowerRefused(HyperVError):
    """The requested power change is not allowed in the VM's current situation."""

    kind = "refused"


def blocking_reasons(vm):
    """Reasons (text) why no power change should start now, from OperationalStatus."""
    return [BLOCKING_STATUSES[s] for s in vm.operational_status if s in BLOCKING_STATUSES]


def shutdown_service_usable(services):
    """(usable, reason) for the Shutdown integration service (matched by component Id).

    ``services`` is a list of IntegrationService (or None when they could not be read, which
    counts as usable: Hyper-V itself will answer).
    """
    if services is None:
        return True, None
    svc = next((s for s in services if s.kind == "shutdown"), None)
    if svc is None:
        return False, "the VM has no Shutdown integration service"
    if svc.enabled is False:
        return False, "the Shutdown integration service is disabled"
    if svc.guest_responding is False:
        return False, "the guest does not answer on the Shutdown integration service (status %s)" % (
            svc.primary_status or ", ".join(svc.operational_status) or "unknown")
    return True, None


def plan(vm, desired, shutdown_usable=True, shutdown_reason=None, force_after_timeout=False):
    """Decide what to do: a dict with ``action``, ``target`` and ``reason``.

    Raises PowerRefused when the change cannot be done safely (the message says why and what
    to do). A merge in progress is *not* checked here (the caller waits or refuses before a
    turn-off, see ``needs_merge_check``).
    """
    target = TARGET_STATE[desired]
    state = vm.state or "Unknown"
    result = {"action": ACTION_NONE, "target": target, "reason": None, "previous_state": state}
    if state == target and state not in TRANSITIONAL_STATES:
        return result
    if state in TRANSITIONAL_STATES:
        # The caller waits for a stable state first; reaching here means it did not settle.
        raise PowerRefused("the VM is in the transitional state %s" % state,
                           hint="Wait until the VM settles, then run the task again.")
    if desired == "started":
        if state in ("Off", "Saved", "Paused", "FastSaved", "Hibernated"):
            result["action"] = ACTION_START
            return result
    elif desired == "saved":
        if state in ("Running", "Paused"):
            result["action"] = ACTION_SAVE
            return result
        if state == "Off":
            raise PowerRefused("an Off VM cannot be saved (Save-VM needs a Running or Paused VM)",
                               hint="Use state=started first, or state=stopped/off if the goal is a stopped VM.")
    elif desired == "off":
        if state in ("Running", "Paused", "Saved", "FastSaved"):
            result["action"] = ACTION_TURN_OFF
            return result
    elif desired == "stopped":
        if state == "Running":
            if shutdown_usable:
                result["action"] = ACTION_SHUTDOWN
                return result
            if force_after_timeout:
                result["action"] = ACTION_TURN_OFF
                result["reason"] = "%s, so the VM is turned off (force_after_timeout=true)" % shutdown_reason
                return result
            raise PowerRefused(
                "the guest cannot be shut down: %s" % shutdown_reason,
                hint="Fix the integration service in the guest, set force_after_timeout=true to turn the VM off "
                     "instead, or use state=off.")
        if state in ("Saved", "Paused", "FastSaved"):
            if force_after_timeout:
                result["action"] = ACTION_TURN_OFF
                result["reason"] = ("the VM is %s, its guest is not running and cannot shut down, so it is turned off "
                                    "(force_after_timeout=true); its saved memory state is discarded" % state)
                return result
            raise PowerRefused(
                "the VM is %s: its guest is not running, so it cannot shut down" % state,
                hint="Use state=started first and then state=stopped, or state=off (or force_after_timeout=true) to "
                     "turn it off and discard its memory state.")
    raise PowerRefused("cannot go from state %s to %s (%s)" % (state, target, desired),
                       hint="Bring the VM to Off, Running or Saved first.")


def is_turn_off(action):
    return action == ACTION_TURN_OFF


class PowerController(object):
    """Runs a power plan on one VM and waits for a stable target state."""

    def __init__(self, client, poll_interval=2.0, stable_reads=2, sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.poll_interval = max(0.0, float(poll_interval))
        self.stable_reads = max(1, int(stable_reads))
        self._sleep = sleep
        self._clock = clock

    def wait_state(self, vm_id, predicate, timeout, what):
        """Poll Get-VM until ``predicate(vm)`` holds on ``stable_reads`` consecutive reads."""
        deadline = self._clock() + max(0.0, float(timeout))
        streak = 0
        while True:
            vm = self.client.get_vm(vm_id)
            if predicate(vm):
                streak += 1
                if streak >= self.stable_reads:
                    return vm
            else:
                streak = 0
            if self._clock() >= deadline:
                raise OperationTimeoutError(
                    "Timed out after %ss waiting for %s (VM '%s' %s is %s; operational status: %s)"
                    % (timeout, what, vm.name, vm.id, vm.state, ", ".join(vm.operational_status) or "unknown"),
                    hint="Raise the timeout, or check the VM on the host.",
                )
            self._sleep(self.poll_interval)

    def wait_settled(self, vm_id, timeout):
        """Wait until the VM is in no transitional state (stable)."""
        return self.wait_state(vm_id, lambda v: (v.state or "") not in TRANSITIONAL_STATES, timeout,
                               "the VM to leave its transitional state")

    def wait_target(self, vm_id, target, timeout):
        return self.wait_state(vm_id, lambda v: v.state == target, timeout, "the VM to reach state %s" % target)

    def execute(self, vm, step, shutdown_timeout, wait_timeout, force_after_timeout):
        """Run ``step`` (a plan dict). Returns (final VM, list of actions actually sent, warnings)."""
        actions = []
        warnings = []
        action = step["action"]
        if action == ACTION_START:
            actions.append(ACTION_START)
            self.client.start_vm(vm.id)
            final = self.wait_target(vm.id, "Running", wait_timeout)
        elif action == ACTION_SAVE:
            actions.append(ACTION_SAVE)
            self.client.save_vm(vm.id)
            final = self.wait_target(vm.id, "Saved", wait_timeout)
        elif action == ACTION_TURN_OFF:
            actions.append(ACTION_TURN_OFF)
            self.client.stop_vm(vm.id, mode="turn_off")
            final = self.wait_target(vm.id, "Off", wait_timeout)
        elif action == ACTION_SHUTDOWN:
            actions.append(ACTION_SHUTDOWN)
            problem = None
            try:
                self.client.stop_vm(vm.id, mode="shutdown")
            except CommandError as exc:
                problem = "the guest shutdown failed: %s" % exc
            final = None
            if problem is None:
                try:
                    final = self.wait_target(vm.id, "Off", shutdown_timeout)
                except OperationTimeoutError:
                    problem = "the guest did not shut down within shutdown_timeout (%ss)" % shutdown_timeout
            if problem is not None:
                if not force_after_timeout:
                    raise PowerRefused(problem, hint="Set force_after_timeout=true to turn the VM off after the "
                                                     "timeout, raise shutdown_timeout, or check the guest.")
                current = self.client.get_vm(vm.id)
                if current.merging:
                    raise PowerRefused(
                        "%s, and the VM is merging disks, so it is not turned off" % problem,
                        hint="Wait until the merge has finished (checkpoint_info merge_pending), then run again.")
                warnings.append("%s; turning the VM off (force_after_timeout=true)" % problem)
                if current.state != "Off":
                    actions.append(ACTION_TURN_OFF)
                    self.client.stop_vm(vm.id, mode="turn_off")
                final = self.wait_target(vm.id, "Off", wait_timeout)
        else:
            final = vm
        return final, actions, warnings

"""Pure tests of the vm_power planner and executor (_power.py) with a fake client."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import CommandError, OperationTimeoutError
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import VM, IntegrationService
from ansible_collections.hyperv.checkpoints.plugins.module_utils._power import (
    PowerController,
    PowerRefused,
    blocking_reasons,
    plan,
    shutdown_service_usable,
)

VM_ID = "6f0c2d9e-0002-4c00-8a00-000000000002"
SHUTDOWN_ID = "Microsoft:%s\\9F8233AC-BE49-4C79-8EE3-E7E1985B2077" % VM_ID.upper()


def vm(state, status=("Ok",)):
    return VM(id=VM_ID, name="web01", state=state, operational_status=tuple(status))


@pytest.mark.parametrize(
    "state, desired, action",
    [
        ("Running", "started", "none"),
        ("Off", "started", "start"),
        ("Saved", "started", "start"),
        ("Paused", "started", "start"),
        ("Running", "stopped", "shutdown"),
        ("Off", "stopped", "none"),
        ("Running", "saved", "save"),
        ("Paused", "saved", "save"),
        ("Saved", "saved", "none"),
        ("Running", "off", "turn_off"),
        ("Saved", "off", "turn_off"),
        ("Paused", "off", "turn_off"),
        ("Off", "off", "none"),
    ],
)
def test_plan_table(state, desired, action):
    step = plan(vm(state), desired)
    assert step["action"] == action
    assert step["previous_state"] == state


def test_plan_refuses_saving_an_off_vm():
    with pytest.raises(PowerRefused, match="cannot be saved"):
        plan(vm("Off"), "saved")


@pytest.mark.parametrize("state", ["Saved", "Paused"])
def test_stopped_from_saved_or_paused_needs_force(state):
    with pytest.raises(PowerRefused, match="cannot shut down"):
        plan(vm(state), "stopped")
    step = plan(vm(state), "stopped", force_after_timeout=True)
    assert step["action"] == "turn_off"
    assert "force_after_timeout" in step["reason"]


def test_stopped_without_shutdown_service():
    with pytest.raises(PowerRefused, match="Shutdown integration service is disabled"):
        plan(vm("Running"), "stopped", False, "the Shutdown integration service is disabled")
    step = plan(vm("Running"), "stopped", False, "the Shutdown integration service is disabled", True)
    assert step["action"] == "turn_off"


def test_transitional_state_is_refused_by_the_planner():
    with pytest.raises(PowerRefused, match="transitional"):
        plan(vm("Stopping"), "off")


def test_shutdown_service_usable():
    ok = IntegrationService(name="Shutdown", id=SHUTDOWN_ID, enabled=True, operational_status=("Ok",))
    assert shutdown_service_usable([ok]) == (True, None)
    off = IntegrationService(name="Shutdown", id=SHUTDOWN_ID, enabled=False, operational_status=("Ok",))
    assert shutdown_service_usable([off])[0] is False
    nocontact = IntegrationService(name="Arrêt", id=SHUTDOWN_ID, enabled=True, operational_status=("NoContact",))
    usable, reason = shutdown_service_usable([nocontact])
    assert usable is False and "does not answer" in reason
    assert shutdown_service_usable([])[0] is False
    assert shutdown_service_usable(None) == (True, None)


def test_blocking_reasons():
    assert blocking_reasons(vm("Running", ("Ok", "BackingUpVirtualMachine"))) == ["a backup holds the VM"]
    assert blocking_reasons(vm("Running", ("Ok", "MergingDisks"))) == []


class FakeClient:
    """States returned by successive get_vm calls; records the power calls."""

    def __init__(self, states, stop_error=None):
        self.states = list(states)
        self.calls = []
        self.stop_error = stop_error

    def get_vm(self, vm_id):
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        status = ("Ok", "MergingDisks") if state.endswith("+merge") else ("Ok",)
        return vm(state.replace("+merge", ""), status)

    def start_vm(self, vm_id):
        self.calls.append("start")

    def save_vm(self, vm_id):
        self.calls.append("save")

    def stop_vm(self, vm_id, mode="shutdown", force=False):
        self.calls.append((mode, force))
        if mode == "shutdown" and self.stop_error is not None:
            raise self.stop_error


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += max(s, 1.0)


def controller(client):
    clock = Clock()
    return PowerController(client, poll_interval=1, sleep=clock.sleep, clock=clock)


def test_wait_needs_two_stable_reads():
    client = FakeClient(["Starting", "Running", "Starting", "Running", "Running"])
    final = controller(client).wait_target(VM_ID, "Running", 100)
    assert final.state == "Running"
    assert client.states == ["Running"]  # consumed up to the second consecutive Running


def test_shutdown_timeout_without_force_is_refused_and_never_turns_off():
    client = FakeClient(["Running"])
    with pytest.raises(PowerRefused, match="did not shut down within shutdown_timeout"):
        controller(client).execute(vm("Running"), {"action": "shutdown"}, 5, 30, False)
    assert client.calls == [("shutdown", False)]


def test_shutdown_timeout_with_force_turns_off():
    client = FakeClient(["Running"] * 8 + ["Off"])
    final, actions, warnings = controller(client).execute(vm("Running"), {"action": "shutdown"}, 5, 30, True)
    assert actions == ["shutdown", "turn_off"]
    assert client.calls == [("shutdown", False), ("turn_off", False)]
    assert final.state == "Off"
    assert "turning the VM off" in warnings[0]


def test_shutdown_error_with_force_but_merging_is_refused():
    err = CommandError("The guest refused", fqid="OperationFailed,Microsoft.HyperV.PowerShell.Commands.StopVM")
    client = FakeClient(["Running+merge"], stop_error=err)
    with pytest.raises(PowerRefused, match="merging"):
        controller(client).execute(vm("Running"), {"action": "shutdown"}, 5, 30, True)
    assert client.calls == [("shutdown", False)]


def test_wait_timeout_message_names_the_vm():
    client = FakeClient(["Saving"])
    with pytest.raises(OperationTimeoutError, match="web01"):
        controller(client).wait_target(VM_ID, "Saved", 3)

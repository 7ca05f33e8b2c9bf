"""Select-Object -Property, the projection after the collection's host-wide reads.

Source for every test: PowerShell/PowerShell src/Microsoft.PowerShell.Commands.Utility/commands/
utility/Select-Object.cs (ProcessParameter, ProcessObject, SetPSCustomObject), as
tests/hvsim/engine/cmdlets/select.py and catalogue_select.json cite it.
"""

from __future__ import annotations

from hvsim.engine.types import HvGuid, HvObject
from hvsim.server import clixml

GET_VM = ("Hyper-V\\Get-VM", [])


def select(*names):
    return ("Select-Object", [("Property", list(names))])


def test_each_vm_becomes_a_custom_object_with_the_named_properties_in_order(pipe):
    full = pipe("HV01", GET_VM)
    r = pipe("HV01", GET_VM, select("OperationalStatus", "Name", "Id"))
    assert not r.errors and len(r.output) == len(full.output) > 2
    for vm, sel in zip(full.output, r.output):
        assert list(sel.properties) == ["OperationalStatus", "Name", "Id"]
        assert sel.properties["Id"] == vm.properties["Id"] and isinstance(sel.properties["Id"], HvGuid)
        assert sel.properties["OperationalStatus"] == vm.properties["OperationalStatus"]
        assert sel.type_name == "Selected.Microsoft.HyperV.PowerShell.VirtualMachine"
        assert sel.extra_type_names == ("System.Management.Automation.PSCustomObject",) and sel.custom


def test_names_match_case_insensitively_and_keep_the_property_spelling(pipe):
    r = pipe("HV01", GET_VM, select("name", "CHECKPOINTTYPE"))
    assert list(r.output[0].properties) == ["Name", "CheckpointType"]


def test_a_missing_name_is_null_but_a_wildcard_that_matches_nothing_adds_nothing(pipe):
    r = pipe("HV01", GET_VM, select("Name", "NoSuchProperty", "NoSuch*"))
    assert not r.errors
    assert r.output[0].properties == {"Name": r.output[0].properties["Name"], "NoSuchProperty": None}


def test_a_wildcard_adds_every_match_in_the_objects_order(pipe):
    vm = pipe("HV01", GET_VM).output[0]
    r = pipe("HV01", GET_VM, select("Memory*"))
    assert list(r.output[0].properties) == [n for n in vm.properties if n.startswith("Memory")]
    assert len(r.output[0].properties) >= 3


def test_a_property_selected_twice_is_written_once_with_a_non_terminating_error(pipe):
    r = pipe("HV01", GET_VM, select("Id", "Name", "id"))
    assert not r.failed and list(r.output[0].properties) == ["Id", "Name"]
    e = r.errors[0]
    assert e.fqid == "AlreadyExistingUserSpecifiedPropertyNoExpand,Microsoft.PowerShell.Commands.SelectObjectCommand"
    assert e.message == 'The property cannot be processed because the property "Id" already exists.'
    assert e.category == "InvalidOperation"
    assert len(r.errors) == len(r.output)  # once per input object


def test_without_property_the_objects_pass_through(pipe):
    full = pipe("HV01", GET_VM)
    assert pipe("HV01", GET_VM, ("Select-Object", [])).output == full.output


def test_selecting_from_selected_output_names_the_custom_object_type(pipe):
    r = pipe("HV01", GET_VM, select("Id", "Name"), select("Name"))
    assert r.output[0].type_name == "Selected.System.Management.Automation.PSCustomObject"


def test_the_module_qualified_name_resolves_too(pipe):
    r = pipe("HV01", GET_VM, ("Microsoft.PowerShell.Utility\\Select-Object", [("Property", ["Name"])]))
    assert not r.errors and list(r.output[0].properties) == ["Name"]


def test_it_does_not_count_as_a_hyper_v_call_for_deferred_faults(pipe, lab):
    # a deferred fault counts cmdlet invocations (hvsim.model.core Lab.note_call); Select-Object runs
    # once per VM here and must not move it, Get-VM once and must
    fault = {"kind": "live_migration", "after_calls": 100}
    lab.faults.append(fault)
    r = pipe("HV01", GET_VM, select("Name"))
    assert len(r.output) > 2 and fault["after_calls"] == 99


def test_a_custom_object_is_serialized_with_note_properties_in_ms():
    obj = HvObject("Selected.Microsoft.HyperV.PowerShell.VirtualMachine", {"Name": "vm1"},
                   extra_type_names=("System.Management.Automation.PSCustomObject",), custom=True)
    text = clixml.object_clixml(obj).decode()
    assert "<MS><S N=\"Name\">vm1</S></MS>" in text and "<Props>" not in text and "<ToString>" not in text
    assert "<T>Deserialized.System.Management.Automation.PSCustomObject</T>" in text

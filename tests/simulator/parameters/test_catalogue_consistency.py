"""Every catalogued cmdlet loads, and every parameter set is self-consistent and bindable."""

from __future__ import annotations

import json

import pytest

from hvsim._paths import SHARED_REFERENCE
from hvsim.engine import binder as B
from hvsim.engine.catalogue import DOTNET_TYPES, EXTRA_PATHS, OBJECT_TYPES, SCALAR_KINDS, get_catalogue
from hvsim.engine.types import HvObject
from param_stubs import VM1_ID, snapshot, vm

pytestmark = pytest.mark.simulator

CAT = get_catalogue()
RAW = json.loads((SHARED_REFERENCE / "hyperv-cmdlets.json").read_text("utf-8"))
DIFF = json.loads((SHARED_REFERENCE / "hyperv-cmdlets-module-diff.json").read_text("utf-8"))["cmdlets"]
EXTRA_NAMES = {name for path in EXTRA_PATHS for name in json.loads(path.read_text("utf-8"))["cmdlets"]}
MODULES = {"Hyper-V", "FailoverClusters", "Storage", "CimCmdlets", "Microsoft.PowerShell.Management",
           "Microsoft.PowerShell.Utility"}
ALL = sorted(CAT.cmdlets)


def test_every_catalogued_cmdlet_loads():
    assert "Get-CimInstance" in EXTRA_NAMES and "Get-FileHash" in EXTRA_NAMES
    assert set(RAW["cmdlets"]) | EXTRA_NAMES == set(CAT.cmdlets)
    for alias, target in RAW["cmdlet_aliases"].items():
        assert CAT.lookup(alias).name == target
        assert CAT.resolve_command("Hyper-V\\" + alias).name == target


@pytest.mark.parametrize("name", ALL)
def test_cmdlet_metadata(name):
    spec = CAT.cmdlets[name]
    assert spec.module in MODULES
    assert spec.default_set in spec.set_names
    assert CAT.resolve_command(f"{spec.module}\\{name}") is spec
    if name in DIFF and DIFF[name].get("implementing_class"):
        assert spec.class_name == DIFF[name]["implementing_class"].split(" ")[0]
    assert spec.class_name
    # WhatIf/Confirm exactly where ShouldProcess is documented
    has_risk = {"WhatIf", "Confirm"} <= set(spec.params)
    assert has_risk == spec.supports_should_process
    # common parameters everywhere, ProgressAction (PowerShell 7.4+) nowhere
    assert {"ErrorAction", "Verbose", "WarningAction", "OutVariable"} <= set(spec.params)
    assert "ProgressAction" not in spec.params


@pytest.mark.parametrize("name", ALL)
def test_names_and_aliases_unique(name):
    spec = CAT.cmdlets[name]
    seen = {}
    for p in spec.params.values():
        for key in (p.name,) + p.aliases:
            assert key.lower() not in seen, f"{key} of {p.name} clashes with {seen.get(key.lower())}"
            seen[key.lower()] = p.name
    # every full name and alias resolves to its own parameter
    for p in spec.params.values():
        for key in (p.name,) + p.aliases:
            found, ambiguous = spec.resolve_parameter(key.upper())
            assert found is p and ambiguous == ()


@pytest.mark.parametrize("name", ALL)
def test_parameter_types_known(name):
    spec = CAT.cmdlets[name]
    for p in spec.params.values():
        et = p.element_type
        assert et in DOTNET_TYPES or et in OBJECT_TYPES, (p.name, p.type)
        if et not in SCALAR_KINDS and et not in OBJECT_TYPES:
            assert p.enum_values, f"enum {p.type} of {p.name} has no member list"
        for set_name in p.sets:
            assert set_name in spec.set_names


@pytest.mark.parametrize("name", ALL)
def test_positions_unique_per_set(name):
    spec = CAT.cmdlets[name]
    for set_name in spec.set_names:
        positions = [
            (p.sets[set_name].position, p.name) for p in spec.params_in_set(set_name) if p.sets[set_name].position is not None
        ]
        values = [pos for pos, _name in positions]
        assert len(values) == len(set(values)), (set_name, positions)


def _sample(p):
    et = p.element_type
    if p.enum_values and et not in SCALAR_KINDS:
        value = p.enum_values[0]
    elif et == "VMSnapshot":
        value = snapshot()
    elif et in ("VirtualMachine", "VirtualMachineBase", "PSObject"):
        value = vm()
    elif p.ps_type_name:
        cls = p.ps_type_name.split("#", 1)[1]
        value = HvObject("Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/Storage/" + cls, {})
    elif et in OBJECT_TYPES:
        value = HvObject(sorted(OBJECT_TYPES[et])[0], {"Name": "x"}, to_string="x")
    else:
        value = {
            "String": "x",
            "Object": "x",
            "Char": "C",
            "Int32": 1,
            "Int64": 1,
            "UInt32": 1,
            "UInt64": 1,
            "Boolean": True,
            "SwitchParameter": True,
            "Guid": VM1_ID,
            "StringCollection": "x",
        }[et]
    return [value] if p.is_array and et != "Char" else value


SET_CASES = [(n, s) for n in ALL for s in CAT.cmdlets[n].set_names]


@pytest.mark.parametrize("name, set_name", SET_CASES, ids=[f"{n}:{s}" for n, s in SET_CASES])
def test_every_parameter_set_binds(name, set_name):
    """Binding a set's mandatory parameters plus those unique to it resolves to exactly that set."""
    spec = CAT.cmdlets[name]
    chosen = [
        p
        for p in spec.params_in_set(set_name)
        if p.declared and (p.sets[set_name].required or set(p.sets) == {set_name})
    ]
    params = [(p.name, _sample(p)) for p in chosen]
    prep = B.prepare(spec, params)
    got, args = B.finish(prep)
    if chosen or set_name == spec.default_set:
        assert got == set_name, (params, prep.candidates)
    else:
        # A set with neither mandatory nor own parameters (e.g. Get-VM's optional -Id shares
        # nothing exclusive) is only reachable with its optional parameters: check it is a candidate.
        assert set_name in prep.candidates
    assert set(args) == {p.name for p in chosen}


@pytest.mark.parametrize("name", ALL)
def test_every_prefix_resolves_per_powershell_rules(name):
    """Each prefix of each parameter name resolves to that parameter, or (per notes §A.1) to the single
    declared parameter among several matches, or is reported ambiguous listing that parameter."""
    spec = CAT.cmdlets[name]
    for p in spec.params.values():
        for i in range(1, len(p.name) + 1):
            prefix = p.name[:i]
            found, ambiguous = spec.resolve_parameter(prefix)
            keys = [(q, k) for q in spec.params.values() for k in (q.name,) + q.aliases if k.lower().startswith(prefix.lower())]
            matches = {q.name for q, _key in keys}
            exact = [q for q, k in keys if k.lower() == prefix.lower()]
            if exact:
                assert found is exact[0]
            elif len(matches) == 1:
                assert found is p
            elif len([m for m in matches if spec.params[m].declared]) == 1:
                assert found is not None and found.declared and found.name in matches
            else:
                assert found is None and p in ambiguous and {q.name for q in ambiguous} == matches


def test_engine_never_crashes_on_odd_values():
    """Every parameter of every cmdlet with odd JSON-ish values: errors are binding errors, never internal."""
    from hvsim.engine.engine import Engine
    from hvsim.engine.types import CommandCall
    from param_stubs import CTX, Recorder

    engine = Engine(lab=None, handlers=Recorder())  # type: ignore[arg-type]
    odd = [None, True, 0, -1, 2**70, 1.5, float("nan"), "", "x", [], [None], [1, "a"], {"a": 1}]
    for name, spec in CAT.cmdlets.items():
        for p in spec.params.values():
            for value in odd:
                result = engine.run_pipeline([CommandCall(name, [[p.name, value]])], CTX)
                for err in result.errors:
                    assert not err.fqid.startswith("HvsimInternalError"), (name, p.name, value, err.message)


def test_every_cmdlet_the_collection_sends_is_catalogued():
    """Drift guard: the WinRS runner's allow-list (= what the client sends) resolves in the catalogue."""
    from hvsim._paths import ensure_collection_importable

    ensure_collection_importable()
    from ansible_collections.hyperv.checkpoints.plugins.module_utils import _winrs_runner

    assert _winrs_runner.ALLOWED_CMDLETS
    for sent in _winrs_runner.ALLOWED_CMDLETS:
        spec = CAT.resolve_command(sent)
        assert spec is not None, sent
        # canonical names, no aliases; module-qualified but for Select-Object (a JEA proxy function)
        assert f"{spec.module}\\{spec.name}" == sent or (sent == spec.name == "Select-Object")

"""Pure helpers of checkpoint_export (_export.py): pipelines, manifest, assessment, rotation."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _export as ex
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import VM, Checkpoint, Disk, VhdChainLink
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import validate_pipeline
from ansible_collections.hyperv.checkpoints.plugins.module_utils._winrs_runner import ALLOWED_CMDLETS

VM1 = VM(id="6f0c2d9e-0002-4c00-8a00-000000000002", name="web01")
CP1 = Checkpoint(id="3d1c0a52-8f7e-4b6a-9c2d-1e0f3a4b5c6d", name="ansible-x", creation_time="2026-11-20T00:00:00Z")
FILES = [("web01\\Virtual Hard Disks\\web01.vhdx", 1000), ("web01\\Virtual Machines\\A.vmcx", 64)]
HASHES = {FILES[0][0]: "aa" * 32, FILES[1][0]: "bb" * 32}


def complete(vm=VM1, cp=CP1, files=None, hashes=None, finished="2026-11-25T10:00:00+00:00"):
    files = FILES if files is None else files
    hashes = HASHES if hashes is None else hashes
    text = ex.dump_manifest(ex.build_manifest(ex.STATUS_COMPLETE, vm, "HV01", cp, None,
                                              "2026-11-25T09:00:00+00:00", finished, files, hashes))
    return ex.manifest_from_rows(ex.parse_manifest_text(text))


def test_every_path_goes_through_literal_path():
    for pipeline in (ex.list_files_pipeline("E:\\x[1]"), ex.list_dirs_pipeline("E:\\x"),
                     ex.read_manifest_pipeline("E:\\x\\m.csv"), ex.write_manifest_pipeline("E:\\x\\m.csv", "a"),
                     ex.remove_tree_pipeline("E:\\x\\y"), ex.hash_pipeline("E:\\x\\f")):
        validate_pipeline(pipeline)
        names = [pair[0] for pair in pipeline[0]["parameters"]]
        assert "LiteralPath" in names and "Path" not in names and "Name" not in names
    assert [pair[0] for pair in ex.make_dir_pipeline("E:\\x")[0]["parameters"]] == ["Path", "ItemType", "Force"]


@pytest.mark.parametrize("path", ["", "E:", "E:\\", "relative\\x", "\\\\"])
def test_remove_tree_refuses_roots_and_relative_paths(path):
    with pytest.raises(ValueError):
        ex.remove_tree_pipeline(path)


def test_file_cmdlets_are_on_the_winrs_allow_list():
    assert set(ex.EXPORT_CMDLETS) <= set(ALLOWED_CMDLETS)


def test_join_and_absolute():
    assert ex.join("E:\\", "a") == "E:\\a"
    assert ex.join("E:\\Exports\\", "a", "b") == "E:\\Exports\\a\\b"
    assert ex.join("\\\\fs01\\exports", "a") == "\\\\fs01\\exports\\a"
    assert ex.is_absolute("e:/x") and ex.is_absolute("\\\\fs\\s") and not ex.is_absolute("x\\y")
    assert ex.is_unc("\\\\fs\\s") and not ex.is_unc("E:\\")


@pytest.mark.parametrize("name", ["", " ", ".", "..", "a\\b", "a/b", "c:", "a*", "x.", " x", "a\x01"])
def test_bad_folder_names(name):
    assert ex.validate_folder_name(name)


def test_default_folder_name():
    now = datetime.datetime(2026, 11, 25, 23, 59, tzinfo=datetime.timezone.utc)
    assert ex.default_folder_name("v", "c", now) == "v_c"
    assert ex.default_folder_name("v", None, now) == "v_current_2026-11-25"


def test_listing_relative_and_without_manifest():
    out = [{"FullName": "E:\\X\\" + ex.MANIFEST_NAME, "Length": 10},
           {"FullName": "E:\\X\\web01\\b.vhdx", "Length": "5"},
           {"FullName": "E:\\Other\\c", "Length": 1}]
    assert ex.files_from_listing("E:\\X", out) == [("web01\\b.vhdx", 5)]


def test_manifest_round_trip():
    m = complete()
    assert ex.manifest_files(m)[0] == {"path": FILES[0][0], "size": 1000, "sha256": "aa" * 32}
    assert m["total_bytes"] == 1064 and m["vm_id"] == VM1.id and m["checkpoint_id"] == CP1.id
    assert m["capture_live_state"] is None and m["status"] == "complete"
    tricky = ex.build_manifest(ex.STATUS_FAILED, VM(id=VM1.id, name='we"b,01'), "HV01", None, None,
                               error="line one\nline, two \"quoted\"", files=[("a,b\\c \"d\".vhdx", 5)])
    back = ex.manifest_from_rows(ex.parse_manifest_text("\ufeff" + ex.dump_manifest(tricky)))
    assert back["vm_name"] == 'we"b,01' and back["error"] == 'line one line, two "quoted"'
    assert back["file_paths"] == ['a,b\\c "d".vhdx'] and back["file_sizes"] == [5]
    assert back["checkpoint_id"] is None and back["source"] == "current_state"


def test_not_a_manifest():
    assert ex.manifest_from_rows([{"record": "meta", "key": "format", "value": "other"}]) is None
    assert ex.manifest_from_rows([{"a": "b"}]) is None
    assert ex.manifest_from_rows("text") is None
    bad_size = ex.parse_manifest_text(ex.dump_manifest(ex.build_manifest("complete", VM1, "h", files=[("f", 1)])))
    bad_size[-1]["size"] = "x"
    assert ex.manifest_from_rows(bad_size) is None


def test_assess():
    assert ex.assess(None, [], VM1.id, CP1.id) == ("absent", [])
    assert ex.assess(None, FILES, VM1.id, CP1.id)[0] == "incomplete"
    assert ex.assess(complete(), FILES, VM1.id, CP1.id) == ("complete", [])
    state, problems = ex.assess(complete(), FILES[:1], VM1.id, CP1.id)
    assert state == "mismatch" and "missing" in problems[0]
    state, problems = ex.assess(complete(), [(FILES[0][0], 999), FILES[1]], VM1.id, CP1.id)
    assert state == "mismatch" and "999 bytes" in problems[0]
    state, problems = ex.assess(complete(), FILES + [("extra", 1)], VM1.id, CP1.id)
    assert state == "mismatch" and "not in the manifest" in problems[0]
    state, problems = ex.assess(complete(), FILES, VM1.id, None)
    assert state == "mismatch" and "current state" in problems[0]
    in_progress = dict(complete(), status=ex.STATUS_IN_PROGRESS)
    assert ex.assess(in_progress, FILES, VM1.id, CP1.id)[0] == "incomplete"
    failed = dict(complete(), status=ex.STATUS_FAILED, error="disk full")
    state, problems = ex.assess(failed, FILES, VM1.id, CP1.id)
    assert state == "incomplete" and "disk full" in problems[0]


def test_verify_hashes():
    assert ex.verify_hashes(complete(), dict((k.upper(), v.upper()) for k, v in HASHES.items())) == []
    bad = dict(HASHES)
    bad[FILES[1][0]] = "cc" * 32
    assert "SHA-256" in ex.verify_hashes(complete(), bad)[0]
    assert "could not hash" in ex.verify_hashes(complete(), {FILES[0][0]: "aa" * 32})[0]


def test_rotation():
    other_vm = VM(id="6f0c2d9e-0009-4c00-8a00-000000000009", name="x")
    cands = [
        ("E:\\E\\a", complete(finished="2026-11-01T00:00:00+00:00")),
        ("E:\\E\\b", complete(finished="2026-11-02T00:00:00+00:00")),
        ("E:\\E\\c", complete(finished="2026-11-03T00:00:00+00:00")),
        ("E:\\E\\inprog", dict(complete(), status="in_progress", finished=None)),
        ("E:\\E\\other", complete(vm=other_vm, finished="2026-10-01T00:00:00+00:00")),
        ("E:\\E\\foreign", None),
    ]
    assert ex.rotation(cands, VM1.id, None, "E:\\E\\c") == []
    assert ex.rotation(cands, VM1.id, 2, "E:\\E\\c") == ["E:\\E\\a"]
    assert ex.rotation(cands, VM1.id, 1, "E:\\E\\c\\") == ["E:\\E\\b", "E:\\E\\a"]
    # a new export not listed yet still counts as kept
    assert ex.rotation(cands, VM1.id, 2, "E:\\E\\new") == ["E:\\E\\b", "E:\\E\\a"]


def test_estimate_bytes():
    link = VhdChainLink(path="D:\\a.avhdx", file_size=10, parent_path="D:\\a.vhdx")
    base = VhdChainLink(path="D:\\a.vhdx", file_size=100)
    disks = [Disk(vm_id=VM1.id, path="D:\\a.avhdx").with_chain([link, base]),
             Disk(vm_id=VM1.id, path="D:\\a.vhdx").with_chain([base])]
    assert ex.estimate_bytes(disks, memory_bytes=5, config_bytes=1) == 116
    unknown = Disk(vm_id=VM1.id, path="x").with_chain([VhdChainLink(path="x", file_size=None)])
    assert ex.estimate_bytes([unknown]) is None

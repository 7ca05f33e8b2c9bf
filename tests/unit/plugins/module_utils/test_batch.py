"""Pure helpers of _batch: per-volume space reservation across a batch, parallel bounds, tree simulation."""

from __future__ import annotations

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _batch as batch
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _host_reads as reads
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _lifecycle as lc
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _models
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import Checkpoint, Volume, VM

GiB = 1024 ** 3


def vol(letter, free):
    return Volume(drive_letter=letter, path="\\\\?\\Volume{%s}\\" % letter, size=100 * GiB, size_remaining=free)


def need(path, nbytes, what="x"):
    return {"path": path, "bytes": nbytes, "what": what}


def test_two_vms_cannot_count_the_same_free_bytes():
    volumes = [vol("D", 10 * GiB)]
    reserved = {}
    report, problems, claim = batch.reserve_space(volumes, [need("D:\\vm1\\a.vhdx", 6 * GiB)], reserved)
    assert problems == [] and report[0]["ok"] and report[0]["reserved_bytes"] == 0
    batch.commit(reserved, claim)
    report, problems, claim = batch.reserve_space(volumes, [need("D:\\vm2\\b.vhdx", 6 * GiB)], reserved)
    assert not report[0]["ok"] and report[0]["reserved_bytes"] == 6 * GiB
    assert "already needed by earlier VMs of this batch" in problems[0]
    # a refused VM reserves nothing: a smaller third one still fits
    report, problems, claim = batch.reserve_space(volumes, [need("d:/vm3/c.vhdx", 3 * GiB)], reserved)
    assert problems == [] and claim == {"D": 3 * GiB}


def test_needs_of_one_vm_add_up_per_volume_and_unknown_volumes_are_reported():
    volumes = [vol("C", 50 * GiB), vol("D", 1 * GiB)]
    report, problems, _claim = batch.reserve_space(
        volumes, [need("D:\\a", GiB // 2), need("D:\\b", GiB // 2 + 1), need("C:\\c", 1), need("\\\\fs\\s\\x", 5)], {})
    by = dict((r["volume"], r) for r in report)
    assert by["D:\\"]["needed_bytes"] == GiB + 1 and not by["D:\\"]["ok"]
    assert by["C:\\"]["ok"] and by[None]["ok"] is None
    assert len(problems) == 1 and "volume D:\\" in problems[0]


def test_free_space_unknown_is_not_a_refusal():
    volumes = [Volume(drive_letter="E", size_remaining=None)]
    report, problems, _claim = batch.reserve_space(volumes, [need("E:\\x", GiB)], {"E": 10 * GiB})
    assert report[0]["ok"] and problems == []


def test_parallel_bounds():
    assert batch.clamp_parallel(0) == 1
    assert batch.clamp_parallel(None) == 1
    assert batch.clamp_parallel(100) == batch.MAX_PARALLEL
    assert 1 <= batch.DEFAULT_PARALLEL <= batch.MAX_PARALLEL


def cp(cid, parent=None):
    return Checkpoint(id=cid, name=cid, vm_id="v", parent_id=parent)


def test_simulate_remove_reparents_and_moves_now():
    tree = [cp("a"), cp("b", "a"), cp("c", "b"), cp("d", "a")]
    after = batch.simulate_remove(tree, {"b"})
    assert [(c.id, c.parent_id) for c in after] == [("a", None), ("c", "a"), ("d", "a")]
    vm = VM(id="v", name="v", parent_checkpoint_id="b")
    assert batch.now_after(vm, tree, {"b"}) == "a"
    assert batch.now_after(vm, tree, {"a", "b"}) is None


def test_host_wide_read_pipelines_take_no_user_text():
    """Only the projections carry a parameter: the property names recorded from the models."""
    model_names = set(_models.VM_PROPERTIES + _models.VM_STATUS_PROPERTIES + _models.CHECKPOINT_PROPERTIES
                      + _models.INTEGRATION_SERVICE_PROPERTIES + lc.RAW_VM_PROPERTIES)
    for pipeline in (reads.all_checkpoints_pipeline(), reads.all_disks_pipeline(), reads.all_services_pipeline(),
                     reads.all_checkpoint_disks_pipeline(), reads.list_vms_pipeline(), reads.vm_statuses_pipeline(),
                     reads.list_vms_pipeline(lc.RAW_VM_PROPERTIES)):
        commands = pipeline[:-1] if pipeline[-1]["cmdlet"] == "Select-Object" else pipeline
        assert all(cmd["parameters"] == [] for cmd in commands)
        if commands is not pipeline:
            [[name, names]] = pipeline[-1]["parameters"]
            assert name == "Property" and names and set(names) <= model_names
    assert reads.vhds_pipeline(["D:\\a.vhdx", "D:\\b.avhdx"]) == [
        {"cmdlet": "Hyper-V\\Get-VHD", "parameters": [["Path", ["D:\\a.vhdx", "D:\\b.avhdx"]]]}]

"""Pure checkpoint-tree functions: examples plus hypothesis properties on random trees."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _tree as tree
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import Checkpoint, VhdChainLink


def cp(i, parent=None, name=None, t=None):
    return Checkpoint(
        id="c%03d" % i,
        name=name or "cp%d" % i,
        parent_id=("c%03d" % parent) if parent is not None else None,
        creation_time=t or "2026-11-%02dT00:00:00.0000000+00:00" % (1 + i % 28),
    )


#      c000
#     /    \
#   c001   c002
#    |       \
#   c003     c004 (Now parent)
SAMPLE = [cp(0), cp(1, 0), cp(2, 0), cp(3, 1), cp(4, 2)]


def ids(cps):
    return [c.id for c in cps]


def test_examples():
    assert ids(tree.roots(SAMPLE)) == ["c000"]
    assert tree.parent(SAMPLE, "c004").id == "c002"
    assert tree.parent(SAMPLE, "c000") is None
    assert ids(tree.children(SAMPLE, "c000")) == ["c001", "c002"]
    assert ids(tree.path_from_root(SAMPLE, "c004")) == ["c000", "c002", "c004"]
    assert tree.depth(SAMPLE, "c003") == 3
    assert tree.depth(SAMPLE, "nope") == 0
    assert ids(tree.subtree(SAMPLE, "c000")) == ["c000", "c001", "c003", "c002", "c004"]
    assert ids(tree.subtree(SAMPLE, "c002")) == ["c002", "c004"]
    assert ids(tree.descendants(SAMPLE, "c001")) == ["c003"]
    assert tree.latest(SAMPLE, "c004").id == "c004"
    assert tree.current(SAMPLE, None) is None
    assert tree.now_depth(SAMPLE, "c004") == 3
    assert tree.now_depth(SAMPLE, None) == 0
    assert tree.is_on_now_path(SAMPLE, "c004", "c002")
    assert not tree.is_on_now_path(SAMPLE, "c004", "c001")
    assert ids(tree.walk(SAMPLE)) == ["c000", "c001", "c003", "c002", "c004"]


def test_children_ordered_by_creation_time():
    cps = [cp(0), cp(1, 0, t="2026-11-05T00:00:00Z"), cp(2, 0, t="2026-11-02T00:00:00Z")]
    assert ids(tree.children(cps, "c000")) == ["c002", "c001"]


def test_orphans_become_roots():
    cps = [cp(0), cp(1, 7)]
    assert ids(tree.orphans(cps)) == ["c001"]
    assert ids(tree.roots(cps)) == ["c000", "c001"]


def test_cycles_do_not_hang():
    a = Checkpoint(id="a", name="a", parent_id="b")
    b = Checkpoint(id="b", name="b", parent_id="a")
    self_loop = Checkpoint(id="s", name="s", parent_id="s")
    cps = [a, b, self_loop]
    assert len(tree.path_from_root(cps, "a")) == 2
    assert set(ids(tree.walk(cps))) == {"a", "b", "s"}
    assert ids(tree.subtree(cps, "a")) == ["a", "b"]
    assert tree.parent(cps, "s") is None


def test_exact_name_matching():
    cps = [cp(0, name="Nightly"), cp(1, 0, name="nightly"), cp(2, 1, name="nightly ")]
    assert ids(tree.match_name(cps, "nightly")) == ["c001"]
    assert ids(tree.match_name_casefold(cps, "NIGHTLY")) == ["c000", "c001"]


def test_vhd_chain_helpers():
    chain = [
        VhdChainLink(path="a.avhdx", vhd_type="Differencing", parent_path="b.avhdx"),
        VhdChainLink(path="b.avhdx", vhd_type="Differencing", parent_path="base.vhdx"),
        VhdChainLink(path="base.vhdx", vhd_type="Dynamic"),
    ]
    assert tree.vhd_chain_depth(chain) == 2
    assert tree.chain_avhdx_paths(chain) == ["a.avhdx", "b.avhdx"]


@st.composite
def random_trees(draw):
    n = draw(st.integers(min_value=0, max_value=30))
    cps = []
    for i in range(n):
        parent = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=i - 1))) if i else None
        name = draw(st.sampled_from(["a", "b", "A", "nightly"]))
        cps.append(cp(i, parent, name=name))
    order = draw(st.permutations(cps))
    now = draw(st.one_of(st.none(), st.sampled_from(ids(cps)))) if cps else None
    return list(order), now


@settings(max_examples=200, deadline=None)
@given(random_trees())
def test_properties(data):
    cps, now = data
    walked = tree.walk(cps)
    # every checkpoint exactly once, parents before children
    assert sorted(ids(walked)) == sorted(ids(cps))
    position = {c.id: i for i, c in enumerate(walked)}
    for c in cps:
        if c.parent_id:
            assert position[c.parent_id] < position[c.id]
        # path ends at the checkpoint and starts at a root
        path = tree.path_from_root(cps, c.id)
        assert path[-1].id == c.id
        assert path[0].parent_id is None
        assert tree.depth(cps, c.id) == len(path)
        # children agree with parent pointers
        for child in tree.children(cps, c.id):
            assert child.parent_id == c.id
            assert tree.parent(cps, child.id).id == c.id
        # subtree = itself + descendants, and every member has c on its path
        sub = tree.subtree(cps, c.id)
        assert sub[0].id == c.id
        for member in sub:
            assert c.id in ids(tree.path_from_root(cps, member.id))
        outside = set(ids(cps)) - set(ids(sub))
        for other in outside:
            assert c.id not in ids(tree.path_from_root(cps, other))
    # roots partition the tree
    assert sum(len(tree.subtree(cps, r.id)) for r in tree.roots(cps)) == len(cps)
    # Now
    if now is not None:
        assert tree.latest(cps, now).id == now
        assert tree.now_depth(cps, now) == tree.depth(cps, now)
        assert tree.is_on_now_path(cps, now, now)
    else:
        assert tree.latest(cps, now) is None
    # tree_summary is consistent with the functions
    summary = {s["id"]: s for s in tree.tree_summary(cps, now)}
    for c in cps:
        assert summary[c.id]["children_ids"] == ids(tree.children(cps, c.id))
        assert summary[c.id]["is_current"] == (c.id == now)


@settings(max_examples=50, deadline=None)
@given(random_trees())
def test_pure_functions_do_not_mutate(data):
    cps, now = data
    before = [dataclasses.asdict(c) for c in cps]
    tree.walk(cps)
    tree.tree_summary(cps, now)
    for c in cps:
        tree.subtree(cps, c.id)
    assert [dataclasses.asdict(c) for c in cps] == before


@pytest.mark.parametrize("func", [tree.parent, tree.children, tree.subtree, tree.path_from_root, tree.find])
def test_unknown_and_empty_ids(func):
    assert func(SAMPLE, "missing") in (None, [])
    assert func([], "c000") in (None, [])

"""Pure retention logic of checkpoint_prune (_retention.py), including a hypothesis property test."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import Checkpoint
from ansible_collections.hyperv.checkpoints.plugins.module_utils._retention import (
    RetentionError,
    compile_matcher,
    parse_duration,
    select,
    tree_after,
)

NOW = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.timezone.utc)
TYPES = ["Standard", "Recovery", "Planned", "Missing", "Replica", "AppConsistentReplica", "SyncedReplica"]


def iso(days_ago=0.0, hours_ago=0.0):
    return (NOW - datetime.timedelta(days=days_ago, hours=hours_ago)).isoformat()


def cp(i, name, days_ago, parent=None, snapshot_type="Standard"):
    return Checkpoint(id="00000000-0000-4000-8000-%012d" % i, name=name, parent_id=parent,
                      snapshot_type=snapshot_type, creation_time=iso(days_ago))


@pytest.mark.parametrize(
    "text, seconds",
    [("7d", 604800), ("12h", 43200), ("90m", 5400), ("45s", 45), ("2w", 1209600), ("1d12h", 129600),
     (" 3D ", 259200), ("3600", 3600), (60, 60), ("1h 30m", 5400)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "7x", "d7", "-1d", "1.5d", "seven days", True, None, -5])
def test_parse_duration_rejects(text):
    if text == "7":
        assert parse_duration(text) == 7  # a bare number is seconds
        return
    with pytest.raises(RetentionError):
        parse_duration(text)


def test_glob_is_whole_name_and_case_sensitive():
    m = compile_matcher("ansible-nightly-*")
    assert m("ansible-nightly-01")
    assert not m("Ansible-nightly-01")
    assert not m("x-ansible-nightly-01")
    literal = compile_matcher("db[[]01]")
    assert literal("db[01]") and not literal("db0")
    assert compile_matcher("a?b")("axb")


def test_regex_search_and_errors():
    m = compile_matcher(r"^pre-patch-\d{4}$", "regex")
    assert m("pre-patch-2026") and not m("pre-patch-2026x")
    assert compile_matcher("nightly", "regex")("ansible-nightly-3")
    with pytest.raises(RetentionError, match="regular expression"):
        compile_matcher("(", "regex")


def test_needs_a_rule():
    with pytest.raises(RetentionError):
        select([], None, NOW)


def tree():
    return [
        cp(1, "ansible-n1", 10),
        cp(2, "ansible-n2", 8, parent=cp(1, "", 0).id),
        cp(3, "manual", 7, parent=cp(2, "", 0).id),
        cp(4, "ansible-n3", 5, parent=cp(3, "", 0).id),
        cp(5, "Recovery checkpoint", 9, snapshot_type="Recovery"),
        cp(6, "ansible-replica", 9, snapshot_type="Replica"),
        cp(7, "ansible-n4", 1, parent=cp(4, "", 0).id),
    ]


def ids(cps):
    return [c.id[-1] for c in cps]


def test_keep_newest_owned_only_oldest_first():
    sel = select(tree(), now_parent_id=cp(7, "", 0).id, now=NOW, keep_newest=2)
    assert ids(sel["remove"]) == ["1", "2"]
    assert sorted(ids(pair[0] for pair in sel["keep"])) == ["4", "7"]
    skipped = dict((c.id[-1], why) for c, why in sel["skip"])
    assert "not created by this collection" in skipped["3"]
    assert skipped["5"] == "type Recovery is never pruned"
    assert skipped["6"] == "type Replica is never pruned"


def test_older_than_and_keep_newest_combine():
    sel = select(tree(), None, NOW, keep_newest=1, older_than=parse_duration("6d"))
    assert ids(sel["remove"]) == ["1", "2"]
    reasons = dict((c.id[-1], why) for c, why in sel["keep"])
    assert "younger than older_than (6d)" == reasons["4"]
    assert "keep_newest" in reasons["7"]


def test_current_checkpoint_is_protected_unless_asked():
    sel = select(tree(), now_parent_id=cp(1, "", 0).id, now=NOW, keep_newest=0)
    assert ids(sel["remove"]) == ["2", "4", "7"]
    assert "currently runs from it" in sel["keep"][0][1]
    sel = select(tree(), now_parent_id=cp(1, "", 0).id, now=NOW, keep_newest=0, include_current=True)
    assert ids(sel["remove"]) == ["1", "2", "4", "7"]


def test_not_owned_with_pattern():
    sel = select(tree(), None, NOW, keep_newest=0, matcher=compile_matcher("manual"), owned_only=False)
    assert ids(sel["remove"]) == ["3"]


def test_unknown_creation_time_is_never_removed():
    cps = [Checkpoint(id="00000000-0000-4000-8000-000000000001", name="ansible-x", snapshot_type="Standard",
                      creation_time=None)]
    sel = select(cps, None, NOW, keep_newest=0)
    assert sel["remove"] == [] and sel["keep"][0][1] == "creation time unknown"


def test_tree_after_reparents_children_and_now():
    cps = tree()
    after, now_parent = tree_after(cps, cp(2, "", 0).id, [cp(2, "", 0).id, cp(1, "", 0).id])
    by_id = dict((n["id"][-1], n) for n in after)
    assert "1" not in by_id and "2" not in by_id
    assert by_id["3"]["parent_id"] is None
    assert now_parent is None
    after, now_parent = tree_after(cps, cp(7, "", 0).id, [cp(4, "", 0).id])
    assert dict((n["id"][-1], n) for n in after)["7"]["parent_id"] == cp(3, "", 0).id
    assert now_parent == cp(7, "", 0).id


# ---------------------------------------------------------------------------------------- property
NAMES = st.sampled_from(["ansible-a", "ansible-b", "ansible-nightly-1", "nightly", "manual", "Ansible-x",
                         "ansible-", "db[01]", "a*b", "", " ansible-pad"])


@st.composite
def trees(draw):
    n = draw(st.integers(min_value=0, max_value=25))
    cps = []
    for i in range(n):
        parent = draw(st.one_of(st.none(), st.sampled_from([c.id for c in cps]))) if cps else None
        created = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=60 * 24 * 60).map(
            lambda minutes: (NOW - datetime.timedelta(minutes=minutes)).isoformat())))
        cps.append(Checkpoint(id="00000000-0000-4000-8000-%012d" % i, name=draw(NAMES), parent_id=parent,
                              snapshot_type=draw(st.sampled_from(TYPES + ["Standard"] * 4 + [None])),
                              creation_time=created))
    now_parent = draw(st.one_of(st.none(), st.sampled_from([c.id for c in cps]))) if cps else None
    return cps, now_parent


@settings(max_examples=400, deadline=None)
@given(
    data=trees(),
    keep_newest=st.one_of(st.none(), st.integers(min_value=0, max_value=8)),
    older_than=st.one_of(st.none(), st.integers(min_value=0, max_value=40 * 86400)),
    pattern=st.sampled_from([None, "ansible-*", "*nightly*", "a*b", "db[[]01]", "?"]),
    owned_only=st.booleans(),
    include_current=st.booleans(),
)
def test_prune_property(data, keep_newest, older_than, pattern, owned_only, include_current):
    cps, now_parent = data
    if keep_newest is None and older_than is None:
        keep_newest = 1
    matcher = compile_matcher(pattern)
    sel = select(cps, now_parent, NOW, keep_newest, older_than, matcher, "ansible-", owned_only, include_current)

    def in_scope(c):
        return (c.snapshot_type == "Standard" and (not owned_only or c.name.startswith("ansible-"))
                and matcher(c.name))

    removed = sel["remove"]
    removed_ids = set(c.id for c in removed)
    # never a non-Standard checkpoint, never one outside the scope
    assert all(c.snapshot_type == "Standard" for c in removed)
    assert all(in_scope(c) for c in removed)
    # at least keep_newest of the matching checkpoints remain
    scope = [c for c in cps if in_scope(c)]
    if keep_newest:
        assert len(scope) - len(removed) >= min(keep_newest, len(scope))
    # nothing younger than older_than, the current checkpoint only when asked
    for c in removed:
        age = (NOW - datetime.datetime.fromisoformat(c.creation_time)).total_seconds()
        if older_than is not None:
            assert age > older_than
        if not include_current:
            assert c.id != now_parent
    # oldest first, each decision made exactly once
    times = [c.creation_time for c in removed]
    assert [datetime.datetime.fromisoformat(x) for x in times] == sorted(datetime.datetime.fromisoformat(x) for x in times)
    decided = [c.id for c in removed] + [pair[0].id for pair in sel["keep"]] + [pair[0].id for pair in sel["skip"]]
    assert sorted(decided) == sorted(c.id for c in cps)
    # the tree after removal keeps every survivor and never points at a removed checkpoint
    after, new_now = tree_after(cps, now_parent, removed_ids)
    assert len(after) == len(cps) - len(removed)
    assert all(n["parent_id"] not in removed_ids for n in after)
    assert new_now not in removed_ids or new_now is None

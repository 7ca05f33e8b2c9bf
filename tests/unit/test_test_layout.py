"""The test tree itself: pytest's default import mode needs unique test module basenames."""

from __future__ import annotations

import collections
import pathlib

TESTS = pathlib.Path(__file__).resolve().parents[1]


def test_test_module_basenames_are_unique():
    seen = collections.defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        if "output" in path.relative_to(TESTS).parts:
            continue
        seen[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, "rename one of each pair (pytest 'import file mismatch'): %s" % clashes

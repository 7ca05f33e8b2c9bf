"""Import paths hvsim needs: the collection (for the WinRS runner digest) and the shared references."""

from __future__ import annotations

import os
import pathlib
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEV_COLLECTIONS = REPO_ROOT / "build" / "dev_collections"
SHARED_REFERENCE = pathlib.Path(
    os.environ.get("HVSIM_SHARED_REFERENCE", str(REPO_ROOT.parent / "shared" / "reference"))
)


def ensure_collection_importable() -> None:
    """Make ``ansible_collections.hyperv.checkpoints`` importable from this work tree.

    A symlink under build/ (git-ignored) points at the repository root, so edits are live.
    """
    link = DEV_COLLECTIONS / "ansible_collections" / "hyperv" / "checkpoints"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(REPO_ROOT, target_is_directory=True)
        except FileExistsError:
            pass
    if str(DEV_COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(DEV_COLLECTIONS))

"""Shared pytest set-up: make hvsim and the collection importable from the work tree."""

from __future__ import annotations

import pathlib
import sys

TESTS_DIR = pathlib.Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from hvsim._paths import ensure_collection_importable  # noqa: E402

ensure_collection_importable()
pytest_plugins = ["hvsim.fixture"]

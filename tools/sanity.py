"""Run ``ansible-test sanity`` offline on the installed copy of the collection.

Usage: ``python tools/sanity.py [extra ansible-test arguments]`` (``make sanity`` runs it
after ``make install``).

1. Ask the installed ansible-test which pip version it bootstraps into its per-test
   virtualenvs and write ``tools/get_pip_standin.py`` to
   ``~/.ansible/test/cache/get_pip_<version>.py``, the file ansible-test would otherwise
   download from a host these machines cannot reach.
2. Run ``ansible-test sanity --local --python <X.Y>`` inside
   ``build/collections/ansible_collections/hyperv/checkpoints``. Its exit status (non-zero
   on any sanity error) is this script's exit status.

Sanity tests that cannot run on these machines are skipped here, each with its reason
(see ``SKIPPED_TESTS``).
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import types

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
INSTALLED = REPO_ROOT / "build" / "collections" / "ansible_collections" / "hyperv" / "checkpoints"
STANDIN = REPO_ROOT / "tools" / "get_pip_standin.py"

# Sanity tests skipped on purpose, with the reason. Everything else runs.
SKIPPED_TESTS: dict[str, str] = {
    # None so far. pslint needs pwsh, which no package registry here provides; ansible-test
    # skips it by itself while the collection has no .ps1/.psm1 files (it has none: the
    # PowerShell the modules send lives in Python module_utils), so it needs no entry.
}


def bootstrap_pip_version() -> str:
    """The pip version ansible-test installs into the virtualenvs it creates."""
    from ansible_test._internal import python_requirements  # pylint: disable=import-outside-toplevel

    python = types.SimpleNamespace(version=f"{sys.version_info[0]}.{sys.version_info[1]}")
    try:
        return python_requirements.get_venv_packages(python)["pip"]
    except Exception:  # pragma: no cover - fall back to reading the source
        source = pathlib.Path(python_requirements.__file__).read_text(encoding="utf-8")
        match = re.search(r"pip='([0-9.]+)'", source)
        if not match:
            raise SystemExit("cannot find the pip version ansible-test bootstraps") from None
        return match.group(1)


def install_standin(pip_version: str) -> pathlib.Path:
    cache = pathlib.Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"get_pip_{pip_version.replace('.', '_')}.py"
    if not target.exists() or target.read_bytes() != STANDIN.read_bytes():
        shutil.copyfile(STANDIN, target)
    return target


def make_own_git_root(root: pathlib.Path) -> None:
    """Give the installed copy its own (empty) git repository.

    ansible-test lists the files to test with git when it finds a ``.git`` folder at or
    *above* the collection root. The installed copy lives under ``build/`` of this
    repository, which git ignores, so ansible-test would see no file at all ("All targets
    skipped") and pass vacuously. A repository of its own makes ``git ls-files --others``
    list every installed file.
    """
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "--quiet", str(root)], check=True)
    (root / ".git" / "info").mkdir(parents=True, exist_ok=True)
    (root / ".git" / "info" / "exclude").write_text("/tests/output/\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if not (INSTALLED / "galaxy.yml").exists() and not (INSTALLED / "MANIFEST.json").exists():
        print(f"sanity: {INSTALLED} does not exist; run 'make install' first", file=sys.stderr)
        return 2
    target = install_standin(bootstrap_pip_version())
    print(f"sanity: pip bootstrap stand-in at {target}", flush=True)

    # A stale ansible-test scratch folder makes the line-endings and symlinks tests fail.
    shutil.rmtree(INSTALLED / "tests" / "output", ignore_errors=True)
    make_own_git_root(INSTALLED)

    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    ansible_test = pathlib.Path(sys.executable).parent / "ansible-test"
    cmd = [str(ansible_test), "sanity", "--local", "--python", python, "--color", "no"]
    for test, reason in SKIPPED_TESTS.items():
        print(f"sanity: skipping {test}: {reason}", flush=True)
        cmd += ["--skip-test", test]
    cmd += argv
    env = dict(os.environ)
    env["PATH"] = f"{ansible_test.parent}{os.pathsep}{env.get('PATH', '')}"
    print("sanity: " + " ".join(cmd), flush=True)
    started = time.monotonic()
    rc = subprocess.run(cmd, cwd=INSTALLED, env=env, check=False).returncode
    print(f"sanity: ansible-test exited {rc} after {time.monotonic() - started:.0f}s", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test creates an empty virtualenv (``python -m venv --without-pip``) for each
sanity test and then runs ``~/.ansible/test/cache/get_pip_<version>.py`` inside it with
pip-style arguments, for example::

    --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel

It normally downloads that script from a CI host these machines cannot reach.
``tools/sanity.py`` copies this file to the cache path instead.  It:

1. bootstraps pip from the standard library (``python -m ensurepip``);
2. runs ``pip install`` with the same arguments, minus the two get-pip-only flags
   ``--no-setuptools`` and ``--no-wheel``, so pip is brought to the exact pinned
   version from the package index.
"""

from __future__ import annotations

import subprocess
import sys

GET_PIP_ONLY_FLAGS = frozenset({"--no-setuptools", "--no-wheel"})


def main(argv: list[str]) -> int:
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], check=True,
                   stdout=subprocess.DEVNULL)
    args = [arg for arg in argv if arg not in GET_PIP_ONLY_FLAGS]
    return subprocess.run([sys.executable, "-m", "pip", "install", *args], check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Check that meta/runtime.yml's ``action_groups: hyperv`` lists exactly the modules.

Every module in plugins/modules/ belongs to the ``hyperv`` action group (so
``module_defaults: group/hyperv.checkpoints.hyperv`` sets the connection once), and the
list is kept in alphabetical order. Run by ``make lint``; prints what to change on failure.
"""

from __future__ import annotations

import pathlib
import sys

import yaml

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> int:
    runtime = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text(encoding="utf-8"))
    listed = (runtime.get("action_groups") or {}).get("hyperv") or []
    modules = sorted(p.stem for p in (REPO_ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    problems = []
    if listed != sorted(listed):
        problems.append("the list is not in alphabetical order")
    if missing := sorted(set(modules) - set(listed)):
        problems.append("modules missing from the list: " + ", ".join(missing))
    if extra := sorted(set(listed) - set(modules)):
        problems.append("listed but no such module in plugins/modules: " + ", ".join(extra))
    if problems:
        print("meta/runtime.yml action_groups.hyperv: " + "; ".join(problems), file=sys.stderr)
        print("expected:\n  hyperv:\n" + "".join(f"    - {name}\n" for name in modules), file=sys.stderr)
        return 1
    print(f"action group hyperv: {len(listed)} module(s), alphabetical, matches plugins/modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run the stages of ``make test`` one after another and print a summary.

Usage: ``python tools/run_stages.py STAGE [STAGE ...]`` where each STAGE is a make target.

Every stage runs even when an earlier one failed (so one CI run reports every problem),
except that the stages after a failed ``install`` are reported as not run when they need
the installed collection. Each stage's output is streamed and also kept in
``build/test-logs/<stage>.log``. A stage that runs longer than ``STAGE_TIMEOUT`` seconds
(default 1500) is killed. The exit status is non-zero when any stage failed.

The last line totals the pytest results of all stages, in pytest's own words
("N passed, N failed"), so a run that executed no test cannot look green.
"""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
LOG_DIR = REPO_ROOT / "build" / "test-logs"
# No stage may take longer than this (seconds; CI kills the whole run at 90 minutes).
STAGE_TIMEOUT = float(os.environ.get("STAGE_TIMEOUT", "1500"))
# Stages that use the installed copy under build/collections.
NEEDS_INSTALL = {"sanity", "molecule", "demo", "bench"}
# pytest's closing line, e.g. "==== 3 failed, 120 passed, 2 skipped in 4.20s ====".
PYTEST_SUMMARY = re.compile(r"^=+ (?P<counts>(?:\d+ \w+(?:, )?)+)(?: in [\d.]+s.*)? =+$")
COUNT = re.compile(r"(\d+) (\w+)")


def _pump(stream, log, counts: dict[str, int]) -> None:
    """Copy the stage's output to our stdout and its log; add up pytest's closing lines."""
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()
        log.write(line)
        match = PYTEST_SUMMARY.match(line.strip())
        if match:
            for number, word in COUNT.findall(match.group("counts")):
                key = {"error": "errors", "warning": "warnings"}.get(word, word)
                counts[key] = counts.get(key, 0) + int(number)


def _killpg(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def run_stage(stage: str) -> tuple[int, float, dict[str, int], bool]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    counts: dict[str, int] = {}
    timed_out = False
    with (LOG_DIR / f"{stage}.log").open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", stage],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,  # its own process group, so a timeout can kill all of it
        )
        pump = threading.Thread(target=_pump, args=(proc.stdout, log, counts), daemon=True)
        pump.start()
        try:
            try:
                rc = proc.wait(timeout=STAGE_TIMEOUT)
            except subprocess.TimeoutExpired:
                timed_out = True
                print(f"\nrun_stages: {stage} exceeded {STAGE_TIMEOUT:.0f}s; killing it", flush=True)
                _killpg(proc, signal.SIGKILL)
                rc = proc.wait()
        except BaseException:  # Ctrl-C / SIGTERM: do not leave the stage running on its own
            _killpg(proc, signal.SIGTERM)
            raise
        # A process the stage left behind may still hold the output pipe: do not wait on it forever.
        pump.join(timeout=30)
        if pump.is_alive():
            print(f"run_stages: a process left behind by {stage} still holds its output; not waiting for it",
                  flush=True)
    return rc, time.monotonic() - started, counts, timed_out


def main(stages: list[str]) -> int:
    results: list[tuple[str, str, float]] = []
    totals: dict[str, int] = {}
    install_failed = False
    for stage in stages:
        if install_failed and stage in NEEDS_INSTALL:
            results.append((stage, "NOT RUN (install failed)", 0.0))
            continue
        print(f"\n======== make {stage} ========", flush=True)
        rc, seconds, counts, timed_out = run_stage(stage)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        if timed_out:
            status = f"TIMEOUT (> {STAGE_TIMEOUT:.0f}s)"
        else:
            status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        if stage == "install" and rc != 0:
            install_failed = True
        results.append((stage, status, seconds))

    failed = [stage for stage, status, _ in results if status != "ok"]
    print("\n======== make test: summary ========")
    for stage, status, seconds in results:
        print(f"  {stage:<12} {status:<26} {seconds:7.1f}s")
    print(f"  {'total':<12} {'':<26} {sum(s for _, _, s in results):7.1f}s")
    print(f"  logs: {os.path.relpath(LOG_DIR, REPO_ROOT)}/<stage>.log")
    if failed:
        print(f"make test FAILED in: {', '.join(failed)}")
    else:
        print("make test passed: every stage succeeded")
    passed = totals.get("passed", 0)
    bad = totals.get("failed", 0) + totals.get("errors", 0)
    others = ", ".join(f"{totals[k]} {k}" for k in ("xfailed", "xpassed", "deselected") if totals.get(k))
    if others:
        print(f"  pytest also reported: {others}")
    print(f"pytest: {passed} passed, {bad} failed, {totals.get('skipped', 0)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    sys.exit(main(sys.argv[1:]))

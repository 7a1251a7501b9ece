"""Run the suite on SQLite and on a throwaway PostgreSQL cluster side by side.

The two halves share nothing (each its own pytest temporary directory, database and
ports), so on a two-core machine they take about the time of the slower one. Each half's
output is printed whole when it ends; the exit status is non-zero if either failed.

    python tests/suites.py [PYTEST ARGS...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


def main(arguments: list[str]) -> int:
    python = sys.executable
    workdir = Path(tempfile.mkdtemp(prefix="gridhub-suites-"))
    pytest = [python, "-m", "pytest", "-p", "no:cacheprovider", *arguments]
    halves = {
        "SQLite": [*pytest, f"--basetemp={workdir / 'sqlite'}"],
        "PostgreSQL (throwaway cluster)": [
            python,
            str(ROOT / "tests" / "pgcluster.py"),
            "--",
            *pytest,
            f"--basetemp={workdir / 'postgresql'}",
        ],
    }
    started = time.monotonic()
    running: dict[str, tuple[subprocess.Popen[bytes], IO[bytes]]] = {}
    for name, command in halves.items():
        log = (workdir / f"{len(running)}.log").open("w+b")
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        running[name] = (process, log)
    status = 0
    for name, (process, output) in running.items():
        code = process.wait()
        output.seek(0)
        print(f"== tests on {name}: exit {code} ==", flush=True)
        sys.stdout.buffer.write(output.read())
        sys.stdout.flush()
        status = status or code
    print(f"== both halves done in {time.monotonic() - started:.0f} s ==")
    shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

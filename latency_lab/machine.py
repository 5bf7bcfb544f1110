"""Which machine produced a notebook's numbers: CPU, cores, OS, versions, date (all lessons).

Wall-clock results differ between machines and runs. Every notebook prints this stamp in
its first code cell, so a learner comparing their numbers with the stored outputs can see
whether the two came from the same kind of machine.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

#: Packages whose versions change what the course measures.
KEY_PACKAGES = ("numpy", "numba", "pandas")


def cpu_model() -> str:
    """The CPU's marketing name (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask), which can be fewer than the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def describe() -> dict[str, str]:
    """The stamp's fields: cpu, cores, os, python, package versions and the date (UTC)."""
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": cpu_model(),
        "cores": f"{usable_cores()} usable of {os.cpu_count() or '?'}",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        **versions,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def stamp() -> str:
    """The machine stamp as a few aligned lines, for the first code cell of a notebook."""
    fields = describe()
    width = max(map(len, fields))
    return "\n".join(f"{key:<{width}}  {value}" for key, value in fields.items())


def print_stamp() -> None:
    """Print :func:`stamp` under a heading: which machine produced the outputs below."""
    print("Outputs below were produced on:\n" + stamp())

"""Which machine produced a notebook's numbers: CPU, cores, OS, versions, date (all lessons).

Wall-clock results differ between machines and runs. Every notebook prints this stamp in
its first code cell, so a learner comparing their numbers with the stored outputs can see
whether the two came from the same kind of machine.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

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


# -- the production checklist (lesson 10): read-only probes of this machine's settings ----------
#: What a probe reports when this machine does not show a setting (the reason follows).
NOT_VISIBLE = "not visible here"
#: Kernel command-line parameters the checklist looks for (CPU isolation, idle states, pages).
CMDLINE_KEYS = (
    "isolcpus", "nohz_full", "rcu_nocbs", "irqaffinity", "idle", "intel_idle.max_cstate",
    "processor.max_cstate", "intel_pstate", "nosmt", "transparent_hugepage", "hugepages",
    "default_hugepagesz", "mitigations", "clocksource", "tsc",
)  # fmt: skip
#: Device files whose presence shows a kernel-bypass stack (VFIO for DPDK, RDMA verbs, Onload).
BYPASS_DEVICES = ("dev/vfio", "dev/infiniband", "dev/onload")
#: Seconds ``ethtool -c`` may take before its probe gives up.
ETHTOOL_TIMEOUT_S = 5.0


class ChecklistItem(NamedTuple):
    """One production-checklist item: its name, the read-only command that shows the setting
    on any Linux machine, and what this machine reports (lesson 10)."""

    item: str
    command: str
    reports: str


def _under(root, path: str) -> Path:
    return Path(root, path.lstrip("/"))


def read_setting(path: str, root: str = "/") -> str | None:
    """A small settings file (``/proc``, ``/sys``) as stripped text, or None if this machine
    does not show it (lesson 10). ``root`` lets tests point at a fake file tree."""
    if not isinstance(path, str) or not isinstance(root, str | os.PathLike):
        raise TypeError("path must be a str and root a path")
    try:
        with open(_under(root, path), encoding="utf-8", errors="replace") as f:
            return f.read(65_536).strip()
    except OSError:
        return None


def kernel_parameters(root: str = "/") -> dict[str, str] | None:
    """The :data:`CMDLINE_KEYS` present on the kernel command line (``/proc/cmdline``), with
    their values ("" for a bare flag); None if it is not visible (lesson 10)."""
    cmdline = read_setting("/proc/cmdline", root)
    if cmdline is None:
        return None
    found = {}
    for token in cmdline.split(" -- ")[0].split():  # after "--" come init's arguments
        key, _, value = token.partition("=")
        if key in CMDLINE_KEYS:
            found[key] = value
    return found


def _hidden(what: str) -> str:
    return f"{NOT_VISIBLE} ({what})"


def _cpu_dirs(root) -> list[Path]:
    base = _under(root, "/sys/devices/system/cpu")
    try:
        return sorted(
            (p for p in base.iterdir() if re.fullmatch(r"cpu\d+", p.name)),
            key=lambda p: int(p.name[3:]),
        )
    except OSError:
        return []


def _per_cpu(root, relative: str) -> dict[int, str]:
    values = {}
    for cpu in _cpu_dirs(root):
        value = read_setting(str(cpu / relative), "/")
        if value is not None:
            values[int(cpu.name[3:])] = value
    return values


def _grouped(values: dict[int, str]) -> str:
    """``{0: 'a', 1: 'a', 2: 'b'}`` as ``'a (cpus 0,1); b (cpu 2)'``."""
    by_value: dict[str, list[int]] = {}
    for cpu, value in values.items():
        by_value.setdefault(value, []).append(cpu)
    parts = []
    for value, cpus in by_value.items():
        label = "cpu" if len(cpus) == 1 else "cpus"
        parts.append(f"{value} ({label} {','.join(map(str, cpus))})")
    return "; ".join(parts)


def probe_governor(root: str = "/") -> str:
    """The cpufreq scaling governor of each CPU (lesson 10 checklist)."""
    governors = _per_cpu(root, "cpufreq/scaling_governor")
    if not governors:
        return _hidden("no cpufreq in /sys: no frequency driver, or a VM or container hides it")
    driver = read_setting("/sys/devices/system/cpu/cpu0/cpufreq/scaling_driver", root)
    return f"governor {_grouped(governors)}" + (f"; driver {driver}" if driver else "")


def probe_idle_states(root: str = "/") -> str:
    """The cpuidle driver, CPU 0's idle states with exit latencies, and any C-state limit on
    the kernel command line (lesson 10 checklist)."""
    driver = read_setting("/sys/devices/system/cpu/cpuidle/current_driver", root)
    states = []
    base = _under(root, "/sys/devices/system/cpu/cpu0/cpuidle")
    try:
        dirs = sorted(base.glob("state*"), key=lambda p: int(p.name[5:] or 0))
    except (OSError, ValueError):
        dirs = []
    for state in dirs:
        name = read_setting(str(state / "name"), "/")
        latency = read_setting(str(state / "latency"), "/")
        disabled = read_setting(str(state / "disable"), "/") == "1"
        if name:
            notes = ([f"exit {latency} µs"] if latency else []) + (["disabled"] if disabled else [])
            states.append(name + (f" ({', '.join(notes)})" if notes else ""))
    params = kernel_parameters(root) or {}
    limits = [f"{k}={v}" for k, v in params.items() if "cstate" in k or k == "idle"]
    if driver is None and not states:
        return _hidden("no cpuidle in /sys")
    text = f"driver {driver or 'none'}; cpu0 states: " + (", ".join(states) or "none listed")
    return text + ("; " + ", ".join(limits) if limits else "; no C-state limit on the command line")


def probe_smt(root: str = "/") -> str:
    """Whether simultaneous multithreading (hyper-threading) is on, and CPU 0's siblings
    (lesson 10 checklist)."""
    control = read_setting("/sys/devices/system/cpu/smt/control", root)
    active = read_setting("/sys/devices/system/cpu/smt/active", root)
    siblings = read_setting("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list", root)
    if control is None and active is None and siblings is None:
        return _hidden("no SMT control or topology in /sys")
    parts = []
    if control is not None:
        parts.append(f"control {control}")
    if active is not None:
        parts.append(f"active {active}")
    if siblings is not None:
        parts.append(f"threads of cpu0's core: cpus {siblings}")
    return "; ".join(parts)


def _cpu_list(cpus) -> str:
    """``[0, 1, 2, 5]`` as ``'0-2,5'``."""
    cpus, runs = sorted(cpus), []
    for cpu in cpus:
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def probe_pinning(root: str = "/") -> str:
    """The CPUs this process may run on (its affinity mask), of those the machine has
    (lesson 10 checklist)."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:
        return _hidden("this operating system has no CPU affinity call")
    return f"this process may run on cpus {_cpu_list(allowed)} (of {os.cpu_count() or '?'})"


def probe_isolation(root: str = "/") -> str:
    """CPU isolation: ``isolcpus``, ``nohz_full``, ``rcu_nocbs`` on the kernel command line
    and the kernel's own lists of isolated and tickless CPUs (lesson 10 checklist)."""
    params = kernel_parameters(root)
    isolated = read_setting("/sys/devices/system/cpu/isolated", root)
    nohz = read_setting("/sys/devices/system/cpu/nohz_full", root)
    if params is None and isolated is None:
        return _hidden("no /proc/cmdline or /sys/devices/system/cpu/isolated")
    parts = []
    if params is not None:
        keys = ("isolcpus", "nohz_full", "rcu_nocbs")
        given = [f"{k}={params[k]}" for k in keys if k in params]
        parts.append("command line: " + (", ".join(given) or "no isolcpus, nohz_full, rcu_nocbs"))
    if isolated is not None:
        parts.append(f"isolated cpus: {isolated or 'none'}")
    parts.append(f"nohz_full cpus: {nohz or 'none'}" if nohz is not None else "no nohz_full list")
    return "; ".join(parts)


def probe_huge_pages(root: str = "/") -> str:
    """Transparent huge pages (mode and defrag) and reserved huge pages (lesson 10 checklist)."""
    enabled = read_setting("/sys/kernel/mm/transparent_hugepage/enabled", root)
    defrag = read_setting("/sys/kernel/mm/transparent_hugepage/defrag", root)
    meminfo = read_setting("/proc/meminfo", root) or ""
    fields = dict(
        (line.split(":", 1)[0], line.split(":", 1)[1].strip())
        for line in meminfo.splitlines()
        if ":" in line
    )
    if enabled is None and "HugePages_Total" not in fields:
        return _hidden("no transparent_hugepage in /sys and no HugePages in /proc/meminfo")
    parts = []
    if enabled is not None:
        parts.append(f"THP {_chosen(enabled)}, defrag {_chosen(defrag or '?')}")
    if "HugePages_Total" in fields:
        size = fields.get("Hugepagesize", "? kB")
        parts.append(f"{fields['HugePages_Total']} reserved huge pages of {size}")
    return "; ".join(parts)


def _chosen(options: str) -> str:
    """The bracketed choice of a sysfs list such as ``always [madvise] never``."""
    match = re.search(r"\[([^\]]+)\]", options)
    return match.group(1) if match else options


def probe_swappiness(root: str = "/") -> str:
    """``vm.swappiness`` and the swap devices in use (lesson 10 checklist)."""
    swappiness = read_setting("/proc/sys/vm/swappiness", root)
    swaps = read_setting("/proc/swaps", root)
    if swappiness is None:
        return _hidden("no /proc/sys/vm/swappiness")
    devices = len(swaps.splitlines()) - 1 if swaps else 0
    return f"vm.swappiness={swappiness}; " + (
        f"{devices} swap device(s) in use" if devices > 0 else "no swap device in use"
    )


def probe_numa(root: str = "/") -> str:
    """NUMA nodes online and automatic NUMA balancing (lesson 10 checklist)."""
    online = read_setting("/sys/devices/system/node/online", root)
    balancing = read_setting("/proc/sys/kernel/numa_balancing", root)
    if online is None:
        return _hidden("no /sys/devices/system/node")
    single = online in ("0", "0-0")
    text = f"nodes online: {online}" + (" (one node: all memory is local)" if single else "")
    if balancing is not None:
        text += f"; kernel.numa_balancing={balancing}"
    return text


def _running(root, name: str) -> bool | None:
    """Whether a process called ``name`` runs (``/proc/<pid>/comm``); None if not visible."""
    proc = _under(root, "/proc")
    try:
        pids = [p for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return None
    for pid in pids:
        if read_setting(str(pid / "comm"), "/") == name:
            return True
    return False


def probe_irq_affinity(root: str = "/") -> str:
    """The default IRQ affinity mask, how many IRQs there are, and whether irqbalance runs
    (lesson 10 checklist)."""
    default = read_setting("/proc/irq/default_smp_affinity", root)
    if default is None:
        return _hidden("no /proc/irq")
    try:
        irqs = sum(1 for p in _under(root, "/proc/irq").iterdir() if p.name.isdigit())
    except OSError:
        irqs = 0
    balancing = _running(root, "irqbalance")
    state = {True: "irqbalance running", False: "irqbalance not running", None: "irqbalance ?"}
    return f"default affinity mask {default}; {irqs} IRQs; {state[balancing]}"


def _interfaces(root) -> list[str]:
    try:
        names = sorted(p.name for p in _under(root, "/sys/class/net").iterdir())
    except OSError:
        return []
    return [n for n in names if n != "lo"]


def _napi_settings(root, iface: str) -> str:
    base = f"/sys/class/net/{iface}"
    defer = read_setting(f"{base}/napi_defer_hard_irqs", root)
    flush = read_setting(f"{base}/gro_flush_timeout", root)
    if defer is None and flush is None:
        return ""
    return f"napi_defer_hard_irqs={defer or '?'}, gro_flush_timeout={flush or '?'} ns"


def probe_nic_coalescing(root: str = "/") -> str:
    """Interrupt coalescing of each network interface (``ethtool -c``, when installed) and
    its NAPI deferral settings from /sys (lesson 10 checklist)."""
    interfaces = _interfaces(root)
    if not interfaces:
        return _hidden("no network interface but loopback in /sys/class/net")
    ethtool = shutil.which("ethtool") if root == "/" else None
    parts = []
    for iface in interfaces:
        text = ""
        if ethtool:
            text = _ethtool_coalescing(ethtool, iface)
        napi = _napi_settings(root, iface)
        joined = "; ".join(t for t in (text, napi) if t)
        parts.append(f"{iface}: {joined or 'no coalescing settings visible'}")
    if not ethtool:
        parts.append("ethtool is not installed here, so rx-usecs/rx-frames are not visible")
    return " | ".join(parts)


def _ethtool_coalescing(ethtool: str, iface: str) -> str:
    try:
        out = subprocess.run(
            [ethtool, "-c", iface],
            capture_output=True,
            text=True,
            timeout=ETHTOOL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "ethtool -c failed"
    if out.returncode != 0:
        return "ethtool -c: " + (out.stderr.strip().splitlines() or ["not supported"])[-1]
    wanted = ("Adaptive RX", "rx-usecs", "rx-frames", "tx-usecs", "tx-frames")
    found = []
    for line in out.stdout.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in wanted and value.strip():
            found.append(f"{key.strip()} {value.strip()}")
    return ", ".join(found) or "ethtool -c shows no rx/tx coalescing values"


def _sysctls(root, names: tuple[str, ...]) -> tuple[list[str], int]:
    shown, missing = [], 0
    for name in names:
        value = read_setting("/proc/sys/" + name.replace(".", "/"), root)
        if value is None:
            missing += 1
        else:
            shown.append(f"{name}={' '.join(value.split())}")
    return shown, missing


def probe_socket_buffers(root: str = "/") -> str:
    """Socket buffer limits: ``net.core.[rw]mem_{default,max}``, ``net.ipv4.tcp_[rw]mem``
    (lesson 10 checklist)."""
    names = ("net.core.rmem_default", "net.core.rmem_max", "net.core.wmem_default",
             "net.core.wmem_max", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")  # fmt: skip
    shown, _ = _sysctls(root, names)
    return "; ".join(shown) if shown else _hidden("no net sysctls in /proc/sys")


def probe_busy_polling(root: str = "/") -> str:
    """Socket busy polling (``net.core.busy_poll``, ``busy_read``, µs; 0 = off) (lesson 10
    checklist)."""
    shown, _ = _sysctls(root, ("net.core.busy_poll", "net.core.busy_read"))
    return "; ".join(shown) if shown else _hidden("no busy-poll sysctls in /proc/sys")


def probe_rt_scheduling(root: str = "/") -> str:
    """Real-time throttling (``kernel.sched_rt_runtime_us`` of ``sched_rt_period_us``), this
    process's scheduling policy and its real-time priority limit (lesson 10 checklist)."""
    runtime = read_setting("/proc/sys/kernel/sched_rt_runtime_us", root)
    period = read_setting("/proc/sys/kernel/sched_rt_period_us", root)
    parts = []
    if runtime is not None and period is not None:
        share = ""
        if runtime == "-1":
            share = " (-1: no throttling)"
        elif runtime.isdigit() and period.isdigit() and int(period) > 0:
            share = f" (RT tasks may use {int(runtime) / int(period):.0%} of each period)"
        parts.append(f"sched_rt_runtime_us={runtime} of sched_rt_period_us={period}{share}")
    else:
        parts.append(_hidden("no sched_rt sysctls"))
    if hasattr(os, "sched_getscheduler"):
        policy = os.sched_getscheduler(0)
        names = {getattr(os, n): n for n in ("SCHED_OTHER", "SCHED_FIFO", "SCHED_RR",
                                             "SCHED_BATCH", "SCHED_IDLE") if hasattr(os, n)}  # fmt: skip
        parts.append(f"this process: {names.get(policy, policy)}")
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_RTPRIO)
        limit = "unlimited" if soft == resource.RLIM_INFINITY else soft
        parts.append(f"RLIMIT_RTPRIO {limit}")
    except (ImportError, AttributeError, OSError):
        pass
    return "; ".join(parts)


def probe_kernel_bypass(root: str = "/") -> str:
    """Device files of kernel-bypass stacks (:data:`BYPASS_DEVICES`) present here (lesson 10
    checklist)."""
    present = [f"/{d}" for d in BYPASS_DEVICES if _under(root, d).exists()]
    if present:
        return "present: " + ", ".join(present)
    return "none of " + ", ".join(f"/{d}" for d in BYPASS_DEVICES) + " present"


def probe_tcp_low_latency(root: str = "/") -> str:
    """``net.ipv4.tcp_low_latency``: still readable, but it has done nothing since Linux 4.14
    (lesson 10 checklist)."""
    value = read_setting("/proc/sys/net/ipv4/tcp_low_latency", root)
    if value is None:
        return _hidden("no net.ipv4.tcp_low_latency (removed or hidden)")
    return f"net.ipv4.tcp_low_latency={value} (a legacy switch: no effect since Linux 4.14)"


def probe_clock_source(root: str = "/") -> str:
    """The kernel's clock source and the alternatives it offers (lesson 10 checklist)."""
    base = "/sys/devices/system/clocksource/clocksource0"
    current = read_setting(f"{base}/current_clocksource", root)
    available = read_setting(f"{base}/available_clocksource", root)
    if current is None:
        return _hidden("no clocksource in /sys")
    return f"current {current}" + (f" (available: {available})" if available else "")


def clock_sync_status() -> dict[str, object]:
    """The kernel's view of its clock discipline, from a read-only ``adjtimex`` call (Linux;
    lesson 10): ``synchronised`` (False when the kernel flags the clock unsynchronised),
    ``maxerror_us`` and ``esterror_us`` (its maximum and estimated error), ``state``. Values
    are None where the call is not available."""
    unknown = {"synchronised": None, "maxerror_us": None, "esterror_us": None, "state": None}
    if not sys.platform.startswith("linux"):
        return unknown
    try:
        import ctypes

        class _Timeval(ctypes.Structure):
            _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]

        class _Timex(ctypes.Structure):  # struct timex of <sys/timex.h>
            _fields_ = [
                ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("constant", ctypes.c_long),
                ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long),
                ("jitter", ctypes.c_long), ("shift", ctypes.c_int), ("stabil", ctypes.c_long),
                ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long),
                ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int), ("_padding", ctypes.c_int * 11),
            ]  # fmt: skip

        libc = ctypes.CDLL(None, use_errno=True)
        timex = _Timex()  # modes = 0: read only, change nothing
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return unknown
    if state < 0:
        return unknown
    sta_unsync = 0x0040
    states = {0: "TIME_OK", 1: "TIME_INS", 2: "TIME_DEL", 3: "TIME_OOP", 4: "TIME_WAIT",
              5: "TIME_ERROR"}  # fmt: skip
    return {
        "synchronised": not (timex.status & sta_unsync),
        "maxerror_us": int(timex.maxerror),
        "esterror_us": int(timex.esterror),
        "state": states.get(state, str(state)),
    }


def probe_clock_sync(root: str = "/") -> str:
    """Whether the kernel considers its clock synchronised, with its error bounds (lesson 10
    checklist)."""
    status = clock_sync_status()
    if status["synchronised"] is None:
        return _hidden("adjtimex is not available")
    sync = "synchronised" if status["synchronised"] else "not synchronised (STA_UNSYNC)"
    return (
        f"kernel clock {sync}; maximum error {status['maxerror_us']:,} µs, estimated error "
        f"{status['esterror_us']:,} µs; state {status['state']}"
    )


#: The checklist: item, the read-only command that shows it on a Linux machine, its probe.
CHECKLIST = (
    ("CPU frequency governor", "cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor",
     probe_governor),
    ("C-states (idle states)", "grep . /sys/devices/system/cpu/cpu0/cpuidle/state*/{name,latency,disable}",
     probe_idle_states),
    ("SMT (hyper-threading)", "cat /sys/devices/system/cpu/smt/{control,active}", probe_smt),
    ("CPU pinning (affinity)", "taskset -pc $$", probe_pinning),
    ("isolcpus / nohz_full / rcu_nocbs", "cat /proc/cmdline /sys/devices/system/cpu/{isolated,nohz_full}",
     probe_isolation),
    ("huge pages / THP", "cat /sys/kernel/mm/transparent_hugepage/{enabled,defrag}; grep Huge /proc/meminfo",
     probe_huge_pages),
    ("swappiness", "sysctl vm.swappiness; swapon --show", probe_swappiness),
    ("NUMA", "cat /sys/devices/system/node/online; numactl --hardware", probe_numa),
    ("IRQ affinity / irqbalance", "cat /proc/irq/default_smp_affinity; pgrep -a irqbalance",
     probe_irq_affinity),
    ("NIC interrupt coalescing", "ethtool -c eth0", probe_nic_coalescing),
    ("socket buffers", "sysctl net.core.rmem_max net.core.wmem_max net.ipv4.tcp_rmem",
     probe_socket_buffers),
    ("busy polling", "sysctl net.core.busy_poll net.core.busy_read", probe_busy_polling),
    ("RT scheduling / throttling", "sysctl kernel.sched_rt_runtime_us kernel.sched_rt_period_us; chrt -p $$",
     probe_rt_scheduling),
    ("kernel bypass", "ls /dev/vfio /dev/infiniband /dev/onload", probe_kernel_bypass),
    ("clock source", "cat /sys/devices/system/clocksource/clocksource0/current_clocksource",
     probe_clock_source),
    ("clock synchronisation", "adjtimex --print (or chronyc tracking)", probe_clock_sync),
    ("legacy: tcp_low_latency", "sysctl net.ipv4.tcp_low_latency", probe_tcp_low_latency),
)  # fmt: skip


def production_checklist(root: str = "/") -> list[ChecklistItem]:
    """Every checklist item with what this machine reports, read-only (lesson 10).

    Nothing is changed: each probe reads ``/proc`` and ``/sys`` (under ``root``; tests use a
    fake tree), asks the kernel with read-only calls, or runs ``ethtool -c`` where installed.
    A setting this machine does not show is reported as :data:`NOT_VISIBLE` with the reason.
    """
    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"root must be a path, got {type(root).__name__}")
    return [ChecklistItem(item, command, probe(root)) for item, command, probe in CHECKLIST]

"""machine's production checklist (lesson 10): every item reports this machine's setting or
says it is not visible, read-only, and reads a fake /proc and /sys tree right."""

from __future__ import annotations

import builtins
import os
import sys
from pathlib import Path

import pytest

from latency_lab import machine

#: The course map's checklist items, in its order.
COURSE_MAP = ("governor", "C-states", "SMT", "pinning", "isolcpus", "THP", "swappiness", "NUMA",
              "irqbalance", "coalescing", "socket buffers", "busy polling", "RT scheduling",
              "kernel bypass")  # fmt: skip


def test_every_course_map_item_is_on_the_checklist_in_order():
    items = [entry.item for entry in machine.production_checklist()]
    positions = [next(i for i, item in enumerate(items) if word in item) for word in COURSE_MAP]
    assert positions == sorted(positions)
    assert any("tcp_low_latency" in item for item in items)
    assert any("clock" in item for item in items)


def test_this_machine_reports_something_for_every_item():
    for entry in machine.production_checklist():
        assert isinstance(entry, machine.ChecklistItem)
        assert entry.reports.strip() and entry.command.strip(), entry
        if entry.reports.startswith(machine.NOT_VISIBLE):
            assert "(" in entry.reports, f"{entry.item}: a hidden setting says why"


def test_probes_only_read(monkeypatch):
    real_open = builtins.open

    def read_only_open(file, mode="r", *args, **kwargs):
        assert not set(mode) & set("wax+"), f"opened {file} with mode {mode!r}"
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only_open)
    machine.production_checklist()


def _write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n")


@pytest.fixture
def tuned(tmp_path) -> Path:
    """A fake tree of a machine tuned for latency."""
    cpu = "/sys/devices/system/cpu"
    _write(
        tmp_path,
        {
            "/proc/cmdline": "BOOT_IMAGE=/vmlinuz isolcpus=2-3 nohz_full=2-3 rcu_nocbs=2-3 "
            "intel_idle.max_cstate=1 quiet -- isolcpus=9",
            f"{cpu}/cpu0/cpufreq/scaling_governor": "performance",
            f"{cpu}/cpu1/cpufreq/scaling_governor": "performance",
            f"{cpu}/cpu2/cpufreq/scaling_governor": "powersave",
            f"{cpu}/cpu0/cpufreq/scaling_driver": "intel_pstate",
            f"{cpu}/cpuidle/current_driver": "intel_idle",
            f"{cpu}/cpu0/cpuidle/state0/name": "POLL",
            f"{cpu}/cpu0/cpuidle/state0/latency": "0",
            f"{cpu}/cpu0/cpuidle/state0/disable": "0",
            f"{cpu}/cpu0/cpuidle/state1/name": "C1",
            f"{cpu}/cpu0/cpuidle/state1/latency": "2",
            f"{cpu}/cpu0/cpuidle/state1/disable": "0",
            f"{cpu}/cpu0/cpuidle/state2/name": "C6",
            f"{cpu}/cpu0/cpuidle/state2/latency": "133",
            f"{cpu}/cpu0/cpuidle/state2/disable": "1",
            f"{cpu}/smt/control": "off",
            f"{cpu}/smt/active": "0",
            f"{cpu}/isolated": "2-3",
            f"{cpu}/nohz_full": "2-3",
            "/sys/kernel/mm/transparent_hugepage/enabled": "always madvise [never]",
            "/sys/kernel/mm/transparent_hugepage/defrag": "always defer [never]",
            "/proc/meminfo": "MemTotal: 1 kB\nHugePages_Total:     512\nHugepagesize:    2048 kB",
            "/proc/sys/vm/swappiness": "1",
            "/proc/swaps": "Filename Type Size Used Priority",
            "/sys/devices/system/node/online": "0-1",
            "/proc/sys/kernel/numa_balancing": "0",
            "/proc/irq/default_smp_affinity": "3",
            "/proc/irq/24/smp_affinity_list": "0-1",
            "/proc/irq/25/smp_affinity_list": "0-1",
            "/proc/4242/comm": "irqbalance",
            "/sys/class/net/lo/mtu": "65536",
            "/sys/class/net/eth0/napi_defer_hard_irqs": "2",
            "/sys/class/net/eth0/gro_flush_timeout": "20000",
            "/proc/sys/net/core/rmem_max": "16777216",
            "/proc/sys/net/ipv4/tcp_rmem": "4096\t131072\t16777216",
            "/proc/sys/net/core/busy_poll": "50",
            "/proc/sys/net/core/busy_read": "50",
            "/proc/sys/kernel/sched_rt_runtime_us": "-1",
            "/proc/sys/kernel/sched_rt_period_us": "1000000",
            "/dev/vfio/vfio": "",
            "/proc/sys/net/ipv4/tcp_low_latency": "1",
            "/sys/devices/system/clocksource/clocksource0/current_clocksource": "tsc",
            "/sys/devices/system/clocksource/clocksource0/available_clocksource": "tsc hpet",
        },
    )
    return tmp_path


def test_a_tuned_machine_is_read_right(tuned):
    root = str(tuned)
    assert machine.probe_governor(root) == (
        "governor performance (cpus 0,1); powersave (cpu 2); driver intel_pstate"
    )
    idle = machine.probe_idle_states(root)
    assert "driver intel_idle" in idle and "C6 (exit 133 µs, disabled)" in idle
    assert "intel_idle.max_cstate=1" in idle
    assert machine.probe_smt(root) == "control off; active 0"
    isolation = machine.probe_isolation(root)
    assert "isolcpus=2-3, nohz_full=2-3, rcu_nocbs=2-3" in isolation
    assert "isolcpus=9" not in isolation  # after "--" come init's arguments, not the kernel's
    assert "isolated cpus: 2-3" in isolation and "nohz_full cpus: 2-3" in isolation
    assert machine.probe_huge_pages(root) == (
        "THP never, defrag never; 512 reserved huge pages of 2048 kB"
    )
    assert machine.probe_swappiness(root) == "vm.swappiness=1; no swap device in use"
    assert machine.probe_numa(root) == "nodes online: 0-1; kernel.numa_balancing=0"
    assert machine.probe_irq_affinity(root) == (
        "default affinity mask 3; 2 IRQs; irqbalance running"
    )
    nic = machine.probe_nic_coalescing(root)
    assert "eth0: napi_defer_hard_irqs=2, gro_flush_timeout=20000 ns" in nic and "lo:" not in nic
    buffers = machine.probe_socket_buffers(root)
    assert "net.core.rmem_max=16777216" in buffers
    assert "net.ipv4.tcp_rmem=4096 131072 16777216" in buffers
    assert machine.probe_busy_polling(root) == "net.core.busy_poll=50; net.core.busy_read=50"
    assert "sched_rt_runtime_us=-1 of sched_rt_period_us=1000000 (-1: no throttling)" in (
        machine.probe_rt_scheduling(root)
    )
    assert machine.probe_kernel_bypass(root) == "present: /dev/vfio"
    assert "no effect since Linux 4.14" in machine.probe_tcp_low_latency(root)
    assert machine.probe_clock_source(root) == "current tsc (available: tsc hpet)"
    assert machine.kernel_parameters(root) == {
        "isolcpus": "2-3", "nohz_full": "2-3", "rcu_nocbs": "2-3", "intel_idle.max_cstate": "1"
    }  # fmt: skip


def test_an_empty_tree_says_not_visible_with_a_reason(tmp_path):
    root = str(tmp_path)
    for probe in (machine.probe_governor, machine.probe_idle_states, machine.probe_smt,
                  machine.probe_isolation, machine.probe_huge_pages, machine.probe_swappiness,
                  machine.probe_numa, machine.probe_irq_affinity, machine.probe_nic_coalescing,
                  machine.probe_socket_buffers, machine.probe_busy_polling,
                  machine.probe_tcp_low_latency, machine.probe_clock_source):  # fmt: skip
        report = probe(root)
        assert report.startswith(machine.NOT_VISIBLE + " ("), (probe.__name__, report)
    assert machine.kernel_parameters(root) is None
    assert machine.read_setting("/proc/cmdline", root) is None
    assert machine.probe_kernel_bypass(root).startswith("none of /dev/vfio")
    assert "sched_rt" in machine.probe_rt_scheduling(root)  # says the sysctls are hidden
    for entry in machine.production_checklist(root):
        assert entry.reports


def test_rt_throttling_share_is_stated(tmp_path):
    _write(tmp_path, {"/proc/sys/kernel/sched_rt_runtime_us": "950000",
                      "/proc/sys/kernel/sched_rt_period_us": "1000000"})  # fmt: skip
    assert "(RT tasks may use 95% of each period)" in machine.probe_rt_scheduling(str(tmp_path))


def test_pinning_reports_this_processs_affinity():
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no affinity call on this operating system")
    report = machine.probe_pinning()
    assert report.startswith("this process may run on cpus ")
    assert f"(of {os.cpu_count()})" in report


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux's")
def test_clock_sync_status_reads_the_kernels_view():
    status = machine.clock_sync_status()
    assert set(status) == {"synchronised", "maxerror_us", "esterror_us", "state"}
    assert isinstance(status["synchronised"], bool)
    assert status["maxerror_us"] >= 0 and status["esterror_us"] >= 0
    assert status["state"].startswith("TIME_")


def test_read_setting_refuses_non_paths():
    with pytest.raises(TypeError):
        machine.read_setting(5)
    with pytest.raises(TypeError):
        machine.production_checklist(root=5)

"""machine: the stamp a notebook prints first names the CPU, cores, OS, versions and date."""

import datetime
import platform
import sys

from latency_lab import machine


def test_describe_has_every_field_with_real_values():
    fields = machine.describe()
    assert list(fields) == ["cpu", "cores", "os", "python", *machine.KEY_PACKAGES, "date"]
    assert sys.version.split()[0] in fields["python"]
    assert fields["os"] == platform.platform()
    assert fields["numpy"] == __import__("numpy").__version__
    assert fields["date"].startswith(datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"))
    usable, total = fields["cores"].split(" usable of ")
    assert 1 <= int(usable) <= int(total)


def test_stamp_is_one_aligned_line_per_field(capsys):
    lines = machine.stamp().splitlines()
    assert len(lines) == len(machine.describe())
    values_start = {len(line) - len(line.split("  ", 1)[1].lstrip()) for line in lines}
    assert len(values_start) == 1  # every value starts in the same column
    machine.print_stamp()
    assert machine.cpu_model() in capsys.readouterr().out

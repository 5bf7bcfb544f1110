"""sweep on a Dask cluster: a 2-worker LocalCluster on loopback gives the same rows as local runs."""

import socket

import pandas as pd
import pytest

from latency_lab import cli, sweep

distributed = pytest.importorskip(
    "distributed", reason="the optional dask extra (distributed) is not installed"
)
psutil = pytest.importorskip("psutil", reason="psutil (a dependency of distributed) is missing")

EVENTS = 2_000


def _children() -> set[int]:
    """Child processes of this one, except multiprocessing's resource tracker (a helper that
    lives as long as this process, whatever the cluster does)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if not any("resource_tracker" in part for part in child.cmdline()):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def _port_free(address: str) -> bool:
    """Whether nothing listens on ``address`` any more (closed connections may still linger in
    TIME_WAIT on it, which SO_REUSEADDR lets a new listener ignore)."""
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def scheduler():
    """The address of a 2-worker, 1-thread-each LocalCluster on 127.0.0.1, closed after the
    module's tests; checks that no worker process and no listening port is left behind."""
    before = _children()
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    address = cluster.scheduler_address
    try:
        yield address
    finally:
        cluster.close()
    distributed_children = _children() - before
    for pid in distributed_children:  # closing waits for the workers, but be sure
        try:
            psutil.Process(pid).wait(timeout=10)
        except (psutil.NoSuchProcess, psutil.TimeoutExpired):
            pass
    assert not (_children() - before), "the cluster left processes behind"
    assert _port_free(address), f"the scheduler's port {address} is still taken"


def configs():
    return sweep.grid(policy=["timeout", "aimd"], max_batch=[4, 16], events=EVENTS)


def test_the_dask_backend_gives_the_same_rows_as_local_runs(scheduler):
    local = sweep.sweep(configs(), [0, 3])
    remote = sweep.sweep(configs(), [0, 3], backend="dask", scheduler=scheduler)
    pd.testing.assert_frame_equal(local, remote)


def test_a_client_can_be_passed_and_is_left_open(scheduler):
    with distributed.Client(scheduler, set_as_default=False) as client:
        rows = dict(
            sweep.iter_rows(sweep.tasks(configs()[:1], [1]), backend="dask", scheduler=client)
        )
        assert client.status == "running"
    assert rows == {0: sweep.run_one(configs()[0], 1)}


def test_the_cli_sweeps_on_the_cluster_with_the_same_csv(scheduler, tmp_path, capsys):
    argv = ["sweep", "--policy", "timeout,aimd", "--max-batch", "4,16", "--seeds", "0,3"]
    argv += ["--events", str(EVENTS), "--no-progress"]
    assert cli.main([*argv, "--out", str(tmp_path / "local")]) == 0
    remote = [*argv, "--backend", "dask", "--scheduler", scheduler, "--out", str(tmp_path / "dask")]
    assert cli.main(remote) == 0
    capsys.readouterr()
    local_csv = (tmp_path / "local" / "sweep.csv").read_bytes()
    assert local_csv == (tmp_path / "dask" / "sweep.csv").read_bytes()

"""A local multi-node Ray cluster for tests: `ray start --head` and a second `ray start` node on this machine,
each with one unit of a custom resource standing in for a GPU.

Each node's dashboard agent gets a free port: two agents on one host both default to 52365, and while any other
Ray on the host holds it the head's agent cannot serve, so the job server answers "No available agent".

Each node runs with ``--block`` in its own process group and is ended by a signal to that group: ``ray stop``
would end every Ray on this machine, the test session's own included. Each has its own temp dir, as a second
machine would: nodes sharing one also share the runtime-env cache, and one node's cleanup removed the job's
working dir under the other.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")


@dataclasses.dataclass
class LocalCluster:
    url: str  # the job server (dashboard)
    address: str  # the GCS, for `--address`
    nodes: list[subprocess.Popen]  # head first

    def worker_node_id(self) -> str:
        from ray.util.state import list_nodes

        return next(n.node_id for n in list_nodes(address=self.url) if not n.is_head_node)

    def kill_worker_node(self) -> None:
        """The second node dies at once (SIGKILL to its process group), as a lost machine does."""
        os.killpg(self.nodes[1].pid, signal.SIGKILL)
        self.nodes[1].wait(timeout=30)


@contextlib.contextmanager
def local_cluster(gcs_port: int, dashboard_port: int, env: dict[str, str]):
    """Yields the cluster once both nodes are up."""
    from ray.util.state import list_nodes

    common = ["--block", "--num-cpus=1", '--resources={"accel": 1}', "--disable-usage-stats"]
    url = f"http://127.0.0.1:{dashboard_port}"
    nodes: list[subprocess.Popen] = []
    try:
        nodes.append(_start([RAY, "start", "--head", f"--port={gcs_port}", "--dashboard-host=127.0.0.1",
                             f"--dashboard-port={dashboard_port}", *common, *agent_port()], env))
        _wait(lambda: len(list_nodes(address=url)) == 1, "the head node")
        nodes.append(_start([RAY, "start", f"--address=127.0.0.1:{gcs_port}", *common, *agent_port()], env))
        _wait(lambda: sum(n.state == "ALIVE" for n in list_nodes(address=url)) == 2, "the second node")
        yield LocalCluster(url, f"127.0.0.1:{gcs_port}", nodes)
    finally:
        for node in reversed(nodes):
            if node.poll() is None:
                end_node(node)


def agent_port() -> list[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return [f"--dashboard-agent-listen-port={s.getsockname()[1]}"]


def _start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    temp_dir = tempfile.mkdtemp(prefix="raynode", dir="/tmp")
    return subprocess.Popen([*cmd, f"--temp-dir={temp_dir}"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(ready, what: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(Exception):  # the dashboard is not up yet
            if ready():
                return
        time.sleep(1)
    raise TimeoutError(f"{what} did not come up in {timeout:.0f} s")


def end_node(node: subprocess.Popen) -> None:
    """SIGTERM ends the raylet; the GCS and the monitor of a `--block` head outlive it, so SIGKILL follows."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.pid, signal.SIGTERM)
        time.sleep(3)
        os.killpg(node.pid, signal.SIGKILL)
    node.wait(timeout=30)

"""A local multi-node Ray cluster for tests: a head and a second node, each its own raylet on this machine,
each with one unit of a custom resource standing in for a GPU. Prints the job server URL, then runs
until its stdin closes, and shuts down only its own nodes (``ray stop`` would end every Ray here).

    python tests/local_cluster.py DASHBOARD_PORT
"""
import sys
import tempfile

from ray.cluster_utils import Cluster


def main() -> None:
    port = int(sys.argv[1])
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {"accel": 1}, "include_dashboard": True, "dashboard_host": "127.0.0.1",
        "dashboard_port": port})
    # Its own temp dir, as a second machine would have: nodes sharing one session dir also share the
    # runtime-env cache, and one node's cleanup removed the job's working dir under the other.
    cluster.add_node(num_cpus=1, resources={"accel": 1}, temp_dir=tempfile.mkdtemp(prefix="rn2", dir="/tmp"))
    cluster.wait_for_nodes()
    print(f"http://127.0.0.1:{port}", flush=True)
    sys.stdin.read()
    cluster.shutdown()


if __name__ == "__main__":
    main()

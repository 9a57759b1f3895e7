"""A simulated two-node Ray cluster (`ray.cluster_utils.Cluster`) runs a grid and collects every result.

Placement is forced, not left to timing: each node has one CPU, each trial needs one, and the method's
training waits (up to a minute, then fails) until a second training runs at the same time, so two trainings
must run at once, on different nodes; the same holds for the two trials of a hyper-parameter search."""

import json
import subprocess
import sys
import textwrap

import pandas as pd

from tests.conftest import ROOT

SCRIPT = textwrap.dedent("""
    import json, os, sys
    os.environ["RAY_AUTH_MODE"] = "token"  # a cluster as an operator starts one: token authentication on
    import ray
    from ray.cluster_utils import Cluster
    from harness.grid.config import load_grid
    from harness.execution.run import run_grid

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    summary = run_grid(load_grid(sys.argv[1]), sys.argv[2], address=cluster.address)
    from harness.report.leaderboard import write_leaderboards
    write_leaderboards(summary.run_dir)
    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    print("SUMMARY", json.dumps({"ok": summary.ok, "evaluated": summary.evaluated, "trained": summary.trained,
                                 "nodes": nodes}))
    ray.shutdown()
    cluster.shutdown()
""")


RENDEZVOUS = textwrap.dedent('''
    """An AE whose training starts only when another training is running too (a file per training in ROOM)."""
    import os, time
    from pathlib import Path
    import methods

    ROOMS = Path(__file__).parent

    @methods.register("rendezvous_ae")
    class RendezvousAE(methods.get("ae")):
        description = "ae that trains only alongside another training"

        def _fit(self, data, dependencies, reporter, checkpoint_path):
            ROOM = ROOMS / f"room-limit{self.spec.data.get('limit')}"  # one room per experiment
            ROOM.mkdir(exist_ok=True)
            (ROOM / f"seed{self.spec.seed}-pid{os.getpid()}").touch()
            deadline = time.time() + 60
            while len(list(ROOM.iterdir())) < 2:
                if time.time() > deadline:
                    raise RuntimeError("no other training ran at the same time (one node only?)")
                time.sleep(0.05)
            super()._fit(data, dependencies, reporter, checkpoint_path)
''')


def test_two_node_cluster_runs_grid(tmp_path):
    (tmp_path / "rendezvous.py").write_text(RENDEZVOUS)
    grid = tmp_path / "cluster.yaml"
    grid.write_text(
        textwrap.dedent("""
        name: cluster
        seeds: [0, 1, 2, 3]
        plugins: [rendezvous]
        train: {max_epochs: 20, batch_size: 32}
        experiments:
          - name: recon
            task: reconstruction
            data: {train: synthetic}
            model: {arch: mlp, latent_dim: 2, hidden: [16, 8]}
            methods: {rendezvous_ae: {}}
          # a search: its two trials must train at once too, so they run on both nodes
          - name: searched
            task: reconstruction
            seeds: [0]
            search: {num_samples: 1}
            data: {train: {name: synthetic, limit: 400}}
            model: {arch: mlp, latent_dim: 2, hidden: [16, 8]}
            methods: {rendezvous_ae: {train: {lr: {grid: [1.0e-3, 3.0e-3]}}}}
    """)
    )
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(grid), str(tmp_path / "res")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("SUMMARY"))
    summary = json.loads(line.split(" ", 1)[1])
    assert summary["ok"] and summary["trained"] == 4 and summary["evaluated"] == 5
    assert len(summary["nodes"]) == 2
    searches = pd.read_csv(tmp_path / "res" / "cluster" / "searches.csv")
    assert searches[["experiment", "trials", "finished"]].values.tolist() == [["searched", 2, 2]]
    raw = pd.read_csv(tmp_path / "res" / "cluster" / "raw.csv")
    assert (
        sorted(raw[raw.experiment == "recon"].seed.unique()) == [0, 1, 2, 3]
        and (raw.status == "ok").all()
    )
    assert set(raw.metric) == {"mse", "log_px"}
    # two trainings ran at once (the rendezvous), so on both nodes; model provenance records the node of each
    import torch

    assert len(list((tmp_path / "room-limitNone").iterdir())) == 4
    assert len(list((tmp_path / "room-limit400").iterdir())) == 2

    nodes = set(raw.node.dropna())
    for path in (tmp_path / "res" / "models").glob("*/model.pt"):
        nodes.add(torch.load(path, map_location="cpu", weights_only=True)["provenance"]["node"])
    assert nodes <= set(summary["nodes"]) and len(nodes) == 2, nodes

#!/usr/bin/env python3
"""The running scheduler's resident set per pod (issue 16's bar), measured from outside.

Starts the embedded API server (`fairway apiserver`, plain HTTP on loopback), creates N nodes
(8 GPUs each) and P pods shaped like `kubectl get pods -o json` output (two containers, env,
tolerations, node affinity, an owner reference; two in three already bound, the rest pending for
more GPUs than a node has; --pending-every 0: all bound), then starts `fairway scheduler` as its own process, waits until /readyz
says every informer synced and the state settled, and reads the process's VmRSS and VmHWM.

    benchmarks/scheduler_rss.py --fairway build/fairway [--nodes 10000] [--pods 130000]

Prints one JSON line: nodes, pods, rss_bytes, hwm_bytes, rss_per_pod_bytes, load_seconds.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def request(conn, token, method, path, body=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300 and response.status != 409:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
    return data


def node(i):
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": f"gpu-node-{i}",
                     "labels": {"kubernetes.io/hostname": f"gpu-node-{i}",
                                "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}},
        "status": {"allocatable": {"cpu": "128", "memory": "2Ti", "pods": "110",
                                   "nvidia.com/gpu": "8"},
                   "capacity": {"cpu": "128", "memory": "2Ti", "pods": "110",
                                "nvidia.com/gpu": "8"},
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }


def pod(i, nodes, pending_every):
    group = i // 8
    bound = pending_every == 0 or i % pending_every != 0
    gpu = "1" if i % 4 == 0 else "0"
    spec = {
        "schedulerName": "fairway", "restartPolicy": "Never",
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{
                "key": "nvidia.com/gpu.product", "operator": "In",
                "values": ["NVIDIA-H100-80GB-HBM3"]}]}]}}},
        "containers": [
            {"name": "main", "image": "registry.example.com/ml/trainer:2024.05.01",
             "command": ["python", "-m", "train", "--config", "/etc/train/config.yaml"],
             "env": [{"name": "MASTER_ADDR", "value": f"train-{group}-worker-0"},
                     {"name": "WORLD_SIZE", "value": "8"}],
             "resources": {"requests": {"cpu": "1", "memory": "8Gi", "nvidia.com/gpu": gpu},
                           "limits": {"memory": "8Gi", "nvidia.com/gpu": gpu}}},
            {"name": "log-shipper", "image": "registry.example.com/obs/log-shipper:1.4",
             "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                           "limits": {"cpu": "200m", "memory": "256Mi"}}}],
        "tolerations": [
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "tolerationSeconds": 300},
            {"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}],
    }
    if bound:
        spec["nodeName"] = f"gpu-node-{i % nodes}"
    else:
        # Pending: more GPUs than a node has, so the scheduler keeps it waiting (no binds).
        spec["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "16"
        spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "16"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"train-{group}-worker-{i % 8}", "namespace": f"team-{i % 40}",
            "labels": {"app.kubernetes.io/name": "trainer", "batch.kubernetes.io/job-name":
                       f"train-{group}", "fairway.dev/queue": "default"},
            "annotations": {"prometheus.io/scrape": "true"},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": f"train-{group}",
                                 "uid": f"5b0c{i:08d}-1111-4000-8000-000000000000",
                                 "controller": True, "blockOwnerDeletion": True}]},
        "spec": spec,
    }


def load(port, token, paths_and_bodies, threads=8):
    items = list(paths_and_bodies)
    chunks = [items[t::threads] for t in range(threads)]
    errors = []

    def run(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for path, body in chunk:
                request(conn, token, "POST", path, body)
        except Exception as error:  # reported after the join
            errors.append(error)

    workers = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


def status_field(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for {pid}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fairway", required=True)
    parser.add_argument("--nodes", type=int, default=10000)
    parser.add_argument("--pods", type=int, default=130000)
    parser.add_argument("--wrap", default="",
                        help="a command to run the scheduler under, e.g. heaptrack")
    parser.add_argument("--pending-every", type=int, default=3,
                        help="every Nth pod waits (0: every pod is bound)")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="fairway-rss-")
    token = "rss-token"
    kubeconfig = os.path.join(work, "kubeconfig")
    apiserver = subprocess.Popen(
        [args.fairway, "apiserver", "--insecure-http", "--port", "0", "--token", token,
         "--kubeconfig-out", kubeconfig, "--history-window", "1000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheduler = None
    try:
        # The kubeconfig is written once the server listens.
        wait_for(lambda: os.path.exists(kubeconfig) and os.path.getsize(kubeconfig) > 0, 30,
                 "the API server's kubeconfig")
        server = [line.split("server:")[1].strip() for line in open(kubeconfig)
                  if "server:" in line][0]
        port = int(server.rsplit(":", 1)[1].strip("/"))
        started = time.monotonic()
        load(port, token, [("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": f"team-{n}"}})
                           for n in range(40)])
        load(port, token, (("/api/v1/nodes", node(i)) for i in range(args.nodes)))
        load(port, token, ((f"/api/v1/namespaces/team-{i % 40}/pods", pod(i, args.nodes, args.pending_every))
                           for i in range(args.pods)))
        load_seconds = time.monotonic() - started

        with socket.socket() as probe:  # a free port for the health probes
            probe.bind(("127.0.0.1", 0))
            health_port = probe.getsockname()[1]
        scheduler = subprocess.Popen(
            args.wrap.split() + [args.fairway, "scheduler", "--kubeconfig", kubeconfig, "--leader-elect=false",
             "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address",
             f"127.0.0.1:{health_port}", "--preemption-period", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def ready():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", health_port, timeout=5)
                conn.request("GET", "/readyz")
                return conn.getresponse().status == 200
            except OSError:
                return False

        wait_for(ready, 600, "the scheduler to sync")
        # Settled: the resident set no longer grows (cycles ran, explanations were written).
        previous = 0
        for _ in range(120):
            rss = status_field(scheduler.pid, "VmRSS")
            if previous and abs(rss - previous) < previous // 200:
                break
            previous = rss
            time.sleep(2)
        rss = status_field(scheduler.pid, "VmRSS")
        hwm = status_field(scheduler.pid, "VmHWM")
        print(json.dumps({"nodes": args.nodes, "pods": args.pods, "rss_bytes": rss,
                          "hwm_bytes": hwm, "rss_per_pod_bytes": rss // args.pods,
                          "load_seconds": round(load_seconds, 1)}))
    finally:
        for process in (scheduler, apiserver):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""SpinApps (Spindle's operator and shim) vs a container Deployment, on one real Kubernetes node.

    sudo python3 bench/kubernetes.py              # 5 rounds (~10 min), updates BENCHMARKS.md
    sudo python3 bench/kubernetes.py --rounds 2   # quicker

On the single-node Kubernetes 1.20 of scripts/k8s/up.sh (containerd 1.7, Spindle's shim), with
Spindle's operator running in-cluster from `spindle kube install`'s manifests, interleaved in every
round:
  * `kubectl apply` → first HTTP 200 from the new pod: a SpinApp (the Rust spin-sdk hello) vs a
    Deployment of a static busybox `httpd` container (runc), one at a time, and ten at once
    (time until the last of the ten answers);
  * memory per pod: the node's memory (the PSS and RSS of every process on the machine, and
    MemTotal - MemAvailable) with 1 and with 20 idle replicas, minus the same with none, ÷ replicas.
Both images are on the node before the first round (kubelet's IfNotPresent), and one warm-up
pod of each kind runs first (the shim compiles the hello once and caches the code in
containerd's content store). Traffic goes to pod IPs on the node's bridge; the pods are polled
through the API server every 10 ms and the pod IP every 2 ms; every wait is bounded. Writes
bench/results/kubernetes-<stamp>.json and the section between the `kubernetes-bench` markers
in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import containerd as cb  # noqa: E402  (shares the busybox image, HTTP polling and helpers)

ROOT = cb.ROOT
SPINDLE = cb.SPINDLE
K8S_BIN = Path(os.environ.get("K8S_DIR", "/opt/spindle-ci/k8s")) / "bin"
RESULTS = cb.RESULTS
REPORT = cb.REPORT
BEGIN = "<!-- kubernetes-bench:begin -->"
END = "<!-- kubernetes-bench:end -->"
API = "https://127.0.0.1:6443"
TOKEN = "admintoken"  # scripts/k8s/up.sh's admin token
GROUP = "core.spinkube.dev"
log, sh = cb.log, cb.sh


class Cluster:
    """A docker-registry and the scripts/k8s/up.sh cluster, under one temp dir."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="spindle-bench-k8s-"))
        self.state = self.dir / "k8s"
        self.reg_port = cb.free_port()
        self.registry = f"127.0.0.1:{self.reg_port}"
        (self.dir / "reg.yml").write_text(
            f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {self.dir}/store\n"
            f"http:\n  addr: {self.registry}\n")
        out = open(self.dir / "registry.log", "w")
        self.reg = subprocess.Popen(["docker-registry", "serve", str(self.dir / "reg.yml")],
                                    stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        self.env = dict(os.environ, K8S_STATE=str(self.state), REGISTRY=self.registry,
                        KUBECONFIG=str(self.state / "kubeconfig"),
                        PATH=f"{K8S_BIN}:{os.environ.get('PATH', '')}")
        self.ssl = ssl.create_default_context()
        self.ssl.check_hostname = False
        self.ssl.verify_mode = ssl.CERT_NONE
        for _ in range(200):
            if cb.http_status(self.reg_port, "/v2/"):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the registry did not start")
        log("starting the cluster (scripts/k8s/up.sh)")
        r = subprocess.run(["bash", str(ROOT / "scripts" / "k8s" / "up.sh")], env=self.env,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"scripts/k8s/up.sh failed:\n{r.stdout}\n{r.stderr}")

    # The adapter bench/containerd.py's busybox_image expects: a work dir and `ctr`.
    def ctr(self, *args, check=True):
        ctr = cb.CTRD / "ctr"
        return sh(ctr, "--address", self.state / "node" / "containerd.sock", "-n", "k8s.io", *args, check=check)

    def kubectl(self, *args, stdin: str | None = None, check=True) -> str:
        r = subprocess.run([str(K8S_BIN / "kubectl"), *args], env=self.env, input=stdin,
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr}")
        return r.stdout

    def api(self, path: str) -> dict:
        req = urllib.request.Request(API + path, headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, context=self.ssl, timeout=10) as resp:
            return json.load(resp)

    def pods(self, selector: str) -> list[dict]:
        q = urllib.request.quote(selector)
        return self.api(f"/api/v1/namespaces/default/pods?labelSelector={q}")["items"]

    def close(self) -> None:
        subprocess.run(["bash", str(ROOT / "scripts" / "k8s" / "down.sh")], env=self.env,
                       capture_output=True)
        self.reg.terminate()
        try:
            self.reg.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.reg.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait(what: str, limit: float, probe):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        v = probe()
        if v:
            return v
        time.sleep(0.01)
    raise RuntimeError(f"timed out after {limit:.0f} s waiting for {what}")


def pod_ip(pod: dict) -> str | None:
    if pod["metadata"].get("deletionTimestamp"):
        return None
    return pod.get("status", {}).get("podIP")


def get_ok(ip: str, path: str) -> bool:
    import socket
    try:
        with socket.create_connection((ip, 80), timeout=1) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(16)
            return head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))
    except OSError:
        return False


KINDS = {
    # kind: (selector label, path)
    "spinapp": (f"{GROUP}/app-name", "/hello"),
    "container": ("bench-app", "/"),
}


def manifest(kind: str, name: str, replicas: int, hello: str, busybox: str) -> str:
    if kind == "spinapp":
        return (f"apiVersion: {GROUP}/v1alpha1\nkind: SpinApp\nmetadata: {{name: {name}}}\n"
                f"spec: {{image: \"{hello}\", replicas: {replicas}}}\n")
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n"
            f"  replicas: {replicas}\n  selector: {{matchLabels: {{bench-app: {name}}}}}\n"
            f"  template:\n    metadata: {{labels: {{bench-app: {name}}}}}\n    spec:\n"
            f"      terminationGracePeriodSeconds: 2\n"
            f"      containers:\n      - name: httpd\n        image: {busybox}\n"
            f"        imagePullPolicy: IfNotPresent\n"
            f"        command: [/bin/busybox, httpd, -f, -p, '80', -h, /www]\n"
            f"        ports: [{{containerPort: 80}}]\n")


def serving(c: Cluster, kind: str, name: str, n: int) -> list[str] | None:
    """The IPs of `name`'s pods when `n` of them answer 200 on the kind's path."""
    label, path = KINDS[kind]
    ips = [ip for ip in map(pod_ip, c.pods(f"{label}={name}")) if ip]
    if len(ips) < n:
        return None
    return ips if all(get_ok(ip, path) for ip in ips) else None


CNI_IPS = Path("/var/lib/cni/networks/spindle-pods")  # host-local IPAM: one file per pod IP


def cni_ips() -> set[str]:
    return {p.name for p in CNI_IPS.iterdir() if p.name[0].isdigit()} if CNI_IPS.is_dir() else set()


def first_200s(c: Cluster, kind: str, names: list[str], hello: str,
               busybox: str) -> tuple[list[float], list[float]]:
    """`kubectl apply` of one object per name, then (seconds after the apply started) each
    one's first 200 from its pod IP as the API reports it, and the first 200s of the new pod
    IPs the node's CNI allocated (when the pods themselves serve, before the kubelet reports
    them). Deletes them and waits until their pods are gone."""
    label, path = KINDS[kind]
    doc = "---\n".join(manifest(kind, n, 1, hello, busybox) for n in names)
    old_ips = cni_ips()
    t0 = time.perf_counter()
    c.kubectl("apply", "-f", "-", stdin=doc)
    done: dict[str, float] = {}
    served: dict[str, float] = {}
    while len(done) < len(names):
        if time.perf_counter() - t0 > 180:
            pods = c.kubectl("get", "pods", "-o", "wide", check=False)
            events = c.kubectl("get", "events", "--sort-by=.lastTimestamp", check=False)
            raise RuntimeError(f"{kind}: only {sorted(done)} of {names} answered within 180 s\n"
                               f"{pods}\n{events[-3000:]}")
        for ip in cni_ips() - old_ips - served.keys():
            if get_ok(ip, path):
                served[ip] = time.perf_counter() - t0
        for n in names:
            if n in done:
                continue
            ip = next(filter(None, map(pod_ip, c.pods(f"{label}={n}"))), None)
            if ip and get_ok(ip, path):
                done[n] = time.perf_counter() - t0
                served.setdefault(ip, done[n])
        time.sleep(0.002)
    delete(c, kind, names)
    return [done[n] for n in names], sorted(served.values())[:len(names)]


def delete(c: Cluster, kind: str, names: list[str]) -> None:
    label, _ = KINDS[kind]
    c.kubectl("delete", "spinapp" if kind == "spinapp" else "deployment", *names, "--wait=false")
    wait(f"{kind} pods of {names} gone", 180,
         lambda: all(not c.pods(f"{label}={n}") for n in names))
    time.sleep(1)  # let the runtime finish tearing the sandboxes down


def node_memory() -> dict[str, float]:
    """MiB: the PSS and RSS of every process, and MemTotal - MemAvailable."""
    pss = rss = 0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            for line in (p / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
        except OSError:
            continue
    info = {l.split(":")[0]: int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines()}
    used = info["MemTotal"] - info["MemAvailable"]
    return {"pss": pss / 1024, "rss": rss / 1024, "used": used / 1024}


def memory_per_pod(c: Cluster, kind: str, n: int, hello: str, busybox: str) -> dict[str, float]:
    name = f"mem-{kind}"
    time.sleep(3)
    before = node_memory()
    c.kubectl("apply", "-f", "-", stdin=manifest(kind, name, n, hello, busybox))
    wait(f"{n} {kind} pods serving", 300, lambda: serving(c, kind, name, n))
    time.sleep(5)  # idle
    after = node_memory()
    delete(c, kind, [name])
    return {k: (after[k] - before[k]) / n for k in before}


def install_operator(c: Cluster) -> None:
    tar = c.dir / "spindle-image.tar"
    image = "localhost/spindle:bench"
    sh("bash", ROOT / "scripts" / "k8s" / "image.sh", image, tar)
    c.ctr("image", "import", tar)
    node = c.state / "node"
    manifests = sh(SPINDLE, "kube", "install", "--image", image, "--containerd-config", node / "containerd.toml",
                   "--bin-dir", node / "shims", "--no-restart", "--api-server", "127.0.0.1:6443").stdout
    c.kubectl("apply", "-f", "-", stdin=manifests)
    c.kubectl("-n", "spindle-system", "rollout", "status", "deploy/spindle-operator", "--timeout=180s")
    wait("the node labelled by the node installer", 180, lambda: c.api("/api/v1/nodes/localhost")
         ["metadata"]["labels"].get("spindle.dev/containerd-shim-spindle") == "provisioned")
    wait("the operator's executors", 60, lambda: c.api(
        f"/apis/{GROUP}/v1alpha1/namespaces/default/spinappexecutors")["items"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--replicas", default="1,20")
    p.add_argument("--mem-rounds", type=int, default=2)
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/kubernetes.py needs root (containerd, kubelet)")
    for f in [SPINDLE, K8S_BIN / "kubelet", cb.HELLO_WASM]:
        if not f.exists():
            sys.exit(f"{f} is missing: run `bash scripts/test.sh` (or build.sh, build-guests.sh, cargo build) first")
    load = os.getloadavg()[0]
    if load > 0.5:
        log(f"warning: load average {load:.2f}: other work skews the figures")
    commit = sh("git", "rev-parse", "--short", "HEAD", cwd=ROOT).stdout.strip()
    records: dict = {"rounds": a.rounds, "loadavg_at_start": os.getloadavg(), "commit": commit,
                     "first": {"spinapp": [], "container": []},
                     "batch": {"spinapp": [], "container": []}, "memory": {}}
    c = Cluster()
    try:
        busybox, busybox_size = cb.busybox_image(c)
        hello = f"{c.registry}/bench/hello:v1"
        sh(SPINDLE, "registry", "push", "-f", cb.HELLO / "spin.toml", hello, cwd=cb.HELLO)
        records["image_bytes"] = {"busybox_httpd": busybox_size}
        install_operator(c)
        log("warm-up: one pod of each kind (pulls and compiles the hello once)")
        for kind in KINDS:
            first_200s(c, kind, [f"warm-{kind}"], hello, busybox)
        for r in range(a.rounds):
            for kind in KINDS:
                (t,), (served,) = first_200s(c, kind, [f"one-{kind}-{r}"], hello, busybox)
                records["first"][kind].append({"api": t, "served": served})
                names = [f"b{i}-{kind}-{r}" for i in range(a.batch)]
                ts, ss = first_200s(c, kind, names, hello, busybox)
                records["batch"][kind].append({"last": max(ts), "median": statistics.median(ts),
                                               "served_last": max(ss)})
                log(f"round {r + 1}/{a.rounds} {kind}: one {t * 1000:.0f} ms (served {served * 1000:.0f}); "
                    f"{a.batch} at once, last {max(ts) * 1000:.0f} ms (served {max(ss) * 1000:.0f})")
        for n in [int(x) for x in a.replicas.split(",")]:
            for r in range(a.mem_rounds):
                for kind in KINDS:
                    m = memory_per_pod(c, kind, n, hello, busybox)
                    records["memory"].setdefault(f"{kind}_x{n}", []).append(m)
                    log(f"memory {kind} x{n} round {r + 1}: PSS {m['pss']:.1f} MiB/pod, "
                        f"RSS {m['rss']:.1f}, used {m['used']:.1f}")
        records["versions"] = {"kubelet": sh(K8S_BIN / "kubelet", "--version").stdout.strip(),
                               "containerd": sh(cb.CTRD / "containerd", "--version").stdout.split()[2]}
    finally:
        c.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"kubernetes-{stamp}.json"
    out.write_text(json.dumps(records, indent=1))
    log(f"wrote {out}")
    cb.write_section(render(records, out), begin=BEGIN, end=END)
    log(f"updated {REPORT}")


def render(rec: dict, out: Path) -> str:
    med = statistics.median
    ms = lambda xs: med(xs) * 1000  # noqa: E731
    def fig(kind: str, section: str, key: str) -> float:
        return ms([r[key] for r in rec[section][kind]])

    rows = {}
    for name, section, key in [("one", "first", "api"), ("one_served", "first", "served"),
                               ("last", "batch", "last"), ("median", "batch", "median"),
                               ("last_served", "batch", "served_last")]:
        rows[name] = (fig("container", section, key), fig("spinapp", section, key))
    verdict = lambda ratio, target: "met" if ratio <= target else f"missed ({ratio:.2f}×)"  # noqa: E731
    lines = [
        BEGIN,
        "## Kubernetes: SpinApp pods vs container pods",
        "",
        f"Generated by `bench/kubernetes.py --rounds {rec['rounds']}` at {dt.datetime.now():%Y-%m-%dT%H:%M:%S} "
        f"on commit {rec['commit']} (results: `{out.relative_to(ROOT)}`; load average at start "
        f"{rec['loadavg_at_start'][0]:.2f}). One node: {rec.get('versions', {}).get('kubelet', 'kubelet')} "
        f"(Debian's source, `scripts/k8s/up.sh`), containerd {rec.get('versions', {}).get('containerd', '')}, "
        "Spindle's operator in-cluster from `spindle kube install`, the shim from the node installer. "
        "The SpinApp is the Rust spin-sdk hello (`examples/hello-rust`) pushed to a local registry; the "
        "container is a Deployment of a static busybox `httpd` (runc) serving one file. Both images are "
        "on the node already; the kinds alternate in every round. Times run from the start of "
        "`kubectl apply` to the first 200 from the pod's IP (medians; *ratio* is SpinApp / container).",
        "",
        "| row | container Deployment | SpinApp | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for key, label, target in [
        ("one", "`kubectl apply` → first 200, one app (pod IP from the API)", 0.5),
        ("one_served", "same, the pod's own first 200 (its IP from the node's CNI)", None),
        ("last", "ten apps in one apply → the last one's first 200 (pod IPs from the API)", 0.5),
        ("median", "same, the median of the ten", None),
        ("last_served", "same, the tenth new pod's own first 200 (IPs from the CNI)", None),
    ]:
        c, s = rows[key]
        goal = f"≤ 0.5×: {verdict(s / c, target)}" if target else ""
        lines.append(f"| {label} | {c:.0f} ms | {s:.0f} ms | {s / c:.2f}× | {goal} |")
    for key in sorted({k.split("_x")[1] for k in rec["memory"]}, key=int):
        c = {m: med([r[m] for r in rec["memory"][f"container_x{key}"]]) for m in ("pss", "rss", "used")}
        s = {m: med([r[m] for r in rec["memory"][f"spinapp_x{key}"]]) for m in ("pss", "rss", "used")}
        ratio = s["pss"] / c["pss"] if c["pss"] > 0 else float("inf")
        lines.append(
            f"| node memory per idle pod, {key} replica{'s' if key != '1' else ''}: PSS (RSS; used) "
            f"| {c['pss']:.1f} MiB ({c['rss']:.1f}; {c['used']:.1f}) "
            f"| {s['pss']:.1f} MiB ({s['rss']:.1f}; {s['used']:.1f}) | {ratio:.2f}× (PSS) "
            f"| ≤ 0.3×: {verdict(ratio, 0.3)} |")
    lines += [
        "",
        "Memory is the node's: the PSS and RSS summed over every process on the machine (so kubelet's "
        "and containerd's growth per pod count too, as do the pause containers), and MemTotal - "
        "MemAvailable (which also counts page cache and kernel memory), with the replicas idle for "
        "5 s, minus the same before the apply, ÷ replicas.",
        END,
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

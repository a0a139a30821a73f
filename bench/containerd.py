#!/usr/bin/env python3
"""Spindle's containerd shim vs a runc container, on one containerd 1.7, interleaved.

    sudo python3 bench/containerd.py              # 10 rounds (~2 min), updates BENCHMARKS.md
    sudo python3 bench/containerd.py --rounds 3   # quicker

Measures the seed's table:
  * `ctr run` to the first HTTP 200: a busybox httpd container (runc) vs the Spindle hello
    image (the Rust spin-sdk hello) with its compiled code cached in containerd's content store,
    and with nothing cached yet (a fresh image each round: the shim compiles it first);
  * image sizes (what a pull transfers: config + layers, as the manifests give them);
  * memory per running app, one app and ten at once: the RSS and PSS of every process that
    serves it (shim + container processes), from /proc.
Everything runs on 127.0.0.1 (the containers use the host network), is stopped by PID, and
every wait is bounded. Writes bench/results/containerd-<stamp>.json and the section between
the `containerd-bench` markers in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPINDLE = ROOT / "target" / "release" / "spindle"
HELLO = ROOT / "examples" / "hello-rust"
HELLO_WASM = HELLO / "target" / "wasm32-wasip2" / "release" / "hello_rust.wasm"
CTRD = Path(os.environ.get("SPINDLE_CONTAINERD_ROOT", "/opt/spindle-ci/containerd")) / "usr" / "bin"
RESULTS = ROOT / "bench" / "results"
REPORT = ROOT / "BENCHMARKS.md"
BEGIN = "<!-- containerd-bench:begin -->"
END = "<!-- containerd-bench:end -->"


def log(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


def sh(*cmd, check=True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(port: int, path: str) -> int | None:
    """One GET; the status, or None when nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
            return int(head.split()[1]) if head.startswith(b"HTTP/") else None
    except (OSError, ValueError, IndexError):
        return None


def wait_200(port: int, path: str, limit: float = 60.0) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        if http_status(port, path) == 200:
            return time.perf_counter() - t0
        time.sleep(0.001)
    raise RuntimeError(f"nothing answered 200 on 127.0.0.1:{port}{path} within {limit} s")


class Stack:
    """A docker-registry and a containerd with the Spindle shim, under one temp dir."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="spindle-bench-ctrd-"))
        self.procs: list[subprocess.Popen] = []
        self.reg_port = free_port()
        (self.dir / "reg.yml").write_text(
            f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {self.dir}/store\n"
            f"http:\n  addr: 127.0.0.1:{self.reg_port}\n")
        self.spawn(["docker-registry", "serve", self.dir / "reg.yml"], "registry.log")
        self.sock = self.dir / "containerd.sock"
        config = self.dir / "config.toml"
        config.write_text(
            f'version = 2\nroot = "{self.dir}/root"\nstate = "{self.dir}/state"\n'
            f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "{self.sock}"\n'
            f'[ttrpc]\n  address = ""\n')
        shims = self.dir / "shims"
        sh(SPINDLE, "node", "install", "--containerd-config", config, "--bin-dir", shims)
        env = dict(os.environ, PATH=f"{shims}:{CTRD}:{os.environ.get('PATH', '')}")
        self.spawn([CTRD / "containerd", "--config", config], "containerd.log", env=env)
        for _ in range(600):
            if self.ctr("version", check=False).returncode == 0 and http_status(self.reg_port, "/v2/"):
                return
            time.sleep(0.05)
        raise RuntimeError("containerd or the registry did not start")

    def spawn(self, cmd, logname, env=None) -> None:
        out = open(self.dir / logname, "w")
        self.procs.append(subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=out,
                                           stdin=subprocess.DEVNULL, env=env))

    def ctr(self, *args, check=True):
        return sh(CTRD / "ctr", "--address", self.sock, *args, check=check)

    def run(self, image: str, cid: str, *, wasm: bool, port: int, cmd=()) -> subprocess.Popen:
        args = [CTRD / "ctr", "--address", self.sock, "run", "--rm", "--net-host"]
        if wasm:
            args += ["--runtime", "io.containerd.spindle.v2", "--env", f"SPIN_HTTP_LISTEN_ADDR=127.0.0.1:{port}"]
        args += [image, cid, *cmd]
        return subprocess.Popen([str(a) for a in args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

    def stop(self, cid: str, proc: subprocess.Popen) -> None:
        self.ctr("task", "kill", "-s", "SIGKILL", cid, check=False)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.ctr("container", "delete", cid, check=False)

    def close(self) -> None:
        tasks = self.ctr("task", "ls", "-q", check=False).stdout.split()
        for t in tasks:
            self.ctr("task", "kill", "-s", "SIGKILL", t, check=False)
        time.sleep(0.5)
        for c in self.ctr("container", "ls", "-q", check=False).stdout.split():
            self.ctr("task", "delete", "-f", c, check=False)
            self.ctr("container", "delete", c, check=False)
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        sh("umount", "-R", self.dir / "state", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def busybox_image(stack: Stack) -> tuple[str, int]:
    """A static-busybox image serving /www/index.html with `busybox httpd`, imported into
    containerd; its name and size (config + layer)."""
    busybox = Path("/bin/busybox")
    if not busybox.exists() or sh("ldd", busybox, check=False).returncode == 0:
        sh("apt-get", "install", "-y", "-qq", "busybox-static")
    w = stack.dir / "busybox-image"
    root = w / "rootfs"
    for d in ["bin", "www", "etc", "proc", "sys", "dev", "tmp"]:
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(busybox, root / "bin" / "busybox")
    (root / "www" / "index.html").write_text("Hello from busybox httpd\n")
    blobs = w / "layout" / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    sh("tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=2020-01-01",
       "-C", root, "-cf", w / "layer.tar", ".")

    def put(path: Path) -> tuple[str, int]:
        import hashlib
        data = path.read_bytes()
        d = hashlib.sha256(data).hexdigest()
        (blobs / d).write_bytes(data)
        return d, len(data)

    ld, ls = put(w / "layer.tar")
    (w / "config.json").write_text(json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/busybox", "httpd", "-f", "-h", "/www"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{ld}"]}}))
    cd, cs = put(w / "config.json")
    (w / "manifest.json").write_text(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": f"sha256:{cd}", "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": f"sha256:{ld}", "size": ls}]}))
    md, ms = put(w / "manifest.json")
    name = "docker.io/library/busybox-httpd:bench"
    (w / "layout" / "index.json").write_text(json.dumps({
        "schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": f"sha256:{md}", "size": ms,
            "annotations": {"io.containerd.image.name": name}}]}))
    (w / "layout" / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    sh("tar", "-C", w / "layout", "-cf", w / "image.tar", "oci-layout", "index.json", "blobs")
    stack.ctr("image", "import", w / "image.tar")
    return name, cs + ls


def push_hello(stack: Stack, tag: str, wasm: bytes) -> tuple[str, int]:
    """Pushes the hello app (with `wasm` as its component) and pulls it into containerd; the
    image name and its size (config + layers, from the manifest)."""
    app = stack.dir / f"app-{tag}"
    app.mkdir()
    (app / "hello.wasm").write_bytes(wasm)
    (app / "spin.toml").write_text(
        'spin_manifest_version = 2\n[application]\nname = "hello"\nversion = "1.0.0"\n'
        '[[trigger.http]]\nroute = "/hello/..."\ncomponent = "hello"\n'
        '[component.hello]\nsource = "hello.wasm"\n')
    image = f"127.0.0.1:{stack.reg_port}/bench/hello:{tag}"
    sh(SPINDLE, "registry", "push", "-f", app / "spin.toml", image)
    stack.ctr("image", "pull", "--plain-http", image)
    req = f"GET /v2/bench/hello/manifests/{tag} HTTP/1.1\r\nHost: x\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", stack.reg_port)) as s:
        s.sendall(req.encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    manifest = json.loads(data.split(b"\r\n\r\n", 1)[1])
    size = manifest["config"]["size"] + sum(l["size"] for l in manifest["layers"])
    return image, size


def rebuilt(wasm: bytes, n: int) -> bytes:
    """The same component with a custom section appended: another digest, nothing cached."""
    name = b"bench"
    payload = bytes([len(name)]) + name + f"round {n}".encode()
    return wasm + bytes([0, len(payload)]) + payload


def memory(pids: list[int]) -> tuple[int, int]:
    """RSS and PSS (bytes) summed over `pids` and their descendants."""
    seen, todo = set(), list(pids)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for child in Path(f"/proc/{p}/task/{p}/children").read_text().split():
                todo.append(int(child))
        except OSError:
            pass
    rss = pss = 0
    for p in seen:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return rss, pss


def serving_pids(stack: Stack, cid: str) -> list[int]:
    """The shim process of container `cid` (which has the container's processes as
    descendants or siblings) and the task's own PID."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"containerd-shim" in c for c in cmd[:1]) and b"-id" in cmd and cmd[cmd.index(b"-id") + 1] == cid.encode():
            pids.append(int(proc.name))
    for line in stack.ctr("task", "ls").stdout.splitlines()[1:]:
        f = line.split()
        if f and f[0] == cid:
            pids.append(int(f[1]))
    return pids


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--apps", type=int, default=10, help="apps at once for the memory row")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: containerd needs it")
    sh("bash", ROOT / ".ci" / "install-containerd.sh")
    sh("bash", ROOT / ".ci" / "install-services.sh")
    if not HELLO_WASM.exists():
        sh("bash", ROOT / ".ci" / "build-guests.sh")
    sh("cargo", "build", "--release", "-p", "spindle", cwd=ROOT)
    load = os.getloadavg()[0]
    if load > 0.5:
        log(f"warning: load average {load:.2f}: other work skews the figures")
    stack = Stack()
    records: dict = {"rounds": a.rounds, "loadavg_at_start": os.getloadavg()}
    try:
        base = HELLO_WASM.read_bytes()
        busybox, busybox_size = busybox_image(stack)
        hello, hello_size = push_hello(stack, "v1", base)
        records["image_bytes"] = {"busybox_httpd": busybox_size, "spindle_hello": hello_size}
        # Warm-up: the hello image's code gets compiled and cached; one container of each.
        for wasm, image, path, cmd in [(True, hello, "/hello", ()), (False, busybox, "/", None)]:
            port = free_port()
            c = cmd if cmd is not None else ("/bin/busybox", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www")
            proc = stack.run(image, "warmup", wasm=wasm, port=port, cmd=c)
            wait_200(port, path)
            stack.stop("warmup", proc)
        first: dict[str, list[float]] = {"runc_busybox": [], "spindle_cached": [], "spindle_uncached": []}
        for r in range(a.rounds):
            fresh, _ = push_hello(stack, f"r{r}", rebuilt(base, r))
            for kind in first:
                port = free_port()
                if kind == "runc_busybox":
                    image, wasm, path = busybox, False, "/"
                    cmd = ("/bin/busybox", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www")
                else:
                    image, wasm, path, cmd = (hello if kind == "spindle_cached" else fresh), True, "/hello", ()
                cid = f"{kind.replace('_', '-')}-{r}"
                t0 = time.perf_counter()
                proc = stack.run(image, cid, wasm=wasm, port=port, cmd=cmd)
                wait_200(port, path)
                first[kind].append(time.perf_counter() - t0)
                stack.stop(cid, proc)
            log(f"round {r + 1}/{a.rounds}: " + ", ".join(f"{k} {v[-1] * 1000:.0f} ms" for k, v in first.items()))
        records["first_200_s"] = first
        # Memory: 1 and N idle apps of each kind (after one request each).
        mem = {}
        for n in (1, a.apps):
            for kind in ("runc_busybox", "spindle_cached"):
                running = []
                for i in range(n):
                    port = free_port()
                    cid = f"mem-{kind.replace('_', '-')}-{n}-{i}"
                    if kind == "runc_busybox":
                        proc = stack.run(busybox, cid, wasm=False, port=port,
                                         cmd=("/bin/busybox", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"))
                        wait_200(port, "/")
                    else:
                        proc = stack.run(hello, cid, wasm=True, port=port)
                        wait_200(port, "/hello")
                    running.append((cid, proc))
                time.sleep(1)
                rss = pss = 0
                for cid, _ in running:
                    r_, p_ = memory(serving_pids(stack, cid))
                    rss += r_
                    pss += p_
                mem[f"{kind}_x{n}"] = {"apps": n, "rss_per_app": rss / n, "pss_per_app": pss / n}
                log(f"{kind} x{n}: RSS {rss / n / 2**20:.1f} MiB/app, PSS {pss / n / 2**20:.1f} MiB/app")
                for cid, proc in running:
                    stack.stop(cid, proc)
        records["memory"] = mem
    finally:
        stack.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"containerd-{stamp}.json"
    records["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    records["commit"] = sh("git", "rev-parse", "--short", "HEAD", cwd=ROOT, check=False).stdout.strip()
    out.write_text(json.dumps(records, indent=1))
    write_section(render(records, out))
    log(f"wrote {out} and the containerd section of {REPORT}")


def render(rec: dict, out: Path) -> str:
    med = {k: statistics.median(v) * 1000 for k, v in rec["first_200_s"].items()}
    mins = {k: min(v) * 1000 for k, v in rec["first_200_s"].items()}
    runc = med["runc_busybox"]
    img = rec["image_bytes"]
    mem = rec["memory"]
    mib = 2**20
    n = max(m["apps"] for m in mem.values())
    lines = [
        BEGIN,
        "## containerd: the seed's table (Spindle shim vs a runc container)",
        "",
        f"Generated by `bench/containerd.py --rounds {rec['rounds']}` at {rec['finished']} on commit "
        f"{rec['commit']} (results: `{out.relative_to(ROOT)}`; load average at start "
        f"{rec['loadavg_at_start'][0]:.2f}). containerd 1.7.24 (Debian trixie), runc, both images already "
        "pulled, host network; the three kinds of start are interleaved in every round. The container is a "
        "static busybox `httpd` serving one file; the Wasm app is the Rust spin-sdk hello "
        "(`examples/hello-rust`). *Ratio* is Spindle / runc.",
        "",
        "| row | runc container | Spindle shim | ratio | target |",
        "|---|---|---|---|---|",
        f"| `ctr run` → first HTTP 200, compiled code cached (median; min) | {runc:.0f} ms; {mins['runc_busybox']:.0f} ms "
        f"| {med['spindle_cached']:.0f} ms; {mins['spindle_cached']:.0f} ms | {med['spindle_cached'] / runc:.2f}× "
        f"| ≤ 0.2×: {'met' if med['spindle_cached'] / runc <= 0.2 else 'missed'} |",
        f"| same, nothing compiled yet (a new image each round) | | {med['spindle_uncached']:.0f} ms; "
        f"{mins['spindle_uncached']:.0f} ms | {med['spindle_uncached'] / runc:.2f}× | |",
        f"| image size (config + layers) | {img['busybox_httpd'] / 1024:.0f} KiB | {img['spindle_hello'] / 1024:.0f} KiB "
        f"| {img['spindle_hello'] / img['busybox_httpd']:.2f}× | hello ≤ 200 KB: "
        f"{'met' if img['spindle_hello'] <= 200_000 else 'missed'} |",
    ]
    for k in (1, n):
        r, s = mem[f"runc_busybox_x{k}"], mem[f"spindle_cached_x{k}"]
        lines.append(
            f"| memory per idle app, {k} running: RSS (PSS) | {r['rss_per_app'] / mib:.1f} MiB ({r['pss_per_app'] / mib:.1f}) "
            f"| {s['rss_per_app'] / mib:.1f} MiB ({s['pss_per_app'] / mib:.1f}) | {s['pss_per_app'] / r['pss_per_app']:.2f}× (PSS) "
            f"| ≤ 10 MB per app: {'met' if s['pss_per_app'] <= 10e6 else 'missed'} (PSS) |")
    lines += [
        "",
        "Memory counts every process serving the app: the shim (`containerd-shim-runc-v2`, or "
        "`containerd-shim-spindle-v2`) and the container's own processes. RSS counts shared pages "
        "(the 76 MB `spindle` binary, libraries) in full for each process; PSS splits them between the "
        "processes that share them, so PSS per app is what one more app costs. The seed's figures "
        "(\"cold start ~500 ms for containers, ~1 ms for Wasm; images 100-500 MB vs 1-10 MB; ~50 MB vs ~1 MB "
        "memory\") compare against typical distro-based images; the container here is the smallest "
        "possible one (one static binary), so its start and size are a lower bound for containers.",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_section(section: str, begin: str = BEGIN, end: str = END) -> None:
    """Replaces the section between `begin` and `end` in BENCHMARKS.md (or appends it)."""
    text = REPORT.read_text() if REPORT.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    REPORT.write_text(text)


if __name__ == "__main__":
    main()

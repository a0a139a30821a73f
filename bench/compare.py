#!/usr/bin/env python3
"""One Spindle binary against another, interleaved: to check that a change costs nothing.

    python3 bench/compare.py --old /path/to/old/spindle [--new target/release/spindle]
                             [--rounds 5] [--duration 5] [--guests rust-spin,p3]

For each round and guest, each binary in turn (the order alternates by round): start with an
empty compiled-code cache, start with a warm cache (ms from exec to the first 200), then wrk
at 1 and 16 connections (requests/s, p50/p99, CPU per request). Medians over the rounds and
the new/old ratio are printed as a Markdown table. Uses the servers, guests and wrk parsing of
bench/run.py; servers listen on 127.0.0.1 and are stopped by PID.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import containerd as cb  # noqa: E402
import run as rb  # noqa: E402

BEGIN = "<!-- compare-bench:begin -->"
END = "<!-- compare-bench:end -->"


def server(binary: Path, guest: str, cache: Path) -> rb.Server:
    g = rb.GUESTS[guest]
    port = rb.free_port()
    cmd = [str(binary), "up", "-f", str(rb.guest_manifest(guest)), "--listen",
           f"127.0.0.1:{port}", "--compiled-cache-dir", str(cache), "-q",
           "--log-dir", str(rb.WORK / "logs" / "guest")]
    return rb.Server("spindle", guest, cmd, port, g["path"])


def measure(binary: Path, tag: str, guest: str, duration: float) -> dict:
    cache = rb.fresh_cache_dir(f"compare-{tag}-{guest}")
    out: dict = {}
    with server(binary, guest, cache) as s:
        out["cold_start_ms"] = s.start()
    with server(binary, guest, cache) as s:
        out["warm_start_ms"] = s.start()
        for conns in (1, 16):
            rb.run_wrk(s, s.path, conns, 1)  # warm-up
            r = rb.run_wrk(s, s.path, conns, duration)
            if r["errors"]:
                raise RuntimeError(f"{tag} {guest}: {r['errors']} errors at c={conns}")
            out[f"rps_c{conns}"] = r["rps"]
            out[f"p50_ms_c{conns}"] = r.get("p50_ms", 0.0)
            out[f"p99_ms_c{conns}"] = r.get("p99_ms", 0.0)
            out[f"cpu_us_c{conns}"] = r["cpu_us_per_req"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old", type=Path, required=True, help="the baseline spindle binary")
    p.add_argument("--new", type=Path, default=rb.SPINDLE, help="the candidate (default: release build)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    p.add_argument("--guests", type=lambda s: s.split(","), default=["rust-spin", "p3"])
    p.add_argument("--write", metavar="TITLE",
                   help="also write the tables into BENCHMARKS.md as a section with this title")
    a = p.parse_args()
    for b in (a.old, a.new):
        if not b.exists():
            sys.exit(f"no binary at {b}")
    for guest in a.guests:
        if guest not in rb.GUESTS:
            sys.exit(f"unknown guest {guest}; known: {', '.join(rb.GUESTS)}")

    results: dict[tuple[str, str], list[dict]] = {}
    for rnd in range(a.rounds):
        order = [("old", a.old), ("new", a.new)]
        if rnd % 2:
            order.reverse()
        for guest in a.guests:
            for tag, binary in order:
                rb.log(f"round {rnd + 1}/{a.rounds}: {guest} {tag}")
                results.setdefault((guest, tag), []).append(measure(binary, tag, guest, a.duration))

    fields = [("cold_start_ms", "start, empty cache (ms)"), ("warm_start_ms", "start, warm cache (ms)"),
              ("rps_c1", "req/s, 1 conn"), ("p50_ms_c1", "p50 ms, 1 conn"),
              ("cpu_us_c1", "CPU µs/req, 1 conn"), ("rps_c16", "req/s, 16 conns"),
              ("p99_ms_c16", "p99 ms, 16 conns"), ("cpu_us_c16", "CPU µs/req, 16 conns")]
    lines = [f"{a.rounds} rounds, interleaved (the order alternates by round), medians; "
             f"old = `{a.old}`, new = `{a.new}`; written by bench/compare.py on "
             f"{rb.dt.datetime.now().strftime('%Y-%m-%d %H:%M')}.", ""]
    for guest in a.guests:
        title = rb.GUESTS[guest]["title"].split(" vs ")[0]
        lines += [f"**{title}**", "",
                  "| measure | old | new | new/old |", "|---|---:|---:|---:|"]
        for key, title in fields:
            old = statistics.median(r[key] for r in results[(guest, "old")])
            new = statistics.median(r[key] for r in results[(guest, "new")])
            ratio = new / old if old else float("nan")
            lines.append(f"| {title} | {old:.1f} | {new:.1f} | {ratio:.2f}× |")
        lines.append("")
    table = "\n".join(lines)
    print("\n" + table)
    if a.write:
        cb.write_section(f"{BEGIN}\n## {a.write}\n\n{table}\n{END}\n", BEGIN, END)
        rb.log(f"wrote the section to {cb.REPORT}")


if __name__ == "__main__":
    main()

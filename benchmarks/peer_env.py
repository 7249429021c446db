"""The peer's virtual environment: the ``onsagernet`` package (PyPI) and pinned dependencies.

onsagernet 0.1.3 needs Python >= 3.12 and equinox < 0.12; equinox 0.11.12 fails to import
with jax >= 0.6 (``jaxlib.xla_extension`` / ``batching.NotMapped`` are gone), and the
package imports ``chex`` without declaring it, so the versions below are pinned together.
Built on first use under ~/.cache/onsagerflow/peer-venv (ONSAGERFLOW_PEER_VENV overrides)
with the first Python >= 3.12 found (ONSAGERFLOW_PEER_PYTHON, pyenv's 3.12.x, python3.12).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PINS = [
    "onsagernet==0.1.3",
    "equinox==0.11.12",
    "jax==0.5.3",
    "jaxlib==0.5.3",
    "optax==0.2.8",
    "chex==0.1.90",
    "diffrax==0.7.2",
    "datasets==3.6.0",
]


class PeerUnavailable(RuntimeError):
    pass


def venv_dir() -> Path:
    return Path(os.environ.get("ONSAGERFLOW_PEER_VENV", os.path.expanduser("~/.cache/onsagerflow/peer-venv")))


def _base_python() -> str:
    cands = [os.environ.get("ONSAGERFLOW_PEER_PYTHON")]
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    cands += sorted(glob.glob(os.path.join(root, "versions", "3.1[2-9]*", "bin", "python")))
    cands += [shutil.which("python3.12"), shutil.which("python3.13")]
    for c in cands:
        if c and os.path.exists(c):
            return c
    raise PeerUnavailable("no Python >= 3.12 found for the peer (onsagernet needs it): set ONSAGERFLOW_PEER_PYTHON")


def peer_python(quiet: bool = False) -> str:
    """The peer venv's interpreter, building the venv (pip install, needs PyPI) on first use."""
    d = venv_dir()
    py = d / "bin" / "python"
    stamp = d / "onsagerflow-pins.json"
    if py.exists() and stamp.exists() and json.loads(stamp.read_text()) == PINS:
        return str(py)
    base = _base_python()
    log = sys.stderr
    print(f"building the peer venv in {d} with {base}: pip install {' '.join(PINS)}", file=log)
    try:
        subprocess.run([base, "-m", "venv", "--clear", str(d)], check=True)
        r = subprocess.run([str(py), "-m", "pip", "install", "--quiet", *PINS], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise PeerUnavailable(f"could not create the peer venv in {d}: {e}") from None
    if r.returncode != 0:
        raise PeerUnavailable(
            f"pip install of the peer failed (exit {r.returncode}; is PyPI reachable?):\n"
            + (r.stderr or r.stdout)[-2000:]
        )
    check = subprocess.run([str(py), "-c", "import onsagernet.trainers, diffrax"], capture_output=True, text=True)
    if check.returncode != 0:
        raise PeerUnavailable("the peer venv was installed but onsagernet does not import:\n" + check.stderr[-2000:])
    stamp.write_text(json.dumps(PINS))
    return str(py)


def run_peer(args: list[str], out: Path) -> dict:
    """Run _peer_onsagernet.py in the peer venv with ``args``; its JSON result."""
    script = Path(__file__).with_name("_peer_onsagernet.py")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JAX_ENABLE_X64", "XLA_FLAGS")}
    r = subprocess.run([peer_python(), str(script), *args, "--out", str(out)], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise PeerUnavailable(f"the peer run failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
    return json.loads(out.read_text())


def start() -> None:
    """Make sure the peer venv exists (building it on first use; exit with pip's reason if it
    cannot be built), then set up JAX for our side as the pipeline does, with the persistent
    compilation cache off so that compile times are cold on both sides."""
    os.environ.setdefault("ONSAGERFLOW_JAX_CACHE", "off")
    try:
        peer_python()
    except PeerUnavailable as e:
        raise SystemExit(f"peer benchmark not run: {e}") from None
    from onsagerflow.runtime import configure

    configure()

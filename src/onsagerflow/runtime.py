"""Process-wide JAX set-up, done once before JAX is imported by a stage."""

from __future__ import annotations

import logging
import os
import sys

# Programs that compile faster than this are not written to the persistent cache (reading
# one back costs about a millisecond; most of an evaluation's dozens of programs take 0.2–7 s).
MIN_CACHED_COMPILE_SECONDS = 0.2


def configure(threads: int | None = None, preallocate: bool | None = None, mem_fraction: float | None = None) -> None:
    """Enable float64 and keep a GPU shareable between concurrent jobs.

    XLA reads XLA_PYTHON_CLIENT_PREALLOCATE and XLA_PYTHON_CLIENT_MEM_FRACTION once, when
    its GPU client starts, so they are exported here, before JAX is imported. Given values
    (the config's `runtime` block, passed as flags by the workflow) win over the
    environment; without them a job does not pre-allocate, and the fraction is left alone.

    XLA's CPU backend otherwise runs its Eigen kernels on a thread per core in every
    process; a job Snakemake gives one thread gets single-threaded kernels, so jobs
    side by side do not fight over cores. (XLA has no flag for "N threads": more
    than one means its default.)
    """
    if "jax" in sys.modules:
        logging.getLogger("onsagerflow").warning(
            "JAX was imported before runtime.configure: its GPU memory settings may not apply"
        )
    if preallocate is None:
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    else:
        os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "true" if preallocate else "false"
    if mem_fraction is not None:
        if not 0 < mem_fraction <= 1:
            raise ValueError(f"mem_fraction must lie in (0, 1], got {mem_fraction}")
        os.environ["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{mem_fraction:g}"
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
    # equinox's run-time checks (diffrax's and optimistix's error_if) are host callbacks, and
    # XLA's persistent cache refuses programs that hold one, so every rollout and orbit solve
    # would compile again in every job. Every solve here passes throw=False and checks its
    # result on the host; under "nan" the checks that remain (argument sanity, e.g. save times
    # increasing, which we guarantee) turn outputs into NaN instead, which the callers treat
    # as a failed solve. A user's own EQX_ON_ERROR wins.
    os.environ.setdefault("EQX_ON_ERROR", "nan")
    import jax

    jax.config.update("jax_enable_x64", True)
    cache = os.environ.get(
        "ONSAGERFLOW_JAX_CACHE",
        os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "onsagerflow", "jax"),
    )
    if cache.lower() not in ("", "0", "off", "none"):
        # Compiled programs depend on shapes only, so jobs of sibling systems and re-runs
        # reuse them instead of compiling again.
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_CACHED_COMPILE_SECONDS)


def setup_logging(level: int = logging.INFO) -> logging.Logger:
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("jax").setLevel(logging.WARNING)  # no 'no TPU found' chatter in every log
    return logging.getLogger("onsagerflow")


def progress(iterable=None, **kwargs):
    """A tqdm bar that stays readable in a Snakemake log file (few redraws off a tty)."""
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    kwargs.setdefault("mininterval", 0.5 if tty else 10.0)
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", tty)
    return tqdm(iterable, **kwargs)

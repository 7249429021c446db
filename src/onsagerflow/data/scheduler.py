"""Where the out-of-core PCA (reduce) runs: dask's threads in the job's process,
or a ``dask.distributed`` cluster — a LocalCluster started for the job, or an existing
scheduler named by its address (config key ``dask``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import dask

log = logging.getLogger("onsagerflow.dask")


@contextlib.contextmanager
def dask_scheduler(settings: Mapping[str, Any] | None, threads: int | None = None) -> Iterator[None]:
    """Run the dask computations inside on the scheduler ``settings`` names: the config's
    ``dask`` block, validated here (None: every default).

    ``threads`` (the job's Snakemake threads) caps the local thread pool, so a job does
    not use more cores than it was given.
    """
    from ..config import validated_block

    s = validated_block("dask", settings)
    kind = s["scheduler"]  # threads | synchronous | distributed (config/schema.yaml)
    if kind == "synchronous":
        with dask.config.set(scheduler="synchronous"):
            yield
        return
    if kind == "threads":
        with dask.config.set(scheduler="threads", num_workers=threads or s["n_workers"]):
            yield
        return
    from dask.distributed import Client, LocalCluster

    address = s["address"]
    with contextlib.ExitStack() as stack:
        if address:
            client = stack.enter_context(Client(address, timeout="30s"))
            log.info("dask: scheduler at %s (%d workers)", address, len(client.scheduler_info().get("workers", {})))
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=s["n_workers"] or threads or 1,
                    threads_per_worker=s["threads_per_worker"],
                    memory_limit=s["memory_limit"],
                    processes=True,
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster))
            log.info(
                "dask: LocalCluster, %d workers × %d threads, memory limit %s per worker",
                len(cluster.workers),
                s["threads_per_worker"],
                s["memory_limit"],
            )
        yield

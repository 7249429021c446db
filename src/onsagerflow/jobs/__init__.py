"""Job sizes: the work each job holds, the measured rates, the shard plans and what each job
asks the scheduler for (runtime and memory), within a cap per job (config ``jobs``)."""

from .rates import RATES, RATES_VERSION, load_rates
from .requests import Job, estimate, jobs, resources, runtime_minutes, summary, table
from .shards import calibration_plan, cut, noise_floor_plan, parse_range, range_name, shard_plan
from .work import Estimate

__all__ = [
    "RATES",
    "RATES_VERSION",
    "Estimate",
    "Job",
    "calibration_plan",
    "noise_floor_plan",
    "cut",
    "estimate",
    "jobs",
    "load_rates",
    "parse_range",
    "range_name",
    "resources",
    "runtime_minutes",
    "shard_plan",
    "summary",
    "table",
]

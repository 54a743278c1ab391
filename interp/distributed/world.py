"""Which process this is among several, and the few collective steps the sharded jobs need.

A `World` comes from the `torchrun` environment (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, rendezvous
variables): a `torch.distributed` process group is started (NCCL on GPUs, gloo on CPU). Without those
variables it is one process (rank 0 of 1), or, with an explicit rank and world size, a *standalone rank*:
no process group, used to re-run one rank that died while the others' shards stay on disk.

Work is split round-robin: rank r of W takes units r, r+W, r+2W, ...

>>> World(rank=1, size=3).mine(7)
[1, 4]
>>> World().mine(2)
[0, 1]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from interp._util.errors import UserError


@dataclass(frozen=True)
class World:
    """Rank `rank` of `size` processes; `group` is True when a torch.distributed process group runs."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    group: bool = False

    @property
    def main(self) -> bool:
        """True on rank 0 (the rank that merges)."""
        return self.rank == 0

    def mine(self, n_units: int) -> list[int]:
        """This rank's units of `n_units` (round-robin); refuses a world larger than the work."""
        if self.size > n_units:
            raise UserError(
                f"The world size {self.size} is larger than the {n_units} shards of this job; "
                "launch at most that many processes or use a smaller --shard-size."
            )
        return list(range(self.rank, n_units, self.size))

    @property
    def device(self) -> str:
        """This rank's device: `cuda:LOCAL_RANK` when a GPU is visible, else `cpu`."""
        return f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError as err:
        raise UserError(f"The environment variable {name}={value!r} is not an integer; launch with torchrun.") from err


def init_world(
    rank: int | None = None, size: int | None = None, backend: str | None = None, timeout_minutes: float = 24 * 60
) -> World:
    """The world of this process: torchrun's (a process group is started), a standalone rank, or one process.

    `timeout_minutes` bounds how long rank 0 waits at the merge barrier for the slowest rank.
    """
    from_env = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    if from_env and (rank is not None or size is not None):
        raise UserError("--rank/--world-size re-run one rank without torchrun; do not give them under torchrun.")
    if not from_env:
        if (rank is None) != (size is None):
            raise UserError("Give both --rank and --world-size (to re-run one rank), or neither.")
        if rank is None or size is None:
            return World()
        if size < 1 or not 0 <= rank < size:
            raise UserError(f"Rank {rank} is not in 0..{size - 1}; give a rank below the world size.")
        return World(rank, size)
    world = World(
        _env_int("RANK"),
        _env_int("WORLD_SIZE"),
        _env_int("LOCAL_RANK") if "LOCAL_RANK" in os.environ else 0,
        group=True,
    )
    if not dist.is_initialized():
        chosen = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if chosen == "nccl":
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group(chosen, timeout=timedelta(minutes=timeout_minutes))
    return world


def barrier(world: World) -> None:
    """Wait until every rank arrives (nothing to wait for without a process group)."""
    if world.group:
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[world.local_rank])
        else:
            dist.barrier()


def agree(world: World, settings: dict[str, Any]) -> None:
    """Check every rank runs with the same settings (model fingerprint, dtype, ...); the first differing one
    (in `settings` order) is named in a UserError raised on every rank."""
    if not world.group:
        return
    gathered: list[Any] = [None] * world.size
    dist.all_gather_object(gathered, settings)
    reference = gathered[0]
    for rank, theirs in enumerate(gathered[1:], start=1):
        for name, value in reference.items():
            if theirs.get(name) != value:
                raise UserError(
                    f"Rank {rank} runs with {name}={theirs.get(name)!r} but rank 0 with {name}={value!r}; "
                    "launch every rank with the same model, --dtype and options."
                )


def shutdown(world: World) -> None:
    """End the process group (if this process started one)."""
    if world.group and dist.is_initialized():
        dist.destroy_process_group()

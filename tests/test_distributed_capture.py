"""Sharded captures: 2 gloo processes fill the same store folder a single-process capture does; a dead rank
re-runs alone; ranks with mixed dtypes are refused."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from interp._util.errors import UserError
from interp.distributed import World, distributed_capture, init_world, shutdown
from interp.hooks import Site
from interp.models import ModelHandle, rm_from_base
from interp.models.tiny import Arch
from interp.store import capture_to_store, load_rows, load_site, missing_shards

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = [
    f"What is the best thing ever? Answer {i}: {['love', 'freedom', 'success'][i % 3]} " * (1 + i % 3)
    for i in range(22)
]
SITES = [Site(0), Site(2, "resid_pre"), Site(3, position="all")]
SHARD = 4  # 22 rows make 6 shards


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker(rank: int, size: int, port: int, base: str, root: str, dtypes: tuple[str, str], report: str) -> None:
    """One gloo rank: capture TEXTS into `root`; a UserError is written to `report`.rank."""
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    world = init_world(backend="gloo", timeout_minutes=2)
    try:
        rm = rm_from_base(base, seed=5, dtype=dtypes[rank])
        distributed_capture(rm, TEXTS, SITES, root, world, shard_size=SHARD, batch_size=3, progress=False)
    except UserError as err:
        Path(f"{report}.{rank}").write_text(str(err))
    finally:
        shutdown(world)


def spawn(base: Path, root: Path, dtypes: tuple[str, str]) -> None:
    mp.spawn(worker, args=(2, free_port(), str(base), str(root), dtypes, str(root / "error")), nprocs=2)


@pytest.fixture(scope="module")
def rm(tiny_folder: Callable[[Arch], Path]) -> ModelHandle:
    return rm_from_base(str(tiny_folder("llama")), seed=5)


@pytest.mark.slow
def test_two_gloo_ranks_fill_the_single_process_store(
    rm: ModelHandle, tiny_folder: Callable[[Arch], Path], tmp_path: Path
) -> None:
    spawn(tiny_folder("llama"), tmp_path / "two", ("float32", "float32"))
    assert not list(tmp_path.glob("two/error.*"))
    one = capture_to_store(rm, TEXTS, SITES, tmp_path / "one", shard_size=SHARD, batch_size=3, progress=False)
    two = next(p.parent for p in (tmp_path / "two").rglob("meta.json"))
    assert two.relative_to(tmp_path / "two") == one.relative_to(tmp_path / "one")
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    assert (two / "capture_config.json").read_text() == (one / "capture_config.json").read_text()
    assert load_rows(two).equals(load_rows(one))
    for site in SITES:
        assert torch.equal(load_site(two, site), load_site(one, site))


@pytest.mark.slow
def test_ranks_with_mixed_dtypes_are_refused(tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    spawn(tiny_folder("llama"), tmp_path, ("float32", "bfloat16"))
    errors = [(tmp_path / f"error.{r}").read_text() for r in (0, 1)]
    assert errors[0] == errors[1]
    assert errors[0].startswith("Rank 1 runs with dtype='bfloat16' but rank 0 with dtype='float32'")
    assert not list(tmp_path.rglob("shard-*"))  # refused before anything was written


def test_dead_rank_reruns_alone(rm: ModelHandle, tmp_path: Path) -> None:
    one = capture_to_store(rm, TEXTS, SITES, tmp_path / "one", shard_size=SHARD, batch_size=3, progress=False)
    root = tmp_path / "two"

    def run(rank: int, after_shard: Callable[[int], None] | None = None) -> Path:
        return distributed_capture(
            rm, TEXTS, SITES, root, World(rank, 2), SHARD, 3, progress=False, after_shard=after_shard
        )

    folder = run(0)
    assert missing_shards(folder) == [1, 3, 5]

    def die(shard: int) -> None:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        run(1, die)
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("shard-*")}
    redone: list[int] = []
    assert run(1, redone.append) == folder
    assert redone == [3, 5] and missing_shards(folder) == []
    assert all(p.stat().st_mtime_ns == before[p.name] for p in folder.glob("shard-*") if p.name in before)
    for site in SITES:
        assert torch.equal(load_site(folder, site), load_site(one, site))
    assert load_rows(folder).equals(load_rows(one))


def test_capture_errors(rm: ModelHandle, tiny_folder: Callable[[Arch], Path], tmp_path: Path) -> None:
    with pytest.raises(UserError, match="world size 7 is larger than the 6 shards"):
        distributed_capture(rm, TEXTS, SITES, tmp_path, World(0, 7), SHARD, progress=False)
    with pytest.raises(UserError, match=r"Shard ids must be in 0\.\.5"):
        capture_to_store(rm, TEXTS, SITES, tmp_path, SHARD, shard_ids=[6], progress=False)
    folder = capture_to_store(rm, TEXTS, SITES, tmp_path, SHARD, shard_ids=[0], progress=False)
    other = rm_from_base(str(tiny_folder("llama")), seed=6)
    with pytest.raises(UserError, match="holds activations of another model"):
        distributed_capture(other, TEXTS, SITES, folder, World(1, 2), SHARD, progress=False)

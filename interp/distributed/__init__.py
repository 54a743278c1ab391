"""Beyond one process: sweeps and captures sharded with torch.distributed, and RMs spread over devices.

Sharded jobs split their work into the same numbered shards a single-process run writes (vocabulary
shards per prompt; the activation store's row shards) and rank r of W runs shards r, r+W, ...; rank 0
waits at a barrier and merges. The merged result equals a single-process run exactly; a rank that died is
re-run alone (`--rank R --world-size W`, no torchrun): its finished shards are skipped and no other
rank's shard is touched. Launch with torchrun (NCCL on GPUs, gloo on CPU):

    # one node, 8 GPUs, one rank per GPU
    torchrun --nproc-per-node 8 -m interp.cli sweep-distributed \\
        --rm Skywork/Skywork-Reward-V2-Llama-3.1-8B --prompts grid --out out/vocab
    # two nodes: run on each, with --node-rank 0 and 1
    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 8 --rdzv-backend c10d \\
        --rdzv-endpoint HOST0:29500 --rdzv-id vocab1 -m interp.cli sweep-distributed ... --out /shared/out
    # CPU, 2 processes (gloo)
    torchrun --nproc-per-node 2 -m interp.cli sweep-distributed --base-for-new-head smollm2-135m-instruct \\
        --prompt best_ever_one --out out/vocab

From Python:

>>> from interp.distributed import init_world, distributed_vocab_sweep, distributed_capture, load_placed
>>> World(rank=0, size=2).mine(5)
[0, 2, 4]
"""

from interp.distributed.capture import distributed_capture
from interp.distributed.placement import default_dtype, dispatch, layer_map, load_placed, place
from interp.distributed.sweep import distributed_vocab_sweep, merge_vocab, missing_units, sweep_rank
from interp.distributed.world import World, agree, barrier, init_world, shutdown

__all__ = [
    "World",
    "agree",
    "barrier",
    "default_dtype",
    "dispatch",
    "distributed_capture",
    "distributed_vocab_sweep",
    "init_world",
    "layer_map",
    "load_placed",
    "merge_vocab",
    "missing_units",
    "place",
    "shutdown",
    "sweep_rank",
]

"""Where the PyTorch engine runs: the device, and the process group when torchrun started us.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT for every process; we then
join the group with NCCL on CUDA and gloo otherwise. Process r of N uses GPU LOCAL_RANK.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from cnncli.errors import UsageError
from cnncli.torch_engine import launched_by_torchrun

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Placement:
    """This process's device and its place among the training processes."""

    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def describe(self) -> str:
        where = f"{self.device.type}" + (f":{self.device.index}" if self.device.index is not None else "")
        if not self.distributed:
            return f"PyTorch {torch.__version__} on {where}"
        return (f"PyTorch {torch.__version__}, DistributedDataParallel over {self.world} processes "
                f"({dist.get_backend()}), {where} each")


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def choose_device(requested: str, local_rank: int) -> torch.device:
    """auto: CUDA if there is a GPU, else Apple's MPS, else the CPU; an explicit choice must exist."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: PyTorch sees no CUDA GPU here (torch.cuda.is_available() is False; "
                             f"this PyTorch {torch.__version__} was built "
                             f"{'with' if torch.version.cuda else 'without'} CUDA); use --device cpu or auto")
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise UsageError(f"process with LOCAL_RANK {local_rank} has no GPU of its own (this machine has {count}); "
                             f"start at most {count} processes per node (torchrun --nproc-per-node {count})")
        return torch.device("cuda", local_rank)
    if requested == "mps" and not _mps_available():
        raise UsageError("--device mps: Apple's Metal backend is not available here; use --device cpu or auto")
    return torch.device(requested)


def start(requested_device: str) -> Placement:
    """The device, and (under torchrun with WORLD_SIZE > 1) the joined process group."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = choose_device(requested_device, local_rank)
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) == 1:
        return Placement(device)
    if device.type == "mps":
        raise UsageError("--device mps has no multi-process backend; use one process, or --device cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                device_id=device if device.type == "cuda" else None)
    return Placement(device, dist.get_rank(), dist.get_world_size(), local_rank)


def barrier(placement: Placement) -> None:
    if placement.distributed:
        dist.barrier()


def finish(placement: Placement, completed: bool) -> None:
    """Leave the process group (torchrun expects a clean exit). After a completed run the processes
    first free what still refers to the group (DistributedDataParallel's reducer sits in reference
    cycles, which the interpreter's shutdown would otherwise free while gloo's threads still run:
    the process then aborts with "terminate called without an active exception") and wait for
    each other (process 0 alone evaluates the test set), so that none tears the group down while
    another still holds it. A failed run leaves at once: a barrier could wait for a process that
    died."""
    if not (placement.distributed and dist.is_initialized()):
        return
    if completed:
        import gc

        gc.collect()
        dist.barrier()
    dist.destroy_process_group()

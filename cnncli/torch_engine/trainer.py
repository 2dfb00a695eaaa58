"""The PyTorch engine's side of training (cnncli.training.loop runs the loop).

Same optimizers and rules as the Numba engine (torch.optim's SGD, Adam, AdamW with the spec's
arguments; the learning rate set from the shared schedule before every step), the same mean
cross-entropy (a final softmax is fused into it; label smoothing as nn.CrossEntropyLoss takes it),
gradient norm clipping with clip_grad_norm_, the same data order. Under torchrun the module is
wrapped in DistributedDataParallel, which averages gradients over the processes during backward,
so clipping sees the averaged gradient; each step's loss, accuracy and the Ctrl-C flag are summed
over the processes with one all-reduce.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from cnncli.data import Dataset, iterate_batches
from cnncli.graph import Graph
from cnncli.torch_engine.distributed import Placement
from cnncli.torch_engine.module import GraphModule
from cnncli.torch_engine.state import load_module_arrays, load_optimizer_arrays, module_arrays, optimizer_arrays
from cnncli.train_config import TrainConfig

_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def build_module(graph: Graph, initial: dict[str, np.ndarray], placement: Placement,
                 sync_bn: bool = False) -> GraphModule:
    """The training module with the engine's initial weights (so both engines start alike), on its device."""
    module = GraphModule(graph, logits=True)
    load_module_arrays(module, initial)
    if sync_bn and placement.distributed:
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return module.to(placement.device)


class TorchBackend:
    """Steps a GraphModule (wrapped in DDP when distributed) with a torch.optim optimizer."""

    engine = "torch"

    def __init__(self, graph: Graph, module: GraphModule, config: TrainConfig, placement: Placement) -> None:
        self.graph, self.module, self.placement = graph, module, placement
        self.rank, self.world = placement.rank, placement.world
        self.device = placement.device
        self.kind = config.optimizer
        self.model: nn.Module = module
        if placement.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(module, device_ids=ids)
        self.optimizer = _OPTIMIZERS[config.optimizer](module.parameters(), lr=config.lr, **config.optimizer_kwargs())
        self.loss = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.clip = config.clip_grad_norm
        torch.manual_seed(config.seed * 1000 + self.rank)  # dropout masks: reproducible, different per process

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(self.device, non_blocking=True)

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int, int]:
        self.model.train()
        inputs, labels = self._tensor(x), self._tensor(y)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.model(inputs)
        loss = self.loss(logits, labels)
        loss.backward()
        grads = [p.grad for p in self.module.parameters() if p.grad is not None]
        finite = torch.isfinite(loss)
        if grads:
            finite = finite & torch.stack([torch.isfinite(g).all() for g in grads]).all()
        correct = (logits.argmax(dim=1) == labels).sum()
        totals = torch.stack([loss.detach() * len(y), correct.to(loss.dtype),
                              torch.tensor(float(len(y)), device=self.device), (~finite).to(loss.dtype)])
        if self.placement.distributed:  # every process decides on the same sums: all step, or none
            dist.all_reduce(totals)
        loss_sum, correct_sum, count, bad = totals.tolist()
        if bad:
            return math.nan, 0, int(count)
        if self.clip:
            nn.utils.clip_grad_norm_(self.module.parameters(), self.clip)
        self.optimizer.step()
        return loss_sum, int(correct_sum), int(count)

    def agree(self, flag: bool) -> bool:
        if not self.placement.distributed:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(value)
        return bool(value.item())

    @torch.no_grad()
    def evaluate(self, data: Dataset, batch_size: int = 256) -> tuple[float, float, np.ndarray]:
        """(mean loss, accuracy, predicted classes) in evaluation mode, on this process alone."""
        self.module.eval()
        losses, predictions = 0.0, np.empty(len(data.y), np.int64)
        for start, (x, y) in zip(range(0, len(data.y), batch_size), iterate_batches(data, batch_size, False, None)):
            logits = self.module(self._tensor(x))
            losses += float(nn.functional.cross_entropy(logits, self._tensor(y), reduction="sum"))
            predictions[start:start + len(y)] = logits.argmax(dim=1).cpu().numpy()
        count = max(len(data.y), 1)
        return losses / count, float((predictions == data.y).mean()) if len(data.y) else 0.0, predictions

    def arrays(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        return module_arrays(self.module), optimizer_arrays(self.module, self.optimizer, self.kind)

    def load(self, network: dict[str, np.ndarray], optimizer: dict[str, np.ndarray]) -> None:
        load_module_arrays(self.module, network)
        load_optimizer_arrays(self.module, self.optimizer, self.kind, optimizer)

    def rng_state(self) -> Any:
        """torch's CPU generator state (dropout masks), as a list of bytes for the JSON header."""
        return {"torch_cpu": torch.get_rng_state().tolist(), "rank": self.rank}

    def set_rng_state(self, state: Any) -> None:
        if isinstance(state, dict) and "torch_cpu" in state and state.get("rank") == self.rank:
            torch.set_rng_state(torch.tensor(state["torch_cpu"], dtype=torch.uint8))

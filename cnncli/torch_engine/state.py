"""Moving weights and optimizer state between a GraphModule and cnncli's checkpoint layout.

Checkpoint tensors are keyed `<node>/<tensor>`; the module's state dict `<attribute>.<tensor>`
(plus batch norm's `num_batches_tracked`, which the Numba engine does not keep: it is not used
when a momentum is set). Optimizer state is stored as the Numba engine keeps it: one flat
float32 vector per slot (`exp_avg`, `exp_avg_sq`, `momentum_buffer`) over all parameters in
node order, and `step_count`; so a run continues in either engine.
"""
from __future__ import annotations

import numpy as np
import torch

from cnncli.torch_engine.module import GraphModule

_SLOTS = {"sgd": ("momentum_buffer",), "adam": ("exp_avg", "exp_avg_sq"), "adamw": ("exp_avg", "exp_avg_sq")}


def _keys(module: GraphModule) -> list[tuple[str, str]]:
    """(state-dict key, checkpoint key) for every parameter and running statistic."""
    pairs = []
    for node, attribute in module.names.items():
        if not hasattr(module, attribute):
            continue
        for tensor, _ in getattr(module, attribute).state_dict().items():
            if tensor != "num_batches_tracked":
                pairs.append((f"{attribute}.{tensor}", f"{node}/{tensor}"))
    return pairs


def module_arrays(module: GraphModule) -> dict[str, np.ndarray]:
    """The module's parameters and buffers keyed as checkpoints key them (float32 copies on the CPU)."""
    state = module.state_dict()
    return {ckpt: state[key].detach().cpu().numpy().astype(np.float32, copy=True) for key, ckpt in _keys(module)}


def load_module_arrays(module: GraphModule, arrays: dict[str, np.ndarray]) -> None:
    """Copy checkpoint tensors into the module (names and shapes already checked against the spec)."""
    state = module.state_dict()
    with torch.no_grad():
        for key, ckpt in _keys(module):
            state[key].copy_(torch.from_numpy(np.ascontiguousarray(arrays[ckpt])))


def torch_state_dict(module: GraphModule) -> dict[str, torch.Tensor]:
    """A plain state dict for `net.pt` (CPU tensors)."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def optimizer_arrays(module: GraphModule, optimizer: torch.optim.Optimizer, kind: str) -> dict[str, np.ndarray]:
    """The optimizer's state as flat vectors in parameter order (zeros where a slot is not yet set)."""
    params = list(module.parameters())
    out: dict[str, np.ndarray] = {}
    step = 0
    for slot in _SLOTS[kind]:
        if kind == "sgd" and not optimizer.param_groups[0]["momentum"]:
            continue
        parts = []
        for p in params:
            state = optimizer.state.get(p, {})
            value = state.get(slot)
            parts.append(np.zeros(p.numel(), np.float32) if value is None else
                         value.detach().cpu().numpy().reshape(-1).astype(np.float32))
            if "step" in state:
                step = int(state["step"])
        out[slot] = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    out["step_count"] = np.array(step if kind != "sgd" else _sgd_steps(optimizer, params), np.int64)
    return out


def _sgd_steps(optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter]) -> int:
    """SGD keeps no step count; 1 once a momentum buffer exists (the Numba engine's 'first step' flag)."""
    return int(any(optimizer.state.get(p, {}).get("momentum_buffer") is not None for p in params))


def load_optimizer_arrays(module: GraphModule, optimizer: torch.optim.Optimizer, kind: str,
                          arrays: dict[str, np.ndarray]) -> None:
    """Restore flat optimizer state (from either engine) into a torch optimizer."""
    step = int(arrays["step_count"])
    if step == 0:
        return
    offset = 0
    for p in module.parameters():
        n = p.numel()
        state = optimizer.state[p]
        for slot in _SLOTS[kind]:
            if slot in arrays:
                state[slot] = torch.from_numpy(arrays[slot][offset:offset + n].copy()).view_as(p).to(p.device)
        if kind != "sgd":
            state["step"] = torch.tensor(float(step))
        offset += n

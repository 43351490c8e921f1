"""Where a model's layers go, decided before it loads: one GPU, several, GPUs and the CPU, or the CPU.

Ollama's rules (llm/memory.go EstimateGPULayers, server/sched.go pickBestFitGPUs), with
llama.cpp's own assignment of layers to devices computed exactly rather than approximated:

- llama.cpp counts a model's repeating blocks plus its output head as layers
  (`block_count + 1`). With `n_gpu_layers = k` the *last* k blocks go to the GPUs, and the
  output head only when every block does. Over several GPUs the offloaded layers are cut
  into contiguous runs in proportion to `tensor_split`, in the order the runner sees the GPUs.
- A GPU holding layers also holds a compute buffer (bigger when some layers stay on the CPU:
  their weights are copied over for prompt batches) and CUDA's own context (Ollama's 457 MiB
  minimum); `OLLAMA_GPU_OVERHEAD` bytes stay free on each GPU.
- Preference: the whole model on one GPU (the one with the most free memory, `main_gpu`
  first when given) unless `OLLAMA_SCHED_SPREAD`; else over every GPU with room, split in
  proportion to free memory; else as many layers as fit on those GPUs, the rest on the CPU;
  else the CPU. `num_gpu` caps the layers (0: the CPU), as Ollama's estimate does.

Everything here is pure: devices are descriptions, so tests can build any machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from ..format import human_bytes_binary

MIB = 1 << 20
# Ollama's CudaMinimumMemory: the CUDA context and cuBLAS workspace on every GPU a runner uses.
CUDA_MINIMUM = 457 * MIB


@dataclass(frozen=True)
class Gpu:
    """A GPU as placement sees it; `free` is already net of budgets and of what our models hold."""

    index: int  # NVML's index: how reports name it (gpu0, gpu1, ...)
    id: str  # how CUDA_VISIBLE_DEVICES names it for the runner (a UUID, else the index)
    name: str
    total: int
    free: int

    @property
    def key(self) -> str:
        return f"gpu{self.index}"


@dataclass(frozen=True)
class LayerSizes:
    """A model's memory per llama.cpp layer, for one load configuration (built by `memory.layer_sizes`)."""

    blocks: tuple[int, ...]  # each repeating block: its weights plus its KV cache for every slot
    output: int  # the output head (token_embd when the two are tied: a GPU then gets a copy)
    graph_full: int  # compute buffer on a GPU when every layer is offloaded
    graph_partial: int  # compute buffer on a GPU when some layers stay on the CPU
    cpu_total: int  # the whole model on the CPU: weights, KV cache, compute buffer (and cpu_only)
    cpu_only: int = 0  # in system memory wherever the layers go: a draft model

    @property
    def count(self) -> int:
        """Layers as llama.cpp and Ollama count them: the blocks and the output head."""
        return len(self.blocks) + 1


@dataclass(frozen=True)
class GpuShare:
    index: int
    id: str
    layers: int
    size: int  # bytes on this GPU: its layers with their KV cache, the compute buffer, CUDA's context


@dataclass(frozen=True)
class Plan:
    """A placement: what the runner is told (n_gpu_layers, the GPUs, the split) and what it will hold where."""

    layers: int  # llama.cpp's n_gpu_layers; 0 is the CPU
    total_layers: int
    gpus: tuple[GpuShare, ...]  # in the order the runner sees them (CUDA_VISIBLE_DEVICES)
    ram: int  # bytes in system memory
    reason: str  # why here, in words
    main_gpu: int = 0  # a position in `gpus`

    @property
    def size_vram(self) -> int:
        return sum(g.size for g in self.gpus)

    @property
    def size(self) -> int:
        return self.size_vram + self.ram

    @property
    def tensor_split(self) -> tuple[float, ...]:
        """llama.cpp's tensor_split: layers per GPU (it normalizes them); empty for one GPU or none."""
        return tuple(float(g.layers) for g in self.gpus) if len(self.gpus) > 1 else ()

    @property
    def gpu_ids(self) -> tuple[str, ...]:
        return tuple(g.id for g in self.gpus)

    def on_gpu(self, index: int) -> int:
        """Bytes this plan puts on GPU `index` (NVML's numbering)."""
        return sum(g.size for g in self.gpus if g.index == index)


def layer_devices(total_layers: int, n_gpu_layers: int, counts: Sequence[int]) -> list[int | None]:
    """Which GPU (a position in `counts`) llama.cpp gives each layer, None for the CPU; the last layer is the head.

    llama.cpp (llama_model::load_tensors): offloading starts at block `n_block - n_gpu_layers`;
    a layer's GPU is the first whose cumulative share of the offloaded layers exceeds its offset.
    """
    n_block = total_layers - 1
    start = max(n_block - n_gpu_layers, 0)
    active = min(n_gpu_layers, total_layers)
    bounds = list(accumulate(counts))
    devices: list[int | None] = []
    for layer in range(total_layers):
        offset = layer - start
        if layer < start or offset >= active:
            devices.append(None)
        else:
            devices.append(next(j for j, bound in enumerate(bounds) if offset < bound))
    return devices


def gpu_sizes(sizes: LayerSizes, n_gpu_layers: int, counts: Sequence[int]) -> list[int]:
    """Bytes on each GPU when `n_gpu_layers` layers are cut into `counts` runs."""
    whole = n_gpu_layers >= sizes.count and len(counts) == 1  # Ollama: several GPUs always use the partial graph
    graph = sizes.graph_full if whole else sizes.graph_partial
    held = [0] * len(counts)
    for layer, device in enumerate(layer_devices(sizes.count, n_gpu_layers, counts)):
        if device is not None:
            held[device] += sizes.blocks[layer] if layer < len(sizes.blocks) else sizes.output
    return [h + graph + CUDA_MINIMUM if count else 0 for h, count in zip(held, counts, strict=True)]


def proportional(layers: int, weights: Sequence[int]) -> list[int]:
    """`layers` cut in proportion to `weights` (largest remainders), summing to `layers` exactly."""
    total = sum(weights)
    exact = [layers * w / total for w in weights]
    counts = [int(x) for x in exact]
    for j in sorted(range(len(weights)), key=lambda j: counts[j] - exact[j])[: layers - sum(counts)]:
        counts[j] += 1
    return counts


def ram_part(sizes: LayerSizes, n_gpu_layers: int) -> int:
    """What an offload leaves in system memory, as Ollama counts it: the layers not offloaded (and a draft model).

    On the CPU alone it is the whole estimate; once layers move, Ollama's total is the GPUs'
    share plus this overflow, so a full offload reads "100% GPU".
    """
    if n_gpu_layers <= 0:
        return sizes.cpu_total
    devices = layer_devices(sizes.count, n_gpu_layers, [n_gpu_layers])
    left = sum(size for size, device in zip(sizes.blocks, devices, strict=False) if device is None)
    return left + (sizes.output if devices[-1] is None else 0) + sizes.cpu_only


def fit(sizes: LayerSizes, gpus: Sequence[Gpu], layers: int, overhead: int = 0) -> tuple[GpuShare, ...] | None:
    """`layers` offloaded over `gpus`, split by their free memory; None when one of them would overflow."""
    room = [g.free - overhead for g in gpus]
    if len(gpus) == 1:
        counts = [layers]
    else:
        counts = proportional(layers, [max(r - CUDA_MINIMUM - sizes.graph_partial, 1) for r in room])
    used = gpu_sizes(sizes, layers, counts)
    if any(u > r for u, r in zip(used, room, strict=True)):
        return None
    return tuple(GpuShare(g.index, g.id, c, u) for g, c, u in zip(gpus, counts, used, strict=True) if c)


def place(
    sizes: LayerSizes,
    gpus: Sequence[Gpu],
    *,
    num_gpu: int = -1,
    main_gpu: int | None = None,
    spread: bool = False,
    overhead: int = 0,
    no_gpu: str = "no GPU",
) -> Plan:
    """The placement Ollama would choose; `no_gpu` says why the CPU when `gpus` is empty."""

    def cpu(reason: str) -> Plan:
        return Plan(0, sizes.count, (), sizes.cpu_total, reason)

    def plan(layers: int, shares: tuple[GpuShare, ...], reason: str) -> Plan:
        main = next((i for i, g in enumerate(shares) if g.index == main_gpu), 0)
        return Plan(layers, sizes.count, shares, ram_part(sizes, layers), reason, main)

    if num_gpu == 0:
        return cpu("num_gpu 0: on the CPU as asked")
    if not gpus:
        return cpu(no_gpu)
    want = sizes.count if num_gpu < 0 else min(num_gpu, sizes.count)
    what = "the whole model" if want == sizes.count else f"{want}/{sizes.count} layers (num_gpu {num_gpu})"
    if not spread or len(gpus) == 1:
        for gpu in sorted(gpus, key=lambda g: (g.index != main_gpu, -g.free, g.index)):
            shares = fit(sizes, [gpu], want, overhead)
            if shares:
                return plan(want, shares, f"{what} fits on {gpu.key}")
    # Ollama's gpusWithSpace: room for the compute buffer, CUDA's context and two layers.
    least = overhead + CUDA_MINIMUM + sizes.graph_partial + 2 * max(sizes.blocks, default=0)
    roomy = sorted((g for g in gpus if g.free >= least), key=lambda g: g.index)
    if len(roomy) > 1:
        shares = fit(sizes, roomy, want, overhead)
        if shares:
            why = " (OLLAMA_SCHED_SPREAD)" if spread else ""
            return plan(want, shares, f"{what} spread over {', '.join(g.key for g in roomy)}{why}")
    for layers in range(want - 1, 0, -1) if roomy else ():
        shares = fit(sizes, roomy, layers, overhead)
        if shares:
            keys = ", ".join(f"gpu{g.index}" for g in shares)
            return plan(layers, shares, f"{layers}/{sizes.count} layers fit on {keys}, the rest on the CPU")
    free = ", ".join(f"{g.key} {human_bytes_binary(max(0, g.free - overhead))}" for g in gpus)
    return cpu(f"not one layer fits on a GPU ({free} free)")

"""Placement as pure functions over made-up GPUs: one GPU, several, a partial offload, the CPU, and the knobs.

The model here has 10 blocks of 1 GiB (weights and KV) and a 1 GiB output head: 11 layers as
llama.cpp counts them. A GPU holding layers also holds a compute buffer (0.5 GiB when every
layer is offloaded, 1 GiB when not) and CUDA's context (457 MiB).
"""

from __future__ import annotations

import pytest

from jupyter_ollama.scheduler.placement import (
    CUDA_MINIMUM,
    Gpu,
    LayerSizes,
    fit,
    layer_devices,
    place,
    proportional,
)
from jupyter_ollama.views import processor

GIB = 1 << 30
MODEL = LayerSizes(blocks=(GIB,) * 10, output=GIB, graph_full=GIB // 2, graph_partial=GIB, cpu_total=12 * GIB)


def gpu(index: int, free_gib: float, total_gib: float = 80) -> Gpu:
    return Gpu(index, f"GPU-{index}", "NVIDIA H200", int(total_gib * GIB), int(free_gib * GIB))


def ps_entry(plan) -> dict[str, int]:
    return {"size": plan.size, "size_vram": plan.size_vram}


def test_llama_cpp_offloads_the_last_blocks_then_the_head_in_contiguous_runs():
    cpu = None
    assert layer_devices(11, 4, [4]) == [cpu] * 6 + [0] * 4 + [cpu]  # the head only goes with every block
    assert layer_devices(11, 10, [10]) == [0] * 10 + [cpu]
    assert layer_devices(11, 11, [6, 5]) == [0] * 6 + [1] * 5  # the last GPU gets the head
    assert layer_devices(11, 5, [2, 3]) == [cpu] * 5 + [0, 0, 1, 1, 1] + [cpu]
    assert layer_devices(11, 0, [0]) == [cpu] * 11


def test_a_split_in_proportion_sums_exactly():
    assert proportional(11, [1, 1]) == [6, 5]
    assert proportional(11, [2, 1]) == [7, 4]
    assert proportional(31, [5, 3, 2]) == [16, 9, 6]
    assert sum(proportional(97, [7, 11, 13])) == 97


def test_the_whole_model_goes_to_the_one_gpu_with_the_most_free_memory():
    plan = place(MODEL, [gpu(0, 20), gpu(1, 40)])
    assert [(g.index, g.layers) for g in plan.gpus] == [(1, 11)]
    assert plan.layers == 11 and plan.tensor_split == () and plan.gpu_ids == ("GPU-1",)
    assert plan.size_vram == 11 * GIB + GIB // 2 + CUDA_MINIMUM  # the full-offload compute buffer
    assert plan.ram == 0 and processor(ps_entry(plan)) == "100% GPU"
    assert plan.reason == "the whole model fits on gpu1"


def test_one_gpu_too_small_spreads_the_model_in_proportion_to_free_memory():
    equal = place(MODEL, [gpu(0, 8), gpu(1, 8)])
    assert equal.layers == 11 and equal.tensor_split == (6.0, 5.0) and equal.gpu_ids == ("GPU-0", "GPU-1")
    # gpu0: blocks 0-5; gpu1: blocks 6-9 and the head; each with the partial compute buffer and CUDA's context.
    assert [g.size for g in equal.gpus] == [6 * GIB + GIB + CUDA_MINIMUM, 5 * GIB + GIB + CUDA_MINIMUM]
    assert equal.reason == "the whole model spread over gpu0, gpu1" and processor(ps_entry(equal)) == "100% GPU"
    uneven = place(MODEL, [gpu(0, 11), gpu(1, 5.5)])
    assert uneven.tensor_split == (8.0, 3.0)


def test_what_does_not_fit_on_the_gpu_stays_on_the_cpu():
    plan = place(MODEL, [gpu(0, 6)])
    # n layers need n GiB + 1 GiB of compute buffer + 457 MiB: 4 fit in 6 GiB.
    assert plan.layers == 4 and plan.total_layers == 11 and [g.layers for g in plan.gpus] == [4]
    assert plan.ram == 6 * GIB + GIB  # six blocks and the head, as Ollama counts the overflow
    assert plan.reason == "4/11 layers fit on gpu0, the rest on the CPU"
    assert processor(ps_entry(plan)) == "56%/44% CPU/GPU"


def test_a_partial_offload_uses_every_gpu_with_room():
    plan = place(MODEL, [gpu(0, 5), gpu(1, 5), gpu(2, 2)])  # gpu2 cannot take its buffers and two layers
    assert plan.gpu_ids == ("GPU-0", "GPU-1") and plan.layers == 6 and plan.tensor_split == (3.0, 3.0)
    assert all(g.size <= 5 * GIB for g in plan.gpus)


def test_no_room_for_a_layer_means_the_cpu():
    plan = place(MODEL, [gpu(0, 1)])
    assert plan.layers == 0 and plan.gpus == () and plan.ram == MODEL.cpu_total
    assert plan.reason == "not one layer fits on a GPU (gpu0 1.0 GiB free)"
    assert processor(ps_entry(plan)) == "100% CPU"
    assert place(MODEL, [], no_gpu="llama.cpp was built for the CPU").reason == "llama.cpp was built for the CPU"


def test_gpu_overhead_is_left_free_on_each_gpu():
    assert place(MODEL, [gpu(0, 13)]).layers == 11
    squeezed = place(MODEL, [gpu(0, 13)], overhead=2 * GIB)
    assert squeezed.layers == 9 and squeezed.gpus[0].size <= 11 * GIB
    assert fit(MODEL, [gpu(0, 13)], 11, overhead=2 * GIB) is None


def test_num_gpu_caps_the_layers_and_zero_means_the_cpu():
    assert place(MODEL, [gpu(0, 80)], num_gpu=0).reason == "num_gpu 0: on the CPU as asked"
    three = place(MODEL, [gpu(0, 80)], num_gpu=3)
    assert three.layers == 3 and three.ram == 7 * GIB + GIB
    assert three.reason == "3/11 layers (num_gpu 3) fits on gpu0"
    assert place(MODEL, [gpu(0, 80)], num_gpu=999).layers == 11
    assert place(MODEL, [gpu(0, 6)], num_gpu=8).layers == 4  # never more than fit, as Ollama's estimate


def test_sched_spread_puts_even_a_small_model_on_every_gpu():
    assert place(MODEL, [gpu(0, 40), gpu(1, 40)]).gpu_ids == ("GPU-0",)
    spread = place(MODEL, [gpu(0, 40), gpu(1, 40)], spread=True)
    assert spread.gpu_ids == ("GPU-0", "GPU-1") and spread.tensor_split == (6.0, 5.0)
    assert spread.reason == "the whole model spread over gpu0, gpu1 (OLLAMA_SCHED_SPREAD)"


def test_main_gpu_is_tried_first_and_told_to_llama_cpp():
    plan = place(MODEL, [gpu(0, 60), gpu(1, 30)], main_gpu=1)
    assert plan.gpu_ids == ("GPU-1",) and plan.main_gpu == 0  # the runner sees only gpu1: position 0
    spread = place(MODEL, [gpu(0, 8), gpu(1, 8)], main_gpu=1)
    assert spread.main_gpu == 1
    # Too small for it: the usual order decides.
    assert place(MODEL, [gpu(0, 60), gpu(1, 3)], main_gpu=1).gpu_ids == ("GPU-0",)


@pytest.mark.parametrize(
    ("size", "vram", "shown"),
    [
        (100, 0, "100% CPU"),
        (100, 100, "100% GPU"),
        (100, 52, "48%/52% CPU/GPU"),
        (3, 1, "67%/33% CPU/GPU"),
    ],
)
def test_the_processor_column_as_ollama_prints_it(size, vram, shown):
    assert processor({"size": size, "size_vram": vram}) == shown

"""A device's peak FLOPs per second: what a run's achieved MFU is measured against."""
from __future__ import annotations

import time

import torch

from ftlib.planner.gpus import GPUS


def device_peak_flops(device) -> float | None:
    """A GPU's bf16 dense peak from its data sheet (None for a GPU not in the table); on CPU, fp32 matmul
    throughput measured here with the threads torch has (what an fp32 CPU trial can reach at best)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return next((g.bf16_tflops * 1e12 for key, g in sorted(GPUS.items(), key=lambda kv: -len(kv[0]))
                     if key.split("-")[0] in name), None)
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    a @ b
    start, n = time.perf_counter(), 20
    for _ in range(n):
        a @ b
    return 2 * 512**3 * n / (time.perf_counter() - start)

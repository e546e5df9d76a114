"""A trial's memory against one kind of GPU node: the verdict, and the text dry runs and refusals show."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from ftlib.planner.gpus import GPU

if TYPE_CHECKING:
    from ftlib.planner.memory import MemoryEstimate


@dataclass(frozen=True)
class Place:
    """A kind of node a trial may run on: its name (a node type, or "cluster"), GPU and GPUs per node."""
    name: str
    gpu: GPU
    gpus_per_node: int


@dataclass
class GpuFit:
    place: Place
    estimate: MemoryEstimate
    fixes: list[str]

    @property
    def fits(self) -> bool:
        return self.estimate.total_gib <= self.place.gpu.memory_gib


def placement_advice(fits: Sequence[GpuFit]) -> str | None:
    """Where a trial fits some GPU kinds but not others, how to keep it off the ones it does not fit."""
    good = sorted({f.place.gpu.name for f in fits if f.fits})
    bad = sorted({f.place.gpu.name for f in fits if not f.fits} - set(good))
    if not good or not bad:
        return None
    return (f"  trials could be placed on {', '.join(bad)}, where they do not fit: ask for a GPU type with "
            f'base.worker_resources: {{"accelerator_type:{good[-1]}": 0.001}}')


def describe_fit(fit: GpuFit) -> str:
    e, gpu = fit.estimate, fit.place.gpu
    parts = ", ".join(f"{k} {v:.1f}" for k, v in e.parts_gib.items())
    verdict = "fits" if fit.fits else "does NOT fit"
    kind = f"{gpu.name}, " if fit.place.name != gpu.name else ""
    line = (f"  {fit.place.name} ({kind}{gpu.memory_gib:g} GiB): {e.total_gib:.1f} GiB per GPU {verdict} "
            f"[{parts}; activation checkpointing {'on' if e.setup.checkpointing else 'off'}]")
    if e.cpu_gib:
        line += f"; host memory for offloaded states {e.cpu_gib:.0f} GiB per node"
    if not fit.fits:
        line += "\n    fix with: " + ("; or ".join(fit.fixes) if fit.fixes else
                                     "more GPUs per trial (num_workers) with deepspeed.stage 3")
    return line

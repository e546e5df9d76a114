"""GPU types a cluster can offer: memory and bf16 dense peak, and how to tell a node's GPU from what Ray or the
cluster YAML says of it (Ray's ``accelerator_type:<name>`` resource, the instance or machine type)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GPU:
    name: str  # Ray's accelerator type name
    memory_gib: float  # what the driver reports as total memory
    bf16_tflops: float  # dense (no sparsity), from the vendor's data sheet


GPUS = {g.name: g for g in (
    GPU("H200", 139.8, 989.0),
    GPU("H100", 79.6, 989.0),
    GPU("A100-80G", 79.3, 312.0),
    GPU("A100-40G", 39.6, 312.0),
    GPU("L40S", 45.0, 362.0),
    GPU("A10G", 22.5, 70.0),
    GPU("L4", 22.5, 121.0),
)}
# Ray names a 40 GB or 80 GB A100 "A100" on some drivers; the smaller one is the safe assumption.
ALIASES = {"A100": "A100-40G"}

# Instance / machine types of the cloud YAMLs' families, and GCP's accelerator names.
INSTANCE_GPUS = {"p5.": "H100", "p5e.": "H200", "p5en.": "H200", "p4d.": "A100-40G", "p4de.": "A100-80G",
                 "g6e.": "L40S", "g6.": "L4", "g5.": "A10G", "a3-ultragpu": "H200", "a3-": "H100", "a2-ultragpu": "A100-80G",
                 "a2-highgpu": "A100-40G", "g2-": "L4"}
GCP_ACCELERATORS = {"nvidia-h100-80gb": "H100", "nvidia-h100-mega-80gb": "H100", "nvidia-h200-141gb": "H200",
                    "nvidia-a100-80gb": "A100-80G", "nvidia-tesla-a100": "A100-40G", "nvidia-l4": "L4"}


def gpu_named(name: str) -> GPU | None:
    return GPUS.get(ALIASES.get(name, name))


def gpu_of_resources(resources: dict[str, float]) -> GPU | None:
    """From Ray's ``accelerator_type:H100`` resource (set on every GPU node Ray detects, or in a node type)."""
    for key in resources:
        if key.startswith("accelerator_type:"):
            return gpu_named(key.split(":", 1)[1])
    return None


def gpu_of_node_config(node_config: dict[str, Any]) -> GPU | None:
    """From an autoscaler node type's ``node_config`` (AWS InstanceType, GCP machineType / guestAccelerators)."""
    for acc in node_config.get("guestAccelerators") or []:
        if acc.get("acceleratorType") in GCP_ACCELERATORS:
            return GPUS[GCP_ACCELERATORS[acc["acceleratorType"]]]
    kind = str(node_config.get("InstanceType") or node_config.get("machineType") or "")
    for prefix, name in sorted(INSTANCE_GPUS.items(), key=lambda kv: -len(kv[0])):
        if kind.startswith(prefix):
            return GPUS[name]
    return None

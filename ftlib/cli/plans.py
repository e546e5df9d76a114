"""The planner's estimates as dry runs print them (``cocktail train`` and ``cocktail sweep run``)."""
from __future__ import annotations

from ftlib.planner.fits import describe_fit, placement_advice


def print_memory(memory, clusters: list[str]) -> None:
    """The planner's estimate per model and GPU kind."""
    if not memory:
        return
    where = f"on the node types of {', '.join(clusters)}" if clusters else \
        "on each GPU type (name the cluster with --cluster cluster/aws.yaml)"
    print(f"\nmemory per GPU, estimated from each model's config {where}:")
    for model, (source, fits, notes) in memory.items():
        print(f"{model} ({source}):")
        for fit in fits:
            print(describe_fit(fit))
        if clusters and placement_advice(fits):
            print(placement_advice(fits))
        for note in notes:
            print(f"  {note}")

"""Run as a script: a few training steps of the tiny model in one process (gloo, world size 1) under DDP or a
DeepSpeed ZeRO stage, with activation checkpointing on or off, through the trial's own model and engine setup;
prints the losses as JSON. A process of its own: the process group and DeepSpeed's state stay out of pytest."""
import json
import os
import sys
from ftlib.train.model_inputs import MODEL_KEYS

os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=sys.argv[4], RANK="0", LOCAL_RANK="0", WORLD_SIZE="1")


def main(model_dir: str, engine: str, checkpointing: bool, method: str) -> None:
    import numpy as np
    import torch
    import torch.distributed as dist

    from ftlib.core.configs import validate
    from ftlib.data.pack import pack
    from ftlib.run.config import RunConfig
    from ftlib.train.loop import build_model, zero3_config
    from ftlib.run.resolve import resolve

    dist.init_process_group("gloo")
    stage = None if engine == "ddp" else int(engine[-1])
    cfg = validate(RunConfig, {"model": {"name": model_dir}, "method": method, "micro_batch_size": 2,
                               "optim": {"lr": 1e-3}, "deepspeed": None if stage is None else {"stage": stage},
                               "mixture": {"sources": {"fpb": {"weight": 1}}, "budget": 8}}, "test")
    res = resolve(cfg, cuda=False)
    zero3 = zero3_config(res)  # noqa: F841  (as the trial's loop keeps it)
    model = build_model(cfg, res, None, checkpointing)
    base = model if method == "full" else model.base_model.model
    assert base.is_activation_checkpointing == checkpointing
    # ZeRO-3: the model's weights were partitioned as they loaded (zero.Init), not after (adapters come later).
    assert all(hasattr(p, "ds_id") for n, p in base.named_parameters() if "lora_" not in n) == (stage == 3)
    model.config.use_cache = False
    rng = np.random.default_rng(0)
    ids = [rng.integers(10, 2000, size=int(n)).tolist() for n in rng.integers(20, 120, size=24)]
    rows, _ = pack(ids, [5] * len(ids), 128, pad_id=0)
    batch = {k: torch.tensor(v[:2], dtype=torch.long) for k, v in rows.items() if k in MODEL_KEYS}
    if stage is None:
        model = torch.nn.parallel.DistributedDataParallel(model)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.optim.lr)
    else:
        import deepspeed

        model, optimizer, _, _ = deepspeed.initialize(
            model=model, model_parameters=[p for p in model.parameters() if p.requires_grad], config=res.deepspeed,
            optimizer=torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.optim.lr))
    losses = []
    model.train()
    for _ in range(3):
        loss = model(**batch).loss
        if stage is None:
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        else:
            model.backward(loss)
            model.step()
        losses.append(loss.item())
    print(json.dumps(losses))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] == "on", sys.argv[5])

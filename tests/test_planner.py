"""The memory planner: its per-layer counts against autograd, its estimate against memory measured on CPU, the
study's models by hand, and refusals before Ray starts."""
import os
import subprocess
import sys

import pytest
import torch

from ftlib.core.configs import validate
from ftlib.core.errors import ConfigError
from ftlib.planner.gpu_fit import Place, check_memory, plan_memory, planning_config, shape_of
from ftlib.planner.gpus import GPUS, gpu_of_node_config, gpu_of_resources
from ftlib.planner.memory import GIB, LAYER_BYTES, ModelShape, activation_bytes, estimate_memory as estimate, setup_of
from ftlib.run.config import RunConfig

MIX = {"sources": {"fpb": {"weight": 1}}, "budget": 8}
STUDY = dict(method="full", deepspeed={"stage": 2, "offload_optimizer": True}, precision="bf16", use_gpu=True,
             num_workers=8, micro_batch_size=8, data={"seq_len": 4096}, mixture=MIX)


def run(**kw):
    return validate(RunConfig, {"mixture": MIX, **kw}, "test")


def _config(arch, layers, h, inter, heads, kv):
    from transformers import LlamaConfig, Phi3Config

    cls = {"phi3": Phi3Config, "llama": LlamaConfig}[arch]
    return cls(vocab_size=512, hidden_size=h, intermediate_size=inter, num_hidden_layers=layers,
               num_attention_heads=heads, num_key_value_heads=kv, max_position_embeddings=1024,
               tie_word_embeddings=False, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def _saved_bytes_per_token(config, dtype, method, tokens=(2, 96)):
    """Bytes autograd keeps for the backward pass (each storage once, parameters excluded), per token."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    if method == "lora":
        from ftlib.models.load import apply_lora
        from ftlib.models.config import LoraConfig

        model = apply_lora(model, LoraConfig())
    model.train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept = {}

    def keep(t):
        kept[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    ids = torch.randint(3, 512, tokens)
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        model(input_ids=ids, labels=ids, use_cache=False)
    return sum(v for k, v in kept.items() if k not in params) / (tokens[0] * tokens[1])


@pytest.mark.parametrize("arch", ["phi3", "llama"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("method", ["full", "lora"])
def test_layer_counts_are_what_autograd_keeps(arch, dtype, method):
    """A shape the table was not counted on (GQA, another width): one decoder layer's bytes per token."""
    dims = dict(h=192, inter=640, heads=6, kv=2)
    per_layer = (_saved_bytes_per_token(_config(arch, 2, **dims), dtype, method)
                 - _saved_bytes_per_token(_config(arch, 1, **dims), dtype, method))
    p = 4 if dtype == torch.float32 else 2
    c_h, c_i, c_kv, c_0 = LAYER_BYTES[arch, p, method]
    expected = c_h * 192 + c_i * 640 + c_kv * 2 * 32 + 4 * 6 + c_0
    assert per_layer == pytest.approx(expected, rel=0.02)


def _measured_peak_bytes(model, batch, steps=2):
    """Peak of all tensors alive during a training step (after one step, so Adam's states exist), from torch's
    memory profiler on CPU."""
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import MemoryProfileTimeline

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step():
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
        step()
    _, sizes = MemoryProfileTimeline(prof._memory_profile())._coalesce_timeline(torch.device("cpu"))
    return max(map(sum, sizes))


@pytest.mark.parametrize("method", ["full", "lora"])
def test_estimate_within_30_percent_of_measured_memory_and_checkpointing_lowers_it(tmp_path, method):
    """A 4-layer tiny Phi-3, 4 rows of 512 tokens, fp32 on CPU: activations dominate, as they do on a GPU."""
    from transformers import AutoModelForCausalLM

    from ftlib.train.loop import build_model
    from ftlib.run.resolve import resolve

    config = _config("phi3", 4, 128, 512, 4, 4)
    config.vocab_size = 2048
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "m")
    cfg = run(model={"name": str(tmp_path / "m")}, method=method, micro_batch_size=4, data={"seq_len": 512})
    ids = torch.randint(3, 2048, (4, 512))
    batch = {"input_ids": ids, "labels": ids, "use_cache": False}
    peaks = {}
    for checkpointing in (False, True):
        model = build_model(cfg, resolve(cfg, cuda=False), None, checkpointing)
        model.train()
        measured = _measured_peak_bytes(model, batch)
        planned = estimate(shape_of(cfg, config), setup_of(cfg, "fp32", False, checkpointing)).total_gib * GIB
        assert planned == pytest.approx(measured, rel=0.30), (checkpointing, planned / 2**20, measured / 2**20)
        peaks[checkpointing] = measured
    assert peaks[True] < 0.6 * peaks[False]


def test_the_studys_models_against_hand_computed_numbers():
    """Parameters from the published dimensions; per-GPU bytes for the study's setup (ZeRO-2, optimizer on the
    CPU, bf16, 8 GPUs, 8 × 4,096 tokens, checkpointing on), worked out by hand below."""
    cfg = run(**STUDY, model={"name": "microsoft/Phi-3-mini-128k-instruct"})
    config, source = planning_config(cfg.model, dry=True)
    shape = shape_of(cfg, config)
    # Phi-3-mini: embeddings and lm_head 2 × 32,064 × 3,072; per layer qkv 3,072 × 9,216, o 3,072², gate_up
    # 3,072 × 16,384, down 8,192 × 3,072, two norms 2 × 3,072; 32 layers; final norm 3,072.
    assert shape.params == 2 * 32064 * 3072 + 32 * (3072 * 9216 + 3072**2 + 3072 * 16384 + 8192 * 3072
                                                     + 2 * 3072) + 3072 == 3_821_079_552
    e = estimate(shape, setup_of(cfg, "bf16", True, True, 8))
    # states: ZeRO-2 offload keeps the bf16 params on the GPU, 2 × 3,821,079,552 B = 7.117 GiB.
    assert e.parts_gib["model states"] == pytest.approx(2 * 3_821_079_552 / GIB)
    # activations: each layer's bf16 input, 32,768 tokens × 32 layers × 2 × 3,072 B = 6.0 GiB (one layer
    # recomputed, 157,832 B/token, is less than the logits' 476,544 B/token below).
    assert e.parts_gib["activations"] == pytest.approx(32768 * 32 * 2 * 3072 / GIB)
    # logits: 32,768 tokens × (4 × 32,064 kept + 9 × 3,072 + (8 + 2) × 32,064 gradients) B = 14.54 GiB.
    assert e.parts_gib["logits"] == pytest.approx(32768 * 476_544 / GIB) == pytest.approx(14.54, abs=0.01)
    assert e.total_gib == pytest.approx(7.117 + 6.0 + 14.54 + 2 * 5e8 * 2 / GIB + 1.0, abs=0.01)

    llama = run(**STUDY, model={"name": "meta-llama/Llama-3.1-8B-Instruct"})
    lshape = shape_of(llama, planning_config(llama.model, dry=True)[0])
    # 2 × 128,256 × 4,096 + 32 × (4,096² × 2 + 2 × 4,096 × 1,024 + 3 × 4,096 × 14,336 + 2 × 4,096) + 4,096
    assert lshape.params == 8_030_261_248 and lshape.largest_layer_params == 128256 * 4096
    zero3 = llama.model_copy(update={"deepspeed": llama.deepspeed.model_copy(update={"stage": 3,
                                                                                       "offload_optimizer": False})})
    e3 = estimate(lshape, setup_of(zero3, "bf16", True, True, 8))
    # DeepSpeed's ZeRO-3 estimate: 4 × largest layer + 18 × params / 8 GPUs.
    assert e3.parts_gib["model states"] == pytest.approx((4 * 128256 * 4096 + 18 * 8_030_261_248 / 8) / GIB)
    mistral = run(**STUDY, model={"name": "mistralai/Mistral-7B-Instruct-v0.3"})
    assert shape_of(mistral, planning_config(mistral.model, dry=True)[0]).params == 7_248_023_552
    assert source == "dimensions shipped with cocktail"


def test_a_trial_that_cannot_fit_is_refused_with_the_knobs_that_fix_it():
    cfg = run(**STUDY, model={"name": "meta-llama/Llama-3.1-8B-Instruct"})
    config, _ = planning_config(cfg.model, dry=True)
    h100 = Place("gpu_8x", GPUS["H100"], 8)
    with pytest.raises(ConfigError, match=r"(?s)Llama-3.1-8B.*does NOT fit.*fix with: deepspeed.stage: 3.*"
                                          r"micro_batch_size: 4 with grad_accum: 2"):
        check_memory(cfg, config, [h100])
    smaller = cfg.model_copy(update={"micro_batch_size": 4, "grad_accum": 2})
    assert all(f.fits for f in check_memory(smaller, config, [h100]))
    # LoRA (auto): checkpointing only where the GPU needs it.
    lora = cfg.model_copy(update={"method": "lora", "deepspeed": None, "micro_batch_size": 1})
    fits = {f.place.gpu.name: f for f in plan_memory(lora, config, [h100, Place("l4", GPUS["L4"], 1)])}
    assert not fits["H100"].estimate.setup.checkpointing and fits["L4"].estimate.setup.checkpointing


def test_gpu_types_from_ray_resources_and_cloud_node_configs():
    assert gpu_of_resources({"GPU": 8, "accelerator_type:H100": 1}).memory_gib == pytest.approx(79.6)
    assert gpu_of_resources({"accelerator_type:A100": 1}).name == "A100-40G"  # the smaller one, to be safe
    assert gpu_of_node_config({"InstanceType": "p4de.24xlarge"}).name == "A100-80G"
    assert gpu_of_node_config({"InstanceType": "g6e.2xlarge"}).name == "L40S"
    assert gpu_of_node_config({"machineType": "a3-ultragpu-8g"}).name == "H200"
    assert gpu_of_node_config({"guestAccelerators": [{"acceleratorType": "nvidia-l4"}]}).name == "L4"
    assert gpu_of_node_config({"InstanceType": "m6i.2xlarge"}) is None


def test_paper_preset_dry_run_fits_the_cloud_yamls(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sweeps.cli.main", "sweep", "run", "sweeps/paper_ablation.yaml",
                          "--dry-run", "--cluster", "cluster/aws.yaml", "--cluster", "cluster/gcp.yaml"],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    sections, current = {}, None
    for line in out.stdout.split("memory per GPU, estimated", 1)[1].split("\nstorage:")[0].splitlines()[1:]:
        if line and not line.startswith(" "):
            current = sections.setdefault(line.split(" ")[0], [])
        elif current is not None:
            current.append(line)
    assert len(sections) == 4
    for model, lines in sections.items():
        h100 = [line for line in lines if "gpu_8x_ondemand (H100, 79.6 GiB)" in line]
        assert len(h100) == 1 and "GiB per GPU fits" in h100[0], (model, lines)  # AWS's and GCP's 8 × H100, once
    assert "accelerator_type:H100" in out.stdout  # Llama does not fit the L40S: the way to keep it off


def test_refused_before_ray_starts(tmp_path, tiny_model):
    """A GPU trial whose activations cannot fit an L4, on a cluster whose autoscaler offers only L4 nodes."""
    import yaml

    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(yaml.safe_dump({"head_node_type": "head", "available_node_types": {
        "head": {"resources": {"CPU": 0}}, "gpu": {"resources": {"CPU": 8, "GPU": 1}, "max_workers": 4,
                                                   "node_config": {"machineType": "g2-standard-8"}}}}))
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(yaml.safe_dump({"model": {"name": tiny_model}, "method": "full", "use_gpu": True,
                                        "micro_batch_size": 512, "data": {"seq_len": 2048, "dir": str(tmp_path)},
                                        "mixture": MIX, "output_dir": str(tmp_path / "runs")}))
    env = {**os.environ, "COCKTAIL_AUTOSCALING_CONFIG": str(cluster), "RAY_TMPDIR": str(tmp_path / "ray")}
    out = subprocess.run([sys.executable, "-m", "sweeps.cli.main", "train", str(run_yaml)], capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode != 0 and "does NOT fit" in out.stderr and "fix with: micro_batch_size" in out.stderr
    assert not (tmp_path / "ray").exists() and "[ray]" not in out.stdout + out.stderr
    assert not (tmp_path / "runs").exists()


def test_bench_gpu_runs_its_code_on_cpu_and_says_so_without_a_gpu():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, "benchmarks/bench_gpu.py"], capture_output=True, text=True, timeout=120,
                         env=env)
    assert out.returncode == 0 and "no CUDA GPU on this machine; nothing measured" in out.stdout
    out = subprocess.run([sys.executable, "benchmarks/bench_gpu.py", "--cpu-smoke"], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0 and "failed" not in out.stdout, out.stdout + out.stderr[-2000:]
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line.startswith(("full ", "lora "))}
    assert set(rows) == {"full", "lora"}
    assert all(float(r[3].replace(",", "")) > 0 for r in rows.values())  # tokens/s


def test_sweep_disk_by_hand_and_refused_over_the_budget(capsys):
    """Phi-3-mini, full fine-tuning in bf16 with ZeRO-2: a copy of the weights is 2 B/param = 7.64 GB, a
    checkpoint's optimizer state 12 B/param (fp32 master + two moments) = 45.9 GB. 55 finished trials keep their
    final model and one checkpoint's weights: 55 × 2 × 7.64 GB; one running trial keeps one state."""
    from sweeps.cli.main import main
    from ftlib.planner.disk import sweep_disk

    cfg = run(**{**STUDY, "keep_checkpoints": 1}, model={"name": "microsoft/Phi-3-mini-128k-instruct"})
    shape = shape_of(cfg, planning_config(cfg.model, dry=True)[0])
    disk = sweep_disk(shape, cfg, "bf16", autocast=False, trials=55, concurrent=1)
    assert disk.weights_gb == pytest.approx(2 * 3_821_079_552 / 1e9)
    assert disk.state_gb == pytest.approx(12 * 3_821_079_552 / 1e9)
    assert disk.finished_gb == pytest.approx(55 * 2 * 7.642159, rel=1e-6) and disk.running_gb == disk.state_gb
    lora = sweep_disk(shape_of(cfg.model_copy(update={"method": "lora"}), planning_config(cfg.model, dry=True)[0]),
                      cfg.model_copy(update={"method": "lora"}), "bf16", autocast=False, trials=55, concurrent=1)
    assert lora.total_gb < disk.total_gb / 100  # adapters only
    args = ["sweep", "run", "sweeps/paper_ablation.yaml", "--dry-run", "--set", "resources.max_disk_gb=1000"]
    assert main(args) == 2  # the preset: the study's 220 runs and 140 compute-matched controls
    assert "resources.max_disk_gb 1000: the sweep would need about 9,633 GB" in capsys.readouterr().err
    assert main([*args, "--set", "search.grid.compute_matched=false"]) == 2  # the study's 220 alone
    assert "resources.max_disk_gb 1000: the sweep would need about 5,924 GB" in capsys.readouterr().err


def test_compute_plan_by_hand_refusal_and_report_calibration():
    """Tokens, steps, FLOPs and GPU-hours of one trial by hand; ASHA's least share; a sweep over
    max_gpu_hours refused; the report's calibration ratio from stored runs."""
    import json
    from types import SimpleNamespace

    from ftlib.planner.cost import asha_fraction, trial_cost
    from sweeps.preflight.compute import check_gpu_hours
    from sweeps.report.sections.compute_calibration import compute_calibration

    cfg = run(**{**STUDY, "micro_batch_size": 4, "grad_accum": 2}, model={"name": "microsoft/Phi-3-mini-128k-instruct"})
    shape = shape_of(cfg, planning_config(cfg.model, dry=True)[0])
    # 100M tokens at a global batch of 64 rows × 4,096 tokens × 0.99 fill: ceil(1e8 / 259,522.56) = 386 steps;
    # 6 × 3,821,079,552 × 1e8 = 2.2926e18 FLOPs; at 35 % of 989 TFLOP/s: 2.2926e18 / 3.4615e14 / 3600 = 1.840 h.
    cost = trial_cost(shape, cfg, 64, 100_000_000, 989e12, 0.35)
    assert cost.steps == 386 and cost.flops == pytest.approx(6 * 3_821_079_552 * 1e8)
    assert cost.gpu_hours == pytest.approx(6 * 3_821_079_552 * 1e8 / (0.35 * 989e12) / 3600) == \
        pytest.approx(1.840, abs=1e-3)
    assert cost.hours_on(8) == pytest.approx(cost.gpu_hours / 8)
    lora = trial_cost(shape, cfg.model_copy(update={"method": "lora"}), 64, 100_000_000, 989e12, 0.35)
    assert lora.flops == pytest.approx(cost.flops * 4 / 6)
    # ASHA, grace 1, η 2, 8 reports: rungs 1, 2, 4; half stop at each: (½·1 + ¼·2 + ⅛·4 + ⅛·8) / 8 = 0.3125.
    assert asha_fraction(1, 2, 8) == pytest.approx(0.3125)
    sweep = SimpleNamespace(resources=SimpleNamespace(max_gpu_hours=1.0))
    with pytest.raises(ConfigError, match=r"max_gpu_hours 1: the sweep's estimate is 1.8 GPU-hours \(100,000,000 "
                                          r"tokens, 386 optimizer steps.*on H100 at an assumed MFU of 35%"):
        check_gpu_hours(sweep, {"total": {"gpu_hours": cost.gpu_hours, "tokens": cost.tokens, "steps": cost.steps,
                                          "flops": cost.flops}, "gpu": "H100", "mfu": 0.35,
                                "asha_least_fraction": None})
    # Two runs: 1e12 FLOPs each on a 1e11 FLOP/s device; planned at 50 %: 20 s; they trained 40 s and 20 s.
    history = [json.dumps([{"tokens": 1000, "tokens_per_s": 50.0}, {"tokens": 2000, "tokens_per_s": 50.0}]),
               json.dumps([{"tokens": 1000, "tokens_per_s": 100.0}, {"tokens": 2000, "tokens_per_s": 100.0}])]
    rows = [{"trial_id": f"r{i}", "state": "completed", "flops": 1e12, "peak_flops": 1e11, "history": h,
             "wall_s": 60.0} for i, h in enumerate(history)]
    study = SimpleNamespace(sweep=SimpleNamespace(resources=SimpleNamespace(assumed_mfu=0.5)),
                            completed=lambda: rows)
    section = compute_calibration(study)
    assert [r[4] for r in section.tables[0].rows] == ["2.00", "1.00"]
    assert "training took 1.50× the planned time" in section.findings[0] and "achieved MFU of 33.3%" in \
        section.findings[0]

"""Run config checks that must fail before any worker starts (no Ray needed)."""
import pytest
import torch

from sweeps.cli.main import main
from ftlib.core.configs import validate
from ftlib.core.errors import ConfigError
from ftlib.models.inspect import check_lora_targets, load_model_config as load_config
from ftlib.models.config import ModelConfig
from ftlib.run.config import RunConfig
from ftlib.core.configs import apply_overrides
from ftlib.run.resolve import resolve

MIX = {"sources": {"fpb": {"weight": 1}}, "budget": 100}


def run_config(**kw):
    return validate(RunConfig, {"mixture": MIX, **kw}, "run.yaml")


def test_batch_arithmetic_agrees_and_feeds_deepspeed():
    res = resolve(run_config(micro_batch_size=4, num_workers=2, global_batch_size=32, deepspeed={"stage": 2}), False)
    assert res.grad_accum == 4 and res.global_batch_size == 32
    ds = res.deepspeed
    assert ds["train_batch_size"] == ds["train_micro_batch_size_per_gpu"] * ds["gradient_accumulation_steps"] * 2
    assert ds["zero_optimization"]["stage"] == 2 and res.device == "cpu" and res.precision == "fp32"


def test_batch_that_does_not_divide_is_refused():
    with pytest.raises(ConfigError, match=r"global_batch_size 30 is not divisible by micro_batch_size 4 × num_workers 2"):
        resolve(run_config(micro_batch_size=4, num_workers=2, global_batch_size=30), False)
    with pytest.raises(ConfigError, match="grad_accum 3 disagrees"):
        resolve(run_config(micro_batch_size=4, num_workers=2, global_batch_size=32, grad_accum=3), False)


def test_fp16_on_cpu_is_refused_with_the_way_out():
    with pytest.raises(ConfigError, match="fp16 is not supported on CPU.*use fp32"):
        resolve(run_config(precision="fp16", deepspeed={"stage": 2}), False)
    assert resolve(run_config(precision="auto"), True).precision == "bf16"


def test_study_preset_offloads_the_optimizer_to_cpu():
    ds = resolve(run_config(deepspeed={"stage": 2, "offload_optimizer": True}, precision="bf16"), True).deepspeed
    assert ds["zero_optimization"]["offload_optimizer"]["device"] == "cpu" and ds["bf16"]["enabled"]
    assert ds["optimizer"]["type"] == "AdamW"


def test_offload_params_needs_zero3():
    with pytest.raises(ConfigError, match="offload_params needs stage 3"):
        run_config(deepspeed={"stage": 2, "offload_params": True})
    ds = resolve(run_config(deepspeed={"stage": 3, "offload_params": True}), False).deepspeed
    assert ds["zero_optimization"]["offload_param"]["device"] == "cpu"


def test_unknown_keys_and_model_paths(tmp_path):
    with pytest.raises(ConfigError, match="optim.learning_rate: unknown key"):
        run_config(optim={"learning_rate": 1})
    with pytest.raises(ConfigError, match=r"model.name '.*nowhere'.*cannot load its config"):
        load_config(ModelConfig(name=str(tmp_path / "nowhere")))


def test_lora_targets_that_match_nothing_list_the_modules(tiny_model):
    cfg = load_config(ModelConfig(name=tiny_model))
    assert check_lora_targets(cfg, run_config().lora) == ["qkv_proj", "o_proj"]
    bad = run_config(lora={"target_modules": ["q_proj", "o_proj"]}).lora
    with pytest.raises(ConfigError, match=r"\['q_proj'\] match no module of phi3; its Linear modules are .*qkv_proj"):
        check_lora_targets(cfg, bad)


def test_overrides_and_config_hash():
    data = apply_overrides({"mixture": MIX}, ["optim.lr=0.01", "method=full", "lora.target_modules=[a, b]"])
    cfg = validate(RunConfig, data, "x")
    assert cfg.optim.lr == 0.01 and cfg.method == "full" and cfg.lora.target_modules == ["a", "b"]
    assert cfg.config_hash() == validate(RunConfig, data, "x").config_hash()
    assert cfg.config_hash() != cfg.model_copy(update={"seed": 1}).config_hash()
    assert cfg.config_hash() == cfg.model_copy(update={"output_dir": "/elsewhere"}).config_hash()
    with pytest.raises(ConfigError, match="expected KEY.PATH=VALUE"):
        apply_overrides({}, ["novalue"])


def test_train_cli_errors_before_any_worker(tmp_path, capsys, tiny_model):
    run = tmp_path / "run.yaml"
    run.write_text(f"model: {{name: {tiny_model}}}\nmixture: {{sources: {{fpb: {{weight: 1}}}}, budget: 10}}\n"
                   f"micro_batch_size: 3\nnum_workers: 2\nglobal_batch_size: 10\ndata: {{dir: {tmp_path}/d}}\n")
    assert main(["train", str(run)]) == 2
    assert "not divisible" in capsys.readouterr().err
    assert main(["train", str(run), "--set", "global_batch_size=12", "--set", "lora.target_modules=[nope]"]) == 2
    assert "match no module" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2


def test_adapter_saves_and_reloads_to_identical_logits(tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from ftlib.models.load import apply_lora

    torch.manual_seed(0)
    model = apply_lora(AutoModelForCausalLM.from_pretrained(tiny_model), run_config().lora)
    with torch.no_grad():  # move the adapter away from its zero init so the test can fail
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    model.eval()
    ids = torch.randint(10, 2000, (2, 12))
    before = model(ids).logits
    model.save_pretrained(tmp_path / "adapter")
    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), tmp_path / "adapter").eval()
    assert torch.equal(before, reloaded(ids).logits)
    assert not torch.allclose(before, AutoModelForCausalLM.from_pretrained(tiny_model)(ids).logits)


def test_a_tokenizer_that_ships_its_code_loads_only_when_the_config_trusts_it(tiny_model, tmp_path, prepared):
    """Phi-3-small's tokenizer is code in its repo: model.trust_remote_code reaches every tokenizer load."""
    import json
    import shutil

    from ftlib.data.pipeline import cached_tokenizer, pack_plan
    from ftlib.data.plan import make_plan
    from ftlib.data.spec import MixtureSpec

    remote = tmp_path / "remote-tok"
    shutil.copytree(tiny_model, remote)
    (remote / "my_tok.py").write_text("from transformers import PreTrainedTokenizerFast\n\n\n"
                                      "class MyTokFast(PreTrainedTokenizerFast):\n    pass\n")
    config = json.loads((remote / "tokenizer_config.json").read_text())
    config["auto_map"] = {"AutoTokenizer": [None, "my_tok.MyTokFast"]}
    config.pop("tokenizer_class", None)
    (remote / "tokenizer_config.json").write_text(json.dumps(config))
    # Untrusted, transformers ignores the shipped class (a repo without a tokenizer.json then fails to load).
    assert type(cached_tokenizer(str(remote))).__name__ != "MyTokFast"
    assert type(cached_tokenizer(str(remote), True)).__name__ == "MyTokFast"
    plan = make_plan(MixtureSpec.from_weights({"fpb": 1.0}, 16, seed=0), prepared)
    cached_tokenizer.cache_clear()
    rows = pack_plan(plan, prepared, str(remote), 128, trust_remote_code=True)
    assert rows["input_ids"].shape[1] == 128
    hits = cached_tokenizer.cache_info().hits
    cached_tokenizer(str(remote), True)  # the packer loaded the trusted tokenizer: this one is a cache hit
    assert cached_tokenizer.cache_info().hits == hits + 1 and cached_tokenizer.cache_info().currsize == 1


def test_bf16_full_fine_tuning_without_deepspeed_keeps_fp32_master_weights(tiny_model):
    """At a small lr a bf16 weight cannot take the update (below 1/256 of it); fp32 weights under bf16 autocast do."""
    from ftlib.train.loop import build_model

    cfg = run_config(model={"name": tiny_model}, method="full", precision="bf16")
    assert resolve(cfg, True).autocast and resolve(cfg, True).weights_dtype == torch.float32
    assert not resolve(cfg.model_copy(update={"deepspeed": validate(RunConfig, {"mixture": MIX, "deepspeed": {}},
                                                                    "t").deepspeed}), True).autocast
    with pytest.raises(ConfigError, match="fp16 needs DeepSpeed"):
        resolve(run_config(precision="fp16"), True)
    res = resolve(cfg, False)  # bf16 runs on CPU too (slowly): the same code path
    ids = torch.randint(3, 2000, (2, 64))

    def changed_after_one_step(model, autocast):
        before = [p.detach().clone() for p in model.parameters()]
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
        with autocast:
            loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        loss.backward()
        optimizer.step()
        moved = sum(int((p.detach() != b).sum()) for p, b in zip(model.parameters(), before))
        return moved / sum(b.numel() for b in before)

    master = build_model(cfg, res, None)
    assert next(master.parameters()).dtype == torch.float32
    plain = build_model(cfg, res.__class__(**{**res.__dict__, "autocast": False}), None)
    assert next(plain.parameters()).dtype == torch.bfloat16
    assert changed_after_one_step(master, res.autocast_context("cpu")) > 0.9
    assert changed_after_one_step(plain, torch.autocast("cpu", enabled=False)) < 0.5

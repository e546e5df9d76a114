"""``cocktail eval`` as one library call: which model (a directory, a hub id, or the model a run YAML trained),
which data (prepared first where missing, before any model loads), which backend, and where the results go."""
from __future__ import annotations

from dataclasses import dataclass

from evaluation.backends import LocalBackend, RayBackend
from evaluation.harness import TaskResult
from evaluation.inference import load_for_eval
from evaluation.ledger import LEDGER, TestLedger
from evaluation.outputs import run_eval
from ftlib.core import storage
from ftlib.core.errors import ConfigError
from ftlib.core.hashing import canonical_hash, model_hash
from ftlib.core.ownership import check_output_dir, claim_dir
from ftlib.models.locate import anchor_model, model_exists
from ftlib.placement.session import ensure_ray
from ftlib.run.anchor import load_run_config
from ftlib.run.files import MODEL_DIR, TRIAL_FILE
from ftlib.tasks.catalog import resolve_tasks
from ftlib.tasks.prepare import ensure_prepared

EVAL_DIR, EVAL_KIND = "outputs/eval", "evaluation"
# One ledger for every `cocktail eval` from this directory, wherever --out points: a test split is scored once per
# model (its hash), and writing the scores elsewhere does not make a second look a first.
EVAL_LEDGER = f"{EVAL_DIR}/{LEDGER}"


@dataclass
class EvalRequest:
    """What ``cocktail eval`` was asked, flag by flag."""
    model: str | None
    run: str | None
    overrides: list[str]
    adapter: str | None
    tasks: str
    split: str
    retest: bool
    limit: int | None
    mode: str
    style: str
    data: str
    source: str
    seed: int
    out: str | None
    batch_size: int
    trust_remote_code: bool
    force: bool
    ray: bool
    actors: int
    gpus_per_actor: float
    address: str | None


@dataclass
class EvalOutcome:
    results: list[TaskResult]
    digest: str  # the model hash: what was scored
    description: str  # base, base+adapter
    out: str


def trained_model(run_yaml: str, overrides: list[str]) -> tuple[str, str, str, bool]:
    """The model dir, data dir and prompt style of a run trained with ``cocktail train`` (found by its config hash)."""
    cfg = load_run_config(run_yaml, overrides)
    run_dir = storage.join(cfg.output_dir, cfg.run_id())
    if storage.read_bytes(storage.join(run_dir, TRIAL_FILE)) is None:
        raise ConfigError(f"{run_yaml}: not trained yet ({run_dir} has no {TRIAL_FILE}); run `cocktail train "
                          f"{run_yaml}` with the same --set overrides first")
    return storage.join(run_dir, MODEL_DIR), cfg.data.dir, cfg.data.style, cfg.model.trust_remote_code


def evaluate_model(r: EvalRequest) -> EvalOutcome:
    tasks = [s.name for s in resolve_tasks(r.tasks)]
    model, data, style, trust = r.model, r.data, r.style, r.trust_remote_code
    if r.run:
        model, data, style, run_trust = trained_model(r.run, r.overrides)
        trust = trust or run_trust
    for problem in filter(None, (model_exists(model), r.adapter and model_exists(r.adapter))):
        raise ConfigError(problem.replace("model.name", "--model" if model in problem else "--adapter", 1))
    data = storage.absolute(data)
    model, adapter = anchor_model(model), r.adapter and anchor_model(r.adapter)
    digest = model_hash(model, adapter)
    settings = {"tasks": tasks, "split": r.split, "limit": r.limit, "mode": r.mode, "style": style, "data": data}
    # The default directory is this model's and these settings': what it holds is what this call writes again.
    out = r.out or f"{EVAL_DIR}/{digest}-{canonical_hash(settings)}"
    ledger = TestLedger(storage.absolute(EVAL_LEDGER)) if r.split == "test" else None
    if ledger is not None:
        ledger.refuse_repeats(digest, tasks, r.retest)
    check_output_dir(out, EVAL_KIND, "--out", force=r.force or r.out is None)
    ensure_prepared(data, tasks, r.source, r.seed)  # before loading any model
    lm = load_for_eval(model, adapter, device="cpu" if r.ray else None, trust_remote_code=trust)
    if r.ray:
        ensure_ray(r.address)
        backend = RayBackend(model, adapter, tokenizer=lm.tokenizer, actors=r.actors, num_gpus=r.gpus_per_actor,
                             batch_size=r.batch_size, trust_remote_code=trust)
    else:
        backend = LocalBackend(lm, r.batch_size)
    claim_dir(out, EVAL_KIND, "--out", force=True)
    results = run_eval(backend, tasks, data_dir=data, out=out, split=r.split, limit=r.limit, mode=r.mode,
                       style=style, digest=digest, ledger=ledger and ledger.location, retest=r.retest)
    return EvalOutcome(results, digest, lm.description, out)

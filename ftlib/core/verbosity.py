"""How much a command shows: without ``-v`` only cocktail's own lines; with it, Ray's workers and the libraries'
progress bars too. Set once by the CLI, read through the environment (Ray's workers inherit it)."""
from __future__ import annotations

import logging
import os
import sys
import warnings

VERBOSE_ENV = "COCKTAIL_VERBOSE"  # set by `cocktail -v`
# Libraries read their progress-bar switch from the environment when they are imported: one already imported
# (by an earlier command in the same process, as in tests or a notebook) is switched off through its own call.
_PROGRESS_BAR_OFF = (("transformers.utils.logging", "disable_progress_bar"),
                     ("huggingface_hub.utils", "disable_progress_bars"),
                     ("datasets.utils.logging", "disable_progress_bar"))


def _not_deepspeed_cpu_notice(record: logging.LogRecord) -> bool:
    # DeepSpeed warns on stdout, whenever transformers imports it, that it found no GPU: expected on CPU, noise there.
    return not record.getMessage().startswith("Setting accelerator to CPU")


def set_verbosity(verbose: bool) -> None:
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
        return
    # progress bars of model loading and saving and of data (here and in Ray's workers, which inherit the environment)
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # trackers' own lines: MLflow's store set-up and run links, W&B's banners (their logs keep them)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # its "View run … at:" per run
    os.environ.setdefault("WANDB_SILENT", "true")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for module, switch_off in _PROGRESS_BAR_OFF:
        if module in sys.modules:
            getattr(sys.modules[module], switch_off)()
    # Ray's "Unhandled error" dump of a failed task nobody awaited (~25 lines): the command's own error line
    # says what failed (a full disk, a lost node); -v shows the dump.
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    # Libraries' deprecation notices speak to the code that calls them (ours: the tests show them), not to the user.
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", module=r"optuna\.")  # e.g. a parameter importance from few trials
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning,ignore::DeprecationWarning")  # Ray's workers
    deepspeed_logger = logging.getLogger("DeepSpeed")  # the logger DeepSpeed sets up when imported: filters stay
    if _not_deepspeed_cpu_notice not in deepspeed_logger.filters:
        deepspeed_logger.addFilter(_not_deepspeed_cpu_notice)


def is_verbose() -> bool:
    return bool(os.environ.get(VERBOSE_ENV))

"""How much a command shows: without ``-v`` only cocktail's own lines; with it, Ray's workers and the libraries'
progress bars too. Set once by the CLI, read through the environment (Ray's workers inherit it)."""
from __future__ import annotations

import os

VERBOSE_ENV = "COCKTAIL_VERBOSE"  # set by `cocktail -v`


def set_verbosity(verbose: bool) -> None:
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    else:  # progress bars of model loading and data (here and in Ray's workers, which inherit the environment)
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        # Ray's "Unhandled error" dump of a failed task nobody awaited (~25 lines): the command's own error line
        # says what failed (a full disk, a lost node); -v shows the dump.
        os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")


def is_verbose() -> bool:
    return bool(os.environ.get(VERBOSE_ENV))

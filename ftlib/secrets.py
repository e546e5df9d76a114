"""Secrets (hub tokens, cloud keys, the Ray auth token) come from the environment and never reach a log, a
config dump, a job's metadata or a result. Workers get them the way their process does: a local Ray inherits
the driver's environment; cluster nodes have their own identity (instance profile, service account)."""
from __future__ import annotations

SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "AWS_SECURITY_TOKEN", "RAY_AUTH_TOKEN")


def keep_secrets_out_of_tune() -> None:
    """Tune copies AWS keys from the driver's environment into every trial actor's runtime env, which Ray's
    runtime-env agent writes to its log in plain text (runtime_env_agent.log, mode 0644). Nothing needs the
    copy (see the module doc), so the secret names are taken off Tune's list."""
    from ray.tune.execution import class_cache

    class_cache.ENV_VARS_TO_PROPAGATE = set(class_cache.ENV_VARS_TO_PROPAGATE) - set(SECRET_ENV)

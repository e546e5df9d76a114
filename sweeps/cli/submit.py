"""``cocktail submit SWEEP.yaml --address URL``: run a sweep as a Ray job on a cluster."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("submit", help="submit a sweep to a Ray cluster as a job (Ray Job Submission API)")
    p.add_argument("config", help="sweep YAML inside the working dir, e.g. sweeps/smoke.yaml")
    p.add_argument("--address", required=True, help="job server, e.g. http://localhost:8265 (via `ray dashboard`)")
    p.add_argument("--runtime-env", default="cluster/runtime_env.yaml")
    p.add_argument("--wait", action="store_true", help="follow the logs until the job ends; exit 1 unless SUCCEEDED")
    p.add_argument("--dry-run", action="store_true",
                   help="check the sweep, the upload and the environment and print the job; submit nothing")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to `cocktail sweep run --set` on the cluster, repeatable")
    p.set_defaults(handler=_submit)


def _submit(args: argparse.Namespace) -> int:
    from sweeps import jobs  # deferred: ray.job_submission, and the sweep loader's torch, transformers, 3.7 s

    if args.dry_run:
        job = jobs.build_job(args.config, args.runtime_env, args.overrides)
        env = job["runtime_env"]
        print(f"job {job['submission_id']} (not submitted)\n  entrypoint:  {job['entrypoint']}\n  working dir: "
              f"{env['working_dir']} ({job['upload_bytes'] / 2**20:.1f} MiB to upload)\n  env vars:    "
              f"{', '.join(env['env_vars']) or '-'} (values from this shell)")
        return 0
    job_id = jobs.submit(args.config, args.address, args.runtime_env, args.overrides)
    print(f"submitted job {job_id}")
    print(f"  follow logs:  ray job logs --follow {job_id} --address {args.address}")
    print(f"  status:       ray job status {job_id} --address {args.address}")
    print(f"  stop:         ray job stop {job_id} --address {args.address}")
    print(f"  dashboard:    {args.address}  (Jobs and Train/Tune views)")
    if not args.wait:
        return 0
    status = jobs.follow_job(args.address, job_id, lambda lines: print(lines, end=""))
    print(f"\njob {job_id}: {status}")
    return 0 if status in ("SUCCEEDED", "JobStatus.SUCCEEDED") else 1

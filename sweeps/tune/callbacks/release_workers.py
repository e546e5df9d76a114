"""Releasing the Train workers of trials that ended, by our own code.

When Tune stops a trial (ASHA, Ctrl-C) it kills the trial's process; the trial's Train controller dies with it,
but the placement group the controller made for its workers stays: the GCS keeps a group until both its
creator actor and its creator's job are dead, and the job (this driver) lives on. Ray Train's own
PlacementGroupCleaner removes such groups only while it can reach the state API; with a second Ray on the
host, or a cluster without the dashboard, it cannot, and the next trials wait for resources forever
(ray-project/ray#54305). Here the driver reads the GCS's placement-group table itself (no state API, no
dashboard) and removes every group of this job whose creator actor is dead: exactly what the GCS would
remove once the job ends.
"""
from __future__ import annotations

import time

import ray
from ray._private.state import state
from ray._raylet import PlacementGroupID
from ray.core.generated import gcs_pb2
from ray.tune import Callback
from ray.util.placement_group import PlacementGroup, remove_placement_group


def orphaned_placement_groups() -> list[str]:
    """Hex ids of this job's live placement groups whose creator actor has died. Groups a driver creates
    (Tune's own, one per trial) have no creator actor and are never included."""
    job = ray.get_runtime_context().get_job_id()
    removed = gcs_pb2.PlacementGroupTableData.REMOVED
    driver = ray.ActorID.nil().binary()  # the creator "actor" of a group the driver made
    orphans = []
    for raw in state._connect_and_get_accessor().get_placement_group_table():
        pg = gcs_pb2.PlacementGroupTableData.FromString(raw)
        if (pg.state != removed and not pg.is_detached and pg.creator_actor_id != driver and pg.creator_actor_dead
                and pg.creator_job_id.hex() == job):
            orphans.append(pg.placement_group_id.hex())
    return orphans


def release_orphans() -> int:
    """Removes the orphaned placement groups of this job; returns how many."""
    count = 0
    for hex_id in orphaned_placement_groups():
        remove_placement_group(PlacementGroup(PlacementGroupID.from_hex(hex_id)))
        count += 1
    return count


class ReleaseEndedTrials(Callback):
    """Runs ``release_orphans`` when a trial ends for any reason, and every ``interval_s`` while the sweep runs
    (a stopped trial's controller dies a moment after Tune hears the trial has ended)."""

    def __init__(self, interval_s: float = 2.0):
        self.interval_s = interval_s
        self.released = 0
        self._last = 0.0

    def _release(self) -> None:
        self._last = time.monotonic()
        self.released += release_orphans()

    def on_step_begin(self, iteration, trials, **info):
        if time.monotonic() - self._last >= self.interval_s:
            self._release()

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._release()

    def on_trial_error(self, iteration, trials, trial, **info):
        self._release()

    def on_experiment_end(self, trials, **info):
        self._release()

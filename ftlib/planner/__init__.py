"""Planning before any resource is claimed: what a trial needs (memory per GPU) and where it fits."""

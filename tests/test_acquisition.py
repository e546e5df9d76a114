"""Acquisitions and the first-round design (issue 26): each acquisition, fitted on 40 noisy points of a known
quadratic, proposes a batch whose best mixture lies nearer the optimum than random mixtures do, by a stated
margin; batches are diverse; the design covers the simplex's faces and its interior."""
import numpy as np
import pytest

from ftlib.core.errors import ConfigError
from sweeps.propose.acquisition import ACQUISITIONS, MIN_DISTANCE, expected_improvement, propose_batch
from sweeps.propose.design import face_counts, face_design
from sweeps.propose.surrogate import Constraints, Data, fit_surrogates

POOL = ["fpb", "twitter_sentiment", "finqa", "orca_math", "openorca"]
OPTIMUM = np.array([0.45, 0.35, 0.2, 0.0, 0.0])  # on a face: two tasks left out
A = np.diag([1.0, 1.5, 2.0, 1.0, 0.5]) + 0.3


def _quadratic(W: np.ndarray) -> np.ndarray:
    """A concave Scheffé quadratic (a peak at OPTIMUM, value 0), on a score's scale."""
    D = np.atleast_2d(W) - OPTIMUM
    return 0.6 - np.einsum("ni,ij,nj->n", D, A, D)


BATCH = 5
MARGIN = 0.1  # a batch leaves at most a tenth of the regret of as many random mixtures (measured: 0-3 %)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    W = rng.dirichlet(np.ones(len(POOL)), 40)
    data = Data(POOL, W, _quadratic(W) + rng.normal(0, 0.01, 40), 40)
    return data, fit_surrogates(data)


@pytest.mark.parametrize("acquisition", ACQUISITIONS)
def test_each_acquisition_finds_the_optimum_region_better_than_random(fitted, acquisition):
    data, fits = fitted
    batch = propose_batch(fits, data, Constraints(), BATCH, acquisition, samples=20_000, seed=1)
    W = np.array([[p["weights"].get(t, 0.0) for t in POOL] for p in batch])
    regret = 0.6 - _quadratic(W).max()
    # Random's regret: the best of BATCH flat mixtures, its mean over 2000 batches.
    random = np.random.default_rng(2).dirichlet(np.ones(len(POOL)), (2000, BATCH))
    random_regret = (0.6 - _quadratic(random.reshape(-1, len(POOL))).reshape(2000, BATCH).max(axis=1)).mean()
    assert regret <= MARGIN * random_regret, (acquisition, regret, random_regret, W.round(2))
    # Diverse: no two of the batch within MIN_DISTANCE (L1) of each other.
    distances = [np.abs(a - b).sum() for i, a in enumerate(W) for b in W[i + 1:]]
    assert min(distances) > MIN_DISTANCE, (acquisition, W.round(3))
    assert all(p["std"] > 0 and np.isfinite(p["acquisition_value"]) for p in batch)


def test_expected_improvement_matches_its_closed_form_and_grows_with_uncertainty():
    mean, sd = np.array([0.5, 0.5, 0.6]), np.array([0.1, 0.2, 1e-9])
    ei = expected_improvement(mean, sd, best=0.55)
    z = (0.5 - 0.55) / 0.1
    from scipy.stats import norm

    assert ei[0] == pytest.approx((0.5 - 0.55) * norm.cdf(z) + 0.1 * norm.pdf(z))
    assert ei[1] > ei[0] > 0 and ei[2] == pytest.approx(0.05)  # certain: exactly the improvement


def test_the_kriging_believer_spreads_a_batch_that_exploitation_would_stack():
    """On a single smooth peak, EI's batch covers more of the simplex than the mean's distinct best points."""
    rng = np.random.default_rng(3)
    W = rng.dirichlet(np.ones(len(POOL)), 40)
    data = Data(POOL, W, _quadratic(W) + rng.normal(0, 0.01, 40), 40)
    fits = fit_surrogates(data)
    spread = {}
    for acquisition in ("ei", "mean"):
        batch = propose_batch(fits, data, Constraints(), 6, acquisition, samples=20_000, seed=4)
        B = np.array([[p["weights"].get(t, 0.0) for t in POOL] for p in batch])
        spread[acquisition] = np.mean([np.abs(a - b).sum() for i, a in enumerate(B) for b in B[i + 1:]])
    assert spread["ei"] > MIN_DISTANCE and spread["mean"] > 0.1  # mean: its own 0.1 L1 rule


def test_an_unknown_acquisition_is_one_clear_error(fitted):
    data, fits = fitted
    with pytest.raises(ConfigError, match="unknown acquisition 'pi'; expected one of ei, ucb, thompson, mean"):
        propose_batch(fits, data, Constraints(), 2, "pi")


@pytest.mark.parametrize("n,k", [(24, 5), (25, 9), (8, 5), (55, 9)])
def test_the_design_covers_the_faces_and_the_interior(n, k):
    W = face_design(n, k, seed=0)
    assert W.shape == (n, k) and np.allclose(W.sum(axis=1), 1) and (W >= 0).all()
    support = (W > 0).sum(axis=1)
    singles, pairs, triples, interior = face_counts(n, k)
    assert [int((support == s).sum()) for s in (1, 2, 3)] == [singles, pairs, triples]
    assert (support[singles + pairs + triples:] == k).all() and interior >= n // 4
    assert len({tuple(r) for r in W.round(6)}) == n  # no mixture twice
    # Pairs spread over the tasks: no task in more than one pair above another's count.
    counts = (W[singles:singles + pairs] > 0).sum(axis=0)
    assert counts.max() - counts.min() <= 1, counts
    assert np.array_equal(W, face_design(n, k, seed=0)) and not np.array_equal(W, face_design(n, k, seed=1))


def test_a_design_too_small_is_refused():
    with pytest.raises(ConfigError, match="a design of 3 mixture"):
        face_design(3, 5, 0)

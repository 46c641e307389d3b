"""Chi-square goodness of fit for tests of random draws (no SciPy in the stack).

Draws in tests come from fixed seeds, so a statistic is the same on every
run; the limit is far in the tail (5 sigma, p ~ 3e-7) so that a correct
sampler passes for any seeds, while a sampler with a different distribution
lands orders of magnitude above it.
"""
import numpy as np


def chi_square(counts, probabilities) -> float:
    """Pearson's statistic of observed `counts` against cell `probabilities`."""
    counts = np.asarray(counts, np.float64)
    expected = counts.sum() * np.asarray(probabilities, np.float64)
    return float(((counts - expected) ** 2 / expected).sum())


def chi_square_limit(dof: int, sigmas: float = 5.0) -> float:
    """Upper quantile of chi-square(dof) at `sigmas` normal deviations
    (Wilson-Hilferty: (X/k)^(1/3) ~ N(1 - 2/(9k), 2/(9k)))."""
    variance = 2.0 / (9.0 * dof)
    return dof * (1.0 - variance + sigmas * np.sqrt(variance)) ** 3


def assert_fits(counts, probabilities):
    """Asserts every cell with probability > 0 may occur and the counts fit."""
    counts, probabilities = np.asarray(counts), np.asarray(probabilities)
    assert np.all(counts[probabilities == 0] == 0), "draws outside the support"
    assert abs(probabilities.sum() - 1.0) < 1e-9
    support = probabilities > 0
    statistic = chi_square(counts[support], probabilities[support])
    limit = chi_square_limit(int(support.sum()) - 1)
    assert statistic < limit, f"chi-square {statistic:.1f} >= {limit:.1f} ({support.sum()} cells)"

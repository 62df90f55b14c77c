"""Summary statistics of realised shortfall, streamed over chunks in bounded memory.

Every summary in acsim (Mesa or vectorised, one worker or many) goes through
`summarise_chunks`, so the same definitions hold everywhere:

- mean, std (ddof = 1), standard error and the 95% confidence interval of the mean,
  merged chunk by chunk (Chan et al.) in the order the chunks are given, so a fixed
  chunking gives bit-identical results;
- var95: the 95% quantile with numpy's default linear interpolation, from the two order
  statistics around it, each found exactly by histogram passes that keep at most
  KEEP_LIMIT values in memory;
- cvar95: the mean of the values at or above var95;
- quantiles 5%, 50%, 95%.

`chunks` is a callable returning a fresh iterable of 1-D arrays each time it is called
(several times: a few passes per quantile), e.g. reading Parquet files block by block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from acsim.strategies.errors import ParameterError

HISTOGRAM_BINS = 1 << 16
Z95 = 1.959963984540054  # two-sided 95% normal quantile
KEEP_LIMIT = 1 << 20  # values held in memory at most while locating a quantile
QUANTILES = (0.05, 0.5, 0.95)


def _moments(chunks: Iterable[np.ndarray]) -> tuple[int, float, float, float, float]:
    count, mean, squares = 0, 0.0, 0.0
    low, high = np.inf, -np.inf
    for chunk in chunks:
        values = np.asarray(chunk, dtype=float)
        size = values.shape[0]
        if size == 0:
            continue
        chunk_mean = float(values.mean())
        chunk_squares = float(np.sum((values - chunk_mean) ** 2))
        total = count + size
        delta = chunk_mean - mean
        mean += delta * size / total
        squares += chunk_squares + delta * delta * count * size / total
        count = total
        low, high = min(low, float(values.min())), max(high, float(values.max()))
    return count, mean, squares, low, high


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, edges.shape[0] - 2)


def _order_statistic(chunks: Callable[[], Iterable[np.ndarray]], rank: int, low: float,
                     high: float) -> float:
    """The value of 0-based `rank` among all values (all lie in [low, high]), exactly,
    holding at most KEEP_LIMIT values: a histogram pass finds the bin of the rank; if that
    bin holds too many values the range shrinks to them and the search repeats."""
    before = 0  # values below `low`
    while low < high:
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
        histogram = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
        for chunk in chunks():
            values = np.asarray(chunk, dtype=float)
            values = values[(values >= low) & (values <= high)]
            histogram += np.bincount(_bin_index(values, edges), minlength=HISTOGRAM_BINS)
        cumulative = before + np.cumsum(histogram)
        target = int(np.searchsorted(cumulative, rank, side="right"))
        start = int(cumulative[target - 1]) if target > 0 else before
        kept, smallest, largest = [], np.inf, -np.inf
        keep = int(cumulative[target]) - start <= KEEP_LIMIT
        for chunk in chunks():
            values = np.asarray(chunk, dtype=float)
            values = values[(values >= low) & (values <= high)]
            chosen = values[_bin_index(values, edges) == target]
            if keep:
                kept.append(chosen)
            elif chosen.shape[0]:
                smallest, largest = min(smallest, chosen.min()), max(largest, chosen.max())
        if keep:
            return float(np.sort(np.concatenate(kept))[rank - start])
        low, high, before = float(smallest), float(largest), start
    return low  # every value left in the range is this one


def _tail(chunks: Callable[[], Iterable[np.ndarray]], count: int, low: float, high: float,
          probability: float) -> tuple[float, float]:
    """(quantile with numpy's linear interpolation, mean of the values >= it), exact."""
    position = (count - 1) * probability
    below = int(np.floor(position))
    lower = _order_statistic(chunks, below, low, high)
    upper = lower if below + 1 >= count else _order_statistic(chunks, below + 1, low, high)
    quantile = float(np.quantile(np.array([lower, upper]), position - below))
    total, number = 0.0, 0
    for chunk in chunks():
        values = np.asarray(chunk, dtype=float)
        tail = values[values >= quantile]
        total += float(tail.sum())
        number += tail.shape[0]
    return quantile, total / number


def summarise_chunks(chunks: Callable[[], Iterable[np.ndarray]], notional: float,
                     risk_aversion: float = 0.0) -> dict:
    """Shortfall statistics (currency; mean also in bps of `notional`).

    utility is mean + λ·variance, the realised mean-variance objective.
    """
    count, mean, squares, low, high = _moments(chunks())
    if count == 0:
        raise ParameterError("no episodes to summarise: the chunks hold no values")
    variance = squares / (count - 1) if count > 1 else float("nan")
    std = float(np.sqrt(variance))
    stderr = std / np.sqrt(count) if count > 1 else float("nan")
    summary = {
        "episodes": count,
        "mean_is": mean,
        "std_is": std,
        "stderr_is": stderr,
        "ci95_low": mean - Z95 * stderr,
        "ci95_high": mean + Z95 * stderr,
        "mean_is_bps": 1e4 * mean / notional,
        "utility": mean + risk_aversion * variance,
    }
    for probability in QUANTILES:
        quantile, tail_mean = _tail(chunks, count, low, high, probability)
        summary[f"q{round(probability * 100):02d}"] = quantile
        if probability == 0.95:
            summary["var95"], summary["cvar95"] = quantile, tail_mean
    return summary


def summarise(values: np.ndarray, notional: float, risk_aversion: float = 0.0) -> dict:
    """The same statistics for values held in memory."""
    values = np.asarray(values, dtype=float)
    return summarise_chunks(lambda: [values], notional, risk_aversion)


def paired_difference(chunks: Callable[[], Iterable[np.ndarray]]) -> dict:
    """Mean of per-episode differences with its standard error and 95% confidence interval."""
    count, mean, squares, _, _ = _moments(chunks())
    std = float(np.sqrt(squares / (count - 1))) if count > 1 else float("nan")
    stderr = std / np.sqrt(count)
    return {"episodes": count, "mean_difference": mean, "std_difference": std,
            "stderr_difference": stderr, "ci95_low": mean - Z95 * stderr,
            "ci95_high": mean + Z95 * stderr}


def variance_stderr(values: np.ndarray) -> float:
    """Standard error of the sample variance, √((m4 - s⁴)/n) (large-sample)."""
    centred = values - values.mean()
    fourth = float(np.mean(centred**4))
    return float(np.sqrt(max(fourth - values.var(ddof=1) ** 2, 0.0) / values.shape[0]))


VERDICTS = ("holds", "does not hold", "cannot tell")


def mean_interval(values: np.ndarray, confidence: float = 0.95) -> dict:
    """Mean of `values` with a Student-t interval (n - 1 degrees of freedom).

    For paired comparisons pass the per-pair differences (a paired interval). With one value
    the interval is undefined (nan bounds).
    """
    from scipy.stats import t as student_t

    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.shape[0] == 0 or not np.all(np.isfinite(values)):
        raise ParameterError("values must be a non-empty 1-D array of finite numbers")
    if not 0.0 < confidence < 1.0:
        raise ParameterError(f"confidence must be in (0, 1), got {confidence!r}")
    count = values.shape[0]
    mean = float(values.mean())
    if count < 2:
        return {"count": 1, "mean": mean, "std": float("nan"), "stderr": float("nan"),
                "low": float("nan"), "high": float("nan")}
    std = float(values.std(ddof=1))
    stderr = std / np.sqrt(count)
    half = float(student_t.ppf(0.5 + 0.5 * confidence, count - 1)) * stderr
    return {"count": count, "mean": mean, "std": std, "stderr": stderr,
            "low": mean - half, "high": mean + half}


def verdict(low: float, high: float, claimed_sign: int, threshold: float = 0.0) -> str:
    """'holds', 'does not hold' or 'cannot tell' for a claim "the statistic is above
    (claimed_sign = +1) or below (-1) the threshold", judged on its interval [low, high].

    An exact statistic has low = high. The claim holds when the whole interval is strictly on
    the claimed side; it does not hold when the whole interval is on the other side or the
    statistic is exactly the threshold; otherwise (the interval straddles it, or is nan)
    nothing can be told.
    """
    if claimed_sign not in (-1, 1):
        raise ParameterError(f"claimed_sign must be +1 or -1, got {claimed_sign!r}")
    low, high = (claimed_sign * (float(low) - threshold), claimed_sign * (float(high) - threshold))
    low, high = min(low, high), max(low, high)
    if not (np.isfinite(low) and np.isfinite(high)):
        return "cannot tell"
    if low > 0.0:
        return "holds"
    if high < 0.0 or low == high == 0.0:
        return "does not hold"
    return "cannot tell"


def correlation_interval(x: np.ndarray, y: np.ndarray, confidence: float = 0.95) -> dict:
    """Pearson correlation of x and y with the Fisher-z interval (atanh r ± z/√(n − 3))."""
    from scipy.stats import norm

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.shape[0] < 4:
        raise ParameterError("x and y must be 1-D arrays of the same length, at least 4")
    if x.std() == 0.0 or y.std() == 0.0:  # no correlation is defined: nothing can be told
        return {"count": x.shape[0], "correlation": np.nan, "low": np.nan, "high": np.nan}
    correlation = float(np.corrcoef(x, y)[0, 1])
    half = float(norm.ppf(0.5 + 0.5 * confidence)) / np.sqrt(x.shape[0] - 3)
    centre = np.arctanh(np.clip(correlation, -1 + 1e-15, 1 - 1e-15))
    return {"count": x.shape[0], "correlation": correlation,
            "low": float(np.tanh(centre - half)), "high": float(np.tanh(centre + half))}


def dominance(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per episode, the size of one paired effect minus the size of another:
    sign(mean first)·first - sign(mean second)·second (positive: the first effect is larger)."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    return np.sign(first.mean()) * first - np.sign(second.mean()) * second

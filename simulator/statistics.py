"""Summary statistics of realised shortfall, streamed over chunks in bounded memory.

Every summary in acsim (Mesa or vectorised, one worker or many) goes through
`summarise_chunks`, so the same definitions hold everywhere:

- mean, std (ddof = 1) and standard error, merged chunk by chunk (Chan et al.) in the
  order the chunks are given, so a fixed chunking gives bit-identical results;
- var95: the 95% quantile with numpy's default linear interpolation, found exactly by a
  histogram pass and a pass that keeps only the values in the two bins that matter;
- cvar95: the mean of the values at or above var95;
- quantiles 5%, 50%, 95%.

`chunks` is a callable returning a fresh iterable of 1-D arrays each time it is called
(it is called up to three times), e.g. reading Parquet files block by block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

HISTOGRAM_BINS = 1 << 16
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


def _tail(chunks: Callable[[], Iterable[np.ndarray]], count: int, low: float, high: float,
          probability: float) -> tuple[float, float]:
    """(quantile, mean of values >= quantile), exact."""
    position = (count - 1) * probability
    below = int(np.floor(position))
    ranks = (below, min(below + 1, count - 1))
    if low == high:
        return low, low
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    histogram = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    for chunk in chunks():
        histogram += np.bincount(_bin_index(np.asarray(chunk, dtype=float), edges),
                                 minlength=HISTOGRAM_BINS)
    cumulative = np.cumsum(histogram)
    first_bin, last_bin = (int(np.searchsorted(cumulative, rank, side="right")) for rank in ranks)
    kept, above_sum, above_count = [], 0.0, 0
    for chunk in chunks():
        values = np.asarray(chunk, dtype=float)
        bins = _bin_index(values, edges)
        kept.append(values[(bins >= first_bin) & (bins <= last_bin)])
        beyond = values[bins > last_bin]
        above_sum += float(beyond.sum())
        above_count += beyond.shape[0]
    middle = np.sort(np.concatenate(kept))
    offset = int(cumulative[first_bin - 1]) if first_bin > 0 else 0
    pair = np.array([middle[ranks[0] - offset], middle[ranks[1] - offset]])
    quantile = float(np.quantile(pair, position - below))
    at_or_above = middle[middle >= quantile]
    tail_mean = (above_sum + float(at_or_above.sum())) / (above_count + at_or_above.shape[0])
    return quantile, tail_mean


def summarise_chunks(chunks: Callable[[], Iterable[np.ndarray]], notional: float,
                     risk_aversion: float = 0.0) -> dict:
    """Shortfall statistics (currency; mean also in bps of `notional`).

    utility is mean + λ·variance, the realised mean-variance objective.
    """
    count, mean, squares, low, high = _moments(chunks())
    if count == 0:
        raise ValueError("no episodes to summarise")
    variance = squares / (count - 1) if count > 1 else float("nan")
    std = float(np.sqrt(variance))
    summary = {
        "episodes": count,
        "mean_is": mean,
        "std_is": std,
        "stderr_is": std / np.sqrt(count) if count > 1 else float("nan"),
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
            "stderr_difference": stderr, "ci95_low": mean - 1.959963984540054 * stderr,
            "ci95_high": mean + 1.959963984540054 * stderr}

"""Summary statistics of realised shortfall, streamed over blocks in bounded memory.

Every shortfall summary in acsim (Mesa or vectorised, one case or a whole study) goes through
`summarise_blocks`; `summarise_chunks` (one column, e.g. `acsim simulate --engine mesa`) and
`summarise` (values in memory) are that function on one row. A block is a 2-D array with one
ROW per column of values (a case's shortfall, currency) and one entry per episode; every pass
reads each block once for all rows, and the number of passes is small and fixed:

1. moments of every row and of every paired difference (row a − row b, episode by episode):
   count, mean, sum of squared deviations (merged block by block, Chan et al., in the order
   the blocks are given, so a fixed blocking gives bit-identical results; each row is reduced
   along its own contiguous entries, so a row's figures do not depend on the other rows),
   minimum and maximum;
2. one histogram per summarised row over [min, max] with a count and a sum per bin: it gives
   the bin of every order statistic needed, and the influence-function sums of the utility;
3. the values in those bins (at most KEEP_LIMIT in all). A bin holding more is narrowed, in
   the same pass, to the range of its values and searched again (passes 2 and 3 repeat, only
   then; a narrowed 95% bin costs one more pass for the CVaR sum).

Definitions (z = Z95, the two-sided 95% normal quantile):
- mean, std (ddof = 1), stderr = std/√n, 95% interval mean ± z·stderr;
- utility = mean + λ·variance (ddof = 1): the realised mean-variance objective E + λV that
  Almgren-Chriss minimises (λ: risk aversion, per currency). Its standard error is the delta
  method's: the influence function of one episode's shortfall x is
  ψ(x) = (x − μ) + λ·((x − μ)² − σ²) (μ, σ²: the sample mean and variance), and
  utility_stderr = √(var(ψ)/n) with var(ψ) the sample variance (ddof = 1) of ψ over the
  episodes; interval utility ± z·utility_stderr. For a paired difference of cases a and b on
  the same episodes, ψ is ψ_a(x_a) − ψ_b(x_b) (each with its own μ, σ², λ), so the interval
  counts the correlation that common random numbers create;
- q05, q50, q95 = var95: exact quantiles with numpy's default linear interpolation between
  the two order statistics around rank (n − 1)·p, each order statistic found exactly;
- cvar95: the mean of the values at or above var95.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from acsim.strategies.errors import ParameterError

HISTOGRAM_BINS = 1 << 16  # most bins of one histogram
HISTOGRAM_MEMORY = 1 << 26  # bytes of histograms (a count and a sum per bin) in one pass
Z95 = 1.959963984540054  # two-sided 95% normal quantile
SUMMARY_MEMORY = 1 << 28  # bytes: a study's stored values up to this are read once and kept
KEEP_LIMIT = 1 << 20  # values held in memory at most (all rows together) in pass 3
QUANTILES = (0.05, 0.5, 0.95)

Blocks = Callable[[], Iterable[np.ndarray]]  # a fresh pass over the blocks at every call


@dataclass
class Moments:
    """Count, mean, sum of squared deviations, minimum and maximum of each row, merged block
    by block (Chan et al.)."""

    count: int
    mean: np.ndarray
    squares: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def empty(cls, rows: int) -> Moments:
        return cls(0, np.zeros(rows), np.zeros(rows), np.full(rows, np.inf),
                   np.full(rows, -np.inf))

    def add(self, values: np.ndarray) -> None:
        """Merge a block (rows × episodes, at least one episode)."""
        size = values.shape[1]
        block_mean = values.mean(axis=1)
        block_squares = np.sum((values - block_mean[:, None]) ** 2, axis=1)
        total = self.count + size
        delta = block_mean - self.mean
        self.mean = self.mean + delta * size / total
        self.squares = self.squares + block_squares + delta * delta * self.count * size / total
        self.count = total
        self.low = np.minimum(self.low, values.min(axis=1))
        self.high = np.maximum(self.high, values.max(axis=1))

    @property
    def variance(self) -> np.ndarray:
        """Sample variance (ddof = 1; nan for one episode)."""
        return self.squares / (self.count - 1) if self.count > 1 else np.full_like(
            self.mean, np.nan)


def _passes(blocks: Blocks, phase: str, progress: bool, total: int | None) -> Iterable[np.ndarray]:
    """One pass over the blocks as float rows × episodes (empty blocks skipped), with a bar."""
    for block in tqdm(blocks(), total=total, desc=f"summary: {phase}", unit="block",
                      disable=not progress, leave=False):
        values = np.asarray(block, dtype=float)
        if values.shape[1]:
            yield values


def _bins(values: np.ndarray, low: np.ndarray, high: np.ndarray, bins: int) -> np.ndarray:
    """Bin (0..bins-1) of each value in [low, high] cut into equal bins, per row (low and high
    broadcast as columns); non-decreasing in the value, so a higher bin holds higher values.
    Halves keep the width finite for any finite range."""
    width = high / 2 - low / 2
    position = (values / 2 - low / 2) / np.where(width > 0, width, 1.0)
    return np.clip((position * bins).astype(np.int64), 0, bins - 1)


def _count(waiting: list[tuple[np.ndarray, np.ndarray]], counts: np.ndarray,
           sums: np.ndarray) -> None:
    """Add the waiting (bin, value) pairs to the flat histograms `counts` and `sums` and empty
    the list (one bincount for several blocks: a bincount costs its bins, not only its values)."""
    if waiting:
        flat = np.concatenate([flat for flat, _ in waiting])
        values = np.concatenate([values for _, values in waiting])
        counts += np.bincount(flat, minlength=counts.shape[0])
        sums += np.bincount(flat, weights=values, minlength=sums.shape[0])
        waiting.clear()


def _bin_count(count: int, windows: int) -> int:
    """Bins per histogram: enough for `count` values, at most HISTOGRAM_BINS, and all
    `windows` histograms within HISTOGRAM_MEMORY (a power of two, at least 16)."""
    wanted = 1 << max(4, int(np.ceil(np.log2(max(count, 1)))))
    affordable = 1 << max(4, int(np.log2(max(HISTOGRAM_MEMORY // (16 * windows), 1))))
    return min(HISTOGRAM_BINS, wanted, affordable)


@dataclass(frozen=True)
class _Window:
    """Values of `row` within [low, high]; `before` of the row's values lie below low."""

    row: int
    low: float
    high: float
    before: int


class _Search:
    """Exact order statistics of many rows at once (passes 2 and 3, repeated while a bin
    holds more than its share of KEEP_LIMIT). `first_pass(values)` is called on
    every block of the first histogram pass (the influence sums ride along)."""

    def __init__(self, blocks: Blocks, moments: Moments, ranks: dict[int, list[int]],
                 progress: bool, total: int | None):
        self.blocks, self.progress, self.total = blocks, progress, total
        self.count = moments.count
        windows = {row: _Window(row, float(moments.low[row]), float(moments.high[row]), 0)
                   for row in ranks}
        self.pending = {(row, rank): windows[row] for row, wanted in ranks.items()
                        for rank in wanted}
        self.limit = max(1, KEEP_LIMIT // max(len(self.pending), 1))
        self.found: dict[tuple[int, int], float] = {}
        self.first: dict | None = None  # the first histograms and the values of chosen bins

    def run(self, first_pass: Callable[[np.ndarray], None]) -> dict[tuple[int, int], float]:
        """The value of every (row, 0-based rank) asked for."""
        while self.pending:
            if self.first is not None:  # the first histograms cover every row, even constant
                for key, window in list(self.pending.items()):
                    if window.low == window.high:  # every value of the window is this one
                        self.found[key] = window.low
                        del self.pending[key]
                if not self.pending:
                    break
            windows = list(dict.fromkeys(self.pending.values()))
            rows = np.array([w.row for w in windows])
            low = np.array([w.low for w in windows])[:, None]
            high = np.array([w.high for w in windows])[:, None]
            bins = _bin_count(self.count, len(windows))
            offsets = bins * np.arange(len(windows))[:, None]
            counts = np.zeros(len(windows) * bins, dtype=np.int64)
            sums = np.zeros(len(windows) * bins)
            waiting: list[tuple[np.ndarray, np.ndarray]] = []  # (bins, values) not yet counted
            for values in _passes(self.blocks, "histograms", self.progress, self.total):
                if self.first is None:
                    first_pass(values)
                chosen = values[rows]
                inside = (chosen >= low) & (chosen <= high)
                waiting.append(((_bins(chosen, low, high, bins) + offsets)[inside],
                                chosen[inside]))
                if sum(flat.shape[0] for flat, _ in waiting) >= counts.shape[0]:
                    _count(waiting, counts, sums)
            _count(waiting, counts, sums)
            self._collect(windows, rows, low, high, bins, counts.reshape(len(windows), bins),
                          sums.reshape(len(windows), bins))
        return self.found

    def _collect(self, windows: list[_Window], rows: np.ndarray, low: np.ndarray,
                 high: np.ndarray, bins: int, counts: np.ndarray, sums: np.ndarray) -> None:
        """Pass 3: the values of every chosen bin small enough, the range of the others."""
        cumulative = np.cumsum(counts, axis=1)
        index = {window: i for i, window in enumerate(windows)}
        keys = list(self.pending)
        of = np.array([index[self.pending[key]] for key in keys])
        before = np.array([self.pending[key].before for key in keys])
        # the bin of each rank: how many cumulative counts are <= rank (searchsorted, right)
        found_bins = np.sum(cumulative[of] <= (np.array([key[1] for key in keys])
                                               - before)[:, None], axis=1)
        starts = before + np.where(found_bins > 0, cumulative[of, np.maximum(found_bins - 1, 0)],
                                   0)
        # (row, rank) -> (window index, bin, values of the window below the bin)
        targets = {key: (int(of[t]), int(found_bins[t]), int(starts[t]))
                   for t, key in enumerate(keys)}
        chosen = sorted({(i, target) for i, target, _ in targets.values()})
        which = np.array([i for i, _ in chosen])
        target_bins = np.array([target for _, target in chosen])
        keep = counts[which, target_bins] <= self.limit
        # lookup[window, bin]: the chosen bin's number, or -1: one binning of every window's
        # values per block finds the values of all its chosen bins at once
        lookup = np.full((len(windows), bins), -1, dtype=np.int32)
        lookup[which, target_bins] = np.arange(len(chosen), dtype=np.int32)
        window_of = np.arange(len(windows))[:, None]
        items, found = [], []  # (chosen bin, value) of the bins kept
        smallest, largest = np.full(len(chosen), np.inf), np.full(len(chosen), -np.inf)
        for values in _passes(self.blocks, "values", self.progress, self.total):
            selected = values[rows]
            inside = (selected >= low) & (selected <= high)
            code = np.where(inside, lookup[window_of, _bins(selected, low, high, bins)], -1)
            window, episode = np.nonzero(code >= 0)
            item, value = code[window, episode], selected[window, episode]
            kept = keep[item]
            items.append(item[kept])
            found.append(value[kept])
            np.minimum.at(smallest, item[~kept], value[~kept])
            np.maximum.at(largest, item[~kept], value[~kept])
        items, found = np.concatenate(items), np.concatenate(found)
        order = np.lexsort((found, items))  # by chosen bin, then by value
        items, found = items[order], found[order]
        bounds = np.searchsorted(items, np.arange(len(chosen) + 1))
        position = {pair: j for j, pair in enumerate(chosen)}
        ordered = {j: found[bounds[j]:bounds[j + 1]] for j in range(len(chosen)) if keep[j]}
        if self.first is None:
            self.first = {"bins": bins,  # window i is row i: the first pass has every row
                          "counts": counts, "sums": sums, "low": low[:, 0], "high": high[:, 0],
                          "values": {(i, target): ordered[j]
                                     for j, (i, target) in enumerate(chosen) if keep[j]}}
        for key, (i, target, start) in targets.items():
            j = position[(i, target)]
            if keep[j]:
                self.found[key] = float(ordered[j][key[1] - start])
                del self.pending[key]
            else:
                self.pending[key] = _Window(windows[i].row, float(smallest[j]),
                                            float(largest[j]), start)

    def tails(self, thresholds: np.ndarray) -> dict[int, tuple[float, int] | None]:
        """Per row (thresholds: one per row, in row order), (sum, count) of its values >= its
        threshold from the first histograms and the values collected with them; None where
        that needs a pass (the threshold's bin was too full to collect)."""
        first = self.first
        low, high = first["low"][:, None], first["high"][:, None]
        targets = _bins(thresholds[:, None], low, high, first["bins"])
        above = np.arange(first["bins"])[None, :] > targets
        totals = np.sum(np.where(above, first["sums"], 0.0), axis=1)
        numbers = np.sum(np.where(above, first["counts"], 0), axis=1)
        result: dict[int, tuple[float, int] | None] = {}
        for row, target in enumerate(targets[:, 0]):
            values = first["values"].get((row, int(target)))
            if first["counts"][row, target] == 0:
                result[row] = float(totals[row]), int(numbers[row])
            elif values is None:
                result[row] = None
            else:
                tail = values[values >= thresholds[row]]
                result[row] = float(totals[row] + tail.sum()), int(numbers[row]) + tail.shape[0]
        return result


def _interval(centre: np.ndarray, stderr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return centre - Z95 * stderr, centre + Z95 * stderr


def _influence_stderr(sums: np.ndarray, squares: np.ndarray, count: int) -> np.ndarray:
    """√(var(ψ)/n) from Σψ and Σψ² over n episodes (nan for one episode)."""
    if count < 2:
        return np.full_like(sums, np.nan)
    variance = np.maximum(squares - sums * sums / count, 0.0) / (count - 1)
    return np.sqrt(variance / count)


def _difference_rows(moments: Moments) -> list[dict]:
    """Mean of per-episode differences with its standard error and 95% interval, per row."""
    std = np.sqrt(moments.variance)
    stderr = std / np.sqrt(moments.count)
    low, high = _interval(moments.mean, stderr)
    return [{"episodes": moments.count, "mean_difference": float(moments.mean[i]),
             "std_difference": float(std[i]), "stderr_difference": float(stderr[i]),
             "ci95_low": float(low[i]), "ci95_high": float(high[i])}
            for i in range(moments.mean.shape[0])]


def summarise_blocks(blocks: Blocks, notional: Sequence[float], risk_aversion: Sequence[float],
                     pairs: Sequence[tuple[int, int]] = (), progress: bool = False,
                     total: int | None = None) -> tuple[list[dict], list[dict], Moments]:
    """Shortfall statistics of the first len(notional) rows of the blocks, in a few passes.

    blocks: a callable giving a fresh pass over the blocks (rows × episodes arrays) each time.
    notional: per summarised row, the arrival notional (currency) for mean_is_bps.
    risk_aversion: per summarised row, λ (per currency) of its utility.
    pairs: (a, b) of summarised rows: the paired difference row a − row b, episode by episode,
        with the difference of the utilities.
    progress: a tqdm bar per pass; total: the number of blocks (for the bars).
    Returns (one summary per summarised row, one paired row per pair, the moments of every
    row: rows beyond the summarised ones, such as final holdings, get only these).
    """
    rows = len(notional)
    first, second = np.array([a for a, _ in pairs], dtype=int), np.array(
        [b for _, b in pairs], dtype=int)
    moments, paired = None, Moments.empty(len(pairs))
    for values in _passes(blocks, "moments", progress, total):
        if moments is None:
            moments = Moments.empty(values.shape[0])
        moments.add(values)
        if pairs:
            paired.add(values[first] - values[second])
    if moments is None:
        raise ParameterError("no episodes to summarise: the blocks hold no values")
    count = moments.count
    mean, variance = moments.mean[:rows], moments.variance[:rows]
    aversion = np.asarray(risk_aversion, dtype=float)
    influence = np.zeros((2, rows)), np.zeros((2, len(pairs)))  # Σψ, Σψ² per row, per pair

    def add_influence(values: np.ndarray) -> None:
        centred = values[:rows] - mean[:, None]
        psi = centred + aversion[:, None] * (centred * centred - variance[:, None])
        influence[0][0] += psi.sum(axis=1)
        influence[0][1] += np.sum(psi * psi, axis=1)
        if pairs:
            difference = psi[first] - psi[second]
            influence[1][0] += difference.sum(axis=1)
            influence[1][1] += np.sum(difference * difference, axis=1)

    positions = {p: (count - 1) * p for p in QUANTILES}
    ranks = {row: sorted({rank for position in positions.values() for rank in
                          (int(np.floor(position)), min(int(np.floor(position)) + 1, count - 1))})
             for row in range(rows)}
    search = _Search(blocks, moments, ranks, progress, total)
    found = search.run(add_influence)
    quantiles = {}
    for p, position in positions.items():  # numpy's interpolation between the two neighbours
        below = int(np.floor(position))
        pairs_of_rows = np.array([[found[(row, below)] for row in range(rows)],
                                  [found[(row, min(below + 1, count - 1))] for row in range(rows)]])
        values = np.quantile(pairs_of_rows, position - below, axis=0)
        quantiles.update({(row, p): float(values[row]) for row in range(rows)})
    tails = search.tails(np.array([quantiles[(row, 0.95)] for row in range(rows)]))
    missing = [row for row, tail in tails.items() if tail is None]
    if missing:  # a 95% bin too full to collect: one pass sums the tails
        thresholds = np.array([quantiles[(row, 0.95)] for row in missing])[:, None]
        sums, numbers = np.zeros(len(missing)), np.zeros(len(missing), dtype=np.int64)
        for values in _passes(blocks, "tails", progress, total):
            above = values[missing] >= thresholds
            sums += np.where(above, values[missing], 0.0).sum(axis=1)
            numbers += above.sum(axis=1)
        tails.update({row: (float(sums[j]), int(numbers[j])) for j, row in enumerate(missing)})
    std = np.sqrt(variance)
    stderr = std / np.sqrt(count)
    low, high = _interval(mean, stderr)
    utility = mean + aversion * variance
    utility_stderr = _influence_stderr(*influence[0], count)
    utility_low, utility_high = _interval(utility, utility_stderr)
    summaries = []
    for row in range(rows):
        summary = {"episodes": count, "mean_is": float(mean[row]), "std_is": float(std[row]),
                   "stderr_is": float(stderr[row]), "ci95_low": float(low[row]),
                   "ci95_high": float(high[row]),
                   "mean_is_bps": float(1e4 * mean[row] / notional[row]),
                   "utility": float(utility[row]), "utility_stderr": float(utility_stderr[row]),
                   "utility_ci95_low": float(utility_low[row]),
                   "utility_ci95_high": float(utility_high[row])}
        for p in QUANTILES:
            summary[f"q{round(p * 100):02d}"] = quantiles[(row, p)]
        tail_sum, tail_count = tails[row]
        summary["var95"], summary["cvar95"] = quantiles[(row, 0.95)], tail_sum / tail_count
        summaries.append(summary)
    differences = _difference_rows(paired)
    difference_stderr = _influence_stderr(*influence[1], count)
    for j, (a, b) in enumerate(pairs):
        centre = utility[a] - utility[b]
        bounds = _interval(centre, difference_stderr[j])
        differences[j].update({"utility_difference": float(centre),
                               "utility_difference_stderr": float(difference_stderr[j]),
                               "utility_difference_ci95_low": float(bounds[0]),
                               "utility_difference_ci95_high": float(bounds[1])})
    return summaries, differences, moments


def _rows(chunks: Callable[[], Iterable[np.ndarray]]) -> Blocks:
    """1-D chunks as blocks of one row."""
    return lambda: (np.asarray(chunk, dtype=float).reshape(1, -1) for chunk in chunks())


def summarise_chunks(chunks: Callable[[], Iterable[np.ndarray]], notional: float,
                     risk_aversion: float = 0.0) -> dict:
    """Shortfall statistics (currency; mean also in bps of `notional`) of one column given as
    a callable returning a fresh iterable of 1-D chunks each time (a few passes)."""
    return summarise_blocks(_rows(chunks), [notional], [risk_aversion])[0][0]


def summarise(values: np.ndarray, notional: float, risk_aversion: float = 0.0) -> dict:
    """The same statistics for values held in memory."""
    values = np.asarray(values, dtype=float)
    return summarise_chunks(lambda: [values], notional, risk_aversion)


def paired_difference(chunks: Callable[[], Iterable[np.ndarray]]) -> dict:
    """Mean of per-episode differences (1-D chunks) with its standard error and 95% interval."""
    moments = Moments.empty(1)
    for values in _passes(_rows(chunks), "moments", False, None):
        moments.add(values)
    return _difference_rows(moments)[0]


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

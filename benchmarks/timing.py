"""Timing helpers shared by the benchmarks: medians and percentiles in ms."""

from __future__ import annotations

import argparse
import statistics
import time


def sample_ms(fn, runs: int, warmup: int = 1, idle: float = 0.0) -> list[float]:
    """Wall times of ``runs`` calls of ``fn`` in ms, after ``warmup`` untimed calls
    (each call after ``idle`` seconds of sleep, which is not timed)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        time.sleep(idle)
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def median_ms(fn, runs: int, warmup: int = 1) -> float:
    return statistics.median(sample_ms(fn, runs, warmup))


def interleaved_ms(fns: dict, runs: int, warmup: int = 1) -> dict:
    """Median wall time in ms of each of ``fns`` (name → callable), measured in
    turns — A B, B A, A B, ... — so that neither gains from going first or
    from a machine that speeds up or slows down during the run."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    order = list(fns)
    for i in range(runs):
        for name in (order if i % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            fns[name]()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def quick_flag() -> bool:
    """Parse the command line of a benchmark whose one option is ``--quick``."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--quick', action='store_true', help='fewer repetitions')
    return parser.parse_args().quick


def verdict(label: str, value: float, target: float, better: str = 'lower') -> bool:
    """Print a measurement against its target with PASS or FAIL; return whether it passed."""
    passed = value <= target if better == 'lower' else value >= target
    sign = '<=' if better == 'lower' else '>='
    print(f'  {label}: {value:.3f} (target {sign} {target:.2f}) {"PASS" if passed else "FAIL"}')
    return passed


def row(label: str, value: float, baseline: float, baseline_label: str) -> None:
    """Print one measurement beside its baseline and their ratio."""
    print(f'  {label:<40} {value:9.3f} ms   {baseline_label:<34} {baseline:9.3f} ms'
          f'   ratio {value / baseline:7.2f}')

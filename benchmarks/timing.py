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


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def quick_flag() -> bool:
    """Parse the command line of a benchmark whose one option is ``--quick``."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--quick', action='store_true', help='fewer repetitions')
    return parser.parse_args().quick


def row(label: str, value: float, baseline: float, baseline_label: str) -> None:
    """Print one measurement beside its baseline and their ratio."""
    print(f'  {label:<40} {value:9.3f} ms   {baseline_label:<34} {baseline:9.3f} ms'
          f'   ratio {value / baseline:7.2f}')

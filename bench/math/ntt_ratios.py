#!/usr/bin/env python3
"""Ratios portable CPU time / kernel CPU time from henn_math_bench's JSON output.

    henn_math_bench --benchmark_filter=Ntt --benchmark_out=ntt.json --benchmark_out_format=json
    python3 bench/math/ntt_ratios.py ntt.json
"""
import json
import sys


def main() -> None:
    with open(sys.argv[1]) as f:
        runs = json.load(f)["benchmarks"]
    times = {}  # (direction, n, bits) -> {kernel: microseconds}
    for run in runs:
        if run.get("run_type") == "aggregate" and run.get("aggregate_name") != "median":
            continue
        direction, kernel, n, bits = run["run_name"].split("/")
        times.setdefault((direction, n, bits), {})[kernel] = run["cpu_time"]
    kernels = ["portable", "avx2", "avx512", "avx512ifma"]
    print(f"{'transform':<11}{'n':>8}{'bits':>6}" + "".join(f"{k:>12}" for k in kernels) +
          "   speedup vs portable")
    for (direction, n, bits), by_kernel in times.items():
        base = by_kernel.get("portable")
        cells = "".join(f"{by_kernel[k]:>10.1f}us" if k in by_kernel else f"{'-':>12}"
                        for k in kernels)
        ratios = " ".join(f"{k}={base / by_kernel[k]:.2f}x" for k in kernels[1:]
                          if k in by_kernel and base)
        print(f"{direction:<11}{n.split(':')[1]:>8}{bits.split(':')[1]:>6}{cells}   {ratios}")


if __name__ == "__main__":
    main()

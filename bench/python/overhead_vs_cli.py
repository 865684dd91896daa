#!/usr/bin/python3
"""The Python path's overhead over the C++ `henn run` on the same batch, in one benchmark run.

Both sides compile the same ONNX model with the same options (512 MNIST training images of
calibration, the defaults of `henn run`), make keys, encrypt the same test images, run the
server-side session (inputs consumed, as `henn run` does) and decrypt. The C++ side's times are
`henn run --json`'s; the Python side times the same steps through the `henn` package. Rounds
alternate C++ and Python so that machine noise hits both; the medians and their ratio are
printed (and with --json, emitted).

    PYTHONPATH=build/python /usr/bin/python3 bench/python/overhead_vs_cli.py \
        --henn build/henn --model models/mnist_cryptonets.onnx --data-dir ../shared/data
"""

import argparse
import json
import statistics
import subprocess
import time

import numpy as np

import henn

STEPS = ("seconds_keygen", "seconds_encrypt", "seconds_infer", "seconds_decrypt")


def cpp_round(args):
    out = subprocess.run([args.henn, "run", args.model, "--data", "mnist", "--data-dir", args.data_dir,
                          "--count", str(args.count), "--json"], check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    return {step: report[step] for step in STEPS}


def python_round(compiled, x):
    times = {}
    t = time.perf_counter()
    client = henn.Client(compiled)
    keys = client.evaluation_keys()
    times["seconds_keygen"] = time.perf_counter() - t
    session = henn.Session(compiled, keys)
    t = time.perf_counter()
    ct = client.encrypt(x)
    times["seconds_encrypt"] = time.perf_counter() - t
    t = time.perf_counter()
    out = session.run(ct, consume=True)
    times["seconds_infer"] = time.perf_counter() - t
    t = time.perf_counter()
    client.decrypt(out)
    times["seconds_decrypt"] = time.perf_counter() - t
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--henn", required=True, help="the henn executable")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--count", type=int, default=0, help="test images (default: one full batch)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    calibration, _ = henn.load_dataset("mnist", args.data_dir, split="train", count=512)
    calibration = calibration.reshape(len(calibration), -1)  # (count, 784): any model taking MNIST
    compiled = henn.compile(args.model, calibration=calibration, warn=False)
    if args.count <= 0:
        args.count = compiled.batch_size
    x, _ = henn.load_dataset("mnist", args.data_dir, count=args.count)
    x = x.reshape(len(x), -1)

    cpp, py = {s: [] for s in STEPS}, {s: [] for s in STEPS}
    for _ in range(args.rounds):
        for step, seconds in cpp_round(args).items():
            cpp[step].append(seconds)
        for step, seconds in python_round(compiled, x).items():
            py[step].append(seconds)

    result = {"model": args.model, "images": args.count, "rounds": args.rounds, "threads": henn.threads(),
              "steps": {}}
    for step in STEPS:
        c, p = statistics.median(cpp[step]), statistics.median(py[step])
        result["steps"][step] = {"cpp": c, "python": p, "ratio": p / c}
    c_total = sum(statistics.median(cpp[s]) for s in STEPS)
    p_total = sum(statistics.median(py[s]) for s in STEPS)
    result["total"] = {"cpp": c_total, "python": p_total, "ratio": p_total / c_total}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.count} images, {args.rounds} rounds alternating, medians, {henn.threads()} threads")
    print(f"{'step':<18}{'henn run (C++)':>16}{'Python':>12}{'ratio':>9}")
    for step in STEPS + ("total",):
        r = result["steps"].get(step, result["total"])
        print(f"{step:<18}{r['cpp']:>14.3f} s{r['python']:>10.3f} s{r['ratio']:>9.3f}")


if __name__ == "__main__":
    main()

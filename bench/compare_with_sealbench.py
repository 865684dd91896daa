#!/usr/bin/env python3
"""Runs henn's CKKS benchmark and an already-built Microsoft SEAL `sealbench` alternately, ring
by ring, in one session, and prints a markdown table of median CPU times with the ratio
SEAL / henn (above 1: henn is faster). SEAL is never part of this repository: build it yourself
elsewhere and pass the path of its sealbench binary.

usage: compare_with_sealbench.py --sealbench PATH --henn-bench build/bench/ckks/henn_ckks_bench
                                 [--rounds 3] [--kernel avx2|avx512|avx512ifma|portable]
                                 [--only LABEL,LABEL] [--log-n 13,14,15] [--json OUT]

--kernel forces henn's NTT and vector kernels (HENN_NTT_KERNEL, HENN_VECTOR_KERNEL), e.g. avx2 to
measure the AVX2 path on an AVX-512 machine; the kernels henn ran are printed with the table.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

RINGS = {13: 8192, 14: 16384, 15: 32768}

# henn benchmark -> list of sealbench benchmarks whose times add up to the same work.
PAIRS = [
    ("NTT forward (1 prime)", "BM_NttForward", ["UTIL / NTTForwardLowLevel"]),
    ("NTT inverse (1 prime)", "BM_NttInverse", ["UTIL / NTTInverseLowLevel"]),
    ("encode (N/2 reals)", "BM_Encode", ["CKKS / EncodeDouble"]),
    ("decode", "BM_Decode", ["CKKS / DecodeDouble"]),
    ("encrypt (public key)", "BM_EncryptPublic", ["CKKS / EncryptPublic"]),
    ("encrypt (secret key)", "BM_EncryptSecret", ["CKKS / EncryptSecret"]),
    ("decrypt", "BM_Decrypt", ["CKKS / Decrypt"]),
    ("add", "BM_Add", ["CKKS / EvaluateAddCt"]),
    ("multiply by plaintext", "BM_MultiplyPlain", ["CKKS / EvaluateMulPt"]),
    ("multiply (no relinearization)", "BM_Multiply", ["CKKS / EvaluateMulCt"]),
    ("multiply + relinearize", "BM_MultiplyRelinearize", ["CKKS / EvaluateMulCt", "CKKS / EvaluateRelinInplace"]),
    ("rescale", "BM_Rescale", ["CKKS / EvaluateRescaleInplace"]),
    ("rotate one step", "BM_Rotate1", ["CKKS / EvaluateRotate"]),
    ("keygen relinearization key", "BM_KeyGenRelinearization", ["KeyGen / Relin"]),
]


def run_json(cmd, env=None):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(cmd + [f"--benchmark_out={out.name}", "--benchmark_out_format=json"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        with open(out.name) as f:
            return json.load(f)


def cpu_times(benchmarks, key):
    return [b["cpu_time"] for b in benchmarks if b.get("run_type") == "iteration" and key(b["name"])]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sealbench", required=True)
    parser.add_argument("--henn-bench", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kernel", help="force henn's NTT and vector kernels (default: the fastest available)")
    parser.add_argument("--only", help="comma-separated operation labels (default: all)")
    parser.add_argument("--log-n", default="13,14,15", help="comma-separated ring sizes among 13,14,15")
    parser.add_argument("--json")
    args = parser.parse_args()

    pairs = PAIRS
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        unknown = [w for w in wanted if w not in [p[0] for p in PAIRS]]
        if unknown:
            parser.error(f"unknown operation(s) {unknown}; known: {[p[0] for p in PAIRS]}")
        pairs = [p for p in PAIRS if p[0] in wanted]
    rings = {int(k): RINGS[int(k)] for k in args.log_n.split(",")}
    env = dict(os.environ)
    if args.kernel:
        env["HENN_NTT_KERNEL"] = env["HENN_VECTOR_KERNEL"] = args.kernel
    henn_filter = "^(" + "|".join(name for _, name, _ in pairs) + ")/"
    seal_filter = "(" + "|".join(sn for _, _, sns in pairs for sn in sns) + ")"

    results = {}
    context = {}
    for log_n, n in rings.items():
        henn_samples, seal_samples = {}, {}
        for _ in range(args.rounds):
            henn_json = run_json([args.henn_bench, f"--benchmark_filter={henn_filter}{log_n}$"], env)
            context = henn_json["context"]
            henn = henn_json["benchmarks"]
            for _, name, _ in pairs:
                henn_samples.setdefault(name, []).extend(cpu_times(henn, lambda s, nm=name: s == f"{nm}/{log_n}"))
            seal = run_json([args.sealbench, f"--benchmark_filter=^n={n} / .* / {seal_filter}/"])["benchmarks"]
            for _, _, seal_names in pairs:
                for sn in seal_names:
                    seal_samples.setdefault(sn, []).extend(cpu_times(seal, lambda s, sn=sn: f" / {sn}/" in s))
        for label, name, seal_names in pairs:
            h = statistics.median(henn_samples[name]) if henn_samples.get(name) else None
            parts = [statistics.median(seal_samples[sn]) for sn in seal_names if seal_samples.get(sn)]
            s = sum(parts) if len(parts) == len(seal_names) else None
            results.setdefault(label, {})[log_n] = (h, s)

    kernels = ", ".join(f"{k}: {context[k]}" for k in ("henn_ntt_kernel", "henn_vector_kernel") if k in context)
    print(f"henn kernels: {kernels or 'not reported by the benchmark'}; {args.rounds} round(s), median CPU time in us")
    print()
    print("| operation | " + " | ".join(f"henn 2^{k} | SEAL 2^{k} | ratio" for k in rings) + " |")
    print("| --- |" + " ---: | ---: | ---: |" * len(rings))
    for label, per_ring in results.items():
        cells = []
        for log_n in rings:
            h, s = per_ring[log_n]
            cells += [f"{h:.1f}" if h else "-", f"{s:.1f}" if s else "-", f"{s / h:.2f}x" if h and s else "-"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({label: {str(k): v for k, v in r.items()} for label, r in results.items()}, f, indent=2)


if __name__ == "__main__":
    main()

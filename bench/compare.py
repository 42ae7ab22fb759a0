#!/usr/bin/python3
"""normrt beside ONNX Runtime, same models, same inputs, same thread count.

    /usr/bin/python3 bench/compare.py [--seconds S] [--rounds R] [--threads 1,2] [--models a,b]
                                      [--normrt-args=--bf16-matmuls]

Installs onnxruntime-node into bench/.ort (npm, --ignore-scripts), exports the
models into build/bench_models (torchvision CNNs at 1x3x224x224, transformer
encoders and recurrent encoders at seq 128), checks the two runtimes' outputs agree, then runs them
alternately (R rounds of S seconds each) and prints the median latency of
each and their ratio, and each one's peak RSS. Needs build/normrt.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "build", "bench_models")
ORT_DIR = os.path.join(ROOT, "bench", ".ort")
NORMRT = os.path.join(ROOT, "build", "normrt")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def setup():
    if not os.path.exists(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node")):
        os.makedirs(ORT_DIR, exist_ok=True)
        print("installing onnxruntime-node into bench/.ort ...", file=sys.stderr)
        sh(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", ORT_DIR, "onnxruntime-node"])
    if not all(os.path.exists(os.path.join(MODELS, m + ".onnx")) for m in ("resnet18", "resnet50", "mobilenet_v2")):
        print("exporting torchvision models ...", file=sys.stderr)
        sh(["/usr/bin/python3", os.path.join(ROOT, "tests", "fixtures", "export_models.py"), "--full", MODELS])
    sh(["/usr/bin/python3", os.path.join(ROOT, "bench", "export_bench_models.py"), MODELS])


def make_inputs(model):
    """Seeded inputs for every graph input (dynamic dims: batch 1, sequence 128), as .npy files."""
    m = onnx.load(os.path.join(MODELS, model + ".onnx"), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    rng = np.random.default_rng(0)
    specs = []
    for v in m.graph.input:
        if v.name in inits:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else (1 if i == 0 else 128)
                for i, d in enumerate(v.type.tensor_type.shape.dim)]
        t = v.type.tensor_type.elem_type
        a = (rng.standard_normal(dims).astype(np.float32) if t == 1 else
             np.zeros(dims, dtype=bool) if t == 9 else np.zeros(dims, dtype=np.int64))
        path = os.path.join(MODELS, f"{model}.bench.{v.name}.npy")
        np.save(path, a)
        specs.append((v.name, path))
    return specs


def run_normrt(model, specs, threads, seconds, extra):
    args = [NORMRT, "bench", os.path.join(MODELS, model + ".onnx"), "--threads", str(threads), "--seconds", str(seconds),
            "--json"] + extra
    for name, path in specs:
        args += ["-i", f"{name}={path}"]
    return json.loads(sh(args))


def run_ort(model, specs, threads, seconds, out):
    args = ["node", os.path.join(ROOT, "bench", "ort_bench.js"), os.path.join(MODELS, model + ".onnx"), str(threads),
            str(seconds), out] + [f"{n}={p}" for n, p in specs]
    return json.loads(sh(args))


def agree(model, specs, extra):
    out_dir = os.path.join(MODELS, model + ".normrt_out")
    args = [NORMRT, "run", os.path.join(MODELS, model + ".onnx"), "-o", out_dir, "--iters", "0"] + extra
    for name, path in specs:
        args += ["-i", f"{name}={path}"]
    sh(["rm", "-rf", out_dir])
    sh(args)
    ours = np.load(os.path.join(out_dir, "output_0.npy"))
    ort_out = os.path.join(MODELS, model + ".ort_out.bin")
    r = run_ort(model, specs, 1, 0.01, ort_out)
    theirs = np.fromfile(ort_out, dtype=np.float32).reshape(r["shape"])
    return float(np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models", default="mobilenet_v2,resnet18,resnet50,encoder_d384_op13,encoder_d384_op17,"
                                        "encoder_d768_op13,encoder_d768_op17,lstm_h512,bigru_h512")
    ap.add_argument("--normrt-args", default="",
                    help="more options for normrt's runs, e.g. --normrt-args=--bf16-matmuls (ONNX Runtime stays float32)")
    a = ap.parse_args()
    extra = a.normrt_args.split()
    setup()
    rows = []
    for model in a.models.split(","):
        specs = make_inputs(model)
        diff = agree(model, specs, extra)
        for threads in (int(t) for t in a.threads.split(",")):
            ours, theirs = [], []
            for _ in range(a.rounds):  # alternate, so drift on a shared machine hits both
                ours.append(run_normrt(model, specs, threads, a.seconds, extra))
                theirs.append(run_ort(model, specs, threads, a.seconds, os.devnull))
            n = float(np.median([r["median_ms"] for r in ours]))
            o = float(np.median([r["median_ms"] for r in theirs]))
            rss_n = max(r["peak_rss_mb"] for r in ours)
            rss_o = max(r["peak_rss_mb"] for r in theirs)
            rows.append((model, threads, n, o, n / o, rss_n, rss_o, diff))
            print(f"{model:20s} t={threads}  normrt {n:8.3f} ms  ORT {o:8.3f} ms  ratio {n / o:5.2f}  "
                  f"rss {rss_n:6.1f} / {rss_o:6.1f} MB  max rel diff {diff:.1e}", file=sys.stderr)
    print("| model | threads | normrt median ms | ONNX Runtime median ms | normrt / ORT | peak RSS MB normrt / ORT | outputs max rel diff |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for m, t, n, o, r, rn, ro, d in rows:
        print(f"| {m} | {t} | {n:.2f} | {o:.2f} | {r:.2f} | {rn:.0f} / {ro:.0f} | {d:.1e} |")


if __name__ == "__main__":
    main()

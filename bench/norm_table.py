#!/usr/bin/python3
"""Reads bench_norm's JSON and prints each kernel as a ratio to the copy
benchmark and to oneDNN's primitive, from the same run:

    build/bench/bench_norm --benchmark_format=json | /usr/bin/python3 bench/norm_table.py
"""
import json
import sys

rates = {}
for b in json.load(sys.stdin)["benchmarks"]:
    name = b["name"].replace("/real_time", "")
    rates[name] = b["bytes_per_second"]
shapes = []
for name in rates:
    if name.startswith("BM_Copy/"):
        shapes.append(name.split("/", 1)[1])
isas = sorted({n.split("/")[1] for n in rates if n.startswith("BM_LayerNorm/")}, key=["avx512", "avx2", "scalar"].index)
print("| kernel | isa | shape | GB/s | / copy | / oneDNN |")
print("| --- | --- | --- | --- | --- | --- |")
for kernel, peer in (("LayerNorm", "BM_OneDnnLayerNorm"), ("RMSNorm", None), ("AddLayerNorm", None),
                     ("BatchNorm", "BM_OneDnnBatchNorm")):
    for isa in isas:
        for shape in shapes:
            r = rates.get(f"BM_{kernel}/{isa}/{shape}")
            if r is None:
                continue
            copy = rates[f"BM_Copy/{shape}"]
            p = rates.get(f"{peer}/{shape}") if peer else None
            vs_peer = f"{r / p:.2f}" if p else "-"
            print(f"| {kernel} | {isa} | {shape} | {r / 1e9:.1f} | {r / copy:.2f} | {vs_peer} |")

#!/usr/bin/env python3
"""The throughput curve of a `qbench run --workload throughput` result against the step roofline (issue 9).

Step roofline of a decode step of B sequences attending over C keys on average:
    time = (W + B * C * kv_bytes_per_token) / read_bandwidth,   output tok/s = B / time
with W the bytes of the Linears a step reads (every projection and the LM head; the embedding table only where it
is the LM head too), B the measured mean decode batch (decode rows per step, over steps that had any) and C the
measured mean attended length. Prefill time is in the measured throughput's duration but not in this roofline, so
the ratio is conservative.

usage: throughput_roofline.py RESULT.json [--bw-gbs 3077 | --roofline roofline.json] [--kv-bytes 2]
"""
import argparse
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("result")
    ap.add_argument("--bw-gbs", type=float, default=None)
    ap.add_argument("--roofline", default=None, help="bench_cuda_roofline's JSON (read_gb_per_s)")
    ap.add_argument("--kv-bytes", type=int, default=None, help="bytes per KV element (default: from the result's kv_type)")
    a = ap.parse_args()
    r = json.load(open(a.result))
    bw = a.bw_gbs
    if bw is None and a.roofline:
        bw = json.load(open(a.roofline))["read_gb_per_s"]
    if bw is None:
        bw = 3077.3
    m = r["model"]
    c = m["config"]
    w = r["workload"]
    kvb = a.kv_bytes or (4 if w["params"].get("kv_type") == "f32" else 2)
    weights = m["weight_bytes"]
    if not c.get("tie_word_embeddings", False):
        weights -= c["vocab_size"] * c["hidden_size"] * 2  # the embedding table: a decode step reads B rows of it
    kv_tok = 2 * c["num_layers"] * c["num_kv_heads"] * c["head_dim"] * kvb
    rows = []
    print(f"# {m['path']} on {m['device']}: W = {weights / 1e9:.3f} GB per step, KV {kv_tok} B/token, "
          f"read bandwidth {bw:.0f} GB/s")
    hdr = ("conc", "req", "out tok/s", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "GPU% p50", "GPU% mean",
           "mem% mean", "B mean", "ctx mean", "roof tok/s", "of roof")
    print("%5s %5s %10s %9s %9s %9s %9s %8s %9s %9s %7s %8s %10s %7s" % hdr)
    for p in w["points"]:
        s = p["summary"]
        B, C = s.get("mean_decode_batch", 0.0), s.get("mean_decode_context", 0.0)
        roof = B * bw * 1e9 / (weights + B * C * kv_tok) if B > 0 else float("nan")
        u = p.get("gpu_utilization", {})
        ug = u.get("gpu_percent", {}) if u.get("available") else {}
        um = u.get("memory_percent", {}) if u.get("available") else {}
        row = {
            "concurrency": p.get("concurrency"), "requests": p.get("n_requests"),
            "output_tokens_per_s": s["output_tokens_per_s"],
            "ttft_p50_ms": s["ttft_ms"]["p50"], "ttft_p99_ms": s["ttft_ms"]["p99"],
            "tpot_p50_ms": s["tpot_ms"]["p50"] if s.get("tpot_ms") else None,
            "tpot_p99_ms": s["tpot_ms"]["p99"] if s.get("tpot_ms") else None,
            "gpu_util_p50": ug.get("p50"), "gpu_util_mean": ug.get("mean"), "mem_util_mean": um.get("mean"),
            "mean_decode_batch": B, "mean_decode_context": C, "roofline_tokens_per_s": roof,
            "of_roofline": s["output_tokens_per_s"] / roof if roof == roof else None,
        }
        rows.append(row)
        f = lambda v, fmt: (fmt % v) if v is not None else "-"
        print("%5s %5s %10.1f %9.1f %9.1f %9s %9s %8s %9s %9s %7.2f %8.1f %10.0f %6.0f%%" % (
            row["concurrency"], row["requests"], row["output_tokens_per_s"], row["ttft_p50_ms"], row["ttft_p99_ms"],
            f(row["tpot_p50_ms"], "%.2f"), f(row["tpot_p99_ms"], "%.2f"), f(row["gpu_util_p50"], "%.0f"),
            f(row["gpu_util_mean"], "%.1f"), f(row["mem_util_mean"], "%.1f"), B, C, roof,
            100 * (row["of_roofline"] or 0)))
    base = next((x for x in rows if x["concurrency"] == 1), None)
    if base:
        for x in rows:
            x["vs_concurrency_1"] = x["output_tokens_per_s"] / base["output_tokens_per_s"]
        print("output tok/s vs concurrency 1: " + ", ".join(
            f"{x['concurrency']}: {x['vs_concurrency_1']:.2f}x" for x in rows))
    json.dump({"bandwidth_gb_per_s": bw, "weights_bytes_per_step": weights, "kv_bytes_per_token": kv_tok,
               "points": rows}, open(a.result.replace(".json", "-roofline.json"), "w"), indent=1)


if __name__ == "__main__":
    main()

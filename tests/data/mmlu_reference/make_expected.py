#!/usr/bin/env python3
"""Letter logits of the tiny-qwen2 FP16 fixture, computed by Hugging Face transformers.

Input:  prompts.json (written by qbench's tests/mmlu_reference_test.cpp with
        QBENCH_WRITE_MMLU_PROMPTS=1): the prompt token ids of a few 5-shot MMLU-Redux
        questions and the four answer-letter token ids. Taking ids rather than text rules
        out tokenizer differences: this checks the model, prefix reuse and scoring.
Output: expected.json: for every prompt, the logits of the four letter ids at the last
        prompt position, computed in float32 (weights upcast from F16, eager attention,
        one full forward, no KV cache), as the fixture README's reference logits were.

Usage (on a machine with torch + transformers, e.g. the device machine):
    python3 make_expected.py --model ../shared/fixtures/tiny-qwen2/hf-fp16 \
        --prompts tests/data/mmlu_reference/prompts.json --out tests/data/mmlu_reference/expected.json
"""
import argparse
import json

import torch
import transformers
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(args.prompts) as f:
        spec = json.load(f)
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    letter_ids = spec["letter_token_ids"]
    out = {
        "source": "transformers %s, torch %s, float32, eager attention, CPU" % (transformers.__version__, torch.__version__),
        "model": args.model,
        "letter_token_ids": letter_ids,
        "questions": [],
    }
    with torch.no_grad():
        for q in spec["questions"]:
            ids = torch.tensor([q["prompt_ids"]], dtype=torch.long)
            logits = model(input_ids=ids).logits[0, -1].to(torch.float64)
            out["questions"].append({
                "subject": q["subject"],
                "index": q["index"],
                "letter_logits": [float(logits[i]) for i in letter_ids],
            })
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

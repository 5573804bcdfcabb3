"""Tokens per second of our managed llama-server vs llama.cpp's own ``llama-bench`` (same model, threads).

    python bench/local_inference.py [--model local] [--prompt-tokens 512] [--gen-tokens 128] [--repeats 3]

``llama-bench`` measures prompt processing (pp) and generation (tg) in-process. The managed server
(``LlamaServer``, as every ``--model local`` command starts it) gets a prompt of the same length
with the prompt cache off, and ``n_predict`` tokens to generate with EOS ignored; the speeds are
the server's own timings for that request, and the client-side wall time is reported too.
Run it on an otherwise idle machine: both sides use every core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import httpx

from tfgrpo_agents.models.local_model import LlamaServer, model_path, server_binary

ROOT = Path(__file__).resolve().parent.parent


def llama_bench(model: Path, threads: int, prompt_tokens: int, gen_tokens: int, repeats: int) -> dict[str, float]:
    binary = server_binary().with_name("llama-bench")
    command = [str(binary), "-m", str(model), "-t", str(threads), "-p", str(prompt_tokens), "-n", str(gen_tokens),
               "-r", str(repeats), "-o", "json"]
    output = subprocess.run(command, capture_output=True, text=True, check=True,
                            env={**os.environ, "LD_LIBRARY_PATH": str(binary.parent)}).stdout
    rows = json.loads(output)
    speeds = {}
    for row in rows:
        kind = "prompt" if row.get("n_prompt") else "generation"
        speeds[kind] = float(row["avg_ts"])
    return speeds


def prompt_of(tokens: int) -> str:
    # ≈ one token per word for plain English words with this tokenizer; the server reports the real count
    words = ("the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches "
             "near old river banks ").split()
    return " ".join(words[i % len(words)] for i in range(tokens))


def managed_server(key: str, threads: int, prompt_tokens: int, gen_tokens: int, repeats: int) -> dict[str, float]:
    prompt, generation, walls, counted = [], [], [], []
    with LlamaServer(key, threads=threads, parallel=1) as server:
        root = server.base_url.removesuffix("/v1")
        with httpx.Client(timeout=600) as client:
            client.post(f"{root}/completion", json={"prompt": "warm up", "n_predict": 4})
            for i in range(repeats):
                body = {"prompt": f"{i} " + prompt_of(prompt_tokens), "n_predict": gen_tokens, "cache_prompt": False,
                        "ignore_eos": True, "temperature": 0.0}
                start = time.perf_counter()
                timings = client.post(f"{root}/completion", json=body).raise_for_status().json()["timings"]
                walls.append(time.perf_counter() - start)
                prompt.append(timings["prompt_per_second"])
                generation.append(timings["predicted_per_second"])
                counted.append(timings["prompt_n"])
    return {"prompt": statistics.median(prompt), "generation": statistics.median(generation),
            "wall_s": statistics.median(walls), "prompt_tokens_counted": statistics.median(counted)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="local")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--gen-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "local_inference.json")
    args = parser.parse_args()
    model = model_path(args.model)
    reference = llama_bench(model, args.threads, args.prompt_tokens, args.gen_tokens, args.repeats)
    print("llama-bench", reference, flush=True)
    ours = managed_server(args.model, args.threads, args.prompt_tokens, args.gen_tokens, args.repeats)
    print("managed server", ours, flush=True)
    result = {"model": model.name, "threads": args.threads, "prompt_tokens": args.prompt_tokens,
              "gen_tokens": args.gen_tokens, "repeats": args.repeats, "llama_bench": reference, "managed_server": ours,
              "ratio": {kind: round(ours[kind] / reference[kind], 3) for kind in ("prompt", "generation")},
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("ratio", result["ratio"], f"→ {args.out}")


if __name__ == "__main__":
    main()

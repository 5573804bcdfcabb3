"""Task sets from the Hugging Face hub (``hf:openai/gsm8k:main:test``), fetched once and cached.

Rows come from the hub's dataset viewer API as JSON (no ``datasets``/``pyarrow`` dependency), are
written to a local jsonl cache, and load like any task file from then on, offline included.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx

from tfgrpo_agents._cache import cache_root
from tfgrpo_agents._atomic import atomic_write_text
from tfgrpo_agents.errors import TfgrpoError

ROWS_API = "https://datasets-server.huggingface.co/rows"
PAGE = 100  # the API's largest page


class HubError(TfgrpoError, RuntimeError):
    """The hub could not be reached or did not return the dataset."""


def parse_spec(spec: str) -> tuple[str, str, str]:
    """``hf:DATASET[:CONFIG[:SPLIT]]`` → (dataset, config, split); config ``default``, split ``test``."""
    parts = spec.removeprefix("hf:").split(":")
    if not parts[0] or "/" not in parts[0] or len(parts) > 3:
        raise ValueError(f"{spec!r} is not hf:OWNER/DATASET[:CONFIG[:SPLIT]] (e.g. hf:openai/gsm8k:main:test)")
    dataset, config, split = (parts + ["default", "test"][len(parts) - 1:])[:3]
    return dataset, config, split


def cache_path(spec: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    dataset, config, split = parse_spec(spec)
    root = Path(cache_dir or cache_root()) / "hub"
    return root / f"{dataset.replace('/', '__')}-{config}-{split}.jsonl"


def fetch(spec: str, *, cache_dir: str | os.PathLike[str] | None = None, client: httpx.Client | None = None) -> Path:
    """The local jsonl copy of a hub split, downloading it first if it is not cached yet."""
    target = cache_path(spec, cache_dir)
    if target.exists():
        return target
    dataset, config, split = parse_spec(spec)
    own = client is None
    client = client or httpx.Client(timeout=30, follow_redirects=True)
    rows: list[dict] = []
    try:
        total = None
        while total is None or len(rows) < total:
            params = {"dataset": dataset, "config": config, "split": split, "offset": len(rows), "length": PAGE}
            try:
                response = client.get(ROWS_API, params=params)
                response.raise_for_status()
                page = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise HubError(f"cannot fetch {spec} from the Hugging Face hub ({exc}); offline, pass a local "
                               "task file instead (e.g. ../shared/data/math/gsm8k_test.jsonl)") from exc
            total = page.get("num_rows_total", 0)
            batch = page.get("rows") or []
            if not batch:
                break
            rows += [{"idx": item.get("row_idx"), **item["row"]} for item in batch]
    finally:
        if own:
            client.close()
    if not rows:
        raise HubError(f"{spec}: the hub returned no rows (check the dataset, config and split names)")
    atomic_write_text(target, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return target

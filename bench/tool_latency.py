"""What the web tools cost per call, without a model: warm search, page extraction, index re-open.

    python bench/tool_latency.py                  # the three documentation sites
    python bench/tool_latency.py --pages 60       # a quicker sample of pages

For each documentation site (Python 3.11 and Django 3.2 docs from ``../shared/data/sites``, Debian's
GLib manual when installed):

* **search** — every ``web_search`` query recorded in the site's benchmark rollouts
  (``bench/results/**/<domain>/eval/*/trajectories.jsonl``) asked again of the warm index, results
  formatted as the tool returns them; one warm-up pass first;
* **extraction** — what ``web_browse`` does once a page's bytes are in hand (parse, main text,
  links, the rendering for the model's goal) on every HTML page of the site (``--pages N``: a
  seeded sample), so the percentiles are the site's own;
* **re-open** — opening the cached index of an unchanged site in a fresh process (what every
  worker process and every CLI run pays), and again in the same process.

Results go to ``bench/results/tool_latency.json``; the table is printed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tfgrpo_agents.core.trajectory import read_trajectories
from tfgrpo_agents.tools.browse import render_page
from tfgrpo_agents.tools.page import parse_html
from tfgrpo_agents.tools.search import format_hits
from tfgrpo_agents.tools.search_index import LocalSearchIndex
from tfgrpo_agents.tools.site_files import SiteFiles

ROOT = Path(__file__).resolve().parent.parent
SITES = {
    "web-docs": ROOT.parent / "shared" / "data" / "sites" / "python-3.11-docs.tar.gz",
    "web-django": ROOT.parent / "shared" / "data" / "sites" / "django-3.2-docs.tar.gz",
    "web-glib": Path("/usr/share/gtk-doc/html/glib"),
}
REOPEN = ("import sys, time; from tfgrpo_agents.tools.search_index import LocalSearchIndex as I; "
          "t = time.perf_counter(); I.for_site(sys.argv[1]); print((time.perf_counter() - t) * 1000)")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "median_ms": statistics.median(values), "p90_ms": percentile(values, 0.9),
            "p99_ms": percentile(values, 0.99), "max_ms": max(values)}


def recorded_queries(domain: str) -> list[str]:
    queries: list[str] = []
    for path in sorted((ROOT / "bench" / "results").glob(f"**/{domain}/eval/*/trajectories.jsonl")):
        for trajectory in read_trajectories(path):
            queries += [str(c.args.get("query", "")) for c in trajectory.tool_calls if c.name == "web_search"]
    return sorted({q for q in queries if q.strip()})


def timed(call, *args) -> float:
    start = time.perf_counter()
    call(*args)
    return (time.perf_counter() - start) * 1000


def search_latency(index: LocalSearchIndex, queries: list[str]) -> dict[str, float]:
    for query in queries:  # warm-up: page cache, SQLite cache, title weights
        index.search(query)
    return summary([timed(lambda q: format_hits(q, index.search(q)), q) for q in queries])


def extraction_latency(files: SiteFiles, pages: int, seed: int) -> dict[str, float]:
    paths = files.html_paths()
    if pages and pages < len(paths):
        paths = sorted(random.Random(seed).sample(paths, pages))
    markups = {p: (files.read(p) or b"").decode("utf-8", "replace") for p in paths}

    def extract(path: str) -> None:
        render_page(parse_html(markups[path], f"http://site.test/{path}"), "when was this added")

    extract(paths[0])
    result = summary([timed(extract, p) for p in paths])
    result["largest_page_kb"] = max(len(m) for m in markups.values()) / 1024
    return result


def reopen_latency(site: Path, runs: int) -> dict[str, float]:
    LocalSearchIndex.for_site(site).close()  # built (or refreshed) before timing
    fresh = [float(subprocess.run([sys.executable, "-c", REOPEN, str(site)], check=True, capture_output=True,
                                  text=True).stdout) for _ in range(runs)]
    same = [timed(lambda: LocalSearchIndex.for_site(site).close()) for _ in range(runs)]
    return {"fresh_process_median_ms": statistics.median(fresh), "same_process_median_ms": statistics.median(same)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=0, help="pages sampled per site for extraction (0: all)")
    parser.add_argument("--reopens", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tool_latency.json")
    args = parser.parse_args()
    results = {}
    for domain, site in SITES.items():
        if not site.exists():
            print(f"{domain}: {site} is not here; skipped")
            continue
        reopen = reopen_latency(site, args.reopens)
        index = LocalSearchIndex.for_site(site)
        queries = recorded_queries(domain)
        results[domain] = {"site": str(site), "reopen": reopen,
                           "search": search_latency(index, queries) if queries else None,
                           "extraction": extraction_latency(SiteFiles(site), args.pages, args.seed)}
        index.close()
        row = results[domain]
        search = row["search"] or {}
        print(f"{domain}: search {search.get('median_ms', float('nan')):.1f} ms median "
              f"(p90 {search.get('p90_ms', float('nan')):.1f}, {search.get('n', 0)} recorded queries) · "
              f"extraction {row['extraction']['median_ms']:.1f} ms median, p99 {row['extraction']['p99_ms']:.0f}, "
              f"max {row['extraction']['max_ms']:.0f} ({row['extraction']['n']} pages) · re-open "
              f"{reopen['fresh_process_median_ms']:.1f} ms in a fresh process, {reopen['same_process_median_ms']:.1f} "
              f"in the same")
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                    "command": " ".join(["python", "bench/tool_latency.py", *sys.argv[1:]]),
                                    "sites": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()

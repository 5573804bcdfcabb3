"""Learning gain and learning cost on the embedded model: baseline vs Training-Free GRPO vs direct tips vs G=1.

    python bench/learning_gain.py --domain math          # GSM8K slice with the python tool
    python bench/learning_gain.py --domain web-docs      # QA over the Python 3.11 docs (tasks/python_docs)
    python bench/learning_gain.py --domain web-synthetic # the synthetic multi-site web (tasks/synthetic_web)
    python bench/learning_gain.py --domain web-django    # QA over the Django 3.2 docs (tasks/django_docs)
    python bench/learning_gain.py --domain web-glib      # QA over Debian's GLib manual, GTK-Doc (tasks/glib_docs)
    python bench/learning_gain.py --domain web-synthetic --library bench/results/web-docs/learn-g3/library.json
                                                         # transfer: a library learned elsewhere, as an extra arm
    python bench/learning_gain.py --domain web-synthetic --arms baseline --first-call free --out OUT
                                                         # the web agent's first reply left free (BENCHMARKS.md §4c)
    python bench/learning_gain.py --domain web-synthetic-unseen --arms baseline,oracle --test 51 --library LIB
                                                         # held-out transfer: the site families anew, new facts

Every phase caches its rollouts under ``--out/<domain>/`` and the learning runs checkpoint, so killing
the script and running the same command again resumes where it stopped. Phases run in the order
baseline → TF-GRPO learning → its arm → direct tips → G=1 learning → its arm, so the headline
comparison lands first. ``results[-trace][-TAG].md`` / ``.json`` hold the comparison (Mean@k with paired
bootstrap CIs, tool calls, repeated calls, forced answers, answer length, tokens) and the learning
cost per stage, priced as if the same tokens went to a public API (``--price-as``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tfgrpo_agents._async import run_sync
from tfgrpo_agents.agents import LessonDelivery
from tfgrpo_agents.datasets.synthetic_web import PUBLIC_ROOT
from tfgrpo_agents.datasets.synthetic_web import generate as generate_synthetic_web
from tfgrpo_agents.evaluation import (
    EvalConfig,
    EvalSettings,
    generate_direct_tips,
    parse_ratio,
    stratified_sample,
    train_test_split,
)
from tfgrpo_agents.evaluation.report import comparison_markdown
from tfgrpo_agents.experience import save_library
from tfgrpo_agents.learning import (
    DEFAULT_PRICES,
    LearnSettings,
    ReflectionSettings,
    RunDir,
    Task,
    ValidationSettings,
    load_tasks,
    read_trajectories,
)
from tfgrpo_agents.learning.domains import DOMAINS, Domain
from tfgrpo_agents.models.local_model import ROLLOUT_SERVER, LlamaServer
from tfgrpo_agents.session import Experiment
from tfgrpo_agents._cache import cache_root

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"


@dataclass
class Setup:
    """What differs between domains: tasks, tools, prompts, grader."""

    train: list[Task]
    test: list[Task]
    domain: Domain  # system prompt, objectives, tool-first reminder
    grader: str  # strict short-answer scoring for web (the domain's default is an LLM judge)
    tool_options: dict[str, Any]  # for the domain's tools (the site to serve)


# domain → (task folder under tasks/, the site the agent browses, its public address)
WEB_SETS = {
    "web-docs": ("python_docs", SHARED / "sites" / "python-3.11-docs.tar.gz", "https://docs.python.org/3.11/"),
    "web-django": ("django_docs", SHARED / "sites" / "django-3.2-docs.tar.gz", "https://docs.djangoproject.com/en/3.2/"),
    "web-glib": ("glib_docs", Path("/usr/share/gtk-doc/html/glib"), "https://developer-old.gnome.org/glib/stable/"),
    "web-synthetic": ("synthetic_web", None, PUBLIC_ROOT),
}
# Held-out transfer: the same site families generated anew (other people, dates, items and prices; the same
# conventions), every one of its questions a test question. Nothing is learned here: libraries come from web-synthetic.
UNSEEN_WEB = "web-synthetic-unseen"
UNSEEN_WEB_SEED = 1  # the default; --web-seed picks another (a confirmation set: its results go to …-seedN)
WEB_MIX = "4:7:6"  # easy:medium:hard of every web sample
# where a domain's hand-written library is (bench/oracle/<file>.json)
ORACLE_FILE = {"math-reason": "math", UNSEEN_WEB: "web-synthetic"}


def setup(domain: str, n_train: int, n_test: int, seed: int, test_split: str = "test",
          web_seed: int = UNSEEN_WEB_SEED) -> Setup:
    if domain in ("math", "math-reason"):  # the same questions; math-reason's scaffold reasons before the code
        train, test = train_test_split(load_tasks(SHARED / "math" / "gsm8k_test.jsonl"), train=n_train, test=n_test,
                                       seed=seed)
        return Setup(train, test, DOMAINS[domain], "math", {})
    if domain == UNSEEN_WEB:
        web = unseen_web(web_seed)
        pool = [t.model_copy(update={"id": f"seed{web_seed}-{t.id}"})
                for t in load_tasks(web / "train.jsonl") + load_tasks(web / "test.jsonl")]
        test = stratified_sample(pool, n_test, ratio=parse_ratio(WEB_MIX), seed=seed)
        return Setup([], test, DOMAINS["web"], "short", {"site": str(web / "site"), "public_url": PUBLIC_ROOT})
    if domain in WEB_SETS:
        folder, site, public_url = WEB_SETS[domain]
        folder = ROOT / "tasks" / folder
        ratio = parse_ratio(WEB_MIX)
        train = stratified_sample(load_tasks(folder / "train.jsonl"), n_train, ratio=ratio, seed=seed)
        pool = load_tasks(folder / "test.jsonl")
        if test_split == "all":  # nothing is learned on this domain: every task is unseen
            pool = load_tasks(folder / "train.jsonl") + pool
        test = stratified_sample(pool, n_test, ratio=ratio, seed=seed)
        return Setup(train, test, DOMAINS["web"], "short", {"site": str(site or folder / "site"),
                                                            "public_url": public_url})
    raise SystemExit(f"unknown domain {domain!r}")


def unseen_web(web_seed: int) -> Path:
    """The synthetic web of another seed, generated once into the user's cache (it is deterministic)."""
    if web_seed == 0:
        raise SystemExit("--web-seed 0 is the committed synthetic web the libraries are written and learned on")
    web = cache_root() / f"synthetic-web-seed{web_seed}"
    if not (web / "test.jsonl").exists():
        generate_synthetic_web(web, seed=web_seed)
    return web


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def learn(out: Path, name: str, experiment: Experiment, train: list[Task], args, group_size: int, model_id: str,
          reflection: ReflectionSettings) -> tuple[Path, dict]:
    run_dir = out / name
    if args.reuse_first_step:
        reuse_first_step(args.reuse_first_step, run_dir, train, group_size + args.resample_flat)
    settings = LearnSettings(name=name, domain=args.domain, group_size=group_size, epochs=args.epochs,
                             batch_size=args.batch_size, seed=args.seed, max_steps=args.max_steps, concurrency=ROLLOUT_SERVER["parallel"],
                             rollout_timeout_s=300, model_id=model_id, teacher_model_id=model_id,
                             reflection=reflection, delivery=LessonDelivery.parse(args.learn_delivery),
                             resample_flat=args.resample_flat, look_up_failures=args.look_up_failures,
                             validation=ValidationSettings(tasks=args.validate, samples=args.validate_samples,
                                                           settle_samples=args.validate_settle)
                             if args.validate else None)
    learner = experiment.learner(
        settings, run_dir,
        on_event=lambda event: log(f"{name}: {event.kind} {event.model_dump()}") if event.kind != "rollout" else None)
    started = time.monotonic()
    learner.fit(train)
    ledger = learner.ledger()
    priced = {model_id: DEFAULT_PRICES[args.price_as]}
    cost = ledger.summary(priced)
    cost["steps"] = [{"step": s.step, "wall_time_s": round(s.wall_time_s, 1)} for s in ledger.steps]
    log(f"{name}: learned in {time.monotonic() - started:.0f}s this run; cost {json.dumps(cost)[:300]}")
    return run_dir / "library.json", cost


def reuse_first_step(source: Path, run_dir: Path, train: list[Task], samples: int) -> None:
    """Seed a new run's step-1 rollouts from an earlier run's record.

    Step 1 runs the agent with an empty library, so its rollouts do not depend on the reflection
    being compared; reusing them isolates the reflection change and saves the model time. Only
    rollouts of the same tasks and questions are taken (``samples`` a task: G, and the resampled ones of
    flat groups), and only into an empty cache.
    """
    questions = {t.id: t.question for t in train}
    cache = RunDir(run_dir)
    taken = 0
    for t in read_trajectories(source / "steps" / "step-0001" / "trajectories.jsonl"):
        key = f"step1-{t.task_id}-{t.sample}"
        if questions.get(t.task_id) == t.question and t.sample < samples and t.library_step == 0 \
                and cache.cached("rollout", key) is None:
            cache.cache("rollout", key, t.model_copy(update={"reward": None, "grader_reasoning": None}).model_dump(mode="json"))
            taken += 1
    log(f"{run_dir.name}: {taken} step-1 rollouts taken from {source}")


def learning_options(args) -> str:
    """The learner's options beyond the paper, as they name runs, arms and results files (…-resample3-lookup)."""
    return ((f"-resample{args.resample_flat}" if args.resample_flat else "")
            + ("-lookup" if args.look_up_failures else "") + ("-evidence" if args.evidence_lessons else ""))


def library_arm_name(library: Path) -> str:
    """``library:web-docs/learn-g3-trace-positive`` for ``…/web-docs/learn-g3-trace-positive/library.json``."""
    folder = library.parent if library.name == "library.json" else library.with_suffix("")
    return f"library:{folder.parent.name}/{folder.name}"


def cost_markdown(costs: dict[str, dict], price_as: str) -> list[str]:
    lines = ["", f"## Learning cost (tokens; dollars as if priced at `{price_as}`)", "",
             "| run | rollout tokens | summarize | advantage | group_ops | consolidate | validate | reflection ÷ rollout "
             "| wall time per step (s) | dollars |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, c in costs.items():
        stages = c["tokens_by_stage"]

        def tokens(stage: str) -> str:
            usage = stages.get(stage)
            return f"{usage['input'] + usage['output']:,}" if usage else "0"

        per_step = [s["wall_time_s"] for s in c["steps"]]
        lines.append(f"| {name} | {c['rollout_tokens']:,} | {tokens('summarize')} | {tokens('advantage')} "
                     f"| {tokens('group_ops')} | {tokens('consolidate')} | {tokens('validate')} | {c['reflection_to_rollout_ratio']} "
                     f"| {', '.join(f'{t:.0f}' for t in per_step)} | ${c['dollars_total']:.4f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domain", required=True, choices=["math", "math-reason", *WEB_SETS, UNSEEN_WEB])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--model", default="local")
    parser.add_argument("--test", type=int, default=40)
    parser.add_argument("--train", type=int, default=16)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--group-size", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=256,
                        help="reply cap of the policy (a long first reply is re-asked as a tool call anyway)")
    parser.add_argument("--summaries", default="teacher", choices=["teacher", "trace"],
                        help="rollout summaries by the teacher, or built from the recorded trace (no tokens)")
    parser.add_argument("--tag", help="a name for a variant of the prompts: its runs, arms and results are kept apart")
    parser.add_argument("--reuse-first-step", type=Path, metavar="RUN_DIR",
                        help="take step 1's rollouts (empty library) from an earlier learning run's record")
    parser.add_argument("--tips", type=int, default=6, help="how many directly generated tips")
    parser.add_argument("--arms", default="baseline,tfgrpo,tips,g1",
                        help="any of baseline, tfgrpo, tips, g1 and oracle (bench/oracle/<domain>.json, hand-written)")
    parser.add_argument("--delivery", action="append", default=[],
                        help="each library arm again with this lesson delivery (relevant, restate, check, next or nextN; "
                             "comma-separated, repeatable)")
    parser.add_argument("--learn-delivery", default="", metavar="DELIVERY",
                        help="the lesson delivery of the learning run's own rollouts and validation (default: the "
                             "plain system prompt, as in the paper; runs and arms are named …-learn-DELIVERY)")
    parser.add_argument("--delivery-only", action="store_true",
                        help="library arms only with the --delivery placements, not in the plain system prompt")
    parser.add_argument("--library", action="append", default=[],
                        help="extra arm: a library file (learned on another domain: transfer; or replayed)")
    parser.add_argument("--test-split", default="test", choices=["test", "all"],
                        help="'all' tests on train + test tasks: only for transfer runs (--arms baseline --library …)")
    parser.add_argument("--validate", type=int, default=0, metavar="N",
                        help="validated updates: keep a step's change only if it does not lower the mean reward "
                             "on N training tasks (its runs and arms are named …-validateN)")
    parser.add_argument("--validate-samples", type=int, default=1, metavar="S",
                        help="rollouts per validation task (S > 1: runs and arms are named …-validateNxS)")
    parser.add_argument("--validate-settle", type=int, default=0, metavar="S",
                        help="an operation that lost by one rollout gets S more paired rollouts a task, and is kept "
                             "if it loses no more (runs and arms are named …-settleS)")
    parser.add_argument("--resample-flat", type=int, default=0, metavar="N",
                        help="N more rollouts, once, for a task whose G rewards are all equal (runs and arms are "
                             "named …-resampleN)")
    parser.add_argument("--look-up-failures", action="store_true",
                        help="a group whose every rollout failed is compared with where the answer is, looked up "
                             "with the agent's search tool (runs and arms are named …-lookup)")
    parser.add_argument("--evidence-lessons", action="store_true",
                        help="a group whose every lesson the teacher wrote was refused gets the lesson its evidence "
                             "states (runs and arms are named …-evidence)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--web-seed", type=int, default=UNSEEN_WEB_SEED,
                        help=f"{UNSEEN_WEB}: the seed its sites are generated with (other than 1: results in …-seedN)")
    parser.add_argument("--first-call", default=None, metavar="TOOL|required|free",
                        help="override the agent's first_call (free: the first reply is not decoded as a call, "
                             "the set-up before first_call), for an A/B")
    parser.add_argument("--price-as", default="deepseek-chat", choices=sorted(DEFAULT_PRICES))
    args = parser.parse_args()

    arms = args.arms.split(",")
    if args.test_split == "all" and (set(arms) - {"baseline"} or args.domain.startswith("math")):
        parser.error("--test-split all tests on the training tasks too: use it with --arms baseline and --library "
                     "files learned on another domain (a web domain)")
    if args.domain == UNSEEN_WEB and set(arms) - {"baseline", "oracle"}:
        parser.error(f"{UNSEEN_WEB} only tests: use --arms baseline,oracle and --library files learned on web-synthetic")
    # runs with trace summaries, or of a tagged variant of the prompts, are kept apart from the others
    suffix = (("-trace" if args.summaries == "trace" else "") + (f"-{args.tag}" if args.tag else "")
              + (f"-learn-{LessonDelivery.parse(args.learn_delivery).spec}" if args.learn_delivery else ""))
    out = args.out / (args.domain + (f"-seed{args.web_seed}" if args.domain == UNSEEN_WEB
                                     and args.web_seed != UNSEEN_WEB_SEED else ""))
    out.mkdir(parents=True, exist_ok=True)
    s = setup(args.domain, args.train, args.test, args.seed, args.test_split, args.web_seed)
    if args.first_call:
        s = replace(s, domain=replace(s.domain, first_call=None if args.first_call == "free" else args.first_call))
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    log(f"{args.domain}: {len(s.train)} train / {len(s.test)} test tasks, k={args.k}, arms {arms}")
    costs: dict[str, dict] = {}
    with LlamaServer.for_rollouts(args.model) as server, Experiment(
            s.domain, server.chat_model(temperature=0.7, max_tokens=args.max_tokens),
            server.chat_model(temperature=0.0, max_tokens=700), grader=s.grader, tool_options=s.tool_options,
            max_steps=args.max_steps) as experiment:
        teacher = experiment.teacher

        settings = EvalSettings(k=args.k, temperature=0.3, seed=args.seed, concurrency=server.parallel,
                                max_steps=args.max_steps,
                                model_id=server.model_id, timeout_s=300)
        configs = [EvalConfig(name="baseline")]

        def run_arm(config: EvalConfig) -> None:
            t0 = time.monotonic()
            run, _ = run_sync(experiment.aevaluate(config, s.test, settings, out / "eval"))
            log(f"arm {config.name}: Mean@{args.k} {run.summary.mean_at_k:.3f}, tool calls "
                f"{run.summary.avg_tool_calls:.2f} ({time.monotonic() - t0:.0f}s)")

        def add_arm(name: str, library: Path | str) -> None:
            if not (args.delivery_only and args.delivery):
                configs.append(EvalConfig(name=name, library=str(library)))
                run_arm(configs[-1])
            for spec in args.delivery:
                delivery = LessonDelivery.parse(spec)
                configs.append(EvalConfig(name=f"{name}+{delivery.spec}", library=str(library), delivery=delivery))
                run_arm(configs[-1])

        run_arm(configs[0])
        if "oracle" in arms:
            add_arm("oracle", ROOT / "bench" / "oracle" / f"{ORACLE_FILE.get(args.domain, args.domain)}.json")
        validated = (f"-validate{args.validate}" + (f"x{args.validate_samples}" if args.validate_samples > 1 else "")
                     + (f"-settle{args.validate_settle}" if args.validate_settle else "") if args.validate else "")
        validated = learning_options(args) + validated
        reflection = s.domain.reflection(retries=2, summaries=args.summaries, evidence_lessons=args.evidence_lessons)
        if "tfgrpo" in arms:
            name = f"learn-g{args.group_size}{suffix}{validated}"
            library, costs[name] = learn(out, name, experiment, s.train, args, args.group_size,
                                         server.model_id, reflection)
            add_arm(f"tf-grpo{suffix}{validated}", library)
        if "tips" in arms:
            # tips written in the domain's lesson pattern, as the learned lessons are, are a separate arm
            pattern = ("-pattern" if s.domain.lesson_template else "") + (f"-{args.tag}" if args.tag else "")
            tips_path = out / f"direct_tips{pattern.replace('-', '_')}.json"
            if not tips_path.exists():
                save_library(generate_direct_tips(teacher, s.train, count=args.tips, model_id=server.model_id,
                                                  settings=s.domain.reflection(retries=2)),
                             tips_path)
            add_arm(f"direct-tips{pattern}", tips_path)
        if "g1" in arms:
            library, costs[f"learn-g1{suffix}{validated}"] = learn(
                out, f"learn-g1{suffix}{validated}", experiment, s.train, args, 1, server.model_id, reflection)
            add_arm(f"g1{suffix}{validated}", library)
        for item in args.library:
            add_arm(library_arm_name(Path(item)), item)
        comparison = experiment.compare(configs, s.test, settings, out / "eval")

    header = [f"# Learning gain: {args.domain}", "",
              f"Command: `python bench/learning_gain.py {' '.join(sys.argv[1:])}`  ",
              f"Model: {server.model_id} (policy and teacher) · machine: {platform.machine()}, "
              f"{os.cpu_count()} cores · started {started} · seed {args.seed}  ",
              f"Train {len(s.train)} tasks (G={args.group_size}, {args.epochs} epoch(s), batch {args.batch_size}); "
              f"test {len(s.test)} tasks × k={args.k}; max {args.max_steps} tool steps, {args.max_tokens} tokens a reply.", ""]
    body = comparison_markdown(comparison).split("\n", 2)[2]
    settled = f"-settle{args.validate_settle}" if args.validate and args.validate_settle else ""
    variant = learning_options(args) + settled
    results = out / f"results{suffix}{variant}.md"
    results.write_text("\n".join(header) + body + "\n".join(cost_markdown(costs, args.price_as)) + "\n")
    results.with_suffix(".json").write_text(json.dumps({"comparison": comparison.model_dump(mode="json"), "costs": costs,
                                                  "args": {k: str(v) for k, v in vars(args).items()}}, indent=2))
    log(f"wrote {results}")


if __name__ == "__main__":
    main()

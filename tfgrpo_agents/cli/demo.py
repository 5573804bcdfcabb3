"""``tfgrpo demo``: the whole method offline on the embedded model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tfgrpo_agents.cli.common import (
    SeedOpt,
    _fail,
    _load,
    _print_library,
    _progress,
    app,
    console,
    validation_verdict,
)


@app.command("demo")
def demo(
    quick: Annotated[bool, typer.Option(help="About 2 minutes on 2 cores instead of about 6.")] = False,
    model: Annotated[str, typer.Option(help="Embedded model: local (1.5B) or local-0.5b.")] = "local",
    out: Annotated[Path | None, typer.Option(help="Output directory (default: runs/demo[-quick]).")] = None,
    seed: SeedOpt = 0,
) -> None:
    """Offline, end to end: baseline → Training-Free GRPO → learned library, on the embedded model."""

    from tfgrpo_agents.demo import (
        PLANS,
        PhaseStarted,
        ServerReady,
        run_demo,
        what_it_shows,
    )
    from tfgrpo_agents.learning.events import RolloutFinished, StepFinished
    from tfgrpo_agents.models.local_model import LocalModelError

    plan = PLANS["quick" if quick else "default"]
    out = out or Path("runs") / ("demo-quick" if quick else "demo")
    console.print(f"[bold]tfgrpo demo[/] · test {plan.test_tasks} tasks × k={plan.k} · learn on {plan.train_tasks} "
                  f"tasks × G={plan.group_size}, {plan.epochs} epoch · output in {out}")
    progress = _progress()
    state: dict[str, Any] = {}

    def on_event(event) -> None:
        if isinstance(event, ServerReady):
            console.print(f"llama-server ready in {event.seconds} s ({event.model} at {event.url})")
        elif isinstance(event, PhaseStarted):
            state["bar"] = progress.add_task(event.name, total=event.rollouts)
        elif isinstance(event, RolloutFinished) and "bar" in state:
            progress.advance(state["bar"])
        elif isinstance(event, StepFinished):
            report = event.report
            state["signal"] = state.get("signal", 0) + report.groups_with_signal
            console.print(f"learning step {report.step}: mean reward {report.mean_reward}, groups with signal "
                          f"{report.groups_with_signal}/{report.tasks}, library {report.library_size} experiences")
            if report.validation:
                console.print(f"learning step {report.step}: {validation_verdict(report.validation)}")
                undone = len(report.validation.get("rolled_back") or []) or (not report.validation.get("kept"))
                state["rolled_back"] = state.get("rolled_back", 0) + int(undone)

    try:
        with progress:
            comparison = run_demo(out, plan=plan, model=model, seed=seed, on_event=on_event)
    except LocalModelError as exc:
        _fail(str(exc))
    console.print((out / "eval" / "report.md").read_text(), markup=False, highlight=False)
    ledger = json.loads((out / "learn" / "ledger.json").read_text())["summary"]
    console.print(f"learning: {ledger['rollout_tokens']} rollout tokens, {ledger['reflection_tokens']} reflection tokens "
                  f"(ratio {ledger['reflection_to_rollout_ratio']}), {ledger['wall_time_s']} s of rollouts")
    library = _load(out / "learn" / "library.json")
    _print_library(library)
    console.print(f"report: {out / 'eval' / 'report.md'} · plots: {', '.join(comparison.plots)}")
    console.print("[bold]What the numbers show[/]")
    for line in what_it_shows(comparison, len(library), state.get("signal", 0), state.get("rolled_back", 0)):
        console.print(line, markup=False, highlight=False)

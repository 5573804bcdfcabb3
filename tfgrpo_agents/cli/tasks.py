"""``tfgrpo tasks …``: task sets (splits, QA over a documentation site)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tfgrpo_agents.cli.common import (
    BaseUrlOpt,
    LearnOptions,
    SeedOpt,
    _chat_model,
    _fail,
    app,
    console,
)

tasks_app = typer.Typer(help="Task sets: stratified samples and train/test splits.", no_args_is_help=True,
                        rich_markup_mode=None)
app.add_typer(tasks_app, name="tasks")


@tasks_app.command("split")
def tasks_split(
    source: Annotated[Path, typer.Argument(help="Task file.")],
    train: Annotated[int, typer.Option(help="Train tasks.")],
    test: Annotated[int, typer.Option(help="Test tasks.")],
    out_dir: Annotated[Path, typer.Option(help="Where train.jsonl and test.jsonl go.")],
    ratio: Annotated[str | None, typer.Option(help="Difficulty ratio, e.g. 4:7:6 (easy:medium:hard).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the shuffle that picks the split.")] = 0,
) -> None:
    """Disjoint train/test split with a fixed seed, stratified by difficulty if --ratio is given."""
    from tfgrpo_agents._atomic import atomic_write_text
    from tfgrpo_agents.evaluation import parse_ratio, train_test_split
    from tfgrpo_agents.learning import TaskFileError, load_tasks

    try:
        task_list = load_tasks(source)
        train_set, test_set = train_test_split(task_list, train=train, test=test, seed=seed,
                                               ratio=parse_ratio(ratio) if ratio else None)
    except (TaskFileError, ValueError) as exc:
        _fail(str(exc))
    for name, items in (("train", train_set), ("test", test_set)):
        atomic_write_text(out_dir / f"{name}.jsonl", "".join(t.model_dump_json() + "\n" for t in items))
    console.print(f"{len(train_set)} train and {len(test_set)} test tasks written to {out_dir}")


@tasks_app.command("docs-qa")
def tasks_docs_qa(
    source: Annotated[Path, typer.Argument(help="A documentation site: folder or .tar.gz.")],
    out_dir: Annotated[Path, typer.Option(help="Where train.jsonl, test.jsonl and closed_book.json go.")],
    profile: Annotated[str, typer.Option(help="Which generator made the site: auto, python, django or gtk-doc.")] = "auto",
    public_url: Annotated[str | None, typer.Option(help="The site's public address (the tasks' root_url; default: the profile's).")] = None,
    train: Annotated[int, typer.Option(help="Train tasks.")] = 40,
    test: Annotated[int, typer.Option(help="Test tasks.")] = 48,
    ratio: Annotated[str, typer.Option(help="Difficulty ratio easy:medium:hard.")] = "4:7:6",
    closed_book_model: Annotated[str | None, typer.Option(help="Drop questions this model answers without tools (local, local-0.5b or a model name).")] = None,
    base_url: BaseUrlOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """QA over a documentation site (Python, Django, GTK-Doc), with golden paths and a closed-book filter."""
    from tfgrpo_agents.datasets.docs_qa import closed_book_model as asker
    from tfgrpo_agents.datasets.docs_qa import generate, profile_for
    from tfgrpo_agents.tools.site_files import SiteFiles

    try:
        site_profile = profile_for(SiteFiles(source), profile)  # before a model is started for nothing
        ask = None
        if closed_book_model:
            options = LearnOptions(tasks="", agent="web", model=closed_book_model, base_url=base_url)
            ask = asker(_chat_model(closed_book_model, base_url, 0.0, options))
        counts = generate(source, out_dir, profile=site_profile, public_url=public_url, train=train, test=test,
                          seed=seed, ratio=ratio, closed_book=ask, model_id=closed_book_model)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"{counts['train']} train and {counts['test']} test tasks written to {out_dir}"
                  + ("" if ask else " (no closed-book model: cached answers only)"))

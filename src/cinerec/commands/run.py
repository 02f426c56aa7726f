"""``cinerec run``: a whole study from one TOML file, into a run folder.

    cinerec run studies/mlp-ml100k.toml --out runs/mlp
    cinerec run studies/ncf-ml25m.toml --data ./ml-25m --out runs/ncf --json
    cinerec run my-study.toml --out runs/mine --tune 20

The file names the data and its filters, the protocol and its seeds, the models and
their settings, and optionally a tuning budget, an export and the study's own figure
(``cinerec.studies``). ``--data`` replaces the file's source, ``--columns`` and
``--catalog`` a ratings log's column names and movie file, ``--tune`` its number of
trials; the filter flags replace the file's filters key by key, ``--no-filters`` drops
them (``cinerec run studies/ncf-ml25m.toml --no-filters`` runs the study on the whole
catalogue), and ``--only`` runs some of its models.
"""

import typing
from pathlib import Path
from typing import Annotated, Any

import typer

from cinerec.commands import flags

__all__ = ["run"]


def _study_named(value: str) -> str:
    if not value.strip():  # (read as a path, it was the folder one is in: "'.': is a folder")
        raise typer.BadParameter("give the study file's name (an empty one would be the folder you are in)")
    return value


@flags.with_filters
def run(
    study: Annotated[str, typer.Argument(metavar="STUDY.toml", show_default=False, callback=_study_named,
                                          help="The study file (see studies/ for examples).")],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", show_default=False, callback=flags.home,
                                      help="The run folder to write.")],
    data: Annotated[str | None, typing.get_args(flags.Data)[1]] = None,
    columns: flags.Columns = None,
    catalog: flags.CatalogFile = None,
    rating_scale: flags.RatingScale = None,
    no_filters: Annotated[bool, typer.Option(
        "--no-filters", help="Drop the file's [data] filters, implicit and liked_threshold among them (the filter "
                             "flags still apply: --no-filters --implicit keeps plain positives).")] = False,
    filters: typing.Any = None,  # the filter flags (flags.with_filters)
    only: Annotated[str | None, typer.Option(
        "--only", metavar="LABEL[,LABEL]", show_default=False,
        help="Run only these [models.LABEL] tables of the file.")] = None,
    tune: flags.Tune = None,
    json: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Run a study file: every model on every seed, the leaderboard, the best model refitted.

    --data replaces the file's [data] source, --columns and --catalog its columns and
    catalog; --tune replaces its [tune] trials; a filter flag replaces the file's value of
    that filter; --no-filters drops the file's filters.
    """
    from cinerec.commands.show import print_json, print_table, say
    from cinerec.io import claimed
    from cinerec.studies import Study, differs_words, leaderboard_note, leaderboard_rows, run_study

    flags.check_tune(tune)
    source = flags.data_source(data, columns, catalog, rating_scale=rating_scale)
    # Every key and value of the file is checked before the (slow) data load.
    overrides = filters.to_dict()
    labels = [x.strip() for x in only.split(",")] if only is not None else None
    if labels is not None and not all(labels):
        from cinerec.errors import ConfigError

        raise ConfigError(f"--only {only!r}: give the labels of [models.LABEL] tables, separated by commas")
    spec = Study.from_toml(flags.home(Path(study)), data=data, trials=tune, filters=overrides,
                           no_filters=no_filters, only=labels, columns=source["columns"], catalog=source["catalog"],
                           rating_scale=source.get("rating_scale"))
    if spec.tunes and not any(spec.tuned(m) for m in spec.models):
        which = "the models --only keeps" if labels is not None else "the study's models"
        say(f"note: [tune] searches none of {which} ({', '.join(m.label for m in spec.models)}); "
            "they run with their settings", quiet)
    with claimed(out):  # a second command aimed at the same folder is refused now, not after its work
        board = run_study(spec, out, quiet=quiet)
    if json:
        print_json(board)
        return
    title, head, rows = leaderboard_rows(board)
    print_table(head, rows, title=title)
    note = leaderboard_note(board)
    if note:
        print(note)
    ref = board["reference"]
    if ref:
        print(_beside_reference(board, ref))
        for metric, value in ref.get("also", {}).items():  # the study's other figures, each beside ours
            print(_beside_reference(board, {**ref, "metric": metric, "value": value, "source": ""}))
        if ref.get("differs"):
            print(f"note: {differs_words(ref)}")
    for line in tuned_lines(board):  # a result, not chatter: --quiet keeps it, as evaluate's and train's
        print(line)
    for line in [*board.get("below_popularity", []), *board.get("notes", [])]:  # what a fit chose or lacked...
        print(f"note: {line}")
    say(f"run saved to {out}" + (f"; store {board['store']}" if board.get("store") else ""), quiet)


def tuned_lines(board: dict[str, Any]) -> list[str]:
    """One line per searched model and seed: the chosen settings and both validation figures."""
    from cinerec.config import settings_words
    from cinerec.tuning import search_words, trials_text

    lines = []
    for row in board["models"]:
        for seed, t in (row.get("tuning") or {}).items():
            screened = search_words(t.get("stopped_by"), t["screened"])
            trials = trials_text(t.get("trials") or t["n_trials"], t["metric"], t.get("n_scored", 0))
            lines.append(f"tuned {row['label']} seed {seed}: {settings_words(t['settings'])} (validation {t['metric']} "
                         f"{t['value']:.4f}; untuned {t['default_value']:.4f}; {trials}, "
                         f"{t['seconds']:.1f} s{screened})")
    return lines


def _beside_reference(board: dict[str, Any], ref: dict[str, Any]) -> str:
    """The study's figure beside ours: the study's own model's when the file names it, and
    the best model's (:func:`cinerec.studies.best_giving`)."""
    from cinerec.studies import best_giving, best_words, study_model_words

    metric = ref["metric"]
    rows = {r["label"]: r for r in board["models"] if metric in r["metrics"]}
    best = best_giving(board, metric)
    who = f"the study ({ref['source']})" if ref.get("source") else "the study"  # as report.md names it
    if best is None:
        if metric in board.get("left_out", ()):
            return f"{who}: {metric} {ref['value']}; ours: left out, measured on some of the seeds only"
        return f"{who}: {metric} {ref['value']}; ours: no model of this run gives {metric}"
    own = ref.get("model") if ref.get("model") in rows else None
    study = f"{who}: {metric} {ref['value']}; ours"
    the_best = best_words(board, metric, best)

    def figure(label: str) -> str:
        return f"{rows[label]['metrics'][metric]['mean']:.4f}"

    model = study_model_words(own is not None and bool(rows[own].get("tuning")))
    if own is None:
        return f"{study} ({best}, {the_best}): {figure(best)}"
    if own == best:
        return f"{study} ({best}, {model} and {the_best}): {figure(best)}"
    return f"{study} ({own}, {model}): {figure(own)}; {the_best} ({best}): {figure(best)}"

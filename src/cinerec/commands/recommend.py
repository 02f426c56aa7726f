"""``cinerec recommend``: top movies for one person from a run folder, each with a reason.

    cinerec recommend --run runs/neumf --user 196
    cinerec recommend --run runs/quickstart --user 196 -k 5 --run-model ease --json

Movies the person has rated (anywhere in the run's data) are never recommended. The
reason names the movie the person liked that is most like the recommended one
(``cinerec.serving.lists``: the same lists and reasons as the store and the API).
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from cinerec.commands import flags

__all__ = ["recommend", "recommend_for"]

def recommend(
    run: flags.RunDir,
    user: Annotated[str, typer.Option("--user", metavar="ID", show_default=False,
                                      help="The person's raw user id, as in the data.")],
    k: Annotated[int, typer.Option("-k", min=1, help="How many movies (at most every unseen one).")] = 10,
    run_model: flags.RunModel = None,
    json: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Top unseen movies for one user of a run, with reasons.

    Movies the person rated are never recommended; each reason names the movie they
    liked that is most like the recommended one.
    """
    from cinerec.commands.show import print_json, say

    raw, model_name, recs, (n_items, rated, made_up, fitted) = _recommend(run, user, k, run_model)
    # A synthetic release's and the model's fit's: printed under the list, as under evaluate's figures.
    notes = list(made_up) + list(fitted)
    if len(recs) < k and len(recs) == n_items - rated:
        listed = f"{len(recs)} movie{'' if len(recs) == 1 else 's'}"
        notes.append(f"{listed} listed for user {raw}, not {k}: they rated the other {rated:,} of the run's "
                     f"{n_items:,} movies" if recs else f"no movie listed for user {raw}: they rated all "
                     f"{n_items:,} of the run's movies")
        if recs:  # (none left: said below, on stdout)
            say(f"note: {notes[-1]}", quiet)
    if json:  # the notes too, which -q keeps off stderr
        print_json({"user": raw, "model": model_name, "synthetic": bool(made_up), "recommendations": recs, "notes": notes})
        return
    if not recs:
        print(f"no unseen movie left to recommend to user {raw}")
    for rank, r in enumerate(recs, 1):
        year = f" ({r['year']})" if r["year"] else ""
        genres = f" [{', '.join(r['genres'])}]" if r["genres"] else ""
        reason = f" - {r['reason']}"
        score = "n/a" if r["score"] is None else f"{r['score']:.3f}"  # (a score that is not a number)
        print(f"{rank:>2}. {r['title']}{year}{genres} score {score}{reason}")
    for note in made_up + fitted:
        print(f"note: {note}")


def recommend_for(run_dir: Path, user: Any, k: int = 10, model_name: str | None = None) -> list[dict[str, Any]]:
    """The top-``k`` unseen movies of raw user id ``user``, each with its reason.

    Returns:
        One dict per movie, best first: ``movie_id`` (raw), ``title``, ``year``,
        ``genres``, ``score``, ``reason`` and ``reason_movie_id``. Fewer than ``k`` when
        the person has fewer unseen movies.
    """
    return _recommend(run_dir, user, k, model_name)[2]


def _recommend(run_dir: Path, user: Any, k: int,
               model_name: str | None) -> tuple[Any, str, list[dict[str, Any]], tuple[int, int, list[str], list[str]]]:
    """The user's raw id as the data spells it, the model's name, :func:`recommend_for`'s list,
    and the run's count of movies with how many of them the user rated, the note that
    the run's data is a synthetic release (none when it is not) and the model's fit notes."""
    from cinerec.data.dataset import synthetic_list_notes
    from cinerec.errors import ConfigError, DataError
    from cinerec.runs import open_run
    from cinerec.serving.lists import Lists

    if k < 1:
        raise ConfigError(f"-k must be at least 1, got {k}")
    run = open_run(run_dir)
    name = model_name or run.default_model
    model = run.model(name)
    try:
        lists = Lists(run.dataset, model)
    except DataError as e:
        raise DataError(f"{run_dir}: {e}") from None
    u = lists.user_index(user)
    try:  # a two-stage model's shortlist (after k is cut to the catalogue): name the flag that asked for more
        items, scores, reasons = lists.for_users([u], k)
    except ConfigError as e:
        if "is more than candidates" not in str(e):
            raise
        raise ConfigError(f"-k {k}: {e}") from None
    return (run.dataset.user_ids.raw_id(u), name, lists.records(items[0], scores[0], reasons[0]),
            (run.dataset.n_items, int(lists.seen[u].nnz), synthetic_list_notes(run.dataset), model.fit_notes()))


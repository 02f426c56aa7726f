"""``cinerec recommend``: top movies for one person from a run folder, each with a reason.

    cinerec recommend --run runs/neumf --user 196
    cinerec recommend --run runs/quickstart --user 196 -k 5 --run-model ease --json

Movies the person has rated (anywhere in the run's data) are never recommended. The
reason names the movie the person liked that is most like the recommended one.
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from cinerec.commands import flags

__all__ = ["recommend", "recommend_for"]

#: Stars from which a rating counts as "liked" when explaining (fallback: any rating).
LIKED = 4.0


def recommend(
    run: flags.RunDir,
    user: Annotated[str, typer.Option("--user", metavar="ID", show_default=False,
                                      help="The person's raw user id, as in the data.")],
    k: Annotated[int, typer.Option("-k", min=1, help="How many movies.")] = 10,
    run_model: flags.RunModel = None,
    json: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Top unseen movies for one user of a run, with reasons.

    Movies the person rated are never recommended; each reason names the movie they
    liked that is most like the recommended one.
    """
    from cinerec.commands.show import print_json

    recs = recommend_for(run, user, k, run_model)
    if json:
        print_json(recs)
        return
    if not recs:
        print(f"no unseen movie left to recommend to user {user}")
        return
    for rank, r in enumerate(recs, 1):
        year = f" ({r['year']})" if r["year"] else ""
        genres = ", ".join(r["genres"])
        reason = f" - {r['reason']}" if r["reason"] else ""
        print(f"{rank:>2}. {r['title']}{year} [{genres}] score {r['score']:.3f}{reason}")


def recommend_for(run_dir: Path, user: Any, k: int = 10, model_name: str | None = None) -> list[dict[str, Any]]:
    """The top-``k`` unseen movies of raw user id ``user``.

    Returns:
        One dict per movie, best first: ``movie_id`` (raw), ``title``, ``year``,
        ``genres``, ``score`` and ``reason``.
    """
    from cinerec.errors import ConfigError, NotFoundError
    from cinerec.runs import open_run

    if k < 1:
        raise ConfigError(f"-k must be at least 1, got {k}")
    run = open_run(run_dir)
    ds = run.dataset
    u = ds.user_ids.get(user)
    if u is None:
        raise NotFoundError(f"unknown user id {user!r} in {run_dir} (its data has {ds.n_users:,} users)")
    model = run.model(model_name)
    if (model.n_users, model.n_items) != (ds.n_users, ds.n_items):
        raise NotFoundError(f"{run_dir}: model {model.name!r} was fitted on another id space than the run's data")
    rated = ds.interactions.csr[[u]]
    items, scores = model.recommend([u], k, exclude=ds.interactions.seen)
    liked = rated.multiply(rated >= LIKED).tocsr()
    liked.eliminate_zeros()
    why = model.explain(liked if liked.nnz else rated, items)
    out = []
    for item, score, reason in zip(items[0], scores[0], why[0]):
        if item < 0:
            continue
        rec = ds.movie_record(int(item))
        rec["score"] = float(score)
        rec["reason"] = f"because you liked {ds.catalog.titles[reason]}" if reason >= 0 else None
        out.append(rec)
    return out

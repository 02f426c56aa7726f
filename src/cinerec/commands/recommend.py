"""``cinerec recommend``: top movies for one person from a run folder, each with a reason;
and ``cinerec similar``: the movies most like one.

    cinerec recommend --run runs/neumf --user 196
    cinerec recommend --run runs/quickstart --user 196 -k 5 --run-model ease --json
    cinerec recommend --run runs/neumf --liked 50,181,172 --ratings 1=2
    cinerec similar --run runs/neumf --movie 50
    cinerec movies --run runs/neumf star wars

Movies the person has rated (anywhere in the run's data), or gave with ``--liked`` and
``--ratings``, are never recommended. The reason names the movie the person liked that is
most like the recommended one (``cinerec.serving.lists``: the same lists and reasons as
the store and the API). ``cinerec movies`` finds movies' ids by their titles, as the
API's ``GET /movies?query=`` does.
"""

import contextlib
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator

import typer

from cinerec.commands import flags
from cinerec.commands.show import shell_word, visible

__all__ = ["recommend", "recommend_for", "similar", "movies"]

def recommend(
    run: flags.RunDir,
    user: Annotated[str | None, typer.Option("--user", metavar="ID", show_default=False,
                                             help="The person's raw user id, as in the data.")] = None,
    liked: Annotated[list[str] | None, typer.Option(
        "--liked", metavar="IDS", show_default=False,
        help="Someone new instead of --user: raw ids of movies they liked, comma-separated (repeatable; "
             "a value that is one id of the run's, commas and all, is taken whole).")] = None,
    rated: Annotated[list[str] | None, typer.Option(
        "--ratings", metavar="ID=STARS,...", show_default=False,
        help="Someone new instead of --user: movies they rated, with their stars, comma-separated "
             "(repeatable; as --liked takes an id holding commas).")] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="How many movies (at most every unseen one).")] = 10,
    run_model: flags.RunModel = None,
    json: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Top unseen movies for one user of a run, or for someone new, with reasons.

    Movies the person rated (or gave with --liked and --ratings) are never recommended;
    each reason names the movie they liked that is most like the recommended one.
    """
    from cinerec.commands.show import print_json, say
    from cinerec.errors import ConfigError

    if user is not None and (liked or rated):
        raise ConfigError("recommend: give --user, or --liked/--ratings for someone new, not both")
    if user is None:
        if not liked and not rated:
            raise ConfigError("recommend: give --user ID, or --liked IDS and/or --ratings ID=STARS for someone new")
        _recommend_new(run, liked or [], rated or [], k, run_model, json, quiet)
        return
    raw, model_name, recs, short, made_up, fitted = _recommend(run, user, k, run_model)
    # A synthetic release's and the model's fit's: printed under the list, as under evaluate's figures.
    notes = list(made_up) + list(fitted)
    if short is not None:
        notes.append(short)
        if recs:  # (none left: said below, on stdout)
            say(f"note: {short}", quiet)
    if json:  # the notes too, which -q keeps off stderr
        print_json({"user": raw, "model": model_name, "synthetic": bool(made_up), "recommendations": recs, "notes": notes})
        return
    if not recs:
        print(visible(f"no unseen movie left to recommend to user {raw}"))
    _print_list(recs)
    for note in made_up + fitted:
        print(visible(f"note: {note}"))


@contextlib.contextmanager
def _titles_hint(run_dir: Path, dataset: Any) -> Iterator[None]:
    """An unknown movie id given on the command line (a title, often) is said with the way
    to find ids by title: nothing on the command line did (not where the run's movies
    have no titles but their ids)."""
    from cinerec.errors import NotFoundError

    try:
        yield
    except NotFoundError as e:
        titled = any(str(t) != str(i) for t, i in zip(dataset.catalog.titles, dataset.item_ids.raw))
        if not str(e).startswith("unknown movie id") or not titled:
            raise
        # (quoted: a command to paste, whatever the folder's name)
        raise NotFoundError(f"{e}; find movies' ids by their titles with: cinerec movies --run "
                            f"{shell_word(str(run_dir))} WORDS OF THE TITLE") from None


def three_places(value: float) -> str:
    """``value`` to three decimals, with no sign on a zero (-0.0004 is "0.000", not "-0.000")."""
    text = f"{value:.3f}"
    return "0.000" if float(text) == 0 else text


def _print_list(recs: list[dict[str, Any]]) -> None:
    for rank, r in enumerate(recs, 1):
        year = f" ({r['year']})" if r["year"] else ""
        genres = f" [{', '.join(r['genres'])}]" if r["genres"] else ""
        reason = f" - {r['reason']}"
        score = "n/a" if r["score"] is None else three_places(r["score"])  # (a score that is not a number)
        print(visible(f"{rank:>2}. {r['title']}{year}{genres} score {score}{reason}"))


def _items(value: str, known: Callable[[str], bool], rated: bool = False) -> list[str]:
    """One ``--liked`` or (``rated``) ``--ratings`` value as its items: the whole value where
    it is one item whose id the run knows, commas and all (``a,b`` or ``a,b=4``), else its
    comma-separated parts. A ``--ratings`` value whose first part has no stars and is no
    id of the run's (``Godfather, The=5``, a title typed) is one item too, so the refusal
    names it whole as an unknown movie, not its first part as a rating without stars."""
    movie = value.rpartition("=")[0] if rated else value
    if "," not in value:
        return [value]
    first = value.split(",")[0]
    whole = known(movie.strip()) or (rated and "=" in value and "=" not in first and not known(first.strip()))
    return [value] if whole else value.split(",")


def _given(lists: Any, liked: list[str], rated: list[str]) -> tuple[list[Any], dict[Any, float]]:
    """``--liked`` and ``--ratings`` as the data's own ids, each movie once: a movie given
    again alike is kept once, given with other stars or both liked and rated is refused."""
    import math

    from cinerec.data.logs import NUMBER
    from cinerec.errors import ConfigError

    def known(movie: str) -> bool:
        return lists.dataset.item_ids.get(movie) is not None

    likes: dict[int, str] = {}
    for value in liked:
        for part in _items(value, known):
            if not part.strip():
                raise ConfigError(f"--liked {value!r}: an empty movie id; give raw movie ids separated by commas")
            likes.setdefault(lists.item_index(part.strip()), part.strip())
    stars: dict[int, float] = {}
    typed_stars: dict[int, str] = {}
    for value in rated:
        for part in _items(value, known, rated=True):
            movie, eq, said = part.rpartition("=")
            if not eq or not movie.strip():
                raise ConfigError(f"--ratings {part.strip()!r}: expected ID=STARS, such as 50=4.5")
            number = float(said) if NUMBER.match(said) else math.nan  # ("4_5", which float() takes, is no number)
            if not math.isfinite(number):
                raise ConfigError(f"--ratings {part.strip()!r}: stars must be a number, got {said.strip()!r}")
            i = lists.item_index(movie.strip())
            if i in likes:
                raise ConfigError(f"movie {movie.strip()!r} is given with --liked and with --ratings: give it once")
            if stars.get(i, number) != number:
                raise ConfigError(f"--ratings: movie {movie.strip()!r} is given twice ({stars[i]:g} and {number:g} "
                                  "stars): give it once")
            stars[i] = number
            typed_stars.setdefault(i, movie.strip())

    # One film under two ids given two verdicts, named as typed (the notebook's check names
    # the data's own ids: "0268" was said as 268).
    typed = {**likes, **{i: typed_stars[i] for i in stars}}
    verdicts: dict[int, float | None] = {**{i: None for i in likes}, **stars}
    if (twice := lists.twin_clash_error(list(typed), [verdicts[i] for i in typed],
                                        [repr(typed[i]) for i in typed])) is not None:
        raise twice

    def raw(i: int) -> Any:
        return lists.record(i)["movie_id"]

    return [raw(i) for i in likes], {raw(i): s for i, s in stars.items()}


def _recommend_new(run_dir: Path, liked: list[str], rated: list[str], k: int, model_name: str | None,
                   json: bool, quiet: bool) -> None:
    """Cold start on the command line: the lists the API's ``POST /recommendations`` gives."""
    import numpy as np

    from cinerec.commands.show import print_json, say
    from cinerec.data.dataset import synthetic_list_notes
    from cinerec.errors import ConfigError
    from cinerec.runs import open_run

    run = open_run(run_dir)
    name = model_name or run.default_model
    lists = _lists(run, name)
    with _titles_hint(run_dir, run.dataset):
        likes, stars = _given(lists, liked, rated)
    try:
        recs = lists.history_records(likes, stars, k)
    except ConfigError as e:
        if str(e).startswith("ratings: "):  # the notebook's argument, on the command line --ratings
            raise ConfigError(f"--ratings: {str(e).removeprefix('ratings: ')}") from None
        if "is more than candidates" not in str(e):
            raise
        raise ConfigError(f"-k {k}: {e}") from None
    made_up, fitted = synthetic_list_notes(run.dataset), run.model(name).fit_notes()
    notes = list(made_up) + list(fitted)
    if recs and (unliked := lists.nothing_liked(likes, stars)) is not None:  # (its list: the most rated movies)
        notes.append(unliked)
        say(f"note: {unliked}", quiet)
    # Films given listed again under other ids are never listed either, and a film left
    # under two ids is listed once (the note did not count them).
    given_at = np.array(sorted({lists.item_index(m) for m in [*likes, *stars]}), dtype=np.int64)
    if (short := lists.short_for_history(given_at, k, len(recs))) is not None:
        notes.append(short)
        if recs:
            say(f"note: {short}", quiet)
    if json:  # each movie given once, its id as the data has it (a JSON object's keys are text)
        print_json({"liked": likes, "ratings": {str(m): s for m, s in stars.items()}, "model": name,
                    "synthetic": bool(made_up), "recommendations": recs, "notes": notes})
        return
    if not recs:  # (the note's words: a film given under one id leaves its other id out too)
        why = short.removeprefix("no movie listed: ") if short else "every movie of the run was given"
        print(visible(f"no movie left to recommend: {why}"))
    _print_list(recs)
    for note in made_up + fitted:
        print(visible(f"note: {note}"))


def _lists(run: Any, name: str) -> Any:
    from cinerec.errors import DataError
    from cinerec.serving.lists import Lists

    model = run.model(name)  # (its refusals name the model's folder)
    try:
        return Lists(run.dataset, model)
    except DataError as e:  # (the model and the run's data disagree)
        raise DataError(f"{run.path}: {e}") from None


def similar(
    run: flags.RunDir,
    movie: Annotated[str, typer.Option("--movie", metavar="ID", show_default=False,
                                       help="The movie's raw id, as in the data.")],
    k: Annotated[int, typer.Option("-k", min=1, help="How many movies (at most those with anything in "
                                                     "common with it, and those the model keeps per "
                                                     "movie).")] = 10,
    run_model: flags.RunModel = None,
    json: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """The movies most like one movie, by a run's model (as the API's /movies/{id}/similar).

    Only movies with a positive similarity are listed, so fewer than -k may come back.
    """
    from cinerec.commands.show import print_json, say
    from cinerec.data.dataset import synthetic_list_notes
    from cinerec.runs import open_run
    from cinerec.ranking import check_k

    opened = open_run(run)
    name = run_model or opened.default_model
    lists = _lists(opened, name)
    with _titles_hint(run, opened.dataset):
        item = lists.item_index(movie)
    items, sims = lists.similar(item, check_k(k))
    listed = [dict(lists.record(int(i)), similarity=float(s)) for i, s in zip(items, sims)]
    # A synthetic release's and the model's fit's (vectors that all point one way make every
    # movie as similar as the next): printed under the list, as recommend prints them.
    trailing = (list(synthetic_list_notes(opened.dataset)) + list(lists.model.fit_notes())
                + lists.index_note(name, similar=True, k=k, item=item))
    notes = list(trailing)
    this = lists.record(item)
    year = f" ({this['year']})" if this["year"] else ""
    cut = lists.similar_cut(item, k, len(listed), name)
    kept = cut[1] if cut else None  # (its neighbors setting, where that cut the list)
    if cut:
        notes.append(cut[0])
    short = notes[len(trailing):]
    if json:
        for note in short:
            say(f"note: {note}", quiet)
        print_json({"movie": this, "model": name, "synthetic": bool(opened.dataset.info.get("synthetic")),
                    "similar": listed, "notes": notes})
        return
    if not listed:  # said on stdout, as recommend says an empty list
        one = kept == 1
        why = (f"it keeps {kept} similar movie{'' if one else 's'} per movie (its neighbors setting), and "
               f"{'the one' if one else 'those'} it keeps for this movie {'is' if one else 'are'} this film under "
               "another id" if kept else "it was trained on no rating of it" if lists.unrated(item)
               else "none has a positive similarity to it")
        print(visible(f"no movie like {this['title']}{year} under model {name!r}: {why}"))
    else:
        say(f"movies most like {this['title']}{year}, by model {name!r}:", quiet)  # (say shows it visible)
        for note in short:
            say(f"note: {note}", quiet)
    for rank, r in enumerate(listed, 1):
        year = f" ({r['year']})" if r["year"] else ""
        genres = f" [{', '.join(r['genres'])}]" if r["genres"] else ""
        print(visible(f"{rank:>2}. {r['title']}{year}{genres} similarity {three_places(r['similarity'])}"))
    for note in trailing:
        print(visible(f"note: {note}"))


def recommend_for(run_dir: Path, user: Any, k: int = 10, model_name: str | None = None) -> list[dict[str, Any]]:
    """The top-``k`` unseen movies of raw user id ``user``, each with its reason.

    Returns:
        One dict per movie, best first: ``movie_id`` (raw), ``title``, ``year``,
        ``genres``, ``score``, ``reason`` and ``reason_movie_id``. Fewer than ``k`` when
        the person has fewer unseen movies.
    """
    return _recommend(run_dir, user, k, model_name)[2]


def _recommend(run_dir: Path, user: Any, k: int,
               model_name: str | None) -> tuple[Any, str, list[dict[str, Any]], str | None, list[str], list[str]]:
    """The user's raw id as the data spells it, the model's name, :func:`recommend_for`'s list,
    the line said when it is short because they rated the other movies (``None`` when it
    is not), the note that the run's data is a synthetic release (none when it is not)
    and the model's fit notes."""
    from cinerec.data.dataset import synthetic_list_notes
    from cinerec.errors import ConfigError
    from cinerec.runs import open_run

    if k < 1:
        raise ConfigError(f"-k must be at least 1, got {k}")
    run = open_run(run_dir)
    name = model_name or run.default_model
    model = run.model(name)
    lists = _lists(run, name)
    u = lists.user_index(user)
    try:  # a two-stage model's shortlist (after k is cut to the catalogue): name the flag that asked for more
        items, scores, reasons = lists.for_users([u], k)
    except ConfigError as e:
        if "is more than candidates" not in str(e):
            raise
        raise ConfigError(f"-k {k}: {e}") from None
    recs = lists.records(items[0], scores[0], reasons[0])
    return (run.dataset.user_ids.raw_id(u), name, recs, lists.short_for_user(u, k, len(recs)),
            synthetic_list_notes(run.dataset), model.fit_notes() + lists.index_note(name, k=k, users=[u]))


def _genre_named(value: str | None) -> str | None:
    if value is not None and not value.strip():  # (it was taken as no genre: every movie was searched)
        raise typer.BadParameter("give a genre's name (leave --genre out to search every genre)")
    return value



def movies(
    run: flags.RunDir,
    query: Annotated[list[str] | None, typer.Argument(
        metavar="[WORDS]...", show_default=False,
        help="Words of the title, in any case and without accents (a year matches the release year); none: "
             "the most rated movies.")] = None,
    genre: Annotated[str | None, typer.Option("--genre", show_default=False, callback=_genre_named,
                                              help="Only movies of this genre.")] = None,
    year_from: Annotated[int | None, typer.Option(
        "--year-from", min=0, max=9999, show_default=False,
        help="Only movies released in this year or later (a movie of no known year never passes).")] = None,
    year_to: Annotated[int | None, typer.Option(
        "--year-to", min=0, max=9999, show_default=False,
        help="Only movies released in this year or earlier (a movie of no known year passes).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="How many movies at most (1 to 200, as "
                                                                        "the API takes).")] = 20,
    json: flags.Json = False,
    quiet: flags.Quiet = False,  # (it says nothing on stderr: taken as every command takes it)
) -> None:
    """Find movies of a run by their titles, with the ids that --liked, --ratings and similar take.

    Best matches first (the title starting with the words, then whole words, then word
    starts, each test deciding before the next: for "star", Star Kid before Starship
    Troopers), the most rated first among equals: the page's search.
    """
    from cinerec.commands.show import print_json
    from cinerec.data.dataset import other_ids, synthetic_list_notes, title_twins
    from cinerec.errors import ConfigError
    from cinerec.runs import open_run
    from cinerec.serving.search import QUERY_LIMIT, MovieSearch

    dataset = open_run(run).dataset
    if genre is not None and not len(dataset.catalog.present_genres):
        raise ConfigError(f"--genre {genre!r}: the run's movies have no genres (its data gave none)")
    counts = dataset.interactions.item_counts
    words = " ".join(query or [])
    if len(words) > QUERY_LIMIT:  # (the API's and the page's bound: one query, one answer everywhere)
        raise ConfigError(f"the words: at most {QUERY_LIMIT} characters, as the API and the page take, got {len(words)}")
    if year_from is not None and year_to is not None and year_from > year_to:  # (none could pass: a slip)
        raise ConfigError(f"--year-to {year_to} is before --year-from {year_from}: no year is both")
    found = MovieSearch(dataset.catalog, counts).search(words, genre=genre, year_from=year_from, year_to=year_to,
                                                        limit=limit)
    # (a film the run knows under other ids names them, as the API's movies do)
    same = other_ids(dataset, title_twins(dataset))
    listed = [dict(dataset.movie_record(int(i)), ratings=int(counts[i]), same_film=same.get(int(i), []))
              for i in found]
    # (made-up titles are said to be, as recommend and similar say of their lists)
    notes = synthetic_list_notes(dataset)
    if json:
        print_json({"query": words, "genre": genre, "year_from": year_from, "year_to": year_to,
                    "synthetic": bool(dataset.info.get("synthetic")), "movies": listed, "notes": notes})
        return
    if not listed:
        years = f" from {year_from} to {year_to}" if year_from is not None and year_to is not None else \
            f" from {year_from} on" if year_from is not None else f" up to {year_to}" if year_to is not None else ""
        print(f"no movie of the run's {dataset.n_items:,}" + (f" matches {words!r}" if words else "")
              + (f" in {genre}" if genre else "") + (f" released{years}" if years else ""))
    # The ids right-aligned as a terminal shows them: escaped, and a wide character (映) two columns.
    from rich.cells import cell_len

    ids = [visible(str(m["movie_id"])) for m in listed]
    width = max(map(cell_len, ids), default=0)
    for m, shown in zip(listed, ids):
        year = f" ({m['year']})" if m["year"] else ""
        genres = f" [{', '.join(m['genres'])}]" if m["genres"] else ""
        also = f" (the same film as {', '.join(map(str, m['same_film']))})" if m["same_film"] else ""
        print(" " * (width - cell_len(shown)) + shown
              + visible(f"  {m['title']}{year}{genres} - rated by {m['ratings']:,}{also}"))
    for note in notes:
        print(visible(f"note: {note}"))

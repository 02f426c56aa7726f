"""Recommendation lists with reasons: the one path every surface takes.

``cinerec recommend``, ``cinerec quickstart``, the exported store, the API's known-user
and cold-start answers and the page all build their lists here, so they agree:

* a list never holds a movie the person has seen (:func:`cinerec.data.history.seen_films`:
  every movie they rated anywhere in the run's data, and each film of those the
  catalogue lists again under another id; for someone described only by their ratings,
  the movies they gave and theirs);
* a reason names a movie the person liked (:func:`cinerec.data.history.liked`; a film they
  rated under two of its ids, by the later rating: :func:`later_verdicts`) and the
  model's scores for them were built from (its
  :meth:`~cinerec.models.base.Recommender.evidence`), chosen by the model's one
  :meth:`~cinerec.models.base.Recommender.explain`; when no liked
  movie explains a recommendation the reason says so plainly (:data:`NO_LIKED_REASON`).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from cinerec.data.dataset import Dataset, Interactions, later_twins, title_twins
from cinerec.data.history import (history_row, is_implicit, liked, liked_in, liked_min_stars, rating_scale, seen,
                                  seen_films)
from cinerec.errors import ConfigError, DataError, NotFoundError, expect
from cinerec.models.base import Recommender, top_k
from cinerec.ranking import check_k

__all__ = ["Lists", "reason_text", "top_n", "stars_said", "verdicts_said", "NO_LIKED_REASON", "POPULAR_REASON", "LESSER_REASON",
           "RATED_BY_REASON"]

#: The reason given when none of the person's liked movies explains a recommendation.
NO_LIKED_REASON = "popular with people who watched what you watched"
#: The reason given to someone who has told us nothing yet (the most rated movies), and
#: beside a movie a new person's list holds only for its popularity (:data:`POPULAR`).
POPULAR_REASON = "popular with many viewers"
#: The reason beside a movie listed for its popularity alone (:data:`POPULAR`) that is
#: not popular: someone who rated nearly every movie gets what is left, rated by few.
LESSER_REASON = "a lesser-known movie: few viewers have rated it"
#: The reason beside a movie listed for its popularity that is neither among the most
#: rated nor rated by few (a genre's most rated, past the most rated of all): how many did.
RATED_BY_REASON = "rated by {count:,} viewers"
#: The reason code (in place of a movie index) of a movie listed for its popularity alone.
POPULAR = -2
#: The places a history says nothing for go to the best, by the model's own scores, of
#: this many most rated movies left (or of as many as there are places, when more), so
#: that a list of k is the start of any longer one up to this length.
POPULAR_POOL = 200


def reason_text(title: str | None) -> str:
    """What a person reads beside a recommendation explained by ``title`` (or by none)."""
    return f"because you liked {title}" if title is not None else NO_LIKED_REASON


def _holds_training(rated: sp.csr_matrix, model: Recommender, sample: int = 4096) -> bool:
    """Whether ``rated`` (a dataset's movies seen per person) holds the ratings ``model``
    was fitted on, by up to ``sample`` of them, spread evenly: a model fitted on another
    dataset of the same shape names every movie by another's id."""
    train = getattr(model, "train_", None)
    if not isinstance(train, Interactions) or len(train) == 0:
        return True
    rows = np.unique(np.linspace(0, len(train) - 1, min(sample, len(train))).astype(np.int64))
    users, items = train.users[rows], train.items[rows]
    if users.max() >= rated.shape[0] or items.max() >= rated.shape[1]:
        return False
    return bool(np.all(np.asarray(rated[users, items]).ravel() > 0))


class Lists:
    """Top-k lists and their reasons for one fitted model over one run's dataset.

    Args:
        dataset: the run's dataset (every rating, not only the model's training part).
        model: a fitted model in the dataset's id space.
    """

    def __init__(self, dataset: Dataset, model: Recommender, given: bool = False) -> None:
        """``given``: the dataset was handed over with the model (a notebook's ``top_n``),
        not read from the model's run folder: a mismatch is then said to be the caller's."""
        expect(dataset, Dataset, "dataset")
        expect(model, Recommender, "model")
        if (model.n_users, model.n_items) != (dataset.n_users, dataset.n_items):
            fitted = f"model {model.name!r} was fitted on {model.n_users}×{model.n_items} users×movies"
            if given:
                raise DataError(f"{fitted}, and the dataset given has {dataset.n_users}×{dataset.n_items}: give the "
                                "dataset it was fitted on")
            raise DataError(f"{fitted}, and the run's dataset has {dataset.n_users}×{dataset.n_items}: the model "
                            "does not belong to this run (a model folder copied from another run?)")
        self.dataset = dataset
        self.model = model
        self.given = given
        # A film the catalogue lists twice (ml-100k: 18 under two ids) is one film to a
        # person: rated under one id, it is never listed under the other.
        self.twins = title_twins(dataset)
        # (n_items,) bool: the movies with a twin, the only ones a film's one place concerns.
        self._twinned = np.diff(self.twins.indptr) > 0 if self.twins is not None else None
        self.rated = seen(dataset)
        if not _holds_training(self.rated, model):  # of the same shape, another dataset: its ids relabelled the lists
            fitted = f"model {model.name!r} was fitted on ratings"
            raise DataError(f"{fitted} the dataset given does not hold (the same number of users and movies, other "
                            "ratings): give the dataset it was fitted on" if given else
                            f"{fitted} the run's dataset does not hold: the model does not belong to this run (a "
                            "model folder copied from another run?)")
        self.seen = seen_films(dataset, self.twins) if self.twins is not None else self.rated
        self.liked_min_stars = liked_min_stars(dataset)
        # Stars a person may give: the source's own scale. A log of plain events has none:
        # each movie given is one event (1), as a log whose every rating is 1 takes them.
        scale = rating_scale(dataset)
        self.stars_range = scale or (1.0, 1.0)
        self._shown_within = scale or (-np.inf, np.inf)  # a model of stars' scores as shown
        self._records: dict[int, dict[str, Any]] = {}
        # Per source of counts (the run's data, or a chart's own): the movies said to be
        # popular, and those said to be rated by few.
        self._wording: dict[bool, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @functools.cached_property
    def liked(self) -> sp.csr_matrix:
        """``(n_users, n_items)`` CSR of ones: the movies each person of the run liked, a film
        rated under two ids by its later rating (:func:`later_verdicts`); worked out when a
        reason is first asked for (``similar`` never asks)."""
        liked = liked_in(self.dataset)
        return liked if self.twins is None else later_verdicts(self.dataset, self.twins, liked)

    def _counted(self, chart: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(counts, popular, few)``: each movie's count of raters, whether "popular with
        many viewers" may be said of it (among the :data:`POPULAR_POOL` most rated, and rated
        by more people than most movies: at least the median count, and more than one), and
        whether it is rated by fewer than that. ``chart``: counted as the model's own chart
        counts them (popularity ranks by its training part's counts, which the run's whole
        data exceeds), where it has one; otherwise in the run's data."""
        if chart not in self._wording:
            own = self.model.chart_counts() if chart else None
            counts = np.asarray(self.dataset.interactions.item_counts if own is None else own)
            top = np.zeros(len(counts), dtype=bool)
            top[np.argsort(-counts, kind="stable")[:POPULAR_POOL]] = True
            few = counts < max(2.0, float(np.median(counts)) if len(counts) else 2.0)
            self._wording[chart] = (counts, top & ~few, few)
        return self._wording[chart]

    @property
    def popular(self) -> np.ndarray:
        """``(n_items,) bool``: the movies "popular with many viewers" may be said of, by the
        run's data (:meth:`_counted`)."""
        return self._counted()[1]

    def popularity_reason(self, item: int, chart: bool = False) -> str:
        """What is said beside movie index ``item`` listed for its popularity: popular with
        many viewers (:attr:`popular`), lesser-known when rated by fewer people than the
        median movie (or by one), and otherwise how many rated it. ``chart``: the movie is
        in a list in the model's own chart order, and is worded by the counts it ranks by."""
        counts, popular, few = self._counted(chart)
        if popular[item]:
            return POPULAR_REASON
        if few[item]:
            return LESSER_REASON
        return RATED_BY_REASON.format(count=int(counts[item]))

    def _length(self, k: Any) -> int:
        """The list length for ``k`` asked: checked, no longer than the catalogue, and
        within a two-stage model's shortlist (refused beyond it, naming the k asked for;
        a catalogue no longer than the shortlist caps k first, as export does)."""
        k = check_k(k)
        limit = getattr(self.model, "check_list_length", None)
        if limit is not None:
            try:
                limit(min(k, self.dataset.n_items))
            except ConfigError:
                limit(k)  # refused, named by the k asked for
        return min(k, self.dataset.n_items)

    # -- one film, one place -------------------------------------------------------------

    def twin_clashes(self, items: Sequence[int], verdicts: Sequence[float | None]) -> Iterator[tuple[int, int]]:
        """Pairs of positions in ``items`` (movie indices, in the order given) that hold
        one film under two ids (:func:`~cinerec.data.dataset.title_twins`) with different
        ``verdicts`` (stars, ``None`` for a like): an earlier position, then the later one
        that clashes with it (which is not compared with those after it). Its two ids would
        count as two films, one liked and one disliked, and the one liked would be named as
        the reason for a film the person also rated low."""
        if self.twins is None:
            return
        first: dict[int, int] = {}
        for pos, i in enumerate(items):
            lo, hi = self.twins.indptr[i], self.twins.indptr[i + 1]
            clash = next((first[j] for j in self.twins.indices[lo:hi].tolist()
                          if j in first and verdicts[first[j]] != verdicts[pos]), None)
            if clash is not None:
                yield clash, pos
            else:
                first.setdefault(int(i), pos)

    def twin_clash_error(self, items: Sequence[int], verdicts: Sequence[float | None],
                         said: Sequence[str]) -> ConfigError | None:
        """The refusal of the first film given under two ids with two verdicts
        (:meth:`twin_clashes`), its ids as ``said`` (the caller's spelling); ``None`` where
        there is none."""
        clash = next(self.twin_clashes(items, verdicts), None)
        if clash is None:
            return None
        a, b = clash
        return ConfigError(f"movies {said[a]} and {said[b]} are one film, {self.film_words(items[a])}, under two ids, "
                           f"{verdicts_said(verdicts[a], verdicts[b])}: give it once")

    def film_words(self, item: int) -> str:
        """A film as a person knows it: its title, and its year where known."""
        rec = self.record(item)
        return f"{rec['title']} ({rec['year']})" if rec.get("year") else str(rec["title"])

    def _room(self, k: int) -> int:
        """How many movies to ask the model for so that ``k`` are left once a film the
        catalogue lists under two ids keeps one place (its first): ``k`` where it lists none."""
        if self._twinned is None:
            return k
        more = min(self.dataset.n_items, k + min(k, int(self._twinned.sum())))
        limit = getattr(self.model, "check_list_length", None)
        if limit is None or more == k:
            return more
        # A two-stage shortlist holds so many: as many of the more as it holds (k itself was
        # checked; asked for k alone, a list near the shortlist's length came out short).
        fits, too_many = k, more + 1
        while too_many - fits > 1:
            mid = (fits + too_many) // 2
            try:
                limit(mid)
                fits = mid
            except ConfigError:
                too_many = mid
        return fits

    def _one_per_film(self, items: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(n, m)`` lists with each film in its first place alone (a later id of it, a
        twin, dropped: the same film twice read as two), cut to ``k`` and padded with
        ``-1`` and ``-inf``."""
        if self._twinned is None:
            return items[:, :k], scores[:, :k]
        rows = np.flatnonzero((self._twinned[np.maximum(items, 0)] & (items >= 0)).sum(axis=1) >= 2)
        if len(rows):
            items, scores = items.copy(), scores.copy()
        for r in rows:
            keep = self._first_of_each_film(items[r])
            m = int(keep.sum())
            items[r, :m], scores[r, :m] = items[r][keep], scores[r][keep]
            items[r, m:], scores[r, m:] = -1, -np.inf
        return items[:, :k], scores[:, :k]

    def films_left(self, user: int | None = None, given: np.ndarray | None = None) -> int:
        """How many movies a list can hold for user index ``user``, or for someone new who
        gave movie indices ``given``: those not seen (nor given, nor their twins), a film
        left under two ids counted once."""
        if user is not None:
            seen_now = self.seen[user].indices
        else:
            seen_now = np.asarray(given if given is not None else [], dtype=np.int64)
            if self.twins is not None and len(seen_now):
                seen_now = np.union1d(seen_now, self.twins[seen_now].indices)
        left = np.setdiff1d(np.arange(self.dataset.n_items), seen_now)
        return int(self._first_of_each_film(left).sum())

    def shortlist_cut(self, k: int, cut: int | None = None) -> str | None:
        """Where a model ranks a shortlist of ``candidates`` movies (two stages) that may hold
        both ids of a film the catalogue lists twice, each listed once, so that lists of
        ``k`` near its length may come out shorter: why, and the way to full lists (``None``
        otherwise, or where ``cut``, the lists counted shorter for it, is 0)."""
        short = getattr(self.model.config, "candidates", None) if getattr(self.model, "shortlists", False) else None
        later = self._later_ids
        if not isinstance(short, int) or not later or k + later <= short or cut == 0:
            return None
        held = f"lists of {k} may hold fewer" if cut is None else \
            f"{cut:,} list{' holds' if cut == 1 else 's hold'} fewer than {k} for that"
        return (f"model {self.model.name!r} ranks a shortlist of {short:,} movies, which may hold a film under both "
                f"its ids, listed once: {held} (candidates = {k + later:,} or more fills them)")

    @functools.cached_property
    def _later_ids(self) -> int:
        """Each film's ids past its first: the most places a shortlist can give to ids listed
        once (0 where no film is listed twice)."""
        return 0 if self.twins is None else int(later_twins(self.twins).sum())

    def _cut_by_shortlist(self, k: int, listed: int, whose: str = "") -> str | None:
        """:meth:`shortlist_cut` as said beside one list of ``listed`` movies."""
        why = self.shortlist_cut(k)
        if why is None:
            return None
        return f"{listed} movie{'' if listed == 1 else 's'} listed{whose}, not {k}: {why}"

    def short_for_user(self, user: int, k: int, listed: int) -> str | None:
        """The line said beside user index ``user``'s list of ``listed`` movies when it holds
        fewer than ``k`` because they rated all the others (``None`` otherwise): films they
        rated listed again under other ids count as rated, and a film left under two ids is
        listed once, each said apart."""
        if listed >= k:  # (first: a full list, nearly every list, costs nothing here)
            return None
        left = self.films_left(user)
        if listed != left:
            return self._cut_by_shortlist(k, listed, f" for user {self.dataset.user_ids.raw_id(user)}")
        raw = self.dataset.user_ids.raw_id(user)
        n_items, rated_n, seen_n = self.dataset.n_items, int(self.rated[user].nnz), int(self.seen[user].nnz)
        again, once = seen_n - rated_n, n_items - seen_n - left
        if not listed:
            return f"no movie listed for user {raw}: they rated all {n_items:,} of the run's movies" + \
                (f" ({again:,} of them under another id)" if again else "")
        again_words = f", and {again:,} {'is a film' if again == 1 else 'are films'} they rated, listed again under " \
                      f"{'another id' if again == 1 else 'other ids'}" if again else ""
        once_words = f", and {once:,} {'is the other id of a film' if once == 1 else 'are the other ids of films'} " \
                     "listed once" if once else ""
        plain = not again and not once
        return (f"{listed} movie{'' if listed == 1 else 's'} listed for user {raw}, not {k}: they rated "
                f"{'the other ' if plain else ''}{rated_n:,} of the run's {n_items:,} movies{again_words}{once_words}")

    def short_for_history(self, given: np.ndarray, k: int, listed: int) -> str | None:
        """The line said beside the list of ``listed`` movies for someone new who gave movie
        indices ``given`` when it holds fewer than ``k`` because they gave all the others
        (``None`` otherwise); as :meth:`short_for_user`."""
        if listed >= k:
            return None
        given = np.unique(np.asarray(given, dtype=np.int64))
        left = self.films_left(given=given)
        if listed != left:
            return self._cut_by_shortlist(k, listed)
        n_given = len(given)
        again = 0 if self.twins is None or not n_given else len(np.setdiff1d(self.twins[given].indices, given))
        if not listed:  # (as recommend says it on stdout: "no movie left to recommend"; and as short_for_user)
            return f"no movie listed: every movie of the run's {self.dataset.n_items:,} was given" + \
                (f" ({again:,} of them under another id)" if again else "")
        once = self.dataset.n_items - n_given - again - left
        others = f"{n_given:,} movie{'' if n_given == 1 else 's'}" if again or once else \
            "the other movie" if n_given == 1 else f"the other {n_given:,} movies"
        again_words = f", and {again:,} {'is a film' if again == 1 else 'are films'} given, listed again under " \
                      f"{'another id' if again == 1 else 'other ids'}" if again else ""
        once_words = f", and {once:,} {'is the other id of a film' if once == 1 else 'are the other ids of films'} " \
                     "listed once" if once else ""
        return (f"{listed} movie{'' if listed == 1 else 's'} listed, not {k}: {others} of the run's "
                f"{self.dataset.n_items:,} {'is the one' if n_given == 1 else 'are the ones'} given{again_words}"
                f"{once_words}")

    def _first_of_each_film(self, items: np.ndarray, taken: np.ndarray | None = None) -> np.ndarray:
        """``(len(items),) bool``: the movies of ``items`` (in order, ``-1`` never) that are
        no twin of an earlier one, nor of a movie in ``taken``."""
        items = np.asarray(items)
        keep = items >= 0
        if self.twins is None or self._twinned is None:
            return keep
        held: set[int] = set() if taken is None else {int(t) for t in self.twins[np.asarray(taken, np.int64)].indices}
        # Only movies with a twin are looked at one by one (a popular fill passes the whole
        # catalogue here, for each list it fills).
        for j in np.flatnonzero(keep & self._twinned[np.maximum(items, 0)]).tolist():
            i = int(items[j])
            if i in held:
                keep[j] = False
                continue
            lo, hi = self.twins.indptr[i], self.twins.indptr[i + 1]
            held.update(self.twins.indices[lo:hi].tolist())
        return keep

    # -- known people ------------------------------------------------------------------

    def for_users(self, users: Any, k: int, *, off: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each user's top-``k`` unseen movies with reasons.

        Args:
            users: ``(n,)`` distinct user indices.
            k: list length.
            off: ``(n_items,) bool``, movies never to recommend to anyone here (e.g.
                outside a requested genre).

        Returns:
            ``(items, scores, reasons)``, each ``(n, k)``: movie indices (``-1``
            padding), scores, and the liked movie explaining each (``-1``: none).
        """
        u = np.atleast_1d(np.asarray(users, dtype=np.int64))
        k = self._length(k)
        exclude = self.seen if off is None else _with_columns(self.seen, u, np.flatnonzero(off))
        items, scores = self.model.recommend(u, self._room(k), exclude=exclude)
        items, scores = self._one_per_film(items, scores, k)
        if not self.model.personal:  # the same order for everyone: its chart's reason for every movie
            return items, scores, np.where(items >= 0, POPULAR, -1).astype(np.int32)
        # A reason names a liked movie the model's scores were built from.
        reasons = self.model.explain(self.liked[u].multiply(self.model.evidence(u)).tocsr(), items)
        filler = self.model.says_nothing(u, items, scores)
        if filler.any():
            self._fill_with_popular(u, items, scores, reasons, exclude, filler)
        return items, scores, reasons

    def _fill_with_popular(self, u: np.ndarray, items: np.ndarray, scores: np.ndarray, reasons: np.ndarray,
                           exclude: sp.csr_matrix, filler: np.ndarray) -> None:
        """In place: where a known person's history says nothing for the rest of their list
        (``filler``, the model's :meth:`~cinerec.models.base.Recommender.says_nothing`:
        such places come in catalogue order), the best by their own scores of the
        :data:`POPULAR_POOL` most rated movies left instead, with :data:`POPULAR_REASON`,
        as in a new person's list (:meth:`for_history`)."""
        rows = np.flatnonzero(filler.any(axis=1))
        if not len(rows):
            return
        popular = np.argsort(-self.dataset.interactions.item_counts, kind="stable")
        for r in rows:
            places = np.flatnonzero(filler[r])
            listed = items[r][~filler[r] & (items[r] >= 0)]
            taken = np.union1d(exclude[u[r]].indices, listed)
            left = popular[~np.isin(popular, taken)]
            left = left[self._first_of_each_film(left, listed)]  # (one film, one place)
            chosen = left[:max(len(places), POPULAR_POOL)]
            own = np.asarray(self.model.score(np.full(len(chosen), u[r]), chosen), dtype=np.float32)
            if np.isfinite(own).sum() < len(places):  # movies the model cannot score: the next most rated instead
                own = np.asarray(self.model.score(np.full(len(left), u[r]), left), dtype=np.float32)
                chosen = left
            keep = np.isfinite(own)
            chosen, own = chosen[keep], own[keep]
            # The best of the pool by their own scores (ties: the more rated first), so a
            # shorter list is the start of a longer one.
            best = np.argsort(-own, kind="stable")[:len(places)]
            chosen, own = chosen[best], own[best]
            # Places no movie is left for end the list: the catalogue-order movies they held
            # may be among those chosen.
            items[r, places[len(chosen):]], reasons[r, places[len(chosen):]] = -1, -1
            scores[r, places[len(chosen):]] = -np.inf
            places = places[:len(chosen)]
            items[r, places], scores[r, places], reasons[r, places] = chosen, own, POPULAR

    # -- people described by their ratings ---------------------------------------------

    @property
    def history_in_stars(self) -> bool:
        """Whether :meth:`for_history` scores in stars: a model of stars that scores a
        history itself does; the others sum similarities."""
        return bool(self.model.can_predict_ratings and self.model.can_score_history)

    def for_history(self, items_given: np.ndarray, stars: np.ndarray, plain: np.ndarray, k: int,
                    *, off: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-``k`` for someone the model has never seen, never one of the movies given.

        Args:
            items_given: ``(m,)`` distinct movie indices the person rated or liked.
            stars: ``(m,)`` their stars (ignored where ``plain``).
            plain: ``(m,) bool``, ``True`` for a plain like.
            k: list length.
            off: ``(n_items,) bool``, movies never to recommend.

        Returns:
            ``(items, scores, reasons)``, each ``(k',)`` with ``k' <= k`` (only eligible
            movies).

        Models that score a history directly (``can_score_history``) do so, a like given
        the top of the data's rating scale; others sum the similarity rows of the liked
        movies among those given, each weighted by how far up the data's scale its stars
        are, 0 at the bottom to 1 at the top (a like weighs 1; a movie given low stars
        draws in nothing). On implicit data a person
        is read as the run read its people: every rating is one event (1), and under a
        ``--liked-threshold`` a rating below it is no event at all, only a movie seen
        (never listed, never a reason), as the low ratings of the data are.
        """
        n = self.dataset.n_items
        k = self._length(k)
        # In one order whatever order they came in (the API's, the CLI's, a notebook's):
        # summed in another, scores differ in their last digits, and a near-tie may swap.
        order = np.argsort(np.asarray(items_given, dtype=np.int64), kind="stable")
        items_given = np.asarray(items_given, dtype=np.int64)[order]
        stars = np.asarray(stars)[order]
        plain = np.asarray(plain, dtype=bool)[order]
        values, evidence, heard, read, likes, (implicit, low, top) = self._read_given(items_given, stars, plain)
        blocked = items_given if off is None else np.union1d(items_given, np.flatnonzero(off))
        if self.twins is not None and len(items_given):  # (the same film under another id)
            blocked = np.union1d(blocked, self.twins[items_given].indices)
        exclude = history_row(np.unique(blocked), np.ones(len(np.unique(blocked)), np.float32), n)
        if self.model.can_score_history and self.model.shortlists:  # (two stages: a shortlist of what may be listed)
            scores = np.asarray(self.model.score_history(read, exclude=exclude),  # type: ignore[call-arg]
                                dtype=np.float32).reshape(1, n)
            silent = self.model.history_says_nothing(read, scores[0])
        elif self.model.can_score_history:
            scores = np.asarray(self.model.score_history(read), dtype=np.float32).reshape(1, n)
            silent = self.model.history_says_nothing(read, scores[0])
        elif len(heard):
            up = (values - low) / (top - low) if top > low else np.ones_like(values)
            weights = np.where(plain, 1.0, up).astype(np.float32) if not implicit else evidence
            # Only what was liked draws in movies like it: a one-star film's neighbours are
            # no better for being like it (they were listed first, "popular ..." beside).
            weights = np.where(likes[0, heard].toarray().ravel() > 0, weights, 0.0).astype(np.float32)
            scores = (weights @ np.asarray(self.model.item_similarity(heard), dtype=np.float32))[None, :]
            silent = scores[0] <= 0  # similarity: 0 or below is no likeness to what was given
        else:  # nothing to go on but what was seen: every place goes to the most rated movies
            scores = np.zeros((1, n), np.float32)
            silent = np.ones(n, dtype=bool)
        items, sc = self._one_per_film(*top_k(scores, self._room(k), exclude), k)
        keep = (items[0] >= 0) & np.isfinite(sc[0])
        items, sc = items[0][keep], sc[0][keep]
        if not self.model.personal and self.model.can_score_history:  # its own chart: its reason for every movie
            return items, sc, np.full(len(items), POPULAR, dtype=np.int32)
        reasons = self.model.explain(likes, items[None, :])[0] if len(items) else np.zeros(0, np.int32)
        filler = silent[items].copy()
        if filler.any():
            # Past the movies the history speaks for, a score is 0 (no evidence, and the
            # order is the catalogue's) or below (EASE: the history speaks against them).
            # Those places go to the most rated of such movies instead, with their own
            # scores, said to be popular (POPULAR_REASON), not like what the person liked.
            # Only movies the model scores at all (a finite score) can fill them.
            pool = np.setdiff1d(np.flatnonzero(np.isfinite(scores[0]) & silent), blocked)
            popular = pool[np.argsort(-self.dataset.interactions.item_counts[pool], kind="stable")]
            popular = popular[self._first_of_each_film(popular, items[~filler])]  # (one film, one place)
            places = int(filler.sum())
            popular = popular[:max(places, POPULAR_POOL)]
            # The best of the most rated by their own scores (ties: the more rated first):
            # every list reads in descending score, and a shorter list is the start of a longer one.
            chosen = popular[np.argsort(-scores[0][popular], kind="stable")][:places]
            filler[np.flatnonzero(filler)[len(chosen):]] = False  # a short pool: the rest keep the model's own
            items, sc, reasons = items.copy(), sc.copy(), reasons.copy()
            items[filler] = chosen
            sc[filler] = scores[0][chosen]
            reasons[filler] = POPULAR
        return items, sc, reasons

    def _read_given(self, items_given: np.ndarray, stars: np.ndarray, plain: np.ndarray) -> tuple[Any, ...]:
        """What :meth:`for_history` reads of someone new (``items_given`` in ascending order):
        the stars as given (a like as the top of the scale), the evidence a model of events
        reads and its movies, that history as a row, the liked part of it, and ``(implicit,
        low, top)``, the data's kind and scale."""
        n = self.dataset.n_items
        # A like is the most a rating can say: on stars it was 1, which a model of stars
        # reads as a dislike (the same list as three 1-star ratings).
        scale = rating_scale(self.dataset)
        implicit = is_implicit(self.dataset)
        like = 1.0 if scale is None or implicit else scale[1]
        # How far up the data's scale a rating is, 0 to 1 (a liked one at least halfway): on
        # -2..2 a liked 0 weighs 0.5, and on -5..-1 -1 weighs more than -3 (stars / top gave
        # 0 to the one and less to the other).
        low, top = (scale[0], scale[1]) if scale is not None else (1.0, 5.0)
        values = np.where(plain, like, np.asarray(stars, dtype=np.float32)).astype(np.float32)
        history = history_row(items_given, values, n)  # the stars as given: what was liked
        if implicit:
            threshold = self.dataset.info.get("liked_threshold")
            kept = plain | (values >= float(threshold) - 1e-6) if threshold is not None else np.ones(len(plain), bool)
            evidence, heard = np.ones(int(kept.sum()), np.float32), items_given[kept]
        else:
            evidence, heard = values, items_given
        read = history_row(heard, evidence, n)
        order = np.argsort(items_given, kind="stable")  # history_row's entry order
        if implicit and (scale is None or self.dataset.info.get("liked_threshold") is not None):
            # Liked as the data's people are: each event of a log of plain events, each
            # rating the threshold kept.
            likes = liked(read, implicit=True)
        else:
            likes = liked(history, plain=plain[order], min_stars=self.liked_min_stars)
        return values, evidence, heard, read, likes, (implicit, low, top)

    def nothing_liked(self, liked: Any = (), ratings: Any = None) -> str | None:
        """The line said beside a list for someone new (raw ids ``liked``, ``{id: stars}``
        ``ratings``) when none of it counts as liked and the model finds movies only like
        liked ones (it scores no history of its own): every place then goes to the most
        rated movies, said there to be popular, with nothing saying why. So, on a run made
        with ``--liked-threshold``, when every rating given is below it: a model that scores
        a history then reads none of it (a rating below is a movie seen, no event), as it
        read the run's own low ratings. ``None`` otherwise."""
        threshold = self.dataset.info.get("liked_threshold") is not None
        seen_alike = self.model.reads_ratings_as_seen() and not threshold and not is_implicit(self.dataset)
        if (self.model.can_score_history and not threshold and not seen_alike) or not self.model.personal \
                or list(liked or ()):
            return None
        given = {self.item_index(m): float(s) for m, s in dict(ratings or {}).items()}
        if not given:
            return None
        items = np.array(sorted(given), dtype=np.int64)
        stars = np.array([given[i] for i in items], dtype=np.float32)
        _, _, _, read, likes, _ = self._read_given(items, stars, np.zeros(len(items), dtype=bool))
        if likes.nnz or (self.model.can_score_history and threshold and read.nnz):
            return None
        least = stars_counted(self.liked_min_stars)
        if seen_alike:
            return (f"none of the ratings given counts as liked ({least} and up on this data, "
                    f"and not below the others given), and {self.model.name} reads each rating, however low, as a "
                    "movie seen: the list holds movies like these all the same")
        if self.model.can_score_history:
            return (f"none of the ratings given reaches the run's --liked-threshold ({least} "
                    f"and up), and below it a rating is a movie seen, not one {self.model.name} learns from: nothing "
                    "given says what this person likes")
        rule = f"{least} and up, the run's --liked-threshold" if threshold else \
            f"{least} and up on this data, and not below the others given"
        return (f"none of the ratings given counts as liked ({rule}), and {self.model.name} finds movies like liked "
                "ones: the list is the most rated movies")

    # -- what people read ----------------------------------------------------------------

    def record(self, item: int) -> dict[str, Any]:
        """``movie_id`` (raw), ``title``, ``year``, ``genres`` of one movie index."""
        rec = self._records.get(item)
        if rec is None:
            rec = self._records[item] = self.dataset.movie_record(item)
        return rec

    def records(self, items: np.ndarray, scores: np.ndarray, reasons: np.ndarray,
                *, stars: bool | None = None) -> list[dict[str, Any]]:
        """One dict per listed movie: its record, ``score``, ``reason`` and ``reason_movie_id``.

        A model of stars lists by its predicted stars, which may run past the scale (a
        baseline's 5.3 for a movie everyone loves): its ``score`` is shown as ``predict``
        gives it, within the data's scale, and the list keeps the model's own order.
        ``stars``: whether the scores are stars (default: whether the model predicts them);
        a history's list from summed similarities (:attr:`history_in_stars` false) is not,
        and was shown as the bottom of the scale for every movie.
        """
        out = []
        in_stars = self.model.can_predict_ratings if stars is None else stars
        low, high = self._shown_within if in_stars else (-np.inf, np.inf)
        for i, s, r in zip(np.asarray(items).tolist(), np.asarray(scores).tolist(), np.asarray(reasons).tolist()):
            if i < 0:
                continue
            because = self.record(r) if r is not None and r >= 0 else None
            if r == POPULAR:  # listed for its popularity, or (a chart) for the model's own reason
                chart = self.model.chart_reason
                reason = (self.popularity_reason(i, chart=not self.model.personal)
                          if self.model.personal or chart == POPULAR_REASON else chart)
            else:
                reason = reason_text(because["title"] if because else None)
            out.append(dict(self.record(i), score=_finite(min(max(s, low), high) if np.isfinite(s) else s), reason=reason,
                            reason_movie_id=because["movie_id"] if because else None))
        return out

    def frame(self, user_ids: Any, k: int = 10, name: str | None = None) -> Any:
        """A pandas DataFrame of each raw user id's top-``k``, for notebooks.

        Columns: ``user_id``, ``rank`` (1 = best), ``movie_id``, ``title``, ``year`` (a
        nullable integer: ``<NA>`` when unknown), ``genres`` (a list), ``score``, ``reason``
        and ``reason_movie_id`` (the movie the reason names); one row per recommendation,
        users in the order given, each once (an id given again, or the same user written
        another way, ``1`` and ``"1"``, adds no rows). ``frame.attrs["notes"]`` holds the
        lines ``cinerec recommend --json`` gives in ``notes`` beside the same lists.
        """
        import pandas as pd

        if user_ids is None:  # it read as one unknown id, "None"
            raise ConfigError("top_n: user_ids: expected a raw user id or a list of them, got None")
        one = isinstance(user_ids, (str, bytes)) or not hasattr(user_ids, "__iter__") or np.ndim(user_ids) == 0 \
            and isinstance(user_ids, np.ndarray)
        ids = [user_ids] if one else list(user_ids)  # any iterable of ids: a list, a generator, a Series...
        users = np.array(list(dict.fromkeys(self.indices(ids, "user"))), dtype=np.int64)
        self._length(k)  # with no users too: a wrong k (or one past a shortlist) is wrong whoever asks
        k = check_k(k)
        rows: list[dict[str, Any]] = []
        shorts: list[str | None] = []  # (each user's: why their list is short, or None)
        if len(users):
            order, first = np.unique(users, return_index=True)  # for_users wants distinct users
            items, scores, reasons = self.for_users(order, k)
            at = {int(u): j for j, u in enumerate(order)}
            user_raw = self.dataset.user_ids.raw
            for u in users:
                j = at[int(u)]
                raw = user_raw[u]  # the data's own id ("5" asked, 5 given back where ids are numbers)
                raw = raw.item() if isinstance(raw, np.generic) else raw
                recs = self.records(items[j], scores[j], reasons[j])
                rows += [{"user_id": raw, "rank": rank, **{c: rec[c] for c in _LIST_COLUMNS}}
                         for rank, rec in enumerate(recs, 1)]
                shorts.append(self.short_for_user(int(u), k, len(recs)))
        columns = ["user_id", "rank", *_LIST_COLUMNS]
        frame = self._typed(pd.DataFrame(rows, columns=columns))
        frame["user_id"] = frame["user_id"].astype(np.int64 if self.dataset.user_ids.raw.dtype.kind in "iu" else str)
        frame.attrs["notes"] = self._notes() + self.index_note(name, k=k, users=users) + \
            [n for n in shorts if n is not None]
        return frame

    def index_note(self, name: str | None = None, similar: bool = False, k: int | None = None,
                   users: Any = None, item: int | None = None) -> list[str]:
        """The line said beside a known person's list and a store (or, ``similar``, the
        movies like one) where they come through an approximate index: the model's own, a
        two-stage model's retriever's (its shortlist, and its similar movies), an
        ensemble's lead member's (its similar movies). A movie exact scoring would list may
        be left out. Someone new's lists are scored exactly, and say nothing; so are lists
        of ``k`` (a retriever's: its shortlist) long enough to be most of the catalogue
        once the movies of ``users`` (user indices, every user when ``None``) have seen are
        left out, or (``similar``) with movie index ``item``, where the index is not
        searched. ``name``: the model's name in its run."""
        from cinerec.evaluation.protocols import index_kind
        from cinerec.models.ensemble import Ensemble

        name = name or self.model.name
        leave_out = "which may leave out a movie exact scoring would list"

        def blank(model: Any) -> bool:  # a movie or a person of a zero vector: scored exactly
            if similar and item is not None:
                vec = model.similarity_vectors()
                return vec is not None and not np.asarray(vec[item]).any()
            one = np.atleast_1d(np.asarray(users, dtype=np.int64)) if users is not None else None
            if not similar and one is not None and len(one) == 1 and hasattr(model, "query_vectors"):
                return not np.asarray(model.query_vectors(one)).any()
            return False

        if (kind := index_kind(self.model)) != "exact" and self._searched(k, users, similar, item) \
                and not blank(self.model):
            what = "finds similar movies" if similar else "lists"
            return [f"model {name!r} {what} through an approximate {kind} index, {leave_out} (index = 'exact' scores "
                    "every movie)"]
        retriever = getattr(self.model, "retriever", None) if getattr(self.model, "shortlists", False) else None
        shortlist = getattr(self.model.config, "candidates", None)
        if retriever is not None and (kind := index_kind(retriever)) != "exact" and \
                self._searched(k if similar or not isinstance(shortlist, int) else shortlist, users, similar, item,
                               shortlist=not similar) and not blank(retriever):
            what = "finds similar movies" if similar else "shortlists"
            return [f"model {name!r} {what} through its retriever's approximate {kind} index, {leave_out} "
                    "(retriever_settings.index = 'exact' scores every movie)"]
        lead = _listing(self.model) if similar and isinstance(self.model, Ensemble) else None
        if lead is not None and (kind := index_kind(lead)) != "exact" and self._searched(k, users, similar, item) \
                and not blank(lead):
            return [f"model {name!r} finds similar movies through its member {lead.name}'s approximate {kind} index, "
                    f"{leave_out} (settings.{lead.name}.index = 'exact' scores every movie)"]
        return []

    def _searched(self, k: int | None, users: Any, similar: bool, item: int | None = None,
                  shortlist: bool = False) -> bool:
        """Whether lists of ``k`` go through an index for any of ``users`` (every user when
        ``None``; ``k`` ``None``: lists of any length): a list that, with the movies to
        skip, would be more than a share of the catalogue is scored exactly instead. The
        model is asked for more than ``k`` where films have two ids (:meth:`_room`, and
        ``item``'s other ids for its similar movies); a retriever's ``shortlist`` of ``k``
        is asked as it is."""
        from cinerec.models.index import through_index

        if k is None:
            return True
        asked = k if shortlist else self._room(k)
        if similar and self.twins is not None and item is not None:
            asked += len(self.twins[item].indices)
        n = self.dataset.n_items
        if similar:  # (the movie itself is skipped)
            return bool(through_index(min(asked, n) + 1, n))
        indptr = self.seen.indptr
        if users is None:
            skipped = np.diff(indptr)
        else:  # (the given users' counts alone: a known person's list over HTTP asks for one)
            u = np.asarray(users, dtype=np.int64)
            skipped = indptr[u + 1] - indptr[u]
        return bool(len(skipped)) and bool(through_index(asked + skipped, n).any())

    def _notes(self) -> list[str]:
        """What is said beside every list of this run and model, as ``cinerec recommend
        --json`` says it: that the data is a synthetic release, and the model's fit notes."""
        from cinerec.data.dataset import synthetic_list_notes

        return list(synthetic_list_notes(self.dataset)) + list(self.model.fit_notes())

    def similar(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The movies most like movie index ``item`` (``model.similar_items``) and their
        similarities, only those with a positive similarity (a similarity of 0 or less
        is filler): fewer than ``k`` when fewer have anything in common with it."""
        k = check_k(k)
        # The film itself under another id is no other film like it, and another film is
        # listed once, under its first id.
        twins = self.twins[item].indices if self.twins is not None else np.zeros(0, np.int64)
        room = self._room(k) + len(twins) if self.twins is not None else k
        items, sims = self.model.similar_items([item], min(room, self.dataset.n_items))
        keep = (items[0] >= 0) & np.isfinite(sims[0]) & (sims[0] > 0) & ~np.isin(items[0], twins)
        keep &= self._first_of_each_film(items[0], np.array([item]))
        return items[0][keep][:k], sims[0][keep][:k]

    def similar_frame(self, movie_id: Any, k: int = 10, name: str | None = None) -> Any:
        """A pandas DataFrame of the movies most like raw movie id ``movie_id``: ``rank``,
        ``movie_id``, ``title``, ``year``, ``genres``, ``similarity``; why it is short, if
        it is, in ``frame.attrs["notes"]`` (``name``: the model's name in its run)."""
        import pandas as pd

        item = self.item_index(movie_id)
        items, sims = self.similar(item, k)
        frame = self._typed(pd.DataFrame([{"rank": r, **self.record(int(i)), "similarity": float(s)}
                                          for r, (i, s) in enumerate(zip(items, sims), 1)],
                                         columns=["rank", "movie_id", "title", "year", "genres", "similarity"]))
        cut = self.similar_cut(item, k, len(frame), name)
        frame.attrs["notes"] = self._notes() + self.index_note(name, similar=True, k=k, item=item) + \
            ([cut[0]] if cut else [])
        return frame

    def similar_cut(self, item: int, k: int, listed: int, name: str | None = None) -> tuple[str, int | None] | None:
        """Why :meth:`similar` listed ``listed`` movies like movie index ``item``, fewer
        than ``k`` while more films are left (``None`` where it did not): the line said
        beside the list, and the neighbours item-kNN keeps per movie where that setting
        cut it (else ``None``). ``name`` is the model's name in its run."""
        name = name or self.model.name
        if listed >= min(k, self.films_left(given=np.array([item]))):
            return None
        # (item-kNN's lists are its kept neighbours; seqknn keeps its neighbours of what
        # follows each movie, while its similar movies are those that lead to it, of no
        # count; other models' neighbors settings, knnbaseline's, count what predicts
        # stars, not these lists)
        source = _listing(self.model)
        kept = getattr(source.config, "neighbors", None) if source.name == "itemknn" else None
        listed_n = f"{listed} movie{'' if listed == 1 else 's'} listed, not {k}"
        if kept:  # the neighbours it keeps, this movie's other id among them (left out of the list) or not
            _, found = self.model.similar_items([item], min(kept, self.dataset.n_items))
            if int(np.sum(np.isfinite(found[0]) & (found[0] > 0))) >= kept:
                whose = f"model {name!r}" if source is self.model else f"the {source.name} in model {name!r}"
                return (f"{listed_n}: {whose} keeps {kept} similar movie{'' if kept == 1 else 's'} per movie "
                        "(its neighbors setting)"), kept
        movie = self.record(item)["movie_id"]
        if not listed and self.unrated(item):
            return f"{listed_n}: model {name!r} was trained on no rating of movie {movie!r}, so nothing is like it", None
        return (f"{listed_n}: model {name!r} finds no more movies like movie {movie!r} "
                "(only those with a positive similarity are listed)"), None

    def unrated(self, item: int) -> bool:
        """Whether the model's training data holds no rating of movie index ``item`` (a
        movie of the run's data that a protocol's split left to its test part alone)."""
        train = getattr(_listing(self.model), "train_", None)
        return train is not None and item < train.n_items and not train.item_counts[item]

    def history_frame(self, liked: Any = (), ratings: Any = None, k: int = 10) -> Any:
        """A pandas DataFrame of the top-``k`` for someone new, described by raw movie ids
        they ``liked`` and/or ``ratings`` (``{movie id: stars}``), never one of those:
        ``rank``, ``movie_id``, ``title``, ``year``, ``genres``, ``score``, ``reason``,
        ``reason_movie_id`` (cold start, as the API's ``POST /recommendations``), with the
        notes said beside it in ``frame.attrs["notes"]``, as :meth:`frame`."""
        import pandas as pd

        rows = [{"rank": r, **{c: rec[c] for c in _LIST_COLUMNS}}
                for r, rec in enumerate(self.history_records(liked, ratings, k), 1)]
        frame = self._typed(pd.DataFrame(rows, columns=["rank", *_LIST_COLUMNS]))
        notes = self._notes()
        if len(frame) and (unliked := self.nothing_liked(_liked_ids(liked), ratings)) is not None:
            notes.append(unliked)
        given = np.array([self.item_index(m) for m in [*_liked_ids(liked), *dict(ratings or {})]], dtype=np.int64)
        if (short := self.short_for_history(given, k, len(frame))) is not None:
            notes.append(short)
        frame.attrs["notes"] = notes
        return frame

    def history_records(self, liked: Any = (), ratings: Any = None, k: int = 10) -> list[dict[str, Any]]:
        """:meth:`history_frame`'s list as :meth:`records` gives it, best first (one dict per
        movie, with ``reason_movie_id``), for ``cinerec recommend --liked/--rated``."""
        if ratings is not None and not isinstance(ratings, Mapping):
            raise ConfigError(f"ratings: expected a mapping of movie id to stars ({{50: 4.5}}), "
                              f"got {type(ratings).__name__}")
        if isinstance(liked, Mapping):  # its stars would be dropped: a 1-star movie read as liked
            raise ConfigError("liked: expected movie ids ([50, 181]), got a mapping: give movie id to stars as "
                              "ratings= ({50: 4.5})")
        liked_ids = _liked_ids(liked)
        found = self.indices([*liked_ids, *dict(ratings or {})], "movie")  # (every unknown one named at once)
        given: dict[int, float | None] = dict.fromkeys(found[:len(liked_ids)])
        scale = self.stars_range  # as the API checks them
        for m, stars in dict(ratings or {}).items():
            if isinstance(stars, bool) or not isinstance(stars, (int, float, np.number)) or not np.isfinite(stars):
                raise ConfigError(f"ratings: movie {_said(m)}: stars must be a number, got {_said(stars)}")
            if not scale[0] <= stars <= scale[1]:
                raise ConfigError(f"ratings: movie {_said(m)}: {outside_scale(stars, scale, is_implicit(self.dataset))}")
            index = self.item_index(m)
            if index in given and given[index] is None:
                raise ConfigError(f"movie {_said(m)} is both liked and rated {stars_counted(stars)}: give it once")
            if index in given and given[index] != float(stars):  # one movie under two spellings (50 and "50")
                raise ConfigError(f"ratings: movie {_said(m)} is rated twice ({stars_said(given[index])} and "
                                  f"{stars_said(stars)} stars): give it once")
            given[index] = float(stars)
        if not given:
            raise ConfigError("give at least one movie, liked or rated")
        ids = list(given)
        if (twice := self.twin_clash_error(ids, list(given.values()),
                                           [_said(self.record(i)["movie_id"]) for i in ids])) is not None:
            raise twice
        items_given = np.array(list(given), dtype=np.int64)
        stars = np.array([1.0 if s is None else s for s in given.values()], dtype=np.float32)
        plain = np.array([s is None for s in given.values()])
        items, scores, reasons = self.for_history(items_given, stars, plain, check_k(k))
        return self.records(items, scores, reasons, stars=self.history_in_stars)

    def _typed(self, frame: Any) -> Any:
        """The same column types whatever the rows (none included): whole years, ``<NA>``
        where unknown (not floats beside NaN), and movie ids as the data has them."""
        import pandas as pd

        frame["year"] = frame["year"].astype("Int64")
        frame["rank"] = frame["rank"].astype(np.int64)
        for column in ("score", "similarity"):
            if column in frame:
                frame[column] = frame[column].astype(np.float64)
        if not len(frame):
            frame = frame.astype({c: str for c in ("title", "reason") if c in frame})
        if self.dataset.item_ids.raw.dtype.kind in "iu":
            frame["movie_id"] = frame["movie_id"].astype(np.int64)
            if "reason_movie_id" in frame:  # <NA> where the reason names no movie
                frame["reason_movie_id"] = frame["reason_movie_id"].astype("Int64")
        else:  # text ids: str columns, as pandas types them when there are rows
            frame["movie_id"] = frame["movie_id"].astype(str)
            if "reason_movie_id" in frame:  # missing where the reason names no movie, typed as the ids
                ids = frame["movie_id"].dtype
                frame["reason_movie_id"] = frame["reason_movie_id"].astype(ids if isinstance(ids, pd.StringDtype)
                                                                           else object)
        return frame

    def item_index(self, movie: Any) -> int:
        """The index of raw movie id ``movie``, with one clear error when unknown."""
        _one_id(movie, "movie")
        i = self.dataset.item_ids.get(movie)
        if i is None:
            raise NotFoundError(f"unknown movie id {_said(movie)} ({self._data_words} has {self.dataset.n_items:,} "
                                f"movies{after_filters(self.dataset, 'movies')})")
        return int(i)

    def user_index(self, user: Any) -> int:
        """The index of raw user id ``user``, with one clear error when unknown."""
        _one_id(user, "user")
        u = self.dataset.user_ids.get(user)
        if u is None:
            raise NotFoundError(f"unknown user id {_said(user)} ({self._data_words} has {self.dataset.n_users:,} "
                                f"users{after_filters(self.dataset, 'users')})")
        return int(u)

    def indices(self, ids: Any, kind: str) -> list[int]:
        """The index of each raw ``kind`` id (``"user"`` or ``"movie"``) of ``ids``, as
        :meth:`user_index` and :meth:`item_index` find them; where several are unknown, one
        error names them all (the first five, and how many more), not the first alone."""
        one = self.user_index if kind == "user" else self.item_index
        found: list[int] = []
        unknown: dict[str, Any] = {}  # (as said → as given)
        first: NotFoundError | None = None
        for raw in ids:
            try:
                found.append(one(raw))
            except NotFoundError as e:
                unknown.setdefault(_said(raw), raw)  # (an id given twice is named once)
                first = first or e
        if first is not None and len(unknown) > 1:
            n = self.dataset.n_users if kind == "user" else self.dataset.n_items
            more = f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else ""
            raise NotFoundError(f"unknown {kind} ids {', '.join(list(unknown)[:5])}{more} "
                                f"({self._data_words} has {n:,} {kind}s{after_filters(self.dataset, kind + 's')})")
        if first is not None:
            raise first
        return found

    @property
    def _data_words(self) -> str:
        return "the dataset given" if self.given else "the run's data"


#: The columns of a list's rows in the notebook's DataFrames (after ``user_id`` and ``rank``).
_LIST_COLUMNS = ("movie_id", "title", "year", "genres", "score", "reason", "reason_movie_id")


def later_verdicts(dataset: Dataset, twins: sp.csr_matrix, liked: sp.csr_matrix) -> sp.csr_matrix:
    """``liked`` (``(n_users, n_items)`` CSR) less every id of a film a person rated under
    two of its ids (:func:`~cinerec.data.dataset.title_twins`) whose later rating is not
    liked: it is one film, and the later verdict is theirs, as a profile keeps it. Where
    the times cannot tell (equal, or a log with none), a film rated both ways is named as
    no reason."""
    x = dataset.interactions
    twinned = np.diff(twins.indptr) > 0
    rows = np.flatnonzero(twinned[x.items])
    if not len(rows):
        return liked
    film = np.arange(twins.shape[0])  # each id's film: the lowest of its ids
    pairs = twins.tocoo()
    np.minimum.at(film, pairs.row, pairs.col)
    # Only the films a person rated more than once count (counted first: sorting every
    # rating of a twinned film took seconds on ten million ratings).
    users, films = x.users[rows], film[x.items[rows]]
    counts = sp.csr_matrix((np.ones(len(rows), np.int32), (users, films)), shape=liked.shape)
    again = np.asarray(counts[users, films]).ravel() > 1
    if not again.any():
        return liked
    # Those ratings by person, film and time: a group per film, each of two ratings or more.
    rows, users, films = rows[again], users[again], films[again]
    order = np.lexsort((x.timestamps[rows], films, users))
    users, films = users[order].astype(np.int64), films[order]
    items, times = x.items[rows][order].astype(np.int64), x.timestamps[rows][order]
    good = np.asarray(liked[users, items]).ravel() > 0
    first = np.r_[True, (users[1:] != users[:-1]) | (films[1:] != films[:-1])]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    latest = times == np.maximum.reduceat(times, starts)[group]  # (the last of a group, and any at its time)
    taken_back = np.bincount(group[latest & ~good], minlength=len(starts)) > 0
    off = taken_back[group] & good
    if not off.any():
        return liked
    taken = sp.csr_matrix((np.ones(int(off.sum()), np.float32), (users[off], items[off])), shape=liked.shape)
    out = (liked - liked.multiply(taken)).tocsr()
    out.eliminate_zeros()
    out.sort_indices()
    return out


def after_filters(dataset: Dataset, what: str) -> str:
    """``", after the filters top_users=300, kcore=5,5"`` when filters dropped some of
    ``what``: an id the source has may be one they dropped."""
    from cinerec.data.filters import dropped_by

    steps = dropped_by(dataset, what)
    return f", after the filter{'s' if len(steps) > 1 else ''} {', '.join(steps)}" if steps else ""


def _with_columns(matrix: sp.csr_matrix, users: np.ndarray, columns: np.ndarray) -> sp.csr_matrix:
    """``matrix``'s rows ``users`` with ``columns`` added to each; every other row empty."""
    n, m = matrix.shape
    users = np.unique(users)
    extra = sp.csr_matrix((np.ones(len(users) * len(columns), np.float32),
                           (np.repeat(np.arange(len(users)), len(columns)), np.tile(columns, len(users)))),
                          shape=(len(users), m))
    rows = matrix[users].maximum(extra).tocsr()
    rows.sort_indices()
    counts = np.zeros(n, dtype=np.int64)
    counts[users] = np.diff(rows.indptr)
    return sp.csr_matrix((rows.data, rows.indices, np.concatenate([[0], np.cumsum(counts)])), shape=(n, m))


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def top_n(source: Any, user_ids: Any, k: int = 10, *, dataset: Dataset | None = None,
          model: str | None = None) -> Any:
    """The top-``k`` of raw user ids as a DataFrame (see :meth:`Lists.frame`).

    Args:
        source: a run folder (path or opened :class:`~cinerec.runs.Run`), or a fitted
            model together with ``dataset``.
        user_ids: raw user ids, as in the data.
        k: list length.
        dataset: the dataset a fitted model was trained on (its whole data: every rated
            movie counts as seen).
        model: which of a run's models (default: the one it serves,
            :attr:`~cinerec.runs.Run.default_model`: a study's exported two-stage model
            where it has one, else its best).
    """
    if isinstance(source, Recommender):
        if dataset is None:
            raise DataError("top_n: a fitted model needs the dataset it was trained on (dataset=...)")
        if model is not None:
            raise ConfigError(f"top_n: model={model!r} picks one of a run's models; the source is a fitted "
                              f"{source.name} model already")
        return Lists(dataset, source, given=True).frame(user_ids, k)
    from cinerec.runs import Run, open_run

    if dataset is not None:
        raise ConfigError("top_n: dataset= goes with a fitted model; a run lists from its own saved data")
    if not isinstance(source, (Run, str, os.PathLike)):
        raise ConfigError(f"top_n: source: expected a run folder (a path or an opened run) or a fitted model, "
                          f"got {type(source).__name__}")
    run = source if isinstance(source, Run) else open_run(source)
    return Lists(run.dataset, run.model(model)).frame(user_ids, k, model or run.default_model)


def _liked_ids(liked: Any) -> list[Any]:
    """A notebook's ``liked``: one raw movie id, or any iterable of them."""
    return [] if liked is None else [liked] if isinstance(liked, (str, bytes, int, np.integer)) else list(liked)


def stars_said(stars: Any) -> str:
    """Stars as a message says them: short (``4.5``, ``9``), but never rounded onto another
    value (``5.0000001`` is no ``5``, which would read as inside the scale)."""
    short = f"{stars:g}"
    if float(short) == float(stars):
        return short
    # the shortest text that reads back as this value at its own precision (float32's 5.1 is "5.1")
    return np.format_float_positional(stars if isinstance(stars, np.floating) else float(stars), trim="-")


def stars_counted(stars: Any) -> str:
    """``1 star``, ``4.5 stars``: stars as :func:`stars_said` says them, with their word."""
    return f"{stars_said(stars)} star{'' if float(stars) == 1 else 's'}"


def outside_scale(stars: Any, scale: tuple[float, float], implicit: bool = False) -> str:
    """What is wrong with ``stars`` outside the data's ``scale`` (lowest, highest): on a log
    of plain events (``implicit``, a scale of one number), that it takes likes only; on
    ratings all of one number, that number."""
    given = stars_counted(stars)
    if scale[0] == scale[1] and implicit:  # (a run made implicit from stars keeps their scale: said as any)
        return f"{given} is outside this data's scale: it holds plain events, so it takes likes only: give the " \
               "movie as liked"
    if scale[0] == scale[1]:
        return (f"{given} is outside this data's scale: its every rating is {scale[0]:g}, so it takes "
                f"{stars_counted(scale[0])} or a like")
    return f"{given} is outside this data's scale, {scale[0]:g} to {scale[1]:g}"


def verdicts_said(a: float | None, b: float | None) -> str:
    """Two verdicts on one movie (stars, ``None`` for a like) as a message says them:
    ``rated 1 and 5 stars``, ``given liked and 3 stars``."""
    if a is not None and b is not None:
        return f"rated {stars_said(a)} and {stars_said(b)} stars"

    def one(v: float | None) -> str:
        return "liked" if v is None else stars_counted(v)

    return f"given {one(a)} and {one(b)}"


def _said(value: Any) -> str:
    """A raw id as a message quotes it: ``685``, not NumPy's ``np.int64(685)`` (ids taken
    from a DataFrame are NumPy scalars)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _one_id(value: Any, what: str) -> None:
    """One raw id (a string or a whole number), or one line saying what was given instead."""
    many = isinstance(value, (list, tuple, set, dict, range)) or (  # (and pandas's Series, Index, arrays...)
        not isinstance(value, (str, bytes)) and np.ndim(value) > 0)
    if many:
        shown = " ".join(repr(value).split())
        raise ConfigError(f"{what} id: expected one {what} id, got a {type(value).__name__} ({shown:.60})")
    if value is None:  # (it said "unknown movie id None", as if None were an id the data lacks)
        raise ConfigError(f"{what} id: expected one {what} id, got None")
    import pandas as pd

    if not isinstance(value, (str, bytes)) and pd.isna(value):  # a frame's missing cell: pd.NA, NaN, NaT
        raise ConfigError(f"{what} id: expected one {what} id, got {value!r} (a missing value)")


def _listing(model: Any) -> Any:
    """The model whose own similar movies ``model`` lists: a two-stage model's retriever,
    an ensemble's first member with a weight (their ``similar_items``)."""
    from cinerec.models.ensemble import Ensemble
    from cinerec.models.two_stage import TwoStage

    while isinstance(model, (TwoStage, Ensemble)):
        model = model._stages()[0] if isinstance(model, TwoStage) else model._lead()
    return model

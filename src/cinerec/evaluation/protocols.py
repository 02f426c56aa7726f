"""Named evaluation protocols: the split, the candidates, the metrics, the seed.

A figure means nothing without the recipe that produced it, so every result carries
the name of its protocol, and docs/protocols.md describes each one exactly. A protocol
prepares its split (and its sampled candidates) once; several models are then evaluated
on the same prepared split::

    prepared = get_protocol("loo-sampled").prepare(dataset, seed=0)
    results = [prepared.evaluate(create(name)) for name in ("popularity", "ease")]

Protocols only call the model protocol (``fit``, ``recommend``, ``score``, ``predict``);
lists come from :func:`cinerec.ranking.top_k` inside ``recommend``, single ranks from
:func:`cinerec.ranking.rank_of` (the same tie rule), and every figure from
:mod:`cinerec.evaluation.metrics`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import time
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence, cast

import numpy as np

from cinerec.config import MAX_SEED, from_numpy, shown, shown_exactly
from cinerec.data import history
from cinerec.data.dataset import Dataset, Interactions, data_label
from cinerec.errors import ConfigError, DataError, FilterLeavesOne, NotFoundError, TooFewUnseen, expect, python_words, said, unknown_name
from cinerec.evaluation import metrics as M
from cinerec.models.base import CapabilityError, RatingRecommender, Recommender, chunks, create, model_class
from cinerec.ranking import rank_of

__all__ = [
    "Result", "Prepared", "Protocol", "LooSampled", "LooFull", "RandomFull", "RatingsFold",
    "RatingsRandom", "PROTOCOLS", "get_protocol", "evaluate", "LOWER_IS_BETTER", "HEADLINE", "headline", "below_popularity",
    "check_learnable", "implicit_words",
]

#: Metrics where a smaller value is better (everything else: larger is better).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse"})  # errors: the smaller the better

OFFICIAL_FOLDS = ("u1", "u2", "u3", "u4", "u5")  # "all" averages these
EXTRA_FOLDS = ("ua", "ub")  # ten test ratings per user; chosen by name only


@dataclass(frozen=True)
class Result:
    """One model's figures under one protocol.

    Attributes:
        protocol: the protocol's name (``"loo-sampled"``...), printed beside every number.
        model: the model's name (or the label given to ``evaluate``).
        metrics: metric name (``"hr@10"``, ``"rmse"``...) → value.
        n_users: users the ranking metrics average over (users with test ratings).
        seconds_fit, seconds_eval: wall-clock time of fitting and of scoring + metrics.
        seed: the seed of the split and of the candidate sampling.
        options: the protocol's options (e.g. ``{"fold": "u1"}``).
        per_user: with ``evaluate(..., per_user=True)``: metric name → ``(n_users,)``
            per-user values (``nan`` where a user has no relevant movie), aligned with
            ``Prepared.users``, for the metrics that are means over users, and ``"user"``:
            those users' indices. Not in :meth:`to_dict`.
        parts: over several official folds, each fold's own result (with its
            ``per_user`` when asked for), in fold order; else empty. Not in :meth:`to_dict`.
    """

    protocol: str
    model: str
    metrics: dict[str, float]
    n_users: int
    seconds_fit: float
    seconds_eval: float
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    per_user: dict[str, np.ndarray] | None = field(default=None, repr=False, compare=False)
    parts: tuple["Result", ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values: the fields above, with metrics as a nested mapping."""
        return {
            "protocol": self.protocol, "model": self.model, "seed": self.seed, "options": dict(self.options),
            "metrics": {k: float(v) for k, v in self.metrics.items()}, "n_users": int(self.n_users),
            "seconds_fit": float(self.seconds_fit), "seconds_eval": float(self.seconds_eval),
        }

    @property
    def label(self) -> str:
        """The protocol with its options and seed, e.g. ``ratings-fold (fold=u1, seed 0)``."""
        opts = options_text(self.options)
        return f"{self.protocol} ({opts + ', ' if opts else ''}seed {self.seed})"


class NoTestRatings(DataError):
    """A split with no one to measure (:class:`Prepared`); :meth:`Protocol.prepare` adds
    which filters to loosen."""


@dataclass(frozen=True, eq=False)
class Prepared:
    """A protocol's split, made once and shared by every model evaluated on it.

    Attributes:
        protocol: the protocol that made it.
        seed: the seed used for the split and the candidates.
        train, test, valid: interactions in the dataset's id space (``valid`` may be None).
        users: ``(n,) int64`` users evaluated (those with a test rating), ascending.
        truth: ``(n,) int32`` held-out movie per user (leave-latest-out protocols), else None.
        candidates: ``(n, m) int32`` movies each user's held-out movie is ranked among
            (sampled protocols), else None.
        ks: the Ks measured on this split when they are fewer than the protocol's own (its
            default Ks past a small catalogue), else empty.
        folds: for ``ratings-fold`` with ``fold="all"``: one Prepared per official fold
            (``train``/``test`` then repeat the first fold's, for inspection only).
        fold: the fold's name when this is one official fold.
        also_seen: ``(n_users, n_items)`` CSR of movies people rated that are no longer
            ratings here (a ``--liked-threshold`` drops the low ones,
            :attr:`Dataset.also_seen`), or None: never a sampled candidate and never
            ranked, like the training movies (:attr:`excluded`).
    """

    protocol: "Protocol"
    seed: int
    train: Interactions
    test: Interactions
    valid: Interactions | None = None
    users: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    truth: np.ndarray | None = None
    candidates: np.ndarray | None = None
    folds: tuple["Prepared", ...] = ()
    fold: str | None = None
    also_seen: Any = None
    ks: tuple[int, ...] = ()
    #: The dataset split (set by :meth:`Protocol.prepare`): the side features
    #: :meth:`create` gives a model that reads them.
    dataset: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (f"<{repr(self.protocol)[1:-1]} split, seed {self.seed}: {len(self.train):,} training ratings, "
                f"{len(self.test):,} test ratings of {len(self.users):,} users"
                + (f", {len(self.valid):,} validation ratings" if self.valid is not None else "") + ">")

    def __post_init__(self) -> None:
        if not self.folds and len(self.users) == 0:
            # With valid = true a user's latest two ratings are held out: one for each part.
            most = 3 if self.protocol.holds_out_latest and bool(getattr(self.protocol, "valid", False)) else 2
            test = getattr(self.protocol, "_options", {}).get("test")
            need = (f"users with at least {most} ratings" if self.protocol.holds_out_latest
                    else "more ratings, so that some fall in the test part"
                    + (f", or a larger test fraction (test = {test:g})" if isinstance(test, float) else ""))
            n, users = len(self.train), self.train.n_users
            raise NoTestRatings(f"protocol {self.protocol.name}: no user has a test rating to measure "
                            f"({n:,} training rating{'' if n == 1 else 's'} of {users:,} user{'' if users == 1 else 's'}); "
                            f"it needs {need}")

    @property
    def scale_low(self) -> float | None:
        """The lowest rating of a log's ``--rating-scale`` (which its ratings may not reach),
        under a rating protocol, or None: what rating NDCG's gains start from. Read from
        the training ratings, which carry the scale declared (:attr:`Interactions.scale`)."""
        scale = self.train.scale if self.protocol.needs_ratings else None
        return scale[0] if scale is not None else None

    @property
    def n_users(self) -> int:
        return len(self.users)

    @cached_property
    def excluded(self) -> Any:
        """``(n_users, n_items)`` CSR of the movies a full ranking leaves out: the training
        ones, the validation ones, and the ones :attr:`also_seen` holds."""
        seen = self.train.seen
        if self.valid is not None:  # rated, and given to fit: never a candidate
            seen = seen.maximum(self.valid.seen).tocsr()
        return seen if self.also_seen is None else seen.maximum(self.also_seen).tocsr()

    def create(self, name: str, config: Mapping[str, Any] | None = None) -> Recommender:
        """A new model by name with this protocol's settings (:meth:`Protocol.create`); unless
        ``config`` sets one, this split's seed as the model's own, as ``--seed`` gives both;
        and the data's side features where it reads them (``set_features``)."""
        from cinerec.models.base import with_features

        model = self.protocol.create(name, config, seed=self.seed)
        return with_features(model, self.dataset) if self.dataset is not None else model

    def evaluate(self, model: Recommender, fit: bool = True, label: str | None = None,
                 per_user: bool = False) -> Result:
        """Fit ``model`` on :attr:`train` (with :attr:`valid`) and measure it on :attr:`test`.

        Args:
            model: an unfitted or fitted model.
            fit: fit on this split unless ``model`` was already fitted on exactly this
                split's training interactions. ``False`` uses a fitted model as it is
                (it must have been fitted on this split's training data; an unfitted
                model is fitted regardless). With several official folds the model is
                refitted on every fold whatever ``fit`` says.
            label: the name shown for the model (default ``model.name``).
            per_user: also keep each user's values (:attr:`Result.per_user`); with
                several official folds, in each fold's result (:attr:`Result.parts`).

        Returns:
            The :class:`Result`, protocol named.
        """
        if isinstance(model, str):
            raise ConfigError(f"evaluate: model must be a model, got the name {model!r} "
                              f"(cinerec.models.create({model!r}) makes one)")
        expect(model, Recommender, "evaluate: model")
        self.protocol.check(model)
        name = label or model.name
        if self.folds:
            # Each fold its own checkpoints (a neural model's): in one folder the last fold's
            # overwrote the others', and a resume met another fold's weights.
            home = getattr(model, "checkpoint_dir", None)
            parts = []
            try:
                for f in self.folds:
                    if home is not None:
                        model.checkpoint_dir = Path(home) / str(f.fold)  # type: ignore[attr-defined]
                    parts.append(f.evaluate(model, fit=True, label=name, per_user=per_user))
            finally:
                if home is not None:
                    model.checkpoint_dir = home  # type: ignore[attr-defined]
            values: dict[str, float] = {}
            for key in parts[0].metrics:
                values[key] = float(np.mean([p.metrics[key] for p in parts]))
            for f, p in zip(self.folds, parts):
                for key, v in p.metrics.items():
                    values[f"{key}_{f.fold}"] = v
            return Result(
                self.protocol.name, name, values, round(float(np.mean([p.n_users for p in parts]))),  # (the nearest)
                sum(p.seconds_fit for p in parts), sum(p.seconds_eval for p in parts),
                self.seed, {**self.protocol.options(), "fold": "all"}, parts=tuple(parts),
            )
        length = self.protocol.list_length(self)
        check_length = getattr(model, "check_list_length", None)
        if length and check_length is not None:  # refused before the fit, not after it
            try:
                check_length(length)
            except ConfigError as e:
                raise ConfigError(f"protocol {self.protocol.name} ranks top-{length} lists: {e}") from None
        from cinerec.progress import stage

        part = f" (fold {self.fold})" if self.fold is not None else ""
        t0 = time.perf_counter()
        if (fit and model.train_ is not self.train) or not model.is_fitted:
            check_learnable(model, self.train, name)
            with stage(f"fitting {name}{part}"):  # (a spinner on a terminal: a closed-form fit counts nothing)
                model.fit(self.train, self.valid)
        if (model.n_users, model.n_items) != (self.train.n_users, self.train.n_items):
            raise CapabilityError(
                f"{name}: fitted on {model.n_users} users x {model.n_items} movies, this split has "
                f"{self.train.n_users} x {self.train.n_items}; fit it on the split's training data"
            )
        if not _same_rows(model.train_, self.train):  # e.g. fitted on all the data, the test part too
            raise CapabilityError(
                f"{name}: fitted on other ratings ({len(model.train_ or ()):,}) than this split's training part "
                f"({len(self.train):,}), so it may have learned the held-out ones; fit it on the split "
                "(evaluate with fit=True, the default)"
            )
        t1 = time.perf_counter()
        with stage(f"measuring {name}{part}"):
            values = self.protocol.measure(self, model, per_user=per_user)
        users: dict[str, np.ndarray] | None = None
        if per_user:
            users = {k: np.asarray(v) for k, v in values.items() if isinstance(v, np.ndarray)}
            users["user"] = np.asarray(self.users, dtype=np.int64)  # whose values they are
            if self.protocol.needs_ratings:  # RMSE over ratings is not the mean of users' RMSEs
                values = self.protocol.measure(self, model)
            else:  # a ranking metric is the mean of its per-user values
                values = {k: (M.user_mean(v) if isinstance(v, np.ndarray) else v) for k, v in values.items()}
        t2 = time.perf_counter()
        opts = self.protocol.options()
        if self.fold is not None:
            opts["fold"] = self.fold
        if self.ks:  # the default Ks this split's small catalogue left out are not among the figures
            opts["ks"] = list(self.ks)
        return Result(self.protocol.name, name, values, self.n_users, t1 - t0, t2 - t1, self.seed, opts, users)


class Protocol:
    """Base of the protocols: options, ``prepare`` and ``measure``.

    Subclasses set ``name``, ``summary`` and ``defaults`` (option name → default value),
    and implement :meth:`_prepare` (the split :meth:`prepare` makes) and :meth:`measure`.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}
    needs_ratings: ClassVar[bool] = False
    #: True when the held-out movies are each user's latest (the leave-latest-out
    #: protocols); False when they are drawn at random from the history, so that what a
    #: person saw last says no more about them than the rest (``settings_for``).
    holds_out_latest: ClassVar[bool] = False
    #: The flags that leave the data without stars (``--liked-threshold 4``, ``--implicit``),
    #: where the command line gives them: advice to measure stars then says to leave them
    #: out, not only to use a rating protocol (which refuses starless data).
    starless: str = ""

    def __repr__(self) -> str:
        given = self.options()
        return f"<protocol {self.name}" + (f" ({options_text(given)})" if given else "") + ">"

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            # An option of another protocol: the protocol was probably not the one meant.
            other = [n for n, c in PROTOCOLS.items() if unknown[0] in c.defaults]
            hint = f"; {unknown[0]} is an option of {' and '.join(other)}" if other else ""
            if unknown[0] in ("seed", "seeds"):  # (a setting of the run, not of the protocol)
                hint = said("; the split's seed is --seed on the command line, and seeds = [...] in a study's "
                            "[protocol]", "; the split's seed is evaluate()'s seed=N, or prepare(dataset, seed)'s")
            raise ConfigError(f"protocol {self.name}: unknown option {unknown[0]!r} (known: {known}){hint}")
        options = {k: from_numpy(v) for k, v in options.items()}  # (np.int64(50) is 50)
        self._options = {**self.defaults, **{k: v for k, v in options.items() if v is not None}}
        self._given = frozenset(k for k, v in options.items() if v is not None)
        for key, default in self.defaults.items():  # a yes/no option is true or false, nothing else
            value = self._options[key]
            if isinstance(default, bool) and not isinstance(value, bool):
                raise ConfigError(f"protocol {self.name}: {key}={shown(value)} must be true or false")
        self.validate()

    def __getattr__(self, key: str) -> Any:
        opts = self.__dict__.get("_options", {})
        if key in opts:
            return opts[key]
        raise AttributeError(key)

    def options(self) -> dict[str, Any]:
        """Options that differ from the defaults (shown beside the figures)."""
        return {k: _plain(v) for k, v in self._options.items() if v != self.defaults[k]}

    def validate(self) -> None:
        """Raise ``ConfigError`` naming a bad option."""

    def check(self, model: Recommender) -> None:
        """Raise ``CapabilityError`` when ``model`` cannot be measured by this protocol.

        A ranking protocol refuses a model that learns stars: one that has a ranking
        variant (``ranking_settings``) but was set up to learn stars, naming the
        settings to change (see :meth:`settings_for`), and one that has none, naming
        the rating protocol to measure it with. Ranked by predicted stars, every such
        model measured fell below popularity (docs/protocols.md).
        """
        if self.needs_ratings and model.task != "rating" and model.stars_settings and not model.can_predict_liked:
            # mf with loss="bpr": set up otherwise, it would learn stars
            back = dict(model.stars_settings)
            current = {k: getattr(model.config, k) for k in back if hasattr(model.config, k)}
            raise CapabilityError(f"protocol {self.name} measures predicted stars; {model.name} with "
                                  f"{_pairs(current) or 'these settings'} trains for ranking: set it to learn "
                                  f"stars ({_pairs(back)}), or measure it with a ranking protocol (loo-sampled)")
        if self.needs_ratings and not (model.can_predict_ratings or model.can_predict_liked):
            raise CapabilityError(
                f"protocol {self.name} measures predicted stars (RMSE/MAE); {model.name} ranks movies and predicts "
                "no stars: use a rating model (e.g. baseline) or a ranking protocol"
            )
        if not self.needs_ratings and model.task == "rating" and not model.ranking_settings:
            what = ("stars and has no ranking variant (ranked by predicted stars, such models fall below "
                    "popularity: docs/protocols.md): measure its stars" if not model.can_predict_liked
                    else "liked-or-not and has no ranking variant: measure it")  # (mlp-rating with target = "liked")
            raise CapabilityError(
                f"protocol {self.name} measures rankings; {model.name} learns {what} with "
                f"{_ratings_random()}{self._stars_needed()}, or rank with a model that learns to (ease, als, "
                f"seqknn; mf, biasedmf and autorec switch to their ranking variant under {self.name})")
        if not self.needs_ratings and model.task == "rating" and model.ranking_settings:
            every = {f.name: getattr(model.config, f.name) for f in dataclasses.fields(model.config)}
            current = {k: every[k] for k in _deciding(type(model), model.config, every)}
            learns = "liked-or-not" if model.can_predict_liked else "stars"
            held = [k for k in current if k not in model.ranking_settings]
            raise CapabilityError(f"{model.name}: {_pairs(current)} trains it for {learns}, not for ranking; "
                                  f"{self._ranking_advice(model.name, model.ranking_settings, held)}")

    def create(self, name: str, config: Mapping[str, Any] | None = None, where: str = "config",
               seed: int | None = None) -> Recommender:
        """A new, unfitted model by name, set up as the command line sets it up under this
        protocol: ``config`` (the settings the user chose) through :meth:`settings_for`, and
        ``seed`` as the model's own seed when it has one and ``config`` sets none.

        ``cinerec.models.create(name)`` gives the plain defaults instead: ``mf`` trained
        for stars, and EASE's recency weighting under a random hold-out.
        """
        cls = model_class(name)
        settings = self.settings_for(cls, dict(config or {}), where)
        if seed is not None and "seed" not in settings and "seed" in cls.Config().to_dict():
            settings["seed"] = seed
        return create(name, settings)

    def settings_for(self, model_class: type[Recommender], settings: dict[str, Any], where: str = "settings"
                     ) -> dict[str, Any]:
        """The settings a ``model_class`` model is created with under this protocol.

        Two rules, each filling in only keys the user did not choose:

        * models trained for stars under a ranking protocol: a model with a ranking
          variant (``model_class.ranking_settings``, e.g. ``mf``'s ``loss="bpr"``) gets
          it; a key the user chose and that keeps it a rating model is refused, naming
          what to use instead;
        * random hold-outs (``holds_out_latest`` false): the model's settings for
          histories whose held-out part is not their latest
          (``model_class.settings_unordered``: EASE's and ALS's
          ``recency_half_life = 0``...), since the recency weighting that predicts what
          a person sees next has nothing to predict there.

        Other models get ``settings`` unchanged.

        Args:
            model_class: the model's class.
            settings: the settings the user chose (not the defaults).
            where: where they came from, for the error (a file, ``--set``...).

        Raises:
            ConfigError: the user's settings make it a rating model under a ranking protocol.
        """
        out = dict(settings) if self.holds_out_latest else model_class.settings_unordered(settings)
        wanted = dict(model_class.ranking_settings)
        if self.needs_ratings or not wanted:
            return out
        filled = {k: v for k, v in wanted.items() if k not in settings}
        out = {**out, **filled}
        try:
            config = model_class.Config.from_dict(out, where=where)
        except ConfigError as e:  # a setting of the user's that the ranking variant cannot take
            if not filled:
                raise
            unfilled = {k: v for k, v in out.items() if k not in filled}
            try:  # a bad value of its own (epochs = 0) is told alone, not as the ranking variant's fault
                model_class.Config.from_dict(unfilled, where=where)
            except ConfigError:
                # Unless a setting of the user's that no ranking variant takes is what fails
                # (mf's target = "liked" without loss = "bce"): then that setting is the refusal.
                holding: list[str] = []
                # (the ranking values replace the user's own for their keys: mf's target = "liked"
                # with loss = "mse" was told to set loss = "bce", which this protocol then refused)
                if _valid_somehow(model_class, {k: v for k, v in unfilled.items() if k not in wanted}, wanted):
                    holding = [k for k in settings if k not in wanted
                               and _ranks(model_class, {**{key: v for key, v in out.items() if key != k}, **wanted})]
                if holding:
                    chosen = {k: settings[k] for k in holding}
                    learns = "liked-or-not" if "liked" in chosen.values() else "stars"
                    raise ConfigError(f"{where}: {model_class.name} with {_pairs(chosen)} learns {learns}, not "
                                      f"rankings; {self._ranking_advice(model_class.name, wanted, holding)}") from None
                raise e from None
            raise ConfigError(f"{e} (under {self.name} {model_class.name} takes its ranking variant, "
                              f"{_pairs(filled)}: drop that setting, or measure stars with "
                              f"{_ratings_random()}{self._stars_needed()})") from None
        model = model_class(config)
        if model.task == "rating":
            chosen = {k: settings[k] for k in _deciding(model_class, config, settings)}
            learns = "liked-or-not" if getattr(model, "can_predict_liked", False) else "stars"
            raise ConfigError(f"{where}: {model_class.name} with {_pairs(chosen)} learns {learns}, not rankings; "
                              f"{self._ranking_advice(model_class.name, wanted, [k for k in chosen if k not in wanted])}")
        return out

    def _ranking_advice(self, name: str, wanted: Mapping[str, Any], unset: list[str] | None = None) -> str:
        if unset:
            return (f"under {self.name} drop {' and '.join(unset)} and set {_pairs(wanted)}, or measure stars with "
                    f"{_ratings_random()}{self._stars_needed()}")
        return (f"under {self.name} set {_pairs(wanted)} (what {name} gets when it is left unset), or measure "
                f"stars with {_ratings_random()}{self._stars_needed()}")

    def _stars_needed(self) -> str:
        """What measuring stars also takes: without the :attr:`starless` flags given; where
        none were, data that holds stars (said before the data is read: a log of one's own
        may hold none, which ratings-random, the way out given, then refuses)."""
        return f" and without {self.starless}, which leaves no stars" if self.starless \
            else ", where the data holds stars (a log of plain interactions holds none)"

    def check_data(self, dataset: Dataset) -> None:
        """Raise ``DataError`` when ``dataset`` lacks what this protocol measures.

        A rating protocol needs stars: implicit data (``info["implicit"]``, from
        ``--implicit``, ``--liked-threshold`` or a log without ratings) is refused.
        """
        if self.needs_ratings and dataset.info.get("implicit"):
            raise DataError(
                f"protocol {self.name} measures predicted stars, but {data_label(dataset)} holds plain interactions"
                f"{implicit_words(dataset)}; use a ranking protocol such as loo-sampled, with a model "
                "that ranks (ease, als, itemknn...): a model of stars has nothing to learn from these data"
            )

    def prepare(self, dataset: Dataset, seed: int = 0) -> Prepared:
        """Split ``dataset`` (and sample candidates) once, reproducibly from ``seed``.

        A split that leaves no one to measure names the filters that, loosened, would
        keep more of each person's ratings (``--top-movies 1`` leaves one each)."""
        expect(dataset, Dataset, f"{self.name}.prepare")
        if dataset.n_users == 1:  # (refused by the split's arithmetic: "0 unseen movies", "K = 10 is not below")
            from cinerec.data.filters import dropped_by, last_dropping

            person = repr(dataset.user_ids.raw_id(0))
            steps = dropped_by(dataset, "users")
            if steps:  # (--top-users 1: the filters left one)
                raise FilterLeavesOne(f"the filter{'s' if len(steps) > 1 else ''} {', '.join(steps)} left the ratings of "
                                f"one person ({person}) of {data_label(dataset)}: a recommender learns from what other "
                                "people rated, and no one else is left to learn from or to measure it on; keep more "
                                "people", str(last_dropping(dataset, "users")))
            raise DataError(f"{data_label(dataset)} holds the ratings of one person ({person}): a recommender learns "
                            "from what other people rated, and no one else is here to learn from or to measure it "
                            "on; give a log of many people (a MovieLens release), or ask a run trained on one for "
                            "this person's list, as someone new: " + said(
                                "cinerec recommend --run RUN --ratings ID=STARS,...",
                                "open_run(RUN).recommend_for(ratings={ID: STARS, ...})"))
        try:
            prepared = self._prepare(dataset, seed)
        except NoTestRatings as e:
            ways = [w for w in _looser(dataset) if w not in (_LOOSER["kcore"], _LOOSER["top_users"])]
            if not ways:
                raise
            raise DataError(f"{e}: " + python_words(f"keep more movies ({', or '.join(ways)})")) from None
        for part in (prepared, *prepared.folds):  # (set, not replaced: a replaced split drops what it cached)
            object.__setattr__(part, "dataset", dataset)
        return prepared

    def _prepare(self, dataset: Dataset, seed: int) -> Prepared:
        """The subclass's split of :meth:`prepare`."""
        raise CapabilityError(f"protocol {self.name} cannot prepare a split")  # pragma: no cover

    def metric_names(self) -> tuple[str, ...]:
        """The names :meth:`measure` can give (a model trained on liked-or-not gives
        ``auc`` and ``accuracy`` instead of ``rmse`` and ``mae``), with this protocol's ``ks``."""
        return ()

    def list_length(self, prepared: Prepared) -> int:
        """How long the lists are that :meth:`measure` asks a model for (0: none; a rating
        protocol asks for none)."""
        return 0 if self.needs_ratings else max(prepared.ks or self.ks)

    def measure(self, prepared: Prepared, model: Recommender, per_user: bool = False) -> dict[str, Any]:
        """The metrics of a fitted ``model`` on ``prepared.test``.

        With ``per_user``, a metric that is a mean over users comes as its ``(n_users,)``
        per-user values instead (aligned with ``prepared.users``); the others stay numbers.
        """
        raise CapabilityError(f"protocol {self.name} has no metrics")  # pragma: no cover

    def describe(self, dataset: Dataset | None = None) -> str:
        """One line: the name and the recipe, with this protocol's option values filled in.

        With ``dataset``: where its ratings carry no times (a log without a time column,
        or every time alike), leaving the latest out leaves out each person's last row in
        the file, and the line says so.
        """
        text = f"{self.name}: {self.summary.format(**self._options, **self._shares())}"
        times = dataset.interactions.timestamps if dataset is not None else None
        latest = "each user's latest rating held out (timestamp ties: later file row)"
        if self.holds_out_latest and times is not None and len(times) and times.min() == times.max():
            text = text.replace(latest, latest := "each user's last row in the file held out (the data has no times, or every time alike)")
        if self.holds_out_latest and self._options.get("valid") is True:  # valid = true: the one before it too
            text = text.replace(latest, f"{latest}, and the one before it for validation")
        return text

    def _shares(self) -> dict[str, str]:
        """The split's shares in words for :attr:`summary` (``train``, ``test``, ``valid``:
        "80%"), from the options ``test`` and ``valid`` a protocol has."""
        test, valid = (v if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0
                       for v in (self._options.get("test", 0.0), self._options.get("valid", 0.0)))

        def pct(x: float) -> str:
            return f"{100 * x:.3g}%"

        return {"train_share": pct(1.0 - test - valid), "test_share": pct(test), "valid_share": pct(valid)}

    def _ks_within(self, prepared: "Prepared", dataset: Dataset) -> tuple[int, ...]:
        """The Ks measured on ``prepared``: each must be below the number of movies the
        median evaluated user has left to rank (those not excluded), or that user's list
        would hold every one of them and count a hit, whatever the model. A K asked for
        (``ks``) past that is refused; of the default Ks, those past it are left out, as
        long as K = 10 (the headline figures) stays below it. A refusal names the K that
        blocks, the Ks that would fit, and how to keep more movies (``dataset``'s filters)."""
        room = _room(prepared)
        if max(self.ks) < room:
            return tuple(self.ks)
        given = "ks" in self._given
        if not given and 10 < room:
            return tuple(k for k in self.ks if k < room)
        fit = [k for k in (self.ks if given else (1, 5)) if k < room]
        blocking = f"ks={list(self.ks)!r}: K = {max(self.ks)}" if given else "K = 10, its headline figure,"
        # Loosen a filter, or: the data holds only so many movies.
        more = f" or {_more_movies(dataset)}" if _looser(dataset) else f" ({_more_movies(dataset)})"
        if fit or room > 1:
            way = (f"give ks={fit!r}" if fit else f"give Ks below {room:,}") + more
        else:  # ("give Ks below 1" could not be followed): more movies alone can help
            way = "no list is short enough to measure anything here" + more.replace(" or ", ": ", 1)
        left = f"{room:,} movie{'' if room == 1 else 's'}"
        raise ConfigError(f"protocol {self.name}: {blocking} is not below the {left} the median user "
                          f"has left to rank, so such lists would hold every one; {way}")

    def _check_ks(self) -> None:
        ks = self._options["ks"]
        if not isinstance(ks, (tuple, list)) or not ks or \
                not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in ks):  # true is no K
            raise ConfigError(f"protocol {self.name}: ks={ks!r} must be a list of positive integers")
        self._options["ks"] = tuple(sorted(set(ks)))


def _same_rows(a: Interactions | None, b: Interactions) -> bool:
    """Whether ``a`` holds the same (user, movie) pairs as ``b`` (the same object, or equal)."""
    if a is b:
        return True
    if a is None or (a.n_users, a.n_items) != (b.n_users, b.n_items):
        return False
    return (a.seen != b.seen).nnz == 0


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _valid_somehow(model_class: type[Recommender], settings: Mapping[str, Any], keys: Mapping[str, Any]) -> bool:
    """Whether ``settings`` make a valid ``model_class`` with some choice of the ``keys``
    that take one of a few named values (``loss``: mse, bce or bpr): a value that is
    right for another use of the model (``target = "liked"`` with ``loss = "bce"``), not
    one wrong for every use (``epochs = 0``)."""
    import itertools
    import typing

    hints = typing.get_type_hints(model_class.Config)
    choices = {k: typing.get_args(hints[k]) for k in keys
               if k not in settings and k in hints and typing.get_origin(hints[k]) is typing.Literal}
    for values in itertools.product(*choices.values()):
        try:
            model_class.Config.from_dict({**settings, **dict(zip(choices, values))})
            return True
        except ConfigError:
            continue
    return False


def _ranks(model_class: type[Recommender], settings: Mapping[str, Any]) -> bool:
    """Whether ``settings`` make a valid ``model_class`` that trains for ranking."""
    try:
        return model_class(model_class.Config.from_dict(dict(settings))).task != "rating"
    except ConfigError:
        return False


def _deciding(model_class: type[Recommender], config: Any, settings: Mapping[str, Any]) -> list[str]:
    """The keys of ``settings`` (the user's) that keep ``config`` a rating model: those of
    ``model_class.ranking_settings`` that, set to their ranking value alone, would make it
    train for ranking (``mf``: ``loss``, not the ``regularization`` that goes with it),
    and any other key whose default would let the ranking values do so (``target``)."""
    wanted = model_class.ranking_settings

    def ranks(**changes: Any) -> bool:
        try:
            return model_class(config.replace(**changes)).task != "rating"
        except ConfigError:  # a value that is wrong with the others as they are
            return False

    keys = [k for k in wanted if ranks(**{k: wanted[k]})]
    others: list[str] = []
    if not ranks(**wanted):  # the ranking values alone do not do it: another key holds it back
        defaults = model_class.Config()
        others = [k for k in settings if k not in wanted and ranks(**{k: getattr(defaults, k)}, **wanted)]
    return [k for k in [*(keys or wanted), *others] if k in settings]


def check_learnable(model: Recommender, train: Interactions, name: str | None = None) -> None:
    """Refuse to fit a model that learns from the ratings' values on ratings that are all alike.

    Implicit data (every rating 1) gives a rating model nothing to learn: its scores come
    out alike and a ranking made from them is a shuffle. Said in one line, naming the
    models that learn from such data.
    """
    if model.task != "rating" or len(train.ratings) == 0:
        return
    if model.can_predict_liked:  # it learns liked-or-not: both kinds must be there
        if isinstance(model, RatingRecommender):  # (its threshold, as its fit will read it)
            model.settle_liked_threshold(train)
        liked = model.is_liked(train.ratings)
        if liked.all() or not liked.any():
            threshold = model.liked_at(train.ratings) if isinstance(model, RatingRecommender) else None
            said = f" at liked_threshold={threshold:g}" if threshold is not None else ""
            raise DataError(f"{name or model.name} learns whether a rating is liked, but every training rating "
                            f"(from {float(np.min(train.ratings)):g} to {float(np.max(train.ratings)):g}) is "
                            f"{'liked' if liked.all() else 'not liked'}{said}: it has nothing to learn; choose a "
                            "threshold within the ratings")
        return
    low, high = float(np.min(train.ratings)), float(np.max(train.ratings))
    if low != high:
        return
    also = f", or train {model.name} for ranking ({_pairs(model.ranking_settings)})" if model.ranking_settings else ""
    plain = " (as in a log of plain interactions)" if low == 1 else ""
    raise DataError(f"{name or model.name} learns from the ratings' values, but every training rating is {low:g}"
                    f"{plain}: it has nothing to learn; use a ranking model such as ease, als or itemknn{also}")


def options_text(options: Mapping[str, Any]) -> str:
    """Protocol options as they are given on the command line: ``valid=true, ks=[1, 5]``
    (not Python's ``True``)."""
    def shown(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(map(shown, v)) + "]"
        return str(v)

    return ", ".join(f"{k}={shown(v)}" for k, v in options.items())


def _pairs(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {shown(v)}" for k, v in values.items())


def implicit_words(dataset: Dataset) -> str:
    """How implicit data came so, to follow "holds plain interactions": " after the filter
    liked_threshold=8" (a flag's doing, not the file's), else " (implicit)"."""
    from cinerec.data.filters import made_implicit_by

    by = made_implicit_by(dataset)
    if by is not None:
        return f" after the filter {by}"
    threshold = dataset.info.get("liked_threshold")
    return f" (implicit, liked_threshold={threshold:g})" if threshold is not None else " (implicit)"


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if seed > MAX_SEED:  # (as the command line's --seed: 2**64 drew the same tuning trials as 0)
        raise ConfigError(f"seed must be at most 2**63 - 1, got {seed!r}")
    return int(seed)


def _with_ks(prepared: Prepared, ks: tuple[int, ...]) -> Prepared:
    """``prepared`` measuring ``ks`` when they are fewer than its protocol's own; the movies
    it leaves out of a full ranking, already worked out, go along."""
    if ks == prepared.protocol.ks:
        return prepared
    out = dataclasses.replace(prepared, ks=ks)
    out.__dict__["excluded"] = prepared.excluded  # (a cached property)
    return out


def _held_out(split_test: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """``(users, items)`` of a one-row-per-user test set, ordered by user."""
    order = np.argsort(split_test.users, kind="stable")
    users = split_test.users[order].astype(np.int64)
    if len(users) > 1 and (users[1:] == users[:-1]).any():
        raise ValueError("a leave-latest-out test set must hold one row per user")
    return users, split_test.items[order].astype(np.int32)


# -- leave latest out ---------------------------------------------------------------------


#: How to loosen each filter that drops movies, in the flags' words.
_LOOSER = {"top_movies": "a larger --top-movies", "years": "looser --min-year/--max-year", "kcore": "a smaller --kcore",
           "top_users": "a larger --top-users",  # (the movies only the people left out rated go with them)
           "liked_threshold": "a lower --liked-threshold"}  # (the movies no one liked enough go)


def _users_short(n: int) -> str:
    return "1 user is short" if n == 1 else f"{n:,} users are short"


def _looser(dataset: Dataset) -> list[str]:
    """How to loosen each filter that dropped movies from ``dataset``, in the flags' words.
    A ``--top-movies`` that dropped some caps the catalogue whatever the filters before
    it kept, so those are not named (a lower ``--liked-threshold`` adds no movie then)."""
    from cinerec.data.filters import dropping

    records = [r for r in dropping(dataset, "movies") if r.get("transform") in _LOOSER]
    capped = [i for i, r in enumerate(records) if r["transform"] == "top_movies"]
    return list(dict.fromkeys(_loosen(r) for r in records[capped[-1] if capped else 0:]))


def _loosen(record: Mapping[str, Any]) -> str:
    """How to loosen the filter of one transform record, naming only the year bounds it had."""
    if record["transform"] == "years":
        args = record.get("args", {})
        low, high = args.get("min_year") is not None, args.get("max_year") is not None
        if low != high:
            return "an earlier --min-year" if low else "a later --max-year"
    return _LOOSER[record["transform"]]


def _ratings_random() -> str:
    """The way to measure stars, in its reader's terms (:func:`cinerec.errors.said`)."""
    return said("--protocol ratings-random", "the protocol 'ratings-random'")


def _more_movies(dataset: Dataset) -> str:
    """The way to more unseen movies per person: loosen the filters that dropped movies,
    or, where none did, say that the data holds no more."""
    ways = _looser(dataset)
    if ways:
        return python_words(f"keep more movies ({', or '.join(ways)})")
    return f"the data holds only {dataset.n_items:,} movie{'s' if dataset.n_items != 1 else ''}"


class LooSampled(Protocol):
    """Leave the latest rating out; rank it among sampled movies the user never rated."""

    name = "loo-sampled"
    holds_out_latest = True
    summary = (
        "each user's latest rating held out (timestamp ties: later file row); ranked among "
        "{n_negatives} movies the user never rated, sampled uniformly with the seed, in a seeded "
        "random order; HR@K, NDCG@K"
    )
    defaults = {"n_negatives": 99, "ks": (1, 5, 10), "valid": False}

    def validate(self) -> None:
        n = self._options["n_negatives"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"protocol {self.name}: n_negatives={shown_exactly(n)} must be a positive integer")
        self._check_ks()
        if max(self.ks) > n:  # a list of all n + 1 candidates holds the held-out movie
            fit = [k for k in self.ks if k <= n]
            way = (f"ask for at least {max(self.ks)} negatives" + (f", or give ks={fit!r}" if fit else ""))
            raise ConfigError(f"protocol {self.name}: n_negatives={n} with ks={list(self.ks)!r}: K = {max(self.ks)} "
                              "is not below the "
                              f"{n + 1} movies each held-out one is ranked among (n_negatives + 1), so every such "
                              f"list would hold it; {way}")

    def _prepare(self, dataset: Dataset, seed: int) -> Prepared:
        from cinerec.data.sampling import sample_eval_negatives
        from cinerec.data.split import leave_last_out

        seed = _seed(seed)
        x = dataset.interactions
        split = leave_last_out(x, valid=bool(self.valid))
        users, truth = _held_out(split.test)
        seen = history.seen(dataset)
        self._check_room(dataset, users, seen)
        rng = np.random.default_rng(seed)
        # Negatives avoid every movie the user rated anywhere (train, valid and test), and
        # those rated but dropped from the ratings (--liked-threshold).
        negatives = sample_eval_negatives(seen, users, self.n_negatives, rng=rng)
        cand = np.column_stack([truth, negatives]).astype(np.int32)
        # A seeded shuffle of each row: top_k breaks score ties by column, so ties now fall
        # at random (reproducibly) instead of always for or against the held-out movie.
        order = np.argsort(rng.random(cand.shape), axis=1)
        cand = np.take_along_axis(cand, order, axis=1)
        return Prepared(self, seed, split.train, split.test, split.valid, users, truth, cand,
                        also_seen=history.also_seen(dataset))

    def _check_room(self, dataset: Dataset, users: np.ndarray, seen: Any) -> None:
        """One line naming the first (raw) user with fewer unseen movies than ``n_negatives``."""
        unseen = dataset.n_items - np.diff(seen.indptr)[users]
        short = unseen < self.n_negatives
        if short.any():
            at = int(np.argmin(unseen))  # the shortest, whose count the way out names
            raw = dataset.user_ids.raw_id(users[at])
            more = _more_movies(dataset)
            left = f"{int(unseen[at])} unseen movie{'' if unseen[at] == 1 else 's'}"
            raise TooFewUnseen(
                f"protocol {self.name}: user {raw!r} has only {left}, fewer than the "
                f"{self.n_negatives} negatives asked for ({_users_short(int(short.sum()))}); {more}",
                fewer=int(unseen.min()), only_way=more.startswith("the data"), top_k=max(self.ks))

    def metric_names(self) -> tuple[str, ...]:
        return tuple(f"{m}@{k}" for k in self.ks for m in ("hr", "ndcg"))

    def measure(self, prepared: Prepared, model: Recommender, per_user: bool = False) -> dict[str, Any]:
        ranked, vals = model.recommend(prepared.users, max(self.ks), exclude=None, candidates=prepared.candidates)
        _check_numbers(model, vals)
        out: dict[str, Any] = {}
        for k in self.ks:
            out[f"hr@{k}"] = M.hit_rate(ranked, prepared.truth, k, per_user=per_user)
            out[f"ndcg@{k}"] = M.ndcg(ranked, prepared.truth, k, per_user=per_user)
        return out


class LooFull(Protocol):
    """Leave the latest rating out; rank it among every movie the user has not rated in train."""

    name = "loo-full"
    holds_out_latest = True
    summary = (
        "each user's latest rating held out (timestamp ties: later file row); ranked among all "
        "movies not in the user's training ratings (score ties: lower movie index first); "
        "HR@K, NDCG@K, MRR (uncut), coverage of the top-10 lists"
    )
    defaults = {"ks": (1, 5, 10), "valid": False}

    def validate(self) -> None:
        self._check_ks()

    def _prepare(self, dataset: Dataset, seed: int) -> Prepared:
        from cinerec.data.split import leave_last_out

        split = leave_last_out(dataset.interactions, valid=bool(self.valid))
        users, truth = _held_out(split.test)
        prepared = Prepared(self, _seed(seed), split.train, split.test, split.valid, users, truth,
                            also_seen=history.also_seen(dataset))
        return _with_ks(prepared, self._ks_within(prepared, dataset))

    def metric_names(self) -> tuple[str, ...]:
        return tuple(f"{m}@{k}" for k in self.ks for m in ("hr", "ndcg")) + ("mrr", "coverage@10")

    def list_length(self, prepared: Prepared) -> int:
        return max(max(prepared.ks or self.ks), 10)  # (coverage@10 reads top-10 lists)

    def measure(self, prepared: Prepared, model: Recommender, per_user: bool = False) -> dict[str, Any]:
        ks = prepared.ks or self.ks
        ranked, vals = model.recommend(prepared.users, self.list_length(prepared), exclude=prepared.excluded)
        _check_numbers(model, vals)
        out: dict[str, Any] = {}
        for k in ks:
            out[f"hr@{k}"] = M.hit_rate(ranked, prepared.truth, k, per_user=per_user)
            out[f"ndcg@{k}"] = M.ndcg(ranked, prepared.truth, k, per_user=per_user)
        ranks = _full_ranks(model, prepared.users, cast(np.ndarray, prepared.truth), prepared.excluded)
        if index_kind(model) != "exact":  # the lists are approximate: their own places, as HR reads them
            ranks = _as_listed(ranks, ranked, cast(np.ndarray, prepared.truth))
        out["mrr"] = M.mrr_of_ranks(ranks, per_user=per_user)
        if 10 < _room(prepared):  # else every list holds every movie left: coverage 1 whatever the model
            out["coverage@10"] = M.coverage(ranked, prepared.train.n_items, 10)
        return out


def _room(prepared: Prepared) -> int:
    """How many movies the median evaluated user has left to rank (those not excluded):
    a list of that many or more holds every one of them, whatever the model."""
    left = prepared.train.n_items - np.diff(prepared.excluded.indptr)[prepared.users]
    return int(np.median(left)) if len(left) else prepared.train.n_items


def _full_ranks(model: Recommender, users: np.ndarray, truth: np.ndarray, seen: Any) -> np.ndarray:
    """``(n,) int64`` 1-based rank of each user's held-out movie among the movies not in
    ``seen`` (a CSR: :attr:`Prepared.excluded`).

    :func:`cinerec.ranking.rank_of` over whole rows, a chunk of users at a time: the
    position the movie takes in ``recommend``'s lists, without sorting whole rows.
    """
    out = np.empty(len(users), dtype=np.int64)
    for sl in chunks(len(users), model.chunk_size):
        u = users[sl]
        scores = model.score(u)
        _check_numbers(model, scores)
        out[sl] = rank_of(scores, truth[sl], seen[u])
    return out


def index_kind(model: Recommender) -> str:
    """The kind of index behind ``model``'s lists (``"exact"`` for a model without one)."""
    kind = getattr(model.config, "index", "exact")
    return kind if isinstance(kind, str) else "exact"


def _as_listed(ranks: np.ndarray, ranked: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each held-out movie's rank as the lists ``ranked`` give it: its place in its list,
    and beyond the list (an approximate index may leave it out of a list its exact score
    would put it in) its exact rank ``ranks``, never above the list's end."""
    hit = ranked == truth[:, None]
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, np.maximum(ranks, ranked.shape[1] + 1))


def approximate_lists(prepared: Prepared, model: Recommender) -> list[str]:
    """A line when ``model``'s lists come from an approximate index: its figures are those
    of the lists it serves, not of its exact scores."""
    if not isinstance(prepared.protocol, (LooFull, RandomFull)):  # (others score exactly)
        return []
    kind = index_kind(model)
    if kind != "exact":
        if not _index_searched(prepared, prepared.protocol.list_length(prepared)):
            return []
        return [f"{model.name}: its lists come from an approximate {kind} index, and these figures measure them as "
                "served (MRR counts a movie beyond a list at its exact rank); index = 'exact' gives its exact figures"]
    retriever = getattr(model, "retriever", None) if model.shortlists else None  # (two-stage, fitted)
    if retriever is None or (kind := index_kind(retriever)) == "exact":
        return []
    if not _index_searched(prepared, min(int(model.config.to_dict()["candidates"]), prepared.train.n_items)):
        return []
    return [f"{model.name}: its retriever ({retriever.name}) shortlists through an approximate {kind} index, and "
            "these figures measure the lists as served; retriever_settings.index = 'exact' gives exact shortlists"]


def _index_searched(prepared: Prepared, length: int) -> bool:
    """Whether lists of ``length`` for the protocol's users go through an index for any of
    them: one that, with the movies it skips, would be more than a share of the catalogue
    is scored exactly (:mod:`cinerec.models.index`), and its figures are exact ones."""
    from cinerec.models.index import through_index

    n = prepared.train.n_items
    skipped = np.diff(prepared.excluded.indptr)[prepared.users]
    if len(skipped) and bool(through_index(length + skipped, n).any()):
        return True
    # random-full also ranks with nothing skipped (its categorical accuracy's lists)
    return isinstance(prepared.protocol, RandomFull) and len(skipped) > 0 and bool(through_index(length, n))


def figure_notes(prepared: Prepared, model: Recommender) -> list[str]:
    """The lines printed beside a model's figures on what they measure: a held-out "latest"
    rating that is the file's last row, a shortlist that holds every candidate, lists from
    an approximate index, what the fit chose."""
    return (untimed(prepared) + ks_left_out(prepared) + ranking_variant(prepared, model)
            + nothing_retrieved(prepared, model) + approximate_lists(prepared, model) + model.fit_notes()
            + scores_alike(prepared, model) + lists_hold_all(prepared) + unmeasured(prepared) + few_measured(prepared)
            + ndcg_measured(prepared, model))


def ranking_variant(prepared: Prepared, model: Recommender) -> list[str]:
    """A line where a model of stars is measured under a ranking protocol with its
    ranking variant's settings (``mf``'s ``loss = 'bpr'``), which such a protocol gives it
    for each one left unset: the figures are not those of the model of stars its name
    first brings to mind, and nothing else said so."""
    wanted = type(model).ranking_settings
    if prepared.protocol.needs_ratings or not wanted:
        return []
    config = model.config.to_dict()
    first = next(iter(wanted))  # (the setting that makes the variant: mf's loss, autorec's target)
    if config.get(first) != wanted[first]:
        return []
    used = {k: config.get(k) for k in wanted}
    how = ", which a ranking protocol gives it for each of these left unset" if used == dict(wanted) \
        else f"; a ranking protocol gives it {_pairs(wanted)} for each left unset"
    return [f"{model.name}: measured as trained for ranking ({_pairs(used)}: its ranking variant{how})"]


#: Fewer people measured than this (ranking), or held-out ratings (rating protocols), and
#: :func:`few_measured` says the figures are too few to tell models apart by.
FEW_PEOPLE, FEW_RATINGS = 20, 50


def few_measured(prepared: Prepared) -> list[str]:
    """A line when the figures rest on so few people (or held-out ratings) that one of them
    moves a figure by more than models differ: five people's HR@10 0.2000 was one hit,
    printed as any other figure."""
    few = measured_few(prepared)
    return [] if few is None else few_words({0: few[0]}, few[1], [0])


def measured_few(prepared: Prepared) -> tuple[int, bool] | None:
    """How few people (or, ``True`` beside it, held-out ratings) the figures rest on, where
    :func:`few_measured` says so; ``None`` where there are enough, or none at all."""
    parts = prepared.folds or (prepared,)
    ratings = prepared.protocol.needs_ratings
    n = min(len(p.test) if ratings else len(p.users) for p in parts)
    if n >= (FEW_RATINGS if ratings else FEW_PEOPLE) or not n:  # (no one: refused where it is split)
        return None
    return n, ratings


def seeds_words(seeds: Sequence[int]) -> str:
    """Seeds as a note names them: ``seed 2``, ``seeds 0, 1``."""
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def few_words(counts: Mapping[int, int], ratings: bool, seeds: Sequence[int]) -> list[str]:
    """:func:`few_measured`'s line for splits measured on ``counts`` (seed: how few people
    or held-out ratings) of ``seeds``: one line for them all, naming the seeds where the
    counts differ (each seed's own line read as two figures measured on two groups)."""
    values = sorted(set(counts.values()))
    n = values[0]
    enough = [s for s in seeds if s not in counts]
    on = seeds_words
    there = f" on {'that seed' if len(counts) == 1 else 'those seeds'}" if enough else ""
    if ratings:
        unit = "held-out rating" + ("" if values[-1] == 1 else "s")
        tail = f"too few for the figures{there} to tell models apart"
    else:
        unit = "person" if values[-1] == 1 else "people"
        share = f"{1 / n:.3g}" if len(values) == 1 else f"{1 / values[-1]:.3g} to {1 / n:.3g}"
        tail = f"each counts for {share} of a figure{there}, more than models usually differ by"
    if len(values) == 1 and not enough:
        return [f"measured on {n} {unit} only: {tail}"]
    by_count = [f"{v} on {on([s for s in seeds if counts.get(s) == v])}" for v in values] if len(values) > 1 else []
    if enough:
        by_count.append(f"{FEW_RATINGS if ratings else FEW_PEOPLE} or more on {on(enough)}")
    span = str(n) if len(values) == 1 else f"{n} to {values[-1]}"
    which = f" on {on([s for s in seeds if s in counts])}" if enough else ""
    return [f"measured on {span} {unit} only{which} ({'; '.join(by_count)}): {tail}"]


#: How many of the evaluated people :func:`scores_alike` looks at.
ALIKE_LOOKED_AT = 200


def scores_alike(prepared: Prepared, model: Recommender) -> list[str]:
    """A line when a ranking protocol's ``model`` gives every movie the same score for
    nearly every person (nine in ten of the first :data:`ALIKE_LOOKED_AT` evaluated): its
    figures are then the order the ties fall in, not its own (two-tower at ``lr = 1e6``
    scored every movie 0, and its HR@10 was printed as any other)."""
    if not isinstance(prepared.protocol, (LooSampled, LooFull, RandomFull)) or not len(prepared.users):
        return []
    users = prepared.users[:ALIKE_LOOKED_AT]
    scores = np.asarray(model.score(users), dtype=np.float64)
    finite = np.where(np.isfinite(scores), scores, np.nan)  # (a shortlist's -inf beyond it: not a score)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (a row with no finite score: nan, not alike)
        spread = np.nanmax(finite, axis=1) - np.nanmin(finite, axis=1)
        size = np.nanmax(np.abs(finite), axis=1)
    # (against the scores' own size: scores all near 1e-27, as a heavily regularized ALS
    # gives, still set the movies in an order, each as far apart as scores near 1 would be)
    alike = spread <= 1e-6 * size
    if alike.sum() < 0.9 * len(users):
        return []
    # (a model with no learning rate, EASE's or item-kNN's, has no training to break down: the data
    # gave it nothing, as people with no rating in the training part, or no movie two people rated)
    config = model.config
    why = ("its training broke down (too large a learning rate?) or found nothing in this data" if hasattr(config, "lr")
           else "too large a regularization, or nothing in this data to tell movies apart for them (they rated "
           "nothing in the training part, or no one rated two of its movies)" if hasattr(config, "regularization")
           else "it found nothing in this data to tell movies apart for them (they rated nothing in the training "
           "part, or no one rated two of its movies)")
    return [f"{model.name}: gives every movie the same score for {int(alike.sum())} of the {len(users)} people looked "
            f"at, so these figures are the order its ties fall in, not anything it learned; {why}"]


def ks_left_out(prepared: Prepared) -> list[str]:
    """A line where the split's small catalogue left some of the protocol's default Ks out
    (lists that long would hold every movie the median user has left): shown in the
    header's ``ks`` alone, the missing figures went unexplained."""
    if not prepared.ks or tuple(prepared.ks) == tuple(prepared.protocol.ks):
        return []
    out = [k for k in prepared.protocol.ks if k not in prepared.ks]
    # (no count of movies: it differs from seed to seed, and a study says the line once)
    return [f"K = {', '.join(map(str, out))} left out: a list that long would hold every movie the median user has "
            f"left to rank; measured at K = {', '.join(map(str, prepared.ks))}"]


def lists_hold_all(prepared: Prepared) -> list[str]:
    """A line where some people measured by full ranking have no more movies left to rank
    than K (10, else the largest K measured): their list holds every one, a hit whatever
    the model. K is refused only past the median person's (:meth:`Protocol._ks_within`),
    so the rest were counted in the figures without a word."""
    ks = prepared.ks or tuple(prepared.protocol.ks)  # (none of its own: the protocol's, all measured)
    if not isinstance(prepared.protocol, (LooFull, RandomFull)) or not len(prepared.users) or not ks:
        return []
    k = 10 if 10 in ks else max(ks)
    left = prepared.train.n_items - np.diff(prepared.excluded.indptr)[prepared.users]
    n = int((left <= k).sum())
    if not n:
        return []
    # (random-full's cat_acc ranks every movie, rated ones too: not held whole)
    aside = f" (cat_acc@{k} aside: it ranks every movie)" if isinstance(prepared.protocol, RandomFull) else ""
    return [f"{n:,} of the {len(left):,} people measured {'has' if n == 1 else 'have'} {k} or fewer movies left to "
            f"rank: {'its list' if n == 1 else 'their lists'} of "
            f"K = {k} {'holds' if n == 1 else 'hold'} every one, so the figures at K = {k} count a hit for them whatever the model{aside}"]


def unmeasured(prepared: Prepared) -> list[str]:
    """A line where a ranking protocol measures fewer people than the data holds: the
    table said "users 32" of a log of 33 people, and nothing said who was left out or why."""
    if prepared.protocol.needs_ratings or prepared.folds or not len(prepared.users):
        return []
    # (counted, not sorted: said beside every model's figures, on up to tens of millions of ratings)
    total = int(np.count_nonzero(sum(p.user_counts for p in (prepared.train, prepared.test, prepared.valid)
                                     if p is not None)))
    n = total - len(prepared.users)
    if n <= 0:
        return []
    if prepared.protocol.holds_out_latest:
        least = 3 if prepared.valid is not None else 2
        why = (f"a rating is held out only of someone with at least {least} ratings"
               f"{' (one more held out for validation)' if least == 3 else ''}")
    else:
        why = f"{'its ratings' if n == 1 else 'their ratings'} all fell in the training part"
    return [f"{n:,} of the {total:,} people in the data {'is' if n == 1 else 'are'} not measured: {why}"]


def ndcg_measured(prepared: Prepared, model: Recommender | None = None) -> list[str]:
    """A line where a rating protocol's NDCG@K averages over fewer people than its RMSE:
    someone whose held-out movies cannot be put in a better or worse order (one movie,
    or all rated alike) has no NDCG (:func:`cinerec.evaluation.metrics.ndcg_of_ratings`),
    and the report said "936 users measured" of a figure that measured 882."""
    if not prepared.protocol.needs_ratings or not prepared.protocol.ks:
        return []
    counts = [(int(np.count_nonzero(M.ratings_differ(part.test.users, part.test.ratings, part.test.n_users))),
               len(part.users)) for part in prepared.folds or (prepared,)]
    if all(ordered == n or not ordered for ordered, n in counts):
        return []  # (every one measured; no one at all is said as an unmeasured figure)
    ndcg = "/".join(f"ndcg@{k}" for k in prepared.protocol.ks)
    if len(counts) == 1:
        (ordered, n), = counts
        who = f"{ordered:,} of the {n:,} people measured"
    else:
        who = ", ".join(f"{o:,} of {n:,}" for o, n in counts) + " people measured, fold by fold"
    # (no model: a study's line for all its models, whichever figures each has)
    others = "the other figures" if model is None else "AUC and accuracy" if model.can_predict_liked else \
        "RMSE and MAE"
    return [f"{ndcg} average{'s' if len(prepared.protocol.ks) == 1 else ''} over {who}, those whose held-out movies can be "
            f"put in a better or worse order (two or more, not all rated alike); {others} over all of them"]


def untimed(prepared: Prepared) -> list[str]:
    """A line where a leave-latest-out protocol held out each person's last row in the
    file, the data having no times (no time column, or every time alike): said beside the
    figures, in ``--json``'s notes and in a run's report."""
    if not prepared.protocol.holds_out_latest:
        return []
    parts = [x.timestamps for x in (prepared.train, prepared.test, prepared.valid) if x is not None and len(x)]
    if not parts or min(int(t.min()) for t in parts) != max(int(t.max()) for t in parts):
        return []
    return ["the data has no times (no time column, or every time alike): each user's last row in the file was held "
            "out as their latest rating, so these figures follow the file's order of rows, not time"]


def nothing_retrieved(prepared: Prepared, model: Recommender) -> list[str]:
    """A line when a model that shortlists (two stages) is measured among sampled
    candidates that all fit in its shortlist, or shortlists the whole catalogue, or every
    movie each person measured has left to rank: its retriever then leaves none out, and
    the figures are its ranker's alone."""
    width = None if prepared.candidates is None else int(np.shape(prepared.candidates)[1])
    short = getattr(model.config, "candidates", None)
    if not model.shortlists or not isinstance(short, int):
        return []
    n_items = prepared.train.n_items
    whole = short >= n_items  # the whole catalogue shortlisted: no protocol measures the retrieval
    left = n_items  # the most movies anyone measured has left to rank (the whole catalogue ranked)
    if width is None and not whole and len(prepared.users):
        rated = np.bincount(prepared.train.users, minlength=prepared.train.n_users)[prepared.users]
        left = n_items - int(rated.min())
    every = width is None and not whole and short >= left  # every person's list: their whole remainder
    if (width is None and not whole and not every) or (width is not None and width > short):
        return []
    mix = getattr(model.config, "mix", 1.0)
    if not isinstance(mix, (int, float)) or mix >= 1:
        alone = "these are its ranker's figures alone"
    elif mix <= 0:
        alone = "these are its retriever's figures alone (mix = 0)"
    else:  # the retriever's scores count in the order all the same
        alone = f"these figures rank them by the two stages' scores mixed (mix = {mix:g}), none left out"
    if whole:
        return [f"{model.name}: its shortlist of {short} movies holds the whole catalogue of {n_items:,}, so its "
                f"retriever leaves none out and {alone} (candidates below {n_items:,} would measure the retrieval)"]
    if every:
        return [f"{model.name}: its shortlist of {short} movies holds every movie each person measured has left to "
                f"rank (at most {left:,} of the {n_items:,}), so its retriever leaves none out and {alone} "
                f"(candidates below {left:,} would measure the retrieval)"]
    return [f"{model.name}: each person's {width} candidates all fit in its shortlist of {short} movies, so its "
            f"retriever leaves none out and {alone} (loo-full measures the retrieval)"]


def _check_numbers(model: Recommender, scores: np.ndarray) -> None:
    """Refuse, in one line, scores that are not numbers or are infinitely high: every figure
    would rank them somewhere arbitrary (first in a list, behind nothing for a rank, or tied
    with each other). Minus infinity stays: a shortlist's movies beyond it."""
    values = np.asarray(scores)
    if values.dtype.kind == "O":  # (a model of one's own may give Python floats)
        try:
            values = values.astype(np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{model.name}: gives scores that are not numbers ({type(values.flat[0]).__name__}); "
                            "no figure from it would mean anything") from None
    if not values.size or values.dtype.kind != "f":  # (whole numbers are never NaN or infinite)
        return
    # One pass, in the scores' own type: the largest is NaN where any is, and +inf where any
    # is and none is NaN (a float64 copy and two passes took longer than the scoring itself).
    top = values.max()
    if np.isnan(top):
        raise DataError(f"{model.name}: gives scores that are not numbers (NaN); its training diverged or the "
                        "model is damaged, so no figure from it would mean anything")
    if np.isposinf(top):
        raise DataError(f"{model.name}: gives infinite scores; its training diverged or the model is damaged, so no "
                        "figure from it would mean anything")


# -- random split, full catalogue -----------------------------------------------------------


class RandomFull(Protocol):
    """Seeded random 80/20 split; rank the whole catalogue."""

    name = "random-full"
    summary = (
        "seeded random {train_share} / {test_share} split of the ratings (every rating a positive); the whole catalogue "
        "ranked without the user's training movies (score ties: lower movie index first): "
        "Recall/NDCG/HR/Precision@K; and without removing them: top-K categorical accuracy "
        "over test pairs (cat_acc@K, as TensorFlow Recommenders' FactorizedTopK)"
    )
    defaults = {"test": 0.2, "ks": (10, 50, 100)}

    def validate(self) -> None:
        _fraction(self.name, "test", self._options["test"])
        self._check_ks()

    def _prepare(self, dataset: Dataset, seed: int) -> Prepared:
        from cinerec.data.split import random_split

        seed = _seed(seed)
        split = random_split(dataset.interactions, test=float(self.test), seed=seed)
        users = np.unique(split.test.users).astype(np.int64)
        prepared = Prepared(self, seed, split.train, split.test, split.valid, users,
                            also_seen=history.also_seen(dataset))
        return _with_ks(prepared, self._ks_within(prepared, dataset))

    def metric_names(self) -> tuple[str, ...]:
        return tuple(f"{m}@{k}" for m in ("recall", "ndcg", "hr", "precision", "cat_acc") for k in self.ks)

    def measure(self, prepared: Prepared, model: Recommender, per_user: bool = False) -> dict[str, Any]:
        ks = prepared.ks or self.ks
        kmax = max(ks)
        truth = prepared.test.seen[prepared.users]
        ranked, vals = model.recommend(prepared.users, kmax, exclude=prepared.excluded)
        unfiltered, _ = model.recommend(prepared.users, kmax, exclude=None)
        _check_numbers(model, vals)
        out: dict[str, Any] = {}
        for k in ks:
            out[f"recall@{k}"] = M.recall(ranked, truth, k, per_user=per_user)
            out[f"ndcg@{k}"] = M.ndcg(ranked, truth, k, per_user=per_user)
            out[f"hr@{k}"] = M.hit_rate(ranked, truth, k, per_user=per_user)
            out[f"precision@{k}"] = M.precision(ranked, truth, k, per_user=per_user)
        for k in ks:
            out[f"cat_acc@{k}"] = M.categorical_accuracy(unfiltered, truth, k)
        return out


def _fraction(name: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise ConfigError(f"protocol {name}: {key}={shown(value)} must be a fraction strictly between 0 and 1")
    return float(value)


# -- rating prediction ---------------------------------------------------------------------


class RatingsFold(Protocol):
    """Official ml-100k folds (u1..u5), or a seeded 80/20 split for other releases."""

    name = "ratings-fold"
    summary = (
        "ml-100k: the official folds uN.base/uN.test, read with the ratings (fold u1..u5, "
        "or all = mean over u1-u5 with per-fold values as rmse_uN); other releases: seeded "
        "random 80/20; RMSE and MAE of predicted stars on every test rating, and NDCG@K for K in {ks} "
        "of each user's test movies ranked by score, the true stars as gain (a model trained on "
        "liked-or-not: AUC and accuracy of liked on the test ratings instead of RMSE/MAE)"
    )
    defaults = {"fold": "u1", "ks": (5, 10), "known_only": False}
    needs_ratings = True

    def validate(self) -> None:
        self._check_ks()
        fold = self._options["fold"]
        if fold not in (*OFFICIAL_FOLDS, *EXTRA_FOLDS, "all"):
            other = "; ml-10m's r1..r5, ra and rb, which its split_ratings.sh writes, are not read: leave fold unset " \
                "for a seeded random 80/20 split" \
                if isinstance(fold, str) and re.fullmatch(r"r[1-5ab]", fold) else ""
            raise ConfigError(f"protocol {self.name}: fold={fold!r}, expected one of u1..u5, ua, ub or all "
                              f"(ml-100k's official folds){other}")

    def options(self) -> dict[str, Any]:
        # The fold is recorded per prepared split (see Prepared.fold).
        return {k: v for k, v in super().options().items() if k != "fold"}

    def check_data(self, dataset: Dataset) -> None:
        """Also refuses data whose official folds a filter dropped, naming the filter."""
        super().check_data(dataset)
        if not dataset.folds and dataset.info.get("folds_dropped_by"):
            raise DataError(
                f"protocol {self.name}: the official folds of {data_label(dataset)} no longer apply after the filter "
                f"{dataset.info['folds_dropped_by']} (it dropped ratings); use {_ratings_random()}"
            )

    def _prepare(self, dataset: Dataset, seed: int) -> Prepared:
        from cinerec.data.split import official_split, random_split

        seed = _seed(seed)
        self.check_data(dataset)
        if not dataset.folds:
            if dataset.info.get("release") == "ml-100k":
                raise DataError(
                    f"protocol {self.name}: {data_label(dataset)} holds no official folds "
                    "(load it from a release folder that has the uN.base/uN.test files)"
                )
            if "fold" in self._given:  # asked for by name: not a fold this data has
                what = "asks for ml-100k's official folds" if self.fold == "all" else "is one of ml-100k's official folds"
                raise DataError(f"protocol {self.name}: fold={self.fold} {what}, and "
                                f"{data_label(dataset)} has none; leave fold unset for a seeded random 80/20 split")
            split = random_split(dataset.interactions, test=0.2, seed=seed)
            test = self._known(split.train, split.test, "random-80/20")
            return Prepared(self, seed, split.train, test, None,
                            np.unique(test.users).astype(np.int64), fold="random-80/20")
        names = OFFICIAL_FOLDS if self.fold == "all" else (self.fold,)
        parts = []
        for name in names:
            split = official_split(dataset, name)
            test = self._known(split.train, split.test, name)
            parts.append(Prepared(self, seed, split.train, test, None,
                                  np.unique(test.users).astype(np.int64), fold=name))
        if len(parts) == 1:
            return parts[0]
        return dataclasses.replace(parts[0], folds=tuple(parts), fold=None)

    def describe(self, dataset: Dataset | None = None) -> str:
        text = super().describe(dataset)
        if self.known_only:
            text += "; test ratings whose user or movie has no training rating left out (known_only)"
        return text

    def _known(self, train: Interactions, test: Interactions, fold: str) -> Interactions:
        """``test`` less, with ``known_only``, the ratings whose user or movie has no
        training rating (the Keras study's filtering of ids its embeddings never learned:
        u1.test holds 32 ratings of movies u1.base lacks)."""
        if not self.known_only:
            return test
        kept = known_ratings(train, test)
        if len(test) and not len(kept):
            raise DataError(f"protocol {self.name}: known_only leaves out all {len(test):,} test ratings of fold {fold}: "
                            "none has both a user and a movie with a training rating; leave known_only out")
        return kept

    def metric_names(self) -> tuple[str, ...]:
        return _rating_metric_names(self.ks)

    def measure(self, prepared: Prepared, model: Recommender, per_user: bool = False) -> dict[str, Any]:
        return _rating_metrics(prepared, model, per_user)


def known_ratings(train: Interactions, test: Interactions) -> Interactions:
    """The ratings of ``test`` whose user and movie both have a rating in ``train``."""
    known = (train.user_counts[test.users] > 0) & (train.item_counts[test.items] > 0)
    return test if known.all() else test.select(np.flatnonzero(known))


class RatingsRandom(Protocol):
    """Seeded 70/15/15 train/valid/test; RMSE/MAE on test, valid given to fit.

    ``valid = 0`` leaves no validation part: a plain random split, the same rows as
    ``ratings-fold``'s 80/20 on a release without official folds when ``test = 0.2``."""

    name = "ratings-random"
    summary = (
        "seeded random split of the ratings, {train_share} train / {valid_share} valid / {test_share} test; valid is given "
        "to fit (early stopping); RMSE and MAE of predicted stars on test, and NDCG@K for K in "
        "{ks} of each user's test movies ranked by score, the true stars as gain (a model trained "
        "on liked-or-not: AUC and accuracy of liked on the test ratings instead of RMSE/MAE)"
    )
    defaults = {"test": 0.15, "valid": 0.15, "ks": (5, 10)}
    needs_ratings = True

    def validate(self) -> None:
        self._check_ks()
        t = _fraction(self.name, "test", self._options["test"])
        v = self._options["valid"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v < 1.0:
            raise ConfigError(f"protocol {self.name}: valid={shown(v)} must be 0 (no validation part) or a fraction "
                              "strictly between 0 and 1")
        if t + v >= 1.0:
            raise ConfigError(f"protocol {self.name}: test = {shown(t)} and valid = {shown(v)} add up to "
                              f"{shown(round(t + v, 12))}, leaving nothing to train on")
        self._options["valid"] = float(v)  # (valid=0 and valid=0.0 are one protocol, recorded alike)

    def describe(self, dataset: Dataset | None = None) -> str:
        text = super().describe(dataset)
        if self._options["valid"] == 0:
            shares = self._shares()
            text = text.replace(f"{shares['train_share']} train / 0% valid / {shares['test_share']} test; valid is given "
                                "to fit (early stopping)",
                                f"{shares['train_share']} train / {shares['test_share']} test, no validation part")
        return text

    def _prepare(self, dataset: Dataset, seed: int) -> Prepared:
        from cinerec.data.split import random_split

        seed = _seed(seed)
        self.check_data(dataset)
        split = random_split(dataset.interactions, test=float(self.test), valid=float(self.valid), seed=seed)
        return Prepared(self, seed, split.train, split.test, split.valid, np.unique(split.test.users).astype(np.int64))

    def metric_names(self) -> tuple[str, ...]:
        return _rating_metric_names(self.ks)

    def measure(self, prepared: Prepared, model: Recommender, per_user: bool = False) -> dict[str, Any]:
        return _rating_metrics(prepared, model, per_user)


def _rating_metric_names(ks: Sequence[int]) -> tuple[str, ...]:
    """What :func:`_rating_metrics` can give."""
    return ("rmse", "mae", "auc", "accuracy") + tuple(f"ndcg@{k}" for k in ks)


def _rating_metrics(prepared: Prepared, model: Recommender, per_user: bool = False) -> dict[str, Any]:
    """RMSE/MAE of stars, or AUC/accuracy of liked for a model trained on liked-or-not; NDCG@K.

    A model trained on liked-or-not labels (``can_predict_liked``) predicts a
    probability, not stars, so it gets no RMSE or MAE: its ``auc`` and ``accuracy``
    (call "liked" at probability 0.5) are taken against the model's own labels of the
    test ratings (:meth:`~cinerec.models.base.Recommender.is_liked`), over every test
    pair. Every model gets ``ndcg@K`` (:func:`cinerec.evaluation.metrics.ndcg_of_ratings`):
    each user's test movies ranked by ``score`` (stars before clipping, or the
    probability), the true stars as gain. With ``per_user``, RMSE, MAE and NDCG come
    as ``(n_users,)`` values aligned with ``prepared.users``, with each user's count of
    test ratings as ``n_ratings`` (what a paired comparison of RMSE weighs users by);
    AUC and accuracy stay numbers.
    """
    test = prepared.test
    out: dict[str, Any] = {}
    if model.can_predict_liked:
        scores = model.predict_liked(test.users, test.items)
        _check_numbers(model, scores)
        labels = model.is_liked(test.ratings)
        out["auc"] = M.auc(scores, labels)
        out["accuracy"] = M.accuracy(scores, labels)
    else:
        pred = model.predict(test.users, test.items)
        scores = model.score(test.users, test.items)
        _check_numbers(model, scores)
        if per_user:  # each user's own RMSE and MAE over their test ratings, and how many
            out["rmse"] = M.rmse(pred, test.ratings, test.users)[prepared.users]
            out["mae"] = M.mae(pred, test.ratings, test.users)[prepared.users]
            out["n_ratings"] = np.bincount(test.users, minlength=test.n_users)[prepared.users].astype(np.float64)
        else:
            out["rmse"] = M.rmse(pred, test.ratings)
            out["mae"] = M.mae(pred, test.ratings)
    lowest = prepared.scale_low if prepared.scale_low is not None else \
        min((float(x.ratings.min()) for x in (prepared.train, test) if len(x)), default=0.0)
    for k in prepared.protocol.ks:
        v = M.ndcg_of_ratings(test.users, test.items, scores, test.ratings, k, per_user=per_user, lowest=lowest)
        out[f"ndcg@{k}"] = v[prepared.users] if per_user else v
    return out


# -- popularity as the floor ----------------------------------------------------------------

#: The figure each protocol is judged by in comparisons (leaderboards, the popularity floor).
HEADLINE: dict[str, str] = {"loo-sampled": "hr@10", "loo-full": "hr@10", "random-full": "recall@10",
                            "ratings-fold": "rmse", "ratings-random": "rmse"}


def headline(protocol: str, ks: Sequence[int] = ()) -> str | None:
    """The figure ``protocol`` is judged by (:data:`HEADLINE`), at K = 10 or, when the
    protocol measures other Ks (``ks`` without 10), at its largest."""
    metric = HEADLINE.get(protocol)
    if metric is None or "@" not in metric or not ks or 10 in ks:
        return metric
    return f"{metric.split('@')[0]}@{max(ks)}"


def _ks_of(metrics: Mapping[str, Any], like: str) -> list[int]:
    """The Ks of a result's figures of the family of ``like`` (``hr`` for ``"hr@10"``;
    not ``coverage@10``, which ``loo-full`` measures at 10 whatever its ``ks``)."""
    family = like.partition("@")[0] + "@"
    return sorted({int(k[len(family):]) for k in metrics if k.startswith(family) and k[len(family):].isdigit()})


def below_popularity(results: Sequence[Result], baseline: str = "popularity") -> list[str]:
    """One line for each model whose headline figure is below popularity's.

    Popularity (every person gets the most rated movies) is the floor of a ranking
    protocol: a model below it ranks worse than not personalising at all, usually
    because it was trained for something else (stars). Results are compared within one
    protocol label (same options and seed), and only where ``baseline`` was measured
    under it; rating protocols have no popularity figure and give no line.

    Args:
        results: any results, e.g. a whole leaderboard.
        baseline: the model name that stands for popularity.

    Returns:
        Lines such as ``"mf: hr@10 0.2400 is below popularity's 0.4040 under
        loo-sampled (seed 0)"``, in the order of ``results``.
    """
    floors = {r.label: r for r in results if r.model == baseline}
    out = []
    for r in results:
        floor = floors.get(r.label)
        metric = headline(r.protocol, _ks_of(r.metrics, HEADLINE.get(r.protocol, "")))
        if floor is None or r is floor or metric is None or metric in LOWER_IS_BETTER:
            continue
        if metric not in r.metrics or metric not in floor.metrics:
            continue
        if figure_below(r.metrics[metric], floor.metrics[metric]):
            out.append(f"{r.model}: {metric} {r.metrics[metric]:.4f} is below {baseline}'s "
                       f"{floor.metrics[metric]:.4f} under {r.label}")
        elif (tie := tie_below(r.model, metric, r.metrics, floor.metrics, baseline)) is not None:
            out.append(f"{tie} under {r.label}")
    return out


def same_figure(a: float, b: float) -> bool:
    """Two figures equal but for the last bits a mean's order of summing moves
    (0.22499999999999998 against 0.22500000000000003, two means of the same tenths)."""
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def figure_below(value: float, floor: float) -> bool:
    """``value < floor`` by more than :func:`same_figure` allows."""
    return value < floor and not same_figure(value, floor)


def tie_breaker(metric: str) -> str | None:
    """The figure that tells a tie on headline ``metric`` apart: NDCG at the same K, which
    also counts where in the list the hits are (``hr@10`` ties at 0.25, with the hits lower
    down the list)."""
    family, _, k = metric.partition("@")
    return f"ndcg@{k}" if k and family in ("hr", "recall") else None


def tie_below(model: str, metric: str, figures: Mapping[str, Any], floor: Mapping[str, Any],
              baseline: str = "popularity") -> str | None:
    """The line said of ``model`` whose ``metric`` equals ``baseline``'s and whose
    :func:`tie_breaker` is below it (``None`` otherwise); ``figures`` and ``floor`` map a
    figure's name to its value."""
    other = tie_breaker(metric)
    values = [d.get(name) for d in (figures, floor) for name in (metric, other or "")]
    if other is None or not all(isinstance(v, numbers.Real) for v in values) \
            or not same_figure(figures[metric], floor[metric]) \
            or not figure_below(figures[other], floor[other]):  # (a figure that could not be measured: None, or NaN)
        return None
    return (f"{model}: {metric} {figures[metric]:.4f} ties {baseline}'s, and its {other} {figures[other]:.4f} is "
            f"below {baseline}'s {floor[other]:.4f}")


def mean_rmse(prepared: Prepared) -> float:
    """The RMSE of predicting every test rating as the mean of the training ratings (over
    several official folds, the mean of the folds'); NaN where there is nothing to measure."""
    parts = prepared.folds or (prepared,)
    return float(np.mean([M.rmse(np.full(len(p.test), float(np.mean(p.train.ratings))), p.test.ratings)
                          for p in parts if len(p.test) and len(p.train)] or [np.nan]))


def below_mean(prepared: Prepared, result: Result) -> list[str]:
    """A line when a model's RMSE is worse than predicting every test rating as the mean of
    the training ratings: the floor of a rating protocol, as popularity is of a ranking
    one. A model below it has not learned even the data's level (``mf`` fitted in a few
    optimiser steps on a small log predicted the bottom of the scale for every pair).

    Over several official folds both figures are means over the folds.
    """
    if not prepared.protocol.needs_ratings or "rmse" not in result.metrics:
        return []
    value, floor = float(result.metrics["rmse"]), mean_rmse(prepared)
    if not (np.isfinite(value) and np.isfinite(floor)) or value <= floor:
        return []
    return [below_mean_line(result.model, value, floor, result.label)]


def below_mean_line(model: str, rmse: float, floor: float, under: str) -> str:
    """The words of :func:`below_mean` (a study's too, where both figures are means over seeds)."""
    return (f"{model}: rmse {rmse:.4f} is worse than the rmse {floor:.4f} of predicting every rating as the training "
            f"ratings' mean under {under}: it has not learned even the data's level")


# -- registry and convenience ---------------------------------------------------------------

PROTOCOLS: dict[str, type[Protocol]] = {
    p.name: p for p in (LooSampled, LooFull, RandomFull, RatingsFold, RatingsRandom)
}


def get_protocol(name: str, **options: Any) -> Protocol:
    """A protocol by name, with options (unknown name → ``NotFoundError`` listing the names)."""
    try:
        cls = PROTOCOLS[name]
    except KeyError:
        raise NotFoundError(unknown_name("protocol", name, PROTOCOLS)) from None
    return cls(**options)


def evaluate(
    protocol_name: str,
    dataset: Dataset,
    model_name_or_factory: str | Recommender | Callable[[], Recommender],
    seed: int = 0,
    *,
    config: dict[str, Any] | None = None,
    **options: Any,
) -> Result:
    """Prepare ``protocol_name`` on ``dataset`` and evaluate one model on it.

    Args:
        protocol_name: a key of :data:`PROTOCOLS`.
        dataset: the loaded dataset.
        model_name_or_factory: a registered model name, a model, or a function returning one.
        seed: the split and sampling seed.
        config: model config values when a name is given (passed through
            :meth:`Protocol.settings_for`: ``mf`` under a ranking protocol trains for ranking).
        **options: the protocol's options (e.g. ``fold="all"``).
    """
    protocol = get_protocol(protocol_name, **options)
    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(f"evaluate: config must map setting names to values, got {type(config).__name__}")
    if isinstance(model_name_or_factory, str):
        # Seeded as the command line seeds it (--seed): the model's own seed, unless config sets one.
        model = protocol.create(model_name_or_factory, config, seed=_seed(seed))
    elif config is not None:
        raise ConfigError("evaluate: config applies to a model given by name; a model or a factory comes set up "
                          "already")
    elif isinstance(model_name_or_factory, Recommender):
        model = model_name_or_factory
    elif callable(model_name_or_factory):
        model = model_name_or_factory()
        if not isinstance(model, Recommender):
            raise ConfigError(f"evaluate: the factory returned a {type(model).__name__}, not a model")
    else:
        raise ConfigError(f"expected a model name, a model or a factory, got {type(model_name_or_factory).__name__}")
    protocol.check(model)
    return protocol.prepare(dataset, seed=seed).evaluate(model)

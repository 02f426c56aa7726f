"""Several ranking models weighed together: ``ensemble``.

Models that rank from different evidence make different mistakes: ``seqknn`` reads the
order in which a person watched, EASE which movies go together whatever the order,
ALS a low-rank taste. Their scores share no scale, so each member's scores are
standardised per person (minus the mean, over the standard deviation, both taken over
the movies that person may be offered, the ones they have not rated) and a movie scores
``sum_k weights[k] * member_k``.

``weights = "auto"`` (the default) chooses the weights at fit time, on the training
data alone, the way ``two-stage`` chooses its ``mix``:

1. one training rating per user is held out (``held_out_rating = "latest"``: each
   user's latest, timestamp ties to the later row, as the leave-latest-out protocols
   do; ``"random"``: a seeded random one, for data whose order means nothing); users
   with one rating keep it;
2. every member is fitted on the rest;
3. each weighting is scored by HR@10 of the held-out movies, ranked among every movie
   the user had not rated in the rest (ties: the better mean reciprocal rank, then the
   earlier weighting tried), on at most ``search_users`` held-out users drawn with
   ``seed``;
4. the members are fitted on all of the training data and keep the winner.

Each member's weight comes from :data:`WEIGHT_GRID` (at least one positive; weightings
that differ by a common factor rank alike and are scored once, scaled so the largest
weight is 1). With up to :data:`FULL_GRID_MAX` weightings every one is scored (three
members: 216); past that, one member's weight changes at a time, the others held (two
rounds, from all ones). A weight of 0 leaves a member out, so a member that does not
help on the data at hand can be dropped. The
search costs one more fit of every member; after fitting, ``config.weights`` holds the
chosen numbers (so ``model.json`` and a run's recorded settings show them), and
:attr:`Ensemble.weight_search` every weighting's held-out figures.

A new person (cold start) is scored by every member's ``score_history``, weighed the
same way; similar movies and the reasons given are those of the first member with a
positive weight.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence, cast

import numpy as np
import scipy.sparse as sp

from cinerec.config import Config
from cinerec.data.dataset import Interactions
from cinerec.data.split import leave_last_out
from cinerec.io import json_text
from cinerec.errors import ConfigError, DataError
from cinerec.models.base import MODELS, CapabilityError, Recommender, check_history, chunks, create_member, load_model, register
from cinerec.ranking import rank_of

if TYPE_CHECKING:
    from cinerec.data.dataset import Dataset

__all__ = ["Ensemble", "EnsembleConfig", "WEIGHT_GRID", "FULL_GRID_MAX"]

#: The weights ``weights = "auto"`` tries for each member.
WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
#: Up to this many weightings the search scores them all; past it, one member at a time.
FULL_GRID_MAX = 256
#: Bytes of standardised scores held at once while the weights are searched.
_SEARCH_BYTES = 256 * 2**20
_K = 10


@dataclass(frozen=True)
class EnsembleConfig(Config):
    """Settings of :class:`Ensemble`.

    Attributes:
        members: names of the ranking models weighed together, each at most once.
        settings: per-member config values, keyed by member name, e.g.
            ``{"ease": {"regularization": 500}}`` (in TOML, a ``[settings.ease]`` table).
        weights: one number per member (its standardised scores are multiplied by it),
            or ``"auto"``: chosen at fit time on a hold-out of the training data
            (module docstring).
        held_out_rating: ``"latest"`` or ``"random"``: which training rating of each user the
            weight search holds out.
        search_users: at most this many held-out users score the weightings.
        seed: seeds the ``random`` hold-out, the users drawn, and each member whose settings
            give it no seed of its own.

    The default members are the three best rankers on ml-100k's leave-latest-out
    validation carve-outs (docs/results.md).
    """

    members: tuple[str, ...] = ("seqknn", "ease", "als")
    settings: dict[str, Any] = field(default_factory=dict)
    weights: tuple[float, ...] | str = "auto"
    held_out_rating: str = "latest"
    search_users: int = 5000
    seed: int = 0

    def validate(self) -> None:
        self._check(len(self.members) >= 1, "members", "must name at least one model")
        self._check(len(set(self.members)) == len(self.members), "members", "names a model twice")
        self._check(isinstance(self.settings, dict), "settings", "must map member names to tables of settings")
        if isinstance(self.weights, str):
            self._check(self.weights == "auto", "weights", 'must be one number per member or "auto"')
        else:
            self._check(len(self.weights) == len(self.members), "weights",
                        f"must hold one number per member ({len(self.members)}), got {len(self.weights)}")
            self._check(all(w >= 0 for w in self.weights) and any(w > 0 for w in self.weights), "weights",
                        "must be numbers >= 0, at least one of them positive")
            # 3e38 × a score overflowed to NaN, said as a training that diverged
            self._check(all(w <= MAX_WEIGHT for w in self.weights), "weights",
                        f"must be at most {MAX_WEIGHT:,.0f} (weightings that differ by a common factor rank alike: "
                        "scale them down)")
            self._check(any(np.float32(w) > 0 for w in self.weights), "weights",
                        "must hold one weight that counts in float32 (above about 1e-45)")
        self._check(self.held_out_rating in ("latest", "random"), "held_out_rating", 'must be "latest" or "random"')
        self._check(self.search_users >= 1, "search_users", "must be at least 1")
        for name in self.settings:
            if name not in self.members:
                raise ConfigError(f"EnsembleConfig.settings: {name!r} is not one of the members {list(self.members)}")
        for name in self.members:
            self.member(name)  # unknown model, another ensemble or a bad setting: named here

    def member(self, name: str) -> Recommender:
        """A new, unfitted member with its settings.

        An ensemble ranks, so a member with a ranking variant (``mf``'s
        ``ranking_settings``) gets it for each key its table leaves unset, as under a
        ranking protocol; a member that would still learn stars is refused.
        """
        import cinerec.models  # noqa: F401  (registers every model)

        settings = dict(self.settings)
        cls = MODELS.get(name)
        own = settings.get(name, {})
        if cls is not None and cls.ranking_settings and isinstance(own, dict):
            settings[name] = cls.settings_ranking(own)
        model = create_member("ensemble", name, settings, self.seed)
        if model.shortlists:
            raise ConfigError(f"EnsembleConfig.members: {name!r} cannot be a member: it scores only the movies of its "
                              "shortlist (the rest -inf), so the ensemble could list none past it; weigh its retriever "
                              "and its ranker as members instead")
        if model.task == "rating":
            chosen = ", ".join(f"{k}={own[k]!r}" for k in cls.ranking_settings if k in own) if cls else ""
            how = (f"with {chosen} it learns stars; leave those unset (an ensemble gives it "
                   f"{', '.join(f'{k}={v!r}' for k, v in cls.ranking_settings.items())})"
                   if chosen and cls else "it predicts stars")
            raise ConfigError(f"EnsembleConfig.members: {name!r} cannot rank in an ensemble: {how}"
                              f"{', or' if chosen else ';'} use a ranking model such as ease, als or seqknn")
        model.settings_path = f"settings.{name}."
        return model


@register
class Ensemble(Recommender):
    """A weighted sum of ranking models' standardised scores (module docstring)."""

    name = "ensemble"
    # Its scores are the members' standardised scores, weighed: below 0 is still its order.
    history_scores_signed = True
    Config = EnsembleConfig
    config: EnsembleConfig
    # Under random hold-outs the weights are chosen on a random training rating per
    # user, and each member gets its own settings for that case.
    unordered_settings = {"held_out_rating": "random"}

    @classmethod
    def settings_unordered(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        out = super().settings_unordered(settings)
        filled = _members_unordered(out.get("members", EnsembleConfig.members), out.get("settings"))
        if filled:
            out["settings"] = filled
        return out

    def __init__(self, config: EnsembleConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self.members: list[Recommender] = []
        # What was asked, kept apart from the config: fitting writes the chosen weights
        # into the config, and a second fit of an "auto" model chooses again.
        self._asked = cfg.weights
        #: The weights in use once fitted.
        self.weights_: np.ndarray | None = None
        #: ``weights = "auto"``: every weighting tried with its held-out figures.
        self.weight_search: dict[str, Any] = {}
        probes = [cfg.member(name) for name in cfg.members]
        self.can_score_history = all(m.can_score_history for m in probes)
        self.has_item_vectors = probes[0].has_item_vectors  # the lead's, once the weights are known
        self.uses_features = any(m.uses_features for m in probes)  # type: ignore[misc]
        self._features: Any = None

    # -- fitting -------------------------------------------------------------------------

    def set_features(self, dataset: "Dataset") -> "Ensemble":
        """Hand ``dataset``'s side features to the members that take them."""
        if not self.uses_features:
            raise CapabilityError(f"{self.name}: none of {list(self.config.members)} takes side features")
        was, self._features = self._features, dataset
        try:
            self._new_members()  # (a member that cannot read them says so now, before any fit)
        except Exception:
            self._features = was
            raise
        return self

    def _new_members(self) -> list[Recommender]:
        out = []
        for name in self.config.members:
            m = self.config.member(name)
            if self._features is not None and m.uses_features:
                m.set_features(self._features)
            out.append(m)
        return out

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "Ensemble":
        """Choose the weights when asked (module docstring), then fit every member on ``train``."""
        search: dict[str, Any] = {}
        if self._asked == "auto":
            search = self._choose(train, valid)
            weights = np.asarray(search["chosen"], dtype=np.float64)
        else:
            weights = np.asarray(self._asked, dtype=np.float64)
        self.members = [m.fit(train, valid) for m in self._new_members()]
        self.weights_, self.weight_search = _in_use(weights), search
        self.has_item_vectors = next(m for m, w in zip(self.members, self.weights_) if w > 0).has_item_vectors
        self.config = self.config.replace(weights=tuple(float(w) for w in weights))
        self._remember(train)  # last: a member that fails leaves the model unfitted
        return self

    def settled_from_data(self) -> dict[str, Any]:
        return {"weights": "auto"} if self._asked == "auto" else {}

    def _ask_again(self, asked: Mapping[str, Any]) -> None:
        if asked.get("weights") == "auto":
            self._asked = "auto"

    def _held_out(self, train: Interactions) -> tuple[Interactions, Interactions]:
        """``(rest, held)``: one training rating per user (of those with two) held out."""
        if self.config.held_out_rating == "latest":
            split = leave_last_out(train)
            return split.train, split.test
        rng = np.random.default_rng(self.config.seed)
        order = np.lexsort((rng.random(len(train)), train.users))
        counts = train.user_counts
        last = np.cumsum(counts) - 1  # each user's last position in ``order``
        held = np.zeros(len(train), dtype=bool)
        held[order[last[counts >= 2]]] = True
        return train.select(~held), train.select(held)

    def _choose(self, train: Interactions, valid: Interactions | None) -> dict[str, Any]:
        """The weighting of the grid that ranks each user's held-out rating best."""
        rest, held = self._held_out(train)
        if len(held) == 0:
            raise DataError("ensemble: weights = 'auto' holds out one training rating per user, but no user has two; "
                            "give the weights as numbers")
        members = [m.fit(rest, valid) for m in self._new_members()]
        users = held.users.astype(np.int64)
        truth = held.items.astype(np.int64)
        order = np.argsort(users, kind="stable")
        users, truth = users[order], truth[order]
        if len(users) > self.config.search_users:
            pick = np.sort(np.random.default_rng(self.config.seed).choice(len(users), self.config.search_users,
                                                                            replace=False))
            users, truth = users[pick], truth[pick]
        seen = rest.seen
        n_members = len(members)
        tried: list[tuple[float, ...]] = []
        hits: list[float] = []
        rr: list[float] = []

        def score_all(candidates: list[tuple[float, ...]]) -> None:
            new: list[tuple[float, ...]] = []
            for w in candidates:
                c = _canonical(w)
                if c is not None and c not in tried and c not in new:
                    new.append(c)
            if not new:
                return
            h = np.zeros(len(new))
            r = np.zeros(len(new))
            rows = max(1, _SEARCH_BYTES // (8 * n_members * train.n_items))
            for sl in chunks(len(users), rows):
                u = users[sl]
                mask = seen[u]
                z = [_standardised_unseen(m.score(u), mask) for m in members]
                for g, w in enumerate(new):
                    s = _weighed(z, w)
                    ranks = rank_of(s, truth[sl], exclude=mask)
                    h[g] += (ranks <= _K).sum()
                    r[g] += (1.0 / ranks).sum()
            tried.extend(new)
            hits.extend((h / len(users)).tolist())
            rr.extend((r / len(users)).tolist())

        def figure(w: tuple[float, ...]) -> tuple[float, float, int]:
            g = tried.index(cast(tuple[float, ...], _canonical(w)))
            return hits[g], rr[g], -g

        if len(WEIGHT_GRID) ** n_members <= FULL_GRID_MAX:
            score_all(list(itertools.product(WEIGHT_GRID, repeat=n_members)))
        else:
            current = [1.0] * n_members
            for _ in range(2):
                for k in range(n_members):
                    options = [tuple(current[:k] + [w] + current[k + 1:]) for w in WEIGHT_GRID]
                    options = [w for w in options if _canonical(w) is not None]
                    score_all(options)
                    current = list(cast(tuple[float, ...], _canonical(max(options, key=figure))))
        best = max(range(len(tried)), key=lambda g: (hits[g], rr[g], -g))
        return {"members": list(self.config.members), "held_out_rating": self.config.held_out_rating,
                "users": int(len(users)), "tried": [list(w) for w in tried], f"hr@{_K}": hits, "mrr": rr, "chosen": list(tried[best])}

    # -- scoring -------------------------------------------------------------------------

    def _fitted(self) -> tuple[list[Recommender], np.ndarray]:
        self._train()
        assert self.weights_ is not None
        return self.members, self.weights_

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        members, weights = self._fitted()
        mask = self._train().seen[users]
        return _weighed([_standardised_unseen(m.score(users), mask) if w else None
                         for m, w in zip(members, weights)], weights)

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        members, weights = self._fitted()
        if not self.can_score_history:
            unable = [m.name for m in members if not m.can_score_history]
            raise CapabilityError(f"{self.name}: its member(s) {unable} cannot score a new user's history")
        h = check_history(history, self.n_items, self.name)
        return _weighed([_standardised_unseen(m.score_history(h), h) if w else None
                         for m, w in zip(members, weights)], weights)

    # -- similarity and reasons: the first weighed member's ------------------------------

    def _lead(self) -> Recommender:
        """The first member with a positive weight: its similarity gives the reasons."""
        members, weights = self._fitted()
        return next(m for m, w in zip(members, weights) if w > 0)

    def item_vectors(self) -> np.ndarray | None:
        return self._lead().item_vectors()

    def item_similarity(self, items: np.ndarray) -> np.ndarray:
        return self._lead().item_similarity(items)

    def similar_items(self, items: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        return self._lead().similar_items(items, k)

    def evidence(self, users: Any) -> sp.csr_matrix:
        return self._lead().evidence(users)

    def fit_notes(self) -> list[str]:
        """The members' own (a tower that read ids only), each once."""
        if getattr(self, "train_", None) is None:
            return []  # (not fitted: nothing to say)
        members, weights = self._fitted()
        for m in members:  # (loaded from a run, as fitted here)
            m.settings_path = f"settings.{m.name}."
        # A member weighed 0 changes no list: what it made of the data says nothing of them.
        return list(dict.fromkeys(line for m, w in zip(members, weights) if w > 0 for line in m.fit_notes()))

    @property
    def personal(self) -> bool:  # type: ignore[override]
        """Whether any weighed member scores people from their own history (an ensemble
        whose only weight is popularity's lists popular movies, and says so)."""
        return any(m.personal for m in self._weighed_members())

    def reads_ratings_as_seen(self) -> bool:
        """Whether any weighed member reads a low rating as a movie seen, drawing in movies
        like it."""
        return any(m.reads_ratings_as_seen() for m in self._weighed_members())

    def chart_counts(self) -> np.ndarray | None:
        """Its one weighed member's, when only one is weighed (its order is that member's)."""
        members = self._weighed_members()
        return members[0].chart_counts() if len(members) == 1 else None

    def _weighed_members(self) -> list[Recommender]:
        members, weights = self._fitted()
        return [m for m, w in zip(members, weights) if w > 0]

    def says_nothing(self, users: np.ndarray, items: np.ndarray, scores: np.ndarray) -> np.ndarray:
        # Standardised, a movie no member's history speaks for still has a score, the same
        # for all such movies (their order the catalogue's): nothing speaks for it when
        # every weighed member says nothing.
        items = np.asarray(items)
        out = items >= 0
        members = self._weighed_members()
        if not all(m.known_scores_from_history and not m.history_scores_signed for m in members) or not out.any():
            return np.zeros(items.shape, dtype=bool)
        rows, cols = np.nonzero(out)
        who, what = np.asarray(users)[rows], items[rows, cols]
        for m in members:
            raw = np.asarray(m.score(who, what), dtype=np.float32)
            out[rows, cols] &= m.says_nothing(who[:, None], what[:, None], raw[:, None])[:, 0]
        return out

    def history_says_nothing(self, history: sp.csr_matrix, scores: np.ndarray) -> np.ndarray:
        members = self._weighed_members()
        if any(m.history_scores_signed for m in members):
            return np.zeros(np.asarray(scores).size, dtype=bool)
        out = np.ones(np.asarray(scores).size, dtype=bool)
        for m in members:
            out &= m.history_says_nothing(history, np.asarray(m.score_history(history), dtype=np.float32))
        return out

    # -- persistence ---------------------------------------------------------------------

    def _save_state(self, path: Path) -> None:
        members, _ = self._fitted()
        for k, m in enumerate(members):
            m.save(path / f"member-{k}-{m.name}")
        # The weights themselves are the config's (model.json); the search is kept here.
        (path / "ensemble.json").write_text(json_text({"weight_search": self.weight_search}, indent=2))

    def _load_state(self, path: Path) -> None:
        if isinstance(self.config.weights, str):
            raise DataError(f"{path}/model.json: weights = {self.config.weights!r}; a fitted ensemble holds the "
                            f"numbers it chose")
        self.members = []
        for k, name in enumerate(self.config.members):
            m = load_model(path / f"member-{k}-{name}")
            if m.name != name or (m.n_users, m.n_items) != (self.n_users, self.n_items):
                raise DataError(f"{path}/member-{k}-{name}: holds a {m.name!r} model of {m.n_users} users and "
                                f"{m.n_items} movies, not this ensemble's {name!r}")
            self.members.append(m)
        self.weights_ = _in_use(np.asarray(self.config.weights, dtype=np.float64))
        self.has_item_vectors = next(m for m, w in zip(self.members, self.weights_) if w > 0).has_item_vectors
        record = path / "ensemble.json"
        self.weight_search = dict(json.loads(record.read_text()).get("weight_search", {})) if record.exists() else {}


def _standardised_unseen(scores: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
    """``scores`` less each row's mean over its standard deviation, both taken over the
    movies not in ``seen`` (the rows' own histories), which are the ones a person may be
    offered; every finite entry is shifted and scaled alike, ``-inf`` stays."""
    s = np.asarray(scores, dtype=np.float64)
    m = sp.csr_matrix(seen)
    offered = np.isfinite(s)
    offered[np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)), m.indices] = False
    n = np.maximum(offered.sum(axis=1, keepdims=True), 1)
    mean = np.where(offered, s, 0.0).sum(axis=1, keepdims=True) / n
    sd = np.sqrt((np.where(offered, s - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / n)
    with np.errstate(invalid="ignore"):
        z = (s - mean) / np.where(sd > 0, sd, 1.0)
    return np.where(np.isfinite(s), z, -np.inf).astype(np.float32)


def _members_unordered(members: Any, settings: Any) -> Any:
    """Each member's settings with its own ``unordered_settings`` filled in (what the
    config cannot read is left for it to refuse)."""
    if not isinstance(settings, (dict, type(None))) or not isinstance(members, (list, tuple)):
        return settings
    out = dict(settings or {})
    for name in members:
        own = out.get(name, {})
        if isinstance(name, str) and name in MODELS and isinstance(own, dict):
            filled = MODELS[name].settings_unordered(own)
            if filled:
                out[name] = filled
    return out


#: The largest weight an ensemble takes: the sum of its weighed scores stays finite.
MAX_WEIGHT = 1e6


def _canonical(weights: tuple[float, ...]) -> tuple[float, ...] | None:
    """``weights`` scaled so the largest is 1 (weightings that differ by a common factor
    rank alike), or ``None`` when none is positive."""
    top = max(weights)
    if top <= 0:
        return None
    return tuple(round(float(w) / top, 9) for w in weights)


def _in_use(weights: np.ndarray) -> np.ndarray:
    """The weights as the scores are summed with them: one too small to count in float32
    is 0 (its member adds nothing, so it leads no reason either)."""
    w = np.array(weights, dtype=np.float64)
    w[np.float32(w) == 0] = 0.0
    return w


def _weighed(parts: Sequence[np.ndarray | None], weights: Any) -> np.ndarray:
    """``sum_k weights[k] * parts[k]`` over the members with a positive weight."""
    out: np.ndarray | None = None
    for p, w in zip(parts, weights):
        if p is None or w == 0:
            continue
        term = np.float32(w) * p
        out = term if out is None else out + term
    assert out is not None  # at least one weight is positive (checked by the config)
    return out

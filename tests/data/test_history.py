"""The one rule for "liked" and for "seen", checked on cases worked out by hand."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from cinerec.data.dataset import Interactions
from cinerec.data.history import LIKED_MIN_STARS, history_row, is_implicit, liked, seen


def _rows(*people):
    """CSR from lists of (item, stars) per person."""
    data, ind, ptr = [], [], [0]
    for person in people:
        for item, stars in person:
            ind.append(item)
            data.append(stars)
        ptr.append(len(ind))
    return sp.csr_matrix((np.array(data, np.float32), np.array(ind), np.array(ptr)), shape=(len(people), 10))


def test_liked_is_at_least_three_stars_and_the_persons_mean():
    h = _rows([(0, 5), (1, 4), (2, 3), (3, 1)],  # mean 3.25: 5 and 4 liked, 3 is below the mean
              [(4, 2), (5, 2)],                   # all low: nothing liked
              [(6, 3), (7, 3)],                   # every movie the same 3 stars: all liked
              [])
    got = liked(h).toarray().astype(bool)
    assert np.flatnonzero(got[0]).tolist() == [0, 1]
    assert not got[1].any()
    assert np.flatnonzero(got[2]).tolist() == [6, 7]
    assert not got[3].any()
    assert LIKED_MIN_STARS == 3.0


def test_plain_likes_are_liked_and_do_not_move_the_mean():
    h = _rows([(0, 1), (1, 4.5), (2, 3.5)])
    plain = np.array([True, False, False])  # movie 0 is a plain like (its value means nothing)
    got = np.flatnonzero(liked(h, plain=plain).toarray()[0]).tolist()
    assert got == [0, 1]  # the mean of the ratings is 4.0, so 3.5 is not liked


def test_implicit_logs_like_every_event():
    x = Interactions([0, 0, 1], [1, 2, 3], [1, 1, 1], [0, 0, 0], 2, 5)
    assert is_implicit(x)
    assert liked(x.csr, implicit=True).nnz == 3
    stars = Interactions([0, 0], [1, 2], [1, 5], [0, 0], 1, 5)
    assert not is_implicit(stars)


def test_seen_is_every_rated_movie():
    x = Interactions([0, 1, 1], [2, 0, 2], [1, 5, 3], [0, 0, 0], 2, 4)
    assert seen(x).toarray().tolist() == [[0, 0, 1, 0], [1, 0, 1, 0]]


def test_history_row_sorts_its_movies():
    row = history_row(np.array([7, 2, 5]), np.array([1.0, 2.0, 3.0]), 9)
    assert row.indices.tolist() == [2, 5, 7] and row.data.tolist() == [2.0, 3.0, 1.0]


def test_implicit_transforms_say_so_and_kept_negatives_are_not_liked(ml100k_dir):
    from cinerec.data import load
    from cinerec.data.transforms import as_implicit, binarize

    ds = load(ml100k_dir)
    assert not is_implicit(ds)
    assert is_implicit(as_implicit(ds)) and is_implicit(binarize(ds, 4.0))
    kept = binarize(ds, 4.0, keep_negatives=True)
    assert is_implicit(kept)
    likes = liked(kept.interactions.csr, implicit=True)
    assert likes.nnz == int((kept.interactions.ratings > 0).sum())


def test_implicit_on_loading_keeps_aside_what_was_not_liked_as_the_filter_does(ml100k_dir, tmp_path):
    # load(..., implicit=True) made every rating 1.0 as it read them: which were low was
    # lost, and reasons named movies rated one star as "because you liked".
    from cinerec.data import load
    from cinerec.data.filters import Filters, apply_filters

    rows = ["user,item,rating"] + [f"a,m{i},{1 if i else 5}" for i in range(6)]
    rows += [f"u{u},m{i},{1 + (u + i) % 5}" for u in range(5) for i in range(6)]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    for source in (ml100k_dir, tmp_path / "log.csv"):
        filtered, _ = apply_filters(load(source), Filters(implicit=True))
        loaded = load(source, implicit=True)
        assert is_implicit(loaded) and (loaded.interactions.ratings == 1.0).all()
        assert loaded.not_liked is not None
        assert [p.tolist() for p in loaded.not_liked] == [p.tolist() for p in filtered.not_liked]
        likes = liked(loaded.interactions.csr, implicit=True, min_stars=3.0)
        assert likes.nnz == len(loaded.interactions)  # (all watched; not_liked says which were not liked)
    a = load(tmp_path / "log.csv", implicit=True)
    assert sorted(a.item_ids.to_raw(a.not_liked[1][a.not_liked[0] == a.user_ids.index(["a"])[0]])) == \
        [f"m{i}" for i in range(1, 6)]
    from cinerec.models import create
    from cinerec.serving.lists import top_n

    shown = top_n(create("itemknn").fit(a.interactions), ["a"], k=3, dataset=a)
    assert set(shown["reason_movie_id"].dropna()) <= {"m0"}


def test_liked_is_read_on_the_datas_own_scale(tmp_path):
    # A 0-10 log: Zoë gave 1 to 4 out of 10, which the 1-5 rule (at least 3 stars) took for
    # likes and named as reasons; halfway up this scale is 5. A -2..2 log: +2 is liked.
    from cinerec.data import load
    from cinerec.data.history import liked_min_stars, rating_scale
    from cinerec.models import create
    from cinerec.serving.lists import NO_LIKED_REASON, Lists

    rows = ["user,item,rating"]
    rows += [f"Zoë,m{i},{1 + i % 4}" for i in range(8)]  # 1..4 of 10
    rows += [f"u{u},m{i},{10 if (u + i) % 3 else 6}" for u in range(6) for i in range(12)]
    (tmp_path / "ten.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    ds = load(tmp_path / "ten.csv")
    assert rating_scale(ds) == (1.0, 10.0) and liked_min_stars(ds) == 5.5
    lists = Lists(ds, create("itemknn").fit(ds.interactions))
    zoe = ds.user_ids.index(["Zoë"])
    assert lists.liked[zoe].nnz == 0
    items, scores, reasons = lists.for_users(zoe, 3)
    assert {r["reason"] for r in lists.records(items[0], scores[0], reasons[0])} == {NO_LIKED_REASON}
    # Zoë liked nothing: her list comes from what she watched, and says so (it said
    # "popular with people who like what you like", of someone who liked nothing).
    assert NO_LIKED_REASON == "popular with people who watched what you watched"

    (tmp_path / "signed.csv").write_text("user,item,rating\n" + "\n".join(
        f"u{u},m{i},{2 if i % 2 else -2}" for u in range(4) for i in range(6)) + "\n")
    signed = load(tmp_path / "signed.csv")
    assert liked_min_stars(signed) == 0.0
    assert Lists(signed, create("itemknn").fit(signed.interactions)).liked.nnz == 12  # every +2


def test_a_filtered_run_keeps_its_sources_scale_and_its_threshold(tmp_path):
    # After --liked-threshold 7 on a 0-10 log the data is likes only: a cold-start rating
    # is still on the source's scale, and liked from 7 up (it was read on MovieLens's 3).
    from cinerec.data import load
    from cinerec.data.filters import Filters, apply_filters
    from cinerec.data.history import liked_min_stars, rating_scale

    (tmp_path / "ten.csv").write_text("user,item,rating\n" + "\n".join(
        f"u{u},m{i},{(u + i) % 11}" for u in range(5) for i in range(8)) + "\n")
    ds = load(tmp_path / "ten.csv")
    assert rating_scale(ds) == (0.0, 10.0) and liked_min_stars(ds) == 5.0
    thr, _ = apply_filters(ds, Filters(liked_threshold=7))
    assert rating_scale(thr) == (0.0, 10.0) and liked_min_stars(thr) == 7.0
    imp, _ = apply_filters(ds, Filters(implicit=True))
    assert rating_scale(imp) == (0.0, 10.0) and liked_min_stars(imp) == 5.0


def test_a_zero_star_rating_is_rated_for_models_of_rated_or_not(tmp_path):
    # On a -2..2 log the 0s were dropped ("no rating") by EASE and item-kNN while -2 counted.
    from cinerec.models.baselines import _history_matrix

    h = sp.csr_matrix((np.array([0.0, -2.0, 2.0], np.float32), ([0, 0, 0], [1, 2, 3])), shape=(1, 5))
    assert _history_matrix(h, 5, True, "ease").toarray().tolist() == [[0, 1, 1, 1, 0]]

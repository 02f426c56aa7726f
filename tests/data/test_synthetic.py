"""The synthetic generator: MovieLens shapes, exact formats, learnable signal, official folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from cinerec.data import load, official_split
from cinerec.data.synthetic import SHAPES, official_folds, synthesize, write_release
from cinerec.errors import NotFoundError


@pytest.fixture(scope="module")
def full100k():
    return synthesize("ml-100k", 1.0, seed=7)


def test_ml100k_sizes_match_the_real_release(full100k) -> None:
    r = full100k.ratings
    assert len(r) == 100_000
    assert r["user_id"].nunique() == 943 and r["movie_id"].nunique() == 1682 and len(full100k.movies) == 1682
    per_user = r.groupby("user_id").size()
    assert per_user.min() >= 20
    assert not r.duplicated(["user_id", "movie_id"]).any()
    assert set(np.unique(r["rating"])) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    shape = SHAPES["ml-100k"]
    assert r["timestamp"].between(shape.start, shape.end).all()
    assert set(full100k.users.columns) == {"user_id", "age", "gender", "occupation", "zip"}


def test_no_movie_comes_out_after_the_ratings_end(full100k) -> None:
    # 98 of 1,682 came out after 23 April 1998, the last day ml-100k's ratings were taken.
    import pandas as pd

    dates = pd.to_datetime(full100k.movies["release_date"].replace("", None), format="%d-%b-%Y")
    end = pd.Timestamp(SHAPES["ml-100k"].end, unit="s").normalize()
    assert dates.notna().sum() > 1600 and (dates.dropna() <= end).all()
    # ... nor after the last rating of a small release, whose ratings end earlier.
    small = synthesize("ml-100k", 0.01, seed=0)
    last = pd.Timestamp(int(small.ratings["timestamp"].max()), unit="s").normalize()
    dates = pd.to_datetime(small.movies["release_date"].replace("", None), format="%d-%b-%Y")
    assert last < end and (dates.dropna() <= last).all()


def test_heavy_tails(full100k) -> None:
    r = full100k.ratings
    per_user = r.groupby("user_id").size()
    per_movie = r.groupby("movie_id").size().sort_values(ascending=False)
    assert per_user.max() > 5 * per_user.median()
    assert per_movie.iloc[: len(per_movie) // 100].sum() > 0.05 * len(r)  # top 1% of movies (real: 7%)
    assert (per_movie == 1).sum() > 0  # and a long tail of rarely rated movies


def test_ratings_carry_a_learnable_signal(full100k) -> None:
    r = full100k.ratings
    users = pd.factorize(r["user_id"])[0]
    items = pd.factorize(r["movie_id"])[0]
    y = r["rating"].to_numpy(dtype=float)
    rng = np.random.default_rng(0)
    test = rng.random(len(y)) < 0.2
    mu = y[~test].mean()
    # Biases alone, fitted on train, must beat the global mean on held-out ratings.
    bu = pd.Series(y[~test] - mu).groupby(users[~test]).mean().reindex(range(users.max() + 1)).fillna(0).to_numpy()
    bi = pd.Series(y[~test] - mu - bu[users[~test]]).groupby(items[~test]).mean()
    bi = bi.reindex(range(items.max() + 1)).fillna(0).to_numpy()
    rmse_mean = np.sqrt(np.mean((y[test] - mu) ** 2))
    rmse_bias = np.sqrt(np.mean((y[test] - mu - bu[users[test]] - bi[items[test]]) ** 2))
    assert rmse_bias < 0.93 * rmse_mean
    # What the biases leave has low-rank structure: its top singular values stand well
    # above those of the same residuals shuffled over the same cells.
    resid = y - mu - bu[users] - bi[items]
    shape = (users.max() + 1, items.max() + 1)
    top = svds(sp.csr_matrix((resid, (users, items)), shape=shape), k=8, return_singular_vectors=False).sum()
    null = sp.csr_matrix((rng.permutation(resid), (users, items)), shape=shape)
    assert top > 1.3 * svds(null, k=8, return_singular_vectors=False).sum()


def test_choices_follow_taste_not_only_popularity() -> None:
    r = synthesize("ml-100k", 0.3, seed=3).ratings
    users = pd.factorize(r["user_id"])[0]
    items = pd.factorize(r["movie_id"])[0]
    rng = np.random.default_rng(0)
    # Hold out one movie per user; item-to-item co-occurrence must find it more often
    # than popularity does, which it can only if choices follow taste.
    held = np.zeros(len(r), dtype=bool)
    first = np.unique(users, return_index=True)[1]
    held[first] = True  # rows are shuffled, so this is a random movie per user
    n_u, n_i = users.max() + 1, items.max() + 1
    seen = sp.csr_matrix((np.ones((~held).sum()), (users[~held], items[~held])), shape=(n_u, n_i)).toarray()
    norm = np.sqrt(seen.sum(axis=0)) + 1e-9
    sim = (seen.T @ seen) / norm[:, None] / norm[None, :]
    np.fill_diagonal(sim, 0)
    knn = seen @ sim
    pop = np.broadcast_to(seen.sum(axis=0), seen.shape).copy()
    hits = []
    for scores in (knn, pop):
        scores = np.where(seen > 0, -np.inf, scores)
        top = np.argsort(-scores, axis=1)[:, :10]
        hits.append(np.mean(np.any(top[users[held]] == items[held][:, None], axis=1)))
    assert hits[0] > 1.15 * hits[1], hits
    del rng


def test_deterministic_given_seed() -> None:
    a, b, c = synthesize("ml-latest-small", 0.1, 1), synthesize("ml-latest-small", 0.1, 1), synthesize("ml-latest-small", 0.1, 2)
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    pd.testing.assert_frame_equal(a.movies, b.movies)
    assert not a.ratings.equals(c.ratings)


def test_half_stars_and_timestamps_increase_per_user() -> None:
    rel = synthesize("ml-10m", 0.005, seed=4)
    r = rel.ratings
    assert set(np.unique(r["rating"])) == {0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0}
    assert rel.users is None
    # ml-1m's ratings.dat lists each user's ratings together, in the order they were made.
    r = synthesize("ml-1m", 0.005, seed=4).ratings
    u, t = r["user_id"].to_numpy(), r["timestamp"].to_numpy()
    assert np.all(np.diff(u) >= 0)
    same = u[1:] == u[:-1]
    assert np.all(np.diff(t)[same] >= 0)


def test_ml10m_ratings_file_is_spelled_as_the_real_one(tmp_path) -> None:
    # The real ratings.dat writes whole stars as "5" and half stars as "3.5", and its README
    # says its lines are ordered by user, then by movie.
    write_release(tmp_path / "ml-10M100K", "ml-10m", 0.002, seed=1)
    lines = (tmp_path / "ml-10M100K" / "ratings.dat").read_text().splitlines()
    fields = [line.split("::") for line in lines]
    stars = {f[2] for f in fields}
    assert stars == {"0.5", "1", "1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5"}, stars
    keys = [(int(f[0]), int(f[1])) for f in fields]
    assert keys == sorted(keys)
    ds = load(tmp_path / "ml-10M100K")
    assert sorted(np.unique(ds.interactions.ratings).tolist()) == [x / 2 for x in range(1, 11)]


def test_the_synthetic_label_survives_a_copy_without_hidden_files(tmp_path) -> None:
    import json
    import shutil
    import zipfile

    from cinerec.data.synthetic import LABEL, MARKER

    made = write_release(tmp_path / "made", "ml-latest-small", 0.05, seed=0)
    assert (made / LABEL).is_file() and LABEL in json.loads((made / MARKER).read_text())["files"]
    # Its dates are drawn apart from the movies' years (a year filter keeps movies rated in
    # every year of the period): the label says so, where a reader of the files looks.
    assert "many ratings are dated before the\nyear in their movie's title" in (made / LABEL).read_text()
    copy = tmp_path / "copy" / "ml-latest-small"
    copy.mkdir(parents=True)
    shown = [f for f in made.iterdir() if not f.name.startswith(".")]  # what a shell's `*` names
    for f in shown:  # as `cp made/* copy/` does: the hidden marker stays behind
        shutil.copy(f, copy / f.name)
    assert not (copy / MARKER).exists()
    ds = load(copy)
    assert ds.info.get("synthetic") is True and ds.info["release"] == "ml-latest-small"
    zipped = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for f in shown:
            z.write(f, f"ml-latest-small/{f.name}")
    assert load(zipped).info.get("synthetic") is True
    # A file of that name that is not the label says nothing.
    (copy / LABEL).write_text("like: ml-latest-small\n")
    assert not load(copy).info.get("synthetic")


def test_a_synthetic_releases_ratings_file_read_as_a_log_is_synthetic_too(tmp_path) -> None:
    # Its ratings.csv given alone (a log of one's own) was read as real data: no mark on
    # the data line, no note beside the figures, with the label lying beside the file.
    from cinerec.data.dataset import synthetic_notes, synthetic_words
    from cinerec.data.logs import load_log

    made = write_release(tmp_path / "made", "ml-latest-small", 0.02, seed=0)
    ds = load(made / "ratings.csv")
    assert ds.info["format"] == "log" and ds.info.get("synthetic") is True
    assert synthetic_words(ds) == " (SYNTHETIC, shaped like ml-latest-small)"
    assert repr(ds).startswith("<Dataset 'ratings' (ml-latest-small, synthetic): ")
    assert synthetic_notes(ds) == ["the data is a synthetic release shaped like ml-latest-small (cinerec data "
                                   "synthesize): these figures say nothing about real movies"]
    # A log of one's own beside no label is not, nor one put in the release's folder.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "log.csv").write_text((made / "ratings.csv").read_text())
    assert not load_log(tmp_path / "mine" / "log.csv").info.get("synthetic")
    (made / "my_own_log.csv").write_text("user,item,rating\n1,10,4\n2,10,5\n")
    assert not load_log(made / "my_own_log.csv").info.get("synthetic")


def test_scaled_down_release_stays_consistent() -> None:
    rel = synthesize("ml-25m", 0.001, seed=0)
    r = rel.ratings
    n_users = r["user_id"].nunique()
    assert n_users == round(162_541 * 0.001)
    assert len(r) == round(25_000_095 * 0.001)
    assert r.groupby("user_id").size().min() >= 20
    assert not r.duplicated(["user_id", "movie_id"]).any()
    assert len(rel.movies) > r["movie_id"].nunique()  # some catalog movies are never rated
    assert r["movie_id"].isin(rel.movies["movie_id"]).all()


def test_official_folds_are_made_the_genuine_way(full100k) -> None:
    masks = official_folds(full100k.ratings, seed=1)
    stacked = np.stack([masks[f"u{k}"] for k in range(1, 6)])
    assert np.all(stacked.sum(axis=0) == 1)  # five disjoint test sets covering every rating
    assert all(m.sum() == 20_000 for m in stacked)
    users = full100k.ratings["user_id"].to_numpy()
    for fold in ("ua", "ub"):
        assert np.all(np.bincount(users[masks[fold]])[1:] == 10)
    assert not np.any(masks["ua"] & masks["ub"])


def test_written_folds_load_with_the_ratings(tmp_path) -> None:
    folder = write_release(tmp_path / "ml-100k", "ml-100k", 0.1, seed=2)
    d = load(folder)
    for fold in ("u3", "ub"):
        split = official_split(d, fold)
        train, test = split.train, split.test
        assert len(train) + len(test) == len(d.interactions)
        both = train.concat(test)
        key = lambda x: np.sort(x.users.astype(np.int64) * d.n_items + x.items)  # noqa: E731
        assert np.array_equal(key(both), key(d.interactions))
    test = official_split(d, "ua").test
    assert np.all(test.user_counts == 10)


def test_bad_arguments() -> None:
    with pytest.raises(NotFoundError, match="ml-7m"):
        synthesize("ml-7m")
    with pytest.raises(ValueError, match="scale"):
        synthesize("ml-100k", 0)


@pytest.mark.parametrize("like", list(SHAPES))
@pytest.mark.parametrize("scale", [1e-4, 0.003])
def test_tiny_scales_stay_feasible(like: str, scale: float) -> None:
    rel = synthesize(like, scale, seed=1)
    r = rel.ratings
    per_user = r.groupby("user_id").size()
    assert per_user.min() >= min(20, r["movie_id"].nunique() // 2)
    assert not r.duplicated(["user_id", "movie_id"]).any()
    assert r["movie_id"].isin(rel.movies["movie_id"]).all()


def test_a_tiny_ml100k_like_release_still_reads_with_every_fold(tmp_path):
    from cinerec.data import load

    folder = write_release(tmp_path / "tiny", "ml-100k", 0.0001, seed=0)
    ds = load(folder)
    assert set(ds.folds) >= {"ua", "ub"}
    for name in ("ua", "ub"):
        test = (folder / f"{name}.test").read_text().splitlines()
        base = (folder / f"{name}.base").read_text().splitlines()
        assert test and base and len(test) + len(base) == len(ds.interactions)


def test_every_title_of_a_dat_release_has_its_year():
    # ml-1m's and ml-10m's titles all end in "(yyyy)"; the synthetic ones left a few without.
    from cinerec.data.synthetic import synthesize

    for like in ("ml-1m", "ml-10m"):
        titles = synthesize(like, 0.05, 0).movies["title"]
        assert titles.str.contains(r"\(\d{4}\)$").all(), (like, titles[~titles.str.contains(r"\(\d{4}\)$")].tolist())
    assert not synthesize("ml-25m", 0.05, 0).movies["title"].str.contains(r"\(\d{4}-?\d{0,4}\)$").all()  # some, as there


def test_windows_line_ends_reach_every_text_file_the_label_too(tmp_path):
    # --crlf wrote the data files with CRLF and SYNTHETIC.txt with LF alone.
    from cinerec.data.movielens import synthetic_like
    from cinerec.data.synthetic import LABEL, write_release

    folder = write_release(tmp_path / "ml-100k", "ml-100k", 0.02, seed=0, crlf=True)
    for path in (folder / LABEL, folder / "u.data", folder / "u.item"):
        data = path.read_bytes()
        assert data.count(b"\n") == data.count(b"\r\n") > 0, path.name
    assert synthetic_like(folder) == "ml-100k"


def test_a_title_keeps_its_article_at_the_end_as_movielens_writes_it():
    # MovieLens writes "Matrix, The (1999)"; 45% of the synthetic titles began "The ...",
    # a form the releases do not have (and title search treats otherwise).
    for like in ("ml-1m", "ml-latest-small"):
        titles = synthesize(like, 0.05, 0).movies["title"]
        assert not titles.str.startswith("The ").any(), titles[titles.str.startswith("The ")].head().tolist()
        assert titles.str.contains(r", The \(\d{4}\)$").mean() > 0.05


def test_what_a_folder_holds_names_its_release_before_the_folders_name(tmp_path) -> None:
    # A new --like written into an earlier synthetic folder keeps the folder's name; the
    # marker says which release it imitates, and the answer is the same with --release.
    write_release(tmp_path / "ml-20m", "ml-25m", 0.001, seed=0)
    assert load(tmp_path / "ml-20m").info["release"] == "ml-25m"
    assert load(tmp_path / "ml-20m", release="ml-25m").info["release"] == "ml-25m"
    # ml-1m's files in a folder named as ml-10m's (and the other way round) read as what
    # they are: users.dat is ml-1m's alone, and ml-10m rates in half stars.
    from cinerec.data.synthetic import LABEL, MARKER

    made = write_release(tmp_path / "made-1m", "ml-1m", 0.01, seed=0)
    (made / MARKER).unlink()  # files that do not say they are synthetic
    (made / LABEL).unlink()
    made.rename(tmp_path / "ml-10M100K")
    ds = load(tmp_path / "ml-10M100K")
    assert ds.info["release"] == "ml-1m" and ds.user_features is not None
    ten = write_release(tmp_path / "made-10m", "ml-10m", 0.002, seed=0)
    (tmp_path / "ml-1m").mkdir()
    for name in ("ratings.dat", "movies.dat"):
        (tmp_path / "ml-1m" / name).write_bytes((ten / name).read_bytes())
    ds = load(tmp_path / "ml-1m")
    assert ds.info["release"] == "ml-10m" and 3.5 in set(ds.interactions.ratings.tolist())

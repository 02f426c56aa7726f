"""Baselines: the shared contract plus each model's own arithmetic checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import cinerec.models.baselines as baselines
from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError
from cinerec.models import create
from tests.models.conformance import ModelConformance


class TestPopularity(ModelConformance):
    model_name = "popularity"
    personalised = False
    quality = ("loo-sampled", "hr@10", 0.38)


class TestItemKNN(ModelConformance):
    model_name = "itemknn"
    config = {"neighbors": 20}
    quality = ("loo-sampled", "hr@10", 0.55)


class TestEASE(ModelConformance):
    model_name = "ease"
    config = {"regularization": 10.0, "recency_half_life": 0.0}  # no decay: score_history is exact
    quality = ("loo-sampled", "hr@10", 0.62)


class TestEASERecency(ModelConformance):
    """The contract with recency-weighted histories: batch == single, save/load, determinism."""

    model_name = "ease"
    config = {"regularization": 10.0, "recency_half_life": 0.3}
    # score_history gets no timestamps, so a training user's bare history is weighed
    # without decay: the lists agree largely, not exactly.
    history_exact = False


class TestBaseline(ModelConformance):
    model_name = "baseline"
    rating_model = True
    personalised = False
    quality = ("ratings-fold", "rmse", 0.96)
    quality_options = {"fold": "u1"}


def tiny() -> Interactions:
    # users x movies:   m0 m1 m2 m3
    #   u0               5  3  .  .
    #   u1               4  .  2  .
    #   u2               .  1  .  4
    users = [0, 0, 1, 1, 2, 2]
    items = [0, 1, 0, 2, 1, 3]
    ratings = [5, 3, 4, 2, 1, 4]
    return Interactions(users, items, ratings, np.arange(6), 3, 4)


def test_popularity_counts_training_interactions():
    m = create("popularity").fit(tiny())
    np.testing.assert_array_equal(m.score([0, 2]), [[2, 2, 1, 1], [2, 2, 1, 1]])
    np.testing.assert_array_equal(m.score_history(sp.csr_matrix((1, 4))), [[2, 2, 1, 1]])


def test_itemknn_cosine_by_hand():
    m = create("itemknn").fit(tiny())
    s = m.similarity_.toarray()
    # binary columns: m0 = {u0, u1}, m1 = {u0, u2}, m2 = {u1}, m3 = {u2}
    half, root = 0.5, 1 / np.sqrt(2)
    want = np.array([
        [0, half, root, 0],
        [half, 0, 0, root],
        [root, 0, 0, 0],
        [0, root, 0, 0],
    ])
    np.testing.assert_allclose(s, want, rtol=1e-6)
    # u1 saw m0 and m2: score = S[0] + S[2]
    np.testing.assert_allclose(m.score([1])[0], want[0] + want[2], rtol=1e-6)


def test_itemknn_shrink_and_neighbours():
    m = create("itemknn", {"shrink": 1.0, "neighbors": 1}).fit(tiny())
    s = m.similarity_.toarray()
    assert ((s > 0).sum(axis=0) <= 1).all()  # one neighbour per movie (column)
    assert s[2, 0] == pytest.approx(1 / (np.sqrt(2) + 1))  # m0's best neighbour, shrunk


@pytest.mark.parametrize("dense_fraction", [0.0, 1.0])  # rank every block densely / sparsely
def test_itemknn_block_by_block_equals_all_at_once(monkeypatch, dense_fraction):
    from tests.models.conformance import random_ratings

    x = random_ratings(n_users=80, n_items=70, seed=3)
    whole = create("itemknn", {"neighbors": 7}).fit(x)._neighbours.toarray()
    every = create("itemknn", {"neighbors": 1000}).fit(x)._neighbours.toarray()
    monkeypatch.setattr(baselines, "_BLOCK_BYTES", 4 * 70 * 3)  # three movies per block
    monkeypatch.setattr(baselines, "_DENSE_FRACTION", dense_fraction)
    blocks = create("itemknn", {"neighbors": 7}).fit(x)._neighbours.toarray()
    # Equal similarities may swap which neighbour is kept, never the kept values.
    np.testing.assert_allclose(np.sort(blocks, axis=1), np.sort(whole, axis=1), rtol=1e-6)
    assert ((blocks > 0).sum(axis=1) <= 7).all()
    np.testing.assert_allclose(create("itemknn", {"neighbors": 1000}).fit(x)._neighbours.toarray(), every, rtol=1e-6)


def test_itemknn_product_a_few_rows_at_a_time_is_the_same_to_the_bit(monkeypatch):
    # A block's whole sparse product at once peaked at about 1.8 GB on 6,000 movies; in
    # parts, the similarity must not change at all (nor which path ranks each block).
    from tests.models.conformance import random_ratings

    x = random_ratings(n_users=90, n_items=70, seed=5)
    monkeypatch.setattr(baselines, "_PRODUCT_ENTRY_BYTES", 1)  # the block's product at once
    once = create("itemknn", {"neighbors": 9}).fit(x).similarity_
    monkeypatch.setattr(baselines, "_PRODUCT_ENTRY_BYTES", 10**12)  # one row at a time
    parts = create("itemknn", {"neighbors": 9}).fit(x).similarity_
    for a in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(parts, a), getattr(once, a))


def test_ease_matches_the_closed_form():
    x = tiny()
    l2 = 2.0
    m = create("ease", {"regularization": l2, "recency_half_life": 0.0}).fit(x)  # rows as they are
    X = x.seen.toarray().astype(np.float64)
    P = np.linalg.inv(X.T @ X + l2 * np.eye(4))
    B = -P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    np.testing.assert_allclose(m.weights_, B, atol=1e-6)
    np.testing.assert_allclose(m.score([0, 1, 2]), X @ B, atol=1e-6)


def test_ease_float32_and_in_place_float64_inverses_agree(monkeypatch):
    from tests.models.conformance import random_ratings

    x = random_ratings(n_users=300, n_items=1100, seed=1)  # two 1024-row mirroring blocks
    fast = create("ease", {"regularization": 5.0}).fit(x).weights_
    monkeypatch.setattr(baselines, "_FLOAT32_MAX_ITEMS", 0)
    lapack = create("ease", {"regularization": 5.0}).fit(x).weights_
    assert lapack.dtype == fast.dtype == np.float32
    np.testing.assert_allclose(lapack, fast, atol=2e-6)
    assert (np.diag(lapack) == 0).all() and (np.diag(fast) == 0).all()
    # B comes out in C order, so the fit does not copy the whole matrix to reorder it.
    gram = np.array([[3.0, 1.0, 0.0], [1.0, 4.0, 2.0], [0.0, 2.0, 5.0]])
    b = baselines._ease_weights(gram.copy())
    p = np.linalg.inv(gram)
    assert b.flags.c_contiguous and b[0, 1] == pytest.approx(-p[0, 1] / p[1, 1], rel=1e-6)


def test_ease_refuses_a_catalogue_too_large_for_a_dense_matrix():
    with pytest.raises(ConfigError, match=r"max_items=3; .* need about 1 MiB .*Filters\(top_movies=N\)"):
        create("ease", {"max_items": 3}).fit(tiny())
    # What a fit holds at once, measured: 2.63 GB at 13,203 movies against 0.61 GB for the
    # data alone, 12 bytes a cell (it said 8: "7.8 GiB" at 32,341 movies for about 11.7).
    from cinerec.models.baselines import _check_ease_size

    with pytest.raises(ConfigError, match=r"^ease: 32,341 movies exceed max_items=30,000; its dense 32,341x32,341 "
                                          r"matrices need about 11\.7 GiB at once while it fits "):
        _check_ease_size(32_341, 30_000)
    # Below 8,192 movies, measured about 21 bytes a cell (the inverse's working copy too);
    # a search over λ's eigendecomposition about 24.
    with pytest.raises(ConfigError, match=r"need about 981 MiB at once"):
        _check_ease_size(7_000, 6_000)
    with pytest.raises(ConfigError, match=r"need about 1\.1 GiB at once"):
        _check_ease_size(7_000, 6_000, spectrum=True)
    with pytest.raises(ConfigError, match="regularization"):
        create("ease", {"regularization": 0.0})


def test_ease_recency_half_life_weighs_each_known_users_history_row():
    day = 86400
    # User 0 spans days 6..10 and recency_half_life=0.5 is 2 days: movies 0, 1, 2 seen at
    # days 10, 8 and 6 count 1, 1/2, 1/4 in the row that is scored. User 1: one rating, 1.
    x = Interactions(np.array([0, 0, 0, 1]), np.array([0, 1, 2, 1]), np.array([4.0, 2.0, 5.0, 3.0]),
                     np.array([10, 8, 6, 3]) * day, 2, 4)
    plain = create("ease", {"regularization": 2.0, "recency_half_life": 0.0}).fit(x)
    decayed = create("ease", {"regularization": 2.0, "recency_half_life": 0.5}).fit(x)
    # The fit itself is not weighted: the same B.
    np.testing.assert_allclose(decayed.weights_, plain.weights_)
    rows = np.array([[1.0, 0.5, 0.25, 0.0], [0.0, 1.0, 0.0, 0.0]])
    np.testing.assert_allclose(decayed.score([0, 1]), rows @ plain.weights_, atol=1e-6)
    # A new person's history carries no timestamps: no decay.
    np.testing.assert_allclose(decayed.score_history(x.csr[[0]]), plain.score([0]), atol=1e-6)
    with pytest.raises(ConfigError, match="recency_half_life"):
        create("ease", {"recency_half_life": -0.1})


def test_baseline_biases_by_hand():
    # One epoch with no regularisation: movie biases from the mean, then user biases.
    x = tiny()
    m = create("baseline", {"user_regularization": 0.0, "item_regularization": 0.0, "epochs": 1}).fit(x)
    mu = 19 / 6
    bi = np.array([(5 + 4) / 2, (3 + 1) / 2, 2, 4]) - mu
    bu = np.array([(5 - mu - bi[0]) + (3 - mu - bi[1]), (4 - mu - bi[0]) + (2 - mu - bi[2]),
                   (1 - mu - bi[1]) + (4 - mu - bi[3])]) / 2
    assert m.mean_ == pytest.approx(mu)
    np.testing.assert_allclose(m.item_bias_, bi, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(m.user_bias_, bu, rtol=1e-6, atol=1e-6)


def test_baseline_predict_clips_to_the_training_range():
    x = Interactions([0, 0, 1, 1], [0, 1, 0, 1], [5, 5, 1, 1], np.zeros(4), 2, 2)
    m = create("baseline", {"user_regularization": 0.0, "item_regularization": 0.0}).fit(x)
    raw = m.score([0, 1], np.array([0, 0]))
    stars = m.predict([0, 1], [0, 0])
    assert stars.min() >= 1.0 and stars.max() <= 5.0
    np.testing.assert_allclose(stars, np.clip(raw, 1, 5))


def test_bad_configs_name_the_field():
    with pytest.raises(ConfigError, match="neighbors"):
        create("itemknn", {"neighbors": 0})
    with pytest.raises(ConfigError, match="epochs"):
        create("baseline", {"epochs": 0})
    with pytest.raises(ConfigError, match="item_regularization"):
        create("baseline", {"item_regularization": -1.0})


def test_the_ease_sweep_scores_like_plain_fits():
    from cinerec.models.baselines import EASE
    from tests.models.conformance import random_ratings

    x = random_ratings(80, 60)
    users = np.arange(x.n_users)
    lambdas = [1.0, 30.0, 300.0, 5000.0]
    for lam, swept in zip(lambdas, EASE.sweep(x, lambdas)):
        plain = create("ease", {"regularization": lam}).fit(x)
        assert swept.config.regularization == lam and swept.is_fitted
        # the plain fit inverts in float32 here: agreement to about 1e-4 of the largest score
        scale = np.abs(plain.score(users)).max()
        np.testing.assert_allclose(swept.score(users), plain.score(users), atol=1e-4 * scale)
        np.testing.assert_allclose(swept.weights_, plain.weights_, atol=1e-4 * np.abs(plain.weights_).max())
        np.testing.assert_allclose(swept.score_history(x.csr[:5]), plain.score_history(x.csr[:5]), atol=1e-4 * scale)
        np.testing.assert_array_equal(swept.recommend(users, 5)[0], plain.recommend(users, 5)[0])


def test_a_spectrum_weighs_known_users_by_recency_as_a_plain_fit_does():
    from cinerec.models.baselines import EASESpectrum
    from tests.models.conformance import random_ratings

    x = random_ratings(80, 60)
    spectrum = EASESpectrum(x, dtype=np.float64)
    users = np.arange(10)
    for lam, half_life in ((5.0, 0.1), (300.0, 1.0), (300.0, 0.0)):
        plain = create("ease", {"regularization": lam, "recency_half_life": half_life}).fit(x)
        swept = spectrum.model(lam, half_life)
        assert swept.config.recency_half_life == half_life
        np.testing.assert_allclose(swept.score(users), plain.score(users), atol=1e-5)


def test_a_float64_spectrum_gives_eases_b_exactly():
    from cinerec.models.baselines import EASESpectrum
    from tests.models.conformance import random_ratings

    x = random_ratings(80, 60)
    seen = (x.csr != 0).astype(np.float64)
    for lam in (0.5, 300.0):
        p = np.linalg.inv((seen.T @ seen).toarray() + lam * np.eye(x.n_items))
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        # No recency weighting: the rows scored are the bare histories.
        spectrum = EASESpectrum(x, baselines.EASEConfig(recency_half_life=0.0), dtype=np.float64)
        assert spectrum.dtype == np.float64
        np.testing.assert_allclose(spectrum.diag_p(lam), np.diag(p), rtol=1e-10)
        np.testing.assert_allclose(spectrum.model(lam).weights_, b, atol=1e-6)  # B itself is kept in float32
        np.testing.assert_allclose(spectrum.model(lam).score(np.arange(10)), seen[:10] @ b, atol=1e-6)


def test_models_take_indices_and_refuse_raw_ids_or_indices_out_of_range():
    from cinerec.errors import NotFoundError
    from tests.models.conformance import random_ratings

    x = random_ratings(20, 30, 0)
    model = create("baseline").fit(x)
    assert model.predict(0, 5).shape == (1,)
    for users, items, error, needle in (([0], [-1], NotFoundError, "movie index -1 outside"),
                                        ([0], [30], NotFoundError, "movie index 30 outside"),
                                        ([20], [0], NotFoundError, "user index 20 outside"),
                                        (["1"], [5], ConfigError, "user indices must be whole numbers"),
                                        ([0], [5.0], ConfigError, "movie indices must be whole numbers")):
        with pytest.raises(error, match=needle):
            model.predict(users, items)
    with pytest.raises(ConfigError, match="movie indices must be whole numbers"):
        model.similar_items(["abc"])


@pytest.mark.parametrize("name", ["popularity", "ease", "als", "itemknn", "seqknn", "baseline"])
def test_fit_names_a_dataset_given_instead_of_interactions(name):
    from cinerec.data.dataset import Catalog, Dataset, IdMap
    from tests.models.conformance import random_ratings

    x = random_ratings(20, 30, 0)
    ds = Dataset("d", x, IdMap(np.arange(20), "user"), IdMap(np.arange(30), "movie"), Catalog.unknown(30))
    with pytest.raises(ConfigError, match=rf"{name}\.fit: expected Interactions \(its \.interactions\), got Dataset"):
        create(name).fit(ds)


def test_pairs_of_unequal_length_are_one_clear_error():
    from tests.models.conformance import random_ratings

    model = create("baseline").fit(random_ratings(20, 30, 0))
    with pytest.raises(ConfigError, match="pair scores need as many movies as users, got 1 movies for 2 users"):
        model.predict([0, 1], [1])


def test_saving_never_replaces_a_folder_of_other_files_or_a_file(tmp_path):
    # save() swapped its folder in over whatever stood at the path and deleted it.
    from cinerec.errors import ConfigError
    from cinerec.models import load_model

    model = create("popularity").fit(Interactions(np.array([0, 1]), np.array([1, 0]), np.ones(2), np.arange(2), 2, 2))
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "precious.txt").write_text("x")
    with pytest.raises(ConfigError, match=r"mine: a folder holding other files \(not a saved model\); not replacing"):
        model.save(mine)
    assert (mine / "precious.txt").read_text() == "x" and (mine / "sub").is_dir()
    (tmp_path / "afile").write_text("y")
    with pytest.raises(ConfigError, match=r"afile: is a file; not replacing it"):
        model.save(tmp_path / "afile")
    assert (tmp_path / "afile").read_text() == "y" and not list(tmp_path.glob(".afile*"))
    with pytest.raises(ConfigError, match=r"the path is empty"):
        model.save("")
    model.save(tmp_path / "m")
    model.save(tmp_path / "m")  # an earlier saved model is replaced
    assert load_model(tmp_path / "m").name == "popularity"
    # Read back from a file, it is named as no saved model (it was a bare NotADirectoryError).
    from cinerec.errors import DataError

    with pytest.raises(DataError, match=r"afile: not a folder; a saved model is a folder holding model.json"):
        load_model(tmp_path / "afile")


def test_saving_keeps_a_folder_whose_model_json_is_another_programs_or_files_added_to_a_saved_model(tmp_path,
                                                                                                   ml100k_dir):
    # A TensorFlow.js model folder holds a model.json too: save() took it for an earlier
    # saved model and deleted its weights; a note added to a saved model went the same way.
    import json
    import os
    import stat

    from cinerec.data import load
    from cinerec.errors import ConfigError
    from cinerec.models import load_model

    model = create("popularity").fit(Interactions(np.array([0, 1]), np.array([1, 0]), np.ones(2), np.arange(2), 2, 2))
    tfjs = tmp_path / "tfjs"
    tfjs.mkdir()
    (tfjs / "model.json").write_text(json.dumps({"format": "layers-model", "modelTopology": {}}))
    (tfjs / "shard.bin").write_bytes(b"\0" * 100)
    with pytest.raises(ConfigError, match=r"tfjs: holds a model.json that cinerec did not write \(not a saved "
                                          r"model\); not replacing it"):
        model.save(tfjs)
    assert (tfjs / "shard.bin").stat().st_size == 100
    saved = tmp_path / "saved"
    model.save(saved)
    assert json.loads((saved / "model.json").read_text())["files"] == ["state.npz", "train.npz"]
    (saved / "notes").mkdir()
    (saved / "notes" / "mine.txt").write_text("x")
    with pytest.raises(ConfigError, match=r"saved: a saved model that now holds files it did not write "
                                          r"\(notes/mine.txt\); not replacing it: move them out"):
        model.save(saved)
    assert (saved / "notes" / "mine.txt").read_text() == "x" and load_model(saved).name == "popularity"
    (saved / "notes" / "mine.txt").unlink()
    (saved / "notes").rmdir()
    model.save(saved)  # its own files alone: replaced
    # A saved model of an ensemble lists its members' files too.
    from tests.models.conformance import random_ratings

    both = create("ensemble", {"members": ["popularity", "itemknn"], "weights": [1.0, 1.0]}).fit(random_ratings(20, 30, 0))
    both.save(tmp_path / "both")
    both.save(tmp_path / "both")
    # A folder made read-only is kept as it is (the swap needs only its parent's permission).
    saved.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(ConfigError, match=r"saved: is a read-only folder; not replacing it"):
            model.save(saved)
        assert not stat.S_IMODE(os.stat(saved).st_mode) & 0o222 and not list(tmp_path.glob(".saved*"))
    finally:
        saved.chmod(0o755)
    # The same for a saved dataset.
    ds = load(ml100k_dir)
    ds.save(tmp_path / "ds")
    (tmp_path / "ds" / "extra.csv").write_text("x")
    with pytest.raises(ConfigError, match=r"ds: a saved dataset that now holds files it did not write \(extra.csv\)"):
        ds.save(tmp_path / "ds")


def test_a_file_browsers_files_neither_block_a_save_nor_make_a_folder_someones(tmp_path):
    # A folder opened in macOS Finder holds a .DS_Store: a saved model opened so could not
    # be saved again ("holds files it did not write (.DS_Store)"), nor an empty folder
    # opened so take one.
    from cinerec.io import contents, is_clutter

    model = create("popularity").fit(Interactions(np.array([0, 1]), np.array([1, 0]), np.ones(2), np.arange(2), 2, 2))
    saved = tmp_path / "saved"
    model.save(saved)
    for name in (".DS_Store", "Thumbs.db", "desktop.ini"):
        (saved / name).write_text("x")
    (saved / "._state.npz").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00")  # (as macOS writes one)
    model.save(saved)
    assert sorted(p.name for p in saved.iterdir()) == ["model.json", "state.npz", "train.npz"]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / ".DS_Store").write_text("x")
    assert contents(fresh) == []
    model.save(fresh)
    assert sorted(p.name for p in fresh.iterdir()) == ["model.json", "state.npz", "train.npz"]
    # Only a file browser's own files: a folder of one's own so named, or a ._ file of
    # one's own text, is someone's and kept.
    from cinerec.errors import ConfigError

    for name, make in ((".DS_Store", "folder"), ("._drafts", "folder"), ("._notes", "text")):
        mine = tmp_path / f"mine-{len(name)}-{make}"
        mine.mkdir()
        if make == "folder":
            (mine / name).mkdir()
            (mine / name / "thesis.tex").write_text("x")
        else:
            (mine / name).write_text("my notes")
        with pytest.raises(ConfigError, match="a folder holding other files"):
            model.save(mine)
        assert not is_clutter(mine / name)
    assert is_clutter(saved.parent / "fresh" / "model.json") is False


def test_a_folder_on_the_way_one_may_not_enter_is_one_line_to_save_and_load(tmp_path, monkeypatch):
    # save("/root/x") and load_model("/root/x") as another user were pathlib's PermissionError.
    import os
    from pathlib import Path

    from cinerec.errors import ConfigError, DataError
    from cinerec.models import load_model

    model = create("popularity").fit(Interactions(np.array([0, 1]), np.array([1, 0]), np.ones(2), np.arange(2), 2, 2))
    locked = tmp_path / "locked"
    locked.mkdir()
    real_stat = os.stat

    def stat(path, *args, **kwargs):  # (as a folder of mode 700 of another user is)
        if str(path).startswith(f"{locked}{os.sep}"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(Path, "stat", lambda self, **kw: stat(self, **kw))
    with pytest.raises(ConfigError, match=rf"locked/x: cannot be written \(Permission denied: {locked}/x\)$"):
        model.save(locked / "x")
    with pytest.raises(DataError, match=rf"locked/x: cannot be read \(Permission denied: {locked}/x\)$"):
        load_model(locked / "x")


def test_saving_over_a_model_it_cannot_fully_read_is_refused(tmp_path, monkeypatch):
    # A folder of the user's that could not be listed was skipped by the check, so the save
    # went ahead and moved it away; an unreadable model.json was called another program's;
    # a "files" edited to a string was ignored.
    import json
    import os
    from pathlib import Path

    from cinerec.errors import ConfigError

    model = create("popularity").fit(Interactions(np.array([0, 1]), np.array([1, 0]), np.ones(2), np.arange(2), 2, 2))
    saved = tmp_path / "saved"
    model.save(saved)
    (saved / "mine").mkdir()
    (saved / "mine" / "notes.txt").write_text("x")
    real_scandir, real_read = os.scandir, Path.read_text

    def scandir(path="."):  # (as a folder of mode 300 is to anyone but root)
        if os.fspath(path).endswith("mine"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(ConfigError, match=r"saved: holds a folder that cannot be read \(mine\), which may hold files "
                                          r"of yours; not replacing it"):
        model.save(saved)
    monkeypatch.setattr(os, "scandir", real_scandir)
    assert (saved / "mine" / "notes.txt").read_text() == "x"

    def read_text(self, *args, **kwargs):
        if self.name == "model.json":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    with pytest.raises(ConfigError, match=r"saved/model.json: cannot be read \(Permission denied\); not replacing"):
        model.save(saved)
    monkeypatch.setattr(Path, "read_text", real_read)
    meta = json.loads((saved / "model.json").read_text())
    (saved / "model.json").write_text(json.dumps({**meta, "files": "train.npz"}))
    with pytest.raises(ConfigError, match=r"saved/model.json: files: expected a list of its files' names; not "
                                          r"replacing"):
        model.save(saved)
    assert (saved / "mine" / "notes.txt").read_text() == "x"


def test_ease_with_a_penalty_too_small_to_invert_is_one_line():
    # Two movies rated by the same people make XᵀX singular; λ = 1e-30 left it so, and
    # torch's LinAlgError reached the user as a traceback.
    from cinerec.models import create

    x = Interactions(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.ones(4), np.zeros(4), 2, 3)
    with pytest.raises(ConfigError, match=r"ease: XᵀX \+ λI cannot be inverted \(singular\); raise regularization"):
        create("ease", {"regularization": 1e-30}).fit(x)

"""Approximate-neighbour indexes behind ``recommend`` and ``similar_items``."""

import numpy as np
import pytest

from cinerec.cli import main
from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError, DataError
from cinerec.models import create, load_model, top_k
from cinerec.models.index import VectorIndex
from tests.models.conformance import ModelConformance, random_ratings
from tests.models.test_ncf import FAST as NCF_FAST

ALS_TINY = {"factors": 2, "epochs": 10, "regularization": 0.1, "recency_half_life": 0.0}
MF_FAST = {"factors": 8, "epochs": 10, "lr": 0.02, "batch_size": 128, "progress": False, "device": "cpu", "threads": 1}


class TestALSWithHNSW(ModelConformance):
    model_name = "als"
    config = {**ALS_TINY, "index": "hnsw"}
    history_exact = False
    history_overlap = 0.8


class TestALSWithIVF(ModelConformance):
    model_name = "als"
    config = {**ALS_TINY, "index": "ivf"}
    history_exact = False
    history_overlap = 0.8


class TestGMFWithHNSW(ModelConformance):
    model_name = "gmf"
    config = {**NCF_FAST, "index": "hnsw"}


class TestBiasedMFWithIVF(ModelConformance):
    model_name = "biasedmf"
    config = {**MF_FAST, "index": "ivf"}
    rating_model = True
    atol = 1e-4


def low_rank(n_users: int = 3000, n_items: int = 2000, d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random user and movie vectors with a few dominant directions, like trained factors."""
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.arange(1, d + 1) ** 0.5
    users = rng.normal(size=(n_users, d)).astype(np.float32) * scale
    items = (rng.normal(size=(n_items, d)) * scale * rng.lognormal(0, 0.3, (n_items, 1))).astype(np.float32)
    return users, items


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found.tolist(), truth.tolist())]))


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_default_settings_recall_the_exact_top_10(kind):
    users, items = low_rank()
    truth, _ = top_k(users @ items.T, 10)
    found = VectorIndex(kind, items).search(users, 10)
    assert recall_at(found, truth) >= 0.95


def interactions_from(users: np.ndarray, items: np.ndarray, per_user: int, seed: int = 0) -> Interactions:
    """Each user's ``per_user`` sampled movies, drawn more often where the inner product is high."""
    rng = np.random.default_rng(seed)
    logits = users @ items.T
    keys = logits / logits.std() - np.log(-np.log(rng.random(logits.shape)))
    picks = np.argsort(-keys, axis=1)[:, :per_user]
    u = np.repeat(np.arange(len(users)), per_user)
    return Interactions(u, picks.ravel(), np.ones(len(u)), np.arange(len(u)), len(users), len(items))


@pytest.fixture(scope="module")
def low_rank_data() -> Interactions:
    users, items = low_rank(n_users=800, n_items=1200, d=8, seed=1)
    return interactions_from(users, items, 30)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_recommend_through_the_index_agrees_with_exact_search(kind, low_rank_data):
    x = low_rank_data
    exact = create("als", {"factors": 8, "recency_half_life": 0.0}).fit(x)
    indexed = create("als", {"factors": 8, "recency_half_life": 0.0, "index": kind}).fit(x)
    users = np.arange(x.n_users)
    want, want_scores = exact.recommend(users, 10)
    got, got_scores = indexed.recommend(users, 10)
    assert recall_at(got, want) >= 0.95
    assert not x.seen[np.repeat(users, 10), got.ravel()].any()
    # the scores given are the model's own, best first
    np.testing.assert_allclose(got_scores, exact.score(users, got), rtol=1e-5, atol=1e-5)
    assert (np.diff(got_scores, axis=1) <= 0).all()


@pytest.mark.parametrize("config, share", [
    ({"index": "ivf", "index_nprobe": 1000}, 1.0),  # every cell searched: exhaustive
    # A graph searched by inner product may leave a movie unreachable however wide
    # the search, so a very wide HNSW search is only nearly exhaustive.
    ({"index": "hnsw", "index_ef_search": 2000}, 0.999),
])
def test_an_exhaustive_search_gives_the_exact_answers(config, share, low_rank_data):
    x = low_rank_data
    exact = create("als", {"factors": 8, "recency_half_life": 0.0}).fit(x)
    indexed = create("als", {"factors": 8, "recency_half_life": 0.0, **config}).fit(x)
    users = np.arange(x.n_users)
    for exclude in ("train", None, x.seen[::-1].tocsr()):
        want, _ = exact.recommend(users, 7, exclude=exclude)
        got, _ = indexed.recommend(users, 7, exclude=exclude)
        assert (got == want).mean() >= share
    want, _ = exact.similar_items(np.arange(50), 6)
    got, _ = indexed.similar_items(np.arange(50), 6)
    assert (got == want).mean() >= share


def test_users_who_have_seen_most_movies_still_get_every_unseen_one():
    rng = np.random.default_rng(3)
    n_users, n_items = 60, 200
    counts = np.where(np.arange(n_users) < 5, 195, 10)  # five users leave only 5 movies unseen
    u = np.repeat(np.arange(n_users), counts)
    i = np.concatenate([rng.permutation(n_items)[:c] for c in counts])
    x = Interactions(u, i, np.ones(len(u)), np.arange(len(u)), n_users, n_items)
    model = create("als", {"factors": 4, "recency_half_life": 0.0, "index": "hnsw"}).fit(x)
    items, _ = model.recommend(np.arange(n_users), 10)
    for user in range(5):
        unseen = set(np.flatnonzero(~x.seen[user].toarray()[0].astype(bool)).tolist())
        assert set(items[user][:5].tolist()) == unseen and (items[user][5:] == -1).all()
    assert (items[5:] >= 0).all()
    rows = np.repeat(np.arange(n_users), 10)
    ok = items.ravel() >= 0
    assert not x.seen[rows[ok], items.ravel()[ok]].any()


def test_the_index_is_saved_and_read_back_not_rebuilt(tmp_path, low_rank_data):
    x = low_rank_data
    model = create("als", {"factors": 8, "recency_half_life": 0.0, "index": "hnsw"}).fit(x)
    users = np.arange(x.n_users)
    before = model.recommend(users, 10)[0]
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "index.npy").exists() and (tmp_path / "m" / "similar-index.npy").exists()
    loaded = load_model(tmp_path / "m")
    assert loaded._ann is not None  # read from the folder, before any search
    np.testing.assert_array_equal(loaded.recommend(users, 10)[0], before)
    (tmp_path / "m" / "index.npy").unlink()
    with pytest.raises(DataError, match="index.npy"):
        load_model(tmp_path / "m")


def test_a_saved_index_of_another_kind_size_or_cut_short_is_named_at_load(tmp_path, low_rank_data):
    # An IVF index copied over an HNSW model's loaded, and the first list was faiss's C++
    # error with a traceback; a file cut short was numpy's error naming no file.
    import shutil

    x = low_rank_data
    hnsw = create("als", {"factors": 8, "recency_half_life": 0.0, "index": "hnsw"}).fit(x)
    hnsw.save(tmp_path / "hnsw")
    ivf = create("als", {"factors": 8, "recency_half_life": 0.0, "index": "ivf", "index_nlist": 16}).fit(x)
    ivf.save(tmp_path / "ivf")
    wide = create("als", {"factors": 4, "recency_half_life": 0.0, "index": "hnsw"}).fit(x)
    wide.save(tmp_path / "wide")

    def damaged(name, source, file="index.npy", cut=False):
        shutil.copytree(tmp_path / "hnsw", tmp_path / name)
        if cut:
            data = (tmp_path / "hnsw" / file).read_bytes()
            (tmp_path / name / file).write_bytes(data[: len(data) // 3])
        else:
            shutil.copy(tmp_path / source / file, tmp_path / name / file)
        return tmp_path / name

    with pytest.raises(DataError, match=r"kind/index.npy: holds an index of kind 'ivf', the model's is 'hnsw'$"):
        load_model(damaged("kind", "ivf"))
    with pytest.raises(DataError, match=r"dims/similar-index.npy: the index holds vectors of 4 numbers, the "
                                        r"model's have 8$"):
        load_model(damaged("dims", "wide", "similar-index.npy"))
    with pytest.raises(DataError, match=r"cut/index.npy: saved model is damaged, this file cut short or "
                                        r"overwritten \("):
        load_model(damaged("cut", None, cut=True))
    assert load_model(tmp_path / "hnsw")._ann is not None


def test_exact_setting_builds_no_index_and_keeps_todays_answers(tmp_path):
    x = random_ratings()
    plain = create("als", ALS_TINY).fit(x)
    plain.save(tmp_path / "m")
    assert not (tmp_path / "m" / "index.npy").exists()
    assert plain._ann is None


@pytest.mark.parametrize("model, config, message", [
    ("neumf", {"index": "hnsw"}, "neumf: index = 'hnsw' needs user and movie vectors"),
    ("mlp", {"index": "ivf"}, "mlp: index = 'ivf'"),
    ("als", {"index": "annoy"}, 'index = "annoy"'),
    ("als", {"index": "ivf", "index_nprobe": -1}, "index_nprobe"),
    ("ease", {"index": "hnsw"}, "unknown key 'index'"),
])
def test_an_index_a_model_cannot_use_is_refused_by_name(model, config, message):
    with pytest.raises(ConfigError, match=message):
        create(model, config)


@pytest.mark.parametrize("config, message", [
    ({"index_nprobe": 8}, r"index_nprobe = 8: only an index = 'ivf' uses it \(index is 'exact'\)"),
    ({"index": "hnsw", "index_nlist": 20}, r"index_nlist = 20: only an index = 'ivf' uses it \(index is 'hnsw'\)"),
    ({"index": "ivf", "index_ef_search": 500}, r"index_ef_search = 500: only an index = 'hnsw' uses it"),
    ({"index": "ivf", "index_hnsw_m": 8}, r"index_hnsw_m = 8: only an index = 'hnsw' uses it"),
])
def test_a_setting_of_another_index_kind_is_refused_not_ignored(config, message):
    # Such a setting changed nothing, so a user tuning recall by hand saw no effect.
    with pytest.raises(ConfigError, match=message):
        create("als", config)


def test_with_index_leaves_the_settings_of_the_kind_it_replaces(low_rank_data):
    ivf = create("als", {"factors": 8, "recency_half_life": 0.0, "index": "ivf", "index_nprobe": 4})
    hnsw = ivf.fit(low_rank_data).with_index("hnsw", index_ef_search=300)
    assert (hnsw.config.index, hnsw.config.index_nprobe, hnsw.config.index_ef_search) == ("hnsw", 0, 300)


def test_the_cli_refuses_an_index_kind_in_one_line(capsys, ml100k_dir):
    code = main(["evaluate", "--data", str(ml100k_dir), "--model", "neumf", "--protocol", "loo-full",
                 "--set", "index=hnsw"])
    out, err = capsys.readouterr()
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "index = 'hnsw'" in err


def test_with_index_answers_like_a_model_fitted_with_that_index(low_rank_data):
    x = low_rank_data
    exact = create("als", {"factors": 8, "recency_half_life": 0.0}).fit(x)
    fitted = create("als", {"factors": 8, "recency_half_life": 0.0, "index": "ivf", "index_nprobe": 4}).fit(x)
    copy = exact.with_index("ivf", index_nprobe=4)
    users = np.arange(x.n_users)
    np.testing.assert_array_equal(copy.recommend(users, 10)[0], fitted.recommend(users, 10)[0])
    assert exact.config.index == "exact" and exact._ann is None
    with pytest.raises(ConfigError, match="'nprobe' is not an index setting"):
        exact.with_index("ivf", nprobe=4)
    with pytest.raises(ConfigError, match="mlp: index = 'hnsw'"):
        create("mlp", NCF_FAST).with_index("hnsw")


def test_more_ivf_cells_than_the_movies_can_train_is_refused_not_cut_silently():
    keys = np.random.default_rng(0).normal(size=(400, 8)).astype(np.float32)
    assert VectorIndex("ivf", keys, nlist=10).index.nlist == 10  # 400 movies train at most 10 cells
    with pytest.raises(ConfigError, match=r"index_nlist = 11: at most 10 IVF cells for 400 movies"):
        VectorIndex("ivf", keys, nlist=11)


def test_too_many_ivf_cells_are_refused_before_fitting_whatever_the_protocol(ml100k_dir, capsys):
    # loo-sampled never builds the index: evaluate reported figures for a setting that
    # train refused only after fitting, and serving could never use.
    from cinerec.cli import main

    code = main(["evaluate", "--data", str(ml100k_dir), "--model", "als", "--set", 'index="ivf"',
                 "--set", "index_nlist=100000", "--quiet"])
    assert code == 2 and "index_nlist = 100000: at most 43 IVF cells for 1,682 movies" in capsys.readouterr().err


def test_an_approximate_index_is_measured_by_the_lists_it_serves(ml100k_dir, capsys):
    # MRR read the exact scores while HR read the index's lists: a poor index lost HR and
    # kept the exact MRR to the last digit, and nothing said the lists were approximate.
    from cinerec.data import load
    from cinerec.evaluation.protocols import approximate_lists, get_protocol

    protocol = get_protocol("loo-full")
    prepared = protocol.prepare(load(ml100k_dir), seed=0)
    exact = create("als", {"factors": 16, "epochs": 5}).fit(prepared.train)
    poor = exact.with_index("ivf", index_nlist=40, index_nprobe=1)
    a, b = protocol.measure(prepared, exact, per_user=True), protocol.measure(prepared, poor, per_user=True)
    assert b["hr@10"].mean() < a["hr@10"].mean() and b["mrr"].mean() < a["mrr"].mean()
    # A movie within a list takes its place there; the others keep their exact rank, beyond the list.
    ranked, _ = poor.recommend(prepared.users, 10, exclude=prepared.excluded)
    listed = (ranked == prepared.truth[:, None]).any(axis=1)
    place = (ranked == prepared.truth[:, None]).argmax(axis=1) + 1
    np.testing.assert_allclose(b["mrr"][listed], 1.0 / place[listed])
    assert (b["mrr"][~listed] <= 1 / 11).all()
    assert approximate_lists(prepared, exact) == []
    assert "approximate ivf index" in approximate_lists(prepared, poor)[0]
    assert approximate_lists(get_protocol("loo-sampled").prepare(load(ml100k_dir), seed=0), poor) == []
    code = main(["evaluate", "--data", str(ml100k_dir), "--model", "als", "--set", 'index="ivf"',
                 "--set", "index_nprobe=1", "--set", "index_nlist=40", "--protocol", "loo-full", "--set", "epochs=3"])
    assert code == 0 and "note: als: its lists come from an approximate ivf index" in capsys.readouterr().out
    # The same index behind a two-stage model's retriever changes its figures as much: said too.
    for kind, more in (("ivf", {"index_nlist": 40, "index_nprobe": 1}), ("exact", {})):
        two = create("two-stage", {"retriever": "als", "ranker": "popularity", "candidates": 30,
                                   "retriever_settings": {"index": kind, "factors": 8, "epochs": 2, **more}})
        said = approximate_lists(prepared, two.fit(prepared.train))
        assert said == ([] if kind == "exact" else [
            "two-stage: its retriever (als) shortlists through an approximate ivf index, and these figures measure the "
            "lists as served; retriever_settings.index = 'exact' gives exact shortlists"])
    # Lists the index never searches (each, with the movies it skips, past a quarter of the
    # catalogue: scored exactly) are exact figures, and were said to be approximate.
    from cinerec.data.filters import apply_filters

    few = protocol.prepare(apply_filters(load(ml100k_dir), {"top_movies": 40})[0], seed=0)
    index = create("als", {"factors": 8, "epochs": 2, "index": "hnsw"}).fit(few.train)
    assert approximate_lists(few, index) == []
    whole = create("two-stage", {"retriever": "als", "ranker": "popularity", "candidates": 5000,
                                 "retriever_settings": {"index": "hnsw", "factors": 8, "epochs": 2}})
    assert approximate_lists(prepared, whole.fit(prepared.train)) == []
    random = get_protocol("random-full").prepare(load(ml100k_dir), seed=0)  # (it ranks without skipping too)
    assert "approximate ivf index" in approximate_lists(random, poor.with_index("ivf", index_nlist=40))[0]


def test_known_peoples_lists_similar_movies_and_stores_from_an_approximate_index_say_so(ml100k_dir, tmp_path, capsys):
    # Only the loo-full figures said so: an IVF store on a 10,000-movie catalogue held 15% of
    # lists that differed from exact scoring's, with notes: []. Someone new's lists, scored
    # exactly, and figures scored exactly (loo-sampled) say nothing of it.
    import json

    from cinerec.runs import open_run

    run = tmp_path / "run"
    assert main(["train", "--data", str(ml100k_dir), "--model", "als", "--set", 'index="ivf"', "--set", "epochs=2",
                 "--out", str(run), "-q"]) == 0
    said = ("model 'als' lists through an approximate ivf index, which may leave out a movie exact scoring would "
            "list (index = 'exact' scores every movie)")
    assert "approximate" not in capsys.readouterr().out  # (loo-sampled scores its candidates exactly)
    alike = said.replace("lists through", "finds similar movies through")
    for command, line in ((["recommend", "--run", str(run), "--user", "5"], said),
                          (["similar", "--run", str(run), "--movie", "50"], alike),
                          (["export", "--run", str(run), "--db", str(tmp_path / "s.sqlite"), "-k", "10"], said)):
        assert main([*command, "--json", "-q"]) == 0
        assert line in json.loads(capsys.readouterr().out)["notes"], command
    # Lists longer than a quarter of the catalogue (1,682 movies) are scored exactly: nothing said.
    for command in (["recommend", "--run", str(run), "--user", "5", "-k", "421"],
                    ["similar", "--run", str(run), "--movie", "50", "-k", "420"],
                    ["export", "--run", str(run), "--db", str(tmp_path / "s.sqlite"), "-k", "421"]):
        assert main([*command, "--json", "-q"]) == 0
        assert not [n for n in json.loads(capsys.readouterr().out)["notes"] if "approximate" in n], command
    opened = open_run(run)
    assert said in opened.top_n([5], 3).attrs["notes"] and alike in opened.similar(50, 3).attrs["notes"]
    # A movie the model was trained on no rating of has a zero vector: its similar movies,
    # none, were said to come through the index, which it does not search.
    unrated = np.flatnonzero(opened.model()._train().item_counts == 0)
    assert len(unrated)
    movie = str(opened.dataset.item_ids.raw_id(int(unrated[0])))
    assert main(["similar", "--run", str(run), "--movie", movie, "--json", "-q"]) == 0
    assert not [n for n in json.loads(capsys.readouterr().out)["notes"] if "approximate" in n]
    # So a person of a zero vector: their list is scored exactly, and says nothing of the index.
    model = opened.model()
    model.query_vectors = lambda users: np.zeros((len(users), 2), np.float32)
    assert not [n for n in opened.top_n([5], 3).attrs["notes"] if "approximate" in n]
    del model.query_vectors
    assert not [n for n in opened.top_n([5], 421).attrs["notes"] if "approximate" in n]
    # User 5 rated 175 movies, and 36 movies are films of two ids, for which a list of k asks
    # the model for k + 36: a list of 210 and those is past a quarter of the catalogue; so
    # are the 384 movies like a movie and the 36.
    assert said in opened.top_n([5], 209).attrs["notes"] and not \
        [n for n in opened.top_n([5], 210).attrs["notes"] if "approximate" in n]
    assert alike in opened.similar(50, 383).attrs["notes"] and not \
        [n for n in opened.similar(50, 384).attrs["notes"] if "approximate" in n]
    # The API says it beside a known person's list too, as recommend --json does.
    from fastapi.testclient import TestClient

    from cinerec.serving.api import create_app

    with TestClient(create_app(run)) as c:
        assert said in c.get("/users/5/recommendations", params={"k": 3}).json()["notes"]
        assert not c.post("/recommendations", json={"liked": [50, 181]}).json()["notes"]
    # A list from a store whose lists were all scored exactly (421 long) says nothing of it.
    with TestClient(create_app(run, db=tmp_path / "s.sqlite")) as c:
        got = c.get("/users/5/recommendations", params={"k": 3}).json()
        assert got["source"] == "store" and not [n for n in got["notes"] if "approximate" in n], got
    assert main(["recommend", "--run", str(run), "--liked", "50,181", "--json", "-q"]) == 0
    assert not [n for n in json.loads(capsys.readouterr().out)["notes"] if "approximate" in n]
    assert not [n for n in opened.recommend_for(liked=[50, 181]).attrs["notes"] if "approximate" in n]
    # An ensemble's lists do not go through its member's index, its similar movies do.
    ens = tmp_path / "ens"
    assert main(["train", "--data", str(ml100k_dir), "--model", "ensemble", "--set", 'members=["als", "popularity"]',
                 "--set", 'settings={als={index="ivf", epochs=2}}', "--out", str(ens), "-q"]) == 0
    capsys.readouterr()
    assert main(["recommend", "--run", str(ens), "--user", "5", "--json", "-q"]) == 0
    assert not [n for n in json.loads(capsys.readouterr().out)["notes"] if "approximate" in n]
    member = ("model 'ensemble' finds similar movies through its member als's approximate ivf index, which may leave "
              "out a movie exact scoring would list (settings.als.index = 'exact' scores every movie)")
    assert main(["similar", "--run", str(ens), "--movie", "50", "--json", "-q"]) == 0
    assert member in json.loads(capsys.readouterr().out)["notes"]
    assert member in open_run(ens).similar(50, 3).attrs["notes"]
    # A two-stage model whose retriever shortlists through one says so, naming the key to change.
    two = tmp_path / "two"
    assert main(["train", "--data", str(ml100k_dir), "--model", "two-stage", "--set", 'retriever="als"',
                 "--set", 'ranker="baseline"', "--set", 'retriever_settings={index="hnsw", epochs=2}',
                 "--out", str(two), "-q"]) == 0
    capsys.readouterr()
    assert main(["recommend", "--run", str(two), "--user", "5", "--json", "-q"]) == 0
    assert ("model 'two-stage' shortlists through its retriever's approximate hnsw index, which may leave out a movie "
            "exact scoring would list (retriever_settings.index = 'exact' scores every movie)"
            in json.loads(capsys.readouterr().out)["notes"])
    # A shortlist of the whole catalogue searches no index.
    assert main(["train", "--data", str(ml100k_dir), "--model", "two-stage", "--set", 'retriever="als"',
                 "--set", 'ranker="baseline"', "--set", 'retriever_settings={index="hnsw", epochs=2}',
                 "--set", "candidates=2000", "--out", str(tmp_path / "whole"), "-q"]) == 0
    capsys.readouterr()
    assert main(["recommend", "--run", str(tmp_path / "whole"), "--user", "5", "--json", "-q"]) == 0
    assert not [n for n in json.loads(capsys.readouterr().out)["notes"] if "approximate" in n]


def test_a_studys_lists_from_an_index_name_its_model_as_the_study_does(ml100k_dir, tmp_path):
    # Run.top_n said "model 'als'" where recommend, similar and export said 'als-ivf'.
    from cinerec.runs import open_run

    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\n[protocol]\nname = "loo-sampled"\nseeds = [0]\n'
                     '[models.als-ivf]\nmodel = "als"\nindex = "ivf"\nepochs = 2\n')
    assert main(["run", str(study), "--out", str(tmp_path / "run"), "-q"]) == 0
    notes = open_run(tmp_path / "run").top_n([5], 3).attrs["notes"]
    assert [n for n in notes if n.startswith("model 'als-ivf' lists through an approximate ivf index")], notes


@pytest.mark.parametrize("index", ["exact", "hnsw"])
def test_a_cosine_of_nearly_alike_movies_is_never_above_one(index, monkeypatch):
    # Movie vectors all but alike (a fit that collapsed them): float32 rounding in the
    # cosine gave 1.0000001, past the range a similarity is read in.
    x = random_ratings(n_users=40, n_items=300, seed=1)
    model = create("als", {**ALS_TINY, "factors": 64, "index": index}).fit(x)
    rng = np.random.default_rng(0)
    alike = (rng.normal(size=(1, 64)) + rng.normal(size=(300, 64)) * 1e-4).astype(np.float32)
    monkeypatch.setattr(model, "item_vectors", lambda: alike)
    _, sims = model.similar_items(np.arange(300), 20)
    assert np.isfinite(sims).all() and sims.max() <= 1.0 and sims.min() >= -1.0
    assert model.item_similarity(np.arange(300)).max() <= 1.0


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
def test_zero_vectors_take_the_exact_path_whose_ties_go_to_the_lower_movie(index, monkeypatch):
    # A movie no training rating reached has a zero vector: every movie is as like it as
    # any other, and the index handed back any ten of them, not the lowest ten as the exact
    # path gives. A user of a zero vector (no training rating) likewise.
    x = random_ratings(n_users=60, n_items=400, seed=2)
    model = create("als", {**ALS_TINY, "factors": 8, "index": index}).fit(x)
    exact = model.with_index("exact")
    vec = np.asarray(model.similarity_vectors()).copy()
    vec[[7, 200]] = 0.0
    monkeypatch.setattr(model, "similarity_vectors", lambda: vec)
    monkeypatch.setattr(exact, "similarity_vectors", lambda: vec)
    got, _ = model.similar_items([7, 200], 10)
    want, _ = exact.similar_items([7, 200], 10)
    np.testing.assert_array_equal(got, want)
    assert got[0].tolist() == [m for m in range(11) if m != 7]
    queries = np.asarray(model.query_vectors(np.arange(x.n_users))).copy()
    queries[3] = 0.0
    monkeypatch.setattr(model, "query_vectors", lambda users: queries[np.asarray(users)])
    monkeypatch.setattr(exact, "query_vectors", lambda users: queries[np.asarray(users)])
    monkeypatch.setattr(model, "_score_rows", lambda users: queries[np.asarray(users)] @ model.key_vectors().T)
    got, _ = model.recommend(np.array([3]), 10)
    assert got[0].tolist() == [m for m in range(x.n_items) if not x.seen[3, m]][:10]


def test_a_catalogue_too_small_for_a_full_ivf_cell_builds_without_faiss_chatter(capfd):
    # faiss printed "WARNING clustering 5 points to 1 centroids: please provide at least 39
    # training points" on stderr, raw, at every build and load of such a model.
    keys = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    index = VectorIndex("ivf", keys)
    assert sorted(index.search(keys[:1], 5)[0].tolist()) == [0, 1, 2, 3, 4]
    assert "WARNING" not in capfd.readouterr().err

"""The two-stage model: a retriever's shortlist ranked by a ranker."""

import json

import numpy as np
import pytest

from cinerec.cli import main
from cinerec.errors import ConfigError, DataError
from cinerec.models import create, load_model
from cinerec.models.two_stage import TwoStage, TwoStageConfig
from tests.models.conformance import ModelConformance, random_ratings
from tests.models.test_ncf import FAST as NCF_FAST

ALS_TINY = {"factors": 4, "epochs": 10, "regularization": 0.1, "recency_half_life": 0.0}
GMF_TINY = {**NCF_FAST, "epochs": 10}

# 60 movies in the conformance data: a shortlist of 60 lets every unseen movie through,
# as the shared contract expects; the tests below use real shortlists.
CONFORMANCE = {"retriever": "als", "ranker": "gmf", "candidates": 60,
               "retriever_settings": ALS_TINY, "ranker_settings": GMF_TINY}


class TestTwoStage(ModelConformance):
    model_name = "two-stage"
    config = CONFORMANCE
    # A new person is shortlisted and ordered by ALS (GMF cannot score a history),
    # a training user by GMF: their top-10 lists only partly agree.
    history_exact = False
    history_overlap = 0.3


class TestTwoStageWithAHistoryRanker(ModelConformance):
    """EASE retrieves, the bias model ranks: both score a history, so cold start is exact."""

    model_name = "two-stage"
    # EASE without recency weighting: a bare history then scores exactly as its training user.
    config = {"retriever": "ease", "ranker": "baseline", "candidates": 60,
              "retriever_settings": {"regularization": 10.0, "recency_half_life": 0.0}}
    personalised = False  # the bias model ranks every user alike (planted groups need a personal ranker)


@pytest.fixture(scope="module")
def data():
    return random_ratings(n_users=80, n_items=120, seed=4)


@pytest.fixture(scope="module")
def stages(data):
    return create("als", ALS_TINY).fit(data), create("gmf", GMF_TINY).fit(data)


def test_more_candidates_than_movies_shortlists_the_catalogue_without_padding(data, stages):
    retriever, ranker = stages
    asked = []
    score = ranker.score
    ranker.score = lambda users, items: asked.append(np.shape(items)) or score(users, items)
    try:
        model = TwoStage(TwoStageConfig(retriever="als", ranker="gmf", candidates=10**7, mix=1.0),
                         retriever=retriever, ranker=ranker).fit(data)
        items, _ = model.recommend(np.arange(5), 10)
    finally:
        del ranker.score
    assert asked and all(shape[1] <= data.n_items for shape in asked)
    assert (items >= 0).all()


def test_mix_1_is_the_rankers_top_k_of_the_retrievers_shortlist(data, stages):
    retriever, ranker = stages
    model = TwoStage(TwoStageConfig(retriever="als", ranker="gmf", candidates=15, mix=1.0),
                     retriever=retriever, ranker=ranker).fit(data)
    assert model.retriever is retriever and model.ranker is ranker  # given fitted: not refitted
    users = np.arange(data.n_users)
    items, scores = model.recommend(users, 5)
    shortlist, _ = retriever.recommend(users, 15)
    for u in users:
        cand = np.sort(shortlist[u])
        s = ranker.score(np.full(len(cand), u), cand)
        want = cand[np.lexsort((cand, -s))][:5]  # best first, ties to the lower movie
        np.testing.assert_array_equal(items[u], want)
        np.testing.assert_allclose(scores[u], np.sort(s)[::-1][:5], rtol=1e-5)
    # the rows agree with the lists: -inf outside each shortlist
    rows = model.score(users)
    assert (np.isfinite(rows).sum(axis=1) == 15).all()
    assert not data.seen[np.repeat(users, 5), items.ravel()].any()


def test_exclusion_reaches_the_retriever(data, stages):
    retriever, ranker = stages
    model = TwoStage(TwoStageConfig(retriever="als", ranker="gmf", candidates=10),
                     retriever=retriever, ranker=ranker).fit(data)
    users = np.arange(data.n_users)
    items, _ = model.recommend(users, 10, exclude=None)
    unfiltered, _ = retriever.recommend(users, 10, exclude=None)
    # a shortlist as long as the list: the same movies, in the ranker's order
    assert all(set(a) == set(b) for a, b in zip(items.tolist(), unfiltered.tolist()))


def test_stages_fitted_by_the_model_match_stages_fitted_alone(data, stages):
    retriever, ranker = stages
    cfg = {"retriever": "als", "ranker": "gmf", "candidates": 20,
           "retriever_settings": ALS_TINY, "ranker_settings": GMF_TINY}
    fitted_here = create("two-stage", cfg).fit(data)
    given = TwoStage(TwoStageConfig.from_dict(cfg), retriever=retriever, ranker=ranker).fit(data)
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(fitted_here.recommend(users, 10)[0], given.recommend(users, 10)[0])


def test_stages_from_saved_folders(data, stages, tmp_path):
    retriever, ranker = stages
    retriever.save(tmp_path / "als")
    ranker.save(tmp_path / "gmf")
    model = create("two-stage", {"retriever": "als", "ranker": "gmf", "candidates": 20,
                                 "retriever_path": str(tmp_path / "als"), "ranker_path": str(tmp_path / "gmf")})
    model.fit(data)
    direct = TwoStage(TwoStageConfig(retriever="als", ranker="gmf", candidates=20), retriever=retriever, ranker=ranker).fit(data)
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(model.recommend(users, 10)[0], direct.recommend(users, 10)[0])
    model.save(tmp_path / "two")
    again = load_model(tmp_path / "two")
    np.testing.assert_array_equal(again.recommend(users, 10)[0], direct.recommend(users, 10)[0])
    wrong = create("two-stage", {"retriever": "ease", "ranker": "gmf", "retriever_path": str(tmp_path / "als"),
                                 "ranker_path": str(tmp_path / "gmf")})
    with pytest.raises(ConfigError, match="holds a 'als' model"):
        wrong.fit(data)
    other = random_ratings(n_users=81, n_items=120, seed=4)
    with pytest.raises(DataError, match="81"):
        create("two-stage", {"retriever": "als", "ranker": "gmf", "retriever_path": str(tmp_path / "als"),
                             "ranker_path": str(tmp_path / "gmf")}).fit(other)


def test_an_indexed_retriever(data):
    model = create("two-stage", {"retriever": "als", "ranker": "gmf", "candidates": 30,
                                 "retriever_settings": {**ALS_TINY, "index": "hnsw", "index_ef_search": 500},
                                 "ranker_settings": GMF_TINY}).fit(data)
    exact = create("two-stage", {"retriever": "als", "ranker": "gmf", "candidates": 30,
                                 "retriever_settings": ALS_TINY, "ranker_settings": GMF_TINY}).fit(data)
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(model.recommend(users, 10)[0], exact.recommend(users, 10)[0])


def test_cold_start_ranks_the_retrievers_shortlist(data, stages):
    retriever, ranker = stages
    model = TwoStage(TwoStageConfig(retriever="als", ranker="gmf", candidates=12),
                     retriever=retriever, ranker=ranker).fit(data)
    history = data.csr[[3, 9]]
    got = model.score_history(history)
    first = retriever.score_history(history)
    for r in range(2):
        shown = np.flatnonzero(np.isfinite(got[r]))
        assert len(shown) == 12 and not history[r].toarray()[0][shown].any()
        # GMF cannot score a history: the shortlist keeps the retriever's scores
        np.testing.assert_allclose(got[r][shown], first[r][shown], rtol=1e-5)
        unseen = np.flatnonzero(history[r].toarray()[0] == 0)
        assert set(shown) == set(unseen[np.argsort(-first[r][unseen], kind="stable")][:12])


def test_mix_0_keeps_the_retrievers_order(data, stages):
    retriever, ranker = stages
    model = TwoStage(TwoStageConfig(retriever="als", ranker="gmf", candidates=15, mix=0.0),
                     retriever=retriever, ranker=ranker).fit(data)
    users = np.arange(data.n_users)
    items, scores = model.recommend(users, 10)
    want_items, want_scores = retriever.recommend(users, 10)
    np.testing.assert_array_equal(items, want_items)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-6)
    rows, first = model.score(users), retriever.score(users)
    shortlist, _ = retriever.recommend(users, 15)
    for u in users:
        assert set(np.flatnonzero(np.isfinite(rows[u]))) == set(shortlist[u])
        np.testing.assert_allclose(rows[u][shortlist[u]], first[u][shortlist[u]], rtol=1e-6)


def _z(s):
    return (s - s.mean()) / s.std()


def test_a_mix_between_weighs_standardised_scores(data, stages):
    retriever, ranker = stages
    model = TwoStage(TwoStageConfig(retriever="als", ranker="gmf", candidates=15, mix=0.3),
                     retriever=retriever, ranker=ranker).fit(data)
    users = np.arange(data.n_users)
    items, scores = model.recommend(users, 5)
    rows = model.score(users)
    shortlist, first = retriever.recommend(users, 15)
    for u in users:
        cand = shortlist[u]
        combined = 0.3 * _z(ranker.score(np.full(15, u), cand).astype(np.float64)) + 0.7 * _z(first[u].astype(np.float64))
        want = cand[np.lexsort((cand, -combined))][:5]
        np.testing.assert_array_equal(items[u], want)
        np.testing.assert_allclose(rows[u][cand], combined, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scores, np.take_along_axis(rows, items, axis=1))


def test_cold_start_combines_with_the_same_weight():
    data = random_ratings(n_users=80, n_items=120, seed=4)
    model = create("two-stage", {"retriever": "ease", "ranker": "baseline", "candidates": 20, "mix": 0.4,
                                 "retriever_settings": {"regularization": 10.0, "recency_half_life": 0.0}}).fit(data)
    users = np.arange(data.n_users)
    # both stages score a history exactly as they score a training user
    np.testing.assert_allclose(model.score_history(data.csr[users]), model.score(users), rtol=1e-4, atol=1e-5)
    plain = create("two-stage", {"retriever": "ease", "ranker": "baseline", "candidates": 20, "mix": 1.0,
                                 "retriever_settings": {"regularization": 10.0, "recency_half_life": 0.0}}).fit(data)
    assert not np.array_equal(np.argsort(-model.score(users), axis=1)[:, :5], np.argsort(-plain.score(users), axis=1)[:, :5])


def test_auto_chooses_from_the_grid_on_the_training_data_alone(data, stages):
    from cinerec.data.split import leave_last_out
    from cinerec.evaluation.metrics import hit_rate
    from cinerec.evaluation.metrics import mrr as reciprocal_rank
    from cinerec.models.two_stage import MIX_GRID

    split = leave_last_out(data)  # the test rows are held out here and never handed to fit
    retriever, ranker = create("als", ALS_TINY).fit(split.train), create("gmf", GMF_TINY).fit(split.train)
    model = TwoStage(TwoStageConfig(retriever="als", ranker="gmf", candidates=15),
                     retriever=retriever, ranker=ranker).fit(split.train)
    assert model.retriever is retriever and model.ranker is ranker  # given: used as they are
    search = model.mix_search
    assert search["grid"] == list(MIX_GRID) and search["chosen"] in MIX_GRID
    assert model.config.mix == model.mix_ == search["chosen"]
    # The same figures by hand: each user's latest *training* rating held out, fresh
    # stages of the same settings fitted on the rest, every weight's HR@10 on it.
    carve = leave_last_out(split.train)
    users = np.sort(carve.test.users)
    assert search["users"] == len(users) == len(split.test)  # every user here has 3+ ratings
    truth = carve.test.items[np.argsort(carve.test.users)]
    assert not np.array_equal(truth, split.test.items[np.argsort(split.test.users)])
    fresh = create("als", ALS_TINY).fit(carve.train), create("gmf", GMF_TINY).fit(carve.train)
    hr, mrr = [], []
    for w in MIX_GRID:
        two = TwoStage(TwoStageConfig(retriever="als", ranker="gmf", candidates=15, mix=w),
                       retriever=fresh[0], ranker=fresh[1]).fit(carve.train)
        ranked = two.recommend(users, 15)[0]  # the whole shortlist
        hr.append(hit_rate(ranked, truth, 10))
        mrr.append(reciprocal_rank(ranked, truth))
    np.testing.assert_allclose(search["hr@10"], hr)
    np.testing.assert_allclose(search["mrr"], mrr)
    # the best HR@10; ties to the better MRR, then to the lower weight
    assert search["chosen"] == min(zip(-np.asarray(hr), -np.asarray(mrr), MIX_GRID))[2]
    # fitting again chooses again (the number chosen does not become the request)
    again = model.fit(data)
    assert again.mix_search and again.mix_search["users"] == int((data.user_counts >= 2).sum())


def test_a_second_fit_refits_the_stages_it_fitted(data):
    model = create("two-stage", {**CONFORMANCE, "candidates": 15, "mix": 0.5})
    first = model.fit(data).retriever
    model.fit(random_ratings(n_users=80, n_items=120, seed=5))
    assert model.retriever is not first


def test_auto_needs_a_rating_to_hold_out():
    from cinerec.data.dataset import Interactions

    one_each = Interactions(np.arange(10), np.arange(10), np.ones(10), np.arange(10), 10, 12)
    with pytest.raises(DataError, match="set mix to a number"):
        create("two-stage", {"retriever": "popularity", "ranker": "baseline", "candidates": 5}).fit(one_each)


def test_the_chosen_weight_is_saved_and_loaded(data, tmp_path):
    import json

    model = create("two-stage", {**CONFORMANCE, "candidates": 15}).fit(data)
    model.save(tmp_path / "two")
    assert json.loads((tmp_path / "two" / "model.json").read_text())["config"]["mix"] == model.mix_
    again = load_model(tmp_path / "two")
    assert again.config == model.config and again.mix_ == model.mix_ and again.mix_search == model.mix_search
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(again.recommend(users, 10)[0], model.recommend(users, 10)[0])
    np.testing.assert_array_equal(again.score(users), model.score(users))
    # Fitted again, it chooses again, as the model saved would (it kept the first data's weight).
    assert again.fit(data).mix_search["chosen"] == model.mix_search["chosen"]
    fixed = create("two-stage", {**CONFORMANCE, "candidates": 15, "mix": 0.5}).fit(data)
    fixed.save(tmp_path / "fixed")
    assert load_model(tmp_path / "fixed").fit(data).mix_search == {}


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="ranker = 'ease': it cannot score"):
        create("two-stage", {"retriever": "als", "ranker": "ease"})
    with pytest.raises(ConfigError, match="candidates"):
        create("two-stage", {"candidates": 0})
    with pytest.raises(ConfigError, match="retriever = 'nope'"):
        create("two-stage", {"retriever": "nope"})
    with pytest.raises(ConfigError, match="cannot hold another"):
        create("two-stage", {"retriever": "two-stage"})
    with pytest.raises(ConfigError, match="retriever_settings.*no_such_key"):
        create("two-stage", {"retriever_settings": {"no_such_key": 1}})
    with pytest.raises(ConfigError, match="neumf: index = 'ivf'"):
        create("two-stage", {"ranker_settings": {"index": "ivf"}})
    for bad in (1.5, -0.1, "best"):
        with pytest.raises(ConfigError, match=r"config: mix = .*: must be a number from 0 .* or \"auto\""):
            create("two-stage", {"mix": bad})
    with pytest.raises(ConfigError, match="mix = nan: expected a finite number"):
        create("two-stage", {"mix": float("nan")})
    with pytest.raises(ConfigError, match="mix = true: expected a number or a string"):
        create("two-stage", {"mix": True})


def test_a_list_longer_than_the_shortlist_is_refused(data, stages):
    retriever, ranker = stages
    model = TwoStage(TwoStageConfig(retriever="als", ranker="gmf", candidates=8),
                     retriever=retriever, ranker=ranker).fit(data)
    with pytest.raises(ConfigError, match="k = 10 is more than candidates = 8"):
        model.recommend([0], 10)
    # The notebook's top-N refuses it for an empty list of people too (it said nothing).
    from cinerec.data.dataset import Catalog, Dataset, IdMap
    from cinerec.serving.lists import Lists

    ds = Dataset("x", data, IdMap(np.arange(data.n_users), "user"), IdMap(np.arange(data.n_items), "movie"),
                 Catalog.unknown(data.n_items))
    for users in ([], [0]):
        with pytest.raises(ConfigError, match="k = 10 is more than candidates = 8"):
            Lists(ds, model).frame(users, 10)
    # An export's lists asked longer than the catalogue are cut to it first ("-k 50: k = 8"):
    # the k said is named as that.
    with pytest.raises(ConfigError, match=rf"k = {data.n_items} \(every movie of the catalogue\) is more than "):
        model.check_list_length(data.n_items)


@pytest.mark.parametrize("settings, message", [
    (["ranker=ease"], "ranker = 'ease': it cannot score"),
    (["candidates=5", "retriever=popularity", "ranker=popularity"], "k = 10 is more than candidates = 5"),
    (["mix=best"], '--set: mix = "best": must be a number from 0'),
    # an index the stage's model cannot use: which stage's settings (both may be the same model)
    (["retriever=neumf", "ranker=neumf", "ranker_settings.index='hnsw'"], "--set: ranker_settings: neumf: index = 'hnsw'"),
    (["retriever=mlp", "retriever_settings.index='ivf'"], "--set: retriever_settings: mlp: index = 'ivf'"),
])
def test_the_cli_names_the_mistake_in_one_line(capsys, ml100k_dir, settings, message):
    argv = ["evaluate", "--data", str(ml100k_dir), "--model", "two-stage", "--protocol", "loo-full"]
    for s in settings:
        argv += ["--set", s]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    errors = [line for line in err.splitlines() if "error" in line]  # progress lines may come first
    assert len(errors) == 1 and message in errors[0]


@pytest.mark.parametrize("protocol, candidates, mix, said", [
    ("loo-sampled", 200, 1, "these are its ranker's figures alone"), ("loo-sampled", 50, 1, None),
    ("loo-full", 200, 1, None),
    # mixed, the retriever's scores count: they were called the ranker's figures alone
    ("loo-sampled", 200, 0.5, "these figures rank them by the two stages' scores mixed (mix = 0.5), none left out"),
    ("loo-sampled", 200, 0, "these are its retriever's figures alone (mix = 0)")])
def test_a_shortlist_holding_every_sampled_candidate_is_said_to_retrieve_nothing(capsys, ml100k_dir, protocol,
                                                                                   candidates, mix, said):
    # Under loo-sampled its 200 movies held each person's 100 candidates: the figure was
    # the ranker's alone, under the two-stage model's name, without a word.
    argv = ["evaluate", "--data", str(ml100k_dir), "--model", "two-stage", "--protocol", protocol, "--quiet",
            "--set", "retriever='popularity'", "--set", "ranker='popularity'", "--set", f"candidates={candidates}",
            "--set", f"mix={mix}"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    line = ("note: two-stage: each person's 100 candidates all fit in its shortlist of 200 movies, so its retriever "
            f"leaves none out and {said} (loo-full measures the retrieval)")
    said = said is not None
    assert (line in out) == said
    # and in --json beside the figures (it was printed under the table alone)
    assert main(argv + ["--json"]) == 0
    notes = json.loads(capsys.readouterr().out).get("notes", [])
    assert (line.removeprefix("note: ") in notes) == said


def test_exported_and_served_like_any_model(tmp_path, ml100k_dir):
    """A run holding a two-stage model and an indexed ALS: export, known users, new people, similar movies."""
    from fastapi.testclient import TestClient

    from cinerec.data import load
    from cinerec.runs import finish_run, save_dataset, save_model
    from cinerec.serving.api import create_app
    from cinerec.serving.store import export_store

    dataset = load(ml100k_dir)
    run_dir = tmp_path / "run"
    two = create("two-stage", {"retriever": "als", "ranker": "gmf", "candidates": 100,
                               "retriever_settings": {"index": "hnsw"},
                               "ranker_settings": {**GMF_TINY, "epochs": 2}}).fit(dataset.interactions)
    save_model(run_dir, two)
    save_model(run_dir, create("als", {"index": "ivf"}).fit(dataset.interactions))
    save_dataset(run_dir, dataset)
    finish_run(run_dir, meta={"source": "ml-100k", "best_model": "two-stage"})
    db = tmp_path / "store.sqlite"
    for model in ("two-stage", "als"):
        export_store(run_dir, db, k=20, model=model, progress=False)
        with TestClient(create_app(run_dir, db, model=model)) as stored, TestClient(create_app(run_dir, model=model)) as live:
            a = stored.get("/users/1/recommendations", params={"k": 10}).json()
            b = live.get("/users/1/recommendations", params={"k": 10}).json()
            assert (a["source"], b["source"]) == ("store", "live")
            assert [m["movie_id"] for m in a["recommendations"]] == [m["movie_id"] for m in b["recommendations"]]
            assert len(a["recommendations"]) == 10
            recs = stored.post("/recommendations", json={"liked": [50, 181, 172], "k": 10}).json()["recommendations"]
            assert len(recs) == 10 and not {50, 181, 172} & {m["movie_id"] for m in recs}
            similar = stored.get("/movies/50/similar", params={"k": 5}).json()
            assert len(similar) == 5 and 50 not in [m["movie_id"] for m in similar]


def test_export_names_its_k_flag_when_a_shortlist_is_shorter(tmp_path, capsys):
    # "two-stage: k = 50 is more than candidates = 20" when no -k was given at all.
    from cinerec.data.dataset import Catalog, Dataset, IdMap
    from cinerec.runs import finish_run, save_dataset, save_model

    x = random_ratings()
    dataset = Dataset("tiny", x, IdMap(np.arange(x.n_users), "user"), IdMap(np.arange(x.n_items), "movie"),
                      Catalog.unknown(x.n_items))
    run_dir = tmp_path / "run"
    save_model(run_dir, create("two-stage", {"retriever": "popularity", "ranker": "popularity",
                                             "candidates": 20}).fit(dataset.interactions))
    save_dataset(run_dir, dataset)
    finish_run(run_dir, meta={"best_model": "two-stage"})
    db = str(tmp_path / "s.sqlite")
    assert main(["export", "--run", str(run_dir), "--db", db]) == 2
    assert "-k 50 (the default): two-stage: k = 50 is more than candidates = 20" in capsys.readouterr().err
    assert main(["export", "--run", str(run_dir), "--db", db, "-k", "30"]) == 2
    assert "cinerec: error: -k 30: two-stage" in capsys.readouterr().err
    # Called from Python (no command line to ask whether -k was given): the same words.
    from cinerec.commands.export import export
    from cinerec.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^-k 50 \(the default\): two-stage"):
        export(run_dir, db, quiet=True)
    assert main(["export", "--run", str(run_dir), "--db", db, "-k", "20", "-q"]) == 0
    # A catalogue no longer than the shortlist caps k first: recommend as export (recommend
    # refused -k 300 with candidates = 200 on 60 movies, which export took).
    wide = tmp_path / "wide"
    save_model(wide, create("two-stage", {"retriever": "popularity", "ranker": "popularity",
                                          "candidates": 200}).fit(dataset.interactions))
    save_dataset(wide, dataset)
    finish_run(wide, meta={"best_model": "two-stage"})
    capsys.readouterr()
    assert main(["recommend", "--run", str(wide), "--user", "0", "-k", "300", "--json"]) == 0
    assert 0 < len(json.loads(capsys.readouterr().out)) <= x.n_items
    assert main(["export", "--run", str(wide), "--db", db, "-k", "300", "-q"]) == 0


def test_a_shortlist_shorter_than_the_protocols_lists_is_refused_before_the_fit():
    # It was refused only once both stages had been fitted, naming a k no one asked for.
    from cinerec.data.dataset import Catalog, Dataset, IdMap
    from cinerec.evaluation.protocols import get_protocol

    x = random_ratings(60, 40, 0)
    ds = Dataset("small", x, IdMap(np.arange(60), "user"), IdMap(np.arange(40)), Catalog.unknown(40))
    model = create("two-stage", {"retriever": "popularity", "ranker": "popularity", "candidates": 5, "mix": 0.5})
    prepared = get_protocol("loo-full", ks=[1]).prepare(ds, seed=0)
    with pytest.raises(ConfigError, match=r"protocol loo-full ranks top-10 lists: two-stage: k = 10 is more than "
                                          r"candidates = 5"):
        prepared.evaluate(model)
    assert not model.is_fitted


def test_a_stage_with_a_ranking_variant_gets_it_unless_its_settings_choose(data):
    # mf as a ranker was trained for stars (loss="mse"): the ranking variant an ensemble's
    # members and a ranking protocol's models get never reached the stages.
    cfg = TwoStageConfig(retriever="als", ranker="mf", ranker_settings={"epochs": 1})
    ranker = cfg.stage("ranker")
    assert (ranker.config.loss, ranker.config.regularization, ranker.task) == ("bpr", 0.01, "ranking")
    chosen = TwoStageConfig(retriever="als", ranker="biasedmf", ranker_settings={"loss": "mse"}).stage("ranker")
    assert chosen.config.loss == "mse"  # chosen by the user: kept
    assert TwoStageConfig(retriever="als", ranker="baseline").stage("ranker").name == "baseline"


def test_a_retriever_of_stars_is_refused_a_ranker_of_stars_is_not():
    # A ranking protocol refuses models of stars with no ranking variant; as a retriever
    # they slipped through (a shortlist ordered by predicted stars).
    with pytest.raises(ConfigError, match=r"retriever = 'baseline': it learns stars and has no ranking variant, so "
                                          r"it cannot shortlist; retrieve with a ranking model"):
        create("two-stage", {"retriever": "baseline", "ranker": "als"})
    with pytest.raises(ConfigError, match=r"retriever = 'mf': with loss = 'mse' it learns stars, so it cannot "
                                          r"shortlist; leave that unset"):
        create("two-stage", {"retriever": "mf", "retriever_settings": {"loss": "mse"}, "ranker": "als"})
    assert create("two-stage", {"retriever": "autorec", "ranker": "baseline"}).config.retriever == "autorec"


def test_a_mix_chosen_as_zero_says_the_ranker_changes_nothing(data):
    # The lists were the retriever's alone, and only the settings (mix: 0.0) said so.
    model = create("two-stage", {**CONFORMANCE, "candidates": 15}).fit(data)
    model.mix_ = 0.0  # (what the search chooses when the ranker only spoils the retriever's order)
    assert model.fit_notes() == [f"two-stage: mix = 'auto' chose 0 on held-out training ratings, so its lists are "
                                 f"{model.retriever.name}'s own order and {model.ranker.name} changes none of them"]
    model.mix_ = 0.5
    assert model.fit_notes() == []
    assert create("two-stage", {**CONFORMANCE, "candidates": 15, "mix": 0.0}).fit(data).fit_notes() == []


def test_the_weight_is_chosen_on_the_shortlists_the_model_serves():
    # A history retriever (item-kNN) says nothing for places beyond its neighbours; the
    # fitted model gives them to popular movies, but the search scored the weights on
    # shortlists without them, so its figures were not those of the lists it chose for.
    from cinerec.data.dataset import Interactions
    from cinerec.data.split import leave_last_out
    from cinerec.evaluation.metrics import hit_rate
    from cinerec.models.two_stage import MIX_GRID

    rng = np.random.default_rng(0)
    users, items, times = [], [], []
    for u in range(60):  # three movies of one cluster of four, then, latest, the most rated movie (62)
        picks = [*(rng.choice(4, 3, replace=False) + 4 * (u % 15)), 62]
        users += [u] * 4
        items += picks
        times += [0, 1, 2, 10]
    for u in range(60, 90):  # movie 62 first, then 61: 62 is the most rated in the rest, liked by no one's cluster
        users += [u, u]
        items += [62, 61]
        times += [0, 10]
    n = len(users)
    x = Interactions(np.array(users), np.array(items), np.ones(n, np.float32), np.array(times), 90, 63)
    settings = {"retriever": "itemknn", "ranker": "als", "candidates": 15, "ranker_settings": ALS_TINY}
    model = create("two-stage", settings).fit(x)
    carve = leave_last_out(x)
    order = np.argsort(carve.test.users)
    who, truth = carve.test.users[order].astype(np.int64), carve.test.items[order]
    for w in (0.0, 1.0):
        fixed = create("two-stage", {**settings, "mix": w}).fit(carve.train)
        ranked = fixed.recommend(who, 10, exclude=carve.train.seen)[0]
        assert model.mix_search["hr@10"][MIX_GRID.index(w)] == pytest.approx(hit_rate(ranked, truth, 10))


def test_a_shortlist_holding_the_whole_catalogue_is_said_to_retrieve_nothing_under_any_protocol(tmp_path, capsys):
    # On an 80-movie log a shortlist of 200 left nothing out under loo-full too, without a
    # word there, while loo-sampled's note sent the reader to loo-full to measure it.
    rows = [f"u{u},m{(u * 7 + j) % 80},{1 + (u + j) % 5}" for u in range(60) for j in range(25)]
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    base = ["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "two-stage", "--quiet", "--set",
            "retriever='popularity'", "--set", "ranker='popularity'", "--set", "mix=1"]
    line = ("note: two-stage: its shortlist of 200 movies holds the whole catalogue of 80, so its retriever leaves "
            "none out and these are its ranker's figures alone (candidates below 80 would measure the retrieval)")
    for protocol in (["loo-full"], ["loo-sampled", "--protocol-option", "n_negatives=20"], ["random-full"]):
        assert main([*base, "--protocol", *protocol]) == 0
        assert line in capsys.readouterr().out, protocol
    assert main([*base, "--protocol", "loo-full", "--set", "candidates=50"]) == 0
    assert "leaves none out" not in capsys.readouterr().out
    # A shortlist past what anyone has left to rank, short of the catalogue, left none out
    # either, without a word: each person has 56 of the 80 movies left.
    assert main([*base, "--protocol", "loo-full", "--set", "candidates=60"]) == 0
    assert ("note: two-stage: its shortlist of 60 movies holds every movie each person measured has left to rank (at "
            "most 56 of the 80), so its retriever leaves none out and these are its ranker's figures alone (candidates "
            "below 56 would measure the retrieval)") in capsys.readouterr().out


def test_a_stage_that_takes_features_by_its_settings_gets_them_and_the_stages_notes_are_said():
    # mlp-rating takes features only with features = true: the class said it takes none,
    # so the dataset never reached it ("call set_features(dataset) before fit"). And a
    # tower that read ids only said so alone, never inside a two-stage model or an ensemble.
    from tests.models.test_two_tower import TINY, small_dataset

    ds = small_dataset()
    model = create("two-stage", {"retriever": "als", "ranker": "mlp-rating", "candidates": 20, "mix": 1.0,
                                 "retriever_settings": ALS_TINY, "ranker_settings": {"features": True, "epochs": 1}})
    assert model.uses_features
    model.set_features(ds).fit(ds.interactions)
    assert model.ranker.features is not None and model.score([0]).shape == (1, ds.n_items)
    assert not create("two-stage", {"retriever": "als", "ranker": "mlp-rating"}).uses_features

    bare = ds.replace(user_features=None)
    tower = {**TINY, "epochs": 1}
    two = create("two-stage", {"retriever": "two-tower", "ranker": "als", "candidates": 20, "mix": 0.5,
                               "retriever_settings": tower, "ranker_settings": ALS_TINY})
    note = ("two-tower: the data has no user demographics (age, gender, occupation): the user tower read ids only, "
            "the movie tower read genres and release years")
    assert two.set_features(bare).fit(bare.interactions).fit_notes() == [note]
    both = create("two-stage", {"retriever": "two-tower", "ranker": "two-tower", "candidates": 20, "mix": 0.5,
                                "retriever_settings": tower, "ranker_settings": tower})
    assert both.set_features(bare).fit(bare.interactions).fit_notes() == [note]  # once, not once a stage
    ens = create("ensemble", {"members": ["two-tower", "ease"], "weights": [0.5, 0.5],
                              "settings": {"two-tower": tower}})
    assert ens.set_features(bare).fit(bare.interactions).fit_notes() == [note]
    assert create("ensemble", {"members": ["two-tower", "ease"]}).fit_notes() == []


def test_a_stage_that_cannot_read_the_datas_features_says_so_when_given_them():
    # Refused only when the stage was fitted (after the run's other models), naming
    # "features", not the two-stage model's ranker_settings.features.
    from cinerec.data.dataset import Catalog
    from tests.models.test_two_tower import small_dataset

    ds = small_dataset()
    n = ds.n_items
    bare = ds.replace(user_features=None, catalog=Catalog(ds.catalog.titles, np.zeros(n, np.int32), (),
                                                         np.zeros((n, 0), dtype=bool)))
    model = create("two-stage", {"retriever": "als", "ranker": "mlp-rating", "candidates": 20,
                                 "retriever_settings": ALS_TINY, "ranker_settings": {"features": True, "epochs": 1}})
    with pytest.raises(DataError, match=r"set ranker_settings\.features = false$"):
        model.set_features(bare)

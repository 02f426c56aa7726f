"""The page, driven end to end in headless Chromium (Debian's package) against a real server."""

from __future__ import annotations

import contextlib
import json
import re
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (run scripts/ensure-chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _opened(browser, url):
    """A wide page at ``url``, ready, and the list its script errors go to."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page, errors


def _ids(locator):
    return [int(x) for x in locator.evaluate_all("els => els.map(e => e.dataset.movieId)")]


def test_search_like_three_see_recommendations_and_reload(browser, live_server, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server.url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#service")).to_contain_text("ml-100k")

    # Search as you type; accents and case do not matter.
    page.locator("#search").press_sequentially("STAR TREK", delay=20)
    expect(page.locator("#search-status")).to_contain_text("for “STAR TREK”")
    results = page.locator("#results .movie")
    expect(results.first.locator(".title")).to_contain_text("Star Trek")

    liked = _ids(results)[:3]
    for i, movie_id in enumerate(liked):
        button = page.locator(f'#results .movie[data-movie-id="{movie_id}"] .like')
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#mine .movie")).to_have_count(i + 1)

    recs = page.locator("#recs .movie")
    expect(recs).to_have_count(10)
    expect(page.locator("#recs-status")).to_contain_text("from the 3 movies you gave")
    rec_ids = _ids(recs)
    assert not set(liked) & set(rec_ids)
    reasons = recs.locator(".reason").all_inner_texts()
    assert all(r.startswith("because you liked Star Trek") for r in reasons), reasons
    assert all(recs.nth(i).locator(".year").inner_text() for i in range(3))

    # A rating by stars shows up among "your movies".
    page.locator("#search").fill("")
    page.locator("#search").press_sequentially("amadeus", delay=20)
    expect(page.locator("#results .movie").first.locator(".title")).to_have_text("Amadeus")
    page.locator("#results .movie").first.locator(".star").nth(3).click()
    expect(page.locator("#mine .movie")).to_have_count(4)
    expect(page.locator("#mine .my-rating").last).to_have_attribute("aria-label", "rated 4 stars")

    # Clicking a title shows similar movies.
    recs.first.locator(".title").click()
    expect(page.locator("#similar-box")).to_be_visible()
    expect(page.locator("#similar .movie")).to_have_count(8)
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)

    # A reload restores the profile from the server.
    profile_id = page.evaluate("localStorage.getItem('cinerec.profile')")
    assert profile_id
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#profile-id")).to_have_text(profile_id)
    expect(page.locator("#mine .movie")).to_have_count(4)
    assert set(liked) <= set(_ids(page.locator("#mine .movie")))
    expect(page.locator("#recs .movie")).to_have_count(10)
    assert not set(liked) & set(_ids(page.locator("#recs .movie")))

    # The profile's link opens it in another browser (a fresh context: its own storage),
    # which keeps it from then on; the address loses the id.
    link = page.locator("#profile-link").get_attribute("href")
    assert link.endswith(f"/?profile={profile_id}")
    other = browser.new_page()
    other.on("pageerror", lambda e: errors.append(str(e)))
    other.goto(link)
    expect(other.locator("body")).to_have_attribute("data-ready", "true")
    expect(other.locator("#profile-id")).to_have_text(profile_id)
    expect(other.locator("#mine .movie")).to_have_count(4)
    assert other.evaluate("localStorage.getItem('cinerec.profile')") == profile_id
    assert "profile=" not in other.url
    # A link to a profile the server does not hold says so and starts afresh.
    third = browser.new_page()
    third.goto(live_server.url + "/?profile=nosuchprofile")
    expect(third.locator("body")).to_have_attribute("data-ready", "true")
    expect(third.locator("#recs-status")).to_contain_text("No profile “nosuchprofile” here")
    expect(third.locator("#profile-id")).to_have_text("none yet")
    assert third.evaluate("localStorage.getItem('cinerec.profile')") is None
    # "." and "..": a browser sends /profiles/. as /profiles/ (405) and /profiles/.. as /
    # (the page itself): every later save failed, or a TypeError showed.
    for odd in (".", ".."):
        fourth = browser.new_page()
        fourth.on("pageerror", lambda e: errors.append(str(e)))
        fourth.goto(live_server.url + f"/?profile={odd}")
        expect(fourth.locator("body")).to_have_attribute("data-ready", "true")
        expect(fourth.locator("#recs-status")).to_contain_text(f"No profile “{odd}” here")
        expect(fourth.locator("#profile-id")).to_have_text("none yet")
    # In a browser that holds a profile, a link to one the server does not hold keeps it:
    # the mistyped link wiped the browser's own profile, whose ratings no page could reach.
    context = browser.new_context()
    holder = context.new_page()
    holder.goto(link)  # this browser's profile from now on, once the server has answered with it
    expect(holder.locator("#profile-id")).to_have_text(profile_id)
    # (the id shows while it is asked for; the browser keeps it once the answer is in)
    holder.wait_for_function(f"localStorage.getItem('cinerec.profile') === {json.dumps(profile_id)}")
    mistyped = context.new_page()
    mistyped.on("pageerror", lambda e: errors.append(str(e)))
    mistyped.goto(live_server.url + "/?profile=typo123")
    expect(mistyped.locator("body")).to_have_attribute("data-ready", "true")
    expect(mistyped.locator("#recs-status")).to_contain_text("No profile “typo123” here, so this is the profile "
                                                             "this browser had")
    expect(mistyped.locator("#profile-id")).to_have_text(profile_id)
    expect(mistyped.locator("#mine .movie")).to_have_count(4)
    assert mistyped.evaluate("localStorage.getItem('cinerec.profile')") == profile_id
    # A linked id the server could not check (busy, unreachable) is not kept either: it was
    # stored before the check and the link dropped from the address, so the next load took it
    # for this browser's own, found it missing and wiped it.
    busy = context.new_page()
    busy.route("**/profiles/typo456", lambda route: route.fulfill(status=503, body='{"detail": "busy"}',
                                                                  content_type="application/json"))
    busy.goto(live_server.url + "/?profile=typo456")
    expect(busy.locator("body")).to_have_attribute("data-ready", "true")
    expect(busy.locator("#recs-status")).to_contain_text("Could not load your profile")
    assert busy.evaluate("localStorage.getItem('cinerec.profile')") == profile_id
    assert "profile=typo456" in busy.url  # a reload tries the link again
    # A like given then finds the link's profile missing: it goes to this browser's own
    # profile, not to a new one that would take its place in the browser.
    busy.locator("#search").press_sequentially("amadeus", delay=20)
    expect(busy.locator("#results .movie").first.locator(".title")).to_have_text("Amadeus")
    busy.locator("#results .movie").first.locator(".like").click()
    expect(busy.locator("#profile-id")).to_have_text(profile_id)
    expect(busy.locator("#mine .movie")).to_have_count(4)  # Amadeus was among them: now liked
    assert busy.evaluate("localStorage.getItem('cinerec.profile')") == profile_id

    # This browser's own profile, gone from the server (removed, or a server with another
    # profiles file), or an id no server holds (".." edited by hand): said, not dropped with
    # the words a browser without one gets.
    for kept, said in (("gone123", "This browser's profile “gone123” is not on this server."),
                       ("..", "This browser's profile id “..” can name no profile.")):
        lost = browser.new_context()
        lost.add_init_script(f"localStorage.setItem('cinerec.profile', {json.dumps(kept)})")
        opened = lost.new_page()
        opened.on("pageerror", lambda e: errors.append(str(e)))
        opened.goto(live_server.url + "/")
        expect(opened.locator("body")).to_have_attribute("data-ready", "true")
        expect(opened.locator("#recs-status")).to_have_text(f"{said} Like a few movies to start a new one.")
        expect(opened.locator("#profile-id")).to_have_text("none yet")

    # Removing a movie updates the list at once.
    page.locator("#mine .remove").first.click()
    expect(page.locator("#mine .movie")).to_have_count(3)
    assert errors == []


def test_a_film_listed_under_two_ids_is_one_film_on_the_page(browser, live_server, tmp_path):
    # Chasing Amy (1997), 246 and 268 in ml-100k: search showed it twice, the second row
    # unliked after liking the first, and "Your movies" counted it twice ("2 movies").
    import urllib.request

    from playwright.sync_api import expect

    page, errors = _opened(browser, live_server.url)
    page.locator("#search").press_sequentially("chasing amy", delay=20)
    rows = page.locator("#results .movie")
    expect(rows.first.locator(".title")).to_have_text("Chasing Amy")
    expect(rows).to_have_count(1)
    expect(page.locator("#search-status")).to_have_text("1 match for “chasing amy”")  # (it said 2 matches)
    shown = _ids(rows)[0]
    other = ({246, 268} - {shown}).pop()
    rows.first.locator(".like").click()
    expect(page.locator("#mine .movie")).to_have_count(1)
    profile_id = page.locator("#profile-id").inner_text()
    # Liked under its other id too (the API keeps both ids, one film).
    request = urllib.request.Request(f"{live_server.url}/profiles/{profile_id}/ratings", method="PUT",
                                     data=json.dumps({"liked": [str(other)]}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        assert set(json.load(answer)["ratings"]) == {"246", "268"}
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#mine .movie")).to_have_count(1)
    expect(page.locator("#mine-status")).to_have_text("1 movie")
    expect(page.locator("#recs-status")).to_contain_text("from the 1 movie you gave")
    page.locator("#search").press_sequentially("chasing amy", delay=20)
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".like")).to_have_attribute("aria-pressed", "true")
    # Removed, it goes under both ids.
    page.locator("#mine .movie .remove").click()
    expect(page.locator("#mine-status")).to_have_text("Nothing yet.")
    expect(rows.first.locator(".like")).to_have_attribute("aria-pressed", "false")
    with urllib.request.urlopen(f"{live_server.url}/profiles/{profile_id}") as answer:
        assert json.load(answer)["ratings"] == {}
    # A profile that could not be read is not said to be empty.
    rows.first.locator(".like").click()
    expect(page.locator("#mine .movie")).to_have_count(1)
    page.route("**/profiles/*", lambda route: route.fulfill(status=503, body='{"detail": "busy"}',
                                                            content_type="application/json"))
    page.reload()
    expect(page.locator("#recs-status")).to_contain_text("Could not load your profile: busy")
    expect(page.locator("#mine-status")).to_have_text("Could not load your movies.")
    assert errors == []


def test_a_like_after_the_server_lost_the_profile_says_a_new_one_was_started(browser, live_server, tmp_path):
    # The profile gone from the server (another profiles file after a restart): the next
    # like started a new profile in silence, the old id dropped from the browser unsaid.
    import sqlite3

    from playwright.sync_api import expect

    page, errors = _opened(browser, live_server.url)

    def like(page, words, title):
        page.locator("#search").fill("")
        page.locator("#search").press_sequentially(words, delay=20)
        expect(page.locator("#results .movie").first.locator(".title")).to_have_text(title)
        page.locator("#results .movie").first.locator(".like").click()

    like(page, "fargo", "Fargo")
    expect(page.locator("#mine .movie")).to_have_count(1)
    old = page.locator("#profile-id").inner_text()
    with sqlite3.connect(tmp_path / "profiles.sqlite") as db:
        db.execute("DELETE FROM ratings WHERE profile_id = ?", (old,))
        db.execute("DELETE FROM profiles WHERE profile_id = ?", (old,))
    like(page, "heat", "Heat")
    expect(page.locator("#mine .movie")).to_have_count(1)
    expect(page.locator("#recs-status")).to_contain_text(
        f"This browser's profile “{old}” is not on this server, so a new one was started. 10 picks from the 1 movie "
        "you gave.")
    assert page.locator("#profile-id").inner_text() not in (old, "none yet")
    # Gone again, and no new one can be made (the server busy): said so, not "a new one was started".
    again = page.locator("#profile-id").inner_text()
    with sqlite3.connect(tmp_path / "profiles.sqlite") as db:
        db.execute("DELETE FROM ratings WHERE profile_id = ?", (again,))
        db.execute("DELETE FROM profiles WHERE profile_id = ?", (again,))
    page.route("**/profiles", lambda route: route.fulfill(status=503, body='{"detail": "busy"}',
                                                          content_type="application/json"))
    like(page, "amadeus", "Amadeus")
    expect(page.locator("#recs-status")).to_contain_text(
        f"This browser's profile “{again}” is not on this server. Could not save: ")
    page.unroute("**/profiles")
    # Made, but its read back fails: the rating is saved, and the page says so.
    page.route("**/profiles/*", lambda route: route.fulfill(status=503, body='{"detail": "busy"}',
                                                            content_type="application/json")
               if route.request.method == "GET" else route.continue_())
    like(page, "fargo", "Fargo")
    expect(page.locator("#recs-status")).to_contain_text("Saved, but the picks could not be shown: ")
    page.unroute("**/profiles/*")
    # A link's profile whose load failed (the server busy), in a browser with none of its
    # own: the like finds it missing, and the id said is the link's, not "this browser's".
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    linked = context.new_page()
    linked.on("pageerror", lambda e: errors.append(str(e)))
    linked.route("**/profiles/typo789", lambda route: route.fulfill(status=503, body='{"detail": "busy"}',
                                                                    content_type="application/json"))
    linked.goto(live_server.url + "/?profile=typo789")
    expect(linked.locator("body")).to_have_attribute("data-ready", "true")
    expect(linked.locator("#recs-status")).to_contain_text("Could not load your profile")
    like(linked, "amadeus", "Amadeus")
    expect(linked.locator("#recs-status")).to_contain_text(
        "No profile “typo789” here, so a new one was started. 10 picks from the 1 movie you gave.")
    context.close()
    assert errors == []


def _itemknn_run(log, catalog, run_dir):
    """A run folder of item-kNN fitted on ``log`` with its ``catalog``."""
    from cinerec.data import load
    from cinerec.models import create
    from cinerec.runs import finish_run, save_dataset, save_model

    ds = load(log, catalog=catalog)
    save_model(run_dir, create("itemknn").fit(ds.interactions))
    save_dataset(run_dir, ds)
    finish_run(run_dir, meta={"source": "log", "best_model": "itemknn"})
    return run_dir


@contextlib.contextmanager
def _served(tmp_path, log: str, catalog: str, name: str = "run"):
    """A live server of item-kNN fitted on the ``log`` text with the ``catalog`` text (both
    CSV), its files and run folder under ``tmp_path`` named after ``name``."""
    from cinerec.serving.api import create_app

    from .conftest import LiveServer

    (tmp_path / f"{name}-log.csv").write_text(log)
    (tmp_path / f"{name}-movies.csv").write_text(catalog)
    run_dir = _itemknn_run(tmp_path / f"{name}-log.csv", tmp_path / f"{name}-movies.csv", tmp_path / name)
    with LiveServer(create_app(run_dir, profiles=tmp_path / f"{name}-profiles.sqlite")) as server:
        yield server


def _film_found(browser, url: str, errors: list[str]):
    """A new page of the server at ``url`` (its errors into ``errors``), "film number"
    searched: the page, its first result and that movie's id."""
    from playwright.sync_api import expect

    page = browser.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.locator("#search").press_sequentially("film number", delay=20)
    first = page.locator("#results .movie").first
    expect(first).to_be_visible()
    return page, first, first.get_attribute("data-movie-id")


def test_the_pages_five_stars_are_spread_over_the_datas_own_scale(browser, tmp_path):
    # A log rated 1 to 10: the page's fifth star is a 10 and its third a 5.5, not 5 and 3.
    import json
    import urllib.request

    from playwright.sync_api import expect

    from cinerec.serving.api import create_app

    from .conftest import LiveServer

    (tmp_path / "log.csv").write_text("user,item,rating\n" + "\n".join(
        f"u{u},m{i},{(u * 7 + i * 3) % 10 + 1}" for u in range(12) for i in range(10)) + "\n")
    (tmp_path / "movies.csv").write_text("id,title\n" + "\n".join(f"m{i},Film Number {i} (1990)" for i in range(10)) + "\n")
    run_dir = _itemknn_run(tmp_path / "log.csv", tmp_path / "movies.csv", tmp_path / "run")
    errors: list[str] = []
    with LiveServer(create_app(run_dir, profiles=tmp_path / "profiles.sqlite")) as server:
        page, first, movie = _film_found(browser, server.url, errors)
        for star, stars in ((5, 10.0), (3, 5.5)):
            first.locator(".star").nth(star - 1).click()
            expect(page.locator(f'#mine .movie[data-movie-id="{movie}"] .my-rating')).to_have_text("★" * star)
            pid = page.evaluate("localStorage.getItem('cinerec.profile')")
            with urllib.request.urlopen(f"{server.url}/profiles/{pid}") as r:
                assert json.load(r)["ratings"] == {movie: stars}
            first = page.locator(f'#results .movie[data-movie-id="{movie}"]')
        # What a screen reader hears says the stars shown ("rated 5.5 stars" beside three).
        expect(page.locator(f'#mine .movie[data-movie-id="{movie}"] .my-rating')).to_have_attribute(
            "aria-label", "rated 3 stars (5.5 on this data's scale of 1 to 10)")
        assert not errors

    # A log rated -5 to 5 was taken as 1 to 5: the lowest star gave +1, a liked rating there.
    (tmp_path / "signed.csv").write_text("user,item,rating\n" + "\n".join(
        f"u{u},m{i},{(u * 7 + i * 3) % 11 - 5}" for u in range(12) for i in range(10)) + "\n")
    signed = _itemknn_run(tmp_path / "signed.csv", tmp_path / "movies.csv", tmp_path / "signed-run")
    with LiveServer(create_app(signed, profiles=tmp_path / "signed-profiles.sqlite")) as server:
        page, first, movie = _film_found(browser, server.url, errors)
        first.locator(".star").nth(0).click()
        expect(page.locator(f'#mine .movie[data-movie-id="{movie}"] .my-rating')).to_have_text("★")
        pid = page.evaluate("localStorage.getItem('cinerec.profile')")
        with urllib.request.urlopen(f"{server.url}/profiles/{pid}") as r:
            assert json.load(r)["ratings"] == {movie: -5.0}
        # A saved movie this run does not hold (kept from a run of other data) was counted
        # among "the movies you gave" while "Your movies" showed one fewer.
        from cinerec.serving.store import ProfileStore

        ProfileStore(tmp_path / "signed-profiles.sqlite").set_ratings(pid, {"not-here": 3.0})
        page.reload()
        expect(page.locator("#mine .movie")).to_have_count(1)
        expect(page.locator("#mine-status")).to_have_text(
            "1 movie (and 1 saved movie this run does not hold, kept for one that does)")
        # (the count said once, by the note of a list cut short)
        expect(page.locator("#recs-status")).to_contain_text("9 picks from the movies you gave.")
        expect(page.locator("#recs-status")).to_contain_text("the other movie of the run's 10 is the one given.")
        assert not errors

    # Every rating the same number: no scale to spread stars over, so likes alone (the
    # page offered 1 to 5 stars, each refused by the server but the one number).
    (tmp_path / "same.csv").write_text("user,item,rating\n" + "\n".join(
        f"u{u},m{i},4" for u in range(12) for i in range(10) if (u + i) % 3) + "\n")
    same = _itemknn_run(tmp_path / "same.csv", tmp_path / "movies.csv", tmp_path / "same-run")
    with LiveServer(create_app(same, profiles=tmp_path / "same-profiles.sqlite")) as server:
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        first = page.locator("#results .movie").first
        expect(first).to_be_visible()
        assert page.locator("#results .star").count() == 0 and page.locator("#results .stars").count() == 0
        first.locator(".like").click()
        expect(page.locator("#mine .movie")).to_have_count(1)
        expect(page.locator("#recs .movie").first).to_be_visible()
        assert not errors


def test_keyboard_focus_dot_ids_plain_events_and_a_profile_on_its_way(browser, tmp_path):
    # Liking a recommendation or removing one of your movies dropped the focus on the
    # page's body; a movie whose id is "." could not be removed (the browser sent
    # /ratings/ without it); a log of plain events offered stars that changed nothing; a
    # reload said "Nothing yet." until the profile came.
    from playwright.sync_api import expect

    from cinerec.serving.api import create_app

    from .conftest import LiveServer

    movies = [".", "..", *(f"m{i}" for i in range(10))]
    (tmp_path / "log.csv").write_text("user,item\n" + "\n".join(
        f'u{u},"{m}"' for u in range(14) for i, m in enumerate(movies) if (u + i) % 3) + "\n")
    (tmp_path / "movies.csv").write_text("id,title\n" + "\n".join(
        f'"{m}",Film {name} (1990)' for m, name in zip(movies, ["Dot", "Dotdot", *(f"No {i}" for i in range(10))])) + "\n")
    run_dir = _itemknn_run(tmp_path / "log.csv", tmp_path / "movies.csv", tmp_path / "run")
    late = _Late(create_app(run_dir, profiles=tmp_path / "profiles.sqlite"))
    with LiveServer(late) as server:
        page, errors = _opened(browser, server.url)
        assert page.locator("#results .stars").count() == 0  # likes alone
        assert page.locator("#mine-status").get_attribute("aria-live") == "polite"
        for title in ("Film Dot", "Film Dotdot", "Film No 1"):
            page.locator("#search").fill(title)
            expect(page.locator("#results .movie").first.locator(".title")).to_have_text(title)
            page.locator("#results .movie").first.locator(".like").click()
            expect(page.locator("#mine .movie")).to_have_count(["Film Dot", "Film Dotdot", "Film No 1"].index(title) + 1)
        expect(page.locator("#recs .movie").first).to_be_visible()

        # A liked recommendation leaves the list: the focus goes to the one in its place.
        recs = page.locator("#recs .movie")
        second = recs.nth(1).get_attribute("data-movie-id")
        recs.first.locator(".like").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#mine .movie")).to_have_count(4)
        expect(recs.first).to_have_attribute("data-movie-id", second)
        assert page.evaluate("document.activeElement.closest('li') && document.activeElement.closest('li').dataset.movieId") \
            == second

        # The ids "." and "..": removed like any other, the focus kept in the list.
        for dot in (".", ".."):
            page.locator(f'#mine .movie[data-movie-id="{dot}"] .remove').focus()
            page.keyboard.press("Enter")
            expect(page.locator(f'#mine .movie[data-movie-id="{dot}"]')).to_have_count(0)
            assert page.evaluate("document.activeElement.className") == "remove"
        expect(page.locator("#mine .movie")).to_have_count(2)
        page.locator("#search").fill("Film Dot")
        expect(page.locator("#results .movie").first.locator(".title")).to_have_text("Film Dot")
        page.locator("#results .movie").first.locator(".title").click()
        # ... and its similar movies are found (asked for with the id in the query).
        expect(page.locator("#similar .movie").first).to_be_visible()
        assert page.locator('#similar .movie[data-movie-id="."]').count() == 0

        # A reload while the profile is slow to come says it is loading, not "Nothing yet.".
        late.hold("GET", "/health", 1.5)
        page.reload()
        expect(page.locator("#mine-status")).to_have_text("Loading…", timeout=1000)
        expect(page.locator("#mine .movie")).to_have_count(2)
        expect(page.locator("#mine-status")).to_have_text("2 movies")

        # Start over hands the focus to the search box.
        page.locator("#forget").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#profile-id")).to_have_text("none yet")
        assert page.evaluate("document.activeElement.id") == "search"
        assert errors == []


class _Late:
    """An app whose next answer to a given method and path prefix comes late (once), while
    every other request is answered at once: answers then arrive out of order."""

    def __init__(self, app) -> None:
        self.app, self.held = app, []

    def hold(self, method: str, prefix: str, seconds: float) -> None:
        self.held.append((method, prefix, seconds))

    async def __call__(self, scope, receive, send):
        import asyncio

        if scope["type"] == "http":
            for rule in self.held:
                if scope["method"] == rule[0] and scope["path"].startswith(rule[1]):
                    self.held.remove(rule)
                    await asyncio.sleep(rule[2])
                    break
        await self.app(scope, receive, send)


def test_quick_clicks_and_late_answers_never_leave_an_older_state(browser, run_dir, tmp_path):
    # Two quick star clicks saved the first one in a third of tries; a second like before
    # the profile existed made a second profile; an older similar-movies answer replaced
    # the last one asked for; "start over" was undone by a save in flight.
    from playwright.sync_api import expect

    from cinerec.serving.api import create_app

    from .conftest import LiveServer

    app = create_app(run_dir, profiles=tmp_path / "profiles.sqlite")
    profiles = app.state.service.profiles
    late = _Late(app)
    with LiveServer(late) as server:
        page, errors = _opened(browser, server.url)
        first, second = _ids(page.locator("#results .movie"))[:2]

        # Two likes before any profile exists, the first answer late: one profile, both likes.
        late.hold("POST", "/profiles", 1.0)
        page.locator(f'#results .movie[data-movie-id="{first}"] .like').click()
        page.locator(f'#results .movie[data-movie-id="{second}"] .like').click()
        expect(page.locator("#mine .movie")).to_have_count(2)
        pid = page.evaluate("localStorage.getItem('cinerec.profile')")
        assert profiles.count() == 1 and set(profiles.get(pid)) == {str(first), str(second)}

        # Five stars then two, the first answer late: the server and the page keep two.
        late.hold("PUT", f"/profiles/{pid}/ratings", 1.0)
        stars = page.locator(f'#results .movie[data-movie-id="{first}"] .star')
        stars.nth(4).click()
        stars.nth(1).click()
        page.wait_for_timeout(1500)
        expect(page.locator("#recs-status")).not_to_contain_text("Updating")
        assert profiles.get(pid)[str(first)] == 2.0
        expect(page.locator(f'#results .movie[data-movie-id="{first}"] .star.on')).to_have_count(2)
        # The control clicked keeps the focus after the lists are drawn again.
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "2 stars"

        # Similar movies: the last title clicked wins over an earlier, slower answer.
        late.hold("GET", f"/movies/{first}/similar", 1.0)
        page.locator(f'#results .movie[data-movie-id="{first}"] .title').click()
        page.locator(f'#results .movie[data-movie-id="{second}"] .title').click()
        second_title = page.locator(f'#results .movie[data-movie-id="{second}"] .title').inner_text()
        page.wait_for_timeout(1500)
        expect(page.locator("#similar-title")).to_have_text(second_title)

        # "Start over" while a save is in flight: the page stays started over.
        late.hold("PUT", f"/profiles/{pid}/ratings", 1.0)
        page.locator(f'#results .movie[data-movie-id="{second}"] .star').nth(3).click()
        page.locator("#forget").click()
        page.wait_for_timeout(1500)
        expect(page.locator("#profile-id")).to_have_text("none yet")
        expect(page.locator("#mine .movie")).to_have_count(0)
        assert page.evaluate("localStorage.getItem('cinerec.profile')") is None
        assert errors == []


def test_a_failed_search_clears_its_results_and_the_box_takes_no_more_than_the_api(browser, live_server):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(live_server.url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#results .movie").first).to_be_visible()
    assert page.locator("#search").get_attribute("maxlength") == "200"
    page.route("**/movies?*", lambda route: route.fulfill(status=500, body="{}"), times=1)
    page.locator("#search").fill("fargo")
    # (the status said, as every other failure says it: a status text alone is empty over HTTP/2)
    expect(page.locator("#search-status")).to_have_text("Search failed: 500 Internal Server Error")
    expect(page.locator("#results .movie")).to_have_count(0)
    # No answer at all: it showed the browser's "Failed to fetch".
    page.route("**/movies?*", lambda route: route.abort(), times=1)
    page.locator("#search").fill("alien")
    expect(page.locator("#search-status")).to_contain_text("the server cannot be reached; is it still running?")


@pytest.mark.parametrize("width", [320, 375])
def test_a_narrow_screen_keeps_the_page_within_its_width(browser, live_server, width):
    # The search box would not shrink below about 221 px: the genre list ran off a
    # 320-375 px screen, and the page scrolled sideways.
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(live_server.url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.locator("#genre").bounding_box()
    assert box["x"] + box["width"] <= width


def test_a_synthetic_release_is_said_to_be_one_on_the_page(browser, tmp_path):
    # /health and serve's start said so; the page showed the release's name alone.
    from playwright.sync_api import expect

    from cinerec.data.synthetic import write_release
    from cinerec.serving.api import create_app

    from .conftest import LiveServer

    folder = write_release(tmp_path / "ml-100k", "ml-100k", 0.02, seed=1)
    run_dir = _itemknn_run(folder, None, tmp_path / "run")
    with LiveServer(create_app(run_dir, profiles=tmp_path / "profiles.sqlite")) as server:
        page, errors = _opened(browser, server.url)
        expect(page.locator("#service")).to_contain_text("(synthetic data: made-up ratings, not a real release)")
        assert not errors


def test_data_that_gave_no_genres_shows_no_genre_menu(browser, tmp_path):
    # The menu was shown holding "All genres" alone.
    from playwright.sync_api import expect

    log = "user,item,rating\n" + "\n".join(
        f"u{u},m{i},{(u * 7 + i * 3) % 5 + 1}" for u in range(12) for i in range(10)) + "\n"
    with _served(tmp_path, log, "id,title\n" + "\n".join(f"m{i},Film Number {i} (1990)" for i in range(10)) + "\n",
                 "bare") as server:
        page, errors = _opened(browser, server.url)
        expect(page.locator("#genre")).to_be_hidden()
        page.close()
    with _served(tmp_path, log, "id,title,genres\n" + "\n".join(
            f"m{i},Film Number {i} (1990),Drama" for i in range(10)) + "\n", "drama") as server:
        page, errors2 = _opened(browser, server.url)
        expect(page.locator("#genre")).to_be_visible()
        assert page.locator("#genre option").all_text_contents() == ["All genres", "Drama"]
    assert not errors and not errors2


def test_a_rating_saved_through_the_api_on_plain_events_shows_as_a_like(browser, tmp_path):
    # A profile made with {"ratings": {"m1": 1}} (the one number plain events take) showed a
    # star the page never offers, and its Like unpressed, while its reasons read it as liked.
    import urllib.request

    from playwright.sync_api import expect

    with _served(tmp_path, "user,item\n" + "\n".join(f"u{u},m{i}" for u in range(14) for i in range(10) if (u + i) % 3)
                 + "\n", "id,title\n" + "\n".join(f"m{i},Film Number {i} (1990)" for i in range(10)) + "\n") as server:
        made = urllib.request.Request(f"{server.url}/profiles", data=b'{"ratings": {"m1": 1}}', method="POST",
                                      headers={"content-type": "application/json"})
        with urllib.request.urlopen(made) as r:
            pid = json.loads(r.read())["profile_id"]
        page, errors = _opened(browser, f"{server.url}/?profile={pid}")
        mine = page.locator('#mine .movie[data-movie-id="m1"] .my-rating')
        expect(mine).to_have_text("♥")
        assert mine.get_attribute("aria-label") == "liked"
        page.locator("#search").fill("Film Number 1")
        first = page.locator("#results .movie").first
        expect(first.locator(".title")).to_have_text("Film Number 1")
        expect(first.locator(".like")).to_have_attribute("aria-pressed", "true")
        assert not errors


def test_the_page_says_what_the_server_notes_beside_a_list(browser, tmp_path):
    # "1 pick from the 9 movies you gave." and no more: the API's notes (why a list is
    # short; that nothing given counts as liked) reached the command line alone.
    from playwright.sync_api import expect

    from cinerec.serving.api import create_app
    from cinerec.serving.store import ProfileStore

    from .conftest import LiveServer

    (tmp_path / "log.csv").write_text("user,item,rating\n" + "\n".join(
        f"u{u},m{i},{1 + (u + i) % 5}" for u in range(12) for i in range(10) if (u + i) % 3) + "\n")
    (tmp_path / "movies.csv").write_text("item,title\n" + "\n".join(f"m{i},Film number {i}" for i in range(10)) + "\n")
    run_dir = _itemknn_run(tmp_path / "log.csv", tmp_path / "movies.csv", tmp_path / "run")
    with LiveServer(create_app(run_dir, profiles=tmp_path / "profiles.sqlite")) as server:
        profiles = ProfileStore(tmp_path / "profiles.sqlite")
        pid = profiles.create()
        profiles.set_ratings(pid, {f"m{i}": 4.0 for i in range(9)})
        page, errors = _opened(browser, f"{server.url}/?profile={pid}")
        expect(page.locator("#recs .movie")).to_have_count(1)
        expect(page.locator("#recs-status")).to_have_text(
            "1 pick from the movies you gave. 1 movie listed, not 10: the other 9 movies of the run's 10 are the "
            "ones given.")
        # Every movie given: said once, by the page (the notes said "0 movies listed" beside "No picks").
        profiles.set_ratings(pid, {"m9": 4.0})
        page.reload()
        expect(page.locator("#recs-status")).to_have_text(
            "No picks: no movie is left to recommend beyond the 10 movies you gave.")
        assert not errors
    # A run of liked ratings alone, given only low ones: the picks are the most rated, and the
    # page said "10 picks from the 2 movies you gave" above the note saying they are not.
    from cinerec.data import load
    from cinerec.data.transforms import binarize
    from cinerec.models import create
    from cinerec.runs import finish_run, save_dataset, save_model

    liked = binarize(load(tmp_path / "log.csv", catalog=tmp_path / "movies.csv"), 4.0)
    save_model(tmp_path / "liked-run", create("itemknn").fit(liked.interactions))
    save_dataset(tmp_path / "liked-run", liked)
    finish_run(tmp_path / "liked-run", meta={"source": "log", "best_model": "itemknn"})
    with LiveServer(create_app(tmp_path / "liked-run", profiles=tmp_path / "liked-profiles.sqlite")) as server:
        profiles = ProfileStore(tmp_path / "liked-profiles.sqlite")
        pid = profiles.create({"m1": 1.0, "m2": 2.0})
        page, errors = _opened(browser, f"{server.url}/?profile={pid}")
        expect(page.locator("#recs-status")).to_contain_text("8 picks, none drawn from the movies you gave. None of "
                                                             "the ratings given reaches the run's --liked-threshold")
        assert not errors
        assert not errors


def test_similar_titles_keep_the_focus_searches_say_more_double_clicks_send_one_and_stars_are_targets(
        browser, live_server, run, tmp_path):
    # A title opened inside "Movies like X" dropped the focus on the page's body; a search
    # of more than 15 matches said "15 matches"; a double click on Like sent two requests
    # (the second a like undone or a failed removal); an unlit star was 17 px and 1.7:1
    # against white; a profile of many movies said "from the 1662 movies you gave" beside
    # the server's note counting 1,674 of them.
    from playwright.sync_api import expect

    from cinerec.serving.store import ProfileStore

    page, errors = _opened(browser, live_server.url)
    page.locator("#search").fill("the")
    expect(page.locator("#search-status")).to_have_text(
        "The first 15 matches for “the”; type more of the title to narrow them")
    expect(page.locator("#results .movie")).to_have_count(15)
    page.locator("#search").fill("fargo")
    expect(page.locator("#search-status")).to_have_text("1 match for “fargo”")

    page.locator("#results .movie .title").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#similar .movie").first).to_be_visible()
    other = page.locator("#similar .movie .title").nth(2)
    name = other.inner_text()
    other.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#similar-title")).to_have_text(name)
    expect(page.locator("#similar .movie").first).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "similar-heading"

    sent = []
    page.on("request", lambda r: sent.append(r.method) if "/profiles" in r.url and r.method != "GET" else None)
    like = page.locator("#results .movie .like").first
    like.dblclick()
    expect(page.locator("#mine .movie")).to_have_count(1)
    page.wait_for_timeout(500)
    assert sent == ["POST"]
    like.dblclick()
    expect(page.locator("#mine .movie")).to_have_count(0)
    page.wait_for_timeout(500)
    assert sent == ["POST", "DELETE"]

    star = page.locator("#results .movie .star").first
    box = star.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24
    color = page.evaluate("getComputedStyle(document.querySelector('#results .star:not(.on)')).color")
    rgb = [int(c) / 255 for c in color[color.index("(") + 1:-1].split(",")]
    lum = sum(w * (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
              for w, c in zip((0.2126, 0.7152, 0.0722), rgb))
    assert 1.05 / (lum + 0.05) >= 3

    profiles = ProfileStore(tmp_path / "profiles.sqlite")
    ids = [str(m) for m in run.dataset.item_ids.raw]
    pid = profiles.create({m: 4.0 for m in ids[:-5]})
    page, errors2 = _opened(browser, f"{live_server.url}/?profile={pid}")
    status = page.locator("#recs-status")
    expect(status).to_contain_text("movies listed, not 10")
    assert re.match(r"\d picks? from the movies you gave\. \d movies? listed", status.inner_text()), status.inner_text()
    expect(page.locator("#mine-status")).to_contain_text(",")  # 1,6xx movies, as the note writes its counts
    assert errors == [] and errors2 == []

"""``cinerec data fetch | info | synthesize`` through ``cinerec.cli.main``."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from cinerec.cli import main
from cinerec.data import load


def test_info_json_on_the_real_ml100k(ml100k_dir, capsys) -> None:
    assert main(["data", "info", str(ml100k_dir), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["ratings"] == 100_000 and facts["users"] == 943 and facts["items"] == 1682
    assert facts["catalog_items"] == 1682 and facts["release"] == "ml-100k"
    assert facts["min_timestamp"] == 874724710 and facts["max_timestamp"] == 893286638
    assert facts["notes"] == []  # (a key a program can read whether or not there is a note, as elsewhere)
    assert facts["synthetic"] is False  # (it was there only when true; every other command gives it)


def test_info_table_fits_the_terminal_and_its_lines_end_where_their_text_does(ml100k_dir, capsys,
                                                                               monkeypatch) -> None:
    # Every row was padded to the genres row's 191 characters: on an 80-column terminal
    # each short row wrapped into three.
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["data", "info", str(ml100k_dir), "-q"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "ratings             100,000" in lines and not [line for line in lines if line.endswith(" ")]
    assert max(len(line) for line in lines) <= 80
    assert "Children's, Comedy, Crime" in " ".join(out.split())  # (the genres wrapped in their column)


def test_synthesize_then_info(tmp_path, capsys) -> None:
    out = tmp_path / "syn"
    assert main(["data", "synthesize", "--like", "ml-latest-small", "--scale", "0.05", "--seed", "4", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert "synthetic ml-latest-small" in captured.err
    assert (out / "ratings.csv").is_file() and (out / "movies.csv").is_file()
    assert main(["data", "info", str(out), "--release", "ml-latest-small", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["ratings"] == round(100_836 * 0.05) and facts["release"] == "ml-latest-small"
    assert facts["min_rating"] >= 0.5 and facts["max_rating"] <= 5.0
    # The table names the same facts, one per row.
    assert main(["data", "info", str(out), "--release", "ml-latest-small"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert rows["ratings"] == [f"{facts['ratings']:,}"] and rows["release"] == ["ml-latest-small"]
    assert rows["min_timestamp"][0] == str(facts["min_timestamp"])


def test_two_synthesizes_into_one_folder_never_both_say_they_wrote_it(tmp_path, capsys) -> None:
    # Both said "wrote a synthetic ml-100k ... to syn" and the folder held one of them.
    from cinerec.io import claimed

    out = tmp_path / "syn"
    argv = ["data", "synthesize", "--like", "ml-100k", "--scale", "0.01", "--out", str(out)]
    with claimed(out):  # another command is writing it
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == f"cinerec: error: --out {out}: another cinerec command is writing it now; wait for it to end " \
                      "or choose another folder\n", err
    assert not out.exists()
    assert main(argv) == 0 and (out / "u.data").is_file()


def test_synthesize_is_deterministic(tmp_path, capsys) -> None:
    for name in ("a", "b"):
        assert main(["data", "synthesize", "--like", "ml-1m", "--scale", "0.003", "--seed", "9", "--out", str(tmp_path / name)]) == 0
    capsys.readouterr()
    for f in ("ratings.dat", "movies.dat", "users.dat"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_synthesize_says_when_a_small_scale_bounds_the_ratings(tmp_path, capsys) -> None:
    # At scale 0.01 an ml-100k holds 756 ratings, not 1,000, and nothing said so.
    out = tmp_path / "small"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.01", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "note: 756 ratings, not the 1,000 that scale 0.01 gives: its 9 users each rate at most half of its " \
           "168 movies (84)" in err
    assert len((out / "u.data").read_text().splitlines()) == 756
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.0001", "--out", str(tmp_path / "tiny")]) == 0
    assert "note: 24 ratings, not the 10 that scale 0.0001 gives: each of its 3 users rates at least 8 of its 17 " \
           "movies" in capsys.readouterr().err
    assert main(["data", "synthesize", "--like", "ml-latest-small", "--scale", "0.001", "--out", str(tmp_path / "wide")]) == 0
    assert "note: 307 ratings, not the 101 that scale 0.001 gives: each of its 307 movies is rated at least once" \
        in capsys.readouterr().err
    # The scale's own count: no note.
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.02", "--out", str(tmp_path / "even")]) == 0
    assert "note" not in capsys.readouterr().err


def test_synthesize_bad_arguments(tmp_path, capsys) -> None:
    assert main(["data", "synthesize", "--like", "ml-2k", "--out", str(tmp_path / "x")]) == 2
    assert "cinerec: error: --like 'ml-2k': unknown MovieLens release; known: ml-100k" in capsys.readouterr().err
    assert main(["data", "info", str(tmp_path), "--release", "ml-2k"]) == 2
    assert "cinerec: error: --release 'ml-2k': unknown MovieLens release; known: ml-100k" in capsys.readouterr().err
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "-1", "--out", str(tmp_path / "x")]) == 2
    assert "--scale must be above 0" in capsys.readouterr().err
    # The full latest release is a release name, of no one size to imitate.
    assert main(["data", "synthesize", "--like", "ml-latest", "--out", str(tmp_path / "x")]) == 2
    assert "--like 'ml-latest': the full latest release is published again now and then, so it has no one shape to " \
           "imitate; --like ml-32m is the nearest" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_fetch_offline_is_one_line(capsys) -> None:
    assert main(["data", "fetch", "ml-100k"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not download MovieLens ml-100k" in err and "/path/to/ml-100k" in err and "--data" not in err


def test_fetch_a_local_zip_unpacks_it(tmp_path, capsys) -> None:
    folder = tmp_path / "ml-100k"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.02", "--out", str(folder)]) == 0
    archive = tmp_path / "mine.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in folder.iterdir():
            z.write(f, f"ml-100k/{f.name}")
    capsys.readouterr()
    assert main(["data", "fetch", str(archive)]) == 0
    unpacked = capsys.readouterr().out.strip()
    assert unpacked.endswith("ml-100k") and load(unpacked).info["release"] == "ml-100k"
    # Its unpacked copy damaged since (a file deleted) is unpacked again: it was reused for
    # good, and the error blamed the zip.
    (Path(unpacked) / "u.item").unlink()
    assert main(["data", "fetch", str(archive)]) == 0
    assert capsys.readouterr().out.strip() == unpacked and (Path(unpacked) / "u.item").is_file()


def test_fetch_checks_the_cached_copy_and_names_no_device(monkeypatch, tmp_path, capsys) -> None:
    import shutil

    from cinerec.data.download import cache_dir

    # A cached copy missing its movie file was printed as fetched (exit 0); without its zip
    # beside it, it is downloaded again, and offline that says what the copy lacks.
    folder = cache_dir() / "ml-100k" / "ml-100k"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.02", "--out", str(folder), "-q"]) == 0
    (folder / "u.item").unlink()
    capsys.readouterr()
    try:
        assert main(["data", "fetch", "ml-100k"]) == 2
        err = capsys.readouterr().err
        assert "could not download MovieLens ml-100k (offline" in err and \
            f"; the cached copy {cache_dir() / 'ml-100k'} lacks ml-100k/u.item, or holds it cut short or changed " \
            "since it was unpacked\n" in err
    finally:
        shutil.rmtree(cache_dir() / "ml-100k")
    # A device: a traceback (NotADirectoryError)
    assert main(["data", "fetch", "/dev/null"]) == 2
    assert capsys.readouterr().err == ("cinerec: error: /dev/null: not a file or a folder (a device, pipe or socket); "
                                       "give a release folder or zip, or a release name\n")


def test_fetch_given_a_log_of_ones_own_says_there_is_nothing_to_fetch(tmp_path, capsys) -> None:
    # It said "not a folder, a zip file or a ratings log (.csv, ...)" of a .csv log.
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "log.csv"
    log.write_text("user,item\n1,2\n")
    for source in (log, log.parent):
        assert main(["data", "fetch", str(source)]) == 2
        err = capsys.readouterr().err
        assert err == (f"cinerec: error: {source}: a ratings log, not a MovieLens release: there is nothing to fetch "
                       f"or unpack; give it to the other commands as it is (--data {source})\n")
    (tmp_path / "empty").mkdir()
    assert main(["data", "fetch", str(tmp_path / "empty")]) == 2
    assert "no MovieLens files here" in capsys.readouterr().err
    # An empty name read the current folder, an empty --base-url fell back to GroupLens, and
    # a missing file was "an unknown MovieLens release".
    for argv, said in ((["", "-q"], "SOURCE: empty; name a release"),
                       (["ml-1m", "--base-url", ""], "--base-url '': give the address"),
                       ([str(tmp_path / "bad.zip")], "bad.zip: no such file or folder, and not a MovieLens release name")):
        assert main(["data", "fetch", *argv]) == 2
        err = capsys.readouterr().err
        assert said in err and len(err.strip().splitlines()) == 1, err


def test_data_needs_an_action(capsys) -> None:
    assert main(["data"]) == 2
    assert "fetch" in capsys.readouterr().err  # its help, listing the actions


def test_synthesize_quiet_says_nothing(tmp_path, capsys) -> None:
    out = tmp_path / "syn"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.01", "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out) and captured.err == ""


def test_info_table_shows_brackets_as_written(tmp_path, capsys) -> None:
    folder = tmp_path / "[bold]ml-100k"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.01", "--out", str(folder), "-q"]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(folder), "--release", "ml-100k"]) == 0
    assert f"source              {folder}" in capsys.readouterr().out


def test_info_of_a_log_without_times_shows_no_time_range(tmp_path, capsys) -> None:
    (tmp_path / "clicks.csv").write_text("user,item\n1,10\n2,11\n")
    assert main(["data", "info", str(tmp_path / "clicks.csv"), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["min_timestamp"] is None and facts["max_timestamp"] is None  # not 0, read as 1970
    assert main(["data", "info", str(tmp_path / "clicks.csv")]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert rows["min_timestamp"] == ["-"]


def test_columns_of_a_catalogue_without_one_name_the_logs_own(tmp_path, capsys) -> None:
    # It said "columns: title=name ...", the Python argument's name; then it refused the log's own column.
    (tmp_path / "log.csv").write_text("user,item,name\n1,10,Alpha\n2,11,Beta\n")
    assert main(["data", "info", str(tmp_path / "log.csv"), "--columns", "title=name", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["catalog_matched"] == 2
    assert main(["data", "info", str(tmp_path / "log.csv"), "--columns", "title=nom"]) == 2
    assert capsys.readouterr().err == (f"cinerec: error: {tmp_path / 'log.csv'}: no column 'nom' for the title "
                                       "(columns: user, item, name)\n")


def test_a_logs_own_columns_left_unread_are_said_in_json_and_where_a_year_filter_finds_no_year(tmp_path, capsys):
    # The note went to stderr alone, and a year filter that then found no year said nothing of it.
    (tmp_path / "log.csv").write_text("user,item,rating,title\na,1,4,Alpha (1999)\nb,1,3,Alfa (1999)\nb,2,5,Beta (2001)\n")
    assert main(["data", "info", str(tmp_path / "log.csv"), "--json", "-q"]) == 0
    (note,) = json.loads(capsys.readouterr().out)["notes"]
    assert note.startswith("the log's title column is left unread, and its genres and years with it, so movies "
                           "show their ids (")
    assert main(["data", "info", str(tmp_path / "log.csv"), "--min-year", "1998"]) == 2
    err = capsys.readouterr().err
    assert "no movie has a known release year" in err and "; the log's title column is left unread" in err, err


def test_a_log_joined_with_its_titles_shows_them_in_recommendations(tmp_path, capsys) -> None:
    # userId,movieId,rating,timestamp,title,genres: the titles and genres were left unread.
    rows = [(u, m, 1 + (u * m) % 5, 100 + m) for u in range(1, 31) for m in range(1, 61) if (u + m) % 3]
    (tmp_path / "log.csv").write_text("userId,movieId,rating,timestamp,title,genres\n" + "".join(
        f"{u},{m},{r},{t},Film {m} ({1980 + m}),{'Drama' if m % 2 else 'War|Drama'}\n" for u, m, r, t in rows))
    assert main(["data", "info", str(tmp_path / "log.csv"), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["catalog_matched"] == 60 and facts["genres"] == ["Drama", "War"]
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "itemknn", "--protocol", "loo-full",
                 "--out", str(tmp_path / "run"), "-q"]) == 0
    capsys.readouterr()
    assert main(["recommend", "--run", str(tmp_path / "run"), "--user", "1", "-k", "3", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["recommendations"]
    assert listed and all(r["title"] == f"Film {r['movie_id']}" and r["year"] == 1980 + r["movie_id"] for r in listed)


def test_a_catalogue_naming_only_some_of_the_logs_movies_is_said_where_the_data_is_read(tmp_path, capsys) -> None:
    # Ids written another way in the catalogue (0001 for 1) left those movies without
    # titles, which only data info's catalog_matched counted.
    t = 1_600_000_000  # (times near 1970 would be said too)
    rows = [f"{u},{m},4,{t + m}" for u in (1, 2) for m in ((1, 2) if u == 1 else (3, 4))] + [f"3,5,4,{t + 1}",
                                                                                             f"3,6,4,{t + 2}"]
    rows += [f"4,{m},3,{t + m}" for m in range(2, 7)]  # (movie 1, the one not named, is the least rated)
    (tmp_path / "log.csv").write_text("user,movie,rating,ts\n" + "\n".join(rows) + "\n")
    (tmp_path / "items.csv").write_text("id,title\n0001,Alpha\n2,Beta\n3,Gamma\n4,D\n5,E\n6,F\n")
    note = (f"note: the catalogue {tmp_path / 'items.csv'} names 5 of the 6 movies; the other one shows its id "
            "for a title (if it lists them, its ids are written otherwise than the log's: 0001 is not 1)\n")
    data = ["--data", str(tmp_path / "log.csv"), "--catalog", str(tmp_path / "items.csv")]
    assert main(["data", "info", *data]) == 0
    assert capsys.readouterr().err == note
    evaluate = ["evaluate", *data, "--model", "popularity", "--protocol", "loo-full", "--protocol-option", "ks=[1]"]
    assert main(evaluate) == 0
    assert capsys.readouterr().err.startswith(note)
    assert main([*evaluate, "-q"]) == 0 and capsys.readouterr().err == ""
    # counted among the movies the filters keep: none left unnamed, nothing to say
    assert main(["data", "info", *data, "--top-movies", "5"]) == 0 and "note:" not in capsys.readouterr().err
    (tmp_path / "items.csv").write_text("id,title\n1,Alpha\n2,Beta\n3,Gamma\n4,D\n5,E\n6,F\n")  # all named
    assert main(["data", "info", *data]) == 0 and capsys.readouterr().err == ""


def test_synthesize_replaces_only_an_earlier_synthetic_release(tmp_path, capsys) -> None:
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("important")
    argv = ["data", "synthesize", "--like", "ml-100k", "--scale", "0.01", "--quiet", "--out"]
    for out, needle in ((mine, "a folder holding other files"), (mine / "notes.txt", "is a file")):
        assert main([*argv, str(out)]) == 2
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1
    assert (mine / "notes.txt").read_text() == "important" and (mine / "sub").is_dir()
    for scale in ("inf", "nan", "0", "11"):
        assert main(["data", "synthesize", "--like", "ml-100k", "--scale", scale, "--out", str(tmp_path / "s")]) == 2
        assert "--scale must be above 0 and at most 10" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([*argv, str(tmp_path / "empty")]) == 0  # a new or empty folder, and again over its own release
    assert main([*argv, str(tmp_path / "empty")]) == 0


def test_a_synthetic_release_says_what_it_imitates_and_that_it_is_synthetic(tmp_path, capsys) -> None:
    out = tmp_path / "syn"  # a name that says nothing: the marker does
    assert main(["data", "synthesize", "--like", "ml-25m", "--scale", "0.0005", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(out), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["release"] == "ml-25m" and facts["synthetic"] is True


def test_runs_on_a_synthetic_release_say_it_is_synthetic(tmp_path, capsys) -> None:
    # train, evaluate, quickstart and run called it by its folder's name alone, as if real.
    out = tmp_path / "ml-1m"
    assert main(["data", "synthesize", "--like", "ml-1m", "--scale", "0.01", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    note = "note: the data is a synthetic release shaped like ml-1m (cinerec data synthesize): these figures say " \
           "nothing about real movies"
    assert main(["evaluate", "--data", str(out), "--model", "popularity", "--quiet"]) == 0
    assert note in capsys.readouterr().out
    run = tmp_path / "run"
    assert main(["train", "--data", str(out), "--model", "popularity", "--out", str(run)]) == 0
    said = capsys.readouterr()
    assert note in said.out and f"data: {out} (SYNTHETIC, shaped like ml-1m): " in said.err
    assert (run / "report.md").read_text().startswith(f"# popularity on {out} (SYNTHETIC, shaped like ml-1m)\n")
    assert json.loads((run / "run.json").read_text())["dataset"]["synthetic"] is True
    assert main(["quickstart", "--data", str(out), "--model", "popularity", "--out", str(tmp_path / "q"), "-q"]) == 0
    assert f"Data: {out} (SYNTHETIC, shaped like ml-1m) — " in (tmp_path / "q" / "report.md").read_text()
    study = tmp_path / "study.toml"
    study.write_text(f'[data]\nsource = "{out}"\n[protocol]\nname = "loo-sampled"\n[models.popularity]\n')
    assert main(["run", str(study), "--out", str(tmp_path / "s"), "-q"]) == 0
    assert note in capsys.readouterr().out
    report = (tmp_path / "s" / "report.md").read_text()
    assert f"Data: `{out}` (SYNTHETIC, shaped like ml-1m): " in report  # the label is not part of the path
    assert "**Note:** the data is a synthetic release shaped like ml-1m (cinerec data synthesize): these figures say " \
           "nothing about real movies." in report


def test_synthesize_replaces_its_own_release_but_not_files_put_there_since(tmp_path, capsys) -> None:
    out = tmp_path / "syn"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.01", "--out", str(out), "-q"]) == 0
    assert main(["data", "synthesize", "--like", "ml-1m", "--scale", "0.01", "--out", str(out), "-q"]) == 0
    assert (out / "ratings.dat").is_file() and not (out / "u.data").exists()
    (out / "runs").mkdir()
    (out / "NOTES.md").write_text("mine\n")
    capsys.readouterr()
    assert main(["data", "synthesize", "--like", "ml-1m", "--scale", "0.01", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds files it did not write (NOTES.md, runs); not replacing it" in err
    assert (out / "NOTES.md").read_text() == "mine\n" and (out / "ratings.dat").is_file()
    # A marker that names no files (damaged, or from before the list was kept) protected
    # nothing: the files were deleted with the old release.
    marker = out / ".cinerec-synthetic.json"
    for text in ('{"like": "ml-1m", "files": ["ratings.dat"', '{"like": "ml-1m"}\n'):
        marker.write_text(text)
        assert main(["data", "synthesize", "--like", "ml-1m", "--scale", "0.01", "--out", str(out), "-q"]) == 2
        assert "holds files it did not write (NOTES.md, runs)" in capsys.readouterr().err
        assert (out / "NOTES.md").read_text() == "mine\n"


def test_synthesize_keeps_files_put_in_its_folder_while_it_writes(tmp_path, capsys, monkeypatch) -> None:
    # Checked only before the release was made: a file put there meanwhile went with the
    # old release at the swap.
    from cinerec.data import synthetic

    out = tmp_path / "syn"
    assert main(["data", "synthesize", "--like", "ml-1m", "--scale", "0.01", "--out", str(out), "-q"]) == 0
    made = synthetic.synthesize

    def someone_writes_meanwhile(*args, **kwargs):
        release = made(*args, **kwargs)
        (out / "notes.txt").write_text("precious\n")
        return release

    monkeypatch.setattr(synthetic, "synthesize", someone_writes_meanwhile)
    capsys.readouterr()
    assert main(["data", "synthesize", "--like", "ml-1m", "--scale", "0.01", "--out", str(out), "-q"]) == 2
    assert "holds files it did not write (notes.txt)" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "precious\n" and (out / "ratings.dat").is_file()


def test_a_damaged_cached_release_says_how_to_download_it_again(tmp_path, capsys, ml100k_dir) -> None:
    import os

    folder = Path(os.environ["CINEREC_HOME"]) / "movielens" / "ml-100k" / "ml-100k"
    folder.mkdir(parents=True)
    (folder / "u.data").write_bytes((ml100k_dir / "u.data").read_bytes()[:1000])  # cut off in line 52
    (folder / "u.item").write_bytes((ml100k_dir / "u.item").read_bytes())
    assert main(["data", "info", "ml-100k"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "u.data line 52:" in err
    assert f"(the cached copy of ml-100k: remove {folder.parent} to download it again)" in err


def test_info_takes_the_data_with_data_as_every_other_command_does(ml100k_dir, capsys) -> None:
    capsys.readouterr()
    assert main(["data", "info", "--data", str(ml100k_dir), "--top-users", "10", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["users"] == 10 and got["source"] == str(ml100k_dir)
    for argv, said in [([], "data info: which data? give a source"),
                       ([str(ml100k_dir), "--data", str(ml100k_dir)], "data info: the data is named twice"),
                       (["--data", "/no/such"], "--data /no/such: no such file or folder")]:
        assert main(["data", "info", *argv]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, err


def test_info_of_a_csv_release_no_name_vouches_for_says_how_to_name_it(tmp_path, capsys) -> None:
    from cinerec.data.synthetic import LABEL, MARKER, write_release

    folder = write_release(tmp_path / "mine", "ml-25m", 0.001, seed=1)
    (folder / MARKER).unlink()  # nothing says which release it is (it was labelled ml-latest)
    (folder / LABEL).unlink()
    assert main(["data", "info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "movielens-csv (MovieLens's CSV layout; --release names which release it is)" in " ".join(out.split())
    assert main(["data", "info", str(folder), "--release", "ml-25m", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["release"] == "ml-25m"


def test_the_synthesize_help_states_the_scales_it_takes():
    from typer.testing import CliRunner

    from cinerec.cli import app
    from cinerec.data.synthetic import MAX_SCALE

    text = " ".join(CliRunner().invoke(app, ["data", "synthesize", "--help"], terminal_width=200).output.split())
    assert (f"above 0 and at most {MAX_SCALE:g}: users and ratings grow with it, rated movies and the catalogue with "
            "its square root. [default: 1.0]") in text


def test_info_names_the_source_as_given_and_a_zip_s_unpacked_copy_apart(ml100k_dir, tmp_path, capsys) -> None:
    # A zip's source was the cache folder it was unpacked into, a path the user never named.
    import zipfile

    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(ml100k_dir.iterdir()):
            z.write(path, f"ml-100k/{path.name}")
    capsys.readouterr()
    assert main(["data", "info", str(archive), "--json", "-q"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["source"] == str(archive) == got["dataset"]["source"]
    assert got["read_from"].endswith("ml-100k") and got["read_from"] != str(archive)
    assert main(["data", "info", str(ml100k_dir), "--json", "-q"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["source"] == str(ml100k_dir) and "read_from" not in got


def test_fetch_from_a_base_url_of_a_release_already_cached_says_nothing_was_fetched(tmp_path, capsys) -> None:
    import shutil

    from cinerec.data.download import cache_dir

    # A user pointing at a new mirror was shown the cached folder, as if it had been fetched.
    folder = cache_dir() / "ml-100k" / "ml-100k"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.02", "--out", str(folder), "-q"]) == 0
    capsys.readouterr()
    try:
        assert main(["data", "fetch", "ml-100k", "--base-url", "http://127.0.0.1:9/mirror"]) == 0
        got = capsys.readouterr()
        assert got.out == f"{folder}\n"
        assert got.err == (f"note: ml-100k is already in the cache; nothing was fetched from --base-url (remove "
                           f"{folder.parent} to download it again)\n")
        assert main(["data", "fetch", "ml-100k"]) == 0 and capsys.readouterr().err == ""
    finally:
        shutil.rmtree(cache_dir() / "ml-100k")


def test_fetch_from_a_base_url_of_a_release_with_a_copy_where_one_runs_says_nothing_was_fetched(
        tmp_path, monkeypatch, capsys) -> None:
    from cinerec.data.synthetic import LABEL, MARKER, write_release

    # The copy where one runs was read and --base-url dropped without a word, as if the
    # mirror had been asked.
    monkeypatch.chdir(tmp_path)
    write_release(tmp_path / "ml-100k", "ml-100k", 0.02, seed=1)
    for made_up in (MARKER, LABEL):  # a copy with the files of the release, not one said to be made up
        (tmp_path / "ml-100k" / made_up).unlink()
    capsys.readouterr()
    assert main(["data", "fetch", "ml-100k", "--base-url", "http://127.0.0.1:9/mirror"]) == 0
    got = capsys.readouterr()
    assert got.out == "ml-100k\n"
    assert got.err == ("note: ml-100k is read from ./ml-100k, a copy where you run; nothing was fetched from "
                       "--base-url (give another folder to run in to download it)\n")
    # a path, not a release name, is read as it is too
    assert main(["data", "fetch", "./ml-100k", "--base-url", "http://127.0.0.1:9/mirror"]) == 0
    assert capsys.readouterr().err == ("note: ./ml-100k is a folder here; nothing was fetched from --base-url (name a "
                                       "release to download one)\n")
    assert main(["data", "fetch", "ml-100k"]) == 0 and capsys.readouterr().err == ""


def test_fetch_of_a_release_name_with_a_synthetic_copy_where_one_runs_says_it_is_synthetic(
        tmp_path, monkeypatch, capsys) -> None:
    from cinerec.data.synthetic import write_release

    # `data fetch ml-100k` printed ./ml-100k, a made-up release, as the real one fetched.
    monkeypatch.chdir(tmp_path)
    write_release(tmp_path / "ml-100k", "ml-100k", 0.02, seed=1)
    capsys.readouterr()
    for extra, words in (([], ""), (["--base-url", "http://127.0.0.1:9/mirror"], " from --base-url")):
        assert main(["data", "fetch", "ml-100k", *extra]) == 0
        got = capsys.readouterr()
        assert got.out == "ml-100k\n"
        assert got.err == ("note: ml-100k is read from ./ml-100k, a SYNTHETIC release shaped like ml-100k (made by "
                           f"`cinerec data synthesize`) where you run; nothing was fetched{words} (give another folder "
                           "to run in to download the real ml-100k)\n")
    assert main(["data", "fetch", "ml-100k", "-q"]) == 0 and capsys.readouterr().err == ""


def test_a_logs_scale_given_on_the_command_line_is_the_runs(tmp_path, capsys) -> None:
    # Without it, a 1-10 log nobody rated 1 in read as 2 to 10, and a new person's 1 was refused.
    rows = [f"u{u},m{m},{2 + (u * 3 + m) % 9},{1600000000 + 40 * u + m}" for u in range(30) for m in range(25)
            if (u + m) % 3]
    (tmp_path / "log.csv").write_text("user,item,rating,ts\n" + "\n".join(rows) + "\n")
    log = str(tmp_path / "log.csv")
    assert main(["data", "info", log, "--rating-scale", "1,10", "--json", "--quiet"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["min_rating"], info["max_rating"], info["rating_scale"]) == (2.0, 10.0, [1.0, 10.0])
    for name, scale in (("given", ["--rating-scale", "1,10"]), ("read", [])):
        assert main(["train", "--data", log, *scale, "--model", "itemknn", "--protocol", "random-full", "--quiet",
                     "--out", str(tmp_path / name)]) == 0
    capsys.readouterr()
    assert main(["recommend", "--run", str(tmp_path / "given"), "--ratings", "m1=1,m2=10", "-k", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["recommend", "--run", str(tmp_path / "read"), "--ratings", "m1=1,m2=10", "-k", "3"]) == 2
    assert "1 star is outside this data's scale, 2 to 10" in capsys.readouterr().err
    saved = json.loads((tmp_path / "given" / "run.json").read_text())["dataset"]
    assert saved["rating_scale"] == saved["rating_scale_given"] == [1.0, 10.0]
    assert main(["data", "info", log, "--rating-scale", "3,10", "--quiet"]) == 2
    assert capsys.readouterr().err == f"cinerec: error: {log} line 22: rating 2 is outside the scale given, " \
                                      "3 to 10 (--rating-scale)\n"


def test_a_read_only_folder_is_refused_not_replaced_by_a_writable_one(tmp_path, capsys) -> None:
    # The new folder is swapped in beside the old, which needs only the parent's permission:
    # an empty folder a person had made read-only came back writable, holding the output.
    out = tmp_path / "kept"
    out.mkdir()
    out.chmod(0o555)
    study = tmp_path / "s.toml"
    study.write_text('[data]\nsource = "ml-100k"\n[protocol]\nname = "loo-sampled"\n[models.popularity]\n')
    try:
        for argv, flag in ((["data", "synthesize", "--like", "ml-100k", "--scale", "0.01", "--out", str(out)], ""),
                           (["quickstart", "--out", str(out), "--users", "5"], "--out "),
                           (["run", str(study), "--out", str(out)], "--out ")):
            assert main([*argv, "--quiet"]) == 2
            err = capsys.readouterr().err
            assert err == f"cinerec: error: {flag}{out}: is a read-only folder; not replacing it: make it writable, " \
                          "or give another folder\n", err
        assert (out.stat().st_mode & 0o777) == 0o555 and list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


def test_synthesize_out_of_memory_names_its_own_sizes(tmp_path, capsys, monkeypatch) -> None:
    # It said "a setting may ask for too much (factors, negatives, candidates, chunk or
    # batch size)", which this command has none of.
    import cinerec.data.synthetic as synthetic

    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 3.00 GiB for an array with shape (403268075,) and data type int64")

    monkeypatch.setattr(synthetic, "synthesize", too_big)
    assert main(["data", "synthesize", "--like", "ml-32m", "--scale", "10", "--out", str(tmp_path / "huge")]) == 2
    err = capsys.readouterr().err
    assert err == "cinerec: error: --like ml-32m --scale 10: out of memory making the release (Unable to allocate " \
                  "3.00 GiB for an array with shape (403268075,) and data type int64); a smaller --scale fits\n", err
    assert list(tmp_path.iterdir()) == []

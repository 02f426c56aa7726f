"""Bad input fails early with one line naming the file and line, through ``load`` and the CLI."""

from __future__ import annotations

import os
import re
import shutil
import time
import zipfile
from pathlib import Path
from typing import Callable

import pytest

from cinerec.cli import main
from cinerec.data import download, load
from cinerec.data.synthetic import write_release
from cinerec.errors import DataError, NotFoundError


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pristine")
    return {
        "100k": write_release(root / "ml-100k", "ml-100k", 0.03, seed=1),
        "1m": write_release(root / "ml-1m", "ml-1m", 0.005, seed=1),
        "csv": write_release(root / "ml-latest-small", "ml-latest-small", 0.05, seed=1),
        "csv-crlf": write_release(root / "crlf" / "ml-latest-small", "ml-latest-small", 0.05, seed=1, crlf=True),
    }


def _copy(pristine: dict[str, Path], kind: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine[kind], tmp_path / pristine[kind].name))


def _edit(path: Path, change: Callable[[list[bytes]], list[bytes]]) -> None:
    path.write_bytes(b"".join(change(path.read_bytes().splitlines(keepends=True))))


def _set_line(number: int, text: bytes) -> Callable[[list[bytes]], list[bytes]]:
    def change(lines: list[bytes]) -> list[bytes]:
        lines[number - 1] = text
        return lines
    return change


def _fails(source: Path | str, pattern: str, capsys, error: type = DataError) -> None:
    """Both ``load`` and ``cinerec data info`` refuse ``source`` with a message matching ``pattern``."""
    with pytest.raises(error, match=pattern) as e:
        load(source)
    assert "\n" not in str(e.value)
    capsys.readouterr()
    assert main(["data", "info", str(source)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cinerec: error: ") and "Traceback" not in err
    assert re.search(pattern, err)


def test_malformed_line_names_file_and_line(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "100k", tmp_path)
    _edit(folder / "u.data", _set_line(5, b"12\t7\t3\n"))
    _fails(folder, r"u\.data line 5: expected 4 tab-separated fields, found 3", capsys)


def test_a_column_named_twice(pristine, tmp_path, capsys) -> None:
    # A second userId column was read without a word: one of the two silently won.
    folder = _copy(pristine, "csv", tmp_path)
    _edit(folder / "ratings.csv", lambda lines: [line.rstrip(b"\n") + b",0\n" for line in lines])
    _edit(folder / "ratings.csv", _set_line(1, b"userId,movieId,rating,timestamp,userId\n"))
    _fails(folder, r"ratings\.csv line 1: column userId appears 2 times in the header", capsys)
    folder = _copy(pristine, "csv", tmp_path / "b")
    _edit(folder / "movies.csv", lambda lines: [lines[0].rstrip(b"\n") + b",title\n"]
          + [line.rstrip(b"\n") + b",x\n" for line in lines[1:]])
    _fails(folder, r"movies\.csv line 1: column title appears 2 times in the header", capsys)


@pytest.mark.parametrize("kind, eol", [("csv", b"\n"), ("csv-crlf", b"\r\n")])
def test_non_numeric_field(pristine, tmp_path, capsys, kind: str, eol: bytes) -> None:
    folder = _copy(pristine, kind, tmp_path)
    _edit(folder / "ratings.csv", _set_line(8, b"3,abc,4.0,964982703" + eol))
    _fails(folder, r"ratings\.csv line 8: movie 'abc' is not an integer", capsys)


@pytest.mark.parametrize("kind, name, line, pattern", [
    ("csv", "ratings.csv", b"3,12,4.0,2017-01-01\n", r"ratings\.csv line 9: timestamp '2017-01-01' is not an integer"),
    ("csv", "ratings.csv", b"3,12,4.0,964982703.5\n", r"ratings\.csv line 9: timestamp '964982703\.5' is not an"),
    ("100k", "u.data", b"12\t7\t4.0.0\t881250949\n", r"u\.data line 9: rating '4\.0\.0' is not a number"),
    # Hexadecimal, which the reader took for a number (user 31, a time in 2020) without a word.
    ("csv", "ratings.csv", b"0x1F,12,4.0,964982703\n", r"ratings\.csv line 9: user '0x1F' is not an integer"),
    ("1m", "ratings.dat", b"1::2::5::0x5F5E1000\n", r"ratings\.dat line 9: timestamp '0x5F5E1000' is not an"),
])
def test_a_value_of_number_characters_that_is_no_number_names_its_line(pristine, tmp_path, capsys, kind, name,
                                                                        line, pattern) -> None:
    folder = _copy(pristine, kind, tmp_path)
    _edit(folder / name, _set_line(9, line))
    _fails(folder, pattern, capsys)


def test_malformed_dat_line(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "1m", tmp_path)
    _edit(folder / "ratings.dat", _set_line(3, b"1::2::5\n"))
    _fails(folder, r"ratings\.dat line 3: expected 4 '::'-separated fields, found 3", capsys)


def test_a_movies_dat_line_with_a_fourth_field_is_refused(pristine, tmp_path, capsys) -> None:
    # The id came off the left and the genres off the right: a fourth field joined the
    # title ("Foo (1968)::Drama", year 0) and became the movie's only genre.
    folder = _copy(pristine, "1m", tmp_path)
    _edit(folder / "movies.dat", _set_line(7, b"7::Foo (1968)::Drama::Extra\n"))
    _fails(folder, r"movies\.dat line 7: expected 3 '::'-separated fields \(id::title::genres\), found 4", capsys)
    _edit(folder / "movies.dat", _set_line(7, b"7::Foo (1968)\n"))
    _fails(folder, r"movies\.dat line 7: expected 3 '::'-separated fields \(id::title::genres\), found 2", capsys)


def test_a_dat_line_separated_by_tabs_is_refused_not_read(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "1m", tmp_path)
    _edit(folder / "ratings.dat", _set_line(4, b"1\t2\t5\t978300760\n"))
    _fails(folder, r"ratings\.dat line 4: '1\\t2\\t5\\t978300760' holds a tab; ratings\.dat fields are separated by '::'",
           capsys)


def test_a_pipe_or_device_is_no_source(tmp_path, capsys) -> None:
    fifo = tmp_path / "ratings.csv"
    os.mkfifo(fifo)
    _fails(fifo, r"ratings\.csv: not a file or a folder \(a device, pipe or socket\)", capsys)


def test_wrong_separator(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "100k", tmp_path)
    _edit(folder / "u.data", lambda lines: [line.replace(b"\t", b",") for line in lines])
    _fails(folder, r"u\.data line 1: expected 4 tab-separated fields, found 1 \(it looks ','-separated\)", capsys)
    csv_folder = _copy(pristine, "csv", tmp_path / "b")
    _edit(csv_folder / "ratings.csv", lambda lines: [line.replace(b",", b";") for line in lines])
    _fails(csv_folder, r"ratings\.csv line 1: missing column .*';'-separated", capsys)


def test_unreadable_encoding(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "csv", tmp_path)
    path = folder / "ratings.csv"
    path.write_bytes(path.read_text().encode("utf-16"))
    _fails(folder, r"ratings\.csv: unreadable encoding", capsys)
    folder = _copy(pristine, "csv", tmp_path / "b")
    _edit(folder / "movies.csv", _set_line(3, b"999999,Caf\xe9 Society (2016),Drama\n"))
    _fails(folder, r"movies\.csv line 3: unreadable encoding \(not UTF-8", capsys)


def test_missing_column(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "csv", tmp_path)
    _edit(folder / "ratings.csv", lambda lines: [b",".join(line.rstrip(b"\n").split(b",")[:3]) + b"\n" for line in lines])
    _fails(folder, r"ratings\.csv line 1: missing column timestamp", capsys)
    folder = _copy(pristine, "csv", tmp_path / "b")
    _edit(folder / "movies.csv", _set_line(1, b"movieId,name,genres\n"))
    _fails(folder, r"movies\.csv line 1: missing column title", capsys)


@pytest.mark.parametrize("kind, eol", [("csv", b"\n"), ("csv-crlf", b"\r\n")])
@pytest.mark.parametrize("value, pattern", [
    (b"nan", r"line 4: rating nan is outside the valid range 0\.5-5"),
    (b"5.5", r"line 4: rating 5\.5 is outside"),
    (b"0", r"line 4: rating 0 is outside"),
    (b"", r"line 4: the rating field is empty"),
])
def test_bad_ratings(pristine, tmp_path, capsys, value: bytes, pattern: str, kind: str, eol: bytes) -> None:
    folder = _copy(pristine, kind, tmp_path)
    _edit(folder / "ratings.csv", _set_line(4, b"1,1," + value + b",964982703" + eol))
    _fails(folder, r"ratings\.csv " + pattern, capsys)


@pytest.mark.parametrize("kind, file, line, pattern", [
    # ml-100k and ml-1m rate in whole stars: a half star or a 0.5 is not one of theirs
    ("100k", "u.data", b"1\t1\t3.5\t881250949\n", r"u\.data line 4: rating 3\.5 is not a whole star; ml-100k and ml-1m"),
    ("100k", "u.data", b"1\t1\t0.5\t881250949\n", r"u\.data line 4: rating 0\.5 is outside the valid range 1-5"),
    ("1m", "ratings.dat", b"1::1::2.5::978300760\n", r"ratings\.dat line 4: rating 2\.5 is not a whole star"),
    # the half-star releases take 0.5 steps only
    ("csv", "ratings.csv", b"1,1,4.3,964982703\n", r"ratings\.csv line 4: rating 4\.3 is not a half star"),
])
def test_ratings_off_the_release_s_stars(pristine, tmp_path, capsys, kind: str, file: str, line: bytes, pattern: str) -> None:
    folder = _copy(pristine, kind, tmp_path)
    _edit(folder / file, _set_line(4, line))
    _fails(folder, pattern, capsys)


def test_half_stars_read_where_the_release_has_them(pristine, tmp_path) -> None:
    folder = _copy(pristine, "csv", tmp_path)
    def half(lines: list[bytes]) -> list[bytes]:
        user, movie, _, stamp = lines[3].split(b",")
        lines[3] = b",".join([user, movie, b"3.5", stamp])
        return lines
    _edit(folder / "ratings.csv", half)
    assert 3.5 in load(folder).interactions.ratings


def test_windows_file_with_a_short_line(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "csv-crlf", tmp_path)
    _edit(folder / "ratings.csv", _set_line(6, b"1,1,4.0\r\n"))
    _fails(folder, r"ratings\.csv line 6: expected 4 ','-separated fields, found 3", capsys)


@pytest.mark.parametrize("line, pattern", [
    (b"12x,Some Title (1999),Drama", r"line 3: movie id '12x' is not an integer"),
    (b"0x1F,Some Title (1999),Drama", r"line 3: movie id '0x1F' is not an integer"),
    (b"7,Broken (1999)", r"line 3: expected 3 ','-separated fields, found 2"),
    (b'7,"Unclosed (1999),Drama', r"line 3: expected 3 ','-separated fields, found \d+ \(a quoted field runs on to line \d+\)"),
])
def test_bad_movies_csv_line(pristine, tmp_path, capsys, line: bytes, pattern: str) -> None:
    folder = _copy(pristine, "csv-crlf", tmp_path)
    _edit(folder / "movies.csv", _set_line(3, line + b"\r\n"))
    _fails(folder, r"movies\.csv " + pattern, capsys)


def test_bad_rating_line_counts_blank_lines(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "100k", tmp_path)
    _edit(folder / "u.data", lambda lines: lines[:2] + [b"\n", b"\r\n"] + [b"1\t1\t9\t881250949\n"] + lines[3:])
    _fails(folder, r"u\.data line 5: rating 9 is outside", capsys)


def test_unknown_release_name(capsys) -> None:
    _fails("ml-7m", r"unknown MovieLens release 'ml-7m'", capsys, NotFoundError)
    _fails("no/such/folder", r"no such file or folder", capsys, NotFoundError)


def test_checksum_mismatch(tmp_path, capsys, monkeypatch) -> None:
    # A zip put in the cache by hand that is not the genuine release.
    cache = tmp_path / "home" / "movielens"
    cache.mkdir(parents=True)
    monkeypatch.setenv("CINEREC_HOME", str(tmp_path / "home"))
    with zipfile.ZipFile(cache / "ml-1m.zip", "w") as z:
        z.writestr("ml-1m/ratings.dat", "1::1::5::978300760\n")
    _fails("ml-1m", r"ml-1m\.zip: sha256 checksum mismatch: expected a6898adb.*, got [0-9a-f]{64}", capsys)
    assert main(["data", "fetch", "ml-1m"]) == 2
    assert "checksum mismatch" in capsys.readouterr().err
    assert not (cache / "ml-1m").exists()


@pytest.mark.parametrize("name", ["u.data", "u.item"])
def test_empty_file(pristine, tmp_path, capsys, name: str) -> None:
    folder = _copy(pristine, "100k", tmp_path)
    (folder / name).write_bytes(b"")
    _fails(folder, re.escape(name) + r": empty file", capsys)


def test_header_only_ratings(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "csv", tmp_path)
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n")
    _fails(folder, r"ratings\.csv: no ratings", capsys)


@pytest.mark.parametrize("kind, name", [
    ("csv", "movies.csv"), ("csv-crlf", "movies.csv"), ("1m", "movies.dat"), ("100k", "u.item"),
])
def test_duplicate_movie_id(pristine, tmp_path, capsys, kind: str, name: str) -> None:
    folder = _copy(pristine, kind, tmp_path)
    first = 2 if kind.startswith("csv") else 1

    def duplicate(lines: list[bytes]) -> list[bytes]:
        return lines + [lines[first - 1]]

    _edit(folder / name, duplicate)
    n = len((folder / name).read_bytes().splitlines())
    _fails(folder, re.escape(name) + rf" line {n}: duplicate movie id \d+ \(first on line {first}\)", capsys)


@pytest.mark.parametrize("kind, name, blank", [
    ("csv", "movies.csv", rb'\1,"  ",\2'), ("csv-crlf", "movies.csv", rb"\1,,\2"), ("1m", "movies.dat", rb"\1::::\2"),
    ("100k", "u.item", rb"\1| |\2"),
])
def test_a_movie_without_a_title_is_refused_naming_its_line(pristine, tmp_path, capsys, kind, name, blank) -> None:
    # It was read, and shown as nothing: "movies most like , by model 'itemknn':".
    folder = _copy(pristine, kind, tmp_path)
    n = 4 if kind.startswith("csv") else 3
    pattern = {"movies.csv": rb"^(\d+),.*,([^,]*)$", "movies.dat": rb"^(\d+)::.*::(.*)$", "u.item": rb"^(\d+)\|[^|]*\|(.*)$"}

    def untitled(lines: list[bytes]) -> list[bytes]:
        end = b"\r\n" if lines[n - 1].endswith(b"\r\n") else b"\n"
        lines[n - 1] = re.sub(pattern[name], blank, lines[n - 1].rstrip(b"\r\n")) + end
        return lines

    _edit(folder / name, untitled)
    movie = re.match(rb"\d+", (folder / name).read_bytes().splitlines()[n - 1]).group().decode()
    _fails(folder, re.escape(name) + rf" line {n}: movie {movie} has no title", capsys)


def test_rated_movie_missing_from_the_movie_file(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "1m", tmp_path)
    _edit(folder / "ratings.dat", _set_line(2, b"1::987654::4::978300760\n"))
    _fails(folder, r"ratings\.dat line 2: movie id 987654 is not in movies\.dat", capsys)
    # Of two, the first line is named (a later one naming a smaller id was).
    _edit(folder / "ratings.dat", _set_line(4, b"1::887654::4::978300760\n"))
    _fails(folder, r"ratings\.dat line 2: movie id 987654 is not in movies\.dat", capsys)


def test_folder_without_movielens_files(tmp_path, capsys) -> None:
    (tmp_path / "notes.md").write_text("hello")
    _fails(tmp_path, r"no MovieLens files here .* and no ratings log", capsys)
    # A ratings.csv without movies.csv is a ratings log of one's own, not a broken release.
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4,1\n")
    ds = load(tmp_path)
    assert ds.info["format"] == "log" and len(ds.interactions) == 1
    # ... and a movies.dat without its ratings.dat partner is still named.
    dat = tmp_path / "dat"
    dat.mkdir()
    (dat / "ratings.dat").write_text("1::1::4::1\n")
    _fails(dat, r"ratings\.dat is there but movies\.dat is missing", capsys)


@pytest.mark.parametrize("kind, name", [("1m", "movies.dat"), ("csv", "movies.csv"), ("csv-crlf", "movies.csv")])
def test_a_movie_file_cut_short_inside_its_last_genre_is_named(pristine, tmp_path, capsys, kind, name) -> None:
    # It loaded, with a genre "Dr" (the start of "Drama") in the vocabulary.
    folder = _copy(pristine, kind, tmp_path)
    data = (folder / name).read_bytes()
    lines = data.count(b"\n")
    last = data.rstrip(b"\r\n").rsplit(b"\n", 1)[1]
    genre = last.rstrip(b"\r").rsplit(b"::" if kind == "1m" else b",", 1)[1].split(b"|")[-1]
    keep = len(data.rstrip(b"\r\n")) - len(genre) + min(2, len(genre) - 1)  # the genre's first letters
    (folder / name).write_bytes(data[:keep])
    _fails(folder, rf"{name} line {lines}: the file ends inside this line \(genre '{genre[:2].decode()}', the start of "
                   rf"'[^']+', and no line end\): it looks cut short", capsys)
    cut = data.rstrip(b"\r\n")
    (folder / name).write_bytes(cut[:len(cut) - len(genre)])  # cut after the separator: no genre at all
    _fails(folder, rf"{name} line {lines}: the file ends inside this line \(no genre, and no line end\)", capsys)
    (folder / name).write_bytes(cut)  # a whole last line without its line end reads as it is
    assert load(folder).n_items > 0


def test_not_a_zip(tmp_path, capsys) -> None:
    bogus = tmp_path / "ml-100k.zip"
    bogus.write_text("not a zip")
    _fails(bogus, r"not a folder, a zip file or a ratings log", capsys)


def test_an_unclosed_quote_in_movies_csv_is_named_there(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "csv", tmp_path)
    lines = (folder / "movies.csv").read_bytes().splitlines(keepends=True)
    movie_id = lines[19].split(b",", 1)[0]
    _edit(folder / "movies.csv", _set_line(20, movie_id + b',"Broken title (1999),Drama\n'))
    _fails(folder, r"movies\.csv line 20: the title's quote is not closed on its line", capsys)


def test_a_zip_holding_no_release_is_named_and_leaves_nothing_cached(tmp_path, monkeypatch, capsys) -> None:
    import zipfile

    monkeypatch.setenv("CINEREC_HOME", str(tmp_path / "home"))
    junk = tmp_path / "junk.zip"
    with zipfile.ZipFile(junk, "w") as z:
        z.writestr("readme.txt", "hello")
    _fails(junk, r"junk\.zip \(unpacked\): no MovieLens files here", capsys)
    local = tmp_path / "home" / "movielens" / "local"
    assert not local.exists() or list(local.iterdir()) == []
    (tmp_path / "cut.zip").write_bytes(junk.read_bytes()[:40])  # cut short
    _fails(tmp_path / "cut.zip", r"cut\.zip: not a folder, a zip file .*cut short or damaged", capsys)


def test_a_bad_line_in_a_zip_names_the_zip_not_the_cache(pristine, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CINEREC_HOME", str(tmp_path / "home"))
    folder = _copy(pristine, "100k", tmp_path)
    _edit(folder / "u.data", _set_line(5, b"1\t2\tx\t4\n"))
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f"ml-100k/{f.name}")
    _fails(bad, r"bad\.zip \(unpacked\)/ml-100k/u\.data line 5: rating 'x' is not a number", capsys)
    # Its unpacking is not kept: a mended zip has another digest, and this one stayed for good.
    local = tmp_path / "home" / "movielens" / "local"
    assert list(local.iterdir()) == []
    # What a killed unpacking of a zip left (SIGKILL: no cleanup ran) goes once stale.
    digest = download.file_digest(bad)[:16]
    stale = local / f".bad-{digest}.k1ll3d00.tmp"
    (stale / "ml-100k").mkdir(parents=True)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    _fails(bad, r"bad\.zip \(unpacked\)/ml-100k/u\.data line 5", capsys)
    assert list(local.iterdir()) == []


@pytest.mark.parametrize("text, pattern", [
    (b"-5\t7\t3\t881250949\n", r"u\.data line 5: user id -5 is negative$"),
    (b"12\t-7\t3\t881250949\n", r"u\.data line 5: movie id -7 is negative$"),
    (b"99999999999999999999999\t7\t3\t881250949\n", r"u\.data line 5: user '99999999999999999999999' is too large"),
    (b"12\t7\t3\t-5\n", r"u\.data line 5: timestamp -5 is before 1970$"),
    (b"12\t7\t3\t99999999999999\n", r"u\.data line 5: timestamp 99999999999999 is after the year 9999$"),
])
def test_ids_and_times_out_of_range_name_their_line(pristine, tmp_path, capsys, text: bytes, pattern: str) -> None:
    folder = _copy(pristine, "100k", tmp_path)
    _edit(folder / "u.data", _set_line(5, text))
    _fails(folder, pattern, capsys)


def test_a_bad_genre_flag_is_quoted_as_written(pristine, tmp_path, capsys) -> None:
    folder = _copy(pristine, "100k", tmp_path)
    _edit(folder / "u.item", lambda lines: [lines[0], lines[1], lines[2].rstrip(b"\r\n")[:-1] + b"x\n", *lines[3:]])
    _fails(folder, r"u\.item line 3: genre flag 19 is 'x', expected 0 or 1$", capsys)


def test_a_title_holding_the_separator_is_no_separator_hint(pristine, tmp_path, capsys) -> None:
    """u.item's titles hold spaces: a line with a '|' too many is not "space-separated"."""
    folder = _copy(pristine, "100k", tmp_path)
    _edit(folder / "u.item", lambda lines: [lines[0], lines[1].replace(b"|", b"|A | B|", 1), *lines[2:]])
    _fails(folder, r"u\.item line 2: expected 24 '\|'-separated fields, found 26$", capsys)


@pytest.mark.parametrize("kind, name, line, pattern", [
    ("100k", "u.user", b"2|999|F|other|94043\n", r"u\.user line 2: age 999 is outside 0-150"),
    ("100k", "u.user", b"2|-4|F|other|94043\n", r"u\.user line 2: age -4 is outside"),
    ("100k", "u.user", b"2|53||other|94043\n", r"u\.user line 2: the gender field is empty"),
    ("100k", "u.user", b"2|5x|F|other|94043\n", r"u\.user line 2: age '5x' is not an integer"),
    # an empty occupation or zip, or one u.occupation does not list, became a category of its own
    ("100k", "u.user", b"2|53|F||94043\n", r"u\.user line 2: the occupation field is empty"),
    ("100k", "u.user", b"2|53|F|astronaut|94043\n",
     r"u\.user line 2: occupation 'astronaut' is not one of the 21 that u\.occupation lists"),
    ("100k", "u.user", b"2|53|F|other|\n", r"u\.user line 2: the zip field is empty"),
    ("1m", "users.dat", b"2::M::56::16::\n", r"users\.dat line 2: the zip field is empty"),
    ("1m", "users.dat", b"2::M::560::16::70072\n", r"users\.dat line 2: age 560 is not one of ml-1m's age groups "
                                                   r"\(1, 18, 25, 35, 45, 50, 56\)"),
    ("1m", "users.dat", b"2::M::30::16::70072\n", r"users\.dat line 2: age 30 is not one of ml-1m's age groups"),
    ("1m", "users.dat", b"2::M::56::21::70072\n", r"users\.dat line 2: occupation code 21 is not 0-20"),
])
def test_a_damaged_user_line(pristine, tmp_path, capsys, kind, name, line, pattern) -> None:
    # Ages and genders went unchecked: an age of 999 joined the oldest bucket of the
    # two-tower model's features without a word.
    folder = _copy(pristine, kind, tmp_path)
    _edit(folder / name, _set_line(2, line))
    _fails(folder, pattern, capsys)


@pytest.mark.parametrize("kind, files", [("real", ("u.item", "u.user", "u.genre")),
                                         ("1m", ("movies.dat", "users.dat"))])
def test_small_files_saved_again_as_utf8_or_with_a_byte_order_mark_read_the_same(pristine, tmp_path, kind, files,
                                                                                  ml100k_dir):
    # u.item is Latin-1: re-saved as UTF-8 its "é" read as "Ã©"; a byte-order mark made
    # the first id of u.item, u.user, users.dat and movies.dat "not an integer".
    if kind == "real":
        folder = tmp_path / "ml-100k"
        folder.mkdir()
        for name in ("u.data", "u.item", "u.user", "u.genre"):
            shutil.copy(ml100k_dir / name, folder / name)
    else:
        folder = _copy(pristine, kind, tmp_path)
    original = load(folder)
    for name in files:
        path = folder / name
        raw = path.read_bytes()
        text = raw.decode("utf-8") if name == "movies.dat" and _is_utf8(raw) else raw.decode("latin-1")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    again = load(folder)
    assert again.catalog.titles.tolist() == original.catalog.titles.tolist()
    assert again.catalog.genre_names == original.catalog.genre_names
    assert kind != "real" or "Misérables, Les" in original.catalog.titles.tolist()  # accents read at all
    if original.user_features is not None:
        assert again.user_features.equals(original.user_features)


def test_a_release_file_in_utf8_but_for_one_stray_byte_keeps_its_utf8_letters(tmp_path, ml100k_dir):
    # One Latin-1 "é" left in a u.item re-saved as UTF-8 made the whole file Latin-1:
    # every other accented title read "MisÃ©rables"; and u.occupation was read apart,
    # its byte-order mark glued to the first occupation, so users holding it were refused.
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    for name in ("u.data", "u.item", "u.user", "u.genre", "u.occupation"):
        shutil.copy(ml100k_dir / name, folder / name)
    original = load(folder)
    lines = (folder / "u.item").read_bytes().decode("latin-1").split("\n")
    stray = next(i for i, line in enumerate(lines) if "é" in line and "Misérables" not in line)
    raw = [line.encode("latin-1") if i == stray else line.encode("utf-8") for i, line in enumerate(lines)]
    (folder / "u.item").write_bytes(b"\n".join(raw))
    (folder / "u.occupation").write_bytes(b"\xef\xbb\xbf" + (folder / "u.occupation").read_bytes())
    again = load(folder)
    assert again.catalog.titles.tolist() == original.catalog.titles.tolist()
    assert "Misérables, Les" in again.catalog.titles.tolist()
    assert again.user_features.equals(original.user_features)
    # As shipped, in Latin-1, a title holding "É»" (bytes that read as one UTF-8 letter)
    # is read as written: the file is Latin-1 throughout.
    lines[stray] = lines[stray].replace("é", "É»", 1)
    (folder / "u.item").write_bytes("\n".join(lines).encode("latin-1"))
    assert lines[stray].split("|")[1].rsplit(" (", 1)[0] in load(folder).catalog.titles.tolist()
    (folder / "u.occupation").write_bytes((folder / "u.occupation").read_text(encoding="utf-8-sig")
                                          .encode("utf-16"))
    with pytest.raises(DataError, match=r"u\.occupation: unreadable encoding \(UTF-16"):
        load(folder)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_a_folder_that_cannot_be_read_is_said_in_one_line(tmp_path) -> None:
    # A folder that cannot be entered ended in a PermissionError traceback (exit 1). Root
    # reads any folder, so as root the command runs without the capabilities that allow it.
    import subprocess
    import sys

    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root, and setpriv is not here to drop the right to read any folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "r.csv").write_text("user,item\na,b\n")
    locked.chmod(0)
    drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
           "CINEREC_HOME": str(tmp_path / "home")}
    try:
        for given, said in ((locked, f"{locked}: cannot be read (permission denied at {locked / 'u.data'})"),
                            (locked / "r.csv", f"{locked / 'r.csv'}: cannot be read (permission denied)")):
            done = subprocess.run([*drop, sys.executable, "-m", "cinerec", "data", "info", str(given), "-q"],
                                  env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 2 and done.stderr == f"cinerec: error: {said}\n", done.stderr
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("missing", ["ratings.csv", "movies.csv"])
def test_a_csv_release_missing_a_main_file_names_it(pristine, tmp_path, capsys, missing) -> None:
    # MovieLens's links.csv beside the other file marks a release: the missing file is
    # named (it blamed links.csv, read as a log with no user column), in a folder and a zip.
    folder = _copy(pristine, "csv", tmp_path)
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n")
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n1,1,funny,1445714994\n")
    (folder / missing).unlink()
    _fails(folder, rf"ml-latest-small: a MovieLens release \(it holds links\.csv\), but {re.escape(missing)} is missing",
           capsys)
    archive = tmp_path / "zips" / "ml-latest-small.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(folder.iterdir()):
            z.write(p, f"ml-latest-small/{p.name}")
    _fails(archive, rf"ml-latest-small\.zip \(unpacked\)/ml-latest-small: a MovieLens release \(it holds links\.csv\), "
                    rf"but {re.escape(missing)} is missing", capsys)


def test_a_lone_movie_file_names_its_missing_ratings(tmp_path, capsys) -> None:
    # A movies.dat or u.item alone said "no MovieLens files here".
    for movies, ratings in (("movies.dat", "ratings.dat"), ("u.item", "u.data")):
        folder = tmp_path / movies
        folder.mkdir()
        (folder / movies).write_text("1::Toy Story (1995)::Comedy\n" if movies == "movies.dat" else "1|Toy Story\n")
        _fails(folder, rf"{re.escape(movies)} is there but {re.escape(ratings)} is missing", capsys)
        # Beside a log of one's own, or in a folder beside a whole release, it is no part of them.
        (folder / "log.csv").write_text("user,item,rating\n1,10,5\n2,10,4\n")
        assert len(load(folder).interactions) == 2
        (folder / "log.csv").unlink()
        (folder / "_meta").mkdir()
        (folder / movies).rename(folder / "_meta" / movies)
        (folder / "log.csv").write_text("user,item,rating\n1,10,5\n")
        assert len(load(folder).interactions) == 1


def test_a_part_of_a_release_beside_a_whole_one_leaves_the_whole_one_found(pristine, tmp_path) -> None:
    whole = _copy(pristine, "csv", tmp_path)
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n")
    assert len(load(tmp_path).interactions) == len(load(whole).interactions)


def test_a_release_one_folder_deeper_is_found(pristine, tmp_path) -> None:
    # A zip holding download/ml-latest-small/... was "no MovieLens release", and so was the
    # folder it unzips to.
    folder = _copy(pristine, "csv", tmp_path / "data" / "download")
    archive = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(folder.iterdir()):
            z.write(p, f"download/ml-latest-small/{p.name}")
    expected = load(folder)
    for source in (archive, tmp_path / "data"):
        ds = load(source)
        assert ds.info["release"] == "ml-latest-small" and len(ds.interactions) == len(expected.interactions), source

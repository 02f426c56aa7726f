"""A person's own ratings log: any column names, string ids, optional ratings and catalogue."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cinerec.data.transforms import top_items
from cinerec.data.logs import load_log, parse_columns
from cinerec.errors import DataError, NotFoundError


def test_csv_with_string_ids_dates_and_seconds(tmp_path):
    (tmp_path / "log.csv").write_text("user,item,rating,ts\nann,m1,4,2021-03-04\nbob,m2,2.5,2021-03-05T10:00:00\n"
                                      "ann,m2,5,1614900000\n")
    ds = load_log(tmp_path / "log.csv")
    assert ds.user_ids.raw.tolist() == ["ann", "bob"] and ds.item_ids.raw.tolist() == ["m1", "m2"]
    x = ds.interactions
    assert x.users.tolist() == [0, 1, 0] and x.items.tolist() == [0, 1, 1]
    assert x.ratings.tolist() == [4.0, 2.5, 5.0]
    assert x.timestamps.tolist() == [1614816000, 1614938400, 1614900000]
    assert ds.info["implicit"] is False and ds.info["format"] == "log"
    assert ds.movie_record(0) == {"movie_id": "m1", "title": "m1", "year": None, "genres": []}


def test_a_log_without_ratings_is_implicit_and_numeric_ids_stay_numbers(tmp_path):
    (tmp_path / "views.tsv").write_text("userId\tmovieId\n7\t10\n3\t20\n7\t20\n")
    ds = load_log(tmp_path / "views.tsv")
    assert ds.info["implicit"] is True and (ds.interactions.ratings == 1).all()
    assert ds.user_ids.raw.tolist() == [3, 7] and ds.user_ids.raw.dtype == np.int64


def test_a_pair_logged_twice_keeps_its_latest_row_and_never_sits_on_both_sides_of_a_split(tmp_path):
    from cinerec.data.split import leave_last_out

    # ann re-rated m1 later (and once earlier in the file at a later time); bob's m2 twice in one second
    (tmp_path / "log.csv").write_text("user,item,rating,ts\nann,m1,3,10\nann,m2,4,20\nann,m1,5,30\nann,m1,1,5\n"
                                      "bob,m1,2,5\nbob,m2,1,6\nbob,m2,4,6\n")
    ds = load_log(tmp_path / "log.csv")
    x = ds.interactions
    rows = sorted(zip(ds.user_ids.raw[x.users], ds.item_ids.raw[x.items], x.ratings.tolist(), x.timestamps.tolist()))
    assert rows == [("ann", "m1", 5.0, 30), ("ann", "m2", 4.0, 20), ("bob", "m1", 2.0, 5), ("bob", "m2", 4.0, 6)]
    assert ds.info["duplicates_dropped"] == 3 and ds.describe()["duplicates_dropped"] == 3
    split = leave_last_out(ds.interactions)  # (two movies: too few for a protocol's lists)
    assert len(split.test) == 2 and split.train.seen.multiply(split.test.seen).nnz == 0


@pytest.mark.parametrize("times", [
    ("990.0", "1000.7", "1000.2", "1000.9", "1000.1"),  # seconds with their fraction
    ("1599999990000", "1600001000700", "1600001000200", "1600001000900", "1600001000100"),  # milliseconds
    ("1599999990000000000", "1600001000700000001", "1600001000700000000", "1600001000900000000",
     "1600001000100000000"),  # nanoseconds, one apart
    ("2021-03-04 09:00:00", "2021-03-04 10:00:00.700", "2021-03-04 10:00:00.200", "2021-03-04 10:00:00.9",
     "2021-03-04 10:00:00.1"),
])
def test_times_within_one_second_keep_their_order_as_written_not_the_files(tmp_path, times):
    from cinerec.data.split import leave_last_out

    # ann's latest is x1 and bob's x3, each written before an earlier time of the same second.
    # Kept to the second alone, the later file row was taken for the later rating.
    rows = [("ann", "x0"), ("ann", "x1"), ("ann", "x2"), ("bob", "x3"), ("bob", "x4")]
    (tmp_path / "log.csv").write_text("user,item,ts\n" + "".join(f"{u},{i},{t}\n" for (u, i), t in zip(rows, times)))
    ds = load_log(tmp_path / "log.csv")
    held = leave_last_out(ds.interactions).test
    assert sorted(ds.item_ids.raw[held.items].tolist()) == ["x1", "x3"]
    x = ds.interactions  # whole seconds kept; rows in other seconds where they were
    assert ds.item_ids.raw[x.items[0]] == "x0" and len(set(x.timestamps[1:].tolist())) == 1
    # A rating given twice in one second: the later of the two as written is kept.
    (tmp_path / "log.csv").write_text(f"user,item,rating,ts\nann,x1,5,{times[1]}\nann,x1,1,{times[2]}\n")
    assert load_log(tmp_path / "log.csv").interactions.ratings.tolist() == [5.0]


def test_a_time_before_1970_with_a_fraction_is_the_same_second_written_as_a_date_or_a_number(tmp_path):
    from cinerec.data.split import leave_last_out

    # -0.3 s as a date and -0.5 s as a number: the number was cut toward 0 (second 0), the
    # date down (second -1), and -0.5 s was taken for the later.
    (tmp_path / "log.csv").write_text("user,item,ts\nann,a,1969-12-31 23:59:59.7\nann,b,-0.5\nann,c,-5\n")
    ds = load_log(tmp_path / "log.csv")
    assert ds.interactions.timestamps.tolist() == [-1, -1, -5]
    held = leave_last_out(ds.interactions).test
    assert ds.item_ids.raw[held.items].tolist() == ["a"]


def test_named_columns_parquet_and_a_folder_of_files(tmp_path):
    pd.DataFrame({"who": ["a", "b"], "sku": [1, 2], "stars": [3.0, 4.0]}).to_parquet(tmp_path / "part-1.parquet")
    pd.DataFrame({"who": ["c"], "sku": [1], "stars": [5.0]}).to_parquet(tmp_path / "part-2.parquet")
    ds = load_log(tmp_path, columns=parse_columns("user=who,item=sku"))
    assert len(ds.interactions) == 3 and ds.n_users == 3 and ds.n_items == 2
    assert ds.interactions.ratings.tolist() == [3.0, 4.0, 5.0]  # "stars" is a usual rating name


def test_catalogue_gives_titles_years_and_genres(tmp_path):
    (tmp_path / "log.csv").write_text("user,movie,rating\n1,10,4\n1,20,3\n2,30,5\n")
    # Horror belongs to a movie nobody rated: no genre of this data (a menu offered it).
    (tmp_path / "movies.csv").write_text("id,title,genres\n10,Alpha (1999),Drama|Comedy\n20,Beta,Drama\n"
                                         "99,Unrated,Horror\n")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")
    assert ds.catalog.titles.tolist() == ["Alpha", "Beta", "30"]  # a movie missing from it shows its id
    assert ds.catalog.years.tolist() == [1999, 0, 0]
    assert ds.catalog.genre_names == ("Comedy", "Drama")
    assert ds.movie_record(0)["genres"] == ["Comedy", "Drama"]


@pytest.mark.parametrize("sep", [",", "\t"])
def test_catalogue_titles_and_genres_that_look_like_numbers_or_missing_values_are_kept_as_written(tmp_path, sep):
    # The columns' types were guessed from their values: "007" read as 7, every title
    # as "1917.0" once one was "9.5", and titles all "NA" or "null" as missing. A genres
    # cell of a missing-value mark alone is no genre, where it was a genre named "NA".
    (tmp_path / "log.csv").write_text("user,movie,rating\na,x,5\na,y,3\nb,x,4\nb,z,2\nc,z,5\n")
    for titles, genres, names in ((["007", "300", "1917"], ["1", "2", "3"], ["1", "2", "3"]),
                                  (["1917", "300", "9.5"], ["NA", "nan", "null"], []),
                                  (["NA", "null", "nan"], ["", "", ""], []),
                                  (["A", "B", "C"], ["None", " N/A ", "Drama|na"], ["Drama", "na"]),
                                  (["A", "B", "C"], ["<NA>", "#N/A", "NULL"], [])):
        rows = "".join(f"{m}{sep}{t}{sep}{g}\n" for m, t, g in zip("xyz", titles, genres))
        (tmp_path / "cat.txt").write_text(f"movie{sep}title{sep}genres\n{rows}")
        ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.txt")
        assert ds.catalog.titles.tolist() == titles
        assert sorted(ds.catalog.genre_names) == names


@pytest.mark.parametrize("written, read", [
    # A database's export: its quotes are part of the titles.
    ('id\ttitle\n10\t"Weird" Science (1985)\n20\tThe "Best" (2000)\n30\tO\'Hara, "Jr." (1990)\n',
     ['"Weird" Science', 'The "Best"', 'O\'Hara, "Jr."']),
    # pandas' and spreadsheets' export: a field with a quote is quoted as CSV does.
    ('id\ttitle\n10\t"""Weird"" Science (1985)"\n20\t"The ""Best"" (2000)"\n30\tO\'Hara (1990)\n',
     ['"Weird" Science', 'The "Best"', "O'Hara"]),
])
def test_a_tab_separated_catalogue_reads_its_quotes_as_it_wrote_them(tmp_path, written, read):
    (tmp_path / "log.tsv").write_text("user\tmovie\n1\t10\n1\t20\n2\t30\n")
    (tmp_path / "movies.tsv").write_text(written)
    ds = load_log(tmp_path / "log.tsv", catalog=tmp_path / "movies.tsv")
    assert ds.catalog.titles.tolist() == read and ds.catalog.years.tolist() == [1985, 2000, 1990]


def test_a_bad_line_of_a_tab_separated_file_with_quotes_in_its_text_is_named(tmp_path):
    (tmp_path / "log.tsv").write_text('user\tmovie\tnote\n1\t10\t"so" good\n1\t20\tok\tmore\n')
    with pytest.raises(DataError, match=r"log\.tsv line 3: 4 fields where the header has 3"):
        load_log(tmp_path / "log.tsv")


@pytest.mark.parametrize("text,needle", [
    ("user,item,rating\n1,2,4\n1,3,abc\n", "line 3: rating 'abc' is not a number"),
    ("user,movie,rating\n1,2,4\n,3,4\n", "line 3: no user id"),
    ("user,movie,rating\nu1,m2,4\nu1,m3,4\nu2,,4\n", "line 4: no item id"),  # a blank text id
    ("user,movie,rating\nu1,m2,4\n  ,m3,4\n", "line 3: no user id"),
    # R's NA, a database's NULL, pandas's NaN: each was a person or movie of its own
    ("userId,movieId,rating\n1,10,4\nNA,11,3\n", "line 3: no user id ('NA', as R, databases and pandas write a "
     "missing value); give each row its user's id"),
    ("user,item\nu1,NULL\nu2,m1\n", "line 2: no item id ('NULL'"),
    ("user,item\n  nan ,m2\nu2,m1\n", "line 2: no user id ('nan'"),
    ("user,item,ts\n1,2,2020-01-01\n1,3,yesterday-ish\n", "line 3: time 'yesterday-ish' is neither seconds nor a date"),
    # pandas reads these as the clock's time when read, or fills in a year not written from the year 1
    ("user,item,ts\n1,2,now\n1,3,2020-01-01\n", "line 2: time 'now' is neither seconds nor a date"),
    ("user,item,ts\n1,2,2020-01-01\n1,3, Today\n", "line 3: time ' Today' is neither seconds nor a date"),
    ("user,item,ts\n1,2,May\n1,3,June\n", "line 2: time 'May' is neither seconds nor a date (read as one, it falls in "
     "the year 1, which it does not name; write dates as YYYY-MM-DD)"),
    ("user,item,ts\n1,2,2020-01-01\n1,3,10am\n", "line 3: time '10am' is neither seconds nor a date (read as one"),
    ("user,item,ts\n1,2,10:30\n1,3,11:45:00\n", "line 2: time '10:30' is a clock time without its date"),
    ("user,item,ts\n1,2,2020-05-01\n1,3,10:30\n", "line 3: time '10:30' is neither seconds nor a date (a clock time "
     "without its date)"),
    ("user,item,ts\n1,2,2020-05-01\n1,3, 9:00 PM\n", "line 3: time ' 9:00 PM' is neither seconds nor a date"),
    ("user,item,ts\n1,2,T1\n1,3,T2\n", "line 2: time 'T1' is neither seconds nor a date"),
    # An empty or blank file said "no user column (... columns found: none)".
    ("", "no header line naming its columns (the file is empty or blank)"),
    ("\n \n\n", "no header line naming its columns (the file is empty or blank)"),
    ("who,what\n1,2\n", "no user column"),
    ("who,what\n1,2\n", "columns found: 'who', 'what'"),
    # One person's export (Letterboxd's) has no user column to name: said what it is, and the way to a list.
    ("Date,Name,Year,Letterboxd URI,Rating\n2020-01-01,Heat,1995,x,4.5\n", "if it holds one person's own ratings (an "
     "export such as Letterboxd's), it is no log to learn from: give them to a run trained on many people's, as "
     "someone new (open_run(RUN).recommend_for(ratings={ID: STARS, ...}))"),
    ("user,item,rating\n1,2,4\n1,3,\n", "line 3: no rating"),  # a blank cell: nothing written
    ("user,item,rating\n1,2,4\n1,3,NaN\n", "line 3: rating 'NaN' is not a number"),
    # Hexadecimal, which the fast reader took for a whole number (16, 1600000000), as 0b11 or 4_0 is not.
    ("user,item,rating\n1,2,3\n1,3,0x10\n2,2,5\n", "line 3: rating '0x10' is not a number"),
    ("user,item,rating,ts\n1,2,4,0x5F5E1000\n1,3,3,1000000001\n", "line 2: time '0x5F5E1000' is neither seconds"),
    ("user,item,rating,ts\n1,2,4,5\n1,3,4\n1,4,4,5\n", "line 3: 3 fields where the header has 4"),
    ('user,item,rating,ts\n1,10,4,100\n1,"11,1,1001011\n2,10,3,200\n2,11,5,300\n',
     'line 3: a quote (") opens a field that no quote closes'),
    ('user,item,rating,ts\n1,10,4,100\n1,11,4,"200\n', 'line 3: a quote (") opens a field that no quote closes'),
    # A time no calendar holds (it was stored as a garbage int64 and broke `data info`).
    ("user,item,ts\n1,2,1600000000\n1,3,1e20\n", "line 3: time 1e+20 is outside the years 1 to 9999 as seconds"),
    ("user,item,ts\n1,2,1600000000\n1,3,1600000000000\n", "line 3: time 1600000000000 is outside the years"),
    # Milliseconds with one time in seconds: that one is named, not the first millisecond time.
    ("user,item,ts\n1,2,1600000000000\n1,3,1600000001000\n1,4,1600000002\n", "line 4: time 1600000002 reads as "
     "seconds where most of the column's times are in a finer unit (such as 1600000000000): give every time in one unit"),
    # Milliseconds with one time in microseconds: read from the largest, every other time became 1970.
    ("user,item,ts\n1,2,1600000000000000\n1,3,1600000001000000\n1,4,1600000002000\n", "line 4: time 1600000002000 "
     "reads as a time in early 1970, where the column's latest is 1600000001000000: give every time in "
     "one unit"),
    ("user,item,ts\n1,2,1600000000000\n1,3,1600000001000\n1,4,1600000002000000\n1,5,1600000003000\n"
     "1,6,1600000009000000\n1,7,1600000004000\n",
     "line 4: time 1600000002000000 is a hundred times or more the column's other times (such as 1600000000000): "
     "give every time in one unit"),
    # Milliseconds from before 1973 read as seconds: said, with the way out.
    ("user,item,ts\n1,2,1600000000000\n1,3,1600000001000\n1,4,-56856630825\n", "line 4: time -56856630825 reads as "
     "seconds where most of the column's times are in a finer unit (such as 1600000000000): give every time in one "
     "unit (a log in milliseconds reads so before 1973: give it in seconds, or as dates)"),
    ("user,item,ts\n1,2,2020-01-01\n1,3,99999999999999999999\n", "line 3: time '99999999999999999999' is outside"),
    ("user,item,ts\n1,2,1500000000.5\n1,3,inf\n", "line 3: time inf is outside"),
    # A quote opened at the start of the last line read as a row of one field.
    ('user,item,rating\na,x,3\na,y,4\n"b,x,2\n', 'line 4: a quote (") opens a field that no quote closes'),
    ('user,item,rating\na,x,3\na,y,4\n"b,x,2', 'line 4: a quote (") opens a field that no quote closes'),
    ("user,item,rating\na,x,3\nb,y\n", "line 3: 2 fields where the header has 3"),
    ("user,item,rating\na,x,3\nb\n", "line 3: 1 field where the header has 3"),
    # A row over two lines whose quote closes, of the wrong width: its width, on its first
    # line (it was said to open a quote no quote closes).
    ('user,item,rating\na,x,3\n\nb,"y\nz",3,extra\nc,y,3\n', "line 4: 4 fields where the header has 3"),
    ('user,item,rating\na,x,3\nb,"y\nz"\nc,y,3\n', "line 3: 2 fields where the header has 3"),
    # Python's csv module spoke of "universal-newline mode"
    ("user,item,rating\r1,2,4\r1,3,5\r", "its lines end in a carriage return alone (an old Mac text file); save it "
     "with LF or CRLF line ends"),
    # true/false were read as the times 1 and 0; a clock time was shown as datetime.time(12, 30)
    ("user,item,rating,ts\na,x,4,true\nb,y,4,false\n", "line 2: time 'true' is neither seconds nor a date"),
    ("user,item,rating,ts\na,x,4,\nb,y,4,FALSE\n", "line 3: time 'FALSE' is neither seconds nor a date"),
    ("user,item,rating,ts\na,x,4,12:30\nb,y,5,13:45\n", "line 2: time '12:30' is a clock time without its date"),
    # true/false were read as 1 and 0 stars
    ("user,item,rating\na,x,true\nb,y,false\n", "line 2: rating 'true' is not a number"),
    ("user,item,rating\na,x,\nb,y,False\n", "line 3: rating 'False' is not a number"),
    # The value as written: 1e309 read as inf, and was named "rating inf is not a number".
    ("user,item,rating\na,x,3\nb,y,1e309\n", "line 3: rating '1e309' is too large to be a rating"),
    ("user,item,rating\na,x,3\nb,y,inf\n", "line 3: rating 'inf' is not a number"),
    ("user,item,rating\na,x,3\nb,y,-Infinity\n", "line 3: rating '-Infinity' is not a number"),
])
def test_bad_input_names_file_and_line(tmp_path, text, needle):
    f = tmp_path / "log.csv"
    f.write_text(text)
    with pytest.raises(DataError, match=re.escape(needle)) as e:
        load_log(f)
    assert str(f) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("text", ["", "\n \n\n"])
def test_an_empty_log_is_said_to_be_empty_with_its_columns_named_too(tmp_path, text):
    # With --columns it was "no column 'who' for the user (columns: )".
    f = tmp_path / "log.csv"
    f.write_text(text)
    with pytest.raises(DataError, match=re.escape(f"{f}: no header line naming its columns (the file is empty or "
                                                  "blank)")):
        load_log(f, columns="user=who,item=what")


def test_catalogue_genres_are_trimmed_and_one_whatever_their_case(tmp_path):
    # "Crime | Drama" made the genres " Drama" and "Crime ", and "drama" a third one: a genre
    # filter then matched only one of the spellings.
    (tmp_path / "log.csv").write_text("user,item,rating\na,15,4\na,56,5\nb,57,3\nb,58,2\n")
    (tmp_path / "movies.tsv").write_text("movieId\ttitle\tgenres\n15\tA (1995)\tDrama\n56\tB (1994)\tCrime | Drama\n"
                                         "57\tC (1990)\tdrama|CRIME||(no genres listed)\n58\tD (1990)\t\n")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.tsv")
    assert ds.catalog.genre_names == ("Crime", "Drama")
    assert [ds.movie_record(i)["genres"] for i in range(4)] == [["Drama"], ["Crime", "Drama"], ["Crime", "Drama"], []]


@pytest.mark.parametrize("unit", [1_000, 1_000_000, 1_000_000_000])
def test_times_in_milliseconds_or_finer_are_read_as_seconds(tmp_path, unit):
    (tmp_path / "log.tsv").write_text(f"user\titem\tts\na\tm1\t{1_600_000_000 * unit}\nb\tm2\t{1_600_000_001 * unit}\n")
    data = load_log(tmp_path / "log.tsv")
    assert data.interactions.timestamps.tolist() == [1_600_000_000, 1_600_000_001]
    # Found from the numbers' size alone, the unit is said (nothing said it).
    from cinerec.data.dataset import reading_notes

    name = {1_000: "milliseconds", 1_000_000: "microseconds", 1_000_000_000: "nanoseconds"}[unit]
    assert reading_notes(data) == [f"the times of {tmp_path / 'log.tsv'} are numbers too large to be seconds, so they "
                                   f"are read as {name} since 1970; if they are in another unit, give them in seconds "
                                   "or as dates"]
    (tmp_path / "log.tsv").write_text(f"user\titem\tts\na\tm1\t{1_600_000_000 * unit}.5\nb\tm2\t1600000001000\n")
    if unit == 1_000:  # (written with a fraction: the same, through the text reader)
        assert reading_notes(load_log(tmp_path / "log.tsv"))[0].endswith("read as milliseconds since 1970; if they "
                                                                       "are in another unit, give them in seconds or as dates")


def test_whole_milliseconds_from_before_1978_are_milliseconds_too(tmp_path):
    # Whole numbers between 10**11 and the year 9999 as seconds read as seconds (years 6097
    # to 9892), where the same times written with ".0" read as milliseconds (1974 to 1977).
    for written in ("130255264441", "130255264441.0"):
        (tmp_path / "log.csv").write_text(f"user,item,ts\na,x,{written}\nb,y,249999999999\n")
        assert load_log(tmp_path / "log.csv").interactions.timestamps.tolist() == [130255264, 249999999]
    # One odd value among seconds stays a time in seconds (as a float column reads it).
    (tmp_path / "log.csv").write_text("user,item,ts\na,x,1600000000\nb,y,160000000000\nc,y,1600000001\n")
    assert load_log(tmp_path / "log.csv").interactions.timestamps.tolist() == [1600000000, 160000000000, 1600000001]


def test_times_with_a_zone_beside_times_without_one_are_refused(tmp_path):
    # The ones without a zone were read as UTC: a 09:30 written in the same +02:00 clock as
    # the rest came out later than 10:00+02:00, and was held out as each person's latest.
    (tmp_path / "log.csv").write_text("user,item,ts\na,x,2021-03-04T10:00:00+02:00\na,y,2021-03-04T09:30:00\n"
                                      "b,x,2021-03-04T08:00:00Z\n")
    with pytest.raises(DataError, match=r"log\.csv line 2: time '2021-03-04T10:00:00\+02:00' names its time zone, and "
                                        r"line 3: '2021-03-04T09:30:00' does not; give every time with its zone, or "
                                        r"none \(times without one are read as UTC\)$"):
        load_log(tmp_path / "log.csv")
    # Every time with a zone (any zones), or none with one, read as ever.
    (tmp_path / "log.csv").write_text("user,item,ts\na,x,2021-03-04T10:00:00+02:00\na,y,2021-03-04T09:30:00.5 -0100\n"
                                      "b,x,2021-03-04T08:00:00Z\nb,y,2021-03-04 08:00 UTC\nc,x,1614816000\n")
    assert load_log(tmp_path / "log.csv").interactions.timestamps.tolist() == [1614844800, 1614853800, 1614844800,
                                                                               1614844800, 1614816000]
    (tmp_path / "log.csv").write_text("user,item,ts\na,x,2021-03-04T10:00:00\na,y,2021-03-04\n")
    assert load_log(tmp_path / "log.csv").interactions.timestamps.tolist() == [1614852000, 1614816000]
    # Zones written in the other ways pandas reads count as zones (they were refused as none).
    for a, b in (("2021-03-04 10:00 PM -05:00", "2021-03-04 10:00:00-05:00"),
                 ("Thu, 04 Mar 2021 10:00:00 GMT+0100", "2021-03-04T10:00:00Z"),
                 ("2021-03-04 10:00:00,5Z", "2021-03-04 10:00:00Z")):
        (tmp_path / "log.csv").write_text(f'user,item,ts\na,x,"{a}"\nb,y,"{b}"\n')
        assert len(load_log(tmp_path / "log.csv").interactions) == 2, (a, b)
    (tmp_path / "log.csv").write_text('user,item,ts\na,x,"2021-03-04 10:00 PM -05:00"\nb,y,2021-03-04 09:00 PM\n')
    with pytest.raises(DataError, match=r"names its time zone, and line 3: '2021-03-04 09:00 PM' does not"):
        load_log(tmp_path / "log.csv")


def test_dates_outside_the_years_nanoseconds_hold_are_read(tmp_path):
    # pandas' nanoseconds hold 1677 to 2262 only: 9999-12-31 (a common "no end" date) was a traceback.
    (tmp_path / "log.csv").write_text("user,item,ts\na,x,9999-12-31\na,y,1600-01-01\nb,x,1969-12-31 23:59:59.5\n"
                                      "b,y,1614816000\n")
    assert load_log(tmp_path / "log.csv").interactions.timestamps.tolist() == [253402214400, -11676096000, -1,
                                                                               1614816000]
    frame = pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"],
                          "ts": pd.to_datetime(["1500-01-01", "2021-03-04"]).as_unit("ms")})
    frame.to_parquet(tmp_path / "log.parquet")
    assert load_log(tmp_path / "log.parquet").interactions.timestamps.tolist() == [-14831769600, 1614816000]


def test_a_rating_column_of_true_and_false_in_parquet_is_refused(tmp_path):
    pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"], "rating": [None, True]}).to_parquet(tmp_path / "l.parquet")
    with pytest.raises(DataError, match=r"l\.parquet row 2: rating True is not a number"):
        load_log(tmp_path / "l.parquet")


def test_parquet_nulls_are_missing_ids_and_times_not_the_text_none(tmp_path):
    frames = {
        "item": (pd.DataFrame({"user": ["a", "b", "c"], "item": ["m1", None, "m3"], "rating": [4, 3, 5]}), "row 2: no item id"),
        "user": (pd.DataFrame({"user": ["a", None], "item": ["m1", "m2"], "rating": [4, 3]}), "row 2: no user id"),
        "time": (pd.DataFrame({"user": ["a", "b"], "item": ["m1", "m2"],
                               "ts": pd.to_datetime(["2020-01-01", None])}), "row 2: no time"),
        # (it was "rating '' is not a number": nothing was written there)
        "rating": (pd.DataFrame({"user": ["a", "b"], "item": ["m1", "m2"], "rating": [4.0, None]}), "row 2: no rating"),
    }
    for name, (frame, needle) in frames.items():
        path = tmp_path / f"{name}.parquet"
        frame.to_parquet(path)
        with pytest.raises(DataError, match=re.escape(f"{path} {needle}")):
            load_log(path)


def test_a_catalogue_of_a_header_alone_is_refused(tmp_path):
    # It was taken, matching none of the log's movies, where a catalogue matching none is refused.
    (tmp_path / "log.csv").write_text("user,item\na,x\n")
    for text in ("id,title\n", "id,title"):  # (with no line end after it, it was the reader's "Empty CSV file")
        (tmp_path / "movies.csv").write_text(text)
        with pytest.raises(DataError, match=r"catalog .*movies.csv: no movies in it \(a header alone\)"):
            load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")
    for name, text in (("a.csv", "user,item,rating\n"), ("b.csv", "user,item,rating"), ("c.tsv", "user\titem\n"),
                       ("d.tsv", "user\titem")):  # a log of a header alone
        (tmp_path / name).write_text(text)
        with pytest.raises(DataError, match=rf"{name}: the log holds no rows$"):
            load_log(tmp_path / name)


@pytest.mark.parametrize("cell", ["", "  "])
def test_an_empty_date_cell_is_no_time_not_none(tmp_path, cell):
    # "time None is neither seconds nor a date": Python's None, where the file has nothing.
    (tmp_path / "log.csv").write_text(f"user,item,date\na,x,2021-03-04\nb,y,{cell}\n")
    with pytest.raises(DataError, match=r"log.csv line 3: no time$"):
        load_log(tmp_path / "log.csv")


@pytest.mark.parametrize("text", ["id,title\nm1,Alpha\n,Beta\n", "id,title\nm1,Alpha\n  ,Beta\n", "id,title\n1,Alpha\n,Beta\n"])
def test_catalogue_row_without_an_id_is_refused(tmp_path, text):
    (tmp_path / "log.csv").write_text("user,movie,rating\n1,m1,4\n")
    (tmp_path / "movies.csv").write_text(text)
    with pytest.raises(DataError, match=r"movies.csv line 3: no movie id"):
        load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")


@pytest.mark.parametrize("text,needle", [
    ("id,title,year\n1,Alpha,nineteen\n", "line 2: year 'nineteen' is not a whole number"),
    ("id,title,year\n1,Alpha,1999\n2,Beta,1999.5\n", "line 3: year 1999.5 is not a whole number"),
    ("id,title,year\n1,Alpha,0x7CF\n2,Beta,1999\n", "line 2: year '0x7CF' is not a whole number"),  # not 1999
    ("id,title,year\n1,Alpha,NA\n2,Beta,1999\n3,Gamma,0x7CF\n", "line 4: year '0x7CF'"),  # (NA stays unknown)
    ("id,title\n1,Alpha\n2, \n", "line 3: movie 2 has no title"),
    ("id,title\n1,Alpha\n1,Beta\n", "line 3: movie id 1 has title 'Beta' here and 'Alpha' on "),  # not np.int64(1)
    ('id,title\n1,Alpha\n2,"Beta (1991)\n3,Gamma\n4,Delta\n', "line 3: the title of movie 2 runs over several lines"),
    ("title,genres\nAlpha,Drama\n", "no item column"),
    # the year as written: a blank cell made the column floats, and 12000 was "12000.0"
    ("id,title,year\n1,Alpha,\n2,Beta,12000\n", "line 3: year 12000 is not a year"),
    ("id,title,year\n1,Alpha,\n2,Beta,-5\n", "line 3: year -5 is not a year"),
    # cells a reader takes for dates, quoted as written, not as datetime.date(1995, 1, 1)
    ("id,title,year\n1,Alpha,1995-01-01\n2,Beta,1996-03-04\n", "line 2: year '1995-01-01' is a date, not a year: "
                                                                 "give the year alone (1995)"),
    ("id,title,year\n1,Alpha,\n2,Beta,1996-03-04 10:00:00\n", "line 3: year '1996-03-04 10:00:00' is a date"),
])
def test_bad_catalogue_names_file_and_line(tmp_path, text, needle):
    (tmp_path / "log.csv").write_text("user,movie,rating\n1,1,4\n")
    (tmp_path / "movies.csv").write_text(text)
    with pytest.raises(DataError, match=re.escape(needle)) as e:
        load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")
    assert "ratings log" not in str(e.value) and "--columns" not in str(e.value)
    # a blank year is an unknown one, not an error
    (tmp_path / "movies.csv").write_text("id,title,year\n1,Alpha,\n")
    assert load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv").catalog.years.tolist() == [0]


@pytest.mark.parametrize("columns,needle", [
    ("user=who,item=who", "the column 'who' cannot be both the user and the item"),
    ("user=who,item=what,user=when", "the user column is named twice"),
])
def test_a_column_serves_one_role(columns, needle):
    with pytest.raises(DataError, match=needle):
        parse_columns(columns)


def test_a_column_whose_name_holds_a_comma_can_be_named(tmp_path):
    # The note said to name it with --columns rating=NAME, which refused the name's comma
    # ("expected role=column pairs").
    assert parse_columns("user=who,rating=Stars (out of 5, halves),item=sku") == {
        "user": "who", "rating": "Stars (out of 5, halves)", "item": "sku"}
    (tmp_path / "log.csv").write_text('userId,movieId,"Stars (out of 5, halves)"\n1,10,4.5\n2,10,3\n')
    ds = load_log(tmp_path / "log.csv", columns=parse_columns("rating=Stars (out of 5, halves)"))
    assert ds.interactions.ratings.tolist() == [4.5, 3.0]
    with pytest.raises(DataError, match="expected role=column pairs"):
        parse_columns("user=who,")
    with pytest.raises(DataError, match="expected role=column pairs"):
        parse_columns("user=who,,item=sku")
    with pytest.raises(DataError, match="unknown role 'movie-id'"):  # (not folded into the user's column's name)
        parse_columns("user=who,movie-id=sku")


def test_a_spreadsheets_separator_hint_above_the_header_says_to_delete_it(tmp_path):
    # Excel's "sep=," line was taken for a header of one column ("add a header line above it").
    (tmp_path / "log.csv").write_bytes(b"\xef\xbb\xbfsep=,\r\nuser,item,rating\r\nu1,m1,4\r\n")
    with pytest.raises(DataError, match=r"log\.csv: line 1, 'sep=,', is a spreadsheet's hint of its separator, not "
                                        r"the header naming the columns: delete that line$"):
        load_log(tmp_path / "log.csv")


def test_names_that_spell_no_missing_value_and_a_braced_header_are_read(tmp_path):
    # "Nan" and "Na" are people's names, not R's NA; a header of {user} is no JSON.
    (tmp_path / "names.csv").write_text("user,item,rating\nAnn,Up,4\nNan,Up,3\nNa,Heat,2\n")
    assert sorted(load_log(tmp_path / "names.csv").user_ids.raw.tolist()) == ["Ann", "Na", "Nan"]
    (tmp_path / "brace.csv").write_text("{user},{item},{rating}\n1,2,3\n2,3,4\n")
    assert len(load_log(tmp_path / "brace.csv", columns=parse_columns("user={user},item={item},rating={rating}"))
               .interactions) == 2


def test_a_named_column_cannot_take_a_column_found_by_its_usual_name(tmp_path):
    (tmp_path / "log.csv").write_text("user,item\n1,2\n")
    with pytest.raises(DataError, match="the column 'item' cannot be both the user and the item") as e:
        load_log(tmp_path / "log.csv", columns={"user": "item"})
    assert "cannot read it" not in str(e.value)


def test_bad_sources_and_column_names(tmp_path):
    with pytest.raises(NotFoundError):
        load_log(tmp_path / "nope.csv")
    (tmp_path / "notes.md").write_text("hi")
    with pytest.raises(DataError, match="not a ratings log"):
        load_log(tmp_path / "notes.md")
    with pytest.raises(DataError, match="unknown role 'users'"):
        parse_columns("users=a")
    (tmp_path / "log.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="no column 'uid' for the user"):
        load_log(tmp_path / "log.csv", columns={"user": "uid", "item": "b"})


def test_ids_numbers_in_one_file_and_text_in_another_read_as_text(tmp_path):
    folder = tmp_path / "log"
    folder.mkdir()
    (folder / "a.csv").write_text("user,item,rating\n1,10,4\n2,10,3\n")
    (folder / "b.csv").write_text("user,item,rating\nzoe,10,5\n1,11,2\n")
    ds = load_log(folder)
    assert ds.user_ids.raw.tolist() == ["1", "2", "zoe"]  # sorted as text
    assert ds.item_ids.raw.tolist() == [10, 11]  # numbers in every file stay numbers
    assert ds.user_ids.to_raw(ds.interactions.users).tolist() == ["1", "2", "zoe", "1"]
    assert ds.interactions.ratings.tolist() == [4, 3, 5, 2]


def test_text_ids_sort_in_code_point_order_and_rows_keep_their_order(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text("user\titem\nb\tÉclair\na\tzebra\nb\tapple\n")
    ds = load_log(path)
    assert ds.user_ids.raw.tolist() == ["a", "b"]
    assert ds.item_ids.raw.tolist() == sorted(["Éclair", "zebra", "apple"])
    assert ds.item_ids.to_raw(ds.interactions.items).tolist() == ["Éclair", "zebra", "apple"]
    assert ds.info["implicit"] is True


def test_ids_keep_their_spelling_and_only_exact_numbers_become_numbers(tmp_path):
    """Zero-padded ids stay text as written (never merged with the unpadded number), and a
    catalogue matches them by the same spelling; plain numbers are still numbers."""
    (tmp_path / "log.csv").write_text("user,item,rating\n007,0042,4\n7,42,3\n007,42,5\n")
    (tmp_path / "movies.csv").write_text("id,title\n0042,Padded\n42,Plain\n")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")
    assert ds.n_users == 2 and ds.n_items == 2
    assert sorted(ds.user_ids.raw.tolist()) == ["007", "7"]
    titles = {ds.item_ids.raw[i]: ds.catalog.titles[i] for i in range(ds.n_items)}
    assert titles == {"0042": "Padded", "42": "Plain"}
    (tmp_path / "plain.csv").write_text("user,item,rating\n1,10,4\n2,20,3\n")
    (tmp_path / "plain-movies.csv").write_text("id,title\n10,Ten\n20,Twenty\n")
    ds = load_log(tmp_path / "plain.csv", catalog=tmp_path / "plain-movies.csv")
    assert ds.user_ids.raw.dtype == np.int64 and ds.item_ids.raw.tolist() == [10, 20]
    assert ds.catalog.titles.tolist() == ["Ten", "Twenty"]


def test_a_catalogue_sharing_no_id_with_the_log_is_refused_and_a_partial_one_counted(tmp_path):
    (tmp_path / "log.csv").write_text("user,movie,rating\n1,sku1,4\n1,sku2,3\n")
    (tmp_path / "movies.csv").write_text("id,title\n1,Alpha\n2,Beta\n")  # another id scheme
    with pytest.raises(DataError, match=r"none of its 2 movie ids is a movie of the log .*'sku1'.*1"):
        load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")
    (tmp_path / "movies.csv").write_text("id,title\nsku1,Alpha\n3,Gamma\n")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")
    assert ds.describe()["catalog_matched"] == 1 and ds.catalog.titles.tolist() == ["Alpha", "sku2"]


def test_a_log_holding_titles_beside_its_ratings_is_its_own_catalogue(tmp_path):
    # A log joined with its movie file (userId,movieId,rating,timestamp,title,genres): its
    # titles showed nowhere, and as --catalog it was refused ("movie id 10 appears twice").
    (tmp_path / "log.csv").write_text("userId,movieId,rating,timestamp,title,genres,name\n"
                                      "1,10,4,5,Alpha (1999),Drama|Comedy,ann\n1,20,3,6,Beta,Drama,ann\n"
                                      "2,10,5,7,Alpha (1999),Drama|Comedy,bob\n")
    for catalog, columns in ((None, None), (tmp_path / "log.csv", "title=title")):
        ds = load_log(tmp_path / "log.csv", catalog=catalog, columns=columns)
        assert ds.catalog.titles.tolist() == ["Alpha", "Beta"] and ds.catalog.years.tolist() == [1999, 0]
        assert ds.catalog.genre_names == ("Comedy", "Drama") and ds.movie_record(0)["genres"] == ["Comedy", "Drama"]
        assert ds.describe()["catalog_matched"] == 2 and ds.describe()["catalog_items"] == 2
        assert len(ds.interactions.users) == 3


def test_a_catalogue_may_list_a_movie_again_alike_and_refuses_it_otherwise_naming_both_lines(tmp_path):
    # Alike: the same title, genres in any order or case, a blank year or genres filled by another row's.
    (tmp_path / "log.csv").write_text("user,item,rating\na,1,4\nb,2,5\n")
    (tmp_path / "movies.csv").write_text("id,title,genres,year\n1,Alpha,Drama|War,\n2,Beta,,\n1,Alpha,war|Drama,1990\n"
                                         "2,Beta,Comedy,\n1,Alpha,(no genres listed),1990\n")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")
    assert ds.catalog.titles.tolist() == ["Alpha", "Beta"] and ds.catalog.years.tolist() == [1990, 0]
    assert ds.movie_record(0)["genres"] == ["Drama", "War"] and ds.movie_record(1)["genres"] == ["Comedy"]
    assert ds.describe()["catalog_items"] == 2
    for rows, needle in [("1,Alpha,,1991\n", "movies.csv line 7: movie id 1 has year 1991 here and 1990 on "),
                         ("1,Alpha,Horror,\n", "movies.csv line 7: movie id 1 has genres 'Horror' here and 'Drama|War'"),
                         ("1,Alpha 2,,\n", "movies.csv line 7: movie id 1 has title 'Alpha 2' here and 'Alpha' on ")]:
        (tmp_path / "movies.csv").write_text("id,title,genres,year\n1,Alpha,Drama|War,\n2,Beta,,\n"
                                             "1,Alpha,war|Drama,1990\n2,Beta,Comedy,\n\n" + rows)
        with pytest.raises(DataError, match=re.escape(needle) + r".*movies\.csv line (2|4)"):
            load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")


def test_a_genre_is_spelt_as_most_movies_spell_it(tmp_path):
    # A log whose first row of a movie wrote "drama" named the genre so beside "Comedy".
    (tmp_path / "log.csv").write_text("user,item,rating,title,genres\na,1,4,Alpha,drama | comedy\nb,1,3,Alpha,Comedy|Drama\n"
                                      "b,2,5,Beta,Drama\nc,3,2,Gamma,Comedy|Drama\nc,4,2,Delta,Comedy\n")
    ds = load_log(tmp_path / "log.csv")
    assert ds.catalog.genre_names == ("Comedy", "Drama") and ds.movie_record(0)["genres"] == ["Comedy", "Drama"]


def test_a_logs_own_title_column_that_does_not_serve_leaves_ids_shown_and_says_why(tmp_path):
    from cinerec.data.dataset import catalog_notes

    # A log's "title" may be something else (a review's): the log still reads, with ids for titles.
    (tmp_path / "log.csv").write_text("user,item,rating,title\na,1,4,Good\nb,1,3,Great\nb,2,5,Meh\n")
    ds = load_log(tmp_path / "log.csv")
    assert ds.catalog.titles.tolist() == ["1", "2"] and len(ds.interactions.users) == 3
    (note,) = catalog_notes(ds)
    assert note.startswith("the log's title column is left unread, and its genres and years with it, so movies "
                           "show their ids (") and \
        "line 3: movie id 1 has title 'Great' here and 'Good' on " in note and "--columns title=NAME" in note
    # A year or genres column that varies by rating is left unread alone; a row without a
    # title (a left join's) names nothing, and its movie shows its id unless another row names it.
    (tmp_path / "log.csv").write_text("user,item,rating,title,year,genres\na,1,4,Alpha (1990),2001,Drama\n"
                                      "b,1,3,Alpha (1990),2003,Comedy\nb,2,5,,,\nc,3,1,,,\nc,2,2,Beta,,\n")
    ds = load_log(tmp_path / "log.csv")
    assert ds.catalog.titles.tolist() == ["Alpha", "Beta", "3"] and ds.catalog.years.tolist() == [1990, 0, 0]
    assert ds.catalog.genre_names == ()
    notes = catalog_notes(ds)
    assert [n.split(" (")[0] for n in notes] == [
        "the log's year column is left unread: it does not hold one year per movie",
        "the log's genres column is left unread: it does not hold one genres per movie",
        "the log's titles name 2 of the 3 movies; the other one shows its id for a title"], notes
    assert "log.csv line 3: movie id 1 has year 2003 here and 2001 on " in notes[0]
    # A year column that is no years leaves itself unread, not the titles (it blamed the title column).
    (tmp_path / "log.csv").write_text("user,item,rating,title,year\na,1,4,Alpha (1990),abc\nb,2,3,Beta,\n")
    ds = load_log(tmp_path / "log.csv")
    assert ds.catalog.titles.tolist() == ["Alpha", "Beta"] and ds.catalog.years.tolist() == [1990, 0]
    assert catalog_notes(ds) == [f"the log's year column is left unread ({tmp_path / 'log.csv'} line 2: year 'abc' is "
                                 "not a whole number)"]
    # --columns names the log's own column of titles, where another could be it too.
    (tmp_path / "log.csv").write_text("user,item,rating,Title,name\na,1,4,Alpha,ann\nb,2,5,Beta,bob\n")
    with pytest.raises(DataError, match="could both be the title; name the one to use with columns=\\{'title': NAME\\}"):
        load_log(tmp_path / "log.csv", catalog=tmp_path / "log.csv")
    ds = load_log(tmp_path / "log.csv", columns="title=Title")
    assert ds.catalog.titles.tolist() == ["Alpha", "Beta"] and catalog_notes(ds) == []
    # ... read as leniently as a column found by its name (a title given twice stopped the run).
    (tmp_path / "log.csv").write_text("user,item,rating,Title,name\na,1,4,Alpha,ann\nb,1,5,Alfa,bob\n")
    ds = load_log(tmp_path / "log.csv", columns="title=Title")
    assert ds.catalog.titles.tolist() == ["1"] and "movie id 1 has title 'Alfa' here" in catalog_notes(ds)[0]


def test_a_folder_of_logs_takes_titles_from_those_that_hold_them(tmp_path):
    pd.DataFrame({"user": ["a", "b"], "item": ["m1", "m2"], "rating": [4.0, 3.0],
                  "title": ["Alpha (1990)", "Beta"]}).to_parquet(tmp_path / "part-1.parquet")
    (tmp_path / "part-2.csv").write_text("user,item,rating\nc,m3,5\nc,m1,2\n")
    ds = load_log(tmp_path)
    assert ds.item_ids.raw.tolist() == ["m1", "m2", "m3"]
    assert ds.catalog.titles.tolist() == ["Alpha", "Beta", "m3"] and ds.catalog.years.tolist() == [1990, 0, 0]
    assert ds.describe()["catalog_matched"] == 2
    from cinerec.data.dataset import catalog_notes

    assert catalog_notes(ds) == ["the log's titles name 2 of the 3 movies; the other one shows its id for a title "
                                 "(their rows have no title, or sit in files without a title column)"]


def test_a_log_without_a_catalogue_reports_no_catalogue_counts(tmp_path):
    (tmp_path / "log.csv").write_text("user,item\na,1\nb,2\n")
    facts = load_log(tmp_path / "log.csv").describe()
    assert "catalog_items" not in facts and "catalog_matched" not in facts and facts["items"] == 2


def test_the_catalogue_count_follows_the_filters(tmp_path):
    (tmp_path / "log.csv").write_text("user,movie,rating\n1,a,4\n2,a,3\n3,a,5\n1,b,4\n2,b,2\n1,c,3\n")
    (tmp_path / "movies.csv").write_text("id,title\na,Alpha\nc,Gamma\nz,Zeta\n")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")
    assert ds.describe()["catalog_matched"] == 2
    top = top_items(ds, 2)  # a and b stay; the catalogue names only a of them
    assert top.describe()["catalog_matched"] == 1 and top.describe()["items"] == 2
    assert top_items(ds, 1).describe()["catalog_matched"] == 1


def test_a_log_without_repeats_reports_no_duplicates(tmp_path):
    (tmp_path / "log.csv").write_text("user,item\na,1\na,2\nb,1\n")
    ds = load_log(tmp_path / "log.csv")
    assert len(ds.interactions) == 3 and "duplicates_dropped" not in ds.info


def test_two_columns_that_could_be_the_user_are_refused_until_one_is_named(tmp_path):
    (tmp_path / "log.csv").write_text("userId,user,movieId,rating\n1,a,2,3\n2,b,2,4\n")
    with pytest.raises(DataError, match=r"columns 'userId' and 'user' could both be the user; name the one to use "
                                        r"with columns=\{'user': NAME\}"):
        load_log(tmp_path / "log.csv")
    ds = load_log(tmp_path / "log.csv", columns={"user": "user"})
    assert ds.user_ids.raw.tolist() == ["a", "b"]


def test_columns_from_python_are_checked_as_the_flag_is(tmp_path):
    (tmp_path / "log.csv").write_text("who,sku,stars\na,1,4\nb,2,5\n")
    with pytest.raises(DataError, match=r"columns: unknown role 'usr'"):
        load_log(tmp_path / "log.csv", columns={"usr": "who"})
    ds = load_log(tmp_path / "log.csv", columns="user=who,item=sku")
    assert ds.user_ids.raw.tolist() == ["a", "b"]


def test_a_catalogue_that_is_a_folder_is_named_as_such(tmp_path):
    (tmp_path / "log.csv").write_text("user,item\na,1\n")
    (tmp_path / "movies").mkdir()
    with pytest.raises(DataError, match=r"catalog .*movies: not a file \(a folder, device or pipe\)"):
        load_log(tmp_path / "log.csv", catalog=tmp_path / "movies")


def test_a_folder_of_ratings_csv_and_movies_csv_with_ids_of_ones_own_reads_as_a_log(tmp_path):
    # Read as an unnamed MovieLens release, "00051" became movie 51 and "Anna 244" was refused.
    from cinerec.data import load

    for name, users, movies in (("zeros", ["244", "245"], ["00051", "00052"]), ("text", ["Anna 244", "Bob"], ["51", "52"])):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(
            f"{u},{m},4,88060692{i}\n" for i, (u, m) in enumerate(zip(users, movies))))
        (folder / "movies.csv").write_text("movieId,title,genres\n" + "".join(
            f"{m},Movie {m} (1999),Drama\n" for m in movies))
        ds = load(folder)
        assert ds.info["format"] == "log" and [str(v) for v in ds.item_ids.raw] == movies
        assert [str(v) for v in ds.user_ids.raw] == users and ds.movie_record(0)["year"] == 1999
        assert ds.name == name  # the folder's name, as for any folder of logs (it was "ratings")
    # ratings.csv is read alone there: another part beside it, or a workbook, was left out
    # without a word (the folder read as ratings.csv's ratings alone)
    import gzip

    folder = tmp_path / "text"
    (folder / "tags.csv").write_text("userId,movieId,tag\nBob,52,fun\n")  # (no part of the ratings)
    (folder / "ratings.txt").write_text("notes on these ratings\n")  # (nor notes)
    assert len(load(folder).interactions) == 2
    for part, data in (("ratings-2.csv", b"userId,movieId,rating\nCy,51,3\n"),
                       ("ratings.csv.gz", gzip.compress(b"userId,movieId,rating\nCy,51,3\n")),
                       ("more.xlsx", b"PK\x03\x04")):
        (folder / part).write_bytes(data)
        with pytest.raises(DataError, match=rf"{re.escape(part)}: beside ratings\.csv, which is read alone as this "
                                            r"folder's log \(movies\.csv its catalogue\), so it would be left out"):
            load(folder)
        (folder / part).unlink()


def _plain_release(folder, movies: int, users: int, every: int, last: str):
    """A folder in ml-latest's layout with plain ids (movies 1..movies, each user rating
    every ``every``-th), ``movies.csv`` ending in the line ``last``."""
    folder.mkdir()
    (folder / "movies.csv").write_text("movieId,title,genres\n" + "".join(
        f"{m},Movie {m} (1999),Drama\n" for m in range(1, movies + 1)) + last)
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{m},4,88060692{m % 10}\n" for u in range(1, users + 1) for m in range(1, movies + 1, every)))
    return folder


def test_one_damaged_id_in_an_unnamed_release_is_named_not_read_as_a_log(tmp_path):
    # One odd id among plain numbers turned the whole folder into a log of one's own, which
    # then kept 'x7' as a movie: the damaged line went unnoticed.
    from cinerec.data import load

    folder = _plain_release(tmp_path / "mydata", movies=200, users=5, every=3, last="x7,Broken (2000),Drama\n")
    with pytest.raises(DataError, match=r"movies.csv line 202: movie id 'x7' is not an integer .*give the file "
                                         r".*ratings.csv with --catalog .*movies.csv"):
        load(folder)
    ds = load_log(folder / "ratings.csv", catalog=folder / "movies.csv")
    assert ds.info["format"] == "log" and ds.info["catalog_items"] == 201


def test_a_header_written_twice_in_a_small_release_is_named_not_read_as_a_log(tmp_path):
    # In 13 movies one odd row is more than one in a hundred: the folder became a log and
    # its catalogue held a movie "movieId" titled "title".
    from cinerec.data import load

    folder = _plain_release(tmp_path / "small", movies=13, users=3, every=1, last="movieId,title,genres\n")
    with pytest.raises(DataError, match=r"movies.csv line 15: movie id 'movieId' is not an integer"):
        load(folder)


def test_a_folder_whose_files_differ_in_columns_names_the_files(tmp_path):
    (tmp_path / "a.csv").write_text("user,item,rating\n1,2,4\n")
    (tmp_path / "b.csv").write_text("user,item\n1,3\n")
    with pytest.raises(DataError, match=r"b.csv has no rating column and a.csv has one"):
        load_log(tmp_path)


def test_the_catalogues_columns_can_be_named_like_the_logs(tmp_path):
    # A catalogue with its own column names was refused with "rename that column".
    (tmp_path / "log.csv").write_text("who,sku,stars\na,m1,4\nb,m2,5\na,m2,3\n")
    (tmp_path / "cat.csv").write_text("sku,movie_title,tags,released\nm1,Alpha,Drama|Comedy,1999\nm2,Beta,Drama,2001\n")
    columns = "user=who,item=sku,rating=stars,title=movie_title,genres=tags,year=released"
    ds = load_log(tmp_path / "log.csv", columns=columns, catalog=tmp_path / "cat.csv")
    assert ds.movie_record(0) == {"movie_id": "m1", "title": "Alpha", "year": 1999, "genres": ["Comedy", "Drama"]}
    with pytest.raises(DataError, match=r"cat.csv: no title column .*name it with columns=\{'title': NAME\}"):
        load_log(tmp_path / "log.csv", columns="user=who,item=sku,rating=stars", catalog=tmp_path / "cat.csv")
    # Its id column not named as the log's item column: which names would do is said, the
    # log's among them (it said "rename that column", the log's name not among those listed).
    (tmp_path / "cat2.csv").write_text("code,movie_title\nm1,Alpha\nm2,Beta\n")
    with pytest.raises(DataError, match=r"cat2.csv: no item column \(looked for sku, item, itemid, .*; rename its id "
                                        r"column to one of those; columns found: 'code', 'movie_title'\)"):
        load_log(tmp_path / "log.csv", columns=columns, catalog=tmp_path / "cat2.csv")
    # Without --catalog they name the log's own columns: here it has none of them.
    with pytest.raises(DataError, match=r"log.csv: no column 'movie_title' for the title \(columns: who, sku, stars\)"):
        load_log(tmp_path / "log.csv", columns=columns)


def test_a_catalogue_without_a_genres_column_by_its_usual_name_says_which_columns_were_left_unread(tmp_path, capsys):
    # Its genres under another name ("category") were dropped without a word: no genre in
    # the lists, --genre refused, and nothing said why.
    from cinerec.cli import main
    from cinerec.data.dataset import reading_notes

    (tmp_path / "log.csv").write_text("user,item,rating\na,m1,4\nb,m2,5\na,m2,3\n")
    (tmp_path / "cat.csv").write_text("movieId,title,category,imdb\nm1,Alpha,Drama,tt1\nm2,Beta,Comedy,tt2\n")
    (tmp_path / "plain.csv").write_text("movieId,title\nm1,Alpha\nm2,Beta\n")
    (tmp_path / "genres.csv").write_text("movieId,title,genres,imdb\nm1,Alpha,Drama,tt1\nm2,Beta,Comedy,tt2\n")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.csv")
    assert ds.catalog.genre_names == ()
    note = (f"{tmp_path / 'cat.csv'}: no genres column was found by its usual name (genres, genre), and the columns "
            "'category', 'imdb' are left unread, so the movies have no genres; if one holds them, name it with "
            "--columns genres=NAME")
    assert reading_notes(ds) == [note]
    assert main(["data", "info", str(tmp_path / "log.csv"), "--catalog", str(tmp_path / "cat.csv")]) == 0
    assert f"note: {note}" in " ".join(capsys.readouterr().err.split())
    named = load_log(tmp_path / "log.csv", columns="genres=category", catalog=tmp_path / "cat.csv")
    assert named.catalog.genre_names == ("Comedy", "Drama") and reading_notes(named) == []
    (tmp_path / "links.csv").write_text("movieId,title,imdbId,tmdbId\nm1,Alpha,1,2\nm2,Beta,3,4\n")
    for quiet in ("plain.csv", "genres.csv", "links.csv"):  # (nothing unread, or the genres found, or other ids)
        assert reading_notes(load_log(tmp_path / "log.csv", catalog=tmp_path / quiet)) == []
    # A year filter's refusal says why no year is known, not this
    assert main(["data", "info", str(tmp_path / "log.csv"), "--catalog", str(tmp_path / "cat.csv"),
                 "--min-year", "1990"]) == 2
    err = capsys.readouterr().err
    assert "no movie has a known release year" in err and "genres" not in err


@pytest.mark.parametrize("columns,roles", [
    ("year=movieId", "'movieId' cannot be both the item and the year"),  # each id read as its year
    ("genres=title", "'title' cannot be both the title and the genres"),  # each title a genre
    ("title=genres", "'genres' cannot be both the title and the genres"),
])
def test_one_catalogue_column_serves_one_role_as_a_logs_does(tmp_path, columns, roles):
    (tmp_path / "log.csv").write_text("user,movie,rating\n1,1,4\n2,2,5\n")
    (tmp_path / "cat.csv").write_text("movieId,title,genres\n1,Alpha (1995),Drama\n2,Beta (1996),Comedy\n")
    with pytest.raises(DataError, match=f"cat.csv: the column {re.escape(roles)}$"):
        load_log(tmp_path / "log.csv", columns=columns, catalog=tmp_path / "cat.csv")


def test_categorical_titles_and_years_with_blanks_read_as_their_values(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # A categorical title column with a missing title ended in a pandas TypeError traceback.
    (tmp_path / "log.csv").write_text("user,movie,rating\n1,1,4\n1,2,3\n2,3,5\n")
    pq.write_table(pa.table({"movieId": [1, 2, 3], "title": pa.array(["A", None, "C"]).dictionary_encode()}),
                   tmp_path / "cat.parquet")
    with pytest.raises(DataError, match=r"cat.parquet row 2: movie 2 has no title"):
        load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.parquet")
    pq.write_table(pa.table({"movieId": [1, 2, 3], "title": pa.array(["A (1990)", "B", "C"]).dictionary_encode(),
                             "year": pa.array([1991, None, 1993]).dictionary_encode()}), tmp_path / "cat.parquet")
    assert load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.parquet").catalog.years.tolist() == [1991, 0, 1993]


def test_a_float32_parquet_year_out_of_range_is_quoted_whole(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "log.csv").write_text("user,movie,rating\n1,1,4\n2,2,5\n")
    pq.write_table(pa.table({"movieId": [1, 2], "title": ["A", "B"], "year": pa.array([None, 12000.0], pa.float32())}),
                   tmp_path / "cat.parquet")
    with pytest.raises(DataError, match=r"cat.parquet row 2: year 12000 is not a year"):
        load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.parquet")


def test_a_catalogue_keyed_by_title_serves_a_log_of_titles(tmp_path):
    # One column is the id and the title: the one-role rule is not for that pair.
    (tmp_path / "log.csv").write_text("user,title,rating\n1,Alpha,4\n2,Beta,3\n")
    (tmp_path / "cat.csv").write_text("title,genres,year\nAlpha,Drama,1990\nBeta,War,1991\n")
    ds = load_log(tmp_path / "log.csv", columns="item=title", catalog=tmp_path / "cat.csv")
    assert ds.catalog.titles.tolist() == ["Alpha", "Beta"] and ds.catalog.years.tolist() == [1990, 1991]
    assert ds.catalog.genre_names == ("Drama", "War")


def test_a_parquet_catalogue_saved_from_a_frame_indexed_by_a_column_reads_that_column(tmp_path):
    # pandas keeps an index as a column of the file: read as the frame's index, its role
    # was missed (a KeyError traceback for the title).
    (tmp_path / "log.csv").write_text("user,movie,rating\n1,1,4\n2,2,5\n")
    frame = pd.DataFrame({"movieId": [1, 2], "title": ["Alpha (1995)", "Beta"], "genres": ["Drama", "War"]})
    frame.set_index("title").to_parquet(tmp_path / "cat.parquet")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.parquet")
    assert ds.catalog.titles.tolist() == ["Alpha", "Beta"] and ds.catalog.years.tolist() == [1995, 0]
    # ... and one indexed by its ids, 1 to N, which pandas keeps as a range in its metadata alone
    frame.set_index("movieId").to_parquet(tmp_path / "cat.parquet")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.parquet")
    assert ds.catalog.titles.tolist() == ["Alpha", "Beta"] and ds.catalog.genre_names == ("Drama", "War")
    # an index of row numbers beside the id column stays out of it (it made a second id column)
    rows = pd.DataFrame({"id": [0, 1], "movieId": [2, 1], "title": ["Beta", "Alpha"]}).set_index("id")
    rows.to_parquet(tmp_path / "cat.parquet")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.parquet")
    assert ds.catalog.titles.tolist() == ["Alpha", "Beta"]
    pd.DataFrame({"title": ["Alpha", "Beta"]}, index=pd.RangeIndex(0, 2, name="title")).to_parquet(
        tmp_path / "cat.parquet")  # (an index named as another role is no id either)
    with pytest.raises(DataError, match="no item column"):
        load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.parquet")


def test_a_parquet_log_saved_from_a_frame_indexed_by_its_ids_reads_them(tmp_path):
    # Ids 1 to N as the frame's index are kept by pandas as a range in the file's metadata
    # alone: the log was refused ("no user column"), where a catalogue so saved was read.
    frame = pd.DataFrame({"userId": [1, 2, 3], "movieId": [50, 60, 50], "rating": [1.0, 2.0, 3.0]})
    for role in ("userId", "movieId"):
        on = frame.sort_values(role).drop_duplicates(role) if role == "movieId" else frame
        on = on.assign(movieId=[1, 2]) if role == "movieId" else on
        on.set_index(role).to_parquet(tmp_path / "log.parquet")
        ds = load_log(tmp_path / "log.parquet")
        got = sorted(zip(ds.user_ids.to_raw(ds.interactions.users).tolist(), ds.item_ids.to_raw(ds.interactions.items).tolist(),
                         ds.interactions.ratings.tolist()))
        assert got == sorted(zip(on["userId"], on["movieId"], on["rating"])), role


def test_genres_held_as_lists_in_a_parquet_catalogue_are_those_genres(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Each list had become one "genre" spelt as numpy prints it: "['Drama' 'War']".
    (tmp_path / "log.csv").write_text("user,movie,rating\n1,1,4\n1,2,3\n2,3,5\n")
    pq.write_table(pa.table({"movieId": [1, 2, 3], "title": ["Alpha (1995)", "Beta", "Gamma"],
                             "genres": pa.array([["Drama", "War"], [], None], pa.list_(pa.string()))}),
                   tmp_path / "cat.parquet")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.parquet")
    assert ds.catalog.genre_names == ("Drama", "War")
    assert [ds.movie_record(i)["genres"] for i in range(3)] == [["Drama", "War"], [], []]
    # a missing name in a list is left out, not the whole list; lists all empty (pandas writes
    # them as lists of nulls) are no genres; a categorical column (not lists) is its text
    for genres, want in ((pa.array([["Drama", None, "War"], [None], ["Comedy"]]), [["Drama", "War"], [], ["Comedy"]]),
                         (pa.array([[], [], None], pa.list_(pa.null())), [[], [], []]),
                         (pa.array(["Drama|War", "NA", "Comedy"]).dictionary_encode(),
                          [["Drama", "War"], [], ["Comedy"]])):
        pq.write_table(pa.table({"movieId": [1, 2, 3], "title": ["A", "B", "C"], "genres": genres}),
                       tmp_path / "cat.parquet")
        ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.parquet")
        assert [ds.movie_record(i)["genres"] for i in range(3)] == want
    # a list of what no genre name is, or a title column of lists, is refused by name
    pq.write_table(pa.table({"movieId": [1, 2, 3], "title": ["A", "B", "C"],
                             "genres": pa.array([[1.5], [], None], pa.list_(pa.float64()))}), tmp_path / "cat.parquet")
    with pytest.raises(DataError, match=r"cat.parquet: the genres column 'genres' holds list<.*: double> values, "
                                        r"not lists of genre names"):
        load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.parquet")
    pq.write_table(pa.table({"movieId": [1, 2, 3], "title": pa.array([["A"], ["B"], ["C"]])}), tmp_path / "cat.parquet")
    with pytest.raises(DataError, match=r"cat.parquet: the title column 'title' holds list<.*: string> values, "
                                        r"not text"):
        load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.parquet")


def test_the_catalogues_id_column_is_the_logs_item_column_found_by_its_usual_name(tmp_path):
    # The catalogue holds two id-like columns; the log's item column ("movie") decides,
    # whether the log's column was named with --columns or found by its usual name.
    (tmp_path / "log.csv").write_text("user,movie,rating\na,x,4\nb,y,3\nb,z,2\n")
    (tmp_path / "cat.csv").write_text("id,movie,title\n1,x,Alpha\n2,y,Beta\n")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "cat.csv")
    assert ds.movie_record(0)["title"] == "Alpha" and ds.describe()["catalog_matched"] == 2
    # without that column in the catalogue, two candidates still need a name
    (tmp_path / "two.csv").write_text("id,movieId,title\n1,x,Alpha\n")
    (tmp_path / "log2.csv").write_text("user,item,rating\na,x,4\n")
    with pytest.raises(DataError, match=r"two\.csv: columns 'id' and 'movieId' could both be the item"):
        load_log(tmp_path / "log2.csv", catalog=tmp_path / "two.csv")


def test_odd_files_get_one_line_each(tmp_path):
    """A Latin-1 catalogue reads (its titles decoded); the others are refused in one line."""
    (tmp_path / "log.csv").write_bytes(b"uid,sku,rating\n1,m1,4\n2,m2,3\n")
    (tmp_path / "cat.csv").write_bytes(b"id,title\nm1,Caf\xe9 (1995)\nm2,Bar\n")
    ds = load_log(tmp_path / "log.csv", columns={"user": "uid", "item": "sku"}, catalog=tmp_path / "cat.csv")
    assert ds.catalog.titles.tolist() == ["Café", "Bar"] and ds.catalog.years.tolist() == [1995, 0]
    # Latin-1 ids too, in the log and in its catalogue: the same ids on both sides.
    (tmp_path / "lat.csv").write_bytes(b"user,item,rating\nAnn\xe9,Caf\xe9,4\nBob,Bar,3\n")
    (tmp_path / "lat-movies.csv").write_bytes(b"id,title\nCaf\xe9,Caf\xe9 Society\nBar,Bar Movie\n")
    ds = load_log(tmp_path / "lat.csv", catalog=tmp_path / "lat-movies.csv")
    assert sorted(ds.user_ids.raw.tolist()) == ["Anné", "Bob"] and ds.describe()["catalog_matched"] == 2
    assert dict(zip(ds.item_ids.raw.tolist(), ds.catalog.titles.tolist())) == {"Café": "Café Society", "Bar": "Bar Movie"}
    (tmp_path / "cr.csv").write_bytes(b"user,item\r,rating\n1,m1,4\n")  # a stray carriage return in the header
    with pytest.raises(DataError, match=r"cr\.csv: cannot read it as a ratings log \(new-line character"):
        load_log(tmp_path / "cr.csv")
    (tmp_path / "big.csv").write_text("user,item,rating\n1,m1,4\n1,m2,1e308\n")  # finite, but not in float32
    with pytest.raises(DataError, match=r"big\.csv line 3: rating '1e308' is too large to be a rating \(at most "
                                        r"16,777,216 either way: .*; divide the column down\)$"):
        load_log(tmp_path / "big.csv")
    # Within float32, past what the models' squares and sums hold: read, then bpmf crashed and als overflowed.
    for big in ("3e38", "-2e7", "16777217", "-9223372036854775808"):  # (int64's least: its abs() is negative)
        (tmp_path / "big.csv").write_text(f"user,item,rating\n1,m1,4\n1,m2,{big}\n")
        with pytest.raises(DataError, match=rf"big\.csv line 3: rating '{big}' is too large to be a rating"):
            load_log(tmp_path / "big.csv")
    (tmp_path / "big.csv").write_text("user,item,rating\n1,m1,4\n1,m2,16777216\n2,m1,-16777216\n")
    assert load_log(tmp_path / "big.csv").interactions.ratings.tolist() == [4.0, 16777216.0, -16777216.0]
    pd.DataFrame({"user": [[1], [2]], "item": [1, 2], "rating": [3, 4]}).to_parquet(tmp_path / "lists.parquet")
    with pytest.raises(DataError, match=r"lists\.parquet: the user id column 'user' holds list<.*> values, not ids"):
        load_log(tmp_path / "lists.parquet")
    # (pyarrow's words: "cannot read it as a ratings log (Multiple matches for FieldRef.Name(rating) ...)")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table([pa.array([1, 2]), pa.array([10, 20]), pa.array([4.0, 3.0]), pa.array([5.0, 1.0])],
                            names=["user", "item", "rating", "rating"]), tmp_path / "two.parquet")
    with pytest.raises(DataError, match=r"two\.parquet: columns 3 and 4 are both named 'rating', so neither can be "
                                        r"told apart; rename one$"):
        load_log(tmp_path / "two.parquet")
    # (true and false were two users, and all but two pairs dropped as repeats)
    pd.DataFrame({"user": [True, False, True], "item": [1, 2, 3], "rating": [3, 4, 5]}).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"b\.parquet: the user id column 'user' holds bool values, not ids$"):
        load_log(tmp_path / "b.parquet")
    (tmp_path / "years.csv").write_text("id,title,year\nm1,A,99999999999\nm2,B,1990\n")
    with pytest.raises(DataError, match=r"years\.csv line 2: year 99999999999 is not a year"):
        load_log(tmp_path / "log.csv", columns={"user": "uid", "item": "sku"}, catalog=tmp_path / "years.csv")


def test_a_file_that_is_no_log_is_not_called_a_release_when_columns_are_given(tmp_path):
    # With --columns, u.data was "a MovieLens release, which names its own columns".
    from cinerec.data import load

    path = tmp_path / "u.data"
    path.write_text("1\t2\t3\t881250949\n")
    for columns in (None, "user=0"):
        with pytest.raises(DataError, match=r"u.data: one file of a MovieLens release \(ml-100k's\); give the folder"):
            load(path, columns=columns)


def test_spaces_around_ids_and_header_names_are_layout_not_ids(tmp_path):
    """"anna " and "anna" were two users; a header "user, item" could not be read, not even
    with --columns, which strips the names it is given."""
    f = tmp_path / "log.csv"
    f.write_text("user,item,rating\nanna,m1,4\nanna ,m2,5\nanna,m2 ,3\n")
    ds = load_log(f)
    assert ds.n_users == 1 and ds.n_items == 2 and list(ds.user_ids.raw) == ["anna"]
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("user, item, rating\n1, 10, 4\n2, 20, 5\n")
    assert load_log(spaced).n_items == 2
    assert load_log(spaced, columns="item=item,rating=rating").n_items == 2
    cat = tmp_path / "items.csv"
    cat.write_text("item,title\nm1 ,One (1999)\nm2,Two (2001)\n")
    assert load_log(f, catalog=cat).info["catalog_matched"] == 2


@pytest.mark.parametrize("text, line, value", [
    ("user,item,rating\n1,10,4\n\n\n2,20,x\n", 5, "'x'"),  # blank lines are no rows
    ("user,item,rating\n1,10,4\n\n1,20,NA\n", 4, "'NA'"),  # and the value shown is that line's
    ('user,item,rating,note\n1,10,4,"a\nb"\n2,20,x,ok\n', 4, "'x'"),  # a quoted field over two lines
    # A line of spaces or a tab alone is blank too (it was "1 field where the header has 3").
    ("user,item,rating\n1,10,4\n \n\t\n2,20,x\n", 5, "'x'"),
    # So is a row of separators alone, as a spreadsheet writes an empty row, of any width
    # (",," named no line; ",,," was "no user id").
    ("user,item,rating\n1,10,4\n,,\n,\n,,,\n2,20,x\n", 6, "'x'"),
])
def test_an_error_names_the_line_as_the_file_numbers_it(tmp_path, text, line, value):
    """(And a row of the wrong width after blank lines: its own line.)"""
    f = tmp_path / "log.csv"
    f.write_text(text)
    with pytest.raises(DataError, match=re.escape(f"line {line}: rating {value} is not a number")):
        load_log(f)


@pytest.mark.parametrize("name, text", [
    ("log.csv", "user,item,rating\n1,10,4\n \n2,20,5\n1,30,3\n  \n"),
    ("log.tsv", "user\titem\trating\n1\t10\t4\n\t\n2\t20\t5\n1\t30\t3\n \t \n"),
])
def test_lines_of_whitespace_alone_are_blank(tmp_path, name, text):
    # A trailing line of spaces (or a tab) an editor left stopped the whole log.
    f = tmp_path / name
    f.write_text(text)
    assert len(load_log(f).interactions) == 3
    f.write_text(text + "3,40\n")
    with pytest.raises(DataError, match=r"line 7: [12] fields? where the header has 3"):
        load_log(f)


def _days(data, fmt: str = "%Y-%m-%d") -> list[str]:
    """A dataset's times as sorted dates, written as ``fmt`` says."""
    return sorted(pd.to_datetime(data.interactions.timestamps, unit="s").strftime(fmt))


def test_dates_of_numbers_read_one_way_for_the_whole_column(tmp_path):
    """12/01/2021 was read month first and 13/01/2021 day first, in one column: the
    ratings' order came out wrong without a word."""
    f = tmp_path / "log.csv"
    f.write_text("user,item,rating,date\nanna,m1,4,12/01/2021\nanna,m2,5,13/01/2021\nanna,m3,3,2021-01-20\n")
    t = load_log(f).interactions.timestamps
    day = pd.to_datetime(t, unit="s").strftime("%Y-%m-%d").tolist()
    assert sorted(day) == ["2021-01-12", "2021-01-13", "2021-01-20"]
    f.write_text("user,item,rating,date\nanna,m1,4,12/01/2021\nanna,m2,5,01/13/2021\n")  # month first
    assert _days(load_log(f), "%m-%d") == ["01-13", "12-01"]
    f.write_text("user,item,rating,date\nanna,m1,4,13/01/2021\nanna,m2,5,01/13/2021\n")
    with pytest.raises(DataError, match=re.escape("line 2: time '13/01/2021' reads day first, and line 3: "
                                                  "'01/13/2021' month first")):
        load_log(f)


def test_dates_that_read_either_way_are_read_month_first_and_said_to_be(tmp_path):
    # 03/04/2020 beside 05/04/2020, none past 12: read as March 4th and May 4th without a
    # word, where a log written day first (April 3rd, April 5th) gets its order wrong.
    from cinerec.data.dataset import reading_notes

    f = tmp_path / "log.csv"
    f.write_text("user,item,rating,date\nanna,m1,4,2021-01-20\nanna,m2,5,03/04/2020\nbo,m1,3,05/04/2020\n")
    data = load_log(f)
    assert _days(data, "%m-%d") == ["01-20", "03-04", "05-04"]
    assert reading_notes(data) == [
        f"the dates of {f} that begin with two numbers, such as '03/04/2020' (line 3), are read month first: none of "
        "them can only be read one way (13/01 day first, 01/13 month first); if they are day first, write them as "
        "YYYY-MM-DD"]
    # Dates that show their way (13/01, 01/13), or read alike either way (04/04), need no word.
    for dates in (("13/01/2021", "03/04/2020"), ("01/13/2021", "03/04/2020"), ("04/04/2020", "2021-01-20")):
        f.write_text("user,item,rating,date\nanna,m1,4,{}\nanna,m2,5,{}\n".format(*dates))
        assert reading_notes(load_log(f)) == [], dates


def test_dates_written_with_dots_are_read_day_first_and_said_to_be(tmp_path):
    # 04.03.2021 was read month first, as 3 April: a date written with dots is day first.
    from cinerec.data.dataset import reading_notes

    f = tmp_path / "log.csv"
    f.write_text("user,item,rating,date\nanna,m1,4,04.03.2021\nanna,m2,5,05.03.2021\nbo,m1,3,01.02.2020\n")
    data = load_log(f)
    assert _days(data) == ["2020-02-01", "2021-03-04", "2021-03-05"]
    assert reading_notes(data) == [
        f"the dates of {f} written with dots, such as '04.03.2021' (line 2), are read day first, as dates so written "
        "are; if they are month first, write them as YYYY-MM-DD"]
    # One that can only be month first reads them all so; one only day first needs no word.
    f.write_text("user,item,rating,date\nanna,m1,4,04.03.2021\nanna,m2,5,05.13.2021\n")
    assert _days(load_log(f), "%m-%d") == ["04-03", "05-13"]
    f.write_text("user,item,rating,date\nanna,m1,4,04.03.2021\nanna,m2,5,13.03.2021\n")
    data = load_log(f)
    assert _days(data, "%m-%d") == ["03-04", "03-13"]
    assert reading_notes(data) == []
    # A folder reads its files alike: another file's 04/03/2021 is day first too, said; one
    # that can only be month first is refused, naming both.
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.csv").write_text("user,item,rating,date\nanna,m1,4,04.03.2021\n")
    (folder / "b.csv").write_text("user,item,rating,date\nbo,m1,4,04/03/2021\n")
    data = load_log(folder)
    assert pd.to_datetime(data.interactions.timestamps, unit="s").strftime("%Y-%m-%d").tolist() == ["2021-03-04"] * 2
    assert reading_notes(data) == [
        f"the dates of {folder} written with dots, such as '04.03.2021' ({folder / 'a.csv'} line 2), are read day "
        "first, as dates so written are, and so are its other dates that begin with two numbers; if they are month "
        "first, write them as YYYY-MM-DD"]
    (folder / "b.csv").write_text("user,item,rating,date\nbo,m1,4,05/13/2021\n")
    with pytest.raises(DataError, match=re.escape(f"{folder / 'a.csv'} line 2: time '04.03.2021' reads day first, "
                                                  f"and {folder / 'b.csv'} line 2: '05/13/2021' month first")):
        load_log(folder)


def test_dates_of_three_two_digit_numbers_say_how_they_were_read(tmp_path):
    # 21-03-04 read as 21 March 2004 without a word, where a log written year first
    # (2021-03-04, with a two-digit year) has every date in the wrong year.
    from cinerec.data.dataset import reading_notes

    f = tmp_path / "log.csv"
    f.write_text("user,item,rating,date\nanna,m1,4,21-03-04\nanna,m2,5,23-01-02\nbo,m1,3,22-05-06\n")
    data = load_log(f)
    assert _days(data) == ["2002-01-23", "2004-03-21", "2006-05-22"]
    assert reading_notes(data) == [
        f"the dates of {f} written as numbers with dashes and a two-digit year, such as '21-03-04' (line 2), are read "
        "as day, month, year; if their year comes first (21-03-04 for 2021-03-04), write them as YYYY-MM-DD"]
    # A year in full, another separator, or a date no year-first reading can be: no word.
    for dates in (("21-03-2004", "23-01-2002"), ("21/03/04", "23/01/02"), ("21-03-40", "23-01-02")):
        f.write_text("user,item,rating,date\nanna,m1,4,{}\nanna,m2,5,{}\n".format(*dates))
        assert reading_notes(load_log(f)) == [], dates


def test_a_folders_dates_are_read_one_way_for_all_its_files(tmp_path):
    # Each file decided alone: a.csv's 13/01/2021 read day first and b.csv's 03/04/2020
    # month first, with a note saying none of the dates showed which.
    from cinerec.data.dataset import reading_notes

    (tmp_path / "a.csv").write_text("user,item,rating,date\n1,10,4,13/01/2021\n1,11,3,14/02/2021\n")
    (tmp_path / "b.csv").write_text("user,item,rating,date\n2,10,5,03/04/2020\n2,11,2,05/04/2020\n")
    data = load_log(tmp_path)
    days = _days(data)
    assert days == ["2020-04-03", "2020-04-05", "2021-01-13", "2021-02-14"] and reading_notes(data) == []
    (tmp_path / "c.csv").write_text("user,item,rating,date\n3,10,5,01/13/2020\n")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'a.csv'} line 2: time '13/01/2021' reads day first, "
                                                  f"and {tmp_path / 'c.csv'} line 2: '01/13/2020' month first")):
        load_log(tmp_path)
    # Shown month first by one file, the others follow it without a note; shown by none, said.
    (tmp_path / "a.csv").unlink()
    assert reading_notes(load_log(tmp_path)) == []
    (tmp_path / "c.csv").unlink()
    assert reading_notes(load_log(tmp_path)) == [
        f"the dates of {tmp_path} that begin with two numbers, such as '03/04/2020' ({tmp_path / 'b.csv'} line 2), are "
        "read month first: none of them can only be read one way (13/01 day first, 01/13 month first); if they are day "
        "first, write them as YYYY-MM-DD"]


def test_a_folder_whose_files_differ_in_a_time_column_names_the_files(tmp_path):
    # The untimed file's rows were given 1970, the oldest of all.
    (tmp_path / "a.csv").write_text("user,item,rating,timestamp\n1,10,4,1600000000\n")
    (tmp_path / "b.csv").write_text("user,item,rating\n1,10,1\n")
    with pytest.raises(DataError, match=r"b.csv has no time column and a.csv has one"):
        load_log(tmp_path)


def test_a_release_like_folder_of_ones_own_points_at_its_file_and_release_fits_no_log(tmp_path):
    from cinerec.data import load
    from cinerec.errors import ConfigError

    (tmp_path / "ratings.csv").write_text("who,sku,stars\n1,1,4\n2,2,5\n")
    (tmp_path / "movies.csv").write_text("id,title\n1,A (1999)\n2,B (2005)\n")
    with pytest.raises(ConfigError, match=re.escape(f"name the file itself, {tmp_path / 'ratings.csv'}, with "
                                                    f"catalog={tmp_path / 'movies.csv'})")):
        load(tmp_path, columns={"user": "who", "item": "sku"})
    # ... which reads it.
    assert load(tmp_path / "ratings.csv", columns={"user": "who", "item": "sku", "rating": "stars"},
                catalog=tmp_path / "movies.csv").n_items == 2
    # --release names a release's layout: on a log it said the log was no log at all.
    with pytest.raises(ConfigError, match=r"release ml-1m: names the layout of a MovieLens folder or zip; "
                                          r".*ratings.csv is a ratings log of your own"):
        load(tmp_path / "ratings.csv", release="ml-1m")


def test_a_needed_column_named_twice_is_refused_by_position_and_an_unused_one_is_not(tmp_path):
    f = tmp_path / "log.csv"
    f.write_text("user,item,rating,rating\n1,2,4,5\n1,3,3,2\n2,2,5,1\n")
    for columns in (None, {"user": "user", "item": "item", "rating": "rating"}):  # found, or named: no traceback
        with pytest.raises(DataError, match=r"log\.csv: columns 3 and 4 are both named 'rating', so neither can "
                                            r"be told apart as the rating; rename one"):
            load_log(f, columns=columns)
    f.write_text("user,item,note,note\n1,2,a,b\n1,3,c,d\n")
    assert len(load_log(f).interactions) == 2
    (tmp_path / "movies.csv").write_text("id,title,title\n2,A (1990),B\n3,C (1991),D\n")
    with pytest.raises(DataError, match=r"movies\.csv: columns 2 and 3 are both named 'title'"):
        load_log(f, catalog=tmp_path / "movies.csv")


def test_parquet_ids_past_int64_stay_apart_as_text(tmp_path):
    # uint64 ids past int64's range ended in pyarrow's traceback; floats from 2**63 up
    # wrapped to one shared negative id, merging people (refused now: from 2**53 on, a
    # float cannot hold every whole number).
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"user": pa.array([2**63 + 5, 1], pa.uint64()), "item": [1, 2], "rating": [1.0, 2.0]}),
                   tmp_path / "u64.parquet")
    ds = load_log(tmp_path / "u64.parquet")
    assert sorted(ds.user_ids.raw.tolist()) == ["1", str(2**63 + 5)]
    pq.write_table(pa.table({"user": [1e20, 2e20, 3.0], "item": [1, 2, 3], "rating": [1.0, 2.0, 3.0]}),
                   tmp_path / "big.parquet")
    with pytest.raises(DataError, match=r"big\.parquet row 1: user id 100000000000000000000 is a floating-point"):
        load_log(tmp_path / "big.parquet")
    pq.write_table(pa.table({"user": [1.0, 2.0], "item": [1, 2], "rating": [1.0, 2.0]}), tmp_path / "f.parquet")
    assert load_log(tmp_path / "f.parquet").user_ids.raw.tolist() == [1, 2]  # whole floats in range: numbers


def test_a_catalogue_kept_in_the_log_folder_is_not_read_as_part_of_the_log(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "log.csv").write_text("user,item,rating\n1,a,4\n2,b,3\n")
    (tmp_path / "mine" / "items.csv").write_text("id,title,genres\na,Alpha (1990),Drama\nb,Beta,Comedy\n")
    ds = load_log(tmp_path / "mine", catalog=tmp_path / "mine" / "items.csv")
    assert len(ds.interactions) == 2 and ds.catalog.titles.tolist() == ["Alpha", "Beta"]
    (tmp_path / "mine" / "log.csv").unlink()
    with pytest.raises(DataError, match=r"no ratings log in this folder besides the catalog file items\.csv"):
        load_log(tmp_path / "mine", catalog=tmp_path / "mine" / "items.csv")


def test_a_note_beside_the_logs_of_a_folder_is_no_log(tmp_path):
    # README.txt was read as a log and refused ("no user column").
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "log.csv").write_text("user,item,rating\n1,a,4\n2,b,3\n")
    (tmp_path / "mine" / "README.txt").write_text("my ratings, exported from somewhere\n")
    assert len(load_log(tmp_path / "mine").interactions) == 2
    (tmp_path / "mine" / "log.csv").unlink()  # a folder of .txt files alone: they are its logs
    (tmp_path / "mine" / "README.txt").write_text("user\titem\trating\n1\ta\t4\n")
    assert len(load_log(tmp_path / "mine").interactions) == 1


def test_a_header_of_one_column_holding_every_name_points_at_its_separator(tmp_path):
    (tmp_path / "semi.csv").write_text("userId;movieId;rating\n1;2;4\n")
    with pytest.raises(DataError, match=r"no user column .*the header is one column and looks ';'-separated; a log's "
                                        r"fields are separated by commas or tabs"):
        load_log(tmp_path / "semi.csv")


def test_a_genre_whose_movies_were_all_filtered_out_is_offered_no_more(tmp_path):
    from cinerec.data.transforms import filter_years

    (tmp_path / "log.csv").write_text("user,item,rating\n1,a,4\n2,b,3\n1,c,5\n")
    (tmp_path / "items.csv").write_text("id,title,genres\na,Alpha (1990),Action\nb,Beta (1995),Comedy\n"
                                        "c,Old (1950),Drama\n")
    ds = load_log(tmp_path / "log.csv", catalog=tmp_path / "items.csv")
    assert ds.describe()["genres"] == ["Action", "Comedy", "Drama"]
    later = filter_years(ds, 1980, None)
    assert later.catalog.genre_names == ("Action", "Comedy", "Drama")  # the matrix keeps its columns
    assert later.describe()["genres"] == ["Action", "Comedy"]


def test_a_gzip_compressed_log_is_named_as_such(tmp_path):
    import gzip

    from cinerec.data import load

    (tmp_path / "log.csv.gz").write_bytes(gzip.compress(b"user,item,rating\n1,2,4\n"))
    with pytest.raises(DataError, match=r"log\.csv\.gz: a gzip-compressed file, which cinerec does not read; "
                                        r"decompress it first \(gunzip -k "):
        load(tmp_path / "log.csv.gz")


def test_a_compressed_part_of_a_folder_of_logs_is_refused_not_left_out(tmp_path):
    # A Spark-style folder (part-0.csv, part-1.csv.gz) read part-0 alone and trained on it
    # without a word; a folder of compressed parts alone said "no ratings log".
    import gzip

    from cinerec.data import load

    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "part-0.csv").write_text("user,item,rating\n1,2,4\n2,3,5\n")
    (parts / "part-1.csv.gz").write_bytes(gzip.compress(b"user,item,rating\n3,2,4\n"))
    with pytest.raises(DataError, match=r"part-1\.csv\.gz: a compressed part of the log \(\.gz\), which cinerec does "
                                        r"not read; decompress it first .*so that no part is left out$"):
        load(parts)
    (parts / "part-0.csv").unlink()
    with pytest.raises(DataError, match=r"; part-1\.csv\.gz is compressed, which cinerec does not read: decompress "
                                        r"it first$"):
        load(parts)
    # Notes beside the logs, compressed or not, are no log; nor is the catalogue, whose own
    # compression is said when it is read.
    (parts / "part-1.csv.gz").unlink()
    (parts / "part-0.csv").write_text("user,item,rating\n1,2,4\n2,3,5\n")
    (parts / "notes.txt.gz").write_bytes(gzip.compress(b"about these logs"))
    assert len(load(parts).interactions) == 2
    (parts / "items.csv.gz").write_bytes(gzip.compress(b"item,title\n2,A (1990)\n3,B (1991)\n"))
    with pytest.raises(DataError, match=r"items\.csv\.gz: a gzip-compressed file, which cinerec does not read; "
                                        r"decompress it first \(gunzip -k "):
        load(parts, catalog=parts / "items.csv.gz")


def test_a_part_zipped_or_a_spreadsheet_beside_a_folders_logs_is_refused_not_left_out(tmp_path):
    # part-2.csv.zip, part-2.csv.gzip and a workbook beside part-1.csv were skipped without a
    # word: the folder read as part-1's ratings alone.
    import gzip
    import zipfile

    from cinerec.data import load

    def zipped(path, name, text):
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(name, text)

    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "part-1.csv").write_text("user,item,rating\n1,2,4\n2,3,5\n")
    for name, write, said in (
            ("part-2.csv.zip", lambda p: zipped(p, "part-2.csv", "user,item,rating\n3,2,4\n"),
             r"part-2\.csv\.zip: a compressed part of the log \(\.zip\), which cinerec does not read; decompress it "
             r"first \(.*unzip.*\), so that no part is left out$"),
            ("part-2.csv.gzip", lambda p: p.write_bytes(gzip.compress(b"user,item,rating\n3,2,4\n")),
             r"part-2\.csv\.gzip: a compressed part of the log \(\.gzip\)"),
            ("part-2.xlsx", lambda p: zipped(p, "xl/workbook.xml", "<workbook/>"),
             r"part-2\.xlsx: a spreadsheet beside the log's files, which cinerec does not read; save its sheet as CSV "
             r"\(UTF-8\) beside them, or move it out, so that no part is left out$")):
        write(parts / name)
        with pytest.raises(DataError, match=said):
            load(parts)
        (parts / name).unlink()
    # the lock file Excel keeps beside a workbook it has open is none
    (parts / "~$part-2.xlsx").write_bytes(b"\x00" * 165)
    assert len(load(parts).interactions) == 2


def test_a_log_compressed_by_bzip2_xz_or_zstd_is_named_as_such(tmp_path):
    # Given alone it read as "not a folder, a zip file or a ratings log"; under a .csv name,
    # as UTF-16 text.
    import bz2
    import lzma

    from cinerec.data import load

    import gzip
    import shutil
    import subprocess

    text = b"user,item,rating\n1,2,4\n2,3,5\n"
    for name, packed, how in (("log.csv.bz2", bz2.compress(text), "bzip2"), ("log.csv.xz", lzma.compress(text), "xz"),
                              ("log.tsv.zst", b"\x28\xb5\x2f\xfd" + bytes(20), "zstd"),
                              ("bz.csv", bz2.compress(text), "bzip2"), ("xz.csv", lzma.compress(text), "xz"),
                              ("gz.csv", gzip.compress(text), "gzip")):
        (where := tmp_path / name.replace(".", "-")).mkdir()
        (where / name).write_bytes(packed)
        with pytest.raises(DataError, match=rf"{re.escape(name)}: a {how}-compressed file, which cinerec does not "
                                            r"read; decompress it first \(") as e:
            load(where / name)
        # The way given works as written (unxz x.csv refused a name without .xz).
        way = str(e.value).rsplit("decompress it first (", 1)[1].removesuffix(")")
        if name.endswith(".zst") or not shutil.which(how):
            continue
        assert subprocess.run(["bash", "-c", way], cwd=where).returncode == 0, way
        made = where / (way.rsplit("> ", 1)[1].strip("'") if "> " in way else name.rsplit(".", 1)[0])
        assert len(load(made).interactions) == 2, way
    # by its name, where its bytes are none of those
    (tmp_path / "log.csv.lz4").write_bytes(b"\x04\x22\x4d\x18" + bytes(20))
    with pytest.raises(DataError, match=r"log\.csv\.lz4: a compressed ratings log \(\.lz4\), which cinerec does not "
                                        r"read; decompress it first$"):
        load(tmp_path / "log.csv.lz4")
    # a header that merely starts "BZh" is a header
    (tmp_path / "bzh.csv").write_text("BZhUser,item,rating\n1,2,4\n")
    assert len(load(tmp_path / "bzh.csv", columns=parse_columns("user=BZhUser")).interactions) == 1


def test_a_comma_separated_log_named_tsv_is_read_by_its_commas(tmp_path):
    # Its header read as one column, refused as "no user column".
    from cinerec.data import load

    (tmp_path / "log.tsv").write_text("userId,movieId,rating,timestamp\n1,2,4,10\n2,3,5,11\n")
    ds = load(tmp_path / "log.tsv")
    assert len(ds.interactions) == 2 and ds.item_ids.raw.tolist() == [2, 3]
    # a tab-separated one whose column name holds a comma is still read by its tabs
    (tmp_path / "t.tsv").write_text("user\titem\ttitle, original\n1\t2\tA, B\n")
    assert load(tmp_path / "t.tsv").n_items == 1


def test_a_spreadsheet_or_utf16_text_is_named_as_such(tmp_path):
    # A workbook (a zip inside) was unpacked as if a MovieLens release's zip, and said to
    # hold no MovieLens files; UTF-16 text gave garbled column names and "--columns" advice.
    import zipfile

    from cinerec.data import load

    with zipfile.ZipFile(tmp_path / "ratings.xlsx", "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DataError, match=r"ratings\.xlsx: a spreadsheet, which cinerec does not read; save its sheet "
                                        r"of ratings as CSV \(UTF-8\) and give that$"):
        load(tmp_path / "ratings.xlsx")
    with pytest.raises(DataError, match=r"; ratings\.xlsx is a spreadsheet, which cinerec does not read"):
        load(tmp_path)
    (tmp_path / "ratings.xlsx").unlink()
    (tmp_path / "log.csv").write_bytes("user\titem\trating\n1\t2\t4\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"log\.csv: UTF-16 or UTF-32 text .*save it as CSV in UTF-8$"):
        load(tmp_path / "log.csv")
    # Without its byte-order mark: it said "no item column (... columns found: 'i\x00t\x00e\x00m\x00')".
    for codec in ("utf-16-le", "utf-16-be", "utf-32-le"):
        (tmp_path / "log.csv").write_bytes("user,item,rating\n1,2,4\n".encode(codec))
        with pytest.raises(DataError, match=r"log\.csv: its first line holds NUL bytes: UTF-16 or UTF-32 text"):
            load(tmp_path / "log.csv")


def test_a_workbook_named_csv_a_json_catalogue_and_a_tab_header_with_a_comma(tmp_path):
    # A workbook saved as ratings.csv was unpacked as a release's zip ("no MovieLens files
    # here"); a JSON catalogue was read as CSV ("if line 1 is data, add a header line"); a
    # tab-separated header naming a column "title, original" was read as commas.
    import zipfile

    from cinerec.data import load

    with zipfile.ZipFile(tmp_path / "ratings.csv", "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DataError, match=r"ratings\.csv: a spreadsheet, which cinerec does not read"):
        load(tmp_path / "ratings.csv")
    # An old .xls workbook so named was told as UTF-16 text ("its first line holds NUL bytes").
    (tmp_path / "ratings.csv").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"\x00\x00\n")
    with pytest.raises(DataError, match=r"ratings\.csv: an Excel 97-2003 workbook \(\.xls\) or another Office file, "
                                        r"which cinerec does not read; save its sheet as CSV \(UTF-8\)"):
        load(tmp_path / "ratings.csv")
    (tmp_path / "ratings.csv").unlink()
    (tmp_path / "log.csv").write_text("userId\tmovieId\trating\ttitle, original\nu1\tm1\t4.5\tA\nu2\tm1\t3\tA\n")
    ds = load(tmp_path / "log.csv")
    assert len(ds.interactions) == 2 and ds.interactions.ratings.tolist() == [4.5, 3.0]
    for text in ('[{"movieId": "m1", "title": "A (1990)"}]\n', '[\n  {"movieId": "m1"}\n]\n', '{"movieId": "m1"}\n'):
        (tmp_path / "cat.json").write_text(text)
        with pytest.raises(DataError, match=r"cat\.json: JSON, which cinerec does not read; save it as CSV"):
            load(tmp_path / "log.csv", catalog=tmp_path / "cat.json")


def test_a_zip_holding_a_log_says_so_and_how_to_read_it(tmp_path):
    # It said "no ratings log" of a zip that held one.
    import zipfile

    from cinerec.data import load as load_source

    with zipfile.ZipFile(tmp_path / "logonly.zip", "w") as z:
        z.writestr("mylog/ratings.csv", "user,item,rating\n1,2,4\n")
    with pytest.raises(DataError, match=r"logonly\.zip: holds mylog/ratings\.csv, no MovieLens release; a log of your "
                                        r"own is read from its file or folder, not from a zip: unzip it and give that"):
        load_source(tmp_path / "logonly.zip")


@pytest.mark.parametrize("name, text, release", [
    ("u.data", "1\t2\t3\t881250949\n", "ml-100k"), ("u1.base", "1\t2\t3\t881250949\n", "ml-100k"),
    ("ratings.dat", "1::1193::5::978300760\n", "ml-1m's or ml-10m"), ("users.dat", "1::F::1::10::48067\n", "ml-1m")])
def test_a_release_file_given_alone_is_named_and_its_folder_asked_for(tmp_path, name, text, release):
    # It said "not a folder, a zip file or a ratings log ...; a zip that is cut short or
    # damaged reads as no zip", which sent a user looking at zips.
    from cinerec.data import load

    folder = tmp_path / "release"
    folder.mkdir()
    (folder / name).write_text(text)
    with pytest.raises(DataError, match=rf"{name}: one file of a MovieLens release \({release}'s\); give the folder "
                                        rf"that holds the release \({folder}\)$"):
        load(folder / name)


def test_a_dat_log_of_ones_own_is_told_to_be_colon_separated_and_every_suffix_is_listed(tmp_path):
    # A ratings.dat of another name read "not a folder, a zip file or a ratings log (.csv,
    # .tsv, .parquet)": no word of its "::", and .txt and .pq, which are read, left out.
    from cinerec.data import load

    (tmp_path / "colon.dat").write_text("a::x::5::1\nb::x::3::2\n")
    with pytest.raises(DataError, match=r"colon\.dat: its lines look '::'-separated, as MovieLens's \.dat files are; "
                                        r"a ratings log \(\.csv, \.tsv, \.txt, \.parquet, \.pq\) has its fields"):
        load(tmp_path / "colon.dat")
    (tmp_path / "notes.md").write_text("# notes\n")
    with pytest.raises(DataError, match=r"notes\.md: not a folder, a zip file or a ratings log \(\.csv, \.tsv, \.txt, "
                                        r"\.parquet, \.pq\); "):
        load(tmp_path / "notes.md")


def test_a_dat_file_as_a_catalogue_is_told_apart_from_a_bar_separated_one(tmp_path):
    # ml-1m's movies.dat given as --catalog: its genres' "|" was taken for the separator.
    (tmp_path / "log.csv").write_text("user,item\n1,1\n")
    (tmp_path / "movies.dat").write_text("1::Toy Story (1995)::Animation|Children's|Comedy\n")
    with pytest.raises(DataError, match=r"looks '::'-separated, as MovieLens's \.dat files are, with no header line; "
                                        r"a log's or catalogue's fields are separated by commas or tabs"):
        load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.dat")


@pytest.mark.parametrize("written, dates", [
    (["20190304", "20200229", "19991231"], ["2019-03-04", "2020-02-29", "1999-12-31"]),
    (["20190304153000", "20190304153001", "20000101000000"],
     ["2019-03-04 15:30:00", "2019-03-04 15:30:01", "2000-01-01 00:00:00"]),
])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_dates_written_as_whole_numbers_are_read_as_dates(tmp_path, written, dates, fmt):
    # 20190304 was read as seconds: 1970-08-23, every time of the log within a month of 1970
    # (and 20190304153000 as milliseconds, the year 2609), so leave-latest-out held out
    # whichever was latest among those.
    frame = pd.DataFrame({"user": ["a", "b", "c"], "item": ["x", "y", "z"], "ts": [int(w) for w in written]})
    path = tmp_path / f"log.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path)
    expected = (pd.to_datetime(dates).astype("datetime64[s]").astype(np.int64)).tolist()
    assert load_log(path).interactions.timestamps.tolist() == expected


def test_whole_numbers_that_are_not_all_dates_stay_seconds(tmp_path):
    # 20191399 is no date, so the column is not dates: all of it stays seconds.
    (tmp_path / "log.csv").write_text("user,item,ts\na,x,20190304\nb,y,20191399\n")
    assert load_log(tmp_path / "log.csv").interactions.timestamps.tolist() == [20190304, 20191399]


def test_dates_written_as_numbers_with_a_fraction_of_zero_are_dates_too(tmp_path):
    (tmp_path / "log.csv").write_text("user,item,ts\na,x,20190304.0\nb,y,20190305.0\n")
    assert load_log(tmp_path / "log.csv").interactions.timestamps.tolist() == [1551657600, 1551744000]


def test_dates_written_as_digits_of_several_widths_in_one_column_are_dates(tmp_path):
    # A day alone beside a day and its time was refused: "outside the years 1 to 9999 as
    # seconds (give ... dates)", for a column of dates; 201903041530 read as 1976 in ms.
    (tmp_path / "log.csv").write_text("user,item,ts\na,x,20190304\nb,y,20190304153000\nc,z,201903041530\n")
    assert load_log(tmp_path / "log.csv").interactions.timestamps.tolist() == [1551657600, 1551713400, 1551713400]
    (tmp_path / "log.csv").write_text("user,item,ts\na,x,201903041530\nb,y,201903041531\n")
    assert load_log(tmp_path / "log.csv").interactions.timestamps.tolist() == [1551713400, 1551713460]


def test_a_date_written_as_digits_beside_dates_in_text_is_a_date(tmp_path):
    (tmp_path / "log.csv").write_text("user,item,ts\na,x,20190304\nb,y,2019-03-05\n")
    assert load_log(tmp_path / "log.csv").interactions.timestamps.tolist() == [1551657600, 1551744000]


@pytest.mark.parametrize("typo", ["20211332", "2021013", "20210230"])
def test_a_typo_among_dates_written_as_digits_is_refused_not_read_as_seconds_with_the_rest(tmp_path, typo):
    # One number that is no date made the whole column seconds: every time in August 1970,
    # with no word, so leave-latest-out held out whatever the file's order made latest.
    rows = [f"u{i % 3},m{i},{20210101 + i}" for i in range(1, 10)]
    rows[4] = f"u1,m5,{typo}"
    (tmp_path / "log.csv").write_text("user,item,ts\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as e:
        load_log(tmp_path / "log.csv")
    assert str(e.value) == (f"{tmp_path / 'log.csv'} line 6: time {int(typo)!r} is not a date, where most of the "
                            f"column's times are dates written as digits (such as 20210102): give every time as a date")
    # the same beside dates in text, where the file's own text is shown
    rows[0] = "u1,m1,2021-01-02"
    (tmp_path / "log.csv").write_text("user,item,ts\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=rf"line 6: time '{typo}' is not a date"):
        load_log(tmp_path / "log.csv")


@pytest.mark.parametrize("number", ["0", "2021", "-5"])
def test_a_number_near_1970_beside_dates_in_text_is_refused(tmp_path, number):
    # "0" (a placeholder) or "2021" (a year) beside 2021-01-03 was read as seconds, the
    # person's earliest time, which leave-latest-out can then never hold out.
    (tmp_path / "log.csv").write_text(f"user,item,ts\na,x,2021-01-03\na,y,{number}\nb,x,2021-01-04\n")
    with pytest.raises(DataError) as e:
        load_log(tmp_path / "log.csv")
    assert str(e.value) == (f"{tmp_path / 'log.csv'} line 3: time {number!r} reads as seconds within a year of "
                            "1970, beside dates in text (such as '2021-01-03'): give it as a date")


@pytest.mark.parametrize("first, given", [
    ("1\t37\t4\t1609547300", "user=1,item=37,rating=4,time=1609547300"),
    ("ann\tm1\t4\t1609547300", "user=ann,item=m1"),
])
def test_a_log_without_a_header_line_is_refused_even_when_its_first_line_is_named(tmp_path, first, given):
    # The refusal's hint, --columns naming the first line's values, read that line as the
    # header: one rating fewer, with no word.
    path = tmp_path / "u.tsv"
    path.write_text(first + "\n" + "2\t38\t5\t1609547301\n3\t39\t3\t1609547302\n")
    for columns in (None, parse_columns(given)):
        with pytest.raises(DataError) as e:
            load_log(path, columns=columns)
        assert str(e.value).startswith(f"{path}: line 1 (")
        assert "holds a number and none of the usual column names, so it reads as data: a log names its columns " \
               "(user, item, rating, timestamp) in its first line, so add one; if this is that line, rename its " \
               "columns that are numbers (" in str(e.value)
    # a header that names its columns keeps its rows, numbers among its names or not
    path.write_text("user\titem\t2019\n1\t37\t4\n2\t38\t5\n")
    assert len(load_log(path).interactions) == 2


def test_a_log_of_text_without_a_header_line_says_line_1_may_be_data(tmp_path):
    # No number in line 1 to tell data from a header: the refusal's only hint was
    # --columns, naming line 1's values, which reads that line as the header and drops it.
    path = tmp_path / "log.csv"
    path.write_text("alice,matrix\nbob,alien\ncarol,matrix\n")
    with pytest.raises(DataError) as e:
        load_log(path)
    assert str(e.value).startswith(f"{path}: no user column (")
    assert "if line 1 is data, not a header, add a header line above it instead (naming line 1's values would " \
           "drop its row)" in str(e.value)
    # a header of unusual names still hears it, as a maybe; one usual name, and it does not
    path.write_text("user,film\nalice,matrix\n")
    with pytest.raises(DataError) as e:
        load_log(path)
    assert "no item column" in str(e.value) and "line 1 is data" not in str(e.value)
    path.write_text("who,film\nalice,matrix\n")  # a column named with --columns: line 1 is the header
    with pytest.raises(DataError) as e:
        load_log(path, columns=parse_columns("item=film"))
    assert "no user column" in str(e.value) and "line 1 is data" not in str(e.value)


def test_a_catalogue_without_a_header_line_is_refused(tmp_path):
    (tmp_path / "log.csv").write_text("user,item\na,1\nb,2\n")
    (tmp_path / "movies.csv").write_text("1,Toy Story (1995)\n2,Heat (1995)\n")
    with pytest.raises(DataError, match=r"movies.csv: line 1 \('1', 'Toy Story \(1995\)'\) holds a number.*"
                                        r"a catalogue names its columns \(item, title, genres\)"):
        load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")


def test_a_parquet_file_whose_column_names_are_numbers_is_read(tmp_path):
    # pandas names unnamed columns 0, 1, 2...: a Parquet file's names are never a row of data,
    # yet the check for a missing header line refused it ("in its first line").
    pd.DataFrame({"0": ["a", "b"], "1": ["x", "y"], "2": [4.0, 5.0]}).to_parquet(tmp_path / "log.parquet")
    ds = load_log(tmp_path / "log.parquet", columns=parse_columns("user=0,item=1,rating=2"))
    assert len(ds.interactions) == 2 and ds.interactions.ratings.tolist() == [4.0, 5.0]


def test_whole_numbers_written_as_decimals_are_one_id_in_csv_and_parquet_and_nan_is_no_id(tmp_path):
    # An id column holding a missing value is a float column in pandas: Parquet gave 1, a
    # CSV of it "1.0", so a folder of both counted every movie twice, and a catalogue of
    # plain numbers matched the Parquet log but not the CSV one. A NaN id (as pandas and
    # Polars write a missing number) became a movie called "nan".
    frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [10.0, 20.0, 10.0, 30.0, 20.0], "rating": [4, 3, 5, 2, 4]})
    (tmp_path / "both").mkdir()
    frame.iloc[:3].to_csv(tmp_path / "both" / "a.csv", index=False)
    frame.iloc[3:].to_parquet(tmp_path / "both" / "b.parquet")
    assert (tmp_path / "both" / "a.csv").read_text().splitlines()[1] == "1,10.0,4"
    ds = load_log(tmp_path / "both")
    assert ds.n_items == 3 and ds.item_ids.raw.tolist() == [10, 20, 30]
    frame.to_csv(tmp_path / "log.csv", index=False)
    (tmp_path / "movies.csv").write_text("id,title\n10,Ten\n20,Twenty\n30,Thirty\n")
    assert load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv").catalog.titles.tolist() == [
        "Ten", "Twenty", "Thirty"]
    # other decimals stay text, written alike from both formats; "1.0" beside "1" stays apart
    frame["item"] = [1.0, 1.5, 1.0, 2.5, 1.5]
    frame.to_csv(tmp_path / "mixed.csv", index=False)
    frame.to_parquet(tmp_path / "mixed.parquet")
    for name in ("mixed.csv", "mixed.parquet"):
        assert sorted(load_log(tmp_path / name).item_ids.raw.tolist()) == ["1.0", "1.5", "2.5"], name
    # float32 ids written as their own type writes them, as the CSV does (not 1.100000023841858)
    frame.assign(item=np.array([1.1, 2.2, 3.3, 2.2, 1.1], dtype=np.float32)).to_parquet(tmp_path / "f32.parquet")
    assert sorted(load_log(tmp_path / "f32.parquet").item_ids.raw.tolist()) == ["1.1", "2.2", "3.3"]
    # "7.0" beside "7" in one file is the one number, as in two files of a folder (a log
    # pandas wrote with a missing value, joined to another: they were two movies in one file)
    (tmp_path / "one.csv").write_text("user,item\n1,7.0\n2,7\n3,8\n")
    assert load_log(tmp_path / "one.csv").item_ids.raw.tolist() == [7, 8]
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "a.csv").write_text("user,item\n1,7.0\n")
    (tmp_path / "two" / "b.csv").write_text("user,item\n2,7\n3,8\n")
    assert load_log(tmp_path / "two").item_ids.raw.tolist() == [7, 8]
    # but not "-0" (kept as written where all else are plain numbers), "007" or "+7"
    for odd in ("-0", "007", "+7"):
        (tmp_path / "odd.csv").write_text(f"user,item\n1,7.0\n2,{odd}\n")
        assert sorted(load_log(tmp_path / "odd.csv").item_ids.raw.tolist()) == sorted([odd, "7.0"]), odd
    # the choice is the whole log's: a file of whole ones beside one with 1.5 keeps "1.0" as
    # written in both, and a catalogue matches by that spelling
    (tmp_path / "f1").mkdir()
    (tmp_path / "f1" / "a.csv").write_text("user,item\n1,1.0\n2,2.0\n3,1.0\n")
    (tmp_path / "f1" / "b.csv").write_text("user,item\n4,1.0\n5,1.5\n")
    (tmp_path / "cat.csv").write_text("movieId,title\n1.0,One\n2.0,Two\n")
    ds = load_log(tmp_path / "f1", catalog=tmp_path / "cat.csv")
    assert sorted(ds.item_ids.raw.tolist()) == ["1.0", "1.5", "2.0"] and ds.describe()["catalog_matched"] == 2
    # whole floats Python writes with an exponent are numbers too, beside a file of ints and
    # in a catalogue (they made the log text, and split 1 from "1.0")
    (tmp_path / "exp").mkdir()
    pd.DataFrame({"user": [1, 2], "item": [1, 2]}).to_parquet(tmp_path / "exp" / "a.parquet")
    pd.DataFrame({"user": [3, 4], "item": [1.0, 1e15]}).to_parquet(tmp_path / "exp" / "b.parquet")
    pd.DataFrame({"item": [1.0, 2.0, 1e15], "title": ["One", "Two", "Big"]}).to_parquet(tmp_path / "expcat.parquet")
    ds = load_log(tmp_path / "exp", catalog=tmp_path / "expcat.parquet")
    assert sorted(ds.item_ids.raw.tolist()) == [1, 2, 10**15] and ds.describe()["catalog_matched"] == 3
    # beside text ids, a Parquet file's whole floats are text as its CSV writes them: one
    # person, as the same ids in a CSV are (they were 1 from Parquet, "1.0" from the CSV:
    # two people); and a catalogue of such floats matches them
    (tmp_path / "text").mkdir()
    pd.DataFrame({"user": [1.0, 2.0], "item": ["m1", "m2"]}).to_parquet(tmp_path / "text" / "a.parquet")
    (tmp_path / "text" / "b.csv").write_text("user,item\n1.0,m3\nx,m1\n")
    assert sorted(load_log(tmp_path / "text").user_ids.raw.tolist()) == ["1.0", "2.0", "x"]
    (tmp_path / "t7.csv").write_text("user,item\n1,7.0\n2,abc\n")
    pd.DataFrame({"item": [7.0], "title": ["Seven"]}).to_parquet(tmp_path / "cat7.parquet")
    assert load_log(tmp_path / "t7.csv", catalog=tmp_path / "cat7.parquet").describe()["catalog_matched"] == 1
    # long whole numbers and a negative zero, as pandas writes them
    long = pd.DataFrame({"user": [1, 2, 3], "item": [1234567890123456.0, -0.0, 2.0], "rating": [4, 3, 5]})
    long.to_csv(tmp_path / "long.csv", index=False)
    long.to_parquet(tmp_path / "long.parquet")
    for name in ("long.csv", "long.parquet"):
        assert sorted(load_log(tmp_path / name).item_ids.raw.tolist()) == [0, 2, 1234567890123456], name
    # a missing id written as NaN, and an infinite one
    frame["item"] = [10.0, np.nan, 10.0, 30.0, 20.0]
    frame.to_parquet(tmp_path / "nan.parquet")
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'nan.parquet'))} row 2: no item id$"):
        load_log(tmp_path / "nan.parquet")
    frame["item"] = [10.0, 20.0, np.inf, 30.0, 20.0]
    frame.to_parquet(tmp_path / "inf.parquet")
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'inf.parquet'))} row 3: item id inf is not an id$"):
        load_log(tmp_path / "inf.parquet")


def test_log_files_in_a_folder_inside_the_log_s_folder_are_named_not_left_out(tmp_path):
    # A part in a folder inside was left out without a word (its ratings missing), and a
    # folder of Hive-style partitions was "no ratings log".
    (tmp_path / "log" / "more").mkdir(parents=True)
    (tmp_path / "log" / "a.csv").write_text("user,item\n1,10\n2,20\n")
    (tmp_path / "log" / "more" / "b.csv").write_text("user,item\n3,30\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'log' / 'more'))}: log files in a folder inside "
                                        rf"{re.escape(str(tmp_path / 'log'))}, which cinerec does not read .*so that "
                                        r"no part is left out$"):
        load_log(tmp_path / "log")
    (tmp_path / "log" / "more" / "b.csv").rename(tmp_path / "log" / "more" / "notes.txt")
    (tmp_path / "log" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "log" / ".ipynb_checkpoints" / "a-checkpoint.csv").write_text("user,item\n9,90\n")
    assert load_log(tmp_path / "log").n_users == 2  # (notes, and hidden copies, are no part of it)
    (tmp_path / "log" / "meta").mkdir()  # nor a catalogue kept in a folder of its own
    (tmp_path / "log" / "meta" / "movies.csv").write_text("id,title\n10,Ten\n")
    assert load_log(tmp_path / "log", catalog=tmp_path / "log" / "meta" / "movies.csv").catalog.titles[0] == "Ten"
    (tmp_path / "parts" / "year=2020").mkdir(parents=True)
    (tmp_path / "parts" / "year=2020" / "p.csv").write_text("user,item\n1,10\n")
    with pytest.raises(DataError, match=r"parts: no MovieLens release and no ratings log .*; the folder year=2020 "
                                        r"inside it holds log files, which cinerec does not read there: give that "
                                        r"folder, or gather the files in one$"):
        load_log(tmp_path / "parts")


def test_times_of_one_fine_unit_reaching_back_to_early_1970_read_as_they_are(tmp_path):
    # Refused as two units where the earliest was a hundred times smaller than the latest.
    import datetime as dt

    days = np.linspace(60, 19_700, 40)  # 1970-03-02 to 2023-12-08, evenly
    for unit, per_second in (("us", 10**6), ("ns", 10**9)):
        (tmp_path / f"{unit}.csv").write_text("user,item,ts\n" + "".join(
            f"u{n % 7},m{n},{int(d * 86_400) * per_second}\n" for n, d in enumerate(days)))
        times = load_log(tmp_path / f"{unit}.csv").interactions.timestamps
        assert dt.datetime.fromtimestamp(int(times.min()), dt.timezone.utc).date() == dt.date(1970, 3, 2)
        assert dt.datetime.fromtimestamp(int(times.max()), dt.timezone.utc).year == 2023


def test_a_folder_whose_files_give_times_with_and_without_their_zone_is_refused(tmp_path):
    # Refused within one file, a folder of two such files loaded, the times without a zone read as UTC.
    (tmp_path / "a.csv").write_text("user,item,ts\n1,2,2021-03-04T10:00:00+05:00\n1,3,2021-03-04T11:00:00+05:00\n")
    (tmp_path / "b.csv").write_text("user,item,ts\n2,2,2021-03-04T06:00:00\n2,3,2021-03-04 07:00\n")
    with pytest.raises(DataError, match=r": a\.csv gives its times with their time zone and b\.csv without; give every "
                                        r"time with its zone, or none \(times without one are read as UTC\)$"):
        load_log(tmp_path)
    # Dates alone, or seconds, beside zoned clocks are no clocks to compare.
    (tmp_path / "b.csv").write_text("user,item,ts\n2,2,2021-03-04\n2,3,1614852000\n")
    assert len(load_log(tmp_path).interactions) == 4
    (tmp_path / "b.csv").write_text("user,item,ts\n2,2,2021-03-04T06:00:00Z\n2,3,2021-03-04 07:00 +01:00\n")
    assert len(load_log(tmp_path).interactions) == 4
    # A Parquet column of dates read as timestamps (every one midnight) is dates, too.
    import pandas as pd

    (tmp_path / "b.csv").unlink()
    pd.DataFrame({"user": [2, 2], "item": [2, 3], "ts": pd.to_datetime(["2021-03-01", "2021-03-02"])}).to_parquet(
        tmp_path / "b.parquet")
    assert len(load_log(tmp_path).interactions) == 4
    pd.DataFrame({"user": [2, 2], "item": [2, 3], "ts": pd.to_datetime(["2021-03-01 10:00", "2021-03-02 00:00"])}).to_parquet(
        tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"a\.csv gives its times with their time zone and b\.parquet without"):
        load_log(tmp_path)


def test_times_that_read_oddly_as_seconds_are_said_where_the_data_is(tmp_path, capsys):
    # Spreadsheet day numbers (42005) read as hours of 1 January 1970, and a millisecond log
    # of 1971 as the years 2972 to 4966, without a word.
    import json

    from cinerec.cli import main

    rows = [(u, i) for u in range(6) for i in range(5)]
    (tmp_path / "days.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},4,{42005 + 7 * u + i}\n" for u, i in rows))
    (tmp_path / "ms.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},4,{91908819157 + 1000 * (7 * u + i)}\n" for u, i in rows))
    (tmp_path / "fine.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},4,{1600000000 + 7 * u + i}\n" for u, i in rows))
    assert main(["data", "info", str(tmp_path / "days.csv"), "--json"]) == 0
    out, err = capsys.readouterr()
    said = (f"the times of {tmp_path / 'days.csv'} read as seconds since 1970 all fall in 1970 (1970-01-01 11:40:05 to "
            "1970-01-01 11:40:44 UTC): numbers that are days, years or counts keep only their order")
    assert said in err and said in json.loads(out)["notes"][0]
    assert main(["data", "info", str(tmp_path / "ms.csv")]) == 0
    assert f"the latest time of {tmp_path / 'ms.csv'} reads as 4882 (seconds since 1970): a log in milliseconds " \
           "from before 1973 reads so" in capsys.readouterr().err
    assert main(["data", "info", str(tmp_path / "fine.csv")]) == 0
    assert "note:" not in capsys.readouterr().err
    # Dates written as dates are what they say (9999-12-31, a common "no end"), and the note
    # is of the times the filters kept, not of the whole log.
    (tmp_path / "dated.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},4,2019-01-{1 + u:02d} 00:00:0{i}\n" for u, i in rows) + "u9,m1,4,9999-12-31 00:00:00\n")
    assert main(["data", "info", str(tmp_path / "dated.csv")]) == 0
    assert "note:" not in capsys.readouterr().err
    (tmp_path / "mixed.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},4,{1600000000 + 7 * u + i}\n" for u, i in rows) + "u9,m1,4,5000000000\n")
    assert main(["data", "info", str(tmp_path / "mixed.csv")]) == 0
    assert "reads as" in capsys.readouterr().err
    assert main(["data", "info", str(tmp_path / "mixed.csv"), "--top-users", "3"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_notes_on_how_a_log_was_read_reach_every_commands_json(tmp_path, capsys):
    # The note on times that read oddly as seconds, and the catalogue's, went to stderr on
    # evaluate, train and quickstart, and into data info's --json alone: a program reading
    # --json never saw them.
    import json

    from cinerec.cli import main

    rows = [(u, i) for u in range(12) for i in range(40) if (u + i) % 3]
    (tmp_path / "days.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},{1 + (u * i) % 5},{42005 + 50 * u + i}\n" for u, i in rows))
    (tmp_path / "cat.csv").write_text("item,title\nm0,Zero\nm1,One\n")
    said = f"the times of {tmp_path / 'days.csv'} read as seconds since 1970 all fall in 1970"
    named = "names 2 of the 40 movies"
    source = ["--data", str(tmp_path / "days.csv"), "--catalog", str(tmp_path / "cat.csv")]
    assert main(["evaluate", *source, "--model", "popularity", "--protocol", "loo-full", "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any(said in n for n in notes) and any(named in n for n in notes)
    assert main(["train", *source, "--model", "popularity", "--protocol", "loo-full", "--json",
                 "--out", str(tmp_path / "run")]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any(said in n for n in notes) and any(named in n for n in notes)
    assert main(["quickstart", *source, "--model", "popularity", "--negatives", "10", "--json",
                 "--out", str(tmp_path / "qs")]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any(said in n for n in notes) and any(named in n for n in notes)


def test_a_log_without_a_rating_or_time_column_by_its_usual_name_says_which_columns_went_unread(tmp_path, capsys):
    # A log with "grade" and "when" columns read as plain events in the file's order,
    # without a word: its stars and times were dropped.
    import json

    from cinerec.cli import main
    from cinerec.data import load

    rows = [(u, i) for u in range(6) for i in range(5)]
    (tmp_path / "odd.csv").write_text("who,sku,grade,when\n" + "".join(
        f"u{u},m{i},{1 + (u + i) % 5},{1600000000 + 7 * u + i}\n" for u, i in rows))
    said = (f"{tmp_path / 'odd.csv'}: neither a rating nor a time column was found by its usual name (rating: rating, "
            "ratings, stars, score; time: timestamp, ts, time, datetime, date), and the columns 'grade', 'when' are "
            "left unread, so the log reads as plain events in the file's order; if one holds ratings or times, name "
            "it with --columns rating=NAME or time=NAME")
    assert load(str(tmp_path / "odd.csv"), columns={"user": "who", "item": "sku"}).info["log_notes"] == [said]
    assert main(["data", "info", "--data", str(tmp_path / "odd.csv"), "--columns", "user=who,item=sku", "--json"]) == 0
    out, err = capsys.readouterr()
    assert f"note: {said}" in err and json.loads(out)["notes"] == [said]
    # One of the two found: the other is said alone.
    timed = load(str(tmp_path / "odd.csv"), columns={"user": "who", "item": "sku", "time": "when"})
    assert timed.info["log_notes"] == [
        f"{tmp_path / 'odd.csv'}: no rating column was found by its usual name (rating, ratings, stars, score), and "
        "the column 'grade' is left unread, so the log reads as plain events; if it holds ratings, name it with "
        "--columns rating=NAME"]
    # Every column read, or a log of plain events asked for: nothing to say.
    assert "log_notes" not in load(str(tmp_path / "odd.csv"), columns="user=who,item=sku,rating=grade,time=when").info
    assert "log_notes" not in load(str(tmp_path / "odd.csv"), columns="user=who,item=sku,time=when",
                                   implicit=True).info
    (tmp_path / "plain.csv").write_text("user,item\n" + "".join(f"u{u},m{i}\n" for u, i in rows))
    assert "log_notes" not in load(str(tmp_path / "plain.csv")).info
    # pandas's row index (a column with no name, or "Unnamed: 0") is no column of the log's.
    (tmp_path / "indexed.csv").write_text(",user,item\n" + "".join(f"{k},u{u},m{i}\n" for k, (u, i) in enumerate(rows)))
    assert "log_notes" not in load(str(tmp_path / "indexed.csv")).info


def test_a_logs_columns_of_peoples_details_are_said_to_go_unread(tmp_path):
    # age, gender, occupation beside the ratings were dropped without a word, and two-tower
    # then said "the data has no user demographics" of the file that held them.
    from cinerec.data import load

    (tmp_path / "demo.csv").write_text("user,item,rating,timestamp,Age,gender,occupation\n" + "".join(
        f"u{u},m{i},{1 + (u + i) % 5},{1600000000 + i},{20 + u},F,writer\n" for u in range(4) for i in range(3)))
    assert load(tmp_path / "demo.csv").info["log_notes"] == [
        f"{tmp_path / 'demo.csv'}: the columns 'Age', 'gender', 'occupation' are left unread: cinerec reads people's "
        "details (age, gender, occupation, zip code) from a MovieLens release's users file only, so a model of them "
        "(two-tower's user tower, mlp-rating with features) reads each person's id alone here"]


def test_a_quoted_field_over_two_lines_in_the_last_row_reads(tmp_path):
    # The last row's field "two\nlines" was said to open a quote that no quote closes:
    # the quotes on the file's last line alone were counted.
    f = tmp_path / "log.csv"
    f.write_text('user,item,rating,ts,note\nu1,a,4,1000,ok\nu2,b,3,1001,"two\nlines"\n')
    assert len(load_log(f).interactions) == 2
    f.write_text('user,item,rating,ts,note\nu1,a,4,1000,ok\nu2,b,3,1001,"two\nlines"')
    assert len(load_log(f).interactions) == 2
    cat = tmp_path / "movies.csv"
    cat.write_text('item,title\na,Plain (2000)\nb,"Two\nLines (2001)"\n')
    with pytest.raises(DataError, match="the title of movie 'b' runs over several lines"):
        load_log(f, catalog=cat)
    # A spreadsheet's empty rows (separators alone) are skipped, whatever their width.
    f.write_text("user,item,rating\n1,10,4\n,,\n,\n,,,,\n2,20,5\n,,\n")
    assert len(load_log(f).interactions) == 2


def test_a_header_or_titles_in_a_windows_encoding_read_as_written(tmp_path):
    # A header with "Année" in Latin-1 (a spreadsheet saved by a French Windows) ended in a
    # traceback (UnicodeDecodeError); Windows-1252's curly quote in a title became the
    # control character U+0092.
    rows = [(u, i) for u in range(6) for i in range(5)]
    log = tmp_path / "log.csv"
    log.write_bytes(("userId,movieId,rating,timestamp,Année\n" + "".join(
        f"{u},{i},{1 + (u + i) % 5},{1600000000 + 7 * u + i},2001\n" for u, i in rows)).encode("cp1252"))
    data = load_log(log)
    assert len(data.interactions) == 30 and "log_notes" not in data.info
    cat = tmp_path / "movies.csv"
    cat.write_bytes("movieId,title,Année\n0,Don’t Look Now (1973),1973\n1,Amélie (2001),2001\n2,Œdipe – “Roi” (1967),1967\n"
                    .encode("cp1252"))
    titles = list(load_log(log, catalog=cat).catalog.titles[:3])
    assert titles == ["Don’t Look Now", "Amélie", "Œdipe – “Roi”"], titles
    # The line named in an error after such a header is the file's.
    log.write_bytes(("userId,movieId,rating,Année\n1,2,4,x\n1,3,y,x\n").encode("cp1252"))
    with pytest.raises(DataError, match=r"log\.csv line 3: rating 'y' is not a number"):
        load_log(log)
    # ... and a value in the line is said as written, not with its accent replaced by "�".
    log.write_bytes(("userId,movieId,rating\n1,2,4\n1,3,cinq étoiles\n").encode("cp1252"))
    with pytest.raises(DataError, match=r"log\.csv line 3: rating 'cinq étoiles' is not a number"):
        load_log(log)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_ragged_row_in_windows_text_is_one_error_with_no_traceback(tmp_path, capfd):
    # The reader's look at the row read it as UTF-8 and printed "Exception ignored in: ...
    # UnicodeDecodeError" with a traceback before the one line naming the row.
    log = tmp_path / "log.csv"
    log.write_text("user,item,rating\n" + "".join(f"u{u},{i},4\n" for u in range(4) for i in range(4)))
    cat = tmp_path / "movies.csv"
    cat.write_bytes("item,title,genres\n0,Zero (1990),Drama\n1,Ça (1990),Drama|Comedy,extra,é\n".encode("cp1252"))
    with pytest.raises(DataError, match=r"movies\.csv line 3: 5 fields where the header has 3"):
        load_log(log, catalog=cat)
    assert "Traceback" not in capfd.readouterr().err


def test_a_utf8_title_with_one_stray_windows_byte_keeps_its_utf8_letters(tmp_path):
    # "Amélie" in UTF-8, then Windows-1252's curly quote 0x92: the whole title was read as
    # Windows-1252, "AmÃ©lie’s", which no search for "amélie" found, without a word.
    log = tmp_path / "log.csv"
    log.write_text("user,item,rating\n" + "".join(f"u{u},{i},4\n" for u in range(4) for i in range(3)))
    cat = tmp_path / "movies.csv"
    cat.write_bytes("item,title\n0,Amélie".encode() + b"\x92s (2001)\n" + "1,Léon (1994)\n2,Bad ".encode()
                    + b"\xff 20\n")
    titles = list(load_log(log, catalog=cat).catalog.titles)
    assert titles == ["Amélie’s", "Léon", "Bad ÿ 20"], titles


def test_a_zip_or_a_workbook_given_as_a_catalogue_or_a_csv_is_refused_by_name(tmp_path):
    # Read as CSV text: "no item column (... columns found: 'PK\x03\x04...')" and advice to
    # add a header line.
    import zipfile

    log = tmp_path / "log.csv"
    log.write_text("user,item,rating\n" + "".join(f"u{u},m{i},4\n" for u in range(4) for i in range(3)))
    packed = tmp_path / "movies.zip"
    with zipfile.ZipFile(packed, "w") as z:
        z.writestr("movies.csv", "item,title\nm0,Zero (2000)\n")
    with pytest.raises(DataError, match=re.escape(f"{packed}: a zip file, which cinerec does not read here; unzip it "
                                                  "and give the file it holds")):
        load_log(log, catalog=packed)
    book = tmp_path / "movies.xlsx"
    book.write_bytes(packed.read_bytes())
    with pytest.raises(DataError, match=re.escape(f"{book}: a spreadsheet, which cinerec does not read; save its sheet "
                                                  "as CSV (UTF-8) and give that")):
        load_log(log, catalog=book)
    named = tmp_path / "ratings.csv"
    named.write_bytes(packed.read_bytes())
    with pytest.raises(DataError, match=re.escape(f"{named}: a zip file, which cinerec does not read here")):
        load_log(named)


def test_ids_as_floats_too_large_to_be_exact_are_refused(tmp_path):
    # 19-digit ids written as float64 (pandas turns an id column with a gap into floats)
    # read as one person where the file held six, their ratings "duplicates", without a word.
    import pandas as pd

    ids = [1234567890123456781 + k for k in range(6)]
    frame = pd.DataFrame({"userId": [float(u) for u in ids for _ in range(3)],
                          "movieId": [m for _ in ids for m in (1, 2, 3)], "rating": 4.0})
    frame.to_parquet(tmp_path / "log.parquet")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'log.parquet'} row 1: user id 1234567890123456768 is a "
                                                  "floating-point number of 2**53 or more")):
        load_log(tmp_path / "log.parquet")
    # Within 2**53 floats hold whole numbers exactly: read as those numbers.
    frame["userId"] = [float(u % 10**15) for u in ids for _ in range(3)]
    frame.to_parquet(tmp_path / "log.parquet")
    assert load_log(tmp_path / "log.parquet").n_users == 6


@pytest.mark.parametrize("text, said", [
    # A stray quote inside an unquoted field beside a quote left open on the last line: the
    # open one was said to be a row of the wrong width, or read without a word.
    ('user,item,rating,note\n1,1,4,"ok"\n1,2,4,say 5" tall\n2,2,"3\n', 'line 4: a quote (") opens a field that no quote '
     'closes'),
    ('user,item,rating,note\n1,1,4,"ok"\n1,2,4,say 5" tall\n2,2,3,"open\n', 'line 4: a quote (") opens a field that no '
     'quote closes'),
    # A row of words a reader takes for nothing (#N/A) is no empty row: refused on its own line,
    # and the lines named after it are the file's.
    ("user,item,rating\n1,1,4\n,,#N/A\n3,3,3\n4,2,5\n", "line 3: no user id"),
    ("user,item,rating\n1,1,4\n,,\n3,3,3\n,2,3\n", "line 5: no user id"),
])
def test_quotes_and_empty_rows_are_told_apart_as_a_csv_reader_reads_them(tmp_path, text, said):
    f = tmp_path / "log.csv"
    f.write_text(text)
    with pytest.raises(DataError, match=re.escape(f"{f} {said}")):
        load_log(f)


def test_a_date_in_the_year_1_that_says_so_is_read_and_nanoseconds_round_down(tmp_path):
    (tmp_path / "log.csv").write_text("user,item,ts\n1,2,0001-05-01\n1,3,2020-01-01\n")
    assert load_log(tmp_path / "log.csv").interactions.timestamps.min() == -62125228800  # (1 May of the year 1)
    # Past 2**53 a float rounded 1600000200.999999999 s up to the next second.
    (tmp_path / "ns.csv").write_text("user,item,rating,time\nu,m0,4,1600000000000000000\nu,m1,4,1600000200999999999\n")
    assert load_log(tmp_path / "ns.csv").interactions.timestamps.tolist() == [1600000000, 1600000200]
    # and a date of today, written whole, is read
    today = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M")
    (tmp_path / "today.csv").write_text(f"user,item,ts\n1,2,{today}\n1,3,2020-01-01\n")
    assert load_log(tmp_path / "today.csv").interactions.timestamps.max() > 1.7e9


@pytest.mark.parametrize("sep", [",", ";"])
def test_a_catalogues_genres_separated_by_commas_or_semicolons_are_each_a_genre(tmp_path, sep):
    # "Adventure,Animation,Children" was one genre of that name: a filter by Adventure
    # found none of those movies.
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(f"u{u},{i},{1 + (u + i) % 5}\n"
                                                                     for u in range(5) for i in (1, 2, 3)))
    (tmp_path / "g.csv").write_text(f'movieId,title,genres\n1,Toy Story (1995),"Adventure{sep}Animation{sep}Children"\n'
                                    f'1,Toy Story (1995),"Children{sep} Animation{sep}Adventure"\n'
                                    f'2,Jumanji (1995),"Adventure{sep}Children"\n3,Heat (1995),Drama\n')
    cat = load_log(tmp_path / "log.csv", catalog=tmp_path / "g.csv").catalog
    assert cat.genre_names == ("Adventure", "Animation", "Children", "Drama")
    assert cat.genres.sum(axis=1).tolist() == [3, 2, 1]
    # with a | anywhere, the column is |-separated, its commas part of the names
    (tmp_path / "p.csv").write_text('movieId,title,genres\n1,A,"Action|Adventure"\n2,B,"Music, Film"\n3,C,Drama\n')
    assert "Music, Film" in load_log(tmp_path / "log.csv", catalog=tmp_path / "p.csv").catalog.genre_names
    # and a Parquet column of lists names each genre apart, one to a list or not
    pd.DataFrame({"movieId": [1, 2, 3], "title": ["A", "B", "C"],
                  "genres": [["Music, Film"], ["Drama"], ["Action & Adventure, Kids"]]}).to_parquet(tmp_path / "l.parquet")
    assert load_log(tmp_path / "log.csv", catalog=tmp_path / "l.parquet").catalog.genre_names == (
        "Action & Adventure, Kids", "Drama", "Music, Film")
    # The choice is the whole log's: a folder of files whose genres one file separates by |
    # keeps the others' commas as part of the names, as one file of both would.
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.csv").write_text('userId,movieId,rating,title,genres\n1,1,4,A,Action\n'
                                             '1,2,3,B,"Music, Film"\n')
    (tmp_path / "logs" / "b.csv").write_text('userId,movieId,rating,title,genres\n2,3,5,C,"Action|Drama"\n')
    assert load_log(tmp_path / "logs").catalog.genre_names == ("Action", "Drama", "Music, Film")


def test_a_parquet_time_column_of_uint64_past_2_63_is_read_not_wrapped(tmp_path):
    # Cast to int64 first, 2**63 + 5 ns read as a time before the year 1 and was refused.
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"user": ["a", "a"], "item": ["x", "y"],
                      "ts": pa.array([2**63 + 5, 2**63 + 10**9 + 7], pa.uint64())})
    pq.write_table(table, tmp_path / "log.parquet")
    assert load_log(tmp_path / "log.parquet").interactions.timestamps.tolist() == [9223372036, 9223372037]


def test_a_scale_given_is_the_logs_where_its_ratings_do_not_reach_both_ends(tmp_path):
    # A 1-10 log in which nobody gave a 1 was read as 2 to 10: "liked" started at 6, and a
    # new person's 1 was refused as outside the scale.
    path = tmp_path / "log.csv"
    path.write_text("user,item,rating\na,m1,5\na,m2,10\nb,m1,7\n\nb,m3,2\n")
    assert load_log(path).info["rating_scale"] == [2.0, 10.0]
    data = load_log(path, rating_scale="1,10")
    assert data.info["rating_scale"] == [1.0, 10.0] and data.info["rating_scale_given"] is True
    assert load_log(path, rating_scale=(1, 10)).info["rating_scale"] == [1.0, 10.0]
    for given in ((np.int64(1), np.int64(10)), np.array([1, 10]), [np.float32(1), 10.0], " 1 , 1e1"):
        assert load_log(path, rating_scale=given).info["rating_scale"] == [1.0, 10.0]  # (numpy's numbers refused)
    from cinerec.data.history import liked_min_stars

    assert liked_min_stars(data) == 5.5
    with pytest.raises(DataError, match=r"log\.csv line 6: rating 2 is outside the scale given, "
                                        r"5 to 10 \(rating_scale\)$"):
        load_log(path, rating_scale=(5, 10))


def test_the_scale_given_goes_with_the_ratings_to_the_models_while_they_are_stars(tmp_path):
    from cinerec.data.dataset import Dataset
    from cinerec.data.transforms import as_implicit, binarize, top_users

    path = tmp_path / "log.csv"
    path.write_text("user,item,rating\na,m1,5\na,m2,10\nb,m1,7\nb,m3,2\nc,m2,9\n")
    assert load_log(path).interactions.scale is None  # (read from the ratings held, as before)
    data = load_log(path, rating_scale="1,10")
    assert data.interactions.scale == (1.0, 10.0)
    assert top_users(data, 2).interactions.scale == (1.0, 10.0)  # (fewer rows, the same stars)
    data.save(tmp_path / "saved")
    assert Dataset.load(tmp_path / "saved").interactions.scale == (1.0, 10.0)
    assert binarize(data, 8).interactions.scale is None  # likes, not stars
    assert as_implicit(data).interactions.scale is None
    # Ratings of one's own in its place drop it: they were clipped up to the scale's 1.
    tenths = data.with_interactions(data.interactions.replace(ratings=data.interactions.ratings / 10))
    assert tenths.interactions.scale is None
    # Rows put in time order or a re-rated pair's earlier rating dropped: the same stars, the scale kept.
    (tmp_path / "timed.csv").write_text("user,item,rating,ts\na,m1,5,10.7\na,m2,10,10.2\nb,m1,7,11\nb,m1,8,12\n")
    timed = load_log(tmp_path / "timed.csv", rating_scale="1,10")
    assert len(timed.interactions) == 3 and timed.interactions.scale == (1.0, 10.0)


@pytest.mark.parametrize("scale, needle", [
    ("10,1", "the lowest rating must be below the highest"), ("1", "LOW,HIGH"), ("1,x", "LOW,HIGH"), ("1,", "LOW,HIGH"),
    ((1, 2, 3), "LOW,HIGH"), ((True, 5), "LOW,HIGH"), ("1,inf", "LOW,HIGH"), ((0, 1e30), "finite"), ("3,3", "below"),
    ("1_0,20", "LOW,HIGH"), ((1, float("nan")), "finite"), (np.array([[1, 10]]), "LOW,HIGH"),
    (np.array(5), "LOW,HIGH"), ((1, 10**400), "finite"), ("١,١٠", "LOW,HIGH"), (np.eye(2), r"[[1.0, 0.0], [0.0, 1.0]]:"),
    (np.array(["1", "10"]), r"['1', '10']: give")])
def test_a_bad_scale_is_refused_naming_it(tmp_path, scale, needle):
    from cinerec.errors import ConfigError

    (tmp_path / "log.csv").write_text("user,item,rating\na,m1,2\n")
    with pytest.raises(ConfigError, match=rf"^rating_scale .*{re.escape(needle)}"):
        load_log(tmp_path / "log.csv", rating_scale=scale)


def test_a_scale_for_a_log_without_ratings_or_for_a_release_is_refused(tmp_path, ml100k_dir):
    from cinerec.data import load
    from cinerec.errors import ConfigError

    (tmp_path / "log.csv").write_text("user,item\na,m1\n")
    with pytest.raises(ConfigError, match=r"^rating_scale: .*log\.csv has no rating column \(every row is a plain "
                                          r"event\), so no scale of ratings applies to it$"):
        load_log(tmp_path / "log.csv", rating_scale="1,10")
    with pytest.raises(ConfigError, match=r"^rating_scale: .*ml-100k is a MovieLens release, whose scale is its own"):
        load(ml100k_dir, rating_scale="1,10")
    # A folder of ratings.csv and movies.csv with ids of one's own is read as a log; named
    # with a scale it is refused as a release is, with the way to read it as a log.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,00051,4,1\n2,00052,2,2\n")
    (mine / "movies.csv").write_text("movieId,title,genres\n00051,Film (2001),Drama\n00052,Other (2002),Drama\n")
    assert load(mine).info["format"] == "log"
    with pytest.raises(ConfigError, match=r"^rating_scale: .*mine is a MovieLens release, whose scale is its own stars; "
                                          r"rating_scale applies to a ratings log of your own \(to read ratings\.csv "
                                          r"as one, name the file itself, .*with catalog=.*movies\.csv\)$"):
        load(mine, rating_scale="1,10")
    assert load(mine / "ratings.csv", catalog=mine / "movies.csv", rating_scale="1,5").info["rating_scale"] == [1, 5]
    assert load(mine).info["rating_scale"] == [2, 4]


def test_hexadecimal_looking_ids_and_titles_are_read_as_written(tmp_path):
    # Text ids and titles holding "0x" keep their words, and a file's numbers beside them stay numbers.
    (tmp_path / "log.csv").write_text("user,item,rating,ts\n0x1F,10,4,100\n31,10,3,200\n31,0x0A,5,300\n")
    (tmp_path / "movies.csv").write_text("id,title,year\n10,The 0x Files,1999\n0x0A,Hex,2001\n")
    data = load_log(tmp_path / "log.csv", catalog=tmp_path / "movies.csv")
    assert data.user_ids.raw.tolist() == ["0x1F", "31"] and sorted(data.item_ids.raw.tolist()) == ["0x0A", "10"]
    assert sorted(data.interactions.ratings.tolist()) == [3, 4, 5]
    assert sorted(data.interactions.timestamps.tolist()) == [100, 200, 300]
    assert sorted(data.catalog.years.tolist()) == [1999, 2001]


def test_a_year_column_without_titles_is_said_to_be_left_unread(tmp_path):
    # A log's own years are read beside its titles: with no title column, its year column
    # went unread without a word, and --min-year then said the log had no year column to read.
    from cinerec.data import apply_filters
    from cinerec.data.dataset import reading_notes
    from cinerec.data.filters import Filters

    (tmp_path / "log.csv").write_text("user,item,rating,Year,genres\na,1,4,1990,Drama\na,2,3,,\nb,1,5,1990,Drama\n")
    data = load_log(tmp_path / "log.csv")
    note = (f"{tmp_path / 'log.csv'}: the columns 'Year', 'genres' are left unread: a log's own years and genres are "
            "read beside its titles, and it has no title column by its usual name (title, name); name that column "
            "with --columns title=NAME, or give a movie file with --catalog")
    assert note in reading_notes(data) and not data.catalog.years.any()
    with pytest.raises(DataError, match="no movie has a known release year") as e:
        apply_filters(data, Filters(min_year=1980))
    assert note in str(e.value)
    # Nor where the column was given a role of the log's own (its times).
    (tmp_path / "timed.csv").write_text("user,item,rating,year\na,1,4,1990\nb,1,5,1991\n")
    assert not any("left unread" in n for n in reading_notes(load_log(tmp_path / "timed.csv", columns={"time": "year"})))
    # With its titles, or with a movie file of its own, nothing is left unread to say.
    (tmp_path / "titled.csv").write_text("user,item,rating,title,year\na,1,4,X,1990\nb,2,5,Y,1991\n")
    assert not any("left unread" in n for n in reading_notes(load_log(tmp_path / "titled.csv")))
    (tmp_path / "movies.csv").write_text("id,title\n1,X (1990)\n2,Y (1991)\n")
    assert not any("left unread" in n for n in reading_notes(load_log(tmp_path / "log.csv",
                                                                      catalog=tmp_path / "movies.csv")))


def test_ids_a_spreadsheet_wrote_in_e_notation_are_said_to_be_rounded(tmp_path):
    # 123456789012 and 123457000000 both saved as "1.23457E+11" were one movie without a word.
    from cinerec.data.dataset import reading_notes

    (tmp_path / "log.csv").write_text("user,item,rating\nu1,1.23457E+11,4\nu2,1.23458e+11,5\nu2,55,4\nu3,7E+3,2\n")
    notes = reading_notes(load_log(tmp_path / "log.csv"))
    assert (f"{tmp_path / 'log.csv'}: 3 movie ids are written in E notation, such as '1.23457E+11', as a spreadsheet "
            "shows long numbers: saved so, they may have been rounded, and ids that differed may now be one; save the "
            "ids as text (the column formatted as Text) and read the log again") in notes
    assert not any("user id" in n for n in notes)
    # Ids of letters and digits (a code with an E in it) are no such numbers.
    (tmp_path / "log.csv").write_text("user,item,rating\nu1,1E5X,4\nu2,B7E+2,5\nu2,55,4\n")
    assert not any("E notation" in n for n in reading_notes(load_log(tmp_path / "log.csv")))

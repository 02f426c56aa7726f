"""What the command line prints, on terminals and streams other than the usual one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cinerec.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"


def test_a_table_on_a_dumb_terminal_is_drawn_whole(capsys, monkeypatch):
    # TERM=dumb cut every table's figures ("0.0…") to 80 columns, however wide it was.
    from cinerec.commands.show import print_table

    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("FORCE_COLOR", "1")  # (a terminal, as a dumb one is)
    monkeypatch.setenv("COLUMNS", "40")
    print_table(["model", "figure"], [["a" * 90, "0.123456789"]])
    out = capsys.readouterr().out
    assert "a" * 90 in out and "0.123456789" in out and "…" not in out, out


def test_an_error_naming_a_file_whose_name_holds_escapes_shows_them_escaped(tmp_path, capsys):
    # A file of a folder given, named with ESC in it, cleared the screen when its error was said.
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "b\x1b[2J.csv").write_text("user,item,rating\na,c,x\n")
    assert main(["data", "info", str(logs)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "b\\x1b[2J.csv line 2: rating 'x'" in err, err


def test_a_word_to_paste_into_a_shell_reads_back_as_it_was():
    # quickstart's "next: cinerec recommend ... '--user=\x1b[32mevil'": the id escaped after
    # it was quoted, so the command pasted named no such user.
    from cinerec.commands.show import _UNSHOWN, shell_word

    words = ["plain", "it's", "a\x1b[32mb", "tab\there", "\u202eRTL", "back\\slash\x07", "映画\x85", "--user=x\n'y"]
    for word in words:
        shown = shell_word(word)
        assert not _UNSHOWN.search(shown), shown
        for locale in ("C.UTF-8", "C"):  # (a container's shell often runs in C's: \u202e read as such)
            back = subprocess.run(["bash", "-c", f"printf %s {shown}"], capture_output=True,
                                  env={**os.environ, "LC_ALL": locale}).stdout.decode()
            assert back == word, (word, shown, back, locale)


def test_an_ascii_stdout_writes_other_letters_as_escapes_not_a_traceback(tmp_path):
    # (a title, a genre or the file's own name, lé.csv, ended the command in a traceback)
    log = tmp_path / "lé.csv"
    log.write_text("user,item,rating\nanna,映画,4\nanna,b,3\nbo,映画,5\n")
    done = subprocess.run([sys.executable, "-m", "cinerec", "data", "info", str(log)], capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(SRC), "PYTHONIOENCODING": "ascii",
                               "CINEREC_OFFLINE": "1"}, cwd=tmp_path)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr.decode()[-800:]
    assert b"l\\xe9.csv" in done.stdout


def test_movies_ids_stay_in_line_when_wide_or_escaped(tmp_path, capsys):
    # The id column was padded by each id's length in characters: 映画映画 (8 columns) and
    # \u202eRTL (shown as 9) pushed their titles out of line.
    ids = ["映画映画", "m3", "\u202eRTL", "7", *(f"p{i}" for i in range(30))]
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(
        f'u{u},"{m}",{1 + (u + i) % 5}\n' for u in range(20) for i, m in enumerate(ids) if (u + i) % 3))
    (tmp_path / "movies.csv").write_text("item,title\n" + "".join(
        f'"{m}",{"Odd" if i < 4 else "Plain"} film {i}\n' for i, m in enumerate(ids)))
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--catalog", str(tmp_path / "movies.csv"),
                 "--model", "popularity", "--protocol-option", "n_negatives=10", "--out", str(tmp_path / "run"),
                 "-q"]) == 0
    capsys.readouterr()
    assert main(["movies", "--run", str(tmp_path / "run"), "odd"]) == 0
    from rich.cells import cell_len

    lines = [line for line in capsys.readouterr().out.splitlines() if "Odd film" in line]
    assert len(lines) == 4 and len({cell_len(line[:line.index("Odd film")]) for line in lines}) == 1, lines

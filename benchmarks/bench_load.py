"""How fast ``cinerec data info`` reads an ml-25m-sized release, against bare pandas.

    python benchmarks/bench_load.py [--folder DIR] [--scale 1.0] [--seed 0] [--repeat 5]

Uses ``--folder`` (a release with ``ratings.csv``), or writes once, then reuses, a
synthetic ml-25m-shaped release under ``benchmarks/out/``; beside it, a copy whose
``ratings.csv`` has Windows (CRLF) line endings (written once, under ``benchmarks/out/``
too, never beside ``--folder``). For each line ending it times whole
processes, each started fresh, the kinds interleaved round by round so that a busy
machine slows them alike:

- ``reference``: ``python -c`` running ``pandas.read_csv`` with the four column types
  given, then ``pandas.factorize`` of ``userId`` and ``movieId``: the least any reader
  must do;
- ``cinerec``: ``python -m cinerec data info FOLDER``: the whole command (start-up,
  command-line parsing, ratings, catalogue, ids, summary);
- ``load``: ``python -c`` running ``cinerec.data.load(FOLDER).describe()``: the same
  work without the command-line layer, so that the two differ by its start-up cost;
- ``startup``: ``python -m cinerec --version``: that start-up cost alone.

Prints one JSON object: per line ending and kind, the median wall seconds, the median CPU
seconds (user + system, all threads), the peak resident memory, every wall time, and
``ratio`` = median ``cinerec`` / median ``reference`` (the target is at most 1.5).

    python benchmarks/bench_load.py --logs [--folder DIR] [--repeat 3]

times a person's own ratings log against the MovieLens reader on the same rows, Unix
line endings only, each kind a fresh process running ``cinerec.data.load(...).describe()``:

- ``load``: the release folder, through the MovieLens reader;
- ``log``: the release's ``ratings.csv`` given as a file, so read as a ratings log
  (columns found by name, number ids);
- ``log_text``: the same rows written once (under ``benchmarks/out/``) as a log of one's
  own: columns ``user,item,rating,ts`` and text ids (``u123``, ``m456``);
- ``log_titled``: the same rows joined with the release's ``movies.csv`` (written once),
  each row holding its movie's title and genres: a log that is its own catalogue.

``ratio_log``, ``ratio_log_text`` and ``ratio_log_titled`` are their medians over ``load``'s.

    python benchmarks/bench_load.py --fractions ROWS [--repeat 3]

times the reading of a log whose times are milliseconds with every second shared by 20
rows (so that every row is put in the order of its milliseconds), against the same rows
with whole seconds: ``ms`` and ``seconds``, each a fresh process running
``cinerec.data.load_log``; ``extra_seconds`` is the difference of their medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Where data the benchmarks make is kept between runs (releases written once, caches):
#: ``benchmarks/out/`` (ignored by git), or the folder ``CINEREC_BENCH_OUT`` names.
OUT = Path(os.environ.get("CINEREC_BENCH_OUT") or HERE / "out")
sys.path.insert(0, str(HERE))  # benchmarks/machine.py, however this file is run

from machine import above, at_least, cannot_write, child_failed, machine  # noqa: E402

REFERENCE = """
import sys
import pandas as pd
dtypes = {"userId": "int64", "movieId": "int64", "rating": "float32", "timestamp": "int64"}
frame = pd.read_csv(sys.argv[1], dtype=dtypes)
users, _ = pd.factorize(frame["userId"])
items, _ = pd.factorize(frame["movieId"])
print(len(frame), users.max() + 1, items.max() + 1)
"""

LOAD = """
import sys
from cinerec.data import load
print(load(sys.argv[1]).describe())
"""


def _commands(folder: Path) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "reference": [py, "-c", REFERENCE, str(folder / "ratings.csv")],
        "cinerec": [py, "-m", "cinerec", "data", "info", str(folder)],
        "load": [py, "-c", LOAD, str(folder)],
        "startup": [py, "-m", "cinerec", "--version"],
    }


def _made_for(folder: Path, what: str) -> Path:
    """Where data made from the release ``folder`` is kept: under :data:`OUT`, named for the
    release and its place (two folders of one name are two releases), never beside it."""
    import hashlib

    where = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:8]
    return OUT / f"{folder.name}-{where}-{what}"


TEXT_LOG = """
import sys
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
table = pacsv.read_csv(sys.argv[1])
text = {
    "user": pc.binary_join_element_wise("u", pc.cast(table["userId"], pa.string()), ""),
    "item": pc.binary_join_element_wise("m", pc.cast(table["movieId"], pa.string()), ""),
    "rating": table["rating"], "ts": table["timestamp"],
}
pacsv.write_csv(pa.table(text), sys.argv[2], pacsv.WriteOptions(quoting_style="none"))
"""


def _text_log(folder: Path) -> Path:
    """The release's ratings as a log of one's own: other column names, text ids (written
    once, by a process of its own, as every piece of data made here: this one forks the
    timed processes, and a child's peak memory counts from its parent's)."""
    dest = _made_for(folder, "text-log") / "log.csv"
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name("log.csv.tmp")
    subprocess.run([sys.executable, "-c", TEXT_LOG, str(folder / "ratings.csv"), str(tmp)], check=True)
    tmp.rename(dest)
    return dest


TITLED_LOG = """
import sys
import pyarrow.csv as pacsv
ratings = pacsv.read_csv(sys.argv[1] + "/ratings.csv")
movies = pacsv.read_csv(sys.argv[1] + "/movies.csv").select(["movieId", "title", "genres"])
joined = ratings.join(movies, "movieId", join_type="left outer")
pacsv.write_csv(joined, sys.argv[2])
"""


def _titled_log(folder: Path) -> Path:
    """The release's ratings joined with its movie file, each row holding its movie's title
    and genres (``userId,movieId,rating,timestamp,title,genres``): a log that is its own
    catalogue (written once, by a process of its own, as :func:`_text_log`)."""
    dest = _made_for(folder, "titled-log") / "log.csv"
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name("log.csv.tmp")
    subprocess.run([sys.executable, "-c", TITLED_LOG, str(folder), str(tmp)], check=True)
    tmp.rename(dest)
    return dest


def _logs(folder: Path, repeat: int) -> dict:
    py = sys.executable
    commands = {
        "load": [py, "-c", LOAD, str(folder)],
        "log": [py, "-c", LOAD, str(folder / "ratings.csv")],
        "log_text": [py, "-c", LOAD, str(_text_log(folder))],
    }
    if (folder / "movies.csv").is_file():
        commands["log_titled"] = [py, "-c", LOAD, str(_titled_log(folder))]
    timings: dict = {k: [] for k in commands}
    for _ in range(repeat):
        for kind, command in commands.items():
            timings[kind].append(_run(command))
    out: dict = {"benchmark": "cinerec.data.load of a ratings log beside the MovieLens reader, the same rows",
                 "folder": str(folder), "ratings_csv_mb": round((folder / "ratings.csv").stat().st_size / 2**20)}
    for kind, runs in timings.items():
        out[kind] = {
            "seconds": round(statistics.median(r[0] for r in runs), 2),
            "cpu_seconds": round(statistics.median(r[1] for r in runs), 2),
            "peak_rss_mib": max(r[2] for r in runs),
            "all_seconds": [round(r[0], 2) for r in runs],
        }
    out["ratio_log"] = round(out["log"]["seconds"] / out["load"]["seconds"], 3)
    out["ratio_log_text"] = round(out["log_text"]["seconds"] / out["load"]["seconds"], 3)
    if "log_titled" in out:
        out["ratio_log_titled"] = round(out["log_titled"]["seconds"] / out["load"]["seconds"], 3)
    out["cpus"] = os.cpu_count()
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    out["machine"] = machine()
    return out


FRACTIONS_LOG = """
import sys
import numpy as np
import pandas as pd
n, out = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
seconds = np.sort(rng.integers(1_000_000_000, 1_600_000_000, -(-n // 20))).repeat(20)[:n]
ms = seconds * 1000 + rng.integers(0, 1000, n)
frame = pd.DataFrame({"user": rng.integers(0, max(1, n // 100), n), "item": rng.integers(0, max(1, n // 250), n),
                      "rating": rng.integers(1, 6, n).astype(float), "ts": ms})
frame.to_parquet(out + "/ms.parquet")
frame.assign(ts=seconds).to_parquet(out + "/seconds.parquet")
"""

LOAD_LOG = """
import sys
from cinerec.data.logs import load_log
print(len(load_log(sys.argv[1]).interactions))
"""


def _fractions(rows: int, repeat: int) -> dict:
    dest = OUT / f"fractions-log-{rows}"
    if not (dest / "seconds.parquet").exists():  # (written by a process of its own: see _text_log)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        subprocess.run([sys.executable, "-c", FRACTIONS_LOG, str(rows), str(tmp)], check=True)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    commands = {kind: [sys.executable, "-c", LOAD_LOG, str(dest / f"{kind}.parquet")] for kind in ("ms", "seconds")}
    timings: dict = {k: [] for k in commands}
    for _ in range(repeat):
        for kind, command in commands.items():
            timings[kind].append(_run(command))
    out: dict = {"benchmark": "cinerec.data.load_log of a log in milliseconds, 20 rows a second, beside the same "
                              "rows in whole seconds", "rows": rows}
    for kind, runs in timings.items():
        out[kind] = {"seconds": round(statistics.median(r[0] for r in runs), 2),
                     "cpu_seconds": round(statistics.median(r[1] for r in runs), 2),
                     "peak_rss_mib": max(r[2] for r in runs), "all_seconds": [round(r[0], 2) for r in runs]}
    out["extra_seconds"] = round(out["ms"]["seconds"] - out["seconds"]["seconds"], 2)
    out["cpus"] = os.cpu_count()
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    out["machine"] = machine()
    return out


def _run(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one child process."""
    t0 = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    err = child.stderr.read().decode("utf-8", "replace") if child.stderr else ""
    if child.returncode != 0:
        child_failed(" ".join(command[:4]), child.returncode, err)
    return wall, usage.ru_utime + usage.ru_stime, round(usage.ru_maxrss / 1024)


def _crlf_copy(folder: Path, dest: Path) -> Path:
    """``dest``: ``folder`` with ``ratings.csv`` rewritten with CRLF line endings (once)."""
    if (dest / "ratings.csv").exists():
        return dest
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in folder.iterdir():
        if f.is_file() and f.name != "ratings.csv":
            shutil.copy2(f, tmp / f.name)
    with open(folder / "ratings.csv", "rb") as src, open(tmp / "ratings.csv", "wb") as out:
        carry = b""
        while block := src.read(1 << 24):
            block = carry + block
            carry = b"\r" if block.endswith(b"\r") else b""
            block = block[: len(block) - len(carry)]
            out.write(block.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        out.write(carry)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folder", type=Path, help="a release to read (default: a synthetic ml-25m under benchmarks/out/)")
    p.add_argument("--scale", type=above(0.0), default=1.0)
    p.add_argument("--seed", type=at_least(0), default=0)
    p.add_argument("--repeat", type=at_least(1), default=5, help="rounds; each round runs every kind once")
    p.add_argument("--kinds", default="reference,cinerec,load,startup", help="which processes to time")
    p.add_argument("--logs", action="store_true", help="time a ratings log against the MovieLens reader instead")
    p.add_argument("--fractions", type=at_least(1), metavar="ROWS",
                   help="time a log in milliseconds of this many rows against the same in whole seconds instead")
    args = p.parse_args()
    if args.repeat < 1:
        p.error("--repeat: must be at least 1")
    unknown = sorted(set(args.kinds.split(",")) - {"reference", "cinerec", "load", "startup"})
    if unknown:
        p.error(f"--kinds: unknown kind {unknown[0]!r} (reference, cinerec, load, startup)")
    if args.folder is not None and not (args.folder / "ratings.csv").is_file():
        p.error(f"--folder {args.folder}: holds no ratings.csv")
    if not 0 < args.scale <= 10:  # (what cinerec data synthesize, which writes the release, takes)
        p.error("--scale: must be above 0 and at most 10")

    try:
        _measure(args)
    except OSError as e:  # (a read-only checkout: benchmarks/out/, or a folder above it, cannot be made)
        where = Path(e.filename) if e.filename else None
        if where is None or not (where == OUT or where in OUT.parents or OUT in where.parents):
            raise
        cannot_write(e)


def _measure(args: argparse.Namespace) -> None:
    if args.fractions is not None:
        print(json.dumps(_fractions(args.fractions, args.repeat), indent=2))
        return
    result: dict = {"benchmark": "cinerec data info on a release's ratings.csv (its size below), whole processes"}
    folder = args.folder
    if folder is None:
        folder = OUT / f"synthetic-ml-25m-scale{args.scale:g}-seed{args.seed}"
        if not (folder / "ratings.csv").exists():  # (in a process of its own: see _text_log)
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "cinerec", "data", "synthesize", "--like", "ml-25m", "--scale",
                                   f"{args.scale!r}", "--seed", str(args.seed), "--out", str(folder), "--quiet"],
                                  stdout=subprocess.DEVNULL)
            if done.returncode != 0:  # its error is on stderr above
                child_failed("cinerec data synthesize", done.returncode)
            result["generate_seconds"] = round(time.perf_counter() - t0, 2)
    folder = folder.resolve()
    if args.logs:
        print(json.dumps(_logs(folder, args.repeat), indent=2))
        return
    crlf = _crlf_copy(folder, _made_for(folder, "crlf"))
    kinds = args.kinds.split(",")
    result["folders"] = {"lf": str(folder), "crlf": str(crlf)}
    result["ratings_csv_mb"] = {
        "lf": round((folder / "ratings.csv").stat().st_size / 2**20),
        "crlf": round((crlf / "ratings.csv").stat().st_size / 2**20),
    }
    timings: dict = {end: {k: [] for k in kinds} for end in ("lf", "crlf")}
    for _ in range(args.repeat):
        for end, where in (("lf", folder), ("crlf", crlf)):
            commands = _commands(where)
            for kind in kinds:
                timings[end][kind].append(_run(commands[kind]))
    for end in ("lf", "crlf"):
        out: dict = {}
        for kind in kinds:
            runs = timings[end][kind]
            out[kind] = {
                "seconds": round(statistics.median(r[0] for r in runs), 2),
                "cpu_seconds": round(statistics.median(r[1] for r in runs), 2),
                "peak_rss_mib": max(r[2] for r in runs),
                "all_seconds": [round(r[0], 2) for r in runs],
            }
        if "cinerec" in out and "reference" in out:
            out["ratio"] = round(out["cinerec"]["seconds"] / out["reference"]["seconds"], 3)
        if "load" in out and "reference" in out:
            out["ratio_load"] = round(out["load"]["seconds"] / out["reference"]["seconds"], 3)
        result[end] = out
    result["cpus"] = os.cpu_count()
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"] = machine()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)

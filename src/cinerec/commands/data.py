"""``cinerec data``: fetch a MovieLens release, describe a source, write a synthetic release.

    cinerec data fetch ml-100k
    cinerec data info ml-100k --json
    cinerec data info ml-25m --min-year 2010 --kcore 5
    cinerec data info my-log.csv --columns user=uid,item=sku --catalog items.csv
    cinerec data synthesize --like ml-25m --scale 0.1 --seed 3 --out data/ml-25m-small
"""

import os
import typing
from pathlib import Path
from typing import Annotated

import typer

from cinerec.commands import flags
from cinerec.config import MAX_SEED

__all__ = ["fetch", "info", "synthesize"]

Source = Annotated[str, typer.Argument(
    metavar="SOURCE", show_default=False,
    help="A release name (ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-32m, ml-latest-small, ml-latest), a folder or a zip.")]


def fetch(
    source: Source,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", metavar="URL", help="Where <release>.zip is served [default: GroupLens].")] = None,
    quiet: flags.Quiet = False,
) -> None:
    """Download a release (checked against its sha256, or for ml-10m, ml-32m and ml-latest the md5
    published beside the zip: GroupLens's, or a mirror's own with --base-url) or unpack a zip.

    Prints the folder it is in.
    """
    from cinerec import progress
    from cinerec.commands.show import say
    from cinerec.data import download
    from cinerec.data.movielens import (check_source, local_copy, locate, name_of_local_copy, not_that_release,
                                        synthetic_like)
    from cinerec.errors import ConfigError

    if not source.strip():  # an unset "$RELEASE": it read the current folder
        raise ConfigError("SOURCE: empty; name a release, a folder or a zip to fetch or unpack")
    if base_url is not None and not base_url.strip():
        raise ConfigError("--base-url '': give the address releases are served from (leave the flag out for GroupLens)")
    named = name_of_local_copy(source)  # a release's copy where one runs, as every command reads it
    source = os.fspath(local_copy(source))
    path = Path(source)
    if not path.exists():
        check_source(source)  # a path that is not there is named so, not called an unknown release
    if path.exists():
        from cinerec.data.logs import LOG_SUFFIXES
        from cinerec.errors import DataError

        try:
            folder = locate(source, release=named)[0]  # (that copy must hold that release)
        except DataError as e:
            if named is not None and (refused := not_that_release(named, source, e)) is not None:
                raise refused from None
            files = [path] if path.is_file() else list(path.iterdir()) if path.is_dir() else []
            if named is None and any(f.suffix.lower() in LOG_SUFFIXES for f in files):  # a log of one's own
                raise DataError(f"{source}: a ratings log, not a MovieLens release: there is nothing to fetch "
                                f"or unpack; give it to the other commands as it is (--data {source})") from None
            raise
        if named is not None and (like := synthetic_like(folder)) is not None:
            # a made-up copy where one runs stood for the release asked for without a word
            say(f"note: {named} is read from ./{source}, a SYNTHETIC release shaped like {like} (made by "
                f"`cinerec data synthesize`) where you run; nothing was fetched{' from --base-url' if base_url else ''} "
                f"(give another folder to run in to download the real {named})", quiet)
        elif base_url is not None:  # (the copy here is read before the cache and any server)
            if named is not None:
                say(f"note: {named} is read from ./{source}, a copy where you run; nothing was fetched from "
                    "--base-url (give another folder to run in to download it)", quiet)
            else:
                say(f"note: {source} is a {'folder' if path.is_dir() else 'file'} here; nothing was fetched from "
                    "--base-url (name a release to download one)", quiet)
    else:
        rel = download.release_info(source)
        archive = download.cache_dir() / rel.zip_name

        def stamp() -> int | None:
            return archive.stat().st_mtime_ns if archive.exists() else None

        had, before = download.cached(source), stamp()
        with progress.silenced(quiet):
            try:
                folder = download.fetch(source, base_url=base_url, progress=True)
            except ConfigError as e:  # (the function's argument, on the command line --base-url)
                raise ConfigError(str(e).replace("base URL ", "--base-url ", 1)) from None
        if base_url is not None and (had is not None or before is not None) and stamp() == before:
            # the cache's copy (its folder, or its zip unpacked again) was used, not the server
            held = [p for p in (download.cache_dir() / rel.name, archive) if p.exists()]
            say(f"note: {source} is already in the cache; nothing was fetched from --base-url (remove "
                f"{' and '.join(map(str, held))} to download it again)", quiet)
        folder = locate(source)[0]  # its files as the release has them (a damaged cached copy is named)
    print(folder)


InfoSource = Annotated[str | None, typer.Argument(
    metavar="[SOURCE]", show_default=False,
    help="The ratings, as --data names them (either one): a release name, a folder, a zip or a ratings log.")]


@flags.with_filters
def info(
    source: InfoSource = None,
    data: Annotated[str | None, typing.get_args(flags.Data)[1]] = None,
    release: Annotated[str | None, typer.Option(
        "--release", metavar="NAME", help="Which release the folder holds, when its name does not say (checked against its file layout "
             "only).")] = None,
    columns: flags.Columns = None,
    catalog: flags.CatalogFile = None,
    rating_scale: flags.RatingScale = None,
    filters: typing.Any = None,  # the filter flags (flags.with_filters)
    json: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Counts, rating range and time range of a source, after any filters.

    With --json the record of what was read and filtered comes too (as in run.json).
    """
    from cinerec import progress
    from cinerec.commands.show import print_facts, print_json, say
    from cinerec.data import apply_filters, load
    from cinerec.data.dataset import reading_notes
    from cinerec.data.filters import data_record, step_said  # (not cinerec.runs, which imports torch)
    from cinerec.data.movielens import UNNAMED_CSV

    from cinerec.errors import ConfigError

    if source is not None and data is not None:
        raise ConfigError(f"data info: the data is named twice ({source!r} and --data {data!r}); give one")
    if source is None and data is None:
        raise ConfigError("data info: which data? give a source (a release name, a folder, a zip or a ratings "
                          "log) as an argument or with --data")
    where = flags.data_source(source, columns, catalog, flag=None, rating_scale=rating_scale) if data is None else \
        flags.data_source(data, columns, catalog, rating_scale=rating_scale)
    source = where["source"]
    with progress.silenced(quiet):
        dataset = load(source, release=release, progress=True, columns=where["columns"], catalog=where["catalog"],
                       rating_scale=where.get("rating_scale"))
    dataset, record = apply_filters(dataset, filters)
    for line in reading_notes(dataset):  # (of the movies the filters kept)
        say(f"note: {line}", quiet)
    facts = dataset.describe()
    facts["release"] = dataset.info.get("release")
    if facts["release"] == UNNAMED_CSV and not json:
        facts["release"] += " (MovieLens's CSV layout; --release names which release it is)"
    # The source as given (a zip, not the cache folder it was unpacked into), and where it
    # was read from when that is elsewhere (a release fetched by name: its cached copy).
    facts["source"] = str(source)
    read_from = dataset.info.get("source")
    if read_from is not None and os.path.realpath(str(read_from)) != os.path.realpath(os.path.expanduser(str(source))):
        facts["read_from"] = str(read_from)
    facts["implicit"] = bool(dataset.info.get("implicit", False))
    facts["official_folds"] = list(dataset.folds)
    if json:  # (said on stderr above, read by no program there; [] when none, as other commands give)
        facts["synthetic"] = bool(dataset.info.get("synthetic"))  # (false too, as other commands give it)
        facts["notes"] = reading_notes(dataset)
        print_json({**facts, "dataset": data_record(where, dataset, filters, record)})
        return
    print_facts(facts)
    for step in record:
        say(step_said(step), quiet)


def synthesize(
    like: Annotated[str, typer.Option(
        "--like", metavar="RELEASE", show_default=False, help="The release to imitate, e.g. ml-100k or ml-25m.")],
    out: Annotated[Path, typer.Option(
        "--out", metavar="DIR", show_default=False, callback=flags.home,
        help="The folder to write: new, empty, or an earlier synthetic release holding only its own "
             "files (which it replaces).")],
    scale: Annotated[float, typer.Option(
        "--scale", help="Size relative to the real release, above 0 and at most 10: users and ratings grow with it, "
                        "rated movies and the catalogue with its square root.")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="The seed of the synthetic ratings.")] = 0,
    crlf: Annotated[bool, typer.Option("--crlf", help="Windows line endings.")] = False,
    quiet: flags.Quiet = False,
) -> None:
    """Write a synthetic release shaped like a real one.

    Same file formats as the real release, for the files cinerec reads (ratings, movies,
    people, folds; not tags, links or the genome), and a SYNTHETIC.txt that says what it
    is; prints the folder.
    """
    from cinerec.commands.show import say
    from cinerec.data.synthetic import MAX_SCALE, SHAPES, size_note, write_release
    from cinerec.errors import ConfigError

    if like == "ml-latest":  # (a release name, but of no fixed size)
        raise ConfigError("--like 'ml-latest': the full latest release is published again now and then, so it has no "
                          "one shape to imitate; --like ml-32m is the nearest, or ml-latest-small")
    if like not in SHAPES:
        raise ConfigError(f"--like {like!r}: unknown MovieLens release; known: {', '.join(SHAPES)}")
    if not 0 < scale <= MAX_SCALE:
        raise ConfigError(f"--scale must be above 0 and at most {MAX_SCALE:g} (the real release's size times it), got {scale}")
    from cinerec.io import claimed

    with claimed(out):  # a second synthesize into the same folder is refused, not silently lost
        try:
            folder = write_release(out, like, scale, seed, crlf=crlf)
        except MemoryError as e:  # (the command's own sizes, not a model's settings, asked for it)
            from cinerec.errors import DataError, allocation_words

            raise DataError(f"--like {like} --scale {scale:g}: out of memory making the release "
                            f"({allocation_words(e)}); a smaller --scale fits") from None
    print(folder)
    say(f"wrote a synthetic {like} (scale {scale:g}, seed {seed}) to {folder}", quiet)
    note = size_note(like, scale)
    if note is not None:
        say(f"note: {note}", quiet)

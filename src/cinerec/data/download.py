"""Fetching MovieLens releases: download, checksum, cache, extract.

A release is downloaded once from GroupLens into the cache folder
(``$CINEREC_HOME/movielens``, by default under ``platformdirs.user_cache_dir("cinerec")``)
and extracted beside its zip::

    <cache>/ml-100k.zip          the official archive, checksum verified
    <cache>/ml-100k/ml-100k/     its extracted contents (ml-10m extracts to ml-10M100K/)

Nothing is ever left half-written under a final name: the zip is streamed to a
temporary name and renamed only once its checksum matches, and the extraction happens
in a temporary folder that is swapped in when complete. The extracted folder records
which zip it came from (size, time, sha256): a different zip put in the cache since is
extracted again. It records too each file's time when unpacked and its size and CRC-32
in the zip, so a file cut short or changed since is found, the zip removed or not.
Fetches of one release take turns (a lock beside its zip): started together, one
downloads it and the others wait for its copy.

Checksums: the sha256 of the official archives below were published with the releases
and are kept here. For ml-10m, ml-32m and ml-latest (published again now and then) no
sha256 is kept; GroupLens publishes an md5
beside every zip (``<name>.zip.md5``), so those downloads are verified against that
published md5 instead: from a mirror (``base_url``), the mirror's own md5, so for these
three releases a mirror is trusted as it stands. A zip placed in the cache by hand is
checked against the sha256 when one is known; one without a known sha256 is trusted as
given.

With ``CINEREC_OFFLINE`` set (the test suite sets it; ``0``, ``false``, ``no`` or ``off``
leave it unset) no connection is ever attempted; a ``file:`` base URL, a folder of this
machine, is still read.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import sys
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from cinerec.errors import ConfigError, DataError, DownloadFailed, NotFoundError
from cinerec.io import atomic_dir, atomic_path, in_turn, sweep_stale_temps

__all__ = [
    "RELEASES",
    "Release",
    "DEFAULT_BASE_URL",
    "cache_dir",
    "fetch",
    "cached",
    "extract",
    "file_digest",
    "release_info",
    "remove_cached",
]

DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens"


@dataclass(frozen=True)
class Release:
    """One official MovieLens release.

    Attributes:
        name: the release name, e.g. ``"ml-100k"``.
        zip_name: the archive's file name on the GroupLens server.
        folder: the folder the archive extracts to.
        sha256: the archive's published sha256, or ``None`` when only the md5 published
            beside the zip can verify it.
    """

    name: str
    zip_name: str
    folder: str
    sha256: str | None


RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        Release("ml-100k", "ml-100k.zip", "ml-100k", "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"),
        Release("ml-1m", "ml-1m.zip", "ml-1m", "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"),
        Release("ml-10m", "ml-10m.zip", "ml-10M100K", None),
        Release("ml-20m", "ml-20m.zip", "ml-20m", "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3"),
        Release("ml-25m", "ml-25m.zip", "ml-25m", "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa"),
        Release("ml-32m", "ml-32m.zip", "ml-32m", None),
        Release(
            "ml-latest-small", "ml-latest-small.zip", "ml-latest-small",
            "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        ),
        # The full "latest" release, which GroupLens publishes again now and then: no fixed
        # sha256 can be kept for it, only the md5 published beside its zip.
        Release("ml-latest", "ml-latest.zip", "ml-latest", None),
    )
}

_CHUNK = 1 << 20


def release_info(name: str) -> Release:
    """The :class:`Release` called ``name``; ``NotFoundError`` listing the known ones otherwise."""
    try:
        return RELEASES[name]
    except KeyError:
        raise NotFoundError(f"unknown MovieLens release {name!r}; known: {', '.join(RELEASES)}") from None


def cache_dir() -> Path:
    """The folder releases are cached in: ``$CINEREC_HOME/movielens``.

    ``CINEREC_HOME`` defaults to ``platformdirs.user_cache_dir("cinerec")``.
    """
    home = os.environ.get("CINEREC_HOME")
    if not home:
        import platformdirs

        home = platformdirs.user_cache_dir("cinerec")
    return Path(os.path.expanduser(home)) / "movielens"


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def cached(name: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The extracted folder of release ``name`` if it is in the cache, else ``None``."""
    rel = release_info(name)
    folder = _root(cache_dir) / rel.name / rel.folder
    return folder if folder.is_dir() else None


def fetch(
    name: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    checksums: Mapping[str, str] | None = None,
    progress: bool = True,
) -> Path:
    """The extracted folder of release ``name``, downloading it first when needed.

    Order of preference: the extracted folder already in the cache; the zip in the
    cache (placed there by an earlier download or by hand), verified and extracted; a
    download from ``base_url`` (default ``$CINEREC_MOVIELENS_URL`` or GroupLens).

    Args:
        name: a release name such as ``"ml-100k"``.
        cache_dir: where releases are kept; default :func:`cache_dir`.
        base_url: the folder URL holding ``<name>.zip``.
        checksums: expected sha256 per release name, overriding the built-in ones
            (used to serve home-made archives, e.g. in tests).
        progress: show a download progress bar on stderr.

    Returns:
        The folder holding the release's files (for ml-10m, ``.../ml-10M100K``).

    Raises:
        NotFoundError: ``name`` is not a known release.
        DataError: the download failed, was refused (offline) or its checksum differs.
    """
    rel = release_info(name)
    root = _root(cache_dir)
    _sweep_stale(root, rel)  # (a killed download's leftovers go even once another finished the copy)
    done, lacking, replaced = _cached_state(rel, root)
    if done is not None and lacking is None and not replaced:
        return done
    try:
        check_writable(root)
    except DataError as e:
        if lacking is None:
            raise
        raise DataError(f"{e}; the cached copy {root / rel.name} lacks {lacking}, or holds it cut short or "
                        "changed since it was unpacked") from None

    def waiting() -> None:
        if progress:
            print(f"waiting for another download of {name} into {root} to end...", file=sys.stderr, flush=True)

    # Fetches of one release take turns: two at once (two commands started together)
    # downloaded it twice. The one that waited finds the copy the other made. (The turn's
    # lock is in the cache folder, made for it and kept: removed by a fetch that failed,
    # the one waiting found no folder to lock in, and went on without a turn.)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{root}: the download cache cannot be made ({e.strerror or e}); set CINEREC_HOME to a "
                        "folder you can write, or give the path of an unzipped release") from None
    with in_turn(root / rel.zip_name, waiting):
        done, lacking, replaced = _cached_state(rel, root)
        if done is not None and lacking is None and not replaced:
            return done
        return _fetch_in_turn(name, rel, root, base_url, checksums, progress, lacking, replaced)


def _cached_state(rel: Release, root: Path) -> tuple[Path | None, str | None, bool]:
    """The release's extracted folder in the cache (or ``None``), what it lacks (or
    ``None``), and whether a zip put in the cache since it was unpacked replaces it."""
    archive = root / rel.zip_name
    done = cached(rel.name, root)
    lacking = _lacking(archive, root / rel.name, rel) if done is not None else None
    # A zip put in the cache since the folder was unpacked (a newer copy, by hand) is
    # unpacked again, not passed over for the old folder.
    replaced = done is not None and lacking is None and archive.is_file() and not _unpacked_from(archive, root / rel.name)
    return done, lacking, replaced


def _fetch_in_turn(name: str, rel: Release, root: Path, base_url: str | None, checksums: Mapping[str, str] | None,
                   progress: bool, lacking: str | None, replaced: bool) -> Path:
    """:func:`fetch`'s download (when the zip is not in the cache), check and extraction,
    in this process's turn."""
    archive = root / rel.zip_name
    expected = (checksums or {}).get(name, rel.sha256)
    written: tuple[int, int, int] | None = None  # the zip this call downloaded: its device, inode and time
    if archive.exists():
        if not zipfile.is_zipfile(archive):  # (a download cut short, copied in by hand): not someone else's file
            raise DataError(f"{archive}: not a readable zip file (cut short or damaged); remove it to download again")
        if expected is not None:
            _check(archive, "sha256", expected, file_digest(archive, "sha256"), delete=False)
    else:
        try:
            _download(rel, archive, base_url, expected, progress)
        except DataError as e:
            if lacking is None:
                raise
            # (a damaged copy, never passed over as a download that failed: DataError, not DownloadFailed)
            raise DataError(f"{e}; the cached copy {root / rel.name} lacks {lacking}, or holds it cut short or "
                            "changed since it was unpacked") from None
        written = _identity(archive)

    def unusable(what: str) -> DataError:
        # A zip this call downloaded goes (its mirror's md5 matched a damaged one): kept, it
        # failed every later fetch, from a good mirror too. One placed by hand is left, and
        # so is one another process put in its place since.
        if written is not None and _identity(archive) == written:
            archive.unlink(missing_ok=True)
            return DataError(f"{archive}: {what}; removed it, so the next fetch downloads it again")
        return DataError(f"{archive}: {what}; remove it to download again")

    try:
        with zipfile.ZipFile(archive) as z:
            holds = any(n.rstrip("/").split("/")[0] == rel.folder for n in z.namelist())
    except (zipfile.BadZipFile, OSError, zlib.error) as e:
        raise unusable(f"not a readable zip file ({e})") from None
    if not holds:  # checked before extracting, so the cache keeps no release that is not one
        raise unusable(f"the archive does not hold the folder {rel.folder}/")
    # A copy another process finished while this one downloaded is kept, not swapped out
    # under its readers; a damaged one (a file deleted since) is replaced.
    try:
        extract(archive, root / rel.name, stamp=True,
                keep=None if lacking or replaced else lambda folder: (folder / rel.folder).is_dir())
    except DataError as e:  # (damage found only when unpacked: a bad CRC of one member, an unsafe path)
        said = str(e).removeprefix(f"{archive}: ")
        if not said.startswith(("not a readable zip file", "refusing the unsafe member path")):
            raise
        raise unusable(said) from None
    return root / rel.name / rel.folder


#: In an unpacked release's cache folder (``<cache>/ml-10m/.cinerec-zip.json``): the size,
#: modification time and sha256 of the zip it was unpacked from.
ZIP_STAMP = ".cinerec-zip.json"


def _zip_stamp(archive: Path, sha256: str | None = None, folder: Path | None = None,
               files: Mapping[str, int] | None = None, members: Any = None) -> str:
    """The stamp of ``archive``, with the modification time of each file unpacked from it
    into ``folder`` (or the ``files`` an earlier stamp recorded): a file changed in place
    since is then told from one left alone, and checked against the zip. ``members``: each
    file's size and CRC-32 in the zip (read from it when unpacked into ``folder``), which
    check the files once the zip is gone."""
    st = archive.stat()
    if folder is not None:
        files = {f.relative_to(folder).as_posix(): f.stat().st_mtime_ns for f in folder.rglob("*")
                 if f.is_file() and f.name != ZIP_STAMP}
        members = _zip_members(archive)
    return json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                       "sha256": sha256 or file_digest(archive, "sha256"), "files": dict(files or {}),
                       **({"members": members} if members is not None else {})}) + "\n"


def _unpacked_from(archive: Path, folder: Path) -> bool:
    """Whether the unpacked ``folder`` came from ``archive`` as it is now, by the stamp kept
    in it: same size and time, or (a zip copied again, same bytes) same sha256, which
    brings the stamp up to date. A folder with no stamp (unpacked by an older cinerec) is
    taken as it is where the cache cannot be written, else unpacked again once."""
    try:
        stamp = json.loads((folder / ZIP_STAMP).read_text())
        st = archive.stat()
    except FileNotFoundError:
        return not os.access(folder.parent, os.W_OK)
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict) or stamp.get("size") != st.st_size:
        return False
    if stamp.get("mtime_ns") == st.st_mtime_ns:
        return True
    if stamp.get("sha256") != file_digest(archive, "sha256"):
        return False
    try:
        with atomic_path(folder / ZIP_STAMP) as tmp:
            tmp.write_text(_zip_stamp(archive, stamp["sha256"], files=stamp.get("files"),
                                      members=stamp["members"] if _recorded_members(stamp) is not None
                                      else _zip_members(archive)))
    except (OSError, ConfigError):  # (a cache that cannot be written: it is the same zip all the same)
        pass
    return True


def _lacking(archive: Path, folder: Path, rel: Release) -> str | None:
    """A file of the cached ``archive`` missing from its unpacked ``folder`` or not as the
    zip holds it (deleted or cut short since it was unpacked: its size is not the zip's;
    changed in place: written since, and its CRC-32 is not the zip's), else ``None``.
    Without the zip, the same against the sizes and CRC-32s the stamp recorded from it,
    or where it recorded none (an earlier cinerec's), the release's ratings or movie file
    missing."""
    try:
        stamp = json.loads((folder / ZIP_STAMP).read_text())
    except (OSError, ValueError):
        stamp = None
    stamp = stamp if isinstance(stamp, dict) else None
    recorded = _recorded_members(stamp)
    try:
        in_zip = _zip_members(archive)
        members = [(name, size, crc) for name, (size, crc) in in_zip.items()]
    except FileNotFoundError:
        if recorded is None:  # the release's ratings and movie files, as its reader names them
            from cinerec.data.movielens import _MOVIES_FILE, _RATINGS_FILE, _family

            family = _family(rel.name)
            return next((f"{rel.folder}/{f}" for f in (_RATINGS_FILE[family], _MOVIES_FILE[family])
                         if not (folder / rel.folder / f).is_file()), None)
        members = recorded
    except (OSError, zipfile.BadZipFile, zlib.error):
        return None
    # A stamp an earlier cinerec wrote records no sizes and CRC-32s: from the zip, while it is here.
    gain = {"members": in_zip} if recorded is None else {}
    unpacked = stamp.get("files") if stamp is not None else None
    # A stamp that records no times (an earlier cinerec's) has every file read once, then
    # their times recorded; where it cannot be written, only the sizes are compared.
    can_record = stamp is not None and os.access(folder / ZIP_STAMP, os.W_OK) and os.access(folder, os.W_OK)
    if not isinstance(unpacked, dict):
        unpacked = None if not can_record else {}
    read: dict[str, int] = {}  # the files read and found as the zip holds them: their times now
    for name, size, crc in members:
        try:
            st = (folder / name).stat()
            if st.st_size != size:
                return name
            # (only a file written since it was unpacked is read: the others cost a stat)
            if unpacked is not None and unpacked.get(name) != st.st_mtime_ns:
                if _crc32(folder / name) != crc:
                    return name
                read[name] = st.st_mtime_ns
        except OSError:
            return name
    if (read or gain) and can_record and stamp is not None:  # (not read again: a copy that kept its bytes, not its times)
        try:
            # Only over the stamp read above: another process may have unpacked a newer zip
            # since, whose stamp is not this one's to replace.
            if json.loads((folder / ZIP_STAMP).read_text()) == stamp:
                with atomic_path(folder / ZIP_STAMP) as tmp:
                    tmp.write_text(json.dumps({**stamp, "files": {**(unpacked or {}), **read}, **gain}) + "\n")
        except (OSError, ValueError, DataError):
            pass
    return None


def _identity(path: Path) -> tuple[int, int, int] | None:
    """A file's device, inode and modification time (``None``: not a file there)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


def _zip_members(archive: Path) -> dict[str, list[int]]:
    """Each file of ``archive``: its size and CRC-32, as a stamp records them."""
    with zipfile.ZipFile(archive) as z:
        return {i.filename: [i.file_size, i.CRC] for i in z.infolist() if not i.is_dir()}


def _recorded_members(stamp: Mapping[str, Any] | None) -> list[tuple[str, int, int]] | None:
    """The zip's files as a stamp recorded them (name, size, CRC-32); ``None`` where it
    recorded none, or not as this cinerec writes them."""
    kept = stamp.get("members") if stamp is not None else None
    if not isinstance(kept, dict):
        return None
    try:
        return [(str(name), int(size), int(crc)) for name, (size, crc) in kept.items()]
    except (TypeError, ValueError):
        return None


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            crc = zlib.crc32(block, crc)
    return crc


def check_writable(root: Path) -> None:
    """Refuse, naming ``CINEREC_HOME``, a cache folder that cannot be written (a read-only
    home): a release is downloaded and unpacked there."""
    existing = root
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():  # (a file is writable, and no folder can be made under it)
        raise DataError(f"{root}: the download cache cannot be made ({existing} is a file); set CINEREC_HOME "
                        "to a folder you can write, or give the path of an unzipped release")
    if not os.access(existing, os.W_OK):
        raise DataError(f"{root}: the download cache cannot be written ({existing} is read-only); set CINEREC_HOME "
                        "to a folder you can write, or give the path of an unzipped release")


class _Kept(Exception):
    """A whole copy is at the destination already (another process unpacked it)."""


def extract(archive: str | os.PathLike, dest: str | os.PathLike,
            keep: Callable[[Path], bool] | None = None, stamp: bool = False) -> Path:
    """Extract a zip into ``dest`` atomically (``dest`` appears only when complete).

    Members that would land outside ``dest`` (absolute paths, ``..``) are refused. With
    ``keep``, a folder at ``dest`` that ``keep(dest)`` calls whole when this copy is ready
    (another process unpacked the same zip meanwhile) is kept and this copy dropped, so
    readers of that folder never see it swapped out. With ``stamp``, ``dest`` also holds
    :data:`ZIP_STAMP`, which says which zip it came from.
    """
    archive, dest = Path(archive), Path(dest)

    def whole_already(folder: Path) -> None:
        if keep is not None and keep(folder):
            raise _Kept

    try:
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                parts = Path(member).parts
                if member.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise DataError(f"{archive}: refusing the unsafe member path {member!r}")
            with atomic_dir(dest, before_swap=whole_already) as tmp:
                z.extractall(tmp)
                if stamp:
                    (tmp / ZIP_STAMP).write_text(_zip_stamp(archive, folder=tmp))
    except _Kept:
        pass
    except (zipfile.BadZipFile, zlib.error) as e:  # zlib: damaged compressed data
        raise DataError(f"{archive}: not a readable zip file ({e})") from None
    except OSError as e:
        if keep is not None and dest.is_dir() and keep(dest):  # the other copy was moved in first
            return dest
        raise DataError(f"{archive}: could not extract into {dest} ({e.strerror or e})") from None
    return dest


# -- internals ------------------------------------------------------------------------


def _root(cache: str | os.PathLike | None) -> Path:
    return Path(os.path.expanduser(cache)) if cache is not None else cache_dir()


def _offline_message(rel: Release, root: Path, reason: str) -> str:
    blocked = next((p for p in (root, *root.parents) if p.exists()), None)
    cannot = f" (a folder that cannot be made: {blocked} is a file; set CINEREC_HOME to a folder)" \
        if blocked is not None and not blocked.is_dir() else ""
    return (
        f"could not download MovieLens {rel.name} ({reason}); use a local copy instead: give its path "
        f"where the release name goes (/path/to/{rel.name}, the folder or {rel.zip_name}) or put "
        f"{rel.zip_name} in {root}{cannot}"
    )


def _sweep_stale(root: Path, rel: Release) -> None:
    """Remove what a killed download or extraction of ``rel`` left in the cache: its
    temporary zip (``.ml-100k.zip.*.tmp``) and half-extracted folder (``.ml-100k.*.tmp``);
    a live one's are kept."""
    sweep_stale_temps(root / rel.zip_name)
    sweep_stale_temps(root / rel.name)
    sweep_stale_temps(root / rel.name / ZIP_STAMP)  # (a record of the files' times, rewritten)


def _in_folder(base: str, name: str) -> str:
    """The address of the file ``name`` in the folder at ``base``, a query kept after it
    (a mirror's signed address: ``https://host/ml?token=x`` gives ``https://host/ml/NAME?token=x``)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base)
    if parts.scheme.lower() == "file":  # (no query there; rebuilt, file:mirror would become file:///mirror)
        return f"{base}/{name}"
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{name}"))


def _length(value: str | None) -> int | None:
    """A ``Content-Length`` header's number of bytes, or ``None`` where it gives none that
    reads as one (``abc``; two that differ), as ``http.client`` reads it; the same number
    given twice (``5, 5``, from a proxy) is that number."""
    said = {v.strip() for v in (value or "").split(",")}
    if len(said) != 1 or not (one := said.pop()).isascii() or not one.isdigit():
        return None
    return int(one) or None


def _url_fault(base: str) -> str | None:
    """What makes ``base`` (``http://``, ``https://`` or ``file:``) no address at all, or
    ``None``: a bad IPv6 bracket or port, a space, a ``file://HOST/`` naming a host."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(base)
        _ = parts.port  # (read to be checked: a port past 65535 or not a number raises)
    except ValueError as e:
        return f"not an address ({e})"
    if parts.fragment or base.endswith("#"):
        return "a fragment (#...) is never sent to the server"
    if parts.scheme.lower() == "file":  # (a folder of this machine, as urllib opens it: spaces and all)
        if parts.query or "?" in base:
            return "a folder of this machine has no query (?...)"
        import socket

        here = {"", "localhost", "127.0.0.1", "[::1]", socket.gethostname().lower(), socket.getfqdn().lower()}
        if parts.netloc.lower() not in here:
            return (f"file://{parts.netloc}/... names a host, {parts.netloc!r}; a folder here is file:///PATH "
                    "(three slashes)")
        return None
    if any(c.isspace() for c in base):
        return "an address holds no spaces (write one as %20)"
    if not parts.hostname:
        return "it names no host"
    return None


def offline() -> bool:
    """Whether ``CINEREC_OFFLINE`` asks for no connection: set to anything but empty,
    ``0``, ``false``, ``no`` or ``off`` (``CINEREC_OFFLINE=0`` is a way to say online)."""
    return os.environ.get("CINEREC_OFFLINE", "").strip().lower() not in ("", "0", "false", "no", "off")


def _download(rel: Release, archive: Path, base_url: str | None, expected_sha256: str | None, progress: bool) -> None:
    root = archive.parent
    given = base_url or os.environ.get("CINEREC_MOVIELENS_URL") or DEFAULT_BASE_URL  # (said as given)
    base = given.rstrip("/")
    named = "base URL" if base_url else "CINEREC_MOVIELENS_URL"  # (data fetch says --base-url)
    # A typo, not a network that is down: no fallback, offline or not (checked first: offline,
    # quickstart fell back to its synthetic sample and said nothing of the address).
    if not re.match(r"(?i)(https?://|file:)", base):
        raise ConfigError(f"{named} {given!r}: give the address of the folder holding {rel.zip_name}, starting "
                          "with http://, https:// or file:")
    if (fault := _url_fault(base)) is not None:  # (as a typo: it read as a network that is down)
        raise ConfigError(f"{named} {given!r}: {fault}; give the address of the folder holding {rel.zip_name}")
    if offline() and not base.lower().startswith("file:"):  # (a folder of this machine needs no connection)
        raise DownloadFailed(_offline_message(rel, root, "offline: CINEREC_OFFLINE is set"))
    url = _in_folder(base, rel.zip_name)
    if expected_sha256 is not None:
        algorithm, expected = "sha256", expected_sha256.lower()
    else:
        # No sha256 is known for this release: GroupLens publishes <zip>.md5 beside it.
        algorithm, expected = "md5", _published_md5(rel, _in_folder(base, f"{rel.zip_name}.md5"), root)
    try:
        with atomic_path(archive) as tmp:
            digest = hashlib.new(algorithm)
            with _open(rel, url, root) as response, _CacheFile(tmp, root, rel.zip_name) as out:
                total = _length(response.headers.get("Content-Length"))
                kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                bar = _bar(total, rel.zip_name, progress)
                got = 0
                head = b""
                # What has arrived, as it arrives (read() waits for a whole block): a slow
                # download's file is written at least once a minute, and never swept as
                # one a killed process left.
                read = getattr(response, "read1", response.read)
                pace = _Pace(url, rel, root)
                cut = False  # an answer sent in chunks ended before its last one
                try:
                    for block in iter(lambda: read(_CHUNK), b""):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
                        got += len(block)
                        head = head if len(head) >= 4 else (head + block)[:4]
                        pace.arrived(len(block))
                except http.client.IncompleteRead:
                    cut = True
                finally:
                    bar.close()
            if cut or (total is not None and got < total):  # the connection ended early: no tampering to suggest
                of = f" of {total:,}" if total is not None else ""
                raise DownloadFailed(_offline_message(rel, root, f"the download of {url} stopped after {got:,}{of} "
                                                            "bytes" + ("" if of else ", short of a whole zip")))
            if got and not head.startswith(b"PK"):  # a proxy's page or a login page answered: not a zip at all
                # ("a application/zip page" was said of a page sent as a zip)
                sent = f"a {kind} page" if kind.startswith("text/") else f"a web page labelled {kind}" \
                    if "html" in kind else f"something else labelled {kind}" \
                    if kind and kind != "application/octet-stream" else "something else"
                raise DownloadFailed(_offline_message(rel, root, f"{url} sent {sent} ({got:,} bytes), not a zip "
                                                                 "(a proxy's or a login page?)"))
            if total is None and digest.hexdigest().lower() != expected.lower() and not zipfile.is_zipfile(tmp):
                # No length was sent, and what came is no whole zip: it ended early.
                raise DownloadFailed(_offline_message(rel, root, f"the download of {url} stopped after {got:,} bytes, "
                                                                 "short of a whole zip"))
            _check(tmp, algorithm, expected, digest.hexdigest(), delete=True, name=url)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:  # HTTPException: IncompleteRead
        raise DownloadFailed(_offline_message(rel, root, f"download of {url} failed: {_reason(e)}")) from None


class _CacheFile:
    """The download's file in the cache: a write that fails (a full disk) is said as the
    cache's fault in one line, not as the download's (which would send quickstart to its
    offline fallback with the network working)."""

    def __init__(self, path: Path, root: Path, name: str) -> None:
        self.path, self.root, self.name = path, root, name

    def _fault(self, e: OSError) -> DataError:
        return DataError(f"{self.root}: cannot write the download of {self.name} there ({_reason(e)}); free some "
                         "space, or set CINEREC_HOME to another folder")

    def __enter__(self) -> "_CacheFile":
        try:
            self.file = open(self.path, "wb")
        except OSError as e:
            raise self._fault(e) from None
        return self

    def write(self, block: bytes) -> None:
        try:
            self.file.write(block)
            self.file.flush()  # (on disk now: its time says the download is alive)
        except OSError as e:
            raise self._fault(e) from None

    def __exit__(self, kind: object, *rest: object) -> None:
        try:
            self.file.close()  # (buffered bytes are written now, and may not fit)
        except OSError as e:
            if kind is None:
                raise self._fault(e) from None


#: Seconds a download may wait for the server (to connect, or between two reads).
_TIMEOUT_S = 60.0
#: A download sending fewer bytes than this in any such many seconds is given up (one byte
#: every few seconds never timed out, and would have taken months).
_SLOW_BYTES, _SLOW_S = 64 << 10, 300.0


class _Pace:
    """Gives up a download that trickles: fewer than :data:`_SLOW_BYTES` in :data:`_SLOW_S`."""

    def __init__(self, url: str, rel: Release, root: Path) -> None:
        self.url, self.rel, self.root = url, rel, root
        self.since, self.got = time.monotonic(), 0

    def arrived(self, n: int) -> None:
        self.got += n
        now = time.monotonic()
        if now - self.since < _SLOW_S:
            return
        if self.got < _SLOW_BYTES:
            raise DownloadFailed(_offline_message(
                self.rel, self.root, f"the download of {self.url} is too slow to finish ({self.got:,} bytes in the "
                f"last {now - self.since:.0f} s)"))
        self.since, self.got = now, 0


def _open(rel: Release, url: str, root: Path):
    try:
        return urllib.request.urlopen(url, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as e:
        raise DownloadFailed(_offline_message(rel, root, f"{url} answered HTTP {e.code}")) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise DownloadFailed(_offline_message(rel, root, f"cannot reach {url}: {_reason(e)}")) from None


def _published_md5(rel: Release, url: str, root: Path) -> str:
    """The md5 GroupLens publishes at ``url`` (the zip's address with ``.md5`` after its name)."""
    try:
        with _open(rel, url, root) as response:
            raw = response.read(4096)
            total = _length(response.headers.get("Content-Length"))
    except (OSError, http.client.HTTPException) as e:  # stalled (a timeout) or cut off while reading
        raise DownloadFailed(_offline_message(rel, root, f"download of {url} failed: {_reason(e)}")) from None
    if total is not None and len(raw) < min(total, 4096):  # the connection ended early: no file to judge
        raise DownloadFailed(_offline_message(rel, root, f"the download of {url} stopped after {len(raw):,} of "
                                                    f"{total:,} bytes"))
    text = raw.decode("utf-8", "replace")
    # A proxy's or a login page: any hex in it is no checksum. (Told by what it holds: a
    # server may send a plain .md5 file as text/html; a page may start with a byte-order mark.)
    if re.match(r"[\s\ufeff]*<", text):
        raise DownloadFailed(_offline_message(rel, root, f"{url} sent a web page, not the checksum file (a "
                                                         "proxy's or a login page?)"))
    found = re.search(r"\b[0-9a-fA-F]{32}\b", text)
    if not found and re.search(r"(^|=)\s*[0-9a-fA-F]{1,31}$", text):  # (no length said: its end read as the file's)
        raise DownloadFailed(_offline_message(rel, root, f"the download of {url} ended inside its checksum "
                                                         f"({len(raw):,} bytes): cut short"))
    if not found:
        raise DataError(f"{url}: no md5 checksum in the published file")
    return found.group(0).lower()


def _check(path: Path, algorithm: str, expected: str, actual: str, *, delete: bool, name: str | None = None) -> None:
    if actual.lower() != expected.lower():
        if delete:
            path.unlink(missing_ok=True)
        raise DataError(
            f"{name or path}: {algorithm} checksum mismatch: expected {expected.lower()}, got {actual.lower()}; "
            "this is not the official release file (a copy of your own is read by giving its path as the source"
            + (", after removing this one from the cache)" if not delete else ")")
        )


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
    return str(reason)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int | None, label: str, progress: bool):
    if not progress:
        return _NoBar()
    from cinerec.progress import bar

    return bar(total, label, in_bytes=True)


def remove_cached(name: str, cache_dir: str | os.PathLike | None = None) -> None:
    """Delete a release's zip and extracted folder from the cache (used to re-download)."""
    rel = release_info(name)
    root = _root(cache_dir)
    (root / rel.zip_name).unlink(missing_ok=True)
    shutil.rmtree(root / rel.name, ignore_errors=True)

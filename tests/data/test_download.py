"""Downloads against a local HTTP server on 127.0.0.1: checksums, caching, offline refusal."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cinerec.data import download, load
from cinerec.data.synthetic import write_release
from cinerec.errors import ConfigError, DataError, DownloadFailed, NotFoundError


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A folder of home-made release zips, served over HTTP; yields (folder, base_url, sha256 by release)."""
    root = tmp_path_factory.mktemp("grouplens")
    sums = {}
    for name, like, inner in (("ml-100k", "ml-100k", "ml-100k"), ("ml-10m", "ml-10m", "ml-10M100K"),
                              ("ml-latest", "ml-latest-small", "ml-latest")):
        scale = {"ml-100k": 0.02, "ml-10m": 0.001}.get(like, 0.05)
        folder = write_release(tmp_path_factory.mktemp("src") / inner, like, scale, seed=3)
        archive = root / f"{name}.zip"
        with zipfile.ZipFile(archive, "w") as z:
            for f in sorted(folder.iterdir()):
                if name != "ml-latest" or f.name not in ("SYNTHETIC.txt", ".cinerec-synthetic.json"):  # (as the real one)
                    z.write(f, f"{inner}/{f.name}")
        data = archive.read_bytes()
        sums[name] = hashlib.sha256(data).hexdigest()
        # GroupLens's own .md5 files read "MD5 (ml-10m.zip) = <hex>".
        (root / f"{name}.zip.md5").write_text(f"MD5 ({name}.zip) = {hashlib.md5(data).hexdigest()}\n")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", sums
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def online(monkeypatch):
    """Allow connections (to the local server only: proxies are bypassed)."""
    monkeypatch.delenv("CINEREC_OFFLINE", raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_download_verify_extract_then_cached(served, online, tmp_path, monkeypatch) -> None:
    _, url, sums = served
    cache = tmp_path / "cache"
    folder = download.fetch("ml-100k", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    assert folder == cache / "ml-100k" / "ml-100k" and (folder / "u.data").is_file()
    assert _leftovers(cache) == ["ml-100k", "ml-100k.zip"]
    assert download.file_digest(cache / "ml-100k.zip") == sums["ml-100k"]
    # Second call: no server needed, nothing re-downloaded.
    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    assert download.fetch("ml-100k", cache_dir=cache, base_url="http://127.0.0.1:9/nothing") == folder


def test_load_by_name_uses_the_env_url_and_the_cache(served, online, monkeypatch) -> None:
    _, url, sums = served
    monkeypatch.setenv("CINEREC_MOVIELENS_URL", url)
    first = download.fetch("ml-100k", checksums=sums, progress=False)
    assert first.parent.parent == download.cache_dir()
    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    d = load("ml-100k")
    assert d.info["release"] == "ml-100k" and d.name == "ml-100k" and len(d.interactions) > 0


def test_checksum_mismatch_leaves_nothing(served, online, tmp_path) -> None:
    _, url, sums = served
    cache = tmp_path / "cache"
    wrong = "0" * 64
    with pytest.raises(DataError) as e:
        download.fetch("ml-100k", cache_dir=cache, base_url=url, checksums={"ml-100k": wrong}, progress=False)
    msg = str(e.value)
    assert "ml-100k.zip" in msg and wrong in msg and sums["ml-100k"] in msg and "\n" not in msg
    assert _leftovers(cache) == []  # no zip, no temporary file, no extracted folder


def test_the_full_latest_release_is_known_by_name_and_checked_by_its_published_md5(served, online, tmp_path) -> None:
    # ml-latest was no release name: --data ml-latest, --release ml-latest were refused, and
    # its folder read as an unnamed "movielens-csv".
    _, url, _ = served
    assert download.RELEASES["ml-latest"].sha256 is None  # (published again now and then)
    folder = download.fetch("ml-latest", cache_dir=tmp_path / "a", base_url=url, progress=False)
    assert folder.name == "ml-latest" and load(folder).info["release"] == "ml-latest"


def test_md5_published_beside_the_zip_when_no_sha256_is_known(served, online, tmp_path) -> None:
    root, url, _ = served
    assert download.RELEASES["ml-10m"].sha256 is None
    folder = download.fetch("ml-10m", cache_dir=tmp_path / "a", base_url=url, progress=False)
    assert folder.name == "ml-10M100K"
    assert load(folder).info["release"] == "ml-10m"
    # A wrong published md5 is a mismatch too.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "ml-10m.zip").write_bytes((root / "ml-10m.zip").read_bytes())
    (bad / "ml-10m.zip.md5").write_text("MD5 (ml-10m.zip) = " + "f" * 32 + "\n")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(bad)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DataError, match="md5 checksum mismatch"):
            download.fetch("ml-10m", cache_dir=tmp_path / "b", base_url=f"http://127.0.0.1:{server.server_address[1]}", progress=False)
    finally:
        server.shutdown()
        server.server_close()
    assert _leftovers(tmp_path / "b") == []


def test_offline_is_one_clear_line(tmp_path) -> None:
    with pytest.raises(DataError) as e:
        download.fetch("ml-1m", cache_dir=tmp_path / "cache")
    msg = str(e.value)
    assert "\n" not in msg
    # the way out fits every command: data info/fetch take the path as their source, the others as --data
    assert "could not download MovieLens ml-1m" in msg and "path where the release name goes (/path/to/ml-1m" in msg
    assert str(tmp_path / "cache") in msg and "ml-1m.zip" in msg
    # The cache folder made for the fetch's turn is kept, empty: removed by a fetch that
    # failed, one waiting its turn found no folder to lock in and went on without a turn.
    assert (tmp_path / "cache").is_dir() and _leftovers(tmp_path / "cache") == []
    with pytest.raises(DataError, match="could not download MovieLens ml-100k"):
        load("ml-100k")


def test_unreachable_server_is_one_clear_line(online, tmp_path) -> None:
    with pytest.raises(DataError) as e:
        download.fetch("ml-100k", cache_dir=tmp_path / "c", base_url="http://127.0.0.1:9", progress=False)
    assert "could not download MovieLens ml-100k" in str(e.value) and "\n" not in str(e.value)
    assert _leftovers(tmp_path / "c") == []


def test_zip_put_in_the_cache_by_hand_is_verified_and_used(served, tmp_path) -> None:
    root, _, sums = served
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "ml-100k.zip").write_bytes((root / "ml-100k.zip").read_bytes())
    # Offline (the default in tests): the zip is verified against the expected sha256.
    with pytest.raises(DataError, match="sha256 checksum mismatch"):
        download.fetch("ml-100k", cache_dir=cache)  # the built-in hash is the genuine release's
    folder = download.fetch("ml-100k", cache_dir=cache, checksums=sums)
    assert (folder / "u.item").is_file()


def test_unsafe_zip_members_are_refused(tmp_path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../outside.txt", "x")
    with pytest.raises(DataError, match="unsafe"):
        download.extract(archive, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "out").exists()


def test_unknown_release() -> None:
    with pytest.raises(NotFoundError, match="ml-3m"):
        download.fetch("ml-3m")
    assert np.all([download.release_info(n).name == n for n in download.RELEASES])


def test_a_damaged_or_wrong_zip_in_the_cache_is_one_line_and_leaves_no_release(tmp_path) -> None:
    import zipfile

    cache = tmp_path / "cache"
    cache.mkdir()
    with zipfile.ZipFile(cache / "ml-10m.zip", "w", zipfile.ZIP_DEFLATED) as z:  # the wrong inner folder
        z.writestr("ml-10m/ratings.dat", "1::2::5::978300760\n" * 200)
    checks = {"ml-10m": download.file_digest(cache / "ml-10m.zip", "sha256")}
    with pytest.raises(DataError, match="does not hold the folder ml-10M100K/; remove it to download again"):
        download.fetch("ml-10m", cache_dir=cache, checksums=checks)
    assert not (cache / "ml-10m").exists()
    data = bytearray((cache / "ml-10m.zip").read_bytes())
    data[60:80] = b"\xff" * 20  # damage the compressed bytes
    (tmp_path / "bad.zip").write_bytes(bytes(data))
    with pytest.raises(DataError, match="not a readable zip file"):
        download.extract(tmp_path / "bad.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists()


class _HalfHandler(http.server.BaseHTTPRequestHandler):
    """Announces the whole zip, sends half of it and hangs up (a dropped connection)."""

    body = b""
    announce = True  # the length: without it, only the zip's shape tells a cut download

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.endswith(".md5"):
            text = f"MD5 (ml-10m.zip) = {hashlib.md5(self.body).hexdigest()}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
            return
        self.send_response(200)
        if self.announce:
            self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body[: len(self.body) // 2])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("announce", [True, False])
def test_a_download_cut_short_says_so_and_caches_nothing(served, online, tmp_path, announce) -> None:
    # Sent without its length, it was called "not the official release file".
    root, _, _ = served
    handler = type("Half", (_HalfHandler,), {"body": (root / "ml-10m.zip").read_bytes(), "announce": announce})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DataError) as e:
            download.fetch("ml-10m", cache_dir=tmp_path / "c", base_url=f"http://127.0.0.1:{server.server_address[1]}",
                           progress=False)
    finally:
        server.shutdown()
        server.server_close()
    message = str(e.value)
    assert "checksum" not in message and "official" not in message, message
    assert "stopped after" in message or "download of" in message, message
    assert _leftovers(tmp_path / "c") == []


class _ChunkedHalfHandler(http.server.BaseHTTPRequestHandler):
    """Sends a zip in chunks, as a server that does not know its length does, and closes
    the connection after the first of them."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        block = b"PK\x03\x04" + bytes(5000)
        self.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_download_in_chunks_cut_short_says_how_much_came(online, tmp_path) -> None:
    # It said "download of URL failed: IncompleteRead(0 bytes read)".
    with _serving(_ChunkedHalfHandler) as url, pytest.raises(
            DownloadFailed, match=r"the download of .*ml-100k\.zip stopped after 5,004 bytes, short of a whole zip"):
        download.fetch("ml-100k", cache_dir=tmp_path / "c", base_url=url, progress=False)
    assert _leftovers(tmp_path / "c") == []


class _StalledMd5Handler(http.server.BaseHTTPRequestHandler):
    """Announces a .md5 file of ``length`` bytes, sends ``body``, then stalls ``stall`` seconds."""

    length, body, stall = 100, b"MD5 (ml-", 2.0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(self.length))
        self.end_headers()
        self.wfile.write(self.body)
        self.wfile.flush()
        time.sleep(self.stall)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


class _CutMd5Handler(_StalledMd5Handler):
    """Announces a .md5 file of 45 bytes, sends 23, then closes the connection."""

    length, body, stall = 45, b"MD5 (ml-10m.zip) = 0123", 0.0


class _CutMd5NoLengthHandler(http.server.BaseHTTPRequestHandler):
    """Sends part of a .md5 file with no length said, then closes the connection (its end
    is the file's end, as far as HTTP tells)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"MD5 (ml-10m.zip) = 0123")
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


class _BomPageMd5Handler(_StalledMd5Handler):
    """A login page starting with a byte-order mark, holding 32 hex digits (a token)."""

    body = "\ufeff<!DOCTYPE html><input name=csrf value=0123456789abcdef0123456789abcdef>".encode()
    length, stall = len(body), 0.0


@pytest.mark.parametrize("handler, said", [
    # Cut off inside its checksum, with no length said: "no md5 checksum in the published
    # file"; a page starting with a byte-order mark: its token was taken for the checksum.
    (_CutMd5NoLengthHandler, r"the download of .*ml-10m\.zip\.md5 ended inside its checksum \(23 bytes\): cut "
                             r"short"),
    (_BomPageMd5Handler, r"ml-10m\.zip\.md5 sent a web page, not the checksum file"),
    (_StalledMd5Handler, r"could not download MovieLens ml-10m \(download of .*ml-10m\.zip\.md5 failed: .*\); use a "
                         r"local copy"),
    # Cut short, it read "no md5 checksum in the published file", a DataError, so quickstart
    # stopped on it where a download that failed sends it to its offline data.
    (_CutMd5Handler, r"the download of .*ml-10m\.zip\.md5 stopped after 23 of 45 bytes"),
])
def test_a_published_md5_that_stalls_or_is_cut_short_is_one_line_of_a_download_that_failed(
        online, tmp_path, monkeypatch, handler, said) -> None:
    monkeypatch.setattr(download, "_TIMEOUT_S", 0.3)
    with _serving(handler) as url, pytest.raises(DownloadFailed, match=said):
        download.fetch("ml-10m", cache_dir=tmp_path / "c", base_url=url, progress=False)
    assert _leftovers(tmp_path / "c") == []


def test_what_a_killed_download_left_is_swept_once_stale(served, online, tmp_path) -> None:
    """A process killed mid-download (SIGKILL: no cleanup runs) leaves its temporary zip and
    half-extracted folder in the cache; the next fetch removes those no process has written
    for a while, and leaves a live download's alone."""
    _, url, sums = served
    cache = tmp_path / "cache"
    cache.mkdir()
    stale_zip, stale_dir = cache / ".ml-100k.zip.k1ll3d00.tmp", cache / ".ml-100k.h4lf0000.tmp"
    live_zip = cache / ".ml-100k.zip.l1v30000.tmp"
    stale_zip.write_bytes(b"PK partial")
    (stale_dir / "ml-100k").mkdir(parents=True)
    (stale_dir / "ml-100k" / "u.data").write_text("1\t1\t5\t0\n")
    live_zip.write_bytes(b"PK partial")
    other = cache / ".ml-1m.zip.0th3r000.tmp"  # another release's: not this fetch's to judge
    other.write_bytes(b"PK")
    old = time.time() - 3600
    for path in (stale_zip, stale_dir, other):
        os.utime(path, (old, old))
    download.fetch("ml-100k", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    assert _leftovers(cache) == sorted([live_zip.name, other.name, "ml-100k", "ml-100k.zip"])
    # Once the release is in the cache, a leftover goes all the same (it stayed for good).
    os.utime(live_zip, (old, old))
    download.fetch("ml-100k", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    assert _leftovers(cache) == sorted([other.name, "ml-100k", "ml-100k.zip"])


@pytest.mark.parametrize("value, off", [("1", True), ("yes", True), ("0", False), ("false", False), ("", False),
                                        (" Off ", False)])
def test_cinerec_offline_reads_as_a_switch(monkeypatch, value: str, off: bool) -> None:
    # CINEREC_OFFLINE=0 turned offline mode on: any value did.
    monkeypatch.setenv("CINEREC_OFFLINE", value)
    assert download.offline() is off


def test_a_cached_release_missing_a_file_is_unpacked_again_from_its_zip(served, online, tmp_path, monkeypatch) -> None:
    # A file deleted from the cached copy went unnoticed: u1.test gone, fold u1 silently
    # missing ("no official fold 'u1'"); u.user gone, no user features, without a word.
    _, url, sums = served
    cache = tmp_path / "cache"
    folder = download.fetch("ml-100k", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    (folder / "u1.test").unlink()
    (folder / "u.user").unlink()
    monkeypatch.setenv("CINEREC_OFFLINE", "1")  # from the verified zip kept beside it, not the network
    again = download.fetch("ml-100k", cache_dir=cache, checksums=sums)
    assert again == folder and (folder / "u1.test").is_file() and (folder / "u.user").is_file()
    assert _leftovers(cache) == ["ml-100k", "ml-100k.zip"]


def test_a_zip_replaced_in_the_cache_is_unpacked_again_and_the_same_zip_copied_again_is_not(served, tmp_path) -> None:
    # ml-10m has no sha256 to check a hand-placed zip by: a newer zip put in the cache was
    # passed over for the folder unpacked from the old one, whatever it held.
    root, _, _ = served
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(root / "ml-10m.zip", cache / "ml-10m.zip")
    folder = download.fetch("ml-10m", cache_dir=cache)
    first = (folder / "ratings.dat").read_bytes()
    unpacked = os.stat(folder).st_ino
    # The same bytes copied in again (a new modification time): the folder is kept.
    os.utime(cache / "ml-10m.zip", ns=(1, 1))
    assert download.fetch("ml-10m", cache_dir=cache) == folder and os.stat(folder).st_ino == unpacked
    assert download.fetch("ml-10m", cache_dir=cache) == folder and os.stat(folder).st_ino == unpacked
    # Another zip in its place: unpacked again.
    other = write_release(tmp_path / "src" / "ml-10M100K", "ml-10m", 0.002, seed=9)
    (cache / "ml-10m.zip").unlink()
    with zipfile.ZipFile(cache / "ml-10m.zip", "w") as z:
        for f in sorted(other.iterdir()):
            z.write(f, f"ml-10M100K/{f.name}")
    again = download.fetch("ml-10m", cache_dir=cache)
    assert again == folder and (folder / "ratings.dat").read_bytes() == (other / "ratings.dat").read_bytes() != first
    # A folder unpacked before the stamp was kept is unpacked again, once.
    (cache / "ml-10m" / download.ZIP_STAMP).unlink()
    (folder / "ratings.dat").write_bytes(first)
    download.fetch("ml-10m", cache_dir=cache)
    assert (folder / "ratings.dat").read_bytes() == (other / "ratings.dat").read_bytes()
    assert sorted(p.name for p in cache.iterdir()) == ["ml-10m", "ml-10m.zip"]


def test_a_stamp_brought_up_to_date_is_written_whole_or_not_at_all(served, tmp_path, monkeypatch) -> None:
    # The same zip copied in again rewrites the stamp's time in place: cut short there (a
    # full disk, a kill), the stamp no longer read and the folder was unpacked again.
    root, _, _ = served
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(root / "ml-10m.zip", cache / "ml-10m.zip")
    folder = download.fetch("ml-10m", cache_dir=cache)
    unpacked = os.stat(folder).st_ino
    stamp = cache / "ml-10m" / download.ZIP_STAMP
    before = stamp.read_text()
    os.utime(cache / "ml-10m.zip", ns=(1, 1))
    write_text = Path.write_text

    def cut_short(path: Path, text: str, *args: object, **kwargs: object) -> int:
        if path.name.startswith((download.ZIP_STAMP, f".{download.ZIP_STAMP}")):
            write_text(path, text[: len(text) // 2])
            raise OSError(28, "No space left on device")
        return write_text(path, text, *args, **kwargs)

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(Path, "write_text", cut_short)
        assert download.fetch("ml-10m", cache_dir=cache) == folder
    assert stamp.read_text() == before
    # Nothing can be made beside it (a read-only cache): the same zip all the same.
    with monkeypatch.context() as m:
        m.setattr(tempfile, "mkstemp", refused)
        assert download.fetch("ml-10m", cache_dir=cache) == folder and os.stat(folder).st_ino == unpacked
    assert stamp.read_text() == before
    assert download.fetch("ml-10m", cache_dir=cache) == folder and os.stat(folder).st_ino == unpacked
    assert json.loads(stamp.read_text())["mtime_ns"] == 1
    assert sorted(p.name for p in cache.iterdir()) == ["ml-10m", "ml-10m.zip"]


def test_a_copy_another_process_unpacked_meanwhile_is_kept_not_swapped_out(served, tmp_path) -> None:
    # Two fetches at once: the later one swapped the first one's finished folder out from
    # under a process reading it (a file vanished mid-read).
    root, _, _ = served
    dest = tmp_path / "ml-100k"
    download.extract(root / "ml-100k.zip", dest)
    before = os.stat(dest).st_ino
    assert download.extract(root / "ml-100k.zip", dest, keep=lambda f: (f / "ml-100k").is_dir()) == dest
    assert os.stat(dest).st_ino == before and sorted(p.name for p in tmp_path.iterdir()) == ["ml-100k"]
    # Without keep, an extraction replaces the folder whole (a damaged copy is put right).
    download.extract(root / "ml-100k.zip", dest)
    assert os.stat(dest).st_ino != before


def test_a_read_only_cache_names_cinerec_home_and_the_way_out(served, tmp_path, monkeypatch) -> None:
    # It said "cannot create the folder ... (Permission denied)", not that this is the cache
    # CINEREC_HOME names. (As root nothing is read-only to os.access: its answer is set.)
    root, _, sums = served
    cache = tmp_path / "home" / "movielens"
    cache.mkdir(parents=True)
    real = os.access
    monkeypatch.setattr(download.os, "access",
                        lambda p, mode, *a, **k: False if Path(p) == cache and mode == os.W_OK else real(p, mode))
    monkeypatch.setenv("CINEREC_HOME", str(tmp_path / "home"))
    for call in (lambda: download.fetch("ml-100k", checksums=sums), lambda: load(root / "ml-100k.zip")):
        with pytest.raises(DataError) as e:
            call()
        assert str(e.value) == (f"{cache}: the download cache cannot be written ({cache} is read-only); set "
                                "CINEREC_HOME to a folder you can write, or give the path of an unzipped release")
    assert list(cache.iterdir()) == []


def test_a_page_served_in_place_of_the_zip_is_said_to_be_no_zip_with_or_without_its_length(online, tmp_path) -> None:
    # A proxy's or a login page: with its length it read as a zip that was not the official
    # one (a DataError: no offline fallback); without, as a download cut short.
    page = b"<html><body>Please log in to continue (session 0123456789abcdef0123456789abcdef)</body></html>"

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/zip" if "labelled" in self.path else
                             "application/xhtml+xml" if "xhtml" in self.path else "text/html; charset=utf-8")
            if "sized" in self.path:
                self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for where in ("sized", "unsized"):
            url = f"http://127.0.0.1:{server.server_address[1]}/{where}"
            with pytest.raises(DownloadFailed) as e:
                download.fetch("ml-100k", cache_dir=tmp_path / where, base_url=url, progress=False)
            assert f"{url}/ml-100k.zip sent a text/html page ({len(page)} bytes), not a zip (a proxy's or a login " \
                   "page?)" in str(e.value)
            assert _leftovers(tmp_path / where) == []
        # A page sent as a zip is not called "a application/zip page".
        url = f"http://127.0.0.1:{server.server_address[1]}/labelled"
        with pytest.raises(DownloadFailed) as e:
            download.fetch("ml-100k", cache_dir=tmp_path / "labelled", base_url=url, progress=False)
        assert f"{url}/ml-100k.zip sent something else labelled application/zip ({len(page)} bytes), not a zip" \
            in str(e.value)
        url = f"http://127.0.0.1:{server.server_address[1]}/xhtml"
        with pytest.raises(DownloadFailed) as e:
            download.fetch("ml-100k", cache_dir=tmp_path / "xhtml", base_url=url, progress=False)
        assert f"{url}/ml-100k.zip sent a web page labelled application/xhtml+xml ({len(page)} bytes)" in str(e.value)
        # A release checked by its published md5: the page's hex was taken for the checksum.
        with pytest.raises(DownloadFailed, match=r"ml-10m.zip.md5 sent a web page, not the checksum file"):
            download.fetch("ml-10m", cache_dir=tmp_path / "md5", base_url=url, progress=False)
    finally:
        server.shutdown()
        server.server_close()


def test_a_cache_that_cannot_hold_the_download_is_the_cache_s_fault_not_the_network_s(served, online, tmp_path,
                                                                                     monkeypatch) -> None:
    # A full disk read "download of ... failed: No space left on device": a DownloadFailed,
    # so quickstart fell back to synthetic data with the network working.
    import errno

    _, url, sums = served
    real_open = open

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, block):
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            self.f.close()

    def opening(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return Full(f) if "w" in mode and "ml-100k.zip" in str(path) else f

    monkeypatch.setattr("builtins.open", opening)
    with pytest.raises(DataError) as e:
        download.fetch("ml-100k", cache_dir=tmp_path / "c", base_url=url, checksums=sums, progress=False)
    monkeypatch.undo()
    assert not isinstance(e.value, DownloadFailed)
    assert str(e.value) == (f"{tmp_path / 'c'}: cannot write the download of ml-100k.zip there (No space left on "
                            "device); free some space, or set CINEREC_HOME to another folder")
    assert _leftovers(tmp_path / "c") == []


@pytest.mark.parametrize("base", ["127.0.0.1:8000/movielens", "ftp://files.example.org/movielens", "http:/",
                                  "127.0.0.1:8000/movielens/"])
def test_a_base_url_without_a_web_address_is_a_mistake_not_a_network_that_is_down(online, tmp_path, monkeypatch,
                                                                                   base) -> None:
    with pytest.raises(ConfigError, match=rf"^base URL '{re.escape(base)}': give the address of the folder holding "
                                          r"ml-100k.zip, starting with http://, https:// or file:$"):
        download.fetch("ml-100k", cache_dir=tmp_path / "c", base_url=base, progress=False)
    monkeypatch.setenv("CINEREC_MOVIELENS_URL", base)
    with pytest.raises(ConfigError, match=r"^CINEREC_MOVIELENS_URL "):
        download.fetch("ml-100k", cache_dir=tmp_path / "c", progress=False)


def test_a_base_url_that_is_no_address_is_a_mistake_offline_too(tmp_path, monkeypatch, capsys) -> None:
    # Offline, a CINEREC_MOVIELENS_URL of ftp://x was never read: quickstart fell back to its
    # synthetic sample and exited 0, and data fetch blamed CINEREC_OFFLINE.
    from cinerec.cli import main

    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"^base URL 'ftp://x': give the address of the folder holding "):
        download.fetch("ml-100k", cache_dir=tmp_path / "c", base_url="ftp://x", progress=False)
    monkeypatch.setenv("CINEREC_MOVIELENS_URL", "ftp://x")
    assert main(["quickstart", "--model", "popularity", "--out", str(tmp_path / "run"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["cinerec: error: CINEREC_MOVIELENS_URL 'ftp://x': give the address of the "
                                        "folder holding ml-100k.zip, starting with http://, https:// or file:"], err
    assert not (tmp_path / "run").exists()
    monkeypatch.delenv("CINEREC_MOVIELENS_URL")  # (a good address offline: the fallback, said so)
    assert main(["quickstart", "--model", "popularity", "--out", str(tmp_path / "run"), "-q"]) == 0
    assert "OFFLINE FALLBACK" in capsys.readouterr().err


def test_a_published_md5_served_as_html_and_a_file_colon_mirror_are_read(served, online, tmp_path) -> None:
    # A plain .md5 file a server labels text/html was refused as a web page; and file:/path
    # (one slash, which urllib opens) as no address.
    root, _, _ = served

    class Html(_QuietHandler):
        extensions_map = {**_QuietHandler.extensions_map, ".md5": "text/html"}

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Html, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        folder = download.fetch("ml-10m", cache_dir=tmp_path / "a", base_url=f"http://127.0.0.1:{server.server_address[1]}",
                                progress=False)
        assert folder.name == "ml-10M100K"
    finally:
        server.shutdown()
        server.server_close()
    assert download.fetch("ml-10m", cache_dir=tmp_path / "b", base_url=f"file:{root}", progress=False).is_dir()


def test_data_fetch_says_nothing_of_a_cached_copy_when_it_downloaded(served, online, capsys) -> None:
    # An empty folder left in the cache made it say "already in the cache; nothing was
    # fetched" right after downloading; and a bad --base-url was named by the function's
    # argument.
    from cinerec.cli import main

    _, url, _ = served
    (download.cache_dir() / "ml-10m").mkdir(parents=True)
    capsys.readouterr()
    assert main(["data", "fetch", "ml-10m", "--base-url", url]) == 0
    got = capsys.readouterr()
    assert got.out.strip().endswith("ml-10M100K") and "already in the cache" not in got.err, got.err
    assert main(["data", "fetch", "ml-10m", "--base-url", url]) == 0
    assert "note: ml-10m is already in the cache; nothing was fetched from --base-url" in capsys.readouterr().err
    assert main(["data", "fetch", "ml-1m", "--base-url", "127.0.0.1:8000/movielens"]) == 2
    assert capsys.readouterr().err.startswith("cinerec: error: --base-url '127.0.0.1:8000/movielens': give the address")


def test_a_cached_file_cut_short_is_unpacked_again_from_its_zip(served, online, tmp_path, monkeypatch) -> None:
    # Only a file's presence was checked: a ratings file cut to 1,000 bytes was "fetched".
    _, url, sums = served
    cache = tmp_path / "cache"
    folder = download.fetch("ml-100k", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    whole = (folder / "u.data").read_bytes()
    (folder / "u.data").write_bytes(whole[:1000])
    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    assert download.fetch("ml-100k", cache_dir=cache, checksums=sums) == folder
    assert (folder / "u.data").read_bytes() == whole


def test_a_cached_copy_missing_its_ratings_without_its_zip_is_downloaded_again(served, online, tmp_path) -> None:
    # It said the copy was in the cache and nothing was fetched, then failed to read it.
    _, url, sums = served
    cache = tmp_path / "cache"
    folder = download.fetch("ml-10m", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    (cache / "ml-10m.zip").unlink()
    (folder / "ratings.dat").unlink()
    assert download.fetch("ml-10m", cache_dir=cache, base_url=url, checksums=sums, progress=False) == folder
    assert (folder / "ratings.dat").is_file() and (cache / "ml-10m.zip").is_file()


def test_a_cached_zip_cut_short_is_said_to_be_damaged_not_someone_elses(served, tmp_path) -> None:
    root, _, sums = served
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "ml-100k.zip").write_bytes((root / "ml-100k.zip").read_bytes()[:5000])
    with pytest.raises(DataError, match=r"ml-100k\.zip: not a readable zip file \(cut short or damaged\); remove it "
                                        r"to download again$"):
        download.fetch("ml-100k", cache_dir=cache, checksums=sums)


def test_offline_with_a_cache_under_a_file_says_so(tmp_path, monkeypatch) -> None:
    # Offline, it was the offline line (DownloadFailed), so quickstart fell back on a cache
    # that can never hold a download, as it must not: the mistake is the cache's.
    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    (tmp_path / "home").write_text("not a folder")
    with pytest.raises(DataError, match=r"home/movielens: the download cache cannot be made \(.*home is a file\); "
                                        r"set CINEREC_HOME to a folder you can write") as e:
        download.fetch("ml-1m", cache_dir=tmp_path / "home" / "movielens")
    assert not isinstance(e.value, download.DownloadFailed)


@pytest.mark.parametrize("base, fault", [
    ("http://[::1", "not an address (Invalid IPv6 URL)"),
    ("http://127.0.0.1:99999", "not an address (Port out of range 0-65535)"),
    ("http://127.0.0.1:8000/my movielens", "an address holds no spaces (write one as %20)"),
    ("file://tmp/movielens", "file://tmp/... names a host, 'tmp'; a folder here is file:///PATH (three slashes)"),
    ("http:///movielens", "it names no host"),
    ("http://127.0.0.1:8000/movielens#top", "a fragment (#...) is never sent to the server"),
    ("file:///tmp/movielens?x=1", "a folder of this machine has no query (?...)"),
])
def test_a_base_url_that_is_no_address_is_a_mistake_not_a_network_that_is_down(online, tmp_path, base, fault) -> None:
    # They read as a network that is down (DownloadFailed), and quickstart fell back on them.
    with pytest.raises(ConfigError) as e:
        download.fetch("ml-100k", cache_dir=tmp_path / "c", base_url=base, progress=False)
    assert str(e.value) == f"base URL {base!r}: {fault}; give the address of the folder holding ml-100k.zip"


def test_a_damaged_copy_in_a_read_only_cache_names_what_it_lacks(served, online, tmp_path, monkeypatch) -> None:
    # It said only that the cache cannot be written, where it had named the file at fault.
    _, url, sums = served
    cache = tmp_path / "cache"
    folder = download.fetch("ml-100k", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    (folder / "u.item").write_bytes((folder / "u.item").read_bytes()[:100])
    real = os.access
    monkeypatch.setattr(download.os, "access",
                        lambda p, mode, *a, **k: False if Path(p) == cache and mode == os.W_OK else real(p, mode))
    with pytest.raises(DataError, match=r"cannot be written .*; the cached copy .*ml-100k lacks ml-100k/u\.item, or "
                                        r"holds it cut short or changed since it was unpacked$"):
        download.fetch("ml-100k", cache_dir=cache, checksums=sums)


def test_offline_still_reads_a_mirror_folder_of_this_machine(served, tmp_path, monkeypatch) -> None:
    # CINEREC_OFFLINE refused a file: base URL, which needs no connection.
    import shutil

    root, _, sums = served
    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    folder = download.fetch("ml-100k", cache_dir=tmp_path / "c", base_url=f"file://{root}", checksums=sums,
                            progress=False)
    assert (folder / "u.data").is_file()
    # A folder named as urllib opens it: the host in capitals, a space in the path.
    spaced = tmp_path / "my mirror"
    shutil.copytree(root, spaced)
    for n, base in enumerate((f"file://LOCALHOST{root}", f"file://{spaced}")):
        assert download.fetch("ml-100k", cache_dir=tmp_path / f"e{n}", base_url=base, checksums=sums,
                              progress=False).is_dir()
    with pytest.raises(DownloadFailed, match="offline: CINEREC_OFFLINE is set"):
        download.fetch("ml-1m", cache_dir=tmp_path / "d", base_url="http://127.0.0.1:9/movielens", progress=False)
    # A folder named from where one runs (file:mirror), which an address rebuilt made file:///mirror.
    monkeypatch.chdir(tmp_path)
    shutil.copytree(root, tmp_path / "mirror")
    for n, base in enumerate(("file:mirror", "file:./mirror")):
        assert download.fetch("ml-100k", cache_dir=tmp_path / f"r{n}", base_url=base, checksums=sums,
                              progress=False).is_dir()


def test_a_cached_file_changed_in_place_is_unpacked_again_from_its_zip(served, online, tmp_path, monkeypatch) -> None:
    # A rating changed in u.data (3 stars to 5, the same size) was read as the official
    # release: only the files' sizes were compared with the zip's.
    _, url, sums = served
    cache = tmp_path / "cache"
    folder = download.fetch("ml-100k", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    whole = (folder / "u.data").read_bytes()
    first = whole.split(b"\n")[0].split(b"\t")
    changed = b"\t".join([*first[:2], b"1" if first[2] != b"1" else b"2", *first[3:]])
    (folder / "u.data").write_bytes(changed + whole[len(b"\t".join(first)):])
    assert len((folder / "u.data").read_bytes()) == len(whole)
    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    assert download.fetch("ml-100k", cache_dir=cache, checksums=sums) == folder
    assert (folder / "u.data").read_bytes() == whole
    # A file only touched (the same bytes) is read as it is, once: its time is then recorded.
    reads: list[str] = []
    crc32 = download._crc32
    monkeypatch.setattr(download, "_crc32", lambda path: reads.append(path.name) or crc32(path))
    os.utime(folder / "u.item")
    before = (folder / "u.data").stat().st_mtime_ns
    for _ in range(2):
        assert download.fetch("ml-100k", cache_dir=cache, checksums=sums) == folder
    assert (folder / "u.data").stat().st_mtime_ns == before and reads == ["u.item"]
    # A stamp an earlier cinerec wrote records no times: every file is read once, and one
    # changed in place is found all the same.
    stamp = cache / "ml-100k" / download.ZIP_STAMP
    stamp.write_text(json.dumps({k: v for k, v in json.loads(stamp.read_text()).items() if k != "files"}))
    (folder / "u.data").write_bytes(changed + whole[len(b"\t".join(first)):])
    os.utime(folder / "u.data", ns=(before, before))
    assert download.fetch("ml-100k", cache_dir=cache, checksums=sums) == folder
    assert (folder / "u.data").read_bytes() == whole


class _Paced(http.server.BaseHTTPRequestHandler):
    """Serves the zip ``body`` announced whole: ``head`` bytes, then waits for ``go``;
    or (``trickle``) one byte every 0.05 s."""

    body = b""
    head = 100
    go = threading.Event()
    trickle = False
    gets = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).gets += 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        try:
            if self.trickle:
                for i in range(len(self.body)):
                    self.wfile.write(self.body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.05)
                return
            self.wfile.write(self.body[:self.head])
            self.wfile.flush()
            self.go.wait(10)
            self.wfile.write(self.body[self.head:])
        except OSError:  # (the client gave up)
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_slow_download_writes_what_arrives_and_one_that_trickles_is_given_up(served, online, tmp_path,
                                                                               monkeypatch) -> None:
    # A download waited for a whole MiB before writing any: a slow one's file stayed
    # untouched past the ten minutes after which another fetch sweeps it as left by a
    # killed process. One byte every few seconds never timed out.
    root, _, sums = served
    _Paced.body = (root / "ml-100k.zip").read_bytes()
    _Paced.go.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Paced)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    cache = tmp_path / "cache"
    done: list[object] = []
    fetching = threading.Thread(target=lambda: done.append(
        download.fetch("ml-100k", cache_dir=cache, base_url=url, checksums=sums, progress=False)))
    try:
        fetching.start()
        deadline = time.monotonic() + 10
        written = 0
        while time.monotonic() < deadline and written < _Paced.head:
            parts = list(cache.glob(".ml-100k.zip.*.tmp")) if cache.exists() else []
            written = parts[0].stat().st_size if parts else 0
            time.sleep(0.05)
        assert written == _Paced.head  # on disk while the rest has not come
        _Paced.go.set()
        fetching.join(20)
        assert done and (cache / "ml-100k" / "ml-100k" / "u.data").is_file()
        # A trickle is given up, said as a download that failed (quickstart falls back).
        monkeypatch.setattr(download, "_SLOW_S", 0.5)
        monkeypatch.setattr(download, "_SLOW_BYTES", 1000)
        _Paced.trickle = True
        with pytest.raises(DownloadFailed, match=r"the download of .*/ml-100k\.zip is too slow to finish \(\d+ bytes "
                                                 r"in the last \d+ s\)"):
            download.fetch("ml-100k", cache_dir=tmp_path / "slow", base_url=url, checksums=sums, progress=False)
        assert _leftovers(tmp_path / "slow") == []
    finally:
        _Paced.trickle = False
        _Paced.go.set()
        server.shutdown()
        server.server_close()


def test_a_stamp_another_process_rewrote_meanwhile_is_not_written_over(served, online, tmp_path, monkeypatch) -> None:
    # The times of the files read were written over the stamp as it was first read: a newer
    # zip unpacked meanwhile by another process lost its stamp, and was unpacked yet again.
    import json

    _, url, sums = served
    cache = tmp_path / "cache"
    folder = download.fetch("ml-100k", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    stamp = cache / "ml-100k" / download.ZIP_STAMP
    theirs = json.dumps({**json.loads(stamp.read_text()), "mtime_ns": 1, "files": {}}) + "\n"
    crc32 = download._crc32

    def meanwhile(path: Path) -> int:
        stamp.write_text(theirs)  # (another process's unpacking, while this one reads)
        return crc32(path)

    monkeypatch.setattr(download, "_crc32", meanwhile)
    os.utime(folder / "u.item")
    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    download._lacking(cache / "ml-100k.zip", cache / "ml-100k", download.release_info("ml-100k"))
    assert stamp.read_text() == theirs


@contextlib.contextmanager
def _serving(handler):
    """A local server of ``handler`` for the length of the block; yields its address."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Recorded(_QuietHandler):
    """Serves the folder, as GroupLens would, and keeps each path asked for."""

    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.asked.append(self.path)
        super().do_GET()


def test_a_mirror_address_with_a_query_keeps_it_after_each_file_name(served, online, tmp_path) -> None:
    # The file name was put after the query ("/?token=abc/ml-10m.zip.md5"): the server sent
    # its folder's page, and quickstart took that for no internet.
    root, _, _ = served
    handler = type("Rec", (_Recorded,), {"asked": []})
    with _serving(functools.partial(handler, directory=str(root))) as url:
        folder = download.fetch("ml-10m", cache_dir=tmp_path / "c", progress=False, base_url=f"{url}/?token=abc")
    assert (folder / "ratings.dat").is_file()
    assert handler.asked == ["/ml-10m.zip.md5?token=abc", "/ml-10m.zip?token=abc"]


@pytest.mark.parametrize("length", ["{n}, {n}", "abc", "{n}, 7"])
def test_a_content_length_that_is_no_one_number_is_read_as_none_given(served, online, tmp_path, length) -> None:
    # int() of "5330590, 5330590" (a proxy's) was a ValueError traceback, past quickstart's fallback.
    root, _, _ = served
    body = (root / "ml-10m.zip").read_bytes()

    class Odd(_HalfHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.endswith(".md5"):
                return super().do_GET()
            self.send_response(200)
            self.send_header("Content-Length", length.format(n=len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True

    with _serving(type("Odd", (Odd,), {"body": body})) as url:
        folder = download.fetch("ml-10m", cache_dir=tmp_path / "c", progress=True, base_url=url)
    assert (folder / "ratings.dat").is_file()


def test_a_cached_zip_damaged_inside_says_to_remove_it_to_download_again(served, tmp_path) -> None:
    # Its end record whole, one member's bytes changed: found only when unpacked, and said
    # with no way out (a release checked by its published md5 is trusted as placed).
    root, _, _ = served
    cache = tmp_path / "c"
    cache.mkdir()
    with zipfile.ZipFile(root / "ml-10m.zip") as src, zipfile.ZipFile(cache / "ml-10m.zip", "w") as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info.filename), compress_type=zipfile.ZIP_STORED)
    data = bytearray((cache / "ml-10m.zip").read_bytes())
    with zipfile.ZipFile(cache / "ml-10m.zip") as z:
        ratings = z.getinfo("ml-10M100K/ratings.dat")
        at = ratings.header_offset + 30 + len(ratings.filename) + ratings.compress_size // 2
    data[at] ^= 0xFF
    (cache / "ml-10m.zip").write_bytes(bytes(data))
    with pytest.raises(DataError) as e:
        download.fetch("ml-10m", cache_dir=cache, progress=False)
    assert str(e.value).startswith(f"{cache / 'ml-10m.zip'}: not a readable zip file (Bad CRC-32")
    assert str(e.value).endswith("; remove it to download again")
    assert not (cache / "ml-10m").exists()


def test_a_cached_file_cut_short_without_its_zip_is_downloaded_again(served, online, tmp_path, monkeypatch) -> None:
    # With the zip removed (to save room), only the files' presence was checked: a ratings
    # file cut to half was read as the whole release, without a word.
    _, url, sums = served
    cache = tmp_path / "cache"
    folder = download.fetch("ml-10m", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    whole = (folder / "ratings.dat").read_bytes()
    (cache / "ml-10m.zip").unlink()
    cut = whole[:whole.index(b"\n", len(whole) // 2) + 1]
    (folder / "ratings.dat").write_bytes(cut)
    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    # (the file is there, cut short: "lacks" alone said it was missing)
    with pytest.raises(DataError, match=r"lacks ml-10M100K/ratings\.dat, or holds it cut short or changed since it "
                                        r"was unpacked$"):
        download.fetch("ml-10m", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    monkeypatch.delenv("CINEREC_OFFLINE")
    assert download.fetch("ml-10m", cache_dir=cache, base_url=url, checksums=sums, progress=False) == folder
    assert (folder / "ratings.dat").read_bytes() == whole
    # Changed in place, its size kept: read against the CRC-32 the zip gave it.
    (cache / "ml-10m.zip").unlink()
    (folder / "ratings.dat").write_bytes(whole.replace(b"::5::", b"::1::", 1))
    assert download.fetch("ml-10m", cache_dir=cache, base_url=url, checksums=sums, progress=False) == folder
    assert (folder / "ratings.dat").read_bytes() == whole
    # A copy left alone is used as it is, with no download.
    (cache / "ml-10m.zip").unlink()
    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    assert download.fetch("ml-10m", cache_dir=cache, checksums=sums, progress=False) == folder
    # A stamp an earlier cinerec wrote (no sizes and CRC-32s) gains them while the zip is there.
    monkeypatch.delenv("CINEREC_OFFLINE")
    shutil.rmtree(cache / "ml-10m")
    download.fetch("ml-10m", cache_dir=cache, base_url=url, checksums=sums, progress=False)
    stamp_path = cache / "ml-10m" / download.ZIP_STAMP
    stamp = json.loads(stamp_path.read_text())
    stamp_path.write_text(json.dumps({k: v for k, v in stamp.items() if k != "members"}))
    download.fetch("ml-10m", cache_dir=cache, checksums=sums, progress=False)
    assert json.loads(stamp_path.read_text())["members"] == stamp["members"]
    (cache / "ml-10m.zip").unlink()
    (folder / "ratings.dat").write_bytes(cut)
    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    with pytest.raises(DataError, match=r"lacks ml-10M100K/ratings\.dat"):
        download.fetch("ml-10m", cache_dir=cache, checksums=sums, progress=False)


@pytest.mark.parametrize("damage", ["member", "folder", "unsafe"])
def test_a_downloaded_zip_that_cannot_be_unpacked_is_not_kept(served, online, tmp_path, damage) -> None:
    # A zip matching its mirror's md5 but damaged inside (or holding another folder, or a
    # member path outside the cache) stayed in the cache: every later fetch, from a good
    # mirror too, failed on it until it was removed by hand.
    root, url, _ = served
    bad = tmp_path / "mirror"
    bad.mkdir()
    with zipfile.ZipFile(root / "ml-10m.zip") as src, zipfile.ZipFile(bad / "ml-10m.zip", "w") as out:
        for info in src.infolist():
            name = info.filename.replace("ml-10M100K/", "other/") if damage == "folder" else info.filename
            out.writestr(name, src.read(info.filename), compress_type=zipfile.ZIP_STORED)
        if damage == "unsafe":
            out.writestr("ml-10M100K/../../evil.txt", b"x")
    data = bytearray((bad / "ml-10m.zip").read_bytes())
    if damage == "member":
        with zipfile.ZipFile(bad / "ml-10m.zip") as z:
            ratings = z.getinfo("ml-10M100K/ratings.dat")
            data[ratings.header_offset + 30 + len(ratings.filename) + ratings.compress_size // 2] ^= 0xFF
        (bad / "ml-10m.zip").write_bytes(bytes(data))
    (bad / "ml-10m.zip.md5").write_text(f"MD5 (ml-10m.zip) = {hashlib.md5(bytes(data)).hexdigest()}\n")
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as e:
        download.fetch("ml-10m", cache_dir=cache, base_url=bad.as_uri(), progress=False)
    assert str(e.value).endswith("; removed it, so the next fetch downloads it again"), str(e.value)
    assert not (cache / "ml-10m.zip").exists() and not (cache / "ml-10m").exists()
    assert not (tmp_path / "evil.txt").exists()
    folder = download.fetch("ml-10m", cache_dir=cache, base_url=url, progress=False)
    assert (folder / "ratings.dat").is_file()


def test_a_zip_another_process_put_in_place_meanwhile_is_not_removed(served, online, tmp_path, monkeypatch) -> None:
    # The zip that failed to unpack was removed by its path: another process's good zip,
    # renamed into the cache meanwhile, went in its stead.
    root, url, _ = served
    bad = tmp_path / "mirror"
    bad.mkdir()
    data = bytearray((root / "ml-10m.zip").read_bytes())
    with zipfile.ZipFile(root / "ml-10m.zip") as z:
        first = z.infolist()[0]
        data[first.header_offset + 30 + len(first.filename) + first.compress_size // 2] ^= 0xFF
    (bad / "ml-10m.zip").write_bytes(bytes(data))
    (bad / "ml-10m.zip.md5").write_text(f"MD5 (ml-10m.zip) = {hashlib.md5(bytes(data)).hexdigest()}\n")
    cache = tmp_path / "cache"
    real = download.extract

    def meanwhile(archive, *args, **kwargs):
        try:
            return real(archive, *args, **kwargs)
        finally:
            shutil.copy(root / "ml-10m.zip", cache / "other.tmp")
            os.replace(cache / "other.tmp", archive)

    monkeypatch.setattr(download, "extract", meanwhile)
    with pytest.raises(DataError, match=r"; remove it to download again$"):
        download.fetch("ml-10m", cache_dir=cache, base_url=bad.as_uri(), progress=False)
    assert (cache / "ml-10m.zip").read_bytes() == (root / "ml-10m.zip").read_bytes()


def test_fetches_of_one_release_at_once_download_it_once(served, online, tmp_path, capsys) -> None:
    # Two commands started together each downloaded the release (ml-25m is 250 MB).
    root, _, sums = served
    _Paced.body = (root / "ml-100k.zip").read_bytes()
    _Paced.go.clear()
    _Paced.gets = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Paced)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    cache = tmp_path / "cache"
    done: list[object] = []
    fetches = [threading.Thread(target=lambda: done.append(
        download.fetch("ml-100k", cache_dir=cache, base_url=url, checksums=sums, progress=True))) for _ in range(2)]
    try:
        for t in fetches:
            t.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "waiting for another download" not in capsys.readouterr().err:
            time.sleep(0.05)
        _Paced.go.set()
        for t in fetches:
            t.join(20)
        assert done == [cache / "ml-100k" / "ml-100k"] * 2 and _Paced.gets == 1
        assert _leftovers(cache) == ["ml-100k", "ml-100k.zip"]
    finally:
        _Paced.go.set()
        server.shutdown()
        server.server_close()

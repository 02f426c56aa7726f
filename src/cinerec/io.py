"""Atomic writes: nothing is ever left half-written under its final name."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import IO, Any, Callable, Iterator, cast

__all__ = ["atomic_path", "atomic_dir", "sweep_stale_temps", "check_not_mount", "check_not_read_only",
           "check_replaced_whole", "written_files", "write_json", "read_json", "arrow_source", "is_clutter",
           "contents"]


#: Whether a Ctrl-C or SIGTERM was raised where Python drops it (a weak reference's
#: callback, a finalizer; :func:`cinerec.cli.main` notes it): nothing is kept after it.
_dropped_interrupt = False


def note_dropped_interrupt(dropped: bool = True) -> None:
    """Say that an interrupt was dropped (or, ``False``, forget one: a new command)."""
    global _dropped_interrupt
    _dropped_interrupt = dropped


def interrupt_dropped() -> bool:
    """Whether an interrupt was dropped since the command began."""
    return _dropped_interrupt


#: What the command has put in place whole (a store), and the file it is where it is one:
#: a Ctrl-C after it ends the command as interrupted, and the line says this much was written.
_finished: list[tuple[str, Path | None]] = []


def note_finished(what: str | None = None, path: str | os.PathLike | None = None) -> None:
    """Say that ``what`` (a store, at ``path`` where it is a file) was written in full;
    None forgets them all (a new command)."""
    if what is None:
        _finished.clear()
    elif what not in [said for said, _ in _finished]:
        _finished.append((what, None if path is None else Path(path)))


def finished_outputs() -> list[str]:
    """What this command wrote in full and is still there, in order: a store written into
    a run folder that the interrupt then removed unfinished is not (it said it had been)."""
    return [what for what, path in _finished if path is None or path.exists()]


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back, where Python handles them (the command line turns
    SIGTERM into Ctrl-C), for a step that must end whole once begun (a store's swap and the
    note that it was made), then raise the interrupt held, if any: one that landed just
    after a PostgreSQL store's swap committed ended the command as interrupted, though the
    new store was in place. A signal ignored, or left to its default, stays so."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: object) -> None:
        held.append(signum)

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    saved = {sig: h for sig, h in saved.items() if callable(h)}  # (SIG_IGN, SIG_DFL: left as they are)
    for sig in saved:
        signal.signal(sig, hold)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    if held:
        raise KeyboardInterrupt


def keep_only_if_not_interrupted() -> None:
    """Raise the interrupt a callback dropped, before a file or folder is put in place:
    a command stopped by Ctrl-C keeps nothing it had not finished, as everywhere else."""
    if _dropped_interrupt:
        raise KeyboardInterrupt


#: The file that marks a folder as ``cinerec train``'s, finished or not: the command writes
#: it, :func:`cinerec.runs.open_run` reads it (a run resumed there is without run.json while
#: it is saved again). Kept here, where neither needs NumPy to import it.
TRAIN_MARK = ".cinerec-train"

#: A temporary file or folder of :func:`atomic_path` or :func:`atomic_dir` untouched this
#: long was left by a killed process: a live one keeps writing it (a download writes
#: every read, which waits at most a minute).
STALE_SECONDS = 600.0

#: The temporary names :func:`atomic_path` and :func:`atomic_dir` give (tempfile's 8
#: characters between the name and ".tmp"), with the name of what they write in place of {}.
_TEMP_NAME = r"\.{}\.[a-z0-9_]{{8}}\.tmp"


def written_now(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a live writer's: the lock (``.NAME.lock``) that :func:`in_turn`
    holds, or a temporary file (``.NAME.<8 letters>.tmp``) changed within
    :data:`STALE_SECONDS`. A killed writer's are left over (:func:`sweep_stale_temps`)."""
    import time

    path = Path(path)
    if re.fullmatch(_TEMP_NAME.format(".+"), path.name):
        try:
            return time.time() - path.lstat().st_mtime < STALE_SECONDS
        except OSError:
            return False
    if not re.fullmatch(r"\..+\.lock", path.name):
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True  # held by a writer
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def arrow_source(path: Any) -> Iterator[Any]:
    """``path`` as pyarrow's readers take it: its name, or, where the name holds bytes
    that are no UTF-8 text (a folder named in Latin-1), the file opened: pyarrow passes
    names on as UTF-8, which such a name is not. Anything else (bytes in memory) as it is."""
    if not isinstance(path, (str, os.PathLike)):
        yield path
        return
    name = os.fspath(path)
    try:
        os.fsdecode(name).encode("utf-8")
    except UnicodeEncodeError:
        with open(name, "rb") as f:
            yield f
        return
    yield name


def escaped(text: str) -> str:
    """``text`` as UTF-8 can write it: the bytes of a path's name that are no UTF-8 text
    (which Python holds as lone surrogates) written as ``\\xNN`` escapes."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def sweep_stale_temps(path: str | os.PathLike, older_than: float = STALE_SECONDS) -> None:
    """Remove the temporary files and folders beside ``path`` (``.NAME.*.tmp``) that
    :func:`atomic_path` or :func:`atomic_dir` began for it and no process has written for
    ``older_than`` seconds: what a killed writer left. Those of a live writer are kept
    (``older_than=0`` where the caller holds the only right to write ``path``); a name
    that reads as a glob pattern (``[a].sqlite``) is taken as a name."""
    import glob
    import time

    path = Path(path)
    if not path.parent.is_dir():
        return
    now = time.time()
    # (".r.v2.x1y2z3w4.tmp" is r.v2's, not r's, and may be a live writer's that no claim on
    # r holds back)
    own = re.compile(_TEMP_NAME.format(re.escape(path.name)))
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if not own.fullmatch(leftover.name):
            continue
        try:
            if now - leftover.lstat().st_mtime < older_than:
                continue
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        except OSError:  # another process removed it, or the folder is read-only: not this run's concern
            pass
    # The earlier folder a writer killed during its swap left as .NAME.old-PID (atomic_dir):
    # gone once the new one is in place, put back where the writer died between its two
    # renames. (They were never swept: a 27 MB run, a 126 MB release, kept hidden for good.)
    old = re.compile(rf"\.{re.escape(path.name)}\.old-(\d+)")
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.old-*"):
        match = old.fullmatch(leftover.name)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            if not os.path.lexists(path):
                os.replace(leftover, path)
            elif leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one of another user's counts too)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, OSError):  # (another user's: PermissionError)
        return True
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: The process's umask, read once: the temporary names are made private (0600 / 0700)
#: and given the usual permissions when they take their final name.
_UMASK = _umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, finished: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left as it was.
    ``finished``: what the file is, noted as written in full (:func:`note_finished`)
    together with the rename, an interrupt held back between the two.
    """
    path = Path(os.path.abspath(path))  # (".": beside it is in its parent)
    if path.is_symlink():  # the file it points at is the one written, not the link replaced by a copy
        from cinerec.errors import ConfigError

        target = Path(os.path.realpath(path))
        if not target.parent.is_dir():
            raise ConfigError(f"{path}: a link to {target}, whose folder {target.parent} does not exist")
        path = target
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # a file where a folder should be, a read-only folder, /proc...
        raise _cannot_write(path, "file", e) from None
    os.close(fd)
    tmp_path = Path(tmp)
    folder = _folder_fd(path.parent)
    try:
        yield tmp_path
        keep_only_if_not_interrupted()
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~_UMASK)
        with interrupts_deferred() if finished is not None else contextlib.nullcontext():
            os.replace(tmp_path, path)
            if finished is not None:
                note_finished(finished, path)
    except BaseException:
        _unlink_in(folder, tmp_path)
        raise
    finally:
        if folder is not None:
            os.close(folder)


def _folder_fd(folder: Path) -> int | None:
    """A descriptor of ``folder``, through which a file in it is found wherever the folder
    has been moved to since (``None`` where folders cannot be opened so)."""
    try:
        return os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None


def _unlink_in(folder: int | None, path: Path) -> None:
    """Remove ``path`` from the folder behind descriptor ``folder`` (where that folder has
    gone since, by its name there: a run moved while its store was written kept the
    temporary file), else by its path; missing already is fine."""
    try:
        if folder is not None and os.unlink in os.supports_dir_fd:
            os.unlink(path.name, dir_fd=folder)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, before_swap: Callable[[Path], None] | None = None,
               own: tuple[str, str] | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; swap it in for ``path`` on success.

    An existing folder at ``path`` is replaced only once the new one is complete, and
    ``before_swap(path)`` (when given) may still refuse it then, by raising: files can
    appear in it while the new one is written (a server saving profiles there). An
    interruption during the swap puts the old folder back. With ``own = (marker, what)``
    only an empty folder or an earlier one of its kind is replaced, checked before the
    work and again before the swap (:func:`check_replaceable`). The folder one is in
    (``--out .``), or one holding it, is refused: swapped out, it would leave the shell in
    a deleted folder.
    """
    from cinerec.errors import ConfigError

    # Through a link: the folder it points at is the one written (replacing the link itself
    # left the linked folder untouched and the link's copy behind as a hidden folder).
    given, path = os.fspath(path), Path(os.path.realpath(path))
    try:  # (a folder on the way this user may not enter: one line, not pathlib's traceback)
        check_not_here(path, given)
        check_not_mount(path, given)
        if own is not None:  # (a saved model or dataset: a folder made read-only is kept as it is)
            check_not_read_only(path, given)
            check_replaceable(path, *own)
        made = path.parent  # the highest folder this call creates, removed again on failure
        while not made.parent.exists():
            made = made.parent
        made_any = not path.parent.exists()
    except PermissionError as e:
        raise ConfigError(f"{given}: cannot be written ({e.strerror}: {e.filename})") from None
    if own is not None:
        first = before_swap

        def before_swap(p: Path) -> None:
            check_replaceable(p, *own)
            if first is not None:
                first(p)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as e:  # a file where a folder of the path should be, no permission...
        raise _cannot_write(path, "folder", e) from None
    try:
        try:
            yield tmp
        except OSError as e:  # (a full disk: said of the folder asked for, not of its unfinished copy)
            name = os.fspath(e.filename) if isinstance(e.filename, (str, os.PathLike)) else None
            if name is not None and (name == str(tmp) or name.startswith(f"{tmp}{os.sep}")) and e.errno is not None:
                raise OSError(e.errno, e.strerror, given + name[len(str(tmp)):]) from None
            raise
        keep_only_if_not_interrupted()
        os.chmod(tmp, 0o777 & ~_UMASK)
        if path.exists():
            if before_swap is not None:
                before_swap(path)
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            try:
                os.replace(path, old)
            except OSError as e:  # (no permission to move it): the new folder is kept under a name of its own
                kept = path.with_name(f"{path.name}.new-{os.getpid()}")
                os.replace(tmp, kept)
                raise ConfigError(f"{given}: cannot be replaced ({e.strerror or e}); it is left as it was, and the "
                                  f"new one is kept in {kept}") from None
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:  # (a file where the folder goes, in a cache: rmtree left it behind as .NAME.old-PID)
                with contextlib.suppress(OSError):
                    old.unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if made_any and not path.exists():  # the folders made for it, if nothing else went there
            _remove_empty(path.parent, made)
        raise


def _check_not_root(real: Path, shown: str) -> None:
    """Refuse the root of the file system (``real``, resolved) as a command's output folder."""
    if real.parent == real:
        from cinerec.errors import ConfigError

        raise ConfigError(f"{shown}: names the root of the file system, which is no folder to write a command's "
                          "output as; name a new folder")


def check_not_here(path: str | os.PathLike, given: str | None = None, flag: str = "") -> None:
    """Refuse the folder one is in, or one holding it, as a folder :func:`atomic_dir`
    replaces: swapped out, it would leave the shell in a deleted folder. Called early too,
    so that a command refuses it before its work, not after."""
    from cinerec.errors import ConfigError

    real = Path(os.path.realpath(path))
    _check_not_root(real, f"{flag}{given if given is not None else os.fspath(path)}")
    try:
        here: Path | None = Path(os.getcwd())
    except OSError:  # (the folder one is in was deleted)
        here = None
    if here is not None and (here == real or real in here.parents):
        what = "the folder you are in" if here == real else "a folder holding the one you are in"
        raise ConfigError(f"{flag}{given if given is not None else os.fspath(path)}: is {what}, which "
                          "is replaced whole once the new one is complete; name a folder inside it (for example run)")


def check_not_read_only(path: str | os.PathLike, given: str | None = None, flag: str = "") -> None:
    """Refuse, in one line, an output folder a command would replace whole that is
    read-only (no write permission for this user, or none for anyone): the swap
    (:func:`atomic_dir`) needs only its parent's, so it went ahead and left a new,
    writable folder in its place. Called by the commands that replace their ``--out``
    (``data synthesize``, ``quickstart``, ``run``) before their work, and by a saved
    model's or dataset's save (:func:`atomic_dir` with ``own``)."""
    import stat

    from cinerec.errors import ConfigError

    given = os.fspath(path) if given is None else given
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISDIR(mode) and (not stat.S_IMODE(mode) & 0o222 or not os.access(path, os.W_OK)):
        raise ConfigError(f"{flag}{given}: is a read-only folder; not replacing it: make it writable, or give "
                          "another folder")


def check_replaced_whole(path: str | os.PathLike, given: str | None = None, flag: str = "") -> None:
    """The checks, before its work, of an output folder a command replaces whole: not the
    folder one is in (:func:`check_not_here`), not a mount point (:func:`check_not_mount`),
    not read-only (:func:`check_not_read_only`)."""
    check_not_here(path, given, flag)
    check_not_mount(path, given, flag)
    check_not_read_only(path, given, flag)


def check_not_mount(path: str | os.PathLike, given: str | None = None, flag: str = "") -> None:
    """Refuse, in one line, a folder to be replaced whole that is a mount point (a volume
    given to a container): the system does not rename one, so the swap would fail at the end."""
    from cinerec.errors import ConfigError

    given = os.fspath(path) if given is None else given
    if os.path.isdir(path) and _is_mount(os.path.realpath(path)):
        raise ConfigError(f"{flag}{given}: is a mount point, which cannot be swapped for the new folder once that "
                          f"is complete; name a folder inside it (for example {flag}{os.path.join(given, 'run')})")


def _is_mount(path: str) -> bool:
    """``os.path.ismount``, and on Linux any mount point the system lists: a folder bound from
    the same file system (a container's volume) looks like any folder to ``ismount``."""
    if os.path.ismount(path):
        return True
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            # The fifth field is the mount point, with a space, tab, newline or backslash written in octal.
            fields = (line.split() for line in f)
            points = {re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), parts[4]) for parts in fields if len(parts) > 4}
    except OSError:  # not Linux
        return False
    return path in points


def _remove_empty(folder: Path, top: Path) -> None:
    """Remove ``folder`` and its parents up to ``top`` while they are empty."""
    while True:
        try:
            folder.rmdir()
        except OSError:  # not empty (someone else's files), or gone
            return
        if folder == top:
            return
        folder = folder.parent


def check_replaceable(path: str | os.PathLike, marker: str, what: str) -> None:
    """Refuse, in one line, to write ``what`` (a saved model, a dataset) over anything at
    ``path`` but an empty folder or an earlier one (a folder holding ``marker``): a folder
    of other files would be deleted by the swap, and a file turned into a folder."""
    from cinerec.errors import ConfigError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: is a file; not replacing it with {what}: give a new or empty folder")
    if not path.is_dir() or not contents(path):
        return
    if not (path / marker).is_file():
        raise ConfigError(f"{path}: a folder holding other files (not {what}); not replacing it: "
                          "give a new or empty folder")
    if not marker.endswith(".json") or marker.startswith("."):  # (a hidden marker: its writer checks its files)
        return
    # A saved model's or dataset's own marker: a JSON object whose format is a number (a
    # model.json another program wrote, TensorFlow.js's, is no such thing), which lists the
    # files written beside it (since it began to): any other file is someone's own.
    try:
        meta = json.loads((path / marker).read_text(encoding="utf-8"))
    except PermissionError as e:
        raise ConfigError(f"{path / marker}: cannot be read ({e.strerror}); not replacing {path}: make it readable, "
                          "or give a new or empty folder") from None
    except (OSError, ValueError):
        meta = None
    if not isinstance(meta, dict) or not isinstance(meta.get("format"), (int, float)) \
            or isinstance(meta.get("format"), bool):
        raise ConfigError(f"{path}: holds a {marker} that cinerec did not write (not {what}); not replacing "
                          "it: give a new or empty folder")
    files = meta.get("files")
    if "files" in meta and not (isinstance(files, list) and all(isinstance(f, str) for f in files)):
        raise ConfigError(f"{path / marker}: files: expected a list of its files' names; not replacing {path}, "
                          "which may hold others: give a new or empty folder")
    if isinstance(files, list):
        listed = set(files) | {marker}
        unread: list[str] = []  # (a folder one may not list: what it holds cannot be told apart)
        found = [os.path.relpath(os.path.join(top, name), path)
                 for top, dirs, names in os.walk(path, onerror=lambda e: unread.append(str(e.filename)))
                 for name in names + [d for d in dirs if os.path.islink(os.path.join(top, d))]]
        if unread:
            raise ConfigError(f"{path}: holds a folder that cannot be read ({os.path.relpath(unread[0], path)}), "
                              "which may hold files of yours; not replacing it: give a new or empty folder")
        other = sorted(f for f in found if f not in listed and not is_clutter(path / f))
        if other:
            raise ConfigError(f"{path}: {what} that now holds files it did not write ({', '.join(other[:3])}"
                              f"{', ...' if len(other) > 3 else ''}); not replacing it: move them out, or give a "
                              "new or empty folder")


#: Files a file browser leaves in a folder it shows (macOS Finder's ``.DS_Store``,
#: Windows Explorer's ``Thumbs.db`` and ``desktop.ini``; and macOS's ``._`` files, on a
#: disk that keeps no such details itself): no one's data, and made again when the folder
#: is next shown. A folder holding only these is empty to cinerec, and they go with an
#: earlier run or saved model that is replaced.
_CLUTTER = frozenset({".DS_Store", "Thumbs.db", "ehthumbs.db", "desktop.ini"})
_APPLE_DOUBLE = b"\x00\x05\x16\x07"  # (the first bytes of a ._ file macOS writes)


def is_clutter(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file a file browser leaves (:data:`_CLUTTER`): a plain file
    of such a name, not a link or a folder of one's own named so, and a ``._`` file only
    when it starts as macOS writes one."""
    name = os.path.basename(path)
    if not (name in _CLUTTER or name.startswith("._")) or os.path.islink(path) or not os.path.isfile(path):
        return False
    if name in _CLUTTER:
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == _APPLE_DOUBLE
    except OSError:
        return False


def contents(folder: Path) -> list[Path]:
    """What ``folder`` holds, less a file browser's files (:func:`is_clutter`)."""
    return [p for p in folder.iterdir() if not is_clutter(p)]


def written_files(folder: Path) -> list[str]:
    """Every file under ``folder`` (a saved model's or dataset's temporary folder), as paths
    relative to it: what its marker lists, so that a later save over it knows the rest is
    someone's own (:func:`check_replaceable`)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _lock_of(path: Path) -> Path:
    """The lock file beside ``path`` that :func:`claimed` and :func:`in_turn` hold (``.NAME.lock``)."""
    return path.with_name(f".{path.name}.lock")


def claim_refused(path: str | os.PathLike, label: str = "--out") -> Exception:
    """The one line refusing a folder another command holds (:func:`claimed`)."""
    from cinerec.errors import ConfigError

    return ConfigError(f"{label} {Path(os.path.abspath(path))}: another cinerec command is writing it now; wait for "
                       "it to end or choose another folder")


def claimed_now(path: str | os.PathLike) -> bool:
    """Whether another command holds ``path`` now (:func:`claimed`), as a check before the
    claim (whose own refusal comes too late for a folder half written, which looks like no
    run)."""
    real = Path(os.path.realpath(path))
    return real.parent != real and written_now(_lock_of(real))


@contextlib.contextmanager
def claimed(path: str | os.PathLike, label: str = "--out") -> Iterator[None]:
    """Hold ``path`` for one command for the length of the block: a second command asking
    for it meanwhile is refused in one line instead of writing into the same folder.

    The claim is a lock on ``.NAME.lock`` beside ``path``, which the system lets go if the
    process dies (a killed command never leaves ``path`` claimed); the file is removed at
    the end. Where file locks do not exist (Windows), nothing is claimed.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    shown_path = Path(os.path.abspath(path))  # (".": its lock is beside it, in its parent)
    # Through a link, the folder written is the one it points at: claimed there, so that the
    # link and the folder's own name are one claim.
    path = Path(os.path.realpath(shown_path))
    _check_not_root(path, f"{label} {shown_path}")  # (it has no name to put a lock beside: a traceback)
    lock = _lock_of(path)
    # The folders made here to hold the lock (and the run), deepest last: removed at the
    # end when nothing was left in them (a command that failed leaves no empty folders).
    made = [p for p in reversed([path.parent, *path.parent.parents]) if not p.exists()]
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        except OSError as e:
            raise _cannot_write(shown_path, "folder", e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise claim_refused(shown_path, label) from None
        try:
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                break
        except FileNotFoundError:
            pass
        # The file locked was removed by the command that held it, as it ended, and another
        # may hold a new one by that name now: that one is the claim, tried again.
        os.close(fd)
    # What a killed command left beside the folder (its unfinished copy) goes now that no
    # other holds it.
    sweep_stale_temps(path)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:  # it holds the run now (or anything else): kept, and the folders above it
                break


@contextlib.contextmanager
def in_turn(path: str | os.PathLike, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold ``path`` for the length of the block, waiting for any other process holding it
    first (``waiting`` is called once, before the wait): writers of one file take turns.

    The turn is a lock on ``.NAME.lock`` beside ``path``, let go when the process ends,
    killed or not; the file is removed at the end. Where file locks do not exist
    (Windows), no turn is taken.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = Path(os.path.realpath(path))
    held: set[Path] = getattr(_turns, "held", set())
    _turns.held = held
    if path in held:  # this thread's turn already (a lock per open file: it waited for itself)
        yield
        return
    lock = _lock_of(path)
    said = False
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        except PermissionError:  # another user's lock file: it locks as well read-only
            try:
                fd = os.open(lock, os.O_RDONLY)
            except OSError:
                yield
                return
        except OSError:  # no lock can be made there: nor can the file itself, which says why
            yield
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if waiting is not None and not said:
                    waiting()
                    said = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                break
        except FileNotFoundError:
            pass
        except OSError:  # locks do not work here (ENOLCK, some network file systems): no turn taken
            os.close(fd)
            _drop(lock)
            yield
            return
        except BaseException:
            os.close(fd)
            raise
        # The file locked was removed by the holder as it ended: the lock by that name now is the turn.
        os.close(fd)
    held.add(path)
    folder = _folder_fd(lock.parent)  # (the lock is removed from its folder, moved meanwhile or not)
    try:
        yield
    finally:
        held.discard(path)
        _drop(lock, folder)
        if folder is not None:
            os.close(folder)
        os.close(fd)


def _drop(lock: Path, folder: int | None = None) -> None:
    """Remove a lock file (from the folder behind descriptor ``folder``, where given); one
    this process may not remove (another user's, in a shared folder) is left: the lock on
    it is what counted, and it goes with the file's closing."""
    try:
        _unlink_in(folder, lock)
    except OSError:
        pass


#: The paths whose turn (:func:`in_turn`) each thread holds.
_turns = threading.local()


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Name ``path`` in an ``OSError`` raised within that names no file (NumPy's ``savez``
    and a file's write on a full disk name none): the command line then says where it
    could not write, not "No space left on device" alone."""
    try:
        yield
    except OSError as e:
        if e.filename is None and e.errno is not None:
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


def _cannot_write(path: Path, what: str, e: OSError) -> Exception:
    """One line for a destination where nothing can be created."""
    from cinerec.errors import ConfigError

    blocker = next((p for p in path.parents if p.is_file()), None)
    why = f"{blocker} is a file" if blocker is not None else (e.strerror or str(e))
    # (the folder that could not be written in is named: "the folder /proc" read as if /proc were missing)
    where = f" in {path.parent}" if what == "folder" else ""
    return ConfigError(f"{path}: cannot create the {what}{where} ({why})")


class _Recorded:
    """A file torch writes into, keeping the error of a write that failed: torch says a
    full disk, and an interrupt (Ctrl-C, SIGTERM) met during a write, as a RuntimeError of
    its own ("unexpected pos 293824 vs 293716")."""

    def __init__(self, file: Any) -> None:
        self.file: Any = file
        self.error: BaseException | None = None

    def write(self, data: Any) -> int:
        try:
            return self.file.write(data)
        except BaseException as e:
            self.error = e
            raise

    def flush(self) -> None:
        self.file.flush()


def save_torch(value: Any, path: str | os.PathLike, shown: str | os.PathLike | None = None) -> None:
    """``torch.save(value, path)``; a write the system refused (a full disk, a quota) is
    raised as the OSError it was, naming ``shown`` (the file written in the end, where
    ``path`` is a temporary one beside it), as any other file cinerec writes."""
    import torch

    recorded = _Recorded(None)
    try:
        with open(path, "wb") as recorded.file:
            torch.save(value, cast(IO[bytes], recorded))
    except RuntimeError:
        if recorded.error is None:
            raise
        if not isinstance(recorded.error, OSError):  # (an interrupt: stopped as any other command is)
            raise recorded.error from None
        e = recorded.error
    except OSError as failed:  # (the last of the data, written as the file closed)
        e = failed
    else:
        return
    raise OSError(e.errno, e.strerror, os.fspath(shown if shown is not None else path)) from None


def write_json(path: str | os.PathLike, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically (a NaN or infinite number as null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(value, indent=2, sort_keys=True) + "\n")


def json_text(value: Any, default: Callable[[Any], Any] | None = None, **options: Any) -> str:
    """``value`` as strict JSON: NumPy values as plain ones, and a number that is not
    finite (an AUC over test ratings of one kind) as ``null``, which every JSON reader
    takes, where ``NaN`` is Python's own extension."""
    return json.dumps(_finite(value), default=default or _default, allow_nan=False, **options)


def _finite(value: Any) -> Any:
    import math

    import numpy as np

    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    return value


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def _default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")

"""Atomic writes: a name holds the old file or the whole new one, with the usual permissions."""

import errno
import os
import shutil
import stat
import threading
from pathlib import Path

import pytest

from cinerec.errors import ConfigError
from cinerec.io import atomic_dir, atomic_path, read_json, write_json


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_final_names_get_the_umasks_permissions_not_the_temporary_ones(tmp_path, monkeypatch):
    import cinerec.io

    monkeypatch.setattr(cinerec.io, "_UMASK", 0o022)  # read once, when cinerec.io is imported
    with atomic_path(tmp_path / "store.sqlite") as tmp:
        tmp.write_bytes(b"x")
    with atomic_dir(tmp_path / "run") as tmp:
        (tmp / "run.json").write_text("{}")
    # readable by a server running as another user, as a plain open() would have made it
    assert _mode(tmp_path / "store.sqlite") == 0o644
    assert _mode(tmp_path / "run") == 0o755


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    write_json(tmp_path / "a.json", {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("stop")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "d") as tmp:
            raise RuntimeError("stop")
    assert read_json(tmp_path / "a.json") == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_full_disk_inside_a_folder_being_written_names_the_folder_asked_for(tmp_path):
    # It named the unfinished copy (".../.qs.611yawsb.tmp/dataset: No space left on device"),
    # a path gone by the time it was read, never the --out given.
    with pytest.raises(OSError) as e:
        with atomic_dir(tmp_path / "qs") as tmp:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp / "dataset"))
    assert e.value.filename == str(tmp_path / "qs" / "dataset") and e.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_folder_under_a_file_is_one_clear_error(tmp_path):
    from cinerec.errors import ConfigError
    from cinerec.io import atomic_dir

    (tmp_path / "afile").write_text("keep")
    with pytest.raises(ConfigError, match=r"cannot create the folder .*afile \(.*afile is a file\)"):
        with atomic_dir(tmp_path / "afile" / "sub"):
            pass
    assert (tmp_path / "afile").read_text() == "keep"


def test_a_destination_where_nothing_can_be_created_is_one_clear_error():
    from cinerec.errors import ConfigError

    with pytest.raises(ConfigError, match=r"/proc/cinerec-x.sqlite: cannot create the file"):
        with atomic_path("/proc/cinerec-x.sqlite"):
            pass
    # "cannot create the folder /proc" read as if /proc were missing: it is what could not be written in.
    with pytest.raises(ConfigError, match=r"/proc/cinerec-run: cannot create the folder in /proc \("):
        with atomic_dir("/proc/cinerec-run"):
            pass


def test_a_swap_refused_at_the_end_or_interrupted_keeps_the_old_folder(tmp_path, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")

    def refuse(path):
        if (path / "profiles.sqlite").exists():
            raise RuntimeError("a file appeared")

    with pytest.raises(RuntimeError, match="a file appeared"):
        with atomic_dir(out, before_swap=refuse) as tmp:
            (tmp / "new.txt").write_text("new")
            (out / "profiles.sqlite").write_text("saved meanwhile")
    assert sorted(p.name for p in out.iterdir()) == ["old.txt", "profiles.sqlite"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary left

    (out / "profiles.sqlite").unlink()
    real, calls = os.replace, []

    def interrupted_second(src, dst):  # Ctrl-C between moving the old folder aside and the new one in
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(os, "replace", interrupted_second)
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(out) as tmp:
            (tmp / "new.txt").write_text("new")
    monkeypatch.setattr(os, "replace", real)
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_the_folder_one_is_in_is_never_swapped_out_and_its_lock_sits_beside_it(tmp_path, monkeypatch):
    # --out . put the lock and the temporary folder inside the folder itself ("holds other
    # files"), and a swap would have left the shell in a deleted folder.
    import pytest

    from cinerec.errors import ConfigError
    from cinerec.io import atomic_dir, claimed

    here = tmp_path / "here"
    (here / "inner").mkdir(parents=True)
    monkeypatch.chdir(here / "inner")
    for given, said in ((".", "the folder you are in"), ("..", "a folder holding the one you are in"),
                        (str(here), "a folder holding the one you are in")):
        with pytest.raises(ConfigError, match=f": is {said}, which"):  # (".." was called the folder you are in)
            with atomic_dir(given):
                pass
    with claimed("."):
        assert (here / ".inner.lock").exists() and list((here / "inner").iterdir()) == []
    with atomic_dir("run") as tmp:  # a folder inside it is fine
        (tmp / "x").write_text("1")
    assert (here / "inner" / "run" / "x").read_text() == "1"


def test_json_written_or_printed_is_strict_a_number_that_is_not_finite_is_null(tmp_path, capsys):
    # An AUC over test ratings of one kind printed "auc": NaN, which strict JSON readers refuse.
    import json

    import numpy as np

    from cinerec.commands.show import print_json
    from cinerec.io import write_json

    value = {"auc": float("nan"), "x": [np.float32(np.inf), 1.5, np.int64(2)], "path": tmp_path}
    print_json(value)
    assert json.loads(capsys.readouterr().out, parse_constant=lambda c: 1 / 0) == {
        "auc": None, "x": [None, 1.5, 2], "path": str(tmp_path)}
    write_json(tmp_path / "m.json", {"auc": np.float64("nan")})
    assert json.loads((tmp_path / "m.json").read_text(), parse_constant=lambda c: 1 / 0) == {"auc": None}


def test_a_folder_named_through_a_link_is_written_where_the_link_points(tmp_path):
    # The link itself was replaced: the linked folder stayed empty and a hidden copy of
    # the link was left behind.
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with atomic_dir(link) as tmp:
        (tmp / "run.json").write_text("{}")
    assert link.is_symlink() and (real / "run.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_a_failed_write_removes_the_parent_folders_it_made(tmp_path):
    (tmp_path / "kept").mkdir()
    for out in (tmp_path / "new" / "sub" / "run", tmp_path / "kept" / "run"):
        with pytest.raises(RuntimeError):
            with atomic_dir(out) as tmp:
                (tmp / "half").write_text("x")
                raise RuntimeError("the work failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"] and not any((tmp_path / "kept").iterdir())


def test_a_file_named_through_a_link_is_written_where_the_link_points(tmp_path):
    # The link was replaced by a file of its own, and the file it pointed at left as it was
    # (a server reading that store kept serving the old lists).
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("real.txt")
    with atomic_path(tmp_path / "link.txt") as tmp:
        tmp.write_text("new")
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "real.txt"]
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "no-such-folder" / "x.txt")
    with pytest.raises(ConfigError, match=r"dangling\.txt: a link to .*x\.txt, whose folder .*no-such-folder does not exist"):
        with atomic_path(tmp_path / "dangling.txt") as tmp:
            tmp.write_text("new")
    assert not (tmp_path / "no-such-folder").exists()


def test_a_mount_point_is_refused_before_the_work_not_at_the_swap(tmp_path, monkeypatch):
    # A container's volume given as --out: the system refuses to rename a mount point, so the
    # swap at the end failed with a traceback after all the work, and the work was lost.
    out = tmp_path / "vol"
    out.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: os.fspath(p) == str(out) or real(p))
    worked = []
    with pytest.raises(ConfigError, match=r"vol: is a mount point.*name a folder inside it \(for example .*vol/run\)"):
        with atomic_dir(out):
            worked.append(1)
    assert worked == [] and list(out.iterdir()) == []
    with atomic_dir(out / "run") as tmp:  # a folder inside it is fine
        (tmp / "x").write_text("1")
    assert (out / "run" / "x").read_text() == "1"


def test_a_folder_that_cannot_be_moved_aside_keeps_it_and_the_new_one_in_one_line(tmp_path, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")
    real = os.replace

    def busy(src, dst):
        if os.fspath(src) == str(out):
            raise OSError(16, "Device or resource busy")
        real(src, dst)

    monkeypatch.setattr(os, "replace", busy)
    with pytest.raises(ConfigError, match=r"run: cannot be replaced \(Device or resource busy\); it is left as it "
                                          r"was, and the new one is kept in .*run\.new-\d+$"):
        with atomic_dir(out) as tmp:
            (tmp / "new.txt").write_text("new")
    monkeypatch.setattr(os, "replace", real)
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    kept = [p for p in tmp_path.iterdir() if p.name != "run"]
    assert len(kept) == 1 and kept[0].name.startswith("run.new-") and (kept[0] / "new.txt").read_text() == "new"


@pytest.mark.skipif(not os.path.exists("/proc/self/mountinfo"), reason="Linux lists its mount points there")
def test_a_mount_point_is_found_where_ismount_cannot_see_it(monkeypatch, tmp_path):
    # A folder bound from the same file system has the same device as its parent, so
    # os.path.ismount says no; the system's own list of mount points says yes.
    from cinerec import io

    monkeypatch.setattr(os.path, "ismount", lambda p: False)
    assert io._is_mount("/") and not io._is_mount(str(tmp_path))


def test_a_folder_and_a_link_to_it_are_one_claim(tmp_path):
    # --out L/link and --out L/real took two locks, and two trains mixed into one folder.
    from cinerec.errors import ConfigError
    from cinerec.io import claimed

    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    with claimed(tmp_path / "real"):
        with pytest.raises(ConfigError, match=r"--out .*link: another cinerec command is writing it now"):
            with claimed(tmp_path / "link"):
                pass
    with claimed(tmp_path / "link"):  # let go: taken again
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_a_claim_sweeps_what_a_killed_command_left_beside_its_folder(tmp_path):
    # A run killed mid-way left its unfinished copy (.out.XXXX.tmp) for good.
    import time

    from cinerec.io import STALE_SECONDS, claimed

    old, fresh = tmp_path / ".out.abc12345.tmp", tmp_path / ".out.def45678.tmp"
    other = tmp_path / ".out.v2.x1y2z3w4.tmp"  # out.v2's, which a claim on out does not hold back
    for leftover in (old, fresh, other):
        (leftover / "models").mkdir(parents=True)
    then = time.time() - STALE_SECONDS - 60
    os.utime(old, (then, then))
    os.utime(other, (then, then))
    with claimed(tmp_path / "out"):
        pass
    assert not old.exists() and fresh.exists()  # (one written a moment ago may be a live writer's)
    assert other.exists()


def test_a_claim_clears_or_puts_back_the_earlier_folder_a_writer_killed_in_its_swap_left(tmp_path):
    # A writer killed during its swap left the earlier folder as .NAME.old-PID, never swept:
    # a whole 27 MB run (126 MB release) kept hidden beside the new one for good.
    import subprocess
    import sys

    from cinerec.io import claimed

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # (a process that has ended)
    out = tmp_path / "out"
    out.mkdir()
    gone, live = tmp_path / f".out.old-{pid}", tmp_path / f".out.old-{os.getpid()}"
    for leftover in (gone, live):
        (leftover / "models").mkdir(parents=True)
    with claimed(out):
        pass
    assert not gone.exists() and live.exists() and out.is_dir()  # (a live writer's is its own)
    # Killed between its two renames: no folder in place, the earlier one is put back.
    shutil.rmtree(live)
    out.rmdir()
    (gone / "models").mkdir(parents=True)
    with claimed(out):
        pass
    assert (out / "models").is_dir() and not gone.exists()


def test_a_lock_file_removed_by_the_command_letting_it_go_is_not_held(tmp_path, monkeypatch):
    # A command that opened the lock file just before its holder removed it could lock the
    # removed file while a third locked a new one: two claims at once.
    import fcntl

    from cinerec.errors import ConfigError
    from cinerec.io import claimed

    out = tmp_path / "out"
    lock = tmp_path / ".out.lock"
    real_flock, calls = fcntl.flock, []

    def flock_after_the_holder_let_go(fd, op):  # the holder ends between our open and our lock
        if not calls:
            lock.unlink()
        calls.append(fd)
        return real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock_after_the_holder_let_go)
    with claimed(out):
        assert len(calls) == 2 and lock.exists()  # the removed file was let go, the new one locked
        monkeypatch.setattr(fcntl, "flock", real_flock)
        with pytest.raises(ConfigError, match="another cinerec command is writing it now"):
            with claimed(out):
                pass


@pytest.mark.parametrize("argv", [
    ["data", "synthesize", "--like", "ml-100k", "--scale", "0.01"],
    ["train", "--data", "/no/such/data", "--model", "popularity"],
    ["run", "STUDY"],
    ["quickstart", "--model", "popularity"],  # (it said "/ is the folder you are in", and suggested /run)
])
def test_out_at_the_root_of_the_file_system_is_one_line(argv, capsys, tmp_path):
    # --out / (or /tmp/..) ended in a traceback: "PosixPath('/') has an empty name".
    from cinerec.cli import main

    (tmp_path / "log.csv").write_text("user,item\n1,2\n")
    (tmp_path / "s.toml").write_text(f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "loo-full"\n'
                                     '[models.popularity]\n')
    argv = [str(tmp_path / "s.toml") if a == "STUDY" else a for a in argv]
    for root in ("/", "/tmp/.."):
        assert main([*argv, "--out", root, "-q"]) == 2
        err = capsys.readouterr().err
        assert err.startswith((f"cinerec: error: --out {root}: names the root of the file system, ",
                               "cinerec: error: --out /: names the root of the file system, ")) \
            and len(err.splitlines()) == 1, err


def test_a_turn_is_not_waited_for_by_its_own_holder_and_is_skipped_where_locks_do_not_work(tmp_path, monkeypatch):
    # Nested in one thread it waited for itself for good; on a file system without locks
    # (ENOLCK) it said it was waiting for another export, then ended in a traceback.
    import errno
    import fcntl

    from cinerec.io import in_turn

    said: list[str] = []

    def nested() -> None:
        with in_turn(tmp_path / "a.sqlite", lambda: said.append("waiting")):
            with in_turn(tmp_path / "a.sqlite", lambda: said.append("waiting")):
                assert (tmp_path / ".a.sqlite.lock").exists()

    thread = threading.Thread(target=nested, daemon=True)  # (a test that hangs is no answer)
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and said == [] and not (tmp_path / ".a.sqlite.lock").exists()

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    # a lock file this process may not remove (another user's, in a shared folder) is left, not a traceback
    real_unlink = os.unlink

    def not_mine(path, *args, **kwargs):
        if os.fspath(path).endswith(".b.sqlite.lock"):
            raise PermissionError(1, "Operation not permitted")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", not_mine)
    with in_turn(tmp_path / "b.sqlite"):
        pass
    assert (tmp_path / ".b.sqlite.lock").exists()
    monkeypatch.setattr(fcntl, "flock", no_locks)
    ran = []
    with in_turn(tmp_path / "a.sqlite", lambda: said.append("waiting")):
        ran.append(True)
    assert ran == [True] and said == [] and not (tmp_path / ".a.sqlite.lock").exists()


def test_an_interrupt_during_a_deferred_step_is_raised_when_it_ends(tmp_path, monkeypatch, ctrl_c):
    import signal

    import cinerec.io
    from cinerec.io import finished_outputs, interrupts_deferred, note_finished

    reached = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)  # (its handler runs at the next statement)
            reached.append("the step's end")
    assert reached == ["the step's end"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # A store's rename and the note that it was written end whole: a Ctrl-C just after the
    # rename ended the command as "interrupted" alone, the new store in place.
    real = os.replace

    def replace(a, b):
        real(a, b)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(cinerec.io.os, "replace", replace)
    note_finished()
    try:
        with pytest.raises(KeyboardInterrupt):
            with atomic_path(tmp_path / "s.sqlite", finished="the store s.sqlite") as tmp:
                tmp.write_bytes(b"new")
        assert (tmp_path / "s.sqlite").read_bytes() == b"new" and finished_outputs() == ["the store s.sqlite"]
    finally:
        note_finished()


def test_a_store_written_then_removed_with_its_unfinished_run_folder_is_not_said_written(tmp_path):
    # A study's store, written into its run folder, went with the folder when a Ctrl-C came
    # after it, and the line still said it had been written in full.
    from cinerec.io import finished_outputs, note_finished

    note_finished()
    try:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "store.sqlite").write_bytes(b"x")
        note_finished("the store run/store.sqlite", tmp_path / "run" / "store.sqlite")
        note_finished("the store in postgresql://h/db")  # (no file to look at)
        assert finished_outputs() == ["the store run/store.sqlite", "the store in postgresql://h/db"]
        (tmp_path / "run" / "store.sqlite").unlink()
        assert finished_outputs() == ["the store in postgresql://h/db"]
    finally:
        note_finished()


def test_a_file_where_the_folder_goes_is_replaced_and_nothing_left_beside_it(tmp_path):
    # rmtree cannot remove a file: the cache kept it for good as ".ml-10m.old-PID".
    (tmp_path / "ml-10m").write_text("a stray file")
    with atomic_dir(tmp_path / "ml-10m") as tmp:
        (tmp / "ratings.dat").write_text("1::1::5::1\n")
    assert (tmp_path / "ml-10m" / "ratings.dat").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-10m"]


def test_a_torch_file_on_a_full_disk_is_the_os_error_it_was(tmp_path):
    # torch said it as a RuntimeError of its own ("unexpected pos 704 vs 598"), which the
    # command line took for a fault of cinerec's: a traceback.
    import torch

    from cinerec.io import save_torch

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with pytest.raises(OSError) as e:
        save_torch({"w": torch.zeros(100_000)}, "/dev/full", shown=tmp_path / "model" / "weights.pt")
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(tmp_path / "model" / "weights.pt")
    save_torch({"w": torch.arange(3)}, tmp_path / "w.pt")
    assert torch.load(tmp_path / "w.pt", weights_only=True)["w"].tolist() == [0, 1, 2]


def test_an_interrupt_met_while_torch_writes_is_the_interrupt(tmp_path, monkeypatch):
    # SIGTERM met inside a checkpoint's write reached the command as torch's RuntimeError
    # ("unexpected pos"): a traceback and exit 1, where an interrupted command exits 130.
    import torch

    import cinerec.io
    from cinerec.io import save_torch

    class Stopped:
        def __init__(self, *args, **kwargs):
            self.n = 0

        def write(self, data):
            self.n += 1
            if self.n > 2:
                raise KeyboardInterrupt
            return len(data)

        def flush(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

    monkeypatch.setattr(cinerec.io, "open", Stopped, raising=False)
    with pytest.raises(KeyboardInterrupt):
        save_torch({"w": torch.zeros(100_000)}, tmp_path / "w.pt")

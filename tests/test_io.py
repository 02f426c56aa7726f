"""Atomic writes: a name holds the old file or the whole new one, with the usual permissions."""

import os
import stat

import pytest

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


def test_a_folder_under_a_file_is_one_clear_error(tmp_path):
    from cinerec.errors import ConfigError
    from cinerec.io import atomic_dir

    (tmp_path / "afile").write_text("keep")
    with pytest.raises(ConfigError, match=r"cannot create the folder .*afile \(.*afile is a file\)"):
        with atomic_dir(tmp_path / "afile" / "sub"):
            pass
    assert (tmp_path / "afile").read_text() == "keep"

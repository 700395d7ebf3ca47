"""keyward.create: a file appears whole or not at all; nothing already stored is overwritten unless
asked; bad recipients and keys are refused before anything is written."""
from __future__ import annotations

import gc
import json
import os
import warnings

import pytest

import keyward


def _leftovers(directory: str) -> list:
    return [n for n in os.listdir(directory) if n.endswith(".keyward-tmp")]


def test_an_exception_in_the_block_leaves_nothing(sandbox, tmp_path):
    target = str(tmp_path / "ckpt.pt.age")
    with pytest.raises(RuntimeError, match="training diverged"):
        with keyward.create(target, keys="alice") as f:
            f.write(os.urandom(300_000))
            raise RuntimeError("training diverged")
    assert not os.path.exists(target) and _leftovers(str(tmp_path)) == []


def test_a_file_dropped_without_close_is_removed(sandbox, tmp_path):
    target = str(tmp_path / "dropped.age")
    f = keyward.create(target, keys="alice")
    f.write(b"half a checkpoint")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del f
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)
    assert not os.path.exists(target) and _leftovers(str(tmp_path)) == []


def test_existing_files_are_replaced_only_when_asked(sandbox, tmp_path):
    target = str(tmp_path / "weights.age")
    with keyward.create(target, keys="alice") as f:
        f.write(b"v1")
    with pytest.raises(keyward.AlreadyExists, match="already exists"):
        keyward.create(target, keys="alice")
    # One that appears while the file is written is not overwritten either.
    w = keyward.create(str(tmp_path / "race.age"), keys="alice")
    w.write(b"mine")
    with open(str(tmp_path / "race.age"), "wb") as other:
        other.write(b"someone else's")
    with pytest.raises(keyward.AlreadyExists):
        w.close()
    with open(str(tmp_path / "race.age"), "rb") as other:
        assert other.read() == b"someone else's"
    assert _leftovers(str(tmp_path)) == []
    with keyward.create(target, keys="alice", overwrite=True) as f:
        f.write(b"v2")
    with keyward.open(target) as f:
        assert f.read() == b"v2"
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o644 & ~_umask())


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_bad_recipients_and_keys_are_refused_before_writing(sandbox, tmp_path):
    target = str(tmp_path / "x.age")
    with pytest.raises(keyward.InvalidInput, match="no recipient given"):
        keyward.create(target)
    with pytest.raises(keyward.NotFound, match="no key named nobody"):
        keyward.create(target, keys="nobody")
    with pytest.raises(keyward.InvalidInput, match="recipient"):
        keyward.create(target, recipients="age1notarecipient")
    with pytest.raises(keyward.InvalidInput, match="can't mix post-quantum and classic recipients"):
        keyward.create(target, keys=["alice", "pq"])
    with pytest.raises(keyward.NotFound, match="no such directory"):
        keyward.create(str(tmp_path / "nodir" / "x.age"), keys="alice")
    assert os.listdir(str(tmp_path)) == []


def test_writes_after_close_and_reads_of_a_writer_are_errors(sandbox, tmp_path):
    f = keyward.create(str(tmp_path / "w.age"), keys="alice")
    assert f.writable() and not f.readable() and not f.seekable()
    f.write(b"abc")
    assert f.tell() == 3
    f.close()
    with pytest.raises(ValueError):
        f.write(b"more")
    with keyward.open(str(tmp_path / "w.age")) as r:
        assert not r.writable()
        with pytest.raises(Exception):
            r.write(b"x")


def test_seal_and_release_are_audited_with_the_program_name(sandbox, tmp_path):
    target = str(tmp_path / "audited.age")
    with keyward.create(target, keys="alice") as f:
        f.write(b"data")
    keyward.open(target).close()
    records = json.loads(sandbox.cli("--json", "audit", "show", "-n", "10").stdout)
    seal = [r for r in records if r["event"] == "age.seal" and r.get("path") == target]
    release = [r for r in records if r["event"] == "age.key-release" and r.get("path") == target]
    assert seal and seal[-1]["outcome"] == "ok" and seal[-1]["key"] == "alice@v1"
    assert release and release[-1]["key"] == "alice@v1" and "for program " in release[-1]["detail"]
    # The program's name, never its arguments or a key.
    assert all("AGE-SECRET-KEY" not in json.dumps(r) for r in records)


def test_a_forked_child_dropping_the_writer_leaves_the_parents_file_alone(sandbox, tmp_path):
    target = str(tmp_path / "forked.age")
    w = keyward.create(target, keys="alice")
    w.write(b"parent's data")
    pid = os.fork()
    if pid == 0:  # the child: drops its copy (as an exiting worker would), then exits
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                del w
                gc.collect()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    w.close()
    with keyward.open(target) as f:
        assert f.read() == b"parent's data"

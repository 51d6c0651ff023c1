"""Versions on disk: discovery, fingerprints, and which versions to try."""
import os

import pytest

from embedding_server.serving.versions import (
    OnDisk, candidates, fingerprint, scan, settled, staged)


def write(path, text="x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def test_numbered_directories_are_versions_and_other_names_are_ignored(tmp_path):
    write(tmp_path / "1" / "a")
    write(tmp_path / "12" / "a")
    write(tmp_path / "latest" / "a")
    write(tmp_path / "3.tmp" / "a")
    write(tmp_path / "README")
    assert sorted(scan(str(tmp_path))) == [1, 12]
    assert scan(str(tmp_path))[12].path == str(tmp_path / "12")


def test_a_flat_directory_is_version_1(tmp_path):
    write(tmp_path / "word_mapping.json")
    assert list(scan(str(tmp_path))) == [1]
    assert scan(str(tmp_path))[1].path == str(tmp_path)


def test_missing_or_empty_directory_has_no_versions(tmp_path):
    assert scan(str(tmp_path / "absent")) == {}
    (tmp_path / "empty").mkdir()
    assert scan(str(tmp_path / "empty")) == {}


def test_fingerprint_changes_with_any_file(tmp_path):
    write(tmp_path / "a", "one")
    first = fingerprint(str(tmp_path))
    assert fingerprint(str(tmp_path)) == first
    write(tmp_path / "sub" / "b")
    second = fingerprint(str(tmp_path))
    assert second != first
    write(tmp_path / "a", "one more")
    assert fingerprint(str(tmp_path)) != second


def found(**fingerprints):
    return {int(v[1:]): OnDisk(int(v[1:]), v, fp) for v, fp in fingerprints.items()}


def test_settled_needs_the_same_files_in_both_scans():
    before = found(v1=(("a", 1, 1),), v2=(("a", 1, 1),))
    after = found(v1=(("a", 1, 1),), v2=(("a", 2, 2),), v3=(("a", 1, 1),))
    assert settled(before, after) == {1}


def test_candidates_newest_first_and_only_newer_than_the_served():
    disk = found(v1=(), v2=(), v3=(), v4=())
    assert candidates(disk, {1, 2, 3, 4}, None, {}) == [4, 3, 2, 1]
    assert candidates(disk, {1, 2, 3, 4}, 2, {}) == [4, 3]
    assert candidates(disk, {1, 2, 3}, 2, {}) == [3]  # 4 still being written
    assert candidates(disk, {1, 2, 3, 4}, 4, {}) == []


def test_a_failed_version_is_retried_only_once_its_files_change():
    disk = found(v1=(), v2=(("a", 1, 1),))
    assert candidates(disk, {1, 2}, 1, {2: (("a", 1, 1),)}) == []
    assert candidates(disk, {1, 2}, 1, {2: (("a", 0, 0),)}) == [2]


def test_when_the_served_version_is_gone_the_newest_remaining_takes_over():
    disk = found(v1=(), v2=())
    assert candidates(disk, {1, 2}, 3, {}) == [2, 1]


def test_a_staged_directory_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "model" / "2"
    with staged(str(target)) as staging:
        open(os.path.join(staging, "saved_model.pb"), "w").close()
        assert not target.exists()  # nothing in place while it is built
        assert scan(str(tmp_path / "model")) == {}  # the staging name is no version
    assert os.listdir(target) == ["saved_model.pb"]
    assert os.listdir(tmp_path / "model") == ["2"]


def test_a_failed_build_leaves_nothing_and_replace_is_asked_for(tmp_path):
    target = tmp_path / "m"
    with pytest.raises(RuntimeError):
        with staged(str(target)) as staging:
            open(os.path.join(staging, "half"), "w").close()
            raise RuntimeError("the build failed")
    assert os.listdir(tmp_path) == []
    target.mkdir()
    (target / "old").write_text("")
    with pytest.raises(OSError):  # an existing directory is not replaced unless asked
        with staged(str(target)):
            pass
    assert os.listdir(target) == ["old"] and os.listdir(tmp_path) == ["m"]
    with staged(str(target), replace=True) as staging:
        open(os.path.join(staging, "new"), "w").close()
    assert os.listdir(target) == ["new"] and os.listdir(tmp_path) == ["m"]

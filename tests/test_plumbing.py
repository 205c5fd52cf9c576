"""plumbing.py: atomic writes, cache-file names, writable folders."""

import pytest

import plumbing


def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_partial(tmp_path):
    target = tmp_path / "corpus.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with plumbing.atomic_path(target) as partial:
            partial.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.json"]


def test_two_writers_of_one_file_at_once_both_finish(tmp_path):
    """Worker processes filling the same cache must not take each other's temporary file."""
    target = tmp_path / "features.npz"
    with plumbing.atomic_path(target) as first:
        with plumbing.atomic_path(target) as second:
            assert first != second and first.suffix == second.suffix == ".npz"
            first.write_text("first")
            second.write_text("second")
        assert target.read_text() == "second"
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.npz"]


def test_cache_file_names_follow_settings_and_file_contents(tmp_path, monkeypatch):
    monkeypatch.setattr(plumbing, "CACHE_DIR", tmp_path / "cache")
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"1234")
    name = plumbing.cache_file("features", {"step": 10}, [audio])
    assert name.parent == tmp_path / "cache" and name.name.startswith("features-")
    assert plumbing.cache_file("features", {"step": 10}, [audio]) == name
    assert plumbing.cache_file("features", {"step": 20}, [audio]) != name
    audio.write_bytes(b"12345")  # a changed file is featurised again
    assert plumbing.cache_file("features", {"step": 10}, [audio]) != name


def test_ensure_writable_names_a_file_in_the_way(tmp_path):
    (tmp_path / "results").write_text("a file, not a folder")
    with pytest.raises(PermissionError, match="cannot write to the folder .*results"):
        plumbing.ensure_writable(tmp_path / "results" / "checkpoints")

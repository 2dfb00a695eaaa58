"""Where the cache lives."""
from __future__ import annotations

from pathlib import Path

import pytest

from cnncli.data.cache import cache_root, dataset_dir
from cnncli.errors import UsageError


def test_cnncli_data_wins_then_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CNNCLI_DATA", str(tmp_path / "explicit"))
    assert cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("CNNCLI_DATA")
    assert cache_root() == tmp_path / "xdg" / "cnncli"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert cache_root() == tmp_path / "home" / ".cache" / "cnncli"


def test_dataset_dir_is_created(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CNNCLI_DATA", str(tmp_path / "c"))
    assert dataset_dir("mnist") == tmp_path / "c" / "mnist"
    assert (tmp_path / "c" / "mnist").is_dir()


def test_uncreatable_cache_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("CNNCLI_DATA", str(tmp_path / "file"))
    with pytest.raises(UsageError, match="set CNNCLI_DATA to a writable folder"):
        dataset_dir("mnist")

"""Engine set-up is an explicit call (cnncli/engine/setup.py), not a side effect of import.

Reference: the process environment and Numba's configuration seen by fresh interpreters.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, os, sys
{before}
import numba
from cnncli.engine.network import Network  # the whole engine
{after}
print(json.dumps({{"opt": os.environ.get("NUMBA_OPT"), "threads": numba.config.NUMBA_NUM_THREADS,
                  "active": numba.get_num_threads(), "omp": os.environ.get("OMP_NUM_THREADS")}}))
"""


def probe(before: str = "", after: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_OPT", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", PROBE.format(before=before, after=after)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_importing_the_engine_changes_nothing() -> None:
    cores = os.cpu_count()
    assert probe() == {"opt": None, "threads": cores, "active": cores, "omp": None}


def test_configure_sets_threads_and_jit_level_before_numba_loads() -> None:
    setup = "from cnncli.engine.setup import configure; configure(1)"
    assert probe(before=setup) == {"opt": "1", "threads": 1, "active": 1, "omp": "1"}


def test_configure_after_numba_loaded_keeps_its_pool_and_limits_threads() -> None:
    got = probe(after="from cnncli.engine.setup import configure; configure(1)")
    assert got == {"opt": "1", "threads": os.cpu_count(), "active": 1, "omp": "1"}


def test_configure_caches_the_kernels_in_a_folder_per_version_of_the_sources(tmp_path, monkeypatch) -> None:
    """Numba checks only a kernel's own file for changes (bench/PROFILE.md, the cache trap): the folder
    name carries a digest of all the engine's sources. Reference: the environment and Numba's config."""
    from cnncli.engine.setup import CACHE_PREFIX, KEPT_CACHES, kernel_cache_dir

    for i in range(KEPT_CACHES + 3):  # folders of other versions, oldest first
        old = tmp_path / f"{CACHE_PREFIX}{i:016x}"
        old.mkdir()
        os.utime(old, (1_000_000 + i, 1_000_000 + i))
    script = ("import json, os; from cnncli.engine.setup import configure; configure(); configure(); import numba; "
              "print(json.dumps([os.environ['NUMBA_CACHE_DIR'], numba.config.CACHE_DIR]))")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    folder, numba_dir = json.loads(done.stdout)
    assert folder == numba_dir and os.path.dirname(folder) == str(tmp_path)  # twice: still under the base
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert folder == str(kernel_cache_dir())
    kept = sorted(p.name for p in tmp_path.iterdir() if str(p) != folder)
    assert kept == [f"{CACHE_PREFIX}{i:016x}" for i in range(3, KEPT_CACHES + 3)]  # the newest others


def test_any_change_to_the_engine_sources_changes_the_digest(tmp_path) -> None:
    from cnncli.engine.setup import sources_digest

    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "winograd.py").write_text("A = 1\n")
    (tmp_path / "conv.py").write_text("B = 2\n")
    before = sources_digest(tmp_path)
    (tmp_path / "kernels" / "winograd.py").write_text("A = 2\n")
    assert sources_digest(tmp_path) != before
    (tmp_path / "kernels" / "winograd.py").write_text("A = 1\n")
    assert sources_digest(tmp_path) == before

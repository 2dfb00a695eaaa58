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

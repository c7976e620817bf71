"""packtwin.runtime: the glibc huge-page tunable for commands that hold a large store."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from packtwin import runtime

CHILD = """
import os, sys
from packtwin.runtime import reexec_with_huge_pages
print("started", flush=True)
reexec_with_huge_pages()
print("tunables", os.environ.get("GLIBC_TUNABLES"), flush=True)
# A 256 MiB buffer from malloc, every page written: backed by 2 MiB pages where the tunable took effect.
buf = bytearray(256 << 20)
buf[::4096] = b"x" * len(range(0, len(buf), 4096))
with open("/proc/self/smaps_rollup") as f:
    huge = next(int(line.split()[1]) for line in f if line.startswith("AnonHugePages:"))
print("huge_kb", huge, flush=True)
"""


def _env_without_tunable() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", runtime.OPT_OUT)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
    return env


def test_the_tunable_is_added_once_and_kept_beside_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "thp_mode", lambda: "madvise")
    monkeypatch.setattr(runtime.sys, "platform", "linux")
    monkeypatch.setattr(runtime.platform, "libc_ver", lambda: ("glibc", "2.36"))
    assert runtime.huge_page_env({})["GLIBC_TUNABLES"] == runtime.TUNABLE
    other = {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}
    assert runtime.huge_page_env(other)["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:" + runtime.TUNABLE
    assert runtime.huge_page_env({"GLIBC_TUNABLES": runtime.TUNABLE}) is None  # already set: no second exec
    assert runtime.huge_page_env({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}) is None  # the caller's choice
    assert runtime.huge_page_env({runtime.OPT_OUT: "0"}) is None
    monkeypatch.setattr(runtime, "thp_mode", lambda: "never")
    assert runtime.huge_page_env({}) is None
    monkeypatch.setattr(runtime.platform, "libc_ver", lambda: ("", ""))  # musl: the tunable means nothing
    monkeypatch.setattr(runtime, "thp_mode", lambda: "always")
    assert runtime.huge_page_env({}) is None


@pytest.mark.skipif(runtime.huge_page_env(_env_without_tunable()) is None,
                    reason="no glibc on Linux with transparent huge pages here")
def test_a_process_re_executes_itself_once_and_its_heap_gets_huge_pages() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], env=_env_without_tunable(), capture_output=True, text=True,
                         timeout=60, check=True).stdout.split("\n")
    assert out.count("started") == 2  # the first run, then the re-executed one; no loop
    assert f"tunables {runtime.TUNABLE}" in out
    huge_kb = int(next(line for line in out if line.startswith("huge_kb")).split()[1])
    assert huge_kb >= 2048


def test_opting_out_runs_on_without_re_executing() -> None:
    env = _env_without_tunable() | {runtime.OPT_OUT: "0"}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60,
                         check=True).stdout.split("\n")
    assert out.count("started") == 1
    assert "tunables None" in out

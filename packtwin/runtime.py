"""Process-level settings for commands that hold a large in-memory RDF store.

pyoxigraph's in-memory store keeps, per term, a linked list of its quads, one heap allocation each, and a SPARQL join
step walks such a list: on a 10k-cell fleet (8.8 M quads, several GB of heap) nearly every step is a TLB miss on
4 KiB pages. glibc can back its heap with transparent huge pages (2 MiB) when the ``glibc.malloc.hugetlb=1``
tunable is set (glibc >= 2.35, a kernel with THP in ``madvise`` or ``always`` mode); the catalogue then ran
1.4-2.5x faster on the same store (docs/rdf.md). Tunables are read once, by the dynamic loader, so a process that
wants them re-executes itself with the variable set: same PID, same arguments, before any store is built.
``PACKTWIN_MALLOC_HUGEPAGES=0`` turns this off.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path

TUNABLE = "glibc.malloc.hugetlb=1"
OPT_OUT = "PACKTWIN_MALLOC_HUGEPAGES"
_THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def thp_mode() -> str | None:
    """The kernel's transparent-huge-page mode (``always``, ``madvise`` or ``never``), None where unknown."""
    try:
        text = _THP_MODE.read_text()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1:end] if 0 <= start < end else None


def huge_page_env(env: Mapping[str, str]) -> dict[str, str] | None:
    """The environment to re-execute with, or None when there is nothing to do (already set, opted out, not glibc
    on Linux, or THP off)."""
    if env.get(OPT_OUT, "1") == "0" or sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return None
    tunables = env.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.hugetlb=" in tunables or thp_mode() not in ("always", "madvise"):
        return None
    new = dict(env)
    new["GLIBC_TUNABLES"] = f"{tunables}:{TUNABLE}" if tunables else TUNABLE
    return new


def reexec_with_huge_pages() -> None:
    """Replace this process by itself with glibc's huge-page tunable set; returns only when nothing is to be done.
    Call it first thing in a program's entry point, never from library code or tests (it does not return)."""
    env = huge_page_env(os.environ)
    if env is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from basyx.aas import model

from packtwin.aas.events import Operation, Target
from packtwin.aas.repository import Repository
from packtwin.aas.stores import SQLiteStore


def _submodel(i: int, value: str = "0") -> model.Submodel:
    return model.Submodel(
        f"urn:test:sm:{i}",
        id_short=f"Sm{i}",
        submodel_element=[model.Property("Value", model.datatypes.String, value=value)],
    )


@pytest.mark.parametrize("persistent", [False, True])
def test_writes_are_stored_and_announced(tmp_path, persistent):
    repo = Repository.open(tmp_path / "repo.sqlite" if persistent else None)
    events = []
    repo.bus.subscribe(events.append)
    repo.add(_submodel(1))
    sm = repo.get_submodel("urn:test:sm:1")
    sm.get_referable("Value").value = "42"
    repo.commit(sm, "Value", element=sm.get_referable("Value"))
    repo.replace(_submodel(1, "43"))
    repo.delete("urn:test:sm:1")
    assert [(e.operation, e.target) for e in events] == [
        (Operation.CREATED, Target.SUBMODEL),
        (Operation.UPDATED, Target.SUBMODEL_ELEMENT),
        (Operation.UPDATED, Target.SUBMODEL),
        (Operation.DELETED, Target.SUBMODEL),
    ]
    assert events[1].id_short_path == "Value"
    assert "urn:test:sm:1" not in repo


def test_sqlite_store_reopens_with_committed_state(tmp_path):
    path = tmp_path / "repo.sqlite"
    repo = Repository.open(path)
    repo.add_many([_submodel(i) for i in range(5)])
    sm = repo.get_submodel("urn:test:sm:3")
    sm.get_referable("Value").value = "changed"
    repo.commit(sm)
    repo.store.close()
    again = SQLiteStore(path)
    assert len(again) == 5
    assert again.get_item("urn:test:sm:3").get_referable("Value").value == "changed"


@pytest.mark.parametrize("persistent", [False, True])
def test_a_peek_reads_without_keeping_what_it_decoded(tmp_path, persistent):
    path = tmp_path / "repo.sqlite"
    Repository.open(path).add_many([_submodel(i, value=f"v{i}") for i in range(3)])
    repo = Repository.open(path if persistent else None)
    if not persistent:
        repo.add_many([_submodel(i, value=f"v{i}") for i in range(3)])
    assert sorted(repo.ids()) == [f"urn:test:sm:{i}" for i in range(3)]
    peeked = repo.peek("urn:test:sm:1")
    assert peeked.get_referable("Value").value == "v1"
    kept = repo.get("urn:test:sm:1")
    # SQLite decodes on use: a peek before any get is a copy the store did not keep; a peek after it is the kept one.
    assert (peeked is not kept) == persistent
    assert repo.peek("urn:test:sm:1") is kept
    if persistent:
        assert set(repo.store._objects) == {"urn:test:sm:1"}
    with pytest.raises(KeyError):
        repo.peek("urn:test:sm:missing")


def test_add_many_is_all_or_nothing(tmp_path):
    store = SQLiteStore(tmp_path / "repo.sqlite")
    store.add(_submodel(1))
    with pytest.raises(KeyError):
        store.add_many([_submodel(2), _submodel(1)])
    assert len(store) == 1
    store.close()
    assert len(SQLiteStore(tmp_path / "repo.sqlite")) == 1


WRITER = textwrap.dedent(
    """
    import sys
    from basyx.aas import model
    from packtwin.aas.repository import Repository
    repo = Repository.open(sys.argv[1])
    for i in range(100000):
        repo.add(model.Submodel(f"urn:test:sm:{i}", id_short=f"Sm{i}"))
        print(i, flush=True)  # acknowledged: add() returned
    """
)


def test_acknowledged_writes_survive_sigkill(tmp_path):
    path = tmp_path / "repo.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                            cwd=os.getcwd())
    acknowledged = -1
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged = int(line)
        if acknowledged >= 200:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert acknowledged >= 200, "the writer did not get going"
    store = SQLiteStore(path)
    for i in range(acknowledged + 1):
        assert f"urn:test:sm:{i}" in store

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


def test_a_bounded_store_keeps_the_recently_used_decoded_and_reads_the_rest_again(tmp_path):
    repo = Repository.open(tmp_path / "repo.sqlite", max_decoded=2)
    repo.add_many([_submodel(i) for i in range(4)])
    assert list(repo.store._objects) == ["urn:test:sm:2", "urn:test:sm:3"]  # the last two added
    with repo.lock:  # a writer: get, change, commit under the lock
        sm = repo.get_submodel("urn:test:sm:0")
        sm.get_referable("Value").value = "changed"
        repo.commit(sm)
    for i in (1, 2, 3):
        repo.get(f"urn:test:sm:{i}")
    assert "urn:test:sm:0" not in repo.store._objects and len(repo.store._objects) == 2
    assert len(repo) == 4 and sorted(repo.ids()) == [f"urn:test:sm:{i}" for i in range(4)]
    assert repo.store.type_of("urn:test:sm:0") == "Submodel"
    assert repo.peek("urn:test:sm:0").get_referable("Value").value == "changed"
    again = repo.get_submodel("urn:test:sm:0")  # decoded afresh from the file, the commit in it
    assert again is not sm and again.get_referable("Value").value == "changed"
    assert list(repo.store._objects)[-1] == "urn:test:sm:0"
    repo.delete("urn:test:sm:1")
    assert len(repo) == 3 and "urn:test:sm:1" not in repo
    with pytest.raises(ValueError):
        Repository.open(tmp_path / "other.sqlite", max_decoded=0)


def test_writers_under_the_lock_lose_nothing_when_objects_are_dropped_meanwhile(tmp_path):
    import threading

    repo = Repository.open(tmp_path / "repo.sqlite", max_decoded=3)
    repo.add_many([_submodel(i, value="0") for i in range(10)])
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for k in range(200):
                ident = f"urn:test:sm:{(k + offset) % 10}"
                with repo.lock:
                    sm = repo.get_submodel(ident)
                    prop = sm.get_referable("Value")
                    prop.value = str(int(prop.value) + 1)
                    repo.commit(sm)
                repo.peek(f"urn:test:sm:{(k * 7 + offset) % 10}")  # readers outside the lock meanwhile
                repo.ids()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    reopened = SQLiteStore(tmp_path / "repo.sqlite")
    assert sum(int(reopened.get_item(f"urn:test:sm:{i}").get_referable("Value").value) for i in range(10)) == 800

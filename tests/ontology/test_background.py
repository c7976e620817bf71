"""The background RDF load: it completes while a stream of writes keeps coming, and ends equal to a full
conversion."""

from __future__ import annotations

import threading
import time

from packtwin.aas.repository import Repository
from packtwin.ontology.background import BackgroundRdf
from packtwin.ontology.store import GraphStore
from packtwin.ontology.sync import convert_all
from tests.ontology.fleet_fixture import build_test_fleet


def test_the_initial_load_completes_under_a_steady_stream_of_writes():
    repo = Repository()
    repo.add_many(build_test_fleet(packs=1, modules=2, cells=3, seed=5, with_concept_descriptions=False))
    pc = next(sm for sm in repo.submodels() if sm.id_short == "ProductCondition")
    soc = pc.get_referable("StateOfCharge").get_referable("StateOfChargeValue")
    stop = threading.Event()
    writes = 0

    def writer() -> None:  # an estimator writing one pack's state of charge, as fast as the repository takes it
        nonlocal writes
        while not stop.is_set() and writes < 200_000:
            with repo.lock:
                soc.value = float(writes % 100)
                repo.commit(pc, "StateOfCharge.StateOfChargeValue", element=soc)
            writes += 1
            time.sleep(0.001)

    bg = BackgroundRdf(repo, GraphStore(), chunk=2, duty=0.5).start()
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while bg.loaded < bg.total and time.monotonic() < deadline:
            time.sleep(0.1)
        loaded, total, during = bg.loaded, bg.total, writes
    finally:
        stop.set()
        thread.join(10)
    assert total > 40 and during > 100
    assert loaded == total, f"{loaded} of {total} loaded while {during} writes came in"
    try:
        assert bg.wait_idle(30)
        fresh = GraphStore()
        convert_all(list(repo), fresh)
        assert bg.store.all_quads() == fresh.all_quads()
    finally:
        bg.stop()


def test_a_value_update_of_a_submodel_not_loaded_yet_loads_it_whole():
    repo = Repository()
    repo.add_many(build_test_fleet(packs=1, modules=2, cells=3, seed=5, with_concept_descriptions=False))
    cell_pc = next(sm for sm in repo.submodels() if sm.id_short == "ProductCondition" and "/cell/" in sm.id)
    bg = BackgroundRdf(repo, GraphStore(), chunk=2, duty=0.5).start()
    try:
        # Cells load last: this event comes before the load reaches the submodel, and names one element of it.
        soc = cell_pc.get_referable("StateOfCharge").get_referable("StateOfChargeValue")
        with repo.lock:
            soc.value = 12.5
            repo.commit(cell_pc, changed_paths=["StateOfCharge.StateOfChargeValue"])
        assert bg.wait_idle(60) and bg.loaded == bg.total
        fresh = GraphStore()
        convert_all(list(repo), fresh)
        assert bg.store.all_quads() == fresh.all_quads()
    finally:
        bg.stop()

"""cloud.heap.settle(): a server's startup objects leave the collector's full walks."""
import gc

from cloud import heap


def test_settle_freezes_what_the_process_holds_and_collects_first():
    class Cycle:
        pass
    a, b = Cycle(), Cycle()
    a.other, b.other = b, a
    del a, b
    gc.unfreeze()
    try:
        heap.settle()
        assert gc.get_freeze_count() > 1000  # the imported modules, Flask, SQLAlchemy ...
    finally:
        gc.unfreeze()  # the frozen objects are listed again, and the cycle was not among them
    assert not any(type(o) is Cycle for o in gc.get_objects())  # collected before the freeze

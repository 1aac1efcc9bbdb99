"""Keep the collector's pauses out of request times in a server process.

CPython's cyclic garbage collector now and then walks every object that has lived
long ("generation 2"); in a web process most of those are the app itself (Flask,
SQLAlchemy's metadata, templates, modules: about 110,000 objects here). A request
that builds many objects, such as a forward trace of a 100,000-item lot, sets off
such a full walk about every other time: measured 2026-11-23 on the bench's store,
the same trace took 104-113 ms without one and 170-225 ms with one.

`settle()` is called once a server process has loaded the app, before it serves
(`onecode cloud serve`, each gunicorn worker): it collects once, then moves what is
left into the collector's permanent generation (`gc.freeze()`), so later full walks
only look at what requests created. Objects are still freed by reference counting;
only cycles among the frozen ones stay (there are none worth having).
"""
import gc


def settle():
    gc.collect()
    gc.freeze()

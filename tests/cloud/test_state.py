"""Derived current state per EPC (cloud.state): where, disposition, parent, lot, the
same whatever order and batching the events arrive in."""
import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from cloud import migrate
from epcis_events import T0, ev

from cloud.db import Database, get_db
from cloud.models import EpcContainment, EpcState, Event, EventBizTx, LotContainer
from cloud.store import store_batch

FACTORY = "urn:epc:id:sgln:6901234.00001.0"
DOCK = "urn:epc:id:sgln:6901234.00001.7"
STORE = "urn:epc:id:sgln:6901234.00009.0"
PALLET = "urn:epc:id:sscc:6901234.0000000001"
CASES = ["urn:epc:id:sgtin:6901234.100001.%d" % i for i in (901, 902)]
ITEMS = ["urn:epc:id:sgtin:6901234.000001.%d" % i for i in range(1, 7)]
ITEM_KEY = "/01/06901234000016/21/%d"
CASE_KEY = "/01/16901234000013/21/%d"
PALLET_KEY = "/00/069012340000000016"


def story():
    """Commission 6 items of lot L1, pack 3 per case, cases on a pallet, ship, receive
    at the store, unpack the first case, sell one item, and ship with a PO."""
    return [
        ev(1, "ObjectEvent", action="ADD", epcList=ITEMS, bizStep="commissioning", disposition="active",
           readPoint={"id": FACTORY}, bizLocation={"id": FACTORY}, ilmd={"cbvmda:lotNumber": "L1"}),
        ev(2, "AggregationEvent", action="ADD", parentID=CASES[0], childEPCs=ITEMS[:3], bizStep="packing",
           readPoint={"id": FACTORY}, bizLocation={"id": FACTORY}),
        ev(3, "AggregationEvent", action="ADD", parentID=CASES[1], childEPCs=ITEMS[3:], bizStep="packing",
           readPoint={"id": FACTORY}, bizLocation={"id": FACTORY}),
        ev(4, "AggregationEvent", action="ADD", parentID=PALLET, childEPCs=CASES, bizStep="packing",
           readPoint={"id": FACTORY}, bizLocation={"id": FACTORY}),
        ev(5, "ObjectEvent", action="OBSERVE", epcList=[PALLET], bizStep="shipping", disposition="in_transit",
           readPoint={"id": DOCK}, bizTransactionList=[{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:6901234000004:PO-77"}]),
        ev(6, "ObjectEvent", action="OBSERVE", epcList=[PALLET], bizStep="receiving",
           disposition="in_progress", readPoint={"id": STORE}, bizLocation={"id": STORE}),
        ev(7, "AggregationEvent", action="DELETE", parentID=PALLET, childEPCs=[], bizStep="unpacking",
           readPoint={"id": STORE}, bizLocation={"id": STORE}),
        ev(8, "AggregationEvent", action="DELETE", parentID=CASES[0], childEPCs=ITEMS[:3], bizStep="unpacking",
           readPoint={"id": STORE}, bizLocation={"id": STORE}),
        ev(9, "ObjectEvent", action="OBSERVE", epcList=[ITEMS[0]], bizStep="retail_selling",
           disposition="retail_sold", readPoint={"id": STORE}, bizLocation={"id": STORE}),
    ]


def snapshot(Session):
    """epc_state, containment and lot containers as comparable values (the last event
    by its eventID, not its row id)."""
    with Session() as s:
        ids = dict(s.execute(select(Event.id, Event.event_id)).all())
        edges = sorted(s.execute(select(EpcContainment.parent_key, EpcContainment.child_key)).all())
        lots = sorted(s.execute(select(LotContainer.lot_key, LotContainer.parent_key)).all())
        return edges, lots, {r.key: (r.first_time, r.last_time, ids[r.last_event], r.last_biz_step, r.read_point,
                        r.biz_location, r.where_time, r.disposition, r.disposition_time, r.parent_key,
                        r.parent_time, r.emptied_time, r.lot_key)
                for r in s.scalars(select(EpcState))}


def test_story_in_order(app):
    Session = get_db(app).Session
    store_batch(Session, "b1", "site-1", "gw-1", story())
    with Session() as s:
        st_ = {r.key: r for r in s.scalars(select(EpcState))}
        txs = s.scalars(select(EventBizTx.value)).all()
    assert txs == ["urn:epcglobal:cbv:bt:6901234000004:PO-77"]
    assert len(st_) == 9
    first, second = st_[ITEM_KEY % 1], st_[ITEM_KEY % 4]
    # sold at the store; unpacked, so no parent
    assert (first.biz_location, first.disposition, first.parent_key) == (STORE, "retail_sold", None)
    assert first.lot_key == "/01/06901234000016/10/L1"
    # still in the second case, which left the (emptied) pallet; its own location is where it was packed
    assert (second.parent_key, second.disposition) == (CASE_KEY % 902, "active")
    assert second.biz_location == FACTORY
    assert st_[CASE_KEY % 902].parent_key is None  # DELETE with no children empties the pallet
    pallet = st_[PALLET_KEY]
    assert (pallet.biz_location, pallet.read_point, pallet.disposition) == (STORE, STORE, "in_progress")
    assert pallet.last_biz_step == "unpacking"
    assert pallet.first_time == T0 + datetime.timedelta(minutes=4)


def test_shipping_without_biz_location_means_in_transit(app):
    Session = get_db(app).Session
    store_batch(Session, "b1", "site-1", "gw-1", story()[:5])
    with Session() as s:
        pallet = s.get(EpcState, PALLET_KEY)
    assert (pallet.read_point, pallet.biz_location, pallet.disposition) == (DOCK, None, "in_transit")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_arrival_order_and_batching_gives_the_same_state(app, data):
    Session = get_db(app).Session
    with get_db(app).engine.begin() as conn:
        for table in ("epc_state", "epc_containment", "lot_container", "event_biz_tx", "event_epc", "ingest_batch",
                      "epcis_event"):
            conn.execute(text("DELETE FROM %s" % table))
    store_batch(Session, "in-order", "site-1", "gw-1", story())
    expected = snapshot(Session)
    with get_db(app).engine.begin() as conn:
        for table in ("epc_state", "epc_containment", "lot_container", "event_biz_tx", "event_epc", "ingest_batch",
                      "epcis_event"):
            conn.execute(text("DELETE FROM %s" % table))
    events = data.draw(st.permutations(story()))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(events) - 1), max_size=4)))
    start = 0
    for i, end in enumerate(cuts + [len(events)]):
        store_batch(Session, "part-%d" % i, "site-1", "gw-1", events[start:end])
        start = end
    assert snapshot(Session) == expected


def test_migration_replays_events_stored_before_it(database_url):
    """A database upgraded from 0002 gets the same state as one that ingested after 0003."""
    migrate.upgrade(database_url, "0002")
    db = Database(database_url)
    with db.Session() as s:
        for e in story():
            s.execute(text("INSERT INTO epcis_event (event_id, event_type, event_time, tz_offset, action, "
                           "record_time, body) VALUES (:id, :type, :t, '+08:00', :action, :t, :body)"),
                      {"id": e["eventID"], "type": e["type"], "action": e.get("action"),
                       "t": datetime.datetime.fromisoformat(e["eventTime"][:-1]), "body": __import__("json").dumps(e)})
        s.commit()
    migrate.upgrade(database_url)
    replayed = snapshot(db.Session)
    with db.Session() as s:
        assert s.scalars(select(EventBizTx.value)).all() == ["urn:epcglobal:cbv:bt:6901234000004:PO-77"]
    with db.engine.begin() as conn:
        for table in ("epc_state", "epc_containment", "lot_container", "event_biz_tx", "epcis_event"):
            conn.execute(text("DELETE FROM %s" % table))
    store_batch(db.Session, "b1", "site-1", "gw-1", story())
    assert replayed == snapshot(db.Session)
    assert len(replayed[2]) == 9
    # cases of lot L1, and the pallet's edges
    assert replayed[1] == [("/01/06901234000016/10/L1", CASE_KEY % 901), ("/01/06901234000016/10/L1", CASE_KEY % 902)]
    assert (PALLET_KEY, CASE_KEY % 901) in replayed[0]
    db.dispose()

"""onecode.stock_workflows: receive / put away / pick / ship against an order, count at
a location, inspect - the happy paths and every refusal.

unittest subset only: this file also runs under the MicroPython VM.
"""
from fwtest import TestCase

from onecode import epc
from onecode.messages import ERROR, OK, WARN
from onecode.stock_workflows import MAX_LINES, Count, Inspect, OrderStep, parse_order
from test_workflows import EPC_GTIN, GTIN, item, path, sgtin, sscc, sscc_epc, unit

LOC = "]C14146901234000016"
LOC_ID = "/414/6901234000016"


def order(**kw):
    o = {"id": "PO-1", "bt": "po", "lines": [{"sscc": sscc(1)}, {"gtin": GTIN, "qty": 2}, {"gtin": EPC_GTIN, "qty": 3}]}
    o.update(kw)
    return o


class TestOrder(TestCase):
    def test_bad_orders_are_refused_at_construction(self):
        self.raises("order id", parse_order, order(id=""))
        self.raises("business transaction", parse_order, order(bt="invoice"))
        self.raises("no lines", parse_order, order(lines=[]))
        self.raises("AI 00: check digit", parse_order, order(lines=[{"sscc": "106901234000000010"}]))
        self.raises("AI 01", parse_order, order(lines=[{"gtin": "123", "qty": 1}]))
        self.raises("qty", parse_order, order(lines=[{"gtin": GTIN, "qty": 0}]))
        self.raises("at most", parse_order, order(lines=[{"gtin": GTIN, "qty": 1}] * (MAX_LINES + 1)))
        self.raises("step must be", OrderStep, "steal", order())

    def test_receive_everything(self):
        wf = OrderStep("receive", order())
        self.assertEqual(wf.start().params, {"doc": "PO-1", "total": 6})
        r = wf.handle(("scan", unit(1)), 1)
        self.assertEqual((r.key, r.buzz, r.params["done"], r.params["total"]), ("accepted", OK, 1, 6))
        wf.handle(("scan", item("1")), 2)
        wf.handle(("scan", "]C101" + GTIN), 3)                   # one more, not serialised
        wf.handle(("uhf", sgtin(1)), 4)
        r = wf.handle(("scan", "]C101" + EPC_GTIN + "302"), 5)    # two by quantity
        self.assertEqual(r.params["done"], 6)
        self.assertEqual(wf.handle(("scan", LOC), 6).key, "location")
        r = wf.handle(("key", "finish"), 7)
        self.assertEqual((r.key, r.buzz, r.params), ("done", OK, {"doc": "PO-1", "n": 6}))
        self.assertEqual(r.records, [{"t": 7, "type": "receive", "doc": "PO-1", "bt": "po", "loc": LOC_ID,
                                      "ids": ["/00/" + sscc(1), path("1"), path("1", EPC_GTIN)],
                                      "qty": [{"g": GTIN, "n": 1}, {"g": EPC_GTIN, "n": 2}]}])
        self.assertEqual(wf.handle(("scan", item("2")), 8).key, "closed")

    def test_wrong_items_are_flagged_on_the_spot(self):
        wf = OrderStep("pick", order())
        for ev, key, buzz in ((("scan", unit(2)), "not_expected", ERROR),
                              (("uhf", sscc_epc(1)), "not_expected", ERROR),
                              (("scan", item("1", "04012345000016")), "wrong_gtin", ERROR),
                              (("scan", "]d20109506000134350"), "bad_code", ERROR),
                              (("scan", "]C101" + GTIN + "303"), "over_qty", ERROR),
                              (("nfc", b"\x04\x01\x02\x03"), "not_used", WARN),
                              (("key", "confirm"), "nothing_to_confirm", WARN),
                              (("key", "cancel"), "nothing_to_cancel", WARN),
                              (("key", "finish"), "empty", WARN)):
            r = wf.handle(ev, 1)
            self.assertEqual((r.key, r.buzz, r.records), (key, buzz, []))
        wf.handle(("scan", item("1")), 2)
        self.assertEqual(wf.handle(("scan", item("1")), 3).key, "dup")
        self.assertEqual(wf.handle(("nfc", b"\x04\x01\x02\x03", "https://id.gs1.org/01/09506000134352/21/1"), 3).key,
                         "dup")
        wf.handle(("scan", item("2")), 4)
        r = wf.handle(("scan", item("3")), 5)
        self.assertEqual((r.key, r.params), ("over_qty", {"gtin": GTIN, "want": 2}))

    def test_missing_items_need_an_explicit_confirmation(self):
        wf = OrderStep("ship", order(bt=None))
        wf.handle(("scan", item("1")), 1)
        r = wf.handle(("key", "finish"), 2)
        self.assertEqual((r.key, r.buzz, r.params, r.records), ("missing", WARN, {"n": 5}, []))
        self.assertEqual(wf.handle(("key", "cancel"), 3).key, "resume")
        self.assertEqual(wf.handle(("key", "confirm"), 4).key, "nothing_to_confirm")
        wf.handle(("scan", unit(1)), 5)
        wf.handle(("key", "finish"), 6)
        r = wf.handle(("key", "confirm"), 7)
        self.assertEqual((r.key, r.buzz, r.params), ("done_short", WARN, {"doc": "PO-1", "n": 4}))
        self.assertEqual(r.records, [{"t": 7, "type": "ship", "doc": "PO-1", "ids": [path("1"), "/00/" + sscc(1)],
                                      "miss": [{"g": GTIN, "n": 1}, {"g": EPC_GTIN, "n": 3}]}])

    def test_a_scan_after_the_warning_withdraws_it(self):
        wf = OrderStep("receive", order(lines=[{"sscc": sscc(1)}, {"sscc": sscc(2)}]))
        wf.handle(("scan", unit(1)), 1)
        wf.handle(("key", "finish"), 2)
        wf.handle(("scan", unit(2)), 3)
        self.assertEqual(wf.handle(("key", "confirm"), 4).key, "nothing_to_confirm")
        r = wf.handle(("key", "finish"), 5)
        self.assertEqual((r.key, len(r.records), "miss" in r.records[0]), ("done", 1, False))

    def test_put_away_needs_a_location(self):
        wf = OrderStep("putaway", order(lines=[{"sscc": sscc(1)}]))
        wf.handle(("scan", unit(1)), 1)
        self.assertEqual(wf.handle(("key", "finish"), 2).key, "scan_location")
        wf.handle(("uhf", epc.encode("urn:epc:id:sgln:6901234.00001.0", filter=0)), 3)
        r = wf.handle(("key", "finish"), 4)
        self.assertEqual((r.key, r.records[0]["loc"]), ("done", LOC_ID))
        self.assertEqual(OrderStep("putaway", order(), loc=LOC_ID).loc, LOC_ID)

    def test_many_items_go_in_parts_and_the_bound(self):
        wf = OrderStep("receive", order(lines=[{"gtin": GTIN, "qty": 40}]), max_items=20)
        for i in range(20):
            self.assertEqual(wf.handle(("scan", item(str(i))), 1).key, "accepted")
        self.assertEqual(wf.handle(("scan", item("x")), 1).params, {"max": 20})
        wf.handle(("key", "finish"), 2)
        recs = wf.handle(("key", "confirm"), 3).records
        self.assertEqual([(r["part"], r["parts"], len(r.get("ids", [])), "miss" in r) for r in recs],
                         [(1, 2, 16, False), (2, 2, 4, True)])


class TestCount(TestCase):
    def test_count_at_a_location(self):
        wf = Count()
        self.assertEqual(wf.handle(("scan", item("1")), 1).key, "scan_location")
        self.assertEqual(wf.handle(("key", "finish"), 1).key, "scan_location")
        wf.handle(("scan", LOC), 2)
        self.assertEqual(wf.handle(("key", "finish"), 2).key, "empty")
        self.assertEqual(wf.handle(("scan", item("1")), 3).params["n"], 1)
        self.assertEqual(wf.handle(("uhf", sscc_epc(1)), 4).params["n"], 2)
        self.assertEqual(wf.handle(("scan", "]C101" + GTIN + "3710"), 5).params["n"], 12)
        self.assertEqual(wf.handle(("scan", item("1")), 6).key, "dup")
        r = wf.handle(("scan", LOC), 7)
        self.assertEqual((r.key, r.buzz), ("finish_item", WARN))
        self.assertEqual(wf.handle(("scan", "]C100123"), 7).key, "bad_code")
        r = wf.handle(("key", "finish"), 8)
        self.assertEqual((r.key, r.params), ("count_done", {"loc": "(414)6901234000016", "n": 12}))
        self.assertEqual(r.records, [{"t": 8, "type": "count", "loc": LOC_ID,
                                      "ids": [path("1"), "/00/069012340000000016"], "qty": [{"g": GTIN, "n": 10}]}])

    def test_bound(self):
        wf = Count(loc=LOC_ID, max_items=1)
        wf.handle(("scan", item("1")), 1)
        self.assertEqual(wf.handle(("scan", item("2")), 1).key, "full")


class TestInspect(TestCase):
    def test_pass_and_fail(self):
        wf = Inspect()
        r = wf.handle(("scan", item("1")), 1)
        self.assertEqual((r.key, r.records), ("pass_or_fail", []))
        r = wf.handle(("key", "pass"), 2)
        self.assertEqual((r.key, r.buzz, r.records), ("passed", OK, [{"t": 2, "type": "inspect", "id": path("1"),
                                                                     "res": "pass"}]))
        wf.handle(("uhf", sscc_epc(1)), 3)
        r = wf.handle(("key", "fail"), 4)
        self.assertEqual((r.key, r.buzz, r.records[0]["res"], r.records[0]["id"]),
                         ("failed", WARN, "fail", "/00/069012340000000016"))
        self.assertEqual(wf.handle(("key", "finish"), 5).params, {"n": 2})

    def test_refusals(self):
        wf = Inspect(max_items=2)
        for ev, key in ((("key", "pass"), "scan_item_first"), (("key", "fail"), "scan_item_first"),
                        (("key", "cancel"), "nothing_to_cancel"), (("scan", "]C101" + GTIN), "not_serialised"),
                        (("scan", LOC), "not_product"), (("scan", "]d20109506000134350"), "bad_code")):
            self.assertEqual(wf.handle(ev, 1).key, key)
        wf.handle(("scan", item("1")), 1)
        self.assertEqual(wf.handle(("scan", item("2")), 1).key, "finish_item")
        self.assertEqual(wf.handle(("key", "finish"), 1).key, "finish_item")
        self.assertEqual(wf.handle(("key", "cancel"), 1).key, "cancelled")
        wf.handle(("scan", item("1")), 1)
        wf.handle(("key", "pass"), 1)
        self.assertEqual(wf.handle(("scan", item("1")), 1).key, "dup")
        wf.handle(("scan", item("2")), 1)
        wf.handle(("key", "fail"), 1)
        self.assertEqual(wf.handle(("scan", item("3")), 1).key, "full")

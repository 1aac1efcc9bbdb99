"""onecode.workflows (commission, pack, unpack), onecode.scanned and onecode.messages:
the happy paths and every refusal, the bilingual message table and the buzzer.

unittest subset only: this file also runs under the MicroPython VM.
"""
from fwtest import FakeBuzzer, FakeDisplay, TestCase, h

from onecode import epc, messages, scanned
from onecode.messages import ERROR, OK, WARN
from onecode.workflows import PART_MAX, Commission, Pack, Unpack, chunk_records

GS = "\x1d"
GTIN = "09506000134352"
EPC_GTIN = "16901234000013"                                    # of urn:epc:id:sgtin:6901234.100001.*


def item(serial, gtin=GTIN, lot=None):
    """A GS1 DataMatrix scan of one serialised item."""
    return "]d201" + gtin + ("10" + lot + GS if lot else "") + "21" + serial


def sscc(n):
    body = "1069012340" + "0000000"[:7 - len(str(n))] + str(n)
    return body + str(epc.check_digit(body))


def unit(n):
    return "]C100" + sscc(n)


def sgtin(serial):
    return epc.encode("urn:epc:id:sgtin:6901234.100001.%d" % serial, filter=1)


def sscc_epc(n):
    return epc.encode("urn:epc:id:sscc:6901234." + "0000000000"[:10 - len(str(n))] + str(n), filter=2)


def path(serial, gtin=GTIN):
    return "/01/%s/21/%s" % (gtin, serial)


UID1 = h("04 DE 5F 1E AC C0 40")
UID2 = h("04 95 8C AA 5C 5E 80")


class TestScanned(TestCase):
    def test_kinds_and_keys(self):
        c = scanned.from_scan(item("A/1", lot="L7"))
        self.assertEqual((c.kind, c.id, c.gtin, c.serial, c.lot), ("item", path("A%2F1"), GTIN, "A/1", "L7"))
        self.assertEqual(c.label, "(01)09506000134352(21)A/1")
        c = scanned.from_scan(unit(5))
        self.assertEqual((c.kind, c.id), ("unit", "/00/" + sscc(5)))
        c = scanned.from_scan("]C101" + GTIN + "3012")
        self.assertEqual((c.kind, c.id, c.qty), ("class", "/01/" + GTIN, 12))
        c = scanned.from_scan(b"]C14146901234000016")
        self.assertEqual((c.kind, c.id), ("loc", "/414/6901234000016"))
        c = scanned.from_scan("]Q1https://id.gs1.org/01/09506000134352/21/77?17=251231")
        self.assertEqual((c.kind, c.id, c.exp), ("item", path("77"), "251231"))
        self.assertEqual(scanned.from_scan([("01", GTIN), ("21", "9")]).id, path("9"))

    def test_epc_and_barcode_of_one_item_have_one_key(self):
        self.assertEqual(scanned.from_epc(sgtin(1001)).id, scanned.from_scan(item("1001", EPC_GTIN)).id)
        self.assertEqual(scanned.from_epc(sscc_epc(1)).id, "/00/069012340000000016")

    def test_refusals(self):
        self.raises("check digit", scanned.from_scan, "]d20109506000134350")
        self.raises("not a GS1 symbol", scanned.from_scan, "]E09506000134352")
        self.raises("no GTIN (01), SSCC (00) or GLN (414)", scanned.from_scan, "]C110ABC")
        self.raises("quantity", scanned.from_scan, "]C101" + GTIN + "300")
        self.raises("not a product, SSCC or location",
                    scanned.from_epc, epc.encode("urn:epc:id:grai:6901234.00001.7", filter=0))
        self.raises("EPC", scanned.from_epc, b"\xff" * 12)


class TestMessages(TestCase):
    def test_every_key_has_both_languages_and_renders(self):
        for key in messages.TEXT:
            zh, en = messages.TEXT[key]
            self.assertTrue(zh and en, key)
            self.assertTrue(zh != en, key)

    def test_render_and_fallbacks(self):
        self.assertEqual(messages.render("dup", {"code": "X"}, "zh"), "重复扫描：X")
        self.assertEqual(messages.render("dup", {"code": "X"}, "en"), "Already scanned: X")
        self.assertEqual(messages.render("dup", {"code": "X"}, "fr"), "Already scanned: X")
        self.assertIn("dup", messages.render("dup", {}, "en"))          # a missing parameter
        self.assertIn("no_such_key", messages.render("no_such_key", {"a": 1}))

    def test_screen_shows_text_and_plays_the_pattern(self):
        d, b = FakeDisplay(), FakeBuzzer()
        screen = messages.Screen(d, b, lang="en")
        self.assertEqual(screen.tell(messages.Reply("bound", OK, code="C", n=2)), "Coded C (item 2)")
        screen.lang = "zh"
        screen.tell(messages.Reply("wrong_gtin", ERROR, gtin="G"))
        screen.tell(messages.Reply("missing", WARN, n=3))
        self.assertEqual(d.texts, ["Coded C (item 2)", "商品不符：G", "缺少 3 件：按确认缺量完成，按取消继续扫描"])
        self.assertEqual(b.patterns, [((2700, 60),), ((600, 400),), ((2700, 60), (0, 60), (2700, 60))])

    def test_every_key_a_workflow_uses_is_in_the_table(self):
        # the keys below are every Reply(...) key of the workflow modules
        for key in ("bad_code", "not_serialised", "not_used", "dup", "full", "empty", "cancelled",
                    "nothing_to_cancel", "nothing_to_confirm", "closed", "scan_location", "location",
                    "wrong_gtin", "not_product", "commission_ready", "read_next", "bound", "already_bound",
                    "scan_qr_first", "finish_item", "wrong_lot", "tag_mismatch", "scan_parent", "parent_open",
                    "parent_as_child", "child_as_parent", "already_packed", "child_added", "child_removed",
                    "packed", "unpacked", "confirm_unpack_all", "unpacked_all", "order_ready", "accepted",
                    "not_expected", "over_qty", "missing", "resume", "done", "done_short", "counted",
                    "count_done", "pass_or_fail", "scan_item_first", "passed", "failed", "inspect_done"):
            self.assertIn(key, messages.TEXT)


class TestChunks(TestCase):
    def test_parts(self):
        ids = ["/00/%d" % i for i in range(PART_MAX + 1)]
        recs = chunk_records({"type": "pack", "parent": "P"}, [("kids", ids)], 7)
        self.assertEqual([(r["part"], r["parts"], len(r["kids"])) for r in recs], [(1, 2, PART_MAX), (2, 2, 1)])
        self.assertEqual(recs[1], {"t": 7, "type": "pack", "parent": "P", "kids": [ids[-1]], "part": 2, "parts": 2})
        one = chunk_records({"type": "count"}, [("ids", ["a"]), ("qty", [{"g": "x", "n": 1}])], 1)
        self.assertEqual(one, [{"t": 1, "type": "count", "ids": ["a"], "qty": [{"g": "x", "n": 1}]}])


class TestCommission(TestCase):
    def wf(self, **kw):
        return Commission("L7", "line-2", "B", **kw)

    def bind(self, wf, serial, uid, raw, now=100):
        self.assertEqual(wf.handle(("scan", item(str(serial), EPC_GTIN)), now).key, "read_next")
        self.assertEqual(wf.handle(("nfc", uid), now).key, "read_next")
        return wf.handle(("uhf", raw), now)

    def test_happy_path_binds_qr_uid_and_epc(self):
        wf = self.wf(gtin=EPC_GTIN, exp="271231")
        self.assertEqual(wf.start().params, {"lot": "L7"})
        r = wf.handle(("scan", item("1001", EPC_GTIN, lot="L7")), 100)
        self.assertEqual((r.key, r.params["next"], r.records), ("read_next", "NFC", []))
        r = wf.handle(("nfc", UID1, "https://id.gs1.org/01/16901234000013/21/1001"), 150)
        self.assertEqual(r.params["next"], "UHF")
        r = wf.handle(("uhf", sgtin(1001)), 200)
        self.assertEqual((r.key, r.buzz, r.params["n"]), ("bound", OK, 1))
        self.assertEqual(r.records, [{"t": 200, "type": "commission", "id": path("1001", EPC_GTIN), "lot": "L7",
                                      "line": "line-2", "shift": "B", "uid": UID1, "epc": sgtin(1001),
                                      "exp": "271231"}])
        r = wf.handle(("key", "finish"), 300)
        self.assertEqual((r.key, r.params), ("done", {"doc": "L7", "n": 1}))
        self.assertEqual(wf.handle(("scan", item("1002", EPC_GTIN)), 301).key, "closed")

    def test_a_blank_tag_is_bound_by_its_raw_epc_and_qr_only_needs_nothing_else(self):
        wf = self.wf(need=("uhf",))
        wf.handle(("scan", item("5")), 1)
        raw = h("E2 00 34 12 01 02 03 04 05 06 07 08")
        r = wf.handle(("uhf", raw), 2)
        self.assertEqual((r.key, r.records[0]["epc"], "uid" in r.records[0]), ("bound", raw, False))
        r = self.wf(need=()).handle(("scan", item("6", lot="L7") + GS + "11250102"), 3)
        self.assertEqual(r.key, "bound")
        self.assertEqual(r.records[0]["prod"], "250102")

    def test_one_item_one_code_refusals(self):
        wf = self.wf()
        self.assertEqual(self.bind(wf, 1001, UID1, sgtin(1001)).key, "bound")
        for ev, key, params in (
                (("scan", item("1001", EPC_GTIN)), "already_bound", {"code": "(01)16901234000013(21)1001"}),
                (("uhf", sgtin(1001)), "scan_qr_first", {}),
                (("nfc", UID1), "scan_qr_first", {})):
            r = wf.handle(ev, 5)
            self.assertEqual((r.key, r.params, r.records), (key, params, []))
        wf.handle(("scan", item("1002", EPC_GTIN)), 6)
        r = wf.handle(("nfc", UID1), 7)
        self.assertEqual((r.key, r.buzz, r.params["code"]), ("already_bound", ERROR, "UID 04DE5F1EACC040"))
        wf.handle(("nfc", UID2), 8)
        r = wf.handle(("uhf", sgtin(1001)), 9)
        self.assertEqual((r.key, r.params["code"]), ("already_bound", "EPC " + "3035A537C861A840000003E9"))
        self.assertEqual(wf.handle(("uhf", sgtin(1002)), 10).key, "bound")

    def test_wrong_scans(self):
        wf = self.wf(gtin=EPC_GTIN)
        cases = (
            (("scan", "]d20109506000134350"), "bad_code", ERROR),          # check digit
            (("scan", "]C101" + EPC_GTIN), "not_serialised", ERROR),
            (("scan", unit(1)), "not_product", ERROR),
            (("scan", item("1", GTIN)), "wrong_gtin", ERROR),
            (("scan", item("1", EPC_GTIN, lot="L8")), "wrong_lot", ERROR),
            (("nfc", h("01 02")), "bad_code", ERROR),
            (("uhf", b"\x30"), "bad_code", ERROR),
            (("key", "cancel"), "nothing_to_cancel", WARN),
            (("key", "pass"), "not_used", WARN),
        )
        for ev, key, buzz in cases:
            r = wf.handle(ev, 1)
            self.assertEqual((r.key, r.buzz, r.records), (key, buzz, []))
        self.assertIn("check digit", wf.handle(cases[0][0], 1).params["why"])

    def test_item_in_progress(self):
        wf = self.wf()
        wf.handle(("scan", item("1001", EPC_GTIN)), 1)
        self.assertEqual(wf.handle(("scan", item("1002", EPC_GTIN)), 2).key, "finish_item")
        self.assertEqual(wf.handle(("key", "finish"), 2).key, "finish_item")
        r = wf.handle(("nfc", UID1, "https://id.gs1.org/01/16901234000013/21/9"), 3)
        self.assertEqual((r.key, r.params["what"]), ("tag_mismatch", "NFC"))
        wf.handle(("nfc", UID1), 3)
        self.assertEqual(wf.handle(("nfc", UID2), 4).key, "dup")
        r = wf.handle(("uhf", sgtin(1002)), 5)
        self.assertEqual((r.key, r.params), ("tag_mismatch", {"what": "UHF", "code": "(01)16901234000013(21)1002"}))
        self.assertEqual(wf.handle(("uhf", sscc_epc(1)), 5).key, "tag_mismatch")
        self.assertEqual(wf.handle(("key", "cancel"), 6).key, "cancelled")
        self.assertEqual(self.bind(wf, 1001, UID1, sgtin(1001)).key, "bound")   # nothing was kept

    def test_tags_not_needed_and_the_bound(self):
        wf = self.wf(need=(), max_items=1)
        self.assertEqual(wf.handle(("nfc", UID1), 1).params["what"], "NFC")
        self.assertEqual(wf.handle(("uhf", sgtin(1)), 1).params["what"], "UHF")
        self.assertEqual(wf.handle(("scan", item("1")), 1).key, "bound")
        r = wf.handle(("scan", item("2")), 1)
        self.assertEqual((r.key, r.params), ("full", {"max": 1}))


class TestPack(TestCase):
    def test_happy_path_items_and_cases(self):
        wf = Pack()
        self.assertEqual(wf.handle(("scan", unit(1)), 1).key, "parent_open")
        self.assertEqual(wf.handle(("scan", item("1")), 2).params, {"code": "(01)09506000134352(21)1", "n": 1})
        self.assertEqual(wf.handle(("uhf", sgtin(7)), 3).params["n"], 2)
        r = wf.handle(("key", "finish"), 4)
        self.assertEqual((r.key, r.params["n"]), ("packed", 2))
        self.assertEqual(r.records, [{"t": 4, "type": "pack", "parent": "/00/" + sscc(1),
                                      "kids": [path("1"), path("7", EPC_GTIN)]}])
        # cases into a pallet
        wf.handle(("scan", unit(9)), 5)
        wf.handle(("scan", unit(1)), 6)
        wf.handle(("uhf", sscc_epc(2)), 7)
        r = wf.handle(("key", "finish"), 8)
        self.assertEqual(r.records[0]["kids"], ["/00/" + sscc(1), "/00/069012340000000023"])

    def test_long_parent_goes_in_parts(self):
        wf = Pack()
        wf.handle(("scan", unit(1)), 1)
        for i in range(PART_MAX + 3):
            self.assertEqual(wf.handle(("scan", item(str(i))), 2).key, "child_added")
        recs = wf.handle(("key", "finish"), 3).records
        self.assertEqual([(r["part"], r["parts"], len(r["kids"])) for r in recs], [(1, 2, PART_MAX), (2, 2, 3)])

    def test_refusals(self):
        wf = Pack()
        for ev, key in ((("scan", item("1")), "scan_parent"), (("uhf", sgtin(1)), "scan_parent"),
                        (("key", "finish"), "scan_parent"), (("key", "cancel"), "nothing_to_cancel"),
                        (("scan", "]C101" + GTIN), "not_serialised"),
                        (("scan", "]C14146901234000016"), "not_product"), (("scan", "]C100123"), "bad_code")):
            self.assertEqual(wf.handle(ev, 1).key, key)
        wf.handle(("scan", unit(1)), 1)
        self.assertEqual(wf.handle(("key", "finish"), 1).key, "empty")
        r = wf.handle(("scan", unit(1)), 2)
        self.assertEqual((r.key, r.buzz), ("parent_as_child", ERROR))
        wf.handle(("scan", item("1")), 3)
        r = wf.handle(("scan", item("1")), 4)
        self.assertEqual((r.key, r.buzz), ("dup", WARN))
        self.assertEqual(wf.handle(("uhf", sgtin(5)), 4).key, "child_added")
        self.assertEqual(wf.handle(("scan", item("5", EPC_GTIN)), 4).key, "dup")   # same item by QR
        self.assertEqual(len(wf.handle(("key", "finish"), 5).records), 1)
        r = wf.handle(("scan", item("1")), 6)
        self.assertEqual(r.key, "scan_parent")
        wf.handle(("scan", unit(2)), 7)
        r = wf.handle(("scan", item("1")), 8)
        self.assertEqual((r.key, r.params["parent"]), ("already_packed", "(00)" + sscc(1)))
        self.assertEqual(wf.handle(("scan", unit(1)), 9).key, "child_added")   # a closed case onto a pallet
        wf.handle(("key", "finish"), 11)
        r = wf.handle(("scan", unit(1)), 13)
        self.assertEqual((r.key, r.buzz), ("child_as_parent", ERROR))

    def test_cancel_drops_the_open_parent(self):
        wf = Pack()
        wf.handle(("scan", unit(1)), 1)
        wf.handle(("scan", item("1")), 2)
        self.assertEqual(wf.handle(("key", "cancel"), 3).key, "cancelled")
        wf.handle(("scan", unit(1)), 4)
        self.assertEqual(wf.handle(("scan", item("1")), 5).key, "child_added")

    def test_parent_bound(self):
        wf = Pack()
        wf.max_children = 2
        wf.handle(("scan", unit(1)), 1)
        wf.handle(("scan", item("1")), 1)
        wf.handle(("scan", item("2")), 1)
        self.assertEqual(wf.handle(("scan", item("3")), 1).params, {"max": 2})


class TestUnpack(TestCase):
    def test_some_children(self):
        wf = Unpack()
        wf.handle(("scan", unit(1)), 1)
        self.assertEqual(wf.handle(("scan", item("1")), 2).key, "child_removed")
        r = wf.handle(("key", "finish"), 3)
        self.assertEqual((r.key, r.records), ("unpacked", [{"t": 3, "type": "unpack", "parent": "/00/" + sscc(1),
                                                            "kids": [path("1")]}]))

    def test_everything_needs_a_confirmation(self):
        wf = Unpack()
        self.assertEqual(wf.handle(("key", "confirm"), 1).key, "nothing_to_confirm")
        wf.handle(("scan", unit(1)), 1)
        r = wf.handle(("key", "finish"), 2)
        self.assertEqual((r.key, r.buzz, r.records), ("confirm_unpack_all", WARN, []))
        r = wf.handle(("key", "confirm"), 3)
        self.assertEqual((r.key, r.records), ("unpacked_all", [{"t": 3, "type": "unpack", "parent": "/00/" + sscc(1)}]))
        wf.handle(("scan", unit(2)), 4)
        wf.handle(("key", "finish"), 5)
        self.assertEqual(wf.handle(("key", "cancel"), 6).key, "cancelled")
        self.assertEqual(wf.handle(("key", "confirm"), 7).key, "nothing_to_confirm")

    def test_refusals(self):
        wf = Unpack()
        self.assertEqual(wf.handle(("scan", item("1")), 1).key, "scan_parent")
        wf.handle(("scan", unit(1)), 1)
        self.assertEqual(wf.handle(("scan", unit(1)), 2).key, "parent_as_child")
        wf.handle(("scan", item("1")), 2)
        self.assertEqual(wf.handle(("scan", item("1")), 3).key, "dup")
        wf.handle(("key", "finish"), 4)
        wf.handle(("scan", unit(2)), 5)
        self.assertEqual(wf.handle(("scan", item("1")), 6).key, "dup")
        wf.handle(("key", "cancel"), 7)
        self.assertEqual(wf.handle(("scan", item("1")), 8).key, "scan_parent")
        self.assertEqual(wf.handle(("scan", unit(1)), 9).key, "parent_open")   # unpacked again: allowed

"""Door verification rules (onecode.door_check) and the stack light (onecode.stack_light).
unittest subset: also runs under the MicroPython VM."""
from fwtest import TestCase
from onecode import door_check, epc, messages
from onecode.door_check import DoorCheck, parse_manifest
from onecode.stack_light import HeldLight, PinLight


def item(n):
    return "urn:epc:id:sgtin:6901234.012345.%d" % n


def sscc(n):
    return "urn:epc:id:sscc:6901234.%s" % ("0000000000" + str(n))[-10:]


def manifest(epcs, direction="in", doc="ASN-0042", rev=1):
    return {"v": 1, "id": doc, "dir": direction, "rev": rev, "epcs": epcs}


def a_pass(uris, direction="in", filter=1):
    return {"type": "pass", "t": 0, "dur": 900, "dir": direction,
            "tags": [{"epc": epc.encode(u, filter=filter), "n": 3, "rssi": -50, "zones": "oi"} for u in uris]}


class FakeLight:
    def __init__(self):
        self.colors = []

    def set(self, color):
        self.colors.append(color)


class FakePin:
    def __init__(self):
        self.v = None

    def value(self, v):
        self.v = v


class TestDoorCheck(TestCase):
    def door(self, epcs, direction="in"):
        d = DoorCheck()
        self.assertTrue(d.load(manifest(epcs, direction)))
        return d

    def test_no_manifest_no_verdict(self):
        d = DoorCheck()
        self.assertEqual(d.judge(a_pass([item(1)])), None)
        self.assertEqual(d.counts["none"], 1)

    def test_one_load_that_matches_is_green_and_complete(self):
        d = self.door([sscc(1), item(1), item(2)])
        v = d.judge(a_pass([item(2), sscc(1), item(1)]))
        self.assertEqual(v.color, "green")
        self.assertTrue(v.complete)
        self.assertEqual(v.field(), {"doc": "ASN-0042", "rev": 1, "res": "green", "why": ["complete"],
                                     "unexp": 0, "miss": 0, "left": 0, "seen": 3, "total": 3})
        self.assertEqual(v.text("en"), "OK: ASN-0042 complete (3)")
        self.assertEqual(v.text("zh"), "正确：ASN-0042 已齐（3 个）")

    def test_the_tags_filter_value_does_not_matter(self):
        d = self.door([item(1), item(2)])
        tags = a_pass([item(1)], filter=0)["tags"] + a_pass([item(2)], filter=7)["tags"]
        v = d.judge({"type": "pass", "dir": "in", "tags": tags})
        self.assertEqual(v.color, "green")

    def test_unexpected_tags_are_red_counted_and_three_named(self):
        d = self.door([item(1)])
        v = d.judge(a_pass([item(1), item(9), item(8), item(7), item(6)]))
        self.assertEqual(v.color, "red")
        self.assertEqual(v.unexpected, 4)
        self.assertEqual(v.field()["why"], ["unexpected"])
        self.assertEqual(v.text("en"), "4 tag(s) not on ASN-0042: sgtin:6901234.012345.6, "
                                       "sgtin:6901234.012345.7, sgtin:6901234.012345.8, …")
        self.assertEqual(v.text("zh"), "4 个标签不在清单 ASN-0042 中：sgtin:6901234.012345.6, "
                                       "sgtin:6901234.012345.7, sgtin:6901234.012345.8, …")

    def test_an_undecodable_epc_is_unexpected_and_named_in_hex(self):
        d = self.door([item(1)])
        rec = a_pass([item(1)])
        rec["tags"].append({"epc": b"\xe2\x00" + b"\x00" * 10, "n": 1, "rssi": -60, "zones": "o"})
        v = d.judge(rec)
        self.assertEqual((v.color, v.unexpected), ("red", 1))
        self.assertEqual(v.text("en"), "1 tag(s) not on ASN-0042: hex:e20000000000000000000000")

    def test_a_pass_the_wrong_way_is_red_and_not_counted(self):
        d = self.door([item(1)], "out")
        v = d.judge(a_pass([item(1)], "in"))
        self.assertEqual(v.color, "red")
        self.assertEqual(v.field()["why"], ["went_in"])
        self.assertEqual(v.text("en"), "Wrong direction: ASN-0042 is outbound, this pass went in")
        self.assertEqual(v.text("zh"), "方向不符：ASN-0042 为出库，本次为入库")
        self.assertEqual(d.seen, 0)
        self.assertEqual(d.judge(a_pass([item(1)], "out")).color, "green")

    def test_unknown_direction_is_amber_when_the_tags_match(self):
        d = self.door([item(1)])
        v = d.judge(a_pass([item(1)], "unknown"))
        self.assertEqual(v.color, "amber")
        self.assertEqual(v.field()["why"], ["dir_unknown", "complete"])
        self.assertEqual(v.text("en"), "Tags match ASN-0042, direction not seen; OK: ASN-0042 complete (1)")

    def test_one_load_with_tags_missing_is_red_and_names_them(self):
        d = self.door([sscc(1), item(1), item(2), item(3)])
        v = d.judge(a_pass([sscc(1), item(2)]))
        self.assertEqual(v.color, "red")
        self.assertEqual((v.missing, v.seen, v.total), (2, 2, 4))
        self.assertEqual(v.text("en"), "2 missing from ASN-0042: sgtin:6901234.012345.1, sgtin:6901234.012345.3")
        self.assertEqual(v.text("zh"), "ASN-0042 缺少 2 个：sgtin:6901234.012345.1, sgtin:6901234.012345.3")

    def test_a_manifest_without_sscc_is_one_load(self):
        d = self.door([item(1), item(2)])
        self.assertEqual(d.judge(a_pass([item(1)])).field()["why"], ["missing"])
        self.assertEqual(d.judge(a_pass([item(2)])).color, "green")  # the rest came after all

    def test_several_pallets_show_what_is_still_to_come_then_complete(self):
        d = self.door([sscc(1), item(1), sscc(2), item(2), sscc(3), item(3)])
        v = d.judge(a_pass([sscc(1), item(1)]))
        self.assertEqual((v.color, v.left, v.complete), ("green", 2, False))
        self.assertEqual(v.text("en"), "OK: ASN-0042 2/6 through, 2 pallet(s) still to come")
        self.assertEqual(v.text("zh"), "正确：ASN-0042 已过 2/6，还有 2 个托盘")
        self.assertEqual(d.judge(a_pass([sscc(3), item(3)])).left, 1)
        v = d.judge(a_pass([sscc(2), item(2)]))
        self.assertEqual((v.color, v.left, v.complete), ("green", 0, True))

    def test_several_pallets_missing_shows_when_the_last_pallet_passed(self):
        d = self.door([sscc(1), item(1), sscc(2), item(2)])
        self.assertEqual(d.judge(a_pass([sscc(1)])).color, "green")   # item 1 may ride on pallet 2
        v = d.judge(a_pass([sscc(2), item(2)]))
        self.assertEqual((v.color, v.missing), ("red", 1))
        self.assertEqual(v.text("en"), "1 missing from ASN-0042: sgtin:6901234.012345.1")

    def test_several_reasons_at_once_headline_first(self):
        d = self.door([sscc(1), item(1), item(2)], "out")
        v = d.judge(a_pass([sscc(1), item(9)], "in"))
        self.assertEqual(v.field()["why"], ["unexpected", "went_in"])
        v = d.judge(a_pass([sscc(1), item(9)], "out"))
        self.assertEqual(v.field()["why"], ["unexpected", "missing"])
        self.assertEqual(d.counts, {"green": 0, "amber": 0, "red": 2, "none": 0})

    def test_an_empty_manifest_expects_nothing(self):
        d = self.door([])
        self.assertEqual(d.judge(a_pass([item(1)])).color, "red")

    def test_the_same_manifest_again_keeps_progress_a_new_rev_restarts(self):
        d = self.door([sscc(1), item(1), sscc(2)])
        d.judge(a_pass([sscc(1), item(1)]))
        self.assertFalse(d.load(manifest([sscc(1), item(1), sscc(2)])))   # retained, redelivered
        self.assertEqual(d.seen, 2)
        self.assertTrue(d.load(manifest([sscc(1), item(1), sscc(2)], rev=2)))
        self.assertEqual((d.seen, d.total), (0, 3))

    def test_a_replaced_manifest_judges_by_the_new_one(self):
        d = self.door([item(1)])
        self.assertTrue(d.load(manifest([item(2)], "out", doc="SO-7", rev=5)))
        v = d.judge(a_pass([item(1)], "out"))
        self.assertEqual((v.color, v.doc, v.rev), ("red", "SO-7", 5))
        self.assertEqual(d.judge(a_pass([item(2)], "out")).color, "green")

    def test_withdrawn_manifest_no_verdict(self):
        d = self.door([item(1)])
        d.withdraw()
        self.assertEqual((d.doc, d.total), (None, 0))
        self.assertEqual(d.judge(a_pass([item(1)])), None)

    def test_bad_manifests_are_refused_and_the_current_one_stays(self):
        d = self.door([item(1)])
        bad = [
            ("version 1", None), ("version 1", {"v": 2}),
            ("id", manifest([], doc="")), ("id", manifest([], doc="x" * 65)), ("id", manifest([], doc=7)),
            ("dir", manifest([], "up")),
            ("rev", manifest([], rev=0)), ("rev", manifest([], rev="1")), ("rev", manifest([], rev=True)),
            ("list", manifest("urn:epc:id:sgtin:6901234.012345.1")),
            ("at most 500", manifest([item(n) for n in range(501)])),
            ("EPC 1 is not", manifest([item(1), "urn:epc:tag:sgtin-96:1.6901234.012345.1"])),
            ("EPC 0 is not", manifest([b"urn:epc:id:sgtin:6901234.012345.1"])),
            ("EPC 0 is not", manifest(["urn:epc:id:" + "9" * 100])),
        ]
        for fragment, msg in bad:
            self.raises(fragment, d.load, msg)
        self.assertEqual((d.doc, d.total), ("ASN-0042", 1))

    def test_a_full_manifest_of_500(self):
        uris = [item(n) for n in range(500)]
        self.assertEqual(len(parse_manifest(manifest(uris))[3]), 500)
        d = self.door(uris)
        v = d.judge(a_pass(uris[:250]))
        self.assertEqual((v.color, v.missing), ("red", 250))
        self.assertTrue(v.text("en").endswith(", …"))

    def test_every_reason_exists_in_both_languages(self):
        keys = ("door_unexpected", "door_went_in", "door_went_out", "door_missing", "door_dir_unknown",
                "door_to_come", "door_complete")
        params = {"n": 2, "doc": "D", "names": "N", "seen": 1, "total": 2, "left": 1}
        for key in keys:
            zh, en = messages.TEXT[key]
            self.assertTrue(zh != en, key)
            for lang in ("zh", "en"):
                self.assertTrue(key not in messages.render(key, params, lang), key)  # no fallback text

    def test_short_names(self):
        self.assertEqual(door_check.short(sscc(1)), "sscc:6901234.0000000001")
        self.assertEqual(door_check.short("hex:00"), "hex:00")


class TestStackLight(TestCase):
    def test_pin_light_lights_one_lamp(self):
        r, a, g = FakePin(), FakePin(), FakePin()
        light = PinLight(r, a, g)
        light.set("red")
        self.assertEqual((r.v, a.v, g.v), (1, 0, 0))
        light.set("green")
        self.assertEqual((r.v, a.v, g.v), (0, 0, 1))
        light.set("off")
        self.assertEqual((r.v, a.v, g.v), (0, 0, 0))
        self.raises("colour", light.set, "blue")

    def test_pin_light_active_low_and_missing_amber(self):
        r, g = FakePin(), FakePin()
        light = PinLight(r, None, g, on=0)
        light.set("amber")
        self.assertEqual((r.v, g.v), (1, 1))
        light.set("red")
        self.assertEqual((r.v, g.v), (0, 1))

    def test_held_light_returns_to_idle_after_the_hold(self):
        fake = FakeLight()
        held = HeldLight(fake, 5000)
        self.assertEqual(fake.colors, [])
        held.start()
        self.assertEqual(fake.colors, ["off"])
        held.show("red", 1000)
        self.assertEqual(held.step(3000), 3000)
        held.show("green", 4000)                  # a new verdict restarts the hold
        self.assertEqual(held.step(8999), 1)
        self.assertEqual(held.step(9000), None)
        self.assertEqual(held.step(9020), None)
        self.assertEqual(fake.colors, ["off", "red", "green", "off"])

    def test_held_light_across_the_tick_wrap(self):
        fake = FakeLight()
        held = HeldLight(fake, 100)
        held.start()
        held.show("amber", (1 << 30) - 50)
        self.assertEqual(held.step((1 << 30) - 1), 51)
        held.step(49)
        self.assertEqual(held.color, "amber")
        held.step(50)
        self.assertEqual(fake.colors, ["off", "amber", "off"])

    def test_no_light_keeps_state(self):
        held = HeldLight(None, 10)
        held.show("red", 0)
        self.assertEqual(held.color, "red")

"""The handheld application loop: barcode UART and PN532 (I2C) doubles speaking the real
bytes, a fake link, a real journal (unittest subset: also runs under the MicroPython VM)."""
import os

from fwtest import FakeBuzzer, FakeDeviceLink, FakeDisplay, FakePN532, FakeUart, TestCase, h
from onecode import cbor, epc, ndef
from onecode import pn532_frame as pf
from onecode.handheld_app import HandheldApp
from onecode.journal import Journal
from onecode.messages import Screen

GTIN = "09506000134352"
UID = h("04 DE 5F 1E AC C0 40")
UID2 = h("04 DE 5F 1E AC C0 41")
ACK = "onecode/s1/dev/hh-1/ack"
BATCH = "onecode/s1/dev/hh-1/batch"


def item_qr(serial):
    return b"]Q3" + b"01" + GTIN.encode() + b"21" + serial.encode() + b"\r"


def sscc(n):
    body = "1069012340%07d" % n
    return body + str(epc.check_digit(body))


def ntag(uid, url):
    """InListPassiveTarget and Type 2 READ answers of an NTAG213 holding `url`."""
    mem = bytearray(180)
    mem[0:16] = uid[:3] + b"\x00" + uid[3:] + bytes(4) + h("E1 10 12 00")
    area = ndef.message_tlv(ndef.uri_record(url)) if url else b"\x03\x00\xfe"
    mem[16:16 + len(area)] = area
    return h("01 01 00 44 00 07") + uid, mem


class Field:
    """The PN532 double with a tag that can be put in the field and taken away."""

    def __init__(self):
        self.nfc = FakePN532(i2c=True)
        self.tag = None
        on = self.nfc.on
        on[pf.CMD_SAM_CONFIGURATION] = lambda d: b""
        on[pf.CMD_RF_CONFIGURATION] = lambda d: b""
        on[pf.CMD_IN_LIST_PASSIVE_TARGET] = lambda d: self.tag[0] if self.tag else b"\x00"
        on[pf.CMD_IN_DATA_EXCHANGE] = self.exchange

    def exchange(self, d):
        if self.tag is None or d[1] != 0x30:
            return b"\x01"
        return b"\x00" + bytes(self.tag[1][d[2] * 4:d[2] * 4 + 16])


class FakeUhf:
    def __init__(self):
        self.epcs = []
        self.started = False

    def configure(self, region, power, antennas):
        self.configured = (region, power, antennas)

    def start(self, metadata=None):
        self.started = True

    def stop(self):
        self.started = False

    def poll(self, now_ms):
        return [(e, 1, -50, now_ms) for e in self.epcs]


_made = []


def clear(path):
    try:
        for name in os.listdir(path):
            os.remove(path + "/" + name)
        os.rmdir(path)
    except OSError:
        pass


class HandheldCase(TestCase):
    def tearDown(self):
        while _made:
            clear(_made.pop())

    def make(self, lang="en", uhf=None, **config):
        path = "%s/handheld_app_test_%d" % ("/tmp" if "tmp" in os.listdir("/") else "", len(_made))
        clear(path)
        _made.append(path)
        j = Journal(path, rand=lambda: 7)
        j.open()
        self.uart, self.field, self.link = FakeUart(), Field(), FakeDeviceLink()
        self.display = FakeDisplay()
        cfg = {"site": "s1", "dev": "hh-1", "boot": 2, "lang": lang}
        for k in config:
            cfg[k] = config[k]
        self.app = HandheldApp(cfg, self.uart, self.field.nfc, self.link, j,
                               Screen(self.display, FakeBuzzer()), uhf)
        self.app.start()
        self.t = 0
        return self.app

    def run_ms(self, ms):
        end = self.t + ms
        while self.t < end:
            self.app.step(self.t)
            self.t += 20

    def scan(self, line):
        self.uart.inject(line)
        self.run_ms(40)

    def tap(self, uid, url=None):
        self.field.tag = ntag(uid, url)
        self.run_ms(600)
        self.field.tag = None
        self.run_ms(600)

    def records(self):
        recs = []
        for topic, msg in self.link.out:
            if topic == BATCH:
                recs.extend(msg["recs"])
        return recs


class CommissionTest(HandheldCase):
    def test_scan_and_tap_bind_an_item_journal_send_and_release_it(self):
        app = self.make(commission={"lot": "L1", "line": "line-1", "shift": "A", "need": ("nfc",)})
        self.assertEqual(self.link.subs[0], ACK)
        self.scan(item_qr("1"))
        self.assertEqual(app.reply.key, "choose_task")
        app.key("commission", self.t)
        self.assertEqual(self.display.texts[-1], "Batch L1: scan the item QR code")
        self.scan(item_qr("1"))
        self.assertEqual(app.reply.key, "read_next")
        self.tap(UID, "https://id.gs1.org/01/%s/21/1" % GTIN)
        self.assertEqual(self.display.texts[-1], "Coded (01)%s(21)1 (item 1)" % GTIN)
        recs = self.records()
        self.assertEqual(len(recs), 1)
        self.assertEqual((recs[0]["type"], recs[0]["id"], recs[0]["uid"], recs[0]["lot"]),
                         ("commission", "/01/%s/21/1" % GTIN, UID, "L1"))
        self.assertEqual(app.status()["pending"], 1)
        self.link.inbox.append((ACK, cbor.dumps({"v": 1, "epoch": app.uplink.journal.epoch, "seq": recs[0]["seq"]})))
        self.run_ms(40)
        st = app.status()
        self.assertEqual((st["pending"], st["acked"], st["taps"], st["scans"], st["records"]), (0, 1, 1, 2, 1))

    def test_a_tag_left_in_the_field_counts_once_and_a_bound_tag_is_refused(self):
        app = self.make()
        app.select("commission", lot="L1", line="l", shift="A", need=("nfc",))
        self.scan(item_qr("1"))
        self.field.tag = ntag(UID, None)          # no NDEF URL: the UID alone binds
        self.run_ms(2000)
        self.assertEqual(app.status()["taps"], 1)
        self.assertEqual(app.reply.key, "bound")
        self.field.tag = None
        self.run_ms(400)
        self.scan(item_qr("2"))
        self.tap(UID)
        self.assertEqual(app.reply.key, "already_bound")
        self.tap(UID2, "https://id.gs1.org/01/%s/21/1" % GTIN)
        self.assertEqual(app.reply.key, "tag_mismatch")
        self.tap(UID2, "https://id.gs1.org/01/%s/21/2" % GTIN)
        self.assertEqual(app.reply.key, "bound")

    def test_finish_starts_the_next_session_of_the_same_batch(self):
        app = self.make(lang="zh")
        app.select("commission", lot="L1", line="l", shift="A", need=())
        self.scan(item_qr("1"))
        app.key("finish", self.t)
        self.assertEqual(app.reply.key, "done")
        self.assertEqual(app.status()["task"], "commission")
        self.scan(item_qr("1"))      # a new session: the same QR binds again
        self.assertEqual(app.reply.key, "bound")
        self.assertEqual(self.display.texts[-1], "已赋码 (01)%s(21)1（第 1 件）" % GTIN)


class PackShipTest(HandheldCase):
    def test_pack_then_ship_against_an_order_by_keys(self):
        app = self.make()
        app.key("pack", self.t)
        self.assertEqual(app.reply.key, "scan_parent")
        self.scan(b"]C100" + sscc(1).encode() + b"\r")
        self.scan(item_qr("1"))
        self.scan(item_qr("2"))
        app.key("finish", self.t)
        self.assertEqual(self.display.texts[-1], "Packed (00)%s: 2 inside" % sscc(1))
        app.select("ship", order={"id": "SO-1", "bt": "desadv", "lines": [{"sscc": sscc(1)}]})
        self.assertEqual(app.reply.key, "order_ready")
        self.scan(b"]C100" + sscc(1).encode() + b"\r")
        app.key("finish", self.t)
        self.assertEqual(app.reply.key, "done")
        self.assertEqual(app.status()["task"], None)      # an order is shipped once
        self.run_ms(3100)                                   # the resend interval lets the next batch go
        recs = self.records()
        kinds = sorted(set(r["type"] for r in recs))
        self.assertEqual(kinds, ["pack", "ship"])
        pack = [r for r in recs if r["type"] == "pack"][0]
        self.assertEqual(pack["kids"], ["/01/%s/21/1" % GTIN, "/01/%s/21/2" % GTIN])
        ship = [r for r in recs if r["type"] == "ship"][0]
        self.assertEqual((ship["doc"], ship["bt"], ship["ids"]), ("SO-1", "desadv", ["/00/" + sscc(1)]))

    def test_a_bad_order_is_refused_and_no_task_runs(self):
        app = self.make()
        app.select("ship", order={"id": "SO-1", "lines": []})
        self.assertEqual(app.reply.key, "bad_code")
        self.assertEqual(app.status()["task"], None)
        app.select("teleport")
        self.assertEqual(app.reply.key, "bad_code")


class PushedOrderTest(HandheldCase):
    def test_the_gateway_pushes_the_order_the_ship_key_uses(self):
        app = self.make()
        self.assertTrue("onecode/s1/dev/hh-1/order" in self.link.subs)
        order = {"id": "SO-9", "bt": "desadv", "lines": [{"sscc": sscc(4)}]}
        self.link.inbox.append(("onecode/s1/dev/hh-1/order", cbor.dumps({"v": 1, "rev": 5, "order": order})))
        self.run_ms(20)
        self.assertEqual(app.order["id"], "SO-9")
        app.key("ship", self.t)
        self.assertEqual(app.reply.key, "order_ready")
        self.assertEqual(app.workflow.doc, "SO-9")
        # a bad push is counted and the good one stays; an empty one withdraws it
        self.link.inbox.append(("onecode/s1/dev/hh-1/order", cbor.dumps({"v": 1, "rev": 6,
                                                                          "order": {"id": "X", "lines": []}})))
        self.link.inbox.append(("onecode/s1/dev/hh-1/order", b"\xff"))
        self.run_ms(20)
        self.assertEqual((app.order["id"], app.status()["bad_orders"]), ("SO-9", 2))
        self.link.inbox.append(("onecode/s1/dev/hh-1/order", b""))
        self.run_ms(20)
        self.assertEqual(app.order, None)


class UhfAndServicesTest(HandheldCase):
    def test_a_uhf_tag_read_continuously_counts_once_until_forgotten(self):
        uhf = FakeUhf()
        app = self.make(uhf=uhf, uhf_forget_ms=500)
        self.assertTrue(uhf.started)
        app.select("inspect")
        uhf.epcs = [epc.encode("urn:epc:id:sgtin:6901234.100001.5", filter=1)]
        self.run_ms(400)
        self.assertEqual((app.status()["uhf"], app.reply.key), (1, "pass_or_fail"))
        uhf.epcs = []
        self.run_ms(600)
        uhf.epcs = [epc.encode("urn:epc:id:sgtin:6901234.100001.5", filter=1)]
        self.run_ms(40)
        self.assertEqual((app.status()["uhf"], app.reply.key), (2, "finish_item"))

    def test_heartbeat_time_and_pushed_language(self):
        app = self.make(lang="en")
        self.run_ms(40)
        self.assertEqual(len(self.link.hb), 1)
        self.link.inbox.append(("onecode/s1/dev/hh-1/config", cbor.dumps({"v": 1, "rev": 1, "set": {"lang": "zh",
                                                                                                "x": 1}})))
        self.run_ms(40)
        self.assertEqual(app.status()["bad_config"], ["x"])
        app.select("pack")
        self.assertEqual(self.display.texts[-1], "请先扫描箱或托盘的物流单元码 (SSCC)")


class JournalFullTest(HandheldCase):
    def test_records_the_journal_refuses_are_held_and_new_input_waits(self):
        app = self.make()
        app.select("commission", lot="L1", line="l", shift="A", need=())
        j = app.uplink.journal
        real = j.append
        j.append = lambda payload: 0           # full
        self.scan(item_qr("1"))
        self.assertEqual(app.status()["held"], 1)
        self.scan(item_qr("2"))
        self.assertEqual(app.reply.key, "busy")
        j.append = real
        self.run_ms(40)
        self.assertEqual(app.status()["held"], 0)
        self.scan(item_qr("2"))
        self.assertEqual(app.reply.key, "bound")

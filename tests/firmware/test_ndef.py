"""NDEF in tag memory: Type 2 TLVs and CC, record headers, URI records, Type 4 files.

unittest subset only: this file also runs under the MicroPython VM.
"""

from fwtest import TestCase, h
from onecode import ndef

SUN_URL = ("https://example.com/01/09506000134352/21/1"
           "?picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086")


# One short-record URI message: "https://" (code 04) + "example.com/".
HELLO = h("D1 01 0D 55 04") + b"example.com/"


class Type2(TestCase):
    def test_cc(self):
        self.assertEqual(ndef.check_cc(h("E1 10 12 00")), 144)
        self.assertEqual(ndef.check_cc(h("E1 10 6D 00")), 872)
        self.raises("no NDEF capability container", ndef.check_cc, h("00 00 00 00"))
        self.raises("mapping version 2.0", ndef.check_cc, h("E1 20 12 00"))
        self.raises("read access denied", ndef.check_cc, h("E1 10 12 80"))
        self.raises("too short", ndef.check_cc, h("E1 10"))

    def test_one_byte_length(self):
        area = ndef.message_tlv(HELLO)
        self.assertEqual(area[:2], h("03 11"))
        self.assertEqual(ndef.find_ndef_tlv(area), (2, 17))
        self.assertEqual(ndef.url_from_type2(area), "https://example.com/")

    def test_three_byte_length(self):
        long_url = "https://example.com/" + "x" * 300
        area = ndef.message_tlv(ndef.uri_record(long_url))
        self.assertEqual(area[:2], h("03 FF"))
        self.assertEqual(ndef.find_ndef_tlv(area), (4, (area[2] << 8) | area[3]))
        self.assertEqual(ndef.url_from_type2(area), long_url)

    def test_null_lock_memory_tlvs_skipped(self):
        area = h("00 01 03 A0 0C 34 02 03 00 10 44") + ndef.message_tlv(HELLO)
        self.assertEqual(ndef.find_ndef_tlv(area), (13, 17))
        self.assertEqual(ndef.url_from_type2(area), "https://example.com/")

    def test_need_more(self):
        area = ndef.message_tlv(HELLO)
        self.assertEqual(ndef.find_ndef_tlv(b""), None)
        self.assertEqual(ndef.find_ndef_tlv(area[:1]), None)
        self.assertEqual(ndef.find_ndef_tlv(h("03 FF 01")), None)
        self.assertEqual(ndef.find_ndef_tlv(h("01 03 A0")), None)  # value runs past the end
        self.raises("truncated", ndef.url_from_type2, area[:10])

    def test_terminator_first(self):
        self.raises("terminator TLV at offset 1", ndef.find_ndef_tlv, h("00 FE 03 00"))

    def test_reserved_length(self):
        self.raises("0xFFFF is reserved", ndef.find_ndef_tlv, h("03 FF FF FF"))

    def test_empty_message(self):
        self.raises("empty NDEF message", ndef.url_from_type2, h("03 00 FE"))

    def test_real_dump(self):
        # pages 4-14 of the Mifare Ultralight dump in microbuilder/LPC1343CodeBase
        area = h("031dd101 19550174 7461672e 62652f6d 2f303437 42434235 31393632 32383050"
                 "c7badbbb 3df622c1 68e88f24")
        self.assertEqual(ndef.url_from_type2(area), "http://www.ttag.be/m/047BCB51962280")


class Records(TestCase):
    def test_header_flags(self):
        rec = ndef.uri_record(SUN_URL)
        self.assertEqual(rec[0], ndef.MB | ndef.ME | ndef.SR | ndef.TNF_WELL_KNOWN)
        self.assertEqual(rec[0], 0xD1)
        self.assertEqual(rec[3:5], b"U\x04")
        self.assertEqual(ndef.records(rec), [(1, b"U", b"", rec[4:])])

    def test_long_record_and_id(self):
        payload = b"\x00" + b"a" * 300
        msg = (bytes((ndef.MB | ndef.IL | 1, 1, 0, 0, 1, 45, 2)) + b"Uid" + payload
               + h("51 01 02 54 00 41"))
        recs = ndef.records(msg)
        self.assertEqual(recs[0], (1, b"U", b"id", payload))
        self.assertEqual(recs[1], (1, b"T", b"", h("00 41")))
        self.assertEqual(ndef.first_uri(msg), "a" * 300)
        self.assertEqual(ndef.uri_record("a" * 300)[:6], h("C1 01 00 00 01 2D"))

    def test_malformed(self):
        rec = ndef.uri_record("https://x.y/")
        self.raises("MB flag missing", ndef.records, bytes((rec[0] & ~ndef.MB,)) + rec[1:])
        self.raises("chunked", ndef.records, bytes((rec[0] | ndef.CF,)) + rec[1:])
        self.raises("TNF 7 is reserved", ndef.records, bytes((rec[0] | 7,)) + rec[1:])
        self.raises("header truncated", ndef.records, rec[:2])
        self.raises("payload bytes", ndef.records, rec[:-1])
        self.raises("bytes after the record with ME", ndef.records, rec + b"\x00")
        self.raises("without a record flagged ME", ndef.records, bytes((rec[0] & ~ndef.ME,)) + rec[1:])
        two = bytes((rec[0] & ~ndef.ME,)) + rec[1:] + rec
        self.raises("MB flag repeated", ndef.records, two)
        self.raises("empty record (TNF 0) with content", ndef.records, h("D0 00 01 41"))

    def test_no_uri_record(self):
        self.raises("no URI record", ndef.first_uri, h("D1 01 02 54 00 41"))

    def test_smart_poster(self):
        inner = ndef.uri_record("https://x.y/sp")
        msg = bytes((0xD1, 2, len(inner))) + b"Sp" + inner
        self.assertEqual(ndef.first_uri(msg), "https://x.y/sp")


class Uri(TestCase):
    def test_prefix_table(self):
        self.assertEqual(len(ndef.URI_PREFIXES), 0x24)
        expect = {0x00: "", 0x01: "http://www.", 0x02: "https://www.", 0x03: "http://",
                  0x04: "https://", 0x05: "tel:", 0x06: "mailto:",
                  0x07: "ftp://anonymous:anonymous@", 0x0D: "ftp://", 0x13: "urn:",
                  0x1D: "file://", 0x1E: "urn:epc:id:", 0x22: "urn:epc:", 0x23: "urn:nfc:"}
        for code in expect:
            self.assertEqual(ndef.uri(bytes((code,)) + b"rest"), expect[code] + "rest")

    def test_encode_picks_longest_prefix(self):
        for url, code in (("https://www.a.b", 2), ("https://a.b", 4), ("http://www.a", 1),
                          ("urn:epc:id:sgtin:1", 0x1E), ("urn:epc:x", 0x22), ("urn:x", 0x13),
                          ("ftp://anonymous:anonymous@h", 7), ("ftp://ftp.h", 8), ("x:y", 0)):
            rec = ndef.uri_record(url)
            self.assertEqual(rec[4], code)
            self.assertEqual(ndef.first_uri(rec), url)

    def test_sun_url_round_trip(self):
        self.assertEqual(ndef.first_uri(ndef.uri_record(SUN_URL)), SUN_URL)

    def test_utf8(self):
        url = "https://\u00fc.example/\u00e4"
        self.assertEqual(ndef.first_uri(ndef.uri_record(url)), url)

    def test_errors(self):
        self.raises("0x24 is reserved", ndef.uri, b"\x24abc")
        self.raises("empty payload", ndef.uri, b"")
        self.raises("not UTF-8", ndef.uri, b"\x04\xff\xfe")


class Type4(TestCase):
    def test_apdus(self):
        self.assertEqual(ndef.T4T_SELECT_NDEF_APP, h("00 A4 04 00 07 D2 76 00 00 85 01 01 00"))
        self.assertEqual(ndef.t4t_select_file(ndef.T4T_NDEF_FILE), h("00 A4 00 0C 02 E1 04"))
        self.assertEqual(ndef.t4t_read_binary(0x102, 0x40), h("00 B0 01 02 40"))
        self.raises("out of range", ndef.t4t_read_binary, 0, 0)
        self.raises("out of range", ndef.t4t_read_binary, 0x8000, 1)

    def test_status_words(self):
        self.assertEqual(ndef.t4t_data(h("01 02 90 00")), h("01 02"))
        self.assertEqual(ndef.t4t_data(h("90 00")), b"")
        self.raises("APDU status 6A82", ndef.t4t_data, h("6A 82"))
        self.raises("without a status word", ndef.t4t_data, h("90"))

    def test_file(self):
        msg = ndef.uri_record(SUN_URL)
        f = bytes((0, len(msg))) + msg + bytes(20)
        self.assertEqual(ndef.type4_nlen(f), len(msg))
        self.assertEqual(ndef.url_from_type4_file(f), SUN_URL)
        self.raises("NLEN %d, only" % len(msg), ndef.url_from_type4_file, f[:len(msg)])
        self.raises("2-byte NLEN", ndef.type4_nlen, b"\x00")

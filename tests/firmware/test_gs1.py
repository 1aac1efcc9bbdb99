"""onecode.gs1: REFERENCE §2 vectors, symbology identifiers, GS handling, the bracketed
form, Digital Link parse/build, round trips and every validation rule.

unittest subset only: this file also runs under the MicroPython VM.
"""

from fwtest import TestCase

from onecode import epc, gs1

GS = "\x1d"
DL = "https://id.gs1.org/01/09506000134352/10/ABC123/21/12345?17=251231"
DL_PAIRS = [("01", "09506000134352"), ("10", "ABC123"), ("21", "12345"), ("17", "251231")]


class TestParse(TestCase):
    def test_symbology_identifiers(self):
        body = "0109506000134352" + "10ABC123" + GS + "2112345" + GS + "17251231"
        for sid in ("", "]C1", "]e0", "]d2", "]Q3", "]J1"):
            self.assertEqual(gs1.parse(sid + body), DL_PAIRS)

    def test_non_gs1_symbologies_are_refused(self):
        for sid in ("]Q1", "]d1", "]C0", "]E0", "]A0", "]Q5", "]X"):
            self.raises("not a GS1 symbol", gs1.parse, sid + "0109506000134352")
        self.raises("gtin14", gs1.parse, "]E09506000134352")

    def test_fixed_length_needs_no_separator(self):
        self.assertEqual(gs1.parse("00106141412345678908" + "0109506000134352" + "17251231" + "3103000189"
                                   + "4140614141073467" + "2001"),
                         [("00", "106141412345678908"), ("01", "09506000134352"), ("17", "251231"),
                          ("3103", "000189"), ("414", "0614141073467"), ("20", "01")])

    def test_gs_may_lead_trail_repeat_and_follow_fixed_fields(self):
        self.assertEqual(gs1.parse(GS + "0109506000134352" + GS + GS + "10ABC" + GS),
                         [("01", "09506000134352"), ("10", "ABC")])
        self.assertEqual(gs1.parse(b"]d20109506000134352\x1d10ABC\r\n"),
                         [("01", "09506000134352"), ("10", "ABC")])

    def test_variable_field_runs_to_gs_or_end(self):
        # without a GS the following "AI" is data of the lot: only GS or the end terminate
        self.assertEqual(gs1.parse("10ABC17251231"), [("10", "ABC17251231")])
        self.raises("AI 10: too long", gs1.parse, "10ABCDEFGHIJKLMNOPQRST17251231")
        self.raises("GS separator may be missing", gs1.parse, "10ABCDEFGHIJKLMNOPQRST17251231")
        # fixed-length AIs outside the predefined table need a GS too
        self.raises("AI 422: too long", gs1.parse, "42215617251231")
        self.assertEqual(gs1.parse("422156" + GS + "17251231"), [("422", "156"), ("17", "251231")])

    def test_supported_ais(self):
        cases = [("02", "09506000134352"), ("03", "09506000134352"), ("11", "250100"),
                 ("12", "251231"), ("13", "240229"), ("15", "251130"), ("16", "250228"),
                 ("22", "2A"), ("30", "12345678"), ("37", "1"), ("240", "X-1"), ("241", "C/7"),
                 ("250", "S2"), ("251", "SRC"), ("253", "4012345000115ebon-4711"),
                 ("253", "4012345000115"), ("254", "1234"), ("255", "0614141000012345"),
                 ("3100", "000001"), ("3205", "123456"), ("3375", "000100"), ("3695", "999999"),
                 ("400", "PO-1"), ("401", "0614141ABC"), ("402", "06141411234567890"),
                 ("403", "ROUTE1"), ("410", "0614141073467"), ("415", "0614141073467"),
                 ("417", "0614141073467"), ("420", "100080"), ("421", "156100080"),
                 ("422", "156"), ("7003", "2512312359"), ("8003", "00614141123452"),
                 ("8003", "00614141123452AB"), ("8004", "061414112345400"),
                 ("8006", "095060001343520102"), ("8010", "0614141A#-/"), ("8011", "0"),
                 ("8011", "123"), ("8017", "106141412345678908"), ("8018", "106141412345678908"),
                 ("8019", "1"), ("8020", "REF-1"), ("90", "ok"), ("91", "x" * 90), ("99", "!\"%&'()*+,-./:;<=>?_")]
        for ai, value in cases:
            self.assertEqual(gs1.parse(ai + value), [(ai, value)])
            gs1.validate(ai, value)

    def test_bracketed_form(self):
        self.assertEqual(gs1.parse("(01)09506000134352(10)ABC"), [("01", "09506000134352"), ("10", "ABC")])
        self.assertEqual(gs1.parse(" (01) 09506000134352 (10) ABC123 (21) 12345 (17) 251231 "), DL_PAIRS)
        self.assertEqual(gs1.parse("(21)A\\(B)C(10)1"), [("21", "A(B)C"), ("10", "1")])
        self.raises("bracketed form", gs1.parse, "(01")
        self.raises("bracketed form", gs1.parse, "(1)2")
        self.raises("bracketed form", gs1.parse, "(ABC)1")
        self.raises("unknown AI", gs1.parse, "(23)1")
        self.raises("AI 01: too short", gs1.parse, "(01)9506000134352")
        self.raises("AI 10: too short", gs1.parse, "(10)(21)1")

    def test_errors_name_rule_and_ai(self):
        bad = [
            ("0109506000134350", "AI 01: check digit"), ("0209506000134350", "AI 02: check digit"),
            ("00106141412345678909", "AI 00: check digit"), ("4140614141073460", "AI 414: check digit"),
            ("8006095060001343500102", "AI 8006: check digit"), ("800300614141123450", "AI 8003: check digit"),
            ("2534012345000110", "AI 253: check digit"), ("40206141411234567891", "AI 402: check digit"),
            ("800310614141123452", "AI 8003: first digit must be 0"),
            ("17251301", "AI 17: date"), ("17250001", "AI 17: date"), ("11250230", "AI 11: date"),
            ("11230229", "AI 11: date"), ("11250431", "AI 11: date"), ("15251232", "AI 15: date"),
            ("70032512012400", "AI 7003: time"), ("70032512012360", "AI 7003: time"),
            ("70032512000000", "AI 7003: date"),
            ("8006095060001343520302", "AI 8006: piece of total"),
            ("8006095060001343520001", "AI 8006: piece of total"),
            ("801101", "AI 8011: leading zero"), ("8004ABC123", "AI 8004: company prefix"),
            ("401012", "AI 401: company prefix"), ("8010061a", "AI 8010: character 'a' is not in GS1 CSET 39"),
            ("01095060001343A2", "AI 01: character 'A' is not a digit"),
            ("10AB C", "AI 10: character ' ' is not in GS1 CSET 82"),
            ("10AB#", "not in GS1 CSET 82"), ("21\u00e9", "not in GS1 CSET 82"),
            ("37123456789", "AI 37: too long"), ("10" + "A" * 21, "AI 10: too long"),
            ("91" + "A" * 91, "AI 91: too long"), ("421156", "AI 421: too short"),
            ("010950600013435", "AI 01: too short"), ("01095060" + GS + "10A", "AI 01: too short"),
            ("10", "AI 10: too short"), ("10" + GS + "17251231", "AI 10: too short"),
            ("0400000000000000000", "unknown AI 04"), ("14250101", "unknown AI 14"),
            ("3106000123", "unknown AI 3106"), ("3386000123", "unknown AI 3386"),
            ("7040123", "unknown AI 7040"), ("23512", "no supported AI starts with 23"),
            ("8013AB", "unknown AI 8013"), ("3", "AI expected"),
            ("ABC", "AI expected at position 0"), ("0109506000134352X", "AI expected at position 16"),
            ("01095060001343521", "AI expected"), ("", "no GS1 element strings"), (GS, "no GS1"),
            ("10A" + GS + "10B", "AI 10: duplicate"),
        ]
        for text, fragment in bad:
            self.raises(fragment, gs1.parse, text)
        self.assertEqual(gs1.parse("10A" + GS + "10A"), [("10", "A"), ("10", "A")])
        self.raises("str or bytes", gs1.parse, 12)

    def test_end_of_month_day_and_leap_years(self):
        for d in ("250200", "240229", "000229", "991231", "250430"):
            self.assertEqual(gs1.parse("17" + d), [("17", d)])


class TestValueHelpers(TestCase):
    def test_gtin14(self):
        self.assertEqual(gs1.gtin14("9506000134352"), "09506000134352")
        self.assertEqual(gs1.gtin14("614141123452"), "00614141123452")
        self.assertEqual(gs1.gtin14("95060002"), "00000095060002")
        self.assertEqual(gs1.gtin14("09506000134352"), "09506000134352")
        self.raises("AI 01: check digit", gs1.gtin14, "9506000134350")
        for bad in ("95060001343", "1234567", "095060001343520", "95060001343A2", 9506000134352):
            self.raises("8, 12, 13 or 14 digits", gs1.gtin14, bad)

    def test_check_digit_is_the_epc_one(self):
        self.assertTrue(gs1.check_digit is epc.check_digit)
        self.assertEqual(gs1.check_digit("0950600013435"), 2)

    def test_measure(self):
        self.assertEqual(gs1.measure("3103", "000189"), "0.189")
        self.assertEqual(gs1.measure("3100", "000189"), "189")
        self.assertEqual(gs1.measure("3205", "123456"), "1.23456")
        self.assertEqual(gs1.measure("3102", "000000"), "0.00")
        self.raises("not a measure AI", gs1.measure, "17", "251231")
        self.raises("AI 3103: too short", gs1.measure, "3103", "189")

    def test_validate(self):
        gs1.validate("3103", "000189")
        self.raises("unknown AI", gs1.validate, "3106", "000189")
        self.raises("unknown AI", gs1.validate, 1, "x")
        self.raises("AI 10: value must be a str", gs1.validate, "10", 5)


class TestElementString(TestCase):
    def test_gs_only_after_variable_fields_not_last(self):
        pairs = [("01", "09506000134352"), ("10", "ABC"), ("17", "251231"), ("21", "7"), ("3103", "000189")]
        s = gs1.element_string(pairs)
        self.assertEqual(s, "0109506000134352" + "10ABC" + GS + "17251231" + "217" + GS + "3103000189")
        self.assertEqual(gs1.parse(s), pairs)
        self.assertEqual(gs1.parse("]d2" + s), pairs)
        self.assertEqual(gs1.element_string([("8006", "095060001343520102"), ("17", "251231")]),
                         "8006095060001343520102" + GS + "17251231")

    def test_bracketed(self):
        pairs = [("01", "09506000134352"), ("21", "A(1)")]
        b = gs1.element_string(pairs, brackets=True)
        self.assertEqual(b, "(01)09506000134352(21)A\\(1)")
        self.assertEqual(gs1.parse(b), pairs)

    def test_validates(self):
        self.raises("AI 01: check digit", gs1.element_string, [("01", "09506000134350")])
        self.raises("unknown AI", gs1.element_string, [("7040", "1ABC")])
        self.raises("AI 10: duplicate", gs1.element_string, [("10", "A"), ("10", "B")])


class TestDigitalLink(TestCase):
    def test_reference_example(self):
        self.assertEqual(gs1.parse_digital_link(DL), DL_PAIRS)
        self.assertEqual(gs1.build_digital_link(DL_PAIRS), DL)
        self.assertEqual(gs1.build_digital_link(gs1.parse("]d2" + gs1.element_string(DL_PAIRS))), DL)

    def test_epc_examples(self):
        for urn, path, pairs in (
                ("urn:epc:id:sgtin:0614141.107346.2017", "/01/10614141073464/21/2017",
                 [("01", "10614141073464"), ("21", "2017")]),
                ("urn:epc:id:sgln:0614141.07346.1234", "/414/0614141073467/254/1234",
                 [("414", "0614141073467"), ("254", "1234")]),
                ("urn:epc:id:sscc:0614141.1234567890", "/00/106141412345678908",
                 [("00", "106141412345678908")]),
                ("urn:epc:id:grai:0614141.12345.400", "/8003/00614141123452400",
                 [("8003", "00614141123452400")]),
                ("urn:epc:id:giai:0614141.12345400", "/8004/061414112345400",
                 [("8004", "061414112345400")])):
            self.assertEqual(epc.to_digital_link_path(urn), path)
            self.assertEqual(gs1.parse_digital_link("https://id.gs1.org" + path), pairs)
            self.assertEqual(gs1.build_digital_link(pairs), "https://id.gs1.org" + path)

    def test_any_domain_prefix_scheme_fragment_and_symbology(self):
        for uri in ("https://example.com/01/09506000134352/10/ABC123/21/12345?17=251231",
                    "http://example.com/a/b/c/01/09506000134352/10/ABC123/21/12345?17=251231#top",
                    "HTTPS://example.com:8443/x/01/09506000134352/10/ABC123/21/12345?linkType=gs1:pip&17=251231",
                    "]Q1https://id.gs1.org/01/09506000134352/10/ABC123/21/12345?17=251231&utm_source=qr",
                    "]d1" + DL + "\r\n"):
            self.assertEqual(gs1.parse_digital_link(uri), DL_PAIRS)

    def test_short_gtins_are_padded(self):
        for g in ("9506000134352", "614141123452", "95060002"):
            self.assertEqual(gs1.parse_digital_link("https://id.gs1.org/01/" + g), [("01", gs1.gtin14(g))])
        self.raises("AI 01: too short", gs1.parse_digital_link, "https://id.gs1.org/01/12345")
        self.raises("AI 02: too short", gs1.parse_digital_link,
                    "https://id.gs1.org/00/106141412345678908?02=9506000134352")

    def test_qualifiers(self):
        self.assertEqual(gs1.parse_digital_link("https://x.org/01/09506000134352/22/V1/21/S"),
                         [("01", "09506000134352"), ("22", "V1"), ("21", "S")])
        self.assertEqual(gs1.parse_digital_link("https://x.org/8006/095060001343520102/10/L"),
                         [("8006", "095060001343520102"), ("10", "L")])
        self.assertEqual(gs1.parse_digital_link("https://x.org/8010/0614141AB/8011/12"),
                         [("8010", "0614141AB"), ("8011", "12")])
        self.assertEqual(gs1.parse_digital_link("https://x.org/415/0614141073467/8020/R1"),
                         [("415", "0614141073467"), ("8020", "R1")])
        self.assertEqual(gs1.parse_digital_link("https://x.org/8018/106141412345678908/8019/1"),
                         [("8018", "106141412345678908"), ("8019", "1")])
        self.raises("qualifier order: AI 10 after 21", gs1.parse_digital_link,
                    "https://x.org/01/09506000134352/21/1/10/2")
        self.raises("qualifier order: AI 21", gs1.parse_digital_link,
                    "https://x.org/01/09506000134352/21/1/21/2")
        self.raises("not a key qualifier: AI 17", gs1.parse_digital_link,
                    "https://x.org/01/09506000134352/17/251231")
        for key, value in (("00", "106141412345678908"), ("8004", "061414112345400"),
                           ("417", "0614141073467"), ("253", "4012345000115")):
            self.raises("not a key qualifier: AI 21", gs1.parse_digital_link,
                        "https://x.org/%s/%s/21/1" % (key, value))

    def test_query(self):
        self.assertEqual(gs1.parse_digital_link("https://x.org/00/106141412345678908?02=09506000134352&37=25&10=ABC123"),
                         [("00", "106141412345678908"), ("02", "09506000134352"), ("37", "25"), ("10", "ABC123")])
        self.assertEqual(gs1.parse_digital_link("https://x.org/01/09506000134352?3103=000189&&linkType=all&x"),
                         [("01", "09506000134352"), ("3103", "000189")])
        self.raises("AI 10 qualifies 01: it belongs in the path", gs1.parse_digital_link,
                    "https://x.org/01/09506000134352?10=X")
        self.raises("AI 414 is a primary key", gs1.parse_digital_link,
                    "https://x.org/01/09506000134352?414=0614141073467")
        self.raises("AI 17: duplicate", gs1.parse_digital_link,
                    "https://x.org/01/09506000134352?17=251231&17=251231")
        self.raises("unknown AI 7040", gs1.parse_digital_link, "https://x.org/01/09506000134352?7040=1ABC")
        self.raises("unknown AI 123", gs1.parse_digital_link, "https://x.org/01/09506000134352?123=1")
        self.raises("AI 17: date", gs1.parse_digital_link, "https://x.org/01/09506000134352?17=251301")
        self.raises("AI 17: too short", gs1.parse_digital_link, "https://x.org/01/09506000134352?17")

    def test_percent_encoding(self):
        uri = "https://id.gs1.org/01/09506000134352/10/A%2FB%20?21=x"
        self.raises("AI 10: character ' '", gs1.parse_digital_link, uri)
        pairs = gs1.parse_digital_link("https://id.gs1.org/01/09506000134352/21/A%2fB%25%3F+C?240=x")
        self.assertEqual(pairs[1], ("21", "A/B%?+C"))  # "+" is literal, not a space
        self.raises("bad percent-escape", gs1.parse_digital_link, "https://x.org/01/09506000134352/21/A%2")
        self.raises("bad percent-escape", gs1.parse_digital_link, "https://x.org/01/09506000134352/21/A%G1")
        pairs = [("01", "09506000134352"), ("21", "!\"%&'()*+,-./:;<=>"), ("240", "?_Az09")]
        uri = gs1.build_digital_link(pairs)
        self.assertEqual(uri, "https://id.gs1.org/01/09506000134352/21/"
                         "%21%22%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E?240=%3F_Az09")
        self.assertEqual(gs1.parse_digital_link(uri), pairs)

    def test_refusals(self):
        self.raises("convenience name 'gtin'", gs1.parse_digital_link, "https://id.gs1.org/gtin/09506000134352")
        self.raises("use the numeric AI 10", gs1.parse_digital_link,
                    "https://id.gs1.org/01/09506000134352/lot/ABC")
        self.raises("convenience name 'exp'", gs1.parse_digital_link,
                    "https://id.gs1.org/01/09506000134352?exp=251231")
        self.raises("no primary key", gs1.parse_digital_link, "https://id.gs1.org/")
        self.raises("no primary key", gs1.parse_digital_link, "https://id.gs1.org")
        self.raises("no primary key", gs1.parse_digital_link, "https://id.gs1.org/10/ABC")
        self.raises("AI without a value", gs1.parse_digital_link, "https://id.gs1.org/01/09506000134352/")
        self.raises("AI without a value", gs1.parse_digital_link, "https://id.gs1.org/01/09506000134352/10")
        self.raises("AI 10: too short", gs1.parse_digital_link, "https://id.gs1.org/01/09506000134352/10/")
        self.raises("AI 01: check digit", gs1.parse_digital_link, "https://id.gs1.org/01/09506000134350")
        for bad in ("id.gs1.org/01/09506000134352", "ftp://id.gs1.org/01/09506000134352",
                    "urn:epc:id:sgtin:0614141.107346.2017", "https://"):
            self.raises("not a GS1 Digital Link URI", gs1.parse_digital_link, bad)
        self.raises("must be a str", gs1.parse_digital_link, None)

    def test_build(self):
        self.assertEqual(gs1.build_digital_link([("17", "251231"), ("21", "S"), ("3103", "000189"), ("10", "L"),
                                                 ("01", "09506000134352"), ("22", "V")], "https://b.example/dl/"),
                         "https://b.example/dl/01/09506000134352/22/V/10/L/21/S?17=251231&3103=000189")
        self.assertEqual(gs1.build_digital_link([("00", "106141412345678908"), ("10", "L"), ("02", "09506000134352"),
                                                 ("37", "25")]),
                         "https://id.gs1.org/00/106141412345678908?02=09506000134352&10=L&37=25")
        self.assertEqual(gs1.build_digital_link([("01", "09506000134352"), ("10", "L"), ("10", "L")]),
                         "https://id.gs1.org/01/09506000134352/10/L")
        self.raises("exactly one primary key", gs1.build_digital_link, [("10", "L")])
        self.raises("got 00, 01", gs1.build_digital_link, [("01", "09506000134352"), ("00", "106141412345678908")])
        self.raises("domain must start with", gs1.build_digital_link, [("01", "09506000134352")], "id.gs1.org")
        self.raises("AI 10: duplicate", gs1.build_digital_link, [("01", "09506000134352"), ("10", "L"), ("10", "M")])
        self.raises("AI 01: too short", gs1.build_digital_link, [("01", "9506000134352")])

    def test_round_trips(self):
        for pairs in (DL_PAIRS, [("8006", "095060001343520102"), ("22", "V"), ("21", "S"), ("11", "250100")],
                      [("414", "0614141073467"), ("254", "A/1"), ("7003", "2512312359")],
                      [("8010", "0614141AB"), ("8011", "1")], [("253", "4012345000115ebon")],
                      [("255", "0614141000012345"), ("17", "260100")], [("401", "0614141X")],
                      [("402", "06141411234567890"), ("420", "100080"), ("421", "156X")],
                      [("417", "0614141073467"), ("90", "a&b=c")]):
            uri = gs1.build_digital_link(pairs, "https://r.example")
            back = gs1.parse_digital_link(uri)
            self.assertEqual(sorted(back), sorted(pairs))
            self.assertEqual(gs1.build_digital_link(back, "https://r.example"), uri)
            es = gs1.element_string(back)
            self.assertEqual(gs1.parse(es), back)
            self.assertEqual(gs1.parse(gs1.element_string(back, True)), back)

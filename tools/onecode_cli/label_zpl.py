"""ZPL II for RFID label printers (`onecode labels`): one label format per item that
encodes the item's EPC into the UHF tag and prints the Digital Link QR code and the
GS1 human-readable text, in one pass.

Commands (Zebra ZPL II Programming Guide, RFID chapter; see docs/labels.md):
`^RS8` tag type EPC Class 1 Gen 2; `^RFW,H,,,A` write hex to the EPC bank, the
printer setting the PC word's length bits (a 96-bit EPC here); `^BQN,2,m` QR model 2
with `^FDMA,` = error correction M, automatic input. A label whose tag cannot be
written is voided and retried by the printer (its ^RS defaults).

Must never hold EPC or GS1 rules (the items come encoded) and never put `^` or `~`
(ZPL's command prefixes) in field data: they are refused.
"""

DOTS_PER_MM = 8             # 203 dpi print head
LABEL_MM = (60, 40)         # width, height
QR_MAGNIFICATION = 4        # dots per module: 0.5 mm modules
TEXT_DOTS = 22


def _field(text):
    if "^" in text or "~" in text:
        raise ValueError("ZPL field data cannot hold ^ or ~: %r" % text)
    return text


def label(item):
    """The ZPL of one item: ^XA ... ^XZ."""
    w, h = (mm * DOTS_PER_MM for mm in LABEL_MM)
    out = ["^XA", "^PW%d" % w, "^LL%d" % h, "^RS8",
           "^RFW,H,,,A^FD%s^FS" % _field(item.epc_hex),
           "^FO16,8^BQN,2,%d^FDMA,%s^FS" % (QR_MAGNIFICATION, _field(item.digital_link))]
    y = h - 16 - len(item.hri) * (TEXT_DOTS + 6)
    for line in item.hri:
        out.append("^FO16,%d^A0N,%d,%d^FD%s^FS" % (y, TEXT_DOTS, TEXT_DOTS, _field(line)))
        y += TEXT_DOTS + 6
    out.append("^XZ")
    return "\n".join(out) + "\n"


def write_zpl(items, path):
    with open(path, "w", encoding="ascii", newline="\n") as f:
        for item in items:
            f.write(label(item))
    return path

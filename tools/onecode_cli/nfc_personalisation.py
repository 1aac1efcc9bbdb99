"""The NFC personalisation list of `onecode labels`: per NTAG 424 DNA, the SUN URL
template the tag's NDEF file gets (UID-less: the tag mirrors its UID and counter into
`picc_data` and its MAC into `cmac` at every tap), the SDM offsets, and the *inputs*
of each per-tag key derivation (cloud.sun, docs/nfc-sun.md), for the personalisation
station that holds the master key in its HSM.

Must never read, derive or write a key: no master key, no tag key. The UID of a tag
that is not yet bound to its item is unknown here; its context is written `{UID}`.
"""
import csv

from cloud import sun

# NFC Forum URI record identifier codes: the prefix is not stored in the tag
URI_PREFIXES = (("https://", 0x04), ("http://", 0x03))
PICC_HEX = 32               # 16-byte PICCData, upper hex
MAC_HEX = 16                # 8-byte truncated SDMMAC
NDEF_FILE_BYTES = 256       # NTAG 424 DNA file 02 (NDEF)
# (slot, KDF purpose): cloud.sun's per-tag purposes sit in slots 0, 2, 3, 4; slot 1 is the meta read key
KEY_SLOTS = tuple(sorted(tuple(zip((0, 2, 3, 4), sun.TAG_KEY_PURPOSES)) + ((1, "sdm_meta_read"),)))
KDF = ("NIST SP 800-108 counter mode, PRF AES-CMAC, one block: key = CMAC(master, 00000001 || "
       "fixed_input || 00000080); master = the cloud's ONECODE_NFC_MASTER_KEY (not exported)")
COLUMNS = ("serial", "gtin", "lot", "digital_link", "nfc_uid", "nfc_key_ref", "sdm_url_template", "ndef_file_hex",
           "picc_data_offset", "sdm_mac_input_offset", "sdm_mac_offset", "kdf") + tuple(
    "key%d_fixed_input_hex" % slot for slot, _ in KEY_SLOTS)


def url_template(digital_link):
    """The `picc_data` + `cmac` layout of cloud.sun (no file data, so MAC input is empty)."""
    return "%s?picc_data=%s&cmac=%s" % (digital_link, "0" * PICC_HEX, "0" * MAC_HEX)


def ndef_file(url):
    """NDEF file bytes: NLEN (2) + one short URI record (header D1, type 'U', prefix code)."""
    for prefix, code in URI_PREFIXES:
        if url.startswith(prefix):
            payload = bytes([code]) + url[len(prefix):].encode("ascii")
            break
    else:
        raise ValueError("SDM URL must start with https:// or http://: %r" % url)
    if len(payload) > 255:
        raise ValueError("SDM URL is too long for a short NDEF record (%d bytes)" % len(payload))
    record = bytes([0xD1, 0x01, len(payload)]) + b"U" + payload
    data = len(record).to_bytes(2, "big") + record
    if len(data) > NDEF_FILE_BYTES:
        raise ValueError("NDEF file of %d bytes exceeds the tag's %d" % (len(data), NDEF_FILE_BYTES))
    return data


def offsets(ndef):
    """(PICCDataOffset, SDMMACInputOffset, SDMMACOffset) in the NDEF file: the MAC input
    is empty (no SDMEncFileData), so it starts where the MAC does (docs/nfc-sun.md)."""
    picc = ndef.index(b"?picc_data=") + len(b"?picc_data=")
    mac = ndef.index(b"&cmac=", picc) + len(b"&cmac=")
    return picc, mac, mac


def fixed_input_hex(purpose, uid_hex):
    """label || 00 || context of one derivation; context = UID, empty for the meta key."""
    context = "" if purpose == "sdm_meta_read" else (uid_hex or "{UID}")
    return (sun.KDF_LABEL_PREFIX + purpose.encode("ascii")).hex().upper() + "00" + context


def row(item):
    template = url_template(item.digital_link)
    ndef = ndef_file(template)
    picc, mac_input, mac = offsets(ndef)
    out = {"serial": item.serial, "gtin": item.gtin, "lot": item.lot or "", "digital_link": item.digital_link,
           "nfc_uid": item.nfc_uid or "", "nfc_key_ref": item.nfc_key_ref or "", "sdm_url_template": template,
           "ndef_file_hex": ndef.hex().upper(), "picc_data_offset": picc, "sdm_mac_input_offset": mac_input,
           "sdm_mac_offset": mac, "kdf": KDF}
    for slot, purpose in KEY_SLOTS:
        out["key%d_fixed_input_hex" % slot] = fixed_input_hex(purpose, item.nfc_uid)
    return out


def write_list(items, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for item in items:
            w.writerow(row(item))
    return path

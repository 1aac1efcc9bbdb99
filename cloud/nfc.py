"""The NFC tap check behind the consumer page: verify the SUN parameters of a tap
(cloud.sun), judge its counter against what this tag did before (table nfc_tag), and
check that the tag is the one bound to the item the URL names (item.nfc_uid): a
genuine tag moved onto, or a genuine tap link pasted behind, another item's address
is *suspicious*.

Keys: NFC_MASTER_KEY (hex, 16 or 32 bytes; env ONECODE_NFC_MASTER_KEY) derives every
tag's keys; an all-zero key is refused unless NFC_ALLOW_TEST_KEYS is set (demo and
tests only). Must never store anything for a tap whose MAC failed, and never hold the
row lock longer than one counter update.
"""
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud import sun
from cloud.console import webhooks
from cloud.db import get_db
from cloud.writelock import one_writer
from cloud.models import NfcTag, utcnow

SUN_PARAMS = ("picc_data", "e", "uid", "ctr", "cmac", "c", "enc")
RECENT = 16  # counters kept per tag for the clone check


class TapResult:
    def __init__(self, status, reason=None, uid=None, counter=None, taps=0):
        self.status = status    # genuine | suspicious | unavailable
        self.reason = reason    # i18n key suffix when not genuine
        self.uid = uid
        self.counter = counter
        self.taps = taps


def has_tap(args):
    return any(k in args for k in SUN_PARAMS)


def keys(app):
    master = app.config.get("NFC_MASTER_KEY")
    if not master:
        return None
    return sun.MasterKeys(bytes.fromhex(master), allow_test_keys=bool(app.config.get("NFC_ALLOW_TEST_KEYS")))


def check_tap(args, item_uid=None):
    """TapResult of the tap parameters in `args` on the page of an item whose bound
    NFC UID is `item_uid` (None: no tag is bound to it, so no tap can be its own)."""
    try:
        k = keys(current_app)
    except (ValueError, sun.ZeroKeyError):
        current_app.logger.error("NFC_MASTER_KEY is not a usable key; tap verification is off")
        k = None
    if k is None:
        return TapResult("unavailable", "nfc_not_configured")
    res = sun.verify_args(args, k)
    if not res.valid:
        return TapResult("suspicious", "tap_" + (res.reason or "malformed"))
    wrong_item = item_uid is None or item_uid.upper() != res.uid
    try:
        verdict, taps = _record(res, wrong_item)
    except IntegrityError:  # two first taps of one tag at once: the other one created the row
        verdict, taps = _record(res, wrong_item)
    if verdict != "fresh":
        return TapResult("suspicious", "tap_" + verdict, res.uid, res.counter, taps)
    if wrong_item:
        return TapResult("suspicious", "tap_wrong_item", res.uid, res.counter, taps)
    return TapResult("genuine", None, res.uid, res.counter, taps)


def _record(res, wrong_item):
    """Judge and store one authenticated tap -> (counter verdict, taps of this tag)."""
    with get_db(current_app).Session() as s, one_writer(s.get_bind()):
        row = s.scalars(select(NfcTag).where(NfcTag.uid == res.uid).with_for_update()).first()
        if row is None:
            row = NfcTag(uid=res.uid, last_counter=res.counter, recent=[], taps=0, suspicious_taps=0)
            s.add(row)
            verdict = "fresh"
        else:
            verdict = sun.judge_counter(row.last_counter, row.recent or [], res.counter)
        row.recent = (list(row.recent or []) + [res.counter])[-RECENT:]
        row.taps += 1
        row.last_tap = utcnow()
        if verdict == "fresh":
            row.last_counter = max(row.last_counter, res.counter)
        if verdict != "fresh" or wrong_item:
            row.suspicious_taps += 1
            webhooks.suspicious_tap(s, res.uid, verdict if verdict != "fresh" else "wrong_item", row.taps)
        taps = row.taps
        s.commit()
    return verdict, taps

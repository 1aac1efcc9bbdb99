"""Field checks for master-data documents (cloud.masterdata): each entry of a section
is read through an `Entry`, which refuses unknown fields and bad values with a
MasterDataError naming the place (`batches[2].expiry_date`) in English and Chinese.

GS1 rules come from the one implementation, onecode.gs1 / onecode.epc; this module
only says where they failed. Must never touch the database or the file system.
"""
import datetime

from onecode import epc as epc_codec
from onecode import gs1

HEX = "0123456789abcdefABCDEF"


class MasterDataError(ValueError):
    """Bad master data: `where` is section[index].field, `en`/`zh` say what is wrong."""

    def __init__(self, where, en, zh=None):
        super().__init__("%s: %s" % (where, en))
        self.where, self.en, self.zh = where, en, zh or en

    def bilingual(self):
        return "master data %s: %s / 主数据 %s 有误：%s" % (self.where, self.en, self.where, self.zh)


class Entry:
    """One object of a section; every getter returns a clean value or raises."""

    def __init__(self, section, index, data, fields):
        self.where = "%s[%d]" % (section, index)
        if not isinstance(data, dict):
            raise MasterDataError(self.where, "must be an object, got %s" % type(data).__name__,
                                  "须为对象（JSON object），实际为 %s" % type(data).__name__)
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise MasterDataError("%s.%s" % (self.where, unknown[0]),
                                  "unknown field (known: %s)" % ", ".join(fields),
                                  "未知字段（可用字段：%s）" % ", ".join(fields))
        self.data = data

    def fail(self, field, en, zh):
        raise MasterDataError("%s.%s" % (self.where, field), en, zh)

    def raw(self, field, required=False):
        value = self.data.get(field)
        if value is None and required:
            self.fail(field, "is required", "必填")
        return value

    def text(self, field, max_len, required=False):
        value = self.raw(field, required)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(field, "must be a string", "须为字符串")
        value = value.strip()
        if not value and required:
            self.fail(field, "must not be empty", "不能为空")
        if len(value) > max_len:
            self.fail(field, "is longer than %d characters" % max_len, "超过 %d 个字符" % max_len)
        return value or None

    def choice(self, field, options, default=None):
        value = self.text(field, 32) or default
        if value is None:
            self.fail(field, "is required", "必填")
        if value not in options:
            self.fail(field, "%r is not one of %s" % (value, ", ".join(options)),
                      "%r 不在可选值 %s 之中" % (value, ", ".join(options)))
        return value

    def gs1_value(self, field, ai, what_zh, required=False):
        value = self.text(field, 30, required)
        if value is None:
            return None
        try:
            if ai == "01":
                return gs1.gtin14(value)
            gs1.validate(ai, value)
        except ValueError as exc:
            self.fail(field, str(exc), "%s无效：%s" % (what_zh, exc))
        return value

    def gtin(self, field="gtin", required=True):
        return self.gs1_value(field, "01", "GTIN ", required)

    def date(self, field):
        value = self.text(field, 10)
        if value is None:
            return None
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            self.fail(field, "%r is not a date YYYY-MM-DD" % value, "%r 不是 YYYY-MM-DD 格式的日期" % value)

    def time(self, field):
        """ISO 8601 with a zone (Z or +08:00) -> naive UTC, as every time in the cloud."""
        value = self.text(field, 40)
        if value is None:
            return None
        try:
            dt = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            dt = None
        if dt is None or dt.tzinfo is None:
            self.fail(field, "%r is not a time with a zone, e.g. 2026-11-01T08:00:00+08:00" % value,
                      "%r 不是带时区的时间，例如 2026-11-01T08:00:00+08:00" % value)
        return dt.astimezone(datetime.timezone.utc).replace(tzinfo=None)

    def hex_id(self, field, nbytes, what_zh):
        value = self.text(field, 2 * nbytes)
        if value is None:
            return None
        if len(value) != 2 * nbytes or any(c not in HEX for c in value):
            self.fail(field, "must be %d hex digits (%d bytes): %r" % (2 * nbytes, nbytes, value),
                      "%s须为 %d 位十六进制数（%d 字节）：%r" % (what_zh, 2 * nbytes, nbytes, value))
        return value.upper()

    def sgln(self, field, value):
        """A `urn:epc:id:sgln:` URN -> (canonical URN, GLN-13, extension)."""
        try:
            e = epc_codec.from_uri(value)
        except ValueError as exc:
            self.fail(field, str(exc), "位置码（SGLN）无效：%s" % exc)
        if e.scheme != "sgln" or not value.startswith("urn:epc:id:"):
            self.fail(field, "must be an SGLN pure identity URN urn:epc:id:sgln:...: %r" % value,
                      "须为 urn:epc:id:sgln:... 形式的位置码：%r" % value)
        digits = e.company_prefix + e.reference
        return e.pure_uri, digits + str(epc_codec.check_digit(digits)), e.serial

    def entries(self, field, fields):
        """A list-valued field of objects -> [Entry] (e.g. a batch's documents)."""
        value = self.raw(field) or []
        if not isinstance(value, list):
            self.fail(field, "must be a list", "须为列表")
        return [Entry("%s.%s" % (self.where, field), i, v, fields) for i, v in enumerate(value)]

    def strings(self, field, max_len):
        value = self.raw(field) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= max_len for v in value):
            self.fail(field, "must be a list of strings of up to %d characters" % max_len,
                      "须为字符串列表（每项不超过 %d 个字符）" % max_len)
        return value

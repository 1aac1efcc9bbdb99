"""What the handheld tells its user: message keys rendered in Chinese or English, and
the buzzer pattern that goes with each answer. The dock-door portal's verification
reasons (onecode.door_check) are keys here too.

A workflow step answers with a `Reply` (a message key, its parameters, a buzz level
and the device records it produced); `Screen` renders the key in the device language
on a display and plays the buzz level's pattern. The display and buzzer are passed
in (a `show(text)` and a `play(pattern)` method each): this module must never touch
hardware nor decide what a step means. Words follow shared/GLOSSARY.md.
"""

OK = "ok"
WARN = "warn"
ERROR = "error"

# (frequency Hz, ms) steps; frequency 0 is a pause. ok: one short high beep; warn:
# two short beeps; error: one long low tone (told apart without looking).
PATTERNS = {
    OK: ((2700, 60),),
    WARN: ((2700, 60), (0, 60), (2700, 60)),
    ERROR: ((600, 400),),
}

LANGS = ("zh", "en")

# key -> (zh, en); parameters in {name} form, filled by str.format(**params)
TEXT = {
    # any workflow
    "bad_code": ("无法识别的码：{why}", "Unreadable code: {why}"),
    "not_serialised": ("无序列号：请扫描单品追溯码", "No serial number: scan the item's own code"),
    "not_used": ("此步骤不使用{what}", "{what} is not used in this step"),
    "dup": ("重复扫描：{code}", "Already scanned: {code}"),
    "full": ("已达上限 {max}：请先完成", "Limit of {max} reached: finish first"),
    "empty": ("尚未扫描任何物品", "Nothing scanned yet"),
    "cancelled": ("已取消", "Cancelled"),
    "nothing_to_cancel": ("没有可取消的操作", "Nothing to cancel"),
    "nothing_to_confirm": ("没有待确认的操作", "Nothing to confirm"),
    "closed": ("本次作业已完成，请开始新作业", "This task is finished: start a new one"),
    "scan_location": ("请先扫描位置码 (GLN)", "Scan the location (GLN) first"),
    "location": ("位置 {code}", "Location {code}"),
    "choose_task": ("请先选择作业", "Choose a task first"),
    "busy": ("存储已满，正在上传，请稍候", "Storage full, uploading: wait a moment"),  # onecode.handheld_app
    "wrong_gtin": ("商品不符：{gtin}", "Wrong product: {gtin}"),
    "not_product": ("请扫描商品或物流单元码：{code}", "Scan a product or SSCC: {code}"),
    # commission (赋码)
    "commission_ready": ("批次 {lot}：请扫描单品二维码", "Batch {lot}: scan the item QR code"),
    "read_next": ("{code}：请读取 {next}", "{code}: now read {next}"),
    "bound": ("已赋码 {code}（第 {n} 件）", "Coded {code} (item {n})"),
    "already_bound": ("已赋码，不能重复：{code}", "Already coded, one item one code: {code}"),
    "scan_qr_first": ("请先扫描单品二维码", "Scan the item QR code first"),
    "finish_item": ("请先完成 {code}（或取消）", "Finish {code} first (or Cancel)"),
    "wrong_lot": ("批次不符：{lot}，应为 {want}", "Wrong batch {lot}, expected {want}"),
    "tag_mismatch": ("{what} 标签属于其他单品：{code}", "{what} tag belongs to another item: {code}"),
    # pack / unpack (装箱 / 拆箱)
    "scan_parent": ("请先扫描箱或托盘的物流单元码 (SSCC)", "Scan the case or pallet SSCC first"),
    "parent_open": ("已打开 {code}：请扫描子级", "{code} open: scan what goes in"),
    "parent_as_child": ("{code} 是当前父级，不能作为子级", "{code} is the open parent, not a child"),
    "child_as_parent": ("{code} 已作为子级，不能作为父级", "{code} was scanned as a child, not a parent"),
    "already_packed": ("{code} 已装入 {parent}", "{code} is already in {parent}"),
    "child_added": ("已加入 {code}（{n}）", "Added {code} ({n})"),
    "child_removed": ("已取出 {code}（{n}）", "Removed {code} ({n})"),
    "packed": ("已装箱 {parent}：共 {n} 件", "Packed {parent}: {n} inside"),
    "unpacked": ("已拆箱 {parent}：取出 {n} 件", "Unpacked {parent}: {n} removed"),
    "confirm_unpack_all": ("从 {parent} 取出全部？确认 / 取消", "Remove everything from {parent}? Confirm / Cancel"),
    "unpacked_all": ("已拆箱 {parent}：全部取出", "Unpacked {parent}: everything removed"),
    # receive / put away / pick / ship (收货 / 上架 / 拣货 / 发货)
    "order_ready": ("{doc}：共 {total} 件，请扫描", "{doc}: {total} expected, scan"),
    "accepted": ("正确 {code}（{done}/{total}）", "OK {code} ({done}/{total})"),
    "not_expected": ("不在单据 {doc} 中：{code}", "Not on {doc}: {code}"),
    "over_qty": ("{gtin} 数量超出：应为 {want}", "Too many {gtin}: {want} expected"),
    "missing": ("缺少 {n} 件：按确认缺量完成，按取消继续扫描",
                "{n} missing: Confirm to finish short, Cancel to go on scanning"),
    "resume": ("请继续扫描", "Go on scanning"),
    "done": ("完成 {doc}：共 {n} 件", "Done {doc}: {n} scanned"),
    "done_short": ("完成 {doc}：缺 {n} 件", "Done {doc}: {n} missing"),
    # count (盘点)
    "counted": ("已盘点 {code}（{n}）", "Counted {code} ({n})"),
    "count_done": ("{loc} 盘点完成：共 {n} 件", "Count at {loc} done: {n}"),
    # inspect (质检)
    "pass_or_fail": ("{code}：合格还是不合格？", "{code}: Pass or Fail?"),
    "scan_item_first": ("请先扫描物品", "Scan the item first"),
    "passed": ("合格：{code}", "Passed: {code}"),
    "failed": ("不合格：{code}", "Failed: {code}"),
    "inspect_done": ("质检完成：{n} 件", "Inspection done: {n} items"),
    # dock-door verification (月台门核验, onecode.door_check); names are EPCs without urn:epc:id:
    "door_unexpected": ("{n} 个标签不在清单 {doc} 中：{names}", "{n} tag(s) not on {doc}: {names}"),
    "door_went_in": ("方向不符：{doc} 为出库，本次为入库", "Wrong direction: {doc} is outbound, this pass went in"),
    "door_went_out": ("方向不符：{doc} 为入库，本次为出库", "Wrong direction: {doc} is inbound, this pass went out"),
    "door_missing": ("{doc} 缺少 {n} 个：{names}", "{n} missing from {doc}: {names}"),
    "door_dir_unknown": ("标签与 {doc} 相符，但未能判断方向", "Tags match {doc}, direction not seen"),
    "door_to_come": ("正确：{doc} 已过 {seen}/{total}，还有 {left} 个托盘", "OK: {doc} {seen}/{total} through, {left} pallet(s) still to come"),
    "door_complete": ("正确：{doc} 已齐（{total} 个）", "OK: {doc} complete ({total})"),
}


def render(key, params=None, lang="zh"):
    """The message text; never raises (an unknown key or a missing parameter shows
    the key and the parameters, so a bug is visible but not fatal)."""
    pair = TEXT.get(key)
    if pair is None:
        return "%s %r" % (key, params or {})
    template = pair[0] if lang == "zh" else pair[1]
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError, ValueError):
        return "%s %r" % (key, params or {})


class Reply:
    """One step's answer: message key + parameters, buzz level, device records."""

    __slots__ = ("key", "params", "buzz", "records")

    def __init__(self, key, buzz=OK, records=None, **params):
        self.key = key
        self.params = params
        self.buzz = buzz
        self.records = records or []

    def __repr__(self):
        return "Reply(%s, %s, %r, %d records)" % (self.key, self.buzz, self.params, len(self.records))


class Screen:
    """Shows a reply in the device language and plays its buzz pattern. `lang` is the
    device setting ("zh" by default, "en"); anything else falls back to English."""

    def __init__(self, display, buzzer, lang="zh"):
        self.display = display
        self.buzzer = buzzer
        self.lang = lang

    def tell(self, reply):
        text = render(reply.key, reply.params, self.lang)
        self.display.show(text)
        self.buzzer.play(PATTERNS.get(reply.buzz, PATTERNS[ERROR]))
        return text

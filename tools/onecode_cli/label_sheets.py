"""Print-ready A4 sheets of QR codes for `onecode labels`: a grid of codes, each
carrying an item's GS1 Digital Link with its GS1 human-readable text under it, as one
PNG per sheet and one multi-page PDF.

segno draws the QR codes, Pillow the sheets and the PDF (black and white at 300 dpi),
one sheet in memory at a time. Must never print
anything in a code but the Digital Link it is given.
"""
import io

DPI = 300
PAGE_MM = (210, 297)        # A4 portrait
MARGIN_MM = 10
COLS, ROWS = 4, 6
PER_SHEET = COLS * ROWS
QR_ERROR = "m"              # 15 % recovery; segno raises it when the symbol stays the same size
QUIET_ZONE = 4              # modules, as ISO/IEC 18004 asks
TEXT_PX = 30                # about 2.5 mm capitals: legible, narrower than a cell


def px(mm):
    return round(mm * DPI / 25.4)


def qr_image(text, max_px):
    """The QR code of `text` as a 1-bit Pillow image no wider than max_px, whole pixels per module."""
    import segno
    from PIL import Image

    qr = segno.make_qr(text, error=QR_ERROR)
    modules = qr.symbol_size(border=QUIET_ZONE)[0]
    scale = max(1, max_px // modules)
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=scale, border=QUIET_ZONE)
    buf.seek(0)
    return Image.open(buf).convert("1")


def _font():
    from PIL import ImageFont
    return ImageFont.load_default(size=TEXT_PX)


def render_sheet(items):
    """One A4 page (Pillow image, mode "1") with up to PER_SHEET items."""
    from PIL import Image, ImageDraw

    page = Image.new("1", (px(PAGE_MM[0]), px(PAGE_MM[1])), 1)
    draw = ImageDraw.Draw(page)
    font = _font()
    cell_w = (page.width - 2 * px(MARGIN_MM)) // COLS
    cell_h = (page.height - 2 * px(MARGIN_MM)) // ROWS
    text_h = 2 * (TEXT_PX + 6)
    for n, item in enumerate(items):
        x0 = px(MARGIN_MM) + (n % COLS) * cell_w
        y0 = px(MARGIN_MM) + (n // COLS) * cell_h
        code = qr_image(item.digital_link, min(cell_w, cell_h - text_h) - 8)
        page.paste(code, (x0 + (cell_w - code.width) // 2, y0))
        y = y0 + code.height
        for line in item.hri:
            w = draw.textlength(line, font=font)
            draw.text((x0 + (cell_w - w) / 2, y), line, fill=0, font=font)
            y += TEXT_PX + 6
    return page


def write_sheets(items, out_dir, tick=lambda n: None):
    """labels-1.png ... and labels.pdf in out_dir -> the paths written; tick(n) after each sheet."""
    import os
    import re

    for name in os.listdir(out_dir):  # sheets of an earlier, longer run in the same folder
        if re.fullmatch(r"labels-\d+\.png", name):
            os.remove(os.path.join(out_dir, name))
    pdf = os.path.join(out_dir, "labels.pdf")
    paths = []
    for start in range(0, len(items), PER_SHEET):
        chunk = items[start:start + PER_SHEET]
        page = render_sheet(chunk)
        path = os.path.join(out_dir, "labels-%d.png" % (len(paths) + 1))
        page.save(path, dpi=(DPI, DPI))
        # one page at a time (an incremental update each): a page is 8.7 MB in memory
        page.save(pdf, "PDF", append=bool(paths), resolution=DPI, title="OneCode labels")
        paths.append(path)
        tick(len(chunk))
    return paths + [pdf]

"""The files of the FSMA 204 sortable spreadsheet (rows from cloud.console.fsma_rows):
CSV, UTF-8 with a BOM, in pieces for a streamed response; XLSX in openpyxl's
write-only mode with a frozen header row, an autofilter and an About sheet. Headers in
English (what the FDA reads) or Chinese.

No Flask, no database. Must never let a cell run as a formula: cells that start like
one are neutralised, and XLSX text cells are always stored as text.
"""
import csv
import datetime
import io

from cloud.console.fsma_rows import COLUMNS, element


def headers(lang="en"):
    return [zh if lang == "zh" else en for _, en, zh in COLUMNS]


def safe_cell(value):
    """A cell a spreadsheet must never run as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def cells(row):
    return [safe_cell(row[c]) for c, _, _ in COLUMNS]


def csv_chunks(rows, lang="en", per_chunk=500):
    """The CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese right) in
    pieces of text, for a streamed response."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    w.writerow(headers(lang))
    for i, row in enumerate(rows, 1):
        w.writerow(cells(row))
        if i % per_chunk == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def write_xlsx(rows, fileobj, lang="en", about=()):
    """The XLSX to `fileobj`: sheet 'FSMA 204' with a frozen header row and an
    autofilter over every column (sortable in any spreadsheet program), and a sheet
    'About' with `about` (label, value) pairs. Write-only mode: memory stays flat."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("FSMA 204")
    widths = {"cte": 18, "tlc": 30, "gtin": 16, "product": 28, "location": 40, "ship_from": 40, "ship_to": 40,
              "tlc_source": 40, "inputs": 30, "first_event": 44}
    for i, (c, _, _) in enumerate(COLUMNS, 1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(c, 14)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = "A1:%s%d" % (get_column_letter(len(COLUMNS)), len(rows) + 1)

    def text_cells(values):
        out = []
        for v in values:
            cell = WriteOnlyCell(ws, value=v)
            if isinstance(v, str):
                cell.data_type = "s"  # never a formula, whatever it starts with
            out.append(cell)
        return out
    ws.append(text_cells(headers(lang)))
    for row in rows:
        ws.append(text_cells(cells(row)))
    info = wb.create_sheet("About")
    for pair in about:
        info.append(text_cells([safe_cell(str(v)) for v in pair]))
    wb.save(fileobj)


def about(lot, start, end, n, lang="en", now=None):
    """The (label, value) pairs of the About sheet."""
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    zh = lang == "zh"
    return [("FSMA 204 可排序电子表格" if zh else "FSMA 204 electronic sortable spreadsheet", "21 CFR 1.1455(c)"),
            ("批次" if zh else "Lot", element(lot) if lot else ""),
            ("开始 (UTC)" if zh else "From (UTC)", start.isoformat() if start else ""),
            ("结束前 (UTC)" if zh else "Before (UTC)", end.isoformat() if end else ""),
            ("行数" if zh else "Rows", str(n)),
            ("生成时间 (UTC)" if zh else "Generated (UTC)", now.isoformat(timespec="seconds"))]

"""Server-side SVG charts for the console: horizontal bars, lines (several series or
one sparkline), and a small data table to go with each chart.

The console's Content-Security-Policy forbids scripts and inline styles, so a chart
is inline SVG with presentation attributes only (fill, stroke, x, y...): no `style`
attribute, no <style>, no <script>, no external asset. Each chart is `role="img"`
with a <title> and an aria-label; the page shows the same numbers in a table
(`table()`), which is what a screen reader reads. Every text is escaped here:
callers pass plain strings and get Markup back.
"""
from markupsafe import Markup, escape

# colour-blind-safe (Okabe-Ito), dark enough on white for lines and bars
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#8c6d31")
FONT = 11


def _n(value):
    """A coordinate: short, no exponent."""
    return ("%.1f" % value).rstrip("0").rstrip(".")


def _fmt(value):
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return "%.1f" % value
    return "%d" % value


def _fit(label, chars):
    """A label cut in the middle to about `chars` characters (the table has it whole)."""
    label = str(label)
    if len(label) <= chars:
        return label
    keep = max(2, chars - 1)
    return label[:keep // 2] + "…" + label[len(label) - (keep - keep // 2):]


def _open(width, height, title, css="chart"):
    t = escape(title)
    return ('<svg xmlns="http://www.w3.org/2000/svg" class="%s" role="img" aria-label="%s" width="%s" height="%s" '
            'viewBox="0 0 %s %s" preserveAspectRatio="xMinYMin meet"><title>%s</title>'
            % (css, t, _n(width), _n(height), _n(width), _n(height), t))


def bar_chart(items, title, width=640, bar=18, label_width=200, fmt=_fmt):
    """Horizontal bars: items = [(label, value)] (value >= 0 or None: no bar, shown
    as an empty row)."""
    values = [v for _, v in items if v is not None]
    top = max(values) if values and max(values) > 0 else 1
    gap = 6
    height = max(1, len(items)) * (bar + gap) + gap
    span = width - label_width - 60
    out = [_open(width, height, title)]
    for i, (label, value) in enumerate(items):
        y = gap + i * (bar + gap)
        out.append('<text x="%s" y="%s" font-size="%d" text-anchor="end" fill="#1b2127">%s</text>'
                   % (_n(label_width - 6), _n(y + bar * 0.72), FONT, escape(_fit(label, label_width // 6))))
        if value is not None:
            w = max(0.0, span * value / top)
            out.append('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>'
                       % (_n(label_width), _n(y), _n(w), _n(bar), PALETTE[0]))
            out.append('<text x="%s" y="%s" font-size="%d" fill="#1b2127">%s</text>'
                       % (_n(label_width + w + 4), _n(y + bar * 0.72), FONT, escape(fmt(value))))
    out.append("</svg>")
    return Markup("".join(out))


def line_chart(series, title, x_labels=(), width=640, height=200, css="chart"):
    """Lines over the same x positions: series = [(name, [values])]. `x_labels` are
    printed under the first, middle and last points; a legend lists the names."""
    series = [(name, list(vals)) for name, vals in series]
    n = max((len(v) for _, v in series), default=0)
    top = max((max(v) for _, v in series if v), default=0) or 1
    left, right, pad_top = 40, 10, 10
    legend = 16 * len(series) if len(series) > 1 else 0
    plot_h = height - pad_top - 24 - legend
    span = width - left - right
    out = [_open(width, height, title, css)]
    base = pad_top + plot_h
    out.append('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#8795a1" stroke-width="1"/>'
               % (_n(left), _n(base), _n(width - right), _n(base)))
    out.append('<text x="%s" y="%s" font-size="%d" text-anchor="end" fill="#4a5560">%s</text>'
               % (_n(left - 4), _n(pad_top + FONT), FONT, escape(_fmt(top))))
    out.append('<text x="%s" y="%s" font-size="%d" text-anchor="end" fill="#4a5560">0</text>'
               % (_n(left - 4), _n(base), FONT))

    def x(i):
        return left + (span * i / (n - 1) if n > 1 else span / 2)
    for k, (name, vals) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        points = " ".join("%s,%s" % (_n(x(i)), _n(base - plot_h * (v or 0) / top)) for i, v in enumerate(vals))
        if points:
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (colour, points))
        if legend:
            y = height - legend + 16 * k + 10
            out.append('<rect x="%s" y="%s" width="10" height="10" fill="%s"/>' % (_n(left), _n(y - 9), colour))
            out.append('<text x="%s" y="%s" font-size="%d" fill="#1b2127">%s</text>'
                       % (_n(left + 14), _n(y), FONT, escape(name)))
    labels = list(x_labels)
    if labels and n:
        for i in sorted({0, (n - 1) // 2, n - 1}):
            if i < len(labels):
                anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
                out.append('<text x="%s" y="%s" font-size="%d" text-anchor="%s" fill="#4a5560">%s</text>'
                           % (_n(x(i)), _n(base + 14), FONT, anchor, escape(labels[i])))
    out.append("</svg>")
    return Markup("".join(out))


def sparkline(values, title, width=120, height=24):
    """One small line, no axes (the numbers are in the table next to it)."""
    values = list(values)
    top = max(values, default=0) or 1
    n = len(values)
    pts = " ".join("%s,%s" % (_n(width * i / (n - 1) if n > 1 else width / 2),
                              _n(height - 2 - (height - 4) * (v or 0) / top)) for i, v in enumerate(values))
    return Markup('%s<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/></svg>'
                  % (_open(width, height, title, "spark"), PALETTE[0], pts))


def table(caption, headers, rows, numeric=()):
    """A data table: headers = [text], rows = [[cell]]; the columns whose index is in
    `numeric` are right-aligned numbers. The first cell of a row is its header."""
    out = ['<table class="data"><caption>%s</caption><thead><tr>' % escape(caption)]
    for i, h in enumerate(headers):
        out.append('<th scope="col"%s>%s</th>' % (' class="num"' if i in numeric else "", escape(h)))
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            tag = "th" if i == 0 else "td"
            attrs = ' scope="row"' if i == 0 else ""
            if i in numeric:
                attrs += ' class="num"'
                cell = _fmt(cell) if isinstance(cell, (int, float)) else cell
            out.append("<%s%s>%s</%s>" % (tag, attrs, escape("" if cell is None else cell), tag))
        out.append("</tr>")
    out.append("</tbody></table>")
    return Markup("".join(out))

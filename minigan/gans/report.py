"""Results pages, viewable in any browser from the run's folder (no server, no scripts):

- ``write_run_page(out_dir, title, metrics)``: ``<out>/index.html`` with the loss plot, every
  epoch's grid (newest first) and the other pictures of the run, and the metrics as tables;
- ``write_test_page(results_dir, pairs, title)``: ``<results>/index.html``, one row per image,
  input | output, as the reference's test.py writes.

Paths in the pages are relative, so a folder can be moved or copied as a whole.

    >>> write_run_page("out/cyclegan", "cyclegan", metrics)       # -> "out/cyclegan/index.html"
"""
import glob
import html
import json
import os
import re

from .. import io

_GRIDS = ("epoch_*.png", "samples_epoch*.png")
_OTHER = ("ring.png", "interpolation.png")
_STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;
text-align:left;font-size:.9em;vertical-align:top}img{image-rendering:pixelated;max-width:100%}
figure{display:inline-block;margin:0 1em 1em 0}figcaption{font-size:.85em;color:#555}"""


def _page(title, body):
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
            f"{body}\n</body></html>\n")


def _write(path, text):
    with io.atomic_write(path, "w") as f:
        f.write(text)
    return path


def _epoch_number(path):
    found = re.findall(r"(\d+)", os.path.basename(path))
    return int(found[-1]) if found else -1


def _figure(src, caption, width=None):
    size = f" width='{width}'" if width else ""
    return (f"<figure><img src='{html.escape(src)}'{size} alt='{html.escape(caption)}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _value(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return html.escape(json.dumps(v, sort_keys=True)[:300])
    return html.escape(str(v))


def _metrics_tables(metrics):
    """Scalars and small dicts as one key | value table; the per-epoch history as its own."""
    rows, parts = [], []
    for key in sorted(metrics):
        value = metrics[key]
        if key == "history" and isinstance(value, list) and value and isinstance(value[0], dict):
            columns = sorted({k for record in value for k in record},
                             key=lambda k: (k not in ("epoch", "step"), k))
            head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
            body = "".join("<tr>" + "".join(f"<td>{_value(r.get(c, ''))}</td>" for c in columns)
                           + "</tr>" for r in value)
            parts.append(f"<h2>per epoch</h2><table><tr>{head}</tr>{body}</table>")
        elif key == "config" and isinstance(value, dict):
            table = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{_value(value[k])}</td></tr>"
                            for k in sorted(value))
            parts.append(f"<h2>settings</h2><table>{table}</table>")
        elif isinstance(value, dict):
            for sub in sorted(value):
                rows.append((f"{key}.{sub}", value[sub]))
        else:
            rows.append((key, value))
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{_value(v)}</td></tr>" for k, v in rows)
    return (f"<h2>metrics</h2><table>{table}</table>" if rows else "") + "".join(parts)


def write_run_page(out_dir, title, metrics=None):
    """Write ``<out_dir>/index.html`` (see the module docstring); returns its path."""
    parts = []
    if os.path.isfile(os.path.join(out_dir, "losses.png")):
        parts.append("<h2>losses</h2>" + _figure("losses.png", "losses per step"))
    others = [name for name in _OTHER if os.path.isfile(os.path.join(out_dir, name))]
    if others:
        parts.append("<h2>results</h2>" + "".join(_figure(n, n) for n in others))
    grids = sorted({p for pattern in _GRIDS for p in glob.glob(os.path.join(
        glob.escape(out_dir), pattern))}, key=_epoch_number, reverse=True)
    if grids:
        parts.append("<h2>every epoch</h2>" + "".join(
            _figure(os.path.basename(p), f"epoch {_epoch_number(p)}", 420) for p in grids))
    parts.append(_metrics_tables(metrics or {}))
    return _write(os.path.join(out_dir, "index.html"), _page(title, "\n".join(parts)))


def write_test_page(results_dir, pairs, title):
    """Write ``<results_dir>/index.html``: a row per (input path, output path); returns its path."""
    rows = []
    for source, target in pairs:
        src = os.path.relpath(os.path.abspath(source), os.path.abspath(results_dir))
        dst = os.path.relpath(os.path.abspath(target), os.path.abspath(results_dir))
        rows.append(f"<tr><td>{_figure(src, os.path.basename(source), 256)}</td>"
                    f"<td>{_figure(dst, os.path.basename(target), 256)}</td></tr>")
    body = (f"<p>{len(pairs)} images</p><table><tr><th>input</th><th>output</th></tr>"
            + "".join(rows) + "</table>")
    return _write(os.path.join(results_dir, "index.html"), _page(title, body))

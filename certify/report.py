# ruff: noqa: E501 - SVG and CSS read better one element to a line
"""The report: the table printed on the terminal, the JSON, and a self-contained HTML
page (inline CSS and SVG charts, no script, no external asset: it opens offline and
under a strict Content-Security-Policy)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

THRESHOLD_NOTE = {
    "burst": "p95 < 5 s, every order confirmed on every channel",
    "concurrent": "ledger = truth, every oversold unit in an incident, channels show what is left",
    "recovery": "retries, DLQ, circuit opens and closes, full convergence",
    "bulk": "every listing confirmed, 0 rate-limit violations, nothing dropped",
    "audit": "inbound event, movement, push, confirmation, decision, in order",
}


# --- the terminal ------------------------------------------------------------------------


def table(report: dict[str, Any]) -> str:
    rows = [("test", "measured", "figures", "result")]
    for test in report["tests"]:
        figures = test["figures"].get("summary") or "; ".join(test["reasons"])
        verdict = test["status"].upper()
        if test["status"] == "fail":
            figures = "; ".join(test["reasons"])
        rows.append((test["name"], test["measures"], figures, verdict))
    widths = [10, 46, 70, 6]
    lines = []
    for index, row in enumerate(rows):
        wrapped = [_wrap(cell, width) for cell, width in zip(row, widths, strict=True)]
        height = max(len(w) for w in wrapped)
        for line in range(height):
            lines.append(
                "  ".join(
                    (w[line] if line < len(w) else "").ljust(width)
                    for w, width in zip(wrapped, widths, strict=True)
                ).rstrip()
            )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    verdict = _verdict(report)
    lines.append("")
    lines.append(f"certify: {verdict} in {report['seconds']:.0f} s")
    return "\n".join(lines)


def _verdict(report: dict[str, Any]) -> str:
    """PASS or FAIL with the tests that failed, and the ones that were skipped: a pass
    with skips certifies only what ran, and a run of skips certifies nothing."""
    skipped = sorted(report.get("skipped") or {})
    if report["status"] == "pass":
        return f"PASS ({len(skipped)} skipped: {', '.join(skipped)})" if skipped else "PASS"
    if report["failed"]:
        return f"FAIL ({', '.join(report['failed'])})"
    return "FAIL (nothing certified: every test was skipped)"


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = str(text).split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines or [""]


# --- files ------------------------------------------------------------------------------


def paths(base: str) -> tuple[Path, Path]:
    """--report FILE writes FILE.json and FILE.html (an extension given is dropped)."""
    path = Path(base)
    if path.suffix in (".json", ".html"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".json"), path.with_name(path.name + ".html")


def write(report: dict[str, Any], base: str) -> tuple[Path, Path]:
    json_path, html_path = paths(base)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    html_path.write_text(html(report))
    return json_path, html_path


# --- the page ---------------------------------------------------------------------------

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.meta{color:#5b6475;font-size:13px}
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;font-weight:600;color:#fff}
.pass{background:#1e7d43}.fail{background:#b3261e}.skip{background:#7a7f8a}
table{border-collapse:collapse;width:100%;background:#fff;margin:8px 0}
th,td{border:1px solid #d9dde5;padding:6px 8px;text-align:left;vertical-align:top;font-size:14px}
th{background:#eef0f4}
td.ok{color:#1e7d43;font-weight:600}td.no{color:#b3261e;font-weight:600}
section{background:#fff;border:1px solid #d9dde5;border-radius:6px;padding:12px 16px;margin:16px 0}
svg{display:block;max-width:100%;height:auto;background:#fbfcfd;border:1px solid #e4e7ee}
code,pre{font:13px ui-monospace,monospace}pre{white-space:pre-wrap;background:#f3f4f7;padding:8px}
"""


def html(report: dict[str, Any]) -> str:
    status = report["status"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Certify {escape(status.upper())} · Inventory Hub</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>Inventory Hub: the buyer's five tests</h1>",
        f"<p><span class='verdict {status}'>{escape(_verdict(report))}</span> "
        f"<span class='meta'>{escape(report['started_at'])} · {report['seconds']:.0f} s · "
        f"run {escape(report.get('run_id') or '-')} · {escape(report.get('git', ''))}</span></p>",
        _machine(report),
        "<table><tr><th>test</th><th>measured</th><th>figures</th><th>threshold</th>"
        "<th>result</th></tr>",
    ]
    for test in report["tests"]:
        figures = test["figures"].get("summary") or "; ".join(test["reasons"])
        parts.append(
            f"<tr><td><a href='#{test['name']}'>{escape(test['name'])}</a></td>"
            f"<td>{escape(test['measures'])}</td><td>{escape(str(figures))}</td>"
            f"<td>{escape(THRESHOLD_NOTE.get(test['name'], ''))}</td>"
            f"<td class='{'ok' if test['status'] == 'pass' else 'no'}'>"
            f"{escape(test['status'].upper())}</td></tr>"
        )
    parts.append("</table>")
    for test in report["tests"]:
        parts.append(_section(test))
    parts.append("<h2>Run</h2><section>")
    parts.append("".join(f"<p>{escape(note)}</p>" for note in report.get("notes", [])))
    parts.append(
        f"<p>Channels: {escape(', '.join(c['slug'] for c in report.get('channels', [])))}</p>"
    )
    parts.append(
        f"<p>Clean-up: <code>{escape(json.dumps(report.get('cleanup'), default=str))}</code></p>"
    )
    parts.append("</section></main></body></html>")
    return "".join(parts)


def _machine(report: dict[str, Any]) -> str:
    m = report.get("machine", {})
    return (
        f"<p class='meta'>Machine: {escape(str(m.get('nproc')))} cores, "
        f"{escape(str(m.get('cpu', '')))}, {escape(str(m.get('memory', '')))}</p>"
    )


def _section(test: dict[str, Any]) -> str:
    name = test["name"]
    out = [
        f"<h2 id='{escape(name)}'>{escape(test['title'])} "
        f"<span class='verdict {test['status']}'>{escape(test['status'].upper())}</span></h2>",
        f"<section><p>{escape(test['measures'])} ({test['seconds']:.1f} s)</p>",
    ]
    if test["thresholds"]:
        out.append("<table><tr><th>criterion</th><th>found</th><th></th></tr>")
        for t in test["thresholds"]:
            out.append(
                f"<tr><td>{escape(t['label'])}</td><td>{escape(t['found'])}</td>"
                f"<td class='{'ok' if t['ok'] else 'no'}'>{'pass' if t['ok'] else 'FAIL'}</td></tr>"
            )
        out.append("</table>")
    elif test["reasons"]:
        out.append(f"<p>{escape('; '.join(test['reasons']))}</p>")
    chart = CHARTS.get(name)
    if chart is not None and test["series"]:
        out.append(chart(test))
    figures = {k: v for k, v in test["figures"].items() if k != "summary"}
    if figures:
        out.append("<table>")
        for key, value in figures.items():
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
            out.append(f"<tr><th>{escape(key)}</th><td>{escape(str(shown))}</td></tr>")
        out.append("</table>")
    if name == "audit" and test["detail"].get("trail"):
        out.append(
            "<table><tr><th>#</th><th>at</th><th>step</th><th>channel</th><th>what</th></tr>"
        )
        for index, entry in enumerate(test["detail"]["trail"], 1):
            out.append(
                f"<tr><td>{index}</td><td>{escape(entry['at'][11:23])}</td>"
                f"<td>{escape(entry['type'])}</td><td>{escape(entry.get('channel') or '')}</td>"
                f"<td>{escape(entry['summary'])}</td></tr>"
            )
        out.append("</table>")
    out.append("</section>")
    return "".join(out)


# --- charts (inline SVG) ----------------------------------------------------------------

W, H, PAD = 640, 220, 40


def _axes(x_label: str, y_label: str, y_max: float, y_fmt) -> list[str]:
    parts = [
        f"<line x1='{PAD}' y1='{H - PAD}' x2='{W - 10}' y2='{H - PAD}' stroke='#888'/>",
        f"<line x1='{PAD}' y1='10' x2='{PAD}' y2='{H - PAD}' stroke='#888'/>",
        f"<text x='{W // 2}' y='{H - 8}' font-size='12' text-anchor='middle'>{escape(x_label)}</text>",
        f"<text x='4' y='14' font-size='12'>{escape(y_label)}</text>",
    ]
    for frac in (0.5, 1.0):
        y = H - PAD - frac * (H - PAD - 20)
        parts.append(
            f"<text x='{PAD - 4}' y='{y + 4:.0f}' font-size='11' text-anchor='end'>{y_fmt(y_max * frac)}</text>"
        )
        parts.append(f"<line x1='{PAD}' y1='{y:.0f}' x2='{W - 10}' y2='{y:.0f}' stroke='#eee'/>")
    return parts


def _svg(parts: list[str], title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {W} {H}' role='img' "
        f"aria-label='{escape(title)}'><title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def burst_chart(test: dict[str, Any]) -> str:
    """Each order's latency, in the order they were sent; the 5 s line in red."""
    values = test["series"].get("latencies_ms") or []
    finite = [v for v in values if v is not None]
    y_max = max([5000.0, *finite]) * 1.1
    parts = _axes(
        "orders (in the order sent)", "seconds to every channel", y_max, lambda v: f"{v / 1000:.1f}"
    )
    span = W - PAD - 20
    y5 = H - PAD - 5000 / y_max * (H - PAD - 20)
    parts.append(
        f"<line x1='{PAD}' y1='{y5:.1f}' x2='{W - 10}' y2='{y5:.1f}' stroke='#b3261e' stroke-dasharray='4 3'/>"
    )
    parts.append(
        f"<text x='{W - 12}' y='{y5 - 4:.1f}' font-size='11' fill='#b3261e' text-anchor='end'>5 s</text>"
    )
    n = max(len(values), 1)
    for index, value in enumerate(values):
        x = PAD + 10 + index * span / n
        if value is None:
            parts.append(f"<text x='{x:.1f}' y='24' font-size='11' fill='#b3261e'>x</text>")
            continue
        y = H - PAD - value / y_max * (H - PAD - 20)
        parts.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='#2f6fb3'/>")
    return _svg(parts, "burst latency per order")


def recovery_chart(test: dict[str, Any]) -> str:
    """The failing channel's circuit over time: closed, half-open, open."""
    samples = test["series"].get("circuit") or []
    if not samples:
        return ""
    levels = {"closed": 0, "half_open": 1, "open": 2}
    t_max = max(t for t, _ in samples) or 1
    parts = _axes(
        "seconds since the fault began", "circuit", 2, lambda v: "open" if v >= 2 else "half"
    )
    points = " ".join(
        f"{PAD + t / t_max * (W - PAD - 20):.1f},{H - PAD - levels.get(s, 0) / 2 * (H - PAD - 20):.1f}"
        for t, s in samples
    )
    parts.append(f"<polyline points='{points}' fill='none' stroke='#b3261e' stroke-width='2'/>")
    return _svg(parts, "circuit state of the failing channel")


def bulk_chart(test: dict[str, Any]) -> str:
    """Seconds until each channel confirmed every listing."""
    per = test["series"].get("confirmed_seconds_per_channel") or {}
    if not per:
        return ""
    y_max = max(per.values()) * 1.15 or 1
    parts = _axes("channel", "seconds to all confirmed", y_max, lambda v: f"{v:.0f}")
    width = (W - PAD - 20) / max(len(per), 1)
    for index, (slug, seconds) in enumerate(sorted(per.items(), key=lambda kv: kv[1])):
        height = seconds / y_max * (H - PAD - 20)
        x = PAD + 6 + index * width
        parts.append(
            f"<rect x='{x:.1f}' y='{H - PAD - height:.1f}' width='{width - 12:.1f}' height='{height:.1f}' fill='#2f6fb3'/>"
        )
        parts.append(
            f"<text x='{x + (width - 12) / 2:.1f}' y='{H - PAD - height - 4:.1f}' font-size='11' text-anchor='middle'>{seconds:.1f} s</text>"
        )
        parts.append(
            f"<text x='{x + (width - 12) / 2:.1f}' y='{H - PAD + 14:.1f}' font-size='10' text-anchor='middle'>{escape(slug.rsplit('-', 1)[-1])}</text>"
        )
    return _svg(parts, "bulk: seconds per channel")


CHARTS = {"burst": burst_chart, "recovery": recovery_chart, "bulk": bulk_chart}

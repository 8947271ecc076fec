"""Renders Slack messages (attachments with Block Kit blocks, as the Slack double recorded
them) into an HTML page that imitates Slack's layout, for the pictures in docs/slack.md.
It is an approximation, not Slack's client.

    python3 slack-mock.py dump.json out-dir   # then: chromium --headless --screenshot ...
"""
import html
import json
import re
import sys


def mrkdwn(text):
    fences = []

    def keep_fence(m):
        fences.append(m.group(1))
        return f"\x00{len(fences) - 1}\x00"

    text = re.sub(r"```\n?(.*?)\n?```", keep_fence, text, flags=re.S)
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    links = []

    def keep_link(m):
        url, _, label = m.group(1).partition("|")
        links.append((url, label or url))
        return f"\x01{len(links) - 1}\x01"

    text = re.sub(r"<([^>\s]+(?:\|[^>]*)?)>", keep_link, text)
    text = html.escape(html.unescape(text), quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"(^|\W)\*([^*\n]+)\*", r"\1<b>\2</b>", text)
    text = re.sub(r"(^|\W)_([^_\n]+)_", r"\1<i>\2</i>", text)
    text = re.sub(r"(^|\W)~([^~\n]+)~", r"\1<s>\2</s>", text)
    text = re.sub(r"\x01(\d+)\x01", lambda m: f'<a href="#">{html.escape(html.unescape(links[int(m.group(1))][1]))}</a>', text)
    text = text.replace("\n", "<br>")
    return re.sub(r"\x00(\d+)\x00", lambda m: f"<pre>{html.escape(html.unescape(fences[int(m.group(1))]))}</pre>", text)


def block(b):
    t = b["type"]
    if t == "header":
        return f'<div class="header">{html.escape(b["text"]["text"])}</div>'
    if t == "context":
        return '<div class="context">' + " ".join(f"<span>{mrkdwn(e['text'])}</span>" for e in b["elements"]) + "</div>"
    if t == "section" and "fields" in b:
        return '<div class="fields">' + "".join(f"<div>{mrkdwn(f['text'])}</div>" for f in b["fields"]) + "</div>"
    if t == "section":
        return f'<div class="section">{mrkdwn(b["text"]["text"])}</div>'
    if t == "divider":
        return "<hr>"
    if t == "actions":
        return '<div class="actions">' + "".join(f'<span class="button">{html.escape(e["text"]["text"])}</span>' for e in b["elements"]) + "</div>"
    if t == "table":
        rows = b["rows"]
        head = "".join(f"<th>{html.escape(c['text'])}</th>" for c in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c['text'])}</td>" for c in r) + "</tr>" for r in rows[1:])
        return f"<table><tr>{head}</tr>{body}</table>"
    return ""


STYLE = """
body{font-family:'DejaVu Sans',Lato,sans-serif;font-size:15px;color:#1d1c1d;background:#fff;margin:0;padding:16px;width:760px}
.msg{display:flex;gap:10px}.avatar{width:36px;height:36px;border-radius:6px;background:#4a154b;color:#fff;display:flex;align-items:center;justify-content:center;font-weight:bold}
.name{font-weight:bold}.name small{color:#616061;font-weight:normal;margin-left:6px}
.att{display:flex;margin-top:6px}.bar{width:4px;border-radius:4px;margin-right:12px}.blocks{flex:1}
.header{font-size:18px;font-weight:bold;margin:4px 0 8px}.context{color:#616061;font-size:12px;margin:4px 0}.context span{margin-right:10px}
.section{margin:6px 0;line-height:1.45}.fields{display:grid;grid-template-columns:1fr 1fr;gap:8px;margin:6px 0}
code{background:#f6f6f6;border:1px solid #ddd;border-radius:3px;color:#e01e5a;padding:0 3px;font-size:13px}
pre{background:#f8f8f8;border:1px solid #ddd;border-radius:4px;padding:8px;font-size:12px;margin:4px 0}
.actions{margin:8px 0}.button{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:3px 12px;margin-right:8px;font-weight:bold;font-size:13px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}th,td{border:1px solid #ddd;padding:4px 10px;text-align:left}th{background:#f8f8f8}
hr{border:none;border-top:1px solid #ddd}a{color:#1264a3;text-decoration:none}.thread{color:#1264a3;font-size:13px;font-weight:bold;margin-top:6px}
"""


def page(attachments, thread_note):
    att = attachments[0]
    blocks = "".join(block(b) for b in att["blocks"])
    return f"""<html><head><meta charset="utf-8"><style>{STYLE}</style></head><body>
<div class="msg"><div class="avatar">C</div><div style="flex:1"><div class="name">cano-collector <small>APP 07:43</small></div>
<div class="att"><div class="bar" style="background:{att['color']}"></div><div class="blocks">{blocks}</div></div>
<div class="thread">{thread_note}</div></div></div></body></html>"""


if __name__ == "__main__":
    dump = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    open(f"{out}/slack-firing.html", "w").write(page(dump["firing"], "1 reply (worker.log)"))
    open(f"{out}/slack-resolved.html", "w").write(page(dump["resolved"], "3 replies"))

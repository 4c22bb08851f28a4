#!/usr/bin/python3
"""Parses an HTML file with html5lib (a WHATWG-conformant parser) and prints a
JSON summary the C++ test asserts on: parse errors, element counts, the text a
reader sees, and every URL-bearing attribute."""
import json
import sys

import html5lib

NS = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"

with open(sys.argv[1], "rb") as f:
    data = f.read()
parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"), namespaceHTMLElements=True)
doc = parser.parse(data)
errors = [f"{pos}: {code} {args}" for pos, code, args in parser.errors]

counts, urls, ids, texts = {}, [], [], []
for el in doc.iter():
    tag = el.tag if isinstance(el.tag, str) else ""
    name = tag.replace(NS, "").replace(SVG, "svg:")
    counts[name] = counts.get(name, 0) + 1
    for attr, value in el.attrib.items():
        if attr in ("src", "href", "action", "data", "poster", "srcset", "xlink:href") or attr.endswith("}href"):
            urls.append(value)
        if attr.startswith("on"):
            urls.append("event-handler:" + attr)
        if attr == "id":
            ids.append(value)
h1 = doc.find(f".//{NS}h1")
print(json.dumps({
    "errors": errors,
    "counts": counts,
    "urls": urls,
    "ids": ids,
    "h1": "".join(h1.itertext()) if h1 is not None else "",
    "text": "".join(doc.find(f"{NS}body").itertext()),
}))

#!/usr/bin/env python3
"""A scripted stand-in for a web browser, for end-to-end tests of `tokvault` sign-ins.

Usage: $BROWSER URL   (the CLI runs it with the authorize URL, in the background)

It sends the authorize GET without following redirects, then delivers the answer to the
redirect target (normally the CLI's loopback listener). A redirect that carries no
authorization response (no `code`, no `error`: tokvault's one-time start page, which sends
the browser on to the authorize URL) is followed first, up to 5 hops.
  302 ........................ GET the Location URL (fragment dropped, as a browser does)
  200 form_post page ......... POST the form's hidden inputs, urlencoded, to its action
  anything else .............. exit 1

SCRIPTED_BROWSER_MODE:
  normal (default)  deliver as received
  wrong-state       alter the state parameter before delivering
  no-state          drop the state parameter
  favicon-first     GET /favicon.ico on the redirect target first, then deliver
  never             do nothing (a user who never signs in)
  log               append the URL to the file named by SCRIPTED_BROWSER_LOG; visit nothing
  record            append the URL to SCRIPTED_BROWSER_LOG, then deliver as received

Python 3 standard library only. It prints nothing on success and never prints URLs, codes,
states or page contents (they may carry secrets); errors go to stderr as one short line.
"""

import html.parser
import http.client
import os
import sys
import urllib.parse

TIMEOUT = 10  # seconds per connection
MAX_BODY = 1 << 20
MODES = ("normal", "wrong-state", "no-state", "favicon-first", "never", "log", "record")
MAX_HOPS = 5


def fail(message):
    sys.stderr.write("scripted-browser: %s\n" % message)
    sys.exit(1)


def request(method, url, body=None, headers=None):
    """One HTTP request, no redirect following. Returns (status, headers, body bytes)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "http":
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=TIMEOUT)
    elif parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=TIMEOUT)
    else:
        fail("unsupported URL scheme %r" % parts.scheme)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read(MAX_BODY)
        return response.status, response, data
    finally:
        conn.close()


class FormParser(html.parser.HTMLParser):
    """Collects the first <form>'s action and method and its named <input> values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.action = None
        self.method = None
        self.fields = []
        self.in_form = False
        self.done = False

    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        attrs = {k.lower(): (v if v is not None else "") for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = attrs.get("action", "")
            self.method = attrs.get("method", "GET").upper()
            self.in_form = True
        elif tag == "input" and self.in_form:
            kind = attrs.get("type", "text").lower()
            if kind in ("hidden", "text") and attrs.get("name"):
                self.fields.append((attrs["name"], attrs.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form" and self.in_form:
            self.in_form = False
            self.done = True


def adjust(pairs, mode):
    """Applies the state tampering of `mode` to a list of (name, value) pairs."""
    if mode == "wrong-state":
        if any(name == "state" for name, _ in pairs):
            return [(n, v + "-tampered" if n == "state" else v) for n, v in pairs]
        return pairs + [("state", "tampered")]
    if mode == "no-state":
        return [(n, v) for n, v in pairs if n != "state"]
    return pairs


def favicon(url):
    parts = urllib.parse.urlsplit(url)
    try:
        request("GET", urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/favicon.ico", "", "")))
    except OSError:
        pass  # a browser does not care either


def deliver_redirect(location, mode):
    parts = urllib.parse.urlsplit(location)
    query = parts.query
    if mode in ("wrong-state", "no-state"):
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = urllib.parse.urlencode(adjust(pairs, mode))
    # Like a browser: the fragment stays client-side, the query goes out as received.
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    if mode == "favicon-first":
        favicon(url)
    request("GET", url, headers={"Accept": "text/html"})


def deliver_form(page, base_url, mode):
    parser = FormParser()
    parser.feed(page.decode("utf-8", "replace"))
    if not parser.action:
        fail("the 200 page has no form to submit")
    action = urllib.parse.urljoin(base_url, parser.action)
    fields = adjust(parser.fields, mode)
    if mode == "favicon-first":
        favicon(action)
    body = urllib.parse.urlencode(fields)
    if parser.method == "POST":
        request("POST", action, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        sep = "&" if urllib.parse.urlsplit(action).query else "?"
        request("GET", action + sep + body)


def main():
    if len(sys.argv) != 2:
        fail("usage: scripted-browser.py URL")
    url = sys.argv[1]
    mode = os.environ.get("SCRIPTED_BROWSER_MODE", "normal") or "normal"
    if mode not in MODES:
        fail("unknown SCRIPTED_BROWSER_MODE %r" % mode)
    if mode == "never":
        return 0
    if mode in ("log", "record"):
        path = os.environ.get("SCRIPTED_BROWSER_LOG")
        if not path:
            fail("SCRIPTED_BROWSER_LOG is not set")
        with open(path, "a", encoding="utf-8") as log:
            log.write(url + "\n")
        if mode == "log":
            return 0
        mode = "normal"
    try:
        for _ in range(MAX_HOPS + 1):
            status, response, data = request("GET", url, headers={"Accept": "text/html"})
            if status not in (301, 302, 303, 307, 308):
                break
            location = response.getheader("Location")
            if not location:
                fail("redirect without Location")
            location = urllib.parse.urljoin(url, location)
            names = {name for name, _ in urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query, keep_blank_values=True)}
            if "code" in names or "error" in names:
                deliver_redirect(location, mode)
                return 0
            url = location
        else:
            fail("too many redirects")
        if status == 200 and b"<form" in data.lower():
            deliver_form(data, url, mode)
            return 0
        fail("authorize answered HTTP %d" % status)
    except OSError as error:
        fail("connection failed: %s" % error.__class__.__name__)
    return 1


if __name__ == "__main__":
    sys.exit(main())

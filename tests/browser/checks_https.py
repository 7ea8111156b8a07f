"""The browser suite's HTTPS checks: the pages of a second stack with TLS=self-signed, in
a secure context, nothing loaded over plain HTTP or from elsewhere. A mixin of
browser.suite.Suite."""
import base64
import hashlib
import re
import ssl
import subprocess

from browser import site


def spki_sha256(cert_path):
    """The base64 SHA-256 of a certificate's public key, as Chromium's
    --ignore-certificate-errors-spki-list takes it: that browser then accepts this one key
    without a trusted issuer, and no other."""
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    pub = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-pubkey"], input=der,
                         capture_output=True, check=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                          capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()



class HttpsChecks:
    # -- HTTPS
    def https_pages(self):
        """The pages over HTTPS: nothing loaded over plain HTTP or from elsewhere, no mixed
        content warning, no console error, no CSP violation; and plain HTTP leads there."""
        b = self.browser
        b.set_viewport("desktop")
        base = self.tls_base()
        for page in site.HTTPS_PAGES:
            with self.r.check("https: %s over HTTPS, every request https://127.0.0.1:%d, no mixed content, "
                              "no console error" % (page.path, self.tls_stack.https_port)) as p:
                urls, console = b.load(base + page.path)
                f = self.facts()
                where = b.js("return [location.href, window.isSecureContext]")
                if where != [base + page.path, True]:
                    p.append("the page is %s (secure context: %s)" % tuple(where))
                if len(f["h1"]) != 1 or not re.search(site.expected_h1(page.path), f["h1"][0]):
                    p.append("h1 is %r" % f["h1"])
                if not any(u == base + "/static/style.css" for u in urls):
                    p.append("the stylesheet was not loaded over HTTPS")
                off = sorted(set(u for u in urls if not (u.startswith(base + "/") or u.startswith("data:"))))
                if off:
                    p.append("requests not to %s: %s" % (base, ", ".join(off[:5])))
                for e in console:
                    msg = e.get("message", "")
                    if e.get("level") == "SEVERE" or "Mixed Content" in msg or "insecure" in msg.lower():
                        p.append("console %s: %s" % (e.get("level"), msg[:200]))
                if f["csp"] is None:
                    p.append("the securitypolicyviolation recorder did not run")
                elif f["csp"]:
                    p.append("securitypolicyviolation: %s" % "; ".join(f["csp"][:3]))
                if page.path == "/count" and (f["visits"] or "").strip() != str(self.tls_stack.visits()):
                    p.append("#visits %r, Redis holds %d" % (f["visits"], self.tls_stack.visits()))
        with self.r.check("https: http://127.0.0.1:%d/count?from=http leads to the same page over HTTPS"
                          % self.tls_stack.port) as p:
            b.load("http://127.0.0.1:%d/count?from=http" % self.tls_stack.port)
            where = b.js("return location.href")
            if where != base + "/count?from=http":
                p.append("landed on %s" % where)

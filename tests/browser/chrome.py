"""One headless Chromium under chromedriver (Debian's chromium, chromium-driver and
python3-selenium), as the browser suite drives it: fixed viewports, the DevTools
performance log (every request) and console log, a recorder of CSP violations, settling
after a load, key presses, screenshots.

Needs selenium: import it only after checking that it can be imported (tests/browser/run.py).
"""
import json
import struct
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains

VIEWPORTS = {
    "desktop": {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
    "phone": {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
}
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--window-size=1280,800", "--hide-scrollbars", "--force-color-profile=srgb",
               "--lang=en-US", "--disable-extensions", "--disable-default-apps",
               "--no-default-browser-check", "--mute-audio"]


def png_size(data):
    """(width, height) of a PNG, or None when data is not one."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


JS_CSP_RECORDER = """
window.__ktCsp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__ktCsp.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
}, true);
"""


class Browser:
    """One Chromium under chromedriver, with its DevTools performance and console logs."""

    def __init__(self, chromium, chromedriver, user_dir, javascript=True, extra_args=()):
        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium
        for a in CHROME_ARGS + list(extra_args):
            opts.add_argument(a)
        opts.add_argument("--user-data-dir=" + user_dir)
        if not javascript:
            opts.add_argument("--blink-settings=scriptEnabled=false")
            opts.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        opts.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
        self.service = Service(chromedriver)
        self.driver = webdriver.Chrome(service=self.service, options=opts)
        self.driver.set_page_load_timeout(20)
        self.driver.set_script_timeout(20)
        self.all_requests = []      # every URL requested since start (after the first drain)
        self.all_console = []       # every console entry since start
        self.pending = set()
        self.viewport = None
        # Chromium's own start page (chrome:// resources) is not the site's: start clean.
        self.driver.get("about:blank")
        time.sleep(0.2)
        self.drain()
        self.all_requests = []
        self.all_console = []
        if javascript:
            self.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": JS_CSP_RECORDER})
        # Screenshots of the settled page: animations run to their end at once.
        self.cdp("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})

    def cdp(self, cmd, params=None):
        return self.driver.execute_cdp_cmd(cmd, params or {})

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def set_viewport(self, name):
        if self.viewport != name:
            self.cdp("Emulation.setDeviceMetricsOverride", VIEWPORTS[name])
            self.viewport = name

    def drain(self):
        """Reads both logs. Returns (requested URLs, console entries) since the last drain;
        keeps them all in all_requests and all_console too."""
        urls = []
        for entry in self.driver.get_log("performance"):
            try:
                msg = json.loads(entry["message"])["message"]
            except (KeyError, ValueError):
                continue
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Network.requestWillBeSent":
                urls.append(params["request"]["url"])
                self.pending.add(params.get("requestId"))
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                self.pending.discard(params.get("requestId"))
        self.all_requests += urls
        console = self.driver.get_log("browser")
        self.all_console += console
        return urls, console

    def load(self, url, quiet_ms=150, limit_s=4.0):
        """Opens url and waits until the document, its subresources and animations are done
        and the network has been quiet for quiet_ms. Returns (requested URLs, console)."""
        self.drain()
        self.pending.clear()
        self.driver.get(url)
        return self.settle(quiet_ms, limit_s)

    def settle(self, quiet_ms=150, limit_s=4.0):
        urls, console = [], []
        t0 = time.monotonic()
        quiet_since = time.monotonic()
        while time.monotonic() - t0 < limit_s:
            u, c = self.drain()
            urls += u
            console += c
            if u or c:
                quiet_since = time.monotonic()
            ready = self.js("return document.readyState === 'complete' && "
                            "(!document.getAnimations || document.getAnimations()"
                            ".every(a => a.playState !== 'running'))")
            if ready and not self.pending and (time.monotonic() - quiet_since) * 1000 >= quiet_ms:
                break
            time.sleep(0.05)
        return urls, console

    def screenshot(self):
        return self.driver.get_screenshot_as_png()

    def send(self, key):
        """Presses a key, as a user would, without waiting for anything."""
        ActionChains(self.driver).send_keys(key).perform()

    def press(self, key):
        """Presses a key, then waits until focus has moved (when it does) and two frames have
        been drawn, so that styles read next are those of the new state."""
        before = self.js("return document.activeElement")
        self.send(key)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and self.js("return document.activeElement") == before:
            time.sleep(0.02)
        self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "requestAnimationFrame(() => requestAnimationFrame(() => done()));")

    def quit(self):
        # Teardown on every exit path, also after chromedriver or Chromium died: each half
        # is tried, and neither may hide the failure that brought us here.
        try:
            self.driver.quit()
        except Exception:
            pass
        try:
            self.service.stop()
        except Exception:
            pass


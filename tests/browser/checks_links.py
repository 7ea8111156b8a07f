"""The browser suite's link checks: every link leads where its name says (LINK_TARGETS),
clicked, or followed with the keyboard for the skip link; the JSON and CSV links fetched.
A mixin of browser.suite.Suite."""
import re
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser import site
from lib.stack import http_get


class LinkChecks:
    def links(self, page, everything):
        """Checks every link's name and target; follows the on-site ones (desktop) and checks
        where they land. The header and footer are the same on every page: their links are
        followed on the first page only (everything=True), the links in <main> everywhere."""
        with self.r.check("%s: links lead where they say" % page.name) as p:
            b = self.browser
            b.set_viewport("desktop")
            b.load(self.url(page.path))
            anchors = b.driver.find_elements(By.CSS_SELECTOR, "a[href]")
            names = [(a.accessible_name or "").strip() for a in anchors]
            hrefs = [a.get_attribute("href") for a in anchors]
            rels = [a.get_attribute("rel") or "" for a in anchors]
            in_main = b.js("return [...document.querySelectorAll('a[href]')].map(a => !!a.closest('main'))")
            clicked = 0
            for i, name in enumerate(names):
                target = site.LINK_TARGETS.get(name)
                if target is None:
                    p.append("link %r (%s) is not in site.LINK_TARGETS: where should it lead?" % (name, hrefs[i]))
                    continue
                if target.startswith("http"):
                    # Off-site: compared with the configured URL, never followed (the browser
                    # must not leave the local host).
                    if hrefs[i] != target:
                        p.append("%r points to %s, configured %s" % (name, hrefs[i], target))
                    if "noopener" not in rels[i].split():
                        p.append("%r lacks rel=noopener" % name)
                    continue
                skip = target.startswith("#")
                # The whole URL, query included: "7 days" must not lead to plain /stats.
                want = self.url(page.path) + target if skip else self.url(target)
                if hrefs[i] != want:
                    p.append("%r points to %s, expected %s" % (name, hrefs[i], want))
                    continue
                if target.split("?")[0] in site.DATA_TYPES:
                    self.fetch_data_link(name, target, p)
                    continue
                if not (everything or in_main[i]):
                    continue
                b.load(self.url(page.path))
                if skip:
                    followed = self.follow_skip_link(name, target, want, p)
                else:
                    followed = self.click_link(i, name, target, want, p)
                clicked += followed
            if clicked == 0:
                p.append("no link was followed")

    def fetch_data_link(self, name, target, p):
        """Fetches the target of a link to data (JSON, CSV) outside the browser: it must
        answer 200 with the content type site.DATA_TYPES gives. Problems go to p."""
        r = http_get(self.stack.port, target)
        ctype = r.header("Content-Type") or ""
        want = site.DATA_TYPES[target.split("?")[0]]
        if r.status != 200:
            p.append("%r: %s answered %d" % (name, target, r.status))
        elif ctype.split(";")[0].strip() != want:
            p.append("%r: %s has Content-Type %r, expected %s" % (name, target, ctype, want))

    def follow_skip_link(self, name, target, want, p):
        """Reaches the skip link with the first Tab and follows it with Enter: the URL gets
        the fragment and focus moves to the target. Returns whether the link was followed;
        problems go to p."""
        b = self.browser
        b.js("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);")
        b.press(Keys.TAB)
        first = b.js("const a = document.activeElement, r = a.getBoundingClientRect();"
                     "return [a.textContent.trim(), r.top >= 0 && r.bottom <= innerHeight && r.left >= 0];")
        if first[0] != name:
            p.append("the first Tab focuses %r, not %r" % (first[0], name))
            return False
        if not first[1]:
            p.append("%r is focused but not visible" % name)
        b.press(Keys.ENTER)
        landed = b.js("return [location.href, document.activeElement && document.activeElement.id]")
        if landed[0] != want:
            p.append("%r led to %s, expected %s" % (name, landed[0], want))
        elif landed[1] != target[1:]:
            p.append("%r did not move focus to %s (focus on %r)" % (name, target, landed[1]))
        return True

    def click_link(self, i, name, target, want, p):
        """Clicks the page's i-th link and checks the page it opens: its URL and its h1.
        Returns whether a new page loaded; problems go to p."""
        b = self.browser
        anchor = b.driver.find_elements(By.CSS_SELECTOR, "a[href]")[i]
        b.js("window.__ktOld = true;")
        anchor.click()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if b.js("return !window.__ktOld && document.readyState === 'complete'"):
                break
            time.sleep(0.05)
        else:
            p.append("clicking %r did not load a new page" % name)
            return False
        b.settle()
        landed = b.js("return [location.href, [...document.querySelectorAll('h1')]"
                      ".map(h => h.textContent.replace(/\\s+/g, ' ').trim())]")
        if landed[0] != want:
            p.append("%r led to %s, expected %s" % (name, landed[0], want))
        elif len(landed[1]) != 1 or not re.search(site.expected_h1(target, self.redis_up), landed[1][0]):
            p.append("%r led to a page whose h1 is %r" % (name, landed[1]))
        return True

    # -- /count

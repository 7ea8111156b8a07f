"""What the site must be, for the browser suite: its pages with their statuses and
headings, where each link must lead, the configured names and links, and the views seeded
from people's browsers."""
import re


APP_NAME = "Khalid Tracker"
# Visits from people's browsers, so that /stats has something in every list: the suite's
# own Chromium says HeadlessChrome, which counts as a bot.
SEED_VIEWS = [
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
     "https://news.ycombinator.com/item?id=1", "/"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36", "https://www.google.com/", "/about"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", "https://github.com/example", "/"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Safari/605.1.15", "https://news.ycombinator.com/", "/stats"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Mobile Safari/537.36", "", "/"),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", "https://duckduckgo.com/", "/about"),
] * 3

# The off-site links come from configuration: the test sets its own and expects exactly them.
GITHUB_URL = "https://github.com/example/khalid-tracker"
LINKEDIN_URL = "https://www.linkedin.com/in/example"
SEED_VISITS = 1234566            # the first /count then shows 1,234,567

# What each link's accessible name promises: a path on the site, the skip link's target,
# or an off-site URL from configuration. A link whose name is not here fails the link check
# (add new links here, so that the test knows where they must lead).
LINK_TARGETS = {
    APP_NAME: "/", "Home": "/", "Back home": "/",
    "Live count": "/count", "See the live count": "/count", "Count me again": "/count",
    "About": "/about", "How it works": "/about", "About this site": "/about",
    "Stats": "/stats", "See the stats": "/stats",
    "Today": "/stats?period=day", "7 days": "/stats?period=7d", "30 days": "/stats?period=30d",
    # /stats shows the day unless asked otherwise, and its JSON link follows the period.
    "same figures as JSON": "/api/stats?period=day", "the views per day as CSV": "/api/export.csv",
    "Skip to content": "#main",
    "GitHub": GITHUB_URL, "LinkedIn": LINKEDIN_URL,
}
# Links to data, not pages: their href is checked and the target fetched (status 200 and
# this content type), never clicked (the browser would download the CSV).
DATA_TYPES = {"/api/stats": "application/json", "/api/export.csv": "text/csv"}
PERIODS = {"day": "Today", "7d": "7 days", "30d": "30 days"}
H1_404 = "Error 404: Page not found"
H1_503 = "Error 503: The counter is taking a break"


def expected_h1(path, redis_up=True):
    """A regex the h1 (textContent, whitespace collapsed) of the page at path (a query
    allowed) must match."""
    path = path.split("?")[0]
    if path == "/":
        return "^%s$" % re.escape(APP_NAME)
    if path == "/count":
        return r"^Total visits [0-9][0-9,]*$" if redis_up else "^%s$" % re.escape(H1_503)
    if path == "/about":
        return "^How %s works$" % re.escape(APP_NAME)
    if path == "/stats":
        return "^Statistics$"
    return "^%s$" % re.escape(H1_404)


class Page:
    def __init__(self, name, path, status, shot):
        self.name, self.path, self.status, self.shot = name, path, status, shot


PAGE_404 = Page("404", "/no/such-page", 404, "error-404")
PAGES = [
    Page("home", "/", 200, "home"),
    Page("count", "/count", 200, "count"),
    Page("about", "/about", 200, "about"),
    Page("stats", "/stats", 200, "stats"),
    PAGE_404,
]
PAGE_503 = Page("503", "/count", 503, "error-503")
# Checked again over HTTPS, on a second stack with TLS=self-signed.
HTTPS_PAGES = [p for p in PAGES if p.path in ("/", "/count", "/stats")]

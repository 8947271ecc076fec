#!/usr/bin/python3
"""The web console (/ui/) in a real headless Chromium, against a running collector.

Run by Tests/EndToEndTests/ConsoleBrowserTests.swift with Debian's /usr/bin/python3,
python3-selenium, chromium and chromium-driver (scripts/install-deps.sh installs them).
It follows the element hooks of the console's contract (tr.issue, table#deliveries,
form#admin-login, tr.dead-letter, tr.silence, section.preview-issue...): the pages'
looks may change freely, those hooks may not.

Every wait is an explicit one with a deadline (WebDriverWait): the collector delivers in
the background, so pages that show delivery state are reloaded until they show the
expected state or the deadline passes. Prints one line per passed step; on a failure it
names the step, saves failure.png and failure.html in --screenshots and exits 1.
"""

import argparse
import json
import os
import re
import sys
import traceback
import urllib.error
import urllib.request
from urllib.parse import urljoin

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    SELENIUM_MISSING = None
except ImportError as error:
    # Reported by main() as a clear message rather than a traceback; importing this file
    # (pytest's *_test.py pattern would) still works.
    SELENIUM_MISSING = error

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Deliveries, retries and redirects all finish in well under a second on loopback; 60 s is
# for a loaded CI machine, and is only ever spent when something is broken.
DEADLINE = 60
# Between two reloads of a page waited on; WebDriverWait's own pacing, not a sync sleep.
POLL = 0.5


class StepFailed(Exception):
    """A check of the current step did not hold."""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="the console, e.g. http://127.0.0.1:PORT/ui/")
    p.add_argument("--admin-token", required=True, help="server.admin_token, for form#admin-login")
    p.add_argument("--screenshots", required=True, help="directory for the PNGs (and failure.html)")
    p.add_argument("--alert-file", required=True, help="an Alertmanager webhook body to post first")
    p.add_argument("--intake-url", help="where to post it (default: /api/alerts next to --url)")
    p.add_argument("--intake-auth", help='Authorization header for the intake, e.g. "Bearer X"')
    p.add_argument("--expect-dead", required=True, help="a destination that dead-letters the alert")
    p.add_argument("--expect-delivered", required=True, help="a destination that delivers it")
    return p.parse_args()


def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000",
                # /dev/shm is small in containers; Chromium crashes tabs when it runs out.
                "--disable-dev-shm-usage"):
        options.add_argument(arg)
    # An explicit driver path: Selenium 4.8 would otherwise look for one (Selenium Manager).
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


class ConsoleTest:
    def __init__(self, args, driver):
        self.args = args
        self.driver = driver
        self.base = args.url if args.url.endswith("/") else args.url + "/"
        self.fingerprint = None  # of the Issue found in step (b)
        self.issue_url = None  # its page, opened in step (c), used again in (e)

    # -- helpers ----------------------------------------------------------------------

    def page(self, path=""):
        """The absolute URL of a console page: page("destinations") → .../ui/destinations."""
        return urljoin(self.base, path)

    def shot(self, name):
        path = os.path.join(self.args.screenshots, name)
        if not self.driver.save_screenshot(path):
            raise StepFailed(f"could not write the screenshot {path}")

    def wait(self, what, condition, timeout=DEADLINE):
        """Waits for condition(driver) to return something truthy (returned), without reloading."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=POLL,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(condition)
        except TimeoutException:
            raise StepFailed(f"timed out after {timeout} s waiting for {what}") from None

    def wait_reloading(self, what, url, condition, timeout=DEADLINE):
        """Loads url and checks condition(driver), again and again until it holds or the
        deadline passes: the console is server-rendered, so a new state needs a new load."""
        def reload_and_check(driver):
            driver.get(url)
            return condition(driver)
        return self.wait(f"{what} (reloading {url})", reload_and_check, timeout)

    def find(self, css, root=None):
        """The first element matching css, or None."""
        found = (root or self.driver).find_elements(By.CSS_SELECTOR, css)
        return found[0] if found else None

    def need(self, css, what, root=None):
        """The first element matching css, or a failure naming what was wanted."""
        element = self.find(css, root)
        if element is None:
            raise StepFailed(f"no {what} ({css}) on {self.driver.current_url}")
        return element

    def submit(self, form_css, what, root=None):
        """Clicks the submit button of a form, as a user would (not form.submit(), which
        would skip the button and any handler on it)."""
        form = self.need(form_css, what, root)
        button = self.need("button[type=submit], input[type=submit], button:not([type])", f"submit button of {what}", form)
        button.click()

    def fill(self, form, name, value):
        field = self.need(f"[name={name}]", f"field {name}", form)
        field.clear()
        field.send_keys(value)

    def flash(self):
        element = self.find("div#flash")
        return element.text.strip() if element is not None else ""

    # -- steps ------------------------------------------------------------------------

    def post_alert(self):
        """(a) Posts the webhook body to the intake, as Alertmanager would."""
        url = self.args.intake_url or urljoin(self.base, "/api/alerts")
        with open(self.args.alert_file, "rb") as f:
            body = f.read()
        json.loads(body)  # a broken fixture should fail here, not as a 400 later
        headers = {"Content-Type": "application/json"}
        if self.args.intake_auth:
            headers["Authorization"] = self.args.intake_auth
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            raise StepFailed(f"the intake {url} answered {error.code}: {error.read()[:500]!r}") from None
        if not 200 <= status < 300:
            raise StepFailed(f"the intake {url} answered {status}")
        return f"posted {self.args.alert_file} to {url} ({status})"

    def issues_list(self):
        """(b) The Issues list shows the alert's Issue with one badge per destination's outcome."""
        delivered = f"{self.args.expect_delivered}: delivered"
        dead = f"{self.args.expect_dead}: dead"

        # "slack: delivered", or "slack: delivered (grouped)" when it went out in its
        # Alertmanager group's notification (the example alert carries a groupKey).
        def row_with_both_outcomes(driver):
            for row in driver.find_elements(By.CSS_SELECTOR, "table#issues tr.issue"):
                badges = [b.text.strip() for b in row.find_elements(By.CSS_SELECTOR, "td.outcome span.badge")]
                if any(b.startswith(delivered) for b in badges) and any(b.startswith(dead) for b in badges):
                    return row
            return None

        row = self.wait_reloading(f'a tr.issue with badges "{delivered}" and "{dead}"', self.page(), row_with_both_outcomes)
        self.need("a.issue-link", "link to the Issue page", row)
        self.fingerprint = row.get_attribute("data-fingerprint")
        if not self.fingerprint:
            raise StepFailed("the tr.issue has no data-fingerprint")
        self.shot("issues.png")
        return f"the Issue {self.fingerprint} shows {delivered!r} and {dead!r}"

    def issue_page(self):
        """(c) The Issue page: one delivered and one dead delivery, and the enrichments."""
        # Through the list's link, as a user gets there.
        self.driver.get(self.page())
        self.need(f'tr.issue[data-fingerprint="{self.fingerprint}"] a.issue-link', "the Issue's link in the list").click()
        self.wait("the Issue page's deliveries table", lambda d: self.find("table#deliveries"))
        self.issue_url = self.driver.current_url
        for name, state in ((self.args.expect_delivered, "delivered"), (self.args.expect_dead, "dead")):
            self.need(f'table#deliveries tr.delivery[data-destination="{name}"][data-state="{state}"]', f"{state} delivery to {name}")
        enrichments = self.driver.find_elements(By.CSS_SELECTOR, "section#enrichments article.enrichment")
        if not enrichments:
            raise StepFailed("section#enrichments has no article.enrichment")
        title = self.find("h1")
        self.shot("issue.png")
        return f"the Issue page ({title.text.strip() if title else '?'}) lists both deliveries and {len(enrichments)} enrichment(s)"

    def dead_letter_retry(self):
        """(d) Sign in as admin, retry the dead letter, see it tried again."""
        self.driver.get(self.page())
        login = self.need("form#admin-login", "admin sign-in form in the header")
        self.fill(login, "token", self.args.admin_token)
        self.submit("form#admin-login", "the admin sign-in form")
        # A refused token shows div#flash and no badge: fail on it at once, with its words.
        self.wait("span#admin-badge (or div#flash) after signing in", lambda d: self.find("span#admin-badge") or self.flash())
        if self.find("span#admin-badge") is None:
            raise StepFailed(f'signing in as admin failed: div#flash says "{self.flash()}"')

        dead = self.args.expect_dead
        row_css = f'table#dead-letters tr.dead-letter[data-destination="{dead}"]'
        self.driver.get(self.page("destinations"))
        row = self.wait(f"the dead letter for {dead}", lambda d: self.find(row_css))
        old_id = row.get_attribute("data-id")
        old_attempts = self.attempts(row)
        self.submit("form.retry", f"the retry form of dead letter {old_id}", row)
        self.wait("div#flash after the retry", lambda d: self.flash())
        if "retr" not in self.flash().lower():
            raise StepFailed(f'div#flash after the retry says "{self.flash()}", expected something retried')

        # A retry re-queues the dead letter as a new delivery (DeliveryStore.retryDeadLetters:
        # a new id, attempts from 0), which the receiver refuses again: back as a dead letter
        # with another id (or attempt count), or still pending (queue depth above zero).
        def tried_again(driver):
            again = self.find(row_css)
            if again is not None and (again.get_attribute("data-id") != old_id or self.attempts(again) != old_attempts):
                return f"dead again (id {again.get_attribute('data-id')}, attempts {self.attempts(again)!r})"
            depth = self.find(f'section.destination[data-name="{dead}"] .queue-depth')
            if again is None and depth is not None and re.search(r"[1-9]", depth.text):
                return f"pending (queue depth {depth.text.strip()})"
            return None

        outcome = self.wait_reloading(f"the dead letter for {dead} tried again", self.page("destinations"), tried_again)
        self.shot("destinations.png")
        return f"signed in as admin; retried dead letter {old_id} (attempts {old_attempts!r}): {outcome}"

    def attempts(self, row):
        """The text of a dead-letter row's attempts cell: td.attempts, or the cell under the
        table's "Attempts" heading (SPEC.md names the column, not its class)."""
        cell = self.find("td.attempts", row)
        if cell is None:
            headings = [th.text.strip().lower() for th in self.driver.find_elements(By.CSS_SELECTOR, "table#dead-letters th")]
            cells = row.find_elements(By.CSS_SELECTOR, "td")
            index = next((i for i, heading in enumerate(headings) if "attempt" in heading), len(cells))
            cell = cells[index] if index < len(cells) else None
        if cell is None:
            raise StepFailed("the dead-letter row has no attempts cell (td.attempts, or a column headed Attempts)")
        return cell.text.strip()

    def silence(self):
        """(e) Silence the Issue from its page, then expire the silence."""
        self.driver.get(self.issue_url)
        self.need("a#silence-issue", "silence link on the Issue page").click()
        self.wait("the silences page", lambda d: "/ui/silences" in d.current_url and self.find("form#new-silence"))
        form = self.need("form#new-silence", "new-silence form")
        matchers = self.need("textarea[name=matchers]", "matchers field", form).get_attribute("value").strip()
        if not matchers:
            raise StepFailed("textarea[name=matchers] is not prefilled from the Issue")
        before = {r.get_attribute("data-id") for r in self.driver.find_elements(By.CSS_SELECTOR, "table#silences tr.silence")}
        self.fill(form, "duration", "1h")
        self.fill(form, "comment", "browser test")
        self.fill(form, "created_by", "selenium")
        self.submit("form#new-silence", "the new-silence form")

        def new_active(driver):
            for row in driver.find_elements(By.CSS_SELECTOR, 'table#silences tr.silence[data-state="active"]'):
                if row.get_attribute("data-id") not in before:
                    return row
            return None

        row = self.wait("a new tr.silence[data-state=active]", new_active)
        silence_id = row.get_attribute("data-id")
        self.submit("form.expire", f"the expire form of silence {silence_id}", row)
        row_css = f'table#silences tr.silence[data-id="{silence_id}"]'
        self.wait(f"silence {silence_id} shown expired",
                  lambda d: (self.find(row_css) is not None and self.find(row_css).get_attribute("data-state") == "expired"))
        self.shot("silences.png")
        return f"silenced with {matchers.splitlines()!r} (id {silence_id}), then expired it"

    def preview(self):
        """(f) The preview renders the prefilled example body for each destination."""
        self.driver.get(self.page("preview"))
        body = self.need("form#preview textarea[name=body]", "preview body field").get_attribute("value").strip()
        if not body:
            raise StepFailed("form#preview's textarea[name=body] is not prefilled")
        self.submit("form#preview", "the preview form")
        self.wait("section.preview-issue after submitting the preview", lambda d: self.find("section.preview-issue"))
        issues = self.driver.find_elements(By.CSS_SELECTOR, "section.preview-issue")

        def visible_slack_message(driver):
            for message in driver.find_elements(By.CSS_SELECTOR, "div.destination-preview div.slack-message"):
                if message.is_displayed() and message.text.strip():
                    return message
            return None

        message = self.wait("a div.destination-preview with a visible, non-empty div.slack-message", visible_slack_message)
        self.shot("preview.png")
        first = message.text.strip().splitlines()[0]
        return f"{len(issues)} preview Issue(s); the Slack message reads {first!r}"


def main():
    args = parse_args()
    if SELENIUM_MISSING is not None:
        print(f"FAIL setup: python3-selenium is missing ({SELENIUM_MISSING}); run scripts/install-deps.sh", file=sys.stderr)
        return 2
    os.makedirs(args.screenshots, exist_ok=True)
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not os.access(tool, os.X_OK):
            print(f"FAIL setup: {tool} is missing; run scripts/install-deps.sh", file=sys.stderr)
            return 2
    try:
        driver = start_browser()
    except WebDriverException as error:
        print(f"FAIL setup: headless Chromium did not start: {error.msg}", file=sys.stderr)
        return 1
    test = ConsoleTest(args, driver)
    steps = [("a", "post the alert", test.post_alert), ("b", "Issues list", test.issues_list),
             ("c", "Issue page", test.issue_page), ("d", "admin sign-in and dead-letter retry", test.dead_letter_retry),
             ("e", "silence and expire", test.silence), ("f", "preview", test.preview)]
    try:
        for key, name, step in steps:
            try:
                detail = step()
            except Exception as error:  # every failure names its step and saves the page
                if isinstance(error, StepFailed):
                    message = str(error)
                elif isinstance(error, WebDriverException):
                    message = f"{type(error).__name__}: {error.msg}"
                else:  # a bug in this script or an unexpected page: the traceback helps
                    message = "".join(traceback.format_exception(error)).rstrip()
                print(f"FAIL ({key}) {name}: {message}", file=sys.stderr)
                print(f"  at {driver.current_url}", file=sys.stderr)
                save_failure(driver, args.screenshots)
                return 1
            print(f"ok ({key}) {name}: {detail}", flush=True)
    finally:
        driver.quit()
    print(f"all steps passed; screenshots in {args.screenshots}")
    return 0


def save_failure(driver, directory):
    """The page as the browser had it when the step failed, for the person debugging."""
    try:
        driver.save_screenshot(os.path.join(directory, "failure.png"))
        with open(os.path.join(directory, "failure.html"), "w", encoding="utf-8") as f:
            f.write(driver.page_source)
        print(f"  saved failure.png and failure.html in {directory}", file=sys.stderr)
    except (WebDriverException, OSError) as error:
        print(f"  could not save the failing page: {error}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

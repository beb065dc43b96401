// Browser tests of the payhook dashboard: Playwright (playwright-core) drives Chromium, headless,
// against a `payhook serve` on loopback whose Stripe is localstripe (a fake Stripe, also on
// loopback). The Rust test host/payhook/tests/browser.rs starts both and runs this file with:
//
//   PAYHOOK_URL          the server, http://127.0.0.1:PORT
//   PAYHOOK_ADMIN_TOKEN  its admin token (the dashboard's login)
//   PAYHOOK_BIN          the payhook binary (for `payhook trigger`)
//   PAYHOOK_DATABASE     the server's database, sqlite://PATH
//   PAYHOOK_MASTER_KEY   the server's master key (`payhook trigger` reads the signing secret)
//   LOCALSTRIPE_URL      localstripe, http://127.0.0.1:PORT
//   SCREENSHOT_DIR       where the screenshots go (default: a new temporary folder)
//   CHROMIUM             the browser (default /usr/bin/chromium)
//
// One test per story, in order, sharing one logged-in browser context. Every page visited is
// checked for secrets (the Stripe secret key, the signing secret, the admin token, the master
// key) and saved as a numbered full-page screenshot.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";

import { chromium } from "playwright-core";

const execFileP = promisify(execFile);

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run these tests through \`cargo test -p payhook --test browser\` ` +
        "(see tests/browser/README.md)",
    );
  }
  return value;
}

const BASE = required("PAYHOOK_URL").replace(/\/$/, "");
const ADMIN_TOKEN = required("PAYHOOK_ADMIN_TOKEN");
const BIN = required("PAYHOOK_BIN");
const DATABASE = required("PAYHOOK_DATABASE");
const LOCALSTRIPE = required("LOCALSTRIPE_URL").replace(/\/$/, "");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
assert.ok(DATABASE.startsWith("sqlite://"), "PAYHOOK_DATABASE is sqlite://PATH (the replay story edits the file)");
const DB_PATH = DATABASE.slice("sqlite://".length);

// The test tenant's credentials: random bodies, so a leak cannot match by chance elsewhere.
const KEY_BODY = `51Browser${randomBytes(16).toString("hex")}`;
const SECRET_KEY = `sk_test_${KEY_BODY}`;
const PUBLISHABLE_KEY = `pk_test_51Browser${randomBytes(12).toString("hex")}`;
const SIGNING_BODY = `Browser${randomBytes(16).toString("hex")}`;
const SIGNING_SECRET = `whsec_${SIGNING_BODY}`;

// What no page may contain: the secrets' bodies, and their first 12 characters (a key cut short
// is still a leak). The masked key shows a prefix and the last four characters only.
const SECRETS = [
  ["the Stripe secret key", KEY_BODY],
  ["the Stripe secret key's start", KEY_BODY.slice(0, 12)],
  ["the webhook signing secret", SIGNING_BODY],
  ["the webhook signing secret's start", SIGNING_BODY.slice(0, 12)],
  ["the admin token", ADMIN_TOKEN],
  ...(process.env.PAYHOOK_MASTER_KEY ? [["the master key", process.env.PAYHOOK_MASTER_KEY]] : []),
];

const XSS_CUSTOMER = "<script>window.__xss = 1</script>";
const XSS_METADATA = `<img src=x onerror="window.__xss=2">`;

/** Shared by the stories, in order. */
const run = {
  browser: null,
  context: null,
  page: null,
  tenant: null,
  loggedIn: false,
  webhookUrl: null,
  webhooksSent: false,
  refunded: false,
  paidInvoice: null,
  paidPayment: null,
  shotDir: null,
  shots: [],
  leaks: [],
  scans: [],
  checkedPages: 0,
};

/**
 * Skips a story whose prerequisites (set by earlier stories) are missing: the earlier failure
 * is the one to read. Returns true when skipped.
 */
function needs(t, ...keys) {
  const missing = keys.filter((k) => !run[k]);
  if (missing.length === 0) return false;
  t.skip(`needs ${missing.join(", ")} from an earlier story, which failed`);
  return true;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function findLeaks(text, where) {
  const found = [];
  for (const [what, secret] of SECRETS) {
    if (text.includes(secret)) found.push(`${where} contains ${what}`);
  }
  return found;
}

/** The page's HTML holds none of the secrets. */
async function assertNoSecrets(page) {
  const html = await page.content();
  const leaks = findLeaks(html, page.url());
  run.checkedPages += 1;
  assert.deepEqual(leaks, [], "a page rendered a secret");
}

/** The page's notice, failing with the page's error message (or its heading) when there is none. */
async function notice(page) {
  const notices = await page.locator("p.notice").allInnerTexts();
  if (notices.length) return notices.join("\n");
  const errors = await page.locator(".error").allInnerTexts();
  const heading = await page.locator("h1").allInnerTexts();
  assert.fail(`no notice on ${page.url()} (${heading.join(" ")}): ${errors.join("\n") || "no error shown"}`);
}

async function shot(page, name) {
  const n = String(run.shots.length + 1).padStart(2, "0");
  const file = path.join(run.shotDir, `${n}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  run.shots.push(file);
}

/** Goes to a path of the server, checks the page for secrets, and takes a screenshot if named. */
async function go(page, where, shotName) {
  const response = await page.goto(new URL(where, BASE).href);
  await assertNoSecrets(page);
  if (shotName) await shot(page, shotName);
  return response;
}

/** Clicks a button that submits a form and waits for the page it leads to. */
async function submit(page, button) {
  await Promise.all([page.waitForEvent("load"), button.click()]);
  await assertNoSecrets(page);
}

/** Calls `check` until it returns something truthy, or fails after `timeout` ms. */
async function until(what, check, { timeout = 20_000, interval = 250 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`waited ${timeout / 1000} s for ${what}${last ? `; last error: ${last.message}` : ""}`);
    }
    await sleep(interval);
  }
}

/** A table's body rows as objects keyed by the header's texts (plus `_data`, the row's data-*). */
async function table(page, selector) {
  return page.locator(selector).evaluate((t) => {
    const heads = [...t.tHead.rows[0].cells].map((c) => c.textContent.trim());
    return [...t.tBodies[0].rows]
      .filter((r) => r.cells.length === heads.length)
      .map((r) => {
        const row = { _data: { ...r.dataset }, _id: r.id };
        heads.forEach((h, i) => {
          row[h] = r.cells[i].textContent.trim();
        });
        return row;
      });
  });
}

/** A request straight to localstripe (what Stripe's side would do); its JSON answer. */
async function localstripe(method, where, params) {
  const body = params ? new URLSearchParams(params).toString() : undefined;
  const response = await fetch(`${LOCALSTRIPE}${where}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from("sk_test_localstripe:").toString("base64")}`,
      ...(body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
    },
    body,
  });
  const text = await response.text();
  assert.ok(response.ok, `localstripe ${method} ${where}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A PaymentIntent created and confirmed in localstripe with the test card; its id. */
async function payOnLocalstripe(amount, metadata = {}) {
  const params = { amount: String(amount), currency: "eur", payment_method: "pm_card_visa" };
  for (const [k, v] of Object.entries(metadata)) params[`metadata[${k}]`] = v;
  const created = await localstripe("POST", "/v1/payment_intents", params);
  // localstripe takes no `confirm` on creation: confirm in a second call, as payhook does.
  const confirmed = await localstripe("POST", `/v1/payment_intents/${created.id}/confirm`, {});
  assert.equal(confirmed.status, "succeeded", JSON.stringify(confirmed));
  return created.id;
}

/**
 * Stripe's `charge.refunded` for the PaymentIntent's charge, as localstripe holds it after a
 * refund, signed with the tenant's signing secret and posted to its webhook URL. localstripe
 * (1.15.10) refunds but sends no webhook about it; Stripe sends this one.
 */
async function deliverChargeRefunded(pi, refunded) {
  const intent = await localstripe("GET", `/v1/payment_intents/${pi}`);
  const chargeId = typeof intent.latest_charge === "string" ? intent.latest_charge : intent.latest_charge?.id;
  assert.ok(chargeId, `the PaymentIntent has a charge: ${JSON.stringify(intent)}`);
  const charge = await localstripe("GET", `/v1/charges/${chargeId}`);
  assert.equal(charge.amount_refunded, refunded, `the refund reached localstripe: ${JSON.stringify(charge)}`);
  // Stripe copies a PaymentIntent's metadata to the charge it creates; localstripe does not.
  charge.metadata = { ...intent.metadata, ...charge.metadata };
  const sample = JSON.parse(await readFile(new URL("../fixtures/stripe-events/events/charge.refunded--partial.json", import.meta.url), "utf8"));
  const event = {
    id: `evt_browser${randomBytes(8).toString("hex")}`,
    object: "event",
    api_version: sample.api_version,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "charge.refunded",
    data: { object: charge },
  };
  const body = JSON.stringify(event);
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac("sha256", SIGNING_SECRET).update(`${t}.${body}`).digest("hex");
  const response = await fetch(run.webhookUrl, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": `t=${t},v1=${v1}` },
    body,
  });
  assert.ok(response.ok, `the webhook was taken: ${response.status} ${await response.text()}`);
}

/** `payhook trigger TYPE --tenant … ARGS` against the server; its JSON report. */
async function trigger(type, args) {
  const { stdout } = await execFileP(
    BIN,
    ["trigger", type, "--tenant", run.tenant, ...args, "--server", BASE, "--database", DATABASE, "--json"],
    { env: process.env, timeout: 60_000 },
  );
  const report = JSON.parse(stdout);
  assert.ok(report.status >= 200 && report.status < 300, `payhook trigger ${type}: ${stdout}`);
  return report;
}

/** Runs Python with the sqlite3 module on the server's database file. */
async function sqlite(code, ...args) {
  const { stdout } = await execFileP("python3", ["-c", code, DB_PATH, ...args], { timeout: 30_000 });
  return stdout;
}

/** A new invoice from the Invoices page's form (no Payment Link: localstripe has none); its id. */
async function createInvoice(page, { amount, customer, description }) {
  await go(page, `/t/${run.tenant}/invoices`);
  const form = page.locator("#new-invoice");
  await form.locator("#inv-amount").fill(amount);
  await form.locator("#inv-currency").fill("eur");
  await form.locator("#inv-customer").fill(customer);
  if (description) await form.locator("#inv-description").fill(description);
  await form.locator('input[name="payment_link"]').uncheck();
  await submit(page, form.locator('button[type="submit"]'));
  assert.match(await notice(page), /Created/);
  const rows = await table(page, "#invoices");
  const row = rows.find((r) => r.Customer === customer);
  assert.ok(row, `the new invoice for ${JSON.stringify(customer)} is listed: ${JSON.stringify(rows)}`);
  return row.Id;
}

async function invoiceStatus(page, invoice) {
  await go(page, `/t/${run.tenant}/invoices`);
  const row = (await table(page, "#invoices")).find((r) => r.Id === invoice);
  return row?.Status;
}

async function waitForInvoice(page, invoice, status) {
  await until(`invoice ${invoice} to be ${status}`, async () => (await invoiceStatus(page, invoice)) === status);
}

async function eventStatus(page, eventId) {
  await go(page, `/t/${run.tenant}/events/${eventId}`);
  return (await page.locator("#event dd.status").innerText()).trim();
}

/** The event of `type` whose payload mentions `needle` (e.g. a PaymentIntent id); its id. */
async function findEvent(page, type, needle) {
  const seen = new Set();
  return until(`a ${type} event about ${needle}`, async () => {
    await go(page, `/t/${run.tenant}/events?type=${encodeURIComponent(type)}`);
    const ids = (await table(page, "#events")).map((r) => r._data.event).filter((id) => !seen.has(id));
    for (const id of ids) {
      await go(page, `/t/${run.tenant}/events/${id}`);
      const payload = (await page.locator("#payload").count()) ? await page.locator("#payload").innerText() : "";
      if (payload.includes(needle)) return id;
      seen.add(id);
    }
    return null;
  });
}

/** Nothing injected ran or became an element. */
async function assertInert(page) {
  const found = await page.evaluate(() => ({
    xss: typeof window.__xss,
    scripts: [...document.scripts].filter((s) => s.textContent.includes("__xss")).length,
    images: document.querySelectorAll('img[src="x"], img[onerror]').length,
  }));
  assert.deepEqual(found, { xss: "undefined", scripts: 0, images: 0 }, `injected markup on ${page.url()}`);
}

async function download(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent("download"), page.locator(selector).click()]);
  const file = await dl.path();
  assert.ok(file, `the download from ${selector} finished`);
  const text = await readFile(file, "utf8");
  assert.deepEqual(findLeaks(text, dl.suggestedFilename()), [], "a CSV holds a secret");
  return { name: dl.suggestedFilename(), text };
}

before(async () => {
  run.shotDir = process.env.SCREENSHOT_DIR
    ? path.resolve(process.env.SCREENSHOT_DIR)
    : await mkdtemp(path.join(tmpdir(), "payhook-screenshots-"));
  await mkdir(run.shotDir, { recursive: true });
  // Screenshots of an earlier run would mix with this run's numbers.
  for (const name of await readdir(run.shotDir)) {
    if (/^\d+-.*\.png$/.test(name)) await rm(path.join(run.shotDir, name));
  }
  console.log(`screenshots: ${run.shotDir}`);
  run.browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-default-apps",
      "--disable-sync",
      "--no-first-run",
      "--metrics-recording-only",
      "--disable-dev-shm-usage",
    ],
  });
  run.context = await run.browser.newContext({
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  run.context.setDefaultTimeout(15_000);
  // Every HTML document the browser receives is scanned too, redirects and error pages included.
  run.context.on("response", (response) => {
    if (response.request().resourceType() !== "document") return;
    run.scans.push(
      response
        .text()
        .then((text) => run.leaks.push(...findLeaks(text, response.url())))
        .catch(() => {}),
    );
  });
  run.page = await run.context.newPage();
  // The refund form asks "Send this refund to Stripe?": say yes, as the operator would.
  run.page.on("dialog", (dialog) => dialog.accept());
});

after(async () => {
  await run.browser?.close();
  console.log(`${run.shots.length} screenshots in ${run.shotDir}`);
});

test("without login, pages and CSV downloads lead to the login form and the API answers 401", async () => {
  const { page } = run;
  for (const where of ["/", "/t/ten_someone", "/t/ten_someone/reports/reconciliation.csv"]) {
    await go(page, where);
    const url = new URL(page.url());
    assert.equal(url.pathname, "/login", `${where} ends at the login page`);
    assert.equal(url.searchParams.get("next"), where, "and comes back after logging in");
    assert.equal(await page.locator("#token").count(), 1);
  }
  await shot(page, "login");
  const noToken = await fetch(`${BASE}/api/v1/tenants`);
  assert.equal(noToken.status, 401);
  const wrongToken = await fetch(`${BASE}/api/v1/tenants`, { headers: { authorization: "Bearer not-the-token" } });
  assert.equal(wrongToken.status, 401);
  const withToken = await fetch(`${BASE}/api/v1/tenants`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(withToken.status, 200, "the admin token opens the API");
  // A form POST without a session is refused too.
  const post = await fetch(`${BASE}/t/ten_someone/test/disable`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "csrf=x",
  });
  assert.equal(post.status, 403);
});

test("log in with the admin token; a wrong token is refused", async () => {
  const { page } = run;
  await go(page, "/");
  await page.locator("#token").fill("not-the-admin-token-at-all");
  await submit(page, page.locator('form[action="/login"] button[type="submit"]'));
  assert.equal(new URL(page.url()).pathname, "/login");
  assert.match(await page.locator(".error").innerText(), /That is not the admin token\./);
  await shot(page, "login-wrong-token");
  await page.locator("#token").fill(ADMIN_TOKEN);
  await submit(page, page.locator('form[action="/login"] button[type="submit"]'));
  assert.equal(new URL(page.url()).pathname, "/", "back where the login started");
  assert.equal(await page.locator("#tenants").count(), 1);
  // The session cookie is HttpOnly and does not open the API: the API wants the bearer token.
  const cookies = await run.context.cookies(BASE);
  const session = cookies.find((c) => c.name === "payhook_session");
  assert.ok(session, "a session cookie is set");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read the session");
  const api = await page.request.get(`${BASE}/api/v1/tenants`);
  assert.equal(api.status(), 401, "a dashboard session is not an API credential");
  run.loggedIn = true;
});

test("connect a test tenant: masked key, webhook URL with a Copy button, connection check", async (t) => {
  if (needs(t, "loggedIn")) return;
  const { page, context } = run;
  await go(page, "/", "tenants-empty");
  const form = page.locator("#connect");
  await form.locator("#name").fill("Smile Dental");
  await form.locator("#mode").selectOption("test");
  await form.locator("#secret_key").fill(SECRET_KEY);
  await form.locator("#publishable_key").fill(PUBLISHABLE_KEY);
  await form.locator("#webhook_secret").fill(SIGNING_SECRET);
  await form.locator("#currency").fill("eur");
  await submit(page, form.locator('button[type="submit"]'));
  const url = new URL(page.url());
  const match = url.pathname.match(/^\/t\/([^/]+)$/);
  assert.ok(match, `connecting leads to the tenant's page, not ${page.url()}`);
  run.tenant = decodeURIComponent(match[1]);
  assert.match(await notice(page), /Connected/);
  await shot(page, "integrations");

  const card = page.locator("#connection-test");
  const masked = (await card.locator("code.secret-key").innerText()).trim();
  assert.ok(masked.startsWith("sk_test_"), `the key is shown by its prefix: ${masked}`);
  assert.ok(masked.endsWith(SECRET_KEY.slice(-4)), `and its last four characters: ${masked}`);
  assert.ok(!masked.includes(KEY_BODY.slice(0, -4)), "and no more");

  // The webhook URL, and its Copy button.
  const input = page.locator("#webhook-url-test");
  run.webhookUrl = await input.inputValue();
  assert.equal(run.webhookUrl, `${BASE}/webhooks/stripe/${run.tenant}/test`);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  const copy = page.locator('button[data-copy="webhook-url-test"]');
  await copy.click();
  await page.waitForFunction(
    () => document.querySelector('button[data-copy="webhook-url-test"]')?.textContent === "Copied",
    null,
    { timeout: 1_400 },
  );
  assert.equal(await copy.getAttribute("data-copied"), "true");
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), run.webhookUrl, "the clipboard holds the URL");

  // The tenant is listed on the overview.
  await go(page, "/", "tenants");
  const tenants = await table(page, "#tenants");
  assert.ok(
    tenants.some((t) => t.Id === run.tenant && t.Tenant === "Smile Dental"),
    JSON.stringify(tenants),
  );

  // Check connection: balance, a 0.50 charge and its refund, against localstripe.
  await go(page, `/t/${run.tenant}`);
  await submit(page, page.locator('#connection-test form[action$="/test/check"] button[type="submit"]'));
  const check = page.locator("#check");
  assert.equal(await check.count(), 1, "the check's result is shown");
  const steps = await table(page, "#check table");
  await shot(page, "check-result");
  assert.deepEqual(
    steps.map((s) => [s.Step, s.Result]),
    [
      ["balance", "succeeded"],
      ["charge", "succeeded"],
      ["refund", "succeeded"],
    ],
    JSON.stringify(steps),
  );
  assert.match(await check.locator("h2").innerText(), /succeeded/);
});

test("localstripe sends its webhooks to the tenant's URL, signed with its secret", async (t) => {
  if (needs(t, "webhookUrl")) return;
  await localstripe("POST", "/_config/webhooks/payhook", { url: run.webhookUrl, secret: SIGNING_SECRET });
  run.webhooksSent = true;
});

test("an invoice made on the Invoices page is paid through localstripe's webhook", async (t) => {
  if (needs(t, "webhooksSent")) return;
  const { page } = run;
  const invoice = await createInvoice(page, { amount: "20.00", customer: "Ana Pereira", description: "Cleaning" });
  await shot(page, "invoices-created");
  assert.equal(await invoiceStatus(page, invoice), "open");
  const pi = await payOnLocalstripe(2000, { invoice_id: invoice });
  run.paidInvoice = invoice;
  run.paidPayment = pi;
  // The webhook log, reloaded until localstripe's payment_intent.succeeded is processed.
  await until("payment_intent.succeeded to be processed", async () => {
    await go(page, `/t/${run.tenant}/events`);
    const rows = await table(page, "#events");
    return rows.some((r) => r.Type === "payment_intent.succeeded" && r.Status === "processed");
  });
  await shot(page, "events-log");
  await waitForInvoice(page, invoice, "paid");
  await shot(page, "invoices-paid");
  const row = (await table(page, "#invoices")).find((r) => r.Id === invoice);
  assert.equal(row.Paid, "20.00 EUR");
});

test("payhook trigger posts a signed event that shows in the log", async (t) => {
  if (needs(t, "tenant")) return;
  const { page } = run;
  const invoice = await createInvoice(page, { amount: "15.00", customer: "Bruno Costa", description: "Check-up" });
  const report = await trigger("payment_intent.payment_failed", ["--invoice", invoice]);
  assert.ok(report.event_id, JSON.stringify(report));
  await until(`${report.event_id} in the log, processed`, async () => {
    await go(page, `/t/${run.tenant}/events`);
    const row = (await table(page, "#events")).find((r) => r._data.event === report.event_id);
    return row?.Type === "payment_intent.payment_failed" && row.Status === "processed";
  });
  assert.notEqual(await invoiceStatus(page, invoice), "paid");
  run.declinedInvoice = invoice;
});

test("a dead event is replayed from its page once the damage is repaired", async (t) => {
  if (needs(t, "tenant")) return;
  const { page } = run;
  const invoice = await createInvoice(page, { amount: "30.00", customer: "Carla Dias", description: "Filling" });
  // An operator's bad manual edit: the invoice's state is no longer one the engine accepts.
  const saved = await sqlite(
    [
      "import sqlite3, sys",
      "db = sqlite3.connect(sys.argv[1], timeout=30)",
      "with db:",
      "    (state,) = db.execute('SELECT state FROM invoices WHERE id = ?', (sys.argv[2],)).fetchone()",
      "    db.execute('UPDATE invoices SET state = ? WHERE id = ?', ('{\"not\": \"a state\"}', sys.argv[2]))",
      "sys.stdout.write(state)",
    ].join("\n"),
    invoice,
  );
  assert.ok(JSON.parse(saved), "the state was saved");
  const report = await trigger("payment_intent.succeeded", ["--invoice", invoice]);
  const eventId = report.event_id;
  // The log filtered by status `dead` lists it.
  await until(`${eventId} to be dead`, async () => {
    await go(page, `/t/${run.tenant}/events?status=dead`);
    const rows = await table(page, "#events");
    return rows.some((r) => r._data.event === eventId && r.Status === "dead");
  });
  assert.equal(await page.locator('select[name="status"]').inputValue(), "dead", "the filter shows what it filters");
  await shot(page, "events-dead");
  // Its page shows the error.
  assert.equal(await eventStatus(page, eventId), "dead");
  const error = (await page.locator("#event dd.error").innerText()).trim();
  assert.ok(error.length > 0, "the event's page shows the error");
  await shot(page, "event-detail-dead");
  // Repaired, then replayed from the page.
  await sqlite(
    [
      "import sqlite3, sys",
      "db = sqlite3.connect(sys.argv[1], timeout=30)",
      "with db:",
      "    db.execute('UPDATE invoices SET state = ? WHERE id = ?', (sys.argv[3], sys.argv[2]))",
    ].join("\n"),
    invoice,
    saved,
  );
  await submit(page, page.locator("#replay"));
  assert.match(await notice(page), /queued/);
  await until(`${eventId} to be processed after the replay`, async () => (await eventStatus(page, eventId)) === "processed");
  await shot(page, "event-detail-replayed");
  await waitForInvoice(page, invoice, "paid");
});

test("refund part of a payment from its page", async (t) => {
  if (needs(t, "paidPayment")) return;
  const { page } = run;
  await go(page, `/t/${run.tenant}/payments`, "payments");
  const rows = await table(page, "#payments");
  const row = rows.find((r) => r._data.payment === run.paidPayment);
  assert.ok(row, `the localstripe payment is listed: ${JSON.stringify(rows)}`);
  assert.equal(row.Status, "succeeded");
  assert.equal(row.For, run.paidInvoice);
  await Promise.all([
    page.waitForEvent("load"),
    page.locator(`#payments tr[data-payment="${run.paidPayment}"] a[href$="/payments/${run.paidPayment}"]`).click(),
  ]);
  await assertNoSecrets(page);
  await shot(page, "payment-detail");
  // With a reason. localstripe takes no `reason` (Stripe does): the page shows Stripe's refusal
  // above the form, and nothing is refunded.
  let form = page.locator("#refund");
  await form.locator("#amount").fill("5.00");
  await form.locator("#reason").selectOption("requested_by_customer");
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/refund")),
    submit(page, form.locator('button[type="submit"]')),
  ]);
  assert.equal(refused.status(), 400);
  assert.match(await page.locator("p.error").innerText(), /reason/);
  assert.equal((await page.locator("#payment dd.refunded").innerText()).trim(), "0.00 EUR");
  await shot(page, "payment-refund-refused");
  // The same refund without a reason, from the form the error page shows.
  form = page.locator("#refund");
  await form.locator("#amount").fill("5.00");
  await form.locator("#reason").selectOption("");
  await submit(page, form.locator('button[type="submit"]'));
  assert.match(await notice(page), /refund was sent to Stripe/);
  await shot(page, "payment-refund-sent");
  // The refund reached Stripe, and Stripe's charge.refunded updates the payment.
  await deliverChargeRefunded(run.paidPayment, 500);
  await until("the payment to be partially refunded", async () => {
    await go(page, `/t/${run.tenant}/payments/${run.paidPayment}`);
    return (await page.locator("#payment dd.status").innerText()).trim() === "partially_refunded";
  });
  assert.equal((await page.locator("#payment dd.refunded").innerText()).trim(), "5.00 EUR");
  await shot(page, "payment-partially-refunded");
  // And the invoice it paid.
  await waitForInvoice(page, run.paidInvoice, "partially_refunded");
  const invoiceRow = (await table(page, "#invoices")).find((r) => r.Id === run.paidInvoice);
  assert.equal(invoiceRow.Refunded, "5.00 EUR");
  run.refunded = true;
});

test("values from Stripe and from forms are escaped: a script tag stays text", async (t) => {
  if (needs(t, "webhooksSent")) return;
  const { page } = run;
  const invoice = await createInvoice(page, { amount: "3.00", customer: XSS_CUSTOMER });
  const pi = await payOnLocalstripe(300, { invoice_id: invoice, note: XSS_METADATA });
  await waitForInvoice(page, invoice, "paid");
  // The invoices page shows the customer literally.
  await assertInert(page);
  const row = (await table(page, "#invoices")).find((r) => r.Id === invoice);
  assert.equal(row.Customer, XSS_CUSTOMER, "the customer is shown as text");
  await shot(page, "invoices-escaped");
  // The event's page shows the metadata literally, inside the payload.
  const eventId = await findEvent(page, "payment_intent.succeeded", pi);
  await go(page, `/t/${run.tenant}/events/${eventId}`);
  await assertInert(page);
  const payload = await page.locator("#payload").innerText();
  assert.ok(payload.includes("<img src=x onerror="), "the metadata is shown as text");
  await shot(page, "event-detail-escaped");
  // The payments list and the payment's page.
  await go(page, `/t/${run.tenant}/payments`);
  await assertInert(page);
  await until(`payment ${pi} to be listed`, async () => {
    await go(page, `/t/${run.tenant}/payments`);
    return (await table(page, "#payments")).some((r) => r._data.payment === pi);
  });
  await assertInert(page);
  await go(page, `/t/${run.tenant}/payments/${pi}`);
  await assertInert(page);
});

test("a forged cross-site POST is refused and changes nothing", async (t) => {
  if (needs(t, "tenant")) return;
  const { context } = run;
  const target = `${BASE}/t/${run.tenant}/test/disable`;
  // Another site on loopback whose page submits a form to the dashboard at once.
  const evil = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(
      `<!doctype html><title>You won a prize</title>` +
        `<form id="f" method="post" action="${target}"><input type="hidden" name="csrf" value="guessed"></form>` +
        `<script>document.getElementById("f").submit()</script>`,
    );
  });
  await new Promise((resolve) => evil.listen(0, "127.0.0.1", resolve));
  try {
    const evilPage = await context.newPage();
    try {
      const refused = evilPage.waitForResponse((r) => r.url() === target && r.request().method() === "POST");
      await evilPage.goto(`http://127.0.0.1:${evil.address().port}/`);
      const response = await refused;
      assert.equal(response.status(), 403);
      await evilPage.waitForLoadState("load");
      assert.match(await evilPage.locator("body").innerText(), /another site/);
      await assertNoSecrets(evilPage);
      await shot(evilPage, "cross-site-post-refused");
    } finally {
      await evilPage.close();
    }
  } finally {
    await new Promise((resolve) => evil.close(resolve));
  }
  // A POST from the session without the form's token is refused too.
  const noToken = await context.request.post(target, { form: { csrf: "not-the-token" }, maxRedirects: 0 });
  assert.equal(noToken.status(), 403);
  // The connection is still enabled.
  const { page } = run;
  await go(page, `/t/${run.tenant}`);
  const heading = await page.locator("#connection-test h2").innerText();
  assert.match(heading, /enabled/);
  assert.doesNotMatch(heading, /disabled/);
  assert.equal(await page.locator('#connection-test form[action$="/test/disable"]').count(), 1);
});

test("reports: reconciliation lists the gaps and downloads as CSV; revenue draws its chart", async (t) => {
  if (needs(t, "webhooksSent")) return;
  const { page } = run;
  const unpaid = await createInvoice(page, { amount: "12.34", customer: "Diana Unpaid", description: "Never paid" });
  const loose = await payOnLocalstripe(700);
  await until(`payment ${loose} (no invoice) to arrive`, async () => {
    await go(page, `/t/${run.tenant}/payments`);
    const row = (await table(page, "#payments")).find((r) => r._data.payment === loose);
    return row?.Status === "succeeded";
  });
  await go(page, `/t/${run.tenant}/reports/reconciliation`, "reconciliation");
  const invoices = await table(page, "#invoices-without-payment table");
  assert.ok(
    invoices.some((r) => r.Invoice === unpaid),
    `the unpaid invoice is under "Invoices without payment": ${JSON.stringify(invoices)}`,
  );
  assert.ok(!invoices.some((r) => r.Invoice === run.paidInvoice), "a paid invoice is not");
  if (run.declinedInvoice) {
    // Its only payment was declined: it collected nothing, so the invoice still has no payment.
    assert.ok(
      invoices.some((r) => r.Invoice === run.declinedInvoice),
      `the invoice whose card was declined is under "Invoices without payment": ${JSON.stringify(invoices)}`,
    );
    const differ = await table(page, "#amounts-differ table");
    assert.ok(!differ.some((r) => r.Invoice === run.declinedInvoice), "and not under amounts that differ");
  }
  const payments = await table(page, "#payments-without-invoice table");
  assert.ok(
    payments.some((r) => r.Payment === loose),
    `the payment without metadata is under "Payments without invoice": ${JSON.stringify(payments)}`,
  );
  assert.ok(!payments.some((r) => r.Payment === run.paidPayment), "a payment for an invoice is not");
  // The invoice refunded in part: 20.00, paid, 15.00 net of the refund.
  if (run.refunded) {
    const differ = await table(page, "#amounts-differ table");
    assert.ok(
      differ.some((r) => r.Invoice === run.paidInvoice),
      `the partly refunded invoice is under "Amounts that differ": ${JSON.stringify(differ)}`,
    );
  }

  const reconciliation = await download(page, "#download-reconciliation");
  assert.match(reconciliation.name, /\.csv$/);
  const [header, ...lines] = reconciliation.text.split(/\r?\n/).filter((l) => l.length > 0);
  assert.match(header, /^section,id,/, `the CSV's header: ${header}`);
  assert.ok(
    lines.some((l) => l.startsWith("invoice_without_payment,") && l.includes(unpaid)),
    `the CSV names the unpaid invoice: ${reconciliation.text}`,
  );
  assert.ok(lines.some((l) => l.includes(loose)), "and the payment without invoice");

  await go(page, `/t/${run.tenant}/reports`, "revenue");
  assert.ok((await page.locator("svg.chart").count()) >= 1, "the revenue chart is drawn");
  assert.ok((await page.locator("svg.chart rect.bar").count()) >= 1, "with a bar for today");
  const revenue = await download(page, "#download-revenue");
  assert.match(revenue.name, /\.csv$/);
  const revenueHeader = revenue.text.split(/\r?\n/)[0];
  assert.match(revenueHeader, /^day,currency,/, `the revenue CSV's header: ${revenueHeader}`);
  assert.ok(revenue.text.split(/\r?\n/).length > 2, "and a row");

  await go(page, `/t/${run.tenant}/reports/payouts`, "payouts");
  assert.equal(await page.locator("#download-payouts").count(), 1);
});

test("every tab renders; screenshots of each page are saved", async (t) => {
  if (needs(t, "tenant")) return;
  const { page } = run;
  await go(page, `/t/${run.tenant}`, "integrations-final");
  await go(page, `/t/${run.tenant}/events`, "events-final");
  await go(page, `/t/${run.tenant}/payments`, "payments-final");
  await go(page, `/t/${run.tenant}/invoices`, "invoices-final");
  await go(page, `/t/${run.tenant}/appointments`, "appointments");
  assert.equal(await page.locator("#appointments").count(), 1);
  await go(page, `/t/${run.tenant}/subscriptions`, "subscriptions");
  assert.equal(await page.locator("#subscriptions").count(), 1);
  // Every document the browser received, not only those checked by hand, holds no secret.
  await Promise.all(run.scans);
  assert.deepEqual(run.leaks, [], "no response rendered a secret");
  const files = (await readdir(run.shotDir)).filter((f) => f.endsWith(".png"));
  assert.equal(files.length, run.shots.length);
  for (const name of [
    "login",
    "tenants",
    "integrations",
    "check-result",
    "events-log",
    "event-detail",
    "payments",
    "payment-detail",
    "invoices",
    "appointments",
    "subscriptions",
    "revenue",
    "payouts",
    "reconciliation",
  ]) {
    assert.ok(files.some((f) => f.includes(`-${name}`)), `a screenshot of ${name}`);
  }
  console.log(`${run.checkedPages} pages checked for secrets; screenshots: ${run.shotDir}`);
});

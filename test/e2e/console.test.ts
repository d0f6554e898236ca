import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler as consoleHandler } from '#functions/console/handler';
import { loadStaticFiles } from '#functions/console/static-files';
import type { ApiEvent } from '#shared/http/api';
import { seedFirstPromoter, seedReferralRock } from '#test/simulators/demo-data';
import { ARTIFACTS_DIR, launchBrowser } from '#test/support/browser';
import { startTestRuntime, TEST_AUDIT_TOKEN, TEST_OPERATOR_TOKEN, type TestRuntime } from '#test/support/local-runtime';

/**
 * The auditor's console in a real browser (Debian's Chromium through playwright-core), against the local runtime as
 * `npm start` runs it and, for what the runtime cannot show on demand (a tampered trail, a list of many requests), a
 * test double of the API that serves the very same console files.
 */

const JOHN = { email: 'john@example.com', externalId: 'crm-1001', reference: 'DSR-2001' };

let service: TestRuntime;
let completed: any;
let double: { url: string; server: Server; requests: string[] };
let browser: { context: BrowserContext; close: () => Promise<void> };

beforeAll(async () => {
  service = await startTestRuntime();
  seedReferralRock(service.referralRock);
  seedFirstPromoter(service.firstPromoter);
  [browser, completed] = await Promise.all([launchBrowser(), service.erase(JOHN)]);
  // Playwright's own waits (a locator's waitFor, a click, a download) end at 30 s by default, as the test does: the
  // runner's timeout then fails the test without saying what was awaited. At 20 s, like `poll`, Playwright's says.
  browser.context.setDefaultTimeout(20_000);
  double = await startApiDouble(completed);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => double?.server.close(resolve));
  await service?.stop();
});

describe("The auditor's console", () => {
  it('tells an auditor whose token is refused why, and keeps them at the sign-in form', async () => {
    const page = await openConsole(service.runtime.url);

    await signIn(page, 'not-a-token-the-service-knows-0123456789');
    await poll(() => alertText(page)).toContain('refused this token (401');
    await screenshot(page, 'sign-in-refused');
    await page.evaluate(`document.getElementById('sign-in-error').hidden = true`);
    // An operator token cannot read the trail either.
    await signIn(page, TEST_OPERATOR_TOKEN);
    await poll(() => alertText(page)).toContain('refused this token');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(await page.locator('#nav').isHidden()).toBe(true);
    await closePage(page);
  });

  it("signs in once per tab and draws the overview from the service's own request list", async () => {
    const page = await openConsole(service.runtime.url);

    await signIn(page, TEST_AUDIT_TOKEN);

    await poll(() => page.locator('main h1').textContent()).toBe('Overview');
    // The one request this service holds (JOHN's, completed), from GET /v1/erasure-requests.
    await poll(() => page.locator('.figure dd').first().textContent()).toBe('1');
    const figures = Object.fromEntries(
      await page
        .locator('.figure')
        .evaluateAll((nodes) =>
          nodes.map((n) => [n.querySelector('dt')?.textContent, n.querySelector('dd')?.textContent]),
        ),
    );
    expect(figures).toMatchObject({ Requests: '1', Open: '0' });
    expect(figures['Median time to complete']).not.toBe('—');
    await page.reload();
    await poll(() => page.locator('main h1').textContent()).toBe('Overview');
    await closePage(page);
  });

  it('shows the deadline picture: status chart, open requests by due date with overdue and extended marked, figures', async () => {
    const page = await openConsole(double.url);
    await signIn(page, TEST_AUDIT_TOKEN);

    await page.locator('#open-title + table').waitFor();
    const figures = Object.fromEntries(
      await page
        .locator('.figure')
        .evaluateAll((nodes) =>
          nodes.map((n) => [n.querySelector('dt')?.textContent, n.querySelector('dd')?.textContent]),
        ),
    );
    expect(figures).toMatchObject({ Requests: '4', Open: '3', 'Open and overdue': '1' });
    expect(figures['Median time to complete']).not.toBe('—');
    const rows = await page.locator('#open-title + table tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        reference: tr.children[0]?.textContent,
        className: tr.className,
        left: tr.children[5]?.textContent,
      })),
    );
    expect(rows.map((r) => r.reference)).toEqual(['DSR-OVERDUE', 'DSR-EXTENDED', 'DSR-OPEN']);
    expect(rows[0]).toMatchObject({ className: 'overdue', left: 'overdue by 3 days' });
    expect(rows[1]?.className).toBe('extended');
    expect(rows[2]?.left).toBe('9 days');
    expect(await page.locator('svg.chart rect').count()).toBeGreaterThan(0);
    expect(await page.locator('#outcomes-title + table').textContent()).toContain('referralrock');
    await screenshot(page, 'overview');
    expect(await accessibilityProblems(page)).toEqual([]);

    await page.selectOption('#filter-status', 'completed');
    await page.click('text=Apply filters');
    await poll(() => page.locator('.figure dd').first().textContent()).toBe('1');
    expect(double.requests.at(-1)).toBe('GET /v1/erasure-requests?status=completed');
    await closePage(page);
  });

  it('opens a completed request and verifies its chain in the browser, from the events the service serves', async () => {
    const page = await openConsole(service.runtime.url);
    await signIn(page, TEST_AUDIT_TOKEN);
    await page.locator('#open-id').fill(completed.id);
    await page.locator('#open-id').press('Enter');

    await poll(() => page.locator('.integrity .verdict').textContent()).toBe('✔ Chain verified');
    // The request's chain and each lane of its parallel branches: every event recomputed, each shown.
    const laneEvents = (completed.lanes ?? []).flatMap((lane: { events: unknown[] }) => lane.events).length;
    expect(laneEvents).toBeGreaterThan(0);
    expect(await page.locator('.integrity').textContent()).toContain(
      `All ${completed.events.length + laneEvents} events recomputed`,
    );
    expect(await page.locator('.integrity').textContent()).toContain('every lane ends where it says');
    expect(await page.locator('.integrity code').textContent()).toBe(completed.events.at(-1).hash);
    expect(await page.locator('.facts').textContent()).toContain(completed.subject.pseudonym);
    expect(await page.locator('.facts').textContent()).toContain('DSR-2001');
    expect(await page.locator('.timeline > li').count()).toBe(completed.events.length + laneEvents);
    expect(await page.locator('#actions-title + table tbody tr').count()).toBe(completed.actions.length);
    // Each action's read-back: the search after acting found none of the subject's records.
    const readBacks = await page.locator('#actions-title + table tbody tr td:nth-child(6)').allTextContents();
    expect(readBacks).toHaveLength(completed.actions.length);
    for (const text of readBacks) expect(text).toMatch(/^0 still found, \d+ forms? searched, /);
    await poll(() => page.locator('.receipt-verdict').textContent()).toBe('✔ Receipt verified');
    expect(await page.locator('.receipt li').allTextContents()).toEqual([
      expect.stringMatching(/^✔ Receipt signature: signed by key /),
      expect.stringMatching(/^✔ Tree head signature: log of \d+ receipts$/),
      expect.stringMatching(/^✔ In the transparency log: leaf \d+ of \d+/),
      expect.stringMatching(/^✔ Agrees with this trail: /),
    ]);
    await screenshot(page, 'request-verified');
    expect(await accessibilityProblems(page)).toEqual([]);

    const download = page.waitForEvent('download');
    await page.click('text=Download this view');
    const saved = await (await download).createReadStream();
    const chunks: Buffer[] = [];
    for await (const chunk of saved) chunks.push(chunk as Buffer);
    expect(JSON.parse(Buffer.concat(chunks).toString('utf8'))).toEqual(completed);
    await closePage(page);
  });

  it('shows a tampered trail as broken at the changed event, even when the service claims it is valid', async () => {
    const page = await openConsole(double.url);
    await signIn(page, TEST_AUDIT_TOKEN);
    await page.goto(`${double.url}/console#/requests/${completed.id}`);

    await poll(() => page.locator('.integrity .verdict').textContent()).toBe('✘ Chain broken at event #2');
    expect(await page.locator('.integrity').textContent()).toContain('disagrees with this browser');
    expect(await page.locator('.timeline > li.bad').count()).toBe(1);
    expect(await page.locator('.facts').textContent()).toContain('by 2 months, number of requests (TICKET-7)');
    await screenshot(page, 'request-tampered');
    await closePage(page);
  });

  it("finds a person's requests with the identifier in the request body only, never in the address or storage", async () => {
    const page = await openConsole(service.runtime.url);
    await signIn(page, TEST_AUDIT_TOKEN);
    const urls: string[] = [];
    const bodies: string[] = [];
    page.on('request', (request) => {
      urls.push(request.url());
      bodies.push(request.postData() ?? '');
    });
    await page.click('text=Find a person’s requests');
    const historyBefore = await page.evaluate('history.length');

    await page.locator('#lookup-email').fill(JOHN.email);
    await page.locator('#lookup-email').press('Enter');

    await poll(() => page.locator('main h2').first().textContent()).toBe('1 request found');
    expect(await page.locator('main table').textContent()).toContain(completed.id);
    await screenshot(page, 'lookup');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(bodies.filter((b) => b.includes(JOHN.email))).toEqual([JSON.stringify({ email: JOHN.email })]);
    expect(urls.filter((u) => u.includes('john'))).toEqual([]);
    // Evaluated in the page (a string: the test's own type-check knows no DOM).
    const kept = (await page.evaluate(`({
      url: location.href,
      history: history.length,
      session: JSON.stringify({ ...sessionStorage }),
      local: JSON.stringify({ ...localStorage }),
      field: document.getElementById('lookup-email').value,
    })`)) as { url: string; history: number; session: string; local: string; field: string };
    expect(kept.url).not.toContain('john');
    expect(kept.history).toBe(historyBefore);
    expect(`${kept.session}${kept.local}${kept.field}`).not.toContain('john');

    await page.click(`text=${completed.id}`);
    await poll(() => page.locator('.integrity .verdict').textContent()).toBe('✔ Chain verified');
    await closePage(page);
  });

  it('works from the keyboard alone: sign in, move between views, look a person up and open the request', async () => {
    const page = await openConsole(service.runtime.url);

    await page.keyboard.type(TEST_AUDIT_TOKEN);
    await page.keyboard.press('Enter');
    await poll(() => page.locator('main h1').textContent()).toBe('Overview');
    await tabTo(page, 'Find a person’s requests');
    await page.keyboard.press('Enter');
    await poll(() => page.locator('main h1').textContent()).toBe('Find a person’s requests');
    await tabTo(page, 'Email');
    await page.keyboard.type(JOHN.email);
    await page.keyboard.press('Enter');
    await poll(() => page.locator('main h2').first().textContent()).toBe('1 request found');
    await tabTo(page, completed.id);
    await page.keyboard.press('Enter');

    await poll(() => page.locator('.integrity .verdict').textContent()).toBe('✔ Chain verified');
    await closePage(page);
  });
});

/**
 * Waits for what the page shows, as a person would; generous because the machine running the tests may be busy (the
 * default second of `expect.poll` is not enough under load), and it returns as soon as the page is right.
 */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 20_000, interval: 50 });

/** Script errors and resources the content security policy blocked, per page: each test ends with none. */
const browserErrors = new WeakMap<Page, string[]>();

async function openConsole(base: string): Promise<Page> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  browserErrors.set(page, errors);
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('console', (message) => {
    // The API's own refusals (a wrong token, the probe's 404, a route this service lacks) are answers, not faults.
    if (message.type() === 'error' && !/status of 40[1345]/.test(message.text())) errors.push(message.text());
  });
  await page.goto(`${base}/console`);
  return page;
}

async function closePage(page: Page) {
  await page.close();
  expect(browserErrors.get(page)).toEqual([]);
}

async function signIn(page: Page, token: string) {
  await page.locator('#token').fill(token);
  await page.locator('#token').press('Enter');
}

const alertText = (page: Page) =>
  page
    .locator('#sign-in-error:not([hidden])')
    .textContent()
    .catch(() => '');

const screenshot = (page: Page, name: string) =>
  page.screenshot({ path: join(ARTIFACTS_DIR, `${name}.png`), fullPage: true });

/**
 * A stand-in for the API: the real console handler for the page, canned answers for the API. It lists four requests
 * (the completed one and three open ones around their deadlines) and serves the completed request's trail with its
 * second event changed after the fact, the hashes and the service's own verdict left as they were.
 */
async function startApiDouble(view: any): Promise<{ url: string; server: Server; requests: string[] }> {
  const files = consoleHandler({ files: loadStaticFiles() });
  const requests: string[] = [];
  const day = 86_400_000;
  const now = Date.now();
  const open = (reference: string, receivedDaysAgo: number, dueInDays: number, extra: object = {}) => ({
    id: `er_${Buffer.from(reference).toString('hex').padEnd(32, '0').slice(0, 32)}`,
    status: 'waiting',
    reference,
    receivedAt: new Date(now - receivedDaysAgo * day).toISOString(),
    dueAt: new Date(now + dueInDays * day + day / 2).toISOString(),
    overdue: dueInDays < 0,
    actions: [],
    ...extra,
  });
  const { events: _events, ...summary } = view;
  const listed = [
    summary,
    open('DSR-OPEN', 21, 9),
    open('DSR-OVERDUE', 33, -3),
    open('DSR-EXTENDED', 40, 2, {
      extension: { reasonCode: 'complexity', previousDueAt: new Date(now).toISOString() },
    }),
  ];
  const tampered = structuredClone(view);
  tampered.events[1].data = { ...tampered.events[1].data, tampered: true };
  tampered.extension = {
    months: 2,
    reasonCode: 'number_of_requests',
    note: 'TICKET-7',
    previousDueAt: view.dueAt,
    extendedAt: view.receivedAt,
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://double');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/console' || url.pathname.startsWith('/console/')) {
      const asset = url.pathname.slice('/console/'.length);
      const event = {
        rawPath: url.pathname,
        headers: { ...req.headers },
        ...(asset ? { pathParameters: { asset } } : {}),
      } as unknown as ApiEvent;
      void files(event).then((result: any) => {
        res.writeHead(result.statusCode, result.headers);
        res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
      });
      return;
    }
    if (req.headers.authorization !== `Bearer ${TEST_AUDIT_TOKEN}`) {
      return send(401, {
        error: { code: 'unauthorized', message: 'A valid bearer token is required: one of the AUDIT_TOKENS' },
      });
    }
    if (url.pathname === '/v1/erasure-requests') {
      const status = url.searchParams.get('status');
      return send(200, { requests: listed.filter((r) => !status || r.status === status) });
    }
    if (url.pathname === `/v1/erasure-requests/${view.id}`) return send(200, tampered);
    return send(404, { error: { code: 'not_found', message: 'No such erasure request' } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests };
}

/**
 * Presses Tab until the focused element is the one named (its text, or its label for a field), as a keyboard user
 * would; fails if 30 presses do not reach it.
 */
async function tabTo(page: Page, name: string) {
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(
      `(() => { const e = document.activeElement; return (e.labels?.[0] ?? e).textContent.trim(); })()`,
    );
    if (focused === name) return;
  }
  throw new Error(`Tab never reached "${name}"`);
}

/**
 * What a reviewer would flag on the page as shown: a field without a label, or text whose contrast with the background
 * behind it is under 4.5:1 (WCAG 2.2, 1.4.3), computed from the browser's own styles.
 */
async function accessibilityProblems(page: Page): Promise<string[]> {
  return (await page.evaluate(`(() => {
    const problems = [];
    for (const field of document.querySelectorAll('input, select, textarea')) {
      if (!field.labels?.length && !field.getAttribute('aria-label')) problems.push('no label: #' + field.id);
    }
    const rgb = (color) => color.slice(color.indexOf('(') + 1, -1).split(',').map(parseFloat);
    const luminance = ([r, g, b]) => {
      const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const backgroundOf = (element) => {
      for (let e = element; e; e = e.parentElement) {
        const [r, g, b, a = 1] = rgb(getComputedStyle(e).backgroundColor);
        if (a > 0) return [r, g, b];
      }
      return [255, 255, 255];
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const element = node.parentElement;
      if (!node.textContent.trim() || !element || element.closest('svg, .visually-hidden, .skip')) continue;
      if (!element.checkVisibility()) continue;
      const [l1, l2] = [luminance(rgb(getComputedStyle(element).color)), luminance(backgroundOf(element))];
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      if (ratio < 4.5) problems.push(ratio.toFixed(2) + ': ' + node.textContent.trim().slice(0, 40));
    }
    return problems;
  })()`)) as string[];
}

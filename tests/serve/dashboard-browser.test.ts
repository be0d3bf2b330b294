/**
 * The dashboard of `watt serve` in a real browser: Debian's Chromium (`/usr/bin/chromium`,
 * installed by .ci/run when missing; no browser download) driven by playwright-core. A temporary
 * home gets real runs through the real CLI (ingest x3, purge, erasure, train), then `watt serve`
 * is spawned and a person's session is replayed: wrong key, login, the runs chart, a run's
 * detail, the purge preview, no identifier or pseudonym in the page, phone width, logout.
 * Takes a screenshot; `WATT_UPDATE_SCREENSHOT=1` saves it as docs/dashboard.png (shown in README).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { BIN, ROOT, runWatt, scratchDir } from '../helpers/cli.js';
import { Catalog } from '../../src/catalog/catalog.js';

const CHROMIUM = '/usr/bin/chromium';
const API_KEY = 'dashboard-test-key-0123456789';
const PSEUDO_KEY = 'test-key-0123456789abcdef0123456789abcdef';
const PREFIX = 'watt-about-it/raw';

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);

let cwd: string;
let env: Record<string, string>;
let server: ChildProcess | undefined;
let url: string;
let context: BrowserContext;
let page: Page;
let userData: string;
const runIds: Record<string, string> = {};
/** Raw identifiers of the sample and every pseudonym the lake ever held: none may reach the page. */
const secrets = new Set<string>();

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** The customer_id and meter_id cells of every CSV under `dir` (raw ids or pseudonyms). */
function identifierCells(dir: string): string[] {
  const cells: string[] = [];
  for (const file of listFiles(dir).filter((f) => f.endsWith('.csv'))) {
    const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
    const cols = header!.split(',');
    for (const name of ['customer_id', 'meter_id']) {
      const i = cols.indexOf(name);
      if (i >= 0) for (const l of lines) cells.push(l.split(',')[i]!.replace(/"/g, ''));
    }
  }
  return cells.filter((c) => c.length >= 6);
}

async function watt(args: string[]): Promise<string> {
  const r = await runWatt(args, { cwd, env, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`watt ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  const id = /run (\d{8}T\d{6}Z-[0-9a-z]+)/.exec(r.stdout + r.stderr)?.[1];
  return id ?? '';
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
  cwd = scratchDir('watt-dashboard-');
  // Erasure grace 0: the erasure's replaced object is vacuumed at once (the preview counts live objects).
  env = { WATT_PSEUDONYMISATION_KEY: PSEUDO_KEY, WATT_HOME: path.join(cwd, '.watt'), WATT_ERASURE_GRACE_MINUTES: '0' };
  for (const c of identifierCells(path.join(ROOT, 'samples'))) secrets.add(c);
  runIds.old = await watt(['ingest', '--date', daysAgo(700)]);
  runIds.recent = await watt(['ingest', '--force', '--date', daysAgo(40)]);
  runIds.today = await watt(['ingest', '--force']);
  for (const c of identifierCells(path.join(cwd, 'lake'))) secrets.add(c);
  await watt(['purge', '--days', '365', '--yes']); // deletes the 700-day-old partition only
  await watt(['purge', '--subject', 'CUST-001', '--yes']);
  await watt(['train']);
  await watt(['verify']);
  await watt(['audit-rgpd', '--dir', ROOT]);
  // Runs of earlier days, recorded through the catalog's API (a CLI run is always "today").
  const catalog = Catalog.open(env.WATT_HOME!);
  for (const [n, status] of [[3, 'succeeded'], [9, 'failed']] as const) {
    const at = new Date(Date.now() - n * 86_400_000).toISOString();
    catalog.recordRun({ run_id: `20200101T000000Z-past${n}xxxxx`, command: 'ingest', status, started_at: at, finished_at: at, prefix: PREFIX, rows: status === 'succeeded' ? 7 : null, rejected: 0, exit_code: status === 'succeeded' ? 0 : 2, error: status === 'failed' ? 'source file not found' : null });
  }
  catalog.close();

  server = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...env, WATT_API_KEYS: API_KEY }, stdio: ['ignore', 'ignore', 'pipe'] });
  url = await new Promise<string>((resolve, reject) => {
    let err = '';
    server!.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /"msg":"listening".*?"url":"([^"]+)"/.exec(err);
      if (m) resolve(m[1]!);
    });
    server!.on('exit', () => reject(new Error(`watt serve exited: ${err}`)));
  });
  userData = mkdtempSync(path.join(os.tmpdir(), 'watt-chromium-'));
  context = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 240_000);

afterAll(async () => {
  await context?.close();
  if (server && server.exitCode === null) server.kill('SIGTERM');
  if (userData) rmSync(userData, { recursive: true, force: true });
});

describe('the dashboard in Chromium', () => {
  const consoleErrors: string[] = [];

  test('a wrong key shows an error and opens nothing', async () => {
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(`${url}/`);
    expect(page.url()).toBe(`${url}/ui/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.locator('#app').isVisible()).toBe(false);
    await page.fill('#key', 'not-the-key-0000000000');
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-error').waitFor({ state: 'visible' });
    expect(await page.textContent('#login-error')).toMatch(/Login refused: wrong key/);
    expect(await page.locator('#app').isVisible()).toBe(false);
  });

  test('logging in shows the runs chart with one point per day, and a click on a run opens its detail', async () => {
    await page.fill('#key', API_KEY);
    await page.click('#login-form button[type=submit]');
    await page.locator('body[data-loaded=true]').waitFor();
    const cookies = await context.cookies(url);
    expect(cookies.find((c) => c.name === 'watt_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // today (ingests, purges, erasure, train), 3 days ago and 9 days ago
    expect(await page.getAttribute('#runs-chart', 'data-points')).toBe('3');
    expect(await page.locator('#runs-chart canvas').count()).toBe(1);
    expect(await page.textContent('#runs-summary')).toMatch(/on 3 days/);
    const rows = page.locator('#runs-table tbody tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(8);
    await expect(page.locator('#runs-table tbody').textContent()).resolves.toMatch(/failed/); // a status word, not only a colour

    await page.click(`#runs-table tbody tr[data-run-id="${runIds.today}"]`);
    await page.locator('#run-detail').waitFor({ state: 'visible' });
    expect(await page.textContent('#run-detail-title')).toBe(`Run ${runIds.today}`);
    const fields = await page.textContent('#run-fields');
    expect(fields).toMatch(/5 in, 5 landed, 0 rejected/);
    expect(fields).toContain('sample_energy_consumption.csv');
    expect(fields).toMatch(/_manifests\//);
    expect(await page.textContent('#run-objects')).toContain(new Date().toISOString().slice(0, 10));
  });

  test('a click on a day of the chart lists that day\'s runs', async () => {
    await page.click('#close-detail');
    await page.locator('#runs-chart').scrollIntoViewIfNeeded();
    const box = (await page.locator('#runs-chart .u-over').boundingBox())!;
    // the last point (today) is at the right edge of the plot
    await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
    await page.mouse.click(box.x + box.width - 2, box.y + box.height / 2);
    await page.locator('#day-filter').waitFor({ state: 'visible' });
    const today = new Date().toISOString().slice(0, 10);
    expect(await page.textContent('#day-filter')).toContain(today);
    const started = await page.locator('#runs-table tbody tr td:first-child').allTextContents();
    expect(started.length).toBeGreaterThanOrEqual(6);
    expect(started.every((s) => s.startsWith(today))).toBe(true);
    await page.click('#clear-day');
  });

  test('the purge preview lists the object past its retention period, not the fresh one', async () => {
    const preview = await page.textContent('#purge-preview');
    const recentDay = daysAgo(40).replace(/-/g, '/');
    // Its data object (under the erasure's new key when the erasure rewrote it: issue 23).
    expect(preview).toMatch(new RegExp(`${PREFIX}/${recentDay}/sample_energy_consumption(\\.erasure-[0-9TZa-z-]+)?_${runIds.recent}\\.csv`));
    expect(preview).toContain(`${PREFIX}/_manifests/${runIds.recent}.json`);
    expect(preview).not.toContain(runIds.today);
    expect(preview).not.toContain(runIds.old); // deleted by the purge already
    expect(preview).toMatch(/would delete 2 lake objects/);
    const lake = await page.textContent('#lake-table');
    expect(lake).toContain(daysAgo(40).slice(0, 7));
    expect(lake).not.toContain(daysAgo(700).slice(0, 7));
    const gdpr = await page.textContent('#gdpr');
    expect(gdpr).toMatch(/audit trail: ok/);
    expect(gdpr).toMatch(/last watt verify: succeeded/);
    expect(gdpr).toMatch(/last audit-rgpd: succeeded .* 0 errors, \d+ warnings/);
    expect(gdpr).toMatch(/1 erasures and 1 retention purges/);
    expect(await page.textContent('#model-card')).toMatch(/MAE/);
  });

  test('no raw identifier or pseudonym anywhere in the page; readable at phone width; screenshot', async () => {
    expect(secrets.size).toBeGreaterThan(4);
    const html = await page.content();
    const text = await page.evaluate('document.body.innerText') as string;
    for (const s of secrets) {
      expect({ s, inHtml: html.includes(s), inText: text.includes(s) }).toEqual({ s, inHtml: false, inText: false });
    }
    // The screenshot goes to the OS temp folder; WATT_UPDATE_SCREENSHOT=1 refreshes docs/dashboard.png
    // (README's picture), so that a test run leaves the checkout clean.
    const shot = process.env.WATT_UPDATE_SCREENSHOT === '1' ? path.join(ROOT, 'docs', 'dashboard.png') : path.join(os.tmpdir(), `watt-dashboard-${process.pid}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    if (!shot.startsWith(path.join(ROOT, 'docs'))) rmSync(shot, { force: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(200);
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    expect(overflow).toBeLessThanOrEqual(1);
    await page.setViewportSize({ width: 1200, height: 900 });
    // only the expected refusals (the first visit before login, the wrong key): no script error, no CSP violation
    expect(consoleErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });

  test('logging out ends the session: the JSON answers 401 again', async () => {
    await page.click('#logout');
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.textContent('#login-error')).toMatch(/Logged out/);
    const status = await page.evaluate(async () => (await fetch('/ui/api/runs', { credentials: 'same-origin' })).status);
    expect(status).toBe(401);
    await page.reload();
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.locator('#app').isVisible()).toBe(false);
  });
});

/**
 * The admin console and the patient portal in a real browser (Debian's Chromium through
 * playwright-core, headless), against `custos serve` and real DICOM peers (storescu in, storescp out).
 * An admin adds recipients and fills in their vetting; a privacy officer approves them and records
 * agreements; a study is sent; the dashboard and the study's timeline show it released. A patient
 * signs in with a code, sees where the images went, opts out of AI training, and the next study is
 * withheld from the training recipient. An auditor sees no admin actions, and the API refuses them.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import AxeBuilder from '@axe-core/playwright';
import { type Browser, type Page, chromium } from 'playwright-core';
import { REPO, tempDir } from './helpers.ts';
import { type GatewayProc, type Peer, startGatewayProcess, startStorescp, storescu, waitFor } from './peers.ts';

const work = tempDir('custos-web-');
let gw: GatewayProc;
let browser: Browser;
const scps: Record<string, Peer> = {};
const admin = (): { username: string; password: string; token: string } => JSON.parse(readFileSync(join(work, 'data', 'initial-admin.json'), 'utf8')) as { username: string; password: string; token: string };

/** A study of the synthetic patient SYN-0001 with UIDs of its own (one study, a series per file). */
function newStudy(name: string): string[] {
  const dir = join(work, name);
  execFileSync('mkdir', ['-p', dir]);
  const files = readdirSync(join(REPO, 'examples')).filter((f) => f.endsWith('.dcm')).map((f) => { const to = join(dir, f); copyFileSync(join(REPO, 'examples', f), to); return to; });
  const study = `2.25.${BigInt(`0x${randomBytes(12).toString('hex')}`)}`;
  execFileSync('dcmodify', ['-nb', '-m', `(0020,000D)=${study}`, '-gse', '-gin', ...files]);
  return files;
}

async function staff(role: string): Promise<{ username: string; password: string }> {
  const res = await gw.api(`${gw.http}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `${role}-${Date.now() % 100000}`, role }) });
  assert.equal(res.status, 201);
  return (await res.json()) as { username: string; password: string };
}

/** Serious and critical accessibility violations on the page as it is now (axe-core, WCAG 2.1 A/AA rules). */
async function accessibilityProblems(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help} (${v.nodes.length})`);
}

/** With CUSTOS_SCREENSHOTS=1, the page as docs/screenshots/<name>.png (README shows them). */
async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.CUSTOS_SCREENSHOTS) await page.screenshot({ path: join(REPO, 'docs', 'screenshots', `${name}.png`), fullPage: true });
}

/** A page in a context of its own (its own cookies: one person per page), as axe needs. */
async function newPage(opts: { viewport?: { width: number; height: number } } = {}): Promise<Page> {
  return (await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 900 } })).newPage();
}

async function signIn(page: Page, who: { username: string; password: string }): Promise<void> {
  await page.goto(`${gw.http}/`);
  await page.getByLabel('User name').fill(who.username);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

before(async () => {
  if (!existsSync(join(REPO, 'dist', 'web', 'index.html'))) execFileSync('npm', ['run', 'build:web'], { cwd: REPO, stdio: 'inherit' });
  scps.care = await startStorescp(join(work, 'care'), 'CARE');
  scps.train = await startStorescp(join(work, 'train'), 'TRAIN');
  gw = await startGatewayProcess(join(work, 'data'), { policy: { purposes: { TREATDS: 'opt-out', MLTRAINING: 'opt-out' } } });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
});
after(async () => {
  await browser?.close();
  await gw?.stop();
  for (const p of Object.values(scps)) await p.stop();
});

test('an admin adds and vets recipients, a privacy officer approves them with agreements, and a study sent with storescu shows released on the dashboard and its timeline', async () => {
  const page = await newPage();
  await signIn(page, admin());
  await page.getByRole('link', { name: 'Recipients' }).click();
  for (const [id, purpose, scp, ae] of [['ai-care', 'TREATDS', scps.care!, 'CARE'], ['ai-train', 'MLTRAINING', scps.train!, 'TRAIN']] as const) {
    await page.getByText('Add a recipient').click();
    const form = page.getByRole('form', { name: 'New recipient' });
    await form.getByLabel('Recipient id').fill(id);
    await form.getByLabel('Purpose').selectOption(purpose);
    await form.getByLabel('Port').fill(String(scp.port));
    await form.getByLabel('AE title').fill(ae);
    await form.getByRole('button', { name: 'Add recipient' }).click();
    const panel = page.getByTestId(`recipient-${id}`);
    await panel.waitFor();
    await panel.getByText('Record vetting or an agreement').click();
    const vetting = panel.getByRole('form', { name: `Vetting of ${id}` });
    await vetting.getByLabel('Where the data is stored').fill('eu-central (synthetic)');
    await vetting.getByLabel('Retention and deletion').fill('deleted 30 days after use');
    await vetting.getByLabel('Evidence (document reference)').fill('VET-2026-001 (synthetic)');
    await vetting.getByRole('button', { name: 'Record vetting' }).click();
    await assert.doesNotReject(panel.getByTestId('vetting-status').filter({ hasText: 'draft' }).waitFor());
    // The two-person rule: who filled it in does not approve it.
    assert.equal(await panel.getByRole('button', { name: 'Approve vetting' }).count(), 0);
  }
  await page.close();

  const officer = await newPage();
  await signIn(officer, await staff('privacy-officer'));
  await officer.getByRole('link', { name: 'Recipients' }).click();
  for (const id of ['ai-care', 'ai-train']) {
    const panel = officer.getByTestId(`recipient-${id}`);
    await panel.getByRole('button', { name: 'Approve vetting' }).click();
    await panel.getByTestId('vetting-status').filter({ hasText: 'approved' }).waitFor();
    await panel.getByText('Record vetting or an agreement').click();
    const agreement = panel.getByRole('form', { name: `Agreement with ${id}` });
    await agreement.getByLabel("Document (the signed agreement's reference)").fill(`DUA-${id} (synthetic)`);
    await agreement.getByRole('button', { name: 'Record agreement' }).click();
    await panel.getByText(/valid .* copies kept 30 days/).waitFor();
  }

  const sent = await storescu(gw.dimsePort, 'CUSTOS', newStudy('first'));
  assert.equal(sent.status, 0, sent.output);
  await waitFor('both recipients to receive the study', () => readdirSync(join(work, 'train')).length >= 3 && readdirSync(join(work, 'care')).length >= 3 ? true : undefined, 60_000)
    .catch(async (e: unknown) => { throw new Error(`${(e as Error).message}; jobs: ${await (await gw.api(`${gw.http}/api/jobs`)).text()}`); });
  await officer.getByRole('link', { name: 'Dashboard' }).click();
  await officer.getByTestId('released').filter({ hasText: '6' }).waitFor();
  assert.equal(await officer.getByTestId('received').textContent(), '3');
  await officer.getByText(/Latest signed checkpoint/).waitFor();
  await officer.getByText('No CT or MR series has been defaced yet.').waitFor(); // the defacing reviews (none here)
  assert.deepEqual(await accessibilityProblems(officer), [], 'dashboard');
  await screenshot(officer, 'console-dashboard');
  await officer.getByRole('link', { name: 'Studies' }).click();
  await officer.locator('a.uid').first().click();
  await officer.getByTestId('job-ai-train').first().getByText('released').waitFor();
  await officer.getByText('Recorded in the transparency log').first().waitFor();
  assert.deepEqual(await accessibilityProblems(officer), [], 'study timeline');
  await screenshot(officer, 'console-study');
  await officer.getByRole('link', { name: 'Recipients' }).click();
  await officer.getByTestId('recipient-ai-train').getByTestId('vetting-status').filter({ hasText: 'approved' }).waitFor();
  assert.deepEqual(await accessibilityProblems(officer), [], 'recipients');
  await screenshot(officer, 'console-recipients');
  await officer.close();
});

test('a patient signs in with a code, sees where the images went, opts out of AI training, and the next study is withheld from the training recipient', async () => {
  const codeRes = await gw.api(`${gw.http}/api/patient-codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ patientId: 'SYN-0001' }) });
  assert.equal(codeRes.status, 201);
  const { code } = (await codeRes.json()) as { code: string };
  const page = await newPage({ viewport: { width: 390, height: 844 } }); // a phone-sized screen
  await page.goto(`${gw.http}/portal/`);
  await page.getByLabel('Access code').fill(code);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'How the hospital uses your images' }).waitFor();
  await page.getByText('Training AI systems').first().waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], 'portal overview');
  await screenshot(page, 'portal-overview-phone');
  await page.getByRole('link', { name: 'Where my images went' }).click();
  await page.getByTestId('disclosure-ai-train-released').first().waitFor();
  await page.getByRole('link', { name: 'My choices' }).click();
  const training = page.getByTestId('choice-MLTRAINING');
  await training.getByLabel('No, do not share them').check();
  await training.getByText('Now: not shared.').waitFor();

  const before = readdirSync(join(work, 'train')).length;
  const sent = await storescu(gw.dimsePort, 'CUSTOS', newStudy('second'));
  assert.equal(sent.status, 0, sent.output);
  await waitFor('the care recipient to receive the second study', () => readdirSync(join(work, 'care')).length >= 6 ? true : undefined, 60_000);
  const withheld = await waitFor('the training jobs to be withheld', async () => {
    const jobs = (await (await gw.api(`${gw.http}/api/jobs?recipient=ai-train&state=withheld`)).json()) as Array<{ withheldReasons: Array<{ code: string }> }>;
    return jobs.length === 3 ? jobs : undefined;
  }, 60_000);
  assert.ok(withheld.every((j) => j.withheldReasons.some((r) => r.code === 'CONSENT_DENIED')));
  assert.equal(readdirSync(join(work, 'train')).length, before, 'nothing more reached the training recipient');
  await page.getByRole('link', { name: 'Where my images went' }).click();
  await page.getByTestId('disclosure-ai-train-withheld').first().getByText('because you said no').waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], 'where my images went');
  await screenshot(page, 'portal-where-phone');
  await page.getByRole('link', { name: 'My choices' }).click();
  await page.getByTestId('choice-MLTRAINING').waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], 'my choices');
  await screenshot(page, 'portal-choices-phone');

  // My copy: the originals and a proof kit; the kit shows them authentic, and a changed pixel tampered.
  await page.getByRole('link', { name: 'My copy' }).click();
  await page.getByTestId('own-study').first().waitFor();
  assert.equal(await page.getByTestId('own-study').count(), 2);
  assert.deepEqual(await accessibilityProblems(page), [], 'my copy');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download (zip)' }).first().click()]);
  const zipped = unzipSync(readFileSync(await download.path()));
  const names = Object.keys(zipped).sort();
  assert.deepEqual(names, ['DICOM/00001.dcm', 'DICOM/00002.dcm', 'DICOM/00003.dcm', 'README.txt', 'custos-proof-kit.json']);
  const copy = join(work, 'copy');
  mkdirSync(join(copy, 'DICOM'), { recursive: true });
  for (const n of names) writeFileSync(join(copy, n), zipped[n]!);
  // custos verify exits 1 when something is not authentic: its JSON lines say what.
  const verify = (files: string[]): Array<{ status: string }> => spawnSync(process.execPath, [join(REPO, 'bin', 'custos.js'), 'verify', ...files, '--kit', join(copy, 'custos-proof-kit.json'), '--json'], { encoding: 'utf8' })
    .stdout.trim().split('\n').map((l) => JSON.parse(l) as { status: string; file?: string }).filter((r) => r.file);
  assert.deepEqual(verify([join(copy, 'DICOM')]).map((r) => r.status), ['authentic', 'authentic', 'authentic']);
  const changed = Buffer.from(zipped['DICOM/00001.dcm']!);
  changed[changed.length - 100]! ^= 0x01; // one pixel bit
  writeFileSync(join(copy, 'changed.dcm'), changed);
  const tampered = verify([join(copy, 'changed.dcm')]);
  assert.equal(tampered[0]!.status, 'tampered');

  // Check a copy, in the page: the same verdicts, and no request carries the files.
  await page.getByRole('link', { name: 'Check a copy' }).click();
  const uploads: string[] = [];
  page.on('request', (r) => { if (r.method() !== 'GET' || r.postData()) uploads.push(`${r.method()} ${r.url()}`); });
  const picker = page.getByLabel('Image files and proof kit');
  await picker.setInputFiles([...['00001', '00002', '00003'].map((n) => join(copy, 'DICOM', `${n}.dcm`)), join(copy, 'custos-proof-kit.json')]);
  await page.getByRole('button', { name: 'Check' }).click();
  await page.getByRole('list', { name: 'Results' }).waitFor();
  assert.equal(await page.getByTestId('verdict-authentic').count(), 3);
  await picker.setInputFiles([join(copy, 'changed.dcm'), join(copy, 'custos-proof-kit.json')]);
  await page.getByRole('button', { name: 'Check' }).click();
  const changedVerdict = page.getByTestId('verdict-tampered');
  await changedVerdict.waitFor();
  assert.match(await changedVerdict.textContent() ?? '', /What differs: .*frame/i);
  assert.deepEqual(await accessibilityProblems(page), [], 'check a copy');
  await screenshot(page, 'portal-check-phone');
  assert.deepEqual(uploads, [], 'no request carried the files');
  await page.close();
});

test('an auditor is shown no admin actions, and the API refuses them all the same (AUTH_FORBIDDEN)', async () => {
  const who = await staff('auditor');
  const page = await newPage();
  await signIn(page, who);
  await page.getByRole('link', { name: 'Recipients' }).click();
  await page.getByTestId('recipient-ai-care').waitFor();
  assert.equal(await page.getByText('Add a recipient').count(), 0);
  assert.equal(await page.getByRole('button', { name: /Approve vetting|Suspend/ }).count(), 0);
  const status = await page.evaluate(async () => {
    const s = await (await fetch('/auth/session')).json() as { csrfToken: string };
    const r = await fetch('/api/recipients/ai-care/vetting/decision', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: JSON.stringify({ status: 'suspended' }) });
    return { status: r.status, body: await r.json() as { error: string } };
  });
  assert.deepEqual(status, { status: 403, body: { ...status.body, error: 'AUTH_FORBIDDEN' } });
  await page.close();
});

test('a privacy officer finds a patient\'s consents (the portal choice among them) and places and releases a legal hold', async () => {
  const page = await newPage();
  await signIn(page, await staff('privacy-officer'));
  await page.getByRole('link', { name: 'Patients' }).click();
  await page.getByRole('form', { name: 'Find consents' }).getByLabel(/^Patient/).fill('|SYN-0001');
  await page.getByRole('button', { name: 'Find' }).click();
  const row = page.getByTestId('consent-row').filter({ hasText: 'deny MLTRAINING' });
  await row.waitFor();
  assert.match(await row.textContent() ?? '', /the patient \(portal\)/);
  const hold = page.getByRole('form', { name: 'Place a legal hold' });
  await hold.getByLabel(/^Patient/).fill('|SYN-0001');
  await hold.getByLabel('Reason').fill('litigation (synthetic)');
  await hold.getByRole('button', { name: 'Place hold' }).click();
  await page.getByTestId('hold').filter({ hasText: 'litigation (synthetic)' }).getByRole('button', { name: 'Release' }).click();
  await page.getByTestId('hold').filter({ hasText: /released/ }).waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], 'patients');
  await page.getByRole('link', { name: 'Quarantine' }).click();
  await page.getByRole('heading', { name: 'Refused on arrival (quarantine)' }).waitFor();
  await page.getByText('Nothing was refused.').waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], 'quarantine');
  await page.getByRole('link', { name: 'Patients' }).click();
  // The erase button stays disabled until ERASE is typed.
  assert.equal(await page.getByRole('button', { name: 'Erase' }).isDisabled(), true);
  await page.close();
});

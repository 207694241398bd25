// run.mjs: the web page's flows in Debian's Chromium, driven by
// playwright-core, against the `vsr serve` that tests/test_web.c started.
// Each step prints one line and leaves a screenshot in VSR_WEB_SHOTS; the
// first failed check ends the run with exit status 1. axe-core checks each
// view for serious or critical accessibility violations.
//
// Environment: VSR_WEB_BASE (http://127.0.0.1:PORT), VSR_WEB_KEY,
// VSR_WEB_ADMIN_KEY, VSR_WEB_CLIP (a video with burned-in subtitles and
// speech), VSR_WEB_SHOTS (folder for screenshots), VSR_WEB_DOWNLOADS
// (folder the downloaded result is saved in, under its suggested name).
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  if (!process.env[name]) throw new Error(`${name} is not set`);
  return process.env[name];
};
const base = env('VSR_WEB_BASE'), key = env('VSR_WEB_KEY'), adminKey = env('VSR_WEB_ADMIN_KEY');
const clip = env('VSR_WEB_CLIP'), shots = env('VSR_WEB_SHOTS'), downloads = env('VSR_WEB_DOWNLOADS');
mkdirSync(shots, { recursive: true });
mkdirSync(downloads, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let shot = 0;
const step = (text) => console.log(`  web: ${text}`);
function check(cond, text) {
  if (!cond) throw new Error(`check failed: ${text}`);
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
const problems = [];
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  page.on('request', (r) => {
    if (r.url().includes(key) || r.url().includes(adminKey)) problems.push(`the key is in a URL: ${r.url()}`);
  });
  const snap = async (name) => {
    shot++;
    await page.screenshot({ path: path.join(shots, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  const axe = async (view) => {
    // Evaluated through the DevTools protocol, which the page's CSP does
    // not govern: the page itself allows no injected script.
    await page.evaluate(axeSource);
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    for (const v of bad) console.log(`  axe (${view}): ${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    check(bad.length === 0, `no serious or critical axe violations on the ${view} view`);
    step(`axe: ${view} view has no serious or critical violations (${result.violations.length} minor)`);
  };
  const visible = (id) => page.waitForSelector(`#${id}:not([hidden])`, { state: 'visible' });
  const finished = (timeout) => page.waitForFunction(() => ['succeeded', 'failed', 'canceled'].includes(document.getElementById('job-status').textContent), null, { timeout });
  const api = async (p, k = key) => (await fetch(base + p, { headers: { Authorization: `Bearer ${k}` } })).json();

  // ---- the page and its headers
  const response = await page.goto(base + '/');
  const csp = response.headers()['content-security-policy'] || '';
  check(csp.includes("script-src 'self'") && !csp.includes('unsafe'), `a strict CSP (${csp})`);
  check(response.headers()['x-content-type-options'] === 'nosniff', 'nosniff');
  check(response.headers()['referrer-policy'] === 'no-referrer', 'Referrer-Policy');
  await page.waitForSelector('body[data-ready="1"]');
  const timing = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    return { interactive: Math.round(n.domInteractive), loaded: Math.round(n.domContentLoadedEventEnd) };
  });
  step(`page interactive after ${timing.interactive} ms, DOMContentLoaded after ${timing.loaded} ms (reported, not asserted)`);
  await visible('view-signin');
  await snap('sign-in');
  await axe('sign-in');

  // ---- sign in (a wrong key first: the API's words are shown)
  await page.fill('#key', 'vsr_wrong');
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#error:not([hidden])');
  check((await page.textContent('#error')).includes('401'), 'a wrong key shows the 401');
  await page.fill('#key', key);
  await page.click('#signin-form button[type=submit]');
  await visible('view-new');
  check(await page.evaluate(() => localStorage.getItem('vsr.key')) === key, 'the key is kept in localStorage');
  check(await page.isHidden('#nav-ops'), 'a plain key does not see the operator view');
  step('signed in');

  // ---- a text file is refused with the API's 422
  await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a video at all\n') });
  await page.waitForSelector('#error:not([hidden])');
  const refusal = await page.textContent('#error');
  check(/^422 /.test(refusal), `the 422 is shown (${refusal})`);
  check(await page.isDisabled('#start'), 'no job can start on a refused file');
  step(`text file refused: "${refusal}"`);
  await snap('422-text-file');

  // ---- the clip, with upload progress
  await page.evaluate(() => {
    window.__uploadProgress = [];
    new MutationObserver(() => window.__uploadProgress.push(Number(document.getElementById('upload-progress').value)))
      .observe(document.getElementById('upload-progress'), { attributes: true });
  });
  await page.setInputFiles('#file', clip);
  await page.waitForFunction(() => document.getElementById('upload-status').textContent.startsWith('Uploaded'), null, { timeout: 60000 });
  const progress = await page.evaluate(() => window.__uploadProgress);
  check(progress.length > 0 && progress[progress.length - 1] === 100, `upload progress reached 100 (${progress})`);
  check(await page.isHidden('#error'), 'the error went away');
  step(`uploaded with progress ${progress.map(Math.round).join(', ')}`);

  // ---- a region drawn over the bottom of the frame
  await visible('regions-box');
  await page.waitForFunction(() => document.getElementById('preview').readyState >= 2);
  const box = await page.locator('#regions').boundingBox();
  await page.mouse.move(box.x + box.width * 0.04, box.y + box.height * 0.68);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.8, { steps: 4 });
  await page.mouse.move(box.x + box.width * 0.96, box.y + box.height * 0.97, { steps: 4 });
  await page.mouse.up();
  const regions = await page.textContent('#region-list');
  check(regions.startsWith('Region 1:'), `a region drawn (${regions})`);
  step(`drew ${regions}`);
  await snap('region-drawn');
  await axe('new job');

  // ---- the remove job, watched live to the end
  await page.evaluate(() => {
    window.__seen = [];
    const note = () => window.__seen.push(`${document.getElementById('job-status').textContent} ${document.getElementById('job-progress').value}`);
    new MutationObserver(note).observe(document.getElementById('view-watch'), { attributes: true, subtree: true, childList: true, characterData: true });
  });
  await page.click('#start');
  await visible('view-watch');
  const removeJob = await page.textContent('#watch-id');
  await snap('watching');
  await finished(240000);
  check(await page.textContent('#job-status') === 'succeeded', `the remove job succeeded (${await page.textContent('#error')})`);
  await visible('view-result');
  const seen = [...new Set(await page.evaluate(() => window.__seen))];
  check(seen.some((s) => !s.startsWith('succeeded')) && seen.some((s) => s.startsWith('succeeded')),
    `the watch view changed from running to succeeded (${seen})`);
  const job = await api(`/api/v1/jobs/${removeJob}`);
  check(job.status === 'succeeded' && job.options.regions && job.options.regions.length === 1,
    `the job ran with the drawn region (${JSON.stringify(job.options)})`);
  step(`remove job ${removeJob} watched: ${seen.join(' -> ')}; region ${JSON.stringify(job.options.regions[0])}`);

  // ---- the comparison: split slider, synchronised playback, download
  await visible('download');
  await page.waitForFunction(() => document.getElementById('after').readyState >= 2 && document.getElementById('before').readyState >= 2);
  await page.focus('#split');
  for (let i = 0; i < 20; i++) await page.keyboard.press('ArrowLeft');
  const clip30 = await page.evaluate(() => document.getElementById('after').style.clipPath);
  check(clip30 === 'inset(0px 0px 0px 30%)' || clip30 === 'inset(0 0 0 30%)', `the split moved to 30% (${clip30})`);
  await page.click('#play');
  await page.waitForFunction(() => !document.getElementById('after').paused && !document.getElementById('before').paused);
  await page.click('#play');
  // A frame with the subtitle in the "before" half.
  await page.evaluate(() => new Promise((done) => { const a = document.getElementById('after'); a.addEventListener('seeked', done, { once: true }); a.currentTime = 1.0; }));
  await page.waitForFunction(() => Math.abs(document.getElementById('before').currentTime - 1.0) < 0.2);
  await page.focus('#split');
  for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowRight');
  step('comparison: split moved to 30% by the keyboard, both videos played together, shown at 60%');
  await snap('comparison');
  await axe('result');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const name = download.suggestedFilename();
  check(name === path.basename(clip).replace(/\.[^.]*$/, '') + '-no-subtitles.mp4', `named after the upload (${name})`);
  await download.saveAs(path.join(downloads, name));
  step(`downloaded ${name}`);

  // ---- a caption job with a style
  await page.click('nav [data-view=new]');
  await page.check('input[name=type][value=caption]');
  await visible('style-box');
  await page.click('label[title^="Yellow"]');
  await page.selectOption('#position', 'top');
  await page.fill('#size', '18');
  await snap('caption-style');
  await page.click('#start');
  await visible('view-watch');
  const captionJob = await page.textContent('#watch-id');
  await finished(300000);
  check(await page.textContent('#job-status') === 'succeeded', `the caption job succeeded (${await page.textContent('#error')})`);
  await visible('view-result');
  await visible('download');
  const captioned = await api(`/api/v1/jobs/${captionJob}`);
  check(captioned.status === 'succeeded' && captioned.options.style === 'yellow' && captioned.options.position === 'top' && captioned.options.size === 18,
    `the caption job ran with the chosen style (${JSON.stringify(captioned.options)})`);
  check((await page.getAttribute('#download', 'download')).endsWith('-captioned.mp4'), 'the captioned file is named after the upload');
  step(`caption job ${captionJob}: ${JSON.stringify(captioned.options)}`);

  // ---- cancel
  await page.click('nav [data-view=new]');
  await page.check('input[name=type][value=remove]');
  await page.click('#start');
  await visible('view-watch');
  const cancelJob = await page.textContent('#watch-id');
  await page.click('#cancel');
  await page.waitForFunction(() => document.getElementById('job-status').textContent === 'canceled', null, { timeout: 60000 });
  check((await api(`/api/v1/jobs/${cancelJob}`)).status === 'canceled', 'the API says canceled');
  check(await page.isHidden('#cancel'), 'no cancel button on a canceled job');
  step(`canceled ${cancelJob}`);
  await snap('canceled');

  // ---- the jobs list, two a page
  await page.click('nav [data-view=jobs]');
  await page.waitForSelector('#jobs tr');
  await page.selectOption('#per-page', '2');
  await page.waitForFunction(() => document.querySelectorAll('#jobs tr').length === 2);
  const ids = async () => page.$$eval('#jobs tr td:first-child', (tds) => tds.map((t) => t.textContent));
  const first = await ids();
  check(first[0] === cancelJob && first[1] === captionJob, `newest first (${first})`);
  check(!(await page.isDisabled('#next-page')), 'a next page');
  check((await page.textContent('#jobs')).includes(path.basename(clip)), 'the file name is shown');
  await snap('jobs-page-1');
  await axe('jobs');
  await page.click('#next-page');
  await page.waitForFunction((id) => document.querySelector('#jobs tr td') && document.querySelector('#jobs tr td').textContent === id, removeJob);
  const second = await ids();
  check(second.length === 1 && second[0] === removeJob, `the second page (${second})`);
  check(await page.isDisabled('#next-page'), 'no page after the last');
  await page.selectOption('#filter', 'canceled');
  await page.waitForFunction((id) => document.querySelectorAll('#jobs tr').length === 1 && document.querySelector('#jobs tr td').textContent === id, cancelJob);
  step(`jobs list: [${first}] then [${second}]; filtered by status: [${cancelJob}]`);

  // ---- sign out; the admin key sees the operator view
  await page.click('#signout');
  await visible('view-signin');
  check(await page.evaluate(() => localStorage.getItem('vsr.key')) === null, 'sign-out forgets the key');
  await page.fill('#key', adminKey);
  await page.click('#signin-form button[type=submit]');
  await visible('nav-ops');
  await page.click('#nav-ops');
  await page.waitForFunction(() => document.getElementById('ops').textContent.includes('Readiness'));
  const ops = await page.textContent('#ops');
  check(ops.includes('Busy workers') && ops.includes('Queued jobs'), `the operator view (${ops})`);
  step(`operator view: ${ops}`);
  await snap('operator');
  await axe('operator');

  // ---- a phone's width: nothing wider than the screen
  await page.setViewportSize({ width: 375, height: 800 });
  await page.click('nav [data-view=new]');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 375, `readable on a phone (page ${wide} px wide)`);
  await snap('phone');
  step('phone width: no horizontal scrolling');

  check(problems.length === 0, problems.join('; '));
  step('all flows passed');
} catch (err) {
  console.log(`  web: FAILED: ${err.message}`);
  const shown = await browser.contexts()[0].pages()[0].textContent('#error').catch(() => '');
  if (shown) console.log(`  web: the page showed: ${shown}`);
  for (const p of problems) console.log(`  web: ${p}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

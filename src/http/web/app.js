/* app.js: the web page's whole logic. It talks only to the public API, with
 * the key in the Authorization header (never in a URL), and shows the API's
 * own error messages. No framework, no build step, no other origin. */
'use strict';

const $ = (id) => document.getElementById(id);
const KEY = 'vsr.key';
const NAMES = 'vsr.names'; /* job and upload ids -> the file name chosen */
const state = { key: '', file: null, upload: null, subs: null, regions: [], job: null,
  watch: null, cursors: [''], localUrl: '' };

/* ---- the API --------------------------------------------------------- */

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const e = (body && body.error) || {};
    let text = `${status}: ${e.message || 'the server answered ' + status}`;
    if (e.code) text = `${status} ${e.code}: ${e.message}`;
    if (e.field) text += ` (field ${e.field})`;
    if (retryAfter) text += `; retry after ${retryAfter} s`;
    super(text);
    this.status = status;
  }
}

async function api(method, path, body, extra) {
  const headers = { Authorization: 'Bearer ' + state.key };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), ...extra });
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null), r.headers.get('Retry-After'));
  return r;
}
const getJson = async (path) => (await api('GET', path)).json();

function showError(err) {
  const p = $('error');
  p.textContent = err ? (err.message || String(err)) : '';
  p.hidden = !err;
}

function names() {
  try { return JSON.parse(localStorage.getItem(NAMES) || '{}'); } catch (e) { return {}; }
}
function remember(id, name) {
  const all = names();
  all[id] = name;
  localStorage.setItem(NAMES, JSON.stringify(all));
}

/* ---- views ----------------------------------------------------------- */

function show(view) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'view-' + view;
  if (view !== 'watch' && state.watch) { state.watch.abort(); state.watch = null; }
  if (view === 'jobs') loadJobs(0);
  if (view === 'ops') loadOps();
  const h = document.querySelector(`#view-${view} h2`);
  if (h) { h.tabIndex = -1; h.focus(); }
}

async function signIn(key) {
  state.key = key;
  try {
    await getJson('/api/v1/jobs?limit=1');
  } catch (err) {
    state.key = '';
    showError(err);
    return;
  }
  localStorage.setItem(KEY, key);
  showError(null);
  $('nav').hidden = false;
  /* Only an admin key sees the operator view: the API says which it is. */
  const admin = await fetch('/api/v1/admin/jobs?limit=1', { headers: { Authorization: 'Bearer ' + key } });
  $('nav-ops').hidden = admin.status !== 200;
  show('new');
}

function signOut() {
  localStorage.removeItem(KEY);
  localStorage.removeItem(NAMES);
  state.key = '';
  $('nav').hidden = true;
  $('key').value = '';
  show('signin');
}

/* ---- new job: upload ------------------------------------------------- */

const jobType = () => document.querySelector('input[name=type]:checked').value;

function typeChanged() {
  const t = jobType();
  $('subs-drop').hidden = !(t === 'burn' || t === 'replace');
  $('regions-box').hidden = !(t === 'remove' || t === 'replace') || !state.upload;
  $('style-box').hidden = !(t === 'caption' || t === 'burn' || t === 'replace');
  canStart();
}

function canStart() {
  const t = jobType();
  $('start').disabled = !state.upload || ((t === 'burn' || t === 'replace') && !state.subs);
}

/* The upload-init flow: POST /api/v1/uploads, then PUT the bytes with
 * progress (fetch has no upload progress; XMLHttpRequest does). */
async function upload(file, onProgress) {
  const r = await api('POST', '/api/v1/uploads', { fileName: file.name, fileSize: file.size, mimeType: file.type || 'application/octet-stream' });
  const up = await r.json();
  const path = new URL(up.upload_url).pathname; /* same origin as the page */
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', path);
    x.setRequestHeader('Authorization', 'Bearer ' + state.key);
    x.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(100 * e.loaded / e.total); };
    x.onload = () => {
      let body = null;
      try { body = JSON.parse(x.responseText); } catch (e) { /* not JSON */ }
      if (x.status >= 200 && x.status < 300) resolve(body);
      else reject(new ApiError(x.status, body, x.getResponseHeader('Retry-After')));
    };
    x.onerror = () => reject(new Error('the upload was cut off; check the connection and choose the file again'));
    x.send(file);
  });
}

async function chooseVideo(file) {
  if (!file) return;
  showError(null);
  state.file = file; state.upload = null; state.regions = [];
  const bar = $('upload-progress');
  bar.hidden = false; bar.value = 0;
  $('upload-status').textContent = `Uploading ${file.name}…`;
  canStart();
  try {
    state.upload = await upload(file, (p) => { bar.value = p; $('upload-status').textContent = `Uploading ${file.name}: ${Math.round(p)}%`; });
    bar.value = 100;
    const m = state.upload.media || {};
    $('upload-status').textContent = `Uploaded ${file.name} (${m.width}x${m.height}, ${m.duration_seconds} s)`;
    remember(state.upload.id, file.name);
    if (state.localUrl) URL.revokeObjectURL(state.localUrl);
    state.localUrl = URL.createObjectURL(file);
    const v = $('preview');
    v.src = state.localUrl;
    v.addEventListener('loadeddata', () => { v.currentTime = Math.min(1, (v.duration || 2) / 2); }, { once: true });
    drawRegions();
  } catch (err) {
    bar.hidden = true;
    $('upload-status').textContent = `${file.name} was not accepted.`;
    showError(err);
  }
  typeChanged();
}

async function chooseSubs(file) {
  if (!file) return;
  showError(null);
  state.subs = null;
  $('subs-status').textContent = `Uploading ${file.name}…`;
  try {
    state.subs = await upload(file, () => {});
    $('subs-status').textContent = `Uploaded ${file.name}`;
  } catch (err) {
    $('subs-status').textContent = `${file.name} was not accepted.`;
    showError(err);
  }
  canStart();
}

/* ---- new job: regions ------------------------------------------------ */

/* Regions are kept in the video's own pixels, as the API takes them. */
function videoSize() {
  const m = (state.upload && state.upload.media) || {};
  return { w: m.width || $('preview').videoWidth || 1, h: m.height || $('preview').videoHeight || 1 };
}

function drawRegions(extra) {
  const c = $('regions'), v = videoSize();
  c.width = v.w; c.height = v.h;
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  g.lineWidth = Math.max(2, v.w / 200);
  for (const r of extra ? state.regions.concat([extra]) : state.regions) {
    g.fillStyle = 'rgba(11, 87, 208, 0.25)';
    g.fillRect(r.x, r.y, r.w, r.h);
    g.strokeStyle = '#f9ab00';
    g.strokeRect(r.x, r.y, r.w, r.h);
  }
  $('region-list').textContent = state.regions.length
    ? state.regions.map((r, i) => `Region ${i + 1}: ${r.x},${r.y} ${r.w}x${r.h}`).join('; ')
    : 'Find subtitles anywhere';
}

function setupRegions() {
  const c = $('regions');
  let start = null;
  const at = (e) => {
    const b = c.getBoundingClientRect(), v = videoSize();
    return { x: Math.max(0, Math.min(v.w, Math.round((e.clientX - b.left) * v.w / b.width))),
      y: Math.max(0, Math.min(v.h, Math.round((e.clientY - b.top) * v.h / b.height))) };
  };
  const box = (a, b) => ({ x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) });
  c.addEventListener('pointerdown', (e) => { start = at(e); c.setPointerCapture(e.pointerId); });
  c.addEventListener('pointermove', (e) => { if (start) drawRegions(box(start, at(e))); });
  c.addEventListener('pointerup', (e) => {
    if (!start) return;
    const r = box(start, at(e));
    start = null;
    if (r.w >= 4 && r.h >= 4) state.regions.push(r);
    drawRegions();
  });
  /* From the keyboard: Enter adds a box over the bottom fifth, where
   * subtitles usually are. */
  c.tabIndex = 0;
  c.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    const v = videoSize();
    state.regions.push({ x: Math.round(v.w * 0.05), y: Math.round(v.h * 0.75), w: Math.round(v.w * 0.9), h: Math.round(v.h * 0.2) });
    drawRegions();
  });
  $('clear-regions').addEventListener('click', () => { state.regions = []; drawRegions(); });
}

/* ---- new job: styles ------------------------------------------------- */

const STYLES = [
  ['classic', 'Classic', 'White with an outline'],
  ['yellow', 'Yellow', 'Yellow with an outline'],
  ['boxed', 'Boxed', 'White on a black box'],
  ['social', 'Social', 'Three big words at a time'],
  ['karaoke', 'Karaoke', 'The spoken word lit'],
];

function setupStyles() {
  const box = $('styles');
  STYLES.forEach(([id, name, what], i) => {
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'radio'; input.name = 'style'; input.value = id; input.checked = i === 0;
    input.className = 'sr';
    const pic = document.createElement('span');
    pic.className = 'preview p-' + id;
    const text = document.createElement('span');
    if (id === 'karaoke') { const b = document.createElement('b'); b.textContent = 'Hello '; text.append(b, 'world'); } else text.textContent = id === 'social' ? 'Hello big world' : 'Hello world';
    pic.append(text);
    const caption = document.createElement('span');
    caption.className = 'sr';
    caption.textContent = `${name}: ${what}`;
    label.append(input, pic, caption);
    label.title = `${name}: ${what}`;
    box.append(label);
  });
}

/* ---- new job: start -------------------------------------------------- */

async function startJob() {
  showError(null);
  const t = jobType();
  const options = {};
  if ((t === 'remove' || t === 'replace') && state.regions.length) options.regions = state.regions;
  if (t === 'caption' || t === 'burn' || t === 'replace') {
    options.style = document.querySelector('input[name=style]:checked').value;
    if ($('font').value) options.font = $('font').value;
    if ($('size').value) options.size = Number($('size').value);
    if ($('position').value) options.position = $('position').value;
  }
  if (t === 'burn' || t === 'replace') options.subtitles_upload_id = state.subs.id;
  const body = { type: t, upload_id: state.upload.id, options };
  if ($('webhook').value) body.webhook_url = $('webhook').value;
  $('start').disabled = true;
  try {
    const job = await (await api('POST', '/api/v1/jobs', body, { headers: { Authorization: 'Bearer ' + state.key, 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() } })).json();
    remember(job.id, state.file.name);
    openJob(job);
  } catch (err) {
    showError(err);
  }
  canStart();
}

/* ---- watch ----------------------------------------------------------- */

const FINAL = ['succeeded', 'failed', 'canceled'];

function render(job) {
  state.job = job;
  $('watch-id').textContent = job.id;
  $('job-status').textContent = job.status;
  $('job-queue').textContent = job.status === 'queued' && job.queue_position !== undefined ? `(position ${job.queue_position} in the queue)` : '';
  $('job-progress').value = job.progress;
  $('job-percent').textContent = `${job.progress}%`;
  $('job-eta').textContent = job.eta_seconds ? `about ${job.eta_seconds} s left` : '';
  $('cancel').hidden = FINAL.includes(job.status);
  if (job.status === 'failed' && job.error) showError(new Error(`The job failed: ${job.error.message}`));
  if (job.status === 'succeeded') openResult(job);
}

/* Server-Sent Events read through fetch (EventSource cannot send the key in
 * a header); polling when the stream is not to be had. */
async function watch(id) {
  const ctl = new AbortController();
  state.watch = ctl;
  let last = null;
  try {
    const r = await api('GET', `/api/v1/jobs/${id}/events`, undefined, { signal: ctl.signal });
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const data = buf.slice(0, i).split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        buf = buf.slice(i + 2);
        if (data) { last = JSON.parse(data); render(last); }
      }
    }
  } catch (err) {
    if (ctl.signal.aborted) return;
  }
  while (!ctl.signal.aborted && !(last && FINAL.includes(last.status))) {
    try { last = await getJson(`/api/v1/jobs/${id}`); render(last); } catch (err) { showError(err); }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function openJob(job) {
  show('watch');
  render(job);
  if (!FINAL.includes(job.status)) watch(job.id);
}

async function cancelJob() {
  try { render(await (await api('DELETE', `/api/v1/jobs/${state.job.id}`)).json()); } catch (err) { showError(err); }
}

/* ---- result ---------------------------------------------------------- */

function outputName(job, type) {
  const base = (names()[job.id] || job.id).replace(/\.[^.]*$/, '');
  if (job.type === 'transcribe') return `${base}.srt`;
  const ext = type.includes('matroska') ? '.mkv' : type.includes('quicktime') ? '.mov' : '.mp4';
  return base + (job.type === 'remove' ? '-no-subtitles' : '-captioned') + ext;
}

async function openResult(job) {
  if (state.watch) { state.watch.abort(); state.watch = null; }
  show('result');
  const r = await api('GET', job.result_url).catch((err) => { showError(err); return null; });
  if (!r) return;
  const blob = await r.blob();
  const url = URL.createObjectURL(blob);
  const a = $('download');
  a.href = url;
  a.download = outputName(job, blob.type);
  a.textContent = `Download ${a.download}`;
  a.hidden = false;
  const text = job.type === 'transcribe';
  $('captions-box').hidden = !text;
  $('compare-box').hidden = text;
  if (text) { $('captions').value = await blob.text(); return; }
  $('after').src = url;
  /* "Before" is the chosen file itself, while this page still has it. */
  const mine = state.file && state.upload && state.upload.id === job.upload_id;
  $('before').src = mine ? state.localUrl : url;
  $('split').value = mine ? 50 : 0;
  split();
}

function split() {
  $('after').style.clipPath = `inset(0 0 0 ${$('split').value}%)`;
  $('divider').style.left = `${$('split').value}%`;
}

/* Both videos follow the "after" one's clock. */
function setupCompare() {
  const a = $('after'), b = $('before');
  $('play').addEventListener('click', () => {
    if (a.paused) { b.currentTime = a.currentTime; a.play(); b.play(); $('play').textContent = 'Pause both'; } else { a.pause(); b.pause(); $('play').textContent = 'Play both'; }
  });
  a.addEventListener('seeked', () => { b.currentTime = a.currentTime; });
  a.addEventListener('timeupdate', () => { if (Math.abs(b.currentTime - a.currentTime) > 0.15) b.currentTime = a.currentTime; });
  a.addEventListener('ended', () => { b.pause(); $('play').textContent = 'Play both'; });
  $('split').addEventListener('input', split);
}

function saveText(text, name, type) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}

/* SRT to WebVTT: a header and "." for "," in the times. */
const toVtt = (srt) => 'WEBVTT\n\n' + srt.replace(/\r/g, '').replace(/(\d\d:\d\d:\d\d),(\d\d\d)/g, '$1.$2');

/* ---- jobs list ------------------------------------------------------- */

function age(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return s < 60 ? `${Math.round(s)} s` : s < 3600 ? `${Math.round(s / 60)} min` : s < 86400 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
}

async function loadJobs(page) {
  showError(null);
  if (page === 0) state.cursors = [''];
  const q = new URLSearchParams({ limit: $('per-page').value });
  if ($('filter').value) q.set('status', $('filter').value);
  if (state.cursors[page]) q.set('cursor', state.cursors[page]);
  let list;
  try { list = await getJson('/api/v1/jobs?' + q); } catch (err) { showError(err); return; }
  state.page = page;
  state.cursors[page + 1] = list.next_cursor;
  const known = names(), body = $('jobs');
  body.replaceChildren();
  for (const job of list.data) {
    const tr = document.createElement('tr');
    const open = document.createElement('button');
    open.type = 'button'; open.textContent = job.id; open.className = 'link';
    open.setAttribute('aria-label', `Open job ${job.id}`);
    open.addEventListener('click', () => openJob(job));
    const cells = [open, job.type, job.status, known[job.id] || known[job.upload_id] || '',
      job.timings.processing_seconds === null ? '' : `${job.timings.processing_seconds.toFixed(1)} s`, age(job.created_at)];
    for (const c of cells) { const td = document.createElement('td'); td.append(c); tr.append(td); }
    body.append(tr);
  }
  if (!list.data.length) { const tr = document.createElement('tr'), td = document.createElement('td'); td.colSpan = 6; td.textContent = 'No jobs'; tr.append(td); body.append(tr); }
  $('next-page').disabled = !list.next_cursor;
}

/* ---- operator view --------------------------------------------------- */

async function loadOps() {
  const dl = $('ops');
  dl.replaceChildren();
  const add = (k, v) => { const dt = document.createElement('dt'), dd = document.createElement('dd'); dt.textContent = k; dd.textContent = v; dl.append(dt, dd); };
  try {
    const [m, ready, failed] = await Promise.all([getJson('/metrics/json'),
      fetch('/health/readyz').then((r) => r.json()), getJson('/api/v1/admin/jobs?status=failed&limit=5')]);
    const d = m.queue_depth || {};
    add('Readiness', ready.status);
    add('Queued jobs', d.queued);
    add('Processing', d.processing);
    add('Busy workers', `${m.workers.busy} of ${m.workers.total}`);
    add('Failed in the last hour', m.jobs_failed_hourly);
    const ul = $('failures');
    ul.replaceChildren();
    for (const job of failed.data) { const li = document.createElement('li'); li.textContent = `${job.id} (${job.type}): ${job.error ? job.error.message : ''}`; ul.append(li); }
  } catch (err) { showError(err); }
}

/* ---- wiring ---------------------------------------------------------- */

function setup() {
  for (const b of document.querySelectorAll('nav [data-view]')) b.addEventListener('click', () => show(b.dataset.view));
  $('signout').addEventListener('click', signOut);
  $('signin-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('key').value.trim()); });
  for (const r of document.querySelectorAll('input[name=type]')) r.addEventListener('change', typeChanged);
  $('file').addEventListener('change', () => chooseVideo($('file').files[0]));
  $('subs').addEventListener('change', () => chooseSubs($('subs').files[0]));
  for (const [zone, pick] of [['drop', chooseVideo], ['subs-drop', chooseSubs]]) {
    const z = $(zone);
    z.addEventListener('dragover', (e) => { e.preventDefault(); z.classList.add('over'); });
    z.addEventListener('dragleave', () => z.classList.remove('over'));
    z.addEventListener('drop', (e) => { e.preventDefault(); z.classList.remove('over'); pick(e.dataTransfer.files[0]); });
  }
  setupRegions();
  setupStyles();
  setupCompare();
  $('start').addEventListener('click', startJob);
  $('cancel').addEventListener('click', cancelJob);
  $('dl-srt').addEventListener('click', () => saveText($('captions').value, outputName(state.job, ''), 'application/x-subrip'));
  $('dl-vtt').addEventListener('click', () => saveText(toVtt($('captions').value), outputName(state.job, '').replace(/\.srt$/, '.vtt'), 'text/vtt'));
  $('filter').addEventListener('change', () => loadJobs(0));
  $('per-page').addEventListener('change', () => loadJobs(0));
  $('first-page').addEventListener('click', () => loadJobs(0));
  $('next-page').addEventListener('click', () => loadJobs(state.page + 1));
  const key = localStorage.getItem(KEY);
  if (key) signIn(key); else show('signin');
  document.body.dataset.ready = '1';
}

setup();

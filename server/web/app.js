// landscape web UI. Everything from the server is put in the page with textContent or as attributes
// set through the DOM (never parsed as HTML), so labels, names and messages show as text.
'use strict';
const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem('landscape.token') || '';
const headers = () => (token() ? { Authorization: 'Bearer ' + token() } : {});
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };

async function api(path, opts = {}) {
  const r = await fetch('/api/v1/' + path, Object.assign({ headers: headers() }, opts));
  if (r.status === 401) { showSignin('Your token was not accepted.'); throw new Error('unauthenticated'); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((body.error && body.error.message) || ('HTTP ' + r.status));
  return body;
}

function showSignin(msg) {
  for (const s of ['jobs', 'job']) $(s).hidden = true;
  $('signin').hidden = false;
  if (msg) $('signin').querySelector('p').textContent = msg + ' Sign in with a token of the server\'s tokens file.';
}
$('signin').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem('landscape.token', $('token').value);
  $('signin').hidden = true;
  route();
});
$('signout').addEventListener('click', () => { sessionStorage.removeItem('landscape.token'); location.href = '/'; });

const fmtTime = (ms) => (ms ? new Date(ms).toLocaleString() : '');
const fmtDur = (s) => (s === null || s === undefined ? '–' : s < 90 ? s.toFixed(0) + ' s' : (s / 60).toFixed(1) + ' min');

// --- jobs table -----------------------------------------------------------------------------------
async function jobsPage() {
  $('jobs').hidden = false;
  const tick = async () => {
    try {
      const page = await api('jobs?page_size=100');
      const rows = $('jobrows');
      rows.replaceChildren();
      for (const j of page.jobs) {
        const tr = el('tr');
        const a = el('a', j.id);
        a.href = '/jobs/' + encodeURIComponent(j.id);
        const td = el('td'); td.append(a); tr.append(td);
        tr.append(el('td', j.name));
        tr.append(el('td', j.state, 'state-' + j.state));
        tr.append(el('td', j.points_total ? j.points_done + ' / ' + j.points_total : ''));
        const lt = el('td');
        for (const [k, v] of Object.entries(j.labels || {})) lt.append(el('span', k + '=' + v, 'label'));
        tr.append(lt);
        tr.append(el('td', fmtTime(j.created_ms)));
        rows.append(tr);
      }
      $('jobsnote').textContent = page.jobs.length ? '' : 'No jobs yet: submit one with `landscape submit`.';
    } catch (e) { $('jobsnote').textContent = e.message; }
  };
  await tick();
  setInterval(tick, 2000);
}

// --- colours --------------------------------------------------------------------------------------
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(t) {
  t = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t)), f = t - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
}

// --- job page -------------------------------------------------------------------------------------
const S = { job: null, surface: null, metric: '', three: null };

function scaled(v, lo, hi) {
  if ($('scale').value === 'log') {
    const off = lo <= 0 ? 1e-12 - lo : 0;
    return (Math.log(v + off) - Math.log(lo + off)) / ((Math.log(hi + off) - Math.log(lo + off)) || 1);
  }
  return (v - lo) / ((hi - lo) || 1);
}
function range(vals) {
  let lo = Infinity, hi = -Infinity;
  for (const v of vals) if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return lo <= hi ? [lo, hi] : [0, 1];
}

function drawHeat() {
  const s = S.surface; if (!s) return;
  const c = $('heat'), g = c.getContext('2d');
  const nx = s.axes.x.length, ny = Math.max(1, s.axes.y.length);
  const vals = s.metrics[S.metric] || [];
  const [lo, hi] = range(vals);
  const img = g.createImageData(nx, ny);
  for (let iy = 0; iy < ny; iy++) for (let ix = 0; ix < nx; ix++) {
    const k = iy * nx + ix, p = ((ny - 1 - iy) * nx + ix) * 4, v = vals[k];
    const rgb = (s.done[k] && v !== null) ? colour(scaled(v, lo, hi)) : [200, 200, 200];
    img.data[p] = rgb[0]; img.data[p + 1] = rgb[1]; img.data[p + 2] = rgb[2]; img.data[p + 3] = 255;
  }
  const tmp = document.createElement('canvas'); tmp.width = nx; tmp.height = ny;
  tmp.getContext('2d').putImageData(img, 0, 0);
  g.imageSmoothingEnabled = false;
  g.clearRect(0, 0, c.width, c.height);
  g.drawImage(tmp, 0, 0, c.width, c.height);
}

function initThree() {
  if (S.three || !window.THREE) return;
  const box = $('surface3d');
  const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  renderer.setSize(480, 480, false);
  renderer.setClearColor(0xffffff);
  box.append(renderer.domElement);
  const scene = new THREE.Scene();
  const camera = new THREE.PerspectiveCamera(40, 1, 0.1, 100);
  const view = { yaw: 0.8, pitch: 0.9, dist: 4.2 };
  const place = () => {
    camera.position.set(view.dist * Math.cos(view.pitch) * Math.sin(view.yaw), view.dist * Math.sin(view.pitch),
                        view.dist * Math.cos(view.pitch) * Math.cos(view.yaw));
    camera.lookAt(0, 0, 0);
  };
  let drag = null;
  renderer.domElement.addEventListener('pointerdown', (e) => { drag = [e.clientX, e.clientY]; });
  window.addEventListener('pointerup', () => { drag = null; });
  window.addEventListener('pointermove', (e) => {
    if (!drag) return;
    view.yaw -= (e.clientX - drag[0]) * 0.01;
    view.pitch = Math.max(-1.5, Math.min(1.5, view.pitch + (e.clientY - drag[1]) * 0.01));
    drag = [e.clientX, e.clientY]; place(); render();
  });
  renderer.domElement.addEventListener('wheel', (e) => {
    e.preventDefault(); view.dist = Math.max(1, Math.min(20, view.dist * (e.deltaY > 0 ? 1.1 : 0.9))); place(); render();
  }, { passive: false });
  const render = () => renderer.render(scene, camera);
  place();
  S.three = { renderer, scene, camera, mesh: null, render };
}

function drawSurface() {
  initThree();
  const s = S.surface, t = S.three; if (!s || !t) return;
  const nx = s.axes.x.length, ny = Math.max(2, s.axes.y.length);
  const vals = s.metrics[S.metric] || [];
  const [lo, hi] = range(vals);
  const geo = new THREE.PlaneGeometry(2, 2, nx - 1, ny - 1);  // vertices row by row, top row first
  const colours = [];
  for (let r = 0; r < ny; r++) for (let ix = 0; ix < nx; ix++) {
    const iy = s.axes.y.length ? ny - 1 - r : 0, k = iy * nx + ix, v = vals[k];
    const ok = s.done[k] && v !== null;
    const z = ok ? scaled(v, lo, hi) : 0;
    geo.vertices[r * nx + ix].z = z;
    const c = ok ? colour(z) : [200, 200, 200];
    colours.push(new THREE.Color(c[0] / 255, c[1] / 255, c[2] / 255));
  }
  for (const f of geo.faces) f.vertexColors = [colours[f.a], colours[f.b], colours[f.c]];
  geo.computeVertexNormals();
  const mat = new THREE.MeshBasicMaterial({ vertexColors: THREE.VertexColors, side: THREE.DoubleSide });
  if (t.mesh) { t.scene.remove(t.mesh); t.mesh.geometry.dispose(); t.mesh.material.dispose(); }
  t.mesh = new THREE.Mesh(geo, mat);
  t.mesh.rotation.x = -Math.PI / 2;
  t.mesh.position.y = -0.4;
  t.scene.add(t.mesh);
  t.render();
}

function showJob(j) {
  S.job = j;
  $('jobtitle').textContent = (j.name ? j.name + ' · ' : '') + j.id;
  $('state').textContent = j.state;
  $('progress').textContent = j.points_done + ' / ' + j.points_total + ' points';
  $('rate').textContent = j.rate ? j.rate.toFixed(1) + ' points/s' : '–';
  $('eta').textContent = fmtDur(j.eta_s);
  $('bar').value = j.points_total ? j.points_done / j.points_total : 0;
  $('error').textContent = j.error ? j.error + (j.error_field ? ' (' + j.error_field + ')' : '') : '';
  const lb = $('labels'); lb.replaceChildren();
  for (const [k, v] of Object.entries(j.labels || {})) lb.append(el('span', k + '=' + v, 'label'));
}

function redraw() { drawHeat(); drawSurface(); }

function applyTile(ev) {
  const s = S.surface; if (!s) return;
  for (const [m, arr] of Object.entries(ev.values)) {
    if (!s.metrics[m]) continue;
    for (let i = 0; i < arr.length; i++) s.metrics[m][ev.begin + i] = arr[i];
  }
  for (let k = ev.begin; k < ev.end; k++) s.done[k] = 1;
}

// Server-Sent Events read with fetch (EventSource cannot send the token header); resumes with Last-Event-ID.
async function watch(id) {
  let last = '', pending = false;
  const schedule = () => { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; redraw(); }); } };
  for (;;) {
    let ended = false;
    try {
      const h = headers(); if (last) h['Last-Event-ID'] = last;
      const r = await fetch('/api/v1/jobs/' + encodeURIComponent(id) + '/events', { headers: h });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const reader = r.body.getReader(), dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, cut); buf = buf.slice(cut + 2);
          let type = 'message', data = '', fid = '';
          for (const line of frame.split('\n')) {
            if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
            else if (line.startsWith('id: ')) fid = line.slice(4);
          }
          if (fid) last = fid;
          if (type === 'end') { ended = true; continue; }
          if (!data) continue;
          const ev = JSON.parse(data);
          Object.assign(S.job, { points_done: ev.points_done, points_total: ev.points_total });
          if (type === 'tile') { applyTile(ev); schedule(); }
          if (type === 'state') { S.job.state = ev.state; if (ev.message && ev.state === 'FAILED') S.job.error = ev.message; }
          if (ev.running_ms > 0 && S.job.state === 'RUNNING') {
            S.job.rate = ev.points_done / (ev.running_ms / 1000);
            S.job.eta_s = S.job.rate > 0 ? (ev.points_total - ev.points_done) / S.job.rate : null;
          }
          showJob(S.job);
          if (type === 'state' && ev.state === 'RUNNING' && S.surface && S.surface.done.length === 0) await loadSurface(id);
        }
      }
    } catch (e) { if (e.message === 'unauthenticated') return; }
    if (ended) break;
    await new Promise((ok) => setTimeout(ok, 1000));
  }
  showJob(await api('jobs/' + encodeURIComponent(id)));
  await loadSurface(id);
}

async function loadSurface(id) {
  S.surface = await api('jobs/' + encodeURIComponent(id) + '/surface');
  if (S.surface.done.length === 0) {  // not running yet: an empty grid of the job's size
    const n = S.surface.axes.x.length * Math.max(1, S.surface.axes.y.length);
    S.surface.done = new Array(n).fill(0);
    for (const m of Object.keys(S.surface.metrics)) S.surface.metrics[m] = new Array(n).fill(null);
  }
  redraw();
}

async function download(what) {
  const id = S.job.id;
  const r = await fetch('/api/v1/jobs/' + encodeURIComponent(id) + '/' + what, { headers: headers() });
  if (!r.ok) { const b = await r.json().catch(() => ({})); $('error').textContent = (b.error && b.error.message) || 'HTTP ' + r.status; return; }
  const a = el('a'); a.href = URL.createObjectURL(await r.blob());
  a.download = id + (what === 'surface' ? '.json' : what.slice('surface'.length));
  a.click();
}

async function jobPage(id) {
  $('job').hidden = false;
  const j = await api('jobs/' + encodeURIComponent(id));
  showJob(j);
  const sel = $('metric'); sel.replaceChildren();
  for (const m of j.metrics) { const o = el('option', m); o.value = m; sel.append(o); }
  S.metric = j.metrics[0] || '';
  sel.addEventListener('change', () => { S.metric = sel.value; redraw(); });
  $('scale').addEventListener('change', redraw);
  for (const b of document.querySelectorAll('[data-dl]')) b.addEventListener('click', () => download(b.dataset.dl));
  $('png').addEventListener('click', () => {
    const a = el('a'); a.download = id + '.png';
    a.href = (S.three ? S.three.renderer.domElement : $('heat')).toDataURL('image/png'); a.click();
  });
  $('heat').addEventListener('mousemove', (e) => {
    const s = S.surface; if (!s) return;
    const b = e.target.getBoundingClientRect(), nx = s.axes.x.length, ny = Math.max(1, s.axes.y.length);
    const ix = Math.min(nx - 1, Math.floor((e.clientX - b.left) / b.width * nx));
    const iy = ny - 1 - Math.min(ny - 1, Math.floor((e.clientY - b.top) / b.height * ny));
    const k = iy * nx + ix, v = (s.metrics[S.metric] || [])[k];
    $('hover').textContent = 'α ' + s.axes.x[ix].toPrecision(4) + ', β ' + (s.axes.y.length ? s.axes.y[iy].toPrecision(4) : '0') +
      ', ' + S.metric + ' ' + (s.done[k] && v !== null && v !== undefined ? v.toPrecision(6) : 'not computed yet');
  });
  await loadSurface(id);
  watch(id);
}

async function route() {
  if (!token() && !sessionStorage.getItem('landscape.open')) {
    // An open server (no tokens file) accepts calls without a token: try once.
    const r = await fetch('/api/v1/jobs?page_size=1');
    if (r.status === 401) return showSignin();
    sessionStorage.setItem('landscape.open', '1');
  }
  $('signout').hidden = !token();
  const m = location.pathname.match(/^\/jobs\/([^/]+)$/);
  try {
    if (m) await jobPage(decodeURIComponent(m[1])); else await jobsPage();
  } catch (e) { if (e.message !== 'unauthenticated') $('error').textContent = e.message; }
}
route();

// The report's interactive 3-D surface (three.js r111, inline in the report: works from file://).
// Reads <script type="application/json" id="surface-data">: {metric, label, x: [nx], y: [ny],
// values: [ny * nx] (row = y; null where not computed or not finite)} and draws it into #surface3d:
// drag to rotate, wheel to zoom. Colours: viridis over [min, max] of the computed values.
(function () {
  'use strict';
  const box = document.getElementById('surface3d');
  const source = document.getElementById('surface-data');
  if (!box || !source) return;
  const say = (text) => { const p = document.createElement('p'); p.className = 'err'; p.textContent = text; box.append(p); };
  if (!window.THREE) return say('3-D view unavailable: this landscape was built without libjs-three.');
  const s = JSON.parse(source.textContent);
  const nx = s.x.length, ny = s.y.length;
  if (nx < 2 || ny < 2) return say('3-D view: the surface needs at least 2 x 2 points.');

  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const colour = (t) => {
    t = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
    const i = Math.min(VIRIDIS.length - 2, Math.floor(t)), f = t - i;
    return VIRIDIS[i].map((c, k) => (c + f * (VIRIDIS[i + 1][k] - c)) / 255);
  };
  let lo = Infinity, hi = -Infinity;
  for (const v of s.values) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!(lo <= hi)) return say('3-D view: no computed point to draw.');

  let renderer;
  try {
    renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  } catch (e) {
    return say('3-D view unavailable: this browser has no WebGL.');
  }
  renderer.setSize(640, 480, false);  // drawing buffer; the page's CSS scales the canvas to the viewport
  renderer.setClearColor(0xffffff);
  box.append(renderer.domElement);
  const scene = new THREE.Scene();
  const camera = new THREE.PerspectiveCamera(40, 640 / 480, 0.1, 100);

  // The grid as a plane of nx x ny vertices (row by row, top row = largest y first), height = value.
  const geo = new THREE.PlaneGeometry(2, 2, nx - 1, ny - 1);
  const colours = [];
  for (let r = 0; r < ny; r++) {
    for (let ix = 0; ix < nx; ix++) {
      const v = s.values[(ny - 1 - r) * nx + ix];
      const z = v === null ? 0 : (v - lo) / ((hi - lo) || 1);
      geo.vertices[r * nx + ix].z = z;
      const c = v === null ? [0.78, 0.78, 0.78] : colour(z);
      colours.push(new THREE.Color(c[0], c[1], c[2]));
    }
  }
  for (const f of geo.faces) f.vertexColors = [colours[f.a], colours[f.b], colours[f.c]];
  const mesh = new THREE.Mesh(geo, new THREE.MeshBasicMaterial({ vertexColors: THREE.VertexColors, side: THREE.DoubleSide }));
  mesh.rotation.x = -Math.PI / 2;
  mesh.position.y = -0.4;
  scene.add(mesh);

  const view = { yaw: 0.8, pitch: 0.9, dist: 4.2 };
  const render = () => {
    camera.position.set(view.dist * Math.cos(view.pitch) * Math.sin(view.yaw), view.dist * Math.sin(view.pitch),
                        view.dist * Math.cos(view.pitch) * Math.cos(view.yaw));
    camera.lookAt(0, 0, 0);
    renderer.render(scene, camera);
  };
  let drag = null;
  renderer.domElement.addEventListener('pointerdown', (e) => { drag = [e.clientX, e.clientY]; });
  window.addEventListener('pointerup', () => { drag = null; });
  window.addEventListener('pointermove', (e) => {
    if (!drag) return;
    view.yaw -= (e.clientX - drag[0]) * 0.01;
    view.pitch = Math.max(-1.5, Math.min(1.5, view.pitch + (e.clientY - drag[1]) * 0.01));
    drag = [e.clientX, e.clientY];
    render();
  });
  renderer.domElement.addEventListener('wheel', (e) => {
    e.preventDefault();
    view.dist = Math.max(1, Math.min(20, view.dist * (e.deltaY > 0 ? 1.1 : 0.9)));
    render();
  }, { passive: false });
  render();
  const legend = document.getElementById('surface3d-range');
  if (legend) legend.textContent = s.label + ': ' + lo.toPrecision(4) + ' (purple, low) to ' + hi.toPrecision(4) + ' (yellow, high)';
})();

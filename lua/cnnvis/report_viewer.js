// The report page's viewers, put inline in the page by cnnvis.report: a
// volume ray marcher (WebGL2) and a frame player. Nothing is fetched: the
// volumes come from <name>.vol.js files beside the page (plain <script src>,
// which file:// pages may load), as window.cnnvisVolumes[name].
(function () {
  'use strict';

  // The engine's colormaps (engine/render/colormap.c): evenly spaced anchors,
  // linearly interpolated, each channel rounded.
  var MAPS = {
    gray: [[0, 0, 0], [255, 255, 255]],
    viridis: [[0x44, 0x01, 0x54], [0x48, 0x28, 0x78], [0x3e, 0x4a, 0x89], [0x31, 0x68, 0x8e],
              [0x26, 0x82, 0x8e], [0x1f, 0x9e, 0x89], [0x35, 0xb7, 0x79], [0x6d, 0xcd, 0x59],
              [0xfd, 0xe7, 0x25]],
    diverging: [[0x21, 0x66, 0xac], [0x67, 0xa9, 0xcf], [0xd1, 0xe5, 0xf0], [0xf7, 0xf7, 0xf7],
                [0xfd, 0xdb, 0xc7], [0xef, 0x8a, 0x62], [0xb2, 0x18, 0x2b]]
  };

  function colormap(name, u) {
    var m = MAPS[name] || MAPS.viridis;
    if (!(u > 0)) u = 0;
    if (u > 1) u = 1;
    var pos = u * (m.length - 1), k = Math.floor(pos);
    if (k >= m.length - 1) k = m.length - 2;
    var f = pos - k, rgb = [0, 0, 0];
    for (var c = 0; c < 3; c++) rgb[c] = Math.round(m[k][c] + (m[k + 1][c] - m[k][c]) * f);
    return rgb;
  }

  function decode(b64) {
    var s = atob(b64), out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  // ---- the frame player: one <figure class="cv-frame"> shown at a time ----

  function player(el) {
    var frames = el.querySelectorAll('.cv-frame');
    var n = frames.length, i = 0, timer = null;
    if (n === 0) return;
    var slider = el.querySelector('.cv-step'), label = el.querySelector('.cv-label');
    var play = el.querySelector('.cv-play');
    var interval = Number(el.getAttribute('data-interval')) || 700;
    slider.max = String(n - 1);
    function show(k) {
      i = ((k % n) + n) % n;
      for (var j = 0; j < n; j++) frames[j].hidden = j !== i;
      slider.value = String(i);
      label.textContent = (i + 1) + ' / ' + n + '  ' + (frames[i].getAttribute('data-label') || '');
      el.setAttribute('data-frame', String(i));
    }
    function stop() {
      if (timer) clearInterval(timer);
      timer = null;
      play.textContent = 'play';
    }
    play.addEventListener('click', function () {
      if (timer) return stop();
      timer = setInterval(function () { show(i + 1); }, interval);
      play.textContent = 'pause';
    });
    el.querySelector('.cv-prev').addEventListener('click', function () { stop(); show(i - 1); });
    el.querySelector('.cv-next').addEventListener('click', function () { stop(); show(i + 1); });
    slider.addEventListener('input', function () { stop(); show(Number(slider.value)); });
    show(0);
  }

  // ---- the volume viewer ----------------------------------------------------

  var VERTEX = '#version 300 es\n' +
    'out vec2 p;\n' +
    'void main() {\n' +
    '  vec2 q = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));\n' +
    '  p = q * 2.0 - 1.0;\n' +
    '  gl_Position = vec4(p, 0.0, 1.0);\n' +
    '}\n';

  // Orthographic rays through the box [-half, half] (the volume, its longest
  // side 1); the clip box cuts it along each axis. Samples are trilinear
  // (LINEAR on a 3-D texture). mode 0: maximum intensity projection;
  // mode 1: emission-absorption, front to back, through the C ray caster's
  // transfer function (engine/render/raycast.c): the colormap, and an
  // opacity ramp from 0 at u0 to amax at u1, per voxel of length, so that a
  // sample of s voxels has 1 - (1 - a)^s.
  var FRAGMENT = '#version 300 es\n' +
    'precision highp float;\n' +
    'precision highp sampler3D;\n' +
    'in vec2 p;\n' +
    'out vec4 color;\n' +
    'uniform sampler3D vol;\n' +
    'uniform sampler2D cmap;\n' +
    'uniform mat3 rot;\n' +
    'uniform vec3 half_;\n' +
    'uniform vec3 lo;\n' +
    'uniform vec3 hi;\n' +
    'uniform int mode;\n' +
    'uniform float zoom;\n' +
    'uniform vec3 ramp;\n' +
    'uniform float voxels;\n' +
    'uniform vec3 background;\n' +
    'void main() {\n' +
    '  vec3 o = rot * vec3(p / zoom, -2.0);\n' +
    '  vec3 d = rot * vec3(0.0, 0.0, 1.0);\n' +
    '  d = mix(d, vec3(1e-6), lessThan(abs(d), vec3(1e-6)));\n' +
    '  vec3 bmin = (lo * 2.0 - 1.0) * half_, bmax = (hi * 2.0 - 1.0) * half_;\n' +
    '  vec3 t0 = (bmin - o) / d, t1 = (bmax - o) / d;\n' +
    '  vec3 tn = min(t0, t1), tf = max(t0, t1);\n' +
    '  float a = max(max(tn.x, tn.y), tn.z), b = min(min(tf.x, tf.y), tf.z);\n' +
    '  if (b <= a) { color = vec4(background, 1.0); return; }\n' +
    '  float dt = 1.0 / 384.0;\n' +
    '  float best = 0.0;\n' +
    '  vec4 acc = vec4(0.0);\n' +
    '  for (int i = 0; i < 2048; i++) {\n' +
    '    float t = a + (float(i) + 0.5) * dt;\n' +
    '    if (t > b) break;\n' +
    '    vec3 x = o + t * d;\n' +
    '    vec3 tc = x / (2.0 * half_) + 0.5;\n' +
    '    tc.y = 1.0 - tc.y;\n' +
    '    float v = texture(vol, tc).r;\n' +
    '    if (mode == 0) { best = max(best, v); continue; }\n' +
    '    if (v <= ramp.x) continue;\n' +
    '    float alpha = ramp.z * clamp((v - ramp.x) / max(ramp.y - ramp.x, 1e-6), 0.0, 1.0);\n' +
    '    alpha = 1.0 - pow(1.0 - min(alpha, 0.999999), dt * voxels);\n' +
    '    vec3 c = texture(cmap, vec2(v, 0.5)).rgb;\n' +
    '    acc.rgb += (1.0 - acc.a) * alpha * c;\n' +
    '    acc.a += (1.0 - acc.a) * alpha;\n' +
    '    if (acc.a > 0.995) break;\n' +
    '  }\n' +
    '  if (mode == 0) { color = vec4(texture(cmap, vec2(best, 0.5)).rgb, 1.0); return; }\n' +
    '  color = vec4(acc.rgb + (1.0 - acc.a) * background, 1.0);\n' +
    '}\n';

  function compile(gl, type, src) {
    var s = gl.createShader(type);
    gl.shaderSource(s, src);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
    return s;
  }

  function program(gl) {
    var p = gl.createProgram();
    gl.attachShader(p, compile(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(p, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
    return p;
  }

  // A slice of the volume along one axis (0: x, 1: y, 2: z) at position k,
  // drawn into a 2-D canvas through the colormap.
  function drawSlice(canvas, v, bytes, axis, k, name) {
    var W = v.dims[0], H = v.dims[1], D = v.dims[2];
    var w = axis === 0 ? D : W, h = axis === 1 ? D : H;
    canvas.width = w;
    canvas.height = h;
    var ctx = canvas.getContext('2d'), img = ctx.createImageData(w, h);
    for (var r = 0; r < h; r++) {
      for (var c = 0; c < w; c++) {
        var x = axis === 0 ? k : c, y = axis === 1 ? k : r, z = axis === 0 ? c : axis === 1 ? r : k;
        var rgb = colormap(name, bytes[(z * H + y) * W + x] / 255), o = 4 * (r * w + c);
        img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }

  function volume(el) {
    var name = el.getAttribute('data-volume');
    var v = window.cnnvisVolumes && window.cnnvisVolumes[name];
    var canvas = el.querySelector('canvas.cv-gl');
    var gl = v && canvas.getContext('webgl2', {preserveDrawingBuffer: true, antialias: false});
    if (!gl) {
      el.classList.add('cv-nogl');
      return;
    }
    var bytes = decode(v.data);
    var W = v.dims[0], H = v.dims[1], D = v.dims[2];
    var sp = v.spacing || [1, 1, 1];
    var ext = [W * sp[0], H * sp[1], D * sp[2]], big = Math.max(ext[0], ext[1], ext[2]);
    var half = [0.5 * ext[0] / big, 0.5 * ext[1] / big, 0.5 * ext[2] / big];
    var prog = program(gl);
    gl.useProgram(prog);

    var tex = gl.createTexture();
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_3D, tex);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texImage3D(gl.TEXTURE_3D, 0, gl.R8, W, H, D, 0, gl.RED, gl.UNSIGNED_BYTE, bytes);
    [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER].forEach(function (f) {
      gl.texParameteri(gl.TEXTURE_3D, f, gl.LINEAR);
    });
    [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T, gl.TEXTURE_WRAP_R].forEach(function (f) {
      gl.texParameteri(gl.TEXTURE_3D, f, gl.CLAMP_TO_EDGE);
    });
    var lut = new Uint8Array(256 * 4);
    for (var i = 0; i < 256; i++) {
      var rgb = colormap(v.colormap, i / 255);
      lut.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
    }
    var ctex = gl.createTexture();
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, ctex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, 256, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, lut);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    var U = {};
    ['vol', 'cmap', 'rot', 'half_', 'lo', 'hi', 'mode', 'zoom', 'ramp', 'voxels',
     'background'].forEach(function (u) { U[u] = gl.getUniformLocation(prog, u); });
    gl.uniform1i(U.vol, 0);
    gl.uniform1i(U.cmap, 1);
    gl.uniform3fv(U.half_, half);
    gl.uniform3fv(U.ramp, v.opacity || [0.1, 1, 0.5]);
    // voxels per unit of the box, along the finest spacing (the C caster's step)
    gl.uniform1f(U.voxels, big / Math.min(sp[0], sp[1], sp[2]));
    gl.uniform3fv(U.background, v.background || [0, 0, 0]);
    gl.bindVertexArray(gl.createVertexArray());

    var state = {az: v.azimuth || 0.6, el: v.elevation || 0.4, zoom: 1.3,
                 mode: v.mode === 'composite' ? 1 : 0, lo: [0, 0, 0]};
    var pending = false;
    function draw() {
      pending = false;
      var ca = Math.cos(state.az), sa = Math.sin(state.az);
      var ce = Math.cos(state.el), se = Math.sin(state.el);
      // rot = Ry(az) * Rx(el), column-major
      gl.uniformMatrix3fv(U.rot, false, [ca, 0, -sa, sa * se, ce, ca * se, sa * ce, -se, ca * ce]);
      gl.uniform3fv(U.lo, state.lo);
      gl.uniform3fv(U.hi, [1, 1, 1]);
      gl.uniform1i(U.mode, state.mode);
      gl.uniform1f(U.zoom, state.zoom);
      gl.viewport(0, 0, canvas.width, canvas.height);
      gl.drawArrays(gl.TRIANGLES, 0, 3);
      el.setAttribute('data-draws', String(Number(el.getAttribute('data-draws') || 0) + 1));
    }
    function redraw() {
      if (!pending) { pending = true; requestAnimationFrame(draw); }
    }

    var drag = null;
    canvas.addEventListener('pointerdown', function (e) {
      drag = {x: e.clientX, y: e.clientY};
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener('pointermove', function (e) {
      if (!drag) return;
      state.az += (e.clientX - drag.x) * 0.01;
      state.el = Math.max(-1.55, Math.min(1.55, state.el + (e.clientY - drag.y) * 0.01));
      drag = {x: e.clientX, y: e.clientY};
      redraw();
    });
    canvas.addEventListener('pointerup', function () { drag = null; });
    canvas.addEventListener('wheel', function (e) {
      e.preventDefault();
      state.zoom = Math.max(0.3, Math.min(8, state.zoom * Math.exp(-e.deltaY * 0.001)));
      redraw();
    }, {passive: false});
    var modeSel = el.querySelector('.cv-mode');
    modeSel.value = state.mode ? 'composite' : 'mip';
    modeSel.addEventListener('change', function () {
      state.mode = modeSel.value === 'composite' ? 1 : 0;
      redraw();
    });
    // A slider per axis: the cut (everything before it is taken away in the
    // 3-D view) and the slice at it, drawn flat beside.
    el.querySelectorAll('.cv-axis').forEach(function (row) {
      var axis = Number(row.getAttribute('data-axis'));
      var input = row.querySelector('input'), out = row.querySelector('output');
      var flat = row.querySelector('canvas');
      input.max = String(v.dims[axis] - 1);
      function update() {
        var k = Number(input.value);
        state.lo[axis] = k / v.dims[axis];
        out.textContent = String(k + 1);
        drawSlice(flat, v, bytes, axis, k, v.colormap);
        redraw();
      }
      input.addEventListener('input', update);
      update();
    });
    draw();
  }

  function start() {
    document.querySelectorAll('.cv-player').forEach(player);
    document.querySelectorAll('.cv-volume').forEach(function (el) {
      try {
        volume(el);
      } catch (e) {
        el.classList.add('cv-nogl');
        throw e;
      }
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();

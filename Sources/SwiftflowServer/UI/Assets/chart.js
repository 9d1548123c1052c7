/* Swiftflow charts: small, dependency-free SVG line and scatter charts.
 * Every node is built with createElement(NS) + textContent, never innerHTML,
 * so run and metric names can never inject markup. */
(function () {
  'use strict';

  var NS = 'http://www.w3.org/2000/svg';
  // Okabe-Ito (without yellow, which vanishes on white) plus Paul Tol's muted
  // indigo, wine, green and olive: ten colours that stay apart for colour-blind readers.
  var PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7',
    '#56B4E9', '#332288', '#882255', '#117733', '#999933'];
  var MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');
  var SEC = 1000, MIN = 60 * SEC, HOUR = 60 * MIN, DAY = 24 * HOUR;
  var uid = 0;

  // == DOM helpers
  function svgEl(tag, attrs, parent) {
    var n = document.createElementNS(NS, tag);
    for (var k in attrs) n.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(n);
    return n;
  }
  function htmlEl(tag, cls, parent, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    if (parent) parent.appendChild(n);
    return n;
  }
  function svgText(parent, x, y, str, attrs) {
    var t = svgEl('text', Object.assign({ x: x, y: y }, attrs), parent);
    t.textContent = str;
    return t;
  }
  function swatch(parent, color) {
    var s = svgEl('svg', { width: 12, height: 12, class: 'sf-chart-swatch' }, parent);
    svgEl('rect', { x: 1, y: 1, width: 10, height: 10, rx: 2, fill: color }, s);
    return s;
  }
  var isNum = Number.isFinite;
  function clamp(v, lo, hi) { return v < lo ? lo : v > hi ? hi : v; }
  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  // == number / time formatting
  // Tick labels get just enough decimals to tell neighbouring ticks apart.
  function fmtTick(v, step) {
    var a = Math.abs(v);
    if (v === 0) return '0';
    if (a >= 1e6 || a < 1e-4) {
      var digits = clamp(Math.floor(Math.log10(a)) - Math.floor(Math.log10(step) + 1e-9), 0, 6);
      return v.toExponential(digits).replace(/\.?0+e/, 'e').replace('e+', 'e');
    }
    return v.toFixed(clamp(-Math.floor(Math.log10(step) + 1e-9), 0, 10));
  }
  // Read-out values: six significant digits; NaN / Infinity spelled out.
  function fmtVal(v) {
    if (!isNum(v)) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e7 || a < 1e-4)) return v.toExponential(4).replace(/\.?0+e/, 'e').replace('e+', 'e');
    return String(+v.toPrecision(6));
  }
  function fmtDuration(s) {
    if (!isNum(s)) return String(s);
    var sign = s < 0 ? '-' : '', out = '';
    s = Math.abs(s);
    if (s < 60 && s % 1) return sign + +s.toPrecision(3) + 's';
    s = Math.round(s);
    [[86400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']].forEach(function (u) {
      var q = Math.floor(s / u[0]);
      if (q) { out += q + u[1]; s -= q * u[0]; }
    });
    return sign + (out || '0s');
  }
  function fmtDate(t, withTime, withSec) {
    var d = new Date(t), day = MONTHS[d.getMonth()] + ' ' + d.getDate();
    var time = pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + (withSec ? ':' + pad2(d.getSeconds()) : '');
    return withTime ? (withTime === 'time' ? time : day + ' ' + time) : day;
  }
  function fmtX(v, type) {
    if (!isNum(v)) return String(v);
    var d = new Date(v);
    if (type === 'time') return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' + fmtDate(v, 'time', true);
    return type === 'duration' ? fmtDuration(v) : fmtVal(v);
  }

  // == scales
  // A scale is { min, max, ticks, fmt, log }; "nice" steps are 1, 2 or 5 x 10^n.
  function niceStep(span, count) {
    var raw = span / Math.max(1, count), mag = Math.pow(10, Math.floor(Math.log10(raw))), n = raw / mag;
    return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
  }
  function stepTicks(min, max, step) {
    var out = [];
    if (!(step > 0) || !isNum(min) || !isNum(max)) return out;
    // Multiply rather than accumulate so float error never drifts; toPrecision trims 0.30000000000000004.
    for (var i = Math.ceil(min / step - 1e-9), v; (v = i * step) <= max + step * 1e-9 && out.length < 500; i++) {
      out.push(+v.toPrecision(12));
    }
    return out;
  }
  function linearScale(min, max, count, nice) {
    if (min === max) { var pad = Math.abs(min) * 0.1 || 1; min -= pad; max += pad; }
    var step = niceStep(max - min, count);
    if (nice) { min = Math.floor(min / step) * step; max = Math.ceil(max / step) * step; }
    return { min: min, max: max, ticks: stepTicks(min, max, step), fmt: function (v) { return fmtTick(v, step); } };
  }
  function logScale(min, max, count) {
    var lo = Math.floor(Math.log10(min)), hi = Math.ceil(Math.log10(max));
    if (hi === lo) hi++;
    var decades = hi - lo, every = Math.max(1, Math.ceil(decades / count)), ticks = [];
    // Few decades: add 2 and 5 so the axis still has a handful of labels.
    var mults = decades * 3 <= count ? [1, 2, 5] : [1];
    for (var e = lo; e <= hi; e += every) {
      mults.forEach(function (m) { if (e < hi || m === 1) ticks.push(+(m * Math.pow(10, e)).toPrecision(12)); });
    }
    return {
      min: Math.pow(10, lo), max: Math.pow(10, hi), log: true, ticks: ticks,
      fmt: function (v) { return v >= 1e5 || v < 1e-3 ? v.toExponential().replace('e+', 'e') : String(v); }
    };
  }
  function timeScale(min, max, count) {
    if (min === max) { min -= MIN; max += MIN; }
    var span = max - min, raw = span / count, ticks = [], fmt, t;
    var steps = [SEC, 2 * SEC, 5 * SEC, 10 * SEC, 15 * SEC, 30 * SEC, MIN, 2 * MIN, 5 * MIN, 10 * MIN,
      15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];
    var step = raw < SEC ? niceStep(span, count) : steps.find(function (s) { return s >= raw; });
    if (step) {
      // Align to local midnight so a "06:00" tick really is six o'clock here.
      var off = new Date(min).getTimezoneOffset() * MIN;
      for (t = Math.ceil((min - off) / step) * step + off; t <= max; t += step) ticks.push(t);
      fmt = step >= DAY ? function (v) { return fmtDate(v); }
        : function (v) { return fmtDate(v, span > DAY ? 'full' : 'time', step < MIN); };
    } else {
      // Months have uneven lengths, so step with the calendar instead of a fixed ms width.
      var months = [1, 2, 3, 6, 12, 24, 60].find(function (m) { return m * 30 * DAY >= raw; }) || 120;
      var d = new Date(min), m0 = Math.ceil((d.getFullYear() * 12 + d.getMonth()) / months) * months;
      for (; (t = new Date(Math.floor(m0 / 12), m0 % 12, 1).getTime()) <= max; m0 += months) if (t >= min) ticks.push(t);
      fmt = function (v) { var x = new Date(v); return (months < 12 ? MONTHS[x.getMonth()] + ' ' : '') + x.getFullYear(); };
    }
    return { min: min, max: max, ticks: ticks, fmt: fmt };
  }
  function durationScale(min, max, count) {
    if (min === max) { min -= 1; max += 1; }
    var raw = (max - min) / count;
    var steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
    var step = raw < 1 ? niceStep(max - min, count)
      : steps.find(function (s) { return s >= raw; }) || niceStep((max - min) / 86400, count) * 86400;
    return { min: min, max: max, ticks: stepTicks(min, max, step), fmt: fmtDuration };
  }
  // Pixel mapping; log scales map log10(v).
  function mapper(s, from, to) {
    var f = s.log ? Math.log10 : function (v) { return v; }, a = f(s.min), k = (to - from) / (f(s.max) - a);
    var map = function (v) { return from + (f(v) - a) * k; };
    map.invert = function (p) { var v = a + (p - from) / k; return s.log ? Math.pow(10, v) : v; };
    return map;
  }
  // Drop every other (third, ...) label until the estimated widths fit the spacing.
  function thin(ticks, labels, px) {
    var widest = Math.max.apply(null, labels.map(function (l) { return l.length; })) * 6.6 + 10;
    var k = Math.max(1, Math.ceil(widest / Math.max(1, px)));
    return ticks.map(function (t, i) { return i % k ? null : { v: t, label: labels[i] }; }).filter(Boolean);
  }

  // == smoothing
  // Exponential moving average with TensorBoard's debiasing (what MLflow's slider
  // does): dividing by 1 - w^n stops the curve from starting at zero. Non-finite
  // values pass through and do not enter the average.
  function smooth(values, weight) {
    var w = clamp(+weight || 0, 0, 0.99), last = 0, n = 0, out = new Array(values.length);
    var first = values[0], constant = values.every(function (v) { return v === first; });
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (w === 0 || constant || !isNum(v)) { out[i] = v; continue; }
      last = last * w + (1 - w) * v;
      out[i] = last / (1 - Math.pow(w, ++n));
    }
    return out;
  }

  // == shared chart frame
  function frame(container, options, draw) {
    var f = { wrap: htmlEl('div', 'sf-chart'), opts: Object.assign({}, options), raf: 0, hover: null };
    f.legend = htmlEl('div', 'sf-chart-legend', f.wrap);
    f.svg = svgEl('svg', { class: 'sf-chart-svg' }, f.wrap);
    f.tip = htmlEl('div', 'sf-chart-tooltip', f.wrap);
    f.tip.hidden = true;
    container.appendChild(f.wrap);
    var timer = 0, lastW = -1;
    function render() {
      cancelAnimationFrame(f.raf);
      f.raf = 0;
      f.svg.textContent = '';
      f.legend.textContent = '';
      f.tip.hidden = true;
      lastW = f.wrap.clientWidth;
      draw(f, f.opts);
    }
    // Debounced: a drag-resize fires dozens of events; redraw once it settles.
    function onResize() {
      clearTimeout(timer);
      timer = setTimeout(function () { if (f.wrap.clientWidth !== lastW) render(); }, 150);
    }
    window.addEventListener('resize', onResize);
    render();
    return {
      update: function (o) { Object.assign(f.opts, o); render(); },
      destroy: function () {
        window.removeEventListener('resize', onResize);
        clearTimeout(timer);
        cancelAnimationFrame(f.raf);
        f.wrap.remove();
      }
    };
  }
  // Lays out margins and axes; returns plot geometry and pixel mappers.
  // inset (px) keeps dots on the extremes from being cut in half by the plot edge.
  function axes(f, o, W, H, ys, makeX, inset) {
    inset = inset || 0;
    var top = 10, right = 24, bottom = 24 + (o.xLabel ? 18 : 0);
    var plotH = H - top - bottom;
    var yLabels = ys.ticks.map(ys.fmt);
    var left = Math.round(Math.max.apply(null, yLabels.map(function (l) { return l.length; }).concat(1)) * 6.6 + 12 + (o.yLabel ? 20 : 0));
    var plotW = Math.max(10, W - left - right);
    var xs = makeX(plotW);
    var X = mapper(xs, left + inset, left + plotW - inset), Y = mapper(ys, top + plotH - inset, top + inset);
    var g = svgEl('g', {}, f.svg), id = 'sf-chart-clip-' + (++uid);
    svgEl('rect', { x: left, y: top, width: plotW, height: plotH }, svgEl('clipPath', { id: id }, svgEl('defs', {}, f.svg)));
    var xTicks = thin(xs.ticks, xs.ticks.map(xs.fmt), xs.ticks.length > 1 ? Math.abs(X(xs.ticks[1]) - X(xs.ticks[0])) : plotW);
    xTicks.forEach(function (t) {
      var px = X(t.v).toFixed(1);
      svgEl('line', { class: 'sf-chart-grid', x1: px, x2: px, y1: top, y2: top + plotH }, g);
      svgText(g, px, top + plotH + 15, t.label, { class: 'sf-chart-tick', 'text-anchor': 'middle' });
    });
    ys.ticks.forEach(function (v, i) {
      var py = Y(v).toFixed(1);
      svgEl('line', { class: 'sf-chart-grid', x1: left, x2: left + plotW, y1: py, y2: py }, g);
      svgText(g, left - 6, py, yLabels[i], { class: 'sf-chart-tick', 'text-anchor': 'end', dy: '0.32em' });
    });
    svgEl('path', { class: 'sf-chart-axis', d: 'M' + left + ',' + top + 'V' + (top + plotH) + 'H' + (left + plotW) }, g);
    if (o.xLabel) svgText(g, left + plotW / 2, H - 6, String(o.xLabel), { class: 'sf-chart-label', 'text-anchor': 'middle' });
    if (o.yLabel) {
      svgText(g, 0, 0, String(o.yLabel), { class: 'sf-chart-label', 'text-anchor': 'middle',
        transform: 'translate(13,' + (top + plotH / 2) + ') rotate(-90)' });
    }
    return { left: left, top: top, plotW: plotW, plotH: plotH, X: X, Y: Y, xs: xs, clip: 'url(#' + id + ')' };
  }
  function sizeSvg(f, o) {
    var W = f.wrap.clientWidth || 600, H = +o.height || 320;
    f.svg.setAttribute('width', W);
    f.svg.setAttribute('height', H);
    f.svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    return [W, H];
  }
  function noData(f, W, H) {
    svgText(f.svg, W / 2, H / 2, 'No data', { class: 'sf-chart-empty', 'text-anchor': 'middle' });
  }
  // Tooltip: a table built cell by cell; header row first. Positioned beside the pointer,
  // flipped to the left near the right edge.
  function showTip(f, rows, px, py, W, H) {
    var table = htmlEl('table'), tip = f.tip;
    rows.forEach(function (r, i) {
      var tr = htmlEl('tr', null, table);
      r.forEach(function (c) {
        var td = htmlEl(i ? 'td' : 'th', null, tr);
        if (c && c.color) swatch(td, c.color); else if (c != null) td.textContent = c;
      });
    });
    tip.textContent = '';
    tip.appendChild(table);
    tip.hidden = false;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = (px + 14 + w > W ? Math.max(0, px - 14 - w) : px + 14) + 'px';
    // The svg sits below the legend; SVG elements have no offsetTop, so use rects.
    var dy = f.svg.getBoundingClientRect().top - f.wrap.getBoundingClientRect().top;
    tip.style.top = clamp(py + 14, 0, Math.max(0, H - h)) + dy + 'px';
  }
  function pointer(f, e) {
    var r = f.svg.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  // == line chart
  // Index of the point whose x is nearest to x (xs sorted ascending).
  function nearest(xs, x) {
    var lo = 0, hi = xs.length - 1;
    if (hi < 0) return -1;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (xs[mid] < x) lo = mid + 1; else hi = mid;
    }
    return lo > 0 && x - xs[lo - 1] <= xs[lo] - x ? lo - 1 : lo;
  }
  // One path per series; a gap (NaN, Infinity, <= 0 on log) lifts the pen and "h0"
  // after each move lets an isolated point show as a round cap. Points sharing a pixel
  // column collapse to that column's min, max and last y: same picture, shorter path.
  function pathData(xs, ys, X, Y, ok) {
    var d = '', pen = false, col = 0, lo = 0, hi = 0, last = 0, n = 0;
    function flush() {
      if (n > 1) d += 'L' + col + ',' + lo + 'L' + col + ',' + hi + 'L' + col + ',' + last;
      n = 0;
    }
    for (var i = 0; i < xs.length; i++) {
      var px = X(xs[i]), py = ok(ys[i]) ? Y(ys[i]) : NaN;
      if (!isNum(px) || !isNum(py)) { flush(); pen = false; continue; }
      py = Math.round(py * 10) / 10; // Math.round beats toFixed by ~3x on long paths
      if (pen && Math.round(px) === col) {
        if (py < lo) lo = py; if (py > hi) hi = py;
        last = py; n++;
        continue;
      }
      flush();
      d += (pen ? 'L' : 'M') + Math.round(px * 10) / 10 + ',' + py + (pen ? '' : 'h0');
      pen = true; col = Math.round(px); lo = hi = last = py; n = 1;
    }
    flush();
    return d;
  }
  function drawLine(f, o) {
    var size = sizeSvg(f, o), W = size[0], H = size[1], logY = !!o.logY, type = o.xType || 'number';
    var w = clamp(+o.smoothing || 0, 0, 0.99);
    var ok = function (v) { return isNum(v) && (!logY || v > 0); };
    var xMin = Infinity, xMax = -Infinity, yMin = Infinity, yMax = -Infinity;
    var series = (o.series || []).map(function (s, si) {
      var xs = [], ys = [], pts = (s && s.points) || [], sorted = true;
      for (var i = 0; i < pts.length; i++) {
        var x = +pts[i][0], y = pts[i][1] == null ? NaN : +pts[i][1];
        if (!isNum(x)) continue;
        if (xs.length && x < xs[xs.length - 1]) sorted = false;
        xs.push(x); ys.push(y);
      }
      if (!sorted) { // binary search needs ascending x; sort only when the caller did not
        var idx = xs.map(function (_, i) { return i; }).sort(function (a, b) { return xs[a] - xs[b]; });
        xs = idx.map(function (i) { return xs[i]; }); ys = idx.map(function (i) { return ys[i]; });
      }
      var valid = 0;
      ys.forEach(function (y, i) {
        if (!ok(y)) return;
        valid++;
        if (y < yMin) yMin = y; if (y > yMax) yMax = y;
        if (xs[i] < xMin) xMin = xs[i]; if (xs[i] > xMax) xMax = xs[i];
      });
      var name = s && s.name != null ? String(s.name) : 'series ' + (si + 1);
      return { name: name, color: PALETTE[si % PALETTE.length], xs: xs, ys: ys, sm: w > 0 ? smooth(ys, w) : ys, valid: valid };
    });
    series.forEach(function (s) {
      var item = htmlEl('span', 'sf-chart-legend-item', f.legend);
      swatch(item, s.color);
      htmlEl('span', 'sf-chart-legend-name', item, s.name).title = s.name;
    });
    if (!isNum(yMin)) return noData(f, W, H);

    var ys = logY ? logScale(yMin, yMax, Math.max(2, (H - 50) / 40)) : linearScale(yMin, yMax, Math.max(2, Math.round((H - 50) / 45)), true);
    var a = axes(f, o, W, H, ys, function (plotW) {
      var n = Math.max(2, Math.floor(plotW / (type === 'number' ? 80 : 110)));
      return type === 'time' ? timeScale(xMin, xMax, n) : type === 'duration' ? durationScale(xMin, xMax, n) : linearScale(xMin, xMax, n, false);
    });
    var lines = svgEl('g', { 'clip-path': a.clip }, f.svg);
    series.forEach(function (s) {
      if (w > 0) svgEl('path', { class: 'sf-chart-raw', stroke: s.color, d: pathData(s.xs, s.ys, a.X, a.Y, ok) }, lines);
      svgEl('path', { class: 'sf-series', 'data-series': s.name, stroke: s.color, d: pathData(s.xs, s.sm, a.X, a.Y, ok) }, lines);
      if (s.valid === 1) {
        var i = s.ys.findIndex(ok);
        svgEl('circle', { class: 'sf-chart-dot', fill: s.color, r: 3.5, cx: a.X(s.xs[i]).toFixed(1), cy: a.Y(s.sm[i]).toFixed(1) }, lines);
      }
    });

    // Hover: pointer events only record the position; the work runs once per frame.
    var hover = svgEl('g', { class: 'sf-chart-hover', visibility: 'hidden' }, f.svg);
    var guide = svgEl('line', { class: 'sf-chart-guide', y1: a.top, y2: a.top + a.plotH }, hover);
    var marks = series.map(function (s) { return svgEl('circle', { r: 3.5, fill: s.color, class: 'sf-chart-mark' }, hover); });
    var overlay = svgEl('rect', { class: 'sf-chart-overlay', x: a.left, y: a.top, width: a.plotW, height: a.plotH }, f.svg);
    function frameHover() {
      f.raf = 0;
      if (!f.hover) { hover.setAttribute('visibility', 'hidden'); f.tip.hidden = true; return; }
      var px = clamp(f.hover[0], a.left, a.left + a.plotW), xv = a.X.invert(px);
      var rows = [[null, 'Run', o.xLabel || 'x', (o.yLabel || 'y') + (w > 0 ? ' (raw)' : '')]];
      guide.setAttribute('x1', px);
      guide.setAttribute('x2', px);
      series.forEach(function (s, si) {
        var i = nearest(s.xs, xv), m = marks[si];
        if (i < 0) { m.setAttribute('visibility', 'hidden'); return; }
        var y = s.sm[i], shown = ok(y) && isNum(a.Y(y));
        m.setAttribute('visibility', shown ? 'visible' : 'hidden');
        if (shown) { m.setAttribute('cx', a.X(s.xs[i]).toFixed(1)); m.setAttribute('cy', a.Y(y).toFixed(1)); }
        rows.push([{ color: s.color }, s.name, fmtX(s.xs[i], type), fmtVal(y) + (w > 0 && isNum(s.ys[i]) ? ' (' + fmtVal(s.ys[i]) + ')' : '')]);
      });
      hover.setAttribute('visibility', 'visible');
      showTip(f, rows, px, f.hover[1], W, H);
    }
    function schedule() { if (!f.raf) f.raf = requestAnimationFrame(frameHover); }
    overlay.addEventListener('pointermove', function (e) { f.hover = pointer(f, e); schedule(); });
    overlay.addEventListener('pointerleave', function () { f.hover = null; schedule(); });
    if (f.hover) schedule(); // keep the read-out up across live updates
  }

  // == scatter plot
  function drawScatter(f, o) {
    var size = sizeSvg(f, o), W = size[0], H = size[1], cat = !!o.xCategorical;
    var pts = (o.points || []).filter(function (p) {
      return p && isNum(+p.y) && p.y !== null && (cat ? p.x != null : isNum(+p.x) && p.x !== null);
    });
    if (!pts.length) return noData(f, W, H);
    var yv = pts.map(function (p) { return +p.y; });
    var ys = linearScale(Math.min.apply(null, yv), Math.max.apply(null, yv), Math.max(2, Math.round((H - 50) / 45)), true);
    var cats = [], catIndex = {};
    if (cat) {
      pts.forEach(function (p) { var k = String(p.x); if (!(k in catIndex)) { catIndex[k] = 0; cats.push(k); } });
      cats.sort(function (a, b) { return a.localeCompare(b, undefined, { numeric: true }); });
      cats.forEach(function (k, i) { catIndex[k] = i; });
    }
    var a = axes(f, o, W, H, ys, function (plotW) {
      if (!cat) {
        var xv = pts.map(function (p) { return +p.x; });
        return linearScale(Math.min.apply(null, xv), Math.max.apply(null, xv), Math.max(2, Math.floor(plotW / 80)), true);
      }
      // Categories sit at band centres: index i maps to i + 0.5 of n equal bands.
      var s = { min: 0, max: cats.length, ticks: cats.map(function (_, i) { return i + 0.5; }) };
      s.fmt = function (v) { var l = cats[Math.floor(v)]; return l.length > 14 ? l.slice(0, 13) + '\u2026' : l; };
      return s;
    }, 7);
    var xOf = function (p) { return a.X(cat ? catIndex[String(p.x)] + 0.5 : +p.x); };
    var g = svgEl('g', { 'clip-path': a.clip, class: 'sf-chart-points' }, f.svg);
    pts.forEach(function (p, i) {
      svgEl('circle', { class: 'sf-chart-point', 'data-i': i, r: 4.5, fill: PALETTE[0],
        cx: xOf(p).toFixed(1), cy: a.Y(+p.y).toFixed(1) }, g);
    });
    // One delegated listener for all dots rather than one per dot.
    g.addEventListener('pointerover', function (e) {
      var i = e.target.getAttribute('data-i');
      if (i == null) return;
      var p = pts[+i], xy = pointer(f, e);
      e.target.classList.add('sf-chart-point-active');
      showTip(f, [['Run', o.xLabel || 'x', o.yLabel || 'y'],
        [p.label != null ? String(p.label) : '', cat ? String(p.x) : fmtVal(+p.x), fmtVal(+p.y)]], xy[0], xy[1], W, H);
    });
    g.addEventListener('pointerout', function (e) {
      if (e.target.classList) e.target.classList.remove('sf-chart-point-active');
      f.tip.hidden = true;
    });
  }

  window.SwiftflowChart = {
    line: function (container, options) { return frame(container, options, drawLine); },
    scatter: function (container, options) { return frame(container, options, drawScatter); },
    smooth: smooth
  };
})();

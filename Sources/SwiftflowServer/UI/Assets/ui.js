// Swiftflow UI: the little interaction server-rendered pages need. No dependencies, no inline
// handlers (the pages forbid inline script), user data only ever set through textContent.
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // Times arrive as UTC text; show them in the reader's zone.
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function localTime(ms) {
    var d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function localizeTimes(root) {
    $all("time[data-ms]", root).forEach(function (t) {
      var ms = Number(t.getAttribute("data-ms"));
      if (isFinite(ms)) { t.title = t.textContent; t.textContent = localTime(ms); }
    });
  }

  // ---- REST calls -------------------------------------------------------------------------
  function api(method, path, body) {
    var options = { method: method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
    return fetch(path, options).then(function (response) {
      return response.text().then(function (text) {
        var json = null;
        try { json = text ? JSON.parse(text) : {}; } catch (e) { json = null; }
        if (!response.ok) {
          var message = json && json.message ? json.error_code + ": " + json.message : "HTTP " + response.status;
          throw new Error(message);
        }
        return json;
      });
    });
  }
  function showError(anchor, error) {
    var box = anchor.querySelector(".sf-error") || anchor.parentNode.querySelector(".sf-error");
    if (!box) { box = el("div", { "class": "sf-error", role: "alert" }); anchor.appendChild(box); }
    box.hidden = false;
    box.textContent = error.message || String(error);
  }

  // <form data-api="/api/2.0/mlflow/..." data-method="POST" data-then="reload|<url>">: fields become
  // the JSON body (data-json="name" marks fields holding JSON, data-number numeric ones).
  function wireApiForms() {
    $all("form[data-api]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var body = {};
        $all("input[name], textarea[name], select[name]", form).forEach(function (field) {
          if (field.type === "checkbox") { body[field.name] = field.checked; return; }
          // Optional fields left empty are omitted, as the API reads "" as a value.
          if (field.value === "" && !field.hasAttribute("data-keep-empty")) return;
          body[field.name] = field.value;
        });
        if (form.getAttribute("data-confirm") && !window.confirm(form.getAttribute("data-confirm"))) return;
        var buttons = $all("button", form);
        buttons.forEach(function (b) { b.disabled = true; });
        api(form.getAttribute("data-method") || "POST", form.getAttribute("data-api"), body).then(function (json) {
          var then = form.getAttribute("data-then") || "reload";
          if (then === "reload") { window.location.reload(); return; }
          var target = then.replace(/\{(\w+)\}/g, function (_, key) {
            return encodeURIComponent(json && json[key] !== undefined ? json[key] : body[key]);
          });
          window.location.assign(target);
        }).catch(function (error) {
          buttons.forEach(function (b) { b.disabled = false; });
          showError(form, error);
        });
      });
    });
  }

  // ---- Runs table: selection and compare --------------------------------------------------
  function wireRunSelection() {
    var table = $("table[data-runs]");
    if (!table) return;
    var button = $("#sf-compare");
    var all = $("#sf-select-all");
    function selected() { return $all("input.sf-run-check:checked", table).map(function (c) { return c.value; }); }
    function refresh() {
      var ids = selected();
      if (button) { button.disabled = ids.length < 2; button.textContent = "Compare (" + ids.length + ")"; }
    }
    table.addEventListener("change", function (event) {
      if (event.target === all) $all("input.sf-run-check", table).forEach(function (c) { c.checked = all.checked; });
      refresh();
    });
    if (button) button.addEventListener("click", function () {
      var ids = selected();
      if (ids.length >= 2) window.location.assign("/compare?runs=" + ids.map(encodeURIComponent).join(","));
    });
    refresh();
  }

  // <details class="sf-columns">: checkboxes naming the param/metric/tag columns to show.
  function wireColumnChooser() {
    var form = $("form.sf-column-form");
    if (!form) return;
    form.addEventListener("change", function () { form.submit(); });
  }

  // ---- Artifact browser ---------------------------------------------------------------------
  var textTypes = /\.(txt|log|json|ya?ml|py|md|csv|tsv|ini|cfg|toml|xml|html?|js|css|sh|r|sql|mlmodel)$/i;
  var imageTypes = /\.(png|jpe?g|gif|svg|webp|bmp)$/i;

  function artifactUrl(runId, path) {
    return "/get-artifact?path=" + encodeURIComponent(path) + "&run_uuid=" + encodeURIComponent(runId);
  }

  function listArtifacts(runId, path) {
    var url = "/ajax-api/2.0/mlflow/artifacts/list?run_id=" + encodeURIComponent(runId) +
      (path ? "&path=" + encodeURIComponent(path) : "");
    return api("GET", url).then(function (json) {
      var files = (json && json.files) || [];
      files.sort(function (a, b) {
        if (!!a.is_dir !== !!b.is_dir) return a.is_dir ? -1 : 1;
        return a.path < b.path ? -1 : 1;
      });
      return files;
    });
  }

  function csvRows(text) {
    // RFC 4180: quoted fields, doubled quotes, newlines inside quotes.
    var rows = [], row = [], field = "", quoted = false;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (quoted) {
        if (c === '"') { if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false; }
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { row.push(field); field = ""; }
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(field); rows.push(row); row = []; field = "";
      } else field += c;
    }
    if (field !== "" || row.length) { row.push(field); rows.push(row); }
    return rows;
  }

  function preview(box, runId, file) {
    box.textContent = "";
    var name = file.path.split("/").pop();
    var header = el("div", { "class": "sf-bar" });
    header.appendChild(el("strong", { "class": "mono" }, file.path));
    if (file.file_size !== undefined) header.appendChild(el("span", { "class": "sf-muted" }, file.file_size + " bytes"));
    var download = el("a", { href: artifactUrl(runId, file.path), download: name, "class": "sf-button" }, "Download");
    header.appendChild(download);
    box.appendChild(header);
    if (imageTypes.test(name)) {
      // An <img> never runs script, SVG included.
      box.appendChild(el("img", { src: artifactUrl(runId, file.path), alt: name }));
      return;
    }
    var size = Number(file.file_size || 0);
    if (!(textTypes.test(name) || name === "MLmodel" || name === "MLproject" || name === "requirements.txt") ) {
      box.appendChild(el("p", { "class": "sf-muted" }, "No preview for this file type."));
      return;
    }
    if (size > 2 * 1024 * 1024) {
      box.appendChild(el("p", { "class": "sf-muted" }, "Too large to preview; download it instead."));
      return;
    }
    fetch(artifactUrl(runId, file.path), { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    }).then(function (text) {
      if (/\.(csv|tsv)$/i.test(name)) {
        var rows = name.toLowerCase().endsWith(".tsv")
          ? text.split(/\r?\n/).filter(Boolean).map(function (l) { return l.split("\t"); })
          : csvRows(text);
        var table = el("table", { "class": "sf-csv" });
        rows.slice(0, 500).forEach(function (cells, index) {
          var tr = el("tr");
          cells.forEach(function (cell) { tr.appendChild(el(index === 0 ? "th" : "td", null, cell)); });
          table.appendChild(tr);
        });
        box.appendChild(table);
        if (rows.length > 500) box.appendChild(el("p", { "class": "sf-muted" }, "First 500 of " + rows.length + " rows."));
        return;
      }
      if (/\.json$/i.test(name)) {
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* show as is */ }
      }
      box.appendChild(el("pre", { "class": "sf-artifact-text" }, text));
    }).catch(function (error) { box.appendChild(el("div", { "class": "sf-error" }, error.message)); });
  }

  function wireArtifacts() {
    var root = $(".sf-artifacts[data-run]");
    if (!root) return;
    var runId = root.getAttribute("data-run");
    var tree = $(".sf-tree", root), box = $(".sf-preview", root);
    function render(list, files) {
      if (!files.length && list === tree.firstChild) list.appendChild(el("li", { "class": "sf-muted" }, "No artifacts."));
      files.forEach(function (file) {
        var li = el("li");
        var label = el("span", { "class": file.is_dir ? "sf-dir" : "sf-file", title: file.path, tabindex: "0" },
          file.path.split("/").pop());
        li.appendChild(label);
        list.appendChild(li);
        label.addEventListener("click", function () {
          $all(".sf-selected", tree).forEach(function (s) { s.classList.remove("sf-selected"); });
          label.classList.add("sf-selected");
          if (!file.is_dir) { preview(box, runId, file); return; }
          var open = label.classList.toggle("sf-open");
          var child = li.querySelector("ul");
          if (!open) { if (child) child.hidden = true; return; }
          if (child) { child.hidden = false; return; }
          child = el("ul");
          li.appendChild(child);
          listArtifacts(runId, file.path).then(function (inner) { render(child, inner); })
            .catch(function (e) { child.appendChild(el("li", { "class": "sf-error" }, e.message)); });
        });
      });
    }
    var top = el("ul");
    tree.appendChild(top);
    listArtifacts(runId, "").then(function (files) {
      render(top, files);
      var first = files.filter(function (f) { return !f.is_dir; })[0];
      if (first) { $all("span", top)[files.indexOf(first)].classList.add("sf-selected"); preview(box, runId, first); }
    }).catch(function (e) { tree.appendChild(el("div", { "class": "sf-error" }, e.message)); });
  }

  // ---- Metric chart page ---------------------------------------------------------------------
  function wireMetricChart() {
    var config = data("sf-chart-config");
    var holder = $("#sf-chart");
    if (!config || !holder || !window.SwiftflowChart) return;
    var state = { x: "step", logY: false, smoothing: 0 };
    var chart = null, raw = {};
    var status = $("#sf-chart-status");

    function fetchSeries() {
      var url = "/ui/api/metric-series?key=" + encodeURIComponent(config.key) +
        config.runs.map(function (r) { return "&run_id=" + encodeURIComponent(r.id); }).join("") +
        "&points=" + (config.points || 1000);
      return api("GET", url).then(function (json) { raw = json.runs || {}; return json; });
    }
    function series() {
      return config.runs.map(function (run) {
        var s = raw[run.id] || { step: [], ts: [], v: [] };
        var start = s.ts.length ? Math.min.apply(null, s.ts) : 0;
        var points = s.v.map(function (v, i) {
          var x = state.x === "step" ? s.step[i] : state.x === "time" ? s.ts[i] : (s.ts[i] - start) / 1000;
          return [x, v === null ? NaN : v];
        });
        points.sort(function (a, b) { return a[0] - b[0]; });
        return { name: run.name, points: points };
      });
    }
    function options() {
      return {
        series: series(), xLabel: state.x === "step" ? "Step" : state.x === "time" ? "Time" : "Relative time",
        yLabel: config.key, logY: state.logY, smoothing: state.smoothing,
        xType: state.x === "step" ? "number" : state.x === "time" ? "time" : "duration", height: 380
      };
    }
    function draw() {
      if (chart) chart.update(options()); else chart = window.SwiftflowChart.line(holder, options());
      var total = 0;
      Object.keys(raw).forEach(function (k) { total += raw[k].v.length; });
      if (status) status.textContent = total + " points shown" + (config.live ? " · live" : "");
    }
    $all("[data-chart-control]").forEach(function (control) {
      control.addEventListener("input", function () {
        var name = control.getAttribute("data-chart-control");
        if (name === "x") state.x = control.value;
        if (name === "log") state.logY = control.checked;
        if (name === "smoothing") state.smoothing = Number(control.value) / 100;
        draw();
      });
    });
    fetchSeries().then(draw).catch(function (e) { showError(holder.parentNode, e); });
    if (config.live) {
      // Poll while a run is still logging: cheap (sampled on the server), and works behind any proxy.
      var timer = setInterval(function () {
        fetchSeries().then(function (json) {
          draw();
          if (!json.running) { clearInterval(timer); if (status) status.textContent += " (finished)"; }
        }).catch(function () { /* keep the last chart; try again next tick */ });
      }, config.interval || 3000);
    }
  }

  // ---- Compare page scatter plot ------------------------------------------------------------
  function wireScatter() {
    var config = data("sf-compare-data");
    var holder = $("#sf-scatter");
    if (!config || !holder || !window.SwiftflowChart) return;
    var xSelect = $("#sf-scatter-x"), ySelect = $("#sf-scatter-y");
    var chart = null;
    function draw() {
      var x = xSelect.value, y = ySelect.value;
      var categorical = false;
      var points = config.runs.map(function (run) {
        var xv = run.params[x], yv = run.metrics[y];
        if (xv === undefined || yv === undefined || yv === null) return null;
        var n = Number(xv);
        if (xv === "" || !isFinite(n)) categorical = true;
        return { x: xv, y: yv, label: run.name };
      }).filter(Boolean);
      if (!categorical) points.forEach(function (p) { p.x = Number(p.x); });
      var opts = { points: points, xLabel: x, yLabel: y, xCategorical: categorical, height: 360 };
      if (chart && chart.destroy) chart.destroy();
      holder.textContent = "";
      chart = window.SwiftflowChart.scatter(holder, opts);
    }
    xSelect.addEventListener("change", draw);
    ySelect.addEventListener("change", draw);
    if (xSelect.value && ySelect.value) draw();
  }

  document.addEventListener("DOMContentLoaded", function () {
    localizeTimes(document);
    wireApiForms();
    wireRunSelection();
    wireColumnChooser();
    wireArtifacts();
    wireMetricChart();
    wireScatter();
  });
})();

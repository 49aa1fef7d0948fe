/* report.js — the behaviour of `unigfn report html` pages (embedded into index.html at build time):
 * reads the JSON the C side wrote into #ug-data and draws the runs table (sort by any column, filter by
 * text or key=value), the metric curves as SVG (per run, or mean ± std over the seeds of a group) and
 * one run's params, metrics and pictures. No libraries, no network. */
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("ug-data").textContent);
  const runs = data.runs;
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const SVGNS = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs, text) => {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const fmt = (v) => {
    if (v === null || v === undefined) return "\u2014";
    if (typeof v !== "number") return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
    return String(Number(v.toPrecision(5)));
  };
  const fmtDur = (s) => {
    if (s === null || s === undefined) return "\u2014";
    if (s < 59.95) return s.toFixed(1) + " s";
    const t = Math.round(s), m = Math.floor(t / 60);   /* whole seconds first: 2m60s cannot happen */
    if (m < 60) return m + "m" + String(t - 60 * m).padStart(2, "0") + "s";
    const mm = Math.round(s / 60);
    return Math.floor(mm / 60) + "h" + String(mm % 60).padStart(2, "0") + "m";
  };

  /* Params that differ between the runs of one experiment (what tells override runs and seeds apart;
   * runs of different experiments differ in their whole spec, which the experiment column says), seed
   * kept, the name left out; the keys varying in the most experiments first, at most 12 columns. */
  const byExp = new Map();
  runs.forEach((r) => { if (!byExp.has(r.experiment)) byExp.set(r.experiment, []); byExp.get(r.experiment).push(r); });
  const varyIn = {};
  byExp.forEach((rs) => {
    const keys = new Set();
    rs.forEach((r) => Object.keys(r.params).forEach((k) => keys.add(k)));
    keys.forEach((k) => {
      if (k === "name") return;
      const vals = new Set(rs.map((r) => (k in r.params ? r.params[k] : "\u0000")));
      if (vals.size > 1) varyIn[k] = (varyIn[k] || 0) + 1;
    });
  });
  const varying = Object.keys(varyIn).sort((a, b) => varyIn[b] - varyIn[a] || a.localeCompare(b)).slice(0, 12).sort();
  /* Metric columns: the most often logged final metrics, up to 8. */
  const count = {};
  runs.forEach((r) => Object.keys(r.last).forEach((k) => { count[k] = (count[k] || 0) + 1; }));
  /* the usual headline metrics first (by the paper's tables), then the most often logged */
  const headline = ["nll", "loss", "bpd", "elbo", "mmd", "mmd_rbf", "energy", "density_tv", "sample_tv"];
  const rank = (k) => { const i = headline.indexOf(k); return i < 0 ? headline.length : i; };
  const metricCols = Object.keys(count).sort((a, b) => rank(a) - rank(b) || count[b] - count[a] || a.localeCompare(b))
    .slice(0, 8);

  const columns = [
    { key: "_pick", label: "", get: () => null, sortable: false },
    { key: "id", label: "id", get: (r) => r.id },
    { key: "experiment", label: "experiment", get: (r) => r.experiment },
    { key: "status", label: "status", get: (r) => r.status },
    { key: "step", label: "steps", get: (r) => r.step, num: true },
    { key: "duration", label: "duration", get: (r) => r.duration, num: true, show: fmtDur },
    ...varying.map((k) => ({ key: "p:" + k, label: k, get: (r) => (k in r.params ? r.params[k] : null), param: true })),
    ...metricCols.map((k) => ({ key: "m:" + k, label: k, get: (r) => (k in r.last ? r.last[k] : null), num: true, show: fmt })),
  ];

  /* The value a run sorts by: a shown column's, or (from an address) any metric m:KEY or param p:KEY. */
  function sortValue(r) {
    const c = columns.find((x) => x.key === sortCol);
    if (c) return c.get(r);
    if (sortCol.startsWith("m:")) { const k = sortCol.slice(2); return k in r.last ? r.last[k] : null; }
    if (sortCol.startsWith("p:")) { const k = sortCol.slice(2); return k in r.params ? r.params[k] : null; }
    return null;
  }

  const picked = new Set();
  let sortCol = null, sortDir = 1;
  const table = $("runs-table");

  const cmp = (a, b) => {
    if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
    if (b === null || b === undefined) return -1;
    const na = Number(a), nb = Number(b);
    if (typeof a === "number" || (a !== "" && b !== "" && !isNaN(na) && !isNaN(nb))) return (na - nb) * sortDir;
    return String(a).localeCompare(String(b), undefined, { numeric: true }) * sortDir;
  };

  /* "text" matches any cell; "key=value" a column (param, experiment, status, id) exactly or by number. */
  const matches = (r, q) => {
    const terms = q.trim().split(/\s+/).filter(Boolean);
    return terms.every((t) => {
      const eq = t.indexOf("=");
      if (eq > 0) {
        const k = t.slice(0, eq), v = t.slice(eq + 1);
        const have = k in r.params ? r.params[k] : k === "experiment" ? r.experiment : k === "status" ? r.status :
          k === "id" ? r.id : undefined;
        if (have === undefined) return false;
        return String(have) === v || (!isNaN(Number(v)) && Number(have) === Number(v));
      }
      const text = [r.id, r.experiment, r.status, ...Object.values(r.params)].join(" ").toLowerCase();
      return text.indexOf(t.toLowerCase()) >= 0;
    });
  };

  function drawTable() {
    table.textContent = "";
    const thead = el("thead"), hr = el("tr");
    columns.forEach((c) => {
      const th = el("th", { "data-key": c.key }, c.label);
      if (c.num) th.className = "num";
      if (sortCol === c.key) th.classList.add(sortDir > 0 ? "sorted-asc" : "sorted-desc");
      if (c.sortable !== false)
        th.addEventListener("click", () => {
          sortDir = sortCol === c.key ? -sortDir : 1;
          sortCol = c.key;
          drawTable();
        });
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    table.appendChild(thead);
    const q = $("filter").value;
    let rows = runs.filter((r) => matches(r, q));
    if (sortCol) rows = rows.slice().sort((a, b) => cmp(sortValue(a), sortValue(b)));
    const tbody = el("tbody");
    rows.forEach((r) => {
      const tr = el("tr", { class: "run", "data-id": r.id });
      if (picked.has(r.id)) tr.classList.add("selected");
      columns.forEach((c) => {
        const td = el("td");
        if (c.key === "_pick") {
          const cb = el("input", { type: "checkbox", "aria-label": "plot " + r.id });
          cb.checked = picked.has(r.id);
          cb.addEventListener("change", () => {
            if (cb.checked) picked.add(r.id); else picked.delete(r.id);
            tr.classList.toggle("selected", cb.checked);
            drawChart();
          });
          td.appendChild(cb);
        } else if (c.key === "id") {
          const a = el("a", { class: "run", href: "#detail" }, r.id.slice(0, 12));
          a.addEventListener("click", () => showRun(r));
          td.appendChild(a);
        } else {
          const v = c.get(r);
          td.textContent = c.show ? c.show(v) : v === null ? "\u2014" : String(v);
          if (c.num) td.className = "num";
          if (c.key === "status") td.className = "status-" + r.status;
        }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    $("count").textContent = rows.length + " of " + runs.length + " runs";
    visible = rows;
    drawChart();
  }
  let visible = runs;

  /* ---- curves ---- */
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                   "#7f7f7f", "#bcbd22", "#393b79", "#637939"];
  const seriesKeys = new Set();
  runs.forEach((r) => Object.keys(r.series).forEach((k) => { if (r.series[k].length) seriesKeys.add(k); }));
  const metricSel = $("metric");
  [...seriesKeys].sort().forEach((k) => metricSel.appendChild(el("option", { value: k }, k)));
  const prefer = ["loss", "nll", "curve_nll"].find((k) => seriesKeys.has(k));
  if (prefer) metricSel.value = prefer;

  /* Runs that differ only in their seed form one group: drawn as mean ± std where every run has a step. */
  const groupKey = (r) => [r.experiment, ...varying.filter((k) => k !== "seed" && k in r.params).map((k) => k + "=" + r.params[k])].join(" ");

  function niceTicks(lo, hi, n) {
    const span = hi - lo || Math.abs(hi) || 1;
    const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= n) || 10 * mag;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) out.push(Number(t.toPrecision(12)));
    return out;
  }

  function drawChart() {
    const box = $("chart");
    box.textContent = "";
    const key = metricSel.value;
    if (!key) { box.appendChild(el("p", { class: "hint" }, "no run logged a metric series")); return; }
    const logy = $("logy").checked;
    let chosen = runs.filter((r) => picked.has(r.id));
    if (!chosen.length) chosen = visible.slice(0, 12);
    chosen = chosen.filter((r) => r.series[key] && r.series[key].length);
    if (!chosen.length) { box.appendChild(el("p", { class: "hint" }, "none of these runs logged " + key)); return; }
    /* lines: a group of several seeds → mean ± std band; one run → its own line */
    const groups = new Map();
    chosen.forEach((r) => {
      const g = groupKey(r);
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(r);
    });
    const lines = [];
    groups.forEach((rs, g) => {
      if (rs.length === 1) {
        lines.push({ label: rs[0].id.slice(0, 8) + " " + groupKey(rs[0]), pts: rs[0].series[key] });
        return;
      }
      const maps = rs.map((r) => new Map(r.series[key].map((p) => [p[0], p[1]])));
      const steps = [...maps[0].keys()].filter((s) => maps.every((m) => m.get(s) !== null && m.has(s))).sort((a, b) => a - b);
      const mean = [], lo = [], hi = [];
      steps.forEach((s) => {
        const v = maps.map((m) => m.get(s));
        const mu = v.reduce((a, b) => a + b, 0) / v.length;
        const sd = Math.sqrt(v.reduce((a, b) => a + (b - mu) * (b - mu), 0) / (v.length - 1));
        mean.push([s, mu]); lo.push([s, mu - sd]); hi.push([s, mu + sd]);
      });
      lines.push({ label: groupKey(rs[0]) + " (mean \u00b1 std, " + rs.length + " seeds)",
                   pts: mean, lo, hi });
    });
    const W = 920, H = 380, L = 70, R = 20, T = 24, B = 46;
    const ok = (v) => v !== null && isFinite(v) && (!logy || v > 0);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    lines.forEach((ln) => [ln.pts, ln.lo || [], ln.hi || []].forEach((ps) => ps.forEach((p) => {
      if (!ok(p[1])) return;
      x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]);
      const y = logy ? Math.log10(p[1]) : p[1];
      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    })));
    if (!isFinite(x0)) { box.appendChild(el("p", { class: "hint" }, "no finite value of " + key + (logy ? " above 0" : ""))); return; }
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { y0 -= 0.5 * (Math.abs(y0) || 1); y1 += 0.5 * (Math.abs(y1) || 1); }
    const pad = 0.04 * (y1 - y0); y0 -= pad; y1 += pad;
    const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - R);
    const sy = (v) => T + (1 - ((logy ? Math.log10(v) : v) - y0) / (y1 - y0)) * (H - T - B);
    const s = svg("svg", { class: "curve", width: W, height: H, viewBox: "0 0 " + W + " " + H, "data-metric": key });
    niceTicks(x0, x1, 8).forEach((t) => {
      s.appendChild(svg("line", { class: "grid", x1: sx(t), x2: sx(t), y1: T, y2: H - B }));
      s.appendChild(svg("text", { x: sx(t), y: H - B + 16, "text-anchor": "middle" }, fmt(t)));
    });
    niceTicks(y0, y1, 6).forEach((t) => {
      const v = logy ? Math.pow(10, t) : t;
      s.appendChild(svg("line", { class: "grid", x1: L, x2: W - R, y1: sy(v), y2: sy(v) }));
      s.appendChild(svg("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }, fmt(v)));
    });
    s.appendChild(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
    s.appendChild(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    s.appendChild(svg("text", { x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle" }, "step"));
    s.appendChild(svg("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle",
                                 transform: "rotate(-90 14 " + (T + H - B) / 2 + ")" }, key + (logy ? " (log)" : "")));
    const legend = el("div", { class: "legend" });
    lines.forEach((ln, i) => {
      const c = palette[i % palette.length];
      if (ln.lo) {
        const up = ln.hi.filter((p) => ok(p[1])), dn = ln.lo.filter((p) => ok(p[1])).reverse();
        if (up.length && dn.length)
          s.appendChild(svg("polygon", { class: "band", fill: c, "fill-opacity": 0.18, stroke: "none",
            points: up.concat(dn).map((p) => sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join(" ") }));
      }
      const pts = ln.pts.filter((p) => ok(p[1]));
      if (pts.length === 1) {
        s.appendChild(svg("circle", { class: "marker", cx: sx(pts[0][0]), cy: sy(pts[0][1]), r: 4, fill: c }));
      } else {
        s.appendChild(svg("polyline", { class: "line", fill: "none", stroke: c, "stroke-width": 1.6,
          points: pts.map((p) => sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join(" ") }));
      }
      const item = el("span");
      item.appendChild(el("span", { class: "sw", style: "background:" + c }));
      item.appendChild(document.createTextNode(ln.label));
      legend.appendChild(item);
    });
    box.appendChild(s);
    box.appendChild(legend);
    if (lines.every((ln) => ln.pts.length === 1))
      box.appendChild(el("p", { class: "hint" }, key + " has one value per run: drawn as markers"));
  }

  /* ---- one run ---- */
  function kvTable(obj, show) {
    const t = el("table");
    Object.keys(obj).sort().forEach((k) => {
      const tr = el("tr");
      tr.appendChild(el("th", {}, k));
      const td = el("td", {}, show ? show(obj[k]) : String(obj[k]));
      tr.appendChild(td);
      t.appendChild(tr);
    });
    return t;
  }
  function showRun(r) {
    $("detail-id").textContent = r.id + " (" + r.experiment + ", " + r.status + ")";
    const body = $("detail-body");
    body.textContent = "";
    if (r.error) body.appendChild(el("p", { class: "error" }, r.error));
    const info = { steps: r.step, duration: fmtDur(r.duration), git: r.git_rev || "\u2014", host: r.host || "\u2014",
                   build: r.build || "\u2014", blas: r.blas || "\u2014" };
    if (r.pictures.length) {
      body.appendChild(el("h3", {}, "pictures"));
      const pics = el("div", { class: "pictures" });
      r.pictures.forEach((p) => {
        const f = el("figure");
        f.appendChild(el("img", { src: p.src, alt: p.name }));
        f.appendChild(el("figcaption", {}, p.name + " (step " + p.step + ")"));
        pics.appendChild(f);
      });
      body.appendChild(pics);
    }
    const cols = el("div", { class: "cols" });
    const c1 = el("div"); c1.appendChild(el("h3", {}, "final metrics")); c1.appendChild(kvTable(r.last, fmt));
    c1.appendChild(el("h3", {}, "run")); c1.appendChild(kvTable(info));
    const c2 = el("div"); c2.appendChild(el("h3", {}, "params")); c2.appendChild(kvTable(r.params));
    if (r.provenance && r.provenance.length) {
      c1.appendChild(el("h3", {}, "computed from"));
      const t = el("table", { class: "provenance" });
      const hr = el("tr");
      ["kind", "name", "version", "sha256", "path"].forEach((h) => hr.appendChild(el("th", {}, h)));
      t.appendChild(hr);
      r.provenance.forEach((p) => {
        const tr = el("tr");
        [p.kind, p.name, p.version || "\u2014", (p.sha256 || "").slice(0, 12), p.path || "\u2014"].forEach((v) =>
          tr.appendChild(el("td", {}, v)));
        t.appendChild(tr);
      });
      c1.appendChild(t);
    }
    cols.appendChild(c1); cols.appendChild(c2);
    body.appendChild(cols);
    shownRun = r.id;
    picked.clear(); picked.add(r.id);
    drawTable();
  }
  let shownRun = null;

  /* The page's state in its address (#filter=..&sort=..&metric=..&logy=1&run=ID), so a view can be
   * bookmarked or sent, and opened as it was. */
  function saveState() {
    const st = new URLSearchParams();
    if ($("filter").value) st.set("filter", $("filter").value);
    if (sortCol) st.set("sort", (sortDir < 0 ? "-" : "") + sortCol);
    if (metricSel.value) st.set("metric", metricSel.value);
    if ($("logy").checked) st.set("logy", "1");
    if (shownRun) st.set("run", shownRun);
    history.replaceState(null, "", "#" + st.toString());
  }
  function loadState() {
    const st = new URLSearchParams(location.hash.slice(1));
    if (st.has("filter")) $("filter").value = st.get("filter");
    const so = st.get("sort");
    if (so) { sortDir = so[0] === "-" ? -1 : 1; sortCol = so.replace(/^-/, ""); }
    if (st.has("metric") && seriesKeys.has(st.get("metric"))) metricSel.value = st.get("metric");
    $("logy").checked = st.get("logy") === "1";
    return st.get("run");
  }

  $("filter").addEventListener("input", () => { drawTable(); saveState(); });
  metricSel.addEventListener("change", () => { drawChart(); saveState(); });
  $("logy").addEventListener("change", () => { drawChart(); saveState(); });
  table.addEventListener("click", (e) => { if (e.target.tagName === "TH" || e.target.tagName === "A") saveState(); });
  const want = loadState();
  drawTable();
  /* open on the run the address names, else the last run with pictures (or the last run), so the page
   * shows one run's detail at once */
  const first = runs.find((r) => r.id === want || (want && r.id.startsWith(want))) ||
    runs.slice().reverse().find((r) => r.pictures.length) || runs[runs.length - 1];
  if (first) { showRun(first); picked.clear(); drawTable(); }
})();

// packtwin dashboard: a small hand-written app (no framework, no build step, nothing loaded from elsewhere).
"use strict";

const S = { changes: 0, accounts: {}, role: "anonymous", base: "", status: null, view: null, es: null, timer: null,
            refreshing: false, lastRefresh: 0, renders: 0 };
const RANK = { anonymous: 0, legitimate_interest: 1, authority: 2, operator: 3 };
const GROUP_RANK = { public: 0, legitimateInterest: 1, authorities: 2 };
const $ = (sel, root = document) => root.querySelector(sel);

function esc(x) {
  return String(x ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function fmt(x, digits = 1, unit = "") {
  return (x === null || x === undefined || Number.isNaN(x)) ? "–" : `${Number(x).toFixed(digits)}${unit}`;
}
function b64url(id) {
  const bytes = new TextEncoder().encode(id);
  let bin = ""; bytes.forEach(b => { bin += String.fromCharCode(b); });
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function headers(role = S.role, extra = {}) {
  const key = S.accounts[role];
  return key ? { "X-API-Key": key, ...extra } : { ...extra };
}
async function getJSON(url, role = S.role) {
  const r = await fetch(url, { headers: headers(role, { Accept: "application/json" }) });
  if (!r.ok) {
    let text = await r.text();
    try { const j = JSON.parse(text); text = (j.messages && j.messages[0] && j.messages[0].text) || text; } catch (e) { /* plain text */ }
    const err = new Error(`${r.status}: ${text}`); err.status = r.status; throw err;
  }
  return r.json();
}
function cleared() { return RANK[S.role] >= 1; }
function levelOf(serial) {
  if (/-M\d+-C\d+$/.test(serial)) return "cell";
  if (/-M\d+$/.test(serial)) return "module";
  return "pack";
}
function packOf(serial) { return serial.split("-M")[0]; }

// ---- charts (inline SVG) -------------------------------------------------------------------------------------------
function lineChart(xs, ys, o = {}) {
  const W = o.w || 560, H = o.h || 170, L = 46, R = 10, T = 10, B = 26;
  const pts = xs.map((x, i) => [x, ys[i]]).filter(p => p[0] !== null && p[1] !== null && Number.isFinite(p[1]));
  if (pts.length < 2) return `<div class="muted">${esc(o.empty || "not enough data yet")}</div>`;
  let x0 = Math.min(...pts.map(p => p[0])), x1 = Math.max(...pts.map(p => p[0]));
  let y0 = Math.min(...pts.map(p => p[1])), y1 = Math.max(...pts.map(p => p[1]));
  for (const y of (o.hlines || []).map(h => h.y)) { y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  if (o.xband) { x0 = Math.min(x0, o.xband[0]); x1 = Math.max(x1, o.xband[1]); }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 - y0 < (o.minSpan || 1e-6)) { const m = (y0 + y1) / 2, h = (o.minSpan || 1e-6) / 2; y0 = m - h; y1 = m + h; }
  const pad = (y1 - y0) * 0.08; y0 -= pad; y1 += pad;
  const sx = x => L + (x - x0) / (x1 - x0) * (W - L - R), sy = y => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const d = pts.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
  let extra = "";
  if (o.xband) {
    extra += `<rect x="${sx(o.xband[0]).toFixed(1)}" y="${T}" width="${Math.max(1, sx(o.xband[1]) - sx(o.xband[0])).toFixed(1)}" height="${H - T - B}" fill="#b3261e" opacity="0.12"/>`;
  }
  for (const h of (o.hlines || [])) {
    extra += `<line x1="${L}" x2="${W - R}" y1="${sy(h.y).toFixed(1)}" y2="${sy(h.y).toFixed(1)}" stroke="#b3261e" stroke-dasharray="4 3"/>`
           + `<text x="${W - R - 2}" y="${(sy(h.y) - 3).toFixed(1)}" text-anchor="end">${esc(h.label)}</text>`;
  }
  const ticks = [y0 + pad, (y0 + y1) / 2, y1 - pad].map(y =>
    `<text x="${L - 4}" y="${(sy(y) + 3).toFixed(1)}" text-anchor="end">${fmt(y, o.digits ?? 2)}</text>` +
    `<line x1="${L}" x2="${W - R}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#eef1f4"/>`).join("");
  const xt = `<text x="${L}" y="${H - 8}">${esc(o.xfmt ? o.xfmt(x0) : fmt(x0, 1))}</text>` +
             `<text x="${W - R}" y="${H - 8}" text-anchor="end">${esc(o.xfmt ? o.xfmt(x1) : fmt(x1, 1))}</text>` +
             `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xlabel || "")}</text>`;
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title || "")}" data-testid="${esc(o.testid || "chart")}">` +
         `${ticks}${extra}<path d="${d}" fill="none" stroke="${o.color || "#1f5fa8"}" stroke-width="1.6"/>${xt}` +
         `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#c5ced7"/></svg>`;
}
function histogram(h, o = {}) {
  const W = 560, H = 170, L = 34, R = 8, T = 10, B = 26, n = h.counts.length;
  const max = Math.max(1, ...h.counts), bw = (W - L - R) / n;
  const bars = h.counts.map((c, i) => {
    const bh = (H - T - B) * c / max;
    return `<rect x="${(L + i * bw + 1).toFixed(1)}" y="${(H - B - bh).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="${o.color || "#0b6e4f"}"><title>${h.edges[i]}–${h.edges[i + 1]} ${o.unit || ""}: ${c}</title></rect>`;
  }).join("");
  const labels = h.edges.filter((_, i) => i % Math.ceil(n / 6) === 0 || i === n).map(e => {
    const i = h.edges.indexOf(e);
    return `<text x="${(L + i * bw).toFixed(1)}" y="${H - 10}" text-anchor="middle">${e}</text>`;
  }).join("");
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" data-testid="${esc(o.testid || "histogram")}">` +
         `<text x="${L - 4}" y="${T + 8}" text-anchor="end">${max}</text><text x="${L - 4}" y="${H - B}" text-anchor="end">0</text>` +
         `${bars}${labels}</svg>`;
}
function colour(soc) {
  if (soc === null || soc === undefined) return "#e8edf1";
  const t = Math.max(0, Math.min(1, soc / 100));
  return `hsl(${Math.round(10 + 120 * t)}, 60%, ${Math.round(82 - 12 * t)}%)`;
}

// ---- views ---------------------------------------------------------------------------------------------------------
const views = {
  async fleet() {
    if (!cleared()) {
      return `<h1>Fleet</h1><div class="note" data-testid="needs-signin">Live states of charge and health are passport data of the <b>legitimate interest</b> group: sign in (top right) to see the fleet. The public passport of a pack is open to anyone, e.g. <a href="#/passport/PT-P000001">PT-P000001</a>.</div>`;
    }
    const o = await getJSON("/dashboard/api/overview");
    const withSoh = o.packs.filter(p => p.soh_pct !== null);
    const lowest = withSoh.length ? Math.min(...withSoh.map(p => p.soh_pct)) : null;
    const withSoc = o.packs.filter(p => p.soc_pct !== null);
    const meanSoc = withSoc.length ? withSoc.reduce((a, p) => a + p.soc_pct, 0) / withSoc.length : null;
    const rows = o.packs.map(p => `<tr data-testid="pack-row" data-pack="${esc(p.pack_id)}">
        <td><a href="#/pack/${esc(p.pack_id)}">${esc(p.pack_id)}</a></td>
        <td class="num">${fmt(p.soc_pct, 1, " %")}</td><td class="num">${fmt(p.soh_pct, 1, " %")}</td>
        <td class="num">${fmt(p.voltage_v, 1, " V")}</td><td class="num">${fmt(p.current_a, 1, " A")}</td>
        <td class="num">${fmt(p.max_temperature_c, 1, " °C")}</td>
        <td class="num">${p.alerts ? `<span class="badge critical">${p.alerts}</span>` : "0"}</td>
        <td class="num">${p.frames}</td><td><a href="#/passport/${esc(p.pack_id)}">passport</a></td></tr>`).join("");
    const alerts = o.alerts.length ? `<ul class="alerts" data-testid="alerts">${o.alerts.map(alertItem).join("")}</ul>`
                                   : `<p class="muted" data-testid="alerts">No alerts yet.</p>`;
    return `<h1>Fleet overview</h1>
      <div class="grid g4">
        <div class="card kpi"><div class="v" data-testid="kpi-packs">${o.packs.length}</div><div class="l">packs</div></div>
        <div class="card kpi"><div class="v">${fmt(meanSoc, 1, " %")}</div><div class="l">mean state of charge</div></div>
        <div class="card kpi"><div class="v">${fmt(lowest, 1, " %")}</div><div class="l">weakest pack state of health</div></div>
        <div class="card kpi"><div class="v" data-testid="kpi-alerts">${o.alerts_total}</div><div class="l">alerts raised</div></div>
      </div>
      <div class="grid g2" style="margin-top:14px">
        <div class="card"><h2>State of health of all cells, % (${o.soh_histogram.n} cells)</h2>${histogram(o.soh_histogram, { unit: "% SoH", testid: "soh-histogram" })}</div>
        <div class="card"><h2>State of charge of all cells, % (${o.soc_histogram.n} cells)</h2>${histogram(o.soc_histogram, { unit: "% SoC", color: "#1f5fa8", testid: "soc-histogram" })}</div>
      </div>
      <div class="grid g2" style="margin-top:14px; grid-template-columns: 2fr 1fr">
        <div class="card" style="overflow:auto"><h2>Packs</h2><table data-testid="packs"><thead><tr><th>pack</th><th class="num">SoC</th><th class="num">SoH</th>
          <th class="num">voltage</th><th class="num">current</th><th class="num">max temp.</th><th class="num">alerts</th><th class="num">frames</th><th></th></tr></thead><tbody>${rows}</tbody></table></div>
        <div class="card"><h2>Alerts</h2>${alerts}</div>
      </div>`;
  },

  async pack(id) {
    if (!cleared()) return `<div class="note" data-testid="needs-signin">Sign in to see live cell states; the <a href="#/passport/${esc(id)}">public passport</a> is open.</div>`;
    const live = await getJSON(`/dashboard/api/packs/${encodeURIComponent(id)}`);
    const bomId = `${S.base}/sm/pack/${id}/HierarchicalStructures`;
    const bom = await getJSON(`/api/v3.0/submodels/${b64url(bomId)}`);
    const modules = childSerials(bom);
    const moduleBoms = await Promise.all(modules.map(m =>
      getJSON(`/api/v3.0/submodels/${b64url(`${S.base}/sm/module/${m}/HierarchicalStructures`)}`).catch(() => null)));
    const bySerial = Object.fromEntries(live.cells.map(c => [c.serial, c]));
    const alerted = new Set(live.alerts.flatMap(a => a.cell_serials || []));
    const cards = modules.map((m, k) => {
      const cells = moduleBoms[k] ? childSerials(moduleBoms[k]) : [];
      const tiles = cells.map(s => {
        const c = bySerial[s] || {};
        return `<a class="cell${alerted.has(s) ? " alert" : ""}" href="#/cell/${esc(s)}" style="background:${colour(c.soc_pct)}" data-testid="cell-tile" data-serial="${esc(s)}">
          <b>${esc(s.split("-").pop())}</b>${fmt(c.voltage_v, 3)}&nbsp;V<br>${fmt(c.soc_pct, 0)}&nbsp;%·${fmt(c.soh_pct, 0)}&nbsp;%</a>`;
      }).join("");
      return `<div class="card" data-testid="module" data-serial="${esc(m)}"><h2><a href="#/passport/${esc(m)}">${esc(m)}</a> <span class="muted">${cells.length} cells</span></h2><div class="cells">${tiles}</div></div>`;
    }).join("");
    const alerts = live.alerts.length ? `<ul class="alerts">${live.alerts.map(alertItem).join("")}</ul>` : `<p class="muted">No alerts.</p>`;
    return `<div class="crumbs"><a href="#/">Fleet</a> › ${esc(id)}</div>
      <h1>Pack ${esc(id)}</h1>
      <div class="grid g4">
        <div class="card kpi"><div class="v">${fmt(live.soc_pct, 1, " %")}</div><div class="l">state of charge</div></div>
        <div class="card kpi"><div class="v">${fmt(live.soh_pct, 1, " %")}</div><div class="l">state of health (weakest cell)</div></div>
        <div class="card kpi"><div class="v" data-testid="pack-current">${fmt(live.current_a, 1, " A")}</div><div class="l">current</div></div>
        <div class="card kpi"><div class="v">${fmt(live.temperature_c.length ? Math.max(...live.temperature_c) : null, 1, " °C")}</div><div class="l">max temperature</div></div>
      </div>
      <p><a class="button" href="#/passport/${esc(id)}">Battery passport</a> <button class="secondary" data-aasx="${esc(id)}">Download AASX</button></p>
      <div class="grid g2" style="grid-template-columns: 3fr 1fr"><div>
      <h2>Bill of material: ${modules.length} modules (IDTA 02011). Tile: cell voltage, state of charge · state of health.</h2>
      <div class="modules" data-testid="modules">${cards}</div></div>
      <div class="card"><h2>Alerts</h2>${alerts}</div></div>`;
  },

  async cell(serial) {
    if (!cleared()) return `<div class="note" data-testid="needs-signin">Sign in to see the cell's live data; the <a href="#/passport/${esc(serial)}">public passport</a> is open.</div>`;
    const pack = packOf(serial), module = serial.slice(0, serial.lastIndexOf("-"));
    const [h, packLive] = await Promise.all([getJSON(`/dashboard/api/cells/${encodeURIComponent(serial)}?window=1800`),
                                             getJSON(`/dashboard/api/packs/${encodeURIComponent(pack)}`)]);
    const mine = packLive.alerts.filter(a => (a.cell_serials || []).includes(serial));
    const cellAlerts = mine.length ? `<div class="card" style="margin-top:12px"><h2>Alerts on this cell</h2><ul class="alerts">${mine.map(alertItem).join("")}</ul></div>` : "";
    const tEnd = Math.max(...[h.voltage, h.temperature].filter(Boolean).flatMap(s => s.t.filter(x => x !== null)), 0);
    const rel = s => s ? s.t.map(t => t === null ? null : (t - tEnd) / 60) : [];
    const xmin = { xlabel: "minutes (simulated) before the latest frame", xfmt: x => fmt(x, 0) };
    const rul = h.rul.available
      ? `<p class="rul" data-testid="rul">End of life (${fmt(h.rul.eol_capacity_ah, 2)} Ah, 80 % SoH) at cycle <b>${fmt(h.rul.eol_cycle, 0)}</b>,
           90 % interval <b>${fmt(h.rul.eol_cycle_lower_90, 0)}–${fmt(h.rul.eol_cycle_upper_90, 0)}</b>; now at cycle ${fmt(h.rul.last_cycle, 2)}:
           remaining useful life <b>${fmt(h.rul.rul_cycles, 0)} cycles</b>.</p>`
        + lineChart(h.capacity.cycles, h.capacity.v,
                    { title: "capacity", testid: "chart-capacity", xlabel: h.cycle_scale > 1 ? `equivalent cycles, ageing ×${h.cycle_scale} (band: EOL 90 % interval)` : "full-equivalent cycles (band: EOL 90 % interval)",
                      hlines: [{ y: h.rul.eol_capacity_ah, label: "end of life" }],
                      xband: [h.rul.eol_cycle_lower_90, h.rul.eol_cycle_upper_90], digits: 2, color: "#0b6e4f" })
      : `<p class="rul muted" data-testid="rul">Remaining useful life not available yet: ${esc(h.rul.reason)}.</p>`;
    return `<div class="crumbs"><a href="#/">Fleet</a> › <a href="#/pack/${esc(pack)}">${esc(pack)}</a> › ${esc(module)} › ${esc(serial)}</div>
      <h1>Cell ${esc(serial)}</h1>
      <div class="grid g4">
        <div class="card kpi"><div class="v" data-testid="cell-voltage-now">–</div><div class="l">voltage now</div></div>
        <div class="card kpi"><div class="v" data-testid="cell-soc-now">–</div><div class="l">state of charge</div></div>
        <div class="card kpi"><div class="v" data-testid="cell-soh-now">–</div><div class="l">state of health</div></div>
        <div class="card kpi"><div class="v" data-testid="cell-time-now">–</div><div class="l">latest frame (simulated UTC)</div></div>
      </div>
      ${cellAlerts}
      <p><a class="button" href="#/passport/${esc(serial)}">Cell passport</a></p>
      <div class="grid g2" style="margin-top:6px">
        <div class="card"><h2>Voltage (V)</h2>${lineChart(rel(h.voltage), h.voltage ? h.voltage.v : [], { ...xmin, testid: "chart-voltage", digits: 3, minSpan: 0.01 })}</div>
        <div class="card"><h2>Pack current (A, discharge positive)</h2>${lineChart(rel(h.current), h.current ? h.current.v : [], { ...xmin, testid: "chart-current", digits: 1, color: "#46596b" })}</div>
        <div class="card"><h2>Temperature (°C, sensor ${h.temperature ? h.temperature.sensor : "–"})</h2>${lineChart(rel(h.temperature), h.temperature ? h.temperature.v : [], { ...xmin, testid: "chart-temperature", digits: 1, color: "#c77700", minSpan: 0.5 })}</div>
        <div class="card"><h2>State of charge (%)</h2>${lineChart(rel(h.soc), h.soc.v, { ...xmin, testid: "chart-soc", digits: 1, minSpan: 1 })}</div>
        <div class="card"><h2>State of health trend (%)</h2>${lineChart(rel(h.soh), h.soh.v, { ...xmin, testid: "chart-soh", digits: 2, color: "#0b6e4f", minSpan: 0.5 })}</div>
        <div class="card"><h2>Remaining useful life</h2>${rul}</div>
      </div>`;
  },

  async passport(serial) {
    const level = levelOf(serial);
    const aasId = `${S.base}/aas/${level}/${serial}`;
    const shell = await getJSON(`/api/v3.0/shells/${b64url(aasId)}`);
    const refs = (shell.submodels || []).map(r => r.keys[r.keys.length - 1].value);
    const sms = await Promise.all(refs.map(id => getJSON(`/api/v3.0/submodels/${b64url(id)}`).catch(e => ({ error: e, id }))));
    const who = { anonymous: "the public", legitimate_interest: "a recycler (legitimate interest)", authority: "an authority", operator: "the fleet operator" }[S.role];
    const body = sms.map((sm, i) => sm.error
      ? `<details class="sm card"><summary>${esc(sm.id.split("/").pop())}</summary><p class="error">${esc(sm.error.message)}</p></details>`
      : `<details class="sm card" ${i < 2 || sm.idShort === "ProductCondition" ? "open" : ""} data-testid="submodel" data-idshort="${esc(sm.idShort)}"><summary>${esc(sm.idShort)} <span class="muted">${countLeaves(sm.submodelElements || [])} values</span></summary>
           <ul class="tree">${(sm.submodelElements || []).map(e => elementItem(e, sm.idShort, inheritedGroup(sm))).join("")}</ul></details>`).join("");
    const counts = {};
    for (const sm of sms) if (!sm.error) tally(sm.submodelElements || [], inheritedGroup(sm), counts);
    const summary = Object.entries(counts).map(([g, n]) => `<span class="badge grp ${esc(g)}">${esc(g)}</span> ${n}`).join(" · ");
    const parent = level === "cell" ? `<a href="#/cell/${esc(serial)}">live cell data</a>` : level === "pack" ? `<a href="#/pack/${esc(serial)}">live pack data</a>` : "";
    return `<div class="crumbs"><a href="#/">Fleet</a> › ${esc(serial)} › passport</div>
      <h1>Battery passport of ${esc(level)} ${esc(serial)}</h1>
      <div class="note" data-testid="passport-role">Shown as <b>${esc(who)}</b> sees it (EU Battery Regulation Art. 77 access groups).
        View as: ${["anonymous", "legitimate_interest", "authority"].map(r =>
          `<button class="${r === S.role ? "" : "secondary"}" data-setrole="${r}" data-testid="view-as-${r}">${{ anonymous: "public", legitimate_interest: "recycler", authority: "authority" }[r]}</button>`).join(" ")}
        ${parent} <button class="secondary" data-aasx="${esc(serial)}" data-level="${esc(level)}">Download AASX</button></div>
      <p data-testid="passport-counts">Values shown by access group: ${summary || "none"}</p>
      <div data-testid="passport">${body}</div>`;
  },

  async sparql() {
    const qs = await getJSON("/dashboard/api/queries");
    S.queries = qs;
    const items = qs.map((q, i) => `<li><a href="#" data-query="${i}">${esc(q.name)}</a> <span class="muted">(${esc(q.who)}; needs ${esc(q.needs)})</span><br><span class="muted">${esc(q.question)}</span></li>`).join("");
    return `<h1>SPARQL</h1>
      <div class="grid g2" style="grid-template-columns: 1fr 2fr">
        <div class="card"><h2>Query catalogue</h2><ul class="alerts" style="max-height:560px" data-testid="catalogue">${items}</ul></div>
        <div class="card"><h2>Query <span class="muted">(answers as ${esc(S.role)}: the graphs of your access groups only)</span></h2>
          <textarea id="q" data-testid="sparql-text" spellcheck="false">${esc(qs.length ? qs[0].sparql : "SELECT * WHERE { ?s ?p ?o } LIMIT 10")}</textarea>
          <p><button id="run" data-testid="sparql-run">Run</button> <span id="qinfo" class="muted"></span></p>
          <div id="results" class="results" data-testid="sparql-results"></div></div>
      </div>`;
  },
};

function alertItem(a) {
  const cells = (a.cell_serials || []).map(s => `<a href="#/cell/${esc(s)}">${esc(s)}</a>`).join(", ");
  return `<li data-testid="alert"><span class="badge ${esc(a.severity)}">${esc(a.severity)}</span> <b>${esc(a.kind)}</b> in <a href="#/pack/${esc(a.pack_id)}">${esc(a.pack_id)}</a>${cells ? ` (${cells})` : ""}<br><span class="muted">${esc(a.message || "")}</span></li>`;
}
function childSerials(bomSubmodel) {
  const entry = (bomSubmodel.submodelElements || []).find(e => e.idShort === "EntryNode");
  return ((entry && entry.statements) || []).filter(s => s.modelType === "Entity" && s.globalAssetId)
    .map(s => s.globalAssetId.split("/").pop());
}
function groupOf(el) {
  const ext = (el.extensions || []).find(x => x.name === "BatteryPassAccessGroup");
  return ext ? ext.value : null;
}
function inheritedGroup(sm) { return groupOf(sm) || "public"; }
function tally(els, inherited, counts) {
  for (const e of els) {
    const g = groupOf(e) || inherited, kids = childrenOf(e);
    if (kids) tally(kids, g, counts); else counts[g] = (counts[g] || 0) + 1;
  }
}
function countLeaves(els) {
  let n = 0;
  for (const e of els) {
    const kids = childrenOf(e);
    n += kids ? countLeaves(kids) : 1;
  }
  return n;
}
function childrenOf(e) {
  if (e.modelType === "SubmodelElementCollection" || e.modelType === "SubmodelElementList") return e.value || [];
  if (e.modelType === "Entity") return e.statements || [];
  return null;
}
function valueText(e) {
  switch (e.modelType) {
    case "Property": return e.value ?? "";
    case "MultiLanguageProperty": return (e.value || []).map(v => `${v.text} [${v.language}]`).join("; ");
    case "Range": return `${e.min ?? ""} … ${e.max ?? ""}`;
    case "File": case "Blob": return e.value || "";
    case "ReferenceElement": return e.value ? e.value.keys.map(k => k.value).join(" / ") : "";
    case "RelationshipElement": return "relationship";
    default: return "";
  }
}
function elementItem(e, path, inherited) {
  const group = groupOf(e) || inherited;
  const here = `${path}.${e.idShort ?? ""}`;
  const kids = childrenOf(e);
  const badge = `<span class="badge grp ${esc(group)}" title="access group">${esc(group)}</span>`;
  if (kids) {
    return `<li data-testid="passport-node" data-path="${esc(here)}"><span class="k">${esc(e.idShort ?? "")}</span>${badge}
      <ul class="tree">${kids.map(k => elementItem(k, here, group)).join("")}</ul></li>`;
  }
  return `<li data-testid="passport-element" data-path="${esc(here)}" data-group="${esc(group)}"><span class="k">${esc(e.idShort ?? "")}</span><span class="val">${esc(valueText(e))}</span>${badge}</li>`;
}

// ---- actions -------------------------------------------------------------------------------------------------------
async function downloadAasx(serial, level) {
  level = level || levelOf(serial);
  const aasId = `${S.base}/aas/${level}/${serial}`;
  const shell = await getJSON(`/api/v3.0/shells/${b64url(aasId)}`);
  const params = new URLSearchParams();
  params.append("aasIds", b64url(aasId));
  for (const r of shell.submodels || []) params.append("submodelIds", b64url(r.keys[r.keys.length - 1].value));
  const r = await fetch(`/api/v3.0/serialization?${params}`, { headers: headers(S.role, { Accept: "application/asset-administration-shell-package+xml" }) });
  if (!r.ok) { alert(`AASX download failed: ${r.status}`); return; }
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url; a.download = `${serial}.aasx`; document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}
async function runQuery() {
  const q = $("#q").value, out = $("#results"), info = $("#qinfo");
  out.innerHTML = `<span class="muted">running…</span>`;
  const t0 = performance.now();
  const r = await fetch("/sparql", { method: "POST", body: new URLSearchParams({ query: q }),
    headers: headers(S.role, { Accept: "application/sparql-results+json" }) });
  const text = await r.text();
  info.textContent = `${r.status} in ${Math.round(performance.now() - t0)} ms`;
  if (!r.ok) { out.innerHTML = `<p class="error">${esc(text)}</p>`; return; }
  const j = JSON.parse(text);
  if ("boolean" in j) { out.innerHTML = `<p data-testid="sparql-boolean">${j.boolean}</p>`; return; }
  const vars = j.head.vars, rows = j.results.bindings;
  out.innerHTML = `<p class="muted" data-testid="sparql-count">${rows.length} rows</p><table><thead><tr>${vars.map(v => `<th>${esc(v)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map(b => `<tr>${vars.map(v => `<td>${esc(b[v] ? b[v].value : "")}</td>`).join("")}</tr>`).join("") + "</tbody></table>";
}

// ---- routing, live updates -----------------------------------------------------------------------------------------
function route() {
  const parts = (location.hash.replace(/^#\/?/, "") || "").split("/").filter(Boolean).map(decodeURIComponent);
  const name = parts[0] || "fleet";
  return views[name] ? [name, parts.slice(1)] : ["fleet", []];
}
async function render(quiet = false) {
  const [name, args] = route();
  S.view = name;
  document.querySelectorAll("nav a[data-nav]").forEach(a => a.classList.toggle("active", a.dataset.nav === (name === "sparql" ? "sparql" : "fleet")));
  const view = $("#view");
  if (!quiet) view.innerHTML = `<p class="muted">loading…</p>`;
  S.refreshing = true;
  // A render started for an earlier role or route must not overwrite a later one that finished first.
  const seq = ++S.renders;
  try {
    const html = await views[name](...args);
    if (seq !== S.renders) return;
    const scroll = window.scrollY;
    view.innerHTML = html;
    view.dataset.view = name;
    if (quiet) window.scrollTo(0, scroll);
    // Only a signed-in view has live cell data to refresh: for a public visitor the fetch is refused (401) and would
    // replace the sign-in note with an error.
    if (name === "cell" && cleared()) await refreshCellNow(args[0]);
  } catch (e) {
    if (seq === S.renders) view.innerHTML = `<p class="error" data-testid="error">${esc(e.message)}</p>`;
  } finally {
    if (seq === S.renders) { S.refreshing = false; S.lastRefresh = performance.now(); }
  }
}
async function refreshCellNow(serial) {
  const live = await getJSON(`/dashboard/api/packs/${encodeURIComponent(packOf(serial))}`);
  const c = live.cells.find(x => x.serial === serial);
  if (!c || S.view !== "cell") return;
  const set = (id, text) => { const el = document.querySelector(`[data-testid="${id}"]`); if (el) el.textContent = text; };
  set("cell-voltage-now", fmt(c.voltage_v, 4, " V"));
  set("cell-soc-now", fmt(c.soc_pct, 1, " %"));
  set("cell-soh-now", fmt(c.soh_pct, 1, " %"));
  set("cell-time-now", live.t ? new Date(live.t * 1000).toISOString().slice(11, 19) : "–");
}
function onStats(st) {
  S.status = st;
  const i = st.ingest || {};
  $("#statusbar").innerHTML = `${st.packs} packs × ${st.cells_per_pack} cells · simulator ${st.speed}× · frames <b data-testid="frames">${i.frames ?? 0}</b>
    · cell-samples ${i.cell_samples ?? 0} · dead letters ${i.deadlettered ?? 0} · estimates written ${st.estimates_written}
    · alerts ${st.alerts} · change events seen <span data-testid="changes">${S.changes}</span> · RDF ${st.rdf.loaded}/${st.rdf.total} identifiables loaded · broker ${esc(st.mqtt)} (${esc(st.broker)})`;
  if (S.refreshing || !cleared()) return;
  const [name, args] = route();
  const age = performance.now() - S.lastRefresh;
  if (name === "cell") { refreshCellNow(args[0]).catch(() => {}); if (age > 10000) render(true); }
  else if ((name === "fleet" || name === "pack") && age > 2000) render(true);
}
function connect() {
  if (S.es) { S.es.close(); S.es = null; }
  if (S.timer) { clearInterval(S.timer); S.timer = null; }
  const live = $("#live");
  const key = S.accounts[S.role];
  if (!cleared() || !key) {
    live.textContent = "status polling"; live.classList.remove("on");
    const poll = () => getJSON("/dashboard/api/status").then(onStats).catch(() => {});
    poll(); S.timer = setInterval(poll, 3000);
    return;
  }
  const es = new EventSource(`/events?key=${encodeURIComponent(key)}`);
  S.es = es;
  es.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  es.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
  es.addEventListener("stats", ev => onStats(JSON.parse(ev.data)));
  es.addEventListener("change", () => { S.changes += 1; const el = $('[data-testid="changes"]'); if (el) el.textContent = S.changes; });
  es.addEventListener("alert", () => { if (S.view === "fleet" || S.view === "pack") render(true); });
  es.addEventListener("bye", () => { live.textContent = "demo stopped"; live.classList.remove("on"); es.close(); });
}
function setRole(role) {
  S.role = role;
  localStorage.setItem("packtwin.role", role);
  $("#role").value = role;
  connect();
  render();
}

document.addEventListener("click", ev => {
  const t = ev.target.closest("[data-setrole],[data-aasx],[data-query],#run");
  if (!t) return;
  if (t.dataset.setrole) { setRole(t.dataset.setrole); }
  else if (t.dataset.aasx) { downloadAasx(t.dataset.aasx, t.dataset.level); }
  else if (t.dataset.query !== undefined) { ev.preventDefault(); $("#q").value = S.queries[Number(t.dataset.query)].sparql; }
  else if (t.id === "run") { runQuery(); }
});

async function init() {
  const [session, status] = await Promise.all([getJSON("/dashboard/api/session", "anonymous"), getJSON("/dashboard/api/status", "anonymous")]);
  S.accounts = session.accounts || {};
  S.base = status.base_iri;
  const roleSel = $("#role");
  for (const opt of roleSel.options) opt.disabled = opt.value !== "anonymous" && !S.accounts[opt.value];
  const saved = localStorage.getItem("packtwin.role");
  S.role = saved && (saved === "anonymous" || S.accounts[saved]) ? saved : (S.accounts.operator ? "operator" : "anonymous");
  roleSel.value = S.role;
  roleSel.addEventListener("change", () => setRole(roleSel.value));
  roleSel.disabled = false;  // chosen only once the saved role is restored and a change is heard
  window.addEventListener("hashchange", () => render());
  onStats(status);
  connect();
  await render();
}
init();

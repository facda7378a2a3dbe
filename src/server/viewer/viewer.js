// The jointmap viewer: one page over the server's own API. Everything it
// shows comes from the server, which decides what the signed-in role may
// see; this script only draws what it is given. The token stays in this
// tab's sessionStorage and goes in the Authorization header of every data
// request (never in a URL); raster tiles are fetched the same way and shown
// from blob: URLs.
"use strict";

(function () {
  const TOKEN_KEY = "jointmap.token";
  const LANG_KEY = "jointmap.lang";
  const LANGS = ["en", "fr"];
  // Tile layers agreed with the server (/tiles/{layer}.json, TileJSON 3.0).
  const TILE_LAYERS = ["joint", "heat", "hotspots", "moran", "presence", "risk", "blindspots",
    "incidents", "sightings", "patrols", "bases", "sites"];
  // Most features drawn per record layer, and per page request.
  const MAX_FEATURES = 5000;
  const PAGE = 1000;
  const DAY_MS = 86400000;
  const COLOURS = {
    incidents: "#d55e00", sightings: "#e69f00", patrols: "#0072b2",
    bases: "#009e73", sites: "#cc79a7",
  };
  const GI = {
    "hot-99": "#b2182b", "hot-95": "#ef8a62", "hot-90": "#fddbc7", "not-significant": "#f7f7f7",
    "cold-90": "#d1e5f0", "cold-95": "#67a9cf", "cold-99": "#2166ac",
  };
  // Local Moran types, the same colours as the rendered tiles
  // (src/render/tiles/classes.rs).
  const MORAN = { HH: "#b2182b", HL: "#ef8a62", LH: "#67a9cf", LL: "#2166ac" };
  const RISK = { low: "#fee391", medium: "#fe9929", high: "#cc4c02", extreme: "#662506" };
  const PRESENCE = [[0.75, "#238b45"], [0.5, "#74c476"], [0.25, "#c7e9c0"], [0, "#ffffff"]];
  // The analysis overlays: endpoint, its parameters, and which of its
  // features this overlay draws.
  const ANALYSES = {
    hotspots: { path: "/analysis/hotspots", params: {}, keep: () => true },
    moran: { path: "/analysis/hotspots", params: {}, keep: () => true },
    presence: { path: "/analysis/coverage", params: {}, keep: () => true },
    risk: {
      path: "/analysis/blindspots", params: { cells: "true" },
      keep: (f) => f.properties && f.properties.kind === "cell",
    },
    blindspots: {
      path: "/analysis/blindspots", params: {},
      keep: (f) => f.properties && f.properties.kind !== "cell",
    },
  };

  let dict = {};
  let lang = "en";
  let map = null;
  let hatchRenderer = null;
  const active = new Map(); // key -> { kind, name, layer, abort }
  const state = { start: 0, end: 0, min: 0, max: 0 };
  let pending = 0;

  const $ = (id) => document.getElementById(id);

  function t(key, vars) {
    let s = Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : key;
    for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(String(v));
    return s;
  }

  function busy(delta) {
    pending += delta;
    document.body.dataset.pending = String(pending);
    $("busy").classList.toggle("hidden", pending === 0);
  }

  // Runs `fn` once `ms` after the last call with this name (sliders and map
  // moves fire many events); counted as loading while it waits, so that
  // "nothing loading" means the map shows the current view and window.
  const timers = {};
  function later(name, ms, fn) {
    if (timers[name]) clearTimeout(timers[name]);
    else busy(1);
    timers[name] = setTimeout(() => {
      timers[name] = null;
      try { fn(); } finally { busy(-1); }
    }, ms);
  }

  // --- language ------------------------------------------------------------

  function chooseLang() {
    const kept = localStorage.getItem(LANG_KEY);
    if (LANGS.includes(kept)) return kept;
    const wanted = (navigator.languages && navigator.languages.length
      ? navigator.languages : [navigator.language || "en"]);
    for (const l of wanted) {
      const base = String(l).toLowerCase().split("-")[0];
      if (LANGS.includes(base)) return base;
    }
    return "en";
  }

  async function setLang(l) {
    busy(1);
    try {
      const r = await fetch("/viewer/i18n/" + l + ".json");
      if (!r.ok) throw new Error(String(r.status));
      dict = await r.json();
      lang = l;
    } finally {
      busy(-1);
    }
    document.documentElement.lang = lang;
    document.body.dataset.lang = lang;
    $("lang").value = lang;
    document.title = t("app.title");
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-placeholder]")) {
      el.placeholder = t(el.dataset.i18nPlaceholder);
    }
    for (const el of document.querySelectorAll("[data-i18n-label]")) {
      el.textContent = t(el.dataset.i18nLabel);
    }
    showTime();
    renderLegend();
  }

  // --- requests ------------------------------------------------------------

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  // A same-origin URL from a path or a link the server wrote (its links may
  // name a public URL; the viewer always asks the server it came from).
  function local(href) {
    const u = new URL(href, location.href);
    return u.pathname + u.search;
  }

  async function api(path, signal, accept) {
    busy(1);
    try {
      const r = await fetch(local(path), {
        headers: { Authorization: "Bearer " + token(), Accept: accept || "application/geo+json, application/json" },
        signal,
        credentials: "omit",
        cache: "no-store",
      });
      if (r.status === 401) { signOut(t("signin.expired")); throw new Error("401"); }
      return r;
    } finally {
      busy(-1);
    }
  }

  function iso(ms) { return new Date(ms).toISOString().replace(".000Z", "Z"); }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, v);
    return q.toString();
  }

  // --- sign in -------------------------------------------------------------

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    // Nothing of the last role stays on the page for the next one.
    clearAttributes();
    for (const key of [...active.keys()]) removeOverlay(key);
    for (const id of ["layers-features", "layers-analyses", "layers-tiles"]) $(id).replaceChildren();
    $("app").classList.add("hidden");
    $("signout").classList.add("hidden");
    $("signin").classList.remove("hidden");
    const err = $("signin-error");
    err.textContent = message || "";
    err.classList.toggle("hidden", !message);
    document.body.dataset.state = "signin";
  }

  async function signIn(secret) {
    sessionStorage.setItem(TOKEN_KEY, secret);
    let r;
    try {
      r = await api("/collections");
    } catch (e) {
      if (String(e.message) !== "401") signOut(t("signin.unreachable"));
      else signOut(t("signin.invalid"));
      return;
    }
    if (!r.ok) { signOut(t("signin.failed", { status: r.status })); return; }
    const doc = await r.json();
    $("signin").classList.add("hidden");
    $("app").classList.remove("hidden");
    $("signout").classList.remove("hidden");
    startMap();
    fitTo(doc.collections || []);
    setupTime(doc.collections || []);
    listFeatures(doc.collections || []);
    listAnalyses();
    await listTiles();
    document.body.dataset.state = "ready";
  }

  // --- map -----------------------------------------------------------------

  function startMap() {
    if (map) { map.invalidateSize(); return; }
    map = L.map("map", { zoomControl: true, attributionControl: false, minZoom: 2, maxZoom: 18 });
    map.setView([6.6, 20.9], 6);
    hatchRenderer = L.svg({ padding: 0.5 });
    map.addLayer(hatchRenderer);
    addHatchPattern(hatchRenderer);
    map.on("click", (e) => {
      const target = e.originalEvent && e.originalEvent.target;
      if (target && target.closest && target.closest(".jm-feature")) return;
      clickTiles(e).catch(() => {});
    });
    map.on("moveend", () => later("move", 250, () => {
      for (const [key, o] of active) if (o.kind === "features") loadOverlay(key);
    }));
    loadBasemap();
  }

  // Blind spots are hatched: an SVG pattern in the renderer's own <svg>.
  function addHatchPattern(renderer) {
    const svg = renderer._container;
    if (!svg) return;
    const NS = "http://www.w3.org/2000/svg";
    const defs = document.createElementNS(NS, "defs");
    const pattern = document.createElementNS(NS, "pattern");
    pattern.setAttribute("id", "jm-hatch");
    pattern.setAttribute("patternUnits", "userSpaceOnUse");
    pattern.setAttribute("width", "8");
    pattern.setAttribute("height", "8");
    pattern.setAttribute("patternTransform", "rotate(45)");
    const line = document.createElementNS(NS, "rect");
    line.setAttribute("width", "3");
    line.setAttribute("height", "8");
    line.setAttribute("fill", "#5a1e6e");
    pattern.appendChild(line);
    defs.appendChild(pattern);
    svg.insertBefore(defs, svg.firstChild);
  }

  async function loadBasemap() {
    busy(1);
    try {
      // Public data: asked for without the token.
      const r = await fetch("/basemap/countries.geojson", { credentials: "omit" });
      if (!r.ok) return;
      const doc = await r.json();
      map.createPane("basemap");
      map.getPane("basemap").style.zIndex = 250;
      L.geoJSON(doc, {
        pane: "basemap", interactive: false,
        style: { color: "#7a8a99", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1 },
      }).addTo(map);
    } catch (e) {
      // No backdrop: the map works without it.
    } finally {
      busy(-1);
    }
  }

  // The union of what the role may see of each collection.
  function fitTo(collections) {
    const all = [];
    for (const c of collections) {
      const bb = c.extent && c.extent.spatial && c.extent.spatial.bbox;
      for (const b of bb || []) if (Array.isArray(b) && b.length >= 4) all.push(b);
    }
    if (!all.length) return;
    const w = Math.min(...all.map((b) => b[0]));
    const s = Math.min(...all.map((b) => b[1]));
    const e = Math.max(...all.map((b) => b[b.length === 6 ? 3 : 2]));
    const n = Math.max(...all.map((b) => b[b.length === 6 ? 4 : 3]));
    if ([w, s, e, n].every(Number.isFinite)) {
      map.fitBounds([[s, w], [n, e]], { padding: [20, 20], animate: false });
    }
  }

  // --- time window ---------------------------------------------------------

  function setupTime(collections) {
    let min = Infinity;
    let max = -Infinity;
    for (const c of collections) {
      const iv = c.extent && c.extent.temporal && c.extent.temporal.interval;
      for (const [a, b] of iv || []) {
        if (a) min = Math.min(min, Date.parse(a));
        if (b) max = Math.max(max, Date.parse(b));
      }
    }
    if (!Number.isFinite(min) || !Number.isFinite(max)) {
      max = Date.now();
      min = max - 365 * DAY_MS;
    }
    state.min = Math.floor(min / DAY_MS) * DAY_MS;
    state.max = Math.ceil((max + 1) / DAY_MS) * DAY_MS;
    const days = Math.max(1, Math.round((state.max - state.min) / DAY_MS));
    for (const id of ["time-start", "time-end"]) {
      $(id).min = "0";
      $(id).max = String(days);
    }
    $("time-start").value = "0";
    $("time-end").value = String(days);
    readTime();
  }

  function readTime() {
    let a = Number($("time-start").value);
    let b = Number($("time-end").value);
    if (a > b) [a, b] = [b, a];
    state.start = state.min + a * DAY_MS;
    state.end = Math.min(state.max, state.min + b * DAY_MS);
    showTime();
  }

  function showTime() {
    if (!state.max) return;
    const fmt = (ms) => new Date(ms).toLocaleDateString(lang, { timeZone: "UTC" });
    $("time-start-label").textContent = fmt(state.start);
    $("time-end-label").textContent = fmt(state.end);
  }

  function onTime() {
    readTime();
    later("time", 300, () => { for (const key of active.keys()) loadOverlay(key); });
  }

  // --- layer switcher ------------------------------------------------------

  function addToggle(list, key, label, make) {
    const li = document.createElement("li");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = "toggle-" + key.replace(/[^a-z0-9-]/gi, "-");
    box.dataset.layer = key;
    const lab = document.createElement("label");
    lab.htmlFor = box.id;
    lab.textContent = label;
    // Relabelled when the language changes, when the tables name it.
    const labelKey = "layer." + key.split(":")[1];
    if (Object.prototype.hasOwnProperty.call(dict, labelKey)) lab.dataset.i18nLabel = labelKey;
    const status = document.createElement("span");
    status.className = "note";
    status.id = box.id + "-status";
    box.addEventListener("change", () => {
      if (box.checked) { active.set(key, make()); loadOverlay(key); } else removeOverlay(key);
      renderLegend();
    });
    li.append(box, " ", lab, " ", status);
    $(list).appendChild(li);
  }

  function listFeatures(collections) {
    for (const c of collections) {
      const id = String(c.id);
      const known = Object.prototype.hasOwnProperty.call(dict, "layer." + id);
      addToggle("layers-features", "features:" + id, known ? t("layer." + id) : String(c.title || id),
        () => ({ kind: "features", name: id, layer: null, abort: null }));
    }
  }

  function listAnalyses() {
    for (const name of Object.keys(ANALYSES)) {
      addToggle("layers-analyses", "analysis:" + name, t("layer." + name),
        () => ({ kind: "analysis", name, layer: null, abort: null }));
    }
  }

  async function listTiles() {
    const found = await Promise.all(TILE_LAYERS.map(async (name) => {
      try {
        const r = await api("/tiles/" + name + ".json");
        if (!r.ok) return null;
        const doc = await r.json();
        const tiles = Array.isArray(doc.tiles) ? doc.tiles.filter((u) => typeof u === "string") : [];
        return tiles.length ? { name, doc, template: tiles[0] } : null;
      } catch (e) {
        return null;
      }
    }));
    for (const f of found) {
      if (!f) continue;
      $("tiles-heading").classList.remove("hidden");
      addToggle("layers-tiles", "tiles:" + f.name, t("layer." + f.name),
        () => ({ kind: "tiles", name: f.name, doc: f.doc, template: f.template, layer: null, abort: null }));
    }
  }

  function setStatus(key, text) {
    const el = $("toggle-" + key.replace(/[^a-z0-9-]/gi, "-") + "-status");
    if (el) el.textContent = text;
  }

  function removeOverlay(key) {
    const o = active.get(key);
    if (!o) return;
    if (o.abort) o.abort.abort();
    if (o.layer && map) map.removeLayer(o.layer);
    active.delete(key);
    setStatus(key, "");
  }

  function replaceLayer(o, layer) {
    if (o.layer && map) map.removeLayer(o.layer);
    o.layer = layer;
    if (layer) layer.addTo(map);
  }

  async function loadOverlay(key) {
    const o = active.get(key);
    if (!o) return;
    if (o.abort) o.abort.abort();
    o.abort = new AbortController();
    const signal = o.abort.signal;
    setStatus(key, "…");
    // Loading until drawn, body read and status written included.
    busy(1);
    try {
      if (o.kind === "features") await loadFeatures(key, o, signal);
      else if (o.kind === "analysis") await loadAnalysis(key, o, signal);
      else replaceLayer(o, tileLayer(o));
      if (o.kind === "tiles") setStatus(key, "");
    } catch (e) {
      if (e.name !== "AbortError" && active.get(key) === o) setStatus(key, t("status.error"));
    } finally {
      busy(-1);
    }
  }

  // --- record layers (OGC API items, bbox paging) ---------------------------

  async function loadFeatures(key, o, signal) {
    const b = map.getBounds();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    const bbox = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
      clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)].map((v) => v.toFixed(5)).join(",");
    let next = "/collections/" + encodeURIComponent(o.name) + "/items?" + query({
      bbox, datetime: iso(state.start) + "/" + iso(state.end), limit: PAGE,
    });
    const features = [];
    let more = false;
    while (next) {
      const r = await api(next, signal);
      if (!r.ok) { setStatus(key, t("status.refused", { status: r.status })); return; }
      const doc = await r.json();
      features.push(...(doc.features || []));
      const link = (doc.links || []).find((l) => l.rel === "next");
      next = link ? link.href : null;
      if (features.length >= MAX_FEATURES && next) { more = true; break; }
    }
    if (signal.aborted || active.get(key) !== o) return;
    const colour = COLOURS[o.name] || "#333";
    replaceLayer(o, L.geoJSON({ type: "FeatureCollection", features }, {
      pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 5, className: "jm-feature jm-" + o.name }),
      style: () => ({ color: colour, fillColor: colour, weight: 2, fillOpacity: 0.7, className: "jm-feature jm-" + o.name }),
      onEachFeature: (f, layer) => bindFeature(layer, f, o.name),
    }));
    setStatus(key, more ? t("status.truncated", { n: features.length })
      : t("status.count", { n: features.length }));
  }

  // --- analysis overlays -----------------------------------------------------

  function styleFor(name, p) {
    if (name === "hotspots" && !p.class) {
      // Not tested (no event nearby): outlined only, as on the rendered map.
      return { color: "#969696", weight: 0.75, dashArray: "2 2", fillOpacity: 0 };
    }
    if (name === "hotspots") {
      const c = GI[p.class] || GI["not-significant"];
      return { color: "#555", weight: 0.3, fillColor: c, fillOpacity: p.class && p.class !== "not-significant" ? 0.75 : 0.15 };
    }
    if (name === "moran") {
      const c = MORAN[p.moran_type];
      return { color: "#555", weight: 0.3, fillColor: c || "#f7f7f7", fillOpacity: c ? 0.75 : 0.15 };
    }
    if (name === "presence") {
      const v = Number(p.presence) || 0;
      const c = (PRESENCE.find(([lo]) => v >= lo) || PRESENCE[PRESENCE.length - 1])[1];
      return { color: "#2d6a4f", weight: 0.3, fillColor: c, fillOpacity: 0.6 };
    }
    if (name === "risk") {
      return { color: "#555", weight: 0.3, fillColor: RISK[p.risk_level] || "#ffffff", fillOpacity: 0.6 };
    }
    return {
      color: p.kind === "information" ? "#cc79a7" : "#d55e00", weight: 2,
      fillColor: "url(#jm-hatch)", fillOpacity: 1, renderer: hatchRenderer,
    };
  }

  async function loadAnalysis(key, o, signal) {
    const a = ANALYSES[o.name];
    const params = Object.assign({}, a.params, { from: iso(state.start), to: iso(state.end) });
    const r = await api(a.path + "?" + query(params), signal);
    if (!r.ok) { setStatus(key, t("status.refused", { status: r.status })); return; }
    const doc = await r.json();
    if (signal.aborted || active.get(key) !== o) return;
    const features = (doc.features || []).filter(a.keep);
    replaceLayer(o, L.geoJSON({ type: "FeatureCollection", features }, {
      style: (f) => Object.assign(styleFor(o.name, f.properties || {}), { className: "jm-feature jm-" + o.name }),
      pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 5 }),
      onEachFeature: (f, layer) => bindFeature(layer, f, o.name),
    }));
    setStatus(key, t("status.count", { n: features.length }));
  }

  // --- raster tiles (fetched with the token, shown from blob: URLs) ----------

  function tileLayer(o) {
    // Sharp screens get the @2x tiles the server renders beside each tile.
    // `new URL` percent-encodes the template's braces: put them back, or
    // every tile request would ask for /tiles/heat/%7Bz%7D/...
    const base = local(o.template).replace(/%7B/gi, "{").replace(/%7D/gi, "}");
    const template = window.devicePixelRatio > 1 ? base.replace("{y}.png", "{y}@2x.png") : base;
    const timeWindow = query({ from: iso(state.start), to: iso(state.end) });
    const Tiles = L.GridLayer.extend({
      createTile(coords, done) {
        const img = document.createElement("img");
        img.alt = "";
        const url = template.replace("{z}", coords.z).replace("{x}", coords.x).replace("{y}", coords.y);
        const ctl = new AbortController();
        img._abort = ctl;
        api(url + (url.includes("?") ? "&" : "?") + timeWindow, ctl.signal, "image/png")
          .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
          .then((blob) => {
            img.onload = () => done(null, img);
            img.onerror = () => done(new Error("tile"), img);
            img.src = URL.createObjectURL(blob);
          })
          .catch((e) => done(e, img));
        return img;
      },
    });
    const layer = new Tiles({
      className: "tile-layer",
      minZoom: Number.isFinite(o.doc.minzoom) ? o.doc.minzoom : 0,
      maxZoom: 18,
      maxNativeZoom: Number.isFinite(o.doc.maxzoom) ? o.doc.maxzoom : 18,
      opacity: 0.8,
    });
    layer.on("tileunload", (e) => {
      if (e.tile._abort) e.tile._abort.abort();
      if (e.tile.src && e.tile.src.startsWith("blob:")) URL.revokeObjectURL(e.tile.src);
    });
    return layer;
  }

  // --- cells of rendered analysis maps ---------------------------------------

  // Whether lon/lat lies in a GeoJSON Polygon or MultiPolygon (even-odd).
  function inside(g, lon, lat) {
    if (!g) return false;
    const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    return polys.some((rings) => {
      let odd = false;
      for (const ring of rings) {
        for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
          const [xi, yi] = ring[i];
          const [xj, yj] = ring[j];
          if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) odd = !odd;
        }
      }
      return odd;
    });
  }

  // A click on a rendered analysis map shows the cell under it, as the
  // analysis endpoint gives it to this role (the tiles are cut from that
  // same document); the joint map answers with its blind spots and hot spots.
  async function clickTiles(e) {
    const names = [...active.values()].filter((o) => o.kind === "tiles").map((o) => o.name);
    const wanted = names.flatMap((n) => (n === "joint" ? ["blindspots", "hotspots"] : [n]))
      .filter((n) => ANALYSES[n]);
    for (const name of wanted) {
      const o = [...active.values()].find((x) => x.kind === "tiles" && (x.name === name || x.name === "joint"));
      if (!o) continue;
      const a = ANALYSES[name];
      const window = iso(state.start) + "/" + iso(state.end);
      o.cells = o.cells || {};
      if (!o.cells[name] || o.cells[name].window !== window) {
        const params = Object.assign({}, a.params, { from: iso(state.start), to: iso(state.end) });
        const r = await api(a.path + "?" + query(params));
        if (!r.ok) continue;
        const doc = await r.json();
        o.cells[name] = { window, features: (doc.features || []).filter(a.keep) };
      }
      const hit = o.cells[name].features.find((f) => inside(f.geometry, e.latlng.lng, e.latlng.lat));
      if (hit) { showAttributes(t("layer." + name), hit); return; }
    }
  }

  // --- attributes and legend -------------------------------------------------

  // A drawn feature shows its attributes when clicked; its element carries
  // the id the server gave it (for keyboard users' tools and the tests).
  function bindFeature(layer, f, name) {
    layer.on("click", () => showAttributes(t("layer." + name), f));
    layer.on("add", () => {
      const el = layer.getElement && layer.getElement();
      if (el && f.id !== undefined && f.id !== null) el.setAttribute("data-fid", String(f.id));
    });
  }

  function clearAttributes() {
    $("attributes").tBodies[0].replaceChildren();
    $("attributes-heading").textContent = "";
    $("attributes-empty").classList.remove("hidden");
  }

  // The properties exactly as the server returned them for this role.
  function showAttributes(title, f) {
    $("attributes-empty").classList.add("hidden");
    $("attributes-heading").textContent = title + (f.id !== undefined ? " · " + f.id : "");
    const body = $("attributes").tBodies[0];
    body.replaceChildren();
    for (const [k, v] of Object.entries(f.properties || {})) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.textContent = k;
      const td = document.createElement("td");
      td.textContent = v === null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v);
      tr.append(th, td);
      body.appendChild(tr);
    }
  }

  function legendBlock(title, rows) {
    const div = document.createElement("div");
    div.className = "legend-block";
    const h = document.createElement("h4");
    h.textContent = title;
    div.appendChild(h);
    for (const [cls, text, colour] of rows) {
      const row = document.createElement("div");
      row.className = "legend-row";
      const sw = document.createElement("span");
      sw.className = "swatch " + cls;
      if (colour) sw.style.background = colour;
      const label = document.createElement("span");
      label.textContent = text;
      row.append(sw, label);
      div.appendChild(row);
    }
    return div;
  }

  function renderLegend() {
    const box = $("legend");
    if (!box) return;
    box.replaceChildren();
    const names = new Set([...active.values()].map((o) => o.kind + ":" + o.name));
    const features = [...active.values()].filter((o) => o.kind === "features").map((o) => o.name);
    if (features.length) {
      box.appendChild(legendBlock(t("legend.records"),
        features.map((n) => ["", t("layer." + n), COLOURS[n] || "#333"])));
    }
    const any = (n) => names.has("analysis:" + n) || names.has("tiles:" + n);
    if (any("hotspots") || names.has("tiles:joint")) {
      box.appendChild(legendBlock(t("legend.hotspots"),
        Object.keys(GI).map((c) => ["c-" + c, t("gi." + c)]).concat([["c-untested", t("gi.untested")]])));
    }
    if (any("moran")) {
      box.appendChild(legendBlock(t("legend.moran"),
        Object.keys(MORAN).map((c) => ["", t("moran." + c), MORAN[c]])
          .concat([["c-not-significant", t("moran.none")]])));
    }
    if (any("presence")) {
      box.appendChild(legendBlock(t("legend.presence"),
        [3, 2, 1, 0].map((i) => ["c-presence-" + i, t("presence." + i)])));
    }
    if (any("risk")) {
      box.appendChild(legendBlock(t("legend.risk"),
        Object.keys(RISK).map((l) => ["", t("risk." + l), RISK[l]])));
    }
    // The source grade's ring on incident and sighting tiles from zoom 14
    // (drawn only where the role sees the grade).
    if (names.has("tiles:incidents") || names.has("tiles:sightings") || names.has("tiles:joint")) {
      box.appendChild(legendBlock(t("legend.grade"), [
        ["grade grade-reliable", t("grade.reliable")],
        ["grade grade-doubtful", t("grade.doubtful")],
        ["grade grade-weak", t("grade.weak")],
      ]));
    }
    if (any("blindspots") || names.has("tiles:joint")) {
      box.appendChild(legendBlock(t("legend.blindspots"),
        [["hatched c-threat", t("blind.threat")], ["hatched c-information", t("blind.information")]]));
    }
    if (!box.children.length) {
      const p = document.createElement("p");
      p.className = "note";
      p.textContent = t("legend.empty");
      box.appendChild(p);
    }
  }

  // --- start -------------------------------------------------------------

  async function main() {
    $("lang").addEventListener("change", (e) => {
      localStorage.setItem(LANG_KEY, e.target.value);
      setLang(e.target.value);
    });
    $("signin-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const secret = $("token").value.trim();
      $("token").value = "";
      if (secret) signIn(secret);
    });
    $("signout").addEventListener("click", () => signOut(""));
    $("time-start").addEventListener("input", onTime);
    $("time-end").addEventListener("input", onTime);
    await setLang(chooseLang());
    if (token()) await signIn(token());
    else signOut("");
  }

  document.addEventListener("DOMContentLoaded", main);
})();

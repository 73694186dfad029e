// The operations dashboard (区街一体化): sign-in, the district's map from the platform's own data, and
// the panels of the area in view. Every read goes through the API, so a role sees what the policy
// layer gives it. The address names the view (#/ the district, #/street/<code> a street).
"use strict";

const TOKEN_KEY = "huizhili.token";
const WORKER = "/static/vendor/maplibre-gl-5.24.1/maplibre-gl-csp-worker.js";
const LEVEL_COLOURS = { blue: "#1f6fd1", yellow: "#d9a400", orange: "#e06c00", red: "#c8102e" };
const STAGES = ["filing", "dispatch", "acceptance", "handling", "verification", "closing", "suspended"];

let map = null;
let streets = null;
let committees = null;
let me = null;

/** A JSON answer of the API, signed in with the stored token; a 401 sends the caller back to the sign-in. */
async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn();
    throw Object.assign(new Error("signed out"), { status: 401 });
  }
  if (!response.ok) {
    const problem = new Error(`${path}: ${response.status}`);
    problem.status = response.status;
    problem.detail = await response.json().then((body) => body.detail, () => null);
    throw problem;
  }
  return response.json();
}

const redraws = {};

/** A ticket for one redraw of a panel: answers arrive in any order, and a redraw overtaken by a newer one draws nothing. */
function redraw(panel) {
  const ticket = (redraws[panel] || 0) + 1;
  redraws[panel] = ticket;
  return () => redraws[panel] === ticket;
}

function showSignIn() {
  document.getElementById("dashboard").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("sign-in").hidden = false;
}

async function signIn(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const failed = document.getElementById("sign-in-error");
  const response = await fetch("/api/auth/token", { method: "POST", body: new URLSearchParams(form) });
  if (!response.ok) {
    failed.textContent = t("sign_in_failed");
    failed.hidden = false;
    return;
  }
  failed.hidden = true;
  sessionStorage.setItem(TOKEN_KEY, (await response.json()).access_token);
  await start();
}

async function signOut() {
  await fetch("/api/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` } });
  sessionStorage.removeItem(TOKEN_KEY);
  if (stream) stream.close();
  location.hash = "";
  showSignIn();
}

async function start() {
  me = await api("/api/auth/me");
  document.getElementById("sign-in").hidden = true;
  document.getElementById("dashboard").hidden = false;
  document.getElementById("sign-out").hidden = false;
  document.getElementById("who").textContent = `${me.username} · ${termOr(`role_${me.role}`, me.role)}`;
  if (!map) await drawMap();
  await showView();
  listen();
  if (wall.on) cycle();
}

/** The operations centre's wall (大屏, ?wall=1): dark, large, and it runs itself — through the streets on a timer
 * (?cycle= seconds, default 30), and to the street of a new red alert at once. */
const wall = (() => {
  const query = new URLSearchParams(location.search);
  return { on: query.get("wall") === "1", seconds: Math.max(5, Number(query.get("cycle")) || 30), timer: null, held: false };
})();

function cycle() {
  clearInterval(wall.timer);
  wall.timer = setInterval(() => {
    if (wall.held) return;
    const drawn = streets.features.filter((f) => f.geometry).map((f) => f.properties.code);
    const at = drawn.indexOf(currentStreet());
    location.hash = at + 1 >= drawn.length ? "#/" : `#/street/${drawn[at + 1]}`;
  }, wall.seconds * 1000);
}

/** A new red alert comes to the front: its street shown, the timer held for one round. */
function toFront(alert) {
  if (!wall.on || alert.level !== "red" || !alert.street_code) return;
  wall.held = true;
  location.hash = `#/street/${alert.street_code}`;
  setTimeout(() => { wall.held = false; }, wall.seconds * 1000);
}

let stream = null;
let refresh = null;

/** Changes pushed by the platform (/api/stream) redraw the panels they touch, a second later at most. */
function listen() {
  if (stream) return;
  const live = document.getElementById("live");
  stream = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/stream`);
  stream.addEventListener("open", () => stream.send(JSON.stringify({ token: sessionStorage.getItem(TOKEN_KEY) })));
  stream.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "subscribed") live.hidden = false;
    if (data.type === "event" && data.kind === "facility.status" && data.payload) showFacility(data.payload);
    if (data.type !== "event" || !["alerts", "cases"].includes(data.resource)) return;
    if (data.resource === "alerts" && ["alert.opened", "alert.escalated"].includes(data.kind)) toFront(data.payload || {});
    clearTimeout(refresh);
    refresh = setTimeout(() => {
      const view = currentView();
      if (data.resource === "alerts") Promise.all([showAlerts(view), showVitals(view.code)]);
      else showCases(view.code);
    }, 500);
  });
  stream.addEventListener("close", () => {
    live.hidden = true;
    stream = null;
    if (sessionStorage.getItem(TOKEN_KEY)) setTimeout(listen, 3000);
  });
}

/** The view the address names: the district (#/), a street (#/street/<code>) or a committee (#/committee/<code>). */
function currentView() {
  const match = location.hash.match(/^#\/(street|committee)\/(\w+)$/);
  return match ? { level: match[1], code: match[2] } : { level: "district", code: null };
}

/** A service point's live status, redrawn where the stream says it changed (open, closed, its queue). */
async function showFacility(feature) {
  const source = map.getSource("facilities");
  const drawn = await source.getData();
  const at = drawn.features.findIndex((found) => found.id === feature.id);
  if (at < 0) return;
  drawn.features[at] = feature;
  source.setData(drawn);
}

function currentStreet() {
  const view = currentView();
  return view.level === "street" ? view.code : null;
}

/** Every feature of a layer the caller may see, page by page. */
async function features(layer, params = {}) {
  const found = [];
  for (let offset = 0; ; ) {
    const page = await api(`/api/${layer}?${new URLSearchParams({ ...params, limit: 1000, offset })}`);
    found.push(...page.features);
    offset += page.numberReturned;
    if (!page.numberReturned || offset >= page.numberMatched) return { type: "FeatureCollection", features: found };
  }
}

function bounds(collection) {
  const box = new maplibregl.LngLatBounds();
  const visit = (coordinates) => (typeof coordinates[0] === "number" ? box.extend(coordinates) : coordinates.forEach(visit));
  collection.features.forEach((feature) => feature.geometry && visit(feature.geometry.coordinates));
  return box;
}

async function drawMap() {
  maplibregl.setWorkerUrl(WORKER);
  map = new maplibregl.Map({
    container: "map",
    style: { version: 8, sources: {}, layers: [{ id: "land", type: "background",
                                                 paint: { "background-color": wall.on ? "#0b1626" : "#eef1f4" } }] },
    center: [121.437, 31.18], zoom: 12, pitch: 30, attributionControl: { compact: true, customAttribution: "© OpenStreetMap contributors" },
  });
  map.addControl(new maplibregl.NavigationControl(), "top-left");
  // Everything the map draws is asked for at once, while the map itself starts.
  const none = { type: "FeatureCollection", features: [] };
  const optional = (layer) => layer.catch((problem) => { if (problem.status === 401) throw problem; return none; });  // drawn without it
  const loaded = Promise.all([features("areas", { kind: "street" }), features("areas", { kind: "committee" }), optional(features("buildings")),
                              optional(features("facilities")), optional(deviceLayer()), optional(api("/api/network/ways")),
                              latestLifeCircle().catch((problem) => { if (problem.status === 401) throw problem; return null; })]);
  await new Promise((resolve) => map.once("load", resolve));
  let buildings, facilities, devices, ways;
  [streets, committees, buildings, facilities, devices, ways] = await loaded;
  map.addSource("streets", { type: "geojson", data: streets, promoteId: "code" });
  map.addSource("committees", { type: "geojson", data: committees });
  map.addSource("buildings", { type: "geojson", data: buildings });
  map.addSource("facilities", { type: "geojson", data: facilities });
  map.addSource("devices", { type: "geojson", data: devices });
  map.addSource("cases", { type: "geojson", data: none });
  map.addSource("case-density", { type: "geojson", data: none, ...CASE_DENSITY });
  map.addSource("network", { type: "geojson", data: ways });
  map.addSource("coverage", { type: "geojson", data: none });
  map.addLayer({ id: "street-fill", type: "fill", source: "streets",
                 paint: { "fill-color": ["case", ["boolean", ["feature-state", "hover"], false], wall.on ? "#24406a" : "#cfe0f3",
                                         wall.on ? "#16294a" : "#dfe8f1"], "fill-opacity": 0.8 } });
  map.addLayer({ id: "street-line", type: "line", source: "streets",
                 paint: { "line-color": wall.on ? "#5f8fd6" : "#4a6fa5", "line-width": wall.on ? 3 : 1.5 } });
  map.addLayer({ id: "street-chosen", type: "line", source: "streets", filter: ["==", ["get", "code"], ""],
                 paint: { "line-color": wall.on ? "#f2c94c" : "#1f4e8c", "line-width": wall.on ? 8 : 4 } });
  map.addLayer({ id: "committees", type: "line", source: "committees", minzoom: 13,
                 paint: { "line-color": wall.on ? "#5f8fd6" : "#7d94b5", "line-width": 1, "line-dasharray": [3, 2] } });
  map.addLayer({ id: "network", type: "line", source: "network",
                 paint: { "line-color": wall.on ? "#3a5273" : "#ffffff",
                          "line-width": ["interpolate", ["linear"], ["zoom"], 11, ["match", ["get", "highway"], ["primary", "secondary", "trunk"], 1.2, 0.4],
                                         16, ["match", ["get", "highway"], ["primary", "secondary", "trunk"], 6, 2.5]] } });
  map.addLayer({ id: "coverage", type: "circle", source: "coverage",
                 paint: { "circle-radius": wall.on ? 9 : 4.5, "circle-color": "rgba(0,0,0,0)", "circle-stroke-width": wall.on ? 4 : 2,
                          "circle-stroke-color": ["case", ["!", ["has", "walk_m"]], "#9aa5b1",
                                                  ["<=", ["get", "walk_m"], ["get", "standard_m"]], "#2e7d32", "#d9480f"] } });
  map.addLayer({ id: "density", type: "heatmap", source: "case-density", maxzoom: 15,
                 paint: { "heatmap-radius": wall.on ? 60 : 30, "heatmap-opacity": 0.6, "heatmap-weight": ["coalesce", ["get", "point_count"], 1],
                          "heatmap-color": ["interpolate", ["linear"], ["heatmap-density"], 0, "rgba(0,0,0,0)", 0.3, "#fde68a",
                                            0.6, "#f59e0b", 1, "#b91c1c"] } });
  map.addLayer({ id: "buildings", type: "fill-extrusion", source: "buildings", minzoom: 13,
                 paint: { "fill-extrusion-color": "#b8c2cc", "fill-extrusion-opacity": 0.85,
                          "fill-extrusion-height": ["*", 3, ["coalesce", ["to-number", ["get", "levels"]], 2]] } });
  map.addLayer({ id: "facilities", type: "circle", source: "facilities",
                 // Live status: a service point closed now is grey; one with a long queue, amber.
                 paint: { "circle-radius": wall.on ? 9 : 4, "circle-stroke-color": "#fff", "circle-stroke-width": 1,
                          "circle-color": ["case", ["==", ["get", "is_open"], false], "#9aa5b1",
                                           ["==", ["get", "queue_level"], "long"], "#e0a800", "#2a9d8f"] } });
  map.addLayer({ id: "devices", type: "circle", source: "devices",
                 paint: { "circle-radius": wall.on ? 8 : 3.5, "circle-color": DEVICE_COLOUR, "circle-stroke-color": "#fff",
                          "circle-stroke-width": 1 } });
  map.addLayer({ id: "cases", type: "circle", source: "cases",
                 paint: { "circle-radius": wall.on ? 14 : 6, "circle-color": ["match", ["get", "urgency"], "late", "#c8102e", "soon", "#e0a800", "#1f6fd1"],
                          "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
  layerSwitches();
  layerClicks();
  for (const street of streets.features) labelStreet(street);
  let hovered = null;
  map.on("mousemove", "street-fill", (event) => {
    if (hovered !== null) map.setFeatureState({ source: "streets", id: hovered }, { hover: false });
    hovered = event.features[0].properties.code;
    map.setFeatureState({ source: "streets", id: hovered }, { hover: true });
    map.getCanvas().style.cursor = "pointer";
  });
  map.on("mouseleave", "street-fill", () => {
    if (hovered !== null) map.setFeatureState({ source: "streets", id: hovered }, { hover: false });
    hovered = null;
    map.getCanvas().style.cursor = "";
  });
  map.on("click", "street-fill", (event) => { if (!event.defaultPrevented) location.hash = `#/street/${event.features[0].properties.code}`; });
}

/** A device's colour: grey unless online, else its active alert's level (violet: no alert). */
const DEVICE_COLOUR = ["case", ["!=", ["get", "on"], 1], "#9aa5b1",
                       ["match", ["get", "lv"], 1, LEVEL_COLOURS.blue, 2, LEVEL_COLOURS.yellow, 3, LEVEL_COLOURS.orange,
                        4, LEVEL_COLOURS.red, "#6c5ce7"]];
let deviceKinds = [];
/** The density is drawn from cases bunched within a few pixels (one kernel weighted by their count, not one each): the same
 * picture from a few thousand kernels instead of tens of thousands, redrawn every frame of a pan. */
const CASE_DENSITY = { cluster: true, clusterRadius: 8, clusterMaxZoom: 14 };
/** More cases than this are drawn as points from zoom 13 only (a street's view); the district sees their density. */
const CASE_POINTS_EVERYWHERE = 5000;
const CASE_POINTS_FROM_ZOOM = 13;

/** Every device the caller may see (/api/devices/map, columns) as map features with short properties; its kinds kept for the popups. */
async function deviceLayer() {
  if (!me.permissions.includes("read:devices")) return { type: "FeatureCollection", features: [] };
  const layer = await api("/api/devices/map");
  deviceKinds = layer.kinds;
  return { type: "FeatureCollection", features: layer.id.map((id, i) => ({
    type: "Feature", geometry: { type: "Point", coordinates: [layer.lon[i], layer.lat[i]] },
    properties: { id, k: layer.kind[i], on: layer.online[i], v: layer.value[i], lv: layer.level[i] } })) };
}

/** The open cases of the area in view (/api/cases/map, columns) on the map, coloured by their time limit. */
async function showCaseLayer(code) {
  const current = redraw("case-layer");
  const data = { type: "FeatureCollection", features: [] };
  if (me.permissions.includes("read:cases")) {
    const layer = await api(`/api/cases/map${code ? `?${new URLSearchParams({ area: code })}` : ""}`);
    if (!current()) return;
    data.features = layer.id.map((id, i) => ({
      type: "Feature", geometry: { type: "Point", coordinates: [layer.lon[i], layer.lat[i]] },
      properties: { id, urgency: urgency({ due_at: layer.due[i] === null ? null : layer.due[i] * 1000 }) } }));
  }
  map.getSource("cases").setData(data);
  map.getSource("case-density").setData(data);
  map.setLayerZoomRange("cases", data.features.length > CASE_POINTS_EVERYWHERE ? CASE_POINTS_FROM_ZOOM : 0, 24);
  markReady();
}

/** Once the first view is drawn — both layers' data in, every tile rendered — the map says so (data-ready) and a performance mark is set. */
function markReady() {
  const container = map.getContainer();
  if (container.dataset.ready) return;
  map.once("idle", () => {
    container.dataset.ready = "true";
    performance.mark("dashboard-ready");
  });
}

/** A click on a device opens its popup, on a case its details; either before the street under it is opened. */
function layerClicks() {
  map.on("click", "devices", (event) => {
    event.preventDefault();
    devicePopup(event.features[0].properties).setLngLat(event.features[0].geometry.coordinates).addTo(map);
  });
  map.on("click", "cases", (event) => {
    event.preventDefault();
    showCase(event.features[0].properties.id);
  });
  for (const layer of ["devices", "cases"]) {
    map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
  }
}

/** A device's kind, the latest value of its main metric, and whether it is online. */
function devicePopup(properties) {
  const kind = deviceKinds[properties.k] || {};
  const lang = language();
  const box = document.createElement("dl");
  box.className = "device-popup";
  const value = properties.v == null ? "—" : `${Number(properties.v).toLocaleString(lang === "zh" ? "zh-CN" : "en")}${kind.unit ? ` ${kind.unit}` : ""}`;
  const online = properties.on === 1 ? "online" : properties.on === 0 ? "offline" : "not_watched";
  const rows = [[t("device_kind"), (lang === "zh" ? kind.zh : kind.en) || kind.kind],
                [(lang === "zh" ? kind.metric_zh : kind.metric_en) || t("latest_value"), value], [t("device_online"), t(online)]];
  for (const [term, text] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = text;
    box.append(dt, dd);
  }
  return new maplibregl.Popup({ closeButton: true, maxWidth: "260px" }).setDOMContent(box);
}

const LAYERS = ["network", "committees", "buildings", "facilities", "devices", "cases", "density", "coverage"];
/** Layers drawn only when the address asks for them (?show=coverage): homes' rings would hide the cases under them. */
const OFF_UNLESS_ASKED = ["coverage"];

/** A switch per layer, remembered in the address's query (?hide=devices,… and ?show=coverage) so a shared view shows the same. */
function layerSwitches() {
  const query = new URLSearchParams(location.search);
  const named = (key) => new Set((query.get(key) || "").split(",").filter(Boolean));
  const hidden = named("hide");
  const shown = named("show");
  const box = document.getElementById("layers");
  for (const layer of LAYERS) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.checked = OFF_UNLESS_ASKED.includes(layer) ? shown.has(layer) : !hidden.has(layer);
    input.dataset.layer = layer;
    map.setLayoutProperty(layer, "visibility", input.checked ? "visible" : "none");
    if (layer === "coverage" && input.checked) showCoverage();
    input.addEventListener("change", () => {
      map.setLayoutProperty(layer, "visibility", input.checked ? "visible" : "none");
      if (layer === "coverage" && input.checked) showCoverage();
      const address = new URL(location.href);
      const on = (name) => box.querySelector(`[data-layer=${name}]`).checked;
      const remember = (key, names) => (names.length ? address.searchParams.set(key, names.join(",")) : address.searchParams.delete(key));
      remember("hide", LAYERS.filter((name) => !OFF_UNLESS_ASKED.includes(name) && !on(name)));
      remember("show", OFF_UNLESS_ASKED.filter(on));
      history.replaceState(null, "", address);
    });
    const text = document.createElement("span");
    text.textContent = t(`layer_${layer}`);
    label.append(input, text);
    box.append(label);
  }
}

/** A street's name on the map, as a page element (the map itself needs no font files for it). */
function labelStreet(street) {
  const box = bounds({ features: [street] });
  if (box.isEmpty()) return;  // a street the base knows by name only, without its boundary
  const label = document.createElement("button");
  label.type = "button";
  label.className = "street-label";
  label.textContent = street.properties.name;
  label.addEventListener("click", () => { location.hash = `#/street/${street.properties.code}`; });
  new maplibregl.Marker({ element: label }).setLngLat(box.getCenter()).addTo(map);
  label.setAttribute("aria-label", street.properties.name);  // the marker names itself "Map marker"; the street it is
}

let shown = { level: "district", code: null, street: null };

/** The view the address names: the district, a street, or one of its committees (居委会). */
async function showView() {
  const view = currentView();
  const byCode = (collection, code) => collection.features.find((feature) => feature.properties.code === code);
  const committee = view.level === "committee" ? byCode(committees, view.code) : null;
  const street = byCode(streets, committee ? committee.properties.parent_code : view.code) || null;
  const area = committee || street;
  document.getElementById("to-district").hidden = !street;
  const toStreet = document.getElementById("to-street");
  toStreet.hidden = !committee;
  if (street) toStreet.textContent = `${t("back_to")}${street.properties.name}`;
  document.getElementById("view-name").textContent = area ? area.properties.name : t("district");
  // A committee without a boundary (the demo's: none is published) is shown within its street.
  const drawn = [committee, street].find((shown) => shown && shown.geometry);
  const box = bounds(drawn ? { features: [drawn] } : streets);
  if (!box.isEmpty()) map.fitBounds(box, { padding: 30, duration: drawn ? 600 : 0 });
  shown = area ? { level: area.properties.level, code: area.properties.code, street: street ? street.properties.code : null }
    : { level: "district", code: null, street: null };
  map.setFilter("street-chosen", ["==", ["get", "code"], street ? street.properties.code : ""]);
  showCommittees(street, committee);
  await Promise.all([
    failing(showCounts(shown.code), "counts"), failing(showVitals(shown.code), "vitals"), failing(showAlerts(shown), "alerts"),
    failing(showCases(shown.code), "case-board"), failing(showChart(shown), "chart-note"), failing(showTargets(shown), "targets")]);
}

/** A panel whose data could not be read says so, and the others are drawn: only a lapsed sign-in ends the session. */
function failing(drawing, panel) {
  return drawing.catch((problem) => {
    if (problem.status === 401) throw problem;
    const element = document.getElementById(panel);
    const said = element.tagName === "UL" ? item(t("load_failed"), "empty") : document.createElement("p");
    said.textContent = t("load_failed");
    said.className = "empty";
    element.replaceChildren(said);
  });
}

const TARGET_COLOURS = { met: "#2e7d32", on_track: "#1f6fd1", at_risk: "#d9a400", late: "#c8102e" };

/** The district's targets (programmes): each one's value against its goal, its forecast's verdict and deadline; in a street's
 * view, the street's own row (its share of a district-wide count, or its own rate against the goal). */
async function showTargets(view) {
  const current = redraw("targets");
  const card = document.getElementById("targets-card");
  if (!me.permissions.includes("read:programmes")) return;
  const targets = await api("/api/targets");
  if (!current()) return;
  const list = document.getElementById("targets");
  list.replaceChildren();
  const lang = language();
  const number = (value, unit) => (unit === "share" ? `${Math.round(value * 1000) / 10}%`
    : `${Number(value).toLocaleString(lang === "zh" ? "zh-CN" : "en", { maximumFractionDigits: 1 })} ${termOr(`unit_${unit}`, unit)}`);
  for (const target of targets) {
    const row = target.rows.find((found) => found.area_code === (view.street || target.area_code));
    if (!row || row.value === null) continue;
    const line = item((lang === "zh" ? target.name : target.name_en) || target.name, "target");
    line.style.borderLeftColor = TARGET_COLOURS[row.status] || "var(--line)";
    const figures = document.createElement("span");
    figures.className = "figures";
    figures.textContent = row.goal === null ? number(row.value, target.unit) : `${number(row.value, target.unit)} / ${number(row.goal, target.unit)}`;
    if (row.goal) {
      const bar = document.createElement("progress");
      bar.max = row.goal;
      bar.value = Math.min(row.value, row.goal);
      bar.setAttribute("aria-label", figures.textContent);
      figures.prepend(bar);
    }
    line.append(figures);
    if (row.status) line.append(tag(`${t(`target_${row.status}`)} · ${target.deadline.slice(0, 4)}`, `target-${row.status}`));
    list.append(line);
  }
  card.hidden = !list.children.length;
}

/** A street's residential committees (居委会), each a way down to its own view. */
function showCommittees(street, committee) {
  const card = document.getElementById("committees-card");
  card.hidden = !street;
  if (!street) return;
  const list = document.getElementById("committee-list");
  list.replaceChildren();
  const here = committees.features.filter((feature) => feature.properties.parent_code === street.properties.code);
  document.getElementById("committee-count").textContent = here.length;
  for (const found of here) {
    const link = document.createElement("a");
    link.href = `#/committee/${found.properties.code}`;
    link.textContent = found.properties.name;
    if (committee && found.properties.code === committee.properties.code) link.setAttribute("aria-current", "page");
    const row = document.createElement("li");
    row.append(link);
    list.append(row);
  }
}

/** 底数清: the counts of the area in view; the district's own where the streets shown share one, else of everything in scope. */
async function showCounts(code) {
  const current = redraw("counts");
  // The district's own figures where the caller may read the whole district; one bound to areas gets their sum.
  const bound = me.streets.length || me.committees.length || me.grid_cells.length;
  const districts = [...new Set(streets.features.map((street) => street.properties.parent_code))];
  const area = code || (!bound && districts.length === 1 ? districts[0] : null);
  const summary = await api(area ? `/api/areas/${area}/summary` : "/api/summary");
  if (!current()) return;
  const counts = document.getElementById("counts");
  counts.replaceChildren();
  for (const key of ["buildings", "population", "facilities", "devices"]) {
    const term = document.createElement("dt");
    term.textContent = t(key);
    const value = document.createElement("dd");
    value.textContent = summary[key] == null ? "—" : Number(summary[key]).toLocaleString(language() === "zh" ? "zh-CN" : "en");
    counts.append(term, value);
  }
}

/** The area's vital signs (数字体征), each with its value and warning level colour (蓝/黄/橙/红). */
/** The vital signs the panel last asked for, and for which area: the chart of the same view reads them, not again. */
let vitalsRead = { code: undefined, answer: null };

async function showVitals(code) {
  const current = redraw("vitals");
  const list = document.getElementById("vitals");
  if (!me.permissions.includes("read:alerts")) return;
  vitalsRead = { code, answer: api(`/api/vitals${code ? `?area=${code}` : ""}`) };
  const all = await vitalsRead.answer;
  if (!current()) return;
  list.replaceChildren();
  const here = all.filter((vital) => (code ? vital.area_code === code : vital.area_level === "district"));
  if (!here.length) list.append(item(t("no_vitals"), "empty"));
  for (const vital of here) {
    const value = vital.value === null ? "—" : `${Math.round(vital.value * 10) / 10}${vital.unit ? ` ${vital.unit}` : ""}`;
    const row = item(`${language() === "zh" ? vital.zh : vital.en}`, "vital");
    const trend = document.createElement("button");
    trend.type = "button";
    trend.className = "link";
    trend.textContent = row.firstChild.textContent;
    trend.title = t("show_trend");
    trend.addEventListener("click", () => { chosenVital = vital.indicator; chartShown = "vital"; showChart(shown); });
    row.firstChild.replaceWith(trend);
    row.style.borderLeftColor = LEVEL_COLOURS[vital.level] || "#2e7d32";
    row.append(tag(vital.level ? `${value} · ${t(`level_${vital.level}`)}` : value));
    list.append(row);
  }
}

/** The open alerts of the area in view (``view``: its level and code), with acknowledging where the role may. */
async function showAlerts(view) {
  const current = redraw("alerts");
  const list = document.getElementById("alerts");
  if (!me.permissions.includes("read:alerts")) return;
  const alerts = (await api("/api/alerts?state=active&limit=200")).filter((a) => !view.code || a[`${view.level}_code`] === view.code);
  if (!current()) return;
  list.replaceChildren();
  document.getElementById("alert-count").textContent = alerts.length;
  if (!alerts.length) list.append(item(t("no_alerts"), "empty"));
  for (const alert of alerts) {
    const row = item(alert.title[language()] || alert.title.zh || alert.rule, "alert");
    row.style.borderLeftColor = LEVEL_COLOURS[alert.level] || "#888";
    const actions = document.createElement("span");
    actions.className = "actions";
    const handle = (action) => async () => {
      try {
        await api(`/api/alerts/${alert.id}`, { method: "PATCH", headers: { "Content-Type": "application/json" },
                                                body: JSON.stringify({ action }) });
      } catch (problem) {
        row.append(tag(problem.detail || t("load_failed"), "late"));
        return;
      }
      await showAlerts(view);
    };
    if (alert.state === "acknowledged") actions.append(tag(t("acknowledged")));
    if (me.permissions.includes("handle:alerts")) {
      if (alert.state === "open") actions.append(button(t("acknowledge"), handle("acknowledge")));
      actions.append(button(t("resolve"), handle("resolve")), button(t("open_case"), () => caseForm(row, alert)));
    }
    row.append(actions);
    list.append(row);
  }
}

function button(text, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.addEventListener("click", onClick);
  return element;
}

let categories = null;

/** Under an alert's row, the form that opens a case for it: its category, then the case's number (or the case it already is). */
async function caseForm(row, alert) {
  if (row.querySelector("form")) return;
  try {
    categories = categories || await api("/api/open311/v2/services.json");
  } catch {
    row.append(tag(t("load_failed"), "late"));
    return;
  }
  const form = document.createElement("form");
  form.className = "case-form";
  const label = document.createElement("label");
  const choice = document.createElement("select");
  for (const service of categories) choice.append(new Option(language() === "zh" ? service.service_name : service.description, service.service_name));
  label.append(t("case_category"), " ", choice);
  const answer = document.createElement("span");
  answer.setAttribute("role", "status");
  const send = button(t("open_case"), () => {});
  send.type = "submit";
  form.append(label, send, answer);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const opened = await api(`/api/alerts/${alert.id}/case`, { method: "POST", headers: { "Content-Type": "application/json" },
                                                                  body: JSON.stringify({ category: choice.value }) });
      answer.textContent = `${t("case_opened")} ${opened.number}`;
      send.disabled = true;
    } catch (problem) {
      answer.textContent = problem.status === 409 ? `${t("already_a_case")}${t("colon")}${problem.detail || ""}` : problem.detail || t("load_failed");
      answer.className = "error";
    }
  });
  row.append(form);
  choice.focus();
}

async function showCases(code) {
  const current = redraw("cases");
  const board = document.getElementById("case-board");
  const drawn = showCaseLayer(code);
  if (!me.permissions.includes("read:cases")) return drawn;
  const [cases] = await Promise.all([api(`/api/cases?${new URLSearchParams({ limit: 500, ...(code ? { area: code } : {}) })}`), drawn]);
  if (!current()) return;
  board.replaceChildren();
  const open = cases.filter((c) => STAGES.includes(c.stage));
  if (!open.length) {
    const none = document.createElement("p");
    none.className = "empty";
    none.textContent = t("no_cases");
    board.append(none);
  }
  for (const stage of STAGES) {
    const here = open.filter((c) => c.stage === stage);
    if (!here.length) continue;
    const column = document.createElement("section");
    column.className = "stage";
    const title = document.createElement("h3");
    title.textContent = `${t(`stage_${stage}`)} · ${here.length}`;
    const list = document.createElement("ul");
    list.className = "list";
    for (const found of here.slice(0, 8)) list.append(caseItem(found));
    column.append(title, list);
    board.append(column);
  }
}

let latestRun = null;

/** The life circle's chosen kind: parks where the run has them (the district's target: 98 % of homes within 300 m). */
function coverageKind(run) {
  return run.parameters.kinds.includes("park") ? "park" : run.parameters.kinds[0];
}

/** The latest life-circle run the caller may read (its coverage table feeds a chart, its homes a layer), or null. */
async function latestLifeCircle() {
  if (!me.permissions.includes("read:base")) return null;
  [latestRun = null] = await api("/api/lifecircle/runs?limit=1");
  return latestRun;
}

let coverageAsked = false;

/** The homes of the latest run on the map, asked for the first time the layer is shown (it starts hidden). */
async function showCoverage() {
  if (coverageAsked || !latestRun || !latestRun.files.includes("origins.geojson")) return;
  coverageAsked = true;
  map.getSource("coverage").setData(await coverageHomes());
}

/** The homes of the latest life-circle run, each ringed by whether its walk to the chosen kind is within the standard. */
async function coverageHomes() {
  const homes = await api(`/api/lifecircle/runs/${latestRun.run_id}/files/origins.geojson`);
  const kind = coverageKind(latestRun);
  const standard = latestRun.parameters.metres[kind];
  return { type: "FeatureCollection", features: homes.features.map((home) => {
    const walk = home.properties[`${kind}_m`];
    return { type: "Feature", geometry: home.geometry, properties: walk == null ? { standard_m: standard } : { walk_m: walk, standard_m: standard } };
  }) };
}

const CHARTS = ["vital", "kpis", "coverage"];
let chart = null;
let chartShown = "vital";
let chosenVital = null;

/** The chart of the tab chosen, for the area in view: a vital sign's week, the case KPIs per street, the life circle per street. */
async function showChart(view) {
  const box = document.getElementById("chart");
  if (!chart) chart = echarts.init(box, wall.on ? "dark" : null);
  for (const name of CHARTS) document.getElementById(`tab-${name}`).setAttribute("aria-selected", String(name === chartShown));
  document.getElementById("chart-panel").setAttribute("aria-labelledby", `tab-${chartShown}`);
  const current = redraw("chart");
  const drawn = await { vital: vitalChart, kpis: kpiChart, coverage: coverageChart }[chartShown](view);
  if (!current()) return;
  chart.clear();
  const note = document.getElementById("chart-note");
  note.textContent = drawn.note || "";
  box.hidden = !drawn.option;
  if (!drawn.option) return;
  const large = wall.on ? 26 : 12;
  chart.setOption({ backgroundColor: "transparent", textStyle: { fontSize: large }, animation: !wall.on,
                    grid: { left: wall.on ? 120 : 48, right: wall.on ? 110 : 44, top: 36, bottom: wall.on ? 160 : 70 },
                    tooltip: { trigger: "axis" }, ...drawn.option });
  chart.resize();
  box.setAttribute("aria-label", drawn.summary);
}

function percentAxis() {
  return { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } };
}

/** A vital sign's last week in the area in view, hour by hour, each point coloured by its warning level. */
async function vitalChart(view) {
  if (!me.permissions.includes("read:alerts")) return { note: t("no_permission") };
  const all = await (vitalsRead.code === view.code ? vitalsRead.answer : api(`/api/vitals${view.code ? `?area=${view.code}` : ""}`));
  const here = all.filter((vital) => (view.code ? vital.area_code === view.code : vital.area_level === "district"));
  const vital = here.find((found) => found.indicator === chosenVital) || here[0];
  if (!vital) return { note: t("no_vitals") };
  const history = await api(`/api/vitals/${vital.indicator}/${vital.area_code}`);
  const name = language() === "zh" ? vital.zh : vital.en;
  if (!history.length) return { note: `${name}${t("colon")}${t("no_history")}` };
  const points = history.filter((point) => point.value !== null).map((point) => ({
    value: [point.at, Math.round(point.value * 10) / 10], itemStyle: { color: LEVEL_COLOURS[point.level] || "#2e7d32" } }));
  return {
    summary: [name, t("last_week"), `${points.length} ${t("hourly_values")}`].join(t("comma")),
    note: `${name}${vital.unit ? ` (${vital.unit})` : ""} · ${t("last_week")}`,
    option: { xAxis: { type: "time" }, yAxis: { type: "value", name: vital.unit || "" },
              series: [{ type: "line", name, data: points, showSymbol: true, symbolSize: wall.on ? 10 : 5,
                         lineStyle: { color: "#7d94b5" } }] },
  };
}

/** 综合评价 per street over the last 30 days: on time and closed, in per cent; the street in view stands out. */
async function kpiChart(view) {
  if (!me.permissions.includes("read:cases")) return { note: t("no_permission") };
  const rows = (await api("/api/cases/kpis?by=street")).filter((row) => row.key);
  if (!rows.length) return { note: t("no_kpis") };
  const streetCode = view.street;
  const names = rows.map((row) => row.name);
  const percent = (value) => (value === null ? null : Math.round(value * 1000) / 10);
  const bars = (measure) => rows.map((row) => ({ value: percent(row[measure]),
                                                 itemStyle: { opacity: !streetCode || row.key === streetCode ? 1 : 0.35 } }));
  return {
    summary: `${t("kpis_chart")}${t("colon")}${rows.map((row) => `${row.name} ${percent(row.on_time_rate) ?? "—"}%`).join(t("comma"))}`,
    note: `${t("kpis_chart")} · ${t("last_30_days")}`,
    option: { legend: { top: 0 }, xAxis: { type: "category", data: names, axisLabel: { rotate: 45, interval: 0 } }, yAxis: percentAxis(),
              series: [{ type: "bar", name: t("on_time"), data: bars("on_time_rate"), itemStyle: { color: "#1f4e8c" } },
                       { type: "bar", name: t("closure"), data: bars("closure_rate"), itemStyle: { color: "#2a9d8f" } }] },
  };
}

/** The latest life-circle run per street: the share of residents within the chosen kind's standard walk, against its target. */
async function coverageChart(view) {
  if (!latestRun) return { note: t("no_run") };
  const kind = coverageKind(latestRun);
  const metres = latestRun.parameters.metres[kind];
  const target = latestRun.parameters.targets[kind];
  const rows = latestRun.coverage.filter((row) => row.kind === kind && row.threshold_m === metres && row.area_code !== "all"
                                                  && row.coverage !== null);
  const name = (row) => (streets.features.find((street) => street.properties.code === row.area_code) || { properties: { name: row.area_code } })
    .properties.name;
  const streetCode = view.street;
  const what = `${termOr(`kind_${kind}`, kind)} ≤ ${metres} ${t("metres")}`;
  return {
    summary: `${t("coverage_chart")}${t("comma")}${what}${t("colon")}${rows.map((row) => `${name(row)} ${Math.round(row.coverage * 100)}%`).join(t("comma"))}`,
    note: `${t("coverage_chart")} · ${what}${target ? ` · ${t("target")} ${Math.round(target * 100)}%` : ""}`,
    option: { xAxis: { type: "category", data: rows.map(name), axisLabel: { rotate: 45, interval: 0 } }, yAxis: percentAxis(),
              series: [{ type: "bar", name: what,
                         data: rows.map((row) => ({ value: Math.round(row.coverage * 1000) / 10,
                                                    itemStyle: { color: target && row.coverage >= target ? "#2e7d32" : "#d9480f",
                                                                 opacity: !streetCode || row.area_code === streetCode ? 1 : 0.35 } })),
                         markLine: target ? { symbol: "none", data: [{ yAxis: target * 100, name: t("target") }],
                                              lineStyle: { color: "#c8102e", type: "dashed" },
                                              label: { position: "insideEndTop", formatter: `${t("target")} {c}%` } } : undefined }] },
  };
}

/** Minutes to a case's due time (negative: overdue), or null without one. */
function minutesLeft(found) {
  return found.due_at ? (new Date(found.due_at) - Date.now()) / 60000 : null;
}

/** The case's time-limit colour: late, soon (within 4 hours) or ok. */
function urgency(found) {
  const left = minutesLeft(found);
  return left === null ? "ok" : left < 0 ? "late" : left < 240 ? "soon" : "ok";
}

/** One case's details as the caller may see them: the reporter's name and phone masked unless he may read personal data. */
async function showCase(id) {
  const found = await api(`/api/cases/${id}`);
  const section = document.getElementById("case-detail");
  const list = section.querySelector("dl");
  list.replaceChildren();
  const lang = language();
  const rows = [["number", found.number], ["state", found.state_name[lang] || found.state_name.zh], ["category", found.category],
                ["unit", found.department], ["reporter", found.reporter_name], ["phone", found.reporter_phone],
                ["received", new Date(found.received_at).toLocaleString(lang === "zh" ? "zh-CN" : "en")],
                ["reports", found.signals.length]];
  for (const [key, value] of rows) {
    const term = document.createElement("dt");
    term.textContent = t(`case_${key}`);
    const text = document.createElement("dd");
    text.textContent = value ?? "—";
    list.append(term, text);
  }
  section.hidden = false;
}

function caseItem(found) {
  const row = item(found.title, "case");
  row.dataset.case = found.id;
  const open = document.createElement("button");
  open.type = "button";
  open.className = "link";
  open.textContent = found.title;
  open.addEventListener("click", () => showCase(found.id));
  row.firstChild.replaceWith(open);
  const left = minutesLeft(found);
  if (left !== null) {
    const countdown = left < 0 ? t("overdue")
      : left >= 120 ? `${t("due_in")} ${Math.round(left / 60)} ${t("hours")}` : `${t("due_in")} ${Math.round(left)} ${t("minutes")}`;
    row.append(tag(countdown, urgency(found)));
  }
  return row;
}

function item(text, kind) {
  const row = document.createElement("li");
  row.className = kind;
  const label = document.createElement("span");
  label.textContent = text;
  row.append(label);
  return row;
}

function tag(text, kind = "") {
  const element = document.createElement("span");
  element.className = `tag ${kind}`;
  element.textContent = text;
  return element;
}

document.addEventListener("DOMContentLoaded", () => {
  translatePage();
  document.body.classList.toggle("wall", wall.on);
  document.getElementById("layers-box").open = matchMedia("(min-width: 761px)").matches;  // on a phone, the map first
  document.getElementById("language").addEventListener("click", switchLanguage);
  document.getElementById("sign-in-form").addEventListener("submit", signIn);
  document.getElementById("sign-out").addEventListener("click", signOut);
  document.getElementById("to-district").addEventListener("click", () => { location.hash = "#/"; });
  document.getElementById("to-street").addEventListener("click", () => { location.hash = `#/street/${shown.street}`; });
  for (const name of CHARTS) {
    document.getElementById(`tab-${name}`).addEventListener("click", () => { chartShown = name; showChart(shown); });
  }
  window.addEventListener("resize", () => chart && chart.resize());
  window.addEventListener("hashchange", () => { if (map && streets) showView(); });
  if (sessionStorage.getItem(TOKEN_KEY)) start().catch((problem) => { if (problem.status === 401 || !me) showSignIn(); });
  else showSignIn();
});

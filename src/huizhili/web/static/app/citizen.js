// The citizen pages (市民端), for what anyone may see without signing in: the nearest services by
// walking from the phone's position or a tap on the map, with the walk to each drawn on the map,
// a case followed by its tracking number, and the streets' league table.
"use strict";

const WORKER = "/static/vendor/maplibre-gl-5.24.1/maplibre-gl-csp-worker.js";
const RESIDENT = "huizhili.resident";
const COMING = ["accepted", "in_progress", "handled", "verified", "closed", "evaluated"];
const NO_ROUTE = { type: "FeatureCollection", features: [] };
let map = null;
let markers = [];
let place = null;  // the last place looked from: a tap on the map or the phone's position
let mapReady = null;  // settles once the map and its layers are there: a search may come first

async function get(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(String(response.status));
  return response.json();
}

async function drawMap() {
  maplibregl.setWorkerUrl(WORKER);
  map = new maplibregl.Map({
    container: "map",
    style: { version: 8, sources: {}, layers: [{ id: "land", type: "background", paint: { "background-color": "#eef1f4" } }] },
    center: [121.437, 31.18], zoom: 11.5, attributionControl: { compact: true, customAttribution: "© OpenStreetMap contributors" },
  });
  await new Promise((resolve) => map.once("load", resolve));
  const streets = await get("/api/areas?kind=street&limit=100");
  map.addSource("streets", { type: "geojson", data: streets });
  map.addLayer({ id: "street-fill", type: "fill", source: "streets", paint: { "fill-color": "#dfe8f1", "fill-opacity": 0.8 } });
  map.addLayer({ id: "street-line", type: "line", source: "streets", paint: { "line-color": "#4a6fa5", "line-width": 1 } });
  map.addSource("route", { type: "geojson", data: NO_ROUTE });
  map.addLayer({ id: "route", type: "line", source: "route", layout: { "line-join": "round", "line-cap": "round" },
                 paint: { "line-color": "#c8102e", "line-width": 5, "line-opacity": 0.85 } });
  map.on("click", (event) => findNearest(event.lngLat.lng, event.lngLat.lat));
}

/** Draw the walk to ``service`` (none without one, or when it was estimated, not walked) and mark its row as the one shown. */
function showRoute(service, button) {
  const route = service?.route;
  map.getSource("route").setData(route
    ? { type: "FeatureCollection", features: [{ type: "Feature", geometry: route, properties: { id: service.id } }] }
    : NO_ROUTE);
  document.getElementById("map").dataset.route = route ? String(service.id) : "";
  for (const other of document.querySelectorAll("#results button")) other.setAttribute("aria-pressed", String(other === button));
}

/** The nearest services of the chosen kind by walking from (lon, lat), listed and marked on the map, with the walk to the nearest. */
async function findNearest(lon, lat) {
  place = { lon, lat };
  const kind = document.getElementById("kind").value;
  const found = await get(`/api/services/nearest?${new URLSearchParams({ lon, lat, kind, k: 5, route: true })}`);
  await mapReady;
  const list = document.getElementById("results");
  list.replaceChildren();
  markers.forEach((marker) => marker.remove());
  markers = [new maplibregl.Marker({ color: "#c8102e" }).setLngLat([found.origin.lon, found.origin.lat]).addTo(map)];
  const box = new maplibregl.LngLatBounds([found.origin.lon, found.origin.lat], [found.origin.lon, found.origin.lat]);
  for (const service of found.results) {
    const row = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.title = t("show_route");
    button.addEventListener("click", () => showRoute(service, button));
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = service.name || t(`kind_${service.kind}`);
    const meta = document.createElement("span");
    meta.className = "meta";
    const minutes = `${t("walk")} ${Math.round(service.walking_minutes)} ${t("minutes")} · ${Math.round(service.walking_distance_m)} ${t("metres")}`;
    const state = document.createElement("span");
    state.className = service.is_open === false || service.closed ? "closed" : "open";
    state.textContent = service.closed ? t("closed_now") : service.is_open === false ? t("closed_now") : service.is_open ? t("open_now") : "";
    meta.append(`${minutes} `, state);
    button.append(name, meta);
    row.append(button);
    list.append(row);
    markers.push(new maplibregl.Marker({ color: "#2a9d8f" }).setLngLat([service.lon, service.lat]).addTo(map));
    box.extend([service.lon, service.lat]);
    for (const point of service.route?.coordinates ?? []) box.extend(point);
  }
  showRoute(found.results[0], list.querySelector("button"));  // the old walk goes, the nearest one's is drawn
  map.fitBounds(box, { padding: 40, maxZoom: 16, duration: 0 });
}

function locate() {
  navigator.geolocation.getCurrentPosition(
    (position) => findNearest(position.coords.longitude, position.coords.latitude),
    () => { document.getElementById("results").replaceChildren(message(t("no_position"), "error")); },
    { enableHighAccuracy: true, timeout: 10000 });
}

/** A case's public view: state, countdown and timeline, nothing about who reported it. */
async function follow(event) {
  event.preventDefault();
  const shown = document.getElementById("followed");
  const number = document.getElementById("number").value.trim();
  let view;
  try {
    view = await get(`/api/public/cases/${encodeURIComponent(number)}`);
  } catch {
    shown.replaceChildren(message(t("no_such_case"), "error"));
    return;
  }
  const lang = language();
  const state = message(`${t("state")}：${view.state_name[lang] || view.state_name.zh}`, "");
  const parts = [state];
  if (view.seconds_left !== null) {
    const hours = Math.floor(Math.abs(view.seconds_left) / 3600);
    parts.push(message(view.seconds_left < 0 ? t("overdue") : `${t("due_in")} ${hours} ${t("hours")}`, "countdown"));
  }
  const timeline = document.createElement("ol");
  timeline.className = "timeline";
  for (const step of view.timeline) {
    const row = document.createElement("li");
    const when = new Date(step.at).toLocaleString(lang === "zh" ? "zh-CN" : "en", { dateStyle: "short", timeStyle: "short" });
    row.textContent = `${when} ${step.action_name ? step.action_name[lang] || step.action_name.zh : step.action}`
      + (step.note ? `：${step.note}` : "");
    timeline.append(row);
  }
  parts.push(timeline);
  shown.replaceChildren(...parts);
}

async function showLeague() {
  const body = document.querySelector("#league tbody");
  const percent = (value) => (value === null ? "—" : `${Math.round(value * 100)}%`);
  for (const row of await get("/api/public/league")) {
    const line = document.createElement("tr");
    for (const value of [row.rank, row.name || row.key, percent(row.on_time_rate), percent(row.closure_rate)]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      line.append(cell);
    }
    body.append(line);
  }
}

/** A JSON answer for the signed-in resident. */
async function asResident(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { Accept: "application/json", ...(options.headers || {}),
                                                              Authorization: `Bearer ${sessionStorage.getItem(RESIDENT)}` } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

async function residentSignIn(event) {
  event.preventDefault();
  const response = await fetch("/api/auth/token", { method: "POST", body: new URLSearchParams(new FormData(event.target)) });
  const failed = document.getElementById("resident-error");
  if (!response.ok) {
    failed.textContent = t("sign_in_failed");
    failed.hidden = false;
    return;
  }
  sessionStorage.setItem(RESIDENT, (await response.json()).access_token);
  await showResident();
}

async function showResident() {
  document.getElementById("resident-sign-in").hidden = true;
  document.getElementById("report-form").hidden = false;
  const select = document.getElementById("category");
  if (!select.options.length) {
    for (const service of await get("/api/open311/v2/services.json")) {
      const option = document.createElement("option");
      option.value = service.service_name;
      option.textContent = language() === "zh" ? service.service_name : service.description;
      select.append(option);
    }
  }
  await showMine();
}

/** The resident's own reports, help calls included, with their states. */
async function showMine() {
  const mine = await asResident("/api/me/cases");
  document.getElementById("my-cases-title").hidden = !mine.length;
  const list = document.getElementById("my-cases");
  list.replaceChildren(...mine.map((found) => {
    const row = document.createElement("li");
    row.textContent = `${found.number} · ${found.category || ""} · ${found.state_name[language()] || found.state_name.zh}`;
    return row;
  }));
  return mine;
}

/** Where the resident is: the place picked on the map, else the phone's position. */
function wherever() {
  if (place) return Promise.resolve(place);
  return new Promise((resolve, reject) => navigator.geolocation.getCurrentPosition(
    (position) => resolve({ lon: position.coords.longitude, lat: position.coords.latitude }), reject,
    { enableHighAccuracy: true, timeout: 10000 }));
}

async function report(event) {
  event.preventDefault();
  const done = document.getElementById("reported");
  let at;
  try {
    at = await wherever();
  } catch {
    done.textContent = t("no_place");
    return;
  }
  const description = document.getElementById("description").value.trim();
  const found = await asResident("/api/cases", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({
    title: description.split("\n")[0].slice(0, 60), description, category: document.getElementById("category").value, ...at }) });
  const photo = document.getElementById("photo").files[0];
  if (photo) {
    const form = new FormData();
    form.append("file", photo);
    await asResident(`/api/me/cases/${found.number}/photos`, { method: "POST", body: form });
  }
  done.textContent = `${t("reported")} ${found.number}`;
  event.target.reset();
  await showMine();
}

/** One button: a request for help at the resident's place, to the community's staff; then who is coming. */
async function callForHelp() {
  const state = document.getElementById("help-state");
  if (!sessionStorage.getItem(RESIDENT)) {
    state.textContent = t("resident_sign_in_hint");
    document.querySelector("#resident-sign-in input").focus();
    return;
  }
  let at;
  try {
    at = await wherever();
  } catch {
    state.textContent = t("no_place");
    return;
  }
  const found = await asResident("/api/cases", { method: "POST", headers: { "Content-Type": "application/json" },
                                                 body: JSON.stringify({ title: t("help_case_title"), category: "养老服务", ...at }) });
  state.textContent = `${t("help_sent")} ${found.number}。${t("help_waiting")}`;
  const watch = setInterval(async () => {
    const mine = await showMine();
    const followed = mine.find((c) => c.number === found.number);
    if (!followed) return;
    const coming = COMING.includes(followed.state);
    state.textContent = `${t("help_sent")} ${found.number}。${whoIsComing(followed, coming)}`;
    if (coming) clearInterval(watch);
  }, 2000);
}

/** The unit a help call went to, by its name (a committee, a street office), never a person's; the plain words where none is named. */
function whoIsComing(followed, coming) {
  const unit = followed.unit_name && (followed.unit_name[language()] || followed.unit_name.zh);
  if (!unit) return t(coming ? "help_coming" : "help_waiting");
  return t(coming ? "help_coming_unit" : "help_waiting_unit").replace("{unit}", unit);
}

function message(text, kind) {
  const element = document.createElement("p");
  element.className = kind;
  element.textContent = text;
  return element;
}

document.addEventListener("DOMContentLoaded", () => {
  translatePage();
  document.getElementById("language").addEventListener("click", switchLanguage);
  document.getElementById("locate").addEventListener("click", locate);
  document.getElementById("follow-form").addEventListener("submit", follow);
  document.getElementById("resident-sign-in").addEventListener("submit", residentSignIn);
  document.getElementById("report-form").addEventListener("submit", report);
  document.getElementById("help-button").addEventListener("click", callForHelp);
  mapReady = drawMap();
  showLeague();
  if (sessionStorage.getItem(RESIDENT)) showResident().catch(() => sessionStorage.removeItem(RESIDENT));
});

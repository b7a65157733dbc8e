// The page is a client of the same HTTP API as the command line: no framework, no CDN, works offline.
"use strict";

const MAX_BYTES = 20 * 1024 * 1024;
const POLL_MS = 1500;
const $ = (id) => document.getElementById(id);

const state = { tags: [], continuation: null, pending: new Set(), thumbnails: new Map(), signedIn: false };

// -- identity: App Service Authentication in Azure, a typed user name locally --------------------------------

function headers(extra = {}) {
  const result = { ...extra };
  const user = $("user").value.trim();
  const key = $("key").value.trim();
  if (!state.signedIn && user) result["X-MS-CLIENT-PRINCIPAL-ID"] = user;
  if (key) result["x-functions-key"] = key;
  return result;
}

async function detectSignIn() {
  try {
    const response = await fetch("/.auth/me", { credentials: "same-origin" });
    if (!response.ok) return;
    const principals = await response.json();
    const me = Array.isArray(principals) && principals[0];
    if (me && me.user_id) {
      state.signedIn = true;
      $("signed-in-name").textContent = me.user_id;
      $("signed-in").hidden = false;
      $("user-label").hidden = true;
    }
  } catch (_) { /* not on App Service: the user field applies */ }
}

for (const field of ["user", "key"]) {
  $(field).value = localStorage.getItem(`tagging.${field}`) || "";
  $(field).addEventListener("change", () => {
    localStorage.setItem(`tagging.${field}`, $(field).value.trim());
    refresh();
  });
}

// -- API -----------------------------------------------------------------------------------------------------

async function api(method, path, options = {}) {
  const response = await fetch(path, { method, headers: headers(options.headers), body: options.body });
  if (response.status === 204) return null;
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(body?.error?.message || `${response.status} ${response.statusText}`);
  return body;
}

// -- uploads -------------------------------------------------------------------------------------------------

function uploadRow(file) {
  const row = document.createElement("li");
  row.innerHTML = '<span class="name"></span><progress max="100" value="0"></progress><span class="state">waiting</span>';
  row.querySelector(".name").textContent = file.name;
  row.querySelector("progress").setAttribute("aria-label", `Upload of ${file.name}`);
  $("uploads").prepend(row);
  return row;
}

function finish(row, text, kind) {
  const label = row.querySelector(".state");
  label.textContent = text;
  label.className = `state ${kind}`;
}

function upload(file) {
  const row = uploadRow(file);
  if (!file.type.startsWith("image/") && !/\.(heic|heif|avif)$/i.test(file.name)) {
    finish(row, "not an image", "error");
    return Promise.resolve();
  }
  if (file.size > MAX_BYTES) {
    finish(row, "too large (20 MB at most)", "error");
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/api/images");
    for (const [name, value] of Object.entries(headers())) request.setRequestHeader(name, value);
    request.setRequestHeader("Content-Disposition", `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) row.querySelector("progress").value = (100 * event.loaded) / event.total;
    };
    request.onload = () => {
      let body = null;
      try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
      if (request.status === 202 || request.status === 200) {
        row.querySelector("progress").value = 100;
        finish(row, body.status === "pending" ? "tagging…" : body.status, "done");
        state.pending.add(body.id);
        row.dataset.id = body.id;
        schedulePoll();
      } else {
        finish(row, body?.error?.message || `failed (${request.status})`, "error");
      }
      resolve();
    };
    request.onerror = () => { finish(row, "network error: is the app running?", "error"); resolve(); };
    finish(row, "uploading…", "");
    request.send(file);
  });
}

async function uploadAll(files) {
  for (const file of files) await upload(file);  // one at a time keeps progress readable and the app unhurried
  refresh();
}

const drop = $("drop");
drop.addEventListener("click", () => $("files").click());
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") { event.preventDefault(); $("files").click(); }
});
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  uploadAll([...event.dataTransfer.files]);
});
$("files").addEventListener("change", (event) => { uploadAll([...event.target.files]); event.target.value = ""; });

// -- gallery -------------------------------------------------------------------------------------------------

async function thumbnail(img, item) {
  if (!item.thumbnail) { img.alt = "No preview yet"; return; }
  if (!state.thumbnails.has(item.id)) {
    const response = await fetch(item.thumbnail, { headers: headers() });
    if (!response.ok) return;
    state.thumbnails.set(item.id, URL.createObjectURL(await response.blob()));
  }
  img.src = state.thumbnails.get(item.id);
}

function tagChip(item, tag) {
  const chip = document.createElement("li");
  chip.className = `tag ${tag.source === "user" ? "user" : ""}`;
  const filter = document.createElement("button");
  filter.type = "button";
  filter.textContent = tag.name;
  filter.title = `${tag.source}, confidence ${tag.confidence}`;
  filter.addEventListener("click", () => search([tag.name]));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "remove";
  remove.textContent = "×";
  remove.setAttribute("aria-label", `Remove tag ${tag.name}`);
  remove.addEventListener("click", () => change(() => api("DELETE", tagPath(item.id, tag.name))));
  chip.append(filter, remove);
  return chip;
}

function tagPath(id, name) {
  return `/api/images/${id}/tags/${encodeURIComponent(name)}`;
}

function card(item) {
  const node = $("card").content.firstElementChild.cloneNode(true);
  node.dataset.id = item.id;
  const img = node.querySelector("img");
  const names = item.tags.map((tag) => tag.name);
  img.alt = names.length ? `Image tagged ${names.slice(0, 4).join(", ")}` : "Image";
  thumbnail(img, item);
  const size = item.width ? `${item.width}×${item.height}` : "";
  node.querySelector(".meta").textContent = `${item.status} · ${size} · ${new Date(item.uploaded_at).toLocaleString()}`;
  const list = node.querySelector(".tags");
  for (const tag of item.tags) list.append(tagChip(item, tag));
  const form = node.querySelector(".add-tag");
  const input = form.querySelector("input");
  input.id = `add-${item.id}`;
  form.querySelector("label").htmlFor = input.id;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (name) change(() => api("PUT", tagPath(item.id, name)));
  });
  const remove = node.querySelector(".delete");
  remove.setAttribute("aria-label", `Delete image ${item.id}`);
  remove.addEventListener("click", () => change(() => api("DELETE", `/api/images/${item.id}`)));
  return node;
}

async function change(action) {
  try {
    await action();
  } catch (error) {
    $("status").textContent = error.message;
    return;
  }
  refresh();
}

async function load(append) {
  const params = new URLSearchParams();
  for (const tag of state.tags) params.append("tag", tag);
  params.set("limit", "60");
  if (append && state.continuation) params.set("continuation", state.continuation);
  const page = await api("GET", `/api/images?${params}`);
  if (!append) $("gallery").replaceChildren();
  for (const item of page.items) $("gallery").append(card(item));
  state.continuation = page.continuation;
  $("more").hidden = !page.continuation;
  const count = $("gallery").children.length;
  const filter = state.tags.length ? ` tagged ${state.tags.join(" + ")}` : "";
  $("status").textContent = `${count} image${count === 1 ? "" : "s"}${filter}${page.continuation ? " (more below)" : ""}`;
}

async function refresh() {
  if (!state.signedIn && !$("user").value.trim()) {
    $("status").textContent = "Enter a user name to see your images.";
    $("gallery").replaceChildren();
    return;
  }
  try { await load(false); } catch (error) { $("status").textContent = error.message; }
}

function search(tags) {
  state.tags = tags;
  $("search-tags").value = tags.join(" ");
  refresh();
}

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  search($("search-tags").value.split(/[\s,]+/).filter(Boolean));
});
$("clear-search").addEventListener("click", () => search([]));
$("more").addEventListener("click", () => load(true).catch((error) => { $("status").textContent = error.message; }));

// -- polling until uploads are tagged --------------------------------------------------------------------------

let timer = null;
function schedulePoll() {
  if (!timer) timer = setTimeout(poll, POLL_MS);
}

async function poll() {
  timer = null;
  for (const id of [...state.pending]) {
    try {
      const image = await api("GET", `/api/images/${id}`);
      if (image.status === "pending") continue;
      state.pending.delete(id);
      const row = document.querySelector(`#uploads li[data-id="${id}"]`);
      if (row) finish(row, image.status === "done" ? "tagged" : `failed: ${image.error}`, image.status === "done" ? "done" : "error");
      await refresh();
    } catch (_) { /* try again next round */ }
  }
  if (state.pending.size) schedulePoll();
}

detectSignIn().then(refresh);

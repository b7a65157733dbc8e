// The page is a client of the same HTTP API as the command line: no framework, no CDN, works offline.
"use strict";

const POLL_MS = 1500;  // while this page's own uploads are being tagged
// Otherwise, while the tab is visible, the gallery is listed again now and then: it picks up images uploaded
// elsewhere (another tab, the command line) or before the page was reloaded, which nothing here is polling.
const RELIST_MS = 20000;
const PAGE_SIZE = 60;
const $ = (id) => document.getElementById(id);

const state = {
  auth: "local",       // "local": the typed user name; "signed-in" / "signed-out": App Service Authentication
  tags: [],            // the search
  pages: 1,            // how many pages "Load more" has shown: a refresh lists as many again
  items: [],           // what the gallery shows, in order
  continuation: null,
  pending: new Map(),  // id -> the identity headers it was uploaded with, until it is tagged
  thumbnails: new Map(),
};

// -- identity: App Service Authentication in Azure, a typed user name locally --------------------------------

function headers(extra = {}) {
  const result = { ...extra };
  const user = $("user").value.trim();
  const key = $("key").value.trim();
  if (state.auth === "local" && user) result["X-MS-CLIENT-PRINCIPAL-ID"] = user;
  if (key) result["x-functions-key"] = key;
  return result;
}

// With App Service Authentication, /.auth/me answers 200 with the principal, or 401 to someone not signed in.
// Without it there is no /.auth, and the app says whom it accepts (identity.json): a typed user name (the local
// runner, Core Tools, a deployment that trusts the header), or, in Azure with sign-in off, no one.
async function detectSignIn() {
  let principals;
  try {
    const response = await fetch("/.auth/me", { credentials: "same-origin" });
    if (response.status === 401) return showAuth("signed-out");
    if (!response.ok) return showAuth(await withoutSignIn());
    principals = await response.json();
  } catch (_) {
    return showAuth(await withoutSignIn());
  }
  if (!Array.isArray(principals)) return showAuth(await withoutSignIn());
  const me = principals[0];
  $("signed-in-name").textContent = me?.user_id || "";
  return showAuth(me?.user_id ? "signed-in" : "signed-out");
}

async function withoutSignIn() {
  try {
    const response = await fetch("identity.json", { credentials: "same-origin" });
    if (response.ok && (await response.json()).callers === "none") return "closed";
  } catch (_) {
    // an older app without identity.json: a typed name, as before
  }
  return "local";
}

function showAuth(mode) {
  state.auth = mode;
  $("user-label").hidden = mode !== "local";
  $("signed-in").hidden = mode !== "signed-in";
  $("signed-out").hidden = mode !== "signed-out";
  $("closed").hidden = mode !== "closed";
}

// The user name is remembered; the function key is a secret, kept for this tab's session only.
localStorage.removeItem("tagging.key");  // where earlier versions of this page kept it
$("user").value = localStorage.getItem("tagging.user") || "";
$("key").value = sessionStorage.getItem("tagging.key") || "";
$("user").addEventListener("change", () => {
  localStorage.setItem("tagging.user", $("user").value.trim());
  state.pages = 1;
  refresh();
});
$("key").addEventListener("change", () => {
  sessionStorage.setItem("tagging.key", $("key").value.trim());
  refresh();
});

// -- API -----------------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, options = {}) {
  let response;
  try {
    response = await fetch(path, { method, headers: options.as || headers(), body: options.body });
  } catch (_) {
    throw new ApiError("The app cannot be reached: is it running?", 0);
  }
  if (response.status === 204) return null;
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(body?.error?.message || `${response.status} ${response.statusText}`, response.status);
  return body;
}

function setStatus(text) {
  // Unchanged text is left alone: the status is a live region, and a periodic refresh must not re-announce it.
  if ($("status").textContent !== text) $("status").textContent = text;
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
  // No size check here: the limit is the app's setting, and the app refuses an oversized file from its
  // Content-Length, before the body is read, with a message that states the limit.
  const identity = headers();
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/api/images");
    for (const [name, value] of Object.entries(identity)) request.setRequestHeader(name, value);
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
        state.pending.set(body.id, identity);
        row.dataset.id = body.id;
        schedulePoll();
      } else {
        const fallback = request.status === 413 ? "too large for the app" : `failed (${request.status})`;
        finish(row, body?.error?.message || fallback, "error");
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

// Lists are updated in place, keyed: a refresh keeps what someone is typing in a card, where the focus is, and
// what they scrolled to. Nodes no longer listed are removed first, so the ones kept seldom need to move.
function reconcile(list, items, keyOf, create, update, focusWhenRemoved) {
  const focused = document.activeElement;
  const wanted = new Set(items.map(keyOf));
  for (const node of [...list.children]) {
    if (wanted.has(node.dataset.key)) continue;
    const hadFocus = node.contains(focused);
    node.remove();
    if (hadFocus) focusWhenRemoved();
  }
  const kept = new Map([...list.children].map((node) => [node.dataset.key, node]));
  let cursor = list.firstElementChild;
  for (const item of items) {
    let node = kept.get(keyOf(item));
    if (node) {
      update(node, item);
    } else {
      node = create(item);
      node.dataset.key = keyOf(item);
    }
    if (node === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(node, cursor);
  }
  // Moving a node that holds the focus drops it: give it back.
  if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
}

async function thumbnail(img, item) {
  if (!item.thumbnail) { img.removeAttribute("src"); return; }
  if (!state.thumbnails.has(item.id)) {
    try {
      const response = await fetch(item.thumbnail, { headers: headers() });
      if (!response.ok) return;
      state.thumbnails.set(item.id, URL.createObjectURL(await response.blob()));
    } catch (_) {
      return;  // unreachable for now: the next refresh tries again
    }
  }
  const url = state.thumbnails.get(item.id);
  if (img.getAttribute("src") !== url) img.src = url;
}

function tagChip(item, tag) {
  const chip = document.createElement("li");
  const filter = document.createElement("button");
  filter.type = "button";
  filter.textContent = tag.name;
  filter.addEventListener("click", () => search([tag.name]));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "remove";
  remove.textContent = "×";
  remove.setAttribute("aria-label", `Remove tag ${tag.name}`);
  remove.addEventListener("click", () => change(() => api("DELETE", tagPath(item.id, tag.name))));
  chip.append(filter, remove);
  updateChip(chip, tag);
  return chip;
}

function updateChip(chip, tag) {
  chip.className = `tag ${tag.source === "user" ? "user" : ""}`;
  chip.firstElementChild.title = `${tag.source}, confidence ${tag.confidence}`;
}

function tagPath(id, name) {
  // Browsers and servers drop "." and ".." path segments, however encoded: the request would reach the image itself.
  if (name.trim() === "." || name.trim() === "..") throw new Error(`"${name}" cannot be a tag name.`);
  return `/api/images/${id}/tags/${encodeURIComponent(name)}`;
}

function card(item) {
  const node = $("card").content.firstElementChild.cloneNode(true);
  node.dataset.id = item.id;
  const form = node.querySelector(".add-tag");
  const input = form.querySelector("input");
  input.id = `add-${item.id}`;
  form.querySelector("label").htmlFor = input.id;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (name && await change(() => api("PUT", tagPath(item.id, name))) && input.value.trim() === name) input.value = "";
  });
  const remove = node.querySelector(".delete");
  remove.setAttribute("aria-label", `Delete image ${item.id}`);
  remove.addEventListener("click", () => {
    if (confirm("Delete this image? This cannot be undone.")) change(() => api("DELETE", `/api/images/${item.id}`));
  });
  updateCard(node, item);
  return node;
}

function updateCard(node, item) {
  const img = node.querySelector("img");
  const names = item.tags.map((tag) => tag.name);
  img.alt = !item.thumbnail ? "No preview" : names.length ? `Image tagged ${names.slice(0, 4).join(", ")}` : "Image";
  thumbnail(img, item);
  const size = item.width ? `${item.width}×${item.height}` : "";
  node.querySelector(".meta").textContent = `${item.status} · ${size} · ${new Date(item.uploaded_at).toLocaleString()}`;
  // When the tag whose "×" had the focus goes, the focus goes to this card's "add a tag" field.
  const input = node.querySelector(".add-tag input");
  reconcile(node.querySelector(".tags"), item.tags, (tag) => tag.name, (tag) => tagChip(item, tag), updateChip,
            () => input.focus());
}

async function change(action) {
  try {
    await action();
  } catch (error) {
    setStatus(error.message);
    return false;
  }
  await refresh();
  return true;
}

function listPage(continuation) {
  const params = new URLSearchParams();
  for (const tag of state.tags) params.append("tag", tag);
  params.set("limit", String(PAGE_SIZE));
  if (continuation) params.set("continuation", continuation);
  return api("GET", `/api/images?${params}`);
}

function canList() {
  if (state.auth === "signed-out") return "Sign in to see your images.";
  if (state.auth === "closed") return "This deployment accepts no one until its owner turns sign-in on.";
  if (state.auth === "local" && !$("user").value.trim()) return "Enter a user name to see your images.";
  return null;
}

// The first pages again, as many as are shown: a refresh never takes back what "Load more" added.
async function relist() {
  const refusal = canList();
  if (refusal) {
    show([], null, refusal);
    return;
  }
  const items = [];
  let continuation = null;
  for (let shown = 0; shown < state.pages; shown += 1) {
    const page = await listPage(continuation);
    items.push(...page.items);
    continuation = page.continuation;
    if (!continuation) break;
  }
  show(items, continuation);
}

async function nextPage() {
  if (!state.continuation || canList()) return;
  const page = await listPage(state.continuation);
  state.pages += 1;
  const first = page.items[0]?.id;
  const hadFocus = document.activeElement === $("more");
  show([...state.items, ...page.items], page.continuation);
  if (hadFocus && $("more").hidden && first) {
    // The button went away with the last page: carry on from the first image it brought.
    $("gallery").querySelector(`[data-id="${first}"] button`)?.focus();
  }
}

function show(items, continuation, status = null) {
  const seen = new Set();  // pages listed at different times can overlap when images arrive in between
  state.items = items.filter((item) => !seen.has(item.id) && seen.add(item.id));
  state.continuation = continuation;
  reconcile($("gallery"), state.items, (item) => item.id, card, updateCard, () => $("gallery-title").focus());
  $("more").hidden = !continuation;
  const count = state.items.length;
  const filter = state.tags.length ? ` tagged ${state.tags.join(" + ")}` : "";
  setStatus(status || `${count} image${count === 1 ? "" : "s"}${filter}${continuation ? " (more below)" : ""}`);
}

// One listing at a time, so that answers are shown in the order they were asked for; refreshes asked for while
// one waits its turn are served by that one.
let listing = Promise.resolve();
let waitingRefresh = null;

function queued(task) {
  listing = listing.then(task).catch((error) => setStatus(error.message));
  return listing;
}

function refresh() {
  if (!waitingRefresh) {
    waitingRefresh = queued(() => {
      waitingRefresh = null;
      return relist();
    });
  }
  return waitingRefresh;
}

function search(tags) {
  state.tags = tags;
  state.pages = 1;
  $("search-tags").value = tags.join(" ");
  refresh();
}

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  search($("search-tags").value.split(/[\s,]+/).filter(Boolean));
});
$("clear-search").addEventListener("click", () => search([]));
$("more").addEventListener("click", () => queued(nextPage));

// -- keeping up: this page's uploads until they are tagged, and everything else now and then ------------------

let timer = null;
function schedulePoll() {
  if (!timer) timer = setTimeout(poll, POLL_MS);
}

function mark(id, text, kind) {
  const row = document.querySelector(`#uploads li[data-id="${id}"]`);
  if (row) finish(row, text, kind);
}

async function poll() {
  let settled = false;
  for (const [id, identity] of [...state.pending]) {
    let image;
    try {
      image = await api("GET", `/api/images/${id}`, { as: identity });
    } catch (error) {
      if (error.status === 404) {  // deleted meanwhile: it will never be tagged
        state.pending.delete(id);
        mark(id, "deleted before it was tagged", "error");
      }
      continue;  // anything else may pass: try again next round
    }
    if (image.status === "pending") continue;
    state.pending.delete(id);
    mark(id, image.status === "done" ? "tagged" : `failed: ${image.error}`, image.status === "done" ? "done" : "error");
    settled = true;
  }
  timer = null;
  if (settled) refresh();
  if (state.pending.size) schedulePoll();
}

setInterval(() => { if (document.visibilityState === "visible") refresh(); }, RELIST_MS);
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refresh(); });

detectSignIn().then(refresh);

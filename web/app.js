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
  known: [],           // every tag of the user's images with its count, from /api/tags
};

// -- tags: what kind each is, and which a card shows first --------------------------------------------------

// Tags that nearly every image carries say nothing on a card: they wait in the detail view.
const EVERYWHERE = new Set(["sharp", "geotagged"]);
const EVERYWHERE_PREFIXES = ["format:", "resolution:", "orientation:"];
const TECHNICAL = new Set(["sharp", "blurry", "panorama", "monochrome", "dark", "bright", "transparent", "animated",
                           "geotagged"]);
const KINDS = [
  ["content", "What is in them, and your own"], ["place", "Places"], ["colour", "Colours"], ["date", "Dates"],
  ["camera", "Cameras"], ["technical", "Technical"],
];

function kindOf(name) {
  const prefix = name.includes(":") ? name.slice(0, name.indexOf(":")) : "";
  if (prefix === "color") return "colour";
  if (prefix === "camera" || prefix === "lens") return "camera";
  if (prefix === "taken") return "date";
  if (prefix === "country" || prefix === "place") return "place";
  if (["format", "orientation", "resolution"].includes(prefix) || TECHNICAL.has(name)) return "technical";
  return "content";  // what the classifier, another tagger or the owner says is in the picture
}

const everywhere = (name) => EVERYWHERE.has(name) || EVERYWHERE_PREFIXES.some((prefix) => name.startsWith(prefix));

// Content first, then places, colours, dates, cameras, technical; the most confident first within a kind.
function ordered(tags) {
  const rank = (tag) => KINDS.findIndex(([kind]) => kind === kindOf(tag.name));
  return [...tags].sort((a, b) => rank(a) - rank(b) || b.confidence - a.confidence);
}

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
  label.textContent = kind === "error" ? `Failed: ${text}` : text;
  label.className = `state ${kind}`;
  // A refused upload's bar may have filled while its bytes were sent: the row, not the bar, says how it ended.
  row.classList.toggle("failed", kind === "error");
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
        const fallback = request.status === 413 ? "too large for the app" : `HTTP ${request.status}`;
        finish(row, body?.error?.message || fallback, "error");
      }
      resolve();
    };
    request.onerror = () => { finish(row, "the app cannot be reached: is it running?", "error"); resolve(); };
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

function tagChip(item, tag, removable = true) {
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
  chip.append(filter);
  if (removable) chip.append(remove);
  updateChip(chip, tag);
  return chip;
}

function updateChip(chip, tag) {
  const kind = tag.source === "user" ? "user" : kindOf(tag.name) === "content" ? "content" : "";
  chip.className = `tag ${kind}`;
  chip.firstElementChild.title = `${tag.name} (${tag.source}, confidence ${tag.confidence})`;
}

function tagPath(id, name) {
  // Browsers and servers drop "." and ".." path segments, however encoded: the request would reach the image itself.
  if (name.trim() === "." || name.trim() === "..") throw new Error(`"${name}" cannot be a tag name.`);
  return `/api/images/${id}/tags/${encodeURIComponent(name)}`;
}

function card(item) {
  const node = $("card").content.firstElementChild.cloneNode(true);
  node.dataset.id = item.id;
  node.querySelector(".open").addEventListener("click", (event) => view(node.dataset.id, event.currentTarget));
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

function displayName(item) {
  return item.filename || `Image ${item.id.slice(0, 8)}`;
}

function updateCard(node, item) {
  const name = displayName(item);
  const shown = ordered(item.tags.filter((tag) => !everywhere(tag.name)));
  node.querySelector(".open").setAttribute("aria-label", `Open ${name}`);
  const img = node.querySelector("img");
  img.alt = !item.thumbnail ? "No preview" : shown.length ? `${name}: ${shown.slice(0, 4).map((t) => t.name).join(", ")}` : name;
  thumbnail(img, item);
  node.querySelector(".name").textContent = name;
  node.querySelector(".name").title = name;
  const meta = node.querySelector(".meta");
  const facts = [item.width ? `${item.width}×${item.height}` : "", new Date(item.uploaded_at).toLocaleDateString()];
  meta.textContent = facts.filter(Boolean).join(" · ");
  if (item.status !== "done") {  // "done" is every card's state: only the others are worth a word
    const state = document.createElement("span");
    state.className = item.status;
    state.textContent = item.status === "pending" ? "tagging… · " : `${item.status} · `;
    meta.prepend(state);
  }
  // When the tag whose "×" had the focus goes, the focus goes to this card's "add a tag" field.
  const input = node.querySelector(".add-tag input");
  reconcile(node.querySelector(".tags"), shown, (tag) => tag.name, (tag) => tagChip(item, tag), updateChip,
            () => input.focus());
}

// -- the full view: the image at full size, all its tags and facts -------------------------------------------

let viewing = null;  // the id shown, and the button that opened it

async function view(id, opener) {
  viewing = { id, opener };
  const dialog = $("viewer");
  $("viewer-title").textContent = displayName(state.items.find((item) => item.id === id) || { id });
  $("viewer-image").removeAttribute("src");
  $("viewer-image").alt = "";
  $("viewer-facts").replaceChildren();
  $("viewer-tags").replaceChildren();
  $("similar").replaceChildren();
  $("similar-status").textContent = "";
  $("viewer-status").textContent = "Loading…";
  if (!dialog.open) dialog.showModal();
  let image;
  try {
    image = await api("GET", `/api/images/${id}`);
  } catch (error) {
    if (viewing?.id !== id) return;
    $("viewer-status").textContent = error.status === 404 ? "This image was deleted." : error.message;
    if (error.status === 404) refresh();
    return;
  }
  if (viewing?.id !== id) return;  // another image was opened meanwhile
  showImage(image);
  showSimilar(id);
  try {
    const link = await api("GET", `/api/images/${id}/link`);
    if (viewing?.id === id) $("viewer-image").src = link.url;
  } catch (error) {
    if (viewing?.id === id) $("viewer-status").textContent = `The image cannot be shown: ${error.message}`;
  }
}

// A small card for lists of images (similar photos, duplicate groups): its thumbnail opens it.
function thumbCard(item, extra) {
  const node = document.createElement("li");
  node.className = "thumb";
  node.dataset.id = item.id;
  const open = document.createElement("button");
  open.type = "button";
  open.className = "open";
  open.setAttribute("aria-label", `Open ${displayName(item)}`);
  const img = document.createElement("img");
  img.alt = "";
  open.append(img);
  open.addEventListener("click", (event) => view(item.id, event.currentTarget));
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = displayName(item);
  name.title = displayName(item);
  node.append(open, name);
  if (extra) node.append(extra);
  thumbnail(img, item);
  return node;
}

async function showSimilar(id) {
  $("similar").replaceChildren();
  $("similar-status").textContent = "Looking…";
  let answer;
  try {
    answer = await api("GET", `/api/images/${id}/similar`);
  } catch (error) {
    if (viewing?.id === id) $("similar-status").textContent = error.message;
    return;
  }
  if (viewing?.id !== id) return;
  const count = answer.items.length;
  $("similar-status").textContent = count ? `${count} within ${answer.max_distance} bits of this one:` : "None.";
  $("similar").replaceChildren(...answer.items.map((item) => {
    const distance = document.createElement("span");
    distance.className = "hint";
    distance.textContent = item.distance === 0 ? "the same picture" : `${item.distance} bits apart`;
    return thumbCard(item, distance);
  }));
}

// -- near duplicates across the library ----------------------------------------------------------------------

const duplicates = { continuation: null, loaded: false };

async function findDuplicates(more = false) {
  if (canList()) { $("duplicates-status").textContent = canList(); return; }
  if (!more) { $("duplicate-groups").replaceChildren(); duplicates.continuation = null; }
  $("duplicates-status").textContent = "Looking…";
  const params = new URLSearchParams({ limit: "20" });
  if (more && duplicates.continuation) params.set("continuation", duplicates.continuation);
  let page;
  try {
    page = await api("GET", `/api/duplicates?${params}`);
  } catch (error) {
    $("duplicates-status").textContent = error.message;
    return;
  }
  duplicates.continuation = page.continuation;
  duplicates.loaded = true;
  $("duplicate-groups").append(...page.groups.map(groupCard));
  const shown = $("duplicate-groups").children.length;
  $("duplicates-status").textContent = shown ? `${shown} group${shown === 1 ? "" : "s"} of near duplicates` +
    (page.continuation ? " so far." : ".") : page.continuation ? "None so far." : "No near duplicates.";
  $("duplicates-more").hidden = !page.continuation;
}

// The copy to keep is the one with the most pixels (the original, as a rule), the newest of those.
function keeper(images) {
  const pixels = (item) => (item.width || 0) * (item.height || 0);
  return images.reduce((best, item) => (pixels(item) > pixels(best) ? item : best));
}

function groupCard(group) {
  const node = document.createElement("li");
  const images = [group.image, ...group.similar];
  const kept = keeper(images);
  const extras = images.filter((item) => item !== kept);
  const copies = (n) => `${n} cop${n === 1 ? "y" : "ies"}`;
  const heading = document.createElement("p");
  heading.textContent = `${displayName(kept)}, and ${copies(extras.length)} of it:`;
  const list = document.createElement("ul");
  list.className = "thumbs";
  const remove = (item) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "delete";
    button.textContent = "Delete";
    button.setAttribute("aria-label", `Delete ${displayName(item)}`);
    button.addEventListener("click", async () => {
      if (!confirm(`Delete ${displayName(item)}? This cannot be undone.`)) return;
      if (await change(() => api("DELETE", `/api/images/${item.id}`))) button.closest("li").remove();
    });
    return button;
  };
  const largest = document.createElement("span");
  largest.className = "hint";
  largest.textContent = "the largest: kept";
  list.append(thumbCard(kept, largest), ...extras.map((item) => thumbCard(item, remove(item))));
  const removeAll = document.createElement("button");
  removeAll.type = "button";
  removeAll.className = "delete";
  removeAll.textContent = `Delete the ${copies(extras.length)}`;
  removeAll.addEventListener("click", async () => {
    if (!confirm(`Delete ${copies(extras.length)} of ${displayName(kept)}? This cannot be undone.`)) return;
    for (const item of extras) {
      try {
        await api("DELETE", `/api/images/${item.id}`);
      } catch (error) {
        if (error.status !== 404) { setStatus(error.message); return; }  // gone already is what was wanted
      }
    }
    node.remove();
    refresh();
  });
  node.append(heading, list, removeAll);
  return node;
}

$("duplicates").addEventListener("toggle", () => { if ($("duplicates").open && !duplicates.loaded) findDuplicates(); });
$("duplicates-more").addEventListener("click", () => findDuplicates(true));

function showImage(image) {
  const name = displayName(image);
  $("viewer-title").textContent = name;
  const content = ordered(image.tags).filter((tag) => kindOf(tag.name) === "content").map((tag) => tag.name);
  $("viewer-image").alt = content.length ? `${name}: ${content.join(", ")}` : name;
  $("viewer-status").textContent = image.status === "done" ? "" : image.status === "pending"
    ? "Still being tagged." : `Tagging failed: ${image.error}`;
  const camera = [image.camera?.make, image.camera?.model].filter(Boolean).join(" ");
  const where = image.tags.filter((tag) => kindOf(tag.name) === "place").map((tag) => tag.name.split(":")[1]);
  const position = image.location ? `${image.location.latitude.toFixed(4)}, ${image.location.longitude.toFixed(4)}` : "";
  const facts = [
    ["Size", image.width ? `${image.width}×${image.height} (${image.megapixels} MP)` : ""],
    ["File", [image.format?.toUpperCase(), image.bytes ? `${(image.bytes / 1048576).toFixed(1)} MB` : ""].filter(Boolean).join(", ")],
    ["Taken", image.taken_at ? new Date(image.taken_at).toLocaleString() : ""],
    ["Camera", [camera, image.camera?.lens].filter(Boolean).join(", ")],
    ["Place", [where.join(", "), position].filter(Boolean).join(" · ")],
    ["Uploaded", new Date(image.uploaded_at).toLocaleString()],
  ];
  const list = $("viewer-facts");
  list.replaceChildren();
  for (const [term, value] of facts) {
    if (!value) continue;
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  }
  $("viewer-tags").replaceChildren(...ordered(image.tags).map((tag) => {
    const chip = tagChip(image, tag, false);
    chip.firstElementChild.addEventListener("click", () => $("viewer").close());
    return chip;
  }));
}

$("viewer-close").addEventListener("click", () => $("viewer").close());
$("viewer").addEventListener("close", () => {
  const opener = viewing?.opener;
  viewing = null;
  $("viewer-image").removeAttribute("src");
  if (opener?.isConnected) opener.focus();
});
// A click on the backdrop (outside the dialog's box) closes it, as Escape does.
$("viewer").addEventListener("click", (event) => { if (event.target === $("viewer")) $("viewer").close(); });

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
  const counted = api("GET", "/api/tags").then((body) => body.tags, () => state.known);
  for (let shown = 0; shown < state.pages; shown += 1) {
    const page = await listPage(continuation);
    items.push(...page.items);
    continuation = page.continuation;
    if (!continuation) break;
  }
  showTags(await counted);
  show(items, continuation);
}

// -- discovering tags: a browser by kind, the search's suggestions, and the closest tags to a search ---------

function showTags(known) {
  state.known = known;
  const list = $("known-tags");
  const names = known.map((tag) => tag.name);
  if ([...list.options].map((option) => option.value).join("\n") !== names.join("\n")) {
    list.replaceChildren(...known.map((tag) => new Option(`${tag.count} image${tag.count === 1 ? "" : "s"}`, tag.name)));
  }
  $("tag-total").textContent = known.length ? `(${known.length})` : "";
  const groups = KINDS.map(([kind, title]) => [title, known.filter((tag) => kindOf(tag.name) === kind)])
    .filter(([, tags]) => tags.length);
  const signature = JSON.stringify(groups);
  const holder = $("tag-groups");
  if (holder.dataset.signature === signature) return;  // unchanged: keep the focus where it is
  holder.dataset.signature = signature;
  holder.replaceChildren(...groups.map(([title, tags]) => {
    const group = document.createElement("section");
    const heading = document.createElement("h3");
    heading.textContent = title;
    const items = document.createElement("ul");
    items.append(...tags.map((tag) => countedTag(tag)));
    group.append(heading, items);
    return group;
  }));
  if (!known.length) holder.textContent = "No tags yet: upload a photo.";
}

function countedTag(tag) {
  const chip = document.createElement("li");
  chip.className = `tag ${kindOf(tag.name) === "content" ? "content" : ""}`;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = tag.name;
  const count = document.createElement("span");
  count.className = "count";
  count.textContent = String(tag.count);
  button.append(count);
  button.setAttribute("aria-label", `${tag.name}, ${tag.count} image${tag.count === 1 ? "" : "s"}`);
  button.addEventListener("click", () => search([tag.name]));
  chip.append(button);
  return chip;
}

// The tags nearest to a word that matched none: `green` -> `color:green`, `dogs` -> `dog`, a typo -> the word.
function closest(word) {
  const wanted = word.toLowerCase();
  const scored = [];
  for (const tag of state.known) {
    const name = tag.name;
    const bare = name.includes(":") ? name.slice(name.indexOf(":") + 1) : name;
    let score = null;
    if (bare === wanted) score = 0;
    else if (bare.startsWith(wanted) || wanted.startsWith(bare)) score = 1;
    else if (name.includes(wanted)) score = 2;
    else if (distance(bare, wanted) <= Math.max(1, Math.floor(wanted.length / 4))) score = 3;
    if (score !== null) scored.push([score, -tag.count, tag]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return scored.slice(0, 5).map(([, , tag]) => tag);
}

function distance(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      row.push(Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    previous = row;
  }
  return previous[b.length];
}

function suggest(items) {
  const box = $("suggestions");
  const missing = state.tags.filter((name) => !state.known.some((tag) => tag.name === name));
  if (items === null || items.length || !state.tags.length) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const alternatives = missing.flatMap((name) => closest(name)).filter((tag, i, all) => all.indexOf(tag) === i);
  const text = document.createElement("p");
  if (!missing.length) text.textContent = "No image carries all of these tags together.";
  else if (alternatives.length) text.textContent = `No image is tagged ${missing.join(" or ")}. Did you mean:`;
  else text.textContent = `No image is tagged ${missing.join(" or ")}. Browse the tags above to see what there is.`;
  const signature = JSON.stringify([text.textContent, alternatives.map((tag) => tag.name)]);
  if (box.dataset.signature === signature && !box.hidden) return;
  box.dataset.signature = signature;
  box.replaceChildren(text, ...alternatives.map((tag) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `${tag.name} (${tag.count})`;
    button.addEventListener("click", () => search(state.tags.map((name) => (missing.includes(name) ? tag.name : name))));
    return button;
  }));
  box.hidden = false;
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
  suggest(status === null ? state.items : null);
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
    mark(id, image.status === "done" ? "tagged" : image.error, image.status === "done" ? "done" : "error");
    settled = true;
  }
  timer = null;
  if (settled) refresh();
  if (state.pending.size) schedulePoll();
}

setInterval(() => { if (document.visibilityState === "visible") refresh(); }, RELIST_MS);
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refresh(); });

detectSignIn().then(refresh);

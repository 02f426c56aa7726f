// The cinerec page: search, like or rate, see recommendations with reasons.
// Plain browser JavaScript, no build step. The profile id lives in localStorage so a
// reload restores the person's ratings from the server.
"use strict";

const PROFILE_KEY = "cinerec.profile";
const state = {
  profileId: localStorage.getItem(PROFILE_KEY),
  ratings: {},        // movie id (string) -> stars, or null for a like
  results: [],        // last search results
  recs: [],
  mine: [],
  similar: null,      // {movie, list}
};

const $ = (id) => document.getElementById(id);

// The page shows 5 stars; a data set rated on another scale (/health's stars_range, e.g.
// 0 to 10) gets them spread over it, and MovieLens's 1 to 5 (or 0.5 to 5) as they are.
let scale = [1, 5];
const asIs = () => scale[0] <= 1 && scale[1] === 5;
const toStars = (n) => (asIs() ? n : scale[0] + ((n - 1) * (scale[1] - scale[0])) / 4);
const fromStars = (v) => (asIs() ? v : 1 + ((v - scale[0]) * 4) / (scale[1] - scale[0]));

async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error(describeError(data) || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function describeError(data) {
  if (!data || !data.detail) return "";
  if (typeof data.detail === "string") return data.detail;
  return data.detail.map((d) => d.msg).join("; ");
}

// -- rendering -----------------------------------------------------------------------

function movieItem(m, { reason = null, compact = false, remove = false } = {}) {
  const li = $("movie-template").content.firstElementChild.cloneNode(true);
  const id = String(m.movie_id);
  li.dataset.movieId = id;
  const title = li.querySelector(".title");
  title.textContent = m.title;
  title.addEventListener("click", () => showSimilar(m));
  li.querySelector(".year").textContent = m.year ? `(${m.year})` : "";
  li.querySelector(".genres").textContent = (m.genres || []).join(" · ");
  li.querySelector(".reason").textContent = reason || "";

  const actions = li.querySelector(".actions");
  const like = li.querySelector(".like");
  const stars = li.querySelector(".stars");
  if (remove) {
    like.remove();
    stars.remove();
    const mine = state.ratings[id];
    const what = document.createElement("span");
    what.className = "my-rating";
    what.textContent = mine == null ? "♥" : "★".repeat(Math.max(1, Math.round(fromStars(mine))));
    what.setAttribute("aria-label", mine == null ? "liked" : `rated ${mine} stars`);
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "remove";
    btn.textContent = "remove";
    btn.setAttribute("aria-label", `Remove ${m.title}`);
    btn.addEventListener("click", () => forget(id));
    actions.append(what, btn);
    return li;
  }
  const mine = state.ratings[id];
  const liked = id in state.ratings && mine === null;
  like.setAttribute("aria-pressed", String(liked));
  like.setAttribute("aria-label", `${liked ? "Unlike" : "Like"} ${m.title}`);
  like.addEventListener("click", () => (liked ? forget(id) : save({ liked: [m.movie_id] }, m)));
  stars.setAttribute("aria-label", `Rate ${m.title}`);
  for (let n = 1; n <= 5; n++) {
    const s = document.createElement("button");
    s.type = "button";
    s.className = "star" + (mine != null && fromStars(mine) >= n - 1e-9 ? " on" : "");
    s.textContent = "★";
    s.setAttribute("aria-label", `${n} star${n > 1 ? "s" : ""}`);
    s.addEventListener("click", () => save({ ratings: { [id]: toStars(n) } }, m));
    stars.append(s);
  }
  if (compact) li.classList.add("compact");
  return li;
}

function renderList(el, movies, opts = {}) {
  el.replaceChildren(...movies.map((m) => movieItem(m, { ...opts, reason: opts.reasons ? m.reason : null })));
}

function renderAll() {
  renderList($("results"), state.results);
  renderList($("recs"), state.recs, { reasons: true });
  renderList($("mine"), state.mine, { remove: true });
  $("mine-status").textContent = state.mine.length ? `${state.mine.length} movie${state.mine.length > 1 ? "s" : ""}` : "Nothing yet.";
  $("profile-id").textContent = state.profileId || "none yet";
  $("forget").hidden = !state.profileId;
  if (state.similar) {
    $("similar-title").textContent = state.similar.movie.title;
    renderList($("similar"), state.similar.list);
  }
}

function applyProfile(p) {
  state.profileId = p.profile_id;
  localStorage.setItem(PROFILE_KEY, p.profile_id);
  state.ratings = p.ratings;
  state.mine = p.movies;
  state.recs = p.recommendations;
  $("recs-status").textContent = p.source === "popular"
    ? "Popular with many viewers — like a few movies to personalise."
    : `${p.recommendations.length} picks from the ${Object.keys(p.ratings).length} movies you gave.`;
  renderAll();
}

// -- actions -------------------------------------------------------------------------

async function save(payload, movie) {
  $("recs-status").textContent = `Updating for ${movie.title}…`;
  try {
    if (!state.profileId) {
      const made = await api("POST", "/profiles", payload);
      state.profileId = made.profile_id;
      localStorage.setItem(PROFILE_KEY, made.profile_id);
      applyProfile(await api("GET", `/profiles/${encodeURIComponent(made.profile_id)}`));
    } else {
      applyProfile(await api("PUT", `/profiles/${encodeURIComponent(state.profileId)}/ratings`, payload));
    }
  } catch (e) {
    if (e.status === 404) { resetProfile(); return save(payload, movie); }
    $("recs-status").textContent = `Could not save: ${e.message}`;
  }
}

async function forget(id) {
  if (!state.profileId) return;
  try {
    applyProfile(await api("DELETE", `/profiles/${encodeURIComponent(state.profileId)}/ratings/${encodeURIComponent(id)}`));
  } catch (e) {
    $("recs-status").textContent = `Could not remove: ${e.message}`;
  }
}

function resetProfile() {
  localStorage.removeItem(PROFILE_KEY);
  Object.assign(state, { profileId: null, ratings: {}, recs: [], mine: [] });
  $("recs-status").textContent = "Like a few movies to get recommendations.";
  renderAll();
}

async function showSimilar(m) {
  try {
    const list = await api("GET", `/movies/${encodeURIComponent(m.movie_id)}/similar?k=8`);
    state.similar = { movie: m, list };
    $("similar-box").hidden = false;
    renderAll();
    $("similar-heading").scrollIntoView({ block: "nearest" });
  } catch (e) {
    $("search-status").textContent = `Could not find similar movies: ${e.message}`;
  }
}

let searchTimer = null;
let searchAbort = null;

function scheduleSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 180);
}

async function runSearch() {
  const query = $("search").value.trim();
  const genre = $("genre").value;
  const params = new URLSearchParams({ query, limit: "15" });
  if (genre) params.set("genre", genre);
  if (searchAbort) searchAbort.abort();
  searchAbort = new AbortController();
  try {
    const res = await fetch(`/movies?${params}`, { signal: searchAbort.signal });
    if (!res.ok) throw new Error(describeError(await res.json().catch(() => null)) || res.statusText);
    state.results = await res.json();
    $("search-status").textContent = state.results.length
      ? (query ? `${state.results.length} match${state.results.length > 1 ? "es" : ""} for “${query}”` : "Most rated movies")
      : `No movie matches “${query}”.`;
    renderAll();
  } catch (e) {
    if (e.name !== "AbortError") $("search-status").textContent = `Search failed: ${e.message}`;
  }
}

async function init() {
  $("search").addEventListener("input", scheduleSearch);
  $("genre").addEventListener("change", runSearch);
  $("forget").addEventListener("click", resetProfile);
  try {
    const h = await api("GET", "/health");
    $("service").textContent = `${h.dataset}: ${h.movies.toLocaleString()} movies, model ${h.model}`;
    if (Array.isArray(h.stars_range) && h.stars_range[1] > h.stars_range[0]) scale = h.stars_range;
    for (const g of h.genres) {
      if (g === "unknown" || g === "(no genres listed)") continue;
      const o = document.createElement("option");
      o.value = g;
      o.textContent = g;
      $("genre").append(o);
    }
  } catch (e) {
    $("service").textContent = `The service is not answering: ${e.message}`;
  }
  if (state.profileId) {
    try {
      applyProfile(await api("GET", `/profiles/${encodeURIComponent(state.profileId)}`));
    } catch (e) {
      if (e.status === 404) resetProfile();
      else $("recs-status").textContent = `Could not load your profile: ${e.message}`;
    }
  }
  await runSearch();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", init);

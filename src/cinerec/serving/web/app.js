// The cinerec page: search, like or rate, see recommendations with reasons.
// Plain browser JavaScript, no build step. The profile id lives in localStorage so a
// reload restores the person's ratings from the server; the page's address with
// ?profile=ID opens that profile in another browser.
"use strict";

const PROFILE_KEY = "cinerec.profile";
const linked = new URLSearchParams(location.search).get("profile");
// This browser's own profile before the link was opened: kept if the link's is not here.
const previous = localStorage.getItem(PROFILE_KEY);
const state = {
  profileId: linked || previous,
  ratings: {},        // movie id (string) -> stars, or null for a like
  results: [],        // last search results
  recs: [],
  mine: [],
  similar: null,      // {movie, list, error}
  loading: false,     // the saved profile is on its way
  loadFailed: false,  // the saved profile could not be read: its movies are not known here
};

const $ = (id) => document.getElementById(id);

// The page shows 5 stars; a data set rated on another scale (/health's stars_range, e.g.
// 0 to 10, or -5 to 5) gets them spread over it, and MovieLens's 1 to 5 (or 0.5 to 5, or
// 0 to 5) as they are.
let scale = [1, 5];
// A data set whose every rating is the same number (a "rating" column of 1s) has no
// scale to spread stars over: the page then offers likes alone.
let likesOnly = false;
// (From 0 at least: -5 to 5 taken as is made the lowest star +1, a liked rating there.)
const asIs = () => scale[0] >= 0 && scale[0] <= 1 && scale[1] === 5;
const toStars = (n) => (asIs() ? n : scale[0] + ((n - 1) * (scale[1] - scale[0])) / 4);
const fromStars = (v) => (asIs() ? v : 1 + ((v - scale[0]) * 4) / (scale[1] - scale[0]));
// The page's stars a rating lights, the same wherever it is shown (4.5 lights 5).
const shownStars = (v) => Math.min(5, Math.max(1, Math.round(fromStars(v))));
// "." and ".." are no path segment a browser sends as written (/movies/./similar is
// /movies/similar, /profiles/.. is /).
const dotted = (id) => id === "." || id === "..";
// An id as a message shows it: quoted, and cut as the server cuts the ids it echoes.
const shownId = (id) => (id.length > 200 ? `“${id.slice(0, 200)}…” (${id.length} characters)` : `“${id}”`);
// (counts written as the server writes them in its notes: 1,674)
const plural = (n, word) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
// A film the catalogue lists under more than one id (the API's same_film) is one film to
// a person: its ids, its own first; the one the profile holds it under (its own or
// another's), else its own; and a list with each film once, where it first comes.
const filmIds = (m) => [String(m.movie_id), ...(m.same_film || []).map(String)];
const heldIds = (m) => filmIds(m).filter((x) => x in state.ratings);
const heldId = (m) => heldIds(m)[0] ?? String(m.movie_id);
function oneEach(movies) {
  const shown = new Set();
  return movies.filter((m) => {
    const ids = filmIds(m);
    if (ids.some((x) => shown.has(x))) return false;
    ids.forEach((x) => shown.add(x));
    return true;
  });
}

// fetch, saying so plainly when no answer came at all (the browser says only "Failed to
// fetch"); a request the page itself aborted stays an AbortError.
async function reach(path, init) {
  try {
    return await fetch(path, init);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new Error("the server cannot be reached; is it still running?");
  }
}

async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await reach(path, init);
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

// A control whose request is on its way takes no second click: a double click sends one
// request, not two (the second a removal of what the first removed, or a like undone).
function onClick(button, action) {
  button.addEventListener("click", () => {
    if (button.dataset.busy) return;
    button.dataset.busy = "true";
    Promise.resolve(action()).finally(() => { delete button.dataset.busy; });
  });
}

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
    // On data of plain events (likes only) a rating saved through the API is a like, as the
    // server reads it: shown as one, not as a star the page never offers.
    const mine = likesOnly ? null : state.ratings[heldId(m)];  // (held under its other id, where a filter dropped this one's)
    const what = document.createElement("span");
    what.className = "my-rating";
    what.textContent = mine == null ? "♥" : "★".repeat(shownStars(mine));
    // The stars it lights, and on another scale the rating in that scale's numbers too
    // ("rated 5.25 stars" beside three stars on a 0.5 to 10 log).
    const lit = shownStars(mine);
    what.setAttribute("aria-label", mine == null ? "liked" : asIs() ? `rated ${mine} star${mine === 1 ? "" : "s"}`
      : `rated ${lit} star${lit === 1 ? "" : "s"} (${mine} on this data's scale of ${scale[0]} to ${scale[1]})`);
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "remove";
    btn.textContent = "remove";
    btn.setAttribute("aria-label", `Remove ${m.title}`);
    // (every id it is held under: removed under one, the film stayed under the other)
    onClick(btn, () => forget(heldIds(m)));
    actions.append(what, btn);
    return li;
  }
  // (a film liked or rated under its other id shows so here too)
  const held = heldId(m);
  const mine = likesOnly ? null : state.ratings[held];
  const liked = held in state.ratings && mine == null;
  like.setAttribute("aria-pressed", String(liked));
  like.setAttribute("aria-label", `${liked ? "Unlike" : "Like"} ${m.title}`);
  onClick(like, () => (liked ? forget(heldIds(m)) : save({ liked: [m.movie_id] }, m)));
  stars.setAttribute("aria-label", `Rate ${m.title}`);
  if (likesOnly) stars.remove();
  const lit = mine != null ? shownStars(mine) : 0;
  for (let n = 1; n <= 5 && !likesOnly; n++) {
    const s = document.createElement("button");
    s.type = "button";
    s.className = "star" + (n <= lit ? " on" : "");
    s.textContent = "★";
    s.setAttribute("aria-label", `${n} star${n > 1 ? "s" : ""}`);
    s.setAttribute("aria-pressed", String(n === lit));
    onClick(s, () => save({ ratings: { [id]: toStars(n) } }, m));
    stars.append(s);
  }
  if (compact) li.classList.add("compact");
  return li;
}

function renderList(el, movies, opts = {}) {
  el.replaceChildren(...movies.map((m) => movieItem(m, { ...opts, reason: opts.reasons ? m.reason : null })));
}

// Which control has the focus, as (list, movie, control), so that a list drawn again
// gives it back to the same control instead of dropping it on the page.
function focusKey() {
  const el = document.activeElement;
  const li = el && el.closest ? el.closest("li.movie") : null;
  if (!li || !li.parentElement) return null;
  const stars = [...li.querySelectorAll(".star")];
  const control = stars.includes(el) ? `.star:nth-child(${stars.indexOf(el) + 1})`
    : ["like", "remove", "title"].map((c) => `.${c}`).find((c) => el.matches(c));
  const place = [...li.parentElement.children].indexOf(li);
  return control ? { list: li.parentElement.id, movie: li.dataset.movieId, control, place } : null;
}

// A movie that left its list (liked from the recommendations, removed from "Your
// movies") hands the focus to the movie now in its place, else to the list's heading:
// a keyboard user goes on from there rather than from the top of the page.
function restoreFocus(key) {
  if (!key) return;
  const list = $(key.list);
  let li = list.querySelector(`li.movie[data-movie-id="${CSS.escape(key.movie)}"]`);
  if (!li && list.children.length) li = list.children[Math.min(key.place, list.children.length - 1)];
  const target = li && (li.querySelector(key.control) || li.querySelector(".title"));
  if (target) target.focus();
  else if (document.activeElement === document.body || !document.activeElement) focusHeading(list);
}

function focusHeading(list) {
  const heading = list.closest("section, #similar-box").querySelector("h2");
  heading.tabIndex = -1;
  heading.focus();
}

function renderAll() {
  const focused = focusKey();
  renderList($("results"), state.results);
  renderList($("recs"), state.recs, { reasons: true });
  const mine = oneEach(state.mine);
  renderList($("mine"), mine, { remove: true });
  // Saved movies this run does not hold (a profile kept from a run of other data) count
  // for nothing here: said apart, not added to the movies shown.
  const held = new Set(state.mine.flatMap(filmIds));
  const elsewhere = Object.keys(state.ratings).filter((x) => !held.has(x)).length;
  const apart = elsewhere > 0 ? ` (and ${plural(elsewhere, "saved movie")} this run does not hold, kept for one that does)` : "";
  // (a profile that could not be read is not an empty one)
  $("mine-status").textContent = state.loading ? "Loading…"
    : state.loadFailed ? "Could not load your movies."
      : (mine.length ? plural(mine.length, "movie") : "Nothing yet.") + apart;
  $("profile-id").textContent = state.profileId || "none yet";
  $("forget").hidden = !state.profileId;
  $("profile-link").hidden = !state.profileId;
  if (state.profileId) $("profile-link").href = profileLink(state.profileId);
  if (state.similar) {
    $("similar-title").textContent = state.similar.movie.title;
    renderList($("similar"), state.similar.list);
    $("similar-status").textContent = state.similar.error
      ? `Could not find similar movies: ${state.similar.error}`
      : state.similar.list.length ? "" : `No movie has enough in common with ${state.similar.movie.title}.`;
  }
  restoreFocus(focused);
}

// The page's own address with this profile: opened elsewhere, it shows the same movies.
function profileLink(id) {
  const url = new URL(location.href);
  url.search = new URLSearchParams({ profile: id }).toString();
  url.hash = "";
  return url.toString();
}

function applyProfile(p) {
  state.profileId = p.profile_id;
  localStorage.setItem(PROFILE_KEY, p.profile_id);
  if (p.profile_id === linked) forgetLink();  // held here from now on: a reload need not carry it
  state.ratings = p.ratings;
  state.mine = p.movies;
  state.loadFailed = false;
  state.recs = p.recommendations;
  // What the server says beside the list (none of the movies given counts as liked, so
  // the picks are the most rated; or why the list is short), as the command line says it;
  // an empty list is said once. Picks each listed for its popularity alone are not said to
  // come from the movies given.
  const notes = p.recommendations.length ? (p.notes || []).map((n) => `${n.charAt(0).toUpperCase()}${n.slice(1)}.`) : [];
  // (a reason naming no liked movie, nor "what you watched": listed for its popularity)
  const popularOnly = p.recommendations.every((r) => r.reason_movie_id === null
    && r.reason !== "popular with people who watched what you watched");
  // (the note of a list cut short, "N movies listed, not K" (serving/lists.py), counts the
  // movies given by their ids, where the page counts a film under two ids once: beside it,
  // the page gives no count of its own)
  const gave = plural(oneEach(p.movies).length, "movie");
  const given = notes.some((n) => /listed, not \d/.test(n)) ? "movies" : gave;
  const status = p.source === "popular"
    ? "Popular with many viewers — like a few movies to personalise."
    : p.recommendations.length
      ? (popularOnly ? `${plural(p.recommendations.length, "pick")}, none drawn from the movies you gave.`
        : `${plural(p.recommendations.length, "pick")} from the ${given} you gave.`)
      : `No picks: no movie is left to recommend beyond the ${gave} you gave.`;
  $("recs-status").textContent = [status, ...notes].join(" ");
  renderAll();
}

// -- actions -------------------------------------------------------------------------

// Changes to the profile run one at a time, in the order asked: two quick clicks save
// in that order and the page shows the last one, a second like waits for the profile
// the first one creates, and a late answer never overwrites a newer one. "Start over"
// ends an era: what was asked before it is dropped, and its answers are ignored.
let queue = Promise.resolve();
let era = 0;

function enqueue(work) {
  const mine = era;
  queue = queue
    .then(() => (mine === era ? work(() => mine === era) : undefined))
    .catch((e) => { $("recs-status").textContent = `Something went wrong: ${e.message}`; });  // the queue goes on
  return queue;
}

function save(payload, movie) {
  $("recs-status").textContent = `Updating for ${movie.title}…`;
  return enqueue(async (current) => {
    // Why the change went to another profile than the one shown, said before the picks:
    // the profile gone, and where the change went instead.
    let gone = "", went = "", made = false;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        let p;
        if (!state.profileId) {
          const created = await api("POST", "/profiles", payload);
          if (!current()) return;
          state.profileId = created.profile_id;
          localStorage.setItem(PROFILE_KEY, created.profile_id);
          made = true;  // (the rating is saved in it: a failed read back does not undo that)
          p = await api("GET", `/profiles/${encodeURIComponent(created.profile_id)}`);
        } else {
          p = await api("PUT", `/profiles/${encodeURIComponent(state.profileId)}/ratings`, payload);
        }
        if (current()) {
          applyProfile(p);
          if (gone) $("recs-status").textContent = `${gone}, ${went}. ${$("recs-status").textContent}`;
        }
        return;
      } catch (e) {
        if (!current()) return;
        if (e.status === 404 && attempt === 0) {
          // Gone: once more, to this browser's own profile (a stale link's) or a new one;
          // the missing id is named, as a reload names it, so a link can bring it back.
          const missing = state.profileId;
          const link = missing === linked && !linkDone;  // the address's id, never loaded (its load failed)
          if (backFromLink()) [gone, went] = [`No profile ${shownId(missing)} here`, "so this went to the profile this browser had"];
          else {
            clearProfile();
            gone = link ? `No profile ${shownId(missing)} here`
              : dotted(missing) ? `This browser's profile id ${shownId(missing)} can name no profile`
                : `This browser's profile ${shownId(missing)} is not on this server`;
            went = "so a new one was started";
          }
          continue;
        }
        const moved = !gone ? "" : made ? `${gone}, ${went}. ` : `${gone}. `;
        $("recs-status").textContent = moved
          + (made ? `Saved, but the picks could not be shown: ${e.message}` : `Could not save: ${e.message}`);
        return;
      }
    }
  });
}

// Remove the movie ids ``ids`` (one film's: each id the profile holds it under).
function forget(ids) {
  return enqueue(async (current) => {
    if (!state.profileId) return;
    let p;  // the profile as the last removal left it
    try {
      for (const id of ids) {
        p = await api("DELETE", `/profiles/${encodeURIComponent(state.profileId)}/ratings`
          + (dotted(id) ? `?${new URLSearchParams({ movie_id: id })}` : `/${encodeURIComponent(id)}`));
      }
      if (p && current()) applyProfile(p);
    } catch (e) {
      if (!current()) return;
      if (p) applyProfile(p);  // (one id removed before another failed: shown as the server holds it)
      if (e.status === 404) return loadProfile(current);  // removed elsewhere: show what the server holds
      $("recs-status").textContent = `Could not remove: ${e.message}`;
    }
  });
}

async function loadProfile(current) {
  state.loading = true;
  try {
    // A profile id "." or "..", or an answer that is no profile, is one this server does not hold.
    const p = dotted(state.profileId) ? null
      : await api("GET", `/profiles/${encodeURIComponent(state.profileId)}`);
    if (!p || typeof p.profile_id !== "string") throw Object.assign(new Error("no such profile"), { status: 404 });
    if (current()) applyProfile(p);
  } catch (e) {
    if (!current()) return;
    // Gone, or an id this server cannot hold (a hand-edited one): start afresh.
    if (e.status === 404 || e.status === 422) {
      const missing = state.profileId;
      const link = missing === linked && !linkDone;  // the page's first load, of the id its address gave
      if (backFromLink()) {  // a mistyped or stale link
        await loadProfile(current);
        if (current() && state.profileId === previous) {
          $("recs-status").textContent = `No profile ${shownId(missing)} here, so this is the profile this browser had. `
            + $("recs-status").textContent;
        }
        return;
      }
      resetProfile();
      // (this browser's own, gone from the server: removed, or a server keeping its profiles
      // elsewhere; or an id no server holds, edited by hand)
      $("recs-status").textContent = link
        ? `No profile ${shownId(missing)} here. Like a few movies to get recommendations.`
        : (dotted(missing) ? `This browser's profile id ${shownId(missing)} can name no profile. `
          : `This browser's profile ${shownId(missing)} is not on this server. `)
          + "Like a few movies to start a new one.";
    }
    else {
      state.loadFailed = true;
      $("recs-status").textContent = `Could not load your profile: ${e.message}`;
    }
  } finally {
    state.loading = false;
    renderAll();
  }
}

// Whether the id the page's address gave has been answered for (found, or found missing):
// a profile missing later (removed elsewhere) starts afresh, as any other does.
let linkDone = false;

function forgetLink() {
  linkDone = true;
  const url = new URL(location.href);
  if (!url.searchParams.has("profile")) return;
  url.searchParams.delete("profile");
  history.replaceState(null, "", url);
}

// The linked profile, found missing before it was ever loaded: back to this browser's own
// profile (true) where it had one other than the link's.
function backFromLink() {
  if (state.profileId !== linked || linkDone) return false;
  forgetLink();
  if (!previous || previous === linked) return false;
  state.profileId = previous;
  return true;
}

function clearProfile() {
  localStorage.removeItem(PROFILE_KEY);
  Object.assign(state, { profileId: null, ratings: {}, recs: [], mine: [], loadFailed: false });
}

function resetProfile() {
  era += 1;
  clearProfile();
  $("recs-status").textContent = "Like a few movies to get recommendations.";
  renderAll();
}

let similarAsked = 0;

async function showSimilar(m) {
  const asked = ++similarAsked;  // only the last title clicked is shown
  $("similar-box").hidden = false;
  $("similar-title").textContent = m.title;
  $("similar-status").textContent = `Finding movies like ${m.title}…`;
  // A title clicked in this list leaves with it: the focus goes to the list's heading, not
  // to the page's body.
  const inside = $("similar").contains(document.activeElement);
  $("similar").replaceChildren();
  if (inside) focusHeading($("similar"));
  let list = [];
  let error = null;
  try {
    const id = String(m.movie_id);
    list = await api("GET", dotted(id) ? `/similar?${new URLSearchParams({ movie_id: id, k: 8 })}`
      : `/movies/${encodeURIComponent(id)}/similar?k=8`);
  } catch (e) {
    error = e.message;
  }
  if (asked !== similarAsked) return;
  state.similar = { movie: m, list, error };
  $("similar-box").hidden = false;
  renderAll();
  $("similar-heading").scrollIntoView({ block: "nearest" });
}

// The search's list holds at most this many movies.
const SHOWN = 15;
let searchTimer = null;
let searchAbort = null;

function scheduleSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 180);
}

async function runSearch() {
  const query = $("search").value.trim();
  const genre = $("genre").value;
  // One more than is shown: whether there are more matches than the list holds.
  const params = new URLSearchParams({ query, limit: String(SHOWN + 1) });
  if (genre) params.set("genre", genre);
  if (searchAbort) searchAbort.abort();
  searchAbort = new AbortController();
  $("search-status").textContent = query ? `Searching for “${query}”…` : "Loading the most rated movies…";
  try {
    const res = await reach(`/movies?${params}`, { signal: searchAbort.signal });
    if (!res.ok) throw new Error(describeError(await res.json().catch(() => null)) || `${res.status} ${res.statusText}`.trim());
    const found = await res.json();
    state.results = oneEach(found.slice(0, SHOWN));  // (a film under two ids is one match, shown once)
    const within = genre ? ` in ${genre}` : "";
    const films = state.results.length;
    const more = found.length > SHOWN;
    $("search-status").textContent = films
      ? (query ? (more ? `The first ${films} matches for “${query}”${within}; type more of the title to narrow them`
        : `${films} match${films > 1 ? "es" : ""} for “${query}”${within}`)
        : `Most rated movies${within}`)
      : `No movie matches “${query}”${within}.`;
    renderAll();
  } catch (e) {
    if (e.name === "AbortError") return;
    $("search-status").textContent = `Search failed: ${e.message}`;
    state.results = [];  // the last query's results are no answer to this one
    renderAll();
  }
}

async function init() {
  $("search").addEventListener("input", scheduleSearch);
  $("genre").addEventListener("change", runSearch);
  if (state.profileId) {  // said at once, not after /health: the page has a profile on its way
    $("recs-status").textContent = "Loading your movies…";
    state.loading = true;
    renderAll();
  }
  $("forget").addEventListener("click", () => { resetProfile(); $("search").focus(); });
  try {
    const h = await api("GET", "/health");
    // A made-up release (cinerec data synthesize) is said to be one wherever it is shown.
    const made = h.synthetic ? " (synthetic data: made-up ratings, not a real release)" : "";
    $("service").textContent = `${h.dataset}${made}: ${h.movies.toLocaleString()} movies, model ${h.model}`;
    if (Array.isArray(h.stars_range) && h.stars_range[1] > h.stars_range[0]) scale = h.stars_range;
    else if (Array.isArray(h.stars_range) && h.stars_range[1] === h.stars_range[0]) likesOnly = true;
    for (const g of h.genres) {
      if (g === "unknown" || g === "(no genres listed)") continue;
      const o = document.createElement("option");
      o.value = g;
      o.textContent = g;
      $("genre").append(o);
    }
    // Data that gave no genres: no menu holding "All genres" alone.
    $("genre").hidden = $("genre").options.length < 2;
  } catch (e) {
    $("service").textContent = `The service is not answering: ${e.message}`;
  }
  // The profile loads beside the search, in the queue of changes (a like given
  // meanwhile waits for it), saying so while it comes. A linked id is kept in this
  // browser only once the server has it (applyProfile): one it could not check stays in
  // the address, for a reload to try again, and this browser's own profile stays stored.
  if (state.profileId) enqueue(loadProfile);
  await Promise.all([runSearch(), queue]);
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", init);

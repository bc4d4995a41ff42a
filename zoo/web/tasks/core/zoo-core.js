// actionzoo multi-page task core.
// Implements the MiniWoB episode protocol (Math.seedrandom(seed); core.startEpisodeReal();
// core.getUtterance(); WOB_DONE_GLOBAL / WOB_RAW_REWARD_GLOBAL / WOB_REWARD_GLOBAL) for tasks
// whose pages navigate: the episode (problem, entered data, start time, verdict) lives in
// sessionStorage, so every page of the task reads and continues the same episode.
var WOB_REWARD_GLOBAL = 0;
var WOB_RAW_REWARD_GLOBAL = 0;
var WOB_REWARD_REASON = null;
var WOB_DONE_GLOBAL = false;
var WOB_TASK_READY = true;
var core = { EPISODE_MAX_TIME: 15000, EP_TIMER: null, state: null, renderPage: null };
var STORAGE_KEY = 'actionzoo-episode';

// ---- seeded random numbers: FNV-1a hash of the seed text, then a splitmix32 stream
Math.seedrandom = function (seed) {
  var h = 2166136261 >>> 0, text = String(seed);
  for (var i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
  var s = h;
  Math.random = function () {
    s = (s + 0x9e3779b9) >>> 0;
    var z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
};
core.randi = function (lo, hi) { return lo + Math.floor(Math.random() * (hi - lo)); };
core.sample = function (list) { return list[core.randi(0, list.length)]; };
core.shuffle = function (list) {
  for (var i = list.length - 1; i > 0; i--) { var j = core.randi(0, i + 1); var t = list[i]; list[i] = list[j]; list[j] = t; }
  return list;
};
// A generator fixed by the episode seed and a key, for content that depends on what the
// agent typed (e.g. search results for a query) but must stay the same within the episode.
core.rngFor = function (key) {
  var saved = Math.random;
  Math.seedrandom(String(core.state ? core.state.seed : 0) + '|' + key);
  var rng = Math.random;
  Math.random = saved;
  return rng;
};

core.FIRST = ['Ada', 'Ben', 'Cora', 'Dev', 'Elena', 'Farid', 'Gwen', 'Hugo', 'Iris', 'Jonas', 'Kira', 'Liam',
  'Maya', 'Nils', 'Omar', 'Pia', 'Quinn', 'Rosa', 'Sami', 'Tara', 'Uma', 'Victor', 'Wen', 'Yara'];
core.LAST = ['Alvarez', 'Brooks', 'Chen', 'Dubois', 'Eriksen', 'Fischer', 'Garcia', 'Hale', 'Ito', 'Jensen',
  'Kowalski', 'Lopez', 'Moreau', 'Novak', 'Okafor', 'Patel', 'Rossi', 'Silva', 'Tanaka', 'Weber'];
core.personName = function (rng) {
  rng = rng || Math.random;
  return core.FIRST[Math.floor(rng() * core.FIRST.length)] + ' ' + core.LAST[Math.floor(rng() * core.LAST.length)];
};

// ---- episode state across pages
core.save = function () { sessionStorage.setItem(STORAGE_KEY, JSON.stringify(core.state)); };
core.loadState = function () {
  try { return JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null'); } catch (e) { return null; }
};
core.param = function (name) { return new URLSearchParams(location.search).get(name); };
core.set = function (key, value) { core.state.data[key] = value; core.save(); };
core.get = function (key, fallback) {
  var v = core.state && core.state.data[key];
  return v === undefined ? fallback : v;
};
// True on the episode's first call with this key, false ever after (survives navigations): for
// pages that show something once, like a code to remember.
core.firstVisit = function (key) {
  if (core.get(key, false)) return false;
  core.set(key, true);
  return true;
};
// Navigate to another page of the task (tells the harness a navigation is coming).
core.go = function (url) {
  if (window.__zoo) window.__zoo.leaving = true;
  location.href = url;
};

core.getUtterance = function () {
  var q = document.getElementById('query');
  return q ? q.textContent.replace(/\s+/g, ' ').trim() : '';
};

core.armTimer = function () {
  if (core.EP_TIMER !== null) clearTimeout(core.EP_TIMER);
  var left = core.state.t0 + core.EPISODE_MAX_TIME - Date.now();
  if (left <= 0) { core.endEpisode(-1, false, 'timed out'); return; }
  core.EP_TIMER = setTimeout(function () { core.endEpisode(-1, false, 'timed out'); }, left);
};

// Called by the harness on the start page after Math.seedrandom(seed).
core.startEpisodeReal = function () {
  if (typeof genProblem !== 'function') throw new Error('this page cannot start an episode');
  var seed = core.lastSeed;
  core.state = { seed: seed, t0: Date.now(), problem: null, data: {}, done: false };
  core.state.problem = genProblem();
  core.save();
  WOB_DONE_GLOBAL = false; WOB_REWARD_GLOBAL = 0; WOB_RAW_REWARD_GLOBAL = 0; WOB_REWARD_REASON = null;
  core.showCover(false);
  core.armTimer();
  if (core.renderPage) core.renderPage(core.state);
};
// remember the seed so page-local generators (core.rngFor) can derive from it
(function () {
  var seedrandom = Math.seedrandom;
  Math.seedrandom = function (seed) { core.lastSeed = seed; seedrandom(seed); };
})();

core.endEpisode = function (reward, timeProportional, reason) {
  if (!core.state || core.state.done) return;  // one verdict per episode
  if (core.EP_TIMER !== null) { clearTimeout(core.EP_TIMER); core.EP_TIMER = null; }
  var decayed = reward;
  if (timeProportional) decayed = reward * Math.max(0, 1 - (Date.now() - core.state.t0) / core.EPISODE_MAX_TIME);
  core.state.done = true;
  core.state.verdict = { raw: reward, reward: decayed, reason: reason || null };
  core.save();
  core.publish();
};

core.publish = function () {
  var v = core.state && core.state.verdict;
  WOB_DONE_GLOBAL = !!(core.state && core.state.done);
  WOB_RAW_REWARD_GLOBAL = v ? v.raw : 0;
  WOB_REWARD_GLOBAL = v ? v.reward : 0;
  WOB_REWARD_REASON = v ? v.reason : null;
  core.showCover(WOB_DONE_GLOBAL);
};

core.showCover = function (on) {
  var cover = document.getElementById('sync-task-cover');
  if (!cover && on) {
    cover = document.createElement('div');
    cover.id = 'sync-task-cover';
    cover.textContent = 'Episode over';
    document.body.appendChild(cover);
  }
  if (cover) cover.style.display = on ? 'block' : 'none';
};

// Every page calls core.page(render): render(state) draws the page for the running episode.
core.page = function (render) {
  core.renderPage = render;
  window.addEventListener('load', function () {
    core.state = core.loadState();
    if (!core.state) return;  // no episode yet: the harness starts one on the start page
    core.lastSeed = core.state.seed;
    core.publish();
    if (core.state.done) return;
    core.armTimer();
    render(core.state);
  });
};

// Small DOM helpers for task pages.
core.el = function (id) { return document.getElementById(id); };
core.setQuery = function (html) { core.el('query').innerHTML = html; };
core.escape = function (s) {
  return String(s).replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; });
};

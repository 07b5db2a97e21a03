// The page of `mrstnet serve`: choose or drop a video, watch it, see what the model says.
// Talks to the JSON API of the same server only (/v1/model, /v1/predict).
"use strict";

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
const $ = (id) => document.getElementById(id);
const state = { token: "", model: null, url: null, busy: false };

function headers() {
  return state.token ? { Authorization: "Bearer " + state.token } : {};
}

function colourOf(name) {
  const i = state.model ? state.model.classes.indexOf(name) : -1;
  return COLOURS[(i < 0 ? 0 : i) % COLOURS.length];
}

function say(text) { $("status").textContent = text; }

function fail(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = !text;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function pct(p) { return (100 * p).toFixed(1) + " %"; }

function seconds(s) { return s < 10 ? s.toFixed(1) + " s" : Math.round(s) + " s"; }

// An error answer in plain words: the server's message, or what the status means.
async function explain(response) {
  let message = "";
  try {
    const body = await response.json();
    message = body && body.error ? body.error.message : "";
  } catch (e) { /* not JSON: fall back on the status */ }
  if (response.status === 401) {
    $("auth").hidden = false;
    return "This server needs a token: enter it above, then choose the video again.";
  }
  if (response.status === 503) {
    const wait = response.headers.get("Retry-After");
    return "The server is busy right now" + (wait ? `; try again in ${wait} s.` : ".");
  }
  return message || `The server answered ${response.status} ${response.statusText}.`;
}

async function loadModel() {
  let response;
  try {
    response = await fetch("/v1/model", { headers: headers() });
  } catch (e) {
    $("model").textContent = "The server does not answer.";
    return;
  }
  if (!response.ok) {
    $("model").textContent = await explain(response);
    return;
  }
  const m = await response.json();
  state.model = m;
  $("auth").hidden = true;
  const c = m.clip;
  $("model").textContent = `${m.arch} · ${(m.parameters / 1e6).toFixed(2)} M parameters · ` +
    `${m.num_classes} classes: ${m.classes.join(", ")} · clips of ${c.frames} frames, ` +
    `${c.crop_size}×${c.crop_size}`;
  if (m.limits) {
    $("limits").textContent = `up to ${m.limits.max_upload_mb} MB and ` +
      `${m.limits.max_seconds} s; any format FFmpeg reads (mp4, webm, avi, mkv, mov…)`;
  }
}

function showTop(top) {
  const list = $("top");
  list.replaceChildren();
  for (const t of top) {
    const row = el("li", "top-row");
    row.dataset.class = t.class;
    row.append(el("span", "name", t.class));
    const bar = el("span", "bar");
    const fill = el("span", "fill");
    fill.style.width = (100 * t.prob).toFixed(1) + "%";
    fill.style.background = colourOf(t.class);
    bar.append(fill);
    row.append(bar, el("span", "pct", pct(t.prob)));
    list.append(row);
  }
  const best = top[0];
  const verdict = $("verdict");
  verdict.replaceChildren("Most likely ", el("b", "", best.class), ` (${pct(best.prob)})`);
  verdict.dataset.class = best.class;
}

function showTimeline(t, duration) {
  const card = $("timeline-card");
  const several = Boolean(t) && t.segments.length > 1;
  $("scope").hidden = !several;
  if (!t || t.windows.length < 2) {
    card.hidden = true;
    return;
  }
  card.hidden = false;
  const total = Math.max(t.duration, duration || 0) || 1;
  $("timeline-info").textContent = `${t.windows.length} windows of ${t.window.seconds} s, ` +
    `one every ${t.stride.seconds} s, smoothed over ${t.smooth}; a segment's class needs ` +
    `${pct(t.threshold)}. Click a segment to watch it.` + (t.error ? ` Stopped early: ${t.error}` : "");
  const track = $("track");
  track.replaceChildren();
  const shown = new Set();
  for (const s of t.segments) {
    const seg = el("div", "segment" + (s.class === null ? " uncertain" : ""));
    seg.style.left = (100 * s.start / total) + "%";
    seg.style.width = (100 * (s.end - s.start) / total) + "%";
    if (s.class !== null) {
      seg.style.background = colourOf(s.class);
      shown.add(s.class);
    }
    const name = s.class === null ? "uncertain" : s.class;
    seg.title = `${name}: ${s.start.toFixed(2)}–${s.end.toFixed(2)} s (${pct(s.prob)})`;
    seg.dataset.class = name;
    if ((s.end - s.start) / total > 0.08) seg.textContent = name;
    seg.addEventListener("click", () => { $("player").currentTime = s.start; });
    track.append(seg);
  }
  const axis = $("axis");
  axis.replaceChildren();
  const step = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300].find((x) => total / x <= 10) || 600;
  for (let x = 0; x <= total + 1e-9; x += step) {
    const tick = el("span", "", x < 10 && step < 1 ? x.toFixed(1) : String(Math.round(x)));
    tick.style.left = (100 * x / total) + "%";
    axis.append(tick);
  }
  const legend = $("legend");
  legend.replaceChildren();
  for (const name of shown) {
    const item = el("li");
    const swatch = el("i");
    swatch.style.background = colourOf(name);
    item.append(swatch, name);
    legend.append(item);
  }
  state.total = total;
}

function play(file) {
  const player = $("player");
  if (state.url) URL.revokeObjectURL(state.url);
  state.url = URL.createObjectURL(file);
  $("playback-note").hidden = true;
  player.src = state.url;
}

async function predict(file) {
  if (state.busy) return;
  fail("");
  if (!file) return;
  const limits = state.model && state.model.limits;
  if (limits && file.size > limits.max_upload_mb * 1048576) {
    fail(`“${file.name}” is ${(file.size / 1048576).toFixed(1)} MB; this server takes ` +
      `videos up to ${limits.max_upload_mb} MB.`);
    return;
  }
  $("result").hidden = false;
  $("timeline-card").hidden = true;
  $("scope").hidden = true;
  $("top").replaceChildren();
  $("verdict").textContent = "";
  delete $("verdict").dataset.class;
  $("video-info").textContent = file.name;
  play(file);
  state.busy = true;
  say(`Sending “${file.name}” and scoring it…`);
  const form = new FormData();
  form.append("video", file, file.name);
  let response;
  try {
    response = await fetch("/v1/predict?top=5&timeline=true", {
      method: "POST", body: form, headers: headers(),
    });
  } catch (e) {
    state.busy = false;
    say("");
    fail("The server did not answer: is it still running?");
    return;
  }
  state.busy = false;
  if (!response.ok) {
    say("");
    fail(await explain(response));
    return;
  }
  const r = await response.json();
  say(`Scored in ${r.elapsed_s.toFixed(2)} s.`);
  $("video-info").textContent = `${r.video} · ${seconds(r.duration)}, ${r.width}×${r.height}, ` +
    `${r.fps.toFixed(0)} fps · ${r.clips} clip${r.clips > 1 ? "s" : ""} averaged`;
  showTop(r.top);
  showTimeline(r.timeline, r.duration);
  document.body.dataset.done = "1";
}

function setup() {
  const input = $("file");
  input.addEventListener("change", () => {
    document.body.dataset.done = "";
    predict(input.files[0]);
    input.value = "";  // choosing the same file again runs it again
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) predict(e.dataTransfer.files[0]);
  });
  const player = $("player");
  player.addEventListener("error", () => {
    const note = $("playback-note");
    note.textContent = "This browser cannot play the file, but the server can still read it.";
    note.hidden = false;
  });
  player.addEventListener("timeupdate", () => {
    if (state.total) $("cursor").style.left = (100 * player.currentTime / state.total) + "%";
  });
  $("token-save").addEventListener("click", () => {
    state.token = $("token").value.trim();
    loadModel();
  });
  loadModel();
}

setup();

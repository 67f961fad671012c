// The review page: one sample at a time, verdicts by keyboard, and the summary. Plain JS, relative URLs (the app
// is mounted under /review and framed by the Airflow UI); sample text is inserted as text, never as HTML.
"use strict";

const VERDICTS = [
  ["1", "correct", null, "Correct"],
  ["2", "error", "wrong_answer", "Wrong answer"],
  ["3", "error", "unsupported_step", "Unsupported step"],
  ["4", "error", "ambiguous", "Ambiguous"],
  ["5", "error", "answerable_without_video", "Answerable without the video"],
  ["6", "error", "unsafe", "Unsafe"],
  ["7", "error", "other", "Other error"],
];
// the fields reviewers read first, in this order; anything else follows under its own name
const ORDER = ["knowledge_point", "skill", "problem_type", "question", "options", "answer", "rationale",
  "chain_of_thought", "cot", "process", "solution", "video_page", "judgement", "relevant", "score", "reason", "keywords"];
const SKIP = new Set(["captions_excerpt", "video_path", "frame_timestamps"]);
const state = { me: null, step: "", data: null, view: "judge" };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

async function api(path, opts) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin" }, opts || {}));
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new Error(`${r.status}: ${body.detail || body}`);
  return body;
}

function say(text, ok) { const m = $("message"); m.textContent = text || ""; m.className = ok ? "ok" : ""; }

function label(key) { return key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()); }

function value(key, v) {
  if (v === null || v === undefined) return "";
  if (key === "options" && Array.isArray(v)) return el("ul", { class: "options" }, ...v.map((o) => el("li", {}, o)));
  if (key === "url" && typeof v === "string" && /^https?:\/\//.test(v))
    return el("a", { href: v, target: "_blank", rel: "noopener noreferrer" }, v);
  if (typeof v === "object" && !Array.isArray(v)) return fields(v);
  if (Array.isArray(v) && v.every((x) => typeof x !== "object")) return v.join(" · ");
  if (typeof v === "object") return el("pre", {}, JSON.stringify(v, null, 2));
  return String(v);
}

function fields(obj) {
  const keys = Object.keys(obj).filter((k) => !SKIP.has(k));
  keys.sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99));
  return el("dl", {}, ...keys.flatMap((k) => [el("dt", {}, label(k)), el("dd", { "data-field": k }, value(k, obj[k]))]));
}

function render() {
  const d = state.data;
  $("progress").textContent = d.total ? `${d.pos + 1} of ${d.total} · ${d.judged} judged` : "no samples";
  for (const id of ["frames", "input", "output", "captions", "current"]) $(id).replaceChildren();
  if (!d.sample) { say("No samples to review for this step."); return; }
  const s = d.sample;
  s.frame_timestamps.forEach((t, i) => {
    const src = `api/samples/${encodeURIComponent(s.sample_id)}/frames/${i}`;
    const img = el("img", { src: `${src}?size=thumb`, alt: `frame at ${t.toFixed(1)} s`, "data-full": `${src}?size=full` });
    img.addEventListener("click", () => enlarge(img.dataset.full));
    $("frames").append(el("figure", {}, img, el("figcaption", {}, `${t.toFixed(1)} s`)));
  });
  if (!s.frame_timestamps.length) $("frames").append("no video for this step");
  $("captions").textContent = s.input.captions_excerpt || "(none)";
  $("input").append(fields(s.input));
  $("output").append(fields(s.output));
  $("note").value = d.verdict?.note || "";
  for (const b of $("buttons").children) {
    b.classList.toggle("chosen", !!d.verdict && b.dataset.verdict === d.verdict.verdict && (b.dataset.kind || null) === (d.verdict.kind || null));
  }
  if (d.verdict) $("current").textContent = `Your verdict: ${d.verdict.verdict}${d.verdict.kind ? " (" + d.verdict.kind.replace(/_/g, " ") + ")" : ""}`;
  if (d.done) say(`All ${d.total} samples of this queue are judged. See the summary (s).`, true);
}

async function load(pos) {
  const q = new URLSearchParams();
  if (state.step) q.set("step", state.step);
  if (pos !== undefined) q.set("pos", pos);
  state.data = await api(`api/sample?${q}`);
  render();
}

async function submit(verdict, kind) {
  const d = state.data;
  if (!d?.sample) return;
  if (!state.me.can_review) { say(`${state.me.user} may read but not judge (not a reviewer).`); return; }
  try {
    await api("api/verdicts", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.me.csrf_token },
      body: JSON.stringify({ sample_id: d.sample.sample_id, verdict, kind, note: $("note").value }),
    });
    say(`Saved: ${verdict}${kind ? " (" + kind.replace(/_/g, " ") + ")" : ""}`, true);
    await load();
    await steps();
  } catch (e) { say(`Not saved: ${e.message}`); }
}

function enlarge(src) { const lb = $("lightbox"); lb.querySelector("img").src = src; lb.hidden = false; }

function fmt(x, digits = 3) { return x === null || x === undefined ? "–" : Number(x).toFixed(digits); }

async function summary() {
  const data = await api("api/summary");
  const root = $("summary");
  root.replaceChildren();
  if (!Object.keys(data).length) root.append(el("p", {}, "No review samples yet."));
  for (const [step, s] of Object.entries(data)) {
    const k = s.kappa;
    const rows = s.rows.map((r) => el("tr", { class: r.selected ? "selected" : "", "data-model": r.model },
      el("td", {}, r.model), el("td", {}, r.n), el("td", {}, r.errors), el("td", {}, fmt(r.error_rate)),
      el("td", {}, `${fmt(r.wilson_low)} – ${fmt(r.wilson_high)}`), el("td", {}, r.price ?? "–"),
      el("td", {}, r.qualifies ? "yes" : "no"), el("td", {}, r.selected ? "selected" : ""), el("td", {}, r.reason)));
    root.append(el("section", { "data-step": step },
      el("h3", {}, `${label(step)} (threshold ${fmt(s.threshold)})`),
      el("p", { class: "outcome" }, s.outcome),
      el("p", { class: "kappa" }, k.pairs ? `Agreement over ${k.pairs} doubly judged samples: ${fmt(k.agreement * 100, 0)}%, ` +
        `Cohen's kappa ${k.kappa === null ? "undefined (one label only)" : fmt(k.kappa, 2)}` : "Cohen's kappa: no sample judged twice yet"),
      el("table", {}, el("thead", {}, el("tr", {}, ...["model", "n", "errors", "error rate", "95% Wilson interval",
        "price/call", "qualifies", "selected", "reason"].map((h) => el("th", {}, h)))), el("tbody", {}, ...rows))));
  }
}

function show(view) {
  state.view = view;
  $("judge").hidden = view !== "judge";
  $("summary").hidden = view !== "summary";
  $("tab-judge").classList.toggle("active", view === "judge");
  $("tab-summary").classList.toggle("active", view === "summary");
  if (view === "summary") summary().catch((e) => say(e.message));
}

async function steps() {
  const list = await api("api/steps");
  const sel = $("step");
  const keep = sel.value;
  sel.replaceChildren(el("option", { value: "" }, "all steps"),
    ...list.map((s) => el("option", { value: s.step }, `${label(s.step)} (${s.judged}/${s.total})`)));
  sel.value = keep;
}

document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === "Escape") { $("lightbox").hidden = true; document.activeElement?.blur(); return; }
  if (["TEXTAREA", "INPUT", "SELECT"].includes(ev.target.tagName)) return;
  const v = VERDICTS.find((x) => x[0] === ev.key);
  if (v && state.view === "judge") { ev.preventDefault(); submit(v[1], v[2]); return; }
  if (ev.key === "n") { ev.preventDefault(); show("judge"); $("note").focus(); }
  else if (ev.key === "s") show("summary");
  else if (ev.key === "j") show("judge");
  else if (ev.key === "ArrowRight" && state.data?.total) load(Math.min(state.data.pos + 1, state.data.total - 1));
  else if (ev.key === "ArrowLeft" && state.data?.total) load(Math.max(state.data.pos - 1, 0));
});

async function main() {
  for (const [key, verdict, kind, text] of VERDICTS) {
    $("buttons").append(el("button", { "data-verdict": verdict, "data-kind": kind || "", class: verdict === "correct" ? "correct" : "",
      onclick: () => submit(verdict, kind) }, el("kbd", {}, key), ` ${text}`));
  }
  $("lightbox").addEventListener("click", () => { $("lightbox").hidden = true; });
  $("tab-judge").addEventListener("click", () => show("judge"));
  $("tab-summary").addEventListener("click", () => show("summary"));
  $("step").addEventListener("change", (e) => { state.step = e.target.value; load().catch((x) => say(x.message)); });
  try {
    state.me = await api("api/me");
    $("me").textContent = `${state.me.user} (${state.me.roles.join(", ") || "no role"})${state.me.can_review ? "" : " · read only"}`;
    await steps();
    await load();
  } catch (e) { say(e.message); }
}

main();

// Card preview: sends a CDS Hooks request to this service and shows the cards as an EHR would.
// Card text is only ever set with textContent; the one HTML insertion is card detail rendered
// server-side by markdown-it with raw HTML disabled (POST /demo/markdown), and the chart SVG
// built server-side from numbers and escaped text (POST /demo/trend).
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch (_) {
    return null;
  }
}

function link(label, url) {
  const href = safeUrl(url);
  if (!href) return el("span", {}, label || url || "");
  return el("a", { href, target: "_blank", rel: "noopener noreferrer" }, label || href);
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  return { status: response.status, ok: response.ok, data };
}

function suggestionView(suggestion) {
  const actions = el("div", { class: "actions", hidden: true });
  for (const action of suggestion.actions || []) {
    const head = el("p", { class: "action-head" },
      el("span", { class: `action-type action-${action.type}` }, action.type || "?"), " ",
      action.description || "");
    actions.append(head);
    if (action.resource) {
      actions.append(el("pre", { class: "resource" }, JSON.stringify(action.resource, null, 2)));
    } else if (action.resourceId) {
      const ids = Array.isArray(action.resourceId) ? action.resourceId : [action.resourceId];
      actions.append(el("pre", { class: "resource" }, ids.join("\n")));
    }
  }
  const button = el("button", {
    type: "button",
    class: suggestion.isRecommended ? "suggestion recommended" : "suggestion",
    title: "Show the FHIR resource this suggestion would create, update or delete",
  }, suggestion.isRecommended ? "★ " : "", suggestion.label || "(no label)");
  button.setAttribute("aria-expanded", "false");
  button.addEventListener("click", () => {
    actions.hidden = !actions.hidden;
    button.setAttribute("aria-expanded", String(!actions.hidden));
    button.classList.toggle("open", !actions.hidden);
  });
  return el("div", { class: "suggestion-item" }, button, actions);
}

function cardView(card, detailHtml) {
  const indicator = ["info", "warning", "critical"].includes(card.indicator) ? card.indicator : "info";
  const topic = (card.source && card.source.topic) || {};
  const view = el("article", {
    class: `card indicator-${indicator}`,
    "data-rule-id": topic.code || "",
    "data-indicator": indicator,
  });
  view.append(el("header", { class: "card-head" },
    el("span", { class: "badge" }, indicator),
    el("h3", { class: "summary" }, card.summary || "")));
  if (detailHtml) {
    const detail = el("div", { class: "detail" });
    detail.innerHTML = detailHtml; // markdown-it output with HTML disabled, see /demo/markdown
    for (const a of detail.querySelectorAll("a")) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    view.append(detail);
  }
  if (card.source) {
    view.append(el("p", { class: "source" }, "Source: ", link(card.source.label, card.source.url),
      topic.code ? el("span", { class: "rule-id", title: topic.display || "" }, topic.code) : null));
  }
  if ((card.suggestions || []).length) {
    const box = el("div", { class: "suggestions" },
      el("p", { class: "label" }, card.selectionBehavior === "any"
        ? "Suggestions (choose any)" : "Suggestions (choose at most one)"));
    for (const suggestion of card.suggestions) box.append(suggestionView(suggestion));
    view.append(box);
  }
  if ((card.links || []).length) {
    const list = el("ul", { class: "links" });
    for (const item of card.links) {
      list.append(el("li", {}, link(item.label, item.url), item.type === "smart" ? " (SMART app)" : ""));
    }
    view.append(list);
  }
  if ((card.overrideReasons || []).length) {
    const select = el("select", { class: "override" },
      el("option", { value: "" }, "Dismiss with a reason…"));
    for (const reason of card.overrideReasons) {
      select.append(el("option", { value: reason.code || "" }, reason.display || reason.code || ""));
    }
    const reasons = el("ul", { class: "override-reasons" });
    for (const reason of card.overrideReasons) reasons.append(el("li", {}, reason.display || reason.code));
    view.append(el("div", { class: "overrides" },
      el("p", { class: "label" }, "Override reasons"), reasons, select));
  }
  return view;
}

async function renderCards(cards) {
  const box = $("cards");
  box.replaceChildren();
  if (!cards.length) {
    box.append(el("p", { class: "empty", id: "no-cards" }, "No cards: nothing to say for this request."));
    return;
  }
  const rendered = await postJson("/demo/markdown", { texts: cards.map((c) => c.detail || "") });
  const html = rendered.ok && rendered.data ? rendered.data.html : [];
  cards.forEach((card, i) => box.append(cardView(card, html[i] || "")));
}

async function renderChart(body) {
  const chart = $("chart");
  const answer = await postJson("/demo/trend", body);
  chart.replaceChildren();
  if (!answer.ok || !answer.data) {
    chart.append(el("p", { class: "error" }, `Trend unavailable (HTTP ${answer.status}).`));
    return;
  }
  if (!answer.data.svg) {
    chart.append(el("p", { class: "empty", id: "no-trend" },
      "No B12 or homocysteine results or injections in this request."));
    return;
  }
  chart.innerHTML = answer.data.svg; // built server-side from numbers and escaped text
  const b12 = answer.data.b12.length, hcy = answer.data.homocysteine.length;
  const shots = answer.data.injections.length;
  chart.append(el("p", { class: "chart-note" },
    `${b12} B12 result(s), ${hcy} homocysteine result(s), ${shots} injection(s); today ${answer.data.today}.`));
}

function setStatus(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

async function send() {
  const text = $("request-body").value;
  let body;
  try {
    body = JSON.parse(text);
  } catch (err) {
    setStatus(`The request is not valid JSON: ${err.message}`, true);
    return;
  }
  const serviceId = $("hook").value;
  $("send").disabled = true;
  document.body.dataset.state = "sending";
  setStatus(`POST /cds-services/${serviceId} …`, false);
  try {
    const answer = await postJson(`/cds-services/${encodeURIComponent(serviceId)}`, text);
    $("raw-response").textContent = JSON.stringify(answer.data, null, 2);
    if (!answer.ok) {
      const issue = answer.data && answer.data.issue && answer.data.issue[0];
      setStatus(`HTTP ${answer.status}: ${(issue && issue.diagnostics) || "request refused"}`, true);
      $("cards").replaceChildren(el("p", { class: "empty" }, "No cards (the service refused the request)."));
    } else {
      const cards = answer.data.cards || [];
      setStatus(`HTTP ${answer.status}: ${cards.length} card(s) from ${serviceId}`, false);
      await renderCards(cards);
    }
    await renderChart(body);
  } catch (err) {
    setStatus(`Request failed: ${err.message}`, true);
  } finally {
    $("send").disabled = false;
    document.body.dataset.state = "done";
  }
}

function pickHook(hook) {
  for (const option of $("hook").options) {
    if (option.dataset.hook === hook) {
      $("hook").value = option.value;
      return;
    }
  }
}

async function loadScenario() {
  const option = $("scenario").selectedOptions[0];
  $("scenario-description").textContent = option && option.value ? option.title : "";
  if (!option || !option.value) return;
  const response = await fetch(`/demo/scenarios/${encodeURIComponent(option.value)}`);
  if (!response.ok) {
    setStatus(`Could not load the scenario (HTTP ${response.status}).`, true);
    return;
  }
  const body = await response.json();
  $("request-body").value = JSON.stringify(body, null, 2);
  pickHook(body.hook);
  setStatus(`Loaded ${option.value}; press Send.`, false);
}

document.addEventListener("DOMContentLoaded", () => {
  $("scenario").addEventListener("change", loadScenario);
  $("send").addEventListener("click", send);
  $("request-body").addEventListener("change", () => {
    try {
      pickHook(JSON.parse($("request-body").value).hook);
    } catch (_) { /* pasted text is checked on Send */ }
  });
  document.body.dataset.state = "ready";
});

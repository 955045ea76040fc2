// The Automation page's live behaviour. The server renders every number; this file only swaps
// in what it sends, keeps bars in place so they animate, and handles the controls.
(() => {
  "use strict";
  const root = document.querySelector(".automation[data-stream-url]");
  if (!root) return;
  const streamUrl = root.dataset.streamUrl;
  const liveUrl = root.dataset.liveUrl;
  const api = root.dataset.apiBase;
  const siteId = root.dataset.siteId;
  const connection = document.getElementById("connection");
  const flash = document.getElementById("flash");
  const announcer = document.getElementById("announcer");
  const csrf = (JSON.parse(document.body.getAttribute("hx-headers") || "{}"))["X-CSRFToken"] || "";
  const dismissed = new Set((root.dataset.dismissed || "").split(",").filter(Boolean));
  for (const id of JSON.parse(sessionStorage.getItem("cascade-dismissed") || "[]")) dismissed.add(id);

  let live = document.getElementById("live");
  let receivedAt = Date.now();   // when the data on screen was last confirmed fresh
  let source = null;
  let pollTimer = null;
  let optimisticFrom = null;     // run id shown before an optimistic Run Now
  let connState = "connecting";

  // --- swapping -------------------------------------------------------------------------------
  function morph(from, to) {
    if (from.nodeType !== to.nodeType || from.nodeName !== to.nodeName) {
      from.replaceWith(to.cloneNode(true));
      return;
    }
    if (from.nodeType === Node.TEXT_NODE || from.nodeType === Node.COMMENT_NODE) {
      if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
      return;
    }
    if (from.nodeType !== Node.ELEMENT_NODE) return;
    if (from.nodeName === "TEMPLATE") {
      from.innerHTML = to.innerHTML;
    }
    for (const attr of Array.from(from.attributes)) {
      if (!to.hasAttribute(attr.name)) from.removeAttribute(attr.name);
    }
    for (const attr of Array.from(to.attributes)) {
      if (from.getAttribute(attr.name) !== attr.value) from.setAttribute(attr.name, attr.value);
    }
    if (from.nodeName === "TEMPLATE") return;
    const oldKids = Array.from(from.childNodes);
    const newKids = Array.from(to.childNodes);
    newKids.forEach((kid, i) => {
      if (i < oldKids.length) morph(oldKids[i], kid);
      else from.appendChild(kid.cloneNode(true));
    });
    for (let i = newKids.length; i < oldKids.length; i++) oldKids[i].remove();
  }

  function state(el) {
    return { run: el.dataset.runId, version: Number(el.dataset.version), status: el.dataset.runStatus,
             stage: el.dataset.stage };
  }

  function apply(html) {
    const holder = document.createElement("template");
    holder.innerHTML = html.trim();
    const next = holder.content.getElementById("live");
    if (!next) return;
    const before = state(live);
    const after = state(next);
    if (optimisticFrom !== null && after.run === optimisticFrom) return;  // still the old run
    if (after.run === before.run && after.version < before.version) return;  // older than shown
    morph(live, next);
    receivedAt = Date.now();
    afterSwap(before, after);
  }

  function afterSwap(before, after) {
    document.title = live.dataset.title;
    for (const summary of live.querySelectorAll("[data-testid=completion-summary]")) {
      if (dismissed.has(summary.dataset.runId)) summary.hidden = true;
    }
    if (before.status !== after.status || before.stage !== after.stage || before.run !== after.run) {
      if (live.dataset.announce) announcer.textContent = live.dataset.announce;
      if (after.status === "completed" && before.status !== "completed" && before.run === after.run) notifyDone();
    }
    tick();
  }

  // --- the stream, and polling while it is down -----------------------------------------------------
  function setConnection(name, text) {
    connState = name;
    connection.dataset.state = name;
    connection.textContent = text;
  }

  function connect() {
    source = new EventSource(streamUrl);
    source.addEventListener("open", () => {
      setConnection("live", "Live");
      stopPolling();
    });
    source.addEventListener("update", (event) => apply(event.data));
    source.addEventListener("ping", () => { receivedAt = Date.now(); });
    source.addEventListener("error", () => {
      setConnection("reconnecting", "Reconnecting…");
      startPolling();
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        setTimeout(connect, 2000);
      }
    });
  }

  function pollDelay() {
    return ["queued", "running", "pausing", "cancelling"].includes(live.dataset.runStatus) ? 2000 : 5000;
  }

  function startPolling() {
    if (pollTimer !== null) return;
    const poll = async () => {
      pollTimer = setTimeout(poll, pollDelay());
      if (document.hidden || connState === "live") return;
      try {
        const response = await fetch(liveUrl, { headers: { "Accept": "text/html" }, credentials: "same-origin" });
        if (response.ok) apply(await response.text());
      } catch (error) { /* still down: the next poll tries again */ }
    };
    pollTimer = setTimeout(poll, pollDelay());
  }

  function stopPolling() {
    if (pollTimer !== null) clearTimeout(pollTimer);
    pollTimer = null;
  }

  // --- clocks -----------------------------------------------------------------------------------
  function fmt(seconds) {
    const total = Math.floor(seconds);
    if (total < 60) return `${total}s`;
    const minutes = Math.floor(total / 60), secs = total % 60;
    if (minutes < 60) return `${minutes}m ${String(secs).padStart(2, "0")}s`;
    return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
  }

  function tick() {
    const since = (Date.now() - receivedAt) / 1000;
    for (const el of live.querySelectorAll("[data-ticking=true]")) {
      el.textContent = fmt(Number(el.dataset.duration) + since);
    }
    if (since > 10 && connState !== "connecting") {
      connection.dataset.state = "stale";
      connection.textContent = `${connState === "reconnecting" ? "Reconnecting… " : ""}updated ${Math.round(since)} s ago`;
    } else if (connState === "live" && connection.textContent !== "Live") {
      setConnection("live", "Live");
    }
  }

  // --- controls -----------------------------------------------------------------------------------
  function showError(message) {
    flash.textContent = message;
    flash.hidden = false;
  }

  async function post(action) {
    const runId = live.dataset.runId;
    const query = action === "run_now" ? `site_id=${siteId}` : `site_id=${siteId}&run_id=${runId}`;
    const response = await fetch(`${api}/${action}/?${query}`, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
    });
    let body = {};
    try { body = await response.json(); } catch (error) { /* empty body */ }
    return { ok: response.ok, status: response.status, body };
  }

  async function refreshNow() {
    try {
      const response = await fetch(liveUrl, { credentials: "same-origin" });
      if (response.ok) apply(await response.text());
    } catch (error) { /* the stream will bring it */ }
  }

  async function runNow(button) {
    flash.hidden = true;
    const slot = document.getElementById("global-slot");
    const saved = slot.innerHTML;
    const savedDisabled = Array.from(live.querySelectorAll("[data-action]")).map((b) => [b, b.disabled]);
    const template = document.getElementById("starting-template");
    slot.innerHTML = "";
    slot.appendChild(template.content.cloneNode(true));
    for (const b of live.querySelectorAll(".controls [data-action]")) b.disabled = true;
    optimisticFrom = live.dataset.runId;
    document.title = "0 % · Starting… · Cascade";
    announcer.textContent = "Starting the run";
    const answer = await post("run_now").catch(() => ({ ok: false, body: { detail: "The server could not be reached." } }));
    optimisticFrom = null;
    if (!answer.ok) {
      slot.innerHTML = saved;
      for (const [b, disabled] of savedDisabled) b.disabled = disabled;
      document.title = live.dataset.title;
      showError(answer.body.detail || `Run Now failed (${answer.status}).`);
      return;
    }
    refreshNow();
  }

  async function act(action, label) {
    flash.hidden = true;
    const answer = await post(action).catch(() => ({ ok: false, body: { detail: "The server could not be reached." } }));
    if (!answer.ok) showError(answer.body.detail || `${label} failed (${answer.status}).`);
    refreshNow();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action]");
    if (!button || button.disabled) return;
    switch (button.dataset.action) {
      case "run-now": runNow(button); break;
      case "pause": act("pause", "Pause"); break;
      case "resume": act("resume", "Resume"); break;
      case "retry-failed": act("retry_failed", "Retry"); break;
      case "cancel": {
        const dialog = document.getElementById("cancel-dialog");
        dialog.returnValue = "";
        dialog.showModal();
        break;
      }
      case "dismiss": {
        const summary = button.closest("[data-testid=completion-summary]");
        dismissed.add(summary.dataset.runId);
        sessionStorage.setItem("cascade-dismissed", JSON.stringify([...dismissed]));
        summary.hidden = true;
        break;
      }
    }
  });
  document.getElementById("cancel-dialog").addEventListener("close", (event) => {
    if (event.target.returnValue === "confirm") act("cancel", "Cancel");
  });

  // --- notifications ------------------------------------------------------------------------------
  const notifyToggle = document.getElementById("notify-toggle");
  function notifyDone() {
    if ("Notification" in window && Notification.permission === "granted" && localStorage.getItem("cascade-notify") === "1") {
      new Notification("Cascade: run complete", { body: live.dataset.title });
    }
  }
  if ("Notification" in window) {
    const label = () => {
      const on = Notification.permission === "granted" && localStorage.getItem("cascade-notify") === "1";
      notifyToggle.textContent = on ? "Notifications on (turn off)" : "Notify me when a run completes";
    };
    notifyToggle.hidden = false;
    label();
    notifyToggle.addEventListener("click", async () => {
      if (localStorage.getItem("cascade-notify") === "1") {
        localStorage.removeItem("cascade-notify");
      } else if ((await Notification.requestPermission()) === "granted") {
        localStorage.setItem("cascade-notify", "1");
      }
      label();
    });
  }

  document.addEventListener("visibilitychange", () => { if (!document.hidden && connState !== "live") refreshNow(); });
  afterSwap(state(live), state(live));
  setInterval(tick, 1000);
  connect();
})();

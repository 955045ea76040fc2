// What htmx does not do on the Automation page (the server renders every number): ticking clocks,
// how fresh the data is, dropping an older update (or a delta made for another state than the
// one shown, which asks the stream for the whole region again), polling while the stream is
// down, the optimistic "Starting…" state and browser notifications.
(() => {
  "use strict";
  const root = document.querySelector(".automation[sse-connect]");
  if (!root) return;
  const connection = document.getElementById("connection");
  const announcer = document.getElementById("announcer");
  const dismissed = new Set(root.dataset.dismissed.split(" ").filter(Boolean));
  const live = () => document.getElementById("live");
  const shown = () => document.getElementById("live-state").dataset;  // the state on screen
  let receivedAt = Date.now(), state = "connecting", poller = null, optimisticFrom = null;
  let source = null, resyncing = false;
  const create = htmx.createEventSource;
  htmx.createEventSource = (url) => (source = create(url));
  function resync() {  // reconnect at once: a new stream starts with the whole region
    if (!source || resyncing) return;
    resyncing = true;
    source.close();
    source.onerror(new Event("error"));
  }

  // A stage card opened or closed by the person (on a phone) stays so through live updates.
  Idiomorph.defaults.callbacks.beforeAttributeUpdated = (name, node) => !(name === "open" && node.tagName === "DETAILS");
  const parse = (key) => { const [run, version] = (key || "none:0").split(":"); return { run, version: +version }; };
  const older = (key) => {  // an update about the run on screen, but older than what is shown
    const next = parse(key), now = parse(shown().state);  // (a site with a run never has none again)
    return (optimisticFrom !== null && next.run === optimisticFrom) || (next.run === "none" && now.run !== "none") || (next.run === now.run && next.version < now.version);
  };
  function setConnection(name, text) { state = name; connection.dataset.state = name; connection.textContent = text; }
  function fmt(seconds) {
    const total = Math.floor(seconds);
    if (total < 60) return `${total}s`;
    const minutes = Math.floor(total / 60), secs = String(total % 60).padStart(2, "0");
    return minutes < 60 ? `${minutes}m ${secs}s` : `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
  }
  function tick() {
    const since = (Date.now() - receivedAt) / 1000;
    for (const el of live().querySelectorAll("[data-ticking=true]")) el.textContent = fmt(+el.dataset.duration + since);
    if (since > 10 && state !== "connecting") {
      connection.dataset.state = "stale";
      connection.textContent = `${state === "reconnecting" ? "Reconnecting… " : ""}updated ${Math.round(since)} s ago`;
    } else if (state === "live") setConnection("live", "Live");
  }

  let before = { ...shown() };
  function afterSwap() {
    const now = shown();
    receivedAt = Date.now();
    document.title = now.title;
    for (const s of live().querySelectorAll("[data-testid=completion-summary]")) if (dismissed.has(s.dataset.runId)) s.hidden = true;
    if (before.runStatus !== now.runStatus || before.stage !== now.stage || before.runId !== now.runId) {
      if (now.announce) announcer.textContent = now.announce;
      if (now.outcome && !before.outcome && before.runId === now.runId) notify(now.announce);
    }
    before = { ...now };
    tick();
  }

  function poll() {
    if (!document.hidden) htmx.ajax("GET", root.dataset.liveUrl, { target: "#live-slot", swap: "morph:innerHTML" });
  }

  root.addEventListener("htmx:sseOpen", () => { resyncing = false; setConnection("live", "Live"); clearInterval(poller); poller = null; receivedAt = Date.now(); });
  root.addEventListener("htmx:sseError", () => {
    if (resyncing) return;
    if (state !== "reconnecting") setConnection("reconnecting", "Reconnecting…");
    if (poller === null) poller = setInterval(poll, ["running", "pausing", "cancelling", "queued"].includes(shown().runStatus) ? 2000 : 5000);
  });
  root.addEventListener("htmx:sseBeforeMessage", (event) => {
    const [key, base] = event.detail.lastEventId.split(" from ");  // a delta's id names its base
    if (older(key)) event.preventDefault();
    else if (base !== undefined && shown().state !== base && shown().state !== key) { event.preventDefault(); resync(); }
  });
  root.addEventListener("htmx:sseMessage", afterSwap);
  root.addEventListener("htmx:beforeSwap", (event) => {
    const key = event.detail.xhr && event.detail.xhr.getResponseHeader("X-Cascade-State");
    if (key && event.detail.xhr.status < 400 && parse(key).run === parse(shown().state).run && older(key)) event.detail.shouldSwap = false;
  });
  root.addEventListener("htmx:afterSwap", afterSwap);

  // Run Now: show the new run starting at once; the server's answer replaces it (or restores
  // the page with its reason).
  root.addEventListener("htmx:beforeRequest", (event) => {
    if (!event.detail.elt.hasAttribute("data-optimistic")) return;
    const starting = document.getElementById("starting-template").content;
    live().querySelector("#global-slot").replaceWith(starting.querySelector("#global-slot").cloneNode(true));
    for (const card of starting.querySelectorAll(".stage-card")) live().querySelector(`[data-testid=${card.dataset.testid}]`).replaceWith(card.cloneNode(true));
    for (const b of live().querySelectorAll(".controls button")) b.disabled = true;
    optimisticFrom = parse(shown().state).run;
    document.title = "0 % · Starting… · Cascade";
    announcer.textContent = "Starting the run";
  });
  root.addEventListener("htmx:afterRequest", (event) => { if (event.detail.elt.hasAttribute("data-optimistic")) optimisticFrom = null; });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-dismiss]");
    if (button) { dismissed.add(button.dataset.dismiss); button.closest("[data-testid=completion-summary]").hidden = true; }
  });

  const toggle = document.getElementById("notify-toggle");
  const notifying = () => "Notification" in window && Notification.permission === "granted" && localStorage.getItem("cascade-notify") === "1";
  function notify(outcome) { if (notifying()) new Notification(`Cascade: ${outcome}`, { body: shown().title }); }
  if ("Notification" in window) {
    const label = () => { toggle.textContent = notifying() ? "Notifications on (turn off)" : "Notify me when a run ends"; };
    toggle.hidden = false;
    label();
    toggle.addEventListener("click", async () => {
      if (localStorage.getItem("cascade-notify") === "1") localStorage.removeItem("cascade-notify");
      else if ((await Notification.requestPermission()) === "granted") localStorage.setItem("cascade-notify", "1");
      label();
    });
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden && state !== "live") poll(); });
  setInterval(tick, 1000);
  afterSwap();
})();

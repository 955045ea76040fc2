// The Automation page's clocks and notifications; htmx swaps every fragment the stream sends
// (each number is the server's): ticking durations, how fresh the page is, the title, the
// screen reader's announcement, browser notifications and dismissed summaries.
(() => {
  "use strict";
  const root = document.querySelector(".automation[sse-connect]");
  if (!root) return;
  const connection = document.getElementById("connection");
  const announcer = document.getElementById("announcer");
  const dismissed = new Set(root.dataset.dismissed.split(" ").filter(Boolean));
  const shown = () => document.getElementById("live-state").dataset;
  let receivedAt = Date.now(), state = "connecting", before = { ...shown() };
  // A stage card opened or closed by the person (on a phone) stays so through live updates.
  Idiomorph.defaults.callbacks.beforeAttributeUpdated = (name, node) => !(name === "open" && node.tagName === "DETAILS");

  function setConnection(name, text) { state = name; connection.dataset.state = name; connection.textContent = text; }
  function fmt(seconds) {
    const total = Math.floor(seconds);
    if (total < 60) return `${total}s`;
    const minutes = Math.floor(total / 60), secs = String(total % 60).padStart(2, "0");
    return minutes < 60 ? `${minutes}m ${secs}s` : `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
  }
  function tick() {
    const since = (Date.now() - receivedAt) / 1000;
    for (const el of root.querySelectorAll("[data-ticking=true]")) el.textContent = fmt(+el.dataset.duration + since);
    if (since > 10 && state !== "connecting") {
      connection.dataset.state = "stale";
      connection.textContent = `${state === "reconnecting" ? "Reconnecting… " : ""}updated ${Math.round(since)} s ago`;
    } else if (state === "live") setConnection("live", "Live");
  }
  function received() {
    const now = shown();
    receivedAt = Date.now();
    document.title = now.title;
    for (const s of root.querySelectorAll("[data-testid=completion-summary]")) if (dismissed.has(s.dataset.runId)) s.hidden = true;
    if (before.runStatus !== now.runStatus || before.stage !== now.stage || before.runId !== now.runId) {
      if (now.announce) announcer.textContent = now.announce;
      if (now.outcome && !before.outcome && before.runId === now.runId) notify(now.announce);
    }
    before = { ...now };
    if (now.runId && now.runId !== startedFrom && root.querySelector(`#global-slot [data-run-id="${now.runId}"]`)) stopStarting();
    tick();
  }

  // Run Now's starting state (CSS shows it under .starting) stays from the click until the stream
  // has put the new run on the page: the click's answer can come before the stream's event.
  let startedFrom = null, giveUp = null;
  const stopStarting = () => { clearTimeout(giveUp); root.classList.remove("starting"); };
  root.addEventListener("htmx:beforeRequest", (e) => {
    if (e.target.matches("[data-optimistic]")) { stopStarting(); startedFrom = shown().runId; root.classList.add("starting"); }
  });
  root.addEventListener("htmx:afterRequest", (e) => {
    if (e.target.matches("[data-optimistic]")) e.detail.successful ? (giveUp = setTimeout(stopStarting, 15000)) : stopStarting();
  });
  root.addEventListener("htmx:sseOpen", () => { setConnection("live", "Live"); receivedAt = Date.now(); });
  root.addEventListener("htmx:sseError", () => { if (state !== "reconnecting") setConnection("reconnecting", "Reconnecting…"); });
  root.addEventListener("htmx:sseMessage", received);
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
  setInterval(tick, 1000);
  received();
})();

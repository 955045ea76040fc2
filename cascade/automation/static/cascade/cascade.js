// Small helpers for the site's forms (the Automation page has automation.js): upload progress
// and "select all" checkboxes. No inline handlers.
(() => {
  "use strict";
  document.addEventListener("htmx:xhr:progress", (event) => {
    const bar = event.target.querySelector("[data-upload-progress]");
    if (bar && event.detail.lengthComputable) bar.value = Math.round((100 * event.detail.loaded) / event.detail.total);
  });
  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-select-all]")) return;
    for (const box of event.target.closest("form").querySelectorAll("input[name=ids]")) box.checked = event.target.checked;
  });
})();

// Small helpers for the site's forms (the Automation page has automation.js): upload progress,
// a chosen file's name and size, and "select all" checkboxes. No inline handlers.
(() => {
  "use strict";
  document.addEventListener("htmx:xhr:progress", (event) => {
    const bar = event.target.querySelector("[data-upload-progress]");
    if (bar && event.detail.lengthComputable) bar.value = Math.round((100 * event.detail.loaded) / event.detail.total);
  });
  document.addEventListener("change", (event) => {  // a chosen or dropped file: its name and size
    const out = event.target.matches("input[type=file][data-shows-in]") && document.getElementById(event.target.dataset.showsIn);
    const file = out && event.target.files[0];
    if (out) out.textContent = file ? `${file.name} · ${file.size < 1024 ? `${file.size} bytes` : file.size < 1048576 ? `${Math.round(file.size / 1024)} KiB` : `${(file.size / 1048576).toFixed(1)} MiB`}` : "";
  });
  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-select-all]")) return;
    for (const box of event.target.closest("form").querySelectorAll("input[name=ids]")) box.checked = event.target.checked;
  });
})();

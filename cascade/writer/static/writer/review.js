// Review by keyboard (j/k next and previous, a approve, r reject, e edit), the Quill editor
// over the article's HTML (the textarea stays the form field, and the fallback without
// JavaScript), and length counters for the meta fields.
(() => {
  "use strict";

  const typing = (el) =>
    el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const target = document.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
    if (!target) return;
    event.preventDefault();
    if (target.tagName === "INPUT") target.focus();
    else target.click();
  });

  for (const counter of document.querySelectorAll("[data-count-for]")) {
    const field = document.getElementById(counter.dataset.countFor);
    const limit = Number(counter.dataset.limit);
    const show = () => {
      counter.textContent = `${field.value.length} / ${limit}`;
      counter.classList.toggle("over", field.value.length > limit);
    };
    field.addEventListener("input", show);
    show();
  }

  const holder = document.querySelector("[data-editor-for]");
  if (!holder || typeof window.Quill === "undefined") return;
  const source = document.getElementById(holder.dataset.editorFor);
  const quill = new window.Quill(holder, {
    theme: "snow",
    modules: {
      toolbar: [
        [{ header: [2, 3, false] }],
        ["bold", "italic", "link"],
        [{ list: "ordered" }, { list: "bullet" }, "blockquote"],
        ["clean"],
      ],
    },
  });
  // Quill's heading picker is a button without a name: give it one.
  for (const label of holder.parentElement.querySelectorAll(".ql-picker-label")) label.setAttribute("aria-label", "Paragraph style");
  quill.clipboard.dangerouslyPasteHTML(source.value);
  source.hidden = true;
  source.closest("form").addEventListener("submit", () => {
    // Quill writes spaces as &nbsp;; the server sanitises whatever arrives.
    source.value = quill.getSemanticHTML().replace(/&nbsp;|\u00a0/g, " ");
  });
})();

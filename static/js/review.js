// Keyboard shortcuts of the doctors' review workflow (worklist and case pages).
// Every action is also a link or a button, so the pages work without this script.
(() => {
  "use strict";

  const help = document.getElementById("review-keys");

  function typing(target) {
    // Keys typed into a field are text, never commands.
    return target.closest && target.closest("input, textarea, select, [contenteditable]");
  }

  // ----- worklist: j/k (n/p) move the selection, Enter/o open it.
  let selectedStudy = null;

  function rows() {
    return Array.from(document.querySelectorAll("#worklist tr[data-case-url]"));
  }

  function select(row) {
    rows().forEach((r) => r.classList.remove("selected"));
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    row.scrollIntoView({ block: "nearest" });
    selectedStudy = row.dataset.study;
  }

  function move(delta) {
    const all = rows();
    if (!all.length) return;
    const at = all.findIndex((r) => r.dataset.study === selectedStudy);
    const next = at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + delta));
    select(all[next]);
  }

  function openSelected() {
    const row = rows().find((r) => r.dataset.study === selectedStudy) || rows()[0];
    if (row) window.location.href = row.dataset.caseUrl;
  }

  // The table polls; keep the doctor's selection across the swap.
  document.body.addEventListener("htmx:afterSwap", () => {
    const row = rows().find((r) => r.dataset.study === selectedStudy);
    if (row) row.classList.add("selected");
  });

  // ----- case page: a accept, c correct, r reject, j/k next/previous case.
  function click(selector) {
    const el = document.querySelector(selector);
    if (!el) return false;
    el.click();
    return true;
  }

  const onWorklist = () => document.getElementById("worklist") !== null;
  const onCase = () => document.getElementById("review-form") !== null;

  const KEYS = {
    j: () => (onWorklist() ? move(1) : click('a[data-key="next"]')),
    n: () => (onWorklist() ? move(1) : click('a[data-key="next"]')),
    k: () => (onWorklist() ? move(-1) : click('a[data-key="prev"]')),
    p: () => (onWorklist() ? move(-1) : click('a[data-key="prev"]')),
    o: () => onWorklist() && openSelected(),
    Enter: () => onWorklist() && openSelected(),
    a: () => onCase() && click('#review-form button[data-key="a"]'),
    r: () => onCase() && click('#review-form button[data-key="r"]'),
    c: () => {
      const field = document.getElementById("id_finding");
      if (field) field.focus();
    },
    "?": () => help && (help.open ? help.close() : help.showModal()),
  };

  document.addEventListener("keydown", (event) => {
    // The viewer handles its own keys (and says so by preventing the default).
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    if (event.key === "Enter" && event.target.closest && event.target.closest("a, button")) return;
    const action = KEYS[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });

  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest('a[data-key="help"]');
    if (link && help) {
      event.preventDefault();
      help.showModal();
    }
  });
})();

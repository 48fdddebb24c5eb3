// The intake form is sent by htmx (hx-boost on the form): on success the encounter's page
// comes back in the same answer with its address pushed into the history, so the nurse waits
// for one request, not two. htmx leaves an answer of 400 and above unshown by default; here
// it is shown, as the browser would without JavaScript: a refused intake comes back with
// every value typed and each reason next to its field, and any other failure says what it is.
(function () {
  "use strict";
  if (window.medassistIntakeSwaps) return;  // the script comes back with every page it swaps in
  window.medassistIntakeSwaps = true;
  // The form that sent the request (a boosted form's answer is swapped into the body, so the
  // event fires there, not on the form).
  function intakeForm(event) {
    const config = event.detail.requestConfig;
    const elt = (config && config.elt) || event.target;
    return elt instanceof Element && elt.closest("form[data-swap-refusals]");
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status >= 400 && intakeForm(event)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:sendError", function (event) {
    const form = intakeForm(event);
    if (!form) return;
    let alert = form.querySelector("[data-testid=send-error]");
    if (!alert) {
      alert = document.createElement("p");
      alert.className = "error";
      alert.setAttribute("role", "alert");
      alert.dataset.testid = "send-error";
      form.prepend(alert);
    }
    alert.textContent = "Not sent: the server could not be reached. Everything typed is kept here; " +
      "press the button again.";
  });
})();

// The intake form is sent by htmx (hx-boost on the form): on success the encounter's page
// comes back in the same answer with its address pushed into the history, so the nurse waits
// for one request, not two. A refused intake (400) comes back with every value typed and each
// reason next to its field: htmx leaves answers of 400 and above unshown by default, so it is
// shown here, as the browser would without JavaScript. Any other failure (a proxy's timeout,
// an expired sign-in, a server error) keeps the form as typed and says what happened: the
// encounter may have been opened all the same, so the nurse looks before sending again.
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
  function say(form, text) {
    let alert = form.querySelector("[data-testid=send-error]");
    if (!alert) {
      alert = document.createElement("p");
      alert.className = "error";
      alert.setAttribute("role", "alert");
      alert.dataset.testid = "send-error";
      form.prepend(alert);
    }
    alert.textContent = text;
    alert.scrollIntoView({block: "nearest"});
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    const form = intakeForm(event);
    const status = event.detail.xhr.status;
    if (!form || status < 400) return;
    if (status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      return;
    }
    say(form, "The server answered with an error (" + status + "). Everything typed is kept " +
      "here. The encounter may have been opened all the same: look on the triage board " +
      "before sending again.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    const form = intakeForm(event);
    if (form) {
      say(form, "Not sent: the server could not be reached. Everything typed is kept here; " +
        "press the button again.");
    }
  });
})();

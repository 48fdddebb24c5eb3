// Idle sign-out: the warning before it, and the sign-in page when it comes.
//
// The server keeps the idle clock (medassist/signin); this script only asks it. It reads
// from <body>: data-idle-seconds, data-idle-warning-seconds, data-session-url and
// data-login-url. A page's automatic refreshes are not activity: every request htmx sends
// for an element whose own hx-trigger is a timer ("every 5s") carries X-MedAssist-Poll: 1,
// and so do this script's own checks. While the warning shows, a key press, click, touch,
// scroll or mouse move sends the keep-alive (a POST), which is activity.
(function () {
  "use strict";

  var body = document.body;
  var limit = parseFloat(body.dataset.idleSeconds);
  if (!limit || !body.dataset.sessionUrl) {
    return;
  }
  var warningLead = parseFloat(body.dataset.idleWarningSeconds) || 120;
  var sessionUrl = body.dataset.sessionUrl;
  var loginUrl = body.dataset.loginUrl;
  var POLL_HEADER = "X-MedAssist-Poll";
  var checkTimer = null;
  var countdown = null;
  var banner = null;
  var deadline = 0;
  var pinging = false;

  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.getAttribute) {
      return;
    }
    var trigger = elt.getAttribute("hx-trigger") || elt.getAttribute("data-hx-trigger") || "";
    if (/^\s*every\s/.test(trigger)) {
      event.detail.headers[POLL_HEADER] = "1";
    }
  });

  function csrfToken() {
    try {
      return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function schedule(seconds) {
    window.clearTimeout(checkTimer);
    checkTimer = window.setTimeout(check, Math.max(0, seconds) * 1000);
  }

  function goToSignIn() {
    var here = window.location.pathname + window.location.search;
    window.location.assign(loginUrl + "?next=" + encodeURIComponent(here));
  }

  function bannerText() {
    var left = Math.max(0, (deadline - Date.now()) / 1000);
    var when = left > 90 ? "in " + Math.round(left / 60) + " minutes"
      : left > 45 ? "in 1 minute" : "in less than a minute";
    return "You will be signed out " + when + " for inactivity — move the mouse or press a key "
      + "to stay signed in.";
  }

  function showBanner() {
    if (!banner) {
      banner = document.createElement("p");
      banner.className = "card warning";
      banner.setAttribute("role", "alert");
      banner.setAttribute("data-testid", "idle-warning");
      var main = document.querySelector("main") || body;
      main.insertBefore(banner, main.firstChild);
      countdown = window.setInterval(function () {
        banner.textContent = bannerText();
      }, 5000);
    }
    banner.textContent = bannerText();
  }

  function hideBanner() {
    if (banner) {
      window.clearInterval(countdown);
      banner.remove();
      banner = null;
    }
  }

  function handle(state) {
    if (!state.signed_in) {
      goToSignIn();
      return;
    }
    var left = state.idle_seconds_left;
    deadline = Date.now() + left * 1000;
    if (left > warningLead) {
      hideBanner();
      schedule(left - warningLead);
    } else {
      showBanner();
      // Just past the limit the server has signed the session out; this check sees it.
      schedule(left + 1);
    }
  }

  function ask(options) {
    return window.fetch(sessionUrl, options)
      .then(function (response) { return response.json(); })
      .then(handle)
      .catch(function () { schedule(30); });  // offline or restarting: ask again soon
  }

  function check() {
    var headers = {};
    headers[POLL_HEADER] = "1";
    ask({headers: headers, credentials: "same-origin", cache: "no-store"});
  }

  function keepAlive() {
    if (!banner || pinging) {
      return;
    }
    pinging = true;
    ask({
      method: "POST",
      headers: {"X-CSRFToken": csrfToken()},
      credentials: "same-origin",
      cache: "no-store",
    }).then(function () { pinging = false; });
  }

  ["keydown", "mousedown", "mousemove", "touchstart", "scroll", "wheel"].forEach(function (name) {
    document.addEventListener(name, keepAlive, {passive: true, capture: true});
  });

  // Loading this page was activity: the warning is due a full limit from now, less its lead.
  schedule(limit - warningLead);
})();

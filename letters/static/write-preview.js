// The live preview on /write: the letter as it will print, beside the form on a wide screen
// and behind "See my letter" on a phone, redrawn a moment after the supporter stops typing.
// The server composes it (POST to data-preview-url: the partial the PDF prints, escaped), so
// this script only decides when to ask. Without JavaScript the preview stays hidden and
// "Preview my letter" shows the letter, as before.
(function () {
  "use strict";
  var form = document.querySelector("form.write-form");
  var panel = document.getElementById("live-preview");
  if (!form || !panel || !window.fetch || !window.FormData) { return; }
  var url = panel.getAttribute("data-preview-url");
  var toggle = panel.querySelector(".live-preview-toggle");
  var sheet = document.getElementById("live-preview-sheet");
  var status = document.getElementById("live-preview-status");
  // Matches site.css's two-column layout.
  var wide = window.matchMedia("(min-width: 64rem)");
  var PAUSE_MS = 300;  // after the last keystroke or tick
  var timer = null;
  var inFlight = false;  // one request at a time
  var edits = 0;  // counts changes to the form
  var drawn = -1;  // the count the preview shows (or last failed to show)
  var announce = false;  // say so once the letter is current: only after "See my letter"

  function open() { return wide.matches || toggle.getAttribute("aria-expanded") === "true"; }

  function say(text) {
    // role="status" is polite; the letter itself is not a live region (every redraw would be
    // read out), so screen readers hear only what this says.
    if (status.textContent !== text) { status.textContent = text; }
  }

  function drawnNow() {
    if (announce) { say("Your letter as it stands now is below."); }
    announce = false;
  }

  function ask() {
    timer = null;
    if (inFlight || !open()) { return; }
    if (drawn === edits) { drawnNow(); return; }
    var asked = edits;
    inFlight = true;
    fetch(url, {
      method: "POST",
      body: new FormData(form),  // with the CSRF token; the same fields as submitting
      credentials: "same-origin",
      headers: { Accept: "text/html" }
    })
      .then(function (response) {
        if (!response.ok) { throw response; }
        return response.text();
      })
      .then(function (html) {
        drawn = asked;
        if (asked !== edits) { return; }  // the form changed meanwhile: this one is stale
        sheet.innerHTML = html;  // composed and escaped by the server; the CSP runs no script
        say("");
        drawnNow();
      }, function (problem) {
        drawn = asked;  // no retry loop: the next change asks again
        announce = false;
        say(problem && problem.status === 429
          ? "The preview is resting for a while. Your letter is fine: press “Preview my letter” to see it."
          : "The preview could not be updated. Your letter is fine: press “Preview my letter” to see it.");
      })
      .then(function () {
        inFlight = false;
        if (drawn !== edits) { later(); }
      });
  }

  function later() {
    if (timer !== null) { clearTimeout(timer); }
    timer = setTimeout(ask, PAUSE_MS);
  }

  function changed() {
    edits += 1;
    later();
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("divisionschange", changed);
  toggle.addEventListener("click", function () {
    var expanded = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", expanded ? "true" : "false");
    panel.classList.toggle("is-open", expanded);
    if (expanded) {
      announce = true;
      ask();
    }
  });
  if (wide.addEventListener) { wide.addEventListener("change", function () { ask(); }); }

  document.documentElement.classList.add("live-preview-on");
  form.classList.add("has-live-preview");
  panel.hidden = false;
  edits = 1;
  ask();
}());

// A print run's page: poll its status and move the progress bar; reload when it finishes.
// Without JavaScript the page refreshes itself (a <noscript> meta refresh) instead.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var state = box.getAttribute("data-state");
  if (state !== "queued" && state !== "running") { return; }
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("job-progress");
  var done = document.getElementById("job-done");
  var total = document.getElementById("job-total");

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.state !== state) { window.location.reload(); return; }
        if (bar) { bar.max = data.total || 1; bar.value = data.done; }
        if (done) { done.textContent = String(data.done); }
        if (total) { total.textContent = String(data.total); }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
}());

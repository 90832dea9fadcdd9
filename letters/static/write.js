// Progressive enhancement for /write: as the postcode is typed, show its electorates.
// Without JavaScript the same choice appears after the form is submitted.
(function () {
  "use strict";
  var form = document.querySelector("form.write-form");
  var postcode = document.getElementById("postcode");
  var state = document.getElementById("state");
  var box = document.getElementById("division-choice");
  if (!form || !postcode || !box) { return; }
  var url = form.getAttribute("data-divisions-url");
  var lastAsked = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }  // textContent: data is never parsed as HTML
    return node;
  }

  function checkedDivision() {
    var picked = form.querySelector("input[name=division]:checked");
    return picked ? picked.value : "";
  }

  function show(data) {
    var keep = checkedDivision();
    box.replaceChildren();
    if (data.error) {
      box.appendChild(el("p", { "class": "note" }, data.error));
      return;
    }
    if (data.divisions.length > 1) {
      box.appendChild(el("p", { "class": "hint" },
        "Your postcode covers more than one electorate. Choose yours."));
    }
    (data.notes || []).forEach(function (n) { box.appendChild(el("p", { "class": "note" }, n)); });
    var group = el("div", { "class": "field", role: "radiogroup", "aria-labelledby": "division-label" });
    group.appendChild(el("p", { "class": "label", id: "division-label" }, "Federal electorate"));
    var list = el("ul", { "class": "choices" });
    data.divisions.forEach(function (d, i) {
      if (!d.likely && (i === 0 || data.divisions[i - 1].likely)) {
        list.appendChild(el("li", { "class": "choices-heading" }, "Other divisions in " + d.state));
      }
      var input = el("input", { type: "radio", name: "division", value: d.name });
      if (i === 0) { input.id = "division"; }
      if (d.name === keep || data.divisions.length === 1) { input.checked = true; }
      var label = el("label");
      label.appendChild(input);
      label.appendChild(document.createTextNode(" "));
      label.appendChild(el("strong", {}, d.name));
      var who = " (" + d.state + ")";
      if (d.member) { who += " – " + d.member.name + (d.member.party ? ", " + d.member.party : ""); }
      label.appendChild(document.createTextNode(who));
      var li = el("li");
      li.appendChild(label);
      list.appendChild(li);
    });
    group.appendChild(list);
    box.appendChild(group);
  }

  function ask() {
    var code = postcode.value.replace(/\s+/g, "");
    if (!/^\d{4}$/.test(code)) { return; }
    var query = "?postcode=" + encodeURIComponent(code);
    if (state && state.value) { query += "&state=" + encodeURIComponent(state.value); }
    if (query === lastAsked) { return; }
    lastAsked = query;
    fetch(url + query, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (query !== lastAsked) { return; }
        show(data);
        // A radio checked by a script fires no change event: tell the live preview.
        form.dispatchEvent(new CustomEvent("divisionschange"));
      })
      .catch(function () { lastAsked = null; });
  }

  postcode.addEventListener("input", ask);
  if (state) { state.addEventListener("change", ask); }
  // This script is deferred: a postcode typed (or put back by the browser) before it ran
  // fired no event it heard, so look it up now. A choice the server already showed (a form
  // sent back with its errors) is left as it is.
  if (box.children.length === 0) { ask(); }
}());

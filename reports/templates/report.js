(function () {
  "use strict";
  var table = document.getElementById("findings");
  var body = table ? table.tBodies[0] : null;
  var rows = body ? Array.prototype.slice.call(body.rows) : [];
  var text = rows.map(function (r) { return r.textContent.toLowerCase(); });
  var q = document.getElementById("q");
  var sev = document.getElementById("severity");
  var st = document.getElementById("status-filter");
  var shown = document.getElementById("shown");
  var pageLabel = document.getElementById("page");
  var pagesLabel = document.getElementById("pages");
  var size = table ? Number(table.getAttribute("data-page-size")) || 250 : 250;
  var page = 0;

  // Only one page of matching rows is laid out at a time: a 5,000-row table stays quick to open.
  function apply() {
    var term = q ? q.value.trim().toLowerCase() : "";
    var s = sev ? sev.value : "";
    var t = st ? st.value : "";
    var n = 0;
    var matches = [];
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if ((!term || text[i].indexOf(term) >= 0) && (!s || r.getAttribute("data-severity") === s) &&
          (!t || r.getAttribute("data-status") === t)) { matches.push(i); }
    }
    var pages = Math.max(1, Math.ceil(matches.length / size));
    if (page >= pages) { page = pages - 1; }
    if (page < 0) { page = 0; }
    var first = page * size, last = first + size;
    var show = new Array(rows.length);
    for (var m = first; m < last && m < matches.length; m++) { show[matches[m]] = true; }
    for (var j = 0; j < rows.length; j++) {
      var hide = !show[j];
      if (rows[j].hidden !== hide) { rows[j].hidden = hide; }
    }
    n = matches.length;
    if (shown) { shown.textContent = String(n); }
    if (pageLabel) { pageLabel.textContent = String(page + 1); }
    if (pagesLabel) { pagesLabel.textContent = String(pages); }
  }

  function fromHash() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    if (q) { q.value = params.get("q") || ""; }
    if (sev) { sev.value = params.get("severity") || ""; }
    if (st) { st.value = params.get("status") || ""; }
    page = Math.max(0, (parseInt(params.get("page"), 10) || 1) - 1);
    var key = params.get("sort");
    if (key && table) {
      var heads = table.tHead.rows[0].cells;
      for (var h = 0; h < heads.length; h++) {
        if (heads[h].getAttribute("data-key") === key) {
          sortBy(heads[h], h, params.get("dir") === "desc" ? "desc" : "asc");
        }
      }
    }
    apply();
  }

  function toHash() {
    var params = new URLSearchParams();
    if (q && q.value) { params.set("q", q.value); }
    if (sev && sev.value) { params.set("severity", sev.value); }
    if (st && st.value) { params.set("status", st.value); }
    if (page > 0) { params.set("page", String(page + 1)); }
    var sorted = table ? table.querySelector("th[aria-sort]") : null;
    if (sorted) {
      params.set("sort", sorted.getAttribute("data-key"));
      params.set("dir", sorted.getAttribute("aria-sort") === "descending" ? "desc" : "asc");
    }
    var hash = params.toString();
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", hash ? "#" + hash : window.location.pathname + window.location.search);
    }
  }

  function sortBy(th, index, direction) {
    var ascending = direction ? direction === "asc" : th.getAttribute("aria-sort") !== "ascending";
    var heads = th.parentNode.children;
    for (var h = 0; h < heads.length; h++) { heads[h].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var numeric = th.getAttribute("data-type") === "number";
    var order = rows.map(function (r, i) {
      var cell = r.cells[index];
      var key = cell.getAttribute("data-sort");
      if (key === null) { key = cell.textContent.trim().toLowerCase(); }
      return { row: r, text: text[i], key: numeric ? Number(key) || 0 : key, i: i };
    });
    order.sort(function (a, b) {
      var c = a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i;
      return ascending ? c : -c;
    });
    var fragment = document.createDocumentFragment();
    rows = []; text = [];
    order.forEach(function (o) { fragment.appendChild(o.row); rows.push(o.row); text.push(o.text); });
    body.appendChild(fragment);
  }

  if (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, index) {
      var button = th.querySelector("button");
      if (button) { button.addEventListener("click", function () { sortBy(th, index); apply(); toHash(); }); }
    });
  }
  [q, sev, st].forEach(function (el) {
    if (el) { el.addEventListener("input", function () { page = 0; apply(); toHash(); }); }
  });
  [["prev", -1], ["next", 1]].forEach(function (pair) {
    var button = document.getElementById(pair[0]);
    if (button) { button.addEventListener("click", function () { page += pair[1]; apply(); toHash(); }); }
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
  document.documentElement.setAttribute("data-ready", String(Math.round(window.performance.now())));
})();

// Search on a commune site without the studio: the site's prebuilt index (search.json), words folded as the
// studio folds them (no diacritics, lower case, đ as d). Without JavaScript the form goes to the studio. On
// the static copy's other pages, the search box opens the static copy's own search page.
(function () {
  var box = document.getElementById("search-results");
  var form = document.querySelector("form.site-search");
  if (!form) return;
  if (!box && form.hasAttribute("data-local")) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      location.href = form.getAttribute("data-local") + "?q=" + encodeURIComponent(form.querySelector("input[name=q]").value);
    });
    return;
  }
  if (!box || !box.hasAttribute("data-static")) return;
  var fold = function (s) { return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/đ/g, "d"); };
  var run = function (q) {
    var words = fold(q).split(/\s+/).filter(Boolean);
    if (!words.length) return;
    fetch(box.getAttribute("data-index")).then(function (r) { return r.json(); }).then(function (rows) {
      var hits = rows.filter(function (r) { return words.every(function (w) { return r.f.indexOf(w) >= 0 || fold(r.t).indexOf(w) >= 0; }); });
      var ul = document.createElement("ul"); ul.className = "items";
      hits.slice(0, 100).forEach(function (r) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = r.u; a.textContent = r.t; li.appendChild(a); ul.appendChild(li);
      });
      var p = document.createElement("p"); p.textContent = hits.length + " / " + rows.length;
      box.replaceChildren(p, ul);
    });
  };
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = form.querySelector("input[name=q]").value;
    history.replaceState(null, "", box.getAttribute("data-page") + "?q=" + encodeURIComponent(q));
    run(q);
  });
  var q = new URLSearchParams(location.search).get("q");
  if (q) { form.querySelector("input[name=q]").value = q; run(q); }
})();

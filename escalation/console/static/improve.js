// 改善 pages: while the server rebuilds its models after an edit, re-read improve/status.json
// every two seconds and show when the change is live (no inline script: the CSP forbids it).
(function () {
  "use strict";
  var line = document.getElementById("kb-status");
  if (!line || !line.dataset.reloading) { return; }
  var timer = window.setInterval(function () {
    fetch(line.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("logged out"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (data) {
        line.textContent = data.text;
        line.classList.toggle("failed", !!data.error);
        if (!data.reloading) {
          line.classList.remove("reloading");
          window.clearInterval(timer);
        }
      })
      .catch(function () { /* a missed poll: the next one tries again */ });
  }, 2000);
})();

// Calls in progress: re-reads live.json every few seconds and redraws the table (no inline script:
// the console's CSP forbids it). Text goes in with textContent only, never as markup.
(function () {
  "use strict";
  var table = document.getElementById("live-calls");
  if (!table) { return; }
  var url = table.dataset.url;
  var everyMs = Number(table.dataset.refresh || 3) * 1000;
  var body = table.querySelector("tbody");
  var count = document.getElementById("live-count");
  var stamp = document.getElementById("live-updated");

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function clock(d) { return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds()); }
  function elapsed(iso) {
    var s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    return isNaN(s) ? "" : Math.floor(s / 60) + "分" + two(s % 60) + "秒";
  }
  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    return td;
  }
  function row(call) {
    var tr = document.createElement("tr");
    var started = new Date(call.started_at);
    tr.append(cell(call.call_id, "mono"), cell(call.carrier || ""), cell(isNaN(started) ? "" : clock(started), "time"),
      cell(elapsed(call.started_at), "time"), cell(call.caller || "非通知", "tel"), cell((call.turns || 0) + " 回"),
      cell(call.topic || call.last_intent || "—"));
    return tr;
  }
  function empty() {
    var tr = document.createElement("tr");
    tr.className = "none";
    var td = cell("いま通話中の電話はありません。");
    td.colSpan = 7;
    tr.append(td);
    return tr;
  }
  function refresh() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("logged out"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (data) {
        var calls = data.calls || [];
        body.replaceChildren.apply(body, calls.length ? calls.map(row) : [empty()]);
        count.textContent = String(calls.length);
        stamp.textContent = "最終更新 " + clock(new Date()) + "（" + everyMs / 1000 + " 秒ごと）";
        stamp.classList.remove("stale");
      })
      .catch(function () {
        stamp.textContent = "更新できません。再試行しています…";
        stamp.classList.add("stale");
      });
  }
  refresh();
  window.setInterval(refresh, everyMs);
})();

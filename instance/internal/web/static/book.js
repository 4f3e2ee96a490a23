// sproudchat booking page: shows each time also in the visitor's own zone when it
// differs from the instance's. Text is only ever set with textContent.
(function () {
  "use strict";
  var root = document.getElementById("book");
  if (!root) return;
  var zone = root.dataset.zone;
  var mine;
  try { mine = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!mine || mine === zone) return;
  var fmt = new Intl.DateTimeFormat(document.documentElement.lang || undefined, { hour: "2-digit", minute: "2-digit", timeZone: mine });
  var note = document.getElementById("your-zone");
  if (note) note.textContent = "(" + mine + ")";
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var local = el("small", fmt.format(new Date(t.getAttribute("datetime"))));
    local.className = "your-time";
    local.title = mine;
    t.parentNode.appendChild(local);
  });
  function el(tag, text) { var n = document.createElement(tag); n.textContent = " " + text; return n; }
})();

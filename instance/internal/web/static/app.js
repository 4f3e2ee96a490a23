// sproudchat agent UI: small enhancements; every page works without them.
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("[data-insert]");
  if (!btn) return;
  var box = document.querySelector("#reply-form textarea");
  if (!box) return;
  ev.preventDefault();
  var sep = box.value && !/\n$/.test(box.value) ? "\n" : "";
  box.value += sep + btn.getAttribute("data-insert");
  box.focus();
});

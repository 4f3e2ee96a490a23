// sproudchat widget: one <script src="https://<instance>/widget.js" async></script>
// on the customer's site. No framework; everything renders inside a shadow root so
// neither page can restyle the other. Text is only ever set with textContent.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || window.__sproudchat) return;
  window.__sproudchat = true;
  var base = new URL(me.src).origin;
  var key = "sproudchat:" + base;
  // TEXT is the widget's words in every language, from the instance's message
  // catalogs: the server puts them in place of the marker when it serves this file.
  var TEXT = /*TEXT*/{ "en": {} };
  var T = TEXT[/^de\b/i.test(navigator.language || "") ? "de" : "en"] || TEXT.en;

  function load() {
    try { return JSON.parse(localStorage.getItem(key)) || {}; } catch (e) { return {}; }
  }
  function save() {
    try { localStorage.setItem(key, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }
  // state (kept across page loads): token, conversation_id, pending (sent, not yet
  // acknowledged). seq is the last message shown on this page: a new page replays the
  // conversation from the start, a reconnect resumes after seq.
  var state = load();
  state.pending = state.pending || [];
  var seq = 0;

  function el(tag, attrs, text) {
    var n = document.createElement(tag);
    for (var k in attrs) n.setAttribute(k, attrs[k]);
    if (text != null) n.textContent = text;
    return n;
  }

  var host = el("div", { id: "sproudchat-root" });
  var root = host.attachShadow({ mode: "open" });
  var css = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font:14px/1.4 system-ui,sans-serif}",
    ".bubble{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:var(--c,#1f6feb);color:#fff;cursor:pointer;z-index:2147483647;font-size:24px}",
    ".panel{position:fixed;right:20px;bottom:88px;width:340px;max-width:calc(100vw - 40px);height:460px;max-height:calc(100vh - 120px);background:#fff;color:#111;border:1px solid #ccc;border-radius:10px;display:flex;flex-direction:column;z-index:2147483647;box-shadow:0 6px 24px rgba(0,0,0,.2)}",
    ".panel[hidden]{display:none}",
    ".badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 5px;border-radius:10px;background:#c00;color:#fff;font-size:12px;line-height:20px;text-align:center}",
    "header{padding:10px 12px;background:var(--c,#1f6feb);color:#fff;border-radius:10px 10px 0 0;display:flex;justify-content:space-between}",
    "header button{background:none;border:0;color:#fff;cursor:pointer}",
    ".log{flex:1;overflow-y:auto;padding:10px;display:flex;flex-direction:column;gap:6px}",
    ".msg{max-width:80%;padding:6px 10px;border-radius:8px;background:#eef;white-space:pre-wrap;word-wrap:break-word}",
    ".msg.visitor{align-self:flex-end;background:var(--c,#1f6feb);color:#fff}",
    ".msg.pending{opacity:.6}",
    ".msg a{color:inherit;cursor:pointer;text-decoration:underline}",
    ".clip{background:none!important;color:#555!important;font-size:18px;padding:2px 4px!important}",
    ".status{padding:4px 10px;color:#a40;font-size:12px}",
    ".mailme{margin:0 8px 8px;background:none;border:0;color:var(--c,#1f6feb);text-decoration:underline;cursor:pointer;align-self:flex-start}",
    ".typing{padding:2px 10px;color:#666;font-size:12px;font-style:italic}",
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #ddd;flex-wrap:wrap}",
    "input,textarea{flex:1;min-width:0;padding:6px;border:1px solid #bbb;border-radius:6px}",
    "form button{padding:6px 10px;border:0;border-radius:6px;background:var(--c,#1f6feb);color:#fff;cursor:pointer}",
    ".pre input,.off input,.off textarea{flex-basis:100%}.pre label{font-size:12px}",
    ".greet,.note{padding:6px 10px;border-radius:8px;background:#eef}",
    "[hidden]{display:none!important}",
    ":focus-visible{outline:2px solid #f90;outline-offset:2px}"
  ].join("");
  // A constructed stylesheet is not subject to the host page's style-src policy.
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    root.appendChild(el("style", {}, css));
  }

  var bubble = el("button", { "class": "bubble", type: "button", "aria-label": T.open, "aria-expanded": "false" }, "💬");
  var badge = el("span", { "class": "badge", hidden: "" });
  bubble.appendChild(badge);
  var panel = el("div", { "class": "panel", role: "dialog", "aria-label": T.title, hidden: "" });
  var head = el("header", {}, null);
  head.appendChild(el("span", {}, T.title));
  var closer = el("button", { type: "button", "aria-label": T.close }, "×");
  head.appendChild(closer);
  var log = el("div", { "class": "log", role: "log", "aria-live": "polite" });
  var status = el("div", { "class": "status", role: "status" });
  var typing = el("div", { "class": "typing", "aria-live": "polite", hidden: "" }, T.typing);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(status);

  // The pre-chat form: name, e-mail and consent, asked once per visitor.
  var pre = el("form", { "class": "pre" });
  var fName = el("input", { name: "name", autocomplete: "name", placeholder: T.name, "aria-label": T.name });
  var fEmail = el("input", { name: "email", type: "email", autocomplete: "email", placeholder: T.email, "aria-label": T.email });
  var consentLabel = el("label", {});
  var fConsent = el("input", { type: "checkbox", name: "consent", required: "" });
  consentLabel.appendChild(fConsent);
  consentLabel.appendChild(document.createTextNode(" " + T.consent));
  pre.appendChild(fName);
  pre.appendChild(fEmail);
  pre.appendChild(consentLabel);
  pre.appendChild(el("button", { type: "submit" }, T.start));

  var compose = el("form", { "class": "compose" });
  var input = el("textarea", { name: "message", rows: "2", maxlength: "4000", placeholder: T.input, "aria-label": T.input });
  var file = el("input", { type: "file", hidden: "", "aria-label": T.attach });
  var clip = el("button", { type: "button", "class": "clip", "aria-label": T.attach, title: T.attach }, "📎");
  clip.addEventListener("click", function () { file.click(); });
  compose.appendChild(input);
  compose.appendChild(file);
  compose.appendChild(clip);
  compose.appendChild(el("button", { type: "submit" }, T.send));

  // The leave-a-message form, while no agent is online: it becomes a ticket.
  var off = el("form", { "class": "off" });
  var oName = el("input", { name: "name", autocomplete: "name", placeholder: T.name, "aria-label": T.name });
  var oEmail = el("input", { name: "email", type: "email", required: "", autocomplete: "email", placeholder: T.email, "aria-label": T.email });
  var oMessage = el("textarea", { name: "message", rows: "3", required: "", maxlength: "10000", placeholder: T.message, "aria-label": T.message });
  [oName, oEmail, oMessage, el("button", { type: "submit" }, T.leave)].forEach(function (n) { off.appendChild(n); });
  var note = el("p", { "class": "note" });
  var greet = el("div", { "class": "greet" });
  var mailMe = el("button", { type: "button", "class": "mailme" }, T.transcript);
  mailMe.addEventListener("click", function () {
    post("/api/v1/chat/transcript", { token: state.token }, function () { status.textContent = T.transcriptSent; });
  });

  // cfg comes from the instance: colour, greeting, offline text, whether an agent is
  // online and whether the instance is read-only. Until it arrives nothing is offered.
  var cfg = null, leftMessage = false;
  function showForms() {
    var unavailable = !cfg || cfg.read_only, away = cfg && !cfg.online && !state.token;
    pre.hidden = unavailable || away || !!state.token;
    compose.hidden = unavailable || !state.token;
    mailMe.hidden = !state.token || !state.email;
    off.hidden = unavailable || !away || leftMessage;
    note.hidden = !(away && !leftMessage);
    note.textContent = (cfg && cfg.offline_text) || T.away;
    greet.textContent = (cfg && cfg.greeting) || "";
    greet.hidden = !greet.textContent;
    if (unavailable && cfg) status.textContent = T.unavailable;
    if (!pre.parentNode) {
      log.insertBefore(greet, log.firstChild);
      [note, off, pre, compose, mailMe].forEach(function (n) { panel.appendChild(n); });
    }
  }
  function loadConfig() {
    fetch(base + "/api/v1/chat/config").then(function (r) {
      if (!r.ok) throw new Error(T.unavailable);
      return r.json();
    }).then(function (c) {
      cfg = c;
      if (/^#[0-9a-f]{6}$/i.test(c.colour)) host.style.setProperty("--c", c.colour);
      showForms();
    }).catch(function () {
      cfg = null;
      status.textContent = T.unavailable;
      showForms();
    });
  }

  off.addEventListener("submit", function (e) {
    e.preventDefault();
    post("/api/v1/chat/offline", { name: oName.value, email: oEmail.value, message: oMessage.value }, function (b) {
      leftMessage = true;
      status.textContent = "";
      var thanks = el("p", { "class": "note", role: "status" }, T.thanks + b.reference);
      log.appendChild(thanks);
      showForms();
    });
  });

  // post sends JSON to the instance and hands the answer to done; a refusal shows its
  // detail, a refused origin or network failure (a TypeError without detail) says
  // chat is unavailable.
  function post(path, body, done) {
    fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) {
        return (r.status === 202 ? Promise.resolve({}) : r.json()).then(function (b) {
          if (!r.ok) throw new Error(r.status === 422 ? T.invalid : (b.detail || T.unavailable));
          done(b);
        });
      }).catch(function (err) {
        status.textContent = err instanceof TypeError ? T.unavailable : err.message;
      });
  }

  // Answers that arrive while the panel is closed show as a count on the bubble; what
  // was read is remembered across page loads.
  var unread = 0;
  function markUnread() {
    badge.textContent = String(unread);
    badge.hidden = !unread;
    bubble.setAttribute("aria-label", panel.hidden ? T.open + (unread ? " (" + unread + ")" : "") : T.close);
  }
  function toggle(open) {
    panel.hidden = !open;
    bubble.setAttribute("aria-expanded", String(open));
    if (open) {
      unread = 0;
      state.read = seq;
      save();
    }
    markUnread();
    if (open) {
      showForms();
      loadConfig();
      (state.token ? input : fName).focus();
      connect();
    } else {
      bubble.focus();
    }
  }
  bubble.addEventListener("click", function () { toggle(panel.hidden); });
  closer.addEventListener("click", function () { toggle(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(false); });

  var shown = {}; // seq or client_id → element, so nothing shows twice
  function render(m, pending) {
    var id = m.seq ? "s" + m.seq : "c" + m.client_id;
    if (shown[id]) return;
    var node = m.client_id && shown["c" + m.client_id];
    if (node && m.seq) {
      node.classList.remove("pending");
      shown[id] = node;
      return;
    }
    node = el("div", { "class": "msg " + (m.author === "visitor" ? "visitor" : "agent") + (pending ? " pending" : "") }, m.attachment ? null : m.body);
    if (m.attachment) node.appendChild(fileLink(m.attachment));
    else if (m.file) node.textContent = "📎 " + m.body;
    node.setAttribute("aria-label", (m.author === "visitor" ? T.you : T.agent) + ": " + m.body);
    shown[id] = node;
    if (m.client_id) shown["c" + m.client_id] = node;
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
  }

  // A file link fetches the file with the visitor's token in the body (never in an
  // address) and saves it.
  function fileLink(a) {
    var link = el("a", { href: "#", "class": "file" }, "📎 " + a.filename + " (" + Math.max(1, Math.round(a.size / 1024)) + " KB)");
    link.addEventListener("click", function (e) {
      e.preventDefault();
      fetch(base + a.url, { method: "POST", body: new URLSearchParams({ token: state.token }) }).then(function (r) {
        if (!r.ok) throw new Error(T.failed);
        return r.blob();
      }).then(function (b) {
        var save = el("a", { href: URL.createObjectURL(b), download: a.filename });
        save.click();
        setTimeout(function () { URL.revokeObjectURL(save.href); }, 10000);
      }).catch(function (err) { status.textContent = err.message; });
    });
    return link;
  }

  // A file goes up over HTTP with the token and a client id, so a retry lands once;
  // it comes back as a message like any other.
  file.addEventListener("change", function () {
    var f = file.files[0];
    file.value = "";
    if (!f || !state.token) return;
    if (cfg && cfg.max_file && f.size > cfg.max_file) { status.textContent = T.tooBig; return; }
    var id = clientID();
    render({ author: "visitor", body: f.name, client_id: id, file: true }, true);
    var form = new FormData();
    form.append("token", state.token);
    form.append("client_id", id);
    form.append("file", f);
    fetch(base + "/api/v1/chat/attachments", { method: "POST", body: form }).then(function (r) {
      return r.json().then(function (b) {
        if (!r.ok) throw new Error(r.status === 413 ? T.tooBig : (b.detail || T.failed));
        showFile(b);
      });
    }).catch(function (err) {
      status.textContent = err instanceof TypeError ? T.failed : err.message;
      var n = shown["c" + id];
      if (n) { n.remove(); delete shown["c" + id]; }
    });
  });
  // showFile turns the pending line of an upload into the link once it is stored.
  function showFile(m) {
    var n = m.client_id && shown["c" + m.client_id];
    if (n && !n.querySelector("a")) {
      n.textContent = "";
      n.appendChild(fileLink(m.attachment));
    }
    render(m, false);
  }

  pre.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!fConsent.checked) return;
    post("/api/v1/chat/conversations", { name: fName.value, email: fEmail.value }, function (b) {
      state.token = b.token;
      state.conversation_id = b.conversation_id;
      state.email = fEmail.value.trim();
      save();
      showForms();
      input.focus();
      connect();
    });
  });

  function clientID() {
    var a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  compose.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = input.value.trim();
    if (!body) return;
    var m = { type: "send", client_id: clientID(), body: body };
    state.pending.push(m);
    save();
    render({ author: "visitor", body: body, client_id: m.client_id }, true);
    input.value = "";
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(m));
    else resumeHere(); // sent on connecting
  });
  // Typing, told to the agent at most every 3 seconds while it lasts, and when it stops.
  var typingSent = 0, typingStop = null;
  function sendTyping(on) {
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify({ type: "typing", on: on }));
    return true;
  }
  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - typingSent > 3000 && sendTyping(true)) typingSent = now;
    clearTimeout(typingStop);
    typingStop = setTimeout(function () { typingSent = 0; sendTyping(false); }, 4000);
  });
  compose.addEventListener("submit", function () {
    if (typingSent) { clearTimeout(typingStop); typingSent = 0; sendTyping(false); }
  });
  var typingHide = null;
  function showTyping(on) {
    typing.hidden = !on;
    clearTimeout(typingHide);
    if (on) typingHide = setTimeout(function () { typing.hidden = true; }, 10000);
  }

  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); compose.requestSubmit(); }
  });

  // The connection: resume from the last sequence seen, resend what was not
  // acknowledged (the server drops duplicates by client_id), reconnect with backoff.
  // A newer tab of the same chat may replace this one's connection (the server keeps
  // a few per chat); then it waits until the visitor comes back to this tab, so two
  // tabs never take turns replacing each other.
  var ws = null, attempt = 0, timer = null, replaced = false;
  function connect() {
    if (!state.token || ws || timer) return;
    ws = new WebSocket(base.replace(/^http/, "ws") + "/api/v1/chat/ws?token=" + encodeURIComponent(state.token));
    ws.onopen = function () {
      attempt = 0;
      host.setAttribute("data-state", "connected");
      status.textContent = "";
      ws.send(JSON.stringify({ type: "resume", after: seq }));
      state.pending.forEach(function (m) { ws.send(JSON.stringify(m)); });
    };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "typing") {
        showTyping(f.on);
      } else if (f.type === "message") {
        if (f.author !== "visitor") showTyping(false);
        var fresh = f.seq > seq;
        if (f.attachment) showFile(f); else render(f, false);
        if (fresh) seq = f.seq;
        if (fresh && f.author !== "visitor" && f.seq > (state.read || 0)) {
          if (panel.hidden) unread++;
          else { state.read = f.seq; save(); }
          markUnread();
        }
        ack(f.client_id);
      } else if (f.type === "ack") {
        ack(f.client_id);
      } else if (f.type === "error") {
        status.textContent = f.detail || T.failed;
        if (f.client_id) ack(f.client_id);
      }
    };
    ws.onclose = function (ev) {
      ws = null;
      host.setAttribute("data-state", "disconnected");
      if (ev.code === 1008 || ev.code === 4404) { status.textContent = T.unavailable; return; }
      if (ev.code === 4409) { replaced = true; status.textContent = T.elsewhere; return; }
      status.textContent = T.offline;
      var delay = Math.min(15000, 500 * Math.pow(2, attempt++)) * (0.5 + Math.random() / 2);
      timer = setTimeout(function () { timer = null; connect(); }, delay);
    };
  }
  function resumeHere() {
    if (!replaced) return;
    replaced = false;
    status.textContent = "";
    connect();
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") resumeHere();
  });
  window.addEventListener("focus", resumeHere);
  function ack(id) {
    if (!id) return;
    state.pending = state.pending.filter(function (m) { return m.client_id !== id; });
    save();
  }

  function mount() {
    document.body.appendChild(host);
    host.shadowRoot.appendChild(bubble);
    root.appendChild(panel);
    loadConfig();
    state.pending.forEach(function (m) { render({ author: "visitor", body: m.body, client_id: m.client_id }, true); });
    if (state.token) connect();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();

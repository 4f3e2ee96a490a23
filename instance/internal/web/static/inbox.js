// sproudchat agent inbox: the conversation list with unread counts, one conversation
// at a time, replies, notes, files and canned responses, kept live over the inbox
// WebSocket. Text is only ever set with textContent.
(function () {
  "use strict";
  var root = document.getElementById("inbox");
  if (!root) return;
  var T = JSON.parse(root.dataset.i18n || "{}");
  var me = Number(root.dataset.me);
  var canAnswer = root.dataset.canAnswer === "true";
  var live = root.dataset.live === "true";
  var csrf = root.dataset.csrf;
  function $(id) { return document.getElementById(id); }
  var list = $("conversations"), none = $("no-conversations"), view = $("conversation"), log = $("messages");
  var filter = $("filter"), conn = $("conn"), typing = $("typing"), errorBox = $("inbox-error");
  var reply = $("reply"), body = $("reply-body"), internal = $("internal"), fileInput = $("file"), cannedBox = $("canned");

  var convs = {};      // id → conversation, as the API shows it
  var agents = [];     // who may answer chats, with presence
  var canned = [];     // canned responses
  var current = null;  // the open conversation's id
  var shown = {};      // "s"+seq or "c"+client_id → element of the open conversation
  var lastSeq = {};    // id → last sequence number received
  var pending = [];    // frames sent, not yet acknowledged: resent after a reconnect

  function el(tag, attrs, text) {
    var n = document.createElement(tag);
    for (var k in attrs || {}) n.setAttribute(k, attrs[k]);
    if (text != null) n.textContent = text;
    return n;
  }
  function api(method, path, data) {
    var opts = { method: method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (data instanceof FormData) opts.body = data;
    else if (data !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(data); }
    return fetch(path, opts).then(function (r) {
      if (r.status === 204) return {};
      return r.json().then(function (b) {
        if (!r.ok) throw new Error(r.status === 413 ? T.too_big : (b.detail || T.failed));
        return b;
      });
    });
  }
  function fail(err) { errorBox.textContent = err.message || String(err); errorBox.hidden = false; }
  function agentName(id) {
    if (id === me) return T.you;
    for (var i = 0; i < agents.length; i++) if (agents[i].id === id) return agents[i].name;
    return "#" + id;
  }
  function who(c) { return c.visitor_name || c.visitor_email || T.visitor + " #" + c.id; }

  // The list: newest activity first, each line with its unread count.
  function visible(c) {
    switch (filter.value) {
      case "mine": return c.status === "open" && c.assignee_id === me;
      case "queue": return c.status === "open" && c.assignee_id == null;
      case "closed": return c.status === "closed";
    }
    return c.status === "open";
  }
  function drawList() {
    var items = Object.keys(convs).map(function (k) { return convs[k]; }).filter(visible);
    items.sort(function (a, b) { return b.updated_at < a.updated_at ? -1 : b.updated_at > a.updated_at ? 1 : b.id - a.id; });
    list.textContent = "";
    items.forEach(function (c) {
      var li = el("li", { "data-id": String(c.id) });
      var b = el("button", { type: "button", "class": "conv", "aria-current": String(c.id === current) });
      b.appendChild(el("span", { "class": "who" }, who(c)));
      var badge = el("span", { "class": "unread" }, String(c.unread));
      badge.hidden = !c.unread;
      b.appendChild(badge);
      b.appendChild(el("span", { "class": "meta" }, c.assignee_id == null ? T.unassigned : agentName(c.assignee_id)));
      b.addEventListener("click", function () { open(c.id); });
      li.appendChild(b);
      list.appendChild(li);
    });
    none.hidden = items.length > 0;
    var total = 0;
    Object.keys(convs).forEach(function (k) { if (convs[k].status === "open") total += convs[k].unread; });
    document.title = document.title.replace(/^\(\d+\) /, "");
    if (total) document.title = "(" + total + ") " + document.title;
  }
  function loadList() {
    var status = filter.value === "closed" ? "closed" : "open";
    return api("GET", "/api/v1/chat/conversations?limit=200&status=" + status).then(function (b) {
      convs = {};
      b.conversations.forEach(function (c) { convs[c.id] = c; });
      if (current && convs[current]) drawHead();
      drawList();
    }).catch(fail);
  }
  function loadAgents() {
    return api("GET", "/api/v1/chat/agents").then(function (b) {
      agents = b.agents;
      var mine = agents.filter(function (a) { return a.id === me; })[0];
      if (mine && $("presence")) $("presence").value = mine.status;
      drawAssignees();
    }).catch(fail);
  }

  // The open conversation.
  function drawHead() {
    var c = convs[current];
    if (!c) return;
    $("conv-title").textContent = who(c);
    $("conv-meta").textContent = [c.visitor_email, c.origin, c.status === "closed" ? T.closed : ""].filter(Boolean).join(" · ");
    if ($("close")) { $("close").hidden = c.status !== "open"; $("reopen").hidden = c.status === "open"; }
    if ($("take")) $("take").hidden = c.assignee_id === me;
    drawAssignees();
  }
  function drawAssignees() {
    var sel = $("assignee"), c = convs[current];
    if (!sel || !c) return;
    sel.textContent = "";
    sel.appendChild(el("option", { value: "" }, T.unassigned));
    agents.forEach(function (a) {
      var label = a.name + " (" + T[a.presence] + ", " + a.open_chats + "/" + a.max_chats + ")";
      sel.appendChild(el("option", { value: String(a.id) }, label));
    });
    sel.value = c.assignee_id == null ? "" : String(c.assignee_id);
  }
  function open(id) {
    current = id;
    shown = {};
    log.textContent = "";
    typing.hidden = true;
    errorBox.hidden = true;
    view.hidden = false;
    drawList();
    return api("GET", "/api/v1/chat/conversations/" + id).then(function (b) {
      if (current !== id) return;
      convs[id] = b.conversation;
      drawHead();
      b.messages.forEach(show);
      markRead();
      if (body) body.focus();
    }).catch(fail);
  }
  function show(m) {
    if (m.seq > (lastSeq[m.conversation_id] || 0)) lastSeq[m.conversation_id] = m.seq;
    if (m.conversation_id !== current) return;
    var key = m.seq ? "s" + m.seq : "c" + m.client_id;
    if (shown[key]) return;
    var li = m.client_id && shown["c" + m.client_id];
    if (li && m.seq) { // our own message, stored: it moves to its place in the order
      li.classList.remove("pending");
      li.dataset.seq = String(m.seq);
      shown[key] = li;
      place(li, m.seq);
      return;
    }
    li = el("li", { "class": m.author + (m.internal ? " internal" : "") + (m.seq ? "" : " pending"), "data-seq": String(m.seq || 0) });
    var label = m.author === "visitor" ? T.visitor : m.author === "agent" ? (m.internal ? T.note + " · " : "") + (m.user_id ? agentName(m.user_id) : T.you) : "";
    if (label) li.appendChild(el("small", {}, label));
    if (m.attachment) {
      var a = el("a", { href: m.attachment.url, download: m.attachment.filename, "class": "file" }, "📎 " + m.attachment.filename);
      li.appendChild(a);
    } else {
      li.appendChild(document.createTextNode(m.body));
    }
    shown[key] = li;
    if (m.client_id) shown["c" + m.client_id] = li;
    log.appendChild(li);
    if (m.seq) place(li, m.seq);
    log.scrollTop = log.scrollHeight;
  }
  // place puts a stored message before the first one stored after it, so the log is
  // in the stored order even when a message written offline was stored after answers.
  function place(li, seq) {
    var items = log.children; // stored ones first, then those still pending
    for (var i = 0; i < items.length; i++) {
      if (items[i] !== li && (Number(items[i].dataset.seq) > seq || items[i].classList.contains("pending"))) {
        if (items[i] !== li.nextElementSibling) log.insertBefore(li, items[i]);
        return;
      }
    }
    if (li !== log.lastElementChild) log.appendChild(li);
  }
  var readTimer = null;
  function markRead() {
    var c = convs[current];
    if (!c || !live) return;
    clearTimeout(readTimer);
    readTimer = setTimeout(function () {
      var seq = lastSeq[c.id] || c.last_seq;
      if (seq <= c.read_seq) return;
      api("POST", "/api/v1/chat/conversations/" + c.id + "/read", { seq: seq }).then(function (u) { convs[u.id] = u; drawList(); }).catch(fail);
    }, 300);
  }

  // The live connection: updates the list, shows messages and typing, reconnects with
  // backoff; on every (re)connect the list is reloaded and the open conversation resumed,
  // so what happened while it was away is not missed. A newer inbox tab may replace this
  // one's connection; then it waits until the agent comes back to this tab.
  var ws = null, attempt = 0, replaced = false;
  function connect() {
    if (!live) return;
    ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/api/v1/chat/inbox");
    ws.onopen = function () {
      attempt = 0;
      root.dataset.state = "connected";
      conn.textContent = T.connected;
      loadList();
      loadAgents();
      if (current) ws.send(JSON.stringify({ type: "resume", conversation_id: current, after: lastSeq[current] || 0 }));
      pending.forEach(function (f) { ws.send(JSON.stringify(f)); });
    };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "message") onMessage(f);
      else if (f.type === "conversation") onUpdate(f);
      else if (f.type === "typing" && f.conversation_id === current && f.author === "visitor") showTyping(f.on);
      else if (f.type === "ack") acked(f.client_id);
      else if (f.type === "error") { acked(f.client_id); fail(new Error(f.detail || T.failed)); }
    };
    ws.onclose = function (ev) {
      ws = null;
      root.dataset.state = "disconnected";
      if (ev.code === 4409) { // a newer tab took over: this one waits until it is looked at
        replaced = true;
        conn.textContent = T.elsewhere;
        return;
      }
      conn.textContent = T.disconnected;
      setTimeout(connect, Math.min(15000, 500 * Math.pow(2, attempt++)) * (0.5 + Math.random() / 2));
    };
  }
  function resumeHere() {
    if (!replaced) return;
    replaced = false;
    connect();
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") resumeHere();
  });
  window.addEventListener("focus", resumeHere);
  function onMessage(m) {
    var c = convs[m.conversation_id];
    if (!c) { loadList(); return; } // a conversation this list has not seen
    c.updated_at = m.at;
    c.last_seq = Math.max(c.last_seq, m.seq);
    if (m.author === "visitor") {
      showTyping(false);
      if (m.conversation_id === current && document.visibilityState === "visible") markRead();
      else if (m.seq > c.read_seq) c.unread++;
    }
    show(m);
    drawList();
  }
  function onUpdate(f) {
    var old = convs[f.conversation_id];
    convs[f.conversation_id] = f.conversation;
    if (f.new) ring(f.conversation);
    if (old && old.assignee_id !== f.conversation.assignee_id) loadAgents();
    if (f.conversation_id === current) drawHead();
    drawList();
  }
  var typingHide = null;
  function showTyping(on) {
    typing.hidden = !on;
    clearTimeout(typingHide);
    if (on) typingHide = setTimeout(function () { typing.hidden = true; }, 10000);
  }

  // A new chat rings: a short tone, and a desktop notification once allowed.
  var audio = null;
  function ring(c) {
    root.dataset.rings = String(Number(root.dataset.rings) + 1);
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880;
      g.gain.value = 0.08;
      o.connect(g);
      g.connect(audio.destination);
      o.start();
      o.stop(audio.currentTime + 0.18);
    } catch (e) { /* no audio: the notification and the list still tell */ }
    if (window.Notification && Notification.permission === "granted") {
      var n = new Notification(T.new_chat, { body: who(c), tag: "chat-" + c.id });
      n.onclick = function () { window.focus(); open(c.id); };
    }
  }
  var notifyOn = $("notify-on");
  if (window.Notification && Notification.permission === "default") {
    notifyOn.hidden = false;
    notifyOn.addEventListener("click", function () {
      Notification.requestPermission().then(function () { notifyOn.hidden = true; });
    });
  }

  // Replying: Enter sends, Shift+Enter is a new line; /shortcut becomes its canned
  // response; a note goes to the team only.
  function clientID() {
    var a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function acked(id) {
    if (!id) return;
    pending = pending.filter(function (f) { return f.client_id !== id; });
  }
  function expand(text) {
    var m = /^\/([a-z0-9_-]+)$/i.exec(text.trim());
    if (!m) return text;
    var hit = canned.filter(function (c) { return c.shortcut === m[1].toLowerCase(); })[0];
    return hit ? hit.body : text;
  }
  function matches() {
    var m = /^\/([a-z0-9_-]*)$/i.exec(body.value);
    if (!m) return [];
    return canned.filter(function (c) { return c.shortcut.indexOf(m[1].toLowerCase()) === 0; });
  }
  function drawCanned() {
    var hits = matches();
    cannedBox.textContent = "";
    hits.forEach(function (c, i) {
      var li = el("li", { role: "option", "aria-selected": String(i === 0), "data-shortcut": c.shortcut }, "/" + c.shortcut + " – " + c.body);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); body.value = c.body; drawCanned(); body.focus(); });
      cannedBox.appendChild(li);
    });
    cannedBox.hidden = hits.length === 0;
  }
  var typingSent = 0, typingStop = null;
  function sendTyping(on) {
    if (!ws || ws.readyState !== 1 || !current || (internal && internal.checked)) return false;
    ws.send(JSON.stringify({ type: "typing", conversation_id: current, on: on }));
    return true;
  }
  if (reply) {
    api("GET", "/api/v1/chat/canned").then(function (b) { canned = b.canned; }).catch(fail);
    body.addEventListener("input", function () {
      drawCanned();
      var now = Date.now();
      if (now - typingSent > 3000 && sendTyping(true)) typingSent = now;
      clearTimeout(typingStop);
      typingStop = setTimeout(function () { typingSent = 0; sendTyping(false); }, 4000);
    });
    body.addEventListener("keydown", function (e) {
      if (e.key === "Tab" && !cannedBox.hidden) {
        e.preventDefault();
        body.value = matches()[0].body;
        drawCanned();
      } else if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        reply.requestSubmit();
      }
    });
    reply.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = expand(body.value).trim();
      if (!text || !current) return;
      var f = { type: "send", conversation_id: current, client_id: clientID(), body: text, internal: internal.checked };
      pending.push(f);
      show({ conversation_id: current, author: "agent", body: text, client_id: f.client_id, internal: f.internal });
      body.value = "";
      internal.checked = false;
      drawCanned();
      if (typingSent) { clearTimeout(typingStop); typingSent = 0; sendTyping(false); }
      if (ws && ws.readyState === 1) ws.send(JSON.stringify(f));
    });
    fileInput.addEventListener("change", function () {
      var file = fileInput.files[0];
      fileInput.value = "";
      if (!file || !current) return;
      var form = new FormData();
      form.append("client_id", clientID());
      form.append("file", file);
      api("POST", "/api/v1/chat/conversations/" + current + "/attachments", form).then(show).catch(fail);
    });
    function assignTo(id) {
      api("POST", "/api/v1/chat/conversations/" + current + "/assign", { user_id: id }).then(function (c) {
        convs[c.id] = c;
        drawHead();
        drawList();
        loadAgents();
      }).catch(fail);
    }
    $("take").addEventListener("click", function () { assignTo(me); });
    $("assignee").addEventListener("change", function () { assignTo(this.value ? Number(this.value) : null); });
    ["close", "reopen"].forEach(function (action) {
      $(action).addEventListener("click", function () {
        api("POST", "/api/v1/chat/conversations/" + current + "/" + action).then(function (c) { convs[c.id] = c; drawHead(); drawList(); }).catch(fail);
      });
    });
    if ($("to-ticket")) $("to-ticket").addEventListener("click", function () {
      api("POST", "/api/v1/chat/conversations/" + current + "/ticket").then(function (t) {
        errorBox.hidden = true;
        conn.textContent = T.ticket_made.replace("%s", t.id);
      }).catch(fail);
    });
    $("presence").addEventListener("change", function () {
      api("PUT", "/api/v1/chat/presence", { status: this.value }).then(loadAgents).catch(fail);
    });
  }
  filter.addEventListener("change", loadList);
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") markRead(); });

  // A link from a notification (/inbox?c=7) opens that conversation.
  var wanted = Number(new URLSearchParams(location.search).get("c"));
  loadList().then(function () { if (wanted > 0) open(wanted); });
  loadAgents();
  connect();
})();

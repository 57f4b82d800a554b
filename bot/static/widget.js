/* 增值电信许可问答 · embeddable chat bubble.
 * <script src="https://bot.example.com/widget.js" data-title="许可证问答" data-greeting="您好…"
 *         data-color="#1f6feb" data-position="right" data-cta-text="联系顾问" data-cta-url="https://…" defer></script>
 * Plain JavaScript, no framework, nothing loaded from other hosts. Everything renders inside a Shadow DOM;
 * all text from the server is inserted as text (textContent), never as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!script || window.__licenceBotLoaded) return;
  window.__licenceBotLoaded = true;

  var base = new URL(script.src, location.href).origin;
  var cfg = {
    title: script.dataset.title || "增值电信许可问答",
    greeting: script.dataset.greeting || "您好！我可以解答ICP证、EDI证、IDC、CDN、SP证、小程序备案、外资准入等问题，每条回答都注明出处。",
    color: /^#[0-9a-fA-F]{3,8}$|^[a-zA-Z]+$/.test(script.dataset.color || "") ? script.dataset.color : "#1f6feb",
    position: script.dataset.position === "left" ? "left" : "right",
    ctaText: script.dataset.ctaText || "联系顾问",
    ctaUrl: /^(https?:|mailto:|tel:)/.test(script.dataset.ctaUrl || "") ? script.dataset.ctaUrl : ""
  };
  var STORE = "licenceBot:" + base;

  var host = document.createElement("div");
  host.id = "licence-bot-widget";
  document.body.appendChild(host);
  var root = host.attachShadow({ mode: "open" });

  var css = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif}",
    ".bubble{position:fixed;bottom:20px;" + cfg.position + ":20px;width:56px;height:56px;border-radius:50%;border:0;",
    "background:var(--c);color:#fff;font-size:24px;cursor:pointer;display:flex;align-items:center;justify-content:center;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}",
    ".bubble:focus-visible,.send:focus-visible,.close:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    ".panel{position:fixed;bottom:88px;" + cfg.position + ":20px;width:380px;max-width:calc(100vw - 24px);height:560px;",
    "max-height:calc(100vh - 110px);background:#fff;color:#1f2328;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);",
    "display:flex;flex-direction:column;overflow:hidden;z-index:2147483001;font-size:14px;line-height:1.6}",
    ".panel[hidden]{display:none}",
    "header{background:var(--c);color:#fff;padding:10px 12px;display:flex;align-items:center;gap:8px}",
    "header h2{font-size:15px;margin:0;flex:1;font-weight:600}",
    ".close{background:transparent;border:0;color:#fff;font-size:20px;cursor:pointer;line-height:1;padding:4px 8px}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px;background:#f6f8fa}",
    ".msg{max-width:92%;padding:8px 10px;border-radius:10px;white-space:pre-wrap;word-break:break-word}",
    ".user{align-self:flex-end;background:var(--c);color:#fff}",
    ".bot{align-self:flex-start;background:#fff;border:1px solid #d0d7de}",
    ".bot.error{border-color:#cf222e;color:#cf222e}",
    ".mark{color:var(--c);font-weight:600;font-size:12px;vertical-align:super}",
    ".sources{margin-top:6px;border-top:1px dashed #d0d7de;padding-top:6px;font-size:12px}",
    ".sources summary{cursor:pointer;color:#57606a}",
    ".src{margin:6px 0}.src a{color:var(--c)}.quote{color:#57606a;margin:2px 0 0;padding-left:8px;border-left:3px solid #d0d7de}",
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #d0d7de;background:#fff}",
    "textarea{flex:1;resize:none;border:1px solid #d0d7de;border-radius:8px;padding:6px 8px;font-size:14px;height:42px;max-height:120px}",
    ".send{background:var(--c);color:#fff;border:0;border-radius:8px;padding:0 14px;cursor:pointer;font-size:14px}",
    ".send[disabled]{opacity:.6;cursor:wait}",
    ".cta{display:block;text-align:center;padding:6px;font-size:13px;background:#fff8c5;color:#1f2328;text-decoration:none}",
    ".note{font-size:11px;color:#57606a;text-align:center;padding:0 8px 6px;background:#fff}",
    "@media (max-width:480px){.panel{" + cfg.position + ":6px;bottom:76px;width:calc(100vw - 12px);height:calc(100vh - 90px);max-height:none}}"
  ].join("");

  var style = document.createElement("style");
  style.textContent = css;
  root.appendChild(style);
  var wrap = document.createElement("div");
  wrap.style.setProperty("--c", cfg.color);
  root.appendChild(wrap);

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }

  var bubble = el("button", "bubble");
  bubble.type = "button";
  // A speech-bubble icon drawn inline (no emoji font or image needed).
  var svgNS = "http://www.w3.org/2000/svg";
  var icon = document.createElementNS(svgNS, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("width", "26");
  icon.setAttribute("height", "26");
  icon.setAttribute("aria-hidden", "true");
  var path = document.createElementNS(svgNS, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z");
  icon.appendChild(path);
  bubble.appendChild(icon);
  bubble.setAttribute("aria-label", "打开" + cfg.title);
  bubble.setAttribute("aria-expanded", "false");
  var panel = el("section", "panel");
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", cfg.title);
  var header = el("header");
  header.appendChild(el("h2", null, cfg.title));
  var close = el("button", "close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "关闭");
  header.appendChild(close);
  var log = el("div", "log");
  log.setAttribute("aria-live", "polite");
  var form = el("form");
  var input = el("textarea");
  input.setAttribute("aria-label", "输入问题");
  input.placeholder = "输入问题，Enter 发送，Shift+Enter 换行";
  input.maxLength = 2000;
  var send = el("button", "send", "发送");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(header);
  panel.appendChild(log);
  if (cfg.ctaUrl) {
    var cta = el("a", "cta", cfg.ctaText + " →");
    cta.href = cfg.ctaUrl;
    cta.target = "_blank";
    cta.rel = "noopener";
    panel.appendChild(cta);
  }
  panel.appendChild(form);
  panel.appendChild(el("div", "note", "回答摘自知识库文章，仅供参考，不构成法律意见。"));
  wrap.appendChild(panel);
  wrap.appendChild(bubble);

  // The conversation lives for the browser session.
  var state = { turns: [], messages: [] };
  try { state = JSON.parse(sessionStorage.getItem(STORE)) || state; } catch (e) { /* private mode */ }
  function save() { try { sessionStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* ignore */ } }

  // Answer text with [n] markers shown as small superscripts; built from text nodes only.
  function renderText(node, text) {
    node.textContent = "";
    var parts = String(text).split(/(\[\d+\])/);
    for (var i = 0; i < parts.length; i++) {
      if (/^\[\d+\]$/.test(parts[i])) node.appendChild(el("span", "mark", parts[i]));
      else if (parts[i]) node.appendChild(document.createTextNode(parts[i]));
    }
  }

  function renderSources(node, citations) {
    if (!citations || !citations.length) return;
    var box = el("details", "sources");
    box.appendChild(el("summary", null, "来源（" + citations.length + "）"));
    citations.forEach(function (c) {
      var item = el("div", "src");
      item.appendChild(document.createTextNode("[" + c.n + "] "));
      var url = /^https?:\/\//.test(c.url) ? c.url : (c.url && c.url.charAt(0) === "/" ? base + c.url : "");
      if (url) {
        var a = el("a", null, c.title);
        a.href = url;
        a.target = "_blank";
        a.rel = "noopener";
        item.appendChild(a);
      } else {
        item.appendChild(document.createTextNode(c.title));
      }
      var q = String(c.text || "");
      item.appendChild(el("p", "quote", q.length > 220 ? q.slice(0, 220) + "…" : q));
      box.appendChild(item);
    });
    node.appendChild(box);
  }

  function addMessage(role, text, citations, isError) {
    var m = el("div", "msg " + role + (isError ? " error" : ""));
    var body = el("div");
    if (role === "bot") renderText(body, text); else body.textContent = text;
    m.appendChild(body);
    if (citations) renderSources(m, citations);
    log.appendChild(m);
    log.scrollTop = log.scrollHeight;
    return { box: m, body: body };
  }

  function restore() {
    log.textContent = "";
    addMessage("bot", cfg.greeting);
    state.messages.forEach(function (m) { addMessage(m.role, m.text, m.citations, m.error); });
  }

  function open() {
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    input.focus();
  }
  function shut() {
    panel.hidden = true;
    bubble.setAttribute("aria-expanded", "false");
    bubble.focus();
  }
  bubble.addEventListener("click", function () { panel.hidden ? open() : shut(); });
  close.addEventListener("click", shut);
  root.addEventListener("keydown", function (e) { if (e.key === "Escape" && !panel.hidden) { e.preventDefault(); shut(); } });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });

  var busy = false;
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = input.value.trim();
    if (!q || busy) return;
    input.value = "";
    ask(q);
  });

  function fail(view, text) {
    view.box.classList.add("error");
    view.body.textContent = text;
    state.messages.push({ role: "bot", text: text, error: true });
    save();
  }

  function ask(question) {
    busy = true;
    send.disabled = true;
    addMessage("user", question);
    state.messages.push({ role: "user", text: question });
    state.turns.push(question);
    save();
    var view = addMessage("bot", "…");
    var text = "";
    var citations = [];
    fetch(base + "/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question: question, turns: state.turns.slice(-8) })
    }).then(function (res) {
      if (res.status === 429) throw new Error("提问太频繁了，请稍等片刻再试。");
      if (res.status === 403) throw new Error("本网站暂未开通问答服务。");
      if (res.status === 413) throw new Error("问题太长了，请精简后再试。");
      if (!res.ok || !res.body) throw new Error("服务暂时不可用，请稍后再试或联系顾问。");
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buf = "";
      function handle(block) {
        var ev = "message", data = "";
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) ev = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
        });
        if (!data) return;
        var obj = JSON.parse(data);
        if (ev === "delta") { text += obj.text; renderText(view.body, text); }
        else if (ev === "reset") { text = ""; renderText(view.body, text); }
        else if (ev === "error") { text = obj.message; renderText(view.body, text); }
        else if (ev === "citations") { citations = obj.citations || []; }
        log.scrollTop = log.scrollHeight;
      }
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) return;
          buf += decoder.decode(r.value, { stream: true });
          var i;
          while ((i = buf.indexOf("\n\n")) >= 0) { handle(buf.slice(0, i)); buf = buf.slice(i + 2); }
          return pump();
        });
      }
      return pump();
    }).then(function () {
      renderSources(view.box, citations);
      state.messages.push({ role: "bot", text: text, citations: citations });
      save();
    }).catch(function (err) {
      fail(view, err && err.message ? err.message : "网络异常，请稍后再试。");
    }).then(function () {
      busy = false;
      send.disabled = false;
      log.scrollTop = log.scrollHeight;
    });
  }

  restore();
})();

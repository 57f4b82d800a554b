/* 增值电信许可问答 · embeddable chat bubble.
 * <script src="https://bot.example.com/widget.js" data-title="许可证问答" data-greeting="您好…"
 *         data-examples="问题一|问题二" data-color="#1f6feb" data-position="right"
 *         data-cta-text="联系顾问" data-cta-url="https://…" defer></script>
 * Plain JavaScript, no framework, nothing loaded from other hosts. Everything renders inside a Shadow DOM;
 * all text from the server is inserted as text (textContent), never as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!script || window.__licenceBotLoaded) return;
  window.__licenceBotLoaded = true;

  var base = new URL(script.src, location.href).origin;
  var DEFAULT_EXAMPLES = ["我只做小程序，需要办ICP证吗？", "ICP证注册资本最低要多少？", "外资公司能办ICP证吗？"];
  var cfg = {
    title: script.dataset.title || "增值电信许可问答",
    greeting: script.dataset.greeting || "您好！我可以解答ICP证、EDI证、IDC、CDN、SP证、小程序备案、外资准入等问题，每条回答都注明出处。",
    examples: script.dataset.examples ? script.dataset.examples.split("|").filter(Boolean).slice(0, 4) : DEFAULT_EXAMPLES,
    color: /^#[0-9a-fA-F]{3,8}$|^[a-zA-Z]+$/.test(script.dataset.color || "") ? script.dataset.color : "#1f6feb",
    position: script.dataset.position === "left" ? "left" : "right",
    ctaText: script.dataset.ctaText || "联系顾问",
    ctaUrl: /^(https?:|mailto:|tel:)/.test(script.dataset.ctaUrl || "") ? script.dataset.ctaUrl : ""
  };
  var STORE = "licenceBot:" + base;
  var TEXT = {
    blocked: "本网站暂未开通问答服务。",
    offline: "暂时无法连接问答服务，请检查网络后再试，或联系顾问。",
    busy: "提问太频繁了，请稍等片刻再试。",
    tooLong: "问题太长了，请精简后再试。",
    down: "服务暂时不可用，请稍后再试或联系顾问。",
    copied: "已复制",
    thanks: "感谢反馈！"
  };

  // A custom element, not a div: the host page's own rules for div (borders, margins) never reach it.
  var host = document.createElement("licence-bot");
  host.id = "licence-bot-widget";
  host.style.setProperty("all", "initial", "important");
  document.body.appendChild(host);
  var root = host.attachShadow({ mode: "open" });

  var css = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif}",
    ".bubble{position:fixed;bottom:20px;" + cfg.position + ":20px;width:56px;height:56px;border-radius:50%;border:0;",
    "background:var(--c);color:#fff;font-size:24px;cursor:pointer;display:flex;align-items:center;justify-content:center;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}",
    "button:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    ".panel{position:fixed;bottom:88px;" + cfg.position + ":20px;width:380px;max-width:calc(100vw - 24px);height:560px;",
    "max-height:calc(100vh - 110px);background:#fff;color:#1f2328;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);",
    "display:flex;flex-direction:column;overflow:hidden;z-index:2147483001;font-size:14px;line-height:1.6}",
    ".panel[hidden]{display:none}",
    "header{background:var(--c);color:#fff;padding:8px 8px 8px 12px;display:flex;align-items:center;gap:4px}",
    "header h2{font-size:15px;margin:0;flex:1;font-weight:600}",
    ".tool{background:transparent;border:0;color:#fff;font-size:13px;cursor:pointer;line-height:1;padding:6px 8px;border-radius:6px}",
    ".tool:hover{background:rgba(255,255,255,.18)}.close{font-size:20px}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px;background:#f6f8fa}",
    ".msg{max-width:92%;padding:8px 10px;border-radius:10px;white-space:pre-wrap;word-break:break-word}",
    ".user{align-self:flex-end;background:var(--c);color:#fff}",
    ".bot{align-self:flex-start;background:#fff;border:1px solid #d0d7de}",
    ".bot.error{border-color:#cf222e;color:#cf222e}",
    ".mark{color:var(--c);font-weight:600;font-size:12px;vertical-align:super;background:none;border:0;padding:0 1px;cursor:pointer}",
    ".sources{margin-top:6px;border-top:1px dashed #d0d7de;padding-top:6px;font-size:12px;white-space:normal}",
    ".sources summary{cursor:pointer;color:#57606a}",
    ".src{margin:6px 0;border-radius:4px}.src.hit{background:#fff8c5}.src a{color:var(--c)}",
    ".quote{color:#57606a;margin:2px 0 0;padding-left:8px;border-left:3px solid #d0d7de}",
    ".actions{display:flex;gap:4px;margin-top:6px;white-space:normal}",
    ".act{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;font-size:12px;padding:2px 8px;cursor:pointer;color:#1f2328}",
    ".said{font-size:12px;color:#57606a;align-self:center}",
    ".act[aria-pressed=true]{background:var(--c);color:#fff;border-color:var(--c)}",
    ".chips{display:flex;flex-wrap:wrap;gap:6px;align-self:flex-start;max-width:100%}",
    ".chip{background:#fff;border:1px solid var(--c);color:var(--c);border-radius:14px;font-size:12px;padding:3px 10px;cursor:pointer;text-align:left}",
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
  function button(cls, text, label) {
    var b = el("button", cls, text);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    return b;
  }

  var bubble = button("bubble", null, "打开" + cfg.title);
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
  bubble.setAttribute("aria-expanded", "false");
  var panel = el("section", "panel");
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", cfg.title);
  var header = el("header");
  header.appendChild(el("h2", null, cfg.title));
  var fresh = button("tool reset", "新对话", "开始新对话");
  var close = button("tool close", "×", "关闭");
  header.appendChild(fresh);
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
  var empty = function () { return { turns: [], messages: [] }; };
  var state = empty();
  try { state = JSON.parse(sessionStorage.getItem(STORE)) || state; } catch (e) { /* private mode */ }
  function save() { try { sessionStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* ignore */ } }

  function sourceUrl(c) {
    if (/^https?:\/\//.test(c.url || "")) return c.url;
    return c.url && c.url.charAt(0) === "/" ? base + c.url : "";
  }

  // Answer text with each [n] as a button that opens its source; built from text nodes only.
  function renderText(view, text) {
    var node = view.body;
    node.textContent = "";
    var parts = String(text).split(/(\[\d+\])/);
    for (var i = 0; i < parts.length; i++) {
      if (/^\[\d+\]$/.test(parts[i])) {
        var mark = button("mark", parts[i], "查看来源 " + parts[i]);
        mark.dataset.n = parts[i].slice(1, -1);
        node.appendChild(mark);
      } else if (parts[i]) {
        node.appendChild(document.createTextNode(parts[i]));
      }
    }
  }

  function showSource(view, n) {
    var box = view.box.querySelector("details.sources");
    var item = box && box.querySelector('.src[data-n="' + n + '"]');
    if (!item) return;
    box.open = true;
    view.box.querySelectorAll(".src.hit").forEach(function (x) { x.classList.remove("hit"); });
    item.classList.add("hit");
    item.scrollIntoView({ block: "nearest" });
    var link = item.querySelector("a");
    if (link) link.focus();
  }

  function renderSources(view, citations) {
    if (!citations || !citations.length) return;
    var box = el("details", "sources");
    box.appendChild(el("summary", null, "来源（" + citations.length + "）"));
    citations.forEach(function (c) {
      var item = el("div", "src");
      item.dataset.n = String(c.n);
      item.appendChild(document.createTextNode("[" + c.n + "] "));
      var url = sourceUrl(c);
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
    view.box.appendChild(box);
  }

  // Plain text with numbered footnotes, for pasting into WeChat or an e-mail.
  function plainText(m) {
    var lines = [String(m.text || "")];
    if (m.citations && m.citations.length) {
      lines.push("", "来源：");
      m.citations.forEach(function (c) { lines.push("[" + c.n + "] " + c.title + (sourceUrl(c) ? " " + sourceUrl(c) : "")); });
    }
    return lines.join("\n");
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = el("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    root.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { root.removeChild(area); }
    return Promise.resolve();
  }

  function renderActions(view, m) {
    var row = el("div", "actions");
    var copyBtn = button("act copy", "复制", "复制回答（纯文本，含来源）");
    copyBtn.addEventListener("click", function () {
      copy(plainText(m)).then(function () { copyBtn.textContent = TEXT.copied; },
                              function () { copyBtn.textContent = "复制失败"; });
      setTimeout(function () { copyBtn.textContent = "复制"; }, 2000);
    });
    row.appendChild(copyBtn);
    if (m.answer_id) {
      [["up", "👍", "有帮助"], ["down", "👎", "没有帮助"]].forEach(function (r) {
        var b = button("act rate", r[1], r[2]);
        b.dataset.rating = r[0];
        b.setAttribute("aria-pressed", m.rating === r[0] ? "true" : "false");
        b.addEventListener("click", function () { rate(m, r[0], row); });
        row.appendChild(b);
      });
    }
    view.box.appendChild(row);
  }

  function rate(m, rating, row) {
    fetch(base + "/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ answer_id: m.answer_id, rating: rating })
    }).then(function (res) {
      if (!res.ok) throw new Error();
      m.rating = rating;
      save();
      row.querySelectorAll(".rate").forEach(function (b) {
        b.setAttribute("aria-pressed", b.dataset.rating === rating ? "true" : "false");
      });
      say(row, TEXT.thanks);
    }).catch(function () { say(row, "反馈暂时无法提交"); });
  }
  function say(row, text) {
    var note = row.querySelector(".said") || row.appendChild(el("span", "said"));
    note.textContent = text;
  }

  function chips(questions, cls) {
    if (!questions || !questions.length) return;
    var row = el("div", "chips " + cls);
    questions.forEach(function (q) {
      var c = button("chip", q);
      c.addEventListener("click", function () { if (!busy) { clearChips(); ask(q); } });
      row.appendChild(c);
    });
    log.appendChild(row);
  }
  function clearChips() { log.querySelectorAll(".chips").forEach(function (c) { c.remove(); }); }

  function addMessage(m) {
    var box = el("div", "msg " + m.role + (m.error ? " error" : ""));
    var view = { box: box, body: el("div") };
    box.appendChild(view.body);
    if (m.role === "bot") renderText(view, m.text); else view.body.textContent = m.text;
    if (m.citations) renderSources(view, m.citations);
    if (m.role === "bot" && m.done) renderActions(view, m);
    log.appendChild(box);
    return view;
  }

  // Keep the start of an answer in sight: follow it to the end only while all of it fits.
  function reveal(box) {
    var top = box.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop - 8;
    log.scrollTop = box.offsetHeight + 16 <= log.clientHeight ? log.scrollHeight : top;
  }

  function restore() {
    log.textContent = "";
    addMessage({ role: "bot", text: cfg.greeting });
    state.messages.forEach(addMessage);
    var last = state.messages[state.messages.length - 1];
    if (!state.messages.length) chips(cfg.examples, "examples");
    else if (last && last.suggestions) chips(last.suggestions, "suggestions");
    log.scrollTop = log.scrollHeight;
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
  fresh.addEventListener("click", function () {
    if (busy) return;
    state = empty();
    save();
    restore();
    input.focus();
  });
  root.addEventListener("keydown", function (e) { if (e.key === "Escape" && !panel.hidden) { e.preventDefault(); shut(); } });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  log.addEventListener("click", function (e) {
    var mark = e.target.closest && e.target.closest(".mark");
    if (mark) showSource({ box: mark.closest(".msg") }, mark.dataset.n);
  });

  var busy = false;
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = input.value.trim();
    if (!q || busy) return;
    input.value = "";
    clearChips();
    ask(q);
  });

  function Refusal(message) { this.message = message; }

  // A fetch that fails before any response is either a site not allowed (CORS) or a service out of reach;
  // an opaque request to /healthz tells the two apart without reading anything.
  function unreachable() {
    return fetch(base + "/healthz", { mode: "no-cors", cache: "no-store" })
      .then(function () { return TEXT.blocked; }, function () { return TEXT.offline; });
  }

  function ask(question) {
    busy = true;
    send.disabled = true;
    var asked = { role: "user", text: question };
    addMessage(asked);
    state.messages.push(asked);
    state.turns.push(question);
    save();
    var m = { role: "bot", text: "", citations: [] };
    var view = addMessage({ role: "bot", text: "…" });
    reveal(view.box);
    fetch(base + "/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Bot-Surface": "widget" },
      body: JSON.stringify({ question: question, turns: state.turns.slice(-8) })
    }).then(function (res) {
      if (res.status === 429) throw new Refusal(TEXT.busy);
      if (res.status === 403) throw new Refusal(TEXT.blocked);
      if (res.status === 413) throw new Refusal(TEXT.tooLong);
      if (res.status === 400) return res.json().then(function (j) { throw new Refusal(j.detail || TEXT.down); });
      if (!res.ok || !res.body) throw new Refusal(TEXT.down);
      return stream(res, m, view);
    }).then(function () {
      m.done = true;
      renderSources(view, m.citations);
      renderActions(view, m);
      state.messages.push(m);
      save();
      chips(m.suggestions, "suggestions");
    }).catch(function (err) {
      return (err instanceof Refusal ? Promise.resolve(err.message) : unreachable()).then(function (text) {
        view.box.classList.add("error");
        view.body.textContent = text;
        state.messages.push({ role: "bot", text: text, error: true });
        save();
      });
    }).then(function () {
      busy = false;
      send.disabled = false;
      reveal(view.box);
    });
  }

  function stream(res, m, view) {
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
      if (ev === "delta") m.text += obj.text;
      else if (ev === "reset") m.text = "";
      else if (ev === "error") m.text = obj.message;
      else if (ev === "citations") m.citations = obj.citations || [];
      else if (ev === "done" && obj.answer) {
        m.text = obj.answer.answer || m.text;
        m.citations = obj.answer.citations || m.citations;
        m.answer_id = obj.answer.answer_id;
        m.suggestions = obj.answer.suggestions || [];
      }
      renderText(view, m.text);
      reveal(view.box);
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
  }

  restore();
})();

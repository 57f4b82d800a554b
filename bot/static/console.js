// The operator console: vanilla JS over /admin/api/*. Every piece of text from the server (questions, answers,
// file names, titles) goes into the page as text nodes, never as HTML; charts are SVG drawn here.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const SURFACES = { page: "网页", widget: "嵌入组件", api: "/api/ask", chat: "/api/chat", v1: "OpenAI 接口",
    reply: "客户咨询回复", assess: "许可自测" };
  const $ = (sel, root) => (root || document).querySelector(sel);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function notice(text, error) {
    const box = $("#notice");
    box.textContent = text || "";
    box.hidden = !text;
    box.classList.toggle("error", !!error);
  }

  async function api(path, opts) {
    const res = await fetch(path, Object.assign({ credentials: "same-origin" }, opts || {}));
    if (res.status === 401 || res.status === 403) {
      if (path.startsWith("/admin/api/session") || res.status === 401) { location.reload(); throw new Error("需要重新登录"); }
    }
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const detail = body && (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
      throw new Error(detail || `请求失败（${res.status}）`);
    }
    return body;
  }

  const pct = (x) => `${(100 * (x || 0)).toFixed(1)}%`;
  const when = (iso) => { const d = new Date(iso); return isNaN(d) ? iso : d.toLocaleString("zh-CN", { hour12: false }); };

  // -- charts ----------------------------------------------------------------------------------------------

  function columnChart(box, labels, values, opts) {
    const o = Object.assign({ line: false, format: (v) => String(v) }, opts || {});
    const W = 560, H = 200, L = 44, B = 24, T = 10, R = 10;
    const max = Math.max(o.max || 0, ...values, 0) || 1;
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": o.title || "" });
    const x0 = L, y0 = H - B, w = W - L - R, h = H - B - T, n = Math.max(values.length, 1), step = w / n;
    s.append(svg("line", { x1: x0, y1: y0, x2: W - R, y2: y0, class: "axis" }));
    s.append(svg("line", { x1: x0, y1: T, x2: x0, y2: y0, class: "axis" }));
    for (const f of [0, 0.5, 1]) {
      s.append(svg("text", { x: x0 - 4, y: y0 - f * h + 4, "text-anchor": "end" }, o.format(max * f)));
    }
    const pts = [];
    values.forEach((v, i) => {
      const x = x0 + i * step, y = y0 - (v / max) * h;
      if (o.line) {
        pts.push(`${x + step / 2},${y}`);
        const dot = svg("circle", { cx: x + step / 2, cy: y, r: 2.5, class: "dot" });
        dot.append(svg("title", {}, `${labels[i]}：${o.format(v)}`));
        s.append(dot);
      } else {
        const bar = svg("rect", { x: x + step * 0.15, y, width: Math.max(step * 0.7, 1), height: y0 - y, class: "bar" });
        bar.append(svg("title", {}, `${labels[i]}：${o.format(v)}`));
        s.append(bar);
      }
      const every = Math.ceil(n / 8);
      if (i % every === 0) s.append(svg("text", { x: x + step / 2, y: H - 6, "text-anchor": "middle" }, labels[i].slice(5)));
    });
    if (o.line && pts.length) s.insertBefore(svg("polyline", { points: pts.join(" "), class: "line" }), s.firstChild);
    box.replaceChildren(s);
  }

  function barList(box, items) {
    const W = 560, row = 24, L = 130, H = Math.max(items.length, 1) * row + 8;
    const max = Math.max(...items.map((i) => i.value), 1);
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
    if (!items.length) s.append(svg("text", { x: 8, y: 20 }, "暂无数据"));
    items.forEach((it, i) => {
      const y = 4 + i * row, width = ((W - L - 60) * it.value) / max;
      s.append(svg("text", { x: L - 6, y: y + 15, "text-anchor": "end" }, it.label));
      const bar = svg("rect", { x: L, y: y + 3, width: Math.max(width, 1), height: row - 8, class: "hbar" });
      bar.append(svg("title", {}, `${it.label}：${it.value}`));
      s.append(bar);
      s.append(svg("text", { x: L + width + 6, y: y + 15 }, it.value));
    });
    box.replaceChildren(s);
  }

  // -- dashboard -------------------------------------------------------------------------------------------

  async function loadDashboard() {
    const d = await api(`/admin/api/stats?days=${$("#dash-days").value}`);
    const kpi = (label, value) => el("div", { class: "kpi" }, label, el("b", {}, value));
    $("#kpis").replaceChildren(
      kpi("提问数", d.total), kpi("拒答率", pct(d.refusal_rate)), kpi("差评率", `${pct(d.down_rate)}（${d.down}/${d.rated}）`),
      kpi("耗时中位数", `${Math.round(d.p50_latency_ms)} 毫秒`), kpi("低置信度回答", d.low_confidence));
    const days = d.per_day.map((x) => x.date);
    columnChart($("#chart-count"), days, d.per_day.map((x) => x.count), { title: "每日提问数", format: (v) => Math.round(v) });
    columnChart($("#chart-refused"), days, d.per_day.map((x) => x.refusal_rate), { line: true, max: 1, format: pct });
    columnChart($("#chart-down"), days, d.per_day.map((x) => x.down_rate), { line: true, max: 1, format: pct });
    columnChart($("#chart-latency"), days, d.per_day.map((x) => x.p50_latency_ms), { line: true, format: (v) => Math.round(v) });
    barList($("#chart-topics"), d.topics.map((t) => ({ label: t.topic, value: t.count })));
    barList($("#chart-surfaces"), d.surfaces.map((t) => ({ label: SURFACES[t.surface] || t.surface, value: t.count })));
    $("#top-articles").replaceChildren(...d.articles.map((a) => el("li", {}, `${a.title}（${a.doc_id}）：${a.count} 次`)));
    $("#dash-log").textContent = d.log && d.log.ok ? `日志正常：已写入 ${d.log.written} 条，丢失 ${d.log.lost} 条`
      : `日志异常：${(d.log && d.log.error) || "数据库不可用"}`;
  }

  // -- conversations ---------------------------------------------------------------------------------------

  let convOffset = 0;
  const PAGE = 50;

  function convQuery() {
    const form = new FormData($("#conv-filters"));
    const q = new URLSearchParams();
    for (const [k, v] of form.entries()) if (v) q.set(k, v);
    return q;
  }

  function rating(fb) {
    if (!fb) return "";
    return fb.rating === "down" ? "差评" : "好评";
  }

  async function loadConversations(more) {
    convOffset = more ? convOffset + PAGE : 0;
    const q = convQuery();
    $("#conv-csv").href = `/admin/api/conversations.csv?${q}`;
    q.set("limit", PAGE);
    q.set("offset", convOffset);
    const d = await api(`/admin/api/conversations?${q}`);
    const body = $("#conv-table tbody");
    if (!more) body.replaceChildren();
    for (const it of d.items) {
      const tr = el("tr", { "data-id": it.answer_id, tabindex: 0 },
        el("td", {}, when(it.created_at)), el("td", {}, SURFACES[it.surface] || it.surface),
        el("td", { class: "q", title: it.question || "" }, it.question === null ? "（未记录问题文本）" : it.question),
        el("td", {}, it.refused ? el("span", { class: "tag bad" }, "拒答") : ""),
        el("td", {}, it.confidence.toFixed(2)), el("td", {}, rating(it.feedback)));
      tr.addEventListener("click", () => openConversation(it.answer_id, tr));
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") openConversation(it.answer_id, tr); });
      body.append(tr);
    }
    if (!more && !d.items.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "没有符合条件的对话。")));
    $("#conv-more").hidden = d.items.length < PAGE;
  }

  async function openConversation(id, row) {
    document.querySelectorAll("#conv-table tr.selected").forEach((r) => r.classList.remove("selected"));
    if (row) row.classList.add("selected");
    const it = await api(`/admin/api/conversations/${encodeURIComponent(id)}`);
    const box = $("#conv-detail");
    const fb = it.feedback;
    box.replaceChildren(...[
      el("h2", {}, "对话详情"),
      el("p", { class: "muted" }, `${when(it.created_at)} · ${SURFACES[it.surface] || it.surface} · 置信度 ${it.confidence.toFixed(2)}` +
        ` · 耗时 ${Math.round(it.latency_ms)} 毫秒${it.origin ? ` · 来源站点 ${it.origin}` : ""}`),
      it.turns && it.turns.length > 1 ? el("div", {}, el("h3", {}, "对话轮次"), el("ol", {}, ...it.turns.map((t) => el("li", {}, t)))) : null,
      el("h3", {}, "问题"), el("div", { class: "text question" }, it.question === null ? "（未记录问题文本）" : it.question),
      el("h3", {}, "回答", it.refused ? el("span", { class: "tag bad" }, "拒答") : null),
      el("div", { class: "text answer" }, it.answer === null ? "（未记录回答文本）" : it.answer),
      el("h3", {}, "引用"),
      it.citations.length ? el("ol", { class: "citations" }, ...it.citations.map((c) =>
        el("li", {}, `[${c.n}] ${c.title || ""}（${c.doc_id}）`))) : el("p", { class: "muted" }, "无引用"),
      el("h3", {}, "用户反馈"),
      fb ? el("p", { class: "feedback" }, el("span", { class: `tag ${fb.rating === "down" ? "bad" : "good"}` }, fb.rating === "down" ? "差评：没帮助" : "好评：有帮助"),
        fb.comment || "") : el("p", { class: "muted" }, "暂无反馈")].filter(Boolean));
  }

  // -- gaps ------------------------------------------------------------------------------------------------

  async function loadGaps() {
    const days = $("#gap-days").value;
    $("#gap-md").href = `/admin/api/gaps.md?days=${days}`;
    $("#gap-csv").href = `/admin/api/gaps.csv?days=${days}`;
    const list = $("#gap-list");
    list.replaceChildren(el("p", { class: "muted" }, "正在归组……（首次计算需要为新问题计算向量）"));
    const d = await api(`/admin/api/gaps?days=${days}&detail=1`);
    if (!d.gaps.length) { list.replaceChildren(el("p", { class: "muted" }, "这段时间没有发现知识缺口。")); return; }
    list.replaceChildren(...d.gaps.map((g, i) => el("article", { class: "gap" },
      el("h3", {}, `${i + 1}. ${g.label}`, el("span", { class: "tag" }, `${g.count} 次`)),
      el("p", {}, "建议撰写文章：", el("span", { class: "title" }, g.suggested_title)),
      el("p", { class: "muted" }, `拒答 ${g.refused} · 低置信度 ${g.low} · 差评 ${g.down}` +
        ` · 涉及文章：${g.doc_ids.length ? g.doc_ids.join("、") : "无"}`),
      el("ul", {}, ...g.questions.map((q) => el("li", {}, q))))));
  }

  // -- knowledge base ----------------------------------------------------------------------------------------

  let replacing = null;
  let polling = null;

  function showStatus(st) {
    const ix = st.index, bar = $("#kb-progress");
    const newest = st.kb_version === null || ix.kb_version === st.kb_version;
    if (ix.building || !newest) {
      const { done, total } = ix.progress;
      bar.hidden = false;
      bar.classList.toggle("busy", !total);
      $(".bar", bar).style.width = total ? `${Math.round((100 * done) / total)}%` : "";
      $("#kb-state").textContent = ix.building ? `正在重建索引：${ix.phase || "排队中"}${total ? `（${done}/${total} 个片段）` : ""}`
        : "等待重建索引……";
      return false;
    }
    bar.hidden = true;
    $("#kb-state").textContent = ix.error ? `上次索引失败：${ix.error}` :
      `索引就绪：${ix.chunks} 个片段，${ix.cards} 张问答卡；知识库版本 ${st.kb_version ?? "—"}。${ix.last_build || ""}`;
    return true;
  }

  async function pollStatus() {
    if (polling) return;
    polling = setInterval(async () => {
      try {
        const st = await api("/admin/api/status");
        if (showStatus(st)) {
          clearInterval(polling);
          polling = null;
          await loadArticles();
          $("#kb-msg").textContent = "索引完成，新内容已可用于回答。";
        }
      } catch (e) { notice(e.message, true); }
    }, 1000);
  }

  async function loadArticles() {
    const d = await api("/admin/api/articles");
    const done = showStatus(d);
    const body = $("#kb-table tbody");
    body.replaceChildren(...d.items.map((a) => {
      const key = a.doc_id || a.name;
      const actions = el("td", { class: "nw actions" },
        a.doc_id ? el("button", { type: "button", onclick: () => preview(a.doc_id) }, "预览") : null,
        a.doc_id ? el("button", { type: "button", onclick: () => { replacing = a.doc_id; $("#kb-replace-file").click(); } }, "替换") : null,
        el("button", { type: "button", class: "danger", onclick: () => remove(key, a.title || a.name) }, "删除"));
      return el("tr", { "data-doc": a.doc_id || "" }, el("td", {}, a.doc_id || "—"), el("td", {}, a.title || a.name),
        el("td", { class: "nw" }, a.source), el("td", { class: "nw" }, a.chunks), el("td", { class: "nw" }, a.cards),
        el("td", { class: "nw" }, a.date || ""), el("td", {}, a.status), actions);
    }));
    if (!done) pollStatus();
  }

  async function preview(docId) {
    const p = await api(`/admin/api/articles/${encodeURIComponent(docId)}`);
    $("#kb-preview").replaceChildren(el("h2", {}, p.title), el("p", { class: "muted" }, `${p.doc_id} · ${p.chunks.length} 个片段 · ${p.cards.length} 张问答卡`),
      el("h3", {}, "片段"), ...p.chunks.map((c) => el("div", { class: "chunk" },
        el("div", { class: "h" }, `#${c.position} ${c.headings.join(" > ")}`), el("div", { class: "text" }, c.text))),
      el("h3", {}, "问答卡"), p.cards.length ? el("ul", {}, ...p.cards.map((c) => el("li", {}, el("b", {}, c.questions[0] || ""),
        el("div", { class: "text" }, c.answer)))) : el("p", { class: "muted" }, "无"));
  }

  async function send(method, path, file) {
    const form = new FormData();
    if (file) form.append("file", file, file.name);
    $("#kb-msg").textContent = "正在提交……";
    try {
      const d = await api(path, { method, body: file ? form : undefined });
      $("#kb-msg").textContent = d.title ? `已提交《${d.title}》（${d.doc_id}），正在重建索引……` : "已提交，正在重建索引……";
      showStatus(d);
      pollStatus();
    } catch (e) { $("#kb-msg").textContent = `失败：${e.message}`; }
  }

  async function remove(key, title) {
    if (!confirm(`确定删除《${title}》吗？删除后所有实例都不再引用它。`)) return;
    await send("DELETE", `/admin/api/articles/${encodeURIComponent(key)}`);
  }

  // -- wiring ------------------------------------------------------------------------------------------------

  const loaders = { dashboard: loadDashboard, conversations: () => loadConversations(false), gaps: loadGaps, kb: loadArticles };

  function show(tab) {
    document.querySelectorAll("nav button").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === tab)));
    document.querySelectorAll("section.tab").forEach((s) => { s.hidden = s.id !== tab; });
    notice("");
    loaders[tab]().catch((e) => notice(e.message, true));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => show(b.dataset.tab)));
    $("#dash-days").addEventListener("change", () => loadDashboard().catch((e) => notice(e.message, true)));
    $("#conv-filters").addEventListener("submit", (e) => { e.preventDefault(); loadConversations(false).catch((x) => notice(x.message, true)); });
    $("#conv-more").addEventListener("click", () => loadConversations(true).catch((x) => notice(x.message, true)));
    $("#gap-refresh").addEventListener("click", () => loadGaps().catch((x) => notice(x.message, true)));
    $("#gap-days").addEventListener("change", () => loadGaps().catch((x) => notice(x.message, true)));
    $("#kb-upload").addEventListener("submit", (e) => {
      e.preventDefault();
      const file = e.target.elements.file.files[0];
      if (file) send("POST", "/admin/api/articles", file);
    });
    $("#kb-replace-file").addEventListener("change", (e) => {
      const file = e.target.files[0];
      if (file && replacing) send("PUT", `/admin/api/articles/${encodeURIComponent(replacing)}`, file);
      e.target.value = "";
    });
    $("#kb-reindex").addEventListener("click", async () => {
      try { const d = await api("/admin/api/reindex", { method: "POST" }); showStatus(d); pollStatus(); }
      catch (e) { notice(e.message, true); }
    });
    const first = (location.hash || "#dashboard").slice(1);
    show(loaders[first] ? first : "dashboard");
  });
})();

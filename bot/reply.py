"""Sales desk: read a client's pasted message, answer each question from the knowledge base, and compose
a reply ready to send, with the sources as numbered footnotes. Also batches of questions (CSV / XLSX)."""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bot.answer import DISCLAIMER, source_line
from bot.normalize import for_matching
from bot.questions import BadQuestion, check, question_parts

PROVINCES = ("北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 "
             "贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门").split()
CITIES = {  # city → province, for the cities clients name most often
    "深圳": "广东", "广州": "广东", "珠海": "广东", "东莞": "广东", "佛山": "广东", "杭州": "浙江", "宁波": "浙江",
    "温州": "浙江", "南京": "江苏", "苏州": "江苏", "无锡": "江苏", "成都": "四川", "泸州": "四川", "武汉": "湖北",
    "长沙": "湖南", "西安": "陕西", "郑州": "河南", "济南": "山东", "青岛": "山东", "潍坊": "山东", "厦门": "福建",
    "福州": "福建", "合肥": "安徽", "南昌": "江西", "昆明": "云南", "贵阳": "贵州", "南宁": "广西", "沈阳": "辽宁",
    "大连": "辽宁", "长春": "吉林", "哈尔滨": "黑龙江", "石家庄": "河北", "保定": "河北", "太原": "山西",
    "兰州": "甘肃", "西宁": "青海", "银川": "宁夏", "乌鲁木齐": "新疆", "拉萨": "西藏", "呼和浩特": "内蒙古",
    "海口": "海南", "三亚": "海南",
}
BUSINESS = [  # (pattern, label)
    (r"入驻|第三方商家|商家.{0,4}(开店|入住)|撮合|B2B|C2C|交易平台|电商平台|多商户", "电商平台（商家入驻）"),
    (r"电商|商城|网店|卖货|在线下单|下单付款|在线支付", "在线交易"),
    (r"直播", "网络直播"), (r"短信|106", "短信/106码号"), (r"呼叫中心|客服热线|外呼|400电话", "呼叫中心"),
    (r"云服务|云主机|服务器|机房|IDC|数据中心|对象存储", "IDC/云服务"), (r"CDN|加速", "CDN加速"),
    (r"VPN|专线|翻墙|跨境(网络|访问|加速|组网)", "跨境网络/VPN"), (r"在线教育|网课|培训", "在线教育"), (r"医疗|问诊|药品", "医疗健康"),
    (r"游戏", "网络游戏"), (r"资讯|新闻|内容平台|社区|论坛|UGC|社交", "信息发布/社区"),
    (r"会员|付费|收费|订阅", "有偿服务"), (r"SaaS|软件服务", "SaaS"),
]
PLATFORMS = [(r"微信小程序", "微信小程序"), (r"支付宝小程序", "支付宝小程序"), (r"抖音小程序", "抖音小程序"),
             (r"(?<![微支抖])小程序", "小程序"), (r"APP|App|app|安卓|iOS|应用商店", "APP"), (r"网站|官网|网页|H5", "网站"),
             (r"公众号", "公众号")]
LICENCES = [(r"ICP证|ICP许可证|ICP经营许可证", "ICP证"), (r"EDI证|EDI许可证", "EDI证"), (r"SP证", "SP证"),
            (r"IDC证|IDC许可证", "IDC证"), (r"CDN证|CDN许可证", "CDN证"), (r"ISP证|ISP许可证", "ISP证"),
            (r"ICP备案", "ICP备案")]
_HELD = r"(已有|已经有|已经办了|已办|手上有|手里有|持有|拿了|拿到了|有了|办好了|取得了)"


@dataclass
class ClientFacts:
    region: str | None = None
    registered_capital_wan: float | None = None
    scope: str | None = None  # "全国/跨省" or "省内"
    business: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    foreign: str | None = None  # what the message says about foreign shareholding
    licences_held: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        if self.region:
            parts.append(self.region)
        if self.registered_capital_wan is not None:
            parts.append(f"注册资本{self.registered_capital_wan:g}万元")
        if self.scope:
            parts.append(f"业务范围{self.scope}")
        if self.foreign:
            parts.append(self.foreign)
        if self.platforms:
            parts.append("、".join(self.platforms))
        if self.business:
            parts.append("、".join(self.business))
        if self.licences_held:
            parts.append("已持有" + "、".join(self.licences_held))
        return "，".join(parts)


def extract_facts(text: str) -> ClientFacts:
    f = ClientFacts()
    norm = for_matching(text)
    for city, prov in CITIES.items():
        if city in text:
            f.region = f"{prov}{city}" if prov not in ("北京", "上海", "天津", "重庆") else city
            break
    if not f.region:
        f.region = next((p for p in PROVINCES if p in text), None)
    m = re.search(r"注册(?:资本|资金)[^\d一二三四五六七八九十百千万亿]{0,8}(\d+(?:\.\d+)?)\s*(亿|万|千万)", norm)
    if m:
        value = float(m.group(1))
        f.registered_capital_wan = value * {"亿": 10000, "千万": 1000, "万": 1}[m.group(2)]
    if re.search(r"全国|跨省|多个省|各地|各省|外省|遍布|多省|全网", text):
        f.scope = "全国/跨省"
    elif re.search(r"本地|省内|本省|只在.{0,6}(省|市)|同城|本市", text):
        f.scope = "省内"
    f.business = [label for pat, label in BUSINESS if re.search(pat, text, re.I)]
    f.platforms = list(dict.fromkeys(label for pat, label in PLATFORMS if re.search(pat, text)))
    if "小程序" in f.platforms and any(p.endswith("小程序") and p != "小程序" for p in f.platforms):
        f.platforms.remove("小程序")
    fm = re.search(r"(外资|外商|外籍|境外|海外|美资|港资|台资|日资|韩资|欧洲|美国|香港|新加坡|日本|VIE)[^。，；\n]{0,12}?"
                   r"(股东|投资|控股|持股|资本|公司|母公司|架构|背景)", text, re.I)
    if fm:
        pct = re.search(r"(\d{1,3})\s*%", text[fm.start(): fm.end() + 20])
        f.foreign = fm.group(0) + (f"（{pct.group(0)}）" if pct and pct.group(0) not in fm.group(0) else "")
    for pat, label in LICENCES:
        if re.search(_HELD + r"[^。，；？?]{0,8}(" + pat + ")", text) or re.search("(" + pat + r")[^。，；]{0,4}(已经|已)?(有了|办好|拿到|下来了)", text):
            f.licences_held.append(label)
    return f


@dataclass
class AnsweredQuestion:
    question: str
    answer: str
    citations: list[dict]
    refused: bool


@dataclass
class Reply:
    text: str
    facts: ClientFacts
    questions: list[AnsweredQuestion]
    citations: list[dict]

    def to_dict(self) -> dict:
        return {"reply": self.text, "facts": asdict(self.facts), "questions": [asdict(q) for q in self.questions],
                "citations": self.citations}


def fact_checks(facts: ClientFacts) -> list[tuple[str, str]]:
    """(lead-in naming the client's fact, question to answer from the knowledge base) where a fact decides."""
    checks = []
    cap = facts.registered_capital_wan
    if cap is not None and facts.scope == "全国/跨省" and cap < 1000:
        checks.append((f"贵司注册资本{cap:g}万元，而业务面向全国/跨省", "跨省经营增值电信业务注册资本最低限额是多少？"))
    elif cap is not None and cap < 100:
        checks.append((f"贵司注册资本{cap:g}万元", "省内经营增值电信业务注册资本最低限额是多少？"))
    if facts.foreign:
        biz = "经营类电子商务" if any("电商" in b or "交易" in b for b in facts.business) else "增值电信业务"
        checks.append((f"贵司有外资成分（{facts.foreign}）", f"外资经营{biz}的外资股比上限是多少？"))
    if "电商平台（商家入驻）" in facts.business and "EDI证" not in facts.licences_held:
        checks.append(("贵司平台允许第三方商家入驻", "平台允许商家入驻需要办理在线数据处理与交易处理业务许可证（EDI证）吗？"))
    return checks


_LOCAL = re.compile(r"\[(\d+)\]")


def _body(answer_text: str) -> str:
    """The cited sentences of an answer, without the closing disclaimer and the list header."""
    text = answer_text.replace(DISCLAIMER, "").replace("要点：\n", "")
    # Section headings (【…】) repeat the question, which the reply already shows.
    return "\n".join(line for line in text.splitlines()
                     if line.strip() and not re.fullmatch(r"【.*】", line.strip())).strip()


def compose(bot, message: str, tone: str = "正式", sources: bool = True) -> Reply:
    """Answer every question in a client's message and write the reply. Raises BadQuestion for empty input."""
    text, _ = check(message, bot.settings.max_question_chars)
    facts = extract_facts(text)
    questions = question_parts(text)
    concise = tone == "简洁"
    registry: dict[str, dict] = {}  # chunk id -> global citation

    def renumber(ans, text: str) -> str:
        """Local [n] of one answer → numbers shared by the whole reply, for the text actually used."""
        local = {c.n: c for c in ans.citations}

        def sub(m: re.Match) -> str:
            c = local.get(int(m.group(1)))
            if c is None:
                return ""
            if c.chunk_id not in registry:
                registry[c.chunk_id] = {**c.to_dict(), "n": len(registry) + 1}
            return f"[{registry[c.chunk_id]['n']}]"

        return _LOCAL.sub(sub, text)

    max_lines = 2 if concise else 4
    used: set[str] = set()  # sentences already quoted in an earlier section

    def fresh_lines(answer_text: str) -> list[str]:
        out = []
        for line in _body(answer_text).splitlines():
            key = _LOCAL.sub("", line).lstrip("- ").strip()
            if key in used:
                continue
            used.add(key)
            out.append(line)
            if len(out) == max_lines:
                break
        return out

    answered: list[AnsweredQuestion] = []
    sections: list[str] = []
    numerals = "一二三四五六七八九十"
    for i, (q, query) in enumerate(questions):
        try:
            ans = bot.ask(query)
        except BadQuestion:
            continue
        if ans.refused:
            body = "这一点知识库中暂无可靠资料，建议与顾问进一步沟通确认。"
        else:
            body = renumber(ans, "\n".join(fresh_lines(ans.answer)) or _body(ans.answer).splitlines()[0])
        answered.append(AnsweredQuestion(q, ans.answer, [c.to_dict() for c in ans.citations], ans.refused))
        title = q if len(q) <= 60 else q[:58] + "…"
        heading = f"{numerals[i] if i < 10 else i + 1}、{title}" if len(questions) > 1 else f"关于您的问题：{title}"
        sections.append(f"{heading}\n{body}")
    notes = []
    for lead, q in fact_checks(facts):
        ans = bot.ask(q)
        if ans.refused or not ans.citations:
            continue
        first = renumber(ans, _body(ans.answer).splitlines()[0].lstrip("- "))
        notes.append(f"- {lead}：{first}")
    greeting = "您好！" if concise else "您好！感谢您的咨询。"
    situation = f"根据您提供的情况（{facts.summary()}），" if facts.summary() else ""
    parts = [f"{greeting}{situation}{'答复如下：' if situation else '现将您关心的问题答复如下：'}", *sections]
    if notes:
        parts.append("结合贵司情况，特别提示：\n" + "\n".join(notes))
    parts.append("以上供参考，不构成法律意见，具体以工信部或当地通信管理局的要求为准。如需进一步协助，欢迎随时联系。")
    citations = sorted(registry.values(), key=lambda c: c["n"])
    if sources and citations:
        parts.append("参考来源：\n" + "\n".join(source_line(c["n"], c["title"], c["url"]) for c in citations))
    reply_text = "\n\n".join(parts)
    if not sources:
        reply_text = _LOCAL.sub("", reply_text)
    return Reply(reply_text, facts, answered, citations if sources else [])


# -- batches -----------------------------------------------------------------------------------------

HEADER_NAMES = {"question", "questions", "问题", "提问", "客户问题"}
OUT_COLUMNS = ["question", "answer", "sources", "refused", "confidence", "error"]


def read_rows(path: Path) -> list[str | None]:
    """One entry per data row (None for a blank row), from the column named question/问题 or the first."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = [list(r) for r in csv.reader(fh)]
    elif suffix in {".xlsx", ".xlsm"}:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        rows = [["" if v is None else str(v) for v in r] for r in wb.worksheets[0].iter_rows(values_only=True)]
        wb.close()
        while rows and not any(c.strip() for c in rows[-1]):
            rows.pop()  # a sheet's trailing empty rows are formatting, not questions
    else:
        raise ValueError(f"不支持的文件类型 {suffix}（可用 .csv 或 .xlsx）")
    col = 0
    if rows and any(c.strip().lower() in HEADER_NAMES for c in rows[0]):
        col = next(i for i, c in enumerate(rows[0]) if c.strip().lower() in HEADER_NAMES)
        rows = rows[1:]
    return [(r[col].strip() or None) if len(r) > col else None for r in rows]


def answer_rows(bot, questions: list[str | None], progress=None) -> list[dict]:
    out = []
    for q in questions:
        row = {"question": q or "", "answer": "", "sources": "", "refused": "", "confidence": "", "error": ""}
        try:
            if not q:
                raise BadQuestion("空行：没有问题")
            ans = bot.ask(q)
            row.update(answer=ans.answer, refused=str(ans.refused).lower(), confidence=f"{ans.confidence:.2f}",
                       sources="\n".join(source_line(c.n, c.title, c.url) for c in ans.citations))
        except BadQuestion as exc:
            row["error"] = str(exc)
        except Exception as exc:  # one bad row never stops the batch
            row["error"] = f"处理失败：{type(exc).__name__}"
        out.append(row)
        if progress:
            progress(1)
    return out


def write_rows(rows: list[dict], path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=OUT_COLUMNS)
            w.writeheader()
            w.writerows(rows)
    elif suffix == ".xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "answers"
        ws.append(OUT_COLUMNS)
        for r in rows:
            ws.append([r[c] for c in OUT_COLUMNS])
        wb.save(path)
    elif suffix == ".md":
        import html

        def cell(v: str) -> str:  # user text must not become HTML in a Markdown viewer
            return html.escape(str(v), quote=False).replace("|", "\\|").replace("\n", "<br>")

        lines = ["| # | " + " | ".join(OUT_COLUMNS) + " |", "|" + " --- |" * (len(OUT_COLUMNS) + 1)]
        lines += [f"| {i} | " + " | ".join(cell(r[c]) for c in OUT_COLUMNS) + " |" for i, r in enumerate(rows, 1)]
        path.write_text("\n".join(lines) + "\n", "utf-8")
    else:
        raise ValueError(f"不支持的输出类型 {suffix}（可用 .csv、.xlsx 或 .md）")

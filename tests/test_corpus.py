"""Keep the knowledge base honest: format, seed coverage, facts present, known-wrong claims absent,
key figures consistent across articles."""

from __future__ import annotations

import re
from collections import Counter

import frontmatter
import pytest

from tests.conftest import ROOT, SHARED

CORPUS = ROOT / "corpus"
SEED = SHARED / "seed" / "000_e7ffb928f09af7ca.txt"
FIELDS = ("id", "title", "date", "tags", "source")


def _articles() -> dict[str, frontmatter.Post]:
    return {p.name: frontmatter.load(p) for p in sorted(CORPUS.glob("*.md"))}


ARTICLES = _articles()
ALL_TEXT = "\n".join(post.content for post in ARTICLES.values())
# Sentences, for claims that must be judged within one sentence.
SENTENCES = [s for post in ARTICLES.values() for s in re.split(r"(?<=[。！？\n])", post.content) if s.strip()]


def seed_titles() -> list[str]:
    return [ln[2:].strip() for ln in SEED.read_text("utf-8").splitlines() if ln.startswith("- ")]


def test_every_article_has_front_matter():
    assert len(ARTICLES) >= 85
    ids = Counter()
    for name, post in ARTICLES.items():
        for f in FIELDS:
            assert post.metadata.get(f) not in (None, "", []), f"{name}: {f}"
        src = str(post.metadata["source"])
        # the seed names its publisher without linking a page that is not the article
        assert src == "本站原创" or src.startswith(("http://", "https://")) or name.startswith("000-seed"), name
        assert isinstance(post.metadata["tags"], list), name
        ids[str(post.metadata["id"])] += 1
    assert not [i for i, n in ids.items() if n > 1]


def test_every_seed_title_is_covered_exactly_once():
    titles = seed_titles()
    assert len(titles) == 70
    covered = Counter(str(p.metadata["seed_title"]) for p in ARTICLES.values() if "seed_title" in p.metadata)
    assert set(covered) == set(titles), set(titles) ^ set(covered)
    assert all(n == 1 for n in covered.values())


def test_seed_article_body_is_unchanged_and_has_no_related_list():
    seed_lines = SEED.read_text("utf-8").splitlines()
    body_lines = [ln for ln in seed_lines[1:] if not ln.startswith("- ")]
    post = ARTICLES["000-seed-alipay-miniprogram.md"]
    assert post.content.strip().splitlines() == body_lines
    assert post.metadata["title"] == seed_lines[0]
    assert "- 影响EDI许可证办理周期" not in post.content


def test_articles_are_long_enough_to_be_useful():
    for name, post in ARTICLES.items():
        if name.startswith("000-"):
            continue
        han = len(re.findall(r"[\u4e00-\u9fff]", post.content))
        assert 550 <= han <= 2600, f"{name}: {han} Chinese characters"
        if "seed_title" in post.metadata:
            assert han <= 1600, f"{name}: {han}"
        assert "不构成法律意见" in post.content, name


# Figures, dates, document numbers and terms from FACTS.md ([verified] or [partly]) the corpus must state.
KEY_FACTS = [
    "100万元", "1000万元", "1亿元", "10亿元", "51%", "5年", "90日", "60日", "180日", "30日", "第一季度",
    "电信业务市场综合管理信息系统", "https://dxzhgl.miit.gov.cn/", "12381",
    "3倍以上5倍以下", "10万元以上100万元以下", "1万元以上10万元以下", "5000元以上5万元以下", "关闭网站", "停业整顿",
    "有偿", "无偿", "前置", "非经营性互联网信息服务提供者不得从事有偿服务",
    "第七条", "第八条", "第九条", "第十四条", "第十五条", "第二十八条", "第六十八条", "第六十九条", "第七十七条",
    "国务院令第292号", "工业和信息化部令第42号", "信息产业部令第33号", "2017年9月1日", "2017年7月3日",
    "2015年12月28日", "2016年3月1日", "B11", "B12", "B13", "B14", "B21", "B22", "B23", "B24", "B25", "B26",
    "B24-1", "B24-2", "B26-1", "互联网资源协作服务", "仅限互联网信息服务", "不含互联网信息服务",
    "比照增值电信业务管理", "用户驻地网", "网络托管", "固定网国内数据传送", "模拟集群", "16大项", "19",
    "不良名单", "失信名单", "第三十五条", "第三十七条", "第三十八条", "第四十二条", "信管〔2017〕321号",
    "2025年3月31日", "2220家", "2400家", "13家", "工信部通〔2015〕196号", "经营类电子商务",
    "50%", "49%", "100%", "国务院令第752号", "2022年5月1日", "国家另有规定的除外", "国务院令第333号",
    "工信部通信函〔2024〕107号", "2024年10月23日", "2025年2月28日", "临港新片区", "海南自由贸易港",
    "北京市服务业扩大开放综合示范区", "深圳中国特色社会主义先行示范区", "电信业务经营试点批复",
    "2024年11月1日", "工信部通〔2014〕130号", "2006年7月13日",
    "2023年8月4日", "快应用", "2024年3月", "2024年4月1日", "2023年9月1日", "国家互联网基础资源管理系统",
    "反电信网络诈骗法", "第二十三条", "信部联清〔2004〕517号", "1062", "1066", "1069", "10个工作日",
    "码号资源属于国家所有", "工信部信管函〔2017〕32号", "2018年3月31日", "未经电信主管部门批准",
    "工信管函〔2017〕2496号", "中国电信、中国移动、中国联通", "国际通信出入口",
    "网络出版服务许可证", "2016年3月10日", "8名", "服务器和存储设备", "工信部电管函〔2012〕552号",
    "2012年12月1日", "信息安全管理系统", "电子商务法", "网络预约出租汽车经营许可证", "30日内", "公安",
    "2016年12月1日", "60日内审查完毕",
]


def _compact(s: str) -> str:
    return re.sub(r"\s+", "", s)


@pytest.mark.parametrize("fact", sorted(set(KEY_FACTS)))
def test_key_fact_is_stated(fact):
    assert _compact(fact) in _compact(ALL_TEXT)


# Claims FACTS.md lists as wrong. Each pattern must match no sentence of the corpus.
WRONG = {
    "许可证有效期20年": r"有效期[^。；]{0,8}20年|20年有效期",
    "续期 90个工作日": r"90个工作日",
    "审批 30/40 个工作日": r"(30|40|45)个工作日",
    "CDN 是 B14": r"(CDN|内容分发网络)(业务)?[（(]?[是为属于]{0,3}B14|B14[^，。；、]{0,4}(CDN|内容分发)",
    "CDN 属第二类": r"(CDN|内容分发网络)[^。；，]{0,10}第二类",
    "外资 51%": r"外(资|方|商)[^。；]{0,20}51%",
    "增值电信分三类": r"增值电信(业务)?(分为|分成|共分)三类",
    "3人社保": r"[3三]人社保|[1一]人本科",
    "令5 罚款套用": r"5000元以上3万元以下",
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_known_wrong_claim_is_absent(name):
    hits = [s.strip() for s in SENTENCES if re.search(WRONG[name], s)]
    assert not hits, hits[:3]


def test_annual_inspection_is_only_mentioned_as_replaced():
    for s in SENTENCES:
        if "年检" in s and not re.search(
            r"年检[^。]{0,4}(已|被)?(改为|取代|替代|取消)|取代|替代|改为|不再|取消|原来|以前|旧", s
        ):
            pytest.fail(f"年检 stated as current: {s.strip()}")


def _values(pattern: str) -> Counter:
    return Counter(m.group(1) for m in re.finditer(pattern, _compact(ALL_TEXT)))


def test_key_figures_agree_across_articles():
    capital = _values(r"注册资本最低限额(?:为|是)?(\d+(?:万|亿))")
    assert set(capital) <= {"100万", "1000万", "1亿", "10亿"}, capital
    validity = _values(r"增值电信业务经营许可证(?:的)?有效期(?:为|是)(\d+)年")
    assert set(validity) == {"5"}, validity
    renewal = _values(r"提前(\d+)(?:日|天)[^。]{0,12}(?:提出)?延续")
    assert set(renewal) == {"90"}, renewal
    review = _values(r"(\d+)日内审查完毕")
    assert set(review) <= {"60", "180"} and "60" in review, review
    quarter = _values(r"每年第([一二三四])季度")
    assert set(quarter) == {"一"}, quarter

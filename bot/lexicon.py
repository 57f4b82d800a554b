"""Domain vocabulary: the jieba dictionary, the synonym/abbreviation table and the tokenizer.

One place for every word list, so BM25, query expansion, sentence scoring and the
off-topic check agree on what a term is.
"""

from __future__ import annotations

import functools
import logging
import re

from bot.normalize import for_matching

# Words jieba must keep whole (lower case: matching runs on normalised text).
DOMAIN_WORDS = [
    "增值电信", "增值电信业务", "基础电信业务", "电信业务", "经营许可证", "许可证", "icp证", "icp许可证",
    "icp备案", "edi证", "sp证", "idc证", "cdn证", "isp证", "vpn", "小程序", "快应用", "app备案",
    "小程序备案", "呼叫中心", "码号", "106码号", "短信", "短消息", "通信管理局", "省通信管理局", "工信部",
    "工业和信息化部", "注册资本", "经营性", "非经营性", "互联网信息服务", "在线数据处理与交易处理",
    "内容分发网络", "互联网数据中心", "互联网接入服务", "国内多方通信服务", "多方通信", "存储转发",
    "用户驻地网", "网络托管", "虚拟专用网", "域名解析", "外商投资", "外资", "股比", "年报", "年检",
    "不良名单", "失信名单", "延续", "续期", "变更", "注销", "网络出版服务许可证", "网络出版", "前置审批",
    "电子商务", "经营类电子商务", "跨地区", "跨省", "省内", "有效期", "违法所得", "电信条例",
    "分类目录", "信息服务业务", "仅限互联网信息服务", "不含互联网信息服务", "国际专线", "跨境",
    "试点", "负面清单", "技术评测", "备案号", "网约车", "直播", "营业执照", "法定代表人",
    "云计算", "云服务", "云存储", "云主机", "云服务器", "记录备份", "电子公告", "限期改正", "冒用", "超范围",
    "终止经营", "善后", "分发平台", "有偿使用", "码号资源占用费", "占用费",
]

_DOMAIN_SET = {w.lower() for w in DOMAIN_WORDS}

# Colloquial words and abbreviations → the wording the articles and regulations use.
SYNONYMS: dict[str, list[str]] = {
    "icp": ["互联网信息服务", "信息服务业务", "仅限互联网信息服务", "经营许可证"],
    "sp证": ["信息服务业务", "不含互联网信息服务"],
    "sp": ["不含互联网信息服务"],
    "edi": ["在线数据处理与交易处理"],
    "idc": ["互联网数据中心"],
    "cdn": ["内容分发网络"],
    "isp": ["互联网接入服务"],
    "vpn": ["虚拟专用网", "跨境", "专线"],
    "翻墙": ["跨境", "虚拟专用网", "专线"],
    "加速器": ["跨境", "虚拟专用网"],
    "地网": ["用户驻地网"],
    "b25": ["信息服务业务"],
    "b21": ["在线数据处理与交易处理"],
    "b11": ["互联网数据中心"],
    "b12": ["内容分发网络"],
    "b14": ["互联网接入服务"],
    "号码": ["码号"],
    "短信": ["码号", "短消息"],
    "106": ["码号", "短消息"],
    "400": ["呼叫中心", "码号"],
    "官网": ["非经营性", "备案"],
    "展示": ["非经营性", "备案"],
    "收费": ["经营性", "有偿"],
    "收钱": ["经营性", "有偿"],
    "付费": ["经营性", "有偿"],
    "不收钱": ["非经营性", "无偿"],
    "免费": ["非经营性", "无偿", "有偿使用"],
    "交钱": ["有偿使用", "占用费", "费用"],
    "罚": ["处罚", "罚款"],
    "查到": ["处罚", "罚款"],
    "被查": ["处罚", "罚款"],
    "年检": ["年报"],
    "续期": ["延续", "有效期"],
    "续证": ["延续", "有效期"],
    "到期": ["延续", "有效期"],
    "改名": ["变更", "名称"],
    "更名": ["变更", "名称"],
    "注册资金": ["注册资本"],
    "外国": ["外资", "外商投资"],
    "美国": ["外资", "外商投资"],
    "外企": ["外资", "外商投资"],
    "合资": ["外资", "外商投资", "股比"],
    "电商": ["经营类电子商务", "在线数据处理与交易处理"],
    "商城": ["电子商务", "在线数据处理与交易处理"],
    "入驻": ["在线数据处理与交易处理", "平台"],
    "去哪": ["通信管理局", "工信部"],
    "哪里办": ["通信管理局", "工信部"],
    # Duration questions: words every statement of a time limit uses, whatever the limit is about.
    "多久": ["日内", "之日起", "期限"],
    "多长时间": ["日内", "之日起", "期限"],
    "时间要求": ["日内", "之日起", "期限"],
    "时间限制": ["日内", "之日起", "期限"],
    "什么时候": ["日内", "季度", "期限"],
    "周期": ["日内", "审查", "期限"],
    "多少钱": ["费用"],
    "收多少": ["费用"],
    "民营": ["基础电信业务", "国有股权"],
    "资质": ["许可证", "经营许可证"],
    "实缴": ["认缴", "验资报告"],
    "认缴": ["实缴", "验资报告"],
    "批文": ["前置审批", "审核同意"],
    "上架": ["下架", "分发"],
    "转售": ["租售", "出租", "转让"],
    "顺带": ["超范围", "业务种类"],
    "顺便": ["超范围", "业务种类"],
    "开展业务": ["开通"],
    "开展": ["开通"],
    "租": ["出租", "转让", "擅自"],
    "租给": ["出租", "转让", "擅自"],
    "转租": ["出租", "转让", "擅自"],
    "借给": ["出租", "转让", "擅自"],
    "租金": ["出租"],
    "怎样": ["后果", "不符合"],
    "后果": ["不符合", "处罚"],
    "影响": ["后果", "不符合"],
    "批下来": ["审查", "日内", "审批"],
    "拿证": ["审查", "日内"],
    "审批": ["审查", "审核同意"],
    # Fields that need another authority's consent first (292号第五条: 前置审批).
    "医疗": ["医疗保健", "前置审批"],
    "问诊": ["医疗保健", "前置审批"],
    "卖药": ["药品", "前置审批"],
    "药品": ["药品", "前置审批"],
    "新闻": ["新闻", "前置审批"],
    "教育": ["教育", "前置审批"],
    "别的审批": ["前置审批", "审核同意"],
    "其他审批": ["前置审批", "审核同意"],
    "先审批": ["前置审批", "审核同意"],
    "卖": ["租售", "经营"],
    "忘了报": ["未按规定", "限期", "不良名单"],
    "没报": ["未按规定", "限期", "不良名单"],
    "漏报": ["未按规定", "限期", "不良名单"],
    "上市": ["境外上市", "审查同意"],
    "港股": ["境外上市", "审查同意"],
    "美股": ["境外上市", "审查同意"],
    "注册公司": ["市场主体登记"],
    "公司注册": ["市场主体登记"],
    "注册下来": ["市场主体登记"],
    "找不到": ["新型电信业务", "未列出"],
    "新业务": ["新型电信业务", "未列出"],
    "顺手": ["超范围", "业务种类"],
    "转让": ["转让", "冒用"],
    "谁有资格": ["中国电信", "中国移动", "中国联通"],
    "私自": ["擅自", "未经"],
    "没申请": ["擅自", "未经"],
    "没去申请": ["擅自", "未经"],
    "挂": ["冒用", "出借"],
    "挂靠": ["冒用", "出借"],
    "借用": ["冒用", "出借"],
    "套用": ["冒用", "出借"],
    "dns": ["域名解析"],
    "解析": ["域名解析"],
    "云计算": ["互联网数据中心"],
    "云服务": ["云计算", "互联网数据中心"],
    "云存储": ["云计算", "互联网数据中心"],
    "云主机": ["云计算", "互联网数据中心"],
    "云服务器": ["云计算", "互联网数据中心"],
    # Giving up the business: the articles speak of 注销 and 终止经营.
    "不干了": ["注销", "终止经营"],
    "不做了": ["注销", "终止经营"],
    "不想做": ["注销", "终止经营"],
    "不打算干": ["注销", "终止经营"],
    "不打算做": ["注销", "终止经营"],
    "不经营": ["注销", "终止经营"],
    "关门": ["注销", "终止经营"],
    "停业": ["注销", "终止经营"],
    "歇业": ["注销", "终止经营"],
    "保留": ["保存", "记录备份"],
    "留存": ["保存", "记录备份"],
    "日志": ["记录", "记录备份"],
    "论坛": ["电子公告"],
    "bbs": ["电子公告"],
    "发帖": ["电子公告"],
    "位置": ["底部", "标明"],
    "没备": ["未备案", "逾期"],
    "没备案": ["未备案", "逾期"],
    "不备案": ["未备案", "逾期"],
    "渠道": ["接入服务提供者", "分发平台"],
    "咋样": ["后果", "处罚"],
    "咋办": ["后果", "处罚"],
    # --- How entrepreneurs and sales staff say it (reviewed list; every term occurs in corpus/) ---
    # --- Authorities: who approves, where to go -------------------------------------------------
    "管局": ["通信管理局", "省通信管理局"],
    "省局": ["省通信管理局", "通信管理局"],
    "谁批": ["审批机关", "电信管理机构"],
    "哪个部门": ["审批机关", "发证机关"],
    "网信办": ["国家网信办", "网信"],

    # --- Coverage: one province vs several (decides authority and capital) -----------------------
    "全网": ["跨地区", "跨地区增值电信业务经营许可证"],
    "异地": ["跨地区", "跨省"],
    "外省": ["跨省", "跨地区"],

    # --- Conditions: capital, staff, company --------------------------------------------------------
    "门槛": ["申请条件", "最低限额"],
    "验资": ["验资报告", "认缴"],
    "增资": ["注册资本", "变更登记"],
    "减资": ["注册资本", "最低限额", "变更登记"],
    "社保": ["社保人数", "员工人数"],
    "几个人": ["员工人数", "专业人员"],
    "刚成立": ["新成立", "依法设立的公司"],
    "新公司": ["新成立", "依法设立的公司"],
    "个体户": ["依法设立的公司"],

    # --- Materials, online channel, agents, fees -------------------------------------------------
    "资料": ["申请材料", "材料"],
    "入口": ["电信业务市场综合管理信息系统", "网上办理"],
    "代办": ["代办机构", "第三方"],
    "官费": ["行政费用", "费用"],

    # --- Review period, refusal, supplementing --------------------------------------------------
    "下证": ["审查", "日内", "领证"],
    "几天": ["日内", "审查"],
    "加急": ["实际办理周期", "补正"],
    "被拒": ["不予批准", "补正"],
    "驳回": ["不予批准", "补正"],
    "不批": ["不予批准", "补正"],
    "补材料": ["补正", "申请材料"],

    # --- Validity and renewal -------------------------------------------------------------------------
    "管几年": ["有效期", "延续"],
    "过期": ["有效期", "不予延续", "延续"],
    "续签": ["延续", "有效期"],
    "没开通": ["未开通", "不予延续"],

    # --- Giving up, cancellation, revocation ------------------------------------------------------
    "破产": ["终止经营", "注销", "善后"],
    "倒闭": ["终止经营", "注销", "善后"],
    "退证": ["注销", "原发证机关"],
    "重新办": ["重新申请", "注销"],
    "吊证": ["吊销"],

    # --- Changes: name, address, shareholders, legal representative, scope ------------------------
    "法人": ["法定代表人"],
    "换股东": ["股东变化", "经营主体"],
    "股权转让": ["股东变化", "经营主体"],
    "收购": ["股东变化", "经营主体", "合并"],
    "搬家": ["地址", "变更"],
    "换地址": ["地址", "变更"],
    "换域名": ["网站网址", "变更"],
    "联系人": ["联系方式", "变更"],
    "增项": ["业务种类", "业务范围", "变更"],
    "加业务": ["业务种类", "业务范围", "变更"],
    "工商变更": ["变更登记", "市场主体"],

    # --- Annual report and inspections ----------------------------------------------------------------
    "年审": ["年报", "年检"],
    "抽检": ["随机抽查", "实地核查"],

    # --- Credit lists -------------------------------------------------------------------------------------
    "黑名单": ["失信名单", "不良名单"],
    "信用修复": ["移出", "不良名单"],
    "经营异常": ["不良名单", "失信名单"],

    # --- Penalties: unlicensed, beyond scope, fines, closure ---------------------------------------
    "无证": ["无证经营", "擅自"],
    "没证": ["无证经营", "擅自", "未取得"],
    "没有证": ["无证经营", "擅自", "未取得"],
    "没办证": ["无证经营", "擅自", "未取得"],
    "罚多少": ["罚款", "违法所得"],
    "整改": ["责令改正", "限期改正"],
    "关站": ["关闭网站"],
    "超出范围": ["超范围", "业务种类"],

    # --- Lending, renting, selling, forging licences ---------------------------------------------------
    "借证": ["冒用", "出借", "转让"],
    "别人的证": ["冒用", "转让"],
    "买证": ["转让", "倒卖"],
    "卖证": ["转让", "倒卖"],
    "带证": ["转让", "股东变化"],
    "假证": ["伪造", "冒用"],

    # --- Displaying licence / filing numbers; licence form ------------------------------------------
    # (挂备案号/放备案号 also stop the one-character key "挂" (→ 冒用) from firing on these questions.)
    "挂备案号": ["备案编号", "显著位置", "标明"],
    "放备案号": ["备案编号", "显著位置", "标明"],
    "许可证号": ["经营许可证编号", "显著位置", "标明"],
    "电子版": ["电子证照", "纸质证照"],

    # --- Catalogue codes and what operations staff call the services ---------------------------------
    "b13": ["国内互联网虚拟专用网"],
    "b22": ["国内多方通信服务"],
    "b23": ["存储转发类"],
    "b24": ["呼叫中心", "离岸呼叫中心"],
    "b26": ["域名解析", "编码和规程转换"],
    "ip-vpn": ["国内互联网虚拟专用网"],
    "专网": ["国内互联网虚拟专用网", "虚拟专网"],
    "sdwan": ["国内互联网虚拟专用网", "专线"],
    "机房": ["互联网数据中心", "机房设施"],
    "服务器托管": ["互联网数据中心", "放置"],
    "租服务器": ["互联网数据中心", "云计算"],
    "虚拟主机": ["互联网数据中心", "存储空间"],
    "vps": ["互联网数据中心", "云计算"],
    "带宽": ["出口带宽", "互联网数据中心"],
    "网站加速": ["内容分发网络", "节点服务器"],
    "宽带": ["互联网接入服务", "用户驻地网"],
    "wifi": ["互联网接入服务"],
    "视频会议": ["国内多方通信服务", "会议电视"],
    "多人语音": ["国内多方通信服务"],
    "连麦": ["国内多方通信服务"],
    "企业邮箱": ["存储转发类", "电子邮件"],
    "外呼": ["呼叫中心", "码号"],
    "电销": ["呼叫中心"],
    "客服热线": ["呼叫中心", "码号"],
    "离岸": ["离岸呼叫中心"],
    "运营商": ["基础电信企业", "基础电信业务"],

    # --- ICP licence vs ICP filing: does the site earn money? -------------------------------------
    "广告": ["经营性", "有偿"],
    "会员": ["有偿", "经营性"],
    "知识付费": ["付费阅读", "有偿"],
    "盈利": ["经营性", "有偿"],
    "建站": ["网页制作", "经营性"],
    "个人网站": ["非经营性", "ICP备案"],
    "博客": ["非经营性", "ICP备案"],
    "网站许可证": ["经营性互联网信息服务", "ICP证"],

    # --- Platforms: e-commerce, community, ride-hailing, live streaming ---------------------------
    "b2b": ["经营类电子商务", "在线数据处理与交易处理"],
    "多商户": ["第三方商家入驻", "在线数据处理与交易处理"],
    "交易平台": ["在线数据处理与交易处理", "交易撮合"],
    "自营": ["自营电商", "自有产品"],
    "自家产品": ["自营电商", "自有产品"],
    "评论区": ["电子公告"],
    "聊天": ["信息即时交互服务"],
    "打车": ["网约车", "网络预约出租汽车"],
    "带货": ["直播", "网络直播服务"],
    "主播": ["直播", "网络表演"],
    "短视频": ["网络视听", "网络视听节目"],
    "网安备案": ["公安备案", "属地公安机关"],

    # --- APP / mini-program filing ---------------------------------------------------------------------
    "应用备案": ["APP备案", "移动互联网应用程序"],
    "应用商店": ["应用分发平台", "分发平台"],
    "抖音": ["抖音开放平台", "小程序备案"],
    "刷脸": ["人脸核验"],
    "接入商": ["接入服务提供者", "网络接入服务提供者"],

    # --- Online publishing, games, news, medicine (pre-approval fields) --------------------------
    "出版证": ["网络出版服务许可证", "网络出版"],
    "游戏": ["网络游戏", "网络出版服务许可证"],
    "版号": ["网络游戏", "网络出版服务许可证"],
    "资讯": ["互联网新闻信息", "新闻"],
    "医院": ["医疗保健", "前置审批"],

    # --- Foreign investment, 2024 pilot, listing abroad --------------------------------------------
    "老外": ["外国投资者", "外资"],
    "海外公司": ["外国投资者", "外商投资电信企业"],
    "境外股东": ["外国投资者", "外商投资电信企业"],
    "香港公司": ["外资", "外商投资电信企业"],
    "wfoe": ["外商投资电信企业", "外资"],
    "独资": ["股比", "出资比例"],
    "控股": ["股比", "出资比例"],
    "临港": ["临港新片区", "试点"],
    "自贸区": ["自由贸易试验区", "试点"],
    "放开外资": ["取消外资股比限制", "试点"],
    "ipo": ["境外上市", "审查同意"],
    "vie架构": ["境外上市", "外资"],

    # --- Numbers (码号) ---------------------------------------------------------------------------------
    "端口": ["短信端口", "码号"],
    "群发": ["短消息", "码号"],
    "物联网": ["机器通信", "1064"],

    # --- Cross-border lines and VPN --------------------------------------------------------------------
    "外网": ["跨境", "国际专线"],
    "科学上网": ["跨境", "虚拟专用网", "国际专线"],
    "iplc": ["国际专线", "国际通信出入口"],
    "国际线路": ["国际专线", "国际通信出入口"],
    "自用": ["内部办公", "办公自用"],

    # --- Regulation nicknames used by agents and sales staff -----------------------------------
    "42号令": ["令42", "电信业务经营许可管理办法"],
    "292号令": ["292号", "互联网信息服务管理办法"],
    "32号文": ["32号文", "国际专线"],
    # English questions: map to the corpus's Chinese terms (the dense model handles the rest).
    "license": ["许可证"], "licence": ["许可证"], "permit": ["许可证"],
    "valid": ["有效期"], "validity": ["有效期"], "expire": ["有效期", "延续"], "renew": ["延续"],
    "foreign": ["外资", "外商投资"], "capital": ["注册资本"], "penalty": ["处罚", "罚款"],
    "fine": ["处罚", "罚款"], "annual": ["年报"], "filing": ["备案"], "telecom": ["电信"],
    "mini": ["小程序"], "program": ["小程序"], "years": ["有效期"],
    "miit": ["工信部"], "notice": ["通告", "通知"], "circular": ["通告", "通知"], "ownership": ["股比", "外资"],
    "shareholding": ["股比"], "stake": ["股比"], "cap": ["股比", "上限"], "pilot": ["试点"],
    "processing": ["在线数据处理与交易处理"], "ecommerce": ["经营类电子商务"], "e-commerce": ["经营类电子商务"],
    "data": ["数据"], "center": ["互联网数据中心"], "centre": ["互联网数据中心"], "shanghai": ["上海"],
    "beijing": ["北京"], "hainan": ["海南"], "shenzhen": ["深圳"], "lingang": ["临港新片区"], "approval": ["批复", "审批"],
    "registered": ["注册资本"], "renewal": ["延续"], "change": ["变更"], "report": ["年报"],
    "days": ["日内"], "review": ["审查"], "basic": ["基础电信业务"], "cloud": ["云计算"],
}

# Any of these in a question marks it as about this domain (checked on normalised text).
# Whether a question is this knowledge base's to answer (`on_topic`), in three tiers:
# - LICENCE_MARKERS name this domain's own licences and rules: with one of these a question is ours even when
#   it also mentions another field ("医疗类网站办ICP证前要先拿什么批文").
# - TOPIC_MARKERS are words this domain's questions use that other fields share ("许可", "证", "网站", "平台");
#   they count only when no other field is named (OTHER_FIELDS) and the question is not just asking a price.
LICENCE_MARKERS = [
    "电信", "icp", "edi", "idc", "cdn", "isp", "sp证", "vpn", "码号", "106", "呼叫中心", "股比", "通信管理局", "管局",
    "工信部", "经营性", "网络出版", "互联网信息服务", "数据中心", "专线", "不良名单", "失信名单", "驻地网",
    "网络托管", "多方通信", "存储转发", "分类目录", "icp备案", "app备案", "小程序备案", "telecom", "miit", "value-added",
]
TOPIC_MARKERS = [
    "小程序", "app", "网站", "互联网", "短信", "云计算", "云服务", "域名", "接入", "地网", "b1", "b2", "快应用", "直播",
    "电商", "在线", "国际长途", "长途", "线路", "话音", "语音", "通话", "运营商", "基站", "带宽", "机房", "超范围",
    "许可", "证", "资质", "备案", "号码", "95", "400", "外资", "外商", "年报", "年检", "注册资本", "注册资金",
    "出版", "平台", "云", "续期", "延续", "变更", "注销", "处罚", "罚", "失信", "论坛", "bbs", "发帖", "帖子",
    "留言", "服务器", "ip", "外企", "海外", "境外", "跨境", "内网", "外网", "翻墙", "科学上网",
    "data center", "data centre", "mini program", "website", "internet", "licen", "permit", "filing", "foreign",
    "ownership", "e-commerce", "ecommerce", "registered capital", "annual report",
]
# Other fields whose licences and filings share the topic words.
OTHER_FIELDS = re.compile(
    r"签证|居留|工作许可|护照|户口|落户|食品(?:经营|生产)?许可|药品(?:经营|生产)许可|医疗器械"
    r"|卫生许可|排污|消防|建筑|施工|道路运输|危险化学品|烟草|酒类|出版物经营许可|进出口|网络文化经营许可|文网文"
    r"|劳务派遣|人力资源服务许可|支付业务许可|支付牌照|小额贷款|办学许可|执业许可|营业性演出许可|旅行社业务经营许可"
    r"|特种设备|安全生产许可|快递业务经营许可|印刷经营许可|娱乐场所|艺术品经营|化妆品|兽药|农药|取水许可|采矿许可"
    r"|规划许可|电影发行|报关|海关|外汇登记|市场监管局|市场监督管理局|工商局"
    r"|域名.{0,10}(?:多少钱|价格|涨价)"
    r"|专利|商标|版权登记|著作权|软著|高新技术企业|高企|税|发票|公积金|社保缴费|补缴社保|缴费基数|社保基数|劳动合同|驾驶|驾照|房产|不动产"
    r"|银行账户|银行开户|对公账户|visa|patent|trademark|copyright|tax"
)
# Any mention of cost: such a question gets a note that the knowledge base holds no prices.
PRICE = re.compile(r"多少钱|费用|价格|收费|报价|价钱|便宜|省钱|花多少|优惠|涨价|cost|price|fee")
# Asking what something costs, when nothing in the question is a licence or procedure (a server, a domain name):
# not this knowledge base's to answer.
_PRICE_ASKED = re.compile(r"多少钱|什么价|价格|报价|价钱|优惠|涨价|how much|price")
_PROCEDURE = re.compile(r"证|许可|备案|资质|办理|代办|申请|审批|罚|licen|permit|filing")

# Attempts to read or change the bot's instructions, or to use it as a general chatbot.
INJECTION = re.compile(
    r"(提示词|系统提示|prompt|忽略(以上|之前|前面|上面)|无视(以上|之前)|ignore (all|the|previous|above)|"
    r"你是谁|你是什么模型|谁训练|什么模型|扮演|越狱|jailbreak|system message|developer mode)",
    re.I,
)

STOPWORDS = set(
    "的 了 是 吗 呢 吧 啊 呀 嘛 么 和 与 及 或 在 对 就 都 也 还 又 要 会 能 可以 可 我 我们 你 你们 他 她 它 "
    "这 那 这个 那个 一个 什么 怎么 怎么样 如何 哪些 哪个 有 没有 需要 是否 不 请问 请 一下 想 问 问题 "
    "上 下 里 中 会 就 被 公司 企业 一般 到底 现在 如果 但 但是 而 以及 及其 等 个 做 只 把 被 给 让 从 到 为 之 其 所 "
    "the a an is are do does i we you our to of for in on and or what how can be".split()
)

_PUNCT = re.compile(r"^[\W_]+$")


@functools.lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    for w in [*DOMAIN_WORDS, *(k for k in SYNONYMS if len(k) > 1)]:
        tk.add_word(w.lower(), freq=20000)
    return tk


def fingerprint() -> str:
    """Changes whenever the dictionary does, so a BM25 index tokenised with an older one is rebuilt."""
    import hashlib

    words = sorted({*DOMAIN_WORDS, *(k for k in SYNONYMS if len(k) > 1)})
    return hashlib.sha256("\n".join([*words, "|", *sorted(STOPWORDS)]).encode()).hexdigest()[:16]


def tokenize(text: str) -> list[str]:
    """Search tokens: normalised, segmented for search (words and their sub-words), no stopwords."""
    norm = for_matching(text)
    out = []
    for tok in _jieba().cut_for_search(norm):
        tok = tok.strip()
        if not tok or tok in STOPWORDS or _PUNCT.match(tok):
            continue
        out.append(tok)
    return out


def _term_tokens(term: str) -> list[str]:
    """A canonical term as search tokens: whole when the dictionary knows it, else its words."""
    norm = for_matching(term)
    if norm in _DOMAIN_SET:
        return [norm]
    return [t for t in _jieba().lcut(norm) if t.strip() and t not in STOPWORDS and not _PUNCT.match(t)]


def synonyms_for(tokens: list[str]) -> dict[str, list[str]]:
    """For each query token, the canonical terms the synonym table adds (only tokens that have some)."""
    groups: dict[str, list[str]] = {}
    for tok in dict.fromkeys(tokens):
        extra: list[str] = []
        for key, terms in SYNONYMS.items():
            if key == tok or (len(key) > 1 and key in tok):
                for term in terms:
                    extra += [t for t in _term_tokens(term) if t not in tokens and t not in extra]
        if extra:
            groups[tok] = extra
    return groups


def expand(tokens: list[str]) -> list[str]:
    """The tokens plus the canonical terms for colloquial words and abbreviations among them."""
    extra = [t for terms in synonyms_for(tokens).values() for t in terms]
    return tokens + [t for t in dict.fromkeys(extra) if t not in tokens]


def on_topic(text: str) -> bool:
    norm = for_matching(text)
    # "管局" (the telecom bureau) must not match inside 市场监管局.
    if any(m in norm.replace("监管局", "") for m in LICENCE_MARKERS) or re.search(r"\bb[12]\d\b", norm):
        return True
    if OTHER_FIELDS.search(norm):
        return False
    if _PRICE_ASKED.search(norm) and not _PROCEDURE.search(norm):
        return False
    return any(m in norm for m in TOPIC_MARKERS)


def looks_like_injection(text: str) -> bool:
    return bool(INJECTION.search(for_matching(text)))

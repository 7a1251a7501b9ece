"""Chinese first, English on request: the consoles' words in both languages.

The language is the `hub_lang` cookie ("zh" or "en"), set by `/lang/{code}`; Chinese when
absent. Templates call `t("key")`; a key missing in English falls back to Chinese, and a key
missing in both shows itself (a test checks that every key used has both).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

LANG_COOKIE = "hub_lang"
LANGUAGES = ("zh", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    "hub": ("GridHub 网格数据共享平台", "GridHub data-sharing hub"),
    "hub.short": ("网格数据共享平台", "data-sharing hub"),
    "tagline": ("网格化管理的跨部门数据共享", "Cross-department data sharing for grid governance"),
    "consoles": ("工作台", "Consoles"),
    "counter": ("一站式服务窗口", "Service counter"),
    "counter.about": (
        "按身份证号查询居民，打印居民信息卡",
        "Find a resident by ID number; print the card",
    ),
    "grid": ("网格员工作台", "Grid worker"),
    "grid.about": (
        "本网格居民、关爱对象、走访与事件",
        "My grid: residents, care tags, visits, cases",
    ),
    "audit": ("审计工作台", "Auditor"),
    "audit.about": (
        "谁查看了谁、事件检索、审计链校验、导出",
        "Who accessed whom, event search, chain status, export",
    ),
    "admin": ("系统管理", "Administration"),
    "admin.about": (
        "数据接入、运行记录、隔离区、客户端与用户",
        "Connectors, runs, quarantine, clients and users",
    ),
    "graphiql": ("GraphiQL 接口调试", "GraphiQL"),
    "graphiql.about": (
        "在浏览器中试用 GraphQL 接口（开发模式）",
        "Try the GraphQL API in the browser (dev)",
    ),
    "sdl": ("GraphQL 模式文件 (SDL)", "GraphQL schema files (SDL)"),
    "docs": ("文档", "Documentation"),
    "docs.about": ("README：部署、命令、安全模型", "README: set-up, commands, security model"),
    "metadata": ("OAuth 授权服务器元数据", "OAuth server metadata"),
    "signin": ("登录", "Sign in"),
    "signout": ("退出", "Sign out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "signin.failed": (
        "用户名或密码错误，或账户已锁定",
        "Wrong name or password, or the account is locked",
    ),
    "signin.locked": (
        "密码错误次数过多，账户已锁定，请稍后再试",
        "Too many wrong passwords: the account is locked for a while",
    ),
    "signin.expired": ("登录已过期，请重新登录", "Your session expired; please sign in again"),
    "signed.out": ("您已安全退出", "You have signed out"),
    "csrf.failed": (
        "表单已过期，请刷新页面后重试",
        "The form expired; reload the page and try again",
    ),
    "role": ("角色", "Role"),
    "role.denied": ("您的角色不能使用此工作台", "Your role cannot use this console"),
    "lang.switch": ("English", "中文"),
    "id_number": ("身份证号", "ID number"),
    "purpose": ("查询事由", "Purpose"),
    "purpose.choose": ("请选择查询事由", "Choose a purpose"),
    "purpose.required": ("必须选择查询事由（将记入审计）", "A purpose is required (it is audited)"),
    "lookup": ("查询", "Look up"),
    "print": ("打印", "Print"),
    "print.view": ("打印视图", "Print view"),
    "back": ("返回", "Back"),
    "not_found": ("未找到该居民，或该居民不在您的辖区", "No such resident, or not in your area"),
    "bad_id": ("身份证号格式不正确", "Not a valid ID number"),
    "masked": ("已脱敏", "masked"),
    "forbidden": ("无权查看", "not permitted"),
    "none": ("无", "none"),
    "name": ("姓名", "Name"),
    "gender": ("性别", "Gender"),
    "age": ("年龄", "Age"),
    "birth_date": ("出生日期", "Birth date"),
    "phone": ("电话", "Phone"),
    "address": ("住址", "Address"),
    "tags": ("关爱标签", "Care tags"),
    "grid.of": ("所属网格", "Grid"),
    "household": ("户", "Household"),
    "sources": ("数据来源与更新时间", "Sources and freshness"),
    "department": ("部门", "Department"),
    "source": ("来源系统", "Source"),
    "record_type": ("记录类型", "Record type"),
    "records": ("条数", "Records"),
    "updated": ("最后更新", "Last updated"),
    "health": ("卫健", "Health"),
    "family_doctor": ("家庭医生签约", "Family doctor"),
    "vaccinations": ("疫苗接种", "Vaccinations"),
    "chronic": ("慢性病（敏感）", "Chronic conditions (sensitive)"),
    "social": ("人社/民政", "Social security"),
    "insurance": ("社会保险", "Insurance"),
    "assistance": ("社会救助", "Social assistance"),
    "education": ("教育", "Education"),
    "enrollments": ("学籍", "School enrollments"),
    "police": ("公安", "Police"),
    "hukou": ("户籍", "Household registration"),
    "permit": ("居住证", "Residence permit"),
    "flags": ("重点人员标记（敏感）", "Person flags (sensitive)"),
    "printed_at": ("打印时间", "Printed at"),
    "printed_by": ("操作人", "Printed by"),
    "residents.mine": ("本网格居民", "Residents of my grid"),
    "filter.tag": ("按关爱标签筛选", "Filter by care tag"),
    "all": ("全部", "All"),
    "total": ("共", "Total"),
    "next_page": ("下一页", "Next page"),
    "visits.due": ("待走访家庭", "Households due a visit"),
    "cases.mine": ("我的事件", "My cases"),
    "patrols.mine": ("我的巡查", "My patrols"),
    "pending.governance": (
        "网格治理接口（事件、走访、巡查）尚未上线，上线后在此显示。",
        "The grid governance API (cases, visits, patrols) is not served yet; it will show here.",
    ),
    "access.report": ("居民被查询记录", "Who accessed a resident"),
    "access.report.hint": (
        "输入居民身份证号或居民编号",
        "Enter the resident's ID number or resident id",
    ),
    "events.search": ("审计事件检索", "Audit event search"),
    "chain.status": ("审计链与检查点状态", "Chain and checkpoint status"),
    "export.csv": ("导出 CSV", "Export CSV"),
    "when": ("时间", "When"),
    "who": ("访问者", "Who"),
    "client": ("客户端", "Client"),
    "subject": ("主体", "Subject"),
    "outcome": ("结果", "Outcome"),
    "operation": ("操作", "Operation"),
    "fields": ("访问字段", "Fields"),
    "residents": ("居民", "Residents"),
    "from": ("起", "From"),
    "to": ("止", "To"),
    "search": ("检索", "Search"),
    "chain": ("链", "Chain"),
    "checkpoint": ("最近检查点", "Last checkpoint"),
    "checkpoint.signed": ("签名有效", "signature valid"),
    "checkpoint.bad": ("签名无效", "signature invalid"),
    "checkpoint.unknown_key": ("签名密钥已不在本机", "signed with a key no longer held"),
    "checkpoint.none": ("尚无检查点", "no checkpoint yet"),
    "checked.from": ("自此校验", "verified from"),
    "events": ("事件数", "Events"),
    "verified": ("校验", "Verified"),
    "ok": ("通过", "OK"),
    "broken": ("未通过", "Broken"),
    "no_accesses": ("该时段内无人查询此居民", "Nobody accessed this resident in the period"),
    "connectors": ("数据接入", "Connectors"),
    "stream": ("数据流", "Stream"),
    "last_run": ("最近运行", "Last run"),
    "status": ("状态", "Status"),
    "quarantine": ("隔离区", "Quarantine"),
    "reason": ("原因", "Reason"),
    "retry": ("重试", "Retry"),
    "retried": ("已重试", "Retried"),
    "retry.resolved": ("已接收", "accepted"),
    "retry.remaining": ("仍在隔离区", "still quarantined"),
    "MALE": ("男", "Male"),
    "FEMALE": ("女", "Female"),
    "clients": ("OAuth 客户端", "OAuth clients"),
    "last_signin": ("最近登录", "Last sign-in"),
    "users": ("工作人员账户", "Staff accounts"),
    "error": ("出错了", "Something went wrong"),
    "landing.signed_in_as": ("当前用户", "Signed in as"),
}


def language(connection: HTTPConnection) -> str:
    chosen = connection.cookies.get(LANG_COOKIE, "zh")
    return chosen if chosen in LANGUAGES else "zh"


def translate(key: str, lang: str) -> str:
    words = MESSAGES.get(key)
    if words is None:
        return key
    return words[1] if lang == "en" and words[1] else words[0]

"""Static catalogues behind the demo population: regions, vaccines, diseases, schools, stations.

Nothing here is random; the generators draw from these tables with their own seeded RNG.
"""

from __future__ import annotations

from decimal import Decimal

from hub.vocabulary import PersonFlagType

LOCAL_REGION = "410105"
"""Administrative division code of Jinshui district, the region of locally born residents."""

MIGRANT_REGIONS: dict[str, tuple[str, int]] = {
    "411302": ("河南省南阳市宛城区", 14),
    "412723": ("河南省周口市商水县", 12),
    "410323": ("河南省洛阳市新安县", 9),
    "411522": ("河南省信阳市光山县", 10),
    "410526": ("河南省安阳市滑县", 9),
    "411681": ("河南省周口市项城市", 8),
    "410122": ("河南省郑州市中牟县", 8),
    "340104": ("安徽省合肥市蜀山区", 6),
    "130102": ("河北省石家庄市长安区", 6),
    "420106": ("湖北省武汉市武昌区", 5),
    "371302": ("山东省临沂市兰山区", 5),
    "610113": ("陕西省西安市雁塔区", 4),
}
"""Origin of migrants (流动人口): region code → (name, relative weight)."""

SOURCE_HEALTH = "health_api"
SOURCE_SOCIAL = "social_db"
SOURCE_EDUCATION = "education_files"
SOURCE_POLICE = "police_api"

VACCINE_SCHEDULE: tuple[tuple[str, int, float], ...] = (
    ("乙肝疫苗", 1, 0),
    ("卡介苗", 1, 0),
    ("乙肝疫苗", 2, 1),
    ("脊灰疫苗", 1, 2),
    ("脊灰疫苗", 2, 3),
    ("百白破疫苗", 1, 3),
    ("百白破疫苗", 2, 4),
    ("脊灰疫苗", 3, 4),
    ("百白破疫苗", 3, 5),
    ("乙肝疫苗", 3, 6),
    ("A群流脑多糖疫苗", 1, 6),
    ("麻腮风疫苗", 1, 8),
    ("乙脑减毒活疫苗", 1, 8),
    ("A群流脑多糖疫苗", 2, 9),
    ("百白破疫苗", 4, 18),
    ("麻腮风疫苗", 2, 18),
    ("甲肝减毒活疫苗", 1, 18),
    ("乙脑减毒活疫苗", 2, 24),
    ("A群C群流脑多糖疫苗", 1, 36),
    ("脊灰疫苗", 4, 48),
    ("白破疫苗", 1, 72),
    ("A群C群流脑多糖疫苗", 2, 72),
)
"""National immunisation programme (国家免疫规划): vaccine, dose number, age in months."""

FLU_VACCINE = "流感疫苗"

CHRONIC_CONDITIONS: tuple[tuple[str, str, tuple[tuple[int, float], ...]], ...] = (
    ("高血压", "I10", ((35, 0.06), (45, 0.18), (60, 0.40), (75, 0.55))),
    ("2型糖尿病", "E11", ((35, 0.03), (45, 0.08), (60, 0.16), (75, 0.20))),
    ("冠心病", "I25", ((45, 0.02), (60, 0.07), (75, 0.14))),
    ("慢阻肺", "J44", ((40, 0.03), (60, 0.09), (75, 0.14))),
    ("脑卒中", "I63", ((45, 0.01), (60, 0.03), (75, 0.07))),
)
"""Chronic diseases under management: name, ICD-10 code, prevalence from each age upward."""

SERVICE_PACKAGES = ("基础服务包", "老年人健康管理包", "慢病管理包", "儿童健康管理包")

KINDERGARTEN_SUFFIXES = ("幼儿园", "实验幼儿园", "第二幼儿园")
PRIMARY_SCHOOL_SUFFIXES = ("小学", "第一小学", "第二小学", "实验小学")
JUNIOR_SCHOOLS = (
    "郑州市第八中学",
    "郑州市第九中学",
    "郑州市第四十七中学",
    "郑州市第七十一中学",
    "郑州市第七十六中学",
    "郑州市第九十六中学",
    "郑州市金水区实验中学",
    "郑州市第一〇五中学",
)
SENIOR_SCHOOLS = (
    "郑州市第一中学",
    "郑州市第十一中学",
    "郑州市第四十七中学",
    "郑州市第九中学",
    "河南省实验中学",
    "郑州外国语学校",
)
VOCATIONAL_SCHOOLS = ("郑州市财贸学校", "郑州市国防科技学校", "郑州市商业技师学院")

SUBSISTENCE_AMOUNTS = (Decimal("720.00"), Decimal("780.00"), Decimal("816.00"))
EXTREME_POVERTY_AMOUNT = Decimal("1131.00")
DISABILITY_AMOUNTS = (Decimal("80.00"), Decimal("100.00"))

PERSON_FLAG_NOTES: dict[PersonFlagType, tuple[str, int]] = {
    PersonFlagType.COMMUNITY_CORRECTION: ("社区矫正期间，每月到司法所报到", 25),
    PersonFlagType.DRUG_REHABILITATION: ("社区戒毒，定期尿检", 10),
    PersonFlagType.MENTAL_HEALTH_RISK: ("严重精神障碍患者，监护人已落实", 30),
    PersonFlagType.RELEASED_PRISONER: ("刑满释放人员，安置帮教中", 20),
    PersonFlagType.PETITIONER: ("重点信访人员，包案领导已落实", 15),
}
"""Police attention categories: note template and relative weight."""


def area_stem(name: str) -> str:
    """`经八路街道` → `经八路`, `黄河路社区` → `黄河路`: the place name without its level."""
    for suffix in ("街道", "社区"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def police_station(street: str) -> str:
    return f"郑州市公安局金水分局{area_stem(street)}派出所"


def health_centre(street: str) -> str:
    return f"金水区{area_stem(street)}社区卫生服务中心"

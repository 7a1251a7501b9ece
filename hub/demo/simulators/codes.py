"""Code tables and value formats of the department systems: canonical vocabulary → raw codes.

These are the contract between the simulators and the connector mappings: a connector maps
each raw code back through the inverse of the table here (e.g. 户籍 `xb` "1" → MALE).
"""

from __future__ import annotations

from datetime import date, datetime

from hub.clock import CHINA_TIME
from hub.vocabulary import (
    AssistanceType,
    ConditionStatus,
    ContractStatus,
    EnrollmentStatus,
    Gender,
    GrantStatus,
    HouseholdRelation,
    InsuranceScheme,
    InsuranceType,
    PermitStatus,
    PersonFlagType,
    RegistrationStatus,
    RegistrationType,
    SchoolStage,
    SchoolStatus,
)

# --- health ------------------------------------------------------------------------------------

CONTRACT_STATUS = {
    ContractStatus.ACTIVE: "有效",
    ContractStatus.EXPIRED: "过期",
    ContractStatus.TERMINATED: "解约",
}
MANAGE_STATUS = {
    ConditionStatus.MANAGED: "规范管理",
    ConditionStatus.UNMANAGED: "未规范管理",
    ConditionStatus.RESOLVED: "已治愈",
}

# --- police ------------------------------------------------------------------------------------

GENDER = {Gender.MALE: "1", Gender.FEMALE: "2"}  # GB/T 2261.1
RELATION = {
    HouseholdRelation.HEAD: "户主",
    HouseholdRelation.SPOUSE: "配偶",
    HouseholdRelation.CHILD: "子女",
    HouseholdRelation.PARENT: "父母",
    HouseholdRelation.GRANDCHILD: "孙子女",
    HouseholdRelation.OTHER: "其他",
}
REGISTRATION_TYPE = {RegistrationType.FAMILY: "家庭户", RegistrationType.COLLECTIVE: "集体户"}
REGISTRATION_STATUS = {
    RegistrationStatus.ACTIVE: "正常",
    RegistrationStatus.MOVED_OUT: "迁出",
    RegistrationStatus.CANCELLED: "注销",
}
PERMIT_STATUS = {
    PermitStatus.VALID: "有效",
    PermitStatus.EXPIRED: "过期",
    PermitStatus.REVOKED: "注销",
}
FLAG_TYPE = {
    PersonFlagType.COMMUNITY_CORRECTION: "社区矫正",
    PersonFlagType.DRUG_REHABILITATION: "社区戒毒",
    PersonFlagType.MENTAL_HEALTH_RISK: "严重精神障碍",
    PersonFlagType.RELEASED_PRISONER: "刑满释放",
    PersonFlagType.PETITIONER: "重点信访",
}

# --- social security ---------------------------------------------------------------------------

INSURANCE_TYPE = {  # 险种类型 aae140
    InsuranceType.PENSION: "110",
    InsuranceType.UNEMPLOYMENT: "210",
    InsuranceType.MEDICAL: "310",
    InsuranceType.WORK_INJURY: "410",
    InsuranceType.MATERNITY: "510",
}
INSURANCE_SCHEME = {InsuranceScheme.EMPLOYEE: "职工", InsuranceScheme.RESIDENT: "居民"}
ENROLLMENT_STATUS = {  # 参保状态 aac008
    EnrollmentStatus.ACTIVE: "1",
    EnrollmentStatus.SUSPENDED: "2",
    EnrollmentStatus.TERMINATED: "3",
}
GRANT_TYPE = {
    AssistanceType.SUBSISTENCE_ALLOWANCE: "低保",
    AssistanceType.EXTREME_POVERTY: "特困",
    AssistanceType.DISABILITY_ALLOWANCE: "残疾人补贴",
}
GRANT_STATUS = {
    GrantStatus.ACTIVE: "在保",
    GrantStatus.SUSPENDED: "暂停",
    GrantStatus.ENDED: "停保",
}

# --- education ---------------------------------------------------------------------------------

SCHOOL_STAGE = {
    SchoolStage.PRESCHOOL: "学前",
    SchoolStage.PRIMARY: "小学",
    SchoolStage.JUNIOR_SECONDARY: "初中",
    SchoolStage.SENIOR_SECONDARY: "高中",
    SchoolStage.VOCATIONAL: "中职",
}
SCHOOL_STATUS = {
    SchoolStatus.ENROLLED: "在读",
    SchoolStatus.SUSPENDED: "休学",
    SchoolStatus.TRANSFERRED: "转出",
    SchoolStatus.GRADUATED: "毕业",
    SchoolStatus.DROPPED_OUT: "辍学",
}

# --- value formats -----------------------------------------------------------------------------


def iso_local(instant: datetime) -> str:
    """`2025-03-05T14:22:01+08:00`: how the HTTP APIs write `updated_at`."""
    return instant.astimezone(CHINA_TIME).isoformat(timespec="seconds")


def naive_local(instant: datetime) -> datetime:
    """China Standard Time without a zone: how the social security database stores timestamps."""
    return instant.astimezone(CHINA_TIME).replace(tzinfo=None)


def local_text(instant: datetime) -> str:
    """`2025-09-01 08:00:00` (China Standard Time): the education exports' 更新时间."""
    return naive_local(instant).strftime("%Y-%m-%d %H:%M:%S")


def compact_date(day: date) -> str:
    """`20240305`."""
    return day.strftime("%Y%m%d")


def chinese_date(day: date | None) -> str | None:
    """`2024年3月5日` (no zero padding), as typed into the chronic disease register."""
    return None if day is None else f"{day.year}年{day.month}月{day.day}日"


def slash_date(day: date | None) -> str | None:
    """`2024/3/5` (no zero padding), as spreadsheets print dates."""
    return None if day is None else f"{day.year}/{day.month}/{day.day}"


def iso_date(day: date | None) -> str | None:
    """`2024-03-05`."""
    return None if day is None else day.isoformat()

"""Code lists shared by storage, schema and connectors (one definition, three users)."""

from __future__ import annotations

from enum import StrEnum


class GridLevel(StrEnum):
    DISTRICT = "DISTRICT"
    STREET = "STREET"  # 一级网格
    COMMUNITY = "COMMUNITY"  # 二级网格
    BUILDING = "BUILDING"  # 三级网格


class GridPost(StrEnum):
    """Posts on a grid's responsibility board (责任牌)."""

    GRID_CHIEF = "GRID_CHIEF"  # 网格长
    INFORMATION_OFFICER = "INFORMATION_OFFICER"  # 舆情信息员
    SAFETY_INSPECTOR = "SAFETY_INSPECTOR"  # 安全巡管员
    STABILITY_OFFICER = "STABILITY_OFFICER"  # 综治维稳员
    MEDIATOR = "MEDIATOR"  # 司法调解员
    POLICY_ADVISOR = "POLICY_ADVISOR"  # 政策咨询员


class MemberKind(StrEnum):
    CADRE = "CADRE"  # 干部
    COMMUNITY_WORKER = "COMMUNITY_WORKER"  # 社区工作者
    VOLUNTEER = "VOLUNTEER"  # 志愿者
    DEPUTY = "DEPUTY"  # 人大代表/政协委员
    RETIREE = "RETIREE"  # 退休人员


class Gender(StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"


class ResidentTag(StrEnum):
    ELDERLY_ALONE = "ELDERLY_ALONE"  # 独居老人
    DISABLED = "DISABLED"  # 残疾人
    LOW_INCOME = "LOW_INCOME"  # 低收入
    VETERAN = "VETERAN"  # 退役军人
    LEFT_BEHIND_CHILD = "LEFT_BEHIND_CHILD"  # 留守儿童
    MIGRANT = "MIGRANT"  # 流动人口


class ContractStatus(StrEnum):
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    TERMINATED = "TERMINATED"


class ConditionStatus(StrEnum):
    MANAGED = "MANAGED"
    UNMANAGED = "UNMANAGED"
    RESOLVED = "RESOLVED"


class InsuranceType(StrEnum):
    PENSION = "PENSION"  # 养老保险
    MEDICAL = "MEDICAL"  # 医疗保险
    UNEMPLOYMENT = "UNEMPLOYMENT"  # 失业保险
    WORK_INJURY = "WORK_INJURY"  # 工伤保险
    MATERNITY = "MATERNITY"  # 生育保险


class InsuranceScheme(StrEnum):
    EMPLOYEE = "EMPLOYEE"  # 城镇职工
    RESIDENT = "RESIDENT"  # 城乡居民


class EnrollmentStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"


class AssistanceType(StrEnum):
    SUBSISTENCE_ALLOWANCE = "SUBSISTENCE_ALLOWANCE"  # 低保
    EXTREME_POVERTY = "EXTREME_POVERTY"  # 特困供养
    DISABILITY_ALLOWANCE = "DISABILITY_ALLOWANCE"  # 残疾人两项补贴


class GrantStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    ENDED = "ENDED"


class SchoolStage(StrEnum):
    PRESCHOOL = "PRESCHOOL"  # 学前
    PRIMARY = "PRIMARY"  # 小学
    JUNIOR_SECONDARY = "JUNIOR_SECONDARY"  # 初中
    SENIOR_SECONDARY = "SENIOR_SECONDARY"  # 高中
    VOCATIONAL = "VOCATIONAL"  # 中职


class SchoolStatus(StrEnum):
    ENROLLED = "ENROLLED"
    SUSPENDED = "SUSPENDED"
    TRANSFERRED = "TRANSFERRED"
    GRADUATED = "GRADUATED"
    DROPPED_OUT = "DROPPED_OUT"


class RegistrationType(StrEnum):
    FAMILY = "FAMILY"  # 家庭户
    COLLECTIVE = "COLLECTIVE"  # 集体户


class HouseholdRelation(StrEnum):
    HEAD = "HEAD"  # 户主
    SPOUSE = "SPOUSE"
    CHILD = "CHILD"
    PARENT = "PARENT"
    GRANDCHILD = "GRANDCHILD"
    OTHER = "OTHER"


class RegistrationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    MOVED_OUT = "MOVED_OUT"
    CANCELLED = "CANCELLED"


class PermitStatus(StrEnum):
    VALID = "VALID"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


class PersonFlagType(StrEnum):
    """Police attention categories; sensitive, visible only with `police:sensitive`."""

    COMMUNITY_CORRECTION = "COMMUNITY_CORRECTION"  # 社区矫正
    DRUG_REHABILITATION = "DRUG_REHABILITATION"  # 社区戒毒
    MENTAL_HEALTH_RISK = "MENTAL_HEALTH_RISK"  # 严重精神障碍
    RELEASED_PRISONER = "RELEASED_PRISONER"  # 刑满释放
    PETITIONER = "PETITIONER"  # 重点信访


class Department(StrEnum):
    """The department systems that feed the hub."""

    HEALTH = "HEALTH"
    SOCIAL_SECURITY = "SOCIAL_SECURITY"
    EDUCATION = "EDUCATION"
    POLICE = "POLICE"

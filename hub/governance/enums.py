"""Code lists of grid governance: case states and actions, the six work areas, satisfaction."""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    REPORTED = "REPORTED"  # 已上报: waits for the grid holding it to accept
    ACCEPTED = "ACCEPTED"  # 已受理: the holding grid handles it
    ESCALATED = "ESCALATED"  # 已上报上级: waits for the parent grid to accept
    ASSIGNED = "ASSIGNED"  # 已派单: departments handle it jointly (district level)
    RESOLVED = "RESOLVED"  # 已办结: waits for the reporting grid to verify
    VERIFIED = "VERIFIED"  # 已核查: waits for the resident's rating
    CLOSED = "CLOSED"  # 已结案: rated by the resident
    REOPENED = "REOPENED"  # 已重启: back with the grid that resolved it


class CaseAction(StrEnum):
    REPORT = "REPORT"
    ACCEPT = "ACCEPT"
    ESCALATE = "ESCALATE"
    ASSIGN = "ASSIGN"
    RESOLVE = "RESOLVE"
    VERIFY = "VERIFY"
    CLOSE = "CLOSE"
    REOPEN = "REOPEN"


class CaseCategory(StrEnum):
    """The six work areas (城市管理、综治维稳、安全生产、民生保障、社会服务、党建工作)."""

    CITY_MANAGEMENT = "CITY_MANAGEMENT"
    STABILITY = "STABILITY"
    WORK_SAFETY = "WORK_SAFETY"
    LIVELIHOOD = "LIVELIHOOD"
    SOCIAL_SERVICES = "SOCIAL_SERVICES"
    PARTY_BUILDING = "PARTY_BUILDING"


class CaseSubtype(StrEnum):
    """Sub-types; each belongs to exactly one category (`CATEGORY_OF`)."""

    # CITY_MANAGEMENT 城市管理
    ILLEGAL_CONSTRUCTION = "ILLEGAL_CONSTRUCTION"  # 违法建设
    SANITATION = "SANITATION"  # 环境卫生
    ROAD_FACILITIES = "ROAD_FACILITIES"  # 道路设施损坏
    STREET_OCCUPATION = "STREET_OCCUPATION"  # 占道经营
    ILLEGAL_PARKING = "ILLEGAL_PARKING"  # 违规停车
    GREENERY = "GREENERY"  # 园林绿化
    # STABILITY 综治维稳
    NEIGHBOUR_DISPUTE = "NEIGHBOUR_DISPUTE"  # 邻里纠纷
    FAMILY_DISPUTE = "FAMILY_DISPUTE"  # 家庭纠纷
    LABOUR_DISPUTE = "LABOUR_DISPUTE"  # 劳资纠纷
    PROPERTY_MANAGEMENT_DISPUTE = "PROPERTY_MANAGEMENT_DISPUTE"  # 物业纠纷
    KEY_PERSON = "KEY_PERSON"  # 重点人员动态
    PUBLIC_ORDER = "PUBLIC_ORDER"  # 治安隐患
    # WORK_SAFETY 安全生产
    FIRE_HAZARD = "FIRE_HAZARD"  # 消防隐患
    GAS_SAFETY = "GAS_SAFETY"  # 燃气安全
    EBIKE_CHARGING = "EBIKE_CHARGING"  # 电动车违规充电
    CONSTRUCTION_SITE = "CONSTRUCTION_SITE"  # 施工安全
    HAZARDOUS_GOODS = "HAZARDOUS_GOODS"  # 危险物品
    FOOD_SAFETY = "FOOD_SAFETY"  # 食品安全
    # LIVELIHOOD 民生保障
    UTILITIES = "UTILITIES"  # 水电气暖
    HOUSING_REPAIR = "HOUSING_REPAIR"  # 房屋维修
    ELEVATOR = "ELEVATOR"  # 电梯故障
    NOISE = "NOISE"  # 噪音扰民
    EMPLOYMENT = "EMPLOYMENT"  # 就业帮扶
    WAGE_ARREARS = "WAGE_ARREARS"  # 欠薪
    # SOCIAL_SERVICES 社会服务
    ELDERLY_CARE = "ELDERLY_CARE"  # 养老服务
    DISABILITY_SUPPORT = "DISABILITY_SUPPORT"  # 助残服务
    SOCIAL_ASSISTANCE = "SOCIAL_ASSISTANCE"  # 社会救助
    CHILD_CARE = "CHILD_CARE"  # 未成年人关爱
    HEALTH_SERVICE = "HEALTH_SERVICE"  # 医疗卫生服务
    PAPERWORK = "PAPERWORK"  # 证照代办
    # PARTY_BUILDING 党建工作
    PARTY_MEMBER_SERVICE = "PARTY_MEMBER_SERVICE"  # 党员服务
    PARTY_ORGANISATION = "PARTY_ORGANISATION"  # 基层组织建设
    VOLUNTEER_SERVICE = "VOLUNTEER_SERVICE"  # 志愿服务
    CONSULTATION = "CONSULTATION"  # 协商议事


_C, _S = CaseCategory, CaseSubtype
SUBTYPES: dict[CaseCategory, tuple[CaseSubtype, ...]] = {
    _C.CITY_MANAGEMENT: (
        _S.ILLEGAL_CONSTRUCTION, _S.SANITATION, _S.ROAD_FACILITIES,
        _S.STREET_OCCUPATION, _S.ILLEGAL_PARKING, _S.GREENERY,
    ),
    _C.STABILITY: (
        _S.NEIGHBOUR_DISPUTE, _S.FAMILY_DISPUTE, _S.LABOUR_DISPUTE,
        _S.PROPERTY_MANAGEMENT_DISPUTE, _S.KEY_PERSON, _S.PUBLIC_ORDER,
    ),
    _C.WORK_SAFETY: (
        _S.FIRE_HAZARD, _S.GAS_SAFETY, _S.EBIKE_CHARGING,
        _S.CONSTRUCTION_SITE, _S.HAZARDOUS_GOODS, _S.FOOD_SAFETY,
    ),
    _C.LIVELIHOOD: (
        _S.UTILITIES, _S.HOUSING_REPAIR, _S.ELEVATOR, _S.NOISE, _S.EMPLOYMENT, _S.WAGE_ARREARS,
    ),
    _C.SOCIAL_SERVICES: (
        _S.ELDERLY_CARE, _S.DISABILITY_SUPPORT, _S.SOCIAL_ASSISTANCE,
        _S.CHILD_CARE, _S.HEALTH_SERVICE, _S.PAPERWORK,
    ),
    _C.PARTY_BUILDING: (
        _S.PARTY_MEMBER_SERVICE, _S.PARTY_ORGANISATION, _S.VOLUNTEER_SERVICE, _S.CONSULTATION,
    ),
}  # fmt: skip

CATEGORY_OF: dict[CaseSubtype, CaseCategory] = {
    subtype: category for category, subtypes in SUBTYPES.items() for subtype in subtypes
}


class Satisfaction(StrEnum):
    """The resident's rating when a case is closed (满意, 基本满意, 不满意)."""

    SATISFIED = "SATISFIED"
    BASICALLY_SATISFIED = "BASICALLY_SATISFIED"
    DISSATISFIED = "DISSATISFIED"


SATISFIED_RATINGS = frozenset({Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED})
"""Ratings that count as satisfied in the satisfaction rates."""


class CaseSource(StrEnum):
    """Where a case came from; connector-fed cases also carry the source system's record id."""

    GRID = "GRID"  # reported by a grid worker
    VISIT = "VISIT"  # found on a home visit
    PATROL = "PATROL"  # found on a patrol
    SERVICE_CENTER = "SERVICE_CENTER"  # a resident at the one-stop service counter
    DISPATCHER = "DISPATCHER"  # the district's grid information centre
    HOTLINE = "HOTLINE"  # the citizen hotline (12345), through a connector


class AssignmentKind(StrEnum):
    POST = "POST"  # a post on the holding grid's responsibility board (责任牌)
    DEPARTMENT = "DEPARTMENT"  # a district department, for joint handling


class ParticipantKind(StrEnum):
    """Member units of a joint meeting (联席会议)."""

    GRID = "GRID"
    DEPARTMENT = "DEPARTMENT"
    OUTSIDE_UNIT = "OUTSIDE_UNIT"  # property company, utility, police station, school …

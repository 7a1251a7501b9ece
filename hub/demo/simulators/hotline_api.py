"""The citizen hotline (12345 市民服务热线): appeals as work orders (工单), bearer token, pages.

    GET /api/work-orders?page=1 &page_size=100 (1–500) &updated_since=ISO8601 (inclusive)
    Authorization: Bearer <token>
    → {"items": [...], "page": 1, "page_size": 100, "total": N, "total_pages": M}

in (gxsj, gdbh) order. A work order: gdbh 工单编号, ldsj 来电时间 and gxsj 更新时间 (ISO 8601,
+08:00), sqlx 诉求类型 (a label of `APPEAL_TYPES`), sqnr 诉求内容, wgbm the grid code of the
building it is about, fsdz 发生地址, qtsq 群体诉求 (是/否), and ldrsfzh 来电人身份证号 — empty
for the callers who stay anonymous (about half). `HotlineDesk.build` takes appeals about the
world's buildings, deterministically; `take_calls` adds new ones while a sync runs, and
`follow_up` stamps an old one again (the hotline's own processing), which the hub ignores.
"""

from __future__ import annotations

import random
import secrets
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.demo.simulators.codes import iso_local
from hub.demo.simulators.paging import BadParameterError, parse_instant
from hub.demo.simulators.world import utc_now

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.demo.simulators.world import DepartmentWorld

MAX_PAGE_SIZE = 500
# 诉求类型 label → the hub's case sub-type (the demo's connectors.toml maps the same table)
APPEAL_TYPES: dict[str, str] = {
    "噪音扰民": "NOISE",
    "电梯故障": "ELEVATOR",
    "环境卫生": "SANITATION",
    "违规停车": "ILLEGAL_PARKING",
    "水电气暖": "UTILITIES",
    "房屋维修": "HOUSING_REPAIR",
    "邻里纠纷": "NEIGHBOUR_DISPUTE",
    "物业纠纷": "PROPERTY_MANAGEMENT_DISPUTE",
    "占道经营": "STREET_OCCUPATION",
    "消防隐患": "FIRE_HAZARD",
    "欠薪": "WAGE_ARREARS",
}
_WORDS = {
    "噪音扰民": "楼上夜间施工噪音",
    "电梯故障": "电梯停运两天",
    "环境卫生": "小区垃圾清运不及时",
    "违规停车": "车辆占用消防通道",
    "水电气暖": "暖气不热",
    "房屋维修": "楼顶漏水",
    "邻里纠纷": "邻居堆放杂物占用楼道",
    "物业纠纷": "物业费收取有争议",
    "占道经营": "门口摊贩占道",
    "消防隐患": "楼道电动车充电",
    "欠薪": "装修工人被拖欠工资",
}


@dataclass
class HotlineDesk:
    """The hotline's work orders by number, and their order by (updated, number)."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    stamps: dict[str, datetime] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    callers: list[dict[str, Any]] = field(default_factory=list)  # the world's residents
    _serial: int = 0

    @classmethod
    def build(cls, world: DepartmentWorld, *, appeals: int = 40, seed: int = 0) -> HotlineDesk:
        """`appeals` work orders about the world's buildings, received over the last month."""
        desk = cls(rng=random.Random(f"hotline:{seed}"))
        desk.callers = sorted(world.residents.values(), key=lambda person: str(person["id"]))
        start = datetime.combine(world.as_of, datetime.min.time(), tzinfo=UTC)
        for n in range(appeals):
            desk._take(start - timedelta(days=30) + timedelta(hours=17 * n))
        return desk

    def take_calls(self, count: int = 1, now: datetime | None = None) -> list[str]:
        """New work orders received now (each stamped after every earlier one)."""
        return [self._take(self._next_stamp(now or utc_now())) for _ in range(count)]

    def follow_up(self, number: str, now: datetime | None = None) -> None:
        """The hotline updates its own work order (a later version of the same record)."""
        self._stamp(number, self._next_stamp(now or utc_now()))
        self.orders[number]["blzt"] = "已转办"

    def ordered(self) -> list[tuple[datetime, str]]:
        return sorted((stamp, number) for number, stamp in self.stamps.items())

    def _take(self, at: datetime) -> str:
        if not self.callers:
            raise ValueError("the hotline needs a world with residents to take calls")
        self._serial += 1
        number = f"12345-{at.year}-{self._serial:06d}"
        caller = self.rng.choice(self.callers)
        label = self.rng.choice(sorted(APPEAL_TYPES))
        anonymous = self.rng.random() < 0.5
        self.orders[number] = {
            "gdbh": number,
            "ldsj": iso_local(at),
            "sqlx": label,
            "sqnr": f"市民来电反映：{_WORDS[label]}，请尽快处理。",
            "wgbm": str(caller["grid_code"]),
            "fsdz": str(caller["address"]),
            "qtsq": "是" if self.rng.random() < 0.1 else "否",
            "ldrsfzh": "" if anonymous else str(caller["id_number"]),
            "blzt": "待转办",
        }
        self._stamp(number, at)
        return number

    def _stamp(self, number: str, at: datetime) -> None:
        self.stamps[number] = at
        self.orders[number]["gxsj"] = iso_local(at)

    def _next_stamp(self, now: datetime) -> datetime:
        latest = max(self.stamps.values(), default=now)
        return max(now.replace(microsecond=0), latest + timedelta(seconds=1))


def _positive(request: Request, name: str, default: int, maximum: int) -> int:
    text = request.query_params.get(name, str(default))
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= maximum:
        raise BadParameterError(f"{name} must be an integer from 1 to {maximum}")
    return int(text)


def _page(desk: HotlineDesk, request: Request) -> Response:
    params = request.query_params
    try:
        since = parse_instant(params["updated_since"]) if "updated_since" in params else None
        page = _positive(request, "page", 1, 10**9)
        size = _positive(request, "page_size", 100, MAX_PAGE_SIZE)
    except BadParameterError as error:
        return JSONResponse({"code": 400, "msg": str(error)}, status_code=400)
    order = desk.ordered()
    floor = 0 if since is None else bisect_left(order, (since, ""))
    start = floor + (page - 1) * size
    items = [desk.orders[number] for _, number in order[start : start + size]]
    total = len(order) - floor
    body = {"items": items, "page": page, "page_size": size, "total": total,
            "total_pages": -(-total // size)}  # fmt: skip
    return JSONResponse(body)


def create_hotline_app(desk: HotlineDesk, *, token: str) -> Starlette:
    """The hotline's work-order API over `desk`, for callers bearing `token`."""

    async def work_orders(request: Request) -> Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not secrets.compare_digest(given.encode(), token.encode()):
            return JSONResponse({"code": 401, "msg": "token missing or wrong"}, 401)
        return _page(desk, request)

    return Starlette(routes=[Route("/api/work-orders", work_orders, methods=["GET"])])

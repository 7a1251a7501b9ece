"""The synthetic grid tree of Jinshui district (金水区): streets, communities, building grids.

`build_district` is pure and deterministic: the same scale and seed give the same tree, names
and responsibility boards (责任牌). Codes nest by appending three digits per level
(410105 → 410105001 → 410105001001 → 410105001001001) and every `path` is the slash-joined
ancestry with a trailing slash.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import product
from typing import Literal

from faker import Faker

from hub.vocabulary import GridLevel, GridPost, MemberKind

Scale = Literal["small", "jinshui"]

DISTRICT_CODE = "410105"
DISTRICT_NAME = "金水区"
CITY_PREFIX = "郑州市金水区"


@dataclass(frozen=True, slots=True)
class ScaleShape:
    """How many grids each level holds at one scale."""

    streets: int
    communities: int
    buildings: int


SCALES: dict[str, ScaleShape] = {
    "small": ScaleShape(streets=1, communities=4, buildings=40),
    "jinshui": ScaleShape(streets=9, communities=107, buildings=7679),
}

STREET_NAMES = (
    "经八路街道",
    "花园路街道",
    "人民路街道",
    "杜岭街道",
    "大石桥街道",
    "南阳路街道",
    "南阳新村街道",
    "文化路街道",
    "丰产路街道",
)

_COMMUNITY_STEMS = (
    "黄河路", "纬五路", "经三路", "经七路", "政七街", "红专路", "农业路", "东风路", "金水路",
    "文化路", "花园路", "丰产路", "南阳路", "国基路", "柳林", "园田", "北林路", "龙湖",
    "杜岭", "顺河", "燕庄", "凤凰台", "杨君刘", "宋寨", "博颂路", "姚砦", "丰庆路", "纬三路",
    "省委", "健康路", "索凌路", "瑞达路", "东明路", "沙口路", "信息学院路", "鑫苑路",
)  # fmt: skip
_COMMUNITY_SUFFIXES = ("", "东", "西", "南", "北", "第一", "第二", "第三")
_COMPOUND_STEMS = (
    "金水", "丰华", "锦绣", "阳光", "幸福", "和谐", "绿城", "建业", "正弘", "永威", "鑫苑",
    "康桥", "名门", "亚星", "银基", "升龙", "美景", "东方", "紫荆", "翠竹", "枫华", "华林",
    "省直", "电力", "纺织", "邮电", "铁路", "黄委会", "文博", "书香", "金色", "盛世",
)  # fmt: skip
_COMPOUND_SUFFIXES = ("小区", "花园", "家园", "苑", "新村", "家属院", "公寓", "华庭")
_VILLAGE_STEMS = (
    "燕", "杨", "宋", "刘", "王", "陈", "李", "张", "孙", "赵", "姚", "马", "胡", "郭",
    "祭城", "大孟", "庙李", "任", "徐", "黄", "岗",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class GridNode:
    """One grid row: code, name, level, parent and materialised path."""

    code: str
    name: str
    level: GridLevel
    parent_code: str | None
    path: str

    def row(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "parent_code": self.parent_code,
            "path": self.path,
        }


@dataclass(frozen=True, slots=True)
class BuildingSite:
    """What the population generator needs to know about one building grid."""

    code: str
    path: str
    street: str
    community: str
    compound: str  # 小区 name, or the natural village (自然村) name
    building_number: int | None  # 号楼; None for a natural village

    @property
    def is_village(self) -> bool:
        return self.building_number is None


@dataclass(frozen=True, slots=True)
class District:
    """The whole tree (parents before children), boards and the building sites."""

    grids: tuple[GridNode, ...]
    members: tuple[dict[str, object], ...]
    buildings: tuple[BuildingSite, ...]

    def level(self, level: GridLevel) -> tuple[GridNode, ...]:
        return tuple(grid for grid in self.grids if grid.level is level)


def split_evenly(
    total: int, parts: int, rng: random.Random, spread: float, *, minimum: int = 1
) -> list[int]:
    """Split `total` into `parts` integers ≥ `minimum`, uneven by ±`spread`, summing exactly."""
    if parts <= 0 or total < parts * minimum:
        raise ValueError(f"cannot split {total} into {parts} parts of at least {minimum}")
    weights = [rng.uniform(1 - spread, 1 + spread) for _ in range(parts)]
    scale = (total - parts * minimum) / sum(weights)
    shares = [minimum + int(weight * scale) for weight in weights]
    order = sorted(range(parts), key=lambda i: weights[i] * scale % 1, reverse=True)
    for i in order[: max(0, total - sum(shares))]:
        shares[i] += 1
    if sum(shares) != total:  # pragma: no cover - float rounding beyond one unit per part
        raise ArithmeticError(f"split of {total} into {parts} parts went astray")
    return shares


def _child(parent: GridNode, index: int, name: str, level: GridLevel) -> GridNode:
    code = f"{parent.code}{index:03d}"
    return GridNode(code, name, level, parent.code, f"{parent.path}{code}/")


def _community_names(count: int, rng: random.Random) -> list[str]:
    pool = [
        f"{stem}{suffix}社区" for suffix, stem in product(_COMMUNITY_SUFFIXES, _COMMUNITY_STEMS)
    ]
    head, tail = pool[: len(_COMMUNITY_STEMS)], pool[len(_COMMUNITY_STEMS) :]
    rng.shuffle(head)
    rng.shuffle(tail)
    return (head + tail)[:count]


class _NamePool:
    """Unique compound and village names drawn deterministically."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def _draw(self, stems: tuple[str, ...], suffixes: tuple[str, ...]) -> str:
        for attempt in range(1000):
            name = f"{self._rng.choice(stems)}{self._rng.choice(suffixes)}"
            name = name if attempt < 50 else f"{name}{attempt // 50 + 1}期"
            if name not in self._used:
                self._used.add(name)
                return name
        raise RuntimeError("name pool exhausted")

    def compound(self) -> str:
        return self._draw(_COMPOUND_STEMS, _COMPOUND_SUFFIXES)

    def village(self) -> str:
        return self._draw(_VILLAGE_STEMS, ("庄", "寨", "砦", "营"))


class _Builder:
    """Walks the tree once, collecting grids, boards and building sites."""

    def __init__(self, shape: ScaleShape, seed: int) -> None:
        self.shape = shape
        self.rng = random.Random(f"district:{seed}")
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.names = _NamePool(self.rng)
        self.grids: list[GridNode] = []
        self.members: list[dict[str, object]] = []
        self.buildings: list[BuildingSite] = []

    def build(self) -> District:
        root = GridNode(DISTRICT_CODE, DISTRICT_NAME, GridLevel.DISTRICT, None, f"{DISTRICT_CODE}/")
        self._add(root)
        streets = [
            _child(root, i + 1, STREET_NAMES[i], GridLevel.STREET)
            for i in range(self.shape.streets)
        ]
        for street in streets:
            self._add(street)
        self._add_communities(streets)
        self.grids.sort(key=lambda grid: (len(grid.code), grid.code))
        return District(tuple(self.grids), tuple(self.members), tuple(self.buildings))

    def _add(self, grid: GridNode) -> None:
        self.grids.append(grid)
        self.members.extend(responsibility_board(grid, self.rng, self.fake))

    def _add_communities(self, streets: list[GridNode]) -> None:
        per_street = split_evenly(self.shape.communities, len(streets), self.rng, 0.35)
        names = iter(_community_names(self.shape.communities, self.rng))
        per_community = iter(
            split_evenly(self.shape.buildings, self.shape.communities, self.rng, 0.45)
        )
        for street, count in zip(streets, per_street, strict=True):
            for i in range(count):
                community = _child(street, i + 1, next(names), GridLevel.COMMUNITY)
                self._add(community)
                self._add_buildings(street, community, next(per_community))

    def _add_buildings(self, street: GridNode, community: GridNode, count: int) -> None:
        villages = count // 3 if self.rng.random() < 0.08 else 0
        index = 0
        while index < count - villages:
            size = min(self.rng.randint(3, 18), count - villages - index)
            compound = self.names.compound()
            for number in range(1, size + 1):
                index += 1
                self._add_building(street, community, index, compound, number)
        for _ in range(villages):
            index += 1
            self._add_building(street, community, index, self.names.village(), None)

    def _add_building(
        self, street: GridNode, community: GridNode, index: int, compound: str, number: int | None
    ) -> None:
        label = f"{compound}自然村" if number is None else f"{compound}{number}号楼"
        grid = _child(community, index, f"{label}网格", GridLevel.BUILDING)
        self._add(grid)
        self.buildings.append(
            BuildingSite(grid.code, grid.path, street.name, community.name, compound, number)
        )


_OTHER_POSTS = tuple(post for post in GridPost if post is not GridPost.GRID_CHIEF)
_BUILDING_KINDS = (
    MemberKind.VOLUNTEER,
    MemberKind.RETIREE,
    MemberKind.COMMUNITY_WORKER,
    MemberKind.DEPUTY,
)
_BUILDING_KIND_WEIGHTS = (45, 30, 20, 5)


def responsibility_board(
    grid: GridNode, rng: random.Random, fake: Faker
) -> list[dict[str, object]]:
    """The board rows of one grid: every post above building level, a chief plus 1–3 below."""
    if grid.level is GridLevel.BUILDING:
        posts = [GridPost.GRID_CHIEF, *sorted(rng.sample(_OTHER_POSTS, rng.randint(1, 3)))]
    else:
        posts = list(GridPost)
    return [_member(grid, post, rng, fake) for post in posts]


def _member_kind(grid: GridNode, post: GridPost, rng: random.Random) -> MemberKind:
    if grid.level is not GridLevel.BUILDING:
        return MemberKind.CADRE if post is GridPost.GRID_CHIEF else MemberKind.COMMUNITY_WORKER
    if post is GridPost.GRID_CHIEF:
        return MemberKind.COMMUNITY_WORKER
    return rng.choices(_BUILDING_KINDS, _BUILDING_KIND_WEIGHTS)[0]


def _member(grid: GridNode, post: GridPost, rng: random.Random, fake: Faker) -> dict[str, object]:
    return {
        "grid_code": grid.code,
        "name": str(fake.name()),
        "post": post,
        "kind": _member_kind(grid, post, rng),
        "phone": str(fake.phone_number()),
    }


def build_district(scale: Scale = "small", *, seed: int = 0) -> District:
    """Build the grid tree for `scale`; deterministic in (scale, seed)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
    return _Builder(SCALES[scale], seed).build()

"""The one-stop service counter (一站式服务窗口): a resident's card by ID number, and its print view.

The clerk types an ID number and picks a purpose from the list (it is sent as
X-Request-Purpose and audited); the card shows everything the clerk's scopes allow, a field
the role may not see as "not permitted", the ID number masked unless the role holds
resident:pii, and where each department's records came from and how fresh they are.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from hub.clock import CHINA_TIME
from hub.consoles.graphql import ConsoleGraphQL
from hub.consoles.templating import render

# (Chinese, English): the purposes a counter clerk may give; the Chinese text is audited.
PURPOSES: tuple[tuple[str, str], ...] = (
    ("办理社会救助", "Social assistance application"),
    ("医保社保业务", "Medical and social insurance"),
    ("户籍与居住证业务", "Household registration, residence permit"),
    ("入学登记", "School enrollment"),
    ("家庭医生签约", "Family doctor contract"),
    ("老年人优待证办理", "Senior citizen card"),
    ("残疾人服务", "Disability services"),
    ("其他便民服务", "Other citizen service"),
)

CARD = """
query CounterCard($idNumber: String!) {
  resident(idNumber: $idNumber) {
    id name gender age maskedIdNumber idNumber birthDate phone address tags
    grid { code name path } household { number address }
    sources { department source recordType records lastUpdatedAt lastIngestedAt }
    health {
      familyDoctor { doctorName team institution validUntil status }
      vaccinations { vaccine doseNumber administeredOn institution }
      chronicConditions { condition status lastFollowUpOn }
    }
    socialSecurity {
      insuranceEnrollments { insuranceType scheme status enrolledOn }
      assistanceGrants { assistanceType monthlyAmount status startOn }
    }
    education { enrollments { school stage grade status } }
    police {
      householdRegistration { householdNumber relationToHead registeredAddress policeStation status }
      residencePermit { permitNumber validUntil status }
      flags { flagType active }
    }
  }
}
"""


class Counter:
    def __init__(self, graphql: ConsoleGraphQL) -> None:
        self.graphql = graphql

    async def page(self, request: Request) -> Response:
        return render(request, "counter.html", {"purposes": PURPOSES, "form": {}})

    async def lookup(self, request: Request) -> Response:
        form: dict[str, str] = request.state.form
        values = {"purposes": PURPOSES, "form": form}
        id_number = form.get("id_number", "").strip().upper()
        purpose = form.get("purpose", "").strip()
        if purpose not in {zh for zh, _ in PURPOSES}:
            return render(
                request, "counter.html", {**values, "error": "purpose.required"}, status=422
            )
        result = await self.graphql.execute(
            request, request.state.console, CARD, {"idNumber": id_number}, purpose=purpose
        )
        resident = (result.data or {}).get("resident")
        if resident is None:
            error = "bad_id" if "BAD_USER_INPUT" in result.codes() else "not_found"
            return render(request, "counter.html", {**values, "error": error}, status=404)
        card = {"resident": resident, "denied": result.denied(), "purpose": purpose}
        if form.get("view") == "print":
            return render(request, "counter_print.html", {**card, "printed_at": _now()})
        return render(request, "counter.html", {**values, **card})


def _now() -> str:
    return datetime.now(CHINA_TIME).strftime("%Y-%m-%d %H:%M")

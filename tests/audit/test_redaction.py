"""Redaction: every spelling of an ID or mobile number becomes the same keyed hash."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from hub.audit.records import AuditRecord, Outcome
from hub.audit.redaction import Redactor
from hub.identity import make_id_number

REDACTOR = Redactor(b"test key")
NUMBER = make_id_number(region="410105", birth_date=date(1960, 3, 4), sequence=21)
LEGACY = NUMBER[:6] + NUMBER[8:17]
MOBILE = "13912345678"
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.mark.parametrize(
    ("text", "number"),
    [
        pytest.param(f"查询{NUMBER}的记录", NUMBER, id="id-in-chinese-text"),
        pytest.param(f"id {NUMBER[:6]} {NUMBER[6:14]} {NUMBER[14:]} end", NUMBER, id="id-spaced"),
        pytest.param(f"号码：{NUMBER.translate(FULL_WIDTH)}。", NUMBER, id="id-full-width"),
        pytest.param(f"旧证 {LEGACY}", NUMBER, id="id-legacy-15"),
        pytest.param(f"x{NUMBER.lower()}y", NUMBER, id="id-lower-x-between-letters"),
        pytest.param(f"ID{NUMBER}", NUMBER, id="id-after-letters"),
        pytest.param(f"case-{NUMBER}-abc", NUMBER, id="id-inside-an-identifier"),
        pytest.param(f"电话{MOBILE}", MOBILE, id="mobile"),
        pytest.param("电话 139-1234-5678", MOBILE, id="mobile-dashed"),
        pytest.param("+86 139 1234 5678 请回电", MOBILE, id="mobile-international"),
        pytest.param(f"tel:{MOBILE.translate(FULL_WIDTH)}", MOBILE, id="mobile-full-width"),
    ],
)
def test_numbers_inside_text_become_the_hash_of_the_number(text: str, number: str) -> None:
    redacted = REDACTOR.text(text)

    assert REDACTOR.number_token(number) in redacted
    assert not any(
        character.isdigit() for character in redacted.replace(REDACTOR.number_token(number), "")
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("第3次随访，共12户", id="small-numbers"),
        pytest.param("订单号 12345678901234567890", id="too-long-to-be-either"),
        pytest.param("1380000123", id="ten-digits"),
        pytest.param("hmac-sha256:0123456789abcdef0123456789abcdef", id="already-a-hash"),
        pytest.param("load-b1391234567812a4c5d6e7f8a9b0c1d2", id="uuid-hex-with-a-digit-run"),
        pytest.param("a1391234-5678-4abc-8def-139123456780", id="uuid-with-digit-runs"),
        pytest.param(
            "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", id="sha256"
        ),
    ],
)
def test_other_text_is_left_as_it_is(text: str) -> None:
    assert REDACTOR.text(text) == text


def test_variables_are_redacted_at_any_depth_as_strings_numbers_and_keys() -> None:
    variables = {
        "idNumber": NUMBER.translate(FULL_WIDTH),
        "n": int(MOBILE),  # a JSON number is as personal as a string
        "filter": {"note": [f"家属电话 {MOBILE}"], MOBILE: True},
        "phone": "unknown",
    }

    redacted = REDACTOR.variables(variables)

    assert redacted["idNumber"] == REDACTOR.number_token(NUMBER)
    assert redacted["n"] == REDACTOR.number_token(MOBILE)
    assert redacted["filter"]["note"] == [f"家属电话 {REDACTOR.number_token(MOBILE)}"]
    assert REDACTOR.number_token(MOBILE) in redacted["filter"]
    assert redacted["phone"].startswith("hmac-sha256:")  # named as personal: hashed whatever it is
    assert MOBILE not in repr(redacted)
    assert NUMBER[:14] not in repr(redacted)


def test_a_record_keeps_no_number_in_its_headers_and_fits_its_columns() -> None:
    purpose = f"核查 {NUMBER} " * 12  # numbers make the text longer once hashed
    record = AuditRecord(
        at=datetime.now(UTC),
        request_id=MOBILE,
        endpoint="graphql",
        outcome=Outcome.DENIED,
        duration_us=0,
        purpose=purpose[:256],
        end_user=f"民警 {MOBILE}",
        case_ref=LEGACY,
        subject=NUMBER,
    )

    redacted = REDACTOR.record(record)

    assert redacted.request_id == REDACTOR.number_token(MOBILE)
    assert redacted.subject == REDACTOR.number_token(NUMBER)
    assert redacted.case_ref == REDACTOR.number_token(NUMBER)
    assert redacted.purpose is not None
    assert len(redacted.purpose) == 256
    assert NUMBER not in redacted.purpose
    assert MOBILE not in str(redacted)


def test_texts_are_redacted_alike_however_often_they_come_and_only_clean_ones_are_kept() -> None:
    redactor = Redactor(b"test key")
    number = make_id_number(region="410105", birth_date=date(1980, 1, 2), sequence=7)
    clean, personal = "resident lookup by the service desk", f"case about {number}"
    answers = [(redactor.text(clean), redactor.text(personal)) for _ in range(3)]
    assert answers == [(clean, REDACTOR.text(personal))] * 3
    assert number not in answers[0][1]
    assert clean in redactor._clean
    assert not any(number in text for text in redactor._clean)

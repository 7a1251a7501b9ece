"""Tests for hub.identity: rejection reasons, normalisation rules and GB 11643 properties."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.identity import (
    IdNumberError,
    IdNumberReason,
    birth_date_of,
    check_digit,
    gender_of,
    make_id_number,
    mask_id_number,
    normalize_id_number,
    upgrade_legacy_id_number,
    validate_id_number,
)
from hub.vocabulary import Gender

if TYPE_CHECKING:
    from collections.abc import Callable

TODAY = date(2025, 1, 1)
EXAMPLE = "11010519491231002X"  # the worked example of GB 11643-1999; female, born 1949-12-31
EXAMPLE_LEGACY = "110105491231002"
PROVINCES = [
    *range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47),
    *range(50, 55), *range(61, 66), 71, 81, 82,
]  # fmt: skip
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]  # as printed in the standard

# No example database: the suite must not write outside the files it owns.
properties = settings(database=None, max_examples=200, deadline=None)


def with_check_digit(first17: str) -> str:
    """Complete a 17-digit stem so that only the defect under test can cause a rejection."""
    return first17 + check_digit(first17)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) - ord("0") + 0xFF10) if c.isdigit() else "Ｘ" for c in text)


regions = st.builds(
    lambda province, rest: f"{province}{rest:04d}",
    st.sampled_from(PROVINCES),
    st.integers(min_value=0, max_value=9999),
)
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)
valid_numbers = st.builds(
    lambda region, born, sequence: make_id_number(
        region=region, birth_date=born, sequence=sequence
    ),
    regions,
    birth_dates,
    sequences,
)


# --- check digit -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        pytest.param("11010519491231002", "X", id="gb11643_example_check_x"),
        pytest.param("44052418800101001", "4", id="gb11643_1880_example_check_4"),
        pytest.param("11010519491231001", "1", id="male_neighbour_of_example"),
    ],
)
def test_check_digit_matches_published_examples(first17: str, expected: str) -> None:
    assert check_digit(first17) == expected


@pytest.mark.parametrize(
    ("first17", "reason"),
    [
        pytest.param("1101051949123100", IdNumberReason.BAD_LENGTH, id="sixteen_digits"),
        pytest.param("110105194912310021", IdNumberReason.BAD_LENGTH, id="eighteen_digits"),
        pytest.param("1101051949123100X", IdNumberReason.BAD_CHARACTER, id="letter"),
    ],
)
def test_check_digit_rejects_anything_but_17_digits(first17: str, reason: IdNumberReason) -> None:
    with pytest.raises(IdNumberError) as caught:
        check_digit(first17)
    assert caught.value.reason is reason


@properties
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_digit_makes_the_iso7064_weighted_sum_one_mod_11(first17: str) -> None:
    check = check_digit(first17)
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    total += 10 if check == "X" else int(check)
    assert total % 11 == 1


# --- rejection reasons -------------------------------------------------------------------


REJECTIONS = [
    pytest.param("", IdNumberReason.EMPTY, id="empty"),
    pytest.param("1101051949123100", IdNumberReason.BAD_LENGTH, id="sixteen_characters"),
    pytest.param(EXAMPLE + "1", IdNumberReason.BAD_LENGTH, id="nineteen_characters"),
    pytest.param("11010519491231002Y", IdNumberReason.BAD_CHARACTER, id="final_letter_not_x"),
    pytest.param("1101051949123100X2", IdNumberReason.BAD_CHARACTER, id="x_not_in_final_place"),
    pytest.param("11010A19491231002X", IdNumberReason.BAD_CHARACTER, id="letter_in_region"),
    pytest.param("110105194912310-2X", IdNumberReason.BAD_CHARACTER, id="hyphen"),
    pytest.param("11010519491231002\u0663", IdNumberReason.BAD_CHARACTER, id="arabic_indic_digit"),
    pytest.param(
        with_check_digit("00010519491231002"), IdNumberReason.BAD_REGION, id="province_00"
    ),
    pytest.param(
        with_check_digit("16010519491231002"), IdNumberReason.BAD_REGION, id="province_16"
    ),
    pytest.param(
        with_check_digit("72010519491231002"), IdNumberReason.BAD_REGION, id="province_72"
    ),
    pytest.param(
        with_check_digit("99010519491231002"), IdNumberReason.BAD_REGION, id="province_99"
    ),
    pytest.param(with_check_digit("11010519490230002"), IdNumberReason.BAD_BIRTH_DATE, id="feb_30"),
    pytest.param(
        with_check_digit("11010519491331002"), IdNumberReason.BAD_BIRTH_DATE, id="month_13"
    ),
    pytest.param(with_check_digit("11010519491200002"), IdNumberReason.BAD_BIRTH_DATE, id="day_00"),
    pytest.param(
        with_check_digit("11010519000229002"), IdNumberReason.BAD_BIRTH_DATE, id="1900_not_leap"
    ),
    pytest.param(
        with_check_digit("11010518991231002"), IdNumberReason.BAD_BIRTH_DATE, id="before_1900"
    ),
    pytest.param("440524188001010014", IdNumberReason.BAD_BIRTH_DATE, id="gb11643_1880_example"),
    pytest.param(
        with_check_digit("11010520250102002"),
        IdNumberReason.FUTURE_BIRTH_DATE,
        id="day_after_today",
    ),
    pytest.param(
        with_check_digit("11010521000101002"), IdNumberReason.FUTURE_BIRTH_DATE, id="year_2100"
    ),
    pytest.param("110105194912310021", IdNumberReason.BAD_CHECK_DIGIT, id="wrong_check_digit"),
    pytest.param("110105194912310020", IdNumberReason.BAD_CHECK_DIGIT, id="x_written_as_0"),
]


@pytest.mark.parametrize(("number", "reason"), REJECTIONS)
def test_validate_rejects_with_a_stable_reason(number: str, reason: IdNumberReason) -> None:
    with pytest.raises(IdNumberError) as caught:
        validate_id_number(number, today=TODAY)
    assert caught.value.reason is reason


@pytest.mark.parametrize(("number", "reason"), REJECTIONS)
def test_normalize_rejects_with_the_same_reason(number: str, reason: IdNumberReason) -> None:
    with pytest.raises(IdNumberError) as caught:
        normalize_id_number(number, today=TODAY)
    assert caught.value.reason is reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("   ", IdNumberReason.EMPTY, id="only_spaces"),
        pytest.param("\u3000\t\n", IdNumberReason.EMPTY, id="only_full_width_space_and_controls"),
        pytest.param("11010549123100", IdNumberReason.BAD_LENGTH, id="fourteen_digits"),
        pytest.param("11010549123100X", IdNumberReason.BAD_CHARACTER, id="legacy_with_x"),
        pytest.param("11010549123100a", IdNumberReason.BAD_CHARACTER, id="legacy_with_letter"),
        pytest.param("990105491231002", IdNumberReason.BAD_REGION, id="legacy_province_99"),
        pytest.param("110105491331002", IdNumberReason.BAD_BIRTH_DATE, id="legacy_month_13"),
        pytest.param("110105000229002", IdNumberReason.BAD_BIRTH_DATE, id="legacy_1900_not_leap"),
    ],
)
def test_normalize_rejects_messy_input_with_a_stable_reason(
    raw: str, reason: IdNumberReason
) -> None:
    with pytest.raises(IdNumberError) as caught:
        normalize_id_number(raw, today=TODAY)
    assert caught.value.reason is reason


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        pytest.param(EXAMPLE_LEGACY, IdNumberReason.BAD_LENGTH, id="legacy_15_digits"),
        pytest.param(EXAMPLE.lower(), IdNumberReason.BAD_CHARACTER, id="lower_case_x"),
        pytest.param(full_width(EXAMPLE), IdNumberReason.BAD_CHARACTER, id="full_width"),
        pytest.param(f" {EXAMPLE}", IdNumberReason.BAD_LENGTH, id="leading_space"),
    ],
)
def test_validate_is_strict_about_non_canonical_forms(number: str, reason: IdNumberReason) -> None:
    with pytest.raises(IdNumberError) as caught:
        validate_id_number(number)
    assert caught.value.reason is reason


def test_error_message_names_the_reason_and_what_is_wrong() -> None:
    with pytest.raises(IdNumberError, match=r"^BAD_CHECK_DIGIT: check digit is 1, expected X$"):
        validate_id_number("110105194912310021")


def test_error_message_does_not_repeat_the_whole_number() -> None:
    with pytest.raises(IdNumberError) as caught:
        validate_id_number("110105194912310021")
    assert "110105194912310021" not in str(caught.value)


def test_error_message_points_at_the_bad_character() -> None:
    with pytest.raises(IdNumberError, match=r"'A' at position 6"):
        validate_id_number("11010A19491231002X")


def test_id_number_error_is_a_value_error_that_survives_pickling() -> None:
    error = IdNumberError(IdNumberReason.BAD_REGION, "province code 99 is not a province")
    restored = pickle.loads(pickle.dumps(error))
    assert isinstance(restored, IdNumberError)
    assert isinstance(restored, ValueError)
    assert restored.reason is IdNumberReason.BAD_REGION
    assert str(restored) == str(error)


def test_reason_codes_are_stable_strings() -> None:
    assert {reason.value for reason in IdNumberReason} == {
        "EMPTY",
        "BAD_LENGTH",
        "BAD_CHARACTER",
        "BAD_REGION",
        "BAD_BIRTH_DATE",
        "FUTURE_BIRTH_DATE",
        "BAD_CHECK_DIGIT",
    }


# --- accepted edges ----------------------------------------------------------------------


@pytest.mark.parametrize("province", PROVINCES, ids=lambda p: f"province_{p}")
def test_every_province_level_code_is_accepted(province: int) -> None:
    validate_id_number(with_check_digit(f"{province}010519491231002"))


@pytest.mark.parametrize(
    "born",
    [
        pytest.param("19000101", id="earliest_date"),
        pytest.param("20000229", id="leap_day_2000"),
        pytest.param("20250101", id="born_today"),
    ],
)
def test_boundary_birth_dates_are_accepted(born: str) -> None:
    validate_id_number(with_check_digit(f"110105{born}002"), today=TODAY)


def test_default_today_rejects_a_birth_date_beyond_the_current_date_in_china() -> None:
    day_after_tomorrow = (datetime.now(UTC) + timedelta(days=2)).date()
    number = with_check_digit(f"110105{day_after_tomorrow:%Y%m%d}002")
    with pytest.raises(IdNumberError) as caught:
        validate_id_number(number)
    assert caught.value.reason is IdNumberReason.FUTURE_BIRTH_DATE


# --- normalisation rules -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(EXAMPLE, EXAMPLE, id="already_canonical"),
        pytest.param(f"  {EXAMPLE}\n", EXAMPLE, id="surrounding_whitespace"),
        pytest.param("110105 19491231 002X", EXAMPLE, id="inner_spaces"),
        pytest.param("110105\t19491231\u00a0002X", EXAMPLE, id="tab_and_no_break_space"),
        pytest.param("\u3000110105\u300019491231002X\u3000", EXAMPLE, id="full_width_space"),
        pytest.param("１１０１０５１９４９１２３１００２Ｘ", EXAMPLE, id="full_width_digits_and_x"),
        pytest.param("１１０１０５１９４９１２３１００２ｘ", EXAMPLE, id="full_width_lower_x"),
        pytest.param("11010519491231002x", EXAMPLE, id="lower_case_x"),
        pytest.param(EXAMPLE_LEGACY, EXAMPLE, id="legacy_15_digits"),
        pytest.param("110105 491231 002", EXAMPLE, id="legacy_with_spaces"),
        pytest.param("１１０１０５４９１２３１００２", EXAMPLE, id="legacy_full_width"),
    ],
)
def test_normalize_returns_the_canonical_form(raw: str, expected: str) -> None:
    assert normalize_id_number(raw) == expected


def test_lowercase_x_check_digit_is_normalised_to_uppercase() -> None:
    assert normalize_id_number("11010519491231002x").endswith("X")


def test_legacy_number_gains_the_19_century_prefix_and_a_check_digit() -> None:
    assert upgrade_legacy_id_number(EXAMPLE_LEGACY) == EXAMPLE


@pytest.mark.parametrize(
    ("number15", "reason"),
    [
        pytest.param(EXAMPLE, IdNumberReason.BAD_LENGTH, id="already_18"),
        pytest.param(
            "１１０１０５４９１２３１００２", IdNumberReason.BAD_CHARACTER, id="full_width"
        ),
        pytest.param("110105491232002", IdNumberReason.BAD_BIRTH_DATE, id="dec_32"),
    ],
)
def test_upgrade_rejects_what_is_not_a_valid_legacy_number(
    number15: str, reason: IdNumberReason
) -> None:
    with pytest.raises(IdNumberError) as caught:
        upgrade_legacy_id_number(number15)
    assert caught.value.reason is reason


# --- reading, masking, building ----------------------------------------------------------


def test_birth_date_and_gender_of_the_published_example() -> None:
    assert birth_date_of(EXAMPLE) == date(1949, 12, 31)
    assert gender_of(EXAMPLE) is Gender.FEMALE
    assert gender_of(with_check_digit("11010519491231001")) is Gender.MALE


@pytest.mark.parametrize("read", [birth_date_of, gender_of], ids=["birth_date_of", "gender_of"])
def test_readers_refuse_invalid_numbers(read: Callable[[str], object]) -> None:
    with pytest.raises(IdNumberError):
        read("110105194912310021")


def test_mask_keeps_region_and_last_four() -> None:
    assert mask_id_number("41010519800101123X") == "410105********123X"


@pytest.mark.parametrize(
    "number",
    [pytest.param("", id="empty"), pytest.param(EXAMPLE_LEGACY, id="legacy_15_digits")],
)
def test_mask_refuses_anything_but_18_characters(number: str) -> None:
    with pytest.raises(IdNumberError) as caught:
        mask_id_number(number)
    assert caught.value.reason is IdNumberReason.BAD_LENGTH


def test_make_id_number_rebuilds_the_published_example() -> None:
    assert make_id_number(region="110105", birth_date=date(1949, 12, 31), sequence=2) == EXAMPLE


@pytest.mark.parametrize(
    ("region", "born", "sequence"),
    [
        pytest.param("1101", date(1949, 12, 31), 2, id="short_region"),
        pytest.param("11010a", date(1949, 12, 31), 2, id="letter_in_region"),
        pytest.param("990105", date(1949, 12, 31), 2, id="unknown_province"),
        pytest.param("110105", date(1899, 12, 31), 2, id="born_before_1900"),
        pytest.param("110105", date(9999, 12, 31), 2, id="born_in_the_future"),
        pytest.param("110105", date(1949, 12, 31), -1, id="negative_sequence"),
        pytest.param("110105", date(1949, 12, 31), 1000, id="four_digit_sequence"),
    ],
)
def test_make_id_number_rejects_bad_input(region: str, born: date, sequence: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the documented contract is ValueError
        make_id_number(region=region, birth_date=born, sequence=sequence)


# --- properties --------------------------------------------------------------------------


@properties
@given(valid_numbers)
def test_make_id_number_always_validates(number: str) -> None:
    validate_id_number(number, today=TODAY)


@properties
@given(regions, birth_dates, sequences)
def test_readers_round_trip_make_id_number(region: str, born: date, sequence: int) -> None:
    number = make_id_number(region=region, birth_date=born, sequence=sequence)
    assert number[:6] == region
    assert birth_date_of(number) == born
    assert gender_of(number) is (Gender.MALE if sequence % 2 else Gender.FEMALE)


@properties
@given(valid_numbers, st.data())
def test_changing_any_single_character_makes_a_number_invalid(
    number: str, data: st.DataObject
) -> None:
    position = data.draw(st.integers(min_value=0, max_value=17), label="position")
    replacements = [c for c in "0123456789X" if c != number[position]]
    replacement = data.draw(st.sampled_from(replacements), label="replacement")
    altered = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(IdNumberError):
        validate_id_number(altered, today=TODAY)


@properties
@given(valid_numbers)
def test_normalize_is_idempotent_on_valid_numbers(number: str) -> None:
    once = normalize_id_number(number, today=TODAY)
    assert once == number
    assert normalize_id_number(once, today=TODAY) == once


@properties
@given(st.text(alphabet="0123456789Xx ０１２３４５６７８９Ｘｘ\u3000", max_size=24))
def test_normalize_is_idempotent_on_whatever_it_accepts(raw: str) -> None:
    try:
        once = normalize_id_number(raw, today=TODAY)
    except IdNumberError:
        return
    assert normalize_id_number(once, today=TODAY) == once


@properties
@given(valid_numbers)
def test_full_width_rendering_normalises_back(number: str) -> None:
    assert normalize_id_number(full_width(number), today=TODAY) == number


@properties
@given(valid_numbers, st.lists(st.sampled_from([" ", "\t", "\u3000", "\n"]), max_size=5), st.data())
def test_whitespace_anywhere_is_ignored(
    number: str, spaces: list[str], data: st.DataObject
) -> None:
    messy = number
    for space in spaces:
        at = data.draw(st.integers(min_value=0, max_value=len(messy)), label="at")
        messy = messy[:at] + space + messy[at:]
    assert normalize_id_number(messy.lower(), today=TODAY) == number


@properties
@given(regions, st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)), sequences)
def test_legacy_form_upgrades_back_to_the_full_number(
    region: str, born: date, sequence: int
) -> None:
    number = make_id_number(region=region, birth_date=born, sequence=sequence)
    legacy = number[:6] + number[8:17]
    assert upgrade_legacy_id_number(legacy) == number


@properties
@given(valid_numbers)
def test_mask_hides_exactly_the_birth_date_and_sequence(number: str) -> None:
    masked = mask_id_number(number)
    assert masked == number[:6] + "********" + number[14:]
    assert birth_date_of(number).strftime("%Y%m%d") not in masked

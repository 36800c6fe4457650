"""CSV/TSV parsing and columnar row validation, without HTTP."""

from __future__ import annotations

import numpy as np
import pytest
from people_data import example_people_tsv, real_data_tsv  # tests/people_data.py

from nnservice.example_data import generate_people
from service.dataset_parsing import TableError, parse_table
from service.measurements import (
    MAX_REPORTED_ROWS,
    RowValidationError,
    check_both_classes,
    validate_json_rows,
)


def test_example_people_parse_as_they_are() -> None:
    columns = parse_table(example_people_tsv(), "text/tab-separated-values")
    assert len(columns) == 10_000
    assert int(columns.label.sum()) == 5_000  # Female rows
    gender, height, weight = next(generate_people())
    assert columns.label[0] == (1.0 if gender == "Female" else 0.0)
    assert columns.weight[0] == pytest.approx(weight, abs=1e-4)
    assert columns.height[0] == pytest.approx(height, abs=1e-4)


def test_real_tsv_parses_as_it_is() -> None:
    columns = parse_table(real_data_tsv(), "text/tab-separated-values")
    assert len(columns) == 10_000
    assert int(columns.label.sum()) == 5_000  # Female rows
    # The first data row is "Male 73.847017017515 241.893563180437" (Gender, Height, Weight).
    assert columns.label[0] == 0.0
    assert columns.weight[0] == pytest.approx(241.893563180437)
    assert columns.height[0] == pytest.approx(73.847017017515)


def test_columns_in_any_case_and_order_and_genders_in_any_spelling() -> None:
    data = b"HEIGHT,Gender,weight\n65,f,133\n72,MALE,160\n70,m,152\n60,Female,120\n"
    columns = parse_table(data, "text/csv")
    np.testing.assert_array_equal(columns.weight, [133, 160, 152, 120])
    np.testing.assert_array_equal(columns.height, [65, 72, 70, 60])
    np.testing.assert_array_equal(columns.label, [1, 0, 0, 1])


def test_metric_upload_is_converted_to_pounds_and_inches() -> None:
    columns = parse_table(b"weight,height,gender\n60,165.1,F\n", "text/csv", units="metric")
    assert columns.weight[0] == pytest.approx(60 / 0.45359237)
    assert columns.height[0] == pytest.approx(65.0)


def test_byte_order_mark_and_blank_lines_are_tolerated() -> None:
    data = "\ufeffweight,height,gender\r\n133,65,F\r\n\r\n160,72,M\r\n".encode()
    assert len(parse_table(data, "text/csv")) == 2


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"weight,height,gender\n133,65,F\n\xff\xfe,72,M\n", {"line 3": ["Not valid UTF-8"]}),
        (b"weight,height,gender\n133,65,F\n160,72\n", {"line 3": ["Expected 3 fields"]}),
        (b"weight,height,gender\n133,65,F,x\n", {"line 2": ["Expected 3 fields"]}),
        (b"weight,height,sex\n133,65,F\n", {"line 1": ["Unknown column 'sex'"]}),
        (b"", {"line 1": ["Missing header row"]}),
    ],
)
def test_unreadable_files_name_the_line(data: bytes, expected: dict) -> None:
    with pytest.raises(TableError) as caught:
        parse_table(data, "text/csv")
    ((line, messages),) = expected.items()
    assert list(caught.value.errors) == [line]
    assert caught.value.errors[line][0].startswith(messages[0])


def test_bad_cells_name_line_and_column() -> None:
    data = b"weight,height,gender\n133,65,F\nabc,72,M\n0,70,X\n120,nan,F\n"
    with pytest.raises(TableError) as caught:
        parse_table(data, "text/csv")
    errors = caught.value.errors
    assert errors["line 3"]["weight"][0].startswith("Not a valid number")
    assert errors["line 4"]["weight"] == ["Must be between 1 and 1500 lb."]
    assert errors["line 4"]["gender"][0].startswith("Must be one of F, M")
    assert "nan" in errors["line 5"]["height"][0].lower()


def test_json_rows_report_every_kind_of_problem_by_row_and_field() -> None:
    rows = [
        {"weight": 150, "height": 65},
        {"weight": True, "height": 65},
        {"weight": "150", "height": 65},
        {"weight": float("nan"), "height": float("inf")},
        {"height": 65},
        {"weight": 150, "height": 65, "age": 30},
        [150, 65],
        {"weight": -5, "height": 0},
        {"weight": 10**400, "height": 65},
    ]
    with pytest.raises(RowValidationError) as caught:
        validate_json_rows(rows, units="imperial", with_gender=False)
    errors = caught.value.errors
    assert "0" not in errors
    assert errors["1"] == {"weight": ["Not a valid number."]}
    assert errors["2"] == {"weight": ["Not a valid number."]}
    assert set(errors["3"]) == {"weight", "height"}
    assert errors["4"] == {"weight": ["Missing data for required field."]}
    assert errors["5"] == {"age": ["Unknown field."]}
    assert errors["6"] == {"_schema": ["Invalid input type."]}
    assert errors["7"] == {
        "weight": ["Must be between 1 and 1500 lb."],
        "height": ["Must be between 10 and 120 in."],
    }
    assert errors["8"] == {"weight": ["Must be between 1 and 1500 lb."]}
    assert list(errors) == sorted(errors, key=int)


def test_many_bad_rows_are_reported_up_to_a_cap() -> None:
    rows = [{"weight": 0, "height": 65}] * 500
    with pytest.raises(RowValidationError) as caught:
        validate_json_rows(rows, units="imperial", with_gender=False)
    assert len(caught.value.errors) == MAX_REPORTED_ROWS


def test_too_many_rows_is_one_error() -> None:
    rows = [{"weight": 150, "height": 65}] * 11
    with pytest.raises(RowValidationError) as caught:
        validate_json_rows(rows, units="imperial", with_gender=False, max_rows=10)
    assert caught.value.errors == ["At most 10 rows per request; got 11."]


def test_metric_bounds_are_stated_in_metric() -> None:
    with pytest.raises(RowValidationError) as caught:
        validate_json_rows([{"weight": 700, "height": 20}], units="metric", with_gender=False)
    assert caught.value.errors["0"]["weight"] == ["Must be between 0.45 and 680 kg."]
    assert caught.value.errors["0"]["height"] == ["Must be between 25.4 and 304.8 cm."]


#: Each unit system's bounds and just past them, ordinary values, and what is not a number.
VALUES = [128, 63.5, 1, 0.99, 1500, 1500.0001, 10, 120, 120.5, 0.45, 0.44, 680, 680.1, 25.4, 25.3,
          304.8, 305, 0, -1, 1e308, 10**400, True, None, "128", float("nan"), float("inf"),
          [128]]  # fmt: skip


@pytest.mark.parametrize("units", ["imperial", "metric"])
def test_one_person_is_checked_as_any_row_of_a_batch(units: str) -> None:
    """One row takes a shorter way (Python comparisons, not numpy columns): every value, good or
    bad, gets the same features or the same errors as the same row among others."""
    for weight in VALUES:
        for height in VALUES:
            rows = [{"weight": weight, "height": height}]
            outcomes = []
            for batch in (rows, rows + [{"weight": 150, "height": 65}]):
                try:
                    columns = validate_json_rows(batch, units=units, with_gender=False)
                except RowValidationError as error:
                    outcomes.append(error.errors["0"])
                else:
                    outcomes.append(columns.features[:1].tolist())
            assert outcomes[0] == outcomes[1], (weight, height)
    for row in ({"weight": 128}, {"weight": 128, "height": 63, "age": 3}, [128, 63], "x"):
        with pytest.raises(RowValidationError):
            validate_json_rows([row], units=units, with_gender=False)


def test_a_dataset_needs_rows_of_both_classes() -> None:
    assert check_both_classes(np.array([])) == "The dataset has no rows."
    assert "all 2 rows are M" in check_both_classes(np.array([0.0, 0.0]))
    assert check_both_classes(np.array([0.0, 1.0])) is None

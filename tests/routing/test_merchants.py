"""Merchant config file: the shipped example loads; unknown ids get the default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.merchants import BUILTIN_DEFAULT, load_merchants

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "merchants.example.json"


def test_example_file_loads():
    merchants = load_merchants(EXAMPLE)
    assert {"m-1001", "m-1002", "m-1003", "default"} <= set(merchants)
    assert merchants["m-1001"].sender_email == "noreply@shop-1001.example"
    assert merchants["m-1002"].marketing_sms_enabled
    assert "VIP-YEAR" in merchants["m-1003"].sensitive_skus


def test_unknown_ids_get_the_default():
    merchants = load_merchants(EXAMPLE)
    assert merchants["m-nope"].merchant_id == "default"
    assert merchants.get("m-nope") is merchants["default"]
    assert load_merchants(None)["anything"] == BUILTIN_DEFAULT


def write(tmp_path, entries):
    path = tmp_path / "merchants.json"
    path.write_text(json.dumps({"merchants": entries}), encoding="utf-8")
    return path


def test_relative_template_dir_is_resolved_against_the_file(tmp_path):
    path = write(tmp_path, [{"merchant_id": "m-9", "name": "X",
                             "sender_email": "a@x.example", "template_dir": "tpl"}])
    assert load_merchants(path)["m-9"].template_dir == tmp_path / "tpl"


@pytest.mark.parametrize("entry", [
    {"merchant_id": "m-9", "name": "X", "sender_email": "not-an-email"},
    {"merchant_id": "m-9", "name": "X", "sender_email": "a@x.example", "typo_field": 1},
    {"merchant_id": "m-9", "name": "X", "sender_email": "a@x.example",
     "amount_threshold_minor": -1},
    {"merchant_id": "m-9", "name": "X", "sender_email": "a@x.example", "timezone": "Mars/Base"},
])
def test_bad_entries_are_refused(tmp_path, entry):
    with pytest.raises(ValidationError):
        load_merchants(write(tmp_path, [entry]))


def test_duplicate_ids_are_refused(tmp_path):
    entry = {"merchant_id": "m-9", "name": "X", "sender_email": "a@x.example"}
    with pytest.raises(ValueError, match="twice"):
        load_merchants(write(tmp_path, [entry, entry]))

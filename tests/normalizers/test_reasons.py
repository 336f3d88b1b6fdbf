"""Every reason code is documented, and the masking helpers never show a whole number."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from normalizers import REASON_DOCS, Reason, mask_id, mask_phone


def test_every_reason_is_documented() -> None:
    undocumented = [r for r in Reason if not REASON_DOCS.get(r, "").strip()]
    assert undocumented == []
    assert set(REASON_DOCS) == set(Reason)


def test_reason_values_equal_their_names() -> None:
    assert all(r.value == r.name for r in Reason)


def test_ok_and_cleaning_reasons_do_not_reject() -> None:
    assert not Reason.OK.rejects
    assert not Reason.ID_LEGACY_15_UPGRADED.rejects
    assert Reason.MISSING.rejects


def test_mask_examples() -> None:
    assert mask_id("110101199003071234") == "110101********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id(None) is None


@given(st.text(min_size=0, max_size=40))
def test_masks_keep_length_and_hide_the_middle(value: str) -> None:
    for mask in (mask_id, mask_phone):
        masked = mask(value)
        assert len(masked) == len(value)
        if len(value) >= 4:
            assert masked != value or set(value) <= {"*"}

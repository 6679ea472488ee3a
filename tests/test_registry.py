import pytest

from dcpt.errors import DcptError
from dcpt.registry import Registry, drop_none


def test_unknown_name_lists_close_matches_and_valid_names():
    reg = Registry("thing")
    reg.add("gaussian_noise", 1, aliases=("noise",))
    reg.add("jpeg", 2)
    with pytest.raises(DcptError, match="gaussian_noise") as info:
        reg.get("gausian_noise")
    assert "Did you mean" in str(info.value) and "jpeg" in str(info.value)
    assert reg.get("noise") == 1


def test_duplicate_registration_raises():
    reg = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError):
        reg.add("a", 2)


def test_drop_none():
    assert drop_none({"a": None, "b": 0}) == {"b": 0}

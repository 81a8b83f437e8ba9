"""The suite fails when dna_zoo (or a test) calls a deprecated API: the guards of conftest.py and setup.cfg."""

import warnings

import pytest
from transformers.utils import logging


def deprecated_function():
    warnings.warn("`deprecated_function` is deprecated", FutureWarning)  # attributed to itself, as transformers does


def test_a_deprecated_call_fails_even_when_the_warning_names_the_callee():
    with pytest.raises(FutureWarning, match="deprecated API called by dna_zoo at .*test_deprecation_guard.py"):
        deprecated_function()


def test_a_logged_deprecation_fails():
    with pytest.raises(FutureWarning, match="deprecated API called by dna_zoo"):
        logging.get_logger("transformers.some_module").warning("`old_name` is deprecated, use `new_name`")


def test_other_warnings_pass_through():
    with pytest.warns(UserWarning, match="not a deprecation"):
        warnings.warn("not a deprecation", UserWarning)


def test_a_deprecation_attributed_to_a_dna_zoo_module_is_an_error_by_setup_cfg():
    with pytest.raises(DeprecationWarning, match="x is deprecated"):
        warnings.warn_explicit("x is deprecated", DeprecationWarning, "fake.py", 1, module="dna_zoo.fake_module")
    warnings.warn_explicit("y is deprecated", DeprecationWarning, "fake.py", 1, module="somebody_else")  # ignored

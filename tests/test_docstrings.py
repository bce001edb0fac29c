"""Every public function of the signal modules below shows one `>>>` example in its docstring, and every example
runs and prints what the docstring says (doctest). An example is documentation that cannot go stale.

Add a module to MODULES once each of its public functions has an example.
Run: python -m pytest tests/test_docstrings.py
"""
import doctest
import importlib
import inspect
import types

import pytest

MODULES = ["mel", "mfcc", "f0", "features", "formants", "extras.psola"]  # the signal files, in reading order


def public_functions(module):
    """{name: function} defined in the module itself (not imported into it), names not starting with "_"."""
    return {name: f for name, f in vars(module).items()
            if inspect.isfunction(f) and f.__module__ == module.__name__ and not name.startswith("_")}


def without_example(module):
    """Names of the module's public functions whose docstring shows no >>> example, sorted."""
    return sorted(n for n, f in public_functions(module).items() if ">>>" not in (f.__doc__ or ""))


@pytest.mark.parametrize("name", MODULES)
def test_every_public_function_has_an_example(name):
    missing = without_example(importlib.import_module(name))
    assert not missing, f"{name}: public functions without a >>> example: {missing}"


@pytest.mark.parametrize("name", MODULES)
def test_every_example_runs(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, verbose=False, report=True)  # a failure's report is in the captured stdout
    assert result.attempted >= len(public_functions(module)), f"{name}: only {result.attempted} examples ran"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (report in stdout)"


def test_the_checks_catch_a_wrong_and_a_missing_example():
    fake = types.ModuleType("fake")
    exec('def right():\n    """\n    >>> 1 + 1\n    2\n    """\n\n'
         'def wrong():\n    """\n    >>> 1 + 1\n    3\n    """\n\n'
         'def bare():\n    """No example."""\n\n'
         'def _private():\n    """No example, and none needed."""\n', fake.__dict__)
    assert set(public_functions(fake)) == {"right", "wrong", "bare"}
    assert doctest.testmod(fake, verbose=False, report=False) == (1, 2)  # (failed, attempted)
    assert without_example(fake) == ["bare"]

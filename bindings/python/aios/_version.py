"""The binding's own version, kept in step with the C project version.

Read by setuptools (statically, without importing the package) and
re-exported as ``aios.__version__``.  tests/test_version.py checks that it
equals the ``project(aios VERSION ...)`` of the C tree, so a release bumps
both together.
"""

__version__ = "0.1.0"

#: The oldest libaios (major, minor, patch) this binding works with.  The
#: ABI major (libaios.so.1) is checked separately and never changes.
MIN_LIBRARY_VERSION = (0, 1, 0)

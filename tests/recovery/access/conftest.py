"""The review desk's fixture (a quoted case on the devnets) serves the access tests too."""

from tests.recovery.review.conftest import desk  # noqa: F401

"""The paying desk of the payout tests, for statistics over real paid cases."""

from tests.recovery.payouts.conftest import at_most_one_payout_per_case as at_most_one_payout
from tests.recovery.payouts.conftest import paying_desk as paying_desk
from tests.recovery.payouts.conftest import signer as signer

at_most_one_payout_per_case = at_most_one_payout

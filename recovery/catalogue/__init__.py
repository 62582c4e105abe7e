"""The public network catalogue and the eligibility preview."""

"""Appeals: filing a case, reading it, following its events, withdrawing it."""

"""Counter e-signature: the citizen signs on their own phone what the clerk shows."""

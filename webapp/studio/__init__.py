"""The analyst studio: diagrams and forms edited, checked, test-run, published and migrated."""

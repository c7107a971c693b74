"""The service-finding assistant: the catalog searched by meaning, answered in the portal."""

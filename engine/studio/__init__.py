"""The analyst studio's engine side: drafts, checks, test runs, versions and migration."""

"""S3 API on the same accounts, containers and objects (filled in below)."""
ROUTES: list = []

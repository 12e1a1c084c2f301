"""Routes for domains, projects, users, groups, roles, implied roles and role assignments."""
ROUTES: list = []

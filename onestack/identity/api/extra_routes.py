"""Routes for regions/services/endpoints, application credentials, access rules,
credentials, trusts, limits and registered limits."""
ROUTES: list = []

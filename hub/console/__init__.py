"""The operations console: an aiohttp JSON API behind bearer tokens with roles (issue 6).

``routes`` declares every endpoint and the roles allowed on it, as data; the auth
middleware, the OpenAPI document and the tests all read that one table.
"""

"""The application services: every business rule of the API, the CLI and plugin callbacks.

REST routes, GraphQL resolvers and CLI commands authenticate, parse and present; what may
be done, by whom, and what it changes is decided here, once. Each service takes the
:class:`~mairust.model.principal.Principal` of the caller and reaches tenant-owned rows
through its scope (invariant 5); admin and tenant-admin actions are written to the audit
log here, so no entry point can forget it.
"""

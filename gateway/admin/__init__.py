"""The operators' face: the public health probe and the admin API (its first piece: health).

routes.py     ``GET /healthz`` and the admin API's resource metadata on the main router, and the
              admin API's own stack (bearer check for the admin audience, then its router)
boundary.py   dispatches the admin API's prefix to that stack; whatever it raises is answered as
              RFC 9457 problem details by the one renderer of :mod:`gateway.errors`
roles.py      the roles (scopes under ``admin``) and the check each operation makes
health.py     the health report: this replica's upstreams, background work and store
"""

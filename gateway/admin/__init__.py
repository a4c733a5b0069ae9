"""The operators' face: the public health probe and the admin API (health, the approval loop, the
API's own OpenAPI document).

routes.py           ``GET /healthz`` and the admin API's resource metadata on the main router, and
                    the admin API's own stack (bearer check for the admin audience, then its router)
boundary.py         dispatches the admin API's prefix to that stack; whatever it raises is answered
                    as RFC 9457 problem details by the one renderer of :mod:`gateway.errors`
roles.py            the roles (scopes under ``admin``), the check each operation makes, and the
                    principal the approval desks take
health.py           the health report: this replica's upstreams, background work and store
approvals_api.py    access requests, grants and the policy, over the desks of
                    :mod:`gateway.approvals`
calls_api.py        held calls (AP-6), over the call desk
queries.py          query parameters, read strictly
json_bodies.py      JSON request bodies, read strictly
paging.py           cursor pages of the lists
openapi.py          the OpenAPI 3.1 document, as data
openapi_schemas.py  the JSON Schemas of every body and answer
"""

"""The security team's web console at ``/admin``: server-rendered pages, no script, no build step.

    routes.py          the routes, built from the wired gateway (``console_routes``)
    access.py          the door of every page: signed in, holding a role, forms with the session's token
    visitors.py        who is at the console and the roles of record (AD-6)
    sign_in.py         the sign-in forms (built-in users and the OpenID provider) and signing out
    requests_pages.py  the approval queue, one request, approve and deny
    grants_pages.py    the grants, revoke and review
    calls_pages.py     the held tool calls (AP-6), one call, approve and deny; a call's page is
                       also open to the person it was made for, who may hold no role
    request_views.py   the HTML of the queue and of a request
    grant_views.py     the HTML of the grants
    call_views.py      the HTML of the held calls and of one call
    call_arguments.py  a held call's arguments as an approver reads them
    queues.py          what a queue lists: the waiting records, then the latest decided
    pending_pages.py   pending tool definitions (TP-5, AD-8): the list, one against its pin, approve/reject
    pending_views.py   the HTML of those pages: the escaped diff, screening's flags, the decision forms
    pin_shelf.py       what the console reads of the pin book (read-only; the pin desk decides)
    tool_state_pages.py  each server's tool state for tool authors, and the top of the tools page
    tool_states.py     the state of each tool of one server, a pure function of the records
    server_tool_views.py  the HTML of tool state
    html.py            the stylesheet, the page frame and the small pieces pages share

The pages decide nothing: every read and every change goes through the desks of
:mod:`gateway.approvals` (the request desk, the grant desk and the call desk), so the console, the
admin API and the CLI obey the same rules. The console signs people in with the authorization server's sign-in
(:mod:`gateway.oauth.authorize`) and shares its session; no role imports the console.
"""

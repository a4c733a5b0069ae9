"""``POST /token`` and its neighbours: the grants, form reading, client authentication (shared
secrets, JWT assertions), and the introspection and revocation endpoints that authenticate alike."""

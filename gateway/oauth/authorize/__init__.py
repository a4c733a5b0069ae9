"""The authorization endpoint for agents acting for a person: sign-in (built-in users or an
upstream OpenID provider), consent, PKCE, and the browser state that binds the steps together."""

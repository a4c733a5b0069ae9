"""Token exchange without HTTP: properties of ``TokenExchanger`` and the cache of ``DownstreamTokens``.

The property (TE-4, TE-6, TE-7, RV-1): over random trees of exchanges, with random
requested scopes (sometimes wider than what is held, which must be ``invalid_scope``), random
targets with scope lists, random clock advances and a random delegation cap, every issued scope is
covered by the parent's (by the hierarchy of ``tools_registry.scopes``: ``w`` covers ``w:r``, never
the other way round) and by the client's, means something to every target, ``exp`` never grows,
``act`` gains exactly one level per delegated step and never passes the cap, and revoking the root
reaches every live descendant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.claims import Claims
from gateway.clock import FrozenClock
from gateway.composition import Gateway, build_gateway
from gateway.config import settings_from
from gateway.errors import InvalidRequest, InvalidScope
from gateway.oauth.exchange.rules import delegation_depth
from gateway.oauth.tokens.access_tokens import IssuedToken
from gateway.store.memory import MemoryStore
from gateway.upstream.downstream_tokens import DownstreamTokens
from tools_registry.scopes import covers

T = TypeVar("T")

START = 1_700_000_000.0
MAX_TTL = 300
UNIVERSE = ("a", "b", "c", "w", "w:r", "w:r:h", "w:x")
TARGET_SCOPES: dict[str, frozenset[str]] = {
    "https://t1.example/api": frozenset({"a", "b", "c"}),
    "https://t2.example/api": frozenset({"a"}),
    "https://t3.example/api": frozenset({"w:r"}),
    "https://t4.example/api": frozenset(UNIVERSE),
}
AGENT = "agent-1"


def make_gateway(max_depth: int = 4, max_ttl: int = MAX_TTL) -> Gateway:
    targets = tuple(
        {"audience": aud, "scopes": tuple(sorted(scopes))} for aud, scopes in TARGET_SCOPES.items()
    )
    clock = FrozenClock(START)  # the store's TTLs too: they pass as the tests advance it
    return build_gateway(
        settings_from(
            store="memory://", targets=targets, exchange_max_ttl=max_ttl, max_delegation_depth=max_depth
        ),
        MemoryStore(clock),
        clock=clock,
    )


def clock_of(gateway: Gateway) -> FrozenClock:
    assert isinstance(gateway.clock, FrozenClock)
    return gateway.clock


def run(make: Callable[[], Awaitable[T]]) -> T:
    async def call() -> T:
        return await make()

    return asyncio.run(call())


async def agent_token(
    gateway: Gateway, scopes: tuple[str, ...], lifetime: int = 3600, **extra: Any
) -> IssuedToken:
    return await gateway.issuer.issue(
        subject="alice",
        client_id=AGENT,
        audience=gateway.settings.mcp.resource,
        scopes=scopes,
        lifetime=lifetime,
        extra=extra,
    )


def as_verified(issued: IssuedToken) -> Claims:
    """The issued token as the gateway reads it once verified."""
    return Claims.from_jwt(issued.claims)


# -- the property ---------------------------------------------------------------------------

scope_sets = st.lists(st.sampled_from(UNIVERSE), unique=True, max_size=len(UNIVERSE)).map(tuple)
audience_sets = st.one_of(
    st.just(("gateway",)),
    st.just(("gateway",)),
    st.just(("https://t4.example/api",)),
    st.sampled_from(sorted(TARGET_SCOPES)).map(lambda a: (a,)),
    st.lists(st.sampled_from(sorted(TARGET_SCOPES)), min_size=2, max_size=2, unique=True).map(tuple),
)
actors = st.one_of(st.none(), st.sampled_from(["agent-1", "agent-2", "svc-x"]), st.just("agent-1"))


@dataclass(frozen=True)
class Step:
    parent: Mapping[str, Any]
    audiences: tuple[str, ...]
    requested: tuple[str, ...]
    client_scopes: tuple[str, ...] | None
    actor: str | None
    actor_lifetime: int | None
    advance: int


def draw_step(data: st.DataObject, tokens: list[Mapping[str, Any]]) -> Step:
    """Mostly extend the newest token, sometimes branch from an older one; mostly ask for scopes
    the parent holds, sometimes for any scope at all (which may widen) or for none."""
    parent = tokens[data.draw(st.one_of(st.just(len(tokens) - 1), st.integers(0, len(tokens) - 1)))]
    held = str(parent["scope"]).split()
    held_subsets = st.lists(st.sampled_from(held), unique=True).map(tuple)
    narrower = st.lists(
        st.sampled_from(held).flatmap(lambda h: st.sampled_from([h, f"{h}:r", f"{h}:x"])), unique=True
    ).map(tuple)
    return Step(
        parent=parent,
        audiences=data.draw(audience_sets),
        requested=data.draw(st.one_of(held_subsets, narrower, st.just(()), scope_sets)),
        client_scopes=data.draw(st.one_of(st.none(), st.none(), scope_sets)),
        actor=data.draw(actors),
        actor_lifetime=data.draw(st.one_of(st.none(), st.none(), st.integers(min_value=-5, max_value=400))),
        advance=data.draw(st.sampled_from([0, 0, 1, 7, 30, 120, 299])),
    )


def target_accepts(audience: str, scope: str) -> bool:
    """A target with a scope list takes a scope that is on its list or covered by one on it (never
    a broader one); the gateway's own endpoint has no list."""
    accepted = TARGET_SCOPES.get(audience)
    return accepted is None or covers(accepted, scope)


def narrowed(audience: str, scope: str) -> list[str]:
    """A held scope as the target takes it: itself, or the target's scopes it covers."""
    if target_accepts(audience, scope):
        return [scope]
    return sorted(a for a in TARGET_SCOPES.get(audience) or () if covers((scope,), a))


def may_issue(
    held: tuple[str, ...], audiences: tuple[str, ...], client: tuple[str, ...] | None, scope: str
) -> bool:
    return (
        covers(held, scope)
        and (client is None or covers(client, scope))
        and all(target_accepts(audience, scope) for audience in audiences)
    )


async def run_chain(
    root_scopes: tuple[str, ...], root_lifetime: int, max_depth: int, data: st.DataObject
) -> None:
    gateway = make_gateway(max_depth=max_depth)
    clock = clock_of(gateway)
    root = await agent_token(gateway, root_scopes, lifetime=root_lifetime)
    tokens: list[Mapping[str, Any]] = [root.claims]
    for _ in range(data.draw(st.integers(min_value=1, max_value=12), label="steps")):
        step = draw_step(data, tokens)
        parent = step.parent
        clock.advance(step.advance)
        now = int(clock.now())
        audiences = tuple(gateway.settings.mcp.resource if a == "gateway" else a for a in step.audiences)
        held = tuple(str(parent["scope"]).split())
        candidates = list(held)
        for audience in step.audiences:
            candidates = [narrow for scope in candidates for narrow in narrowed(audience, scope)]
        ceiling = [
            s for s in dict.fromkeys(candidates) if may_issue(held, step.audiences, step.client_scopes, s)
        ]
        actor_expires_at = None if step.actor_lifetime is None else now + step.actor_lifetime
        widens = not all(may_issue(held, step.audiences, step.client_scopes, s) for s in step.requested)
        too_deep = step.actor is not None and delegation_depth(parent.get("act")) + 1 > max_depth
        expires_at = min(
            int(parent["exp"]), now + MAX_TTL, *([] if actor_expires_at is None else [actor_expires_at])
        )
        try:
            issued = await gateway.exchanger.exchange(
                subject=Claims.from_jwt(parent),
                requester=AGENT,
                audiences=audiences,
                requested_scopes=step.requested,
                client_scopes=step.client_scopes,
                actor=step.actor,
                actor_expires_at=actor_expires_at,
            )
        except InvalidScope:
            event("refused: invalid_scope")
            assert widens or not ceiling, "refused a scope that lies within the ceiling"
            continue
        except InvalidRequest:
            event("refused: too deep" if too_deep else "refused: expired")
            assert not widens and ceiling
            assert too_deep or expires_at <= now, "refused a request within depth and lifetime"
            continue
        claims = issued.claims
        assert not widens and ceiling and not too_deep and expires_at > now, "this exchange must fail"
        granted = str(claims["scope"]).split()
        # scope never widens: covered by the parent and the client, known to every target
        assert all(covers(held, scope) for scope in granted)
        assert step.client_scopes is None or all(covers(step.client_scopes, scope) for scope in granted)
        assert all(target_accepts(aud, scope) for aud in step.audiences for scope in granted)
        assert all(covers(root_scopes, scope) for scope in granted)
        # exactly what was asked, or everything the parent holds that may go there
        assert granted == (list(step.requested) if step.requested else ceiling)
        # exp never grows; never past the actor token nor the maximum lifetime
        assert claims["exp"] <= parent["exp"]
        assert claims["exp"] <= now + MAX_TTL
        assert actor_expires_at is None or claims["exp"] <= actor_expires_at
        assert claims["exp"] == expires_at
        # act: one more level per delegated step, the same chain for impersonation, capped
        depth = delegation_depth(claims.get("act"))
        if step.actor is None:
            assert claims.get("act") == parent.get("act")
        else:
            assert claims["act"]["sub"] == step.actor
            assert claims["act"].get("act") == parent.get("act")
            assert depth == delegation_depth(parent.get("act")) + 1
        assert depth <= max_depth
        assert claims["sub"] == "alice"
        assert claims["aud"] == (audiences[0] if len(audiences) == 1 else list(audiences))
        assert (await gateway.introspection_verifier.verify(issued.token)).raw == dict(claims)
        tokens.append(claims)
        event(f"issued at depth {depth}")

    # the cascade reaches every descendant still alive
    await gateway.revocations.revoke(str(root.claims["jti"]), float(root.claims["exp"]))
    for claims in tokens:
        if claims["exp"] > clock.now():
            assert await gateway.revocations.is_revoked(str(claims["jti"])), claims


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    root_scopes=st.lists(st.sampled_from(UNIVERSE), unique=True, min_size=1).map(tuple),
    root_lifetime=st.integers(min_value=1, max_value=1200),
    max_depth=st.integers(min_value=1, max_value=3),
    data=st.data(),
)
def test_over_random_exchange_trees_scope_never_widens_and_exp_never_grows(
    root_scopes: tuple[str, ...], root_lifetime: int, max_depth: int, data: st.DataObject
) -> None:
    run(lambda: run_chain(root_scopes, root_lifetime, max_depth, data))


# -- DownstreamTokens -----------------------------------------------------------------------

WEATHER = "https://t1.example/api"
FILES = "https://t4.example/api"


@pytest.fixture
def gateway() -> Gateway:
    return make_gateway()


def test_downstream_second_call_is_a_cache_hit(gateway: Gateway) -> None:
    async def scenario() -> None:
        agent = await agent_token(gateway, ("a", "b"))
        cache = DownstreamTokens(gateway.exchanger, gateway.clock)
        first = await cache.token_for(as_verified(agent), WEATHER, ("a",))
        second = await cache.token_for(as_verified(agent), WEATHER, ("a",))
        assert first == second
        assert (cache.hits, cache.misses, cache.hit_ratio) == (1, 1, 0.5)

    run(scenario)


def test_downstream_token_is_renewed_shortly_before_expiry(gateway: Gateway) -> None:
    async def scenario() -> None:
        clock = clock_of(gateway)
        agent = await agent_token(gateway, ("a",), lifetime=3600)
        cache = DownstreamTokens(gateway.exchanger, gateway.clock, renew_before=30)
        first = await cache.token_for(as_verified(agent), WEATHER, ("a",))
        clock.advance(MAX_TTL - 31)
        assert await cache.token_for(as_verified(agent), WEATHER, ("a",)) == first
        clock.advance(1)
        renewed = await cache.token_for(as_verified(agent), WEATHER, ("a",))
        assert renewed != first
        claims = (await gateway.introspection_verifier.verify(renewed, audience=WEATHER)).raw
        assert claims["exp"] == int(clock.now()) + MAX_TTL
        assert (cache.hits, cache.misses) == (1, 2)

    run(scenario)


def test_downstream_short_lived_tokens_are_renewed_at_a_quarter_of_their_life(gateway: Gateway) -> None:
    """An agent token with 40 s left gives a 40 s downstream token, renewed after 30 s, not at once."""

    async def scenario() -> None:
        clock = clock_of(gateway)
        agent = await agent_token(gateway, ("a",), lifetime=40)
        cache = DownstreamTokens(gateway.exchanger, gateway.clock, renew_before=30)
        first = await cache.token_for(as_verified(agent), WEATHER, ("a",))
        clock.advance(29)
        assert await cache.token_for(as_verified(agent), WEATHER, ("a",)) == first
        clock.advance(1)
        assert await cache.token_for(as_verified(agent), WEATHER, ("a",)) != first

    run(scenario)


def test_downstream_cache_is_bounded_and_evicts_the_least_recently_used(gateway: Gateway) -> None:
    async def scenario() -> None:
        agents = [await agent_token(gateway, ("a", "b")) for _ in range(4)]
        cache = DownstreamTokens(gateway.exchanger, gateway.clock, max_entries=3)
        tokens = [await cache.token_for(as_verified(agent), WEATHER, ("a",)) for agent in agents[:3]]
        assert await cache.token_for(as_verified(agents[0]), WEATHER, ("a",)) == tokens[0]  # 0 is now fresh
        await cache.token_for(as_verified(agents[3]), WEATHER, ("a",))  # evicts 1, the least recently used
        assert (cache.hits, cache.misses) == (1, 4)
        assert await cache.token_for(as_verified(agents[2]), WEATHER, ("a",)) == tokens[2]
        assert await cache.token_for(as_verified(agents[0]), WEATHER, ("a",)) == tokens[0]
        assert (cache.hits, cache.misses) == (3, 4)
        assert await cache.token_for(as_verified(agents[1]), WEATHER, ("a",)) != tokens[1]
        assert (cache.hits, cache.misses) == (3, 5)

    run(scenario)


def test_downstream_a_different_scope_set_or_audience_is_a_different_entry(gateway: Gateway) -> None:
    async def scenario() -> None:
        agent = await agent_token(gateway, ("a", "b", "c"))
        cache = DownstreamTokens(gateway.exchanger, gateway.clock)
        read = await cache.token_for(as_verified(agent), WEATHER, ("a",))
        both = await cache.token_for(as_verified(agent), WEATHER, ("a", "b"))
        other = await cache.token_for(as_verified(agent), FILES, ("a",))
        assert len({read, both, other}) == 3
        assert (cache.hits, cache.misses) == (0, 3)
        assert (await gateway.introspection_verifier.verify(both)).raw["scope"] == "a b"

    run(scenario)


def test_downstream_token_claims(gateway: Gateway) -> None:
    async def scenario() -> None:
        agent = await agent_token(gateway, ("a", "b", "c"), lifetime=100)
        cache = DownstreamTokens(gateway.exchanger, gateway.clock)
        token = await cache.token_for(as_verified(agent), WEATHER, ("b", "a"))
        claims = (await gateway.introspection_verifier.verify(token, audience=WEATHER)).raw
        assert claims["aud"] == WEATHER
        assert claims["scope"] == "b a"
        assert claims["act"] == {"sub": AGENT}
        assert claims["sub"] == "alice" and claims["client_id"] == AGENT
        assert claims["exp"] <= agent.claims["exp"]
        assert claims["exp"] == agent.claims["exp"]  # 100 s left, under the 300 s maximum

    run(scenario)


def test_downstream_never_widens_the_agents_scope_nor_the_targets(gateway: Gateway) -> None:
    async def scenario() -> None:
        agent = await agent_token(gateway, ("a", "w"))
        cache = DownstreamTokens(gateway.exchanger, gateway.clock)
        with pytest.raises(InvalidScope):
            await cache.token_for(as_verified(agent), WEATHER, ("b",))  # not held by the agent
        with pytest.raises(InvalidScope):
            await cache.token_for(as_verified(agent), WEATHER, ("w",))  # held, but t1 does not accept it
        assert cache.hits == 0

    run(scenario)


def test_downstream_tokens_are_revoked_with_the_agent_token(gateway: Gateway) -> None:
    async def scenario() -> None:
        agent = await agent_token(gateway, ("a",))
        cache = DownstreamTokens(gateway.exchanger, gateway.clock)
        token = await cache.token_for(as_verified(agent), WEATHER, ("a",))
        jti = (await gateway.introspection_verifier.verify(token)).jti
        await gateway.revocations.revoke(str(agent.claims["jti"]), float(agent.claims["exp"]))
        assert await gateway.revocations.is_revoked(jti)

    run(scenario)

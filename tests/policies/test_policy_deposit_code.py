"""Code at the deposit address: never paid without a reviewer, on any class."""

from __future__ import annotations

from collections.abc import Callable

from policies import Facts, Policy, RecoveryClass, StaticPriceSource, evaluate, load_policy

MakeFacts = Callable[..., Facts]
DELEGATE = "0x" + "77" * 20


def test_a_contract_deposit_address_on_a_direct_pair_goes_to_a_reviewer_as_conditional(
    policy: Policy, make_facts: MakeFacts
) -> None:
    clean = evaluate(make_facts(), policy, StaticPriceSource(policy))
    assert clean.network_class is RecoveryClass.DIRECT
    assert clean.review_flags == ()

    verdict = evaluate(
        make_facts(deposit_address_is_contract=True), policy, StaticPriceSource(policy)
    )
    assert verdict.eligible is True
    assert verdict.network_class is RecoveryClass.CONDITIONAL
    assert verdict.review_flags == ("deposit_address_has_code",)
    flagged = {c.id: c for c in verdict.conditions}["deposit_address_has_code"]
    assert flagged.status == "pending"
    assert "holds contract code on bsc" in flagged.detail
    assert "deposit_address_has_code" in verdict.summary
    # The conditional schedule prices it: a higher fee than the direct one.
    assert verdict.quote is not None
    assert clean.quote is not None
    assert verdict.quote.schedule == "wrong_network/conditional"
    assert verdict.quote.fee_amount > clean.quote.fee_amount


def test_an_eip7702_delegation_is_named_with_its_delegate(
    policy: Policy, make_facts: MakeFacts
) -> None:
    facts = make_facts(deposit_address_is_contract=True, deposit_address_delegate=DELEGATE)
    verdict = evaluate(facts, policy, StaticPriceSource(policy))
    flagged = {c.id: c for c in verdict.conditions}["deposit_address_has_code"]
    assert f"EIP-7702 delegation to {DELEGATE}" in flagged.detail
    assert verdict.review_flags == ("deposit_address_has_code",)


def test_where_the_network_requires_an_account_without_code_it_is_refused_truthfully(
    policy: Policy, make_facts: MakeFacts
) -> None:
    facts = make_facts(
        network="kaia",
        token=None,
        amount=1000 * 10**18,
        deposit_address_is_contract=True,
        deposit_address_delegate=DELEGATE,
    )
    verdict = evaluate(facts, policy, StaticPriceSource(policy))
    assert verdict.eligible is False
    assert verdict.reason_codes[0] == "deposit_address_is_contract"
    failed = {c.id: c for c in verdict.conditions}["deposit_address_is_eoa"]
    # A delegated account still has its key: the refusal says what the chain shows.
    assert "EIP-7702 delegation" in failed.detail
    assert "cannot move" not in failed.detail
    assert "deposit_address_has_code" not in {c.id for c in verdict.conditions}


def test_not_yet_known_code_adds_no_flag(policy: Policy, make_facts: MakeFacts) -> None:
    verdict = evaluate(
        make_facts(deposit_address_is_contract=None), policy, StaticPriceSource(policy)
    )
    assert verdict.review_flags == ()
    assert verdict.network_class is RecoveryClass.DIRECT


def test_the_devnet_overlay_marks_its_nodes_as_tracing(policy: Policy) -> None:
    assert policy.networks["ethereum"].traces is False
    devnet = load_policy(overlays=["devnet"])
    assert devnet.networks["ethereum"].traces is True
    assert devnet.networks["bsc"].traces is True

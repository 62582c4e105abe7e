"""Counting and describing a policy: what `recovery policy check` prints."""

from __future__ import annotations

from policies.model import CaseType, Policy, RecoveryClass


def class_counts(
    policy: Policy, case_type: CaseType | str = CaseType.WRONG_NETWORK
) -> dict[RecoveryClass, int]:
    """Networks per class for one case type; by default a network counts by its wrong_network class.

    Devnet-marked networks count like any other: the mark changes how they run, not what
    is recoverable on them.
    """
    counts = dict.fromkeys(RecoveryClass, 0)
    for network in policy.networks.values():
        counts[network.case_policy(case_type).recovery_class] += 1
    return counts


def describe(policy: Policy) -> list[str]:
    """Human lines: version, hash, networks per class per case type, fee schedules."""
    lines = [
        f"version: {policy.version}",
        f"sha256: {policy.content_hash}",
        f"networks: {len(policy.networks)}",
    ]
    devnets = sorted(n.id for n in policy.networks.values() if n.devnet)
    if devnets:
        lines.append(f"devnets: {', '.join(devnets)}")
    for case_type in CaseType:
        counts = class_counts(policy, case_type)
        lines.append(
            f"{case_type}: " + ", ".join(f"{klass} {count}" for klass, count in counts.items())
        )
        for klass in RecoveryClass:
            ids = sorted(
                n.id
                for n in policy.networks.values()
                if n.case_policy(case_type).recovery_class is klass
            )
            if ids:
                lines.append(f"  {klass}: {', '.join(ids)}")
    lines.append(f"fee schedules ({policy.quote_currency}):")
    for case_type, by_class in policy.fee_schedules.items():
        for klass, s in by_class.items():
            brackets = ", ".join(
                f"{b.percent}% to {b.up_to}" if b.up_to is not None else f"{b.percent}% above"
                for b in s.brackets
            )
            unpriced = f"{s.unpriced.percent}% of amount" if s.unpriced else "not quoted"
            lines.append(
                f"  {case_type}/{klass}: min value {s.min_value}, flat {s.flat}, free up to "
                f"{s.free_up_to}, brackets [{brackets}], fee {s.min_fee}..{s.max_fee or 'no max'}"
                f", unpriced: {unpriced}"
            )
    return lines

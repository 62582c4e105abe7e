"""Reading a user's own words into a draft appeal. Pure: text and vocabulary in, draft out.

Deterministic and explainable: every field the draft fills names the words that gave it
(`evidence`) and how sure the reading is (`confidence`, 0 to 1); nothing is learnt or
downloaded. The steps:

1. Hashes and addresses are taken out first (hex, Tron base58), so no word is found
   inside one.
2. Network names, tickers and cue phrases of every language are found in the text
   (`policies/data/triage.yaml`); a weak name ("eth", "base") counts as a network only
   beside a word for "network".
3. Each network mention leans towards "went over" or "opened for" by the cue nearest to
   it (a "via"/"通过"/"через" beside it, or an "address"/"地址"/"адрес"); with two
   networks, the pair that agrees best with the cues wins, and the order they were
   written in breaks a tie (people mostly name the network they used first).
4. The case type follows: two networks, or words for "wrong network", make a
   wrong-network case; words for "not supported", or one network and a token it does not
   list, an unlisted-token case.
5. The amount is the number beside the token, read with the language's decimal mark.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from policies import Policy
from policies.vocabulary import LANGUAGES, Vocabulary, normalise

_TX_HASH = re.compile(r"(?<![0-9a-fA-Fx])0x[0-9a-fA-F]{64}(?![0-9a-fA-F])")
_BARE_HASH = re.compile(r"(?<![0-9a-zA-Z])[0-9a-fA-F]{64}(?![0-9a-zA-Z])")
_EVM_ADDRESS = re.compile(r"(?<![0-9a-fA-Fx])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")
_TRON_ADDRESS = re.compile(r"(?<![0-9a-zA-Z])T[1-9A-HJ-NP-Za-km-z]{33}(?![0-9a-zA-Z])")
_NUMBER = re.compile(
    r"(?<![0-9a-z.,])(\d{1,3}(?:[ .,'\u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
)
# An amount, with a Chinese or Korean multiplier or a "k" after it ("1000万", "10k").
_AMOUNT = re.compile(
    r"(?<![0-9a-z.,])(\d{1,3}(?:[ .,'\u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
    r"(万|萬|亿|億|만|억|k(?![a-z]))?"
)
# The word right after an amount (a counter such as 个 or 개 may stand between).
_TICKER_AFTER = re.compile(r"\s?(?:个|個|枚|개|\s)?\s?([a-z][a-z0-9]{1,11})(?![a-z0-9])")
_TICKER_BEFORE = re.compile(r"(?<![a-z0-9])([a-z][a-z0-9]{1,11})\s?$")
_NOT_TICKERS = frozenset(
    {
        "usd",
        "dollars",
        "dollar",
        "usd)",
        "tx",
        "hash",
        "days",
        "day",
        "hours",
        "hour",
        "min",
        "minutes",
        "blocks",
        "gas",
        "fee",
        "fees",
        "times",
        "tokens",
        "token",
        "coins",
        "coin",
        "units",
        "percent",
        "am",
        "pm",
        "th",
        "st",
        "nd",
        "rd",
        "eur",
        "euro",
        "euros",
        "reais",
        "rublů",
        "rubles",
        "won",
        "yuan",
        "lira",
        "tl",
        "dni",
        "dní",
        "dias",
        "días",
        "jours",
        "ngày",
        "gün",
        "дня",
        "дней",
        "часа",
        "часов",
        "the",
        "and",
        "to",
        "on",
        "via",
        "in",
        "of",
        "for",
        "my",
        "me",
        "at",
        "de",
        "da",
        "do",
        "na",
        "em",
        "en",
        "et",
        "je",
        "jsem",
        "mil",
        "mln",
        "million",
        "millions",
        "milionů",
        "milhões",
        "millones",
        "млн",
        "tỷ",
        "triệu",
        "nghìn",
        "bin",
        "milyon",
        "percento",
        "po",
        "pro",
        "ze",
        "za",
    }
)
_WIDE = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# Languages that write 1.234,56; the others write 1,234.56.
_COMMA_DECIMAL = frozenset({"tr", "cs", "es", "pt", "ru", "fr"})
# How near (in characters) a cue must be to a mention to say something about it.
_REACH = 28
_WEAK_REACH = 12


@dataclass(frozen=True)
class DraftField:
    """One field of a draft: its value, the words that gave it, and how sure it is."""

    value: str
    evidence: str
    confidence: float


@dataclass
class Draft:
    """What triage read from a description: filled fields and the ones still missing."""

    language: str
    fields: dict[str, DraftField] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        """The value of a field, or None."""
        found = self.fields.get(name)
        return found.value if found else None


class _Finder:
    """Finds any of many phrases in one pass per script: on word boundaries where words
    are spaced (ASCII ones beside any non-ASCII letter too: "bep20으로"), anywhere in
    Chinese and Korean. Matches do not overlap; the longest phrase wins at a place."""

    def __init__(self, phrases: Collection[str]) -> None:
        groups: dict[str, list[str]] = {"wide": [], "ascii": [], "word": []}
        for phrase in phrases:
            kind = "wide" if _WIDE.search(phrase) else "ascii" if phrase.isascii() else "word"
            groups[kind].append(phrase)
        self.patterns = []
        for kind, members in groups.items():
            if not members:
                continue
            alternatives = "|".join(re.escape(p) for p in sorted(members, key=len, reverse=True))
            if kind == "wide":
                self.patterns.append(re.compile(f"(?:{alternatives})"))
            elif kind == "ascii":
                self.patterns.append(re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])"))
            else:
                self.patterns.append(re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)"))

    def find(self, norm: str) -> list[tuple[int, int, str]]:
        """(start, end, phrase) of every match, in order, longest kept where two overlap."""
        found = [(m.start(), m.end(), m.group(0)) for p in self.patterns for m in p.finditer(norm)]
        kept: list[tuple[int, int, str]] = []
        for match in sorted(found, key=lambda f: f[0] - f[1]):
            if not any(a < match[1] and match[0] < b for a, b, _ in kept):
                kept.append(match)
        return sorted(kept)


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    text: str
    kind: str  # a word kind, "network", or "token"
    value: str = ""  # the network id or ticker


FIELDS = ("case_type", "network", "opened_for", "token", "amount", "tx_hash", "address")


class Reader:
    """Reads descriptions with one vocabulary and policy (build once, use for many)."""

    def __init__(self, vocabulary: Vocabulary, policy: Policy) -> None:
        self.vocabulary = vocabulary
        self.policy = policy
        self._cues = {kind: vocabulary.phrases(kind) for kind in _CUE_KINDS}
        self._cue_finders = {kind: _Finder(self._cues[kind]) for kind in _CUE_KINDS}
        self._names: dict[str, tuple[str, bool]] = {}
        for network, names in vocabulary.networks.items():
            for name in names.names:
                self._names.setdefault(normalise(name), (network, False))
            for name in names.weak:
                self._names.setdefault(normalise(name), (network, True))
        self._name_finder = _Finder(self._names)
        tickers = {t.upper() for t in vocabulary.tokens}
        # Native symbols too, but not one-letter ones (Sonic's "S" is a letter in any text).
        tickers |= {
            n.native.symbol.upper() for n in policy.networks.values() if len(n.native.symbol) > 1
        }
        self._tickers = {t.casefold(): t for t in tickers}
        alternatives = "|".join(re.escape(t) for t in sorted(self._tickers, key=len, reverse=True))
        # A ticker may follow its amount without a space ("3000usdt").
        self._ticker_pattern = re.compile(rf"(?<![a-z])(?:{alternatives})(?![a-z0-9])")
        self._cues_all = {phrase for kind in _CUE_KINDS for phrase in self._cues[kind]} | set(
            self._names
        )

    def read(self, text: str, language: str | None = None) -> Draft:
        """The draft appeal `text` describes."""
        norm = normalise(text)
        draft = Draft(language="en")
        norm, hexes = self._take_hex(text, norm, draft)
        found = {kind: self._cue_finders[kind].find(norm) for kind in _CUE_KINDS}
        draft.language = language if language in LANGUAGES else self._language(norm, found)
        names = self._networks(norm, found)
        cues = self._kept_cues(found)
        tokens = self._tokens(norm, names)
        self._roles(draft, norm, names, cues, hexes)
        self._case_type(draft, names, cues, tokens)
        self._token_and_amount(draft, norm, tokens, names, draft.language)
        self._deposit_address(draft, cues, hexes)
        needed = ["case_type", "network", "tx_hash", "address", "token"]
        if draft.value("case_type") == "wrong_network":
            needed.insert(2, "opened_for")
        draft.missing = [name for name in needed if name not in draft.fields]
        return draft

    # Language

    def _language(self, norm: str, found: dict[str, list[tuple[int, int, str]]]) -> str:
        if re.search(r"[\uac00-\ud7af]", norm):
            return "ko"
        if re.search(r"[\u4e00-\u9fff]", norm):
            return "zh"
        if re.search(r"[\u0400-\u04ff]", norm):
            return "ru"
        scores = dict.fromkeys(LANGUAGES, 0.0)
        for kind, matches in found.items():
            if kind == "network":
                continue  # "mainnet", "blockchain": every language writes them
            for phrase in {text for _, _, text in matches}:
                if len(phrase) > 2:
                    scores[self._cues[kind][phrase]] += len(phrase)
        for language, letters in _LETTERS.items():
            scores[language] += 6 * len(re.findall(letters, norm))
        best = max(scores, key=lambda language: scores[language])
        return best if scores[best] > 0 else "en"

    # Hashes and addresses

    def _take_hex(
        self, text: str, norm: str, draft: Draft
    ) -> tuple[str, list[tuple[str, int, str]]]:
        """Blank hashes and addresses out of `norm`; record them as (kind, position, value)."""
        found: list[tuple[str, int, str]] = []
        taken: list[tuple[int, int]] = []
        for kind, pattern in (
            ("tx_hash", _TX_HASH),
            ("address", _EVM_ADDRESS),
            ("tx_hash", _BARE_HASH),
            ("address", _TRON_ADDRESS),
        ):
            for match in pattern.finditer(text):
                value = match.group(0)
                at = norm.find(normalise(value))
                if at < 0 or any(a <= at < b for a, b in taken):
                    continue
                taken.append((at, at + len(value)))
                found.append((kind, at, value))
                norm = norm[:at] + " " + "#" * (len(value) - 2) + " " + norm[at + len(value) :]
        hashes = [f for f in found if f[0] == "tx_hash"]
        if hashes:
            first = min(hashes, key=lambda f: f[1])
            draft.fields["tx_hash"] = DraftField(
                first[2], first[2], 1.0 if len({h[2] for h in hashes}) == 1 else 0.6
            )
        return norm, found

    # Networks, tokens and cues

    def _networks(self, norm: str, found: dict[str, list[tuple[int, int, str]]]) -> list[_Match]:
        mentions = []
        for start, end, text in self._name_finder.find(norm):
            network, weak = self._names[text]
            if weak and not self._weak_is_network(norm, start, end, found):
                continue
            mentions.append(_Match(start, end, text, "network", network))
        return mentions

    def _weak_is_network(
        self, norm: str, start: int, end: int, found: dict[str, list[tuple[int, int, str]]]
    ) -> bool:
        """A weak name ("eth", "base", "sol") is a network only right beside a word for
        network, address or how it was sent ("eth network", "ETH adresa", "via base"),
        and never right beside a number ("0.5 ETH", "POL 200개": the coin)."""
        if re.search(r"\d[\d.,]*\s?$", norm[max(0, start - 12) : start]):
            return False
        if re.match(r"\s?\d", norm[end : end + 2]):
            return False
        after = norm[end : end + 4]
        following = end + len(after) - len(after.lstrip(" '-(\""))
        before = norm[max(0, start - 40) : start]
        before_end = start - (len(before) - len(before.rstrip(" '\"(")))
        # Without one short linking word before it ("endereço da base").
        link = re.search(r"(?:^|\s)\S{1,3}\s*$", norm[max(0, start - 40) : before_end])
        linked_end = before_end - (len(link.group(0)) if link else 0)
        for kind in ("network", "address"):
            for a, b, _ in found[kind]:
                if a == following or b in (before_end, linked_end):
                    return True
        return any(b == before_end for _, b, _ in found["sent"])

    def _tokens(self, norm: str, names: list[_Match]) -> list[_Match]:
        found = []
        for match in self._ticker_pattern.finditer(norm):
            start, end = match.span()
            if not any(m.start <= start and end <= m.end for m in names):
                ticker = self._tickers[match.group(0)]
                found.append(_Match(start, end, match.group(0), "token", ticker))
        for alias, ticker in self.vocabulary.token_aliases.items():
            for match in re.finditer(rf"(?<=\d){re.escape(alias)}(?![a-z0-9])", norm):
                found.append(_Match(match.start(), match.end(), match.group(0), "token", ticker))
        return sorted(found, key=lambda m: m.start)

    def _kept_cues(self, found: dict[str, list[tuple[int, int, str]]]) -> list[_Match]:
        """The cue phrases found; where two overlap, the longer one ("本来应该选" over
        "选", "deposit address" over "address")."""
        every = [
            _Match(a, b, text, kind)
            for kind, matches in found.items()
            if kind != "network"
            for a, b, text in matches
        ]
        kept: list[_Match] = []
        for cue in sorted(every, key=lambda c: -(c.end - c.start)):
            if not any(k.start < cue.end and cue.start < k.end for k in kept):
                kept.append(cue)
        return sorted(kept, key=lambda c: c.start)

    # Roles: which network the transfer went over, which the address was opened for

    def _votes(
        self,
        language: str,
        mentions: list[_Match],
        cues: list[_Match],
        hexes: list[tuple[str, int, str]],
    ) -> dict[int, list[tuple[float, str]]]:
        """Each cue votes for the mention it belongs to: +w for "went over", -w for
        "opened for". A cue belongs to the nearest mention on the side the language puts
        it ("via BEP20", "BEP20 ağı üzerinden"; "ERC20 address", "adresa pro Ethereum"),
        or, with half the weight, to the nearest one on the other side."""
        votes: dict[int, list[tuple[float, str]]] = {i: [] for i in range(len(mentions))}
        for cue in cues:
            if cue.kind not in ("sent", "address", "instead"):
                continue
            sign = 1.0 if cue.kind == "sent" else -1.0
            after = _CUE_AFTER.get(cue.kind, frozenset())
            # The cue follows its network, unless it ends in a word that points ahead
            # ("address for", "地址是", "es para").
            ends = cue.text.rsplit(" ", 1)[-1]
            preferred_after = (
                language in after and ends not in _LINKS and not cue.text.endswith("是")
            )
            before_it = [m for m in enumerate(mentions) if m[1].end <= cue.start]
            after_it = [m for m in enumerate(mentions) if m[1].start >= cue.end]
            near_before = max(before_it, key=lambda m: m[1].end, default=None)
            near_after = min(after_it, key=lambda m: m[1].start, default=None)
            sides = [(near_before, 1.0), (near_after, 0.5)]
            if not preferred_after:
                sides = [(near_after, 1.0), (near_before, 0.5)]
            for side, weight in sides:
                if side is None:
                    continue
                index, mention = side
                distance = (
                    cue.start - mention.end if mention.end <= cue.start else mention.start - cue.end
                )
                if distance > _REACH:
                    continue
                votes[index].append((sign * weight / (1 + distance / 10), cue.text))
                break
        for index, mention in enumerate(mentions):
            for kind, at, _ in hexes:
                # "ERC20 0x..." or "0x... (ERC20)": a network written beside the address.
                if kind == "address" and (
                    0 <= at - mention.end <= 3 or 0 <= mention.start - at - 42 <= 3
                ):
                    votes[index].append((-0.5, "beside the address"))
        return votes

    def _roles(
        self,
        draft: Draft,
        norm: str,
        names: list[_Match],
        cues: list[_Match],
        hexes: list[tuple[str, int, str]],
    ) -> None:
        if not names:
            return
        votes = self._votes(draft.language, names, cues, hexes)
        networks: dict[str, tuple[float, str, _Match]] = {}
        for index, mention in enumerate(names):
            total = sum(v for v, _ in votes[index])
            cue = max(votes[index], key=lambda v: abs(v[0]))[1] if votes[index] else ""
            before = networks.get(mention.value)
            if before is None:
                networks[mention.value] = (total, cue, mention)
            else:
                keep = before if abs(before[0]) >= abs(total) else (total, cue, mention)
                networks[mention.value] = (before[0] + total, keep[1], keep[2])
        order = list(networks)
        if len(order) == 1:
            (network,) = order
            lean, cue, mention = networks[network]
            evidence = _evidence(norm, mention, cue)
            wrong = any(c.kind in ("wrong_network", "instead") for c in cues)
            if lean < 0 and wrong:
                draft.fields["opened_for"] = DraftField(network, evidence, 0.7)
            else:
                draft.fields["network"] = DraftField(network, evidence, 0.8 if lean > 0 else 0.6)
            return
        best: tuple[float, str, str] | None = None
        for rank_a, over in enumerate(order):
            for rank_b, opened in enumerate(order):
                if over == opened:
                    continue
                score = networks[over][0] - networks[opened][0]
                # Written first, went first: a small push that only breaks ties.
                score += 0.01 if rank_a < rank_b else 0.0
                if best is None or score > best[0]:
                    best = (score, over, opened)
        assert best is not None
        _, over, opened = best
        sure = 0.9 if networks[over][0] > 0 or networks[opened][0] < 0 else 0.6
        draft.fields["network"] = DraftField(
            over, _evidence(norm, networks[over][2], networks[over][1]), sure
        )
        draft.fields["opened_for"] = DraftField(
            opened, _evidence(norm, networks[opened][2], networks[opened][1]), sure
        )
        if len(order) > 2:
            draft.notes.append(f"{len(order)} networks named: {', '.join(order)}")

    # Case type

    def _case_type(
        self, draft: Draft, names: list[_Match], cues: list[_Match], tokens: list[_Match]
    ) -> None:
        unlisted = [c for c in cues if c.kind == "unlisted"]
        wrong = [c for c in cues if c.kind == "wrong_network"]
        if "opened_for" in draft.fields and "network" in draft.fields:
            draft.fields["case_type"] = DraftField(
                "wrong_network", "two networks: " + ", ".join(sorted({m.text for m in names})), 0.9
            )
            return
        if wrong and not unlisted:
            draft.fields["case_type"] = DraftField("wrong_network", wrong[0].text, 0.8)
            return
        if unlisted:
            draft.fields["case_type"] = DraftField("unlisted_token", unlisted[0].text, 0.85)
            if "opened_for" in draft.fields and "network" not in draft.fields:
                draft.fields["network"] = draft.fields.pop("opened_for")
            return
        network = draft.value("network")
        if network and tokens and network in self.policy.networks:
            ticker = tokens[0].value
            served = self.policy.networks[network]
            listed = {a.symbol.upper() for a in served.listed_assets} | {served.native.symbol}
            if ticker not in listed:
                draft.fields["case_type"] = DraftField(
                    "unlisted_token", f"{ticker} is not listed on {network}", 0.5
                )

    # Token and amount

    def _token_and_amount(
        self, draft: Draft, norm: str, tokens: list[_Match], names: list[_Match], language: str
    ) -> None:
        numbers = [
            (m.start(), m.end(), m.group(1), m.group(2) or "")
            for m in _AMOUNT.finditer(norm)
            if "#" not in m.group(0)
        ]
        # A word written right after an amount is its token, known or not ("310.25 MAGIC",
        # "320个wif"): an unlisted token is by its nature one the vocabulary may not know.
        spans = [(m.start, m.end) for m in (*tokens, *names)]
        for number in numbers:
            following = _TICKER_AFTER.match(norm, number[1])
            if following is None:
                continue
            word = following.group(1)
            start = following.start(1)
            if (
                word in _NOT_TICKERS
                or word in self._cues_all
                or any(a <= start < b for a, b in spans)
            ):
                continue
            tokens = [*tokens, _Match(start, start + len(word), word, "token", word.upper())]
        for number in numbers:
            # "MAGIC 100개": a counter after the amount, the token before it.
            if not re.match(r"\s?(?:个|個|枚|개)", norm[number[1] : number[1] + 2]):
                continue
            preceding = _TICKER_BEFORE.search(norm, 0, number[0])
            if preceding is None or preceding.group(1) in _NOT_TICKERS:
                continue
            word, start = preceding.group(1), preceding.start(1)
            if not any(a <= start < b for a, b in spans):
                tokens = [*tokens, _Match(start, start + len(word), word, "token", word.upper())]
        if not tokens:
            return
        best: tuple[int, _Match, tuple[int, int, str, str]] | None = None
        for token in tokens:
            for number in numbers:
                before = number[1] <= token.start
                gap = token.start - number[1] if before else number[0] - token.end
                if 0 <= gap <= 3 and (best is None or gap < best[0]):
                    best = (gap, token, number)
        if best is None:
            first = min(tokens, key=lambda t: t.start)
            draft.fields["token"] = DraftField(first.value, first.text, 0.6)
            return
        _, token, (_, _, written, scale) = best
        draft.fields["token"] = DraftField(token.value, token.text, 0.9)
        amount = _amount(written, language, scale)
        if amount is not None:
            draft.fields["amount"] = DraftField(
                amount, f"{written}{scale} {token.text}".strip(), 0.85
            )

    # The deposit address

    def _deposit_address(
        self, draft: Draft, cues: list[_Match], hexes: list[tuple[str, int, str]]
    ) -> None:
        addresses = [(at, value) for kind, at, value in hexes if kind == "address"]
        if not addresses:
            return
        scored = []
        for at, value in addresses:
            score = 0.0
            for cue in cues:
                distance = at - cue.end if cue.end <= at else cue.start - (at + len(value))
                if 0 <= distance <= _REACH:
                    if cue.kind == "address":
                        score += 2 - distance / _REACH
                    elif cue.kind == "from" and cue.end <= at and distance <= 6:
                        score -= 3
            scored.append((score, -at, value))
        score, _, value = max(scored)
        sure = 0.9 if len(addresses) == 1 else (0.7 if score > 0 else 0.5)
        draft.fields["address"] = DraftField(value, value, sure)


_CUE_KINDS = ("network", "address", "sent", "wrong_network", "unlisted", "from", "instead")
# Last words that make a cue point at the network after it, in any language.
_LINKS = frozenset(
    {
        "for",
        "on",
        "of",
        "is",
        "to",
        "para",
        "de",
        "en",
        "da",
        "do",
        "na",
        "no",
        "pela",
        "pelo",
        "pour",
        "sur",
        "для",
        "в",
        "на",
        "pro",
        "v",
        "cho",
        "mạng",
    }
)
# Languages where a cue of this kind follows the network it is about ("ERC20 address",
# "BEP20 ağı üzerinden", "BSC로"); elsewhere it comes first ("via BEP20", "adresa pro X").
_CUE_AFTER = {
    "address": frozenset({"en", "zh", "tr", "ko"}),
    "sent": frozenset({"tr", "ko"}),
    "instead": frozenset({"tr", "ko"}),
}
# Letters that mark a language written in Latin script (beside its phrases).
_LETTERS = {
    "vi": r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]",
    "cs": r"[ěščřžůň]",
    "tr": r"[ğışİ]",
    "pt": r"[ãõ]",
    "es": r"[ñ¿¡]",
    "fr": r"[èêëàâîïôûùœ]|\b[ldjnqs]'",
}


def _evidence(norm: str, mention: _Match, cue: str) -> str:
    return f"{mention.text} ({cue})" if cue else mention.text


_SCALES = {"万": 4, "萬": 4, "만": 4, "亿": 8, "億": 8, "억": 8, "k": 3}


def _amount(text: str, language: str, scale: str = "") -> str | None:
    """A number as written, with the language's decimal mark (and a multiplier such as 万
    after it), as a plain decimal string."""
    raw = re.sub(r"[ '\u00a0\u202f]", "", text)
    if "," in raw and "." in raw:
        decimal_mark = "," if raw.rfind(",") > raw.rfind(".") else "."
    elif raw.count(",") == 1 or raw.count(".") == 1:
        mark = "," if "," in raw else "."
        after = len(raw) - raw.rfind(mark) - 1
        comma_language = language in _COMMA_DECIMAL
        thousands = after == 3 and ((mark == ",") != comma_language)
        decimal_mark = "" if thousands else mark
    else:
        decimal_mark = ""
    for mark in ",.":
        if mark != decimal_mark:
            raw = raw.replace(mark, "")
    raw = raw.replace(",", ".")
    try:
        value = Decimal(raw).scaleb(_SCALES.get(scale, 0))
    except InvalidOperation:
        return None
    plain = format(value, "f")
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


def draft_dict(draft: Draft) -> dict[str, Any]:
    """The draft as JSON-ready data."""
    return {
        "language": draft.language,
        "fields": {
            name: {"value": f.value, "evidence": f.evidence, "confidence": f.confidence}
            for name, f in draft.fields.items()
        },
        "missing": draft.missing,
        "notes": draft.notes,
    }

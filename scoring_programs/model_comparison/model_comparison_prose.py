"""Which model a conclusion ships, read from natural prose.

A decision is a model named next to a decision word (ship, deploy, choose, recommend, go with, ...) in a
clause that is neither negated ("do not ship model_A") nor hypothetical ("shipping model_A for its accuracy
would rank the queue worse", "if we chose model_A ..."). Models named as the loser ("over model_A", "rather
than model_A", "not model_A") are set aside first, and parentheses and relative clauses (", which ...,") are
dropped, so an aside never counts as the decision. Naming both models as decisions is no decision.
"""
from __future__ import annotations

import bisect
import html
import re

MODEL = re.compile(r"(?<![A-Za-z0-9])(?i:model)(?:[_-]?([AaBb])|\s+([AB]))(?![A-Za-z0-9])")
TOKEN = re.compile(r"\bmodel_([AB])\b")
CUE = re.compile(r"(?i)\b(?:ship\w*|deploy\w*|choos\w*|chose\w*|choice|pick\w*|select\w*|recommend\w*|"
                 r"go(?:es|ing)?\s+with|went\s+with|opt(?:s|ed|ing)?\s+for|stick(?:s|ing)?\s+with|"
                 r"settl\w+\s+on|adopt\w*|roll\w*\s+out|launch\w*|releas\w*|promot\w*|production|"
                 r"in\s+favou?r\s+of|prefer\w*|decision|verdict)")
# "Decision: model_B." A label, then the model alone.
LABEL = re.compile(r"(?i)\b(?:decision|verdict|recommendation|conclusion|choice|chosen(?:[\s_]model)?|"
                   r"selected(?:[\s_]model)?|recommended(?:[\s_]model)?|model\s+to\s+(?:ship|deploy)|winner|"
                   r"ship|deploy)\s*(?:[:=\u2192]|is)\s*(?:the\s+)?model_([AB])(?=\s*(?:[.,;!]|$))")
LOSER = re.compile(r"(?i)\b(?:not|rather\s+than|instead\s+of|over|than|vs\.?|versus|against|from|unlike|nor|"
                   r"except|beats?|outperform\w*)\s+(?:the\s+|to\s+)?model_[AB]\b")
ASIDE = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|,\s*(?:which|who|whose|although|though|even\s+though|while)\b[^,.;]*,")
CLAUSE = re.compile(r"(?i)[:;]|\s[\u2013\u2014-]\s|,?\s+\b(?:but|whereas|while|although|though|because|since|"
                    r"which|whose|however|yet|so\s+that|unlike)\b")
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
NEGATION = re.compile(r"(?i)\b(?:not|never|no|cannot|avoid\w*|against|reject\w*|rule\w*\s+out|drop\w*|"
                      r"discard\w*|retir\w*)\b|n't\b")
# A clause about what is not being decided: a condition, a counterfactual, the status quo, a naive pick.
HYPOTHETICAL = re.compile(r"(?i)\b(?:if|unless|(?:were|had)\s+(?:we|i|they|it|the\s+team)|could|might|"
                          r"otherwise|hypothetical\w*|suppose\w*|naive\w*|tempt\w*|at\s+first\s+glance|"
                          r"previously|incumbent|used\s+to|(?:currently|already)\s+(?:deployed|in\s+production|"
                          r"shipped|live)|by\s+accuracy|on\s+accuracy|accuracy\s+alone|"
                          r"(?:for|on|by)\s+(?:its|their|the)\s+(?:higher\s+|better\s+)?accuracy|"
                          r"accuracy\s+(?:prefers|favou?rs|picks|chooses|selects))\b")
WOULD = re.compile(r"(?i)\b(?:would|wouldn't)\b")
WE_WOULD = re.compile(r"(?i)\b(?:i|we)\s+would\b(?!\s+not)|\b(?:i|we)'d\b|\bwould\s+(?:recommend|suggest|advise)\b")
MAX_TEXT = 20_000  # characters of a cell read (its end): a conclusion is not longer
MAX_CLAUSE = 1_500  # longer "clauses" are tables or dumps, not prose (and would cost quadratic time)
MAX_NESTING = 5
WINDOW = 10  # words between a decision word and the model it governs
STRONG = 3  # at most this many words between: a strong link, which outweighs the others
NEGATION_REACH = 3  # words before a decision word that can negate it ("we do not ship")


def normalise(text: str) -> str:
    """Plain text with every model named model_A or model_B: no HTML, no markdown emphasis, no asides."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("\u2019", "'")
    text = re.sub(r"[*`#>|\"]+", " ", re.sub(r"[-=]>", "\u2192", text))
    text = MODEL.sub(lambda m: f"model_{(m.group(1) or m.group(2)).upper()}", text)
    for _ in range(MAX_NESTING):  # nested asides, innermost first
        text, removed = ASIDE.subn(" ", text)
        if not removed:
            break
    return text


def _negated(clause: str, cue: re.Match, mention: re.Match) -> bool:
    """A negation between the decision word and the model, or just before the decision word."""
    start, end = sorted((cue.start(), mention.start()))
    before = " ".join(clause[:cue.start()].split()[-NEGATION_REACH:])
    return bool(NEGATION.search(clause[start:end]) or NEGATION.search(before))


def _hypothetical(clause: str) -> bool:
    if HYPOTHETICAL.search(clause):
        return True
    return bool(WOULD.search(clause)) and not WE_WOULD.search(clause)


def _link(clause: str, cue: re.Match, mention: re.Match) -> int | None:
    """Words between a decision word and a model it governs, or None when it does not govern it."""
    if cue.start() < mention.start():  # "we ship model_B", "the model to deploy is model_B"
        between = clause[cue.end():mention.start()]
        blocked = re.search(r"(?i),\s*and\b|\bwhere\b", between)
    else:  # "model_B should be shipped", not "model_A is accurate, and we ship ..." (another clause's subject)
        between = clause[mention.end():cue.start()]
        blocked = re.search(r"(?i),|\b(?:and|so|then)\s+(?:we|i|you|they|the\s+team)\b", between)
    words = len(between.split())
    if blocked or words > WINDOW or _negated(clause, cue, mention):
        return None
    return words


def clause_decisions(clause: str) -> dict[str, bool]:
    """The models this clause ships, each with whether the link is strong (a decision word next to it)."""
    clause = re.sub(r",\s*set-aside\s*,", " set-aside ", LOSER.sub(" set-aside ", clause))
    if len(clause) > MAX_CLAUSE or _hypothetical(clause):
        return {}
    starts = [word.start() for word in re.finditer(r"\S+", clause)]
    cues = [(bisect.bisect_right(starts, cue.start()), cue) for cue in CUE.finditer(clause)]
    shipped: dict[str, bool] = {}
    for mention in TOKEN.finditer(clause):
        at = bisect.bisect_right(starts, mention.start())
        links = [words for where, cue in cues  # only the decision words near it: linear time, not quadratic
                 if abs(where - at) <= WINDOW + 2 and (words := _link(clause, cue, mention)) is not None]
        if links:
            model = f"model_{mention.group(1)}"
            shipped[model] = shipped.get(model, False) or min(links) <= STRONG
    return shipped


def decisions(text: str) -> set[str]:
    """The models the text ships: those named next to a decision word (or after a label such as
    "Decision:") if any, else those named further from one. More than one means it decides nothing."""
    strong, weak = set(), set()
    for sentence in SENTENCE.split(normalise(text[-MAX_TEXT:])):
        strong |= {f"model_{letter}" for letter in LABEL.findall(sentence)}
        for clause in CLAUSE.split(LABEL.sub(" ", sentence)):
            for model, is_strong in clause_decisions(clause).items():
                (strong if is_strong else weak).add(model)
    return strong or weak

"""Reading the markdown body of spec.md as prose: sections and their topics, units (sentences, bullets, table rows),
numbers written in digits or words, durations, percentages and negation. Pure functions, standard library only.

Claims are graded where they are written: a unit knows its section's heading, so a number under "Constraints"
and the same number in a line of unrelated tokens are told apart by the rubric.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BODY_CHARS = 100_000  # a one-page spec is about 5,000 characters; what lies beyond is not read

# A heading's words → the topics of its section (a heading may have several: "Data and leakage").
SECTION_TOPICS = {
    "problem": r"problem|goal|objective|context|background|overview|summary|business|motivation|purpose|use case",
    "target": r"target|label|definition|outcome|what we predict|prediction",
    "inputs": r"input|feature|data|signal|predictor|source",
    "metrics": r"metric|evaluat|success|measure|validation|kpi",
    "constraints": r"constraint|serving|deploy|requirement|operation|production|engineering|latency|sla\b",
    "risks": r"risk|leak|pitfall|caveat|concern|limitation|open question|assumption|mitigation|failure mode",
    "leakage": r"leak",
}
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
BOLD_HEADING = re.compile(r"^\s{0,3}(?:\*\*|__)([^*_\n]{1,60}?)(?:\*\*|__)\s*:?\s*$")  # '**Target**' on its own line
BULLET = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
TABLE_ROW = re.compile(r"^\s*\|(.*)$")
TABLE_RULE = re.compile(r"^[\s|:\-]+$")
ABBREVIATIONS = re.compile(r"\b(e\.g|i\.e|etc|vs|approx|incl|cf|resp|min|max|avg|no)\.", re.IGNORECASE)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
CLAUSE_BREAK = re.compile(r";|\s(?:but|whereas|while|however|although|though)\s")
# English function words: prose has them, a line of tokens or lorem ipsum does not ("in", "do" and "id" are Latin too).
FUNCTION_WORDS = frozenset(
    "the a an of to is are was were be been being we our us for with and or by on that this these those it its as "
    "from not no each per at before after when which who whose their they them will would can could only than into "
    "over under every all any if so but has have had what how why then must should may might within without most "
    "least because since until once also more less there here".split())
NEGATIONS = frozenset("not no never n't without nor none neither cannot".split())

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen").split()
NUMBER_WORDS = {word: value for value, word in enumerate(_UNITS)}
NUMBER_WORDS.update({word: 10 * (i + 2) for i, word in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())})
SCALE_WORDS = {"hundred": 100, "thousand": 1000}
_ANY_NUMBER_WORD = "|".join(sorted([*NUMBER_WORDS, *SCALE_WORDS], key=len, reverse=True))
NUMBER_RUN = re.compile(rf"\b(?:a\s+(?=hundred|thousand))?(?:{_ANY_NUMBER_WORD})\b"
                        rf"(?:[\s-]+(?:and[\s-]+)?(?:{_ANY_NUMBER_WORD})\b)*")

# '14 days', '14-day', '7, 10 or 14 days' (every number of a list takes the unit at its end)
DURATION = re.compile(r"(?<![\w.])((?:\d+(?:\.\d+)?\s*(?:,\s*|\s+or\s+|\s+and\s+|\s*/\s*)){0,6}"
                      r"\d+(?:\.\d+)?)\+?\s*-?\s*"
                      r"(?:consecutive\s+|calendar\s+|straight\s+|full\s+|whole\s+)?(days?|d\b|weeks?|wks?\b|months?)")
DURATION_WORDS = {"fortnight": 14, "a month": 30, "(?:next|following|coming) month": 30}
MILLISECONDS = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(ms|msec|millisecond|milliseconds|s|sec|secs|second|seconds)\b")
MEGABYTES = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(mb|mib|megabytes?|gb|gib|gigabytes?)\b")
PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:%|percent\b|per cent\b|pct\b)")
ONE_IN = re.compile(r"(?<![\w.])(\d+)\s+(?:in|out of)\s+(?:every\s+)?(\d+)\b")
FRACTION = re.compile(r"(?<![\w.])(0?\.\d+)(?![\w%]|\.\d)")
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?!\w|\.\d)")
SHINGLE = 5  # tokens in a run shared with the brief: a copied sentence shares many, a paraphrase few
IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
WORD = re.compile(r"[a-z][a-z'’-]*")


@dataclass(frozen=True)
class Unit:
    """One sentence, bullet or table row of the body, with the section it sits in."""
    text: str  # as written, markdown marks removed (shown in the report)
    norm: str  # lower case, numbers in digits (what the rubric matches)
    heading: str  # its section's heading, '' before the first
    topics: frozenset  # its section's topics

    def clauses(self) -> list[str]:
        return [part.strip() for part in CLAUSE_BREAK.split(self.norm) if part.strip()]


@dataclass(frozen=True)
class Section:
    heading: str
    level: int
    topics: frozenset
    units: tuple


def heading_topics(heading: str) -> frozenset:
    lowered = heading.lower()
    return frozenset(topic for topic, pattern in SECTION_TOPICS.items() if re.search(pattern, lowered))


def strip_non_prose(body: str) -> str:
    """The body without HTML comments and fenced code: text nobody reads as the spec's prose."""
    kept, position = [], 0
    while True:  # a scan, not a regex: a body of many '<!--' and no '-->' stays linear
        start = body.find("<!--", position)
        if start < 0:
            kept.append(body[position:])
            break
        kept.append(body[position:start])
        end = body.find("-->", start + 4)
        if end < 0:
            break
        position = end + 3
    lines, fenced = [], False
    for line in "".join(kept).splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return "\n".join(lines)


def clean_markdown(text: str) -> str:
    text = re.sub(r"!?\[([^\]\n]{0,500})\]\([^)\n]{0,500}\)", r"\1", text)  # links and images: their text
    text = re.sub(r"<[^<>\n]{0,200}>", " ", text)  # inline HTML tags
    return re.sub(r"\s+", " ", text.replace("`", "").replace("**", "").replace("*", "")).strip()


def _number_value(tokens: list[str]) -> int:
    total, current = 0, 0
    for token in tokens:
        if token in SCALE_WORDS:
            if token == "thousand":
                total, current = total + max(current, 1) * 1000, 0
            else:
                current = max(current, 1) * 100
        else:
            current += NUMBER_WORDS[token]
    return total + current


def _joins(previous: str | None, token: str) -> bool:
    """Whether `token` continues the number before it: 'seven hundred', 'hundred and fifty', 'twenty one'."""
    if previous is None:
        return False
    if token == "and":
        return previous in SCALE_WORDS
    if previous == "and" or token in SCALE_WORDS or previous in SCALE_WORDS:
        return True
    tens = NUMBER_WORDS.get(previous, 0)
    return tens >= 20 and tens % 10 == 0 and NUMBER_WORDS.get(token, 10) < 10


def _words_to_digits(match: re.Match) -> str:
    """'seven hundred and fifty' → '750'; 'seven and ten' → '7 and 10' (a run only joins what makes one number)."""
    groups, previous = [], None
    for token in (t for t in re.findall(r"[a-z]+", match.group(0).lower()) if t != "a"):
        if not _joins(previous, token):
            groups.append([])
        if token != "and":
            groups[-1].append(token)
        previous = token
    return " and ".join(str(_number_value(group)) for group in groups if group)


def normalise(text: str) -> str:
    """Lower case, numbers in digits ('fourteen' → '14', '1,000' → '1000'), dashes and comparison signs plain."""
    text = text.lower().replace("’", "'").replace("\u2013", "-").replace("\u2014", " - ").replace("\u2212", "-")
    text = text.replace("≤", " at most ").replace("<=", " at most ").replace("≥", " at least ")
    text = text.replace("\u00a0", " ")
    text = NUMBER_RUN.sub(_words_to_digits, text)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return re.sub(r"\s+", " ", text).strip()


def split_sentences(text: str) -> list[str]:
    protected = ABBREVIATIONS.sub(lambda m: m.group(1).replace(".", ""), text)
    return [part.strip() for part in SENTENCE_END.split(protected) if part.strip()]


def table_row_text(row: str) -> str | None:
    if TABLE_RULE.match(row):
        return None
    cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
    cells = [cell for cell in cells if cell]
    if not cells:
        return None
    return cells[0] + (": " + ", ".join(cells[1:]) if len(cells) > 1 else "")  # the first cell names the field


def _units_of(text: str, heading: str, topics: frozenset, split: bool = True) -> list[Unit]:
    parts = split_sentences(clean_markdown(text)) if split else [clean_markdown(text)]
    return [Unit(part, normalise(part), heading, topics) for part in parts if part]


def read_sections(body: str) -> list[Section]:
    """The body as sections (the text before the first heading is a section with no heading), each a list of units."""
    sections: list[tuple[str, int, list[Unit]]] = [("", 0, [])]
    paragraph: list[str] = []

    def flush():
        heading, _, units = sections[-1]
        if paragraph:
            units.extend(_units_of(" ".join(paragraph), heading, heading_topics(heading)))
            paragraph.clear()

    for line in strip_non_prose(body[:MAX_BODY_CHARS]).splitlines():
        heading = HEADING.match(line) or BOLD_HEADING.match(line)
        row, bullet = TABLE_ROW.match(line), BULLET.match(line)
        if heading or row or bullet or not line.strip():
            flush()
        if heading:
            title, level = heading.groups()[-1], len(heading.group(1)) if heading.re is HEADING else 4
            sections.append((clean_markdown(title), level, []))
        elif row:
            text = table_row_text(row.group(1))
            if text:
                title = sections[-1][0]
                sections[-1][2].extend(_units_of(text, title, heading_topics(title), split=False))
        elif bullet:
            paragraph.append(bullet.group(1))
        elif line.strip():
            paragraph.append(line.strip())
    flush()
    return [Section(title, level, heading_topics(title), tuple(units)) for title, level, units in sections]


# --- what a unit says --------------------------------------------------------------------------------

def words(norm: str) -> list[str]:
    return WORD.findall(IDENTIFIER.sub(" ", norm))


def is_prose(unit: Unit) -> bool:
    """A sentence of English: at least 4 words, some of them function words (not tokens, not lorem ipsum)."""
    found = words(unit.norm)
    return len(found) >= 4 and sum(word in FUNCTION_WORDS for word in found) >= 1


def is_keyword_list(unit: Unit) -> bool:
    """'leakage, drift, feedback, imbalance, cold start': five or more items and (almost) no function word."""
    items = [item for item in re.split(r"[,;]", unit.norm) if item.strip()]
    found = words(unit.norm)
    return len(items) >= 5 and sum(word in FUNCTION_WORDS for word in found) < 0.15 * max(len(found), 1)


def tokens(norm: str) -> list[str]:
    return re.findall(r"[a-z0-9@%]+", norm)


def shingles(norm: str, size: int = SHINGLE) -> set[tuple]:
    found = tokens(norm)
    return {tuple(found[i:i + size]) for i in range(len(found) - size + 1)}


def copied_share(norm: str, source: set[tuple], size: int = SHINGLE) -> float:
    """Share of a unit's tokens inside a run of `size` tokens that also appears in the source text."""
    found = tokens(norm)
    covered = [False] * len(found)
    for i in range(len(found) - size + 1):
        if tuple(found[i:i + size]) in source:
            covered[i:i + size] = [True] * size
    return sum(covered) / len(found) if found else 0.0


def negated_before(norm: str, start: int, span: int = 3) -> bool:
    """Whether one of the `span` words before position `start` negates what follows ('is not a leak')."""
    before = re.findall(r"[a-z']+", norm[max(0, start - 60):start])[-span:]
    return any(word in NEGATIONS or word.endswith("n't") for word in before)


def durations(norm: str) -> list[float]:
    """Every duration stated, in days: '14 days', '14-day', 'two weeks', 'a fortnight', 'one month' (30 days)."""
    found = []
    for match in DURATION.finditer(norm):
        unit = match.group(2)
        factor = 7 if unit.startswith("w") else 30 if unit.startswith("month") else 1
        found.extend(float(value) * factor for value in re.findall(r"\d+(?:\.\d+)?", match.group(1)))
    found.extend(days for phrase, days in DURATION_WORDS.items() if re.search(rf"\b{phrase}\b", norm))
    return found


def milliseconds(norm: str) -> list[float]:
    return [float(v) * (1 if u.startswith("m") else 1000) for v, u in MILLISECONDS.findall(norm)]


def megabytes(norm: str) -> list[float]:
    return [float(v) * (1 if u.startswith("m") else 1000) for v, u in MEGABYTES.findall(norm)]


def rates(norm: str) -> list[float]:
    """Shares stated as a percentage, a fraction of one or 'N in M' (6%, 0.06, six percent, 1 in 17), in [0, 1]."""
    found = [float(v) / 100 for v in PERCENT.findall(norm)]
    found += [float(a) / float(b) for a, b in ONE_IN.findall(norm) if float(b) > 0]
    found += [float(v) for v in FRACTION.findall(norm)]
    return [value for value in found if 0 <= value <= 1]


def numbers(norm: str) -> list[float]:
    return [float(value) for value in NUMBER.findall(norm)]


def same(value: float, expected: float, tolerance: float = 0.01) -> bool:
    return abs(value - expected) <= tolerance * max(abs(expected), 1e-9)

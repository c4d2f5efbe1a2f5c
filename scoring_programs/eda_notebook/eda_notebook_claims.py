"""What a notebook's text claims about the data: which problem it asserts for which column, and the positive rate.

Text is read sentence by sentence (markdown cells, and each cell's printed and displayed text). A sentence claims
a problem when it holds a word of the problem's vocabulary (synonyms and phrasings: "unbalanced", "only 1 unique
value", "std = 0", "69% NaNs", "highly correlated") that is neither negated ("no missing values", "is not
constant") nor conditional ("if a column were constant"). A line under a heading ("Missing values per column:",
"## Constant columns") that names columns without a problem word takes the heading's problems, so a printed table
under a heading counts as well as a sentence. A sentence that names 4 columns or more is a table header or a dump,
not a claim about each of them (unless each has its own part: "x (constant), y (69% missing), ...").
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field

from programlib.notebooks import Notebook

MAX_NAMED = 3  # a claim names at most 3 columns (the near-duplicate pair, and one more)
MAX_TEXT, MAX_LINE = 200_000, 2_000  # characters read of an output, of a line
BUDGET, LINE_BUDGET = 1_000_000, 20_000  # characters and lines read of the whole notebook (time)
MAX_INHERITED_NUMBERS = 3  # a row under a heading with more numbers is a matrix row (correlations), not a finding
NEGATION_WINDOW = 5  # words before a problem word, in its clause, that can negate it
NUMBER = r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
ZERO_STD = r"\s*(?:=|:|is|of|==)?\s*0(?:\.0+)?(?![\d.])"
DUPLICATE_WORDS = (
    r"duplicat|redundan|collinear|(?:near(?:ly)?|almost|virtually|essentially)[- ]identical|identical (?:to|with)"
    r"|near[- ]?cop|\bcop(?:y|ies)\b|same information|proportional|linearly (?:dependent|related)"
    r"|linear (?:function|transform\w*|combination|rescaling|copy) of")
STRONGLY_CORRELATED = (r"\b9\d(?:\.\d+)?\s*%\s*correlat|(?:highly|strongly|perfectly|extremely|almost perfectly"
                       r"|nearly perfectly) (?:linearly |positively )?correlat")
VOCABULARY = {
    "imbalance": (
        r"imbalanc|unbalanc|not (?:well[- ])?balanced|n't balanced|class balance|class ratio|minority|majority class"
        r"|\brare\b|\bpositives?\b|prevalence|base rate|event rate"
        r"|skew\w* (?:label|target|class)|(?:label|target|class)\w* (?:is |are )?(?:heavily |highly |very )?skew"
        r"|\b(?:only|just|merely)\b[^.;]*\b(?:label|target|class)\b"),
    "constant": (
        r"constant|zero[- ]variance|no variance|(?:zero|no) variation|(?:single|one|1) (?:unique |distinct )?value"
        r"|same value|never (?:varies|changes)|does(?: not|n't) (?:vary|change)|invariant|uninformative|degenerate"
        r"|all (?:the |its )?values (?:are )?(?:the same|identical|equal)|cardinality\s*(?:of|=|:|is)?\s*1(?![\d.])"
        rf"|\bstd\w*{ZERO_STD}|standard deviation{ZERO_STD}|\bvariance{ZERO_STD}"
        r"|nunique\w*\s*(?:==?|:|is|of)?\s*1(?![\d.])"
        r"|(?:unique|distinct) values?\s*(?:=|:)\s*1(?![\d.])"),
    "missing": (r"missing|\bnulls?\b|\bnans?\b|\bn/a\b|\bna values|empty|blank|absent|not (?:available|recorded)"
                r"|incomplete|sparse|\bgaps?\b"),
    "duplicate": f"{DUPLICATE_WORDS}|{STRONGLY_CORRELATED}",
}
NOT_A_PROBLEM_WORD = re.compile(r"non[- ]?null|not[- ]?null|notna|notnull", re.I)  # df.info() prints "non-null"
NEGATION = re.compile(r"\b(?:no|not|none|never|without|nor|neither|zero|free of)\b|n't\b", re.I)
NEGATION_AFTER = re.compile(r"^\s*[:=?-]\s*(?:none|no)\b", re.I)  # "missing: none", "duplicates: no"
CONDITIONAL = re.compile(r"\b(?:if|whether|unless)\b", re.I)
CLAUSE = re.compile(r"[,;:()\[\]|]|\b(?:and|but|while|whereas)\b", re.I)  # the scope of a negation
PART = re.compile(r",|\b(?:but|while|whereas|apart from|except)\b", re.I)  # "x is 71% missing, y has none"
ALL_WORDS = "|".join(f"(?:{words})" for words in VOCABULARY.values())
# Sentence ends; the last: the next key of a printed dict ({'constant': [...], 'heavy_missing': [...]}).
SENTENCE_END = re.compile(r"(?<!\d)[.!?](?=\s|$)|;|\s[—–]\s|,\s*(?=['\"][\w -]{1,40}['\"]\s*:)")
CORRELATION = re.compile(rf"\b(?:corr\w*|r|rho|ρ|pearson)\b\W{{0,3}}(?:=|:|of|is|≈|~)?\s*({NUMBER})", re.I)
# A heading over the label's classes (value_counts, its index name alone): the lines below give its shares.
LABEL_HEADING = r"(?:class|label|target)\w*\s+(?:distribution|balance|counts?|proportions?|shares?|frequenc)"
CLASS_ROW = re.compile(r"^\s*(?:0|1)(?:\.0)?\s+\S")  # "1    0.0300": a class and its count or share


@dataclass
class Sentence:
    text: str
    kinds: set[str]  # problems it asserts
    columns: list[str]  # feature columns it names
    inherited: bool = False  # its problems come from the heading above it
    claims: dict[str, set[str]] = field(default_factory=dict)  # column → the problems asserted of it


def without_element(text: str, tag: str) -> str:
    """The text without <tag>...</tag> elements (pandas' <style> block), in one pass (no regex backtracking)."""
    lower, kept, position = text.lower(), [], 0
    while (start := lower.find(f"<{tag}", position)) >= 0:
        kept.append(text[position:start])
        end = lower.find(f"</{tag}>", start)
        position = len(text) if end < 0 else end + len(tag) + 3
    return " ".join(kept + [text[position:]])


def html_to_text(text: str) -> str:
    """A displayed HTML table or paragraph as lines of text: one line per row, cells apart."""
    text = without_element(without_element(text, "style"), "script")
    text = re.sub(r"\s*\n\s*", " ", text)  # a row's cells are on lines of their own in the HTML
    text = re.sub(r"(?i)</t[dh]>", "  ", text)
    text = re.sub(r"(?i)<br\s*/?>|</(?:tr|p|li|div|h\d)>", "\n", text)
    return html.unescape(re.sub(r"<[^<>]*>", " ", text))


def blocks(book: Notebook) -> list[str]:
    """Markdown cells, and per code cell its text outputs (one block: a heading printed before a table counts)
    with its HTML outputs as text apart."""
    found = []
    for cell in book.cells:
        if cell.kind == "markdown":
            found.append(cell.source)
        elif cell.kind == "code":
            outputs = [text[:MAX_TEXT] for text in cell.text_outputs]
            found.append("\n".join(text for text in outputs if not text.lstrip().startswith("<")))
            found += [html_to_text(text) for text in outputs if text.lstrip().startswith("<")]
    return [block for block in found if block.strip()]


def mentions(name: str) -> re.Pattern:
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


def asserted(masked: str, match: re.Match) -> bool:
    """A problem word that the words just before it in its clause (or right after it) do not negate, in no
    conditional. `masked` is the sentence with every problem phrase blanked: a negation inside a phrase ("no
    variance", "does not vary") belongs to the phrase."""
    before = masked[max(0, match.start() - 200):match.start()]  # a sentence's words before it, bounded (time)
    window = " ".join(re.findall(r"[\w']+", CLAUSE.split(before)[-1])[-NEGATION_WINDOW:])
    return not (NEGATION.search(window) or NEGATION_AFTER.search(masked[match.end():]) or CONDITIONAL.search(before))


def strong_correlation(text: str) -> bool:
    """'corr = 0.998', 'r=0.99', 'the correlation of x and y is 0.9991': a correlation of at least 0.95."""
    if any(0.95 <= abs(float(m.group(1))) <= 1.0 for m in CORRELATION.finditer(text)):
        return True
    return bool(re.search(r"corr", text, re.I)) and any(0.95 <= abs(v) < 1.0 for v in numbers(text))


def words_of(text: str, names: list[str] = ()) -> str:
    """The text as problem words are looked for in it: column names blanked (they are no words), "non-null"
    dropped, underscores as spaces ("positive_rate", "near_duplicates"); positions kept."""
    for name in names:
        text = mentions(name).sub(lambda m: " " * len(m.group(0)), text)
    return NOT_A_PROBLEM_WORD.sub(lambda m: " " * len(m.group(0)), text).replace("_", " ")


def kinds_in(text: str, label: str, names: list[str] = ()) -> set[str]:
    """The problems a sentence asserts; `names` are the columns it names."""
    cleaned = words_of(text, names)
    masked = re.sub(ALL_WORDS, lambda m: " " * len(m.group(0)), cleaned, flags=re.I)
    kinds = {kind for kind, words in VOCABULARY.items()
             if any(asserted(masked, match) for match in re.finditer(words, cleaned, re.I))}
    if strong_correlation(cleaned):
        kinds.add("duplicate")
    about_label = mentions(label).search(text) or re.search(r"\btarget\b", text, re.I)
    if about_label and not re.search(DUPLICATE_WORDS, cleaned, re.I):
        kinds.discard("duplicate")  # "x is highly correlated with the label": no duplicate column
    return kinds


def column_claims(text: str, columns: list[str], kinds: set[str], label: str) -> dict[str, set[str]]:
    """What the sentence asserts of each column: the problems of the part of it that names the column when that
    part has problem words of its own ("x is 71% missing, y has no missing values"), else the sentence's, unless
    the sentence names more than MAX_NAMED columns: then it is a table header or a dump, no claim about each."""
    claims = {}
    for column in columns:
        part = next((p for p in PART.split(text) if mentions(column).search(p)), text)
        if part != text and re.search(ALL_WORDS, words_of(part, columns), re.I):
            claims[column] = kinds_in(part, label, columns)
        else:
            claims[column] = set(kinds) if len(columns) <= MAX_NAMED else set()
    return claims


def is_heading(line: str, columns: list[str]) -> bool:
    stripped = line.strip()
    return not columns and (stripped.endswith(":") or stripped.startswith("#") or bool(
        re.fullmatch(r"\*\*[^*]+\*\*:?", stripped)))


def sentences(block: str, features: list[str], label: str) -> list[Sentence]:
    """The block's sentences with the problems they assert; lines under a heading inherit its problems."""
    patterns = [(name, mentions(name)) for name in features]
    found, context = [], set()
    for line in block.splitlines():
        line = line[:MAX_LINE]
        named = [name for name, pattern in patterns if pattern.search(line)]
        if is_heading(line, named) or line.strip() == label:
            context = kinds_in(line, label)
            if line.strip() == label or re.search(LABEL_HEADING, line, re.I):
                context.add("label shares")
            continue
        if "label shares" in context and not CLASS_ROW.match(line):
            context = context - {"label shares"}  # the class rows are over (describe() wraps a lone "label")
        for text in SENTENCE_END.split(line):
            columns = [name for name, pattern in patterns if pattern.search(text)]
            kinds = kinds_in(text, label, columns)
            inherits = not kinds and len(numbers(text)) <= MAX_INHERITED_NUMBERS
            kinds = kinds or (set(context) if inherits else set())
            if kinds or columns or numbers(text):
                found.append(Sentence(text.strip(), kinds, columns, inherits and bool(context),
                                      column_claims(text, columns, kinds, label)))
    return found


def numbers(text: str) -> list[float]:
    values = []
    for match in re.finditer(NUMBER, text.replace(",", "")):
        try:
            value = float(match.group(0))
        except (ValueError, OverflowError):
            continue
        values += [value] if math.isfinite(value) else []
    return values


def all_sentences(book: Notebook, features: list[str], label: str) -> list[Sentence]:
    """The notebook's sentences, block by block, up to BUDGET characters (a notebook printing megabytes of text
    is read in its first megabyte)."""
    found, budget, lines = [], BUDGET, LINE_BUDGET
    for block in blocks(book):
        block = "\n".join(block[:budget].splitlines()[:lines])
        found += sentences(block, features, label)
        budget, lines = budget - len(block), lines - block.count("\n") - 1
        if budget <= 0 or lines <= 0:
            break
    return found

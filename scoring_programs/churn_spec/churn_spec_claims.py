"""What the body of a spec claims, unit by unit: about the target, leakage, metrics, constraints and risks.

A claim counts where it is made: in a unit (sentence, bullet, table row) about its subject, either by the
unit's own words or by its section's heading. A unit that lists values of three or more rubric items at once
(a line of tokens: '30 days 150 ms 100 MB weekly ROC AUC precision@750') is no claim about any of them.
Every finder returns the units it relied on, so the report can quote them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from churn_spec_text import (FUNCTION_WORDS, Section, Unit, copied_share, durations, is_keyword_list, is_prose,
                             megabytes, milliseconds, negated_before, normalise, numbers, rates, same, shingles,
                             tokens, words)

CHURN_CUE = re.compile(r"churn|\blabel|target|positive class|attrition|lapse")
EVENT_CUES = {
    "inactivity": re.compile(
        r"no (?:app |web |new |single )?(?:session|visit|activity|login|log-in|use\b)|inactiv|zero sessions|"
        r"(?:do|does|did|will)(?: not|n't) (?:start|open|use|log|visit|return|come back)|no (?:row|record|event)s? in|"
        r"without (?:\w+ ){0,2}(?:a |any |single )?(?:session|visit|activity|login)|"
        r"stop(?:s|ped)? (?:using|visiting|opening)|"
        r"absence of (?:any )?(?:session|activity)|0 sessions|not (?:start|open)(?:ed|s)? (?:a |any )?session"),
    "cancellation": re.compile(r"cancel"),
}
NUANCE_CUES = {
    "inactivity": re.compile(r"consecutive|in a row|straight|continuous|uninterrupted|app or (?:the )?web|"
                             r"web or (?:the )?app|app and (?:the )?web|any (?:platform|device|session|channel)|"
                             r"either (?:platform|the app)|across (?:app|platforms|devices)|all platforms"),
    "cancellation": re.compile(r"paus|re-?activat|re-?subscri|undo|undone|come back|comes back|win-?back|restart"),
}
PAUSE_NOT_CHURN = re.compile(r"not (?:a )?churn|n't (?:a )?churn|not count|n't count|no churn|excluded|still active|"
                             r"not churned|never churn|is not|are not|isn't|aren't|does not|do not")
HORIZON_CUE = re.compile(r"next|ahead|horizon|within|following|coming|future|after the|over the|window|\d+-day|"
                         r"churn|predict")
RETRAIN_CUE = re.compile(r"retrain|re-train|refresh|re-?fit|retrained|model updates?|update the model|cadence|"
                         r"training (?:schedule|job|pipeline|run)|trained|re-?estimat")
CADENCES = {
    "daily": re.compile(r"\bdaily\b|every (?:day|night)|each (?:day|night)|nightly|once (?:a|per) day|every 24 ?h"),
    "weekly": re.compile(r"\bweekly\b|every (?:week|monday|sunday)|each week|once (?:a|per) week|every 7 days"),
    "monthly": re.compile(r"\bmonthly\b|every month|each month|once (?:a|per) month|every 30 days"),
}
FAMILIES = {  # the order matters: PR AUC is read (and removed) before the plain AUC it contains
    "pr_auc": r"pr[\s_-]*auc|auc[\s_-]*pr\b|auprc|average[\s_-]precision|area under (?:the )?precision|"
              r"precision[\s-]recall (?:auc|curve|area)|\bap\b",
    "roc_auc": r"roc[\s_-]*auc|auc[\s_-]*roc|auroc|area under (?:the )?(?:roc|receiver)|\bauc\b|\broc\b|gini",
    "accuracy": r"\baccuracy\b", "f1": r"\bf1\b|f-?score|f-?measure|\bf-?beta\b",
    "log_loss": r"log[\s_-]*loss|cross-?entropy|brier|logloss", "lift": r"\blift\b",
    "mcc": r"\bmcc\b|matthews", "specificity": r"specificity|true negative rate",
}
RANKING = {"roc_auc", "pr_auc"}
PRECISION = re.compile(r"precision|hit[\s-]rate|positive predictive|\bppv\b|how many of (?:those|the|them|these)|"
                       r"(?:share|fraction|proportion|percentage|rate) of (?:the |those )?(?:\d+ )?(?:contacted|"
                       r"flagged|selected|top|users (?:we )?contact)")
RECALL = re.compile(r"recall|sensitivity|true positive rate|\btpr\b|capture rate|(?:share|fraction|proportion|"
                    r"percentage|number) of (?:all )?(?:the )?(?:actual )?churners|"
                    r"how many of (?:all )?(?:the )?churners"
                    r"|churners (?:we |they |the team )?(?:reach|catch|capture|find)")
NOT_AT_K = re.compile(r"average[\s_-]precision|precision[\s-]recall|area under")
METRIC_CUE = re.compile(r"metric|measur|evaluat|score|report|track|compare|primary|secondary|monitor|kpi|optimi")
METRIC_CONTEXT = re.compile(METRIC_CUE.pattern + r"|precision|recall|auc|hit[\s-]rate")
PRIMARY_CUE = re.compile(r"primary|main|headline|overall|single|north star|compare models|model selection|key metric")
AT_CUTOFF = re.compile(r"(?:precision|recall)\s*(?:@|_at_|\s+at\s+(?:the\s+)?(?:top[\s-]*)?|\s+in\s+the\s+top\s+)"
                       r"(k\b|\d+)")
IMBALANCE = re.compile(r"imbalanc|unbalanc|rare|minority|skew|few (?:users|churners|positives)|"
                       r"most users (?:do not|don't|never|stay)|"
                       r"(?:small|low) (?:share|fraction|proportion|percentage|base rate|positive rate)")
BASE_RATE_CUE = re.compile(r"base rate|prevalence|churn|positive|class|imbalanc|leave|lapse|quit|attrition")
VALIDATION_CUE = re.compile(r"validat|evaluat|hold-?out|holdout|test|split|backtest|offline|compare|measured|cross")
TIME_SPLIT = re.compile(
    r"time-?based|out-?of-?time|chronolog|temporal|split by (?:time|date|month|week|scoring date)|"
    r"(?:hold-?out|holdout|validation|test|later|latest|most recent|last|future|subsequent|following|unseen) "
    r"(?:\d+ )?(?:month|week|period|cohort|window|quarter)s?|backtest|walk-?forward|rolling|forward-?chaining|"
    r"train(?:ed|ing)? on (?:earlier|past|older|the first)|(?:earlier|past|older) (?:months|weeks|periods)|"
    r"(?:validat|evaluat|test|score)\w* on (?:a |the )?(?:next|following|later|latest|most recent|last|future|"
    r"subsequent)")
POINT_IN_TIME = re.compile(
    r"(?:before|prior to|up to|until|as of|at) (?:the |each |a |every )?(?:scoring|prediction|cut-?off|reference|"
    r"snapshot|observation|score|decision)(?: (?:date|time|day|moment|point|timestamp))?|point[\s-]in[\s-]time|"
    r"cut-?off (?:date|time|day)|time of (?:scoring|prediction)|only (?:past|historical|prior) |snapshot|"
    r"(?:observation|lookback|look-back|feature) window|(?:available|known) at (?:scoring|prediction|serving) time")
RISK_THEMES = {
    "leakage": r"leak|look-?ahead|future (?:data|information)",
    "drift": r"drift|season|shift|product changes?|changes? in (?:behaviou?r|the product|pricing)|stationar|stale|"
             r"decay|concept",
    "feedback loop": r"feedback|intervention|contact(?:ing|ed)? (?:users|them|the users)|outreach|treatment|"
                     r"control group|uplift|self-?fulfil|changes? (?:their|user) behaviou?r",
    "class imbalance": r"imbalanc|rare|base rate|few churners|minority",
    "label delay": r"label(?:s)? (?:delay|lag|matur|arriv)|delay(?:ed)? label|wait \d+|censor|late labels?",
    "cold start": r"new users|cold[\s-]?start|short (?:history|tenure)|little history|no history",
    "data quality": r"missing|\bnull|nois[ey]|data quality|logging|tracking|pipeline (?:fail|break|outage)|outage|"
                    r"duplicat|bots?\b",
    "privacy and fairness": r"privacy|gdpr|consent|fair|discriminat|protected|sensitive|birth[ _]year|\bage\b",
}
MAX_THEMES_PER_UNIT = 2  # a list of theme words in one line is not a discussion of each
LEAK_CUE = re.compile(
    r"leak|after (?:the |a |that )?(?:user|customer|member|account|person|people|they)s? (?:has |have |had )?"
    r"(?:left|leave|leaves|churned|churns|cancel\w*)|after (?:churn|cancellation|leaving|the fact|the outcome)|"
    r"post-?(?:churn|outcome|event|cancellation|hoc)|future (?:information|data|event|knowledge)|from the future|"
    r"look-?ahead|hindsight|(?:known|available|observed|observable) only (?:after|once)|only (?:known|available|"
    r"filled|written|recorded|populated|set) (?:in )?(?:after|once)|(?:not|never|cannot be) (?:yet )?(?:known|"
    r"available|observed|observable) (?:at|when|before|until)|unavailable (?:at|when|before)|"
    r"(?:written|filled|recorded|populated|entered|logged|set) (?:in )?(?:only )?(?:after|once)|"
    r"proxy for (?:the )?(?:label|target|outcome)|"
    r"(?:encodes|reveals|gives away) (?:the )?(?:label|target|outcome|answer)")
SAFE_CUE = re.compile(r"safe to use|\bis safe|\bare safe|fine to use|ok(?:ay)? to use|can (?:safely )?be used|"
                      r"legitimate (?:input|feature)|(?:recorded|known|written|available) (?:well )?(?:before|at "
                      r"(?:scoring|prediction) time)")
EXCLUDE_PLAIN = re.compile(r"exclud|\bdrop|\bremov|\bomit|discard|ignor|filter(?:ed|ing)? out|(?:leave|left|keep|kept) "
                           r"(?:it |them |this |these )?out|off-?limits|forbidden|banned|blacklist|deny-?list|"
                           r"disallow|prohibit")
EXCLUDE_NEGATIVE = re.compile(r"(?:never|not|n't|cannot|must not|mustn't|may not) (?:be |being )?(?:used|use|usable|"
                              r"included|include|allowed|fed|touched|(?:as )?an? (?:input|feature|predictor))")
USE_CUE = re.compile(r"(?:use|used|using|include|included|keep|kept|feed|fed) (?:\S+ ){0,4}?as (?:an? )?"
                     r"(?:input|feature|predictor|signal)|"
                     r"(?:is|are) (?:an? )?(?:useful |good |strong |key )?(?:input|feature|predictor)s?\b")


@dataclass
class Names:
    """This schema's names as the prose may write them: exact, or a multi-word base without its suffix."""
    pattern: re.Pattern  # any column name or unique multi-word base, longest first
    to_column: dict  # the text matched → the column
    tables: dict  # table name, and its base name → the table

    @classmethod
    def of(cls, facts: dict) -> "Names":
        columns = {c: t for t, cs in facts["columns"].items() for c in cs}
        to_column = {column: column for column in columns}
        bases: dict[str, list] = {}
        for column, base in facts.get("bases", {}).items():
            if "_" in base:  # 'retention_outcome' is a name; 'status' is an ordinary word
                bases.setdefault(base, []).append(column)
        for base, owners in bases.items():
            if len(owners) == 1:
                for form in {base, base.replace("_", " "), base.replace("_", "-")}:
                    to_column.setdefault(form, owners[0])
        alternatives = "|".join(re.escape(text) for text in sorted(to_column, key=len, reverse=True))
        tables = {t: t for t in facts["columns"]}
        tables.update({re.sub(r"_[a-z0-9]+$", "", t): t for t in facts["columns"]})
        return cls(re.compile(rf"(?<![a-z0-9_])(?:{alternatives})(?![a-z0-9_])"), to_column, tables)

    def columns_in(self, text: str) -> list[str]:
        return [self.to_column[m.group(0)] for m in self.pattern.finditer(text)]


# --- which units make claims at all --------------------------------------------------------------------

def cadences_in(norm: str) -> set[str]:
    """Cadence words stated and not negated ('weekly, not daily' states weekly only)."""
    return {name for name, pattern in CADENCES.items()
            if any(not negated_before(norm, m.start(), 2) for m in pattern.finditer(norm))}


def families_in(norm: str) -> list[str]:
    found, text = [], norm
    for name, pattern in FAMILIES.items():
        if re.search(pattern, text):
            found.append(name)
            text = re.sub(pattern, " ", text)
    return found


def value_kinds(unit: Unit, names: Names) -> dict[str, str]:
    """The kinds of values a unit states, each with the rubric item it belongs to."""
    norm, kinds = unit.norm, {}
    checks = [("duration", "target", bool(durations(norm))), ("column", "target", bool(names.columns_in(norm))),
              ("latency", "constraints", bool(milliseconds(norm))), ("size", "constraints", bool(megabytes(norm))),
              ("cadence", "constraints", bool(cadences_in(norm))),
              ("metric", "metrics", bool(families_in(norm)) or bool(AT_CUTOFF.search(norm)))]
    for kind, item, present in checks:
        if present:
            kinds[kind] = item
    return kinds


def is_bag(unit: Unit, names: Names) -> bool:
    """A line of values for several rubric items at once: not a claim about any of them."""
    kinds = value_kinds(unit, names)
    no_prose = not any(word in FUNCTION_WORDS for word in words(unit.norm))
    return len(set(kinds.values())) >= 3 or (len(set(kinds.values())) >= 2 and len(kinds) >= 3 and no_prose)


COPIED = 0.8  # a unit this much made of runs of the brief is the brief's sentence, not the spec's
PASTED = 0.5  # a body whose sentences are mostly the brief's is the brief pasted: those sentences claim nothing


@dataclass
class Reading:
    """The body's units that can carry claims; keyword lists (which may still name columns and tables); bags of
    values; and, when the body is mostly the brief pasted, the brief's sentences."""
    sections: list[Section]
    units: list[Unit]
    lists: list[Unit] = field(default_factory=list)
    bags: list[Unit] = field(default_factory=list)
    pasted: list[Unit] = field(default_factory=list)

    @classmethod
    def of(cls, sections: list[Section], names: Names, brief: str = "") -> "Reading":
        reading = cls(sections, [])
        for section in sections:
            for unit in section.units:
                if is_bag(unit, names):
                    reading.bags.append(unit)
                else:
                    (reading.lists if is_keyword_list(unit) else reading.units).append(unit)
        source = shingles(normalise(brief))
        copied = [u for u in reading.units if len(tokens(u.norm)) >= 6 and copied_share(u.norm, source) >= COPIED]
        if copied and len(copied) >= PASTED * sum(len(tokens(u.norm)) >= 6 for u in reading.units):
            ids = {id(unit) for unit in copied}
            reading.units = [u for u in reading.units if id(u) not in ids]
            reading.pasted = copied
        return reading

    def about(self, topics: set[str], cue: re.Pattern | None = None) -> list[Unit]:
        """Units in a section on one of `topics`, or whose own words match `cue`."""
        return [u for u in self.units if u.topics & topics or (cue is not None and cue.search(u.norm))]


# --- the target --------------------------------------------------------------------------------------

def target_units(reading: Reading, facts: dict) -> list[Unit]:
    """Units about the target: under a Target heading, or saying churn, label or the churn event."""
    event = EVENT_CUES[facts["target"]["variant"]]
    return [u for u in reading.units if "target" in u.topics or CHURN_CUE.search(u.norm) or event.search(u.norm)]


def horizon_units(reading: Reading, horizon: float) -> list[Unit]:
    return [u for u in reading.units if (u.topics & {"target", "problem"} or HORIZON_CUE.search(u.norm))
            and any(same(d, horizon) for d in durations(u.norm))]


def window_claims(units: list[Unit], facts: dict) -> tuple[list[Unit], set[float]]:
    """Units stating the churn window, and the other candidate windows they state (the horizon aside)."""
    window, horizon = facts["target"]["window_days"], facts["horizon_days"]
    candidates = set(facts.get("candidates", {}).get("window_days", [])) - {window, horizon}
    right, wrong = [], set()
    for unit in units:
        stated = durations(unit.norm)
        others = {c for c in candidates if any(same(d, c) for d in stated)}
        if any(same(d, window) for d in stated) and len(others) <= 1:  # '7, 10, 14 or 21 days' claims no window
            right.append(unit)
        wrong |= others
    return right, wrong


def nuance_units(units: list[Unit], facts: dict) -> list[Unit]:
    """The churn rule's fine print: consecutive days, app or web (inactivity); a pause is not churn (cancellation)."""
    variant = facts["target"]["variant"]
    found = [u for u in units if NUANCE_CUES[variant].search(u.norm)]
    if variant == "cancellation":  # 'paused' alone is no rule: it must say a pause is not churn, or re-activation
        found = [u for u in found if "paus" not in u.norm or PAUSE_NOT_CHURN.search(u.norm)
                 or re.search(r"re-?activat|re-?subscri|undo|come back|restart", u.norm)]
    return found


# --- leakage -----------------------------------------------------------------------------------------

def _any_match(pattern: re.Pattern, text: str, negated: bool) -> bool:
    return any(negated_before(text, m.start()) == negated for m in pattern.finditer(text))


def clause_polarity(clause: str) -> str | None:
    """'leaky' (excluded for leakage, or said to leak), 'excluded' (no reason), 'safe' (fine, or used), or None."""
    excluded = bool(EXCLUDE_NEGATIVE.search(clause)) or _any_match(EXCLUDE_PLAIN, clause, negated=False)
    leak_positive = _any_match(LEAK_CUE, clause, negated=False)
    leak_negative = _any_match(LEAK_CUE, clause, negated=True) or bool(SAFE_CUE.search(clause))
    if excluded:
        return "leaky" if leak_positive or leak_negative else "excluded"
    if leak_positive and not leak_negative:
        return "leaky"
    if leak_negative or _any_match(USE_CUE, clause, negated=False):
        return "safe"
    return None


def unit_leak_claims(unit: Unit, names: Names) -> dict[str, str]:
    """Column → what this unit claims about it; a clause with no column gives its reason to the one before."""
    claims: dict[str, str] = {}
    previous: list[str] = []
    for clause in unit.clauses():
        columns, polarity = names.columns_in(clause), clause_polarity(clause)
        if not columns and polarity in ("leaky", "excluded"):  # '..., but it leaks': the later clause decides
            columns = [c for c in previous if claims.get(c) != "leaky"]
        elif not columns and LEAK_CUE.search(clause):  # 'we drop X; without it there is no leakage': the reason
            columns, polarity = [c for c in previous if claims.get(c) == "excluded"], "leaky"
        if columns and polarity == "excluded" and unit.topics & {"leakage", "risks"}:
            polarity = "leaky"  # excluded under a Leakage or Risks heading: that is the reason
        if columns and polarity is None and "leakage" in unit.topics:
            polarity = "leaky"  # a column listed under a Leakage heading is said to leak
        for column in columns:
            if polarity is not None:
                claims[column] = polarity
        previous = columns or previous
    return claims


def leak_claims(units: list[Unit], names: Names) -> dict[str, dict[str, Unit]]:
    """Column → {polarity: the first of `units` claiming it}."""
    found: dict[str, dict[str, Unit]] = {}
    for unit in units:
        for column, polarity in unit_leak_claims(unit, names).items():
            found.setdefault(column, {}).setdefault(polarity, unit)
    return found


# --- metrics, constraints, risks ---------------------------------------------------------------------

def metric_units(reading: Reading) -> list[Unit]:
    return reading.about({"metrics"}, METRIC_CONTEXT)


def at_k_units(units: list[Unit], which: re.Pattern, k: int) -> tuple[list[Unit], set[int]]:
    """Units naming precision (or recall) with the brief's k; and the other cutoffs they name."""
    right, others = [], set()
    for unit in units:
        text = NOT_AT_K.sub(" ", unit.norm)
        if not which.search(text):
            continue
        stated = {int(n) for n in numbers(text) if n == int(n)}
        stated |= {int(m.group(1)) for m in AT_CUTOFF.finditer(text) if m.group(1) != "k"}
        if k in stated:
            right.append(unit)
        others |= {int(m.group(1)) for m in AT_CUTOFF.finditer(text) if m.group(1) != "k" and int(m.group(1)) != k}
    return right, others


def base_rate_units(reading: Reading, rate: float) -> tuple[list[Unit], list[Unit]]:
    """Units saying the classes are imbalanced or stating the base rate; and units stating a wrong base rate."""
    right, wrong = [], []
    for unit in reading.units:
        stated = rates(unit.norm) if BASE_RATE_CUE.search(unit.norm) else []
        if any(abs(value - rate) <= max(0.005, 0.15 * rate) for value in stated):
            right.append(unit)
        elif stated and re.search(r"base rate|prevalence|churn rate|positive rate", unit.norm):
            wrong.append(unit)
        elif IMBALANCE.search(unit.norm) and not negated_before(unit.norm, IMBALANCE.search(unit.norm).start()):
            right.append(unit)
    return right, wrong


def risk_themes(reading: Reading) -> dict[str, Unit]:
    found: dict[str, Unit] = {}
    for unit in reading.about({"risks"}, re.compile(r"\brisks?\b")):
        if not is_prose(unit):
            continue
        themes = [theme for theme, pattern in RISK_THEMES.items() if re.search(pattern, unit.norm)]
        for theme in themes[:MAX_THEMES_PER_UNIT]:
            found.setdefault(theme, unit)
    return found

"""What kind of fact a question asks for, and whether a sentence states one.

The interrogative words say it: "pourquoi"/"why" wants a reason, "combien a
coûté"/"how much did it cost" an amount of money, "quel âge" an age,
"depuis quand" a date, "combien de personnes" a count of people. A sentence
that holds the kind of fact asked is a better answer than one that only
shares the question's words; and for the kinds that are figures, a sentence
without one does not answer at all ("Combien vaut l'action Nvidia ?" over
articles that name Nvidia but never its share price).
"""

from __future__ import annotations

import re

from rag.text.analysis import analyze

_COUNTS = (
    r"deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|vingt|trente|quarante|cinquante|soixante|"
    r"cent|cents|mille|million|millions|milliard|milliards|two|three|four|five|six|seven|eight|nine|ten|"
    r"twelve|twenty|thirty|hundred|thousand|million|billion|dozen|douzaine|dizaine|centaine"
)
_NUMBER_WORDS = re.compile(
    rf"\b({_COUNTS}|aucun|aucune|none|zero|zéro|moitié|half|quart|quarter|tiers)s?\b", re.IGNORECASE
)
_MONTHS = (
    r"janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|january|february|"
    r"march|april|june|july|august|september|october|november|december"
)
_YEAR = re.compile(rf"\b(1[0-9]{{3}}|20[0-9]{{2}})\b|\b({_MONTHS})\b", re.IGNORECASE)
# News dates events by the day of the week ("a annoncé jeudi") as often as by the calendar.
_DAY = re.compile(
    r"\b(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|hier|aujourd'hui|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|yesterday|today)\b",
    re.IGNORECASE,
)
# Digits glued to letters name things ("H20", "A380"), they do not count them. Only groups of
# three digits join a figure ("12 000"), so "en 2019 12 000 visiteurs" holds two.
_QUANTITY = re.compile(r"(?<![^\W_])\d+(?:[ \u00a0\u202f.]\d{3}(?!\d))*(?:,\d+)?")
_UNITS_OF_TIME = (
    r"ans?|années?|mois|semaines?|jours?|heures?|minutes?|siècles?|décennies?|years?|months?|weeks?|days?|"
    r"hours?|minutes?|centuries|century|decades?"
)
_TIME_SPAN = re.compile(
    rf"\b(\d+|{_COUNTS}|un|une|a|an|quelques|plusieurs|several|few) ({_UNITS_OF_TIME})\b|\b\d+ ?h ?\d*\b", re.I
)
# "16 ans", not "60 ans après les faits" (a time span).
_AGE = re.compile(
    r"\b\d{1,3} ans\b(?! (?:après|plus tard|avant|auparavant|plus tôt|de prison|d['’]))"
    r"|\b\d{1,3}[- ]years?[- ]old\b|\bâgée? de\b|\bâge de \d|\bage[ds]? (?:of )?\d",
    re.I,
)
_SCALE = r"(?:millions?|milliards?|billions?|thousand|k|m|md|mds|bn)\s*(?:d['’]\s*|de\s+)?"
# A symbol is followed by a space or a digit, never a letter: no word boundary after it.
_CURRENCY = r"(?:[€$£]|(?:euros?|dollars?|livres? sterling|pounds?|francs?|yuans?|yens?|usd|eur)\b)"
_MONEY = re.compile(
    rf"(?:\d[\d .,\u00a0\u202f]*|\b(?:{_COUNTS}|un|une|quelques|plusieurs|several|a few)\s+)\s*(?:{_SCALE})?{_CURRENCY}"
    r"|[€$£]\s*\d",
    re.IGNORECASE,
)
_DISTANCE = re.compile(
    r"\d[\d .,\u00a0\u202f]*\s*(?:km|kilomètres?|kilometres?|kilometers?|mètres?|metres?|meters?|m|miles?)\b", re.I
)
# A reason is given by a conjunction of cause, a cause noun or verb, or "pour" + infinitive (a purpose).
_CAUSE = re.compile(
    r"\b(car|parce qu|puisqu|en raison d|à cause d|grâce à|suite à|à la suite d|du fait d|faute d|"
    r"attribu\w*|expliqu\w*|justifi\w*|motiv\w*|raisons?|causes?|causé\w*|provoqu\w*|dû à|due à|dus à|dues à|"
    r"afin d|pour (?:\w+ )?\w+(?:er|ir|re)\b|because|due to|owing to|as a result|caused|reasons?|"
    r"attributed|in order to|so that)",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Þ][\w’'-]+")

# What a question asks for, from its interrogative words: the first pattern that matches decides.
_ASKS = (
    ("cause", re.compile(r"\b(pourquoi|pour quelles? raisons?|why|for what reason|what (caused|led to))\b", re.I)),
    ("age", re.compile(r"\b(quel âge|à quel âge|how old|at what age)\b", re.I)),
    ("distance", re.compile(r"\b(à quelle distance|quelle distance|how far|what distance)\b", re.I)),
    (
        "duration",
        re.compile(
            r"\b(combien de temps|depuis combien|pendant combien|how long|how much time|quelle (est la )?durée)\b", re.I
        ),
    ),
    ("date", re.compile(r"\b(depuis quand|since when)\b", re.I)),
    # An amount of money asked: "combien"/"how much" about money (a word of money in the question),
    # or the amount named ("quel est le prix", "what was the cost").
    (
        "money",
        re.compile(
            r"^(?=.*\b(co[uû]t\w*|prix|montant|somme|budget|vaut|valai\w*|valen\w*|valeur|salaire|amende|"
            r"pay\w*|dépens\w*|investi\w*|rapport\w*|financ\w*|argent|euros?|dollars?|cost\w*|price\w*|worth|paid|"
            r"earn\w*|fine|money)\b).*\b(combien|how much)\b"
            r"|\bquel(le)?s? (est |était |a été |sont )?(le |la |les )?"
            r"(prix|coût|montant|somme|budget|salaire|amende)\b"
            r"|\bwhat (is |was |were )?the (price|cost|amount of money|budget|fine|salary)\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\b(combien|quel(le)?s? (est|sont|était|étaient|a été) (le|la|les) (nombre|montant|taux|pourcentage|"
            r"prix|population|chiffre)|quel(le)?s? (nombre|montant|taux|pourcentage|chiffre|somme|part|proportion)|"
            r"how (many|much)|what (percentage|number|amount|share))\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"\b(quand|(en|depuis|de|à) quelle (année|date|époque)|quel jour|when|(in |since )?(what|which) "
            r"(year|date|day)(?!-))\b",
            re.I,
        ),
    ),
    ("name", re.compile(r"\b(qui|who|whom|whose|quel(le)? (entreprise|société|pays|ville|personne))\b", re.I)),
)
#: The kinds that are figures: a sentence stating none does not answer. An age or a distance
#: is preferred when stated as such, but is often told otherwise ("at 39", "a 30-minute drive").
FIGURES = frozenset({"number", "money"})
# "combien de personnes", "how many islands": the word counted, which the figure should come with.
_COUNTED = re.compile(r"\b(?:combien (?:de |d['’])|how many )(\w+)", re.I)


_CURRENCY_WORDS = re.compile(r"^(argent|euros?|dollars?|francs?|livres?|money|pounds?|yuans?|yens?)$", re.I)


def expected_type(question: str) -> str | None:
    kind = next((kind for kind, pattern in _ASKS if pattern.search(question)), None)
    counted = _COUNTED.search(question)
    # "Combien de degrés a-t-il gagnés ?" counts degrees: a verb of money does not make it an amount.
    if kind == "money" and counted and not _CURRENCY_WORDS.match(counted.group(1)):
        return "number"
    return kind


def counted_unit(question: str, language: str) -> set[str]:
    """The analysed terms of what a count question counts ("personnes" -> {"person"}), or nothing."""
    found = _COUNTED.search(question)
    return set(analyze(found.group(1), language)) if found else set()


def has_type(kind: str | None, sentence: str, question: str) -> bool:
    """Whether ``sentence`` states the kind of fact ``question`` asks for (a new one, not the question's own)."""
    if kind == "number":
        asked = set(re.findall(r"\d+", question))
        return any(m.group().split()[0] not in asked for m in _QUANTITY.finditer(sentence)) or bool(
            _NUMBER_WORDS.search(sentence)
        )
    if kind == "money":
        return bool(_MONEY.search(sentence))
    if kind == "age":
        return bool(_AGE.search(sentence))
    if kind == "distance":
        return bool(_DISTANCE.search(sentence))
    if kind == "date":
        return bool(_YEAR.search(sentence) or _DAY.search(sentence))
    if kind == "duration":
        # "il y a sept ans", "pendant trois mois", "3h20", or since when: "depuis 2017".
        return bool(_TIME_SPAN.search(sentence) or _YEAR.search(sentence))
    if kind == "cause":
        return bool(_CAUSE.search(sentence))
    if kind == "name":
        lowered = question.lower()
        return any(name.lower() not in lowered for name in _NAME.findall(sentence))
    return False


def counts_unit(sentence: str, unit: set[str], language: str) -> bool:
    """Whether a figure of ``sentence`` comes with the word counted ("30 personnes"; up to three words after it)."""
    for figure in [*_QUANTITY.finditer(sentence), *_NUMBER_WORDS.finditer(sentence)]:
        following = sentence[figure.end() : figure.end() + 40].split()[:3]
        if set(analyze(" ".join(following), language)) & unit:
            return True
    return False

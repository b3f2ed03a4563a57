"""The safety lexicon: critical phrases that raise a message to ``critical`` whatever the model says.

Rules are regular expressions over *folded* text (lowercase, no diacritics: "dö" is "do", "ta
livet av mig" and "ta livet av mej" both match), so a message typed without å/ä/ö matches the same
rule as one typed with them.  A rule can only raise: it never lowers the priority the classifier
gave, and when the classifier already chose a critical intent, that intent stays and the rule is
only recorded in ``matched_rules``.

Rules are deliberately broad on the side of safety (a false alarm costs a counsellor a minute; a
miss can cost a life) but avoid phrases that are harmless on their own ("attacken i nyheterna",
"skjuta upp mötet", "I don't want to die").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.envelope import Priority
from nlu.result import INTENT_PRIORITY
from nlu.text import fold

# A gap of up to N words that does not contain a negation.
_NEG = r"(?:inte|aldrig|ej|not|never|no|dont|don't|won't|wont|cant|can't|cannot|didnt|didn't)"


def _gap(n: int) -> str:
    return rf"(?:(?!{_NEG}\b)[\w'-]+ ){{0,{n}}}"


_END = r"(?=\s*(?:$|[.!?,;:)]|vad\b|vem\b|hur\b|vilken\b|what\b|who\b|how\b))"

# Swedish verb forms (folded) of violence against others.
_SV_VIOLENT = (
    r"(?:doda|dodar|morda|mordar|skjuta(?! upp (?:motet|det|beslutet|till|resan|tiden|traffen|samtalet|"
    r"mote|lite))|skjuter(?! upp)|spranga|spranger|attackera|attackerar|hugga|hugger|knivhugga|bomba|"
    r"slakta|branna ner|satta eld pa|tanda eld pa|kora in i|kora over|meja ner|massakrera|"
    r"sla ihjal|sparka ihjal|hamnas pa)"
)
_SV_MODAL = r"(?:ska|skall|sk|tanker|tanke|kommer att|kommer|planerar att|planerar|har tankt|vill|ska fan|gar att|tankte)"
_SV_WEAPON = (
    r"(?:pistol(?:en|er)?|gevar(?:et)?|vapen(?:et)?|k-?pist|automatvapen|ak-?47|bomb(?:en|er)?|rorbomb(?:en)?|"
    r"sprangmedel|sprangamne(?:n|t)?|sprangladdning(?:en)?|hagelboss(?:a|an)|ammunition(?:en)?|revolver(?:n)?|"
    r"handgranat(?:er)?|granat(?:er)?)"
)
_EN_SUBJ_MODAL = (
    r"(?:i'll|ill|i will|im|i'm|i am|we'll|we will|we're|were|we are|he'll|he will|he's|hes|he is|"
    r"she'll|she will|she's|she is|they'll|they will|they're|they are|gonna|going to|plans? to|planning to|"
    r"want to|wanna|about to|intend to|ready to)"
)
_EN_VIOLENT = (
    r"(?:kill|murder|shoot|stab|bomb|blow up|attack|massacre|slaughter|burn down|set fire to|torch|"
    r"run (?:\w+ )?over|gun down|execute)"
)
_EN_SELF = r"(?:myself|herself|himself|themselves|themself)"
_EN_WEAPON = r"(?:guns?|rifles?|pistols?|firearms?|ammo|ammunition|bombs?|pipe ?bombs?|explosives?|ied|grenades?|ak-?47)"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    intent: str
    pattern: re.Pattern[str]
    description: str

    @property
    def priority(self) -> Priority:
        return INTENT_PRIORITY[self.intent]


def _r(rule_id: str, intent: str, pattern: str, description: str) -> Rule:
    return Rule(rule_id, intent, re.compile(pattern), description)


RULES: tuple[Rule, ...] = (
    # ---------------------------------------------------------------- self-harm, Swedish
    _r(
        "sv.self_harm.ta_livet",
        "self_harm",
        r"(?<!tog )(?<!hade tagit )\blivet av (?:mig|mej|sig|dig|oss)\b|\bta(?:r|git)? (?:mitt|sitt|ditt) (?:eget )?liv\b",
        "ta livet av mig/sig, ta mitt liv",
    ),
    _r(
        "sv.self_harm.vill_do",
        "self_harm",
        r"\b(?:vill|ville|vil|onskar|langtar efter att|kommer|ska|bara vill) (?:(?:bara|ba|helst|mest|nog|verkligen|typ|ju|nu|att|annu|mer|hellre|egentligen) ){0,3}do\b(?! ut)",
        "vill dö",
    ),
    _r(
        "sv.self_harm.vill_inte_leva",
        "self_harm",
        r"\b(?:vill|orkar|klarar|kan) inte (?:att )?(?:leva|finnas|existera)\b|\bvill inte vara vid liv\b",
        "vill/orkar inte leva, vill inte finnas",
    ),
    _r(
        "sv.self_harm.sjalvmord",
        "self_harm",
        r"\bsjalvmord(?:et|stankar|stanke|sforsok|splaner|splan|sbrev|snara)?\b|\bsuicida(?:l|la)\b",
        "självmord, självmordstankar",
    ),
    _r(
        "sv.self_harm.skada_sig",
        "self_harm",
        r"\bskad(?:a|ar|at|ade) (?:mig|mej|sig) sjalv|\b(?:skar|skara|skurit|skär) (?:mig|mej|sig)\b|\bsjalvskad\w*",
        "skada mig själv, skära mig",
    ),
    _r(
        "sv.self_harm.metod",
        "self_harm",
        r"\bhang(?:a|er|de) (?:mig|mej|sig)\b|\bhoppa (?:framfor|fran|ner fran|ut fran) (?:\w+ ){0,2}(?:taget|tag|tunnelbanan|bron|taket|balkongen|bilen|bussen|lastbilen)\b"
        r"|\b(?:ta|tar|svalja|svaljer) (?:alla|en massa) (?:\w+ )?(?:tabletter|tabletterna|piller|pillren)\b|\boverdos\w*",
        "hänga mig, hoppa framför tåget, ta alla tabletter, överdos",
    ),
    _r(
        "sv.self_harm.hoppa",
        "self_harm",
        r"\b(?:tanker|ska|kommer att|vill) hoppa\b(?! (?:av|ur|over|in|pa|upp|ner i))|\b(?:star|sitter) (?:pa|vid) (?:bron|taket|spaaret|sparet|perrongen)\b(?! (?:och )?(?:vantar|tittar))",
        "tänker hoppa, står på bron",
    ),
    _r(
        "sv.self_harm.inte_kvar",
        "self_harm",
        r"\b(?:kommer|ska) inte (?:finnas|vara) kvar (?:imorgon|imorn|snart|langre|efter)|\bbattre (?:for alla )?om jag (?:var|vore|ar) dod|"
        r"\bbattre (?:for alla )?om jag (?:dog|inte fanns)|\bingen (?:skulle|kommer att|kommer) sakna mig|\binget (?:kvar )?att leva for\b|\bingen mening (?:med )?att leva\b",
        "inte finnas kvar imorgon, bättre om jag var död",
    ),
    # ---------------------------------------------------------------- self-harm, English
    _r(
        "en.self_harm.kill_myself",
        "self_harm",
        rf"\b(?:kill|killing|killed|hang|hanging|hurt|hurting|harm|harming|cut|cutting|end) {_EN_SELF}\b|\bkms\b|\bkys\b",
        "kill/hurt/cut myself",
    ),
    _r(
        "en.self_harm.suicide",
        "self_harm",
        r"\bsuicid(?:e|al)\b(?! (?:bomb|attack|vest|mission|squad))|\bself[- ]?harm\w*",
        "suicide, suicidal, self-harm",
    ),
    _r(
        "en.self_harm.end_life",
        "self_harm",
        r"\b(?:end|ending|take|taking|took) (?:my|his|her|their) (?:own )?life\b|\bend it all\b",
        "end/take my life",
    ),
    _r(
        "en.self_harm.want_die",
        "self_harm",
        r"(?<!n't )(?<!dont )(?<!not )\b(?:want|wanna|wanted|wish|going|gonna|ready|deserve) (?:to )?(?:just |really |simply )?die\b|\bwish i (?:was|were) dead\b",
        "want to die",
    ),
    _r(
        "en.self_harm.not_live",
        "self_harm",
        r"\b(?:don'?t|do not|no longer|dont) (?:\w+ ){0,2}want to (?:live|be alive|exist|be here)\b|\bno (?:reason|point) (?:in |to |for me to )?(?:keep )?(?:living|live|go on)\b"
        r"|\bnothing (?:left )?to live for\b|\bbetter off (?:dead|without me)\b|\bnever wake up\b|\bwon'?t be (?:here|around|alive) tomorrow\b|\bnobody would miss me\b",
        "don't want to live, better off dead",
    ),
    _r(
        "en.self_harm.method",
        "self_harm",
        r"\bjump (?:off|from) (?:the |a )?(?:bridge|roof|building|balcony)\b|\b(?:in front of|under) (?:a|the) (?:train|bus|truck)\b"
        r"|\boverdos\w*|\b(?:take|taking|swallow|swallowing) (?:all )?(?:the |my |of the )?(?:pills|tablets)\b",
        "jump off the bridge, overdose, take all the pills",
    ),
    # ---------------------------------------------------------------- threats, Swedish
    _r(
        "sv.urgent_threat.avser_vald",
        "urgent_threat",
        rf"\b{_SV_MODAL} {_gap(3)}{_SV_VIOLENT}\b|\b{_SV_VIOLENT} ihjal\b|\b(?:skjuta|hugga|sla|sparka) ihjal\b",
        "ska döda/skjuta/spränga/attackera ...",
    ),
    _r(
        "sv.urgent_threat.vapen",
        "urgent_threat",
        rf"\b(?:kopt|kopa|koper|skaffat|skaffa|skaffar|byggt|bygga|bygger|gjort|gora|gor|tillverkat|tillverka|tillverkar|"
        rf"bestallt|bestalla|bestaller|fixat|fixa|fixar|har en|har ett|har tva|har flera|tar med) {_gap(4)}{_SV_WEAPON}\b",
        "köpt/skaffat/bygger vapen eller sprängmedel",
    ),
    _r(
        "sv.urgent_threat.planerar_dad",
        "urgent_threat",
        r"\b(?:planerar|planera|planerat|forbereder|forbereda) (?:\w+ ){0,2}(?:attack|attentat|terrordad|terrorattack|massaker|skolskjutning|bombning|dad|anfall)\w*"
        r"|\b(?:blir|bli|kommer att bli|ska bli) (?:ett )?(?:blodbad|massaker|massmord)\b|\bsmaller det (?:pa|i)\b|\bspranga sig\b",
        "planerar en attack, det blir blodbad",
    ),
    _r(
        "sv.urgent_threat.indirekt",
        "urgent_threat",
        rf"\b(?:alla|ni|ni alla|hela (?:skolan|klassen|stan|stadsdelen)) {_gap(4)}(?:ska|kommer att|kommer) (?:att )?(?:fa )?(?:se|betala|angra sig|angra er|angra|lida|do){_END}"
        rf"|\b(?:ska|kommer) (?:alla|ni|ni alla) {_gap(4)}(?:att )?(?:fa )?(?:se|betala|angra sig|angra er|angra|lida|do){_END}"
        r"|\b(?:du|ni|han|hon|de|dom|dem|hen|\w+en|\w+na) (?:ska|kommer att) do\b",
        "alla ska få se, ni kommer att ångra er, han ska dö",
    ),
    # ---------------------------------------------------------------- threats, English
    _r(
        "en.urgent_threat.intends_violence",
        "urgent_threat",
        rf"\b{_EN_SUBJ_MODAL} {_gap(3)}{_EN_VIOLENT}\b(?! (?:myself|himself|herself|themselves|time|it off|a video|a film|me an?|some hoops|the breeze))",
        "going to kill/shoot/bomb/attack ...",
    ),
    _r(
        "en.urgent_threat.weapons",
        "urgent_threat",
        rf"\b(?:bought|buying|buy|got|getting|ordered|ordering|built|building|build|made|making|make|have|has|bring|bringing|brought) {_gap(4)}{_EN_WEAPON}\b"
        r"|\bblow (?:myself|himself|herself|themselves|it|them|\w+) up\b",
        "bought a gun, making explosives",
    ),
    _r(
        "en.urgent_threat.plans_attack",
        "urgent_threat",
        r"\bplan(?:s|ning|ned)? (?:an? |the |to )?(?:attack|bombing|shooting|massacre|terror attack|school shooting)\b"
        r"|\b(?:there will be|there's going to be|there is going to be|it will be|will be) (?:a )?(?:bloodbath|massacre|shooting|bombing)\b|\bshoot up\b",
        "planning an attack, there will be a bloodbath",
    ),
    _r(
        "en.urgent_threat.indirect",
        "urgent_threat",
        rf"\b(?:everyone|everybody|you all|all of you|you|they|the whole (?:school|class|town)) {_gap(4)}(?:will|are going to|gonna|are gonna|'ll) (?:all )?(?:pay|regret|die|see|suffer){_END}"
        r"|\byou'll all (?:pay|regret|die|see)\b|\b(?:you|they|he|she) (?:will|are going to|is going to|'re gonna|is gonna) die\b",
        "everyone will see, you will all pay",
    ),
    # ---------------------------------------------------------------- travel to a conflict (raises to high)
    _r(
        "sv.travel_conflict.resa_strida",
        "travel_conflict",
        r"\b(?:aka|akt|akte|aker|resa|rest|reser|reste|flyga|flyger|dra|drar|ta sig|tagit sig|smuggla\w*) {0,1}(?:\w+ ){0,4}(?:for att )?(?:strida|kriga|slass|ansluta sig till|ga med i|bli martyr)\b"
        r"|\b(?:ansluta sig|anslot sig|gatt med|ga med|gick med) (?:till |i )(?:is|isis|al-shabaab|shabaab|talibanerna|kalifatet|daesh)\b",
        "åka och strida, ansluta sig till IS",
    ),
    _r(
        "en.travel_conflict.go_fight",
        "travel_conflict",
        r"\b(?:go|going|gone|went|travel\w*|head\w*|fly|flying|move|moving) (?:\w+ ){0,4}(?:to )?(?:fight|join (?:isis|is|al-shabaab|the taliban|the fighters|an armed group|the caliphate|daesh)|become a martyr)\b"
        r"|\bjoin(?:ed|ing)? (?:isis|al-shabaab|the taliban|the caliphate|daesh)\b|\bforeign fighters?\b",
        "go and fight, join ISIS",
    ),
)

_PRECEDENCE: tuple[str, ...] = (
    "self_harm",
    "urgent_threat",
    "travel_conflict",
    "leave_movement",
    "concern_relative",
    "concern_professional",
    "human_request",
    "info_request",
    "greet",
    "goodbye",
    "out_of_scope",
)
PRECEDENCE_RANK: dict[str, int] = {name: i for i, name in enumerate(_PRECEDENCE)}


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule_id: str
    intent: str
    priority: Priority


def match_rules(text: str, rules: tuple[Rule, ...] = RULES, *, folded: str | None = None) -> list[RuleMatch]:
    """Every rule that matches ``text`` (raw text: it is folded here unless ``folded`` is given)."""
    folded = fold(text) if folded is None else folded
    return [RuleMatch(r.id, r.intent, r.priority) for r in rules if r.pattern.search(folded)]


def outranks(candidate: str, current: str) -> bool:
    """True if ``candidate`` should replace ``current`` under the schema's priority and precedence.

    A higher priority always wins; at equal priority only the precedence between
    ``travel_conflict`` and ``leave_movement`` decides.  Two critical intents never replace each
    other (both are critical, the classifier's choice stands).
    """
    cp, kp = INTENT_PRIORITY[candidate], INTENT_PRIORITY[current]
    if cp != kp:
        return cp > kp
    if cp == Priority.CRITICAL:
        return False
    return PRECEDENCE_RANK[candidate] < PRECEDENCE_RANK[current]


def apply_rules(intent: str, matches: list[RuleMatch]) -> tuple[str, bool]:
    """The intent after the rules: (intent, overridden).  Never lowers the priority."""
    best = intent
    for m in sorted(matches, key=lambda m: PRECEDENCE_RANK[m.intent]):
        if outranks(m.intent, best):
            best = m.intent
    return best, best != intent

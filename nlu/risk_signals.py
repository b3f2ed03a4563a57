"""Swedish and English risk signals over folded text (lowercase, no diacritics: "dö" is "do").

Each signal group is a table of (label, pattern).  A pattern is a regular expression over the
folded message; what matched is reported as ``group:label`` ("means:pills", "state:taken"), which
is what a counsellor sees as the reason.  The groups are combined into scores in
:mod:`nlu.risk`; a single weak group on its own raises nothing.

Written from the families of misses (means and farewells, third-party reports, attack
preparation, mixed messages, threats received), never from single test sentences: every
pattern names a concept in several forms, with and without å/ä/ö, in SMS style where people
write so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NEG = r"(?:inte|aldrig|ej|not|never|no|dont|don't|wont|won't|cant|can't|didnt|didn't|ingen|inga)"


def _table(entries: dict[str, str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((label, re.compile(rf"(?<![\w]){pattern}")) for label, pattern in entries.items())


SELF_INTENT = _table(
    {
        "kill myself": r"(?:livet av (?:mig|mej|sig)|ta (?:mitt|sitt) (?:eget )?liv|sjalvmord\w*|suicid\w*|kill (?:my|him|her)sel(?:f|ves)|kms\b|end(?:ing)? (?:my|his|her) (?:own )?life|take (?:my|his|her) (?:own )?life)",
        "want to die": r"(?:(?:kan|kunde) lika (?:garna|bra) (?:do|vara dod|inte finnas)|lika bra att jag (?:inte finns|forsvinner|dor|dog)|might as well (?:be dead|die|not exist)|(?:world|everyone|everybody|alla|varlden)(?:'s| is| would be| blir| vore| ar)? (?:\w+ )?(?:better off|battre) (?:without|utan) (?:me|mig|mej|en |a )|(?:enda|only) (?:vagen ut|way out)\w* (?:ar|is) (?:att do|to die|death|doden)|ingen ide att jag lever|no point in me living|(?:vill|ville|vil|bara vill|onskar att jag (?:var|vore)) (?:bara |ba |helst |nog )?do\b(?! ut)|(?:lika )?bra att jag dor|battre (?:for alla )?om jag (?:var|vore|ar) dod|(?<!dont )(?<!not )want to die|wish i (?:was|were) dead|better off dead|go to sleep (?:and|n) never wake up|somna (?:in )?och (?:aldrig|inte) vakna)",
        "not live": r"(?:(?:vill|ville) (?:sluta|inte langre) (?:att )?finnas|(?:want|wants|wanted) to stop existing|(?:dying|att do|doden) (?:is|ar) (?:the )?(?:only|enda)|(?:jag|han|hon|hen|i|he|she) (?:dor|die|dies) (?:pa|i|efter|innan|on|this|after|before) (?:\w+dag|helgen|natt|kvall|friday|saturday|sunday|monday|tuesday|wednesday|thursday|the weekend|tonight)|(?:vill|orkar|kan) inte (?:att )?(?:leva|finnas (?:kvar|langre|mer)?)(?! (?:sa|sahar|med|i|pa)\b)|don'?t want to (?:live|be alive|exist)|no reason to live|nothing (?:left )?to live for|inget (?:kvar )?att leva for|ingen mening (?:med )?att leva)",
        "end it": r"(?:(?:jag|ja|i) (?:\w+ ){0,3}(?:gora|gor|ta) slut pa (?:mig|mej|allt|mitt liv)|end it all|(?:i|i'm|im|i am) (?:\w+ ){0,3}end(?:ing)? it (?:tonight|today|now|this weekend)|avsluta (?:mitt liv|allt ikvall|allt inatt))",
    }
)
MEANS = _table(
    {
        "pills": r"(?:somnmedicin\w*|antidepressiv\w*|antidepressants?|sleeping pills|painkillers|vark?tabletter\w*|lugnande|sedatives?|medicinska?p\w*|medicine (?:box|cabinet|cupboard)|tabletter\w*|tablett(?:en|er)?|piller|pillr\w*|pills?\b|tablets?\b|sömntabletter|somntabletter\w*|paracetamol|alvedon|citodon|tramadol|oxycodon\w*|sobril|propavan|imovane|insulin|mediciner(?:na)?|medicin(?:en)?|medication|meds\b|overdos\w*)",
        "rope": r"(?:\brep(?:et)?\b|snara(?:n)?|\brope\b|noose|hanga (?:mig|mej|sig)|hang (?:my|him|her)self|hanging myself)",
        "car in garage": r"(?:(?:bil(?:en)?|motorn|car|engine)\b[\w ,']{0,40}(?:garage(?:t)?|avgas\w*|exhaust)|(?:garage(?:t)?|garage)[\w ,']{0,40}(?:bil(?:en)?|motorn|car|engine)\b[\w ,']{0,20}(?:gang|igang|running|on)|avgaser(?:na)?|exhaust fumes|slang\w* (?:fran|fr) avgasroret)",
        "height or water": r"(?:(?:uppe )?pa taket|(?:up )?on the roof|over kanten|over the edge|ut pa isen|on the ice|ner (?:till|mot) (?:sjon|havet|vattnet|alven|bron|kajen)|down to the (?:lake|river|sea|bridge|water)|off the (?:roof|bridge|cliff|ledge))",
        "taken them": r"(?:(?:tagit|tog|svalde|svalt|slukat|took|taken|swallowed|popped) (?:dem|dom|alla|alltihop|them|all of them)\b)",
        "jump": r"(?:(?:by|on|at|near) the (?:tracks|railway|rails|ledge)|(?:standing|sitting) on (?:the |a )?(?:bridge|roof|ledge|railing)|hoppa (?:framfor|fran|ner fran|ut fran|ut genom|fran taket|fran bron)|(?:star|sitter|stod) (?:pa|vid) (?:bron|taket|kanten|sparet|perrongen|balkongen)|jump (?:off|from|in front of)|(?:on|at) the (?:edge|bridge|roof|tracks)\b|framfor (?:taget|tunnelbanan|bussen)|in front of (?:a|the) (?:train|bus|truck))",
        "blade": r"(?:(?:kniv\w*|blad\w*|blade|knife|razor) (?:\w+ ){0,2}(?:mot|to|against|on|over|pa) (?:min |my |sin |his |her )?(?:handled\w*|wrists?|halsen|throat)|rakblad\w*|razor\w*|skara (?:mig|mej|sig)|skurit (?:mig|mej|sig)|cut (?:my|him|her)self|cutting (?:my|him|her)self|cut my wrists?|handleder(?:na)?)",
        "gun": r"(?:pistol(?:en)? (?:mot|i) (?:mitt|sitt|huvudet)|gun to (?:my|his|her) head|(?:pappas|farsans|hans|mitt|sitt) (?:jakt)?gevar|dad'?s (?:gun|rifle)|skjuta (?:mig|mej|sig) sjalv|shoot (?:my|him|her)self)",
        "poison": r"(?:gift(?:et)?\b(?! (?:med|sig|mig|oss))|rattgift|poison\w*|bleach|klorin|frostskyddsvatska)",
    }
)
STATE = _table(
    {
        "taken": r"(?:tagit|tog (?:alla|en massa|hela|massa|typ \d+|\d+)|svalt|svalde|slukat|slukade|taken|took (?:all|a lot|the whole|\d+|like \d+|a bunch)|swallowed|have taken|already took)",
        "laid out": r"(?:(?:with|med) (?:him|her|me|sig|mig|mej)\b|(?:jag|i'?m|i am|im) (?:\w+ ){0,2}(?:star|sitter|standing|sitting|uppe|up on|pa vag)|sitter (?:fast|pa plats)|(?:star|ar) pa plats|in place|sitter med|sitting with|(?:hall(?:er|it)|holding|held) (?:\w+ ){0,3}(?:mot|to|against|i handen|in my hand)|(?:door|dorren|porten|garageporten) (?:\w+ )?(?:is |ar )?(?:shut|closed|stangd)|(?:car|bilen|motorn) (?:is |ar )?(?:running|igang|pa)\b|(?:ar|is|already) (?:redan )?(?:uppe|uppsatt|upp|up|hung|set up|fastsatt)\b|hanger (?:redan )?(?:i|fran)|framfor (?:mig|mej|honom|henne)|lagt fram|ligger framme|har framme|star framme|redo|forberett|knutit|fast i taket|in front of (?:me|him|her)|laid out|lined up|ready\b|prepared|tied|counted out|rakna(?:t|de) (?:dem|upp))",
        "in the car": r"(?:sitter i bilen|sitting in the car|motorn (?:ar )?(?:pa|igang|gar)|engine (?:is )?running|stangt (?:garaget|garageporten|dorren)|closed the garage)",
        "bought": r"(?:kopt|kopte|samlat|sparat|hamstrat|bought|collected|saved up|been saving|stockpil\w*)",
    }
)
QUANTITY = _table(
    {
        "all": r"(?:hur manga (?:tabletter|piller|alvedon) (?:som )?(?:behovs|kravs|man behover|det tar)|how many (?:pills|tablets) (?:it takes|would|are needed|you need)|(?:tog|tagit|took|taken|svalt|swallowed) (?:allt|everything|all of it|all)\b|(?:en )?hog (?:med|av) (?:tabletter|piller)|a (?:pile|stack|heap|bunch|handful) of (?:pills|tablets)|alla (?:tabletter|piller|mina)|en massa|hela (?:burken|kartan|askan|lagret)|for manga|(?:\d{2,}|tjugo|trettio|fyrtio|femtio) (?:st |stycken )?(?:tabletter|piller|alvedon)|all (?:of )?(?:my|the|his|her) (?:pills|tablets|meds)|the whole (?:bottle|box|pack)|too many|a handful|(?:\d{2,}|twenty|thirty|forty|fifty) (?:pills|tablets))",
    }
)
FAREWELL = _table(
    {
        "goodbye letter": r"(?:(?:tar|tog|tagit) farval|farewell (?:message|post|note|letter)|(?:written|wrote|skrivit|skrev) (?:a letter |ett brev )?(?:to|till) (?:her|his|my|sin|min|sina|mina) (?:mum|mom|mother|dad|parents|mamma|pappa|foraldrar)|(?:sista|last|final|avskeds|farvals)[ -]?(?:brev|lapp|sms|text|message|meddelande|inlagg|post|letter|note)\w*|(?:hitta|hittar|find|finds|hittat|found) (?:brevet|lappen|the note|the letter|my note|my letter)|(?:brevet|lappen|the (?:letter|note)) (?:\w+ ){0,2}(?:ligger|star|is|are|lies|lying|on)\b|(?:star|it'?s all|det star) i (?:brevet|lappen)|in the (?:letter|note)\b|skrivit (?:klart )?brevet|written the (?:letter|note)|hej ?da for alltid|farval for alltid|goodbye forever|(?:sms|text|message|meddelande)\w* (?:saying|som sa|dar jag sa|och sa|om att sa(?:ga)?) (?:goodbye|hejda|hej da|farval)|(?:sent|skickade|skickat) (?:\w+ ){0,4}(?:goodbye|hejda|hej da|farval)|avskedsbrev\w*|(?:skrivit|skrev|skriver|lamnat|lagt) (?:ett |en |mitt |sista )?(?:brev|lapp|meddelande|sms)\b[\w ,']{0,30}(?:till|for|efter|hejda|forlat)|goodbye (?:letter|note|text|message)|suicide note|(?:wrote|written|left|writing) (?:a |my |the )?(?:letter|note)s? (?:to|for)\b|sagt hejda till|said goodbye to|tagit farval|farval till alla)",
        "not around": r"(?:inte (?:finns|ar) kvar efter|(?:finns|ar) (?:jag )?inte (?:har|kvar)? ?efter (?:helgen|sondag|\w+dag|imorgon|i morgon|ikvall)|efter (?:helgen|i morgon|imorgon|\w+dag) (?:ar|finns) jag (?:borta|inte)|(?:i'?ll|i will) be gone|(?:not|never) (?:going to be|gonna be) (?:here|around)|(?:i'?m|i am) not (?:going to be|gonna be) (?:here|around)|(?<!vill )(?<!vil )(?<!want )(?:aldrig|inte) (?:att )?komma tillbaka|(?:never|not) coming back|ni (?:kommer|lar) (?:aldrig |inte )?(?:att )?(?:hora|fa hora) (?:av|fran) mig (?:mer|igen)|(?:won'?t|will never|will not) hear from me again|last time you'?ll hear from me|snart (?:ar det|ar allt) over|(?:soon )?it(?:'ll| will) (?:all )?be over|nar ni laser (?:det )?har|if you(?:'re| are) reading this|by the time you read this|(?:redan )?for sent\b|too late\b|forsvinn\w* for gott|disappear(?:ing)? (?:for good|forever)|(?:kommer|ska|lar) inte (?:att )?(?:finnas|vara) (?:kvar|har|med)\b(?! i (?:gruppen|rorelsen|chatten))|inte finnas (?:kvar )?efter (?:helgen|idag|ikvall|imorgon|jul)|won'?t be (?:around|here|alive)(?! for the meeting)|will not be (?:around|here|alive)|not be around (?:after|by|much)|won'?t see (?:tomorrow|another|the weekend))",
        "nobody misses": r"(?:vem (?:skulle|kommer att|kommer|bryr sig|saknar)\b[\w ]{0,20}(?:sakna|om)|who(?:'s| is| would| will)? (?:gonna |going to )?miss|no one cares about|nobody cares about|ingen bryr sig om en|ingen (?:kommer att|kommer|skulle|lar) (?:att )?sakna|ingen saknar (?:en|mig|mej|nan)|nobody (?:will|would|is going to|gonna) miss|no one (?:will|would|is going to) miss|won'?t be missed|ingen bryr sig om (?:en|mig) (?:nar|om) (?:jag|man) (?:ar )?(?:borta|dod|do))",
        "giving away": r"(?:(?:gett|gav|ger|skankt|skankte) bort|(?:gave|given|giving) (?:\w+ ){0,4}away|(?:\w+ )?ska fa (?:mina|min|mitt) (?:grejer|saker|katt|hund|klocka|\w+)|who gets my (?:things|stuff)|vem som ska (?:ha|fa) vad|(?:behover|behova) (?:dem|dom|det|den) inte (?:langre|mer)|won'?t need (?:them|it|those) (?:anymore|again)?)",
        "arrangements": r"(?:allt (?:ar|är) ordnat|har (?:gjort i ordning|ordnat) allt|everything(?:'s| is) (?:sorted|arranged|ready)|inget kvar att ordna|nothing left to (?:sort|arrange)|(?:raderat|tagit bort) (?:alla )?(?:mina )?(?:konton|inlagg|allt annat)|deleted (?:all )?(?:my )?(?:accounts|posts|everything)|skrivit (?:ett )?testamente|(?:written|wrote) (?:my|a) will\\b|(?:har|jag har) en plan (?:for|till) (?:ikvall|inatt|imorgon|helgen)|(?:made|have) (?:my|a) plan\\b|sagt upp (?:lagenheten|mig)|gave notice on)",
        "last words": r"(?:(?:sagt|sa|said) (?:mina )?(?:hejda|hej da|farval|goodbye|my goodbyes)|for (?:allra )?sista gangen|for the (?:very )?last time|det sista (?:jag|ja) (?:skriver|sager)|(?:the )?last thing i(?:'ll| will)? (?:write|say)|(?:tell|sag till|saga till|hals(?:a)? till) (?:my |min |mitt |mamma|pappa|\w+ )(?:\w+ )?(?:that )?(?:i|att jag) (?:love|loved|alskar|alskade)|sista (?:gangen|meddelandet|gangen ni|gang ni)|last (?:message|time you(?:'ll)? hear)|ta hand om (?:mamma|min katt|min hund|mina barn|min son|min dotter|lillebror)|take care of (?:my|mum|mom) (?:cat|dog|kids|mum|mom|brother|sister)|forlat (?:mig )?for allt|sorry for everything|forgive me for everything)",
    }
)
TIME = _table(
    {
        "tonight": r"(?:ikvall|ikvall|i kvall|inatt|i natt|tonight|tonite|2night)",
        "clock": r"(?:klockan (?:ett|tva|tre|fyra|fem|sex|sju|atta|nio|tio|elva|tolv)\b|kl(?:\.|ockan)? ?\d{1,2}(?:[.:]\d\d)?\b|(?:vid|runt|efter) (?:\d{1,2}(?:[.:]\d\d)?|ett|tva|tre|fyra|fem|sex|sju|atta|nio|tio|elva|tolv)(?:-?tiden)?\b(?! (?:ar|manader|veckor|dagar|ganger|personer))|at \d{1,2}(?::\d\d)? ?(?:am|pm|o'clock)\b|\d{1,2}(?::\d\d)? ?(?:am|pm)\b)",
        "now": r"(?:just nu|nu ikvall|right now|rn\b|nu(?=\s*(?:$|[.!?,]))|now(?=\s*(?:$|[.!?,]))|nu\b(?= (?:direkt|genast|ar det dags))|its time)",
        "tomorrow": r"(?:imorgon|imorn|imorrn|i morgon|tomorrow|tmrw|tmr\b)",
        "weekend": r"(?:(?:efter|i|till|den har|denna) helgen|efter helgen|helgen\b|(?:this|after the|by the) weekend)",
        "weekday": r"(?:(?:pa |nu pa |pa |pa nasta )?(?:mandag|tisdag|onsdag|torsdag|fredag|lordag|sondag)|(?:on |this |next )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))",
        "date": r"(?:(?:set|satt|bestamt|valt) (?:the |en )?(?:date|datum|dag|dagen)|(?:raknat|raknar|raknade) ner|nedrakning\w*|countdown|counting down|(?:ar|is) (?:the )?dagen\b|is the day\b|d-day|\d{1,2}(?:st|nd|rd|th|e|:e)? (?:jan|feb|mar|apr|maj|may|jun|jul|aug|sep|okt|oct|nov|dec)[a-z]*\b|efter (?:midsommar|jul|pask|nyar)|after (?:midsummer|christmas|easter)|den \d{1,2}(?:e|:e)? (?:jan|feb|mar|apr|maj|jun|jul|aug|sep|okt|nov|dec)\w*|\d{1,2}(?:st|nd|rd|th)? of (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w* \d{1,2}(?:st|nd|rd|th)?\b|nationaldagen|valdagen|pride(?:paraden)?|forsta maj|1 maj)",
    }
)
DESPAIR = _table(
    {
        "cannot go on": r"(?:nu racker det|det racker nu|(?:it'?s|that'?s) enough now|jag ar klar med (?:livet|allt)|done with (?:life|everything)|orkar inte (?:mer|langre|leva|med nagonting|nagonting)|klarar inte (?:mer|av det har langre)|can'?t (?:go on|do this anymore|take (?:it|this) anymore)|cant go on)",
        "no point": r"(?:ingen (?:mening|ide)\b|ingen utvag|hopplost|meningslost|no (?:point|way out|hope)|hopeless|pointless|worthless|vardelos)",
        "burden": r"(?:(?:alla|everyone|everybody) (?:vore|would be|skulle vara|blir) (?:\w+ )?(?:gladare|battre|happier|better)(?: off)? (?:om|if|utan|without)|(?:en )?borda for (?:alla|familjen)|burden (?:to|on) (?:everyone|my family)|alla (?:har det )?battre utan mig|everyone(?:'s| is| would be) better (?:off )?without me)",
        "alone": r"(?:forlorat alla|lost every(?:one|body)|helt ensam|har ingen kvar|har ingen\b|all alone|no one left|nobody left|forlorat allt|lost everything)",
    }
)
SELF_REFERENCE = re.compile(r"(?<![\w])(?:jag|jog|ja|mig|mej|min|mitt|i|i'm|im|me|my|myself)(?![\w])")

PRECURSORS = _table(
    {
        "fertiliser": r"(?:konst|handels)?godsel\w*|godningsmedel\w*|ammoniumnitrat|ammonium nitrate|fertili[sz]er\w*|kalksalpeter",
        "pipes": r"(?:(?:metall|stal|vatten|koppar|bly|jarn)?ror(?:en|et|bitar|stumpar)?\b|stalror|vattenror|metal pipes?|pipes?\b|pipe ?bomb|rorbomb\w*|end ?caps?|andlock)",
        "batteries": r"(?:batteri(?:er|erna|et)?|batter(?:y|ies)|9 ?v(?:olt)?)",
        "wires": r"(?:sladd(?:ar|arna)?|kablar|ledningar|wires?\b|wiring|kopparkabel)",
        "timer": r"(?:timer(?:n|s)?|aggklocka|aggklockor|aggtimer|vackarklocka|alarm clock|countdown)",
        "detonator": r"(?:tandhatt\w*|sprangkaps\w*|detonator\w*|tandare|fuse\b|stubin\w*|blasting caps?)",
        "powder": r"(?:krut(?:et)?|svartkrut|gunpowder|black powder|powder from fireworks|flash powder|thermite|termit|bombmaterial|bomb(?:-| )?(?:making )?materials?|bomb parts)",
        "fireworks": r"(?:fyrverkeri\w*|smallare|fireworks?|firecrackers?)",
        "phone trigger": r"(?:(?:kopplat|kopplade|lodat|wired|soldered|rigged) (?:ihop )?(?:\w+ ){0,2}(?:telefon|mobil|phone|mobile)\w*|(?:telefon|mobil|phone)\w* (?:\w+ ){0,2}(?:kopplad|wired|rigged) (?:till|to))",
        "device": r"(?:(?:the|a|an) (?:device|contraption)|anordning(?:en)?|laddning(?:en)?\b)",
        "carried": r"(?:(?:i|in the|full of|med) (?:bakluckan|boot|trunk|ryggsack\w*|backpack|rucksack)|(?:ryggsack\w*|backpack|vaska|bag) (?:full|med|with))",
        "peroxide": r"(?:vateperoxid|peroxid\w*|hydrogen peroxide|tatp|hmtd)",
        "acetone": r"(?:aceton(?:et)?|acetone)",
        "chemicals": r"(?:kemikalier(?:na)?|chemicals|svavelsyra|saltpeter|sulphuric acid|sulfuric acid|nitric acid)",
        "fuel": r"(?:bensindunk\w*|bensin\b|petrol\b|gasoline|diesel(?:dunk\w*)?|jerry ?cans?|brandfarlig vatska)",
        "nails": r"(?:spik(?:ar|arna)?|skruvar och spik|nails\b|ball bearings|kullager|splitter|shrapnel)",
        "gas": r"(?:gasol(?:tub|flask)\w*|propan\w*|gas (?:canisters?|cylinders?|bottles?))",
    }
)
STRONG_PRECURSORS = frozenset(
    {"fertiliser", "detonator", "powder", "peroxide", "acetone", "chemicals", "phone trigger"}
)
"""Precursors that are rarely bought together with another for a harmless reason."""
EXPLICIT_PRECURSORS = frozenset({"detonator", "phone trigger"})
"""Parts that only a device has (bomb material is counted with them, see ``find_signals``)."""

RECON = re.compile(
    r"(?<![\w])(?:ritning(?:ar)? (?:over|av|pa)|floor ?plans?|blueprints?|film(?:ed|at|ar|ade)? (?:\w+ ){0,3}(?:entrance|entren|ingangen|porten|door)|mapped (?:out )?(?:exactly )?(?:when|where|how)|spana(?:t|r|de)? (?:pa|in)|rek(?:at|ar|ade|a) |kartlagt|kartlagger|(?:nar|hur) vakterna|vakternas? (?:schema|rutiner|pass)|casing|cased|scouted|scouting|surveil\w*|when the guards|guards? (?:change|shift)|filmat entren|filmed the entrance|(?:sover|sleeps|asleep) (?:vid|at|by) (?:\d|tre|fyra|tva|ett))"
)
GEAR = re.compile(
    r"(?<![\w])(?:skyddsvast\w*|skottsaker\w* vast|body ?armou?r|(?:bullet|stab)proof vest|tactical vest|hjalmkamera|helmet ?cam\w*|go ?pro|sanda live|streama|livestream\w*|stream (?:\w+ ){0,3}from|polisuniform|police uniform)"
)
VEHICLE = re.compile(
    r"(?<![\w])(?:(?:kora|kor|drive|driving) (?:\w+ ){0,3}(?:in i|into) (?:the )?(?:\w+ )?(?:crowd|march|parade|people|folk\w*|tag\w*|demonstration\w*|publik\w*)|hyrt (?:en|ett) (?:skapbil|lastbil|flyttbil|van|truck)|rent(?:ed)? a (?:van|truck|lorry)|kora in i (?:folk|folkmassan|publiken)|drive into (?:the )?(?:crowd|people))"
)
DOOM = re.compile(
    r"(?<![\w])(?:finns (?:inte|ingen) (?:\w+ )?kvar|won'?t be standing|blir inte av|won'?t (?:go ahead|happen)|(?:den|det) sista (?:de|ni) (?:firar|gor|har)|the last (?:\w+ )?(?:they|you)(?:'ll)? (?:ever )?(?:celebrate|have))"
)
ACQUIRE = re.compile(
    r"(?<![\w])(?:kopte|kopt|skaffade|skaffat|fick tag pa|har fatt tag pa|lanat|bought|got hold of|purchased|ordered|picked up|got (?:a|himself a|herself a))(?![\w])"
)
FIREARM = re.compile(
    r"(?<![\w])(?:pistol\w*|\w*gevar\w*|vapen|revolver\w*|k-?pist|ak-?47|hagelboss\w*|gun\b|guns\b|rifle\w*|firearm\w*|shotgun|handgun|ammunition|ammo\b)"
)

BUILD = re.compile(
    r"(?<![\w])(?:(?:har|have|has|got) (?:allt|everything|det) (?:\w+ )?(?:jag|han|hon|vi|i|he|she|we) (?:behover|need|needs)|(?:kopt|bought) (?:allt|everything)|\d+ (?:sackar|bags|kilo|kg|tons?)|(?:tio|tjugo|hundra|ten|twenty|hundred) (?:sackar|bags|kilo)|(?:for|spent) (?:\w+ )?(?:\w*tusen|thousands?)|(?:fast|trots att|and|but|och) (?:vi|we|de|they|han|he) (?:bor i (?:en )?lagenhet|live in a flat|(?:har|have|has|don'?t have|doesn'?t have) (?:ingen|no|a) (?:tradgard|garden))|bygg(?:a|er|t|de)|monter\w*|koppla(?:r|t|de)? ihop|blanda(?:r|t|de)?|tillverka\w*|testa(?:r|t|de)? (?:laddning|sprang)|provspräng|build(?:ing|s)?|built|assembl\w*|mix(?:ing|ed)?|wir(?:ing|ed) (?:up|together)|test(?:ed|ing)? (?:a|the) (?:device|charge)|hamstr\w*|kopt (?:upp )?(?:massa|flera|stora)|stockpil\w*|bought (?:a lot|bags|several|tons))"
)
ATTACK_MODELS = re.compile(
    r"(?<![\w])(?:skolskjutning\w*|(?:school|mass) shootings?|masskjutning\w*|breivik\w*|utoya\w*|tarrant\w*|christchurch|columbine|drottninggatan|akilov|trollhattan\w*|kronanskolan|kronan\b|halle\b|buffalo\b|el paso|oklahoma city|mcveigh|unabomber|kaczynski|manifest(?:et|o)?|hans manifest|his manifesto|bataclan|charlie hebdo|norrkopingsskolan|eslov|vetlanda|orebro ?skjutningen|risbergska\w*)"
)
EMULATE = re.compile(
    r"(?<![\w])(?:rakna(?:r|de)? (?:ner |ned )?dag(?:ar|arna)|nedrakning\w*|countdown|counting (?:down )?(?:the )?days|lart sig av|learn(?:ed|t) from|(?:set|satt|bestamt) (?:the )?(?:date|datum|dag)|polisuniform|police uniform|(?:gora|gor|goras) (?:som|samma|likadant|det han gjorde)|som (?:han|de) gjorde|forebild\w*|hjalte\w*|inspirer\w*|studera\w*|pluggar (?:pa|om)|kollar pa (?:filmen|videon|livestream)|slå (?:hans )?rekord|sla (?:hans )?rekord|score|high ?score|doda fler|do (?:what he did|the same|it like)|like (?:he|they) did|hero\b|heroes|saint\b|inspired|studying|studied|role model|beat (?:his|the) (?:score|record)|kill more|next (?:breivik|tarrant))"
)
ADDRESS = re.compile(
    r"(?<![\w])(?:(?:vet|kollat|kollade|letat upp|tagit reda pa|hittat) (?:\w+ ){0,4}var (?:\w+ ){1,6}bor\b|portkod(?:en)?|(?:door|entry) code|know(?:s)? (?:exactly )?where (?:the |that |this )?\w+ (?:\w+ )?lives?|looked up where|hem ?adress\w*|adress(?:en)?\b|\w+'?s (?:home )?address|address of|adressen till|var (?:han|hon|hen|de) bor|bor pa \w+(?:gatan|vagen|gränd|grand|torget)\b|hans port|hennes port|home address|(?:his|her|their) address|where (?:he|she|they) lives?|doxx\w*|doxa(?:t|de|r)?)"
)
VISIT = re.compile(
    r"(?<![\w])(?:ge (?:henne|honom|dem|hen) en laxa|teach (?:her|him|them) a lesson|see you at|(?:aka|ak|aker|gar|go|going|went) (?:dit|there)\b|time to drop by|(?:hem|hus)besok\w*|home visit|vi ses|ses (?:snart|ikvall|inatt|imorgon)|see (?:you|him|her|them) soon|besok\w*|halsa pa|hälsa pa|ga dit|aka dit|knacka pa|fa besok|ska fa besok|dyka upp|hamta (?:honom|henne|dem)|pay (?:him|her|them) a visit|pay a visit|visit\w*|drop by|show up at|go there|knock on)"
)
TARGETS = re.compile(
    r"(?<![\w])(?:skolan|skola|gymnasiet|moske\w*|moské\w*|synagog\w*|kyrka(?:n)?|kyrkan|mosque|synagogue|church|pride\w*|parade\w*|demonstration\w*|demo\b|festival\w*|konsert\w*|concert|koppcentrum|kopcentrum|galleri(?:an|a)|mall|centralstation\w*|station(?:en)?|torget|asylboende\w*|flyktingboende\w*|kvinnojour\w*|skyddat boende|shelter|boende(?:t)?|refugee (?:centre|center|home)|riksdag\w*|parliament|redaktion\w*|newsroom|tidning(?:en)?|journalist\w*|politiker\w*|politician\w*|reporter\w*|imam\w*|rabbin\w*|rabbi|domare(?:n)?|judge|minister\w*|school|class(?:room)?|klassen|mottagning\w*|kopcent\w*|shopping cent\w*|newspaper\w*|editorial office|skolavslutning\w*|graduation|studentfirande\w*|prom\b|lagret|lager\b|camp\b|folkmassa\w*|crowd\w*|tatast|thickest|tunnelbana\w*|subway|metro|valvaka\w*|event\b|lista(?:n)?\b|the list)"
)
VIOLENCE = re.compile(
    r"(?<![\w])(?:(?:flera|manga|alla) (?:\w+ )?(?:ska |kommer att )?do\b(?! ut)|(?:many|several|people) (?:will|are going to|gonna) die|hamnas|hamnd\w*|(?:get |take )?revenge|sla(?:r)? till mot|strike (?:at|against)|hit (?:the|a) (?:\w+ )?(?:event|parade|march|festival|mosque|synagogue|school|camp|demo|rally|pride|church|concert|square)|anfalla|angripa|rensa (?:torget|gatorna|stan|skolan)|clean(?:se)? (?:out )?the (?:square|streets)|misshandla(?:r)? ihjal|sla(?:r)? ihjal|sparka(?:r)? ihjal|beat (?:\w+ ){0,3}to death|kick (?:\w+ ){0,3}to death|doda|dodar|morda|skjuta(?! upp)|skjuter(?! upp)|spranga|spranger|attackera\w*|hugga ner|knivhugga|mej(?:a)? ner|slakta|massaker|blodbad|smalla|smaller|kill(?:ing)?\b|shoot(?:ing)?\b|stab(?:bing)?\b|blow (?:it |them |the \w+ )?up|massacre|bloodbath|slaughter|gun (?:them )?down|spray (?:them|the)|take (?:them|everyone|as many) (?:out|down|with))"
)
WEAPON = re.compile(
    r"(?<![\w])(?<!inga )(?<!no )(?<!inte nagra )(?<!inte nagot )(?<!utan )(?<!without )(?:basebolltra\w*|slagtra\w*|tillhygg\w*|jarnror|(?:baseball )?bats\b|crowbars?|vapen(?:et)?|pistol\w*|gevar\w*|k-?pist|automatvapen|ak-?47|ar-?15|hagelboss\w*|revolver\w*|ammunition|patroner|magasin(?:et)?|granat\w*|bomb(?:en|er)?\b|sprangmedel|sprangladdning\w*|gun(?:s)?\b|rifle\w*|firearm\w*|shotgun|ammo\b|magazines?|grenade\w*|bombs?\b|explosives?|ied\b|machete\w*|yxa(?:n)?|axe\b|kniv(?:ar|en)?\b|knives?\b)"
)
ARSON = re.compile(
    r"(?<![\w])(?:brandbomb\w*|molotov\w*|satta eld pa|tanda eld pa|tanda pa|branna (?:ner |upp )?(?:\w+ )?(?:moske\w*|synagog\w*|kyrk\w*|\w*boende\w*|hus\w*|skola\w*|lokal\w*)|branna (?:ner|upp)|branner (?:ner|upp)|fire ?bomb\w*|set(?:ting)? fire to|burn(?:ing|ed|s)? (?:\w+ ){0,3}down|torch(?:ing|ed|es)? (?:the|it|a)\b|bensin (?:och|&) (?:trasor|flaskor)|petrol bombs?)"
)
THREATENED = _table(
    {
        "threatened me": r"(?:hota(?:t|de|r)? (?:att|med att)\b|threaten(?:ed|s|ing)? to\b|hota(?:t|de|r|s)? (?:mig|mej|oss|min familj|mina barn|min son|min dotter|min mamma)|hot mot (?:mig|mej|oss|min familj)|fatt hot|far hot|blivit hotad|ar hotad|(?:threaten(?:ed|ing|s)?|intimidat\w*) (?:me|us|my family|my kids|my son|my daughter|my mum|my mom)|(?:been|being|am|was|got) threatened|getting threats|receiv\w* threats)",
        "traitor": r"(?:forradare|forradaren|svikare|golare|rattan|rat\b|traitor|snitch|grass\b|deserter|apostat\w*|apostate|murtadd)",
        "know where i live": r"(?:vet var (?:jag|vi|min \w+) bor|vet vart (?:jag|vi) bor|hittat min adress|har min adress|know(?:s)? where (?:i|we|my \w+) live|found my address|have my address|posted my address|publicerat min adress)",
        "after me": r"(?:ar ute efter (?:mig|mej|oss)|jagar (?:mig|mej|oss)|forfoljer (?:mig|mej)|foljer (?:\w+ ){0,3}efter (?:mig|mej)|utanfor (?:mitt|min|var) (?:hus|port|lagenhet|dorr|jobb|skola)|outside my (?:house|door|flat|building|work|school)|stod utanfor (?:mitt|var) (?:hus|port|lagenhet|dorr)|(?:are|is) after me|hunting me|following me|stalking me|(?:waiting|stood|standing) outside my (?:house|door|flat|building))",
        "message to me": r"(?:(?:skrev|skickade|sa|sade|ringde) (?:till )?(?:mig|mej) (?:att|och sa)|(?:wrote|texted|messaged|sent|said|told) (?:to )?me (?:that|i'?m|i am|i was)|fick ett (?:sms|meddelande|brev) (?:dar|om att|som sa)|got a (?:text|message|letter) (?:saying|that))",
        "will pay": r"(?:jag (?:ska|kommer att) (?:fa )?(?:betala|angra|lida)|i(?:'ll| will| am going to|m gonna) (?:pay|regret|suffer)|(?:ska|kommer att) fa (?:betala|igen)|make me pay|(?:jag|vi) (?:ar|blir) (?:nasta|nast pa tur)|i(?:'m| am) next)",
    }
)
DEATH_THREAT = re.compile(
    r"(?<![\w])(?:(?:de|dom|they|he|han) (?:\w+ ){0,4}(?:gor|gora) slut pa (?:mig|mej|oss)|(?:du|jag|han|you|i|you'?re|i'?m) (?:ar |e |am |are )?(?:en |a )?dead(?: man)?\b(?! (?:tired|serious|wrong|right))|(?:du|jag) (?:ar|e) en dod man|dodshot\w*|death threats?|(?:ska|kommer att|tanker|vill) (?:doda|skjuta|knivhugga|hugga|slakta|ha ihjal) (?:mig|mej|oss|min familj|mina barn|min son|min dotter)|(?:will|gonna|going to|are going to|want to|threaten\w* to) (?:kill|shoot|stab|hurt|murder) (?:me|us|my family|my kids|my son|my daughter)|(?:jag|vi) (?:ska|kommer att) dodas\b|ar dod man|(?:i'?m|i am) a dead man)"
)


FUTURE = re.compile(
    r"(?<![\w])(?:det blir (?:pa|under|vid)|it(?:'ll| will) happen|it'?s happening|ska|skall|sk|kommer att|tanker|planerar|har planerat|forbereder|the plan|planen|will|gonna|going to|plan(?:s|ning)? to|about to|intend\w*|preparing)(?![\w])"
)


@dataclass
class SignalHits:
    """Counts per signal group, and ``group:label`` for each match (for the reason)."""

    labels: list[str] = field(default_factory=list)
    self_intent: int = 0
    means: int = 0
    state: int = 0
    quantity: int = 0
    farewell: float = 0.0
    time: int = 0
    despair: int = 0
    self_reference: bool = False
    precursors: int = 0
    build: int = 0
    attack_model: int = 0
    emulate: int = 0
    address: int = 0
    visit: int = 0
    target: int = 0
    violence: int = 0
    weapon: int = 0
    arson: int = 0
    threatened: int = 0
    death_threat: int = 0
    future: int = 0
    strong_precursors: int = 0
    explicit_precursors: int = 0
    recon: int = 0
    acquire_firearm: int = 0
    gear: int = 0
    vehicle: int = 0
    doom: int = 0


def _count(table: tuple[tuple[str, re.Pattern[str]], ...], folded: str, group: str, labels: list[str]) -> int:
    found = 0
    for label, rx in table:
        if rx.search(folded):
            found += 1
            labels.append(f"{group}:{label}")
    return found


def _one(rx: re.Pattern[str], folded: str, group: str, labels: list[str]) -> int:
    m = rx.search(folded)
    if m is None:
        return 0
    labels.append(f"{group}:{m.group(0).strip()}")
    return 1


_NEGATED_SELF = re.compile(rf"{_NEG} (?:\w+ ){{0,2}}(?:vill|want|skulle|would|tanker|planning|plan)\b")


def find_signals(folded: str) -> SignalHits:
    """Every Swedish and English risk signal in ``folded`` text."""
    h = SignalHits()
    labels = h.labels
    h.self_intent = _count(SELF_INTENT, folded, "self", labels)
    if h.self_intent and _NEGATED_SELF.search(folded) and not re.search(r"\b(?:men|but|fast)\b", folded):
        # "jag skulle aldrig vilja ta livet av mig": stated and denied; the classifier decides.
        h.self_intent = 0
        labels[:] = [x for x in labels if not x.startswith("self:")]
    h.means = _count(MEANS, folded, "means", labels)
    h.state = _count(STATE, folded, "state", labels) if h.means else 0
    h.quantity = _count(QUANTITY, folded, "quantity", labels)
    fw = _count(FAREWELL, folded, "farewell", labels)
    strong = any(x.startswith(("farewell:goodbye", "farewell:not around", "farewell:nobody")) for x in labels)
    if any(x == "means:taken them" for x in labels):
        h.state = max(h.state, 1)
    h.farewell = 1.0 if strong else 0.5 * fw
    h.time = _count(TIME, folded, "time", labels)
    h.despair = _count(DESPAIR, folded, "despair", labels)
    h.self_reference = SELF_REFERENCE.search(folded) is not None
    h.precursors = _count(PRECURSORS, folded, "precursor", labels)
    h.strong_precursors = sum(1 for x in labels if x.startswith("precursor:") and x[10:] in STRONG_PRECURSORS)
    h.explicit_precursors = sum(
        1 for x in labels if x.startswith("precursor:") and x[10:] in EXPLICIT_PRECURSORS
    ) + (
        1
        if re.search(
            r"bombmaterial|bomb(?:-| )?(?:making )?material|bomb parts|tatp|hmtd|rorbomb|pipe ?bomb", folded
        )
        else 0
    )
    h.build = _one(BUILD, folded, "build", labels)
    h.recon = _one(RECON, folded, "recon", labels)
    h.gear = _one(GEAR, folded, "gear", labels)
    h.vehicle = _one(VEHICLE, folded, "vehicle", labels)
    h.doom = _one(DOOM, folded, "doom", labels)
    if ACQUIRE.search(folded) and FIREARM.search(folded):
        h.acquire_firearm = 1
        labels.append("weapon:firearm acquired")
    h.attack_model = _one(ATTACK_MODELS, folded, "model", labels)
    h.emulate = _one(EMULATE, folded, "emulate", labels) if h.attack_model else 0
    h.address = _one(ADDRESS, folded, "address", labels)
    h.visit = _one(VISIT, folded, "visit", labels) if h.address else 0
    h.target = _one(TARGETS, folded, "target", labels)
    h.violence = _one(VIOLENCE, folded, "violence", labels)
    h.weapon = _one(WEAPON, folded, "weapon", labels)
    h.arson = _one(ARSON, folded, "arson", labels)
    h.future = 1 if FUTURE.search(folded) else 0
    h.threatened = _count(THREATENED, folded, "threatened", labels)
    h.death_threat = _one(DEATH_THREAT, folded, "death_threat", labels)
    if h.death_threat:
        h.threatened = max(h.threatened, 1)
    return h

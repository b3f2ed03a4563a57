"""What the person is told when nobody on duty speaks their language (:mod:`.languages`), in every
language the line answers people in.  Translations other than sv and en await review by a native
speaker (X-Review: needs native speaker); the emergency number 112 is kept exactly.

``language_notice`` is the notice; ``language_hours`` follows it when ``console.language_hours``
names the usual hours of a counsellor who speaks the language."""

from __future__ import annotations

REVIEW = "needs native speaker"
"""Every text here but sv and en: written with care, to be read by a native speaker."""

PERSON_SHIFT_STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "language_notice": (
            "Just nu är ingen samtalsstödjare i tjänst som talar ditt språk. Ditt meddelande ligger kvar "
            "i kön och du får svar så snart som möjligt. Du kan:\n"
            "– skriva på svenska eller engelska,\n"
            "– be att bli uppringd med tolk: skriv det här, så hör vi av oss,\n"
            "– vänta tills en samtalsstödjare som talar ditt språk är i tjänst.\n"
            "Om någon är i akut fara: ring 112."
        ),
        "language_hours": "En samtalsstödjare som talar ditt språk brukar vara i tjänst: {hours}.",
    },
    "en": {
        "language_notice": (
            "Right now no counsellor on duty speaks your language. Your message stays in the queue and "
            "you will get an answer as soon as possible. You can:\n"
            "– write in Swedish or English,\n"
            "– ask to be called back with an interpreter: write that here and we will get in touch,\n"
            "– wait until a counsellor who speaks your language is on duty.\n"
            "If someone is in immediate danger: call 112."
        ),
        "language_hours": "A counsellor who speaks your language is usually on duty: {hours}.",
    },
    "ar": {
        "language_notice": (
            "لا يوجد الآن أي مستشار مناوب يتحدث لغتك. تبقى رسالتك في قائمة الانتظار وستحصل على ردّ في "
            "أقرب وقت ممكن. يمكنك:\n"
            "– الكتابة باللغة السويدية أو الإنجليزية،\n"
            "– أن تطلب أن نتصل بك بحضور مترجم: اكتب ذلك هنا وسنتواصل معك،\n"
            "– الانتظار حتى يكون مستشار يتحدث لغتك مناوبًا.\n"
            "إذا كان أي شخص في خطر مباشر: اتصل بالرقم 112."
        ),
        "language_hours": "عادةً ما يكون مستشار يتحدث لغتك مناوبًا في: {hours}.",
    },
    "fa": {
        "language_notice": (
            "در حال حاضر هیچ مشاوری که به زبان شما صحبت کند در نوبت کاری نیست. پیام شما در صف می‌ماند و "
            "در اولین فرصت پاسخ می‌گیرید. می‌توانید:\n"
            "– به زبان سوئدی یا انگلیسی بنویسید،\n"
            "– بخواهید که با حضور مترجم با شما تماس بگیریم: این را همین‌جا بنویسید تا با شما تماس بگیریم،\n"
            "– صبر کنید تا مشاوری که به زبان شما صحبت می‌کند در نوبت کاری باشد.\n"
            "اگر کسی در خطر فوری است: با 112 تماس بگیرید."
        ),
        "language_hours": "مشاوری که به زبان شما صحبت می‌کند معمولاً در این زمان‌ها در نوبت کاری است: {hours}.",
    },
    "so": {
        "language_notice": (
            "Hadda ma jiro la-taliye shaqada jooga oo ku hadla luqaddaada. Fariintaadu waxay ku jirtaa "
            "safka, jawaabna waad heli doontaa sida ugu dhakhsaha badan. Waxaad awoodaa:\n"
            "– inaad ku qorto af-Iswiidhish ama af-Ingiriis,\n"
            "– inaad codsato in lagugu soo waco turjubaan la jooga: halkan ku qor, waanu kula soo "
            "xiriiri doonnaa,\n"
            "– inaad sugto ilaa la-taliye ku hadla luqaddaada uu shaqada joogo.\n"
            "Haddii qof uu khatar degdeg ah ku jiro: wac 112."
        ),
        "language_hours": "La-taliye ku hadla luqaddaada wuxuu inta badan shaqada joogaa: {hours}.",
    },
    "ti": {
        "language_notice": (
            "ሕጂ ብቋንቋኹም ዝዛረብ ኣብ ስራሕ ዘሎ ኣማኻሪ የለን። መልእኽትኹም ኣብ መስርዕ ይጸንሕ፣ ብዝተኻእለ መጠን "
            "ቀልጢፍኩም መልሲ ክትረኽቡ ኢኹም። ክትገብርዎ እትኽእሉ፦\n"
            "– ብሽወደንኛ ወይ ብእንግሊዝኛ ምጽሓፍ፣\n"
            "– ምስ ተርጓሚ ክንድውለልኩም ምሕታት፦ ኣብዚ ጽሓፉልና፣ ክንረኽበኩም ኢና፣\n"
            "– ብቋንቋኹም ዝዛረብ ኣማኻሪ ኣብ ስራሕ ክሳብ ዝህሉ ምጽባይ።\n"
            "ዝኾነ ሰብ ኣብ ቅጽበታዊ ሓደጋ እንተሎ፦ ናብ 112 ደውሉ።"
        ),
        "language_hours": "ብቋንቋኹም ዝዛረብ ኣማኻሪ መብዛሕትኡ ግዜ ኣብ ስራሕ ዝህልወሉ፦ {hours}።",
    },
    "tr": {
        "language_notice": (
            "Şu anda görevde dilinizi konuşan bir danışman yok. Mesajınız sırada kalıyor ve en kısa "
            "sürede yanıt alacaksınız. Şunları yapabilirsiniz:\n"
            "– İsveççe veya İngilizce yazmak,\n"
            "– bir tercümanla geri aranmayı istemek: bunu buraya yazın, sizinle iletişime geçelim,\n"
            "– dilinizi konuşan bir danışmanın görevde olmasını beklemek.\n"
            "Herhangi biri acil tehlike altındaysa: 112'yi arayın."
        ),
        "language_hours": "Dilinizi konuşan bir danışman genellikle şu zamanlarda görevdedir: {hours}.",
    },
    "ru": {
        "language_notice": (
            "Сейчас на дежурстве нет консультанта, который говорит на вашем языке. Ваше сообщение "
            "остаётся в очереди, и вы получите ответ как можно скорее. Вы можете:\n"
            "– написать на шведском или английском языке,\n"
            "– попросить перезвонить вам с переводчиком: напишите об этом здесь, и мы свяжемся с вами,\n"
            "– подождать, пока на дежурстве будет консультант, говорящий на вашем языке.\n"
            "Если кому-то грозит непосредственная опасность: позвоните по номеру 112."
        ),
        "language_hours": "Консультант, говорящий на вашем языке, обычно дежурит: {hours}.",
    },
    "bs": {
        "language_notice": (
            "Trenutno nijedan savjetnik na dužnosti ne govori Vaš jezik. Vaša poruka ostaje u redu "
            "čekanja i dobit ćete odgovor što je prije moguće. Možete:\n"
            "– pisati na švedskom ili engleskom jeziku,\n"
            "– zatražiti da Vas nazovemo uz prevodioca: napišite to ovdje i javit ćemo Vam se,\n"
            "– sačekati da savjetnik koji govori Vaš jezik bude na dužnosti.\n"
            "Ako je neko u neposrednoj opasnosti: pozovite 112."
        ),
        "language_hours": "Savjetnik koji govori Vaš jezik obično je na dužnosti: {hours}.",
    },
    "ku": {
        "language_notice": (
            "Niha tu şêwirmendekî li ser kar ku bi zimanê te diaxive tune ye. Peyama te di rêzê de "
            "dimîne û tu yê di zûtirîn dem de bersivê bistînî. Tu dikarî:\n"
            "– bi swêdî an bi îngilîzî binivîsî,\n"
            "– bixwazî ku em bi wergêrekî re li te vegerin: vê li vir binivîse û em ê bi te re "
            "têkilî daynin,\n"
            "– li bendê bimînî heta ku şêwirmendek ku bi zimanê te diaxive li ser kar be.\n"
            "Heke kesek di xetereke lezgîn de be: telefonî 112 bike."
        ),
        "language_hours": "Şêwirmendek ku bi zimanê te diaxive bi gelemperî li ser kar e: {hours}.",
    },
}

/* How many SMS a text costs (as bots/sms/segments.py counts it): GSM-7 when every character is
   in the GSM 03.38 alphabet (the extension table counting two), 160 in one SMS, 153 per part;
   otherwise UCS-2, 70 UTF-16 units in one SMS, 67 per part.  A pair is never split. */
HL.sms = (function () {
  "use strict";
  const BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const EXTENSION = "^{}\\[~]|€\f";

  function count(text) {
    const chars = Array.from(text.trim());
    const gsm = chars.every(function (c) { return BASIC.includes(c) || EXTENSION.includes(c); });
    const unit = function (c) {
      if (gsm) return EXTENSION.includes(c) ? 2 : 1;
      return c.codePointAt(0) > 0xffff ? 2 : 1;
    };
    const single = gsm ? 160 : 70;
    const part = gsm ? 153 : 67;
    let units = 0;
    chars.forEach(function (c) { units += unit(c); });
    if (units === 0) return 0;
    if (units <= single) return 1;
    let n = 1;
    let filled = 0;
    chars.forEach(function (c) {
      const size = unit(c);
      if (filled + size > part) { n += 1; filled = 0; }
      filled += size;
    });
    return n;
  }

  return { count: count };
})();

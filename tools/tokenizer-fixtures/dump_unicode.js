// Prints the character classes the tokenizer regexes use, exactly as this
// node's regex engine (V8 + ICU) sees them, one run of equal flags per line:
//   <first hex> <last hex> <flags decimal>
// Bit order matches lib/text/unicode.h. tools/gen_unicode.py reads this.
'use strict';
const classes = [/\p{Lu}/u, /\p{Ll}/u, /\p{Lt}/u, /\p{Lm}/u, /\p{Lo}/u, /\p{M}/u, /\p{N}/u, /\s/u];
const out = [];
let runStart = 0, runFlags = -1;
for (let cp = 0; cp <= 0x10ffff; cp++) {
  let flags = 0;
  if (cp < 0xd800 || cp > 0xdfff) {
    const s = String.fromCodePoint(cp);
    for (let b = 0; b < classes.length; b++) if (classes[b].test(s)) flags |= 1 << b;
  }
  if (flags !== runFlags) {
    if (runFlags > 0) out.push(`${runStart.toString(16)} ${(cp - 1).toString(16)} ${runFlags}`);
    runStart = cp; runFlags = flags;
  }
}
if (runFlags > 0) out.push(`${runStart.toString(16)} 10ffff ${runFlags}`);
process.stdout.write(`# node ${process.versions.node} unicode ${process.versions.unicode} icu ${process.versions.icu}\n`);
process.stdout.write(out.join('\n') + '\n');

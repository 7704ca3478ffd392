// Writes the tokenizer test fixtures from js-tiktoken, the reference:
//   tests/fixtures/tokenizer/{cl100k,o200k}.vocab  vocabularies in GGUF form
//   tests/fixtures/tokenizer/corpus.txt            test strings (plain text)
//   tests/fixtures/tokenizer/corpus_special.txt    strings with special tokens
//   tests/fixtures/tokenizer/{cl100k,o200k}.expected          ids, plain text
//   tests/fixtures/tokenizer/{cl100k,o200k}.special.expected  ids, specials parsed
//   tests/fixtures/tokenizer/utf8_replacement.txt  "<bytes hex> <TextDecoder output hex>"
//     per line: how ill-formed UTF-8 becomes U+FFFD (the streaming decoder's rule)
// Usage (from this directory, after `npm install`): node gen_fixtures.js
//
// Vocabulary file format (UTF-8, one item per line):
//   pre <name>
//   tokens <count>
//   <type> <token>        (type as GGUF's token_type; token in GPT-2 form)
//   merges <count>
//   <left> <right>        (rank = line order)
// Corpus file format: records of "<byte length>\n<bytes>\n".
// Expected files: one line per corpus record, ids separated by spaces.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { Tiktoken } = require('js-tiktoken/lite');

const OUT = path.resolve(__dirname, '../../tests/fixtures/tokenizer');

// ---- vocabularies -------------------------------------------------------

// GPT-2's byte-to-unicode: printable bytes stand for themselves, the others
// are shifted to U+0100 on, in byte order.
const byteToUnicode = (() => {
  const table = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table.push(String.fromCodePoint(self ? b : 256 + shifted++));
  }
  return table;
})();
const gpt2 = (latin1) => Array.from(latin1, (c) => byteToUnicode[c.charCodeAt(0)]).join('');

// Ranks as latin1 strings (one char per byte), in rank order.
function loadRanks(name) {
  const ranks = require(`js-tiktoken/ranks/${name}`);
  const tokens = [];
  for (const line of ranks.bpe_ranks.split('\n').filter(Boolean)) {
    const [, offset, ...b64] = line.split(' ');
    b64.forEach((t, i) => { tokens[Number(offset) + i] = Buffer.from(t, 'base64').toString('latin1'); });
  }
  return { ranks, tokens };
}

// The standard tiktoken -> merges conversion: a token's merge is the pair
// that BPE with only the lower ranks leaves of its bytes.
function deriveMerges(tokens) {
  const rankOf = new Map(tokens.map((t, r) => [t, r]));
  const merges = [];
  tokens.forEach((token, rank) => {
    if (token.length < 2) return;
    let parts = Array.from(token);
    for (;;) {
      let best = -1, bestRank = rank;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = rankOf.get(parts[i] + parts[i + 1]);
        if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
      }
      if (best < 0) break;
      parts.splice(best, 2, parts[best] + parts[best + 1]);
    }
    if (parts.length !== 2) throw new Error(`token ${rank} is not reachable by merges`);
    merges.push(`${gpt2(parts[0])} ${gpt2(parts[1])}`);
  });
  return merges;
}

const CONTROL = 3;

// Phi-4 (14B): cl100k plus its 96 added tokens (phi4-family.md 1.4).
function phi4Specials() {
  const named = { 100257: '<|endoftext|>', 100258: '<|fim_prefix|>', 100259: '<|fim_middle|>',
    100260: '<|fim_suffix|>', 100264: '<|im_start|>', 100265: '<|im_end|>', 100266: '<|im_sep|>',
    100276: '<|endofprompt|>' };
  const specials = {};
  let dummy = 0;
  for (let id = 100256; id <= 100351; id++) specials[named[id] || `<|dummy_${dummy++}|>`] = id;
  return specials;
}

// Phi-4-mini: o200k padded to 200064 (phi4-family.md 2.4). The ids the doc
// does not name are filled with control tokens <|dummy_N|>, N counting up.
function phi4MiniSpecials() {
  const named = { 199999: '<|endoftext|>', 200018: '<|endofprompt|>', 200019: '<|assistant|>',
    200020: '<|end|>', 200021: '<|user|>', 200022: '<|system|>', 200023: '<|tool|>', 200024: '<|/tool|>',
    200025: '<|tool_call|>', 200026: '<|/tool_call|>', 200027: '<|tool_response|>', 200028: '<|tag|>' };
  const specials = {};
  let dummy = 0;
  for (let id = 199998; id < 200064; id++) specials[named[id] || `<|dummy_${dummy++}|>`] = id;
  return specials;
}

function writeVocab(file, pre, tokens, merges, specials) {
  const lines = [`pre ${pre}`, `tokens ${tokens.length + Object.keys(specials).length}`];
  for (const t of tokens) lines.push(`1 ${gpt2(t)}`);
  const bySpecialId = Object.entries(specials).sort((a, b) => a[1] - b[1]);
  bySpecialId.forEach(([text, id], i) => {
    if (id !== tokens.length + i) throw new Error(`special ids must follow the ranks: ${text} ${id}`);
    lines.push(`${CONTROL} ${text}`);
  });
  lines.push(`merges ${merges.length}`);
  for (const m of merges) lines.push(m);
  fs.writeFileSync(path.join(OUT, file), lines.join('\n') + '\n');
}

// ---- corpus -------------------------------------------------------------

let seed = 0x5eed1234;
function random() { // mulberry32: the corpus must be the same on every run
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(random() * a.length)];
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));

function walk(dir, test, out = [], depth = 0) {
  let entries;
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return out; }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && depth < 6) walk(p, test, out, depth + 1);
    else if (e.isFile() && test(p)) out.push(p);
  }
  return out;
}

// Translated messages of a gettext catalog.
function readMo(file) {
  const b = fs.readFileSync(file);
  if (b.length < 28) return [];
  const le = b.readUInt32LE(0) === 0x950412de;
  if (!le && b.readUInt32BE(0) !== 0x950412de) return [];
  const u32 = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const n = u32(8), table = u32(16), out = [];
  for (let i = 0; i < n; i++) {
    const len = u32(table + 8 * i), off = u32(table + 8 * i + 4);
    if (off + len <= b.length && len > 0) out.push(b.toString('utf8', off, off + len));
  }
  return out;
}

function readText(file) {
  const raw = fs.readFileSync(file);
  return (file.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString('utf8');
}

// A random run of 1..maxLines whole lines of a text.
function excerpt(text, maxLines) {
  const lines = text.split('\n');
  const start = int(0, Math.max(0, lines.length - 1));
  return lines.slice(start, start + int(1, maxLines)).join('\n');
}

function fromCatalogs(count) {
  const byLang = new Map();
  for (const f of walk('/usr/share/locale', (p) => p.endsWith('.mo'))) {
    const lang = f.split('/')[4];
    if (!byLang.has(lang)) byLang.set(lang, []);
    byLang.get(lang).push(f);
  }
  const langs = [...byLang.keys()].sort();
  const out = [];
  while (out.length < count) {
    const msgs = readMo(pick(byLang.get(pick(langs))));
    if (!msgs.length) continue;
    // Sometimes a paragraph of several messages, as a prompt would have.
    const n = random() < 0.2 ? int(2, 6) : 1;
    const parts = [];
    for (let i = 0; i < n; i++) parts.push(pick(msgs));
    out.push(parts.join(pick(['\n', ' ', '\n\n', '\r\n'])));
  }
  return out;
}

function fromFiles(files, count, maxLines) {
  const out = [];
  while (out.length < count && files.length) {
    let text;
    try { text = readText(pick(files)); } catch { continue; }
    const s = excerpt(text, maxLines);
    if (s.trim()) out.push(s);
  }
  return out;
}

function numbers(count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const digits = Array.from({ length: int(1, 40) }, () => int(0, 9)).join('');
    out.push(pick([
      () => digits, () => `${digits}.${int(0, 99999)}`, () => `-${digits}`, () => `$${digits},${int(100, 999)}`,
      () => `${int(0, 255)}.${int(0, 255)}.${int(0, 255)}.${int(0, 255)}`, () => `0x${digits}ff`,
      () => `${digits}e-${int(1, 300)}`, () => `Tel: +${digits.slice(0, 12)} (${int(10, 999)})`,
      () => `${digits}km ${digits}th ٣٤٥٦٧٨ १२३४ 一二三 ①②③ Ⅻ ${digits}`,
      () => `${int(1, 31)}/${int(1, 12)}/${int(1900, 2100)} ${int(0, 23)}:${int(10, 59)}`,
    ])());
  }
  return out;
}

function whitespace(count) {
  const atoms = [' ', '  ', '\t', '\n', '\r\n', '\r', '\n\n', ' \n', '\u00a0', '\u3000', '\u2003', '\ufeff',
    '\u0085', '\u000b', '\u000c', '\u2028', '\u2029', '\u200b'];
  const words = ['a', 'Word', '1', '42', '!', '//', 'é', '中', '\'s', '-', 'x y'];
  const out = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    for (let n = int(1, 12); n > 0; n--) s += random() < 0.6 ? pick(atoms).repeat(int(1, 4)) : pick(words);
    out.push(s);
  }
  return out;
}

function contractions(count) {
  const tails = ["'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'rE", "'ve", "'VE", "'m", "'M", "'ll", "'LL",
    "'Ll", "'lL", "'d", "'D", "'x", "'", "''", "'ſ", "’s", "'st", "'dd", "'lle"];
  const heads = ['it', 'IT', 'It', 'he', 'they', 'THEY', 'We', 'I', 'don', 'DON', 'Ǆ', 'ǅa', 'ǆ', 'ÉTÉ', 'été',
    'Straße', 'ΣΊΣΥΦΟΣ', 'ʼ', '1', ' ', '', '\n', '中文', 'ﬁ', 'İ', 'ı', 'CamelCase', 'aB', 'Ab', 'AB', 'ab', 'ʰa'];
  const out = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    for (let n = int(1, 6); n > 0; n--) s += pick(heads) + pick(tails) + pick(['', ' ', ' ', '\n', '.', pick(heads)]);
    out.push(s);
  }
  return out;
}

function emoji(count) {
  const atoms = ['😀', '👍🏽', '👩🏾‍💻', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇩🇪', '🇯🇵', '🇺🇸🇬🇧', '1️⃣', '#️⃣', '❤️', '🧑🏻‍🤝‍🧑🏿',
    '🫶🏼', '🐈‍⬛', '☺︎', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', '🤌', '\u{1FAE8}', '\u{1FA89}', '👁️‍🗨️', '🙇‍♀️', '©️', '™'];
  const glue = ['', ' ', 'ok', ' great ', '!', '\n', 'a', '中'];
  const out = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    for (let n = int(1, 8); n > 0; n--) s += pick(atoms) + pick(glue);
    out.push(s);
  }
  return out;
}

// Characters sampled by class, straight from this engine's regexes, so the
// random strings hit every class boundary the split patterns care about.
const CLASS_POOLS = (() => {
  const pools = { Lu: [], Ll: [], Lt: [], Lm: [], Lo: [], M: [], N: [], S: [], P: [], Cn: [] };
  const tests = { Lu: /\p{Lu}/u, Ll: /\p{Ll}/u, Lt: /\p{Lt}/u, Lm: /\p{Lm}/u, Lo: /\p{Lo}/u, M: /\p{M}/u,
    N: /\p{N}/u, S: /\s/u, Cn: /\p{Cn}/u };
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    let hit = false;
    for (const k in tests) if (tests[k].test(c)) { pools[k].push(c); hit = true; break; }
    if (!hit) pools.P.push(c);
  }
  return pools;
})();

function randomClasses(count) {
  const weights = [['Lu', 4], ['Ll', 5], ['Lt', 1], ['Lm', 2], ['Lo', 3], ['M', 3], ['N', 3], ['S', 2], ['P', 3],
    ['Cn', 1], ['ascii', 6], ['ws', 3], ['apos', 3]];
  const total = weights.reduce((s, w) => s + w[1], 0);
  const one = () => {
    let r = random() * total;
    for (const [k, w] of weights) {
      if ((r -= w) >= 0) continue;
      if (k === 'ascii') return String.fromCharCode(int(32, 126));
      if (k === 'ws') return pick([' ', ' ', '\n', '\r', '\t', '\u00a0', '\u0085', '\ufeff']);
      if (k === 'apos') return "'" + pick(['s', 'S', 't', 're', 'rE', 've', 'm', 'll', 'lL', 'd', 'D', '']);
      return pick(CLASS_POOLS[k]);
    }
    return 'x';
  };
  const out = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    for (let n = int(1, 30); n > 0; n--) s += one();
    out.push(s);
  }
  return out;
}

// Unicode added after Debian's UCD 15.0, and code points whose class changed.
function newerUnicode() {
  return ['\u088f\u0897 new Arabic', '\u{10D40}\u{10D41}\u{10D4A}', 'ʕʔʕ\u0295ab', '\u1c89\u1c8aAa\u1c89x',
    '\ua7f1\ua7cb', '\u{1E5D0}\u{1E5D1}', '\u{16D40}\u{16D43}', '\u{1FAE9}', '\u{11F00}\u{11F01}'];
}

function edgeCases() {
  return ['', ' ', '  ', '\n', '\r\n', 'a', "'", "'s", "'S", 'ǅ', 'ǅǅ', 'ǅa', 'Aǅ', 'éé', 'e\u0301', 'E\u0301TE\u0301',
    'न\u093fहिन्दी', 'x\u0308\u0308\u0308y', '\u0301start', 'a\u0301\u0302\u0303', '\u200d', '\u{10FFFF}', '\u0378',
    '\u{E0001}', '\uE000\uF8FF', '<|endoftext|>', '<|im_start|>user<|im_sep|>', '<|end|>', 'hello<|endoftext|>world',
    'a'.repeat(1000), ' '.repeat(500), '\n'.repeat(300), '1'.repeat(301), 'ab'.repeat(300) + '!', '中'.repeat(700),
    'A'.repeat(200) + 'a'.repeat(200), 'ΑΒΓ'.repeat(50) + 'αβγ'.repeat(50), '  \n  \n  ', ' \t\r\n \t', 'x \n', 'x  ',
    'x\n\n\ny', '/*\n*/', ' //\n/x', '!!!\n\n\n', '.\r\n/', ' !', '  !', 'foo://bar', 'https://example.com/a/b?c=d'];
}

function specialCorpus(count, specials) {
  const names = Object.keys(specials);
  const texts = ['Hello', ' world', '\n', 'こんにちは', 'Write a poem.', ' ', "it's", '<|', '|>', '<|notspecial|>', '<', '123'];
  const out = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    for (let n = int(1, 10); n > 0; n--) s += random() < 0.4 ? pick(names) : pick(texts);
    out.push(s);
  }
  return out;
}

function writeCorpus(file, strings) {
  const chunks = [];
  for (const s of strings) {
    const b = Buffer.from(s, 'utf8');
    chunks.push(Buffer.from(`${b.length}\n`), b, Buffer.from('\n'));
  }
  fs.writeFileSync(path.join(OUT, file), Buffer.concat(chunks));
}

function writeExpected(file, enc, strings, allowSpecial) {
  const lines = strings.map((s) => enc.encode(s, allowSpecial ? 'all' : [], []).join(' '));
  fs.writeFileSync(path.join(OUT, file), lines.join('\n') + '\n');
}

// Short byte strings, mostly ill-formed, with what TextDecoder makes of them.
function writeReplacementCases(count) {
  const decoder = new TextDecoder('utf-8');
  const interesting = [0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0,
    0xf4, 0xf5, 0xff, 0x41, 0x0a];
  const lines = [];
  for (let i = 0; i < count; i++) {
    const bytes = Buffer.from(Array.from({ length: int(0, 12) },
      () => (random() < 0.7 ? pick(interesting) : int(0, 255))));
    const text = Buffer.from(decoder.decode(bytes), 'utf8');
    lines.push(`${bytes.toString('hex')} ${text.toString('hex')}`);
  }
  fs.writeFileSync(path.join(OUT, 'utf8_replacement.txt'), lines.join('\n') + '\n');
}

function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const sources = {
    catalogs: fromCatalogs(2600),
    code: fromFiles(walk('/usr/include', (p) => p.endsWith('.h')), 300, 40)
      .concat(fromFiles(walk('/usr/lib/python3.11', (p) => p.endsWith('.py')), 300, 40))
      .concat(fromFiles(walk('/usr/share/perl5', (p) => p.endsWith('.pm')), 100, 30))
      .concat(fromFiles(walk('/usr/share/nodejs', (p) => p.endsWith('.js')), 100, 30)),
    man: fromFiles(walk('/usr/share/man', (p) => p.endsWith('.gz')), 400, 25),
    docs: fromFiles(walk('/usr/share/doc', (p) => /README|copyright|NEWS|\.txt$|\.md$/.test(p)), 250, 30),
    locales: fromFiles(walk('/usr/share/i18n/locales', () => true), 150, 20),
    numbers: numbers(300),
    whitespace: whitespace(300),
    contractions: contractions(250),
    emoji: emoji(200),
    random_classes: randomClasses(800),
    newer_unicode: newerUnicode(),
    edge_cases: edgeCases(),
  };
  const corpus = [];
  for (const [name, strings] of Object.entries(sources)) {
    console.log(`corpus: ${name}: ${strings.length}`);
    corpus.push(...strings);
  }
  console.log(`corpus: total ${corpus.length}`);
  writeCorpus('corpus.txt', corpus);

  const phi4 = phi4Specials(), mini = phi4MiniSpecials();
  const specialTexts = specialCorpus(200, phi4).concat(specialCorpus(200, mini));
  writeCorpus('corpus_special.txt', specialTexts);
  writeReplacementCases(3000);

  for (const [file, rankName, pre, specials] of [['cl100k', 'cl100k_base', 'dbrx', phi4],
    ['o200k', 'o200k_base', 'gpt-4o', mini]]) {
    const { ranks, tokens } = loadRanks(rankName);
    const merges = deriveMerges(tokens);
    writeVocab(`${file}.vocab`, pre, tokens, merges, specials);
    console.log(`${file}: ${tokens.length} ranks, ${merges.length} merges, ${Object.keys(specials).length} specials`);
    const enc = new Tiktoken(ranks, specials);
    writeExpected(`${file}.expected`, enc, corpus, false);
    writeExpected(`${file}.special.expected`, enc, specialTexts, true);
  }
}

main();

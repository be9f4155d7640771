// Character classes as Go's regexp/syntax builds them: sorted lists of [lo, hi] code point pairs,
// the Perl (\d \s \w), POSIX ([:alpha:]) and Unicode (\pL, \p{Greek}) groups, and simple case folding.
// The checker in ./go-regexp.ts needs them because the shape of Go's parse tree (which its size and
// nesting limits are measured on) depends on whether a class holds one rune, or one rune and its case pair.

export const MAX_RUNE = 0x10ffff;
// The range of code points that have a case fold partner (Go's minFold and maxFold).
const MIN_FOLD = 0x41;
const MAX_FOLD = 0x1e943;

export type Ranges = number[];
export interface Group { sign: 1 | -1; ranges: Ranges }

const perl: Record<string, Ranges> = {
  d: [0x30, 0x39],
  s: [0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x20],
  w: [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a],
};

/** `\d`, `\D`, `\s`, `\S`, `\w`, `\W`, keyed by the letter. */
export function perlGroup(letter: string): Group | undefined {
  const ranges = perl[letter.toLowerCase()];
  if (!ranges) return undefined;
  return { sign: letter === letter.toLowerCase() ? 1 : -1, ranges };
}

const posix: Record<string, Ranges> = {
  alnum: [0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a],
  alpha: [0x41, 0x5a, 0x61, 0x7a],
  ascii: [0x00, 0x7f],
  blank: [0x09, 0x09, 0x20, 0x20],
  cntrl: [0x00, 0x1f, 0x7f, 0x7f],
  digit: [0x30, 0x39],
  graph: [0x21, 0x7e],
  lower: [0x61, 0x7a],
  print: [0x20, 0x7e],
  punct: [0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e],
  space: [0x09, 0x0d, 0x20, 0x20],
  upper: [0x41, 0x5a],
  word: [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a],
  xdigit: [0x30, 0x39, 0x41, 0x46, 0x61, 0x66],
};

/** `[:alpha:]` or `[:^alpha:]` (the whole bracketed name). */
export function posixGroup(name: string): Group | undefined {
  const m = /^\[:(\^?)([a-z]+):\]$/.exec(name);
  const ranges = m ? posix[m[2]!] : undefined;
  if (!m || !ranges || !Object.hasOwn(posix, m[2]!)) return undefined;
  return { sign: m[1] ? -1 : 1, ranges };
}

// Go's unicode.Categories and unicode.Scripts (Unicode 15, Go 1.21 and later: what KMM is built with).
const CATEGORIES = 'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(' ');
const SCRIPTS = new Set((
  'Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali Bhaiksuki Bopomofo ' +
  'Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common ' +
  'Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs ' +
  'Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul ' +
  'Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited Inscriptional_Pahlavi Inscriptional_Parthian ' +
  'Javanese Kaithi Kannada Katakana Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha ' +
  'Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi ' +
  'Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar ' +
  'Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian ' +
  'Old_Italic Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage ' +
  'Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra ' +
  'Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog ' +
  'Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Toto Ugaritic ' +
  'Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square'
).split(' '));

/** Scripts that need Unicode 14 or 15 (Go 1.21+); a differential test against an older Go leaves them out. */
export const RECENT_SCRIPTS: readonly string[] = ['Cypro_Minoan', 'Kawi', 'Nag_Mundari', 'Old_Uyghur', 'Tangsa', 'Toto', 'Vithkuqi'];

const unicodeCache = new Map<string, Ranges>();
let blocks: [number, string][] | undefined;

// The code point at UTF-16 index `i` of the block starting at `first` (one unit each up to U+FFFF, two after).
function codePointAt(first: number, i: number): number {
  if (first === 0) return i;
  return i < 0x2000 ? 0xe000 + i : 0x10000 + (i - 0x2000) / 2;
}

// Every code point in order, in two strings around the surrogates (which a JavaScript string cannot hold alone).
function codePointBlocks(): [number, string][] {
  blocks ??= [[0, 0xd7ff], [0xe000, MAX_RUNE]].map(([lo, hi]) => {
    const parts: string[] = [];
    for (let c = lo!; c <= hi!; c += 0x1000) parts.push(String.fromCodePoint(...Array.from({ length: Math.min(0x1000, hi! - c + 1) }, (_, i) => c + i)));
    return [lo!, parts.join('')] as [number, string];
  });
  return blocks;
}

/** The ranges of a Unicode class name Go knows (`Any`, a category or a script), or undefined. */
export function unicodeTable(name: string): Ranges | undefined {
  if (name === 'Any') return [0, MAX_RUNE];
  const cached = unicodeCache.get(name);
  if (cached) return cached;
  let property: string;
  if (CATEGORIES.includes(name)) property = name === 'C' ? '[\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}]' : `\\p{gc=${name}}`;
  else if (SCRIPTS.has(name)) property = `\\p{sc=${name}}`;
  else return undefined;
  // JavaScript's Unicode data is close enough to Go's: the contents only shape the tree, never decide validity.
  // Runs of matching code points come straight from the regexp engine, over strings of consecutive code points.
  const re = new RegExp(`${property}+`, 'gu');
  const ranges: Ranges = [];
  for (const [first, text] of codePointBlocks()) {
    for (const m of text.matchAll(re)) appendRange(ranges, codePointAt(first, m.index), codePointAt(first, m.index + m[0].length) - 1);
  }
  if (name === 'Cs' || name === 'C') cleanClass(appendRange(ranges, 0xd800, 0xdfff));
  unicodeCache.set(name, ranges);
  return ranges;
}

// ---- range lists ----

/** Adds [lo, hi], merging with the last two ranges when they touch (as Go's appendRange does). */
export function appendRange(r: Ranges, lo: number, hi: number): Ranges {
  const n = r.length;
  for (let i = 2; i <= 4; i += 2) {
    if (n >= i) {
      const rlo = r[n - i]!;
      const rhi = r[n - i + 1]!;
      if (lo <= rhi + 1 && rlo <= hi + 1) {
        if (lo < rlo) r[n - i] = lo;
        if (hi > rhi) r[n - i + 1] = hi;
        return r;
      }
    }
  }
  r.push(lo, hi);
  return r;
}

export function appendClass(r: Ranges, x: Ranges): Ranges {
  for (let i = 0; i < x.length; i += 2) appendRange(r, x[i]!, x[i + 1]!);
  return r;
}

/** Sorts and merges the ranges in place. */
export function cleanClass(r: Ranges): Ranges {
  const pairs: [number, number][] = [];
  for (let i = 0; i < r.length; i += 2) pairs.push([r[i]!, r[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const out: Ranges = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (last > 0 && lo <= out[last]! + 1) {
      if (hi > out[last]!) out[last] = hi;
    } else {
      out.push(lo, hi);
    }
  }
  r.length = 0;
  r.push(...out);
  return r;
}

export function negateClass(r: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (let i = 0; i < r.length; i += 2) {
    if (r[i]! > next) out.push(next, r[i]! - 1);
    next = r[i + 1]! + 1;
  }
  if (next <= MAX_RUNE) out.push(next, MAX_RUNE);
  return out;
}

export function appendNegatedClass(r: Ranges, x: Ranges): Ranges {
  return appendClass(r, negateClass(cleanClass([...x])));
}

// ---- simple case folding ----

let orbits: Map<number, number[]> | undefined;

// Equivalence classes of code points under simple upper/lower case mapping (Unicode simple case folding orbits).
function foldOrbits(): Map<number, number[]> {
  if (orbits) return orbits;
  const parent = new Map<number, number>();
  const find = (c: number): number => {
    let p = parent.get(c) ?? c;
    while (p !== (parent.get(p) ?? p)) p = parent.get(p) ?? p;
    return p;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(Math.max(ra, rb), Math.min(ra, rb));
  };
  for (let c = MIN_FOLD; c <= MAX_FOLD; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    const s = String.fromCodePoint(c);
    for (const mapped of [s.toLowerCase(), s.toUpperCase()]) {
      const cps = [...mapped];
      if (cps.length === 1 && mapped !== s) union(c, cps[0]!.codePointAt(0)!);
    }
  }
  const groups = new Map<number, number[]>();
  for (const c of parent.keys()) {
    const root = find(c);
    const group = groups.get(root) ?? [root];
    if (!group.includes(c)) group.push(c);
    groups.set(root, group);
  }
  orbits = new Map();
  for (const group of groups.values()) {
    group.sort((a, b) => a - b);
    for (const c of group) orbits.set(c, group);
  }
  return orbits;
}

/** Go's unicode.SimpleFold: the next code point of `c`'s fold orbit, cyclically; `c` itself when it has none. */
export function simpleFold(c: number): number {
  const orbit = c < MIN_FOLD || c > MAX_FOLD ? undefined : foldOrbits().get(c);
  if (!orbit) return c;
  return orbit.find((x) => x > c) ?? orbit[0]!;
}

export function minFoldRune(c: number): number {
  const orbit = c < MIN_FOLD || c > MAX_FOLD ? undefined : foldOrbits().get(c);
  return orbit ? orbit[0]! : c;
}

export function appendFoldedRange(r: Ranges, lo: number, hi: number): Ranges {
  if (lo <= MIN_FOLD && hi >= MAX_FOLD) return appendRange(r, lo, hi);
  if (hi < MIN_FOLD || lo > MAX_FOLD) return appendRange(r, lo, hi);
  if (lo < MIN_FOLD) {
    appendRange(r, lo, MIN_FOLD - 1);
    lo = MIN_FOLD;
  }
  if (hi > MAX_FOLD) {
    appendRange(r, MAX_FOLD + 1, hi);
    hi = MAX_FOLD;
  }
  for (let c = lo; c <= hi; c++) {
    appendRange(r, c, c);
    for (let f = simpleFold(c); f !== c; f = simpleFold(f)) appendRange(r, f, f);
  }
  return r;
}

export function appendFoldedClass(r: Ranges, x: Ranges): Ranges {
  for (let i = 0; i < x.length; i += 2) appendFoldedRange(r, x[i]!, x[i + 1]!);
  return r;
}

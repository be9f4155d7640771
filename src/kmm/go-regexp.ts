// Says whether Go's `regexp.Compile` (what KMM's webhook runs on kernel mapping regexps) accepts a
// pattern, and if not, gives Go's error. It follows Go's regexp/syntax parser with the Perl flags
// regexp.Compile uses, on code points (not UTF-16 units), and builds the same parse tree, because
// Go's limits are measured on that tree: nesting deeper than 1000 ("expression nests too deeply"),
// repetition counts above 1000 (also nested: (a{100}){100} is refused), and a compiled size above
// 128 MB ("expression too large"). The behaviour is that of Go 1.22 and later (it accepts (?<name>...)).
import {
  appendClass, appendFoldedClass, appendFoldedRange, appendNegatedClass, appendRange, cleanClass, MAX_RUNE,
  negateClass, perlGroup, posixGroup, unicodeTable, type Group, type Ranges,
} from './go-regexp-classes.ts';
import {
  AnyChar, AnyCharNotNL, BeginLine, BeginText, Capture, CharClass, DotNL, EndLine, EndText, FoldCase, GoRegexpError, LeftParen, Limit,
  MAX_REPEAT, NonGreedy, NoWordBoundary, OneLine, Plus, Quest, Repeat, repeatIsValid, Star, VerticalBar, WasDollar, WordBoundary,
} from './go-regexp-nodes.ts';
import { Tree } from './go-regexp-tree.ts';

export { GoRegexpError } from './go-regexp-nodes.ts';

/** Go's error for `pattern` (as `regexp.Compile` would return it), or undefined when Go compiles it. */
export function goRegexpError(pattern: string): GoRegexpError | undefined {
  try {
    new Parser(pattern).parse();
    return undefined;
  } catch (err) {
    if (err instanceof GoRegexpError) return err;
    if (err instanceof Limit) return new GoRegexpError(err.code, pattern);
    throw err;
  }
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;
const isAlnum = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const cp = (s: string): number => s.codePointAt(0)!;

class Parser extends Tree {
  // The pattern as code points; a lone UTF-16 surrogate is U+FFFD, as Go's JSON decoding makes it.
  private readonly s: number[];
  private i = 0;

  constructor(pattern: string) {
    super();
    this.s = [...pattern].map((ch) => {
      const c = ch.codePointAt(0)!;
      return c >= 0xd800 && c <= 0xdfff ? 0xfffd : c;
    });
  }

  private text(from: number, to = this.s.length): string {
    return String.fromCodePoint(...this.s.slice(from, to));
  }

  private fail(code: string, from: number, to?: number): never {
    throw new GoRegexpError(code, this.text(from, to));
  }

  private repeat(op: number, min: number, max: number, before: number, after: number, lastRepeat: number): number {
    let flags = this.flags;
    if (this.s[after] === 0x3f /* ? */) {
      after++;
      flags ^= NonGreedy;
    }
    if (lastRepeat >= 0) this.fail('invalid nested repetition operator', lastRepeat, after);
    const n = this.stack.length;
    if (n === 0 || this.stack[n - 1]!.op >= LeftParen) this.fail('missing argument to repetition operator', before, after);
    const re = this.newNode(op);
    Object.assign(re, { min, max, flags, subs: [this.stack[n - 1]!] });
    this.stack[n - 1] = re;
    this.checkLimits(re);
    if (op === Repeat && (min >= 2 || max >= 2) && !repeatIsValid(re, MAX_REPEAT)) {
      this.fail('invalid repeat count', before, after);
    }
    return after;
  }

  private parseVerticalBar(): void {
    this.concat();
    if (!this.swapVerticalBar()) this.op(VerticalBar);
  }

  private parseRightParen(): void {
    this.concat();
    if (this.swapVerticalBar()) this.stack.pop();
    this.alternate();
    const n = this.stack.length;
    if (n < 2) this.fail('unexpected )', 0);
    const re1 = this.stack[n - 1]!;
    const re2 = this.stack[n - 2]!;
    this.stack.length = n - 2;
    if (re2.op !== LeftParen) this.fail('unexpected )', 0);
    this.flags = re2.flags;
    if (re2.cap === 0) {
      this.push(re1);
    } else {
      re2.op = Capture;
      re2.subs = [re1];
      this.push(re2);
    }
  }

  // ---- the main loop ----

  parse(): void {
    const s = this.s;
    let lastRepeat = -1;
    while (this.i < s.length) {
      let repeat = -1;
      const c = s[this.i]!;
      switch (c) {
        case 0x28: /* ( */
          if (s[this.i + 1] === 0x3f /* ? */) {
            this.parsePerlFlags();
            break;
          }
          this.numCap++;
          this.op(LeftParen)!.cap = this.numCap;
          this.i++;
          break;
        case 0x7c: /* | */ this.parseVerticalBar(); this.i++; break;
        case 0x29: /* ) */ this.parseRightParen(); this.i++; break;
        case 0x5e: /* ^ */ this.op(this.flags & OneLine ? BeginText : BeginLine); this.i++; break;
        case 0x24: /* $ */
          if (this.flags & OneLine) this.op(EndText)!.flags |= WasDollar;
          else this.op(EndLine);
          this.i++;
          break;
        case 0x2e: /* . */ this.op(this.flags & DotNL ? AnyChar : AnyCharNotNL); this.i++; break;
        case 0x5b: /* [ */ this.parseClass(); break;
        case 0x2a: case 0x2b: case 0x3f: { /* * + ? */
          const before = this.i;
          const op = c === 0x2a ? Star : c === 0x2b ? Plus : Quest;
          this.i = this.repeat(op, 0, 0, before, before + 1, lastRepeat);
          repeat = before;
          break;
        }
        case 0x7b: { /* { */
          const before = this.i;
          const parsed = this.parseRepeat(before);
          if (!parsed) {
            this.literal(c);
            this.i++;
            break;
          }
          const { min, max, after } = parsed;
          if (min < 0 || min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) this.fail('invalid repeat count', before, after);
          this.i = this.repeat(Repeat, min, max, before, after, lastRepeat);
          repeat = before;
          break;
        }
        case 0x5c: /* \ */ this.parseBackslash(); break;
        default: this.literal(c); this.i++;
      }
      lastRepeat = repeat;
    }
    this.concat();
    if (this.swapVerticalBar()) this.stack.pop();
    this.alternate();
    if (this.stack.length !== 1) this.fail('missing closing )', 0);
  }

  private parseBackslash(): void {
    const s = this.s;
    const next = s[this.i + 1];
    const simple: Record<number, number> = { 0x41: BeginText, 0x62: WordBoundary, 0x42: NoWordBoundary, 0x7a: EndText };
    if (next !== undefined && simple[next] !== undefined) {
      this.op(simple[next]);
      this.i += 2;
      return;
    }
    if (next === 0x43 /* C */) this.fail('invalid escape sequence', this.i, this.i + 2);
    if (next === 0x51 /* Q */) {
      let end = this.i + 2;
      while (end < s.length && !(s[end] === 0x5c && s[end + 1] === 0x45)) end++;
      for (let j = this.i + 2; j < end; j++) this.literal(s[j]!);
      this.i = Math.min(end + 2, s.length);
      return;
    }
    if (next === 0x70 || next === 0x50 /* p P */) {
      const ranges = this.parseUnicodeClass([]);
      if (ranges) {
        this.pushClass(ranges);
        return;
      }
    }
    const perl = next === undefined ? undefined : perlGroup(String.fromCodePoint(next));
    if (perl) {
      this.i += 2;
      this.pushClass(this.appendGroup([], perl));
      return;
    }
    this.literal(this.parseEscape());
  }

  private pushClass(ranges: Ranges): void {
    const re = this.newNode(CharClass);
    re.flags = this.flags;
    re.runes = ranges;
    this.push(re);
  }

  private parseRepeat(from: number): { min: number; max: number; after: number } | undefined {
    let j = from + 1;
    const int = (): number | undefined => {
      const begin = j;
      if (!isDigit(this.s[j])) return undefined;
      if (this.s[j] === 0x30 && isDigit(this.s[j + 1])) return undefined; // no leading zeros
      while (isDigit(this.s[j])) j++;
      const digits = this.text(begin, j);
      return digits.length > 8 ? -1 : Number(digits);
    };
    let min = int();
    if (min === undefined || j >= this.s.length) return undefined;
    let max = min;
    if (this.s[j] === 0x2c /* , */) {
      j++;
      if (j >= this.s.length) return undefined;
      if (this.s[j] === 0x7d) {
        max = -1;
      } else {
        const m = int();
        if (m === undefined) return undefined;
        max = m;
        if (max < 0) min = -1;
      }
    }
    if (this.s[j] !== 0x7d /* } */) return undefined;
    return { min, max, after: j + 1 };
  }

  private parsePerlFlags(): void {
    const s = this.s;
    const start = this.i;
    const named = (s[start + 2] === 0x50 && s[start + 3] === 0x3c && s.length - start > 4) ? start + 4
      : (s[start + 2] === 0x3c && s.length - start > 3) ? start + 3 : -1;
    if (named >= 0) {
      const end = s.indexOf(0x3e /* > */, start);
      if (end < 0) this.fail('invalid named capture', start);
      const name = this.text(named, end);
      if (name === '' || ![...name].every((ch) => ch === '_' || isAlnum(cp(ch)))) this.fail('invalid named capture', start, end + 1);
      this.numCap++;
      const re = this.op(LeftParen)!;
      re.cap = this.numCap;
      re.name = name;
      this.i = end + 1;
      return;
    }
    let j = start + 2;
    let flags = this.flags;
    let sign = 1;
    let sawFlag = false;
    while (j < s.length) {
      const c = s[j++]!;
      if (c === 0x69 /* i */) { flags |= FoldCase; sawFlag = true; continue; }
      if (c === 0x6d /* m */) { flags &= ~OneLine; sawFlag = true; continue; }
      if (c === 0x73 /* s */) { flags |= DotNL; sawFlag = true; continue; }
      if (c === 0x55 /* U */) { flags |= NonGreedy; sawFlag = true; continue; }
      if (c === 0x2d /* - */) {
        if (sign < 0) break;
        sign = -1;
        flags = ~flags;
        sawFlag = false;
        continue;
      }
      if (c === 0x3a || c === 0x29 /* : ) */) {
        if (sign < 0) {
          if (!sawFlag) break;
          flags = ~flags;
        }
        if (c === 0x3a) this.op(LeftParen);
        this.flags = flags;
        this.i = j;
        return;
      }
      break;
    }
    this.fail('invalid or unsupported Perl syntax', start, j);
  }

  private parseEscape(): number {
    const s = this.s;
    const start = this.i;
    let j = start + 1;
    if (j >= s.length) throw new GoRegexpError('trailing backslash at end of expression', '');
    const c = s[j++]!;
    const octal = (d: number | undefined): boolean => d !== undefined && d >= 0x30 && d <= 0x37;
    const done = (r: number): number => {
      this.i = j;
      return r;
    };
    if (c < 0x80 && !isAlnum(c)) return done(c);
    if (c === 0x30 || (c >= 0x31 && c <= 0x37 && octal(s[j]))) {
      let r = c - 0x30;
      for (let k = 1; k < 3 && octal(s[j]); k++) r = r * 8 + s[j++]! - 0x30;
      return done(r);
    }
    const unhex = (d: number | undefined): number => {
      if (d === undefined) return -1;
      if (d >= 0x30 && d <= 0x39) return d - 0x30;
      if (d >= 0x61 && d <= 0x66) return d - 0x61 + 10;
      if (d >= 0x41 && d <= 0x46) return d - 0x41 + 10;
      return -1;
    };
    if (c === 0x78 /* x */ && j < s.length) {
      const d = s[j++]!;
      if (d === 0x7b /* { */) {
        let r = 0;
        let nhex = 0;
        for (;;) {
          if (j >= s.length) break;
          const h = s[j++]!;
          if (h === 0x7d) {
            if (nhex === 0) break;
            return done(r);
          }
          const v = unhex(h);
          if (v < 0) break;
          r = r * 16 + v;
          if (r > MAX_RUNE) break;
          nhex++;
        }
      } else {
        const x = unhex(d);
        const y = unhex(s[j]);
        if (j < s.length) j++;
        if (x >= 0 && y >= 0) return done(x * 16 + y);
      }
    }
    const named: Record<number, number> = { 0x61: 7, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9, 0x76: 11 };
    if (named[c] !== undefined) return done(named[c]);
    this.fail('invalid escape sequence', start, j);
  }

  private appendGroup(r: Ranges, g: Group): Ranges {
    if (!(this.flags & FoldCase)) return g.sign < 0 ? appendNegatedClass(r, g.ranges) : appendClass(r, g.ranges);
    const tmp = cleanClass(appendFoldedClass([], g.ranges));
    return g.sign < 0 ? appendNegatedClass(r, tmp) : appendClass(r, tmp);
  }

  /** `\pN`, `\p{Name}`, `\PN`, `\p{^Name}` at this.i: the ranges appended to `r`, or undefined when it is none. */
  private parseUnicodeClass(r: Ranges): Ranges | undefined {
    const s = this.s;
    const start = this.i;
    if (s[start] !== 0x5c || (s[start + 1] !== 0x70 && s[start + 1] !== 0x50)) return undefined;
    if (start + 2 >= s.length) this.fail('invalid character class range', start, start + 2);
    let sign = s[start + 1] === 0x50 ? -1 : 1;
    let name: string;
    let end: number;
    if (s[start + 2] !== 0x7b) {
      name = this.text(start + 2, start + 3);
      end = start + 3;
    } else {
      const close = s.indexOf(0x7d, start);
      if (close < 0) this.fail('invalid character class range', start);
      name = this.text(start + 3, close);
      end = close + 1;
    }
    if (name.startsWith('^')) {
      sign = -sign;
      name = name.slice(1);
    }
    const table = unicodeTable(name);
    if (!table) this.fail('invalid character class range', start, end);
    this.i = end;
    if (!(this.flags & FoldCase)) return sign > 0 ? appendClass(r, table) : appendNegatedClass(r, table);
    // Go adds the script's or category's fold table; folding every member gives the same closure.
    const tmp = cleanClass(appendFoldedClass([], table));
    return sign > 0 ? appendClass(r, tmp) : appendNegatedClass(r, tmp);
  }

  private parseClass(): void {
    const s = this.s;
    const whole = this.i;
    this.i++;
    const re = this.newNode(CharClass);
    re.flags = this.flags;
    let sign = 1;
    let cls: Ranges = [];
    if (s[this.i] === 0x5e /* ^ */) {
      sign = -1;
      this.i++;
    }
    let first = true;
    while (this.i >= s.length || s[this.i] !== 0x5d || first) {
      if (this.i >= s.length) this.fail('missing closing ]', whole);
      first = false;
      if (s[this.i] === 0x5b && s[this.i + 1] === 0x3a && this.i + 2 < s.length) {
        const rest = this.text(this.i + 2);
        const colon = rest.indexOf(':]');
        if (colon >= 0) {
          const name = `[:${rest.slice(0, colon)}:]`;
          const group = posixGroup(name);
          if (!group) throw new GoRegexpError('invalid character class range', name);
          cls = this.appendGroup(cls, group);
          this.i += [...name].length;
          continue;
        }
      }
      const uni = this.parseUnicodeClass(cls);
      if (uni) {
        cls = uni;
        continue;
      }
      const perl = s[this.i] === 0x5c && s[this.i + 1] !== undefined ? perlGroup(String.fromCodePoint(s[this.i + 1]!)) : undefined;
      if (perl) {
        cls = this.appendGroup(cls, perl);
        this.i += 2;
        continue;
      }
      const rangeStart = this.i;
      const lo = this.parseClassChar(whole);
      let hi = lo;
      if (s[this.i] === 0x2d /* - */ && this.i + 1 < s.length && s[this.i + 1] !== 0x5d) {
        this.i++;
        hi = this.parseClassChar(whole);
        if (hi < lo) this.fail('invalid character class range', rangeStart, this.i);
      }
      cls = this.flags & FoldCase ? appendFoldedRange(cls, lo, hi) : appendRange(cls, lo, hi);
    }
    this.i++; // ]
    cls = cleanClass(cls);
    // With ClassNL (part of the Perl flags) a negated class may match \n: Go adds nothing before negating.
    re.runes = sign < 0 ? negateClass(cls) : cls;
    this.push(re);
  }

  private parseClassChar(whole: number): number {
    if (this.i >= this.s.length) this.fail('missing closing ]', whole);
    if (this.s[this.i] === 0x5c) return this.parseEscape();
    return this.s[this.i++]!;
  }
}

// The nodes of Go's regexp/syntax parse tree: op codes and flags with Go's values (their order
// matters), Go's limits, the errors, and the node-level helpers of the tree builder (./go-regexp-tree.ts).
import { appendClass, appendFoldedRange, appendRange, cleanClass, MAX_RUNE, type Ranges } from './go-regexp-classes.ts';

// Go's Op values: their order matters (class merging keeps the "larger" op).
export const NoMatch = 1, EmptyMatch = 2, Literal = 3, CharClass = 4, AnyCharNotNL = 5, AnyChar = 6, BeginLine = 7, EndLine = 8;
export const BeginText = 9, EndText = 10, WordBoundary = 11, NoWordBoundary = 12, Capture = 13, Star = 14, Plus = 15, Quest = 16;
export const Repeat = 17, Concat = 18, Alternate = 19, LeftParen = 128, VerticalBar = 129;

// Flags (regexp.Compile uses syntax.Perl = ClassNL | OneLine | PerlX | UnicodeGroups).
export const FoldCase = 1, DotNL = 8, OneLine = 16, NonGreedy = 32, WasDollar = 512;

export const MAX_HEIGHT = 1000;
export const MAX_SIZE = Math.floor((128 << 20) / 40);
export const MAX_RUNES = (128 << 20) / 4;
export const MAX_REPEAT = 1000;

export interface Node {
  op: number;
  flags: number;
  runes: Ranges;
  subs: Node[];
  min: number;
  max: number;
  cap: number;
  name: string;
}

/** A pattern Go refuses, with Go's error code and the part of the pattern it names. */
export class GoRegexpError extends Error {
  readonly code: string;
  readonly expr: string;
  constructor(code: string, expr: string) {
    super(`error parsing regexp: ${code}: \`${expr}\``);
    this.code = code;
    this.expr = expr;
  }
}

// A limit hit deep in the tree; reported for the whole pattern, as Go does.
export class Limit extends Error {
  readonly code: string;
  constructor(code: string) {
    super(code);
    this.code = code;
  }
}

export function repeatIsValid(re: Node, n: number): boolean {
  if (re.op === Repeat) {
    let m = re.max;
    if (m === 0) return true;
    if (m < 0) m = re.min;
    if (m > n) return false;
    if (m > 0) n = Math.trunc(n / m);
  }
  return re.subs.every((sub) => repeatIsValid(sub, n));
}

export function isCharClass(re: Node): boolean {
  return (re.op === Literal && re.runes.length === 1) || re.op === CharClass || re.op === AnyCharNotNL || re.op === AnyChar;
}

export function matchRune(re: Node, r: number): boolean {
  switch (re.op) {
    case Literal: return re.runes.length === 1 && re.runes[0] === r;
    case CharClass:
      for (let i = 0; i < re.runes.length; i += 2) if (re.runes[i]! <= r && r <= re.runes[i + 1]!) return true;
      return false;
    case AnyCharNotNL: return r !== 10;
    case AnyChar: return true;
  }
  return false;
}

export function appendLiteral(r: Ranges, x: number, flags: number): Ranges {
  return flags & FoldCase ? appendFoldedRange(r, x, x) : appendRange(r, x, x);
}

export function mergeCharClass(dst: Node, src: Node): void {
  switch (dst.op) {
    case AnyChar: break;
    case AnyCharNotNL: if (matchRune(src, 10)) dst.op = AnyChar; break;
    case CharClass:
      dst.runes = src.op === Literal ? appendLiteral(dst.runes, src.runes[0]!, src.flags) : appendClass(dst.runes, src.runes);
      break;
    case Literal:
      if (src.runes[0] === dst.runes[0] && src.flags === dst.flags) break;
      dst.op = CharClass;
      dst.runes = appendLiteral(appendLiteral([], dst.runes[0]!, dst.flags), src.runes[0]!, src.flags);
      break;
  }
}

export function cleanAlt(re: Node): void {
  if (re.op !== CharClass) return;
  re.runes = cleanClass(re.runes);
  const r = re.runes;
  if (r.length === 2 && r[0] === 0 && r[1] === MAX_RUNE) {
    re.runes = [];
    re.op = AnyChar;
  } else if (r.length === 4 && r[0] === 0 && r[1] === 9 && r[2] === 11 && r[3] === MAX_RUNE) {
    re.runes = [];
    re.op = AnyCharNotNL;
  }
}

export function leadingString(re: Node): [number[], number] {
  if (re.op === Concat && re.subs.length > 0) re = re.subs[0]!;
  if (re.op !== Literal) return [[], 0];
  return [re.runes, re.flags & FoldCase];
}

export function leadingRegexp(re: Node): Node | undefined {
  if (re.op === EmptyMatch) return undefined;
  if (re.op === Concat && re.subs.length > 0) {
    const sub = re.subs[0]!;
    return sub.op === EmptyMatch ? undefined : sub;
  }
  return re;
}

export function equal(x: Node, y: Node): boolean {
  if (x.op !== y.op) return false;
  switch (x.op) {
    case EndText: return (x.flags & WasDollar) === (y.flags & WasDollar);
    case Literal: case CharClass: return x.runes.length === y.runes.length && x.runes.every((r, i) => r === y.runes[i]);
    case Alternate: case Concat: return x.subs.length === y.subs.length && x.subs.every((sub, i) => equal(sub, y.subs[i]!));
    case Star: case Plus: case Quest: return (x.flags & NonGreedy) === (y.flags & NonGreedy) && equal(x.subs[0]!, y.subs[0]!);
    case Repeat:
      return (x.flags & NonGreedy) === (y.flags & NonGreedy) && x.min === y.min && x.max === y.max && equal(x.subs[0]!, y.subs[0]!);
    case Capture: return x.cap === y.cap && x.name === y.name && equal(x.subs[0]!, y.subs[0]!);
  }
  return true;
}

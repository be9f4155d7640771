// The parse tree Go's regexp/syntax builds, with its allocation accounting and limits: Go measures
// nesting depth and compiled size on this tree while parsing (after merging literals, factoring common
// prefixes out of alternations and turning runs of characters into classes), so the checker in
// ./go-regexp.ts builds the same tree to agree with Go on the patterns near the limits.
import { minFoldRune, simpleFold } from './go-regexp-classes.ts';
import {
  Alternate, Capture, CharClass, cleanAlt, Concat, EmptyMatch, equal, FoldCase, isCharClass, leadingRegexp, leadingString, LeftParen,
  Limit, Literal, MAX_HEIGHT, MAX_RUNES, MAX_SIZE, mergeCharClass, NoMatch, OneLine, Plus, Quest, Repeat, Star, VerticalBar, type Node,
} from './go-regexp-nodes.ts';

/** The parse stack and tree building, as in Go's parser; ./go-regexp.ts adds the syntax. */
export class Tree {
  protected flags = OneLine;
  protected stack: Node[] = [];
  protected free: Node[] = [];
  protected numCap = 0;
  protected numRegexp = 0;
  protected numRunes = 0;
  protected repeats = 0;
  protected height: Map<Node, number> | undefined;
  protected size: Map<Node, number> | undefined;

  // ---- nodes and limits ----

  protected newNode(op: number): Node {
    const re = this.free.pop();
    if (re) {
      Object.assign(re, { op, flags: 0, runes: [], subs: [], min: 0, max: 0, cap: 0, name: '' });
      return re;
    }
    this.numRegexp++;
    return { op, flags: 0, runes: [], subs: [], min: 0, max: 0, cap: 0, name: '' };
  }

  protected reuse(re: Node): void {
    this.height?.delete(re);
    this.free.push(re);
  }

  protected checkLimits(re: Node): void {
    if (this.numRunes > MAX_RUNES) throw new Limit('expression too large');
    this.checkSize(re);
    this.checkHeight(re);
  }

  protected checkSize(re: Node): void {
    if (!this.size) {
      if (this.repeats === 0) this.repeats = 1;
      if (re.op === Repeat) {
        let n = re.max === -1 ? re.min : re.max;
        if (n <= 0) n = 1;
        this.repeats = n > MAX_SIZE / this.repeats ? MAX_SIZE : this.repeats * n;
      }
      if (this.numRegexp < Math.floor(MAX_SIZE / this.repeats)) return;
      this.size = new Map();
      for (const node of this.stack) this.checkSize(node);
    }
    if (this.calcSize(re, true) > MAX_SIZE) throw new Limit('expression too large');
  }

  protected calcSize(re: Node, force: boolean): number {
    if (!force) {
      const known = this.size!.get(re);
      if (known !== undefined) return known;
    }
    let size = 0;
    switch (re.op) {
      case Literal: size = re.runes.length; break;
      case Capture: case Star: size = 2 + this.calcSize(re.subs[0]!, false); break;
      case Plus: case Quest: size = 1 + this.calcSize(re.subs[0]!, false); break;
      case Concat: for (const sub of re.subs) size += this.calcSize(sub, false); break;
      case Alternate:
        for (const sub of re.subs) size += this.calcSize(sub, false);
        if (re.subs.length > 1) size += re.subs.length - 1;
        break;
      case Repeat: {
        const sub = this.calcSize(re.subs[0]!, false);
        if (re.max === -1) size = re.min === 0 ? 2 + sub : 1 + re.min * sub;
        else size = re.max * sub + (re.max - re.min);
        break;
      }
    }
    size = Math.max(size, 1);
    this.size!.set(re, size);
    return size;
  }

  protected checkHeight(re: Node): void {
    if (this.numRegexp < MAX_HEIGHT) return;
    if (!this.height) {
      this.height = new Map();
      for (const node of this.stack) this.checkHeight(node);
    }
    if (this.calcHeight(re, true) > MAX_HEIGHT) throw new Limit('expression nests too deeply');
  }

  protected calcHeight(re: Node, force: boolean): number {
    if (!force) {
      const known = this.height!.get(re);
      if (known !== undefined) return known;
    }
    let h = 1;
    for (const sub of re.subs) h = Math.max(h, 1 + this.calcHeight(sub, false));
    this.height!.set(re, h);
    return h;
  }

  // ---- the parse stack ----

  protected push(re: Node): Node | undefined {
    this.numRunes += re.runes.length;
    const r = re.runes;
    if (re.op === CharClass && r.length === 2 && r[0] === r[1]) {
      if (this.maybeConcat(r[0]!, this.flags & ~FoldCase)) return undefined;
      re.op = Literal;
      re.runes = [r[0]!];
      re.flags = this.flags & ~FoldCase;
    } else if (
      (re.op === CharClass && r.length === 4 && r[0] === r[1] && r[2] === r[3] && simpleFold(r[0]!) === r[2] && simpleFold(r[2]) === r[0]) ||
      (re.op === CharClass && r.length === 2 && r[0]! + 1 === r[1] && simpleFold(r[0]!) === r[1] && simpleFold(r[1]) === r[0])
    ) {
      if (this.maybeConcat(r[0], this.flags | FoldCase)) return undefined;
      re.op = Literal;
      re.runes = [r[0]];
      re.flags = this.flags | FoldCase;
    } else {
      this.maybeConcat(-1, 0);
    }
    this.stack.push(re);
    this.checkLimits(re);
    return re;
  }

  protected maybeConcat(r: number, flags: number): boolean {
    const n = this.stack.length;
    if (n < 2) return false;
    const re1 = this.stack[n - 1]!;
    const re2 = this.stack[n - 2]!;
    if (re1.op !== Literal || re2.op !== Literal || (re1.flags & FoldCase) !== (re2.flags & FoldCase)) return false;
    re2.runes.push(...re1.runes);
    if (r >= 0) {
      re1.runes = [r];
      re1.flags = flags;
      return true;
    }
    this.stack.pop();
    this.reuse(re1);
    return false;
  }

  protected literal(r: number): void {
    const re = this.newNode(Literal);
    re.flags = this.flags;
    re.runes = [this.flags & FoldCase ? minFoldRune(r) : r];
    this.push(re);
  }

  protected op(op: number): Node | undefined {
    const re = this.newNode(op);
    re.flags = this.flags;
    return this.push(re);
  }

  protected concat(): void {
    this.maybeConcat(-1, 0);
    let i = this.stack.length;
    while (i > 0 && this.stack[i - 1]!.op < LeftParen) i--;
    const subs = this.stack.splice(i);
    if (subs.length === 0) this.push(this.newNode(EmptyMatch));
    else this.push(this.collapse(subs, Concat));
  }

  protected alternate(): void {
    let i = this.stack.length;
    while (i > 0 && this.stack[i - 1]!.op < LeftParen) i--;
    const subs = this.stack.splice(i);
    if (subs.length > 0) cleanAlt(subs[subs.length - 1]!);
    if (subs.length === 0) this.push(this.newNode(NoMatch));
    else this.push(this.collapse(subs, Alternate));
  }

  protected collapse(subs: Node[], op: number): Node {
    if (subs.length === 1) return subs[0]!;
    let re = this.newNode(op);
    for (const sub of subs) {
      if (sub.op === op) {
        re.subs.push(...sub.subs);
        this.reuse(sub);
      } else {
        re.subs.push(sub);
      }
    }
    if (op === Alternate) {
      re.subs = this.factor(re.subs);
      if (re.subs.length === 1) {
        const old = re;
        re = re.subs[0]!;
        this.reuse(old);
      }
    }
    return re;
  }

  // Factors common prefixes out of an alternation, as Go does (it changes the tree the limits see).
  protected factor(sub: Node[]): Node[] {
    if (sub.length < 2) return sub;

    // Round 1: common literal prefixes.
    let out: Node[] = [];
    let str: number[] = [];
    let strflags = 0;
    let start = 0;
    for (let i = 0; i <= sub.length; i++) {
      let istr: number[] = [];
      let iflags = 0;
      if (i < sub.length) {
        [istr, iflags] = leadingString(sub[i]!);
        if (iflags === strflags) {
          let same = 0;
          while (same < str.length && same < istr.length && str[same] === istr[same]) same++;
          if (same > 0) {
            str = str.slice(0, same);
            continue;
          }
        }
      }
      if (i === start + 1) {
        out.push(sub[start]!);
      } else if (i > start + 1) {
        const prefix = this.newNode(Literal);
        prefix.flags = strflags;
        prefix.runes = [...str];
        for (let j = start; j < i; j++) {
          sub[j] = this.removeLeadingString(sub[j]!, str.length);
          this.checkLimits(sub[j]!);
        }
        const suffix = this.collapse(sub.slice(start, i), Alternate);
        const re = this.newNode(Concat);
        re.subs = [prefix, suffix];
        out.push(re);
      }
      start = i;
      str = istr;
      strflags = iflags;
    }
    sub = out;

    // Round 2: a common simple first piece (a character class, or a fixed repeat of one).
    out = [];
    start = 0;
    let first: Node | undefined;
    for (let i = 0; i <= sub.length; i++) {
      let ifirst: Node | undefined;
      if (i < sub.length) {
        ifirst = leadingRegexp(sub[i]!);
        if (first && ifirst && equal(first, ifirst) &&
          (isCharClass(first) || (first.op === Repeat && first.min === first.max && isCharClass(first.subs[0]!)))) {
          continue;
        }
      }
      if (i === start + 1) {
        out.push(sub[start]!);
      } else if (i > start + 1) {
        const prefix = first!;
        for (let j = start; j < i; j++) {
          sub[j] = this.removeLeadingRegexp(sub[j]!, j !== start);
          this.checkLimits(sub[j]!);
        }
        const suffix = this.collapse(sub.slice(start, i), Alternate);
        const re = this.newNode(Concat);
        re.subs = [prefix, suffix];
        out.push(re);
      }
      start = i;
      first = ifirst;
    }
    sub = out;

    // Round 3: runs of single characters or classes become one class.
    out = [];
    start = 0;
    for (let i = 0; i <= sub.length; i++) {
      if (i < sub.length && isCharClass(sub[i]!)) continue;
      if (i === start + 1) {
        out.push(sub[start]!);
      } else if (i > start + 1) {
        let max = start;
        for (let j = start + 1; j < i; j++) {
          if (sub[max]!.op < sub[j]!.op || (sub[max]!.op === sub[j]!.op && sub[max]!.runes.length < sub[j]!.runes.length)) max = j;
        }
        [sub[start], sub[max]] = [sub[max]!, sub[start]!];
        for (let j = start + 1; j < i; j++) {
          mergeCharClass(sub[start]!, sub[j]!);
          this.reuse(sub[j]!);
        }
        cleanAlt(sub[start]!);
        out.push(sub[start]!);
      }
      if (i < sub.length) out.push(sub[i]!);
      start = i + 1;
    }
    sub = out;

    // Round 4: collapse runs of empty matches.
    return sub.filter((node, i) => !(i + 1 < sub.length && node.op === EmptyMatch && sub[i + 1]!.op === EmptyMatch));
  }

  protected removeLeadingString(re: Node, n: number): Node {
    if (re.op === Concat && re.subs.length > 0) {
      const sub = this.removeLeadingString(re.subs[0]!, n);
      re.subs[0] = sub;
      if (sub.op === EmptyMatch) {
        this.reuse(sub);
        if (re.subs.length <= 1) {
          re.op = EmptyMatch;
          re.subs = [];
        } else if (re.subs.length === 2) {
          const old = re;
          re = re.subs[1]!;
          this.reuse(old);
        } else {
          re.subs.shift();
        }
      }
      return re;
    }
    if (re.op === Literal) {
      re.runes = re.runes.slice(n);
      if (re.runes.length === 0) re.op = EmptyMatch;
    }
    return re;
  }

  protected removeLeadingRegexp(re: Node, reuse: boolean): Node {
    if (re.op === Concat && re.subs.length > 0) {
      if (reuse) this.reuse(re.subs[0]!);
      re.subs.shift();
      if (re.subs.length === 0) {
        re.op = EmptyMatch;
        re.subs = [];
      } else if (re.subs.length === 1) {
        const old = re;
        re = re.subs[0]!;
        this.reuse(old);
      }
      return re;
    }
    if (reuse) this.reuse(re);
    return this.newNode(EmptyMatch);
  }

  protected swapVerticalBar(): boolean {
    const st = this.stack;
    const n = st.length;
    if (n >= 3 && st[n - 2]!.op === VerticalBar && isCharClass(st[n - 1]!) && isCharClass(st[n - 3]!)) {
      let re1 = st[n - 1]!;
      let re3 = st[n - 3]!;
      if (re1.op > re3.op) {
        [re1, re3] = [re3, re1];
        st[n - 3] = re3;
      }
      mergeCharClass(re3, re1);
      this.reuse(re1);
      st.pop();
      return true;
    }
    if (n >= 2 && st[n - 2]!.op === VerticalBar) {
      if (n >= 3) cleanAlt(st[n - 3]!);
      [st[n - 2], st[n - 1]] = [st[n - 1]!, st[n - 2]!];
      return true;
    }
    return false;
  }

}

// Cached JSON kept as a delta against a sibling of its own type. The objects one operator writes
// are near-copies of each other (the same template with another name, UID and resourceVersion),
// so each one is encoded as runs copied from one of them, the dictionary, and the few characters
// that differ: a DaemonSet of 1.7 KB of JSON takes about a tenth of that.
//
// Not zlib with a preset dictionary, which compresses as well: each of its one-shot calls builds a
// stream and a native handle with some 40 KB of buffers, so deflating cost ~60 µs an object and the
// garbage brought major GCs; at 10,000 Ptemplates it added half again to the CPU of converging.
// This codec is string slicing, a few microseconds each way.

/** The length of the runs looked up in the dictionary's index. */
const RUN = 8;
/** The index holds the runs starting every STEP characters: a quarter of the entries, and any match of RUN + STEP - 1 characters is still found. */
const STEP = 4;
/** A delta is kept only when it saves at least this share of the JSON. */
const MIN_SAVING = 0.25;

export class JsonDeflater {
  #dictionary: string | undefined;
  /** The first position in the dictionary (of those STEP apart) of each RUN-character string there. */
  readonly #runs = new Map<string, number>();

  /**
   * `json` as a delta against the dictionary, or undefined when that would not save MIN_SAVING.
   * The first call's JSON becomes the dictionary for every later call.
   */
  deflate(json: string): string | undefined {
    const dict = this.#dictionary ?? this.#setDictionary(json);
    const out: string[] = [];
    let literalFrom = 0;
    let size = 0;
    // Where the dictionary would continue if what follows is aligned with it (a UID replaced by
    // another of the same length): tried before the index.
    let expected = 0;
    let i = 0;
    while (i + RUN <= json.length) {
      let from = sameRun(json, i, dict, expected) ? expected : this.#runs.get(json.slice(i, i + RUN));
      if (from === undefined) {
        i++;
        expected++;
        continue;
      }
      let start = i;
      while (start > literalFrom && from > 0 && json.charCodeAt(start - 1) === dict.charCodeAt(from - 1)) { start--; from--; }
      let end = i + RUN;
      let dictEnd = from + (end - start);
      while (end < json.length && dictEnd < dict.length && json.charCodeAt(end) === dict.charCodeAt(dictEnd)) { end++; dictEnd++; }
      if (start > literalFrom) size += pushLiteral(out, json.slice(literalFrom, start));
      size += pushCopy(out, from, end - start);
      if (size > json.length * (1 - MIN_SAVING)) return undefined;
      i = literalFrom = end;
      expected = dictEnd;
    }
    if (literalFrom < json.length) size += pushLiteral(out, json.slice(literalFrom));
    return size <= json.length * (1 - MIN_SAVING) ? out.join('') : undefined;
  }

  /** The JSON that `deflate` was given. */
  inflate(delta: string): string {
    const dict = this.#dictionary;
    if (dict === undefined) throw new Error('nothing was deflated with this deflater');
    const parts: string[] = [];
    const at = { i: 0 };
    while (at.i < delta.length) {
      const head = readNumber(delta, at);
      const length = Math.floor(head / 2);
      if (head % 2 === 1) {
        const from = readNumber(delta, at);
        parts.push(dict.slice(from, from + length));
      } else {
        parts.push(delta.slice(at.i, at.i + length));
        at.i += length;
      }
    }
    return parts.join('');
  }

  #setDictionary(json: string): string {
    // A flat copy of its own: `json` may be a slice of a larger string that it would keep alive.
    const dict = (' ' + json).slice(1);
    this.#dictionary = dict;
    for (let i = Math.floor((dict.length - RUN) / STEP) * STEP; i >= 0; i -= STEP) this.#runs.set(dict.slice(i, i + RUN), i);
    return dict;
  }
}

function sameRun(json: string, i: number, dict: string, from: number): boolean {
  if (from + RUN > dict.length) return false;
  for (let k = 0; k < RUN; k++) if (json.charCodeAt(i + k) !== dict.charCodeAt(from + k)) return false;
  return true;
}

// A delta is a sequence of entries: a number whose low bit says which (length * 2 + 1 for a copy,
// length * 2 for a literal), then the copy's dictionary offset or the literal's characters. Numbers
// take 7 bits a character, low bits first, the high bit set on all but the last: the delta stays a
// one-byte string (one byte a character in V8) unless a literal brings wider characters.

function pushCopy(out: string[], from: number, length: number): number {
  const entry = writeNumber(length * 2 + 1) + writeNumber(from);
  out.push(entry);
  return entry.length;
}

function pushLiteral(out: string[], text: string): number {
  const head = writeNumber(text.length * 2);
  out.push(head, text);
  return head.length + text.length;
}

function writeNumber(n: number): string {
  let s = '';
  while (n >= 0x80) {
    s += String.fromCharCode(0x80 | (n % 0x80));
    n = Math.floor(n / 0x80);
  }
  return s + String.fromCharCode(n);
}

function readNumber(s: string, at: { i: number }): number {
  let n = 0;
  let scale = 1;
  for (;;) {
    const c = s.charCodeAt(at.i++);
    if (Number.isNaN(c)) throw new Error('truncated delta');
    n += (c & 0x7f) * scale;
    if (c < 0x80) return n;
    scale *= 0x80;
  }
}

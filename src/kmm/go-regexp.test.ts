// Differential test: the TypeScript checker against real Go's regexp.Compile, on a corpus of tricky
// patterns and on fast-check-generated ones. Skipped (with a message) only when there is no `go` binary.
// PROPERTY_RUNS and PROPERTY_SEED make the generated part longer or different locally; CI uses the fixed seed.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { RECENT_SCRIPTS } from './go-regexp-classes.ts';
import { goRegexpError } from './go-regexp.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);
const SEED = Number(process.env.PROPERTY_SEED ?? 20261202);

const HELPER = `package main

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"regexp/syntax"
)

// Reads JSON strings, one a line; prints for each "" when regexp.Compile accepts it, else its error.
// regexp.Compile is syntax.Parse(expr, syntax.Perl), whose error it returns as is, then steps that
// cannot fail; long patterns are only parsed, so that one near the size limit is not compiled into
// millions of instructions (seconds) just to be accepted.
func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		var p string
		if err := json.Unmarshal(in.Bytes(), &p); err != nil {
			panic(err)
		}
		var err error
		if len(p) > 1000 {
			_, err = syntax.Parse(p, syntax.Perl)
		} else {
			_, err = regexp.Compile(p)
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		b, _ := json.Marshal(msg)
		out.Write(append(b, '\\n'))
		out.Flush()
	}
}
`;

function goBinary(): string | undefined {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return 'go';
  } catch {
    return undefined;
  }
}

const go = goBinary();
let dir = '';
let helper: ChildProcessWithoutNullStreams | undefined;
let goMinor = 0;
const pending: ((line: string) => void)[] = [];

before(() => {
  if (!go) return;
  goMinor = Number(/go1\.(\d+)/.exec(execFileSync(go, ['version']).toString())?.[1] ?? 0);
  dir = mkdtempSync(join(tmpdir(), 'go-regexp-'));
  writeFileSync(join(dir, 'main.go'), HELPER);
  execFileSync(go, ['build', '-o', join(dir, 'helper'), 'main.go'], { cwd: dir, env: { ...process.env, GO111MODULE: 'off' } });
  helper = spawn(join(dir, 'helper'), [], { stdio: ['pipe', 'pipe', 'pipe'] });
  createInterface({ input: helper.stdout }).on('line', (line) => pending.shift()?.(JSON.parse(line) as string));
});

after(() => {
  helper?.stdin.end();
  helper?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function goCompile(pattern: string): Promise<string> {
  return new Promise((resolve) => {
    pending.push(resolve);
    helper!.stdin.write(`${JSON.stringify(pattern)}\n`);
  });
}

/** Whether the local Go has the syntax the checker follows (Go 1.22+: (?<name>), Unicode 15 scripts). */
function comparable(pattern: string): boolean {
  if (goMinor < 22 && pattern.includes('(?<')) return false;
  if (goMinor < 21 && RECENT_SCRIPTS.some((script) => pattern.includes(script))) return false;
  return true;
}

// Go before 1.20 called the size limit an internal error.
const normalise = (message: string): string => message.replace('regexp/syntax: internal error', 'expression too large');

async function agree(pattern: string): Promise<void> {
  const expected = normalise(await goCompile(pattern));
  const actual = goRegexpError(pattern)?.message ?? '';
  if (expected === '' || actual === '') {
    assert.equal(actual === '', expected === '', `${JSON.stringify(pattern.slice(0, 200))}: Go says ${JSON.stringify(expected.slice(0, 200))}, we say ${JSON.stringify(actual.slice(0, 200))}`);
  } else {
    assert.equal(actual, expected, `${JSON.stringify(pattern.slice(0, 200))}`);
  }
}

const nest = (n: number, open: string, close: string, inner = 'a'): string => open.repeat(n) + inner + close.repeat(n);

const CORPUS: string[] = [
  '[🙂-🙃]', '[🙃-🙂]', '^🙂+$', '^5\\.14\\..*$', 'a**', 'a*?', 'a+?', 'a??', 'a*??', '(?i)abc', '(?i:a)b', '(?P<n>a)', '(?<n>a)',
  '(?P<>a)', '(?P<a-b>x)', '(?P<n', '(?=a)', '(?!a)', '(?<=a)', '(?<!a)', '(?P=n)', '\\1', '\\8', '\\0', '\\07', '\\18', '\\x41',
  '\\x{41}', '\\x{110000}', '\\x{}', '\\xZ', '\\x4', '\\x', '\\Qa.b\\E+', '\\Qabc', '\\C', '\\pL', '\\p{Greek}', '\\p{Foo}', '\\PL',
  '\\p{^Greek}', '\\P{^L}', '\\p', '\\p{L', '[\\p{L}]', '[\\p]', '[[:alpha:]]', '[[:^alpha:]]', '[[:foo:]]', '[[:alpha:]', '[[:constructor:]]',
  '[a-]', '[-a]', '[]a]', '[^]a]', '[z-a]', '[a-\\d]', '[\\d-z]', '[a-\\x{10FFFF}]', '[\\b]', '[\\Q]', '[]', '[^]', '[', ']',
  'a{1000}', 'a{1001}', 'a{2,1}', 'a{,2}', 'a{01}', 'a{1,1000}', 'a{0,1001}', 'a{100000000}', 'a{999999999}', 'a{1000,}', 'x{2}{3}',
  '(a{100}){100}', '(a{10}){100}', '((a{10}){10}){10}', '((a{10}){10}){11}', '(?:a{2}){501}', '(?:a{2}){500}', '(a*){1000}',
  '(?i)[k]', '(?i)[a]b', '(?s).', '(?m)^$', '(?U)a*', '(?-i)a', '(?i-)a', '(?--i)a', '(?i-s:a)', '(?)', '(?:', '(', ')', 'a)', '(a',
  'a|', '|', '||', 'a||b', '\\', 'a\\', '\\z', '\\Z', '\\A', '\\b\\B', '\\k<a>', '\\e', '\\cA', '\\u0041', '*', '+a', '?', '{1}',
  'a{1', 'a{1,', '{', '}', '(*)', '(|a)*', '()', '(?:)', 'x{1000}{1}', '(?:a{1000}){2}', 'é+', '[é-ë]', '[\\x{1F600}-\\x{1F64F}]',
  '\\x{D800}', '\uD83D', 'a\uDC00b', '^(?:ab|ac|ad)+$', '(?i)Σ|σ|ς', 'a|b|c|[d-f]', '(?:a|b)|(?:c|d)',
  nest(999, '(', ')'), nest(1000, '(', ')'), nest(1001, '(', ')'), nest(1001, '(?:', ')'), nest(2000, '(?:', ')'), nest(500, '(a', ')'),
  nest(1000, '(a', ')'), nest(1000, '(?:a|', ')'), nest(1001, '(?:a|', ')'), nest(600, '(?:(?:a', ')*)'), nest(499, '(', ')*'),
  nest(500, '(', ')*'), nest(333, '((', '))+'), nest(999, '(?:', ')+'), nest(1000, '(?:', ')+'), '(?i)' + nest(1001, '(', ')'),
  // Either side of the size limit (3,355,443 instructions), also after Go factors alternations.
  `(?:${'a'.repeat(1000)}){1000}`.repeat(3), `(?:${'a'.repeat(1000)}){1000}`.repeat(4), '[a-z]{1000}'.repeat(3355), '[a-z]{1000}'.repeat(3356),
  '(?:ab|ac){1000}'.repeat(600), '(?:ab|ac){1000}'.repeat(1700),
  '(?:a{1000}){1000}', 'a|'.repeat(2000) + 'b', `(${'a|'.repeat(2000)}b)`, Array.from({ length: 1200 }, (_, i) => `x${i}`).join('|'),
  '\\p{Kawi}', '\\p{Old_Uyghur}',
];

void test('the checker agrees with Go on a corpus of tricky patterns', async (t) => {
  if (!go) return t.skip('no `go` binary on PATH: cannot compare with Go\'s regexp.Compile');
  for (const pattern of CORPUS.filter(comparable)) await agree(pattern);
});

const TOKENS = [
  'a', 'b', 'K', 'k', 'é', '🙂', '🙃', 'Σ', '.', '*', '+', '?', '??', '{2}', '{1,3}', '{0}', '{1000}', '{1001}', '{,}', '{', '}', '(',
  ')', '(?:', '(?i)', '(?i:', '(?s-i:', '(?P<n>', '(?<n>', '(?=', '|', '[', ']', '[^', '-', '^', '$', '\\d', '\\W', '\\pL', '\\PN',
  '\\p{Greek}', '\\p{Nope}', '\\x{1F642}', '\\x4', '\\Q', '\\E', '\\', '\\1', '\\0', '\\b', '\\z', '[:alpha:]', '[:^digit:]', ':]',
];
const pattern = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.constantFrom(...TOKENS), { maxLength: 12 }).map((parts) => parts.join('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 1200 }), fc.constantFrom('(', '(?:', '(a|', '[a]('), fc.constantFrom(')', ')*', '){2}'))
    .map(([n, open, close]) => nest(n, open, open === '[a](' ? ')' : close)) },
);

void test('the checker agrees with Go on generated patterns', async (t) => {
  if (!go) return t.skip('no `go` binary on PATH: cannot compare with Go\'s regexp.Compile');
  await fc.assert(fc.asyncProperty(pattern.filter(comparable), agree), { numRuns: RUNS, seed: SEED });
});

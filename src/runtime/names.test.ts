import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDnsLabel, isDnsSubdomain, isLabelValue, qualifiedNameProblem } from './names.ts';

describe('name rules', () => {
  it('DNS subdomains: lower-case labels joined by dots, at most 253 characters', () => {
    for (const ok of ['a', 'a-b.c', 'example.com', '0.1', 'a'.repeat(253)]) assert.ok(isDnsSubdomain(ok), ok);
    for (const bad of ['', 'A', '-a', 'a-', 'a..b', 'a_b', 'a'.repeat(254)]) assert.ok(!isDnsSubdomain(bad), bad);
  });

  it('DNS labels: no dots, at most 63 characters', () => {
    assert.ok(isDnsLabel('a-1'));
    for (const bad of ['a.b', 'a'.repeat(64), '']) assert.ok(!isDnsLabel(bad), bad);
  });

  it('qualified names: an optional DNS-subdomain prefix, then at most 63 letters, digits, -, _ and .', () => {
    for (const ok of ['app', 'example.com/App_1.x', 'a/b']) assert.equal(qualifiedNameProblem(ok), undefined, ok);
    assert.match(qualifiedNameProblem('Bad_Prefix/x')!, /prefix "Bad_Prefix" is not a DNS subdomain/);
    assert.match(qualifiedNameProblem('x/-y')!, /"-y" must be at most 63/);
    assert.match(qualifiedNameProblem('a'.repeat(64))!, /must be at most 63/);
  });

  it('label values: empty or a qualified name part', () => {
    for (const ok of ['', 'v1.2_x', 'a'.repeat(63)]) assert.ok(isLabelValue(ok), ok);
    for (const bad of ['-a', 'a/b', 'a'.repeat(64)]) assert.ok(!isLabelValue(bad), bad);
  });
});

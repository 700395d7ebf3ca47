import { strict as assert } from 'node:assert';
import { KeyStates, ErrorCode } from '../../daemon/protocol';
import { allowedTransitions, canDecrypt, canEncrypt, checkTransition } from '../../daemon/keystore/lifecycle';
import { KeywardError } from '../../daemon/util/errors';

describe('key lifecycle (NIST SP 800-57)', () => {
  const allowed: [string, string][] = [
    ['pre-activation', 'active'], ['pre-activation', 'compromised'], ['pre-activation', 'destroyed'],
    ['active', 'suspended'], ['active', 'deactivated'], ['active', 'compromised'],
    ['suspended', 'active'], ['suspended', 'deactivated'], ['suspended', 'compromised'], ['suspended', 'destroyed'],
    ['deactivated', 'compromised'], ['deactivated', 'destroyed'],
    ['compromised', 'destroyed'],
  ];

  it('allows exactly the NIST transitions and refuses every other pair', () => {
    let refused = 0;
    for (const from of KeyStates) {
      for (const to of KeyStates) {
        if (from === to) continue;
        const ok = allowed.some(([a, b]) => a === from && b === to);
        if (ok) {
          assert.doesNotThrow(() => checkTransition('k@v1', from, to), `${from} -> ${to}`);
        } else {
          refused++;
          assert.throws(
            () => checkTransition('k@v1', from, to),
            (e: unknown) => e instanceof KeywardError && e.code === ErrorCode.IllegalState && e.message.includes(`from ${from} to ${to}`),
            `${from} -> ${to} must be refused`,
          );
        }
      }
    }
    assert.equal(refused, 30 - allowed.length);
  });

  it('names the allowed next states in the refusal', () => {
    try {
      checkTransition('k@v1', 'deactivated', 'active');
      assert.fail('expected a refusal');
    } catch (e) {
      assert.ok(e instanceof KeywardError);
      assert.match(e.hint ?? '', /compromised, destroyed/);
    }
  });

  it('destroyed is final', () => {
    assert.deepEqual(allowedTransitions('destroyed'), []);
    assert.throws(() => checkTransition('k@v1', 'destroyed', 'active'), /destroyed is final|cannot go/);
  });

  it('only active keys encrypt; active, deactivated and compromised keys decrypt', () => {
    assert.deepEqual(KeyStates.filter(canEncrypt), ['active']);
    assert.deepEqual(KeyStates.filter(canDecrypt), ['active', 'deactivated', 'compromised']);
  });
});

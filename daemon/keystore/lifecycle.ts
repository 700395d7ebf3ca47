import { ErrorCode, type KeyState } from '../protocol';
import { KeywardError } from '../util/errors';

// Key states and transitions after NIST SP 800-57 Part 1 (rev. 5), section 7:
// pre-activation -> active | compromised | destroyed
// active         -> suspended | deactivated | compromised
// suspended      -> active | deactivated | compromised | destroyed
// deactivated    -> compromised | destroyed
// compromised    -> destroyed
// destroyed      -> (none)
const TRANSITIONS: Record<KeyState, readonly KeyState[]> = {
  'pre-activation': ['active', 'compromised', 'destroyed'],
  active: ['suspended', 'deactivated', 'compromised'],
  suspended: ['active', 'deactivated', 'compromised', 'destroyed'],
  deactivated: ['compromised', 'destroyed'],
  compromised: ['destroyed'],
  destroyed: [],
};

export function allowedTransitions(from: KeyState): readonly KeyState[] {
  return TRANSITIONS[from];
}

/** Throws IllegalState, naming the allowed next states, unless `from -> to` is allowed. */
export function checkTransition(ref: string, from: KeyState, to: KeyState): void {
  if (from === to) {
    throw new KeywardError(ErrorCode.IllegalState, `${ref} is already ${to}`);
  }
  if (!TRANSITIONS[from].includes(to)) {
    const next = TRANSITIONS[from];
    throw new KeywardError(
      ErrorCode.IllegalState,
      `${ref} cannot go from ${from} to ${to}`,
      next.length ? `from ${from} a key may go to: ${next.join(', ')}` : `${from} is final`,
    );
  }
}

/** Only an active key protects new data. */
export function canEncrypt(state: KeyState): boolean {
  return state === 'active';
}

/**
 * Keys that may process (decrypt) data already protected: active, deactivated, and compromised
 * (so data can be recovered and re-protected; every such use is audited as a warning).
 * Suspended keys are held back until reactivated; pre-activation keys protected nothing yet.
 */
export function canDecrypt(state: KeyState): boolean {
  return state === 'active' || state === 'deactivated' || state === 'compromised';
}

/** Why a key in `state` cannot encrypt, and what to do: for errors. */
export function encryptRefusal(ref: string, state: KeyState): KeywardError {
  const hints: Record<KeyState, string> = {
    'pre-activation': `activate it first: keyward keys state ${ref} active`,
    active: '',
    suspended: `reactivate it (keyward keys state ${ref} active) or use another key`,
    deactivated: 'it is kept for decryption only; encrypt to the current version (the key name without @vN)',
    compromised: 'never encrypt to a compromised key; rotate: keyward keys rotate NAME',
    destroyed: 'its key material is gone; use another key',
  };
  return new KeywardError(ErrorCode.KeyUnusable, `${ref} is ${state} and cannot encrypt`, hints[state]);
}

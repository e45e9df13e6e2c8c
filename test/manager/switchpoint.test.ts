/** Reading a timeline history file (what a diverged standby is checked against; real files look like this). */
import { describe, expect, it } from 'vitest';
import { switchpointOf } from '../../src/manager/actions/replica';

const HISTORY = '1\t0/4024A28\tno recovery target specified\n\n2\t0/5000148\tno recovery target specified\n';

describe('switchpointOf', () => {
  it('gives where each parent timeline ended, undefined for one the file does not name', () => {
    expect(switchpointOf(HISTORY, 1)).toBe(0x4024a28n);
    expect(switchpointOf(HISTORY, 2)).toBe(0x5000148n);
    expect(switchpointOf(HISTORY, 3)).toBeUndefined();
    expect(switchpointOf('', 1)).toBeUndefined();
  });
});

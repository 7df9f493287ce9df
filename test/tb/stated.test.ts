// A device the root complex does not enumerate (no configuration space): its control settings are stated in
// RootComplexOptions.device (or later with rc.setDeviceControl()), and the RC checks its requests against
// them from the first cycle, its Requester ID included. Crafted TLPs through rc.receive(), no simulator.
import { describe, expect, test } from 'vitest';
import { PcieViolation, type ViolationCode } from '../../tb/pcie/errors';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { encodeTlp, type Tlp } from '../../tb/pcie/tlp';
import { ScriptLink } from './support';

const DEV = 0x0300; // 03:00.0

function setup(opts: RootComplexOptions = {}) {
  const link = new ScriptLink();
  const rc = new RootComplex(link, { seed: 3, deviceId: DEV, latency: { min: 20, max: 20 }, ...opts });
  const buf = rc.mem.alloc(0x4000, { name: 'buf', align: 0x1000 });
  const from = (t: Tlp): void => rc.receive({ ...encodeTlp(t), cycle: link.cycle });
  return { link, rc, buf, from };
}

const mrd = (address: bigint, lengthDw: number, extra: Partial<Tlp> = {}): Tlp =>
  ({
    type: 'MRd',
    address,
    length: lengthDw,
    firstBe: 0xf,
    lastBe: lengthDw > 1 ? 0xf : 0,
    requesterId: DEV,
    tag: 1,
    ...extra,
  }) as Tlp;
const mwr = (address: bigint, bytes: number, extra: Partial<Tlp> = {}): Tlp =>
  ({
    type: 'MWr',
    address,
    firstBe: 0xf,
    lastBe: bytes > 4 ? 0xf : 0,
    requesterId: DEV,
    tag: 0,
    data: new Uint8Array(bytes).fill(0x5a),
    ...extra,
  }) as Tlp;

function violation(f: () => void, code: ViolationCode, pattern?: RegExp): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof PcieViolation)) throw e;
    expect(e.code, e.message).toBe(code);
    if (pattern) expect(e.message).toMatch(pattern);
    return;
  }
  throw new Error(`expected a ${code} violation`);
}

describe('device settings stated without enumeration', () => {
  test('defaults are what enumeration would program; the Requester ID is checked from the first TLP', () => {
    const { rc, buf, from, link } = setup({ device: {} });
    expect([rc.shadow.busMaster.value, rc.shadow.mps, rc.shadow.mrrs, rc.shadow.extTags]).toEqual([
      true,
      256,
      512,
      true,
    ]);
    from(mrd(buf.addr, 128, { tag: 200 })); // 512 bytes, an extended tag: allowed
    from(mwr(buf.addr, 256));
    expect(rc.stats().completer.dmaWrites).toBe(1);
    violation(
      () => from(mwr(buf.addr, 4, { requesterId: 0x0100 })),
      'requester-id',
      /Requester ID 01:00\.0 is not the device's 03:00\.0 \(stated in the options\)/,
    );
    violation(() => from(mrd(buf.addr, 1, { requesterId: 0x0301, tag: 2 })), 'requester-id');
    // The completions of the good read went to the stated ID (the RC serves the bad one too, to its own ID).
    rc.runFor(100);
    expect(
      link
        .sentOf('CplD')
        .filter((c) => c.tag === 200)
        .every((c) => c.requesterId === DEV),
    ).toBe(true);
    expect(
      link
        .sentOf('CplD')
        .filter((c) => c.tag === 2)
        .every((c) => c.requesterId === 0x0301),
    ).toBe(true);
  });

  test('without stated settings (and before enumeration) the ID is not known and not checked', () => {
    const { rc, buf, from } = setup();
    rc.shadow.busMaster.set(true, 0);
    from(mwr(buf.addr, 4, { requesterId: 0x0100 }));
    expect(rc.stats().completer.dmaWrites).toBe(1);
  });

  test('MPS, MRRS, extended tags and bus mastering as stated, exactly at each limit', () => {
    const { rc, buf, from } = setup({ device: { mps: 128, mrrs: 256, extTags: false, busMaster: true } });
    from(mwr(buf.addr, 128));
    violation(() => from(mwr(buf.addr, 132)), 'mps', /132 bytes exceeds Max_Payload_Size 128/);
    from(mrd(buf.addr, 64, { tag: 31 }));
    violation(
      () => from(mrd(buf.addr + 0x1000n, 65, { tag: 3 })),
      'mrrs',
      /260 bytes exceeds Max_Read_Request_Size 256/,
    );
    violation(() => from(mrd(buf.addr + 0x2000n, 1, { tag: 32 })), 'tag-range', /Extended Tag Field Enable/);
    // Changed later without config traffic.
    rc.setDeviceControl({ mps: 256, extTags: true });
    from(mwr(buf.addr, 256));
    from(mrd(buf.addr + 0x2000n, 1, { tag: 33 })); // (tag 32 is still outstanding: the RC served that read too)
    rc.setDeviceControl({ busMaster: false });
    rc.runFor(100); // past the grace period of the device seeing Bus Master Enable clear
    violation(() => from(mwr(buf.addr, 4)), 'bus-master');
    expect(() => rc.setDeviceControl({ mrrs: 384 })).toThrow(/MRRS 384 is not one of 128, 256/);
    expect(() => new RootComplex(new ScriptLink(), { device: { mps: 100 } })).toThrow(
      /device\.mps must be a power of two/,
    );
  });

  test('setDeviceControl before enumeration states the settings (no longer "enumerate first")', () => {
    const { rc, buf, from, link } = setup();
    expect(() => rc.setDeviceControl({ busMaster: true, mps: 128 })).not.toThrow();
    expect(link.sent.length).toBe(0); // no config requests
    violation(() => from(mwr(buf.addr, 256)), 'mps');
    violation(() => from(mwr(buf.addr, 4, { requesterId: 0x0100 })), 'requester-id');
  });
});

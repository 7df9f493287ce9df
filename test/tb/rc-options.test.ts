// The root complex's options (tb/pcie/options.ts): the defaults docs/rootcomplex.md lists, the limits of each
// checked value exactly at its bounds, latency given as a function, tracing, and the settings of a stated device.
// Crafted TLPs through rc.receive() (no simulator). Written for behaviour the mutation run (npm run mutate) found
// untested.
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { encodeTlp, type Tlp } from '../../tb/pcie/tlp';
import { DEV, mrd, mwr } from './crafted';
import { ScriptLink } from './support';

const rcWith = (opts: RootComplexOptions) => new RootComplex(new ScriptLink(), opts);

/** An RC with a stated device (no enumeration) on a scripted link, recording violations. */
function stated(opts: RootComplexOptions = {}) {
  const link = new ScriptLink();
  const rc = new RootComplex(link, { seed: 9, deviceId: DEV, device: {}, violations: 'record', ...opts });
  const buf = rc.mem.alloc(0x4000, { name: 'buf', align: 0x1000 });
  const from = (t: Tlp, cycle = link.cycle): void => rc.receive({ ...encodeTlp(t), cycle });
  return { link, rc, buf, from };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('root complex options', () => {
  test('the defaults', () => {
    vi.stubEnv('VFPGA_RC_TRACE', '');
    const rc = rcWith({});
    expect(rc.opts).toMatchObject({
      rcId: 0,
      deviceId: 0x0100,
      mps: 256,
      mrrs: 512,
      maxMmioRead: 512,
      rcb: 64,
      deviceRcb: 128,
      extTags: true,
      tenBitTags: false,
      latency: { min: 50, max: 250 },
      minLatency: 50,
      cplGap: { min: 0, max: 16 },
      reorder: true,
      split: 'random',
      completionTimeout: 50_000,
      deviceCompletionTimeout: 12_500,
      waitTimeout: 2_000_000,
      crsRetries: 10,
      crsDelay: 200,
      window: 4096,
      violations: 'throw',
      grace: 64,
      intxDuplicates: 'report',
      trace: undefined,
    });
    expect(rc.opts.device).toBeUndefined();
    // The longest MMIO read in one request follows MRRS unless stated.
    expect(rcWith({ mrrs: 1024 }).opts.maxMmioRead).toBe(1024);
    expect(rcWith({ mrrs: 1024, maxMmioRead: 64 }).opts.maxMmioRead).toBe(64);
  });

  test('MPS, MRRS and the longest MMIO read are powers of two within their range, bounds included', () => {
    for (const v of [128, 4096]) {
      expect(rcWith({ mps: v }).opts.mps).toBe(v);
      expect(rcWith({ mrrs: v }).opts.mrrs).toBe(v);
    }
    for (const v of [64, 8192, 384, 256.5]) {
      expect(() => rcWith({ mps: v }), `mps ${v}`).toThrow(
        new RangeError(`rc: mps must be a power of two in 128..4096, got ${v}`),
      );
      expect(() => rcWith({ mrrs: v }), `mrrs ${v}`).toThrow(/mrrs must be a power of two in 128\.\.4096/);
    }
    expect(rcWith({ maxMmioRead: 4 }).opts.maxMmioRead).toBe(4);
    expect(() => rcWith({ maxMmioRead: 2 })).toThrow(/maxMmioRead must be a power of two in 4\.\.4096, got 2/);
    expect(() => rcWith({ device: { mrrs: 8192 } })).toThrow(/device\.mrrs must be a power of two/);
  });

  test('counts are integers at or above their minimum, bounds included', () => {
    expect(rcWith({ crsRetries: 0, crsDelay: 1, window: 1, grace: 0 }).opts).toMatchObject({
      crsRetries: 0,
      crsDelay: 1,
      window: 1,
      grace: 0,
    });
    expect(rcWith({ latency: { min: 1, max: 1 }, cplGap: { min: 3, max: 3 } }).opts.cplGap).toEqual({ min: 3, max: 3 });
    const refused: [RootComplexOptions, RegExp][] = [
      [{ crsRetries: -1 }, /rc: crsRetries must be an integer >= 0, got -1/],
      [{ crsDelay: 1.5 }, /crsDelay must be an integer >= 1, got 1\.5/],
      [{ window: 0 }, /window must be an integer >= 1, got 0/],
      [{ grace: Number.MAX_SAFE_INTEGER + 1 }, /grace must be an integer >= 0/],
      [{ latency: { min: 0, max: 5 } }, /latency\.min must be an integer >= 1, got 0/],
      [{ latency: { min: 5, max: 4 } }, /latency\.max must be an integer >= 5, got 4/],
      [{ cplGap: { min: -1, max: 0 } }, /cplGap\.min must be an integer >= 0/],
      [{ cplGap: { min: 2, max: 1 } }, /cplGap\.max must be an integer >= 2/],
      [{ completionTimeout: 0 }, /completionTimeout must be an integer >= 1/],
      [{ deviceCompletionTimeout: 0 }, /deviceCompletionTimeout must be an integer >= 1/],
      [{ waitTimeout: 0 }, /waitTimeout must be an integer >= 1/],
      [{ latency: () => 5, minLatency: 0 }, /minLatency must be an integer >= 1, got 0/],
    ];
    for (const [opts, message] of refused) expect(() => rcWith(opts), JSON.stringify(opts)).toThrow(message);
  });

  test('the RC completion boundary is 64 or 128 bytes', () => {
    expect(rcWith({ rcb: 128 }).opts.rcb).toBe(128);
    expect(() => rcWith({ rcb: 32 as 64 })).toThrow(new RangeError('rc: rcb must be 64 or 128, got 32'));
  });

  test('a latency function sets when each read is answered, never earlier than minLatency', () => {
    for (const [minLatency, expected] of [
      [undefined, 177],
      [90, 190],
    ] as const) {
      const seen: number[] = [];
      const { rc, from, buf, link } = stated({
        latency: (req) => (seen.push(req.cycle), minLatency === undefined ? 77 : 20),
        minLatency,
        cplGap: { min: 0, max: 0 },
        split: 'max',
      });
      expect(rc.opts.minLatency).toBe(minLatency ?? 1);
      from(mrd(buf.addr, 1, 3), 100);
      rc.runFor(1000);
      expect(seen).toEqual([100]);
      expect(link.sentOf('CplD').map((c) => c.at)).toEqual([expected]);
    }
  });

  test('trace: a function gets every TLP; true writes lines to stderr, as VFPGA_RC_TRACE does', () => {
    const lines: string[] = [];
    const { from, buf } = stated({ trace: (l) => lines.push(l) });
    from(mwr(buf.addr, 4), 10);
    expect(lines).toEqual([expect.stringMatching(/^rc @0: <- dev @10: MWr /)]);

    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const written = () => stderr.mock.calls.map((c) => String(c[0]));
    vi.stubEnv('VFPGA_RC_TRACE', '');
    stated().from(mwr(buf.addr, 4), 10);
    stated({ trace: false }).from(mwr(buf.addr, 4), 10);
    expect(written()).toEqual([]);
    stated({ trace: true }).from(mwr(buf.addr, 4), 10);
    expect(written()).toEqual([expect.stringMatching(/^rc @0: <- dev @10: MWr .*\n$/)]);
    vi.stubEnv('VFPGA_RC_TRACE', '1');
    stated().from(mwr(buf.addr, 4), 11);
    stated({ trace: false }).from(mwr(buf.addr, 4), 12);
    expect(written()).toHaveLength(2);
    expect(written()[1]).toMatch(/^rc @0: <- dev @11: MWr .*\n$/);
  });

  test("a stated device's settings default to what enumeration would program", () => {
    expect(rcWith({ device: {} }).opts.device).toEqual({
      busMaster: true,
      mps: 256,
      mrrs: 512,
      extTags: true,
      tenBitTags: false,
    });
    const o = rcWith({ mps: 512, mrrs: 128, extTags: false, tenBitTags: true, device: {} }).opts;
    expect(o.device).toEqual({ busMaster: true, mps: 512, mrrs: 128, extTags: false, tenBitTags: true });
    // Stated values win over the RC's.
    const d = { busMaster: false, mps: 128, mrrs: 256, extTags: true, tenBitTags: false };
    expect(rcWith({ extTags: false, tenBitTags: true, device: d }).opts.device).toEqual(d);
    // ...and are what the checks use.
    const { rc, from, buf } = stated({ extTags: false, device: { tenBitTags: true } });
    from(mrd(buf.addr, 1, 300));
    from(mrd(buf.addr, 1, 40)); // 10-bit tags include the 8-bit ones
    const narrow = stated({ extTags: false });
    narrow.from(mrd(narrow.buf.addr, 1, 40));
    expect(rc.violations.map((v) => v.code)).toEqual([]);
    expect(narrow.rc.violations.map((v) => v.code)).toEqual(['tag-range']);
  });
});

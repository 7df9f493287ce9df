// TapLink, the public tap for raw TLP traffic: it records (or only reports) every TLP both ways, with the
// injection and queueing cycles of those to the device and the departure cycle of those from it.
import { expect, test } from 'vitest';
import type { RawTlp } from '../../sim/raw';
import { TapLink, type TappedSend } from '../../tb/pcie/link';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { decodeTlp, type Tlp } from '../../tb/pcie/tlp';
import { ScriptLink } from './support';

test('a tap records both directions, or only reports them with keep: false', () => {
  const dev = new ScriptLink();
  // The scripted device answers every MRd of the RC with a one-dword completion.
  dev.responder = (t) =>
    t.type === 'MRd'
      ? [
          {
            type: 'CplD',
            completerId: 0x0100,
            requesterId: t.requesterId,
            tag: t.tag,
            status: 0,
            byteCount: 4,
            lowerAddress: Number(t.address & 0x7fn),
            data: new Uint8Array([1, 2, 3, 4]),
          } as Tlp,
        ]
      : [];
  const heard: { to: TappedSend[]; from: RawTlp[] } = { to: [], from: [] };
  const kept = new TapLink(dev);
  const quiet = new TapLink(kept, {
    keep: false,
    onToDevice: (s) => heard.to.push(s),
    onFromDevice: (t) => heard.from.push(t),
  });
  const rc = new RootComplex(quiet, { seed: 1, device: {} });
  rc.write32(0x1000_0000n, 0xdead_beef);
  expect(rc.read32(0x1000_0010n)).toBe(0x0403_0201);

  expect(quiet.toDevice).toEqual([]);
  expect(quiet.fromDevice).toEqual([]);
  expect(heard.to).toEqual(kept.toDevice);
  expect(heard.from).toEqual(kept.fromDevice);
  expect(kept.toDevice.map((s) => decodeTlp(s.raw).type)).toEqual(['MWr', 'MRd']);
  expect(kept.fromDevice.map((t) => decodeTlp(t).type)).toEqual(['CplD']);
  // The completion left the scripted device its reply delay after the read was injected.
  expect(kept.fromDevice[0].cycle).toBe(kept.toDevice[1].at + dev.replyDelay);
  expect(kept.toDevice.every((s) => s.at >= s.sentAt)).toBe(true);
});

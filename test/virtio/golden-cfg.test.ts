// The golden model's configuration space: IDs, read-only fields, BAR sizing, command/status, PM, PCI Express
// (FLR), MSI-X control and the PCI_CFG access window, on every preset.
import { describe, expect, test } from 'vitest';
import { DEFAULT_LAYOUT, PRESETS, QEMU_LAYOUT, capOrder, type VirtioPciLayout } from '../../gen/virtio/layout';
import { COMMON, ISR, STATUS, VIRTIO_CAP_FIELD, VIRTIO_PCI_CAP } from '../../gen/virtio/regmap';
import {
  PCI_BASE_ADDRESS_0,
  PCI_COMMAND,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVSTA,
  PCI_EXP_LNKCTL,
  PCI_MSIX_FLAGS,
  PCI_PM_CTRL,
  PCI_STATUS,
} from '../../tb/pcie/cfgspace';
import { Poke } from './golden-helpers';

/** DWORDs of configuration space that hold a writable register (the rest must ignore writes). */
function writableDwords(l: VirtioPciLayout): Set<number> {
  const c = l.caps.at;
  const s = new Set([
    PCI_COMMAND,
    0x0c,
    0x3c,
    ...l.bars.flatMap((b) => (b.bits === 64 ? [0, 4] : [0]).map((d) => PCI_BASE_ADDRESS_0 + 4 * b.index + d)),
  ]);
  if (c.pm !== undefined) s.add(c.pm + PCI_PM_CTRL);
  for (const o of [PCI_EXP_DEVCTL, PCI_EXP_LNKCTL, 0x28, 0x30]) s.add(c.pcie! + o);
  s.add(c.msix!);
  for (const o of [
    VIRTIO_CAP_FIELD.BAR,
    VIRTIO_CAP_FIELD.OFFSET,
    VIRTIO_CAP_FIELD.LENGTH,
    VIRTIO_CAP_FIELD.PCI_CFG_DATA,
  ])
    s.add((c.pciCfg! + o) & ~3);
  return s;
}

describe.each(PRESETS.map((p) => [p.name, p] as const))('%s', (_n, l) => {
  test('IDs, class, revision, subsystem, interrupt pin, capability list in the layout order', () => {
    const p = new Poke(l);
    expect(p.cfg(0)).toBe(0x1042_1af4);
    expect(p.cfg(0x08)).toBe(0x0100_0001); // class 01 00 00, revision 1
    expect(p.cfg(0x2c)).toBe((l.subsystemId << 16) | l.subsystemVendorId);
    expect(p.cfg(0x3d, 1)).toBe(1);
    expect(p.cfg(PCI_STATUS, 2) & 0x10).toBe(0x10);
    const walked: number[] = [];
    for (let at = p.cfg(0x34, 1); at; at = p.cfg(at + 1, 1)) walked.push(at);
    expect(walked).toEqual(capOrder(l).map((k) => l.caps.at[k]));
  });

  test('virtio capabilities describe the layout (cfg_type, bar, offset, length, multiplier)', () => {
    const p = new Poke(l);
    const cap = (k: 'common' | 'notify' | 'isr' | 'device') => l.caps.at[k]!;
    const types = {
      common: VIRTIO_PCI_CAP.COMMON_CFG,
      notify: VIRTIO_PCI_CAP.NOTIFY_CFG,
      isr: VIRTIO_PCI_CAP.ISR_CFG,
      device: VIRTIO_PCI_CAP.DEVICE_CFG,
    };
    for (const k of ['common', 'notify', 'isr', 'device'] as const) {
      const r = l[k]!;
      expect(p.cfg(cap(k), 1)).toBe(0x09);
      expect(p.cfg(cap(k) + VIRTIO_CAP_FIELD.CFG_TYPE, 1)).toBe(types[k]);
      expect(p.cfg(cap(k) + VIRTIO_CAP_FIELD.BAR, 1)).toBe(r.bar);
      expect(p.cfg(cap(k) + VIRTIO_CAP_FIELD.OFFSET)).toBe(r.offset);
      expect(p.cfg(cap(k) + VIRTIO_CAP_FIELD.LENGTH)).toBe(r.length);
    }
    expect(p.cfg(cap('notify') + VIRTIO_CAP_FIELD.NOTIFY_OFF_MULTIPLIER)).toBe(l.notify.multiplier);
    expect(p.cfg(l.caps.at.pciCfg! + VIRTIO_CAP_FIELD.CFG_TYPE, 1)).toBe(VIRTIO_PCI_CAP.PCI_CFG);
  });

  test('writes to read-only fields change nothing (every DWORD of 0x00..0xff and the extended space)', () => {
    const p = new Poke(l);
    const rw = writableDwords(l);
    let checked = 0;
    for (let o = 0; o < 0x100; o += 4) {
      if (rw.has(o) || o === PCI_COMMAND + 2) continue; // status: RW1C, below
      const before = p.cfg(o);
      for (const v of [0xffff_ffff, 0, 0x5a5a_a5a5]) p.setCfg(o, v);
      for (let b = 0; b < 4; b++) p.setCfg(o + b, 0xff, 1);
      expect(p.cfg(o), `config 0x${o.toString(16)}`).toBe(before);
      checked++;
    }
    expect(checked).toBeGreaterThan(40);
    p.setCfg(0x100, 0xffff_ffff);
    expect(p.cfg(0x100)).toBe(0);
  });

  test('BAR sizing: all-ones reads back the size mask and type bits; unused BARs stay 0', () => {
    const p = new Poke(l);
    for (let i = 0; i < 6; i++) {
      p.setCfg(PCI_BASE_ADDRESS_0 + 4 * i, 0xffff_ffff);
      const b = l.bars.find((x) => x.index === i);
      const upper = l.bars.find((x) => x.bits === 64 && x.index + 1 === i);
      const want = b
        ? ((~(b.size - 1) & 0xffff_fff0) | (b.bits === 64 ? 4 : 0) | (b.prefetchable ? 8 : 0)) >>> 0
        : upper
          ? 0xffff_ffff
          : 0;
      expect(p.cfg(PCI_BASE_ADDRESS_0 + 4 * i), `BAR${i}`).toBe(want);
    }
  });

  test('command keeps only MSE, BME, parity, SERR, INTx disable; status error bits are write-1-to-clear', () => {
    const p = new Poke(l);
    p.setCfg(PCI_COMMAND, 0xffff, 2);
    expect(p.cfg(PCI_COMMAND, 2)).toBe(0x0546);
    p.g.cfg.setStatusBits(0xf900);
    expect(p.cfg(PCI_STATUS, 2)).toBe(0xf910);
    p.setCfg(PCI_STATUS, 0x2000, 2);
    expect(p.cfg(PCI_STATUS, 2)).toBe(0xd910);
    p.setCfg(PCI_STATUS, 0xffff, 2);
    expect(p.cfg(PCI_STATUS, 2)).toBe(0x0010);
  });

  test('PCI Express: FLR advertised; Device Status error bits RW1C; Initiate FLR reads 0', () => {
    const p = new Poke(l);
    const pcie = l.caps.at.pcie!;
    expect(p.cfg(pcie + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR).toBe(PCI_EXP_DEVCAP_FLR);
    p.g.noteUnsupportedRequest();
    expect(p.cfg(pcie + PCI_EXP_DEVSTA, 2) & 0x8).toBe(0x8);
    p.setCfg(pcie + PCI_EXP_DEVSTA, 0x8, 2);
    expect(p.cfg(pcie + PCI_EXP_DEVSTA, 2) & 0x8).toBe(0);
    p.setCfg(pcie + PCI_EXP_DEVCTL, 0x7fff, 2);
    expect(p.cfg(pcie + PCI_EXP_DEVCTL, 2)).toBe(0x79ff);
    p.setCfg(pcie + PCI_EXP_DEVCTL, (2 << 5) | (5 << 12) | 0x100, 2);
    expect([p.g.maxPayload, p.g.maxReadRequest, p.g.extendedTags]).toEqual([512, 4096, true]);
  });
});

describe('function-level reset', () => {
  test('FLR returns configuration space, MSI-X and virtio state to reset values, keeping Link Control', () => {
    const p = new Poke(DEFAULT_LAYOUT);
    const pcie = DEFAULT_LAYOUT.caps.at.pcie!;
    p.setCfg(PCI_BASE_ADDRESS_0, 0xc000_0000);
    p.setCfg(PCI_COMMAND, 0x6, 2);
    p.setCfg(pcie + PCI_EXP_LNKCTL, 0x8, 2);
    p.setCfg(DEFAULT_LAYOUT.caps.at.msix! + PCI_MSIX_FLAGS, 0x8000, 2);
    p.setBar(0, 0x2000, 0xfee0_0000, 4);
    p.driverOk();
    expect(p.g.status & STATUS.DRIVER_OK).toBeTruthy();
    p.setCfg(pcie + PCI_EXP_DEVCTL, p.cfg(pcie + PCI_EXP_DEVCTL, 2) | 0x8000, 2);
    expect(p.cfg(PCI_BASE_ADDRESS_0)).toBe(0x4);
    expect(p.cfg(PCI_COMMAND, 2)).toBe(0);
    expect(p.cfg(DEFAULT_LAYOUT.caps.at.msix! + PCI_MSIX_FLAGS, 2)).toBe(DEFAULT_LAYOUT.msix.vectors - 1);
    expect(p.cfg(pcie + PCI_EXP_LNKCTL, 2)).toBe(0x8);
    expect(p.cfg(pcie + PCI_EXP_DEVCTL, 2) & 0x8000).toBe(0);
    expect(p.bar(0, 0x2000, 4)).toBe(0n);
    expect(p.bar(0, 0x200c, 4)).toBe(1n); // masked again
    expect(p.common('device_status')).toBe(0);
    expect(p.common('queue_enable')).toBe(0);
    expect(p.g.events.at(-2)).toEqual({ kind: 'reset-complete' });
    expect(p.g.events.some((e) => e.kind === 'device-reset' && e.cause === 'flr')).toBe(true);
  });
});

describe('power management', () => {
  test('D3hot stops memory decode; D1/D2 are refused; D0 restores it', () => {
    const p = new Poke(DEFAULT_LAYOUT);
    const pm = DEFAULT_LAYOUT.caps.at.pm! + PCI_PM_CTRL;
    p.setCfg(PCI_BASE_ADDRESS_0, 0xc000_0000);
    p.setCfg(PCI_COMMAND, 0x2, 2);
    expect(p.g.claim(0xc000_0014n, 1)).toEqual({ bar: 0, offset: 0x14 });
    p.setCfg(pm, 1, 2);
    expect(p.cfg(pm, 2) & 3).toBe(0);
    p.setCfg(pm, 3, 2);
    expect(p.cfg(pm, 2) & 3).toBe(3);
    expect(p.g.claim(0xc000_0014n, 1)).toBeUndefined();
    p.setCfg(pm, 0, 2);
    expect(p.g.claim(0xc000_0014n, 1)).toEqual({ bar: 0, offset: 0x14 });
  });
});

describe('memory decode', () => {
  test('claims only whole requests inside an assigned BAR while Memory Space Enable is set', () => {
    const p = new Poke(QEMU_LAYOUT);
    p.setCfg(PCI_BASE_ADDRESS_0 + 4, 0xc000_1000);
    p.setCfg(PCI_BASE_ADDRESS_0 + 16, 0x0000_0000);
    p.setCfg(PCI_BASE_ADDRESS_0 + 20, 0x40);
    expect(p.g.claim(0xc000_1000n, 4)).toBeUndefined(); // MSE off
    p.setCfg(PCI_COMMAND, 0x2, 2);
    expect(p.g.claim(0xc000_1ffcn, 4)).toEqual({ bar: 1, offset: 0xffc });
    expect(p.g.claim(0xc000_1ffen, 4)).toBeUndefined(); // straddles the end of BAR1
    expect(p.g.claim(0x40_0000_3ffcn, 4)).toEqual({ bar: 4, offset: 0x3ffc });
    expect(p.g.claim(0x40_0000_4000n, 1)).toBeUndefined();
  });
});

describe('PCI_CFG access window', () => {
  const l = DEFAULT_LAYOUT;
  const cap = l.caps.at.pciCfg!;
  const data = cap + VIRTIO_CAP_FIELD.PCI_CFG_DATA;
  const select = (p: Poke, bar: number, offset: number, len: number) => {
    p.setCfg(cap + VIRTIO_CAP_FIELD.BAR, bar, 1);
    p.setCfg(cap + VIRTIO_CAP_FIELD.LENGTH, len);
    p.setCfg(cap + VIRTIO_CAP_FIELD.OFFSET, offset);
  };

  test('reads and writes reach the BAR structures, with their side effects', () => {
    const p = new Poke(l);
    select(p, 0, l.common.offset + COMMON.num_queues, 2);
    expect(p.cfg(data, 2)).toBe(l.queues.count);
    select(p, 0, l.common.offset + COMMON.device_status, 1);
    p.setCfg(data, STATUS.ACKNOWLEDGE, 1);
    expect(p.common('device_status')).toBe(STATUS.ACKNOWLEDGE);
    select(p, 0, l.common.offset + COMMON.queue_select, 2);
    p.setCfg(data, 1, 4); // a 4-byte config write: the window writes cap.length (2) bytes
    expect(p.common('queue_select')).toBe(1);
    expect(p.common('queue_size')).toBe(l.queues.maxSize);
    // ISR through the window: read-to-clear as by MMIO.
    p.g.interrupts.setIsr(ISR.CONFIG);
    select(p, 0, l.isr.offset, 1);
    expect(p.cfg(data, 1)).toBe(ISR.CONFIG);
    expect(p.isr()).toBe(0);
    // The MSI-X table is a BAR structure too.
    select(p, 0, l.msix.table.offset + 8, 4);
    p.setCfg(data, 0x4321, 4);
    expect(p.bar(0, l.msix.table.offset + 8, 4)).toBe(0x4321n);
  });

  test('invalid requests do nothing and leave pci_cfg_data alone', () => {
    const p = new Poke(l);
    select(p, 0, l.common.offset + COMMON.num_queues, 2);
    expect(p.cfg(data, 2)).toBe(l.queues.count);
    for (const [bar, off, len] of [
      [0, l.common.offset + COMMON.num_queues, 3], // length not 1, 2, 4
      [0, l.common.offset + COMMON.num_queues + 1, 2], // misaligned
      [1, 0, 4], // not a BAR of the function (upper half of BAR0)
      [6, 0, 4],
      [0, 0x4000, 4], // past the BAR
    ] as const) {
      const before = p.cfg(data);
      select(p, bar, off, len);
      expect(p.cfg(data), `bar ${bar} offset 0x${off.toString(16)} len ${len}`).toBe(before);
      p.setCfg(data, 0xffff_ffff); // stored in pci_cfg_data, but reaches no register
    }
    expect(p.common('device_status')).toBe(0);
    expect(p.common('queue_select')).toBe(0);
  });
});

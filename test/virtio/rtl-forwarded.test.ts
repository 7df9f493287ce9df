// The layout mode for a hard IP that forwards only part of configuration space to user logic (VirtioEndpoint's
// `cfgForward`, Xilinx 7-series EXT_CFG_CAP_PTR): the RTL keeps only the forwarded dwords (the virtio
// capabilities) and takes the PCI state from the hard IP. Checked whole through HardIpStandIn (the rest of the
// space in a second configuration block, as the hard IP would answer it) with the Linux-faithful probe and the
// golden model of the complete function on every read.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { emitDesign } from '../../gen/hdl';
import { DEFAULT_FORWARD, forwardProblems, type CfgForward } from '../../gen/virtio/cfg_layout';
import { VirtioCfgSpace } from '../../gen/virtio/cfg_space';
import { HardIpStandIn } from '../../gen/virtio/hardip_standin';
import { DEFAULT_LAYOUT, PTILE_LAYOUT, QEMU_LAYOUT } from '../../gen/virtio/layout';
import { COMMON, STATUS, VIRTIO_CAP_FIELD } from '../../gen/virtio/regmap';
import { VirtioEndpoint } from '../../gen/virtio/top';
import { designPorts } from '../../sim/design';
import { Rng } from '../../sim/random';
import { PCI_COMMAND, PCI_EXP_DEVCTL, PCI_EXP_DEVSTA } from '../../tb/pcie/cfgspace';
import { VirtioPciDriver } from '../../tb/virtio/driver/driver';
import { windowRead, windowWrite } from '../../tb/virtio/driver/pcicfg';
import { seededTest } from '../support/seeds';
import { buildSim, failedWith } from '../testdev/support';
import { closeRtlBenches, rtlBench } from './rtl-support';

afterEach(closeRtlBenches);

const L = DEFAULT_LAYOUT;
/** The virtio capabilities of the default layout (0x90..0xe7) and the rest of the standard space. */
const FWD: CfgForward = DEFAULT_FORWARD;
const RUNNING = STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK;

describe('forwarded-range parameter', () => {
  test('a range the layout can be split at is accepted; others are refused with the reason', () => {
    expect(forwardProblems(L, FWD)).toEqual([]);
    expect(FWD.from).toBe(L.caps.at.common);
    expect(forwardProblems(L, { from: 0x80, to: 0x100 }).join('; ')).toMatch(/pm capability at 0x7c straddles/);
    expect(forwardProblems(L, { from: 0x84, to: 0x100 }).join('; ')).toMatch(/msix capability is the hard IP's/);
    expect(forwardProblems(L, { from: 0x90, to: 0xd4 }).join('; ')).toMatch(/PCI_CFG capability must be in/);
    expect(forwardProblems(L, { from: 0x92, to: 0x100 }).join('; ')).toMatch(/dword aligned/);
    // P-Tile interleaves its virtio capabilities with the hard IP's (PCIe at 0x70, MSI-X at 0xb0).
    expect(forwardProblems(PTILE_LAYOUT, { from: 0x48, to: 0x100 }).length).toBeGreaterThan(0);
    // QEMU's list starts with MSI-X and the virtio capabilities, the PCIe capability last.
    expect(forwardProblems(QEMU_LAYOUT, { from: 0x84, to: 0xdc }).join('; ')).toMatch(/must end the list/);
    expect(() =>
      VirtioEndpoint.elaborate({ layout: PTILE_LAYOUT, W: 64, cfgForward: { from: 0x48, to: 0x100 } }),
    ).toThrow(/virtio layout 'ptile': .*straddles|virtio layout 'ptile': .*hard IP's/);
  });

  test('the forwarded configuration block holds only the forwarded dwords and takes the PCI state as inputs', () => {
    const v = [...emitDesign(VirtioCfgSpace.elaborate({ layout: L, W: 64, serve: 'forwarded', forward: FWD }))]
      .map(([, text]) => text)
      .join('\n');
    // Every dword served has its read value (rd_<dword>); a dword with writable bits its register and write hit.
    for (const inside of ['rd_common_cap', 'rd_pci_cfg_data', 'hit_pci_cfg_data', 'cfg_pci_cfg_offset'])
      expect(v).toContain(inside);
    for (const outside of ['rd_id', 'rd_pcie_cap', 'cfg_command_status', 'hit_pcie_devctl', 'cfg_msix_cap', 'cfg_bar0'])
      expect(v).not.toContain(outside);
    for (const input of ['pci_mem_enable', 'pci_bar0_base', 'pci_flr'])
      expect(v).toMatch(new RegExp(`input\\s+wire.*\\s${input},`));
    expect(v).toMatch(/output\s+wire\s+pci_ev_unsupported_request,/);
  });
});

describe('through a hard IP stand-in (default layout, virtio capabilities forwarded), W=64', () => {
  let ports = '';
  beforeAll(() => {
    ports = designPorts(HardIpStandIn.elaborate({ layout: L, W: 64, cfgForward: FWD }));
    buildSim(ports);
  }, 300_000);

  seededTest(
    'the Linux-faithful probe, queues, interrupts and remove, every read checked',
    (seed) => {
      const b = rtlBench(ports, L, seed);
      const drv = new VirtioPciDriver(b.rc);
      const r = drv.probe();
      expect(r.setup.mode).toBe('msix-per-vq');
      expect(b.model.status).toBe(RUNNING);
      for (const vq of r.setup.vqs) {
        b.dataPlane.signalQueue(vq.index);
        drv.waitQueueInterrupt(vq.index);
      }
      drv.remove();
      expect(b.link.checkedReads).toBeGreaterThan(100);
      expect(b.link.mismatches).toEqual([]);
    },
    { timeout: 120_000 },
  );

  seededTest(
    'the hard IP state reaches the endpoint: decode off, URD logged in the hard IP, FLR, the PCI_CFG window',
    (seed) => {
      const b = rtlBench(ports, L, seed);
      new VirtioPciDriver(b.rc).probe();
      const base = b.rc.device!.bars[0]!.address + BigInt(L.common.offset);
      const devctl = L.caps.at.pcie! + PCI_EXP_DEVCTL;
      const devsta = L.caps.at.pcie! + PCI_EXP_DEVSTA;
      const cmd = b.rc.cfgRead16(PCI_COMMAND);
      b.rc.cfgWrite16(PCI_COMMAND, cmd & ~2);
      expect(failedWith(() => b.rc.read16(base + BigInt(COMMON.queue_select)))).toBe('UR');
      b.rc.cfgWrite16(PCI_COMMAND, cmd);
      expect(b.rc.cfgRead16(devsta) & 0x8).toBe(0x8); // the endpoint's UR, logged by the hard IP
      // The window (forwarded) reaches the BAR the hard IP's BAR register placed.
      const cap = L.caps.at.pciCfg!;
      windowWrite(b.rc, cap, L.common.bar, L.common.offset + COMMON.queue_select, 2, 1);
      expect(b.rc.read16(base + BigInt(COMMON.queue_select))).toBe(1);
      expect(windowRead(b.rc, cap, L.common.bar, L.common.offset + COMMON.device_status, 1)).toBe(RUNNING);
      // FLR asked of the hard IP resets the forwarded registers and the function.
      b.rc.cfgWrite32(cap + VIRTIO_CAP_FIELD.OFFSET, 0x44);
      b.rc.cfgWrite16(devctl, b.rc.cfgRead16(devctl) | 0x8000);
      expect(b.rc.cfgRead32(cap + VIRTIO_CAP_FIELD.OFFSET)).toBe(0);
      expect(b.rc.cfgRead16(PCI_COMMAND)).toBe(0);
      b.rc.enumerate();
      expect(b.rc.read8(base + BigInt(COMMON.device_status))).toBe(0);
      expect(new VirtioPciDriver(b.rc).probe().setup.vqs).toHaveLength(L.queues.count);
      expect(b.link.mismatches).toEqual([]);
    },
    { timeout: 120_000 },
  );

  seededTest(
    'random configuration reads and writes of every width over both parts; the function enumerates again',
    (seed) => {
      const b = rtlBench(ports, L, seed);
      const rng = new Rng(seed).fork(0xf0d);
      new VirtioPciDriver(b.rc).probe();
      const devctl = L.caps.at.pcie! + PCI_EXP_DEVCTL;
      for (let i = 0; i < 250; i++) {
        const off = rng.below(0x100);
        const size = rng.pick([1, 2, 4] as const);
        const at = off - (off % size);
        if (rng.chance(0.5)) b.rc.cfgRead(at, size);
        else if (at !== (devctl & ~3) || rng.chance(0.3)) b.rc.cfgWrite(at, rng.below(2 ** (8 * size)), size);
      }
      b.rc.cfgWrite16(L.caps.at.pm! + 4, 0);
      b.rc.enumerate();
      expect(new VirtioPciDriver(b.rc).probe().setup.mode).toBe('msix-per-vq');
      expect(b.link.checkedReads).toBeGreaterThan(100);
      expect(b.link.mismatches).toEqual([]);
    },
    { timeout: 120_000 },
  );
});

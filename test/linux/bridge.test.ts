// The bridge without a kernel: guest accesses as Linux's PCI core and virtio_pci make them (configuration reads,
// BAR assignment, MMIO, the MSI-X table programmed with UML's 0xa0000 address and an IRQ number) become TLPs into
// the RTL endpoint, and a queue interrupt comes back as an MSI with the IRQ number as data.
import { afterAll, describe, expect, it } from 'vitest';
import { VirtioEndpoint } from '../../gen/virtio/top';
import { designPorts } from '../../sim/design';
import { Sim } from '../../sim/index';
import { UM_MSI_ADDRESS } from '../../sim/vhost/defs';
import { TapLink } from '../../tb/pcie/link';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { PciBridge, type GuestPciRequest } from '../../tb/linux/bridge';
import { linuxLayout } from '../../tb/linux/layout';
import { CheckedLink, checkingModel } from '../../tb/virtio/checker';
import { DataPlaneStandIn, EndpointLink } from '../../tb/virtio/standin';

const layout = linuxLayout({ packed: true, queues: 2 });
const sims: Sim[] = [];
afterAll(() => sims.forEach((s) => s.close()));

function bench() {
  const sim = Sim.load({ ports: designPorts(VirtioEndpoint.elaborate({ layout, W: 64 })), quiet: true });
  sims.push(sim);
  const ep = new EndpointLink(sim);
  const tap = new TapLink(ep);
  const link = new CheckedLink(tap, checkingModel(layout));
  const rc = new RootComplex(link, { seed: 3, msiWindow: { base: UM_MSI_ADDRESS, size: 0x1000 } });
  const standIn = new DataPlaneStandIn(sim, link.golden);
  const msis: number[] = [];
  const bridge = new PciBridge({ rc, link, tap, device: sim }, layout, (d) => msis.push(d));
  const le = (v: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (v >>> (8 * i)) & 0xff);
  const num = (b: Uint8Array | undefined) => b!.reduce((v, x, i) => v + x * 2 ** (8 * i), 0);
  const req = (op: GuestPciRequest['op'], offset: number, size: number, value = 0): number => {
    const r = bridge.handle({ op, bar: 0, offset, size, data: le(value, size) });
    return r ? num(r) : 0;
  };
  return { sim, rc, link, standIn, bridge, msis, req };
}

describe('PciBridge', () => {
  it('carries configuration and BAR accesses, and turns a queue interrupt into an MSI with the IRQ number', () => {
    const { rc, link, standIn, bridge, msis, req } = bench();
    expect(req('cfg-read', 0, 4)).toBe(0x1042_1af4);
    expect(req('cfg-read', 0, 8) % 2 ** 32).toBe(0x1042_1af4);
    req('cfg-write', 0x10, 4, 0xc000_0000);
    req('cfg-write', 0x14, 4, 0);
    req('cfg-write', 0x04, 2, 0x6);
    // common configuration: num_queues
    expect(req('mmio-read', 0x12, 2)).toBe(2);
    // MSI-X entry 1 as virt-pci composes it: address 0xa0000, data = the Linux IRQ number
    const entry = layout.msix.table.offset + 16;
    req('mmio-write', entry, 4, Number(UM_MSI_ADDRESS));
    req('mmio-write', entry + 4, 4, 0);
    req('mmio-write', entry + 8, 4, 77);
    req('mmio-write', entry + 12, 4, 0);
    req('cfg-write', layout.caps.at.msix! + 2, 2, 0x8000);
    // the status sequence up to DRIVER_OK, queue 0 enabled with vector 1 (interrupts need both)
    req('mmio-write', 0x14, 1, 1 | 2); // ACKNOWLEDGE | DRIVER
    req('mmio-write', 0x08, 4, 1); // driver_feature_select: bits 32..63
    req('mmio-write', 0x0c, 4, 3); // VERSION_1 | ACCESS_PLATFORM
    req('mmio-write', 0x14, 1, 1 | 2 | 8); // FEATURES_OK
    expect(req('mmio-read', 0x14, 1)).toBe(1 | 2 | 8);
    req('mmio-write', 0x16, 2, 0); // queue_select
    req('mmio-write', 0x1a, 2, 1); // queue_msix_vector
    expect(req('mmio-read', 0x1a, 2)).toBe(1);
    req('mmio-write', 0x1c, 2, 1); // queue_enable
    req('mmio-write', 0x14, 1, 1 | 2 | 8 | 4); // DRIVER_OK
    bridge.syncPosted();
    standIn.signalQueue(0);
    rc.waitFor('the MSI', () => msis.length > 0, { timeout: 5000 });
    expect(msis).toEqual([77]);
    expect(bridge.counts).toMatchObject({ msi: 1, cfgReads: 2 });
    expect(link.mismatches).toEqual([]);
  });
});

// Names of configuration-space registers, for messages ("config 0x94+4 (common capability at 0x90 +0x4: bar)").
import { capLength, capOrder, type CapKind, type VirtioPciLayout } from '../../../gen/virtio/layout';

const HEADER: readonly [number, number, string][] = [
  [0x00, 2, 'vendor ID'],
  [0x02, 2, 'device ID'],
  [0x04, 2, 'command'],
  [0x06, 2, 'status'],
  [0x08, 1, 'revision ID'],
  [0x09, 3, 'class code'],
  [0x0c, 1, 'cache line size'],
  [0x0d, 1, 'latency timer'],
  [0x0e, 1, 'header type'],
  [0x0f, 1, 'BIST'],
  [0x10, 4, 'BAR0'],
  [0x14, 4, 'BAR1'],
  [0x18, 4, 'BAR2'],
  [0x1c, 4, 'BAR3'],
  [0x20, 4, 'BAR4'],
  [0x24, 4, 'BAR5'],
  [0x28, 4, 'CardBus CIS pointer'],
  [0x2c, 2, 'subsystem vendor ID'],
  [0x2e, 2, 'subsystem ID'],
  [0x30, 4, 'expansion ROM BAR'],
  [0x34, 1, 'capabilities pointer'],
  [0x3c, 1, 'interrupt line'],
  [0x3d, 1, 'interrupt pin'],
];

const VIRTIO_FIELDS: readonly [number, string][] = [
  [0, 'cap_vndr'],
  [1, 'cap_next'],
  [2, 'cap_len'],
  [3, 'cfg_type'],
  [4, 'bar'],
  [5, 'id'],
  [6, 'padding'],
  [8, 'offset'],
  [12, 'length'],
];

const VIRTIO_KINDS: readonly CapKind[] = ['common', 'notify', 'isr', 'device', 'pciCfg'];

/** What lives at a configuration-space offset of the layout. */
export function describeCfg(layout: VirtioPciLayout, off: number): string {
  if (off < 0x40) {
    const h = HEADER.find(([o, n]) => off >= o && off < o + n);
    return h ? h[2] : 'reserved header byte';
  }
  for (const kind of capOrder(layout)) {
    const at = layout.caps.at[kind]!;
    if (off < at || off >= at + capLength(layout, kind)) continue;
    const rel = off - at;
    let field = '';
    if (VIRTIO_KINDS.includes(kind)) {
      if (rel >= 16)
        field = kind === 'notify' ? 'notify_off_multiplier' : kind === 'pciCfg' ? 'pci_cfg_data' : 'padding';
      else field = [...VIRTIO_FIELDS].reverse().find(([o]) => rel >= o)![1];
    }
    return `${kind} capability at 0x${at.toString(16)} +0x${rel.toString(16)}${field ? `: ${field}` : ''}`;
  }
  return off < 0x100 ? 'no capability' : 'extended configuration space (none implemented)';
}

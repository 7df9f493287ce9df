// Access to a BAR through the VIRTIO_PCI_CAP_PCI_CFG window (transport-pci.tex "PCI configuration access
// capability"): set cap.bar, cap.length and cap.offset, then read or write pci_cfg_data. Linux does not use the
// window; firmware and boot loaders do, and the spec makes it mandatory, so the driver model checks it works.
import type { RootComplex } from '../../pcie/rootcomplex';
import { VIRTIO_CAP_FIELD } from '../../../gen/virtio/regmap';

function select(rc: RootComplex, cap: number, bar: number, offset: number, len: 1 | 2 | 4): void {
  rc.cfgWrite8(cap + VIRTIO_CAP_FIELD.BAR, bar);
  rc.cfgWrite32(cap + VIRTIO_CAP_FIELD.LENGTH, len);
  rc.cfgWrite32(cap + VIRTIO_CAP_FIELD.OFFSET, offset);
}

export function windowRead(rc: RootComplex, cap: number, bar: number, offset: number, len: 1 | 2 | 4): number {
  select(rc, cap, bar, offset, len);
  return rc.cfgRead(cap + VIRTIO_CAP_FIELD.PCI_CFG_DATA, len);
}

export function windowWrite(
  rc: RootComplex,
  cap: number,
  bar: number,
  offset: number,
  len: 1 | 2 | 4,
  value: number,
): void {
  select(rc, cap, bar, offset, len);
  rc.cfgWrite(cap + VIRTIO_CAP_FIELD.PCI_CFG_DATA, value, len);
}

// Generated from the one register description (regmap.ts) and the layout presets (layout.ts):
//  - the tables of docs/virtio-layout.md (between <!-- BEGIN name --> and <!-- END name --> markers);
//  - include/virtio_fpga.h, a C header for firmware and userspace drivers of the card.
// `npm run gen` rewrites both; test/virtio/docs.test.ts fails when either is out of date.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type GeneratedFile, replaceSections } from '../doc_sections';
import { DEFAULT_FORWARD, virtioCfgDwords } from './cfg_layout';
import {
  CAP_SIZE,
  DEFAULT_LAYOUT,
  PRESETS,
  capLength,
  capOrder,
  msixPbaBytes,
  msixTableBytes,
  pciDeviceId,
  type VirtioPciLayout,
} from './layout';
import {
  ALL_FEATURES,
  BLK_CONFIG,
  COMMON_CFG,
  DEVICE_TYPES,
  ISR,
  NET_CONFIG,
  STATUS,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_PCI_CAP,
  VIRTIO_PCI_VENDOR_ID,
  featureMask,
  type DeviceCfgField,
} from './regmap';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const DOC_PATH = path.join(ROOT, 'docs', 'virtio-layout.md');
export const HEADER_PATH = path.join(ROOT, 'include', 'virtio_fpga.h');

const hex = (n: number | bigint, w = 0) => `0x${n.toString(16).padStart(w, '0')}`;

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function commonTable(): string {
  return table(
    ['offset', 'field', 'bytes', 'driver', 'kind', 'exists with', 'since', 'reset', 'what'],
    COMMON_CFG.map((f) => [
      hex(f.offset, 2),
      `\`${f.name}\``,
      String(f.width),
      f.access.toUpperCase(),
      f.kind,
      f.feature ?? '',
      f.since,
      f.reset,
      f.summary,
    ]),
  );
}

function featureTable(): string {
  return table(
    ['bit', 'feature', 'scope', 'requires', ...PRESETS.map((p) => p.name), 'what'],
    [...ALL_FEATURES]
      .filter((f) => f.scope !== 'net')
      .map((f) => [
        String(f.bit),
        `\`${f.name}\``,
        f.scope,
        (f.requires ?? []).join(', '),
        ...PRESETS.map((p) => (p.features.includes(f.name) ? 'offered' : '')),
        f.summary,
      ]),
  );
}

function deviceCfgTable(fields: readonly DeviceCfgField[]): string {
  return table(
    ['offset', 'field', 'bytes', 'driver', 'feature', 'what'],
    fields.map((f) => [
      hex(f.offset, 2),
      `\`${f.name}\``,
      String(f.width),
      f.access.toUpperCase(),
      f.feature ?? '',
      f.summary,
    ]),
  );
}

function presetTable(): string {
  const rows: string[][] = [];
  const cell = (fn: (l: VirtioPciLayout) => string) => PRESETS.map(fn);
  const region = (r?: { bar: number; offset: number; length: number }) =>
    r ? `BAR${r.bar} +${hex(r.offset, 4)}, ${hex(r.length)} B` : '-';
  rows.push(['PCI device ID', ...cell((l) => hex(pciDeviceId(l), 4))]);
  rows.push(['subsystem vendor / ID', ...cell((l) => `${hex(l.subsystemVendorId, 4)} / ${hex(l.subsystemId, 4)}`)]);
  rows.push([
    'BARs',
    ...cell((l) =>
      l.bars
        .map((b) => `BAR${b.index}: ${b.bits}-bit${b.prefetchable ? ' prefetchable' : ''}, ${hex(b.size)} B`)
        .join('<br>'),
    ),
  ]);
  rows.push(['common configuration', ...cell((l) => region(l.common))]);
  rows.push(['notifications', ...cell((l) => `${region(l.notify)}, multiplier ${l.notify.multiplier}`)]);
  rows.push(['ISR status', ...cell((l) => region(l.isr))]);
  rows.push(['device configuration', ...cell((l) => region(l.device))]);
  rows.push([
    'MSI-X',
    ...cell(
      (l) =>
        `${l.msix.vectors} vectors; table BAR${l.msix.table.bar} +${hex(l.msix.table.offset, 4)} (${msixTableBytes(l.msix.vectors)} B), PBA BAR${l.msix.pba.bar} +${hex(l.msix.pba.offset, 4)} (${msixPbaBytes(l.msix.vectors)} B)`,
    ),
  ]);
  rows.push(['queues', ...cell((l) => `${l.queues.count}, up to ${l.queues.maxSize} entries`)]);
  rows.push([
    'capabilities (list order)',
    ...cell((l) =>
      capOrder(l)
        .map(
          (k) => `${k} ${hex(l.caps.at[k]!, 2)}${capLength(l, k) !== CAP_SIZE[k] ? ` (len ${capLength(l, k)})` : ''}`,
        )
        .join(' → '),
    ),
  ]);
  rows.push(['features offered', ...cell((l) => hex(featureMask(l.features, l.deviceType), 16))]);
  return table(['', ...PRESETS.map((p) => p.name)], rows);
}

/**
 * The default layout's configuration space as the RTL stores it (cfg_layout.ts virtioCfgDwords): reset value,
 * writable and write-1-to-clear bits, live bits, and which part a hard IP forwarding DEFAULT_FORWARD serves.
 */
function cfgSpaceTable(): string {
  const l = DEFAULT_LAYOUT;
  const f = DEFAULT_FORWARD;
  const mask = (v: number) => (v ? hex(v, 8) : '');
  return table(
    [
      'offset',
      'dword',
      'reset / read-only value',
      'RW bits',
      'RW1C bits',
      'live bits',
      `forwarded (${hex(f.from, 2)}..${hex(f.to - 1, 2)})`,
    ],
    virtioCfgDwords(l).map((d) => [
      hex(d.offset, 3),
      `\`${d.name}\``,
      hex(d.init, 8),
      mask(d.rw),
      mask(d.w1c),
      mask(d.live),
      d.offset >= f.from && d.offset < f.to ? 'user logic' : 'hard IP',
    ]),
  );
}

/** Generated sections of docs/virtio-layout.md. */
export function docSections(): Record<string, string> {
  return {
    presets: presetTable(),
    'cfg-space': cfgSpaceTable(),
    'common-cfg': commonTable(),
    features: featureTable(),
    'blk-cfg': deviceCfgTable(BLK_CONFIG),
    'net-cfg': deviceCfgTable(NET_CONFIG),
  };
}

export function updateDoc(text: string): string {
  return replaceSections('docs/virtio-layout.md', text, docSections());
}

// ---- C header

const cName = (s: string) =>
  s
    .replace(/\[(\d+)\]/g, '_$1')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();

function define(name: string, value: string, comment?: string): string {
  const d = `#define ${name} ${value}`;
  return comment ? `${d.padEnd(56)} /* ${comment} */` : d;
}

export function headerText(): string {
  const out: string[] = [
    '/* virtio-fpga: virtio-pci register offsets, bits and layout presets of the card.',
    ' * Generated by gen/virtio/docs.ts from gen/virtio/regmap.ts and gen/virtio/layout.ts: do not edit.',
    ' * All multi-byte fields are little-endian; 64-bit fields are two 32-bit halves (low first). */',
    '#ifndef VIRTIO_FPGA_H',
    '#define VIRTIO_FPGA_H',
    '',
    define('VFPGA_PCI_VENDOR_ID', hex(VIRTIO_PCI_VENDOR_ID, 4)),
    define('VFPGA_MSI_NO_VECTOR', hex(VIRTIO_MSI_NO_VECTOR, 4)),
    '',
    '/* cfg_type of the virtio vendor capabilities */',
    ...Object.entries(VIRTIO_PCI_CAP).map(([k, v]) => define(`VFPGA_PCI_CAP_${k}`, String(v))),
    '',
    '/* Common configuration structure (struct virtio_pci_common_cfg): byte offsets */',
  ];
  for (const f of COMMON_CFG) {
    const n = `VFPGA_COMMON_${cName(f.name)}`;
    const what = `${f.width * 8}-bit ${f.access.toUpperCase()}${f.feature ? `, with ${f.feature}` : ''}`;
    if (f.width === 8) {
      out.push(define(`${n}_LO`, hex(f.offset, 2), `${what} (low half)`));
      out.push(define(`${n}_HI`, hex(f.offset + 4, 2), 'high half'));
    } else out.push(define(n, hex(f.offset, 2), what));
  }
  out.push('', '/* device_status bits */');
  for (const [k, v] of Object.entries(STATUS)) out.push(define(`VFPGA_STATUS_${k}`, hex(v, 2)));
  out.push('', '/* ISR status bits */');
  for (const [k, v] of Object.entries(ISR)) out.push(define(`VFPGA_ISR_${k}`, hex(v)));
  out.push('', '/* Feature bit numbers */');
  for (const f of ALL_FEATURES) out.push(define(`VFPGA_${f.name.replace(/^VIRTIO_/, '')}`, String(f.bit), f.summary));
  for (const t of Object.values(DEVICE_TYPES)) {
    out.push(
      '',
      `/* virtio-${t.name} device configuration: byte offsets (device ID ${t.id}, PCI device ID ${hex(0x1040 + t.id, 4)}) */`,
    );
    out.push(define(`VFPGA_${t.name.toUpperCase()}_DEVICE_ID`, String(t.id)));
    out.push(define(`VFPGA_${t.name.toUpperCase()}_CFG_SIZE`, hex(t.configSize, 2)));
    for (const f of t.config)
      out.push(
        define(
          `VFPGA_${t.name.toUpperCase()}_CFG_${cName(f.name)}`,
          hex(f.offset, 2),
          `${f.width * 8}-bit ${f.access.toUpperCase()}`,
        ),
      );
  }
  for (const l of PRESETS) {
    const p = `VFPGA_${cName(l.name)}`;
    out.push('', `/* Layout preset '${l.name}' */`);
    out.push(define(`${p}_PCI_DEVICE_ID`, hex(pciDeviceId(l), 4)));
    for (const b of l.bars) {
      out.push(define(`${p}_BAR${b.index}_SIZE`, hex(b.size)));
      out.push(
        define(`${p}_BAR${b.index}_FLAGS`, hex((b.bits === 64 ? 4 : 0) | (b.prefetchable ? 8 : 0)), 'low BAR bits'),
      );
    }
    const regions = { COMMON: l.common, NOTIFY: l.notify, ISR: l.isr, DEVICE: l.device } as const;
    for (const [k, r] of Object.entries(regions)) {
      if (!r) continue;
      out.push(define(`${p}_${k}_BAR`, String(r.bar)));
      out.push(define(`${p}_${k}_OFFSET`, hex(r.offset, 4)));
      out.push(define(`${p}_${k}_LENGTH`, hex(r.length)));
    }
    out.push(define(`${p}_NOTIFY_OFF_MULTIPLIER`, String(l.notify.multiplier)));
    out.push(define(`${p}_MSIX_VECTORS`, String(l.msix.vectors)));
    out.push(define(`${p}_MSIX_TABLE_BAR`, String(l.msix.table.bar)));
    out.push(define(`${p}_MSIX_TABLE_OFFSET`, hex(l.msix.table.offset, 4)));
    out.push(define(`${p}_MSIX_PBA_BAR`, String(l.msix.pba.bar)));
    out.push(define(`${p}_MSIX_PBA_OFFSET`, hex(l.msix.pba.offset, 4)));
    out.push(define(`${p}_NUM_QUEUES`, String(l.queues.count)));
    out.push(define(`${p}_QUEUE_MAX_SIZE`, String(l.queues.maxSize)));
    out.push(define(`${p}_FEATURES`, `${hex(featureMask(l.features, l.deviceType), 16)}ULL`));
    for (const k of capOrder(l))
      out.push(define(`${p}_CAP_${cName(k)}`, hex(l.caps.at[k]!, 2), 'configuration space offset'));
  }
  out.push('', '#endif /* VIRTIO_FPGA_H */', '');
  return out.join('\n');
}

/** docs/virtio-layout.md and include/virtio_fpga.h as `npm run gen` writes them. */
export function virtioDocs(): GeneratedFile[] {
  return [
    { path: DOC_PATH, contents: updateDoc(fs.readFileSync(DOC_PATH, 'utf8')) },
    { path: HEADER_PATH, contents: headerText() },
  ];
}

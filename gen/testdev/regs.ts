// The test device's register map: ONE description used by the RTL decode (testdev_regs), by
// docs/testdev.md (the table there is `regMapMarkdown()`, checked by a test), and by the test bench (which
// never hard-codes an offset or a bit position).
//
// BAR0 (64 KiB, 64-bit prefetchable): registers from 0x0000, device RAM at RAM_OFFSET. Other offsets read 0
// and ignore writes. Registers are 32 bits; any access size the PCIe byte enables allow works (a 64-bit
// access to DMA_HOST_ADDR_LO writes both halves).
import { paramError } from '../hdl';
import { DmaError } from '../pcie/dma_common';

export type Access = 'ro' | 'rw' | 'w1c' | 'wo';

export interface FieldDef {
  readonly name: string;
  readonly lsb: number;
  readonly width: number;
  readonly access: Access;
  /** Reset value; for a read-only field without a hardware source, its constant value. */
  readonly reset: number;
  readonly doc: string;
  /** Named values of the field. */
  readonly values?: Readonly<Record<string, number>>;
  /** For a read-only field whose value depends on the build: the build parameter it reads. */
  readonly perInstance?: keyof InstanceInfo;
}

/** The build parameters the INFO register reports. */
export interface InstanceInfo {
  /** Dwords per beat of the TLP stream. */
  lanes: number;
  /** Read requests the DMA read engine keeps outstanding. */
  readTags: number;
}

export interface RegDef {
  readonly name: string;
  readonly offset: number;
  readonly doc: string;
  readonly fields: readonly FieldDef[];
}

/** Offset of the device RAM inside BAR0, and its size. */
export const RAM_OFFSET = 0x8000;
export const RAM_BYTES = 16 * 1024;
export const BAR0_BYTES = 64 * 1024;
/** BAR2 (4 KiB, 32-bit, non-prefetchable): the MSI-X table at 0 and the PBA at 0x800. */
export const BAR2_BYTES = 4 * 1024;
export const MSIX_TABLE_OFFSET = 0x000;
export const MSIX_PBA_OFFSET = 0x800;
export const MSIX_VECTORS = 4;

const f = (
  name: string,
  lsb: number,
  width: number,
  access: Access,
  reset: number,
  doc: string,
  values?: Record<string, number>,
): FieldDef => ({
  name,
  lsb,
  width,
  access,
  reset,
  doc,
  values,
});

export const REGISTERS: readonly RegDef[] = [
  {
    name: 'ID',
    offset: 0x000,
    doc: 'Identifies the register map.',
    fields: [
      f('VERSION', 0, 16, 'ro', 1, 'Register map version.'),
      f('MAGIC', 16, 16, 'ro', 0x7e57, 'Always 0x7e57 ("test").'),
    ],
  },
  {
    name: 'SCRATCH',
    offset: 0x004,
    doc: 'Free for software.',
    fields: [f('VALUE', 0, 32, 'rw', 0, 'Reads back what was written.')],
  },
  {
    name: 'INFO',
    offset: 0x008,
    doc: 'Build parameters of this instance.',
    fields: [
      { ...f('LANES', 0, 8, 'ro', 0, 'Dwords per beat of the TLP stream (data width / 32).'), perInstance: 'lanes' },
      { ...f('READ_TAGS', 8, 8, 'ro', 0, 'Read requests the DMA engine keeps outstanding.'), perInstance: 'readTags' },
      f('MSIX_VECTORS', 16, 8, 'ro', MSIX_VECTORS, 'MSI-X vectors.'),
      f('RAM_KIB', 24, 8, 'ro', RAM_BYTES / 1024, 'Device RAM size in KiB.'),
    ],
  },
  {
    name: 'DMA_HOST_ADDR_LO',
    offset: 0x010,
    doc: 'Host address of the transfer, bits 31:0 (any byte alignment).',
    fields: [f('ADDR', 0, 32, 'rw', 0, 'Host byte address [31:0].')],
  },
  {
    name: 'DMA_HOST_ADDR_HI',
    offset: 0x014,
    doc: 'Host address of the transfer, bits 63:32.',
    fields: [f('ADDR', 0, 32, 'rw', 0, 'Host byte address [63:32].')],
  },
  {
    name: 'DMA_RAM_OFFSET',
    offset: 0x018,
    doc: 'Device RAM byte offset of the transfer; must equal the host address mod 4.',
    fields: [f('OFFSET', 0, 14, 'rw', 0, 'Byte offset into the device RAM.')],
  },
  {
    name: 'DMA_LENGTH',
    offset: 0x01c,
    doc: 'Transfer length in bytes; offset + length must not exceed the RAM. 0 completes at once.',
    fields: [f('BYTES', 0, 15, 'rw', 0, 'Length in bytes, 0..16384.')],
  },
  {
    name: 'DMA_CONTROL',
    offset: 0x020,
    doc: 'Direction and completion interrupt of the next transfer.',
    fields: [
      f('DIR', 0, 1, 'rw', 0, 'Direction.', { HOST_TO_RAM: 0, RAM_TO_HOST: 1 }),
      f('IRQ_EN', 1, 1, 'rw', 0, 'Send an MSI-X message when the transfer ends (success or error).'),
      f('VECTOR', 8, 2, 'rw', 0, 'MSI-X vector of that message.'),
    ],
  },
  {
    name: 'DMA_DOORBELL',
    offset: 0x024,
    doc: 'Writing START = 1 starts a transfer with the registers above (ignored while BUSY); clears DONE and ERROR.',
    fields: [f('START', 0, 1, 'wo', 0, 'Write 1 to start.')],
  },
  {
    name: 'DMA_STATUS',
    offset: 0x028,
    doc: 'State of the last transfer.',
    fields: [
      f('BUSY', 0, 1, 'ro', 0, 'A transfer is running.'),
      f('DONE', 1, 1, 'w1c', 0, 'The last transfer ended (with or without error).'),
      f('ERROR', 2, 1, 'w1c', 0, 'The last transfer ended with an error (see ERR_CODE).'),
      f('ERR_CODE', 4, 3, 'ro', 0, 'Why the last transfer failed.', { ...DmaError }),
    ],
  },
  {
    name: 'DMA_TIMEOUT',
    offset: 0x02c,
    doc: 'Completion timeout of DMA read requests.',
    fields: [f('CYCLES', 0, 24, 'rw', 1 << 16, 'Clock cycles a read request may wait for its last completion.')],
  },
  {
    name: 'CPL_UNEXPECTED',
    offset: 0x030,
    doc: 'Completions received for no outstanding request (dropped).',
    fields: [f('COUNT', 0, 16, 'rw', 0, 'Incremented by hardware (saturating); write 0 to clear.')],
  },
  {
    name: 'IRQ_TEST',
    offset: 0x034,
    doc: 'Software-triggered interrupt: a write requests an MSI-X message on VECTOR.',
    fields: [f('VECTOR', 0, 2, 'wo', 0, 'Vector to fire.')],
  },
];

/** A register by name, for the test bench and the RTL. */
export function reg(name: string): RegDef {
  const r = REGISTERS.find((x) => x.name === name);
  if (!r) throw paramError(`testdev: no register ${name}`);
  return r;
}

export type FieldHandle = FieldDef & { mask: number; get(v: number): number; put(v: number): number };

const fieldHandles = new Map<string, FieldHandle>();

/**
 * A field by register and field name, with helpers to place and extract its value. Built once
 * per field and shared (test benches call this in their inner loops).
 */
export function field(regName: string, fieldName: string): FieldHandle {
  const key = `${regName}.${fieldName}`;
  let h = fieldHandles.get(key);
  if (h) return h;
  const r = reg(regName);
  const fd = r.fields.find((x) => x.name === fieldName);
  if (!fd) throw paramError(`testdev: register ${regName} has no field ${fieldName}`);
  const mask = (fd.width === 32 ? 0xffffffff : ((1 << fd.width) - 1) << fd.lsb) >>> 0;
  h = Object.freeze({
    ...fd,
    mask,
    get: (v: number) => ((v >>> 0) & mask) >>> fd.lsb,
    put: (v: number) => ((v << fd.lsb) & mask) >>> 0,
  });
  fieldHandles.set(key, h);
  return h;
}

/**
 * The register map as a Markdown table (the one in docs/testdev.md). A field that depends on the build reads
 * "a / b / ...": its value in each of `builds`, in order.
 */
export function regMapMarkdown(builds: readonly InstanceInfo[]): string {
  const hex = (v: number, w = 3) => `0x${v.toString(16).padStart(w, '0')}`;
  const lines = [
    '| offset | register | bits | field | access | reset | description |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of REGISTERS) {
    lines.push(`| ${hex(r.offset)} | **${r.name}** | | | | | ${r.doc} |`);
    for (const fd of r.fields) {
      const bits = fd.width === 1 ? `${fd.lsb}` : `${fd.lsb + fd.width - 1}:${fd.lsb}`;
      const values = fd.values
        ? ` ${Object.entries(fd.values)
            .map(([k, v]) => `${v} = ${k}`)
            .join(', ')}.`
        : '';
      const pi = fd.perInstance;
      const reset = pi ? builds.map((b) => b[pi]).join(' / ') : hex(fd.reset, 1);
      lines.push(`| | | ${bits} | ${fd.name} | ${fd.access.toUpperCase()} | ${reset} | ${fd.doc}${values} |`);
    }
  }
  return lines.join('\n');
}

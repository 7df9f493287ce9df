// AXI4 memory-mapped interfaces (ARM IHI 0022, AMBA AXI4): the five channels of a master port as one bundle,
// seen from the master (a slave takes it flipped). The signals are gen/lib/axi_fields.ts's table (which the
// simulator's AXI4 memory model reads too).
import { bundle, flip, type Flipped, type HwType, uint } from '../hdl';
import { AXI4_FIELDS, AXI4_KIND, axiFieldWidth } from './axi_fields';

export { AXI_BURST, AXI_RESP } from './axi_fields';

/** AxSIZE of a full-width beat: log2 of the data bus's bytes. */
export const axiSize = (dataBits: number): number => Math.log2(dataBits / 8);

type Table = typeof AXI4_FIELDS;
type FieldType<W> = W extends number ? HwType<W> : HwType<number>;
/** The bundle's fields: master-driven ones as they are, slave-driven ones flipped. */
type Axi4Fields = {
  [K in keyof Table]: Table[K]['by'] extends 'master'
    ? FieldType<Table[K]['width']>
    : Flipped<FieldType<Table[K]['width']>>;
};

/** An AXI4 master port: write address, write data, write response, read address, read data. */
export function axi4(dataBits: number, addrBits: number) {
  const fields = Object.fromEntries(
    Object.entries(AXI4_FIELDS).map(([name, f]) => {
      const t = uint(axiFieldWidth(f.width, dataBits, addrBits));
      return [name, f.by === 'master' ? t : flip(t)];
    }),
  ) as Axi4Fields;
  return bundle(AXI4_KIND, fields, { dataBits, addrBits });
}

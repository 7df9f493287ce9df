// Writes the whole function's virtio-blk module (as gen/virtq/dataplane.ts instantiates it, 256 bits, default
// disk) into hdl/ as a top of its own (its .v files and a ports JSON), for `npm run synth -- --path <name>`. Not a
// test; the files it writes are not committed (npm run gen removes them). `npx tsx test/blk/synth-top.ts`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { emitDesign, log2ceil } from '../../gen/hdl';
import { VirtioBlk } from '../../gen/blk/device';
import { defaultBlk, virtioBlkConfig } from '../../gen/virtq/blk_top';
import { hdlDir } from '../../scripts/gen';

const d = virtioBlkConfig({ W: 256, blk: defaultBlk(), rings: 'split' }).dataPlane;
const params = {
  ...d.blk,
  W: d.W,
  queueBits: Math.max(1, log2ceil(d.queues)),
  lenBits: d.dma.lenBits,
  idBits: d.dma.idBits,
};
const design = VirtioBlk.elaborate(params);
for (const [name, text] of emitDesign(design)) {
  const p = path.join(hdlDir, name);
  if (!fs.existsSync(p) || fs.readFileSync(p, 'utf8') !== text) fs.writeFileSync(p, text);
  if (name.endsWith('.ports.json')) console.log(name.replace('.ports.json', ''));
}

import { afterEach, beforeAll, expect, test } from 'vitest';
import { Rng } from '../../sim/random';
import { bootDma, buildDmaSim, closeDmaBenches, devFill, devRead, dmaPorts, statuses, waitStatuses, DEV_BYTES } from './support';

afterEach(closeDmaBenches);
let ports = '';
beforeAll(() => {
  ports = dmaPorts(64);
  buildDmaSim(ports);
}, 600_000);

test('smoke', () => {
  const d = bootDma(64, ports, 1);
  console.log(d.sim.publicSignals().filter(s=>s.range).map((s) => s.name).join(' '));
  const rng = new Rng(1);
  const mem = rng.bytes(DEV_BYTES);
  devFill(d, mem);
  expect(Buffer.from(devRead(d, 100, 50))).toEqual(Buffer.from(mem.subarray(100, 150)));
  const src = d.rc.mem.alloc(4096, { perm: 'ro' });
  const data = rng.bytes(4096);
  d.rc.mem.write(src.addr, data);
  d.rdCmd.send({ rd_cmd_host_addr: src.addr + 5n, rd_cmd_dev_addr: 1000, rd_cmd_len: 3000, rd_cmd_id: 7 });
  waitStatuses(d, d.rdStatus, 1);
  console.log(statuses(d.rdStatus, 'rd'));
  expect(Buffer.from(devRead(d, 1000, 3000))).toEqual(Buffer.from(data.subarray(5, 3005)));
  const dst = d.rc.mem.alloc(4096, { perm: 'wo' });
  d.wrCmd.send({ wr_cmd_host_addr: dst.addr + 3n, wr_cmd_dev_addr: 1001, wr_cmd_len: 2000, wr_cmd_id: 9 });
  waitStatuses(d, d.wrStatus, 1);
  console.log(statuses(d.wrStatus, 'wr'));
  expect(Buffer.from(d.rc.mem.read(dst.addr + 3n, 2000))).toEqual(Buffer.from(devRead(d, 1001, 2000)));
});

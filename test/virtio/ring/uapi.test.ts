// The ring and virtio-blk constants and layouts agree with Linux's uapi headers (virtio_ring.h, virtio_blk.h),
// and vringNeedEvent with the header's own vring_need_event, run as C over the same grid of values.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, test } from 'vitest';
import * as blk from '../../../tb/virtio/blk/defs';
import { allocRing, VRING_ALIGN } from '../../../tb/virtio/ring/create';
import * as d from '../../../tb/virtio/ring/defs';
import { HostMemory } from '../../../tb/pcie/hostmem';

const haveCc = (() => {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return fs.existsSync('/usr/include/linux/virtio_ring.h') && fs.existsSync('/usr/include/linux/virtio_blk.h');
  } catch {
    return false;
  }
})();

/** Compiles and runs a C program; returns its output. */
function runC(src: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfpga-uapi-'));
  try {
    fs.writeFileSync(path.join(dir, 't.c'), src);
    execFileSync('cc', ['-std=gnu11', '-Wall', '-Werror', '-o', path.join(dir, 't'), path.join(dir, 't.c')]);
    return execFileSync(path.join(dir, 't'), { encoding: 'utf8' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test.skipIf(!haveCc)('constants, structure layouts and vring_size agree with Linux uapi headers', () => {
  const eq = (c: string, v: number | bigint) => `_Static_assert((${c}) == ${v}, "${c.replace(/"/g, '')}");`;
  const sizes = [1, 2, 16, 256, 32768];
  const splitBytes = (num: number) => {
    const r = allocRing(new HostMemory(), num, false);
    return Number(r.device - r.desc) + d.splitAreaSizes(num).used;
  };
  const asserts = [
    eq('VRING_DESC_F_NEXT', d.VRING_DESC_F_NEXT),
    eq('VRING_DESC_F_WRITE', d.VRING_DESC_F_WRITE),
    eq('VRING_DESC_F_INDIRECT', d.VRING_DESC_F_INDIRECT),
    eq('VRING_PACKED_DESC_F_AVAIL', d.VRING_PACKED_DESC_F_AVAIL),
    eq('VRING_PACKED_DESC_F_USED', d.VRING_PACKED_DESC_F_USED),
    eq('VRING_USED_F_NO_NOTIFY', d.VRING_USED_F_NO_NOTIFY),
    eq('VRING_AVAIL_F_NO_INTERRUPT', d.VRING_AVAIL_F_NO_INTERRUPT),
    eq('VRING_PACKED_EVENT_FLAG_ENABLE', d.VRING_PACKED_EVENT_FLAG_ENABLE),
    eq('VRING_PACKED_EVENT_FLAG_DISABLE', d.VRING_PACKED_EVENT_FLAG_DISABLE),
    eq('VRING_PACKED_EVENT_FLAG_DESC', d.VRING_PACKED_EVENT_FLAG_DESC),
    eq('VRING_PACKED_EVENT_F_WRAP_CTR', d.VRING_PACKED_EVENT_F_WRAP_CTR),
    eq('sizeof(struct vring_desc)', d.DESC_SIZE),
    eq('sizeof(struct vring_used_elem)', d.USED_ELEM_SIZE),
    eq('sizeof(struct vring_packed_desc)', d.DESC_SIZE),
    eq('offsetof(struct vring_packed_desc, len)', d.PACKED.len),
    eq('offsetof(struct vring_packed_desc, id)', d.PACKED.id),
    eq('offsetof(struct vring_packed_desc, flags)', d.PACKED.flags),
    eq('sizeof(struct vring_packed_desc_event)', d.PACKED_EVENT_SIZE),
    eq('offsetof(struct vring_avail, ring)', d.SPLIT.availRing(0)),
    eq('offsetof(struct vring_used, ring)', d.SPLIT.usedRing(0)),
    eq('VIRTIO_BLK_T_IN', blk.BLK_T.IN),
    eq('VIRTIO_BLK_T_OUT', blk.BLK_T.OUT),
    eq('VIRTIO_BLK_T_FLUSH', blk.BLK_T.FLUSH),
    eq('VIRTIO_BLK_T_GET_ID', blk.BLK_T.GET_ID),
    eq('VIRTIO_BLK_T_DISCARD', blk.BLK_T.DISCARD),
    eq('VIRTIO_BLK_T_WRITE_ZEROES', blk.BLK_T.WRITE_ZEROES),
    eq('VIRTIO_BLK_S_OK', blk.BLK_S.OK),
    eq('VIRTIO_BLK_S_IOERR', blk.BLK_S.IOERR),
    eq('VIRTIO_BLK_S_UNSUPP', blk.BLK_S.UNSUPP),
    eq('VIRTIO_BLK_ID_BYTES', blk.BLK_ID_BYTES),
    eq('VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP', blk.VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
    eq('sizeof(struct virtio_blk_outhdr)', blk.BLK_HDR_SIZE),
    eq('sizeof(struct virtio_blk_discard_write_zeroes)', blk.BLK_DWZ_SEG_SIZE),
  ];
  const src = [
    '#include <stddef.h>',
    '#include <stdio.h>',
    '#include <linux/virtio_ring.h>',
    '#include <linux/virtio_blk.h>',
    ...asserts,
    // vring_size (the legacy layout helper) must be exactly the split ring allocRing lays out.
    'int main(void) {',
    '  static const unsigned short v[] = {0, 1, 2, 3, 0x7fff, 0x8000, 0xfffd, 0xfffe, 0xffff};',
    '  unsigned n = sizeof v / sizeof v[0];',
    '  for (unsigned a = 0; a < n; a++) for (unsigned b = 0; b < n; b++) for (unsigned c = 0; c < n; c++)',
    '    putchar(vring_need_event(v[a], v[b], v[c]) ? 49 : 48);',
    ...sizes.map((n) => `  printf(" %u", vring_size(${n}, ${VRING_ALIGN}));`),
    '  return 0;',
    '}',
  ].join('\n');
  const out = runC(src);
  const v = [0, 1, 2, 3, 0x7fff, 0x8000, 0xfffd, 0xfffe, 0xffff];
  let ts = '';
  for (const a of v) for (const b of v) for (const c of v) ts += d.vringNeedEvent(a, b, c) ? '1' : '0';
  expect(out).toBe(`${ts} ${sizes.map(splitBytes).join(' ')}`);
  expect(ts).toContain('1');
  expect(ts).toContain('0');
});

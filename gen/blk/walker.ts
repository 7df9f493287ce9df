// The virtio-blk device's DMA walker (gen/blk/device.ts): it turns a byte range of a request's chain into DMA
// commands, one per descriptor piece. The front end has one (headers), the back end one (everything else).
import { bit, cat, type Expr, lit, type Memory, type ModuleBuilder, mux, Signal } from '../hdl';
import type { BlkCore } from './params';

// ---- the walker: one DMA command per descriptor overlapping bytes [off, end) of the readable (dir 0:
// DMA read, host -> device) or writable (dir 1: DMA write, device -> host) bytes of a slot's chain; byte
// `off` goes to device offset `dev`. The front end has one (headers: always the same direction and range,
// `fixed`, so those are constants rather than registers), the back end one (everything else).
export function blkWalker(
  m: ModuleBuilder,
  bc: BlkCore,
  descs: Memory,
  name: string,
  slot: Expr,
  count: Expr,
  fixed?: { dir: 0 | 1; off: number; end: number | Expr },
) {
  const { p, g, N, db, ib } = bc;
  const walking = m.reg(`${name}_walking`, bit, { reset: 0 });
  const dir = fixed ? lit(fixed.dir, 1) : m.reg(`${name}_dir`, bit);
  const off = fixed ? lit(fixed.off, N) : m.reg(`${name}_off`, N);
  const end = fixed ? (typeof fixed.end === 'number' ? lit(fixed.end, N) : fixed.end) : m.reg(`${name}_end`, N);
  const dev = m.reg(`${name}_dev`, p.devBits);
  const idx = m.reg(`${name}_idx`, ib);
  const pos = m.reg(`${name}_pos`, N);
  const d = descs.readAsync(cat(slot, idx.trunc(db)));
  const dLen = d.bits(32, 1).zext(N);
  const atEnd = m.let(`${name}_at_end`, idx.zext(16).ge(count).or(pos.ge(end)));
  const match = d.bit(0).eq(dir);
  const dEnd = pos.add(dLen);
  // A range from byte 0 (the header walker's) starts at or before every descriptor: its piece starts at `pos`,
  // so no comparison with `off` and no host-address adder (s - pos is 0).
  const fromStart = fixed !== undefined && fixed.off === 0;
  const s = m.let(`${name}_s`, fromStart ? pos : mux(off.gt(pos), off, pos));
  const e = m.let(`${name}_e`, mux(end.lt(dEnd), end, dEnd));
  const need = m.let(`${name}_need`, walking.and(atEnd.not()).and(match).and(s.lt(e)));
  const ready = m.wire(`${name}_cmd_ready`, bit);
  const advance = walking.and(atEnd.not()).and(need.not().or(ready));
  m.if(walking.and(atEnd), () => walking.next(0));
  m.if(advance, () => {
    idx.next(idx.inc());
    m.if(match, () => pos.next(dEnd));
  });
  return {
    walking,
    dir,
    need,
    ready,
    /** The command's last piece: it reaches the range's end. */
    last: e.eq(end),
    pos,
    e,
    host: fromStart ? d.bits(96, 33) : d.bits(96, 33).add(s.sub(pos).zext(64)),
    dev: lit(BigInt(g.base), g.addrBits).or(dev.add(s.sub(off).trunc(p.devBits)).zext(g.addrBits)),
    len: e.sub(s).trunc(p.lenBits),
    start: (dr: 0 | 1, from: Expr, to: Expr, at: Expr) => {
      walking.next(1);
      if (dir instanceof Signal && off instanceof Signal && end instanceof Signal) {
        dir.next(dr);
        off.next(from.zext(N));
        end.next(to.zext(N));
      }
      dev.next(at.zext(p.devBits));
      idx.next(0);
      pos.next(0);
    },
  };
}
export type BlkWalker = ReturnType<typeof blkWalker>;

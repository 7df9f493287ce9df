#!/bin/busybox sh
# The guest's /init (busybox-static): waits for virtio_blk to bind the simulated card, writes a seeded pattern,
# drops the caches, reads it back and compares; then a short mixed phase of random 4 KiB writes and reads, each
# read compared with an in-memory copy, and a final full read-back. Lines starting with "VFPGA " are for the host
# (tb/linux/run.ts): phase markers (with the disk's block-layer counts, so the host knows each phase's requests and
# bytes), facts, and one result line. Parameters come from the kernel command line:
# vfpga.mib (MiB to write), vfpga.seed, vfpga.randops (mixed-phase operations).
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "VFPGA $*"; }
finish() {
  say "RESULT $*"
  sync
  poweroff -f
}
# PHASE <name> io=<read requests>,<read sectors>,<write requests>,<write sectors>,<flushes> [more]: the fields of
# /sys/block/vda/stat (Documentation/block/stat.rst) the host turns into per-phase figures.
mark() {
  name=$1
  extra=$2
  # shellcheck disable=SC2046
  set -- $(cat /sys/block/vda/stat)
  say "PHASE $name io=$1,$3,$5,$7,${16:-0}${extra:+ $extra}"
}
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^vfpga\.$1=//p"; }
MIB=$(arg mib)
SEED=$(arg seed)
RANDOPS=$(arg randops)
[ -n "$MIB" ] && [ -n "$SEED" ] && [ -n "$RANDOPS" ] || finish "FAIL missing vfpga.mib/seed/randops on the command line"

i=0
while [ ! -b /dev/vda ] && [ $i -lt 600 ]; do
  sleep 0.1
  i=$((i + 1))
done
[ -b /dev/vda ] || finish "FAIL no /dev/vda: virtio_blk did not bind"
say "BOUND sectors=$(cat /sys/block/vda/size)"
for d in /sys/bus/virtio/devices/*; do
  say "VIRTIO $(basename "$d") device=$(cat "$d/device") features=$(cat "$d/features")"
done
say "QUEUES $(ls /sys/block/vda/mq 2>/dev/null | wc -l)"

# The pattern: 16-byte records, the decimal numbers from 10^14 + seed * 10^9 on, one per line (busybox seq: fast
# enough for UML; tb/linux/pattern.ts makes the same bytes on the host). Every record differs from every other, so
# a block written or read at the wrong place is caught.
pattern() {
  first=$((100000000000000 + $1 * 1000000000))
  seq "$first" $((first + $2 - 1))
}
pattern "$SEED" $((MIB * 65536)) >/tmp/pattern || finish "FAIL cannot make the pattern"
WANT=$(sha256sum </tmp/pattern | cut -d' ' -f1)

mark write
dd if=/tmp/pattern of=/dev/vda bs=1M oflag=direct 2>/dev/null || finish "FAIL writing the pattern"
sync
mark written "sha256=$WANT"
echo 3 >/proc/sys/vm/drop_caches
mark read
GOT=$(dd if=/dev/vda bs=1M count="$MIB" iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
mark idle
[ "$GOT" = "$WANT" ] || finish "FAIL read back sha256 $GOT, wrote $WANT"
say "VERIFIED pattern"

[ "$RANDOPS" -gt 0 ] || finish "OK mib=$MIB seed=$SEED randops=0 final=$GOT"

# Mixed phase: random 4 KiB blocks, each write with records of its own (pattern seed + 1 + its number: a block
# that lands in the wrong place is caught), to the disk and to the in-memory copy, or read and compared with the
# copy; then the whole disk read back and compared.
BLOCKS=$((MIB * 256))
mark mixed
awk -v seed="$SEED" -v n="$RANDOPS" -v b="$BLOCKS" 'BEGIN { srand(seed); for (i = 0; i < n; i++) print (rand() < 0.5 ? "w" : "r"), int(rand() * b) }' >/tmp/ops
n=0
while read -r op blk; do
  n=$((n + 1))
  if [ "$op" = w ]; then
    pattern $((SEED + n)) 256 >/tmp/block
    dd if=/tmp/block of=/dev/vda bs=4096 seek="$blk" count=1 oflag=direct conv=notrunc 2>/dev/null || finish "FAIL write block $blk"
    dd if=/tmp/block of=/tmp/pattern bs=4096 seek="$blk" count=1 conv=notrunc 2>/dev/null
  else
    A=$(dd if=/dev/vda bs=4096 skip="$blk" count=1 iflag=direct 2>/dev/null | md5sum)
    B=$(dd if=/tmp/pattern bs=4096 skip="$blk" count=1 2>/dev/null | md5sum)
    [ "$A" = "$B" ] || finish "FAIL block $blk reads back wrong"
  fi
done </tmp/ops
mark verify
echo 3 >/proc/sys/vm/drop_caches
FINAL=$(dd if=/dev/vda bs=1M count="$MIB" iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
mark done
[ "$FINAL" = "$(sha256sum </tmp/pattern | cut -d' ' -f1)" ] || finish "FAIL the final read-back differs"
finish "OK mib=$MIB seed=$SEED randops=$RANDOPS final=$FINAL"

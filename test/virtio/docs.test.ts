// docs/virtio-layout.md and include/virtio_fpga.h are generated from gen/virtio (fix: npm run gen).
// The header must also compile, and agree with Linux's own uapi headers where they define the same thing.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, test } from 'vitest';
import { DOC_PATH, HEADER_PATH, headerText, updateDoc } from '../../gen/virtio/docs';
import { BLK_CONFIG, COMMON_CFG } from '../../gen/virtio/regmap';

test('docs/virtio-layout.md tables match gen/virtio', () => {
  const text = fs.readFileSync(DOC_PATH, 'utf8');
  expect(updateDoc(text) === text, 'docs/virtio-layout.md is stale: run npm run gen').toBe(true);
});

test('include/virtio_fpga.h matches gen/virtio', () => {
  const text = fs.readFileSync(HEADER_PATH, 'utf8');
  expect(text === headerText(), 'include/virtio_fpga.h is stale: run npm run gen').toBe(true);
});

const haveCc = (() => {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return fs.existsSync('/usr/include/linux/virtio_pci.h') && fs.existsSync('/usr/include/linux/virtio_blk.h');
  } catch {
    return false;
  }
})();

test.skipIf(!haveCc)(
  'the header compiles and agrees with Linux uapi virtio_pci.h, virtio_blk.h, virtio_config.h',
  () => {
    const up = (s: string) => s.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();
    const asserts: string[] = [];
    // Linux names the 1.0 fields of struct virtio_pci_common_cfg; the 64-bit ones as _lo/_hi.
    const linuxName: Record<string, string> = {
      config_msix_vector: 'msix_config',
      driver_feature_select: 'guest_feature_select',
      driver_feature: 'guest_feature',
      queue_driver: 'queue_avail',
      queue_device: 'queue_used',
    };
    for (const f of COMMON_CFG.filter((x) => x.since === '1.0')) {
      const ln = linuxName[f.name] ?? f.name;
      if (f.width === 8) {
        asserts.push(
          `_Static_assert(VFPGA_COMMON_${up(f.name)}_LO == offsetof(struct virtio_pci_common_cfg, ${ln}_lo), "${f.name}");`,
        );
        asserts.push(
          `_Static_assert(VFPGA_COMMON_${up(f.name)}_HI == offsetof(struct virtio_pci_common_cfg, ${ln}_hi), "${f.name}");`,
        );
      } else
        asserts.push(
          `_Static_assert(VFPGA_COMMON_${up(f.name)} == offsetof(struct virtio_pci_common_cfg, ${ln}), "${f.name}");`,
        );
    }
    asserts.push('_Static_assert(VFPGA_COMMON_QUEUE_NOTIFY_DATA == VIRTIO_PCI_COMMON_Q_NDATA, "ndata");');
    asserts.push('_Static_assert(VFPGA_COMMON_QUEUE_RESET == VIRTIO_PCI_COMMON_Q_RESET, "reset");');
    for (const f of BLK_CONFIG.filter((x) => !x.name.startsWith('zoned'))) {
      const member = f.name === 'writeback' ? 'wce' : f.name.replace(/^topology\./, ''); // Linux flattens topology
      asserts.push(
        `_Static_assert(VFPGA_BLK_CFG_${up(f.name)} == offsetof(struct virtio_blk_config, ${member}), "${f.name}");`,
      );
    }
    for (const n of [
      'VERSION_1',
      'ACCESS_PLATFORM',
      'RING_PACKED',
      'ORDER_PLATFORM',
      'RING_RESET',
      'IN_ORDER',
      'SR_IOV',
    ])
      asserts.push(`_Static_assert(VFPGA_F_${n} == VIRTIO_F_${n}, "${n}");`);
    for (const n of ['SEG_MAX', 'BLK_SIZE', 'MQ', 'FLUSH', 'CONFIG_WCE', 'DISCARD'])
      asserts.push(`_Static_assert(VFPGA_BLK_F_${n} == VIRTIO_BLK_F_${n}, "${n}");`);
    asserts.push('_Static_assert(VFPGA_STATUS_FEATURES_OK == VIRTIO_CONFIG_S_FEATURES_OK, "status");');
    asserts.push('_Static_assert(VFPGA_PCI_CAP_PCI_CFG == VIRTIO_PCI_CAP_PCI_CFG, "cap");');
    asserts.push('_Static_assert(VFPGA_MSI_NO_VECTOR == VIRTIO_MSI_NO_VECTOR, "no vector");');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfpga-h-'));
    const src = path.join(dir, 't.c');
    fs.writeFileSync(
      src,
      [
        '#include <stddef.h>',
        '#include <linux/virtio_pci.h>',
        '#include <linux/virtio_blk.h>',
        '#include <linux/virtio_config.h>',
        `#include "${HEADER_PATH}"`,
        ...asserts,
        'int main(void) { return VFPGA_DEFAULT_COMMON_OFFSET; }',
      ].join('\n'),
    );
    execFileSync('cc', ['-std=c11', '-Wall', '-Werror', '-fsyntax-only', src], { stdio: 'pipe' });
    expect(asserts.length).toBeGreaterThan(40);
  },
);

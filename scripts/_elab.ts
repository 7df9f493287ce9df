import { FabricTestTop } from '../gen/virtq/fabric_test_top';
import { designPorts } from '../sim/design';
const mod = FabricTestTop.elaborate({ W: 64, regions: [16, 12, 14], latency: [0, 5, 2] });
console.log(mod.name);
console.log(designPorts(mod).slice(0, 200));

import { FabricEndpointTestTop } from '../gen/virtq/fabric_test_top';
import { DEFAULT_LAYOUT } from '../gen/virtio/layout';
const mod = FabricEndpointTestTop.elaborate({ layout: DEFAULT_LAYOUT, W: 64, regions: [14, 12], latency: [0, 5] });
console.log(mod.name);

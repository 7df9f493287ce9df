// Child process for the concurrent-build test: loads (building if needed) one ports file
// and prints how the addon was obtained. Run as: node --import tsx build-worker.ts <ports.json>
import { Sim } from '../../sim/index';

const sim = Sim.load({ ports: process.argv[2], quiet: true, resetCycles: 1 });
sim.run({ cycles: 10 });
process.stdout.write(JSON.stringify({ built: sim.build.built, dir: sim.build.dir, cycle: sim.cycle }) + '\n');
sim.close();

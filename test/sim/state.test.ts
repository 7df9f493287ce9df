// The state slots C++ writes and TypeScript reads come from one table (sim/state.ts): the compiled addon
// reports the slots its C++ was generated with, and they must be the table's, in order.
import { createRequire } from 'node:module';
import { expect, test } from 'vitest';
import { generateHarness } from '../../sim/harness';
import { Sim } from '../../sim/index';
import { loadPorts } from '../../sim/ports';
import { cppSlotName, STATE_SLOTS } from '../../sim/state';
import { LOOPBACK_W64 } from './helpers';

const require = createRequire(import.meta.url);

test('the compiled C++ uses the state slots of sim/state.ts, in order', () => {
  const sim = Sim.load({ ports: LOOPBACK_W64, quiet: true });
  const mod = require(sim.build.addon) as { stateSlots: string[] };
  expect(mod.stateSlots).toEqual([...STATE_SLOTS]);
  // And the slots carry what their names say.
  sim.run({ cycles: 5 });
  const state = (sim as unknown as { state: Float64Array }).state;
  expect(state.length).toBe(STATE_SLOTS.length);
  expect(state[STATE_SLOTS.indexOf('cycle')]).toBe(sim.cycle);
  expect(state[STATE_SLOTS.indexOf('runCalls')]).toBe(sim.stats().runCalls);
  sim.close();
});

test('every harness declares the enum from the table', () => {
  const cpp = generateHarness(loadPorts(LOOPBACK_W64));
  STATE_SLOTS.forEach((n, i) => expect(cpp).toContain(`${cppSlotName(n)} = ${i}`));
  expect(cpp).toContain(`kStateSlots = ${STATE_SLOTS.length}`);
  expect(cpp.indexOf('enum StateSlot')).toBeLessThan(cpp.indexOf('#include "addon.h"'));
});

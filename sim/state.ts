// The small results C++ hands back after every call: slots of a Float64Array that TypeScript allocates and
// C++ writes (sim/cpp/addon.h), so the common path creates no JavaScript objects. This table is the one
// definition: sim/harness.ts generates the C++ enum (StateSlot) and its names from it into every harness.

export const STATE_SLOTS = [
  /** Cycles clocked since load. */
  'cycle',
  /** Finished tx TLPs held in C++, all source streams. */
  'txPending',
  /** rx TLPs queued in C++ not fully transferred. */
  'rxPending',
  /** Wall seconds inside the C++ run/reset loops, summed. */
  'cppSeconds',
  /** run() calls. */
  'runCalls',
  /** tx TLPs completed since load. */
  'txTotal',
  /** After run()/takeTx(): finished TLPs of that source still in C++ (they did not fit the room given). */
  'txLeft',
  /** After run(): words of finished TLPs moved into the room given. */
  'txWords',
  /** After run()/takeDeliveries(): rx delivery reports moved into the delivery array. */
  'delivered',
  /** After run()/takeDeliveries(): delivery reports still in C++ (they did not fit the delivery array). */
  'deliveriesLeft',
] as const;

export type StateSlotName = (typeof STATE_SLOTS)[number];

/** Slot index by name. */
export const SLOT = Object.fromEntries(STATE_SLOTS.map((n, i) => [n, i])) as { readonly [K in StateSlotName]: number };

/** The C++ enumerator of a slot: 'txPending' -> kTxPending. */
export function cppSlotName(name: string): string {
  return `k${name[0].toUpperCase()}${name.slice(1)}`;
}

/** The C++ declarations generated into every harness (before addon.h, which uses them). */
export function stateSlotsCpp(): string {
  return [
    `namespace vfpga {`,
    `// Slots of the shared state array, generated from sim/state.ts.`,
    `enum StateSlot { ${STATE_SLOTS.map((n, i) => `${cppSlotName(n)} = ${i}`).join(', ')}, kStateSlots = ${STATE_SLOTS.length} };`,
    `inline const char* const kStateSlotNames[kStateSlots] = {${STATE_SLOTS.map((n) => JSON.stringify(n)).join(', ')}};`,
    `}  // namespace vfpga`,
  ].join('\n');
}

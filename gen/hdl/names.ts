// Names and keys. The names the emitted Verilog may use: identifiers that are no keyword of Verilog,
// SystemVerilog (Verilator and Icarus parse the .v files as SystemVerilog) or C++ (Verilator turns names into
// C++ identifiers). And the canonical text of parameter values, for cache keys, hashed names and comparisons.
const keywords = new Set(
  (
    'always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default defparam ' +
    'design disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive endspecify ' +
    'endtable endtask event for force forever fork function generate genvar highz0 highz1 if ifnone incdir include ' +
    'initial inout input instance integer join large liblist library localparam macromodule medium module nand ' +
    'negedge nmos nor noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive pull0 pull1 ' +
    'pulldown pullup pulsestyle_onevent pulsestyle_ondetect rcmos real realtime reg release repeat rnmos rpmos rtran ' +
    'rtranif0 rtranif1 scalared showcancelled signed small specify specparam strong0 strong1 supply0 supply1 table ' +
    'task time tran tranif0 tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire vectored wait wand weak0 ' +
    'weak1 while wire wor xnor xor logic bit byte int shortint longint always_comb always_ff always_latch interface ' +
    'struct union enum typedef package import export class string void return break continue ' +
    // The rest of the IEEE 1800-2017 keywords: Verilator and iverilog -g2012 parse .v files as SystemVerilog.
    'accept_on alias assert assume before bind bins binsof chandle checker clocking const constraint ' +
    'context cover covergroup coverpoint cross dist do endchecker endclass endclocking endgroup ' +
    'endinterface endpackage endprogram endproperty endsequence eventually expect extends extern final ' +
    'first_match foreach forkjoin global iff ignore_bins illegal_bins implements implies inside ' +
    'interconnect intersect join_any join_none let local matches modport nettype new nexttime null ' +
    'packed priority program property protected pure rand randc randcase randsequence ref reject_on ' +
    'restrict s_always s_eventually s_nexttime s_until s_until_with sequence shortreal soft solve static ' +
    'strong super sync_accept_on sync_reject_on tagged this throughout timeprecision timeunit type ' +
    'unique unique0 until until_with untyped var virtual wait_order weak wildcard with within ' +
    // C++ keywords: Verilator turns names into C++ identifiers and warns (SYMRSVDWORD) on these.
    'alignas alignof asm auto bool case catch char char16_t char32_t compl constexpr const_cast decltype ' +
    'delete double dynamic_cast explicit false float friend goto inline long mutable namespace noexcept ' +
    'nullptr operator private public register reinterpret_cast short sizeof static_assert static_cast switch ' +
    'template thread_local throw true try typeid typename unsigned using volatile wchar_t'
  ).split(' '),
);

/** Letters, digits and _, starting with a letter (names starting with _ are the emitter's temporaries). */
export function isIdentifier(name: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_]*$/.test(name);
}

export function isKeyword(name: string): boolean {
  return keywords.has(name);
}

/** JSON with object keys sorted (and bigints as `<n>n`): the same text for the same values. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    typeof x === 'bigint'
      ? `${x}n`
      : x && typeof x === 'object' && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
        : x,
  );
}

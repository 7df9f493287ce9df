// Cycle-level test bench core for a Verilated top with PCIe TLP streams.
//
// Everything that happens once per clock cycle lives here, in C++: driving rx beats with
// valid/ready, random idle cycles, random tx backpressure, collecting tx beats into TLPs,
// checking the tx protocol and the stop conditions. TypeScript crosses into this code
// once per run() / send batch / takeTx(), never per cycle (see docs/simulation.md).
//
// The per-design parts (model class, port accessors, which ports form which stream) come
// from a generated file (sim/harness.ts) as a `Design` traits struct; this header is
// generic over it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "signals.h"
#include "sideband.h"
#include "trace.h"
#include "verilated.h"

namespace vfpga {

// ---------------------------------------------------------------------------------------
// Port access: copy between a model port and little-endian 32-bit words (word 0 = bits
// 31:0), whatever C++ type Verilator chose for the port's width.
inline uint32_t mask32(int bits) { return bits >= 32 ? ~0u : ((1u << bits) - 1u); }
inline void put(CData& p, const uint32_t* w, int bits) { p = CData(w[0] & mask32(bits)); }
inline void put(SData& p, const uint32_t* w, int bits) { p = SData(w[0] & mask32(bits)); }
inline void put(IData& p, const uint32_t* w, int bits) { p = w[0] & mask32(bits); }
inline void put(QData& p, const uint32_t* w, int bits) {
  uint64_t v = uint64_t(w[0]) | (bits > 32 ? uint64_t(w[1]) << 32 : 0);
  p = bits >= 64 ? v : v & ((uint64_t(1) << bits) - 1);
}
template <std::size_t N>
inline void put(VlWide<N>& p, const uint32_t* w, int bits) {
  for (std::size_t i = 0; i < N; ++i) p[i] = w[i];
  p[N - 1] &= mask32(bits - 32 * int(N - 1));
}
inline void get(CData p, uint32_t* w) { w[0] = p; }
inline void get(SData p, uint32_t* w) { w[0] = p; }
inline void get(IData p, uint32_t* w) { w[0] = p; }
inline void get(QData p, uint32_t* w) {
  w[0] = uint32_t(p);
  w[1] = uint32_t(p >> 32);
}
template <std::size_t N>
inline void get(const VlWide<N>& p, uint32_t* w) {
  for (std::size_t i = 0; i < N; ++i) w[i] = p[i];
}
inline int words(int bits) { return (bits + 31) / 32; }

// ---------------------------------------------------------------------------------------
// Small, fast, seedable PRNG (splitmix64 to seed, xorshift64* to draw): the same seed gives
// the same idle/backpressure pattern, which is what makes failures and replays reproducible.
struct Prng {
  uint64_t s = 1;
  static uint64_t splitmix(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  void seed(uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    s = splitmix(x) | 1;
  }
  uint32_t next32() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return uint32_t((s * 0x2545F4914F6CDD1Dull) >> 32);
  }
};
// Probability p in [0,1] as a threshold on next32(): an event happens when next32() < thr.
inline uint64_t threshold(double p) {
  if (!(p > 0)) return 0;
  if (p >= 1) return uint64_t(1) << 32;
  return uint64_t(p * 4294967296.0);
}

// A word-wise FNV-style hash, to compare the tx traffic of a run and its replay cheaply.
inline void fnv(uint64_t& h, uint32_t w) { h = (h ^ w) * 0x100000001B3ull; }

// Packed TLP layout shared with TypeScript (sim/tlp.ts):
//   [ndw, cycle_lo, cycle_hi, hdr DW0, DW1, DW2, DW3, payload dword 0 .. ndw-1]
// On rx the cycle is the earliest injection cycle; on tx the cycle the sop beat transferred.
// On rx, bit 31 of cycle_hi (kReportDelivery) asks for the TLP's delivery to be reported (SinkBase::deliveries).
constexpr int kTlpHead = 7;
constexpr uint32_t kReportDelivery = 0x80000000u;

struct PortInfo {
  const char* name;
  int width;
};

struct Error {
  bool set = false;
  uint64_t cycle = 0;
  std::string msg;
  void raise(uint64_t c, std::string m) {
    if (set) return;  // keep the first: later ones are usually consequences
    set = true;
    cycle = c;
    msg = std::move(m);
  }
};

// The AXI4 memory model (it uses Prng, threshold and Error above).
}  // namespace vfpga
#include "axi.h"
namespace vfpga {

// ---------------------------------------------------------------------------------------
// Drives one sink stream (the device's rx). `S` is a generated traits struct with
// lanes, setValid(m, v), ready(m), setBeat(m, hdrPortWords, data, keep, sop, eop).
struct SinkBase {
  // w: packed layout above; it points into `own`, or into memory that outlives the queue
  // (the recorded stimulus), which saves a copy and an allocation per TLP.
  struct Tlp {
    uint64_t at;
    const uint32_t* w;
    std::vector<uint32_t> own;
    uint64_t seq;  // its place among the TLPs ever enqueued on this stream (TypeScript counts the same way)
    bool report;   // report its delivery
  };
  // The TLPs not fully sent, in the order they go out: by injection cycle, FIFO among equal cycles (by seq),
  // except that a TLP already on the wire (its first beat offered) stays first whatever comes in. That one is
  // `cur`; the others wait in a binary min-heap on (at, seq). (A sorted deque cost a move of every later TLP
  // per insertion: a root complex's completions, scheduled 200-300 cycles ahead and reordered, land in the
  // middle of a queue of a few hundred.)
  struct Queue {
    Tlp cur{};
    bool hasCur = false;
    std::vector<Tlp> heap;
    static bool later(const Tlp& a, const Tlp& b) { return a.at != b.at ? a.at > b.at : a.seq > b.seq; }
    bool empty() const { return !hasCur && heap.empty(); }
    std::size_t size() const { return heap.size() + (hasCur ? 1 : 0); }
    const Tlp& front() const { return hasCur ? cur : heap.front(); }
    void push(Tlp&& t) {
      heap.push_back(std::move(t));
      std::push_heap(heap.begin(), heap.end(), later);
    }
    // The front goes on the wire: nothing enqueued later may overtake it.
    void commit() {
      if (hasCur) return;
      std::pop_heap(heap.begin(), heap.end(), later);
      cur = std::move(heap.back());
      heap.pop_back();
      hasCur = true;
    }
    // The front is off the wire again without being sent (a reset before its first beat transferred).
    void uncommit() {
      if (!hasCur) return;
      hasCur = false;
      push(std::move(cur));
    }
    void pop_front() {
      if (hasCur)
        hasCur = false;
      else {
        std::pop_heap(heap.begin(), heap.end(), later);
        heap.pop_back();
      }
    }
  };
  Queue queue;
  Prng rng;
  uint64_t idleThr = 0;
  bool valid = false;  // rx_valid as currently driven
  bool fired = false;  // the beat being driven transferred this cycle
  uint32_t beat = 0;   // beat index within queue.front()
  uint64_t sent = 0;   // TLPs fully transferred
  uint64_t enqueued = 0;

  // Delivery reports: for each TLP enqueued with kReportDelivery, its seq and the cycle its last beat
  // transferred (valid && ready && eop), in pairs, until the addon hands them to TypeScript after run().
  // Replays leave them off (`reports`).
  std::vector<uint64_t> deliveries;
  bool reports = true;
  bool reportOnFire = false;  // the beat being driven is the last of a TLP whose delivery is reported

  // `stable`: w stays valid as long as the queue needs it (else it is copied). The order is the queue's (above).
  void enqueue(uint64_t at, const uint32_t* w, std::size_t n, bool stable, bool report) {
    Tlp t{at, w, {}, enqueued++, report && reports};
    if (!stable) {
      t.own.assign(w, w + n);
      t.w = t.own.data();
    }  // a vector's data survives moves
    queue.push(std::move(t));
  }
  // Reset drops a partly transferred TLP (the device forgot its first beats, and the rest
  // alone would be garbage); TLPs not started yet stay queued.
  void abort(uint32_t lanes) {
    if (fired) {
      fired = false;
      const uint32_t ndw = queue.front().w[0];
      if (++beat == (ndw ? (ndw + lanes - 1) / lanes : 1)) {
        queue.pop_front();
        beat = 0;
        ++sent;
      }
    }
    if (beat > 0) {
      queue.pop_front();
      ++dropped;
    }
    queue.uncommit();  // offered but not taken: it waits in its place again
    valid = false;
    beat = 0;
  }
  uint64_t dropped = 0;  // TLPs cut short by a reset
};

template <class S, class Model>
struct Sink : SinkBase {
  static constexpr uint32_t L = S::lanes;

  // Used by reset: drop valid and any partly sent TLP.
  void quiesce(Model* m) {
    abort(L);
    S::setValid(m, false);
  }

  // Before the falling-edge eval: advance after a transfer, decide this cycle's beat.
  // Inputs must not change between sampling ready and the rising edge, so all updates
  // happen here, one cycle after the transfer was seen.
  inline void setup(Model* m, uint64_t cycle) {
    if (valid && !fired) return;  // hold the beat until it is accepted
    bool more = false;
    if (fired) {
      fired = false;
      const uint32_t ndw = queue.front().w[0];
      const uint32_t nbeats = ndw ? (ndw + L - 1) / L : 1;
      if (++beat == nbeats) {
        queue.pop_front();
        beat = 0;
        ++sent;
      } else
        more = true;
    }
    bool drive = more || (!queue.empty() && queue.front().at <= cycle);
    if (drive && idleThr && rng.next32() < idleThr) drive = false;
    if (drive) load(m);
    if (drive != valid) {
      valid = drive;
      S::setValid(m, drive);
    }
  }
  inline void sample(Model* m, uint64_t cycle) {
    fired = valid && S::ready(m);
    if (fired && reportOnFire) {
      deliveries.push_back(queue.front().seq);
      deliveries.push_back(cycle);
    }
  }

  void load(Model* m) {
    queue.commit();
    const uint32_t* t = queue.front().w;
    const uint32_t ndw = t[0];
    const uint32_t nbeats = ndw ? (ndw + L - 1) / L : 1;
    reportOnFire = queue.front().report && beat + 1 == nbeats;
    const uint32_t first = beat * L;
    const uint32_t n = ndw > first ? (ndw - first < L ? ndw - first : L) : 0;
    uint32_t data[L];
    std::memcpy(data, t + kTlpHead + first, n * 4);
    std::memset(data + n, 0, (L - n) * 4);
    // Port word 0 holds bits 31:0, which is DW3: reverse the header dword order.
    const uint32_t hdr[4] = {t[6], t[5], t[4], t[3]};
    const uint32_t keep = n >= 32 ? ~0u : (1u << n) - 1u;
    S::setBeat(m, hdr, data, keep, beat == 0, beat + 1 == nbeats);
  }
};

// ---------------------------------------------------------------------------------------
// Collects one source stream (the device's tx) into TLPs and checks its protocol.
// `S` provides lanes, valid(m), setReady(m, r), getBeat(m, hdrPortWords, data, keep, sop, eop).
struct SourceBase {
  std::vector<uint32_t> out;  // completed TLPs, packed, not yet taken by TypeScript
  uint64_t pending = 0;       // TLPs in `out`
  uint64_t total = 0;         // TLPs ever completed
  uint64_t hash = 0xCBF29CE484222325ull;
  bool keep_out = true;  // false in replays: count and hash only
  Prng rng;
  uint64_t bpThr = 0;
  bool ready = true;
  bool open = false;           // a packet started (sop) and has not ended (eop)
  std::size_t start = 0;       // offset of the open packet in `out`
  bool stalled = false;        // valid && !ready last cycle: the beat must be held
  std::vector<uint32_t> held;  // that beat, to check it stays stable
  void abort() {
    if (open) out.resize(start);
    open = false;
    stalled = false;
  }

  // Which finished TLPs count for run()'s untilTx. By default all of them; with quietWrites,
  // memory writes (MWr) count only if their address lies in [writeLo, writeHi): a waiter that
  // no plain DMA write can wake (the RC waiting for an MSI-X message) lets them pile up.
  bool quietWrites = false;
  uint64_t writeLo = 0, writeHi = 0;
  uint64_t stops = 0;  // finished TLPs in `out` that count
  bool counts(const uint32_t* t) const {
    if (!quietWrites) return true;
    const uint32_t fmtType = t[3] >> 24;
    if (fmtType != 0x40 && fmtType != 0x60) return true;  // not an MWr (Fmt 010/011, Type 00000)
    const uint64_t addr = fmtType == 0x60 ? (uint64_t(t[5]) << 32 | (t[6] & ~3u)) : (t[5] & ~3u);
    return addr >= writeLo && addr < writeHi;
  }
  void recount() {
    stops = 0;
    const std::size_t end = open ? start : out.size();
    for (std::size_t o = 0; o < end; o += kTlpHead + out[o]) stops += counts(&out[o]);
  }
};

template <class S, class Model>
struct Source : SourceBase {
  static constexpr uint32_t L = S::lanes;
  static constexpr uint32_t kFull = L >= 32 ? ~0u : (1u << L) - 1u;

  // Used by reset (ready low while the device is in reset) and at start-up.
  void force(Model* m, bool r) {
    ready = r;
    S::setReady(m, r);
  }

  inline void setup(Model* m) {
    bool r = !(bpThr && rng.next32() < bpThr);
    if (r != ready) {
      ready = r;
      S::setReady(m, r);
    }
  }

  inline void sample(Model* m, uint64_t cycle, Error& err) {
    const bool v = S::valid(m);
    if (stalled) {
      if (!v) {
        err.raise(cycle, std::string(S::name) +
                             ": valid dropped before the beat was accepted (valid must stay high until ready)");
        stalled = false;
        return;
      }
      uint32_t now[4 + L + 3];
      snapshot(m, now);
      if (std::memcmp(now, held.data(), sizeof now) != 0)
        err.raise(cycle, std::string(S::name) + ": beat changed while valid was high and ready low");
    }
    if (!v) return;
    if (!ready) {
      if (!stalled) {
        held.resize(4 + L + 3);
        snapshot(m, held.data());
      }
      stalled = true;
      return;
    }
    stalled = false;
    beat(m, cycle, err);
  }

  void snapshot(Model* m, uint32_t* w) {
    uint32_t keep;
    bool sop, eop;
    S::getBeat(m, w, w + 4, keep, sop, eop);
    w[4 + L] = keep;
    w[5 + L] = sop;
    w[6 + L] = eop;
  }

  // Without a keep field: the open TLP's payload dwords (from its header) and those not yet received.
  uint32_t expected = 0, remaining = 0;

  void beat(Model* m, uint64_t cycle, Error& err) {
    uint32_t hdr[4], data[L], keep;
    bool sop, eop;
    S::getBeat(m, hdr, data, keep, sop, eop);
    if constexpr (!S::hasData) {
      if (!sop || !eop) {
        err.raise(cycle, std::string(S::name) + ": a stream without data carries one-beat TLPs, but this beat has " +
                             (sop   ? "sop without eop"
                              : eop ? "eop without sop"
                                    : "neither sop nor eop"));
        sop = eop = true;  // taken as the one-beat TLP it must be
      }
    }
    if (sop) {
      if (open) {
        err.raise(cycle, std::string(S::name) + ": sop while a packet is open (the TLP that started at cycle " +
                             std::to_string(uint64_t(out[start + 1]) | uint64_t(out[start + 2]) << 32) +
                             " had no eop)");
        out.resize(start);
      }
      open = true;
      start = out.size();
      const uint32_t h[kTlpHead] = {0, uint32_t(cycle), uint32_t(cycle >> 32), hdr[3], hdr[2], hdr[1], hdr[0]};
      out.insert(out.end(), h, h + kTlpHead);
      if constexpr (S::hasData && !S::hasKeep) {
        const uint32_t fmt = hdr[3] >> 29, len = hdr[3] & 0x3ff;
        // A TLP prefix (Fmt 1xx) is not delimited by the header: take whole beats until eop.
        expected = remaining = fmt >= 4 ? ~0u : (fmt & 2) ? (len ? len : 1024) : 0;
      }
    } else if (!open) {
      err.raise(cycle, std::string(S::name) + ": beat without sop outside a packet");
      return;
    }
    if constexpr (S::hasData && !S::hasKeep) {
      // The payload ends where the header's Length says: the rest of that beat carries nothing.
      if (!sop && remaining == 0)
        err.raise(cycle, std::string(S::name) + ": a beat after the payload ended (the header says " +
                             std::to_string(expected) + " payload dwords)");
      const uint32_t n = remaining < L ? remaining : L;
      keep = n >= 32 ? ~0u : (1u << n) - 1u;
      remaining -= n;
      if (!eop && keep != kFull)
        err.raise(cycle, std::string(S::name) + ": no eop on the beat where the payload ends (the header says " +
                             std::to_string(expected) + " payload dwords)");
    } else if (!eop && keep != kFull) {
      err.raise(cycle, std::string(S::name) + ": keep=0x" + hex(keep) +
                           " on a beat without eop: all dwords must be valid before the last beat");
    } else if (eop && (keep & (keep + 1)) != 0) {
      err.raise(cycle, std::string(S::name) + ": keep=0x" + hex(keep) + " is not contiguous from lane 0");
    } else if (eop && keep == 0 && !sop) {
      err.raise(cycle, std::string(S::name) + ": keep=0 on an eop beat that is not also the sop beat");
    }
    uint32_t cnt = 0;
    while (cnt < L && (keep >> cnt) & 1) ++cnt;
    out.insert(out.end(), data, data + cnt);
    if (!eop) return;

    open = false;
    const uint32_t ndw = uint32_t(out.size() - start - kTlpHead);
    out[start] = ndw;
    const uint32_t dw0 = out[start + 3];
    const uint32_t fmt = dw0 >> 29;
    const uint32_t len = (dw0 & 0x3ff) ? (dw0 & 0x3ff) : 1024;
    if (fmt < 4) {  // Fmt 1xx is a TLP prefix: not part of this interface, not checked
      if (!S::hasData && (fmt & 2))
        err.raise(cycle, std::string(S::name) + ": the stream has no data field, but the TLP's Fmt (" +
                             std::to_string(fmt) + ") says it carries data");
      else if ((fmt & 2) && ndw != len)
        err.raise(cycle, std::string(S::name) + ": TLP with data has " + std::to_string(ndw) +
                             " payload dwords but header Length says " + std::to_string(len));
      else if (!(fmt & 2) && ndw != 0)
        err.raise(cycle, std::string(S::name) + ": TLP without data (Fmt=" + std::to_string(fmt) + ") carries " +
                             std::to_string(ndw) + " payload dwords");
    }
    for (std::size_t i = start; i < out.size(); ++i) fnv(hash, out[i]);
    ++total;
    if (keep_out) {
      ++pending;
      stops += counts(&out[start]);
    } else
      out.resize(start);
  }
  static std::string hex(uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "%x", v);
    return b;
  }
};

// ---------------------------------------------------------------------------------------
// Everything that changes the stimulus is recorded with the cycle it happened at, so that
// replay() can clock a fresh model through exactly the same run with no TypeScript involved.
struct Command {
  enum Kind { Enqueue, RxIdle, TxBackpressure, Reset, Poke, VarWrite, AxiConfig, AxiWrite } kind;
  uint64_t cycle;
  int index;          // stream, port, public variable or AXI4 memory index; reset: cycle count
  double p;           // probabilities; VarWrite: the array index; AxiWrite: the address
  const uint32_t* w;  // Enqueue: packed TLP; Poke, VarWrite: value words; AxiConfig: the knobs (doubles);
                      // AxiWrite: the byte count, then the bytes (owned by the Log)
  std::size_t n;
};
// Recorded data lives in fixed-size chunks: no malloc per TLP, and no re-copying of
// everything recorded so far whenever a growing vector reallocates (measured: that
// doubled the cost of send() for long runs).
struct Log {
  static constexpr std::size_t kChunk = std::size_t(1) << 20;  // words (4 MiB)
  // Chunk memory is mapped with every page present up front (MAP_POPULATE): filled one
  // 4 KiB page fault at a time, recording a DMA-heavy run's sends cost ~4 us per page here.
  struct Chunk {
    uint32_t* p = nullptr;
    std::size_t bytes = 0;
    explicit Chunk(std::size_t words) : bytes(words * 4) {
#if defined(__linux__) && defined(MAP_POPULATE)
      void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
      if (m == MAP_FAILED) throw std::bad_alloc();
      p = static_cast<uint32_t*>(m);
#else
      p = new uint32_t[words];
#endif
    }
    Chunk(Chunk&& o) noexcept : p(o.p), bytes(o.bytes) { o.p = nullptr; }
    Chunk(const Chunk&) = delete;
    ~Chunk() {
      if (!p) return;
#if defined(__linux__) && defined(MAP_POPULATE)
      munmap(p, bytes);
#else
      delete[] p;
#endif
    }
  };
  std::vector<Command> cmds;
  std::vector<Chunk> chunks;
  std::size_t used = kChunk;
  // Returns the recorded copy of w (valid as long as the log).
  const uint32_t* add(Command::Kind k, uint64_t cycle, int index, double p = 0, const uint32_t* w = nullptr,
                      std::size_t n = 0) {
    uint32_t* dst = nullptr;
    if (n) {
      if (used + n > kChunk) {
        chunks.emplace_back(n > kChunk ? n : kChunk);
        used = 0;
      }
      dst = chunks.back().p + used;
      std::memcpy(dst, w, n * 4);
      used = n > kChunk ? kChunk : used + n;
    }
    cmds.push_back(Command{k, cycle, index, p, dst, n});
    return dst;
  }
};

enum Reason { kCycles = 0, kTx = 1, kUntil = 2, kLimit = 3, kError = 4, kFinish = 5 };

// What run()'s `until` waits for: a port equal to a value (checked before the first cycle too), an edge or
// change of a port (compared after every cycle with the cycle before), or a counter of the sideband (a watch,
// a handshake) reaching a value.
enum UntilKind { kUntilNone = -1, kUntilEquals = 0, kUntilRise = 1, kUntilFall = 2, kUntilChange = 3, kUntilCount = 4 };

// The Verilog $finish / $stop / fatal hooks (VL_USER_* in the runtime build) land here, so a
// failing model becomes a JavaScript exception instead of aborting the Node process.
struct Fatal : std::runtime_error {
  using std::runtime_error::runtime_error;
};
inline std::string& lastVerilogMessage() {
  static std::string s;
  return s;
}

template <class D>
class Bench {
 public:
  using Model = typename D::Model;
  using Sinks = typename D::template Sinks<Model>;
  using Sources = typename D::template Sources<Model>;
  using Axis = typename D::template Axis<Model>;
  static constexpr int kSinks = std::tuple_size<Sinks>::value;
  static constexpr int kSources = std::tuple_size<Sources>::value;
  static constexpr int kAxis = std::tuple_size<Axis>::value;

  uint64_t cycle = 0;
  Error err;
  bool record = true;
  Log log;
  double cppSeconds = 0;  // wall time spent inside run()/reset() loops
  uint64_t runCalls = 0;

  // tracePath: the FST waveform ("" or nullptr: none); traceWindow: 0 for the whole run, else the window's
  // segment length in cycles (trace.h).
  Bench(uint64_t seed, const char* tracePath, uint64_t traceWindow = 0) {
    ctx_ = std::make_unique<VerilatedContext>();
    ctx_->traceEverOn(true);  // must precede model construction; costs ~nothing unless dumping
    model_ = std::make_unique<Model>(ctx_.get(), "TOP");
    int i = 0;
    std::apply([&](auto&... s) { ((sinkp_[i] = &s, s.rng.seed(seed, 2 * i + 1), ++i), ...); }, sinks_);
    i = 0;
    std::apply([&](auto&... s) { ((sourcep_[i] = &s, s.rng.seed(seed, 2 * i + 2), ++i), ...); }, sources_);
    i = 0;
    std::apply([&](auto&... a) { ((axip_[i] = &a, a.seed(seed, i), ++i), ...); }, axis_);
    D::setClock(m(), 0);
    std::apply([&](auto&... s) { (s.quiesce(m()), ...); }, sinks_);
    std::apply([&](auto&... a) { (a.quiesce(m()), ...); }, axis_);
    std::apply([&](auto&... s) { (s.force(m(), true), ...); }, sources_);
    if (tracePath && *tracePath) trace_.start(model_.get(), tracePath, traceWindow, cycle);
    model_->eval();
  }
  ~Bench() {
    close();
    enter();  // the model's scopes leave this context's tables as the members are destroyed
  }

  // Makes this bench's context the thread's: Verilator reaches "the" context through a thread-local
  // (threadContextp(), set by the newest VerilatedContext), for $finish, fatal errors and the scope
  // tables. With several models in one process (several Sims, a replay) each must claim it before use.
  void enter() { Verilated::threadContextp(ctx_.get()); }

  Model* m() { return model_.get(); }
  const Waveform<Model>& waveform() const { return trace_; }
  SinkBase* sink(int i) { return sinkp_[i]; }
  SourceBase* source(int i) { return sourcep_[i]; }
  AxiSlaveBase* axi(int i) {
    if (i < 0 || i >= kAxis) throw std::invalid_argument("no such AXI4 memory index " + std::to_string(i));
    return axip_[i];
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    enter();
    if (!dead_) {
      try {
        model_->final();
      } catch (...) {
      }
    }
    trace_.close();
  }

  // One clock cycle: inputs change while clk is low, outputs are sampled just before the
  // rising edge (so combinational ready/valid paths are seen), then the edge is taken.
  // In the FST file one cycle spans 10 time units: clk falls at 10*c, rises at 10*c+5.
  // The sideband (pulses, watches, handshakes) costs one branch per phase while unused.
  inline void step() {
    Model* mp = m();
    const bool aux = side_.active();
    if (aux) side_.setup(cycle, [this](int port, const uint32_t* w) { poke(port, w); });
    std::apply([&](auto&... s) { (s.setup(mp, cycle), ...); }, sinks_);
    std::apply([&](auto&... s) { (s.setup(mp), ...); }, sources_);
    std::apply([&](auto&... a) { (a.setup(mp, cycle), ...); }, axis_);
    D::setClock(mp, 0);
    mp->eval();
    if (trace_.on()) trace_.dump(cycle, false);
    std::apply([&](auto&... s) { (s.sample(mp, cycle), ...); }, sinks_);
    std::apply([&](auto&... s) { (s.sample(mp, cycle, err), ...); }, sources_);
    std::apply([&](auto&... a) { (a.sample(mp, cycle, err), ...); }, axis_);
    if (aux) side_.sample(mp, cycle);
    D::setClock(mp, 1);
    mp->eval();
    if (trace_.on()) trace_.dump(cycle, true);
    ++cycle;
    if (aux) side_.afterEdge(mp);
  }

  // Clock until a stop condition. cycles == 0 means no fixed count; untilTx < 0 and
  // untilKind < 0 disable those conditions; `until` is a port (equals, edges) or a sideband
  // counter (kUntilCount: untilValue holds the count as two words); `quiet` (with [writeLo,
  // writeHi)) leaves memory writes outside that window out of untilTx's count
  // (SourceBase::counts). `until` is checked before untilTx, so an edge is never lost to a
  // stop for a TLP in the same cycle. Returns a Reason.
  int run(uint64_t cycles, uint64_t maxCycles, int64_t untilTx, int untilKind, int until, const uint32_t* untilValue,
          bool quiet = false, uint64_t writeLo = 0, uint64_t writeHi = 0) {
    guard();
    for (int i = 0; i < kSources; ++i) {
      SourceBase* s = sourcep_[i];
      s->quietWrites = quiet;
      s->writeLo = writeLo;
      s->writeHi = writeHi;
      s->recount();
    }
    err = Error{};  // the previous error was reported when that run() returned
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t start = cycle;
    const bool onPort = untilKind >= kUntilEquals && untilKind <= kUntilChange;
    const int uw = onPort ? words(D::ports[until].width) : 0;
    std::vector<uint32_t> now(uw), prev(uw);  // no allocation unless waiting for a port
    if (untilKind > kUntilEquals && onPort) {
      settle();
      D::readPort(m(), until, prev.data());
    }
    const uint64_t count = untilKind == kUntilCount ? (uint64_t(untilValue[0]) | uint64_t(untilValue[1]) << 32) : 0;
    int reason = kLimit;
    try {
      for (;;) {
        if (untilKind != kUntilNone && untilMet(untilKind, until, untilValue, count, cycle > start, now, prev)) {
          reason = kUntil;
          break;
        }
        if (untilTx >= 0 && txStops() >= uint64_t(untilTx)) {
          reason = kTx;
          break;
        }
        const uint64_t done = cycle - start;
        if (cycles && done >= cycles) {
          reason = kCycles;
          break;
        }
        if (done >= maxCycles) {
          reason = kLimit;
          break;
        }
        step();
        if (err.set) {
          reason = kError;
          break;
        }
        if (ctx_->gotFinish()) {
          reason = kFinish;
          break;
        }
      }
    } catch (const Fatal& e) {
      dead_ = true;
      err.raise(cycle, std::string("Verilator fatal error: ") + e.what());
      reason = kError;
    }
    cppSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++runCalls;
    return reason;
  }

  bool untilMet(int kind, int index, const uint32_t* value, uint64_t count, bool stepped, std::vector<uint32_t>& now,
                std::vector<uint32_t>& prev) {
    if (kind == kUntilCount) return side_.counters[std::size_t(index)] >= count;
    if (kind == kUntilEquals) {
      D::readPort(m(), index, now.data());
      return std::memcmp(now.data(), value, 4 * now.size()) == 0;
    }
    if (!stepped) return false;
    D::readPort(m(), index, now.data());
    bool was = false, is = false;
    for (std::size_t i = 0; i < now.size(); ++i) {
      was = was || prev[i];
      is = is || now[i];
    }
    const bool met = kind == kUntilRise   ? !was && is
                     : kind == kUntilFall ? was && !is
                                          : std::memcmp(now.data(), prev.data(), 4 * now.size()) != 0;
    prev.swap(now);
    return met;
  }

  // Hold reset for n cycles with the streams idle; partly moved TLPs are dropped both ways.
  void reset(uint64_t n) {
    guard();
    err = Error{};
    if (record) log.add(Command::Reset, cycle, int(n));
    const auto t0 = std::chrono::steady_clock::now();
    Model* mp = m();
    std::apply([&](auto&... s) { (s.quiesce(mp), ...); }, sinks_);
    std::apply([&](auto&... s) { ((s.abort(), s.force(mp, false)), ...); }, sources_);
    std::apply([&](auto&... a) { (a.quiesce(mp), ...); }, axis_);
    try {
      D::setReset(mp, true);
      for (uint64_t i = 0; i < n; ++i) {
        D::setClock(mp, 0);
        mp->eval();
        if (trace_.on()) trace_.dump(cycle, false);
        D::setClock(mp, 1);
        mp->eval();
        if (trace_.on()) trace_.dump(cycle, true);
        ++cycle;
      }
      D::setReset(mp, false);
      std::apply([&](auto&... s) { (s.force(mp, true), ...); }, sources_);
      mp->eval();
    } catch (const Fatal& e) {
      dead_ = true;
      err.raise(cycle, std::string("Verilator fatal error: ") + e.what());
    }
    cppSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  // `stable`: w outlives this bench (a replay's recorded stimulus), so the queue need not copy it.
  void enqueue(int stream, const uint32_t* w, std::size_t n, bool stable = false) {
    // Validate the whole batch before queueing any of it.
    for (std::size_t o = 0; o < n;) {
      if (o + kTlpHead > n || o + kTlpHead + w[o] > n) throw std::invalid_argument("malformed packed TLP batch");
      o += kTlpHead + w[o];
    }
    for (std::size_t o = 0; o < n;) {
      const std::size_t len = kTlpHead + w[o];
      const uint64_t at = uint64_t(w[o + 1]) | uint64_t(w[o + 2] & ~kReportDelivery) << 32;
      // The recorded copy lives as long as the bench: the queue can point at it.
      const uint32_t* kept = record ? log.add(Command::Enqueue, cycle, stream, 0, w + o, len) : nullptr;
      sinkp_[stream]->enqueue(at, kept ? kept : w + o, len, kept != nullptr || stable,
                              (w[o + 2] & kReportDelivery) != 0);
      o += len;
    }
  }
  void setRxIdle(int stream, double p) {
    if (record) log.add(Command::RxIdle, cycle, stream, p);
    sinkp_[stream]->idleThr = threshold(p);
  }
  void setTxBackpressure(int stream, double p) {
    if (record) log.add(Command::TxBackpressure, cycle, stream, p);
    sourcep_[stream]->bpThr = threshold(p);
  }
  void poke(int port, const uint32_t* w) {
    guard();
    if (record) log.add(Command::Poke, cycle, port, 0, w, std::size_t(words(D::ports[port].width)));
    D::writePort(m(), port, w);
    dirty_ = true;
  }
  void peek(int port, uint32_t* w) {
    guard();
    settle();
    D::readPort(m(), port, w);
  }
  // Lets combinational outputs follow pokes and variable writes; without a clock edge this changes no state.
  void settle() {
    if (!dirty_) return;
    dirty_ = false;
    try {
      m()->eval();
    } catch (const Fatal& e) {
      dead_ = true;
      throw std::runtime_error(e.what());
    }
  }

  // ---- sideband (sideband.h)

  // Drives `w` on an input now and puts its present value back after `cycles` cycles.
  void pulse(int port, const uint32_t* w, uint64_t cycles) {
    guard();
    std::vector<uint32_t> old(std::size_t(words(D::ports[port].width)));
    D::readPort(m(), port, old.data());
    poke(port, w);
    side_.restoreAt(cycle + cycles, port, old.data());
  }
  int watch(int port, int kind) {
    guard();
    settle();
    return side_.watch(m(), port, kind);
  }
  void unwatch(int counter) { side_.unwatch(counter); }
  uint64_t counter(int k) const {
    if (k < 0 || k >= int(side_.counters.size())) throw std::invalid_argument("no such counter");
    return side_.counters[std::size_t(k)];
  }
  int openHandshake(bool toDevice, int valid, int ready, std::vector<int> fields) {
    guard();
    return side_.open(toDevice, valid, ready, std::move(fields), [this](int p, const uint32_t* w) { poke(p, w); });
  }
  void closeHandshake(int ch) {
    guard();
    side_.close(ch, [this](int p, const uint32_t* w) { poke(p, w); });
  }
  Sideband<D>& sideband() { return side_; }

  // ---- public variables (signals.h)

  PublicVars& vars() {
    if (!varsLoaded_) {
      vars_.load(ctx_.get(), D::top);
      varsLoaded_ = true;
    }
    return vars_;
  }
  void varRead(int i, long index, uint32_t* out) {
    guard();
    settle();
    vars().read(i, index, out);
  }
  void varWrite(int i, long index, const uint32_t* w) {
    guard();
    vars().write(i, index, w);  // checks the index before anything is recorded
    if (record) log.add(Command::VarWrite, cycle, i, double(index), w, std::size_t(words(vars().list()[i].width)));
    dirty_ = true;
  }
  // ---- AXI4 memories (axi.h): settings and direct writes are recorded, so a replay sees them

  void axiConfigure(int i, const double* knobs) {
    AxiSlaveBase* a = axi(i);
    if (record) log.add(Command::AxiConfig, cycle, i, 0, reinterpret_cast<const uint32_t*>(knobs), 2 * kAxiKnobs);
    a->configure(knobs);
  }
  void axiWrite(int i, uint64_t addr, const uint8_t* bytes, std::size_t n) {
    AxiSlaveBase* a = axi(i);
    a->write(addr, bytes, n);  // checks the bounds before anything is recorded
    if (record) {
      std::vector<uint32_t> w(1 + (n + 3) / 4, 0);
      w[0] = uint32_t(n);
      std::memcpy(w.data() + 1, bytes, n);
      log.add(Command::AxiWrite, cycle, i, double(addr), w.data(), w.size());
    }
  }

  uint64_t txPending() const {
    uint64_t n = 0;
    for (int i = 0; i < kSources; ++i) n += sourcep_[i]->pending;
    return n;
  }
  uint64_t txStops() const {
    uint64_t n = 0;
    for (int i = 0; i < kSources; ++i) n += sourcep_[i]->stops;
    return n;
  }
  uint64_t rxPending() const {
    uint64_t n = 0;
    for (int i = 0; i < kSinks; ++i) n += sinkp_[i]->queue.size();
    return n;
  }

  // Clock a fresh instance through this bench's recorded stimulus up to `until` cycles.
  struct ReplayResult {
    double seconds;
    uint64_t cycles, tx;
    uint64_t hash;
    bool error;
    std::string msg;
  };
  static ReplayResult replay(uint64_t seed, const Log& log, uint64_t until) {
    Bench b(seed, nullptr);
    b.record = false;
    for (int i = 0; i < kSinks; ++i) b.sinkp_[i]->reports = false;  // nobody to report deliveries to
    for (int i = 0; i < kSources; ++i) b.sourcep_[i]->keep_out = false;
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t k = 0;
    try {
      while (b.cycle < until && !b.err.set) {
        while (k < log.cmds.size() && log.cmds[k].cycle <= b.cycle) b.apply(log.cmds[k++]);
        // Clock straight to the next recorded command (or the end) in one tight loop.
        const uint64_t next = k < log.cmds.size() && log.cmds[k].cycle < until ? log.cmds[k].cycle : until;
        while (b.cycle < next && !b.err.set && !b.ctx_->gotFinish()) b.step();
        if (b.ctx_->gotFinish()) break;
      }
    } catch (const Fatal& e) {
      b.err.raise(b.cycle, e.what());
    }
    ReplayResult r{std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                   b.cycle,
                   0,
                   0,
                   b.err.set,
                   b.err.msg};
    for (int i = 0; i < kSources; ++i) {
      r.tx += b.sourcep_[i]->total;
      r.hash ^= b.sourcep_[i]->hash * (i + 1);
    }
    b.close();
    return r;
  }
  uint64_t txHash() const {
    uint64_t h = 0;
    for (int i = 0; i < kSources; ++i) h ^= sourcep_[i]->hash * (i + 1);
    return h;
  }

 private:
  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<Model> model_;
  Waveform<Model> trace_;
  Sinks sinks_;
  Sources sources_;
  SinkBase* sinkp_[kSinks > 0 ? kSinks : 1] = {};
  SourceBase* sourcep_[kSources > 0 ? kSources : 1] = {};
  Axis axis_;
  AxiSlaveBase* axip_[kAxis > 0 ? kAxis : 1] = {};
  bool dirty_ = false, closed_ = false, dead_ = false;
  Sideband<D> side_;
  PublicVars vars_;
  bool varsLoaded_ = false;

  void guard() {
    if (dead_) throw std::runtime_error("the model hit a fatal error earlier and cannot run: " + err.msg);
    if (closed_) throw std::runtime_error("the simulation was closed");
    enter();
  }

  void apply(const Command& c) {
    switch (c.kind) {
      case Command::Enqueue:
        enqueue(c.index, c.w, c.n, true);
        break;
      case Command::RxIdle:
        setRxIdle(c.index, c.p);
        break;
      case Command::TxBackpressure:
        setTxBackpressure(c.index, c.p);
        break;
      case Command::Reset:
        reset(uint64_t(c.index));
        break;
      case Command::Poke:
        poke(c.index, c.w);
        break;
      case Command::VarWrite:
        varWrite(c.index, long(c.p), c.w);
        break;
      case Command::AxiConfig: {
        double k[kAxiKnobs];  // the log's words are only 4-byte aligned
        std::memcpy(k, c.w, sizeof k);
        axiConfigure(c.index, k);
        break;
      }
      case Command::AxiWrite:
        axiWrite(c.index, uint64_t(c.p), reinterpret_cast<const uint8_t*>(c.w + 1), c.w[0]);
        break;
    }
  }
};

}  // namespace vfpga

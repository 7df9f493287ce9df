// The sparse AXI4 memory model: a slave on every AXI4 master port of the design (an `axi4` interface with role
// `source` in its ports file), clocked with it in the bench's run loop (bench.h), so serving a card's DRAM costs
// no TypeScript per cycle. The memory is allocated per 4 KiB page on the first write of a nonzero byte; reads of
// unwritten memory return zeros, so a 1 GiB disk costs only what is written.
//
// The slave serves what an AXI4 master without IDs issues (ARM IHI 0022, A3.4): FIXED, INCR and WRAP bursts of
// any legal length and size, narrow and unaligned transfers (byte lanes from the beat address), write strobes,
// write data ahead of its address, several bursts outstanding on each side (answered in order: one ID), and
// optionally random backpressure on all five channels from the seed. What a master must not do fails the run
// with a message naming the burst (its number, the cycle its address was taken, its fields): an access beyond the
// capacity, an INCR burst crossing 4 KB, a WRAP burst of a length other than 2/4/8/16 or unaligned, a FIXED burst
// over 16 beats, a size wider than the bus, the reserved burst type or one the settings exclude, strobes outside
// the beat's byte lanes, wlast on the wrong beat, valid dropped or the payload changed before ready. Such a
// burst is answered (DECERR beyond the capacity, SLVERR otherwise) without touching the memory, so the design
// does not hang while the error is reported.
//
// The knobs (AxiKnob) and statistics (AxiStat) are generated from sim/axi.ts into the harness ahead of this file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace vfpga {

// ---------------------------------------------------------------------------------------
// A byte-addressed memory allocated per page (kAxiPage bytes) on the first write of a nonzero byte.
class SparseMemory {
 public:
  static constexpr uint64_t kPage = kAxiPage;

  // The page with index `p`, or nullptr if it was never written.
  const uint8_t* find(uint64_t p) const {
    if (p == lastKey_) return last_;
    auto it = map_.find(p);
    lastKey_ = p;
    last_ = it == map_.end() ? nullptr : it->second.get();
    return last_;
  }
  uint8_t* make(uint64_t p) {
    uint8_t* page = const_cast<uint8_t*>(find(p));
    if (page) return page;
    auto& slot = map_[p];
    slot.reset(new uint8_t[kPage]());
    lastKey_ = p;
    last_ = slot.get();
    return last_;
  }
  void read(uint64_t addr, uint8_t* out, std::size_t n) const {
    while (n) {
      const uint64_t off = addr % kPage;
      const std::size_t k = std::size_t(kPage - off) < n ? std::size_t(kPage - off) : n;
      const uint8_t* page = find(addr / kPage);
      if (page)
        std::memcpy(out, page + off, k);
      else
        std::memset(out, 0, k);
      addr += k;
      out += k;
      n -= k;
    }
  }
  void write(uint64_t addr, const uint8_t* in, std::size_t n) {
    while (n) {
      const uint64_t off = addr % kPage;
      const std::size_t k = std::size_t(kPage - off) < n ? std::size_t(kPage - off) : n;
      const uint8_t* have = find(addr / kPage);
      if (have || !zero(in, k)) std::memcpy(make(addr / kPage) + off, in, k);
      addr += k;
      in += k;
      n -= k;
    }
  }
  // Writes the bytes of one bus word at `base` (a multiple of the bus width, inside one page) whose strobe bit is
  // set (`strb`: bit i of word i/32 enables byte i).
  void writeStrobed(uint64_t base, const uint8_t* data, const uint32_t* strb, uint32_t bytes) {
    uint8_t* page = const_cast<uint8_t*>(find(base / kPage));
    const uint64_t off = base % kPage;
    for (uint32_t i = 0; i < bytes; ++i) {
      if (!((strb[i / 32] >> (i % 32)) & 1)) continue;
      if (!page) {
        if (data[i] == 0) continue;  // zero onto an unwritten page: nothing to keep
        page = make(base / kPage);
      }
      page[off + i] = data[i];
    }
  }
  std::size_t pages() const { return map_.size(); }

 private:
  static bool zero(const uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      if (p[i]) return false;
    return true;
  }
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> map_;
  // The last page looked up (pages never move: the map holds pointers), nullptr if absent.
  mutable uint64_t lastKey_ = ~uint64_t(0);
  mutable uint8_t* last_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// One burst as the slave keeps it, from its AW or AR.
struct AxiBurst {
  uint64_t seq = 0;    // its number among the bursts of its kind (writes, reads), from 0
  uint64_t cycle = 0;  // the cycle its address transferred
  uint64_t addr = 0;
  uint32_t len = 0, size = 0, type = 0;  // AxLEN, AxSIZE, AxBURST as sent
  uint32_t beats = 0, bytes = 0;         // len + 1, 1 << size
  uint32_t beat = 0;                     // beats done
  uint32_t resp = 0;                     // 0 OKAY; DECERR/SLVERR for a burst that failed the checks
  uint64_t at = 0;                       // reads: the first cycle its data may go
  uint64_t wrapLo = 0, wrapLen = 0;      // WRAP: the wrap boundary and the container's bytes

  // The address of beat k (A3.4.1's Address_N).
  uint64_t beatAddr(uint32_t k) const {
    if (type == 0) return addr;  // FIXED
    const uint64_t aligned = addr & ~uint64_t(bytes - 1);
    if (type == 2) return wrapLo + (aligned - wrapLo + uint64_t(k) * bytes) % wrapLen;  // WRAP
    return k == 0 ? addr : aligned + uint64_t(k) * bytes;                               // INCR
  }
};

// A W beat: data (little-endian words), strobes (bit i = byte lane i), last.
struct AxiBeat {
  uint32_t data[32];  // up to 1024 bits
  uint32_t strb[4];
  bool last;
};

inline std::string axiHex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// Everything of a slave that does not depend on the design's port types.
class AxiSlaveBase {
 public:
  enum Channel { kAw = 0, kW = 1, kB = 2, kAr = 3, kR = 4, kChannels = 5 };
  static constexpr uint32_t kOkay = 0, kSlvErr = 2, kDecErr = 3;

  AxiSlaveBase(const char* name, uint32_t dataBits, uint32_t addrBits)
      : name_(name), busBytes_(dataBits / 8), dataWords_((dataBits + 31) / 32), strbWords_((dataBits / 8 + 31) / 32) {
    std::memcpy(knobs_, kAxiKnobDefaults, sizeof knobs_);
    knobs_[kAxiCapacity] = addrBits >= 52 ? double(uint64_t(1) << 52) : double(uint64_t(1) << addrBits);
    configure(knobs_);
  }

  SparseMemory mem;
  uint64_t stats[kAxiStats] = {};

  const char* name() const { return name_; }
  uint64_t capacity() const { return capacity_; }

  void seed(uint64_t seed, int index) {
    for (int c = 0; c < kChannels; ++c) rng_[c].seed(seed, 0x1000 + 8 * uint64_t(index) + uint64_t(c));
    errRng_.seed(seed, 0x1000 + 8 * uint64_t(index) + uint64_t(kChannels));
  }
  // The knobs in AxiKnob order (checked in TypeScript, sim/axi.ts).
  void configure(const double* k) {
    std::memcpy(knobs_, k, sizeof knobs_);
    capacity_ = uint64_t(k[kAxiCapacity]);
    readLatency_ = uint64_t(k[kAxiReadLatency]);
    writeLatency_ = uint64_t(k[kAxiWriteLatency]);
    maxReads_ = uint64_t(k[kAxiMaxReads]);
    maxWrites_ = uint64_t(k[kAxiMaxWrites]);
    writeAhead_ = uint64_t(k[kAxiWriteAhead]);
    stallThr_[kAw] = threshold(k[kAxiAwStall]);
    stallThr_[kW] = threshold(k[kAxiWStall]);
    stallThr_[kB] = threshold(k[kAxiBStall]);
    stallThr_[kAr] = threshold(k[kAxiArStall]);
    stallThr_[kR] = threshold(k[kAxiRStall]);
    bursts_ = uint32_t(k[kAxiBursts]);
    errFrom_ = uint64_t(k[kAxiErrorFrom]);
    errTo_ = uint64_t(k[kAxiErrorTo]);
    errNth_ = uint64_t(k[kAxiErrorNth]);
    errThr_ = threshold(k[kAxiErrorRate]);
    errDirs_ = uint32_t(k[kAxiErrorDirs]);
    errResp_ = uint32_t(k[kAxiErrorResp]);
  }
  const double* knobs() const { return knobs_; }

  // Direct access from TypeScript (AxiMemory): bounds checked here too.
  void read(uint64_t addr, uint8_t* out, std::size_t n) const {
    bounds(addr, n, "read");
    mem.read(addr, out, n);
  }
  void write(uint64_t addr, const uint8_t* in, std::size_t n) {
    bounds(addr, n, "write");
    mem.write(addr, in, n);
  }
  void fillStats(double* out) {
    stats[kAxiStatPages] = mem.pages();
    for (int i = 0; i < kAxiStats; ++i) out[i] = double(stats[i]);
  }

 protected:
  const char* name_;
  const uint32_t busBytes_, dataWords_, strbWords_;
  double knobs_[kAxiKnobs];
  uint64_t capacity_ = 0, readLatency_ = 0, writeLatency_ = 0, maxReads_ = 16, maxWrites_ = 16, writeAhead_ = 16;
  uint64_t stallThr_[kChannels] = {};
  uint32_t bursts_ = 7;
  Prng rng_[kChannels];
  // Error injection (the error* knobs): a range, the Nth burst, a rate from its own random stream.
  uint64_t errFrom_ = 0, errTo_ = 0, errNth_ = 0, errThr_ = 0;
  uint32_t errDirs_ = 3, errResp_ = kSlvErr;
  Prng errRng_;

  // Bursts: writes whose data is still coming, W beats ahead of their AW, responses waiting, reads being answered.
  std::deque<AxiBurst> aw_;
  std::deque<AxiBeat> w_;
  struct Response {
    uint64_t at;
    uint32_t resp;
  };
  std::deque<Response> b_;
  std::deque<AxiBurst> ar_;
  uint64_t writesOpen_ = 0;  // AW taken, B not yet taken
  uint64_t writeSeq_ = 0, readSeq_ = 0;

  // What the slave drives (as last written to the model) and the master's payloads held while not ready.
  bool awReady_ = false, wReady_ = false, bValid_ = false, arReady_ = false, rValid_ = false;
  struct Addr {
    uint64_t addr;
    uint32_t len, size, burst;
    bool operator!=(const Addr& o) const {
      return addr != o.addr || len != o.len || size != o.size || burst != o.burst;
    }
  };
  bool awHeld_ = false, wHeld_ = false, arHeld_ = false;
  Addr awSnap_{}, arSnap_{};
  AxiBeat wSnap_{}, wIn_{};
  uint32_t rData_[32] = {};

  bool stall(int c) { return stallThr_[c] && rng_[c].next32() < stallThr_[c]; }

  void bounds(uint64_t addr, std::size_t n, const char* what) const {
    if (addr > capacity_ || n > capacity_ - addr)
      throw std::out_of_range(std::string("AXI4 memory on ") + name_ + ": " + what + " of " + std::to_string(n) +
                              " bytes at " + axiHex(addr) + " goes beyond the capacity " + axiHex(capacity_));
  }

  // Drops everything in flight (the design was reset); the memory stays.
  void abortAll() {
    aw_.clear();
    w_.clear();
    b_.clear();
    ar_.clear();
    writesOpen_ = 0;
    awHeld_ = wHeld_ = arHeld_ = false;
    awReady_ = wReady_ = bValid_ = arReady_ = rValid_ = false;
  }

  // ---- per cycle, the slave's side before the falling-edge eval: what to drive this cycle
  bool wantAwReady() { return writesOpen_ < maxWrites_ && !stall(kAw); }
  bool wantWReady() { return w_.size() < writeAhead_ && !stall(kW); }
  bool wantArReady() { return ar_.size() < maxReads_ && !stall(kAr); }
  // A B response to offer now (bValid_ is set by the caller).
  bool nextB(uint64_t cycle) { return !b_.empty() && b_.front().at <= cycle && !stall(kB); }
  // An R beat to offer now: loads rData_ and returns true (last, resp through the arguments).
  bool nextR(uint64_t cycle, bool& last, uint32_t& resp) {
    if (ar_.empty() || ar_.front().at > cycle || stall(kR)) return false;
    const AxiBurst& r = ar_.front();
    std::memset(rData_, 0, sizeof rData_);
    if (r.resp == kOkay) {
      const uint64_t a = r.beatAddr(r.beat);
      uint32_t lo, hi;
      lanes(a, r.bytes, lo, hi);
      mem.read((a & ~uint64_t(busBytes_ - 1)) + lo, reinterpret_cast<uint8_t*>(rData_) + lo, hi - lo + 1);
    }
    last = r.beat + 1 == r.beats;
    resp = r.resp;
    return true;
  }

  // ---- per cycle, just before the rising edge: what transferred (the master's outputs are settled)
  void sampleAw(bool valid, const Addr& a, uint64_t cycle, Error& err) {
    checkHeld(awHeld_, valid, a != awSnap_, "AW", "awvalid", "awready", cycle, err);
    if (valid && awReady_) {
      awHeld_ = false;
      aw_.push_back(decode(true, a, cycle, err));
      ++writesOpen_;
      ++stats[kAxiStatWrites];
      if (writesOpen_ > stats[kAxiStatMostWrites]) stats[kAxiStatMostWrites] = writesOpen_;
    } else {
      awHeld_ = valid;
      awSnap_ = a;
    }
  }
  // wIn_ holds the beat the master drives (read only while wvalid or held).
  void sampleW(bool valid, uint64_t cycle, Error& err) {
    const bool changed =
        wHeld_ && (std::memcmp(wIn_.data, wSnap_.data, 4 * dataWords_) != 0 ||
                   std::memcmp(wIn_.strb, wSnap_.strb, 4 * strbWords_) != 0 || wIn_.last != wSnap_.last);
    checkHeld(wHeld_, valid, changed, "W", "wvalid", "wready", cycle, err);
    if (valid && wReady_) {
      wHeld_ = false;
      w_.push_back(wIn_);
      ++stats[kAxiStatWriteBeats];
    } else {
      wHeld_ = valid;
      if (valid) wSnap_ = wIn_;
    }
  }
  // Beats whose AW is known go to memory at once (before the response can be offered).
  void drainW(uint64_t cycle, Error& err) {
    while (!w_.empty() && !aw_.empty()) {
      writeBeat(aw_.front(), w_.front(), cycle, err);
      w_.pop_front();
      if (aw_.front().beat == aw_.front().beats) {
        b_.push_back(Response{cycle + 1 + writeLatency_, aw_.front().resp});
        aw_.pop_front();
      }
    }
  }
  void sampleB(bool ready) {
    if (bValid_ && ready) {
      bValid_ = false;
      b_.pop_front();
      --writesOpen_;
    }
  }
  void sampleAr(bool valid, const Addr& a, uint64_t cycle, Error& err) {
    checkHeld(arHeld_, valid, a != arSnap_, "AR", "arvalid", "arready", cycle, err);
    if (valid && arReady_) {
      arHeld_ = false;
      ar_.push_back(decode(false, a, cycle, err));
      ar_.back().at = cycle + 1 + readLatency_;
      ++stats[kAxiStatReads];
      if (ar_.size() > stats[kAxiStatMostReads]) stats[kAxiStatMostReads] = ar_.size();
    } else {
      arHeld_ = valid;
      arSnap_ = a;
    }
  }
  void sampleR(bool ready) {
    if (rValid_ && ready) {
      rValid_ = false;
      ++stats[kAxiStatReadBeats];
      if (++ar_.front().beat == ar_.front().beats) ar_.pop_front();
    }
  }

 private:
  void checkHeld(bool held, bool valid, bool changed, const char* ch, const char* v, const char* r, uint64_t cycle,
                 Error& err) {
    if (!held) return;
    if (!valid)
      err.raise(cycle, std::string(name_) + ": " + ch + ": " + v + " dropped before " + r +
                           " (valid must stay high until the transfer)");
    else if (changed)
      err.raise(cycle,
                std::string(name_) + ": " + ch + ": the payload changed while " + v + " was high and " + r + " low");
  }

  // The byte lanes [lo, hi] of a beat at `a` of `bytes` bytes (A3.4.1: an unaligned first beat starts at its
  // address, the lanes end where the aligned transfer ends).
  void lanes(uint64_t a, uint32_t bytes, uint32_t& lo, uint32_t& hi) const {
    lo = uint32_t(a % busBytes_);
    hi = uint32_t((a & ~uint64_t(bytes - 1)) % busBytes_) + bytes - 1;
  }

  std::string describe(bool write, const AxiBurst& b) const {
    static const char* const kTypes[] = {"FIXED", "INCR", "WRAP", "reserved type 3"};
    const char* x = write ? "aw" : "ar";
    return std::string(name_) + ": " + (write ? "write" : "read") + " burst #" + std::to_string(b.seq) + " (" +
           (write ? "AW" : "AR") + " at cycle " + std::to_string(b.cycle) + ": " + x + "addr=" + axiHex(b.addr) + ", " +
           x + "len=" + std::to_string(b.len) + " (" + std::to_string(b.beats) + " beat" + (b.beats > 1 ? "s" : "") +
           "), " + x + "size=" + std::to_string(b.size) + " (" + std::to_string(b.bytes) + " byte" +
           (b.bytes > 1 ? "s" : "") + "), " + kTypes[b.type & 3] + ")";
  }

  // A burst from its address channel, checked; a burst that fails is kept (answered with an error response).
  AxiBurst decode(bool write, const Addr& a, uint64_t cycle, Error& err) {
    AxiBurst b;
    b.seq = write ? writeSeq_++ : readSeq_++;
    b.cycle = cycle;
    b.addr = a.addr;
    b.len = a.len;
    b.size = a.size;
    b.type = a.burst;
    b.beats = a.len + 1;
    b.bytes = 1u << a.size;
    auto fail = [&](uint32_t resp, const std::string& why) {
      b.resp = resp;
      err.raise(cycle, describe(write, b) + ": " + why);
    };
    if (b.type == 3) return fail(kSlvErr, "AxBURST 3 is reserved"), b;
    if (!((bursts_ >> b.type) & 1))
      return fail(kSlvErr, std::string(b.type == 0   ? "FIXED"
                                       : b.type == 1 ? "INCR"
                                                     : "WRAP") +
                               " bursts are not accepted (setting bursts = " + std::to_string(bursts_) + ")"),
             b;
    if (b.bytes > busBytes_)
      return fail(kSlvErr, "a beat of " + std::to_string(b.bytes) + " bytes is wider than the " +
                               std::to_string(busBytes_) + "-byte data bus"),
             b;
    uint64_t lo = b.addr, hi;
    const uint64_t aligned = b.addr & ~uint64_t(b.bytes - 1);
    if (b.type == 0) {
      if (b.beats > 16) return fail(kSlvErr, "a FIXED burst has at most 16 beats"), b;
      hi = aligned + b.bytes - 1;
    } else if (b.type == 2) {
      if (b.beats != 2 && b.beats != 4 && b.beats != 8 && b.beats != 16)
        return fail(kSlvErr, "a WRAP burst has 2, 4, 8 or 16 beats"), b;
      if (b.addr != aligned) return fail(kSlvErr, "a WRAP burst's address must be aligned to its size"), b;
      b.wrapLen = uint64_t(b.beats) * b.bytes;
      b.wrapLo = b.addr / b.wrapLen * b.wrapLen;
      lo = b.wrapLo;
      hi = b.wrapLo + b.wrapLen - 1;
    } else {
      hi = aligned + uint64_t(b.beats) * b.bytes - 1;
      if (lo / 4096 != hi / 4096)
        return fail(kSlvErr,
                    "an INCR burst crosses a 4 KB boundary (it covers bytes " + axiHex(lo) + ".." + axiHex(hi) + ")"),
               b;
    }
    if (hi >= capacity_)
      return fail(kDecErr, "bytes " + axiHex(lo) + ".." + axiHex(hi) + " go beyond the memory's capacity " +
                               axiHex(capacity_) + " (" + std::to_string(capacity_) + " bytes)"),
             b;
    inject(write, b, lo, hi);
    return b;
  }

  // A legal burst the error knobs choose fails: its response is errResp_ (the memory is not touched).
  void inject(bool write, AxiBurst& b, uint64_t lo, uint64_t hi) {
    if (!((errDirs_ >> (write ? 1 : 0)) & 1)) return;
    const bool inRange = lo < errTo_ && errFrom_ <= hi;
    const bool nth = errNth_ != 0 && b.seq + 1 == errNth_;
    // The random draw is made for every burst of an injected direction, so the choice depends only on the seed
    // and the burst's place in the sequence.
    const bool drawn = errThr_ && errRng_.next32() < errThr_;
    if (!inRange && !nth && !drawn) return;
    b.resp = errResp_;
    ++stats[write ? kAxiStatWriteErrors : kAxiStatReadErrors];
    stats[kAxiStatLastErrorAddr] = b.addr;
  }

  void writeBeat(AxiBurst& b, const AxiBeat& w, uint64_t cycle, Error& err) {
    const uint32_t k = b.beat++;
    const bool last = b.beat == b.beats;
    if (w.last != last) {
      err.raise(cycle, describe(true, b) + ": beat " + std::to_string(k) + " of " + std::to_string(b.beats) +
                           (last ? " has wlast low" : " has wlast high before the last beat"));
      b.resp = kSlvErr;
    }
    if (b.resp != kOkay) return;
    const uint64_t a = b.beatAddr(k);
    uint32_t lo, hi;
    lanes(a, b.bytes, lo, hi);
    for (uint32_t i = 0; i < strbWords_; ++i) {
      uint32_t allowed = 0;
      for (uint32_t j = 0; j < 32; ++j) {
        const uint32_t lane = 32 * i + j;
        if (lane >= lo && lane <= hi) allowed |= 1u << j;
      }
      const uint32_t valid = busBytes_ >= 32 * (i + 1) ? ~0u : (1u << (busBytes_ - 32 * i)) - 1u;
      if (w.strb[i] & valid & ~allowed) {
        std::string s;
        for (uint32_t j = strbWords_; j-- > 0;) {
          char h[12];
          std::snprintf(h, sizeof h, j + 1 == strbWords_ ? "%x" : "%08x", w.strb[j]);
          s += h;
        }
        err.raise(cycle, describe(true, b) + ": beat " + std::to_string(k) + " (address " + axiHex(a) + "): wstrb=0x" +
                             s + " enables byte lanes outside the beat's lanes " + std::to_string(lo) + ".." +
                             std::to_string(hi));
        b.resp = kSlvErr;
        return;
      }
    }
    mem.writeStrobed(a & ~uint64_t(busBytes_ - 1), reinterpret_cast<const uint8_t*>(w.data), w.strb, busBytes_);
  }
};

// ---------------------------------------------------------------------------------------
// The slave on one port. `T` is a generated traits struct (sim/harness.ts) with name, dataBits, addrBits and an
// accessor per field: the master's (awvalid(m), awaddr(m), wdata(m, words), ...) and setters for the slave's
// (setAwready(m, v), setRdata(m, words), ...).
template <class T, class Model>
struct AxiSlave : AxiSlaveBase {
  AxiSlave() : AxiSlaveBase(T::name, T::dataBits, T::addrBits) {}

  // Reset and start-up: everything in flight dropped, the slave's outputs low.
  void quiesce(Model* m) {
    abortAll();
    T::setAwready(m, false);
    T::setWready(m, false);
    T::setBvalid(m, false);
    T::setBresp(m, 0);
    T::setArready(m, false);
    T::setRvalid(m, false);
    T::setRlast(m, false);
    T::setRresp(m, 0);
  }

  inline void setup(Model* m, uint64_t cycle) {
    const bool aw = wantAwReady();
    if (aw != awReady_) T::setAwready(m, awReady_ = aw);
    const bool w = wantWReady();
    if (w != wReady_) T::setWready(m, wReady_ = w);
    const bool ar = wantArReady();
    if (ar != arReady_) T::setArready(m, arReady_ = ar);
    if (!bValid_ && nextB(cycle)) {
      T::setBresp(m, b_.front().resp);
      T::setBvalid(m, bValid_ = true);
    } else if (!bValid_) {
      T::setBvalid(m, false);
    }
    bool last;
    uint32_t resp;
    if (!rValid_ && nextR(cycle, last, resp)) {
      T::setRdata(m, rData_);
      T::setRlast(m, last);
      T::setRresp(m, resp);
      T::setRvalid(m, rValid_ = true);
    } else if (!rValid_) {
      T::setRvalid(m, false);
    }
  }

  inline void sample(Model* m, uint64_t cycle, Error& err) {
    const bool awv = T::awvalid(m);
    if (awv || awHeld_) sampleAw(awv, Addr{T::awaddr(m), T::awlen(m), T::awsize(m), T::awburst(m)}, cycle, err);
    const bool wv = T::wvalid(m);
    if (wv || wHeld_) {
      T::wdata(m, wIn_.data);
      T::wstrb(m, wIn_.strb);
      wIn_.last = T::wlast(m);
      sampleW(wv, cycle, err);
    }
    if (!w_.empty() && !aw_.empty()) drainW(cycle, err);
    if (bValid_) sampleB(T::bready(m));
    const bool arv = T::arvalid(m);
    if (arv || arHeld_) sampleAr(arv, Addr{T::araddr(m), T::arlen(m), T::arsize(m), T::arburst(m)}, cycle, err);
    if (rValid_) sampleR(T::rready(m));
  }
};

}  // namespace vfpga

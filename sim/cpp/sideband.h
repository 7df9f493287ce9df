// Sideband helpers beside the TLP streams, clocked with them in C++ (see docs/byo-rtl.md):
//  - pulses: an input put back to its old value a number of cycles after a poke;
//  - watches: count a signal's rises, falls, changes or high cycles, sampled after every rising edge, so a
//    one-cycle pulse is never missed however far apart TypeScript looks;
//  - handshakes: valid/ready transfers on ordinary ports, driven by C++ cycle by cycle: a sender offers
//    queued items (valid and data held until ready), a receiver holds ready high and collects what the
//    design sends.
// Every input they drive goes through the bench's poke(), so it is recorded and replays as plain pokes.
// None of it costs anything per cycle unless used: the bench calls in only while active().
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

namespace vfpga {

template <class D>
class Sideband {
  using Model = typename D::Model;

 public:
  enum WatchKind { kRise = 0, kFall = 1, kChange = 2, kHigh = 3 };

  Sideband() {
    std::size_t most = 1;
    for (const auto& p : D::ports) most = std::max(most, std::size_t(words(p.width)));
    scratch_.resize(most);
  }

  // Watch counts and handshake transfer counts share one index space: run() can wait for any to reach a value.
  std::vector<uint64_t> counters;

  bool active() const { return active_; }

  // ---- pulses

  // `port` goes back to `w` at the start of cycle `at` (before that cycle's inputs are evaluated).
  void restoreAt(uint64_t at, int port, const uint32_t* w) {
    timed_.push_back(Timed{at, port, std::vector<uint32_t>(w, w + words(D::ports[port].width))});
    refresh();
  }

  // ---- watches

  // Counts events of `port` from now on; returns its counter. `m` must be evaluated (current outputs).
  int watch(Model* m, int port, int kind) {
    Watch w{port, kind, newCounter(), std::vector<uint32_t>(words(D::ports[port].width))};
    D::readPort(m, port, w.prev.data());
    watches_.push_back(std::move(w));
    refresh();
    return watches_.back().counter;
  }
  void unwatch(int counter) {
    for (std::size_t i = 0; i < watches_.size(); ++i)
      if (watches_[i].counter == counter) watches_.erase(watches_.begin() + std::ptrdiff_t(i));
    refresh();
  }

  // ---- handshakes

  // A channel on ports `valid`, `ready` and data `fields`; `toDevice`: a sender (C++ drives valid and the
  // fields), else a receiver (C++ drives ready). Returns its index; its transfers count in counter(ch).
  template <class Poke>
  int open(bool toDevice, int valid, int ready, std::vector<int> fields, Poke&& poke) {
    Channel c;
    c.toDevice = toDevice;
    c.valid = valid;
    c.ready = ready;
    c.fields = std::move(fields);
    for (int f : c.fields) c.itemWords += words(D::ports[f].width);
    c.counter = newCounter();
    channels_.push_back(std::move(c));
    if (!toDevice) poke(ready, one_);
    refresh();
    return int(channels_.size()) - 1;
  }
  template <class Poke>
  void close(int ch, Poke&& poke) {
    Channel& c = channel(ch);
    if (!c.open) return;
    c.open = false;
    if (c.toDevice) {
      if (c.driving) poke(c.valid, zero_);
      c.queue.clear();
      c.driving = c.fired = false;
    } else {
      poke(c.ready, zero_);
    }
    refresh();
  }
  // Queues one item for a sender: the words of each field in turn.
  void offer(int ch, const uint32_t* w) {
    Channel& c = channel(ch);
    if (!c.toDevice || !c.open) throw std::invalid_argument("offer: not an open sender");
    c.queue.emplace_back(w, w + c.itemWords);
  }
  int counterOf(int ch) { return channel(ch).counter; }
  // Sender: the cycle item k transferred (-1: not yet).
  double doneAt(int ch, uint64_t k) {
    Channel& c = channel(ch);
    return k < c.doneAt.size() ? double(c.doneAt[k]) : -1;
  }
  // Receiver: items received and not yet taken, packed [cycle_lo, cycle_hi, field words...] each; cleared.
  std::vector<uint32_t> take(int ch) {
    Channel& c = channel(ch);
    std::vector<uint32_t> out;
    out.swap(c.got);
    return out;
  }
  int itemWords(int ch) { return channel(ch).itemWords; }

  // ---- per cycle (only while active())

  // Before the falling-edge eval: pulses due, senders' next items.
  template <class Poke>
  void setup(uint64_t cycle, Poke&& poke) {
    for (std::size_t i = 0; i < timed_.size();) {
      if (timed_[i].at <= cycle) {
        poke(timed_[i].port, timed_[i].w.data());
        timed_.erase(timed_.begin() + std::ptrdiff_t(i));
      } else
        ++i;
    }
    for (Channel& c : channels_) {
      if (!c.open || !c.toDevice) continue;
      if (c.fired) {  // the item went at the last edge: next one, or valid low
        c.fired = false;
        c.queue.pop_front();
        c.driving = false;
        if (c.queue.empty()) poke(c.valid, zero_);
      }
      if (!c.driving && !c.queue.empty()) {
        const uint32_t* w = c.queue.front().data();
        for (int f : c.fields) {
          poke(f, w);
          w += words(D::ports[f].width);
        }
        poke(c.valid, one_);
        c.driving = true;
      }
    }
    refresh();
  }

  // Just before the rising edge: which handshakes transfer at it.
  void sample(Model* m, uint64_t cycle) {
    for (Channel& c : channels_) {
      if (!c.open) continue;
      if (c.toDevice) {
        if (!c.driving) continue;
        D::readPort(m, c.ready, scratch_.data());
        if (scratch_[0] & 1u) {
          c.fired = true;
          c.doneAt.push_back(cycle);
          ++counters[std::size_t(c.counter)];
        }
      } else {
        D::readPort(m, c.valid, scratch_.data());
        if (!(scratch_[0] & 1)) continue;
        c.got.push_back(uint32_t(cycle));
        c.got.push_back(uint32_t(cycle >> 32));
        for (int f : c.fields) {
          const std::size_t at = c.got.size();
          c.got.resize(at + std::size_t(words(D::ports[f].width)));
          D::readPort(m, f, c.got.data() + at);
        }
        ++counters[std::size_t(c.counter)];
      }
    }
  }

  // After the rising edge's eval: the watches.
  void afterEdge(Model* m) {
    for (Watch& w : watches_) {
      const int n = int(w.prev.size());
      D::readPort(m, w.port, scratch_.data());
      const bool was = nonzero(w.prev.data(), n), is = nonzero(scratch_.data(), n);
      bool hit = false;
      switch (w.kind) {
        case kRise:
          hit = !was && is;
          break;
        case kFall:
          hit = was && !is;
          break;
        case kChange:
          hit = std::memcmp(w.prev.data(), scratch_.data(), 4 * std::size_t(n)) != 0;
          break;
        default:
          hit = is;
          break;
      }
      if (hit) ++counters[std::size_t(w.counter)];
      std::memcpy(w.prev.data(), scratch_.data(), 4 * std::size_t(n));
    }
  }

 private:
  struct Timed {
    uint64_t at;
    int port;
    std::vector<uint32_t> w;
  };
  struct Watch {
    int port;
    int kind;
    int counter;
    std::vector<uint32_t> prev;
  };
  struct Channel {
    bool toDevice = true, open = true;
    int valid = -1, ready = -1, counter = -1, itemWords = 0;
    std::vector<int> fields;
    std::deque<std::vector<uint32_t>> queue;  // sender: items not yet transferred, front = driven
    bool driving = false, fired = false;
    std::vector<uint64_t> doneAt;  // sender: cycle of each transfer
    std::vector<uint32_t> got;     // receiver: items not yet taken
  };
  std::vector<Timed> timed_;
  std::vector<Watch> watches_;
  std::vector<Channel> channels_;
  bool active_ = false;
  std::vector<uint32_t> scratch_;  // one port value, as wide as the widest port
  const uint32_t one_[1] = {1}, zero_[1] = {0};

  static int words(int bits) { return (bits + 31) / 32; }
  static bool nonzero(const uint32_t* w, int n) {
    for (int i = 0; i < n; ++i)
      if (w[i]) return true;
    return false;
  }
  int newCounter() {
    counters.push_back(0);
    return int(counters.size()) - 1;
  }
  Channel& channel(int ch) {
    if (ch < 0 || ch >= int(channels_.size())) throw std::invalid_argument("no such handshake channel");
    return channels_[std::size_t(ch)];
  }
  void refresh() {
    bool any = !timed_.empty() || !watches_.empty();
    for (const Channel& c : channels_) any = any || c.open;
    active_ = any;
  }
};

}  // namespace vfpga

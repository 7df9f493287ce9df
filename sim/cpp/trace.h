// The FST waveform of a run (sim/index.ts SimOptions.trace, traceWindow): the whole run in one file, or only a
// window of the last cycles, as rotating segments.
//
// A window of N cycles: the trace goes into <stem>.<first cycle>.fst; every N cycles that file is closed (the FST
// writer finalizes it: a complete, readable file) and the next one opened, and of the closed ones only the newest
// is kept. So at any stop, a failure or the end, the two files on disk cover the last N to 2N cycles, and a
// Linux boot of millions of cycles leaves a few MB instead of gigabytes. Each segment is a fresh VerilatedFstC:
// its first dump is a full dump, so every file stands alone (a viewer needs no earlier segment).
//
// One cycle spans 10 time units in the file: clk falls at 10*c, rises at 10*c+5 (Bench::step).
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "verilated_fst_c.h"

namespace vfpga {

template <class Model>
class Waveform {
 public:
  // Cycles [from, to) dumped into `path` (to == from: opened, nothing dumped yet).
  struct Segment {
    std::string path;
    uint64_t from, to;
  };
  // Segments kept on disk in a window: the one being written and the newest closed one.
  static constexpr std::size_t kKeep = 2;

  // `window` 0: the whole run into `path`. Otherwise segments of `window` cycles named after `path`
  // (<dir>/<stem>.<first cycle>.fst); segments a previous run left under that name are removed first, so the
  // files on disk are this run's window.
  void start(Model* model, const std::string& path, uint64_t window, uint64_t cycle) {
    model_ = model;
    window_ = window;
    if (window_) {
      const std::filesystem::path p(path);
      stem_ = (p.parent_path() / p.stem()).string();
      removeStale(p.parent_path(), p.stem().string());
    }
    open(window_ ? segmentPath(cycle) : path, cycle);
  }
  bool on() const { return fst_ != nullptr; }
  uint64_t window() const { return window_; }
  const std::deque<Segment>& segments() const { return segs_; }

  // The dump of cycle `cycle`'s low (clk falling) or high phase. A window rotates at a cycle's first dump.
  inline void dump(uint64_t cycle, bool high) {
    if (!high && window_ && cycle - segs_.back().from >= window_) rotate(cycle);
    fst_->dump(10 * cycle + (high ? 5 : 0));
    segs_.back().to = cycle + 1;
  }

  // Finalizes the file being written (the segments stay listed).
  void close() {
    if (!fst_) return;
    fst_->close();
    fst_.reset();
  }

 private:
  Model* model_ = nullptr;
  uint64_t window_ = 0;
  std::string stem_;
  std::unique_ptr<VerilatedFstC> fst_;
  std::deque<Segment> segs_;

  std::string segmentPath(uint64_t cycle) const { return stem_ + "." + std::to_string(cycle) + ".fst"; }

  void open(const std::string& path, uint64_t cycle) {
    auto fst = std::make_unique<VerilatedFstC>();
    model_->trace(fst.get(), 99);
    fst->open(path.c_str());
    if (!fst->isOpen()) throw std::runtime_error("cannot open the waveform file " + path);
    fst_ = std::move(fst);
    segs_.push_back({path, cycle, cycle});
  }

  void rotate(uint64_t cycle) {
    close();
    open(segmentPath(cycle), cycle);
    while (segs_.size() > kKeep) {
      std::remove(segs_.front().path.c_str());
      segs_.pop_front();
    }
  }

  static void removeStale(const std::filesystem::path& dir, const std::string& stem) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir.empty() ? "." : dir, ec))
      if (isSegment(e.path().filename().string(), stem)) std::filesystem::remove(e.path(), ec);
  }
  // <stem>.<digits>.fst
  static bool isSegment(const std::string& name, const std::string& stem) {
    const std::size_t head = stem.size() + 1, tail = 4;
    if (name.size() <= head + tail || name.compare(0, stem.size(), stem) != 0 || name[stem.size()] != '.') return false;
    if (name.compare(name.size() - tail, tail, ".fst") != 0) return false;
    for (std::size_t i = head; i < name.size() - tail; ++i)
      if (name[i] < '0' || name[i] > '9') return false;
    return true;
  }
};

}  // namespace vfpga

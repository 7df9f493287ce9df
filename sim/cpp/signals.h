// A design's public variables (Verilator's scope and variable tables): the registers and memories made public
// by --public-flat-rw or a /*verilator public_flat_rw*/ comment, by their path below the top ("count",
// "u_fifo.mem"), so tests can read and write them without debug ports. Packed values of any width and arrays
// with one unpacked dimension (memories); other kinds are left out of the table.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "verilated.h"
#include "verilated_syms.h"

namespace vfpga {

class PublicVars {
 public:
  struct Var {
    std::string name;  // below the top, '.'-separated; generate-block indexes as [i]
    const VerilatedVar* v;
    int width;
    bool array;
    int lo, hi;  // the array's index range (Verilog indexes), when `array`
  };

  // Reads the tables of the model constructed as "TOP" in `ctx` (the order is the tables' sorted order, so
  // the same design gives the same indexes in every instance: recorded writes replay by index).
  void load(VerilatedContext* ctx, const char* top) {
    vars_.clear();
    const std::string prefix = std::string("TOP.") + top;
    const VerilatedScopeNameMap* scopes = ctx->scopeNameMap();
    if (!scopes) return;
    for (const auto& s : *scopes) {
      const std::string scope = s.first;
      if (scope != prefix && scope.rfind(prefix + ".", 0) != 0) continue;
      const std::string below = scope.size() > prefix.size() ? demangle(scope.substr(prefix.size() + 1)) + "." : "";
      const VerilatedVarNameMap* vars = s.second->varsp();
      if (!vars) continue;
      for (const auto& kv : *vars) {
        const VerilatedVar& v = kv.second;
        if (v.isParam()) continue;  // constants, not state
        const VerilatedVarType t = v.vltype();
        if (t != VLVT_UINT8 && t != VLVT_UINT16 && t != VLVT_UINT32 && t != VLVT_UINT64 && t != VLVT_WDATA) continue;
        if (v.udims() > 1 || v.dims() - v.udims() > 1) continue;
        const int width = v.dims() > v.udims() ? v.packed().elements() : 1;
        Var x{below + demangle(kv.first), &v, width, v.udims() == 1, 0, 0};
        if (x.array) {
          x.lo = v.unpacked().low();
          x.hi = v.unpacked().high();
        }
        vars_.push_back(std::move(x));
      }
    }
  }
  const std::vector<Var>& list() const { return vars_; }

  void read(int i, long index, uint32_t* out) const {
    const Var& x = at(i);
    const void* p = element(x, index);
    switch (x.v->vltype()) {
      case VLVT_UINT8:
        out[0] = *static_cast<const CData*>(p);
        break;
      case VLVT_UINT16:
        out[0] = *static_cast<const SData*>(p);
        break;
      case VLVT_UINT32:
        out[0] = *static_cast<const IData*>(p);
        break;
      case VLVT_UINT64: {
        const QData q = *static_cast<const QData*>(p);
        out[0] = uint32_t(q);
        out[1] = uint32_t(q >> 32);
        break;
      }
      default:
        std::memcpy(out, p, 4 * std::size_t(words(x.width)));
        break;
    }
  }

  void write(int i, long index, const uint32_t* w) const {
    const Var& x = at(i);
    void* p = element(x, index);
    const uint32_t top = x.width % 32 == 0 ? ~0u : (1u << (x.width % 32)) - 1u;
    switch (x.v->vltype()) {
      case VLVT_UINT8:
        *static_cast<CData*>(p) = CData(w[0] & top);
        break;
      case VLVT_UINT16:
        *static_cast<SData*>(p) = SData(w[0] & top);
        break;
      case VLVT_UINT32:
        *static_cast<IData*>(p) = w[0] & top;
        break;
      case VLVT_UINT64:
        *static_cast<QData*>(p) = QData(w[0]) | QData(x.width > 32 ? w[1] & top : 0) << 32;
        break;
      default: {
        const int n = words(x.width);
        uint32_t* d = static_cast<uint32_t*>(p);
        std::memcpy(d, w, 4 * std::size_t(n));
        d[n - 1] &= top;
        break;
      }
    }
  }

 private:
  std::vector<Var> vars_;

  static int words(int bits) { return (bits + 31) / 32; }
  const Var& at(int i) const {
    if (i < 0 || i >= int(vars_.size())) throw std::invalid_argument("no such public variable index");
    return vars_[std::size_t(i)];
  }
  static void* element(const Var& x, long index) {
    void* p = x.v->datap();
    if (!x.array) return p;
    if (index < x.lo || index > x.hi)
      throw std::out_of_range(x.name + ": index " + std::to_string(index) + " is outside [" + std::to_string(x.lo) +
                              ":" + std::to_string(x.hi) + "]");
    return x.v->datapAdjustIndex(p, 1, int(index));
  }
  // Verilator's encoding of generate-block indexes in scope names.
  static std::string demangle(std::string s) {
    for (const auto& [from, to] : {std::pair<const char*, const char*>{"__BRA__", "["}, {"__KET__", "]"}}) {
      for (std::size_t k; (k = s.find(from)) != std::string::npos;) s.replace(k, std::strlen(from), to);
    }
    return s;
  }
};

}  // namespace vfpga

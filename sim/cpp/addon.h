// N-API glue: exposes vfpga::Bench<Design> to TypeScript as class `Harness` (see sim/index.ts).
//
// Each method is one JS -> C++ crossing and does a whole batch of work (a run of many
// cycles, a batch of TLPs). Bulk data crosses as packed Uint32Arrays; small results go
// into a Float64Array `state` that JS allocated and C++ writes after every call, so the
// common path creates no JS objects (toolchain notes: ~15 ns per plain call, far more per
// object property).
#pragma once

#include <napi.h>

#include "bench.h"

// Verilog $finish/$stop and Verilator's fatal errors: the runtime is compiled with
// VL_USER_FINISH/STOP/FATAL so these replace the defaults that exit or abort the process.
void vl_finish(const char* filename, int linenum, const char*) VL_MT_UNSAFE {
  Verilated::threadContextp()->gotFinish(true);
  vfpga::lastVerilogMessage() = std::string("$finish at ") + filename + ":" + std::to_string(linenum);
}
void vl_stop(const char* filename, int linenum, const char*) VL_MT_UNSAFE {
  Verilated::threadContextp()->gotError(true);
  Verilated::threadContextp()->gotFinish(true);
  throw vfpga::Fatal(std::string("Verilog $stop at ") + filename + ":" + std::to_string(linenum));
}
void vl_fatal(const char* filename, int linenum, const char*, const char* msg) VL_MT_UNSAFE {
  Verilated::threadContextp()->gotError(true);
  Verilated::threadContextp()->gotFinish(true);
  throw vfpga::Fatal(filename && *filename ? std::string(filename) + ":" + std::to_string(linenum) + ": " + msg
                                           : std::string(msg));
}

namespace vfpga {

// The slots of the shared state array (enum StateSlot, kStateSlotNames) are generated from sim/state.ts into
// the harness, ahead of this header.

template <class D>
class Addon : public Napi::ObjectWrap<Addon<D>> {
  using B = Bench<D>;
  using W = Napi::ObjectWrap<Addon<D>>;

 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function cls =
        W::DefineClass(env, "Harness",
                       {
                           W::InstanceMethod("enqueue", &Addon::Enqueue),
                           W::InstanceMethod("run", &Addon::Run),
                           W::InstanceMethod("reset", &Addon::Reset),
                           W::InstanceMethod("setRxIdle", &Addon::SetRxIdle),
                           W::InstanceMethod("setTxBackpressure", &Addon::SetTxBackpressure),
                           W::InstanceMethod("poke", &Addon::Poke),
                           W::InstanceMethod("peek", &Addon::Peek),
                           W::InstanceMethod("takeTx", &Addon::TakeTx),
                           W::InstanceMethod("takeDeliveries", &Addon::TakeDeliveries),
                           W::InstanceMethod("lastError", &Addon::LastError),
                           W::InstanceMethod("replay", &Addon::Replay),
                           W::InstanceMethod("txHash", &Addon::TxHash),
                           W::InstanceMethod("close", &Addon::Close),
                           W::InstanceMethod("waveform", &Addon::WaveformFiles),
                           W::InstanceMethod("pulse", &Addon::Pulse),
                           W::InstanceMethod("watch", &Addon::Watch),
                           W::InstanceMethod("unwatch", &Addon::Unwatch),
                           W::InstanceMethod("counter", &Addon::Counter),
                           W::InstanceMethod("openHandshake", &Addon::OpenHandshake),
                           W::InstanceMethod("closeHandshake", &Addon::CloseHandshake),
                           W::InstanceMethod("offer", &Addon::Offer),
                           W::InstanceMethod("doneAt", &Addon::DoneAt),
                           W::InstanceMethod("received", &Addon::Received),
                           W::InstanceMethod("vars", &Addon::Vars),
                           W::InstanceMethod("varRead", &Addon::VarRead),
                           W::InstanceMethod("varWrite", &Addon::VarWrite),
                           W::InstanceMethod("axiConfigure", &Addon::AxiConfigure),
                           W::InstanceMethod("axiRead", &Addon::AxiRead),
                           W::InstanceMethod("axiWrite", &Addon::AxiWrite),
                           W::InstanceMethod("axiStats", &Addon::AxiStats),
                           // Only for sim/measure.ts: the object-per-TLP alternative to the packed buffers.
                           W::InstanceMethod("enqueueObjects", &Addon::EnqueueObjects),
                           W::InstanceMethod("takeTxObjects", &Addon::TakeTxObjects),
                       });
    exports.Set("Harness", cls);
    exports.Set("top", Napi::String::New(env, D::top));
    exports.Set("portCount", Napi::Number::New(env, double(sizeof(D::ports) / sizeof(D::ports[0]))));
    // What this build thinks the state slots are (a test compares them with sim/state.ts).
    auto slots = Napi::Array::New(env, kStateSlots);
    for (uint32_t i = 0; i < kStateSlots; ++i) slots.Set(i, Napi::String::New(env, kStateSlotNames[i]));
    exports.Set("stateSlots", slots);
    exports.Set("axiMemories", Napi::Number::New(env, B::kAxis));
    return exports;
  }

  // new Harness(seed: number, tracePath: string, state: Float64Array, record: boolean, deliveries: Float64Array,
  //             traceWindow: number)
  explicit Addon(const Napi::CallbackInfo& info) : W(info) {
    guarded(info, [&] {
      seed_ = uint64_t(info[0].As<Napi::Number>().Int64Value());
      const std::string trace = info[1].As<Napi::String>().Utf8Value();
      auto state = info[2].As<Napi::Float64Array>();
      if (state.ElementLength() < kStateSlots) throw std::invalid_argument("state array too small");
      stateRef_ = Napi::Persistent(state);
      state_ = state.Data();
      auto deliveries = info[4].As<Napi::Float64Array>();
      if (deliveries.ElementLength() < 3) throw std::invalid_argument("delivery array too small");
      deliveriesRef_ = Napi::Persistent(deliveries);
      deliveries_ = deliveries.Data();
      deliveryCap_ = deliveries.ElementLength() / 3;
      const uint64_t window = info.Length() > 5 ? uint64_t(info[5].As<Napi::Number>().DoubleValue()) : 0;
      bench_ = std::make_unique<B>(seed_, trace.c_str(), window);
      bench_->record = info[3].As<Napi::Boolean>().Value();
      publish();
      return info.Env().Undefined();
    });
  }

 private:
  std::unique_ptr<B> bench_;
  uint64_t seed_ = 0;
  Napi::Reference<Napi::Float64Array> stateRef_;
  double* state_ = nullptr;
  Napi::Reference<Napi::Float64Array> deliveriesRef_;
  double* deliveries_ = nullptr;  // triples [stream, seq, cycle] (see moveDeliveries)
  std::size_t deliveryCap_ = 0;
  std::vector<uint32_t> scratch_;

  // Turn C++ exceptions into JS exceptions (node-addon-api only converts Napi::Error).
  template <class F>
  static Napi::Value guarded(const Napi::CallbackInfo& info, F&& f) {
    try {
      return f();
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
  }
  B& bench() {
    if (!bench_) throw std::runtime_error("the simulation was closed");
    return *bench_;
  }
  void publish() {
    B& b = *bench_;
    state_[kCycle] = double(b.cycle);
    state_[kTxPending] = double(b.txPending());
    state_[kRxPending] = double(b.rxPending());
    state_[kCppSeconds] = b.cppSeconds;
    state_[kRunCalls] = double(b.runCalls);
    uint64_t total = 0;
    for (int i = 0; i < B::kSources; ++i) total += b.source(i)->total;
    state_[kTxTotal] = double(total);
  }
  static int stream(const Napi::Value& v, int count) {
    const int i = v.As<Napi::Number>().Int32Value();
    if (i < 0 || i >= count) throw std::invalid_argument("no such stream index " + std::to_string(i));
    return i;
  }
  static int port(const Napi::Value& v) {
    const int i = v.As<Napi::Number>().Int32Value();
    if (i < 0 || i >= int(sizeof(D::ports) / sizeof(D::ports[0]))) throw std::invalid_argument("no such port index");
    return i;
  }
  static const uint32_t* words(const Napi::Value& v, std::size_t need) {
    auto a = v.As<Napi::Uint32Array>();
    if (a.ElementLength() < need) throw std::invalid_argument("value array too short");
    return a.Data();
  }

  // enqueue(stream, packed: Uint32Array, words): the first `words` words of a reused buffer
  Napi::Value Enqueue(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      const int s = stream(info[0], B::kSinks);
      auto a = info[1].As<Napi::Uint32Array>();
      const std::size_t n = std::size_t(info[2].As<Napi::Number>().Int64Value());
      if (n > a.ElementLength()) throw std::invalid_argument("enqueue: length beyond the buffer");
      bench().enqueue(s, a.Data(), n);
      publish();
      return info.Env().Undefined();
    });
  }
  // run(cycles, maxCycles, untilTx, untilKind, until, untilValue | null, room | null,
  //     writeLo?: bigint, writeHi?: bigint) -> reason (see Reason). `until` is a port index
  // (untilKind equals/rise/fall/change; untilValue: the value for equals) or a sideband counter
  // (kUntilCount; untilValue: the count as two words). With `room`, the finished
  // TLPs of the first source are moved into it on return (state[kTxWords] words, see
  // moveTx): the pump takes them after every run, and this saves it a takeTx() crossing each
  // time. With writeLo/writeHi, memory writes outside [writeLo, writeHi) do not count for
  // untilTx (SourceBase::counts).
  Napi::Value Run(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      const uint64_t cycles = uint64_t(info[0].As<Napi::Number>().DoubleValue());
      const uint64_t maxc = uint64_t(info[1].As<Napi::Number>().DoubleValue());
      const int64_t untilTx = info[2].As<Napi::Number>().Int64Value();
      const int kind = info[3].As<Napi::Number>().Int32Value();
      const int until = info[4].As<Napi::Number>().Int32Value();
      const uint32_t* uv = nullptr;
      if (kind == kUntilCount) {
        bench().counter(until);  // checks the index
        uv = words(info[5], 2);
      } else if (kind == kUntilEquals) {
        uv = words(info[5], vfpga::words(D::ports[port(info[4])].width));
      } else if (kind != kUntilNone) {
        port(info[4]);
      }
      const bool quiet = info.Length() > 8 && info[7].IsBigInt();
      bool lossless = true;
      const uint64_t lo = quiet ? info[7].As<Napi::BigInt>().Uint64Value(&lossless) : 0;
      const uint64_t hi = quiet ? info[8].As<Napi::BigInt>().Uint64Value(&lossless) : 0;
      if (!lossless) throw std::invalid_argument("run: the write window must lie within 64-bit addresses");
      const int r = bench().run(cycles, maxc, untilTx, kind, until, uv, quiet, lo, hi);
      std::size_t moved = 0;
      if (B::kSources > 0 && info[6].IsTypedArray()) {
        auto room = info[6].As<Napi::Uint32Array>();
        moved = moveTx(bench().source(0), room.Data(), room.ElementLength());
      }
      publish();
      state_[kTxWords] = double(moved);
      state_[kTxLeft] = B::kSources > 0 ? double(bench().source(0)->pending) : 0;
      moveDeliveries();
      return Napi::Number::New(info.Env(), r);
    });
  }
  // Moves the rx delivery reports (SinkBase::deliveries) into the delivery array TypeScript gave the constructor,
  // as triples [stream, seq, cycle], as many as fit: state[kDelivered] says how many, state[kDeliveriesLeft] how
  // many wait for takeDeliveries(). run() calls it on return, so reports cost no crossing of their own.
  void moveDeliveries() {
    std::size_t n = 0, left = 0;
    for (int i = 0; i < B::kSinks; ++i) {
      std::vector<uint64_t>& d = bench().sink(i)->deliveries;
      std::size_t k = 0;
      for (; k < d.size() && n < deliveryCap_; k += 2, ++n) {
        deliveries_[3 * n] = double(i);
        deliveries_[3 * n + 1] = double(d[k]);
        deliveries_[3 * n + 2] = double(d[k + 1]);
      }
      d.erase(d.begin(), d.begin() + std::ptrdiff_t(k));
      left += d.size() / 2;
    }
    state_[kDelivered] = double(n);
    state_[kDeliveriesLeft] = double(left);
  }
  // takeDeliveries(): the reports that did not fit after run() (see moveDeliveries)
  Napi::Value TakeDeliveries(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      bench();
      moveDeliveries();
      return info.Env().Undefined();
    });
  }
  Napi::Value Reset(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      bench().reset(uint64_t(info[0].As<Napi::Number>().Int64Value()));
      publish();
      if (bench().err.set) throw std::runtime_error(bench().err.msg);
      return info.Env().Undefined();
    });
  }
  Napi::Value SetRxIdle(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      bench().setRxIdle(stream(info[0], B::kSinks), info[1].As<Napi::Number>().DoubleValue());
      return info.Env().Undefined();
    });
  }
  Napi::Value SetTxBackpressure(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      bench().setTxBackpressure(stream(info[0], B::kSources), info[1].As<Napi::Number>().DoubleValue());
      return info.Env().Undefined();
    });
  }
  // poke(port, value: Uint32Array)
  Napi::Value Poke(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      const int p = port(info[0]);
      bench().poke(p, words(info[1], vfpga::words(D::ports[p].width)));
      return info.Env().Undefined();
    });
  }
  // peek(port, out: Uint32Array)
  Napi::Value Peek(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      const int p = port(info[0]);
      auto a = info[1].As<Napi::Uint32Array>();
      if (a.ElementLength() < std::size_t(vfpga::words(D::ports[p].width)))
        throw std::invalid_argument("peek buffer too short");
      bench().peek(p, a.Data());
      return info.Env().Undefined();
    });
  }
  // Moves as many whole finished TLPs of a source as fit into room[0..cap) (packed) and drops
  // them here; returns the words moved and leaves the count of finished TLPs that did not fit
  // in state[kTxLeft]. `room` is free space of TypeScript's DwordArena (sim/index.ts):
  // creating a fresh V8 buffer per call from C++ cost more than the copy.
  std::size_t moveTx(SourceBase* s, uint32_t* room, std::size_t cap) {
    // Leave a packet that is still being received in the source.
    const std::size_t done = s->open ? s->start : s->out.size();
    std::size_t n = 0;
    uint64_t moved = 0;
    while (n < done && n + kTlpHead + s->out[n] <= cap) {
      n += kTlpHead + s->out[n];
      ++moved;
    }
    if (n) {
      std::memcpy(room, s->out.data(), n * 4);
      s->out.erase(s->out.begin(), s->out.begin() + n);
      if (s->open) s->start -= n;
      s->pending -= moved;
      s->recount();
    }
    return n;
  }
  // takeTx(stream, room: Uint32Array) -> words moved (see moveTx)
  Napi::Value TakeTx(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      SourceBase* s = bench().source(stream(info[0], B::kSources));
      auto room = info[1].As<Napi::Uint32Array>();
      const std::size_t n = moveTx(s, room.Data(), room.ElementLength());
      publish();
      state_[kTxLeft] = double(s->pending);
      return Napi::Number::New(info.Env(), double(n));
    });
  }
  // lastError() -> { cycle, message } of the error that ended the last run()
  Napi::Value LastError(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      auto o = Napi::Object::New(info.Env());
      o.Set("cycle", Napi::Number::New(info.Env(), double(bench().err.cycle)));
      o.Set("message", Napi::String::New(info.Env(), bench().err.set ? bench().err.msg : lastVerilogMessage()));
      return static_cast<Napi::Value>(o);
    });
  }
  // replay(cycles) -> { seconds, cycles, tx, hash, error? }: a fresh model, same stimulus.
  Napi::Value Replay(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      B& b = bench();
      if (!b.record) throw std::runtime_error("replay needs the stimulus recorded (SimOptions.record)");
      const uint64_t until = uint64_t(info[0].As<Napi::Number>().DoubleValue());
      auto r = B::replay(seed_, b.log, until);
      Napi::Env env = info.Env();
      auto o = Napi::Object::New(env);
      o.Set("seconds", Napi::Number::New(env, r.seconds));
      o.Set("cycles", Napi::Number::New(env, double(r.cycles)));
      o.Set("tx", Napi::Number::New(env, double(r.tx)));
      o.Set("hash", Napi::BigInt::New(env, r.hash));
      if (r.error) o.Set("error", Napi::String::New(env, r.msg));
      return static_cast<Napi::Value>(o);
    });
  }
  // enqueueObjects(stream, tlps: {hdr, data, cycle}[]): reads each field through N-API.
  Napi::Value EnqueueObjects(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      const int s = stream(info[0], B::kSinks);
      auto arr = info[1].As<Napi::Array>();
      std::vector<uint32_t> w;
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        auto o = arr.Get(i).As<Napi::Object>();
        auto hdr = o.Get("hdr").As<Napi::Uint32Array>();
        auto data = o.Get("data").As<Napi::Uint32Array>();
        const uint64_t at = uint64_t(o.Get("cycle").As<Napi::Number>().Int64Value());
        w.assign({uint32_t(data.ElementLength()), uint32_t(at), uint32_t(at >> 32), hdr[0], hdr[1], hdr[2], hdr[3]});
        w.insert(w.end(), data.Data(), data.Data() + data.ElementLength());
        bench().enqueue(s, w.data(), w.size());
      }
      publish();
      return info.Env().Undefined();
    });
  }
  // takeTxObjects(stream) -> {hdr, data, cycle}[] built in C++, one object per TLP.
  Napi::Value TakeTxObjects(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Napi::Env env = info.Env();
      SourceBase* s = bench().source(stream(info[0], B::kSources));
      const std::size_t done = s->open ? s->start : s->out.size();
      auto arr = Napi::Array::New(env);
      uint32_t k = 0;
      for (std::size_t o = 0; o < done; k++) {
        const uint32_t* t = s->out.data() + o;
        auto hdr = Napi::Uint32Array::New(env, 4);
        std::memcpy(hdr.Data(), t + 3, 16);
        auto data = Napi::Uint32Array::New(env, t[0]);
        if (t[0]) std::memcpy(data.Data(), t + kTlpHead, 4 * t[0]);
        auto obj = Napi::Object::New(env);
        obj.Set("hdr", hdr);
        obj.Set("data", data);
        obj.Set("cycle", Napi::Number::New(env, double(uint64_t(t[1]) | uint64_t(t[2]) << 32)));
        arr.Set(k, obj);
        o += kTlpHead + t[0];
      }
      s->out.erase(s->out.begin(), s->out.begin() + done);
      if (s->open) s->start = 0;
      s->pending = 0;
      s->stops = 0;
      publish();
      return static_cast<Napi::Value>(arr);
    });
  }
  // ---- sideband: pulses, watches, handshakes (sideband.h)

  // pulse(port, value: Uint32Array, cycles)
  Napi::Value Pulse(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      const int p = port(info[0]);
      bench().pulse(p, words(info[1], vfpga::words(D::ports[p].width)),
                    uint64_t(info[2].As<Napi::Number>().Int64Value()));
      return info.Env().Undefined();
    });
  }
  // watch(port, kind) -> counter index
  Napi::Value Watch(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      const int k = bench().watch(port(info[0]), info[1].As<Napi::Number>().Int32Value());
      return static_cast<Napi::Value>(Napi::Number::New(info.Env(), k));
    });
  }
  Napi::Value Unwatch(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      bench().unwatch(info[0].As<Napi::Number>().Int32Value());
      return info.Env().Undefined();
    });
  }
  // counter(index) -> its count
  Napi::Value Counter(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      return static_cast<Napi::Value>(
          Napi::Number::New(info.Env(), double(bench().counter(info[0].As<Napi::Number>().Int32Value()))));
    });
  }
  // openHandshake(toDevice, valid, ready, fields: number[]) -> [channel, counter]
  Napi::Value OpenHandshake(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      auto arr = info[3].As<Napi::Array>();
      std::vector<int> fields;
      for (uint32_t i = 0; i < arr.Length(); ++i) fields.push_back(port(arr.Get(i)));
      const int ch =
          bench().openHandshake(info[0].As<Napi::Boolean>().Value(), port(info[1]), port(info[2]), std::move(fields));
      auto out = Napi::Array::New(info.Env(), 2);
      out.Set(0u, Napi::Number::New(info.Env(), ch));
      out.Set(1u, Napi::Number::New(info.Env(), bench().sideband().counterOf(ch)));
      return static_cast<Napi::Value>(out);
    });
  }
  Napi::Value CloseHandshake(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      bench().closeHandshake(info[0].As<Napi::Number>().Int32Value());
      return info.Env().Undefined();
    });
  }
  // offer(channel, item: Uint32Array): the words of each field in turn
  Napi::Value Offer(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      const int ch = info[0].As<Napi::Number>().Int32Value();
      bench().sideband().offer(ch, words(info[1], std::size_t(bench().sideband().itemWords(ch))));
      return info.Env().Undefined();
    });
  }
  // doneAt(channel, k) -> cycle item k transferred, or -1
  Napi::Value DoneAt(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      return static_cast<Napi::Value>(
          Napi::Number::New(info.Env(), bench().sideband().doneAt(info[0].As<Napi::Number>().Int32Value(),
                                                                  uint64_t(info[1].As<Napi::Number>().Int64Value()))));
    });
  }
  // received(channel) -> Uint32Array of items [cycle_lo, cycle_hi, field words...], taken
  Napi::Value Received(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      const std::vector<uint32_t> got = bench().sideband().take(info[0].As<Napi::Number>().Int32Value());
      auto out = Napi::Uint32Array::New(info.Env(), got.size());
      if (!got.empty()) std::memcpy(out.Data(), got.data(), 4 * got.size());
      return static_cast<Napi::Value>(out);
    });
  }

  // ---- public variables (signals.h)

  // vars() -> [{ name, width, lo, hi, array }] in index order
  Napi::Value Vars(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Napi::Env env = info.Env();
      const auto& list = bench().vars().list();
      auto out = Napi::Array::New(env, list.size());
      for (uint32_t i = 0; i < list.size(); ++i) {
        auto o = Napi::Object::New(env);
        o.Set("name", Napi::String::New(env, list[i].name));
        o.Set("width", Napi::Number::New(env, list[i].width));
        o.Set("array", Napi::Boolean::New(env, list[i].array));
        o.Set("lo", Napi::Number::New(env, list[i].lo));
        o.Set("hi", Napi::Number::New(env, list[i].hi));
        out.Set(i, o);
      }
      return static_cast<Napi::Value>(out);
    });
  }
  // varRead(var, index, out: Uint32Array)
  Napi::Value VarRead(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      const int i = info[0].As<Napi::Number>().Int32Value();
      auto a = info[2].As<Napi::Uint32Array>();
      if (a.ElementLength() < std::size_t(vfpga::words(bench().vars().list().at(std::size_t(i)).width)))
        throw std::invalid_argument("varRead buffer too short");
      bench().varRead(i, long(info[1].As<Napi::Number>().Int64Value()), a.Data());
      return info.Env().Undefined();
    });
  }
  // varWrite(var, index, value: Uint32Array)
  Napi::Value VarWrite(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      const int i = info[0].As<Napi::Number>().Int32Value();
      const auto need = std::size_t(vfpga::words(bench().vars().list().at(std::size_t(i)).width));
      bench().varWrite(i, long(info[1].As<Napi::Number>().Int64Value()), words(info[2], need));
      return info.Env().Undefined();
    });
  }

  // ---- AXI4 memories (axi.h)

  // axiConfigure(memory, knobs: Float64Array of kAxiKnobs)
  Napi::Value AxiConfigure(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      auto k = info[1].As<Napi::Float64Array>();
      if (k.ElementLength() < std::size_t(kAxiKnobs)) throw std::invalid_argument("axiConfigure: too few knobs");
      bench().axiConfigure(info[0].As<Napi::Number>().Int32Value(), k.Data());
      return info.Env().Undefined();
    });
  }
  // axiRead(memory, addr, out: Uint8Array): out's length in bytes from addr
  Napi::Value AxiRead(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      auto out = info[2].As<Napi::Uint8Array>();
      bench()
          .axi(info[0].As<Napi::Number>().Int32Value())
          ->read(uint64_t(info[1].As<Napi::Number>().DoubleValue()), out.Data(), out.ElementLength());
      return info.Env().Undefined();
    });
  }
  // axiWrite(memory, addr, bytes: Uint8Array)
  Napi::Value AxiWrite(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      auto in = info[2].As<Napi::Uint8Array>();
      bench().axiWrite(info[0].As<Napi::Number>().Int32Value(), uint64_t(info[1].As<Napi::Number>().DoubleValue()),
                       in.Data(), in.ElementLength());
      return info.Env().Undefined();
    });
  }
  // axiStats(memory, out: Float64Array of kAxiStats)
  Napi::Value AxiStats(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      auto out = info[1].As<Napi::Float64Array>();
      if (out.ElementLength() < std::size_t(kAxiStats)) throw std::invalid_argument("axiStats: buffer too short");
      bench().axi(info[0].As<Napi::Number>().Int32Value())->fillStats(out.Data());
      return info.Env().Undefined();
    });
  }

  Napi::Value TxHash(const Napi::CallbackInfo& info) {
    return guarded(info, [&] { return static_cast<Napi::Value>(Napi::BigInt::New(info.Env(), bench().txHash())); });
  }
  // waveform() -> { path, from, to }[]: the FST files on disk and the cycles [from, to) each holds (trace.h).
  Napi::Value WaveformFiles(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Napi::Env env = info.Env();
      auto arr = Napi::Array::New(env);
      uint32_t k = 0;
      for (const auto& seg : bench().waveform().segments()) {
        auto o = Napi::Object::New(env);
        o.Set("path", Napi::String::New(env, seg.path));
        o.Set("from", Napi::Number::New(env, double(seg.from)));
        o.Set("to", Napi::Number::New(env, double(seg.to)));
        arr.Set(k++, o);
      }
      return static_cast<Napi::Value>(arr);
    });
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      if (bench_) {
        bench_->close();
        bench_.reset();
      }
      return info.Env().Undefined();
    });
  }
};

}  // namespace vfpga

#define VFPGA_ADDON(DESIGN)                                            \
  static Napi::Object vfpgaInit(Napi::Env env, Napi::Object exports) { \
    return vfpga::Addon<DESIGN>::Init(env, exports);                   \
  }                                                                    \
  NODE_API_MODULE(NODE_GYP_MODULE_NAME, vfpgaInit)

// N-API glue for what Node's own modules cannot do and the Linux bridge's vhost-user back-end needs
// (sim/hostio.ts): a Unix socket whose messages carry file descriptors (SCM_RIGHTS), mmap of a descriptor as an
// external ArrayBuffer (the guest's memory, read and written in place), eventfd/pipe counters and poll(). Only
// system calls live here; the protocols are TypeScript's (sim/vhost). Design-independent, so it is its own small
// addon rather than part of every Verilated model's.
//
// The constants shared with TypeScript (kPoll*, kMaxFds) are generated from sim/hostio.ts ahead of this header.
#pragma once

#include <fcntl.h>
#include <napi.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace vfpga::hostio {

inline Napi::Error sysError(Napi::Env env, const std::string& what) {
  return Napi::Error::New(env, what + ": " + std::strerror(errno));
}

inline int intArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

// listen(path) -> fd: a Unix stream socket bound at `path`, backlog 1, close-on-exec.
inline Napi::Value Listen(const Napi::CallbackInfo& info) {
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    throw Napi::Error::New(info.Env(), "socket path too long (" + std::to_string(path.size()) + " bytes): " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError(info.Env(), "socket");
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 || listen(fd, 1) < 0) {
    const int e = errno;
    close(fd);
    errno = e;
    throw sysError(info.Env(), "bind/listen " + path);
  }
  return Napi::Number::New(info.Env(), fd);
}

// Waits until `fd` is readable; false on timeout (timeoutMs < 0: forever).
inline bool waitReadable(Napi::Env env, int fd, int timeoutMs) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    const int r = poll(&p, 1, timeoutMs);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) throw sysError(env, "poll");
  }
}

// accept(listenFd, timeoutMs) -> fd, or -1 when no connection came in time.
inline Napi::Value Accept(const Napi::CallbackInfo& info) {
  const int lfd = intArg(info, 0);
  if (!waitReadable(info.Env(), lfd, intArg(info, 1))) return Napi::Number::New(info.Env(), -1);
  const int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) throw sysError(info.Env(), "accept");
  return Napi::Number::New(info.Env(), fd);
}

// peerCredentials(fd) -> [pid, uid, gid] of the process at the other end (SO_PEERCRED).
inline Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  ucred c{};
  socklen_t len = sizeof(c);
  if (getsockopt(intArg(info, 0), SOL_SOCKET, SO_PEERCRED, &c, &len) < 0) throw sysError(info.Env(), "SO_PEERCRED");
  auto out = Napi::Array::New(info.Env(), 3);
  out.Set(0u, Napi::Number::New(info.Env(), c.pid));
  out.Set(1u, Napi::Number::New(info.Env(), c.uid));
  out.Set(2u, Napi::Number::New(info.Env(), c.gid));
  return out;
}

// recv(fd, buf: Uint8Array, len, fds: Int32Array, timeoutMs) -> descriptors received (written into fds), or -1
// when the peer closed the connection before the first byte. Reads exactly `len` bytes; a descriptor beyond
// fds' room, a truncated control message, the peer closing mid-message or `timeoutMs` without data throw.
inline Napi::Value Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = intArg(info, 0);
  auto buf = info[1].As<Napi::Uint8Array>();
  const size_t len = size_t(info[2].As<Napi::Number>().Int64Value());
  auto fds = info[3].As<Napi::Int32Array>();
  const int timeoutMs = intArg(info, 4);
  if (len > buf.ElementLength()) throw Napi::Error::New(env, "recv: length beyond the buffer");
  size_t got = 0;
  size_t nfds = 0;
  bool tooMany = false;
  while (got < len) {
    if (!waitReadable(env, fd, timeoutMs))
      throw Napi::Error::New(env, "recv: no data for " + std::to_string(timeoutMs) + " ms (" + std::to_string(got) +
                                      " of " + std::to_string(len) + " bytes)");
    iovec iov{buf.Data() + got, len - got};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw sysError(env, "recvmsg");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const int* in = reinterpret_cast<const int*>(CMSG_DATA(c));
      for (size_t i = 0; i < k; ++i) {
        if (nfds < fds.ElementLength()) {
          fds[nfds++] = in[i];
        } else {
          close(in[i]);
          tooMany = true;
        }
      }
    }
    if (m.msg_flags & MSG_CTRUNC) tooMany = true;
    if (n == 0) {
      if (got == 0 && nfds == 0) return Napi::Number::New(env, -1);
      throw Napi::Error::New(env, "recv: the peer closed the connection after " + std::to_string(got) + " of " +
                                      std::to_string(len) + " bytes");
    }
    got += size_t(n);
  }
  if (tooMany) {
    for (size_t i = 0; i < nfds; ++i) close(fds[i]);
    throw Napi::Error::New(
        env, "recv: more file descriptors than the " + std::to_string(fds.ElementLength()) + " a message may carry");
  }
  return Napi::Number::New(env, double(nfds));
}

// send(fd, buf: Uint8Array, len): writes all of it.
inline Napi::Value Send(const Napi::CallbackInfo& info) {
  const int fd = intArg(info, 0);
  auto buf = info[1].As<Napi::Uint8Array>();
  const size_t len = size_t(info[2].As<Napi::Number>().Int64Value());
  if (len > buf.ElementLength()) throw Napi::Error::New(info.Env(), "send: length beyond the buffer");
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::send(fd, buf.Data() + done, len - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        poll(&p, 1, 1000);
        continue;
      }
      throw sysError(info.Env(), "send");
    }
    done += size_t(n);
  }
  return info.Env().Undefined();
}

// mmap(fd, size, offset) -> ArrayBuffer over a shared mapping of the descriptor (read/write), unmapped when the
// buffer is collected. The descriptor may be closed afterwards.
inline Napi::Value Mmap(const Napi::CallbackInfo& info) {
  const int fd = intArg(info, 0);
  const double size = info[1].As<Napi::Number>().DoubleValue();
  const double offset = info[2].As<Napi::Number>().DoubleValue();
  if (!(size > 0) || size > double(1ull << 40) || offset < 0 || offset > double(1ull << 52))
    throw Napi::Error::New(info.Env(), "mmap: bad size or offset");
  struct stat st {};
  if (fstat(fd, &st) < 0) throw sysError(info.Env(), "fstat");
  if (S_ISREG(st.st_mode) && double(st.st_size) < offset + size)
    throw Napi::Error::New(info.Env(), "mmap: the file has " + std::to_string(st.st_size) +
                                           " bytes, the region ends at " + std::to_string(uint64_t(offset + size)));
  void* p = mmap(nullptr, size_t(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(offset));
  if (p == MAP_FAILED) throw sysError(info.Env(), "mmap");
  const size_t len = size_t(size);
  return Napi::ArrayBuffer::New(
      info.Env(), p, len, [](Napi::Env, void* data, size_t* n) { munmap(data, *n); }, new size_t(len));
}

// readCounter(fd) -> the value of an eventfd (or the sum of 8-byte values in a pipe), 0 when there is none.
inline Napi::Value ReadCounter(const Napi::CallbackInfo& info) {
  const int fd = intArg(info, 0);
  double total = 0;
  for (;;) {
    uint64_t v = 0;
    const ssize_t n = read(fd, &v, sizeof(v));
    if (n == sizeof(v)) {
      total += double(v);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n == 0) break;
    if (n < 0) throw sysError(info.Env(), "read counter");
    throw Napi::Error::New(info.Env(), "read counter: short read of " + std::to_string(n) + " bytes");
  }
  return Napi::Number::New(info.Env(), total);
}

// writeCounter(fd, value): writes a u64 (an eventfd increment, or a pipe's wake-up). A full pipe is fine: the
// reader has wake-ups pending anyway.
inline Napi::Value WriteCounter(const Napi::CallbackInfo& info) {
  const int fd = intArg(info, 0);
  const uint64_t v = uint64_t(info[1].As<Napi::Number>().Int64Value());
  for (;;) {
    const ssize_t n = write(fd, &v, sizeof(v));
    if (n == sizeof(v) || (n < 0 && errno == EAGAIN)) break;
    if (n < 0 && errno == EINTR) continue;
    throw sysError(info.Env(), "write counter");
  }
  return info.Env().Undefined();
}

// setNonBlocking(fd)
inline Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  const int fd = intArg(info, 0);
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) throw sysError(info.Env(), "fcntl O_NONBLOCK");
  return info.Env().Undefined();
}

// poll(fds: Int32Array, n, timeoutMs, out: Uint8Array) -> descriptors ready; out[i] gets kPoll* bits.
inline Napi::Value Poll(const Napi::CallbackInfo& info) {
  auto fds = info[0].As<Napi::Int32Array>();
  const size_t n = size_t(intArg(info, 1));
  const int timeoutMs = intArg(info, 2);
  auto out = info[3].As<Napi::Uint8Array>();
  if (n > fds.ElementLength() || n > out.ElementLength() || n > 64)
    throw Napi::Error::New(info.Env(), "poll: bad count");
  pollfd p[64];
  for (size_t i = 0; i < n; ++i) p[i] = pollfd{fds[i], POLLIN, 0};
  int r;
  do r = poll(p, n, timeoutMs);
  while (r < 0 && errno == EINTR);
  if (r < 0) throw sysError(info.Env(), "poll");
  for (size_t i = 0; i < n; ++i)
    out[i] = uint8_t(((p[i].revents & POLLIN) ? kPollReadable : 0) | ((p[i].revents & POLLHUP) ? kPollHangup : 0) |
                     ((p[i].revents & (POLLERR | POLLNVAL)) ? kPollError : 0));
  return Napi::Number::New(info.Env(), r);
}

// ---- the front-end's side, for tests that play the guest

// connect(path) -> fd
inline Napi::Value Connect(const Napi::CallbackInfo& info) {
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) throw Napi::Error::New(info.Env(), "socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError(info.Env(), "socket");
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    const int e = errno;
    close(fd);
    errno = e;
    throw sysError(info.Env(), "connect " + path);
  }
  return Napi::Number::New(info.Env(), fd);
}

// sendFds(fd, buf: Uint8Array, len, fds: number[]): one message carrying the descriptors (SCM_RIGHTS).
inline Napi::Value SendFds(const Napi::CallbackInfo& info) {
  const int fd = intArg(info, 0);
  auto buf = info[1].As<Napi::Uint8Array>();
  const size_t len = size_t(info[2].As<Napi::Number>().Int64Value());
  auto list = info[3].As<Napi::Array>();
  if (len > buf.ElementLength() || list.Length() > uint32_t(kMaxFds))
    throw Napi::Error::New(info.Env(), "sendFds: bad length or too many descriptors");
  iovec iov{buf.Data(), len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (list.Length()) {
    m.msg_control = control;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * list.Length());
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * list.Length());
    int* out = reinterpret_cast<int*>(CMSG_DATA(c));
    for (uint32_t i = 0; i < list.Length(); ++i) out[i] = list.Get(i).As<Napi::Number>().Int32Value();
  }
  if (sendmsg(fd, &m, MSG_NOSIGNAL) != ssize_t(len)) throw sysError(info.Env(), "sendmsg");
  return info.Env().Undefined();
}

// eventfd() -> a non-blocking eventfd
inline Napi::Value EventFd(const Napi::CallbackInfo& info) {
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw sysError(info.Env(), "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

inline Napi::Value Close(const Napi::CallbackInfo& info) {
  close(intArg(info, 0));
  return info.Env().Undefined();
}

inline Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("listen", Napi::Function::New(env, Listen));
  exports.Set("accept", Napi::Function::New(env, Accept));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials));
  exports.Set("recv", Napi::Function::New(env, Recv));
  exports.Set("send", Napi::Function::New(env, Send));
  exports.Set("mmap", Napi::Function::New(env, Mmap));
  exports.Set("readCounter", Napi::Function::New(env, ReadCounter));
  exports.Set("writeCounter", Napi::Function::New(env, WriteCounter));
  exports.Set("setNonBlocking", Napi::Function::New(env, SetNonBlocking));
  exports.Set("poll", Napi::Function::New(env, Poll));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("connect", Napi::Function::New(env, Connect));
  exports.Set("sendFds", Napi::Function::New(env, SendFds));
  exports.Set("eventfd", Napi::Function::New(env, EventFd));
  return exports;
}

}  // namespace vfpga::hostio

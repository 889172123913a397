// libnccl_emu.so: the NCCL calls of dev.lumen.cuda.Nccl over emulated device memory (host memory),
// compiled against NVIDIA's own nccl.h, so signatures, enum values and the 128-byte unique id are
// the real ones. A test double for CI without GPUs: users always get NVIDIA's libnccl.so.2.
//
// Ranks live in one process (threads, or one thread driving several communicators through group
// calls) and in several processes of one machine. The process that calls ncclGetUniqueId hosts
// the session's root: a loopback TCP listener whose address, with a random session key, is what
// the unique id carries. Ranks of that process meet in memory; ranks of other processes each
// keep one connection to the root. Every collective is gathered at the root and reduced there in
// rank order 0..n-1, so results are the same bits whatever order the ranks arrive in.
//
// Streams of the emulated driver are synchronous, so a collective completes before its call
// returns. Failures never hang: a peer process that exits closes its connections (seen at once),
// one that stops answering misses heartbeats for NCCL_EMU_TIMEOUT_MS (default 30 s), and ranks
// that never join are given up after NCCL_EMU_INIT_TIMEOUT_MS (default 60 s); each
// fails every waiting and later call of the session with ncclRemoteError, naming the rank, its
// pid and host. ncclCommAbort from another thread unblocks a waiting call.
#include <nccl.h>
#include <cuda.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <link.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#define NCCL_API __attribute__((visibility("default")))

namespace {

using Clock = std::chrono::steady_clock;

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

long long env_ms(const char* name, long long fallback) {
  const char* e = getenv(name);
  if (e == nullptr || *e == 0) return fallback;
  char* end = nullptr;
  long long v = strtoll(e, &end, 10);
  if (end == e || *end != 0 || v <= 0) {
    fprintf(stderr, "nccl_emu: %s=%s is not a positive number of milliseconds; using %lld\n", name, e, fallback);
    return fallback;
  }
  return v;
}

// How long a peer may stay silent (no heartbeat) before its rank counts as failed.
long long timeout_ms() {
  static const long long t = env_ms("NCCL_EMU_TIMEOUT_MS", 30000);
  return t;
}

// How long ranks may take to join a communicator: longer, since peers may still be starting.
long long init_timeout_ms() {
  static const long long t = env_ms("NCCL_EMU_INIT_TIMEOUT_MS", 60000);
  return t;
}

std::string seconds(long long ms) {
  char b[32];
  snprintf(b, sizeof b, "%g s", ms / 1000.0);
  return b;
}

std::string host_name() {
  char h[256] = {0};
  if (gethostname(h, sizeof h - 1) != 0) return "unknown-host";
  return h;
}

// ---------------------------------------------------------------- last error

// Process-wide state lives until the process ends and is never destroyed: detached threads
// (listener, readers, heartbeat) may still use it while static destructors run at exit.
std::mutex& g_error_mu = *new std::mutex;
std::string& g_last_error = *new std::string;

ncclResult_t fail(ncclResult_t r, const std::string& msg) {
  std::lock_guard<std::mutex> g(g_error_mu);
  g_last_error = msg;
  return r;
}

// ---------------------------------------------------------------- the emulated driver

// The CUDA driver this process loaded (libcuda_emu*.so or libcuda.so.1), found among the loaded
// objects rather than linked: the JVM opens it with RTLD_LOCAL, and which one it is varies.
void* driver_symbol(const char* name) {
  struct Hit { const char* name; void* sym; } hit{name, nullptr};
  dl_iterate_phdr([](dl_phdr_info* info, size_t, void* data) -> int {
    Hit* h = static_cast<Hit*>(data);
    const char* path = info->dlpi_name;
    if (path == nullptr || strstr(path, "libcuda") == nullptr) return 0;
    void* lib = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
    if (lib == nullptr) return 0;
    h->sym = dlsym(lib, h->name);
    dlclose(lib);
    return h->sym != nullptr ? 1 : 0;
  }, &hit);
  return hit.sym;
}

// The current context's device, as NCCL takes it from the CUDA runtime; 0 without a context.
int current_device() {
  auto get = reinterpret_cast<CUresult (*)(CUdevice*)>(driver_symbol("cuCtxGetDevice"));
  CUdevice d = 0;
  if (get != nullptr && get(&d) == CUDA_SUCCESS) return d;
  return 0;
}

// Devices the driver reports, or -1 when no driver is loaded (nothing to check against).
int device_count() {
  auto count = reinterpret_cast<CUresult (*)(int*)>(driver_symbol("cuDeviceGetCount"));
  int n = 0;
  if (count == nullptr || count(&n) != CUDA_SUCCESS) return -1;
  return n;
}

// ---------------------------------------------------------------- element types and reductions

size_t type_size(int t) {
  switch (t) {
    case ncclInt8: case ncclUint8: case ncclFloat8e4m3: case ncclFloat8e5m2: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
    default: return 0;
  }
}

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal: normalize
    int e = -1;
    do { man <<= 1; ++e; } while ((man & 0x400) == 0);
    bits = sign | uint32_t(112 - e) << 23 | ((man & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even, as a GPU's conversion and Java's Float.floatToFloat16.
uint16_t float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffff;
  if (ax >= 0x7f800000) return uint16_t(sign | 0x7c00 | (ax > 0x7f800000 ? 0x200 | ((ax >> 13) & 0x3ff) : 0));
  if (ax >= 0x477ff000) return uint16_t(sign | 0x7c00);  // rounds to infinity
  if (ax < 0x38800000) {  // subnormal or zero in half
    if (ax < 0x33000000) return uint16_t(sign);
    uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e;  // value / 2^-24 = m * 2^(e - 126): the bits below the half's last place
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return uint16_t(sign | q);
  }
  uint32_t q = ((ax >> 13) - (112u << 10)), rem = ax & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) ++q;
  return uint16_t(sign | q);
}

float bf16_to_float(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return uint16_t((x >> 16) | 0x40);  // quiet NaN
  uint32_t lsb = (x >> 16) & 1;
  return uint16_t((x + 0x7fff + lsb) >> 16);
}

// Storage type S, reduced in A: f16 and bf16 accumulate in float and round once at the end.
struct F16 {
  using A = float;
  static constexpr size_t size = 2;
  static A load(const char* p) { uint16_t h; memcpy(&h, p, 2); return half_to_float(h); }
  static void store(char* p, A v) { uint16_t h = float_to_half(v); memcpy(p, &h, 2); }
};
struct BF16 {
  using A = float;
  static constexpr size_t size = 2;
  static A load(const char* p) { uint16_t h; memcpy(&h, p, 2); return bf16_to_float(h); }
  static void store(char* p, A v) { uint16_t h = float_to_bf16(v); memcpy(p, &h, 2); }
};
template <typename T> struct Plain {
  using A = T;
  static constexpr size_t size = sizeof(T);
  static A load(const char* p) { T v; memcpy(&v, p, sizeof(T)); return v; }
  static void store(char* p, A v) { memcpy(p, &v, sizeof(T)); }
};

template <typename A> A combine(int op, A a, A b) {
  switch (op) {
    case ncclProd: return a * b;
    case ncclMax: return b > a ? b : a;
    case ncclMin: return b < a ? b : a;
    default: return a + b;  // ncclSum, ncclAvg
  }
}

// out[i] = in[0][i] op in[1][i] op ... op in[n-1][i], in that order.
template <typename S>
void reduce_typed(char* out, const std::vector<const char*>& in, size_t count, int op) {
  using A = typename S::A;
  const size_t sz = S::size;
  const int n = int(in.size());
  for (size_t i = 0; i < count; ++i) {
    A acc = S::load(in[0] + i * sz);
    for (int r = 1; r < n; ++r) acc = combine<A>(op, acc, S::load(in[r] + i * sz));
    if (op == ncclAvg) acc = A(acc / A(n));
    S::store(out + i * sz, acc);
  }
}

void reduce(int dtype, int op, char* out, const std::vector<const char*>& in, size_t count) {
  switch (dtype) {
    case ncclInt8: reduce_typed<Plain<int8_t>>(out, in, count, op); break;
    case ncclUint8: reduce_typed<Plain<uint8_t>>(out, in, count, op); break;
    case ncclInt32: reduce_typed<Plain<int32_t>>(out, in, count, op); break;
    case ncclUint32: reduce_typed<Plain<uint32_t>>(out, in, count, op); break;
    case ncclInt64: reduce_typed<Plain<int64_t>>(out, in, count, op); break;
    case ncclUint64: reduce_typed<Plain<uint64_t>>(out, in, count, op); break;
    case ncclFloat16: reduce_typed<F16>(out, in, count, op); break;
    case ncclFloat32: reduce_typed<Plain<float>>(out, in, count, op); break;
    case ncclFloat64: reduce_typed<Plain<double>>(out, in, count, op); break;
    case ncclBfloat16: reduce_typed<BF16>(out, in, count, op); break;
  }
}

// ---------------------------------------------------------------- collectives

enum Coll : int32_t { ALL_REDUCE = 0, BROADCAST = 1, ALL_GATHER = 2, REDUCE_SCATTER = 3 };

const char* coll_name(int c) {
  switch (c) {
    case ALL_REDUCE: return "ncclAllReduce";
    case BROADCAST: return "ncclBroadcast";
    case ALL_GATHER: return "ncclAllGather";
    default: return "ncclReduceScatter";
  }
}

struct OpDesc {
  int32_t coll, dtype, redop, root;
  uint64_t count;  // NCCL's count argument: recvcount for ReduceScatter, sendcount for AllGather
  bool operator==(const OpDesc& o) const {
    return coll == o.coll && dtype == o.dtype && redop == o.redop && root == o.root && count == o.count;
  }
  std::string describe() const {
    return std::string(coll_name(coll)) + "(count=" + std::to_string(count) + ", datatype=" + std::to_string(dtype)
        + (coll == ALL_REDUCE || coll == REDUCE_SCATTER ? ", op=" + std::to_string(redop) : "")
        + (coll == BROADCAST ? ", root=" + std::to_string(root) : "") + ")";
  }
};

// Bytes rank `rank` contributes and receives.
size_t in_bytes(const OpDesc& d, int rank, int n) {
  size_t e = type_size(d.dtype);
  switch (d.coll) {
    case BROADCAST: return rank == d.root ? d.count * e : 0;
    case REDUCE_SCATTER: return d.count * n * e;
    default: return d.count * e;
  }
}
size_t out_bytes(const OpDesc& d, int n) {
  size_t e = type_size(d.dtype);
  return d.coll == ALL_GATHER ? d.count * n * e : d.count * e;
}
size_t result_bytes(const OpDesc& d, int n) {
  return d.coll == ALL_GATHER || d.coll == REDUCE_SCATTER ? d.count * n * type_size(d.dtype) : d.count * type_size(d.dtype);
}
// Where rank's share of the whole result starts.
size_t out_offset(const OpDesc& d, int rank) { return d.coll == REDUCE_SCATTER ? d.count * rank * type_size(d.dtype) : 0; }

void compute(const OpDesc& d, int n, const std::vector<const char*>& in, std::vector<char>& result) {
  result.resize(result_bytes(d, n));
  size_t e = type_size(d.dtype);
  switch (d.coll) {
    case ALL_REDUCE: reduce(d.dtype, d.redop, result.data(), in, d.count); break;
    case REDUCE_SCATTER: reduce(d.dtype, d.redop, result.data(), in, d.count * n); break;
    case BROADCAST: if (d.count) memcpy(result.data(), in[d.root], d.count * e); break;
    case ALL_GATHER:
      for (int r = 0; r < n; ++r) if (d.count) memcpy(result.data() + r * d.count * e, in[r], d.count * e);
      break;
  }
}

// ---------------------------------------------------------------- connections

enum FrameType : uint32_t { F_HELLO = 1, F_WELCOME, F_CONTRIB, F_RESULT, F_PING, F_BYE, F_FAIL };

struct Frame {
  uint32_t type;
  int32_t rank;
  uint64_t seq;
  OpDesc desc;
  int32_t status;
  int32_t pad;
  uint64_t bytes;  // payload that follows
};

struct Hello {
  uint8_t key[16];
  int32_t nranks, rank, pid, device;
  char host[64];
};

constexpr char ID_MAGIC[8] = "LNCCLEM";
struct IdBlob {
  char magic[8];
  uint32_t addr;  // network order
  uint16_t port;  // network order
  uint16_t version;
  uint8_t key[16];
  int32_t pid;
  char host[64];
};
static_assert(sizeof(IdBlob) <= NCCL_UNIQUE_ID_BYTES, "the id must fit ncclUniqueId");

bool send_all(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    n -= size_t(k);
  }
  return true;
}

// One TCP connection between a rank of another process and the root. A reader thread on each
// end reads every frame; writes take the mutex; heartbeats keep last_seen fresh both ways.
struct Conn {
  int fd;
  std::mutex write_mu;
  std::atomic<long long> last_seen{now_ms()};
  std::mutex reason_mu;
  std::string dead_reason;  // why the watchdog cut it
  explicit Conn(int f) : fd(f) {}
  ~Conn() { close(fd); }

  bool send_frame(const Frame& f, const void* payload) {
    std::lock_guard<std::mutex> g(write_mu);
    return send_all(fd, &f, sizeof f) && (f.bytes == 0 || send_all(fd, payload, f.bytes));
  }

  bool recv_all(void* p, size_t n) {
    char* c = static_cast<char*>(p);
    while (n > 0) {
      ssize_t k = recv(fd, c, n, 0);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) return false;
      last_seen = now_ms();
      c += k;
      n -= size_t(k);
    }
    return true;
  }

  void cut(const std::string& why) {
    {
      std::lock_guard<std::mutex> g(reason_mu);
      if (dead_reason.empty()) dead_reason = why;
    }
    shutdown(fd, SHUT_RDWR);
  }

  std::string reason() {
    std::lock_guard<std::mutex> g(reason_mu);
    return dead_reason;
  }
};

void tune(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // A write blocked longer than the timeout means the peer stopped reading.
  long long ms = timeout_ms();
  timeval tv{time_t(ms / 1000), suseconds_t(ms % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// The heartbeat: one thread per process pings every live connection and cuts the ones whose
// peer has been silent longer than the timeout.
std::mutex& g_conns_mu = *new std::mutex;
std::vector<std::weak_ptr<Conn>>& g_conns = *new std::vector<std::weak_ptr<Conn>>;

void watch(const std::shared_ptr<Conn>& c) {
  static std::once_flag started;
  std::call_once(started, [] {
    std::thread([] {
      const long long period = std::max(20LL, std::min(1000LL, timeout_ms() / 5));
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(period));
        std::vector<std::shared_ptr<Conn>> live;
        {
          std::lock_guard<std::mutex> g(g_conns_mu);
          std::vector<std::weak_ptr<Conn>> keep;
          for (auto& w : g_conns) {
            if (auto c = w.lock()) { live.push_back(c); keep.push_back(w); }
          }
          g_conns.swap(keep);
        }
        for (auto& c : live) {
          long long silent = now_ms() - c->last_seen;
          if (silent > timeout_ms()) {
            c->cut("stopped responding (no heartbeat for " + seconds(silent) + ", NCCL_EMU_TIMEOUT_MS=" + std::to_string(timeout_ms()) + ")");
            continue;
          }
          std::unique_lock<std::mutex> w(c->write_mu, std::try_to_lock);
          if (!w.owns_lock()) continue;  // data is flowing, which is a heartbeat too
          Frame f{};
          f.type = F_PING;
          if (!send_all(c->fd, &f, sizeof f)) c->cut("cannot be written to");
        }
      }
    }).detach();
  });
  std::lock_guard<std::mutex> g(g_conns_mu);
  g_conns.push_back(c);
}

// ---------------------------------------------------------------- the session at the root

struct Round {
  std::vector<bool> present;
  std::vector<OpDesc> desc;
  std::vector<const char*> in;             // each rank's send buffer (local) or received bytes
  std::vector<std::vector<char>> received;  // remote ranks' contributions
  int arrived = 0, consumed = 0;
  bool done = false;
  ncclResult_t status = ncclSuccess;
  std::string error;
  std::vector<char> result;
};

struct RankInfo {
  bool joined = false, departed = false, remote = false;
  int pid = 0;
  std::string host;
  std::shared_ptr<Conn> conn;
  std::string name(int r) const {
    return "rank " + std::to_string(r) + " (pid " + std::to_string(pid) + " on " + host + ")";
  }
};

struct Session : std::enable_shared_from_this<Session> {
  std::mutex mu;
  std::condition_variable cv;
  uint8_t key[16] = {0};
  int n = 0;  // set by the first rank that joins
  std::vector<RankInfo> ranks;
  int joined = 0, gone = 0;
  bool failed = false;
  std::string failure;
  std::map<uint64_t, Round> rounds;
  int listen_fd = -1;
  pid_t pid = getpid();  // a forked child inherits the registry, but not the root's threads
  std::atomic<bool> stopping{false};

  // Under mu. Fails every waiting and later call; peers in other processes hear it too.
  void fail_locked(const std::string& why, int skip = -1) {
    if (failed) return;
    failed = true;
    failure = why;
    cv.notify_all();
    for (int r = 0; r < n; ++r) {
      RankInfo& ri = ranks[r];
      if (!ri.remote || r == skip || ri.departed || !ri.conn) continue;
      Frame f{};
      f.type = F_FAIL;
      f.bytes = why.size();
      ri.conn->send_frame(f, why.data());
    }
  }

  // Under mu: the first join fixes the size; later ones must agree.
  ncclResult_t join_locked(int nranks, int rank, bool remote, int pid, const std::string& host, std::shared_ptr<Conn> conn) {
    if (n == 0) {
      n = nranks;
      ranks.assign(n, RankInfo{});
    }
    if (nranks != n) {
      return fail(ncclInvalidUsage, "ncclCommInitRank: rank " + std::to_string(rank) + " says nranks=" + std::to_string(nranks)
          + ", an earlier rank said " + std::to_string(n));
    }
    if (rank < 0 || rank >= n) return fail(ncclInvalidArgument, "ncclCommInitRank: rank " + std::to_string(rank) + " outside 0.." + std::to_string(n - 1));
    if (ranks[rank].joined) return fail(ncclInvalidUsage, "ncclCommInitRank: rank " + std::to_string(rank) + " joined twice");
    if (failed) return fail(ncclRemoteError, failure);
    RankInfo& ri = ranks[rank];
    ri.joined = true;
    ri.remote = remote;
    ri.pid = pid;
    ri.host = host;
    ri.conn = std::move(conn);
    if (++joined == n) {
      for (int r = 0; r < n; ++r) {
        if (!ranks[r].remote) continue;
        Frame f{};
        f.type = F_WELCOME;
        ranks[r].conn->send_frame(f, nullptr);
      }
      cv.notify_all();
    }
    return ncclSuccess;
  }

  // Under mu: waits until every rank joined; a missing rank fails the session after the timeout.
  ncclResult_t await_all_joined(std::unique_lock<std::mutex>& lk, const std::atomic<bool>& aborted) {
    const long long deadline = now_ms() + init_timeout_ms();
    while (joined < n && !failed && !aborted) {
      if (now_ms() > deadline) {
        std::string missing;
        for (int r = 0; r < n; ++r) if (!ranks[r].joined) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
        fail_locked("ranks " + missing + " of " + std::to_string(n) + " did not join within " + seconds(init_timeout_ms())
            + " (NCCL_EMU_INIT_TIMEOUT_MS)");
        break;
      }
      cv.wait_for(lk, std::chrono::milliseconds(50));
    }
    if (aborted) return fail(ncclRemoteError, "communicator aborted (ncclCommAbort) while waiting for the other ranks to join");
    if (failed) return fail(ncclRemoteError, failure);
    return ncclSuccess;
  }

  // Under mu: rank's contribution to collective `seq`; the last one computes the result in rank
  // order and sends the remote ranks their share.
  void arrive_locked(int rank, uint64_t seq, const OpDesc& d, const char* in, std::vector<char>&& received) {
    Round& rd = rounds[seq];
    if (rd.present.empty()) {
      rd.present.assign(n, false);
      rd.desc.assign(n, OpDesc{});
      rd.in.assign(n, nullptr);
      rd.received.resize(n);
    }
    rd.present[rank] = true;
    rd.desc[rank] = d;
    if (ranks[rank].remote) {
      rd.received[rank] = std::move(received);
      rd.in[rank] = rd.received[rank].data();
    } else {
      rd.in[rank] = in;
    }
    if (++rd.arrived < n) return;
    for (int r = 1; r < n; ++r) {
      if (!(rd.desc[r] == rd.desc[0])) {
        rd.status = ncclInvalidUsage;
        rd.error = "collective #" + std::to_string(seq) + " differs between ranks: rank 0 called " + rd.desc[0].describe()
            + ", rank " + std::to_string(r) + " called " + rd.desc[r].describe();
        break;
      }
    }
    if (rd.status == ncclSuccess) compute(rd.desc[0], n, rd.in, rd.result);
    rd.done = true;
    for (int r = 0; r < n; ++r) {
      if (!ranks[r].remote) continue;
      Frame f{};
      f.type = F_RESULT;
      f.seq = seq;
      f.status = rd.status;
      const void* payload;
      if (rd.status == ncclSuccess) {
        f.bytes = out_bytes(rd.desc[0], n);
        payload = rd.result.data() + out_offset(rd.desc[0], r);
      } else {
        f.bytes = rd.error.size();
        payload = rd.error.data();
      }
      if (!ranks[r].conn->send_frame(f, payload)) ranks[r].conn->cut("cannot be written to");
      ++rd.consumed;
    }
    cv.notify_all();
    if (rd.consumed == n) rounds.erase(seq);
  }

  // Under mu: a rank left or was cut; the listener stops once every rank is gone.
  void depart_locked(int rank) {
    if (ranks.empty() || ranks[rank].departed) return;
    ranks[rank].departed = true;
    cv.notify_all();
    if (++gone == n) stopping = true;
  }

  // A waiting collective cannot finish if a rank it still needs has left.
  bool missing_departed_locked(const Round& rd, std::string& who) {
    for (int r = 0; r < n; ++r) {
      if (ranks[r].departed && (rd.present.empty() || !rd.present[r])) {
        who = ranks[r].name(r);
        return true;
      }
    }
    return false;
  }
};

std::mutex& g_roots_mu = *new std::mutex;
// Sessions whose root is this process, by key.
std::map<std::string, std::shared_ptr<Session>>& g_roots = *new std::map<std::string, std::shared_ptr<Session>>;

std::string key_hex(const uint8_t* key) {
  char b[33];
  for (int i = 0; i < 16; ++i) snprintf(b + 2 * i, 3, "%02x", key[i]);
  return std::string(b, 32);
}

// The root's side of one remote rank's connection.
void root_reader(std::shared_ptr<Session> s, int rank, std::shared_ptr<Conn> c) {
  Frame f;
  std::string why;
  while (c->recv_all(&f, sizeof f)) {
    if (f.type == F_PING) continue;
    if (f.type == F_BYE) {
      std::lock_guard<std::mutex> g(s->mu);
      s->depart_locked(rank);
      return;
    }
    if (f.type != F_CONTRIB) { why = "sent a malformed frame"; break; }
    std::vector<char> data(f.bytes);
    if (f.bytes && !c->recv_all(data.data(), f.bytes)) break;
    std::lock_guard<std::mutex> g(s->mu);
    s->arrive_locked(rank, f.seq, f.desc, nullptr, std::move(data));
  }
  std::lock_guard<std::mutex> g(s->mu);
  if (s->ranks[rank].departed) return;
  if (why.empty()) why = c->reason();
  if (why.empty()) why = "closed its connection: the process exited or aborted";
  s->fail_locked(s->ranks[rank].name(rank) + " " + why, rank);
  s->depart_locked(rank);
}

// The root's listener: accepts ranks of other processes until every rank has gone.
void root_listener(std::shared_ptr<Session> s) {
  while (!s->stopping) {
    pollfd p{s->listen_fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int fd = accept(s->listen_fd, nullptr, nullptr);
    if (fd < 0) continue;
    tune(fd);
    auto c = std::make_shared<Conn>(fd);
    Hello h;
    Frame f;
    timeval tv{time_t(init_timeout_ms() / 1000), suseconds_t(init_timeout_ms() % 1000 * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (!c->recv_all(&f, sizeof f) || f.type != F_HELLO || f.bytes != sizeof h || !c->recv_all(&h, sizeof h)) continue;
    timeval none{0, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    std::string refuse;
    {
      std::lock_guard<std::mutex> g(s->mu);
      if (memcmp(h.key, s->key, 16) != 0) {
        refuse = "the unique id's session key does not match this root (an id from another run?)";
      } else {
        h.host[sizeof h.host - 1] = 0;
        if (s->join_locked(h.nranks, h.rank, true, h.pid, h.host, c) != ncclSuccess) {
          std::lock_guard<std::mutex> e(g_error_mu);
          refuse = g_last_error;
        }
      }
      if (refuse.empty()) {
        watch(c);
        std::thread(root_reader, s, int(h.rank), c).detach();
        continue;
      }
    }
    Frame no{};
    no.type = F_FAIL;
    no.bytes = refuse.size();
    c->send_frame(no, refuse.data());
  }
  close(s->listen_fd);
  std::lock_guard<std::mutex> g(g_roots_mu);
  g_roots.erase(key_hex(s->key));
}

// ---------------------------------------------------------------- groups

struct PendingOp {
  ncclComm* comm;
  bool init;
  OpDesc desc;
  const void* send;
  void* recv;
};
thread_local int t_group_depth = 0;
thread_local std::vector<PendingOp> t_group_ops;

}  // namespace

// ---------------------------------------------------------------- the communicator

struct ncclComm {
  int rank = 0, nranks = 0, device = 0;
  uint64_t seq = 0;
  std::atomic<bool> aborted{false};
  std::atomic<int> in_flight{0};
  bool ready = false;  // initialized (a ncclCommInitRank inside a group completes at ncclGroupEnd)
  ncclUniqueId pending_id{};
  std::mutex mu;
  std::condition_variable cv;
  std::string last_error;
  // A rank of the root's process meets the others in the session.
  std::shared_ptr<Session> session;
  // A rank of another process talks to the root over conn; its reader fills these.
  std::shared_ptr<Conn> conn;
  std::thread reader;
  bool welcomed = false, failed = false, has_result = false, closing = false;
  std::string failure;
  ncclResult_t result_status = ncclSuccess;
  std::vector<char> result;
  std::string root_name;

  ncclResult_t error(ncclResult_t r, const std::string& msg) {
    {
      std::lock_guard<std::mutex> g(mu);
      last_error = msg;
    }
    return fail(r, msg);
  }
};

namespace {

struct InFlight {
  ncclComm* c;
  explicit InFlight(ncclComm* comm) : c(comm) { ++c->in_flight; }
  ~InFlight() {
    --c->in_flight;
    std::lock_guard<std::mutex> g(c->mu);
    c->cv.notify_all();
  }
};

void client_reader(ncclComm* c) {
  Frame f;
  std::string why;
  while (c->conn->recv_all(&f, sizeof f)) {
    if (f.type == F_PING) continue;
    std::vector<char> data(f.bytes);
    if (f.bytes && !c->conn->recv_all(data.data(), f.bytes)) break;
    std::lock_guard<std::mutex> g(c->mu);
    if (f.type == F_WELCOME) {
      c->welcomed = true;
    } else if (f.type == F_RESULT) {
      c->has_result = true;
      c->result_status = ncclResult_t(f.status);
      c->result = std::move(data);
    } else if (f.type == F_FAIL) {
      if (!c->failed) c->failure = std::string(data.begin(), data.end());
      c->failed = true;
    } else {
      why = "the root sent a malformed frame";
      break;
    }
    c->cv.notify_all();
  }
  std::lock_guard<std::mutex> g(c->mu);
  if (!c->failed && !c->closing) {
    if (why.empty()) why = c->conn->reason();
    if (why.empty()) why = "closed the connection: the process exited or aborted";
    c->failure = c->root_name + " " + why;
  }
  c->failed = true;
  c->cv.notify_all();
}

ncclResult_t init_local(ncclComm* c, const std::shared_ptr<Session>& s, int nranks, int rank) {
  std::unique_lock<std::mutex> lk(s->mu);
  ncclResult_t r = s->join_locked(nranks, rank, false, getpid(), host_name(), nullptr);
  if (r != ncclSuccess) return r;
  c->session = s;
  return s->await_all_joined(lk, c->aborted);
}

ncclResult_t init_remote(ncclComm* c, const IdBlob& id, int nranks, int rank) {
  char addr[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &id.addr, addr, sizeof addr);
  std::string where = std::string(addr) + ":" + std::to_string(ntohs(id.port));
  std::string host(id.host, strnlen(id.host, sizeof id.host));
  c->root_name = "the NCCL root (pid " + std::to_string(id.pid) + " on " + host + ", " + where + ")";
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = id.addr;
  sa.sin_port = id.port;
  const long long deadline = now_ms() + init_timeout_ms();
  int fd = -1;
  for (;;) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(ncclSystemError, std::string("socket: ") + strerror(errno));
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) break;
    int err = errno;
    close(fd);
    if (now_ms() > deadline || c->aborted) {
      return fail(ncclRemoteError, "ncclCommInitRank: cannot reach " + c->root_name + ": " + strerror(err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  tune(fd);
  c->conn = std::make_shared<Conn>(fd);
  Hello h{};
  memcpy(h.key, id.key, 16);
  h.nranks = nranks;
  h.rank = rank;
  h.pid = getpid();
  h.device = c->device;
  snprintf(h.host, sizeof h.host, "%s", host_name().c_str());
  Frame f{};
  f.type = F_HELLO;
  f.rank = rank;
  f.bytes = sizeof h;
  if (!c->conn->send_frame(f, &h)) return fail(ncclRemoteError, "ncclCommInitRank: " + c->root_name + " closed the connection");
  watch(c->conn);
  c->reader = std::thread(client_reader, c);
  std::unique_lock<std::mutex> lk(c->mu);
  while (!c->welcomed && !c->failed && !c->aborted) {
    if (now_ms() > deadline) {
      c->failed = true;
      c->failure = "ncclCommInitRank: not every rank joined within " + seconds(init_timeout_ms()) + " (NCCL_EMU_INIT_TIMEOUT_MS)";
      break;
    }
    c->cv.wait_for(lk, std::chrono::milliseconds(50));
  }
  if (c->aborted) return fail(ncclRemoteError, "communicator aborted (ncclCommAbort) while waiting for the other ranks to join");
  if (c->failed) return fail(ncclRemoteError, c->failure);
  return ncclSuccess;
}

ncclResult_t init_rank(ncclComm* c, const ncclUniqueId& uid, int nranks, int rank) {
  IdBlob id;
  memcpy(&id, uid.internal, sizeof id);
  if (memcmp(id.magic, ID_MAGIC, sizeof ID_MAGIC) != 0) {
    return fail(ncclInvalidArgument, "ncclCommInitRank: the unique id was not made by ncclGetUniqueId of the emulated NCCL");
  }
  if (nranks < 1) return fail(ncclInvalidArgument, "ncclCommInitRank: nranks=" + std::to_string(nranks));
  if (rank < 0 || rank >= nranks) {
    return fail(ncclInvalidArgument, "ncclCommInitRank: rank " + std::to_string(rank) + " outside 0.." + std::to_string(nranks - 1));
  }
  c->rank = rank;
  c->nranks = nranks;
  std::shared_ptr<Session> s;
  {
    std::lock_guard<std::mutex> g(g_roots_mu);
    auto it = g_roots.find(key_hex(id.key));
    if (it != g_roots.end() && it->second->pid == getpid()) s = it->second;
  }
  ncclResult_t r = s ? init_local(c, s, nranks, rank) : init_remote(c, id, nranks, rank);
  if (r == ncclSuccess) c->ready = true;
  return r;
}

// The collective itself: blocks until every rank contributed (streams are synchronous).
ncclResult_t run_collective(ncclComm* c, const OpDesc& d, const void* send, void* recv) {
  InFlight guard(c);
  if (c->aborted) return c->error(ncclInvalidUsage, std::string(coll_name(d.coll)) + ": the communicator was aborted");
  const int n = c->nranks;
  const uint64_t seq = c->seq++;
  const size_t out = out_bytes(d, n);
  if (c->session) {
    Session& s = *c->session;
    std::unique_lock<std::mutex> lk(s.mu);
    if (s.failed) return c->error(ncclRemoteError, s.failure);
    s.arrive_locked(c->rank, seq, d, static_cast<const char*>(send), {});
    auto it = s.rounds.find(seq);
    std::string who;
    while (!it->second.done && !s.failed && !c->aborted) {
      if (s.missing_departed_locked(it->second, who)) {
        s.fail_locked(std::string(coll_name(d.coll)) + " #" + std::to_string(seq) + " cannot complete: " + who
            + " destroyed its communicator first");
        break;
      }
      s.cv.wait_for(lk, std::chrono::milliseconds(50));
    }
    if (c->aborted) return c->error(ncclRemoteError, std::string(coll_name(d.coll)) + ": communicator aborted (ncclCommAbort)");
    if (!it->second.done) return c->error(ncclRemoteError, s.failure);
    Round& rd = it->second;
    ncclResult_t status = rd.status;
    std::string err = rd.error;
    if (status == ncclSuccess && out) memcpy(recv, rd.result.data() + out_offset(d, c->rank), out);
    if (++rd.consumed == n) s.rounds.erase(it);
    return status == ncclSuccess ? ncclSuccess : c->error(status, err);
  }
  {
    std::lock_guard<std::mutex> g(c->mu);
    if (c->failed) return c->error(ncclRemoteError, c->failure);
  }
  Frame f{};
  f.type = F_CONTRIB;
  f.rank = c->rank;
  f.seq = seq;
  f.desc = d;
  f.bytes = in_bytes(d, c->rank, n);
  if (!c->conn->send_frame(f, send)) c->conn->cut("cannot be written to");
  std::unique_lock<std::mutex> lk(c->mu);
  while (!c->has_result && !c->failed && !c->aborted) c->cv.wait_for(lk, std::chrono::milliseconds(50));
  if (c->aborted) {
    lk.unlock();
    return c->error(ncclRemoteError, std::string(coll_name(d.coll)) + ": communicator aborted (ncclCommAbort)");
  }
  if (!c->has_result) {
    std::string why = c->failure;
    lk.unlock();
    return c->error(ncclRemoteError, why);
  }
  c->has_result = false;
  std::vector<char> data = std::move(c->result);
  ncclResult_t status = c->result_status;
  lk.unlock();
  if (status != ncclSuccess) return c->error(status, std::string(data.begin(), data.end()));
  if (data.size() != out) return c->error(ncclInternalError, "the root sent " + std::to_string(data.size()) + " bytes, expected " + std::to_string(out));
  if (out) memcpy(recv, data.data(), out);
  return ncclSuccess;
}

ncclResult_t check_comm(ncclComm* c, const char* call) {
  if (c == nullptr) return fail(ncclInvalidArgument, std::string(call) + ": comm is NULL");
  return ncclSuccess;
}

ncclResult_t collective(ncclComm* c, const OpDesc& d, const void* send, void* recv) {
  const char* call = coll_name(d.coll);
  if (ncclResult_t r = check_comm(c, call)) return r;
  if (d.dtype < 0 || d.dtype >= ncclNumTypes) return c->error(ncclInvalidArgument, std::string(call) + ": invalid datatype " + std::to_string(d.dtype));
  if (d.dtype == ncclFloat8e4m3 || d.dtype == ncclFloat8e5m2) {
    return c->error(ncclInvalidArgument, std::string(call) + ": the emulated NCCL has no fp8 types");
  }
  if ((d.coll == ALL_REDUCE || d.coll == REDUCE_SCATTER) && (d.redop < 0 || d.redop >= ncclNumOps)) {
    return c->error(ncclInvalidArgument, std::string(call) + ": invalid or custom reduction op " + std::to_string(d.redop));
  }
  if (t_group_depth == 0 && !c->ready) return c->error(ncclInvalidUsage, std::string(call) + ": the communicator is not initialized");
  if (d.coll == BROADCAST && (d.root < 0 || d.root >= c->nranks) && c->ready) {
    return c->error(ncclInvalidArgument, std::string(call) + ": root " + std::to_string(d.root) + " outside 0.." + std::to_string(c->nranks - 1));
  }
  bool sends = d.coll != BROADCAST || d.root == c->rank;
  if (d.count > 0 && ((sends && send == nullptr) || recv == nullptr)) {
    return c->error(ncclInvalidArgument, std::string(call) + ": NULL buffer with count " + std::to_string(d.count));
  }
  if (t_group_depth > 0) {
    t_group_ops.push_back(PendingOp{c, false, d, send, recv});
    return ncclSuccess;
  }
  return run_collective(c, d, send, recv);
}

// One communicator's share of a group: its ops in the order they were issued.
ncclResult_t run_ops(const std::vector<PendingOp>& ops) {
  for (const PendingOp& op : ops) {
    ncclResult_t r = op.init ? init_rank(op.comm, op.comm->pending_id, op.comm->nranks, op.comm->rank)
                             : run_collective(op.comm, op.desc, op.send, op.recv);
    if (r != ncclSuccess) return r;
  }
  return ncclSuccess;
}

const char* result_text(ncclResult_t r) {
  switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled CUDA error";
    case ncclSystemError: return "unhandled system error (a socket or memory call failed)";
    case ncclInternalError: return "internal error of the emulated NCCL";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    case ncclTimeout: return "operation timed out";
    default: return "unknown result code";
  }
}

}  // namespace

// ---------------------------------------------------------------- the API

NCCL_API ncclResult_t ncclGetVersion(int* version) {
  if (version == nullptr) return fail(ncclInvalidArgument, "ncclGetVersion: version is NULL");
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}

NCCL_API ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId) {
  if (uniqueId == nullptr) return fail(ncclInvalidArgument, "ncclGetUniqueId: uniqueId is NULL");
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ncclSystemError, std::string("ncclGetUniqueId: socket: ") + strerror(errno));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 128) != 0
      || getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    int err = errno;
    close(fd);
    return fail(ncclSystemError, std::string("ncclGetUniqueId: cannot listen on loopback: ") + strerror(err));
  }
  auto s = std::make_shared<Session>();
  std::random_device rd;
  for (int i = 0; i < 16; i += 4) {
    uint32_t v = rd();
    memcpy(s->key + i, &v, 4);
  }
  s->listen_fd = fd;
  IdBlob id{};
  memcpy(id.magic, ID_MAGIC, sizeof ID_MAGIC);
  id.addr = sa.sin_addr.s_addr;
  id.port = sa.sin_port;
  id.version = 1;
  memcpy(id.key, s->key, 16);
  id.pid = getpid();
  snprintf(id.host, sizeof id.host, "%s", host_name().c_str());
  memset(uniqueId->internal, 0, NCCL_UNIQUE_ID_BYTES);
  memcpy(uniqueId->internal, &id, sizeof id);
  {
    std::lock_guard<std::mutex> g(g_roots_mu);
    g_roots[key_hex(s->key)] = s;
  }
  std::thread(root_listener, s).detach();
  return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank) {
  if (comm == nullptr) return fail(ncclInvalidArgument, "ncclCommInitRank: comm is NULL");
  auto* c = new ncclComm();
  c->device = current_device();
  c->nranks = nranks;
  c->rank = rank;
  if (t_group_depth > 0) {  // completed at ncclGroupEnd, with the other ranks this thread initializes
    c->pending_id = commId;
    t_group_ops.push_back(PendingOp{c, true, OpDesc{}, nullptr, nullptr});
    *comm = c;
    return ncclSuccess;
  }
  ncclResult_t r = init_rank(c, commId, nranks, rank);
  if (r != ncclSuccess) {
    ncclCommAbort(c);
    *comm = nullptr;
    return r;
  }
  *comm = c;
  return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist) {
  if (comms == nullptr) return fail(ncclInvalidArgument, "ncclCommInitAll: comms is NULL");
  if (ndev < 1) return fail(ncclInvalidArgument, "ncclCommInitAll: ndev=" + std::to_string(ndev));
  int devices = device_count();
  // Several ranks on one device are allowed here (real NCCL refuses them): emulated devices share host memory.
  for (int i = 0; i < ndev; ++i) {
    int d = devlist ? devlist[i] : i;
    if (d < 0 || (devices >= 0 && d >= devices)) {
      return fail(ncclInvalidArgument, "ncclCommInitAll: devlist[" + std::to_string(i) + "]=" + std::to_string(d)
          + " is not a device (the driver has " + std::to_string(devices) + ")");
    }
  }
  auto s = std::make_shared<Session>();
  std::unique_lock<std::mutex> lk(s->mu);
  for (int i = 0; i < ndev; ++i) {
    auto* c = new ncclComm();
    c->rank = i;
    c->nranks = ndev;
    c->device = devlist ? devlist[i] : i;
    c->session = s;
    c->ready = true;
    s->join_locked(ndev, i, false, getpid(), host_name(), nullptr);
    comms[i] = c;
  }
  return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;
  if (comm->conn) {
    Frame f{};
    f.type = F_BYE;
    {
      std::lock_guard<std::mutex> g(comm->mu);
      comm->closing = true;
    }
    comm->conn->send_frame(f, nullptr);
    shutdown(comm->conn->fd, SHUT_RDWR);
    if (comm->reader.joinable()) comm->reader.join();
  }
  if (comm->session && comm->ready) {
    std::lock_guard<std::mutex> g(comm->session->mu);
    comm->session->depart_locked(comm->rank);
  }
  delete comm;
  return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;
  comm->aborted = true;
  if (comm->session) {
    std::lock_guard<std::mutex> g(comm->session->mu);
    Session& s = *comm->session;
    if (comm->ready && !s.ranks.empty()) {
      s.fail_locked(s.ranks[comm->rank].name(comm->rank) + " aborted its communicator (ncclCommAbort)");
      s.depart_locked(comm->rank);
    }
    s.cv.notify_all();
  }
  if (comm->conn) comm->conn->cut("aborted its communicator (ncclCommAbort)");
  {
    std::unique_lock<std::mutex> lk(comm->mu);
    comm->cv.notify_all();
    // A call of another thread still inside returns first (it sees `aborted`).
    comm->cv.wait(lk, [comm] { return comm->in_flight.load() == 0; });
  }
  if (comm->reader.joinable()) comm->reader.join();
  comm->session.reset();
  comm->conn.reset();
  // The struct itself stays: a caller racing the abort may still pass the handle once and must
  // then get an error, not freed memory. It is a few hundred bytes per aborted communicator.
  return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError) {
  if (ncclResult_t r = check_comm(comm, "ncclCommGetAsyncError")) return r;
  if (asyncError == nullptr) return fail(ncclInvalidArgument, "ncclCommGetAsyncError: asyncError is NULL");
  std::string why;
  if (comm->aborted) {
    why = "the communicator was aborted";
  } else if (comm->session) {
    std::lock_guard<std::mutex> g(comm->session->mu);
    if (comm->session->failed) why = comm->session->failure;
  } else {
    std::lock_guard<std::mutex> g(comm->mu);
    if (comm->failed) why = comm->failure;
  }
  *asyncError = why.empty() ? ncclSuccess : ncclRemoteError;
  if (!why.empty()) {
    std::lock_guard<std::mutex> g(comm->mu);
    comm->last_error = why;
  }
  return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  if (ncclResult_t r = check_comm(comm, "ncclCommCount")) return r;
  if (count == nullptr) return fail(ncclInvalidArgument, "ncclCommCount: count is NULL");
  *count = comm->nranks;
  return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int* device) {
  if (ncclResult_t r = check_comm(comm, "ncclCommCuDevice")) return r;
  if (device == nullptr) return fail(ncclInvalidArgument, "ncclCommCuDevice: device is NULL");
  *device = comm->device;
  return ncclSuccess;
}

NCCL_API ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  if (ncclResult_t r = check_comm(comm, "ncclCommUserRank")) return r;
  if (rank == nullptr) return fail(ncclInvalidArgument, "ncclCommUserRank: rank is NULL");
  *rank = comm->rank;
  return ncclSuccess;
}

NCCL_API const char* ncclGetErrorString(ncclResult_t result) { return result_text(result); }

NCCL_API const char* ncclGetLastError(ncclComm_t comm) {
  thread_local std::string copy;
  if (comm != nullptr) {
    std::lock_guard<std::mutex> g(comm->mu);
    if (!comm->last_error.empty()) {
      copy = comm->last_error;
      return copy.c_str();
    }
  }
  std::lock_guard<std::mutex> g(g_error_mu);
  copy = g_last_error;
  return copy.c_str();
}

NCCL_API ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                                    ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  return collective(comm, OpDesc{ALL_REDUCE, datatype, op, 0, count}, sendbuff, recvbuff);
}

NCCL_API ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, int root,
                                    ncclComm_t comm, cudaStream_t stream) {
  return collective(comm, OpDesc{BROADCAST, datatype, 0, root, count}, sendbuff, recvbuff);
}

NCCL_API ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, ncclDataType_t datatype,
                                    ncclComm_t comm, cudaStream_t stream) {
  return collective(comm, OpDesc{ALL_GATHER, datatype, 0, 0, sendcount}, sendbuff, recvbuff);
}

NCCL_API ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount, ncclDataType_t datatype,
                                        ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  return collective(comm, OpDesc{REDUCE_SCATTER, datatype, op, 0, recvcount}, sendbuff, recvbuff);
}

NCCL_API ncclResult_t ncclGroupStart() {
  ++t_group_depth;
  return ncclSuccess;
}

// Runs the group's ops: each communicator's in issue order, the communicators side by side
// (one thread each), so one thread driving every rank of a collective cannot deadlock.
NCCL_API ncclResult_t ncclGroupEnd() {
  if (t_group_depth == 0) return fail(ncclInvalidUsage, "ncclGroupEnd without ncclGroupStart");
  if (--t_group_depth > 0) return ncclSuccess;
  std::vector<PendingOp> ops;
  ops.swap(t_group_ops);
  std::vector<ncclComm*> order;
  std::map<ncclComm*, std::vector<PendingOp>> by_comm;
  for (const PendingOp& op : ops) {
    if (by_comm.find(op.comm) == by_comm.end()) order.push_back(op.comm);
    by_comm[op.comm].push_back(op);
  }
  if (order.empty()) return ncclSuccess;
  std::vector<ncclResult_t> results(order.size(), ncclSuccess);
  std::vector<std::thread> threads;
  for (size_t i = 1; i < order.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = run_ops(by_comm[order[i]]); });
  }
  results[0] = run_ops(by_comm[order[0]]);
  for (auto& t : threads) t.join();
  for (ncclResult_t r : results) {
    if (r != ncclSuccess) return r;
  }
  return ncclSuccess;
}

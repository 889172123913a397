// The emulated NCCL's own tests, without a JVM, built with ThreadSanitizer by `make emu-test`
// (nccl_emu.cpp compiled into the program): ranks as threads, one thread driving every rank
// through a group, ranks in a second process over loopback, a killed peer and an abort. Each
// check prints what failed and the program exits 1; TSan reports a data race and exits 66.
#include <nccl.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    fprintf(stderr, "FAIL: %s\n", what.c_str());
    ++failures;
  }
}

void expect_ok(ncclResult_t r, const char* call, ncclComm_t comm = nullptr) {
  expect(r == ncclSuccess, std::string(call) + ": " + ncclGetErrorString(r) + ": " + ncclGetLastError(comm));
}

// Rank r's value i: small integers, so every reduction is exact.
float value(int rank, int i) { return float((i * 7 + rank * 5 + 3) % 7 - 3); }

// The collectives every rank runs, checked on the spot.
void collectives(ncclComm_t c, int rank, int n) {
  const int count = 1001;
  std::vector<float> buf(count), want(count, 0.f);
  for (int i = 0; i < count; ++i) buf[i] = value(rank, i);
  for (int r = 0; r < n; ++r) for (int i = 0; i < count; ++i) want[i] += value(r, i);
  expect_ok(ncclAllReduce(buf.data(), buf.data(), count, ncclFloat32, ncclSum, c, nullptr), "ncclAllReduce", c);
  expect(buf == want, "allreduce sum on rank " + std::to_string(rank));

  std::vector<float> in(count * n), out(count, -1.f);
  for (int i = 0; i < count * n; ++i) in[i] = value(rank, i);
  expect_ok(ncclReduceScatter(in.data(), out.data(), count, ncclFloat32, ncclMax, c, nullptr), "ncclReduceScatter", c);
  bool ok = true;
  for (int i = 0; i < count; ++i) {
    float m = value(0, rank * count + i);
    for (int r = 1; r < n; ++r) m = std::max(m, value(r, rank * count + i));
    ok = ok && out[i] == m;
  }
  expect(ok, "reducescatter max on rank " + std::to_string(rank));

  std::vector<int64_t> mine(3, rank), all(3 * n, -1);
  expect_ok(ncclAllGather(mine.data(), all.data(), 3, ncclInt64, c, nullptr), "ncclAllGather", c);
  ok = true;
  for (int i = 0; i < 3 * n; ++i) ok = ok && all[i] == i / 3;
  expect(ok, "allgather on rank " + std::to_string(rank));

  std::vector<uint16_t> half(5, uint16_t(rank == n - 1 ? 0x3c00 : 0));  // 1.0 in f16 on the root
  expect_ok(ncclBroadcast(half.data(), half.data(), 5, ncclFloat16, n - 1, c, nullptr), "ncclBroadcast", c);
  expect(half == std::vector<uint16_t>(5, 0x3c00), "broadcast on rank " + std::to_string(rank));
}

void ranks_as_threads() {
  const int n = 4;
  ncclUniqueId id;
  expect_ok(ncclGetUniqueId(&id), "ncclGetUniqueId");
  std::vector<std::thread> ts;
  for (int r = 0; r < n; ++r) {
    ts.emplace_back([&, r] {
      ncclComm_t c;
      expect_ok(ncclCommInitRank(&c, n, id, r), "ncclCommInitRank");
      int rank = -1, count = -1;
      ncclCommUserRank(c, &rank);
      ncclCommCount(c, &count);
      expect(rank == r && count == n, "rank and count");
      for (int k = 0; k < 3; ++k) collectives(c, r, n);
      expect_ok(ncclCommDestroy(c), "ncclCommDestroy");
    });
  }
  for (auto& t : ts) t.join();
}

void one_thread_drives_every_rank() {
  const int n = 3, devs[n] = {0, 0, 0};
  ncclComm_t comms[n];
  expect_ok(ncclCommInitAll(comms, n, devs), "ncclCommInitAll");
  std::vector<std::vector<double>> bufs(n, std::vector<double>(100));
  for (int r = 0; r < n; ++r) for (int i = 0; i < 100; ++i) bufs[r][i] = r + i;
  expect_ok(ncclGroupStart(), "ncclGroupStart");
  for (int r = 0; r < n; ++r) {
    expect_ok(ncclAllReduce(bufs[r].data(), bufs[r].data(), 100, ncclFloat64, ncclAvg, comms[r], nullptr), "ncclAllReduce in a group");
  }
  expect_ok(ncclGroupEnd(), "ncclGroupEnd");
  for (int r = 0; r < n; ++r) expect(bufs[r][7] == 8.0, "group avg on rank " + std::to_string(r));
  for (int r = 0; r < n; ++r) ncclCommDestroy(comms[r]);
}

std::string hex(const ncclUniqueId& id) {
  std::string s;
  char b[3];
  for (int i = 0; i < NCCL_UNIQUE_ID_BYTES; ++i) {
    snprintf(b, sizeof b, "%02x", (unsigned char)id.internal[i]);
    s += b;
  }
  return s;
}

// The peer process (this program run again as `peer <id> <n> <hang|run>`): ranks 1..n-1 as threads.
int peer_main(const char* idhex, int n, bool hang) {
  ncclUniqueId id;
  for (int i = 0; i < NCCL_UNIQUE_ID_BYTES; ++i) sscanf(idhex + 2 * i, "%2hhx", (unsigned char*)&id.internal[i]);
  std::vector<std::thread> ts;
  for (int r = 1; r < n; ++r) {
    ts.emplace_back([&, r] {
      ncclComm_t c;
      if (ncclCommInitRank(&c, n, id, r) != ncclSuccess) {
        fprintf(stderr, "peer: %s\n", ncclGetLastError(nullptr));
        _exit(3);
      }
      if (r == 1) {
        printf("joined\n");
        fflush(stdout);
      }
      if (hang) pause();
      collectives(c, r, n);
      ncclCommDestroy(c);
    });
  }
  for (auto& t : ts) t.join();
  return failures == 0 ? 0 : 1;
}

// Rank 0 here, ranks 1..n-1 in another process (this program again, started with fork + exec:
// no thread runs in a forked copy); `kill_peer` kills it while rank 0 waits.
void peer_process(const char* self, bool kill_peer) {
  const int n = 3;
  ncclUniqueId id;
  expect_ok(ncclGetUniqueId(&id), "ncclGetUniqueId");
  int out[2];
  if (pipe(out) != 0) abort();
  std::string idhex = hex(id);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    execl(self, self, "peer", idhex.c_str(), "3", kill_peer ? "hang" : "run", (char*)nullptr);
    _exit(127);
  }
  close(out[1]);  // a peer that dies early ends the read below
  ncclComm_t c;
  expect_ok(ncclCommInitRank(&c, n, id, 0), "ncclCommInitRank with a peer process");
  char line[16] = {0};
  expect(read(out[0], line, 7) == 7 && strncmp(line, "joined", 6) == 0, "the peer process joined");
  if (!kill_peer) {
    collectives(c, 0, n);
    int status = 0;
    waitpid(pid, &status, 0);
    expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the peer process's own checks");
  } else {
    std::thread killer([pid] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      kill(pid, SIGKILL);
    });
    float v = 1;
    auto t0 = std::chrono::steady_clock::now();
    ncclResult_t r = ncclAllReduce(&v, &v, 1, ncclFloat32, ncclSum, c, nullptr);
    double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    killer.join();
    waitpid(pid, nullptr, 0);
    std::string last = ncclGetLastError(c);
    expect(r == ncclRemoteError, "a killed peer gives ncclRemoteError, got " + std::string(ncclGetErrorString(r)));
    expect(last.find("(pid " + std::to_string(pid)) != std::string::npos && last.find("rank ") != std::string::npos,
           "the error names the killed rank: " + last);
    expect(waited < 5, "the failure came within 5 s, took " + std::to_string(waited));
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(c, &async);
    expect(async == ncclRemoteError, "ncclCommGetAsyncError reports the failure");
  }
  close(out[0]);
  ncclCommDestroy(c);
}

void abort_unblocks() {
  ncclComm_t comms[2];
  int devs[2] = {0, 0};
  expect_ok(ncclCommInitAll(comms, 2, devs), "ncclCommInitAll");
  float v = 1;
  ncclResult_t r = ncclSuccess;
  std::thread waiter([&] { r = ncclAllReduce(&v, &v, 1, ncclFloat32, ncclSum, comms[0], nullptr); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  expect_ok(ncclCommAbort(comms[0]), "ncclCommAbort");
  waiter.join();
  expect(r == ncclRemoteError, "an aborted wait returns ncclRemoteError");
  ncclResult_t async = ncclSuccess;
  ncclCommGetAsyncError(comms[1], &async);
  expect(async == ncclRemoteError && std::string(ncclGetLastError(comms[1])).find("rank 0") != std::string::npos,
         "the other rank learns of the abort: " + std::string(ncclGetLastError(comms[1])));
  ncclCommDestroy(comms[1]);
}

void bad_arguments() {
  ncclComm_t comms[1];
  int dev = 0;
  ncclCommInitAll(comms, 1, &dev);
  float v = 0;
  expect(ncclAllReduce(&v, &v, 1, ncclFloat8e4m3, ncclSum, comms[0], nullptr) == ncclInvalidArgument, "fp8 refused");
  expect(ncclAllReduce(&v, &v, 1, ncclFloat32, ncclRedOp_t(9), comms[0], nullptr) == ncclInvalidArgument, "custom op refused");
  expect(ncclBroadcast(&v, &v, 1, ncclFloat32, 1, comms[0], nullptr) == ncclInvalidArgument, "root out of range refused");
  expect(ncclGroupEnd() == ncclInvalidUsage, "ncclGroupEnd without a start");
  ncclUniqueId junk;
  memset(&junk, 0, sizeof junk);
  ncclComm_t c;
  expect(ncclCommInitRank(&c, 2, junk, 0) == ncclInvalidArgument, "a foreign unique id refused");
  ncclCommDestroy(comms[0]);
}

}  // namespace

int main(int argc, char** argv) {
  setenv("NCCL_EMU_INIT_TIMEOUT_MS", "20000", 0);
  if (argc == 5 && strcmp(argv[1], "peer") == 0) return peer_main(argv[2], atoi(argv[3]), strcmp(argv[4], "hang") == 0);
  int version = 0;
  ncclGetVersion(&version);
  expect(version == NCCL_VERSION_CODE, "ncclGetVersion");
  ranks_as_threads();
  one_thread_drives_every_rank();
  peer_process(argv[0], false);
  peer_process(argv[0], true);
  abort_unblocks();
  bad_arguments();
  if (failures) {
    fprintf(stderr, "nccl_emu_test: %d failures\n", failures);
    return 1;
  }
  printf("nccl_emu_test: ranks as threads, groups, a peer process, a killed peer, abort and bad arguments all pass\n");
  return 0;
}

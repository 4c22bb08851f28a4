// nfq_delay: holds each packet of an NFQUEUE for delay +- jitter (uniform)
// before accepting it, and optionally drops packets in Gilbert bursts: the
// lab's stand-in for netem, which this kernel lacks. Used by tests/lab for
// one direction at a time (an iptables rule chooses which packets queue).
//
//   nfq_delay --queue N [--delay-ms D] [--jitter-ms J] [--gilbert-p P --gilbert-r R]
//             [--drop-burst N --drop-every M] [--seed S] [--log FILE] [--ready FILE]
//
// --drop-burst N --drop-every M drops the last N of every M packets queued
// (exact bursts of N, M - N apart), for tests that assert a burst length.
//
// Gilbert model: in the good state a packet passes and the state turns bad
// with probability P; in the bad state a packet is dropped and the state
// turns good with probability R (mean burst 1/R). On SIGTERM/SIGINT it
// releases what it holds and writes a summary line to the log:
//   summary packets=<n> dropped=<n> delay_mean_ms=<x> jitter_rfc3550_ms=<x> held_jitter_ms=<x>
// where jitter is the RFC 3550 estimator over the added delays in release
// order: what a receiver should see added by this box; held_jitter_ms the
// same over the times packets were really held (the planned delay plus this
// box's own wake-up latency). Per packet, in release order:
//   pkt <id> delay_us=<added> held_us=<held> | drop <id>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <vector>

namespace {

using SteadyClock = std::chrono::steady_clock;

volatile sig_atomic_t stopping = 0;
void on_signal(int) { stopping = 1; }

struct Held {
  SteadyClock::time_point release, arrived;
  std::uint32_t id;
  long added_us;
  bool operator>(const Held& o) const { return release > o.release; }
};

struct Box {
  double delay_ms = 0, jitter_ms = 0, gilbert_p = 0, gilbert_r = 1;
  long drop_burst = 0, drop_every = 0;
  bool bad = false;
  std::mt19937_64 rng{1};
  nfq_q_handle* queue = nullptr;
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held;
  FILE* log = nullptr;
  long packets = 0, dropped = 0;
  double delay_sum_us = 0, jitter_us = 0, held_jitter_us = 0;
  std::optional<long> previous_us, previous_held_us;
};

double uniform(Box& b) { return std::uniform_real_distribution<double>(0, 1)(b.rng); }

int on_packet(nfq_q_handle* q, nfgenmsg*, nfq_data* nfa, void* data) {
  auto& b = *static_cast<Box*>(data);
  auto* header = nfq_get_msg_packet_hdr(nfa);
  if (!header) return 0;
  std::uint32_t id = ntohl(header->packet_id);
  long index = b.packets++;
  if (b.drop_every > 0 && index % b.drop_every >= b.drop_every - b.drop_burst) {
    ++b.dropped;
    if (b.log) std::fprintf(b.log, "drop %u\n", id);
    return nfq_set_verdict(q, id, NF_DROP, 0, nullptr);
  }
  if (b.gilbert_p > 0) {
    bool drop = b.bad;
    if (b.bad) {
      if (uniform(b) < b.gilbert_r) b.bad = false;
    } else if (uniform(b) < b.gilbert_p) {
      b.bad = true;
    }
    if (drop) {
      ++b.dropped;
      if (b.log) std::fprintf(b.log, "drop %u\n", id);
      return nfq_set_verdict(q, id, NF_DROP, 0, nullptr);
    }
  }
  double added_ms = b.delay_ms + (b.jitter_ms > 0 ? (uniform(b) * 2 - 1) * b.jitter_ms : 0);
  long added_us = std::lround(std::max(0.0, added_ms) * 1000);
  if (added_us == 0) {
    if (b.log) std::fprintf(b.log, "pkt %u delay_us=0 held_us=0\n", id);
    return nfq_set_verdict(q, id, NF_ACCEPT, 0, nullptr);
  }
  auto now = SteadyClock::now();
  b.held.push({now + std::chrono::microseconds(added_us), now, id, added_us});
  return 0;
}

void release_due(Box& b, bool all) {
  auto now = SteadyClock::now();
  while (!b.held.empty() && (all || b.held.top().release <= now)) {
    Held h = b.held.top();
    b.held.pop();
    nfq_set_verdict(b.queue, h.id, NF_ACCEPT, 0, nullptr);
    b.delay_sum_us += static_cast<double>(h.added_us);
    if (b.previous_us) b.jitter_us += (std::fabs(static_cast<double>(h.added_us - *b.previous_us)) - b.jitter_us) / 16;
    b.previous_us = h.added_us;
    long held_us = static_cast<long>(std::chrono::duration_cast<std::chrono::microseconds>(now - h.arrived).count());
    if (b.previous_held_us)
      b.held_jitter_us += (std::fabs(static_cast<double>(held_us - *b.previous_held_us)) - b.held_jitter_us) / 16;
    b.previous_held_us = held_us;
    if (b.log) std::fprintf(b.log, "pkt %u delay_us=%ld held_us=%ld\n", h.id, h.added_us, held_us);
  }
}

int usage() {
  std::fprintf(stderr,
               "usage: nfq_delay --queue N [--delay-ms D] [--jitter-ms J] [--gilbert-p P --gilbert-r R] "
               "[--drop-burst N --drop-every M] [--seed S] [--log FILE] [--ready FILE]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Box b;
  int queue_num = -1;
  std::string log_path, ready_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const char* v = argv[++i];
    if (a == "--queue")
      queue_num = std::atoi(v);
    else if (a == "--delay-ms")
      b.delay_ms = std::atof(v);
    else if (a == "--jitter-ms")
      b.jitter_ms = std::atof(v);
    else if (a == "--gilbert-p")
      b.gilbert_p = std::atof(v);
    else if (a == "--gilbert-r")
      b.gilbert_r = std::atof(v);
    else if (a == "--drop-burst")
      b.drop_burst = std::atol(v);
    else if (a == "--drop-every")
      b.drop_every = std::atol(v);
    else if (a == "--seed")
      b.rng.seed(std::strtoull(v, nullptr, 10));
    else if (a == "--log")
      log_path = v;
    else if (a == "--ready")
      ready_path = v;
    else
      return usage();
  }
  if (queue_num < 0 || queue_num > 65535 || b.delay_ms < 0 || b.jitter_ms < 0 || b.gilbert_p < 0 || b.gilbert_p > 1 ||
      b.gilbert_r <= 0 || b.gilbert_r > 1 || b.drop_burst < 0 || b.drop_every < 0 ||
      (b.drop_every > 0 && b.drop_burst >= b.drop_every))
    return usage();
  if (!log_path.empty() && !(b.log = std::fopen(log_path.c_str(), "w"))) {
    std::perror(log_path.c_str());
    return 1;
  }
  nfq_handle* h = nfq_open();
  if (!h) {
    std::perror("nfq_open");
    return 1;
  }
  b.queue = nfq_create_queue(h, static_cast<std::uint16_t>(queue_num), &on_packet, &b);
  if (!b.queue) {
    std::perror("nfq_create_queue");
    return 1;
  }
  nfq_set_mode(b.queue, NFQNL_COPY_PACKET, 0);  // metadata only: the verdict needs no payload
  nfq_set_queue_maxlen(b.queue, 8192);
  int fd = nfq_fd(h);
  int buffer_size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_size, sizeof buffer_size);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  if (!ready_path.empty())
    if (FILE* f = std::fopen(ready_path.c_str(), "w")) std::fclose(f);
  alignas(8) char buf[65536];
  while (!stopping) {
    // Wake at the next release to the microsecond (poll's milliseconds,
    // rounded up, added up to 1 ms of jitter of this box's own).
    long wait_us = 50000;
    if (!b.held.empty()) {
      auto wait = std::chrono::duration_cast<std::chrono::microseconds>(b.held.top().release - SteadyClock::now());
      wait_us = std::clamp<long>(wait.count(), 0, 50000);
    }
    timespec timeout{0, wait_us * 1000};
    pollfd p{fd, POLLIN, 0};
    if (ppoll(&p, 1, &timeout, nullptr) > 0 && (p.revents & POLLIN)) {
      // Drain what is there without blocking.
      for (int k = 0; k < 256; ++k) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) break;
        nfq_handle_packet(h, buf, static_cast<int>(n));
      }
    }
    release_due(b, false);
  }
  release_due(b, true);
  long passed = b.packets - b.dropped;
  if (b.log) {
    std::fprintf(b.log,
                 "summary packets=%ld dropped=%ld delay_mean_ms=%.3f jitter_rfc3550_ms=%.3f held_jitter_ms=%.3f\n",
                 b.packets, b.dropped, passed > 0 ? b.delay_sum_us / static_cast<double>(passed) / 1000 : 0.0,
                 b.jitter_us / 1000, b.held_jitter_us / 1000);
    std::fclose(b.log);
  }
  nfq_destroy_queue(b.queue);
  nfq_close(h);
  return 0;
}

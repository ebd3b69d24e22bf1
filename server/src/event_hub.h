// Fan-out of job event streams to WatchJob calls: one thread and one Redis
// connection read every watched stream with a single blocking XREAD, and hand
// each subscriber the entries after its cursor, one batch at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "landscape/redis/connection.h"
#include "landscape/redis/reply.h"

namespace landscape::server {

class EventHub {
 public:
  /// Called on the hub thread with the hub's lock held: must not call back into the hub.
  using Deliver = std::function<void(std::vector<redis::StreamEntry>)>;
  using Closed = std::function<void()>;

  EventHub(redis::RedisOptions redis, std::chrono::milliseconds block = std::chrono::milliseconds(100));
  ~EventHub();  // Shutdown() if not done

  /// Watches stream `key` after entry `cursor` ("0-0": from the first). The
  /// subscription is armed: the next entries go to `deliver`, which disarms
  /// it until Arm(). `closed` runs if the hub shuts down first.
  uint64_t Subscribe(const std::string& key, const std::string& cursor, Deliver deliver, Closed closed);
  /// Ready for more, after `cursor`.
  void Arm(uint64_t id, const std::string& cursor);
  /// After this returns, neither callback of `id` runs again. Idempotent.
  void Unsubscribe(uint64_t id);
  /// Calls every `closed` callback, stops the thread.
  void Shutdown();


 private:
  struct Sub {
    std::string key;
    std::string cursor;
    bool armed = true;
    Deliver deliver;
    Closed closed;
  };
  void Loop();

  redis::RedisOptions redis_;
  std::chrono::milliseconds block_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Sub> subs_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace landscape::server

#include "event_hub.h"

#include <spdlog/spdlog.h>

namespace landscape::server {

EventHub::EventHub(redis::RedisOptions redis, std::chrono::milliseconds block)
    : redis_(std::move(redis)), block_(block), thread_([this] { Loop(); }) {}

EventHub::~EventHub() { Shutdown(); }

uint64_t EventHub::Subscribe(const std::string& key, const std::string& cursor, Deliver deliver, Closed closed) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  if (stopping_) {
    closed();
    return id;
  }
  subs_[id] = Sub{key, cursor.empty() ? "0-0" : cursor, true, std::move(deliver), std::move(closed)};
  spdlog::debug("event hub: subscription {} to {} after {}", id, key, subs_[id].cursor);
  cv_.notify_all();
  return id;
}

void EventHub::Arm(uint64_t id, const std::string& cursor) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  it->second.armed = true;
  it->second.cursor = cursor;
  cv_.notify_all();
}

void EventHub::Unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  subs_.erase(id);
}

void EventHub::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      for (auto& [id, sub] : subs_) sub.closed();
      subs_.clear();
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventHub::Loop() {
  std::unique_ptr<redis::Connection> conn;
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    // The streams to read, each from the earliest cursor of its armed subscribers.
    std::map<std::string, std::string> from;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        if (stopping_) return true;
        for (const auto& [id, s] : subs_)
          if (s.armed) return true;
        return false;
      });
      if (stopping_) return;
      for (const auto& [id, s] : subs_) {
        if (!s.armed) continue;
        auto it = from.find(s.key);
        if (it == from.end() || redis::StreamIdLess(s.cursor, it->second)) from[s.key] = s.cursor;
      }
    }
    core::Status failure;
    std::vector<std::pair<std::string, std::vector<redis::StreamEntry>>> streams;
    if (!conn) {
      auto c = redis::Connection::Connect(redis_);
      if (c.ok()) {
        conn = std::move(*c);
      } else {
        failure = c.status();
      }
    }
    if (conn) {
      std::vector<std::string> cmd{"XREAD", "COUNT", "256", "BLOCK", std::to_string(block_.count()), "STREAMS"};
      for (const auto& [key, cursor] : from) cmd.push_back(key);
      for (const auto& [key, cursor] : from) cmd.push_back(cursor);
      auto reply = conn->BlockingCommand(cmd, block_);
      if (!reply.ok()) {
        failure = reply.status();
      } else {
        auto parsed = redis::ParseXRead(reply->view(), "XREAD events");
        if (parsed.ok()) {
          streams = std::move(*parsed);
        } else {
          failure = parsed.status();
        }
      }
    }
    if (!failure.ok()) {
      spdlog::warn("event hub: cannot read events, retrying in {} ms error=\"{}\"", backoff.count(), failure.ToString());
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, backoff, [&] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, entries] : streams) {
      for (auto& [id, s] : subs_) {
        if (!s.armed || s.key != key) continue;
        // Armed during the read with an earlier cursor: this batch starts after its next entries, so it
        // would skip them; the next read starts from its cursor.
        if (auto f = from.find(key); f == from.end() || redis::StreamIdLess(s.cursor, f->second)) continue;
        std::vector<redis::StreamEntry> mine;
        for (const auto& e : entries)
          if (redis::StreamIdLess(s.cursor, e.id)) mine.push_back(e);
        if (mine.empty()) continue;
        s.armed = false;
        s.cursor = mine.back().id;
        spdlog::debug("event hub: {} events of {} to subscription {} (up to {})", mine.size(), key, id, s.cursor);
        s.deliver(std::move(mine));
      }
    }
  }
}

}  // namespace landscape::server

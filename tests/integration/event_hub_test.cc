// The server's EventHub (server/src/event_hub.h) against a real redis-server: each subscriber of a
// stream gets every entry after its cursor, in order, exactly once (fan-out to several, resume from
// a cursor); a subscriber that has not re-armed gets nothing more and holds no one else back, and
// re-armed it continues where it stopped; Unsubscribe ends its callbacks; Shutdown calls every
// `closed` once (and at once for later subscriptions); the hub reconnects when Redis comes back.
// Uses $LANDSCAPE_TEST_REDIS when set (keys of its own per test), else a redis-server of its own.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "event_hub.h"
#include "landscape/core/job.h"
#include "process.h"

namespace landscape::server {
namespace {

using std::chrono::seconds;

// What one subscription received (declared before the hub: the hub's destructor calls `closed`). Deliver runs on the hub thread under its lock, so it only
// records; the test thread re-arms (Arm must not be called from Deliver).
struct Collector {
  std::mutex mu;
  std::vector<redis::StreamEntry> got;
  int batches = 0;
  bool to_arm = false;  // delivered, not yet re-armed
  int closed = 0;
  uint64_t id = 0;

  EventHub::Deliver deliver() {
    return [this](std::vector<redis::StreamEntry> entries) {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& e : entries) got.push_back(std::move(e));
      ++batches;
      to_arm = true;
    };
  }
  EventHub::Closed on_closed() {
    return [this] {
      std::lock_guard<std::mutex> lock(mu);
      ++closed;
    };
  }
  // Re-arms after a delivery (auto-arming subscribers); true when `n` entries have come.
  bool Has(EventHub* hub, size_t n, bool arm = true) {
    std::string cursor;
    bool rearm = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (arm && to_arm) {
        to_arm = false;
        rearm = true;
        cursor = got.back().id;
      }
      if (got.size() >= n && !rearm) return got.size() == n;
    }
    if (rearm) hub->Arm(id, cursor);
    return false;
  }
  std::vector<std::string> Values() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::string> v;
    for (const auto& e : got) v.push_back(e.Get("n"));
    return v;
  }
};

class EventHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = testing::TestRedisUrl(&own_);
    ASSERT_FALSE(url.empty());
    auto opts = redis::ParseRedisUrl(url);
    ASSERT_TRUE(opts.ok()) << opts.status();
    opts_ = *opts;
    auto c = redis::Connection::Connect(opts_);
    ASSERT_TRUE(c.ok()) << c.status();
    conn_ = std::move(*c);
    prefix_ = "test:hub:" + core::RandomId(8) + ":";
  }
  void TearDown() override {
    if (!conn_) return;
    for (const std::string& k : keys_) (void)conn_->Command({"DEL", k});
  }

  std::string Key(const std::string& name) {
    keys_.push_back(prefix_ + name);
    return keys_.back();
  }
  // XADD entries n = first..last to `key`; returns their ids.
  std::vector<std::string> Add(const std::string& key, int first, int last) {
    std::vector<std::string> ids;
    for (int n = first; n <= last; ++n) {
      auto r = conn_->Command({"XADD", key, "*", "n", std::to_string(n)});
      EXPECT_TRUE(r.ok() && !r->is_error()) << (r.ok() ? r->view().Describe() : r.status().ToString());
      if (r.ok()) ids.emplace_back(r->str());
    }
    return ids;
  }
  static std::vector<std::string> Range(int first, int last) {
    std::vector<std::string> v;
    for (int n = first; n <= last; ++n) v.push_back(std::to_string(n));
    return v;
  }

  std::unique_ptr<testing::RedisServer> own_;
  redis::RedisOptions opts_;
  std::unique_ptr<redis::Connection> conn_;
  std::string prefix_;
  std::vector<std::string> keys_;
};

TEST_F(EventHubTest, EverySubscriberGetsEveryEntryInOrderOnce) {
  std::vector<std::unique_ptr<Collector>> subs;  // outlive the hub (its destructor calls `closed`)
  Collector o;
  EventHub hub(opts_, std::chrono::milliseconds(50));
  const std::string key = Key("events");
  Add(key, 1, 3);  // before anyone subscribes: "0-0" reads them too
  for (int i = 0; i < 4; ++i) {
    subs.push_back(std::make_unique<Collector>());
    subs.back()->id = hub.Subscribe(key, "0-0", subs.back()->deliver(), subs.back()->on_closed());
  }
  for (int batch = 0; batch < 5; ++batch) Add(key, 4 + batch * 60, 63 + batch * 60);  // 300 more, >256 at once
  for (auto& s : subs) {
    ASSERT_TRUE(testing::WaitFor([&] { return s->Has(&hub, 303); }, seconds(60))) << s->Values().size();
    EXPECT_EQ(s->Values(), Range(1, 303));
    EXPECT_EQ(s->closed, 0);
  }
  // Entries of another stream go to its subscribers only.
  const std::string other = Key("other");
  o.id = hub.Subscribe(other, "", o.deliver(), o.on_closed());  // "": from the first
  Add(other, 1000, 1001);
  ASSERT_TRUE(testing::WaitFor([&] { return o.Has(&hub, 2); }, seconds(30)));
  EXPECT_EQ(o.Values(), Range(1000, 1001));
  Add(key, 304, 304);
  for (auto& s : subs) ASSERT_TRUE(testing::WaitFor([&] { return s->Has(&hub, 304); }, seconds(30)));
  EXPECT_EQ(o.Values(), Range(1000, 1001));
}

TEST_F(EventHubTest, ASubscriptionResumesAfterItsCursor) {
  Collector late, at_end;
  EventHub hub(opts_, std::chrono::milliseconds(50));
  const std::string key = Key("events");
  const std::vector<std::string> ids = Add(key, 1, 10);
  ASSERT_EQ(ids.size(), 10u);
  late.id = hub.Subscribe(key, ids[6], late.deliver(), late.on_closed());  // after entry 7
  ASSERT_TRUE(testing::WaitFor([&] { return late.Has(&hub, 3); }, seconds(30)));
  EXPECT_EQ(late.Values(), Range(8, 10));
  EXPECT_EQ(late.got.front().id, ids[7]);
  at_end.id = hub.Subscribe(key, ids[9], at_end.deliver(), at_end.on_closed());
  Add(key, 11, 12);
  ASSERT_TRUE(testing::WaitFor([&] { return at_end.Has(&hub, 2) && late.Has(&hub, 5); }, seconds(30)));
  EXPECT_EQ(at_end.Values(), Range(11, 12));
  EXPECT_EQ(late.Values(), Range(8, 12));
}

TEST_F(EventHubTest, ASubscriberThatHasNotReArmedGetsNothingAndHoldsNoOneBack) {
  Collector slow, fast;
  EventHub hub(opts_, std::chrono::milliseconds(50));
  const std::string key = Key("events");
  slow.id = hub.Subscribe(key, "0-0", slow.deliver(), slow.on_closed());
  fast.id = hub.Subscribe(key, "0-0", fast.deliver(), fast.on_closed());
  Add(key, 1, 1);
  ASSERT_TRUE(testing::WaitFor([&] { return slow.Has(&hub, 1, /*arm=*/false) && fast.Has(&hub, 1); }, seconds(30)));
  // `slow` does not re-arm: 50 more entries reach `fast` alone.
  Add(key, 2, 51);
  ASSERT_TRUE(testing::WaitFor([&] { return fast.Has(&hub, 51); }, seconds(30)));
  EXPECT_EQ(fast.Values(), Range(1, 51));
  EXPECT_EQ(slow.Values(), Range(1, 1));
  EXPECT_EQ(slow.batches, 1);
  // Re-armed after its cursor, it gets the rest, each entry once.
  ASSERT_TRUE(testing::WaitFor([&] { return slow.Has(&hub, 51); }, seconds(30)));
  EXPECT_EQ(slow.Values(), Range(1, 51));
}

TEST_F(EventHubTest, UnsubscribeEndsTheCallbacks) {
  Collector gone, stays;
  EventHub hub(opts_, std::chrono::milliseconds(50));
  const std::string key = Key("events");
  gone.id = hub.Subscribe(key, "0-0", gone.deliver(), gone.on_closed());
  stays.id = hub.Subscribe(key, "0-0", stays.deliver(), stays.on_closed());
  Add(key, 1, 2);
  ASSERT_TRUE(testing::WaitFor([&] { return gone.Has(&hub, 2) && stays.Has(&hub, 2); }, seconds(30)));
  hub.Unsubscribe(gone.id);  // armed: the next entries would be its
  hub.Unsubscribe(gone.id);  // idempotent
  hub.Arm(gone.id, "0-0");   // an unknown id: nothing
  Add(key, 3, 4);
  ASSERT_TRUE(testing::WaitFor([&] { return stays.Has(&hub, 4); }, seconds(30)));  // the hub has read them
  hub.Shutdown();
  EXPECT_EQ(gone.Values(), Range(1, 2));
  EXPECT_EQ(gone.closed, 0);  // not even `closed` after Unsubscribe
  EXPECT_EQ(stays.closed, 1);
}

TEST_F(EventHubTest, ShutdownClosesEverySubscriptionOnce) {
  Collector a, b, after;
  {
    EventHub hub(opts_, std::chrono::milliseconds(50));
    a.id = hub.Subscribe(Key("a"), "0-0", a.deliver(), a.on_closed());
    b.id = hub.Subscribe(Key("b"), "0-0", b.deliver(), b.on_closed());
    hub.Shutdown();
    EXPECT_EQ(a.closed, 1);
    EXPECT_EQ(b.closed, 1);
    hub.Shutdown();  // idempotent
    // Subscribing to a hub that has shut down closes at once.
    after.id = hub.Subscribe(Key("c"), "0-0", after.deliver(), after.on_closed());
    EXPECT_EQ(after.closed, 1);
    EXPECT_NE(after.id, a.id);
    EXPECT_NE(after.id, b.id);
  }  // the destructor shuts down again: nothing more
  EXPECT_EQ(a.closed, 1);
  EXPECT_EQ(b.closed, 1);
  EXPECT_EQ(after.closed, 1);
  EXPECT_EQ(a.batches, 0);
}

TEST_F(EventHubTest, TheHubReconnectsWhenRedisComesBack) {
  if (!own_) GTEST_SKIP() << "needs a redis-server of its own (LANDSCAPE_TEST_REDIS is set)";
  Collector s;
  EventHub hub(opts_, std::chrono::milliseconds(50));
  const std::string key = Key("events");
  s.id = hub.Subscribe(key, "0-0", s.deliver(), s.on_closed());
  Add(key, 1, 1);
  ASSERT_TRUE(testing::WaitFor([&] { return s.Has(&hub, 1); }, seconds(30)));
  own_->Stop(SIGKILL);  // its stream is gone with it (no persistence)
  ASSERT_TRUE(own_->Restart());
  auto c = redis::Connection::Connect(opts_);
  ASSERT_TRUE(c.ok()) << c.status();
  conn_ = std::move(*c);
  Add(key, 2, 3);  // ids later than the first (they are times)
  ASSERT_TRUE(testing::WaitFor([&] { return s.Has(&hub, 3); }, seconds(60)));
  EXPECT_EQ(s.Values(), Range(1, 3));
  EXPECT_EQ(s.closed, 0);
}

}  // namespace
}  // namespace landscape::server
